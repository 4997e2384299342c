use super::*;
use value::obj;

const T0: f64 = 1_795_846_547_140.0;

fn object(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        other => panic!("not an object: {other:?}"),
    }
}

fn user() -> User {
    User {
        id: "k17user".into(),
        name: "Ada".into(),
        email: "ada@example.com".into(),
        email_verified: false,
        image: None,
        created_at: T0,
        updated_at: T0 + 1.0,
        extra: Default::default(),
    }
}

fn account() -> Account {
    Account {
        id: "k17account".into(),
        account_id: "4711".into(),
        provider_id: "github".into(),
        user_id: "k17user".into(),
        access_token: Some("gho_x".into()),
        refresh_token: None,
        id_token: None,
        access_token_expires_at: Some(T0),
        refresh_token_expires_at: None,
        scope: Some("read:user,user:email".into()),
        password: Some("salt:key".into()),
        created_at: T0,
        updated_at: T0,
    }
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

#[test]
fn user_json_has_better_auth_key_order_and_iso_dates() {
    assert_eq!(
        json(&user().to_json()),
        r#"{"id":"k17user","name":"Ada","email":"ada@example.com","emailVerified":false,"image":null,"createdAt":"2026-11-28T06:15:47.140Z","updatedAt":"2026-11-28T06:15:47.141Z"}"#
    );
}

#[test]
fn session_json_has_better_auth_key_order() {
    let session = Session {
        id: "k17session".into(),
        expires_at: T0 + 604_800_000.0,
        token: "tok".into(),
        created_at: T0,
        updated_at: T0,
        ip_address: Some(String::new()),
        user_agent: None,
        user_id: "k17user".into(),
        extra: Default::default(),
    };
    assert_eq!(
        json(&session.to_json()),
        r#"{"id":"k17session","expiresAt":"2026-12-05T06:15:47.140Z","token":"tok","createdAt":"2026-11-28T06:15:47.140Z","updatedAt":"2026-11-28T06:15:47.140Z","ipAddress":"","userAgent":null,"userId":"k17user"}"#
    );
}

#[test]
fn account_json_never_has_the_password() {
    let text = json(&account().to_json());
    assert!(!text.contains("password") && !text.contains("salt:key"), "{text}");
    assert_eq!(
        text,
        r#"{"id":"k17account","accountId":"4711","providerId":"github","userId":"k17user","accessToken":"gho_x","refreshToken":null,"idToken":null,"accessTokenExpiresAt":"2026-11-28T06:15:47.140Z","refreshTokenExpiresAt":null,"scope":"read:user,user:email","createdAt":"2026-11-28T06:15:47.140Z","updatedAt":"2026-11-28T06:15:47.140Z"}"#
    );
}

#[test]
fn list_accounts_entry_splits_scopes() {
    let mut account = account();
    assert_eq!(
        json(&account.to_list_json()),
        r#"{"id":"k17account","providerId":"github","createdAt":"2026-11-28T06:15:47.140Z","updatedAt":"2026-11-28T06:15:47.140Z","accountId":"4711","userId":"k17user","scopes":["read:user","user:email"]}"#
    );
    account.scope = None;
    assert_eq!(account.to_list_json().scopes, Vec::<String>::new());
    account.scope = Some(String::new());
    assert_eq!(account.to_list_json().scopes, vec![String::new()], "as JavaScript's \"\".split(\",\")");
}

#[test]
fn verification_json() {
    let verification = Verification {
        id: "k17v".into(),
        identifier: "reset-password:abc".into(),
        value: "k17user".into(),
        expires_at: T0,
        created_at: T0,
        updated_at: T0,
    };
    assert_eq!(
        json(&verification.to_json()),
        r#"{"id":"k17v","identifier":"reset-password:abc","value":"k17user","expiresAt":"2026-11-28T06:15:47.140Z","createdAt":"2026-11-28T06:15:47.140Z","updatedAt":"2026-11-28T06:15:47.140Z"}"#
    );
}

#[test]
fn to_fields_leaves_unset_optional_fields_out() {
    let fields = user().to_fields();
    let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(keys, ["createdAt", "email", "emailVerified", "name", "updatedAt"]);
    let fields = account().to_fields();
    assert_eq!(fields.get("password"), Some(&Value::from("salt:key")));
    assert!(!fields.contains_key("refreshToken"));
    assert!(!fields.contains_key("_id") && !fields.contains_key("id"));
}

#[test]
fn from_document_reads_id_and_treats_null_as_unset() {
    let mut doc = user().to_fields();
    doc.insert("_id".into(), "k17user".into());
    doc.insert("_creationTime".into(), Value::Float64(T0));
    doc.insert("image".into(), Value::Null);
    assert_eq!(User::from_document(&doc).unwrap(), user());

    let mut doc = account().to_fields();
    doc.insert("_id".into(), "k17account".into());
    assert_eq!(Account::from_document(&doc).unwrap(), account());
}

#[test]
fn from_document_names_the_bad_field() {
    let doc = object(obj! {"_id" => "k17user", "name" => "Ada", "email" => "a@b.c", "emailVerified" => "yes",
    "createdAt" => T0, "updatedAt" => T0});
    let err = User::from_document(&doc).unwrap_err().to_string();
    assert_eq!(err, r#"user document k17user: field "emailVerified" should be a boolean, found string"#);

    let doc = object(obj! {"name" => "Ada"});
    assert_eq!(User::from_document(&doc).unwrap_err().to_string(), "user document has no _id");

    let doc = object(obj! {"_id" => "k17s", "token" => "t", "createdAt" => T0, "updatedAt" => T0, "userId" => "u"});
    assert_eq!(
        Session::from_document(&doc).unwrap_err().to_string(),
        r#"session document k17s: field "expiresAt" should be a number, found nothing"#
    );
}

#[test]
fn jwk_round_trips() {
    let jwk = Jwk {
        id: "k17jwk".into(),
        public_key: r#"{"kty":"RSA"}"#.into(),
        private_key: r#""abcd""#.into(),
        created_at: T0,
        expires_at: None,
    };
    let mut doc = jwk.to_fields();
    assert_eq!(doc.len(), 3);
    doc.insert("_id".into(), "k17jwk".into());
    assert_eq!(Jwk::from_document(&doc).unwrap(), jwk);
}
