//! `user.additionalFields` / `session.additionalFields`: sign-up and update-user input, defaults, validation,
//! storage names and the user/session objects every endpoint returns.

use crate::harness::*;
use auth::adapter::Where;
use auth::models::User;
use serde_json::json;

fn configure(c: &mut auth::config::AuthConfig) {
    c.user.additional_fields = serde_json::from_value(json!({
        "role": {"type": "string", "defaultValue": "member", "input": false},
        "favoriteNumber": {"type": "number", "required": true},
        "birthday": {"type": "date"},
        "tags": {"type": "string[]", "fieldName": "labels"},
        "internalNote": {"type": "string", "returned": false},
    }))
    .unwrap();
    c.session.additional_fields =
        serde_json::from_value(json!({"device": {"type": "string", "defaultValue": "web", "input": false}})).unwrap();
}

fn sign_up_body(extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({"name": "Ann", "email": "ann@example.com", "password": PASSWORD});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

#[tokio::test]
async fn sign_up_stores_and_returns_additional_fields() {
    let env = Env::with(configure).await;
    let mut ann = env.browser();
    let resp = ann
        .post(
            "/sign-up/email",
            sign_up_body(json!({"favoriteNumber": 7, "birthday": "1990-05-17T00:00:00.000Z", "tags": ["a", "b"]})),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.json());
    let user = resp.json()["user"].clone();
    assert_eq!(
        (&user["role"], &user["favoriteNumber"], &user["birthday"], &user["tags"]),
        (&json!("member"), &json!(7), &json!("1990-05-17T00:00:00.000Z"), &json!(["a", "b"]))
    );
    assert!(user.get("internalNote").is_none(), "returned: false stays out: {user}");

    // Stored under the storage names, dates as epoch milliseconds.
    let row: User = env.row(&[Where::eq("email", "ann@example.com")]).await.unwrap();
    assert_eq!(row.extra.get("labels"), Some(&value::Value::Array(vec!["a".into(), "b".into()])));
    assert_eq!(row.extra.get("birthday"), Some(&value::Value::Float64(642_902_400_000.0)));
    assert_eq!(row.extra.get("favoriteNumber"), Some(&value::Value::Float64(7.0)));

    // get-session returns them too, and the session's own field with its default.
    let session = ann.session().await;
    assert_eq!(session["user"]["tags"], json!(["a", "b"]));
    assert_eq!(session["user"]["role"], json!("member"));
    assert_eq!(session["session"]["device"], json!("web"));

    // Sign-in returns them.
    let mut again = env.browser();
    let resp = again.post("/sign-in/email", json!({"email": "ann@example.com", "password": PASSWORD})).await;
    assert_eq!(resp.json()["user"]["favoriteNumber"], json!(7));
}

#[tokio::test]
async fn sign_up_refuses_missing_forbidden_and_mistyped_fields_without_writing() {
    let env = Env::with(configure).await;
    let mut ann = env.browser();
    let resp = ann.post("/sign-up/email", sign_up_body(json!({}))).await;
    check(&resp, 400, json!({"code": "MISSING_FIELD", "message": "favoriteNumber is required"}));
    let resp = ann.post("/sign-up/email", sign_up_body(json!({"favoriteNumber": "seven"}))).await;
    check(
        &resp,
        400,
        json!({"code": "VALIDATION_ERROR", "message": "[body.favoriteNumber] Invalid input: expected number, received string"}),
    );
    let resp = ann.post("/sign-up/email", sign_up_body(json!({"favoriteNumber": 1, "tags": "a"}))).await;
    check(
        &resp,
        400,
        json!({"code": "VALIDATION_ERROR", "message": "[body.tags] Invalid input: expected array, received string"}),
    );
    let resp = ann.post("/sign-up/email", sign_up_body(json!({"favoriteNumber": 1, "birthday": "soon"}))).await;
    assert_eq!((resp.status, resp.json()["code"].clone()), (400, json!("VALIDATION_ERROR")));
    assert!(env.row::<User>(&[Where::eq("email", "ann@example.com")]).await.is_none());

    // `input: false` with a default: the default wins on sign-up, whatever the client sent.
    let resp = ann.post("/sign-up/email", sign_up_body(json!({"favoriteNumber": 1, "role": "admin"}))).await;
    assert_eq!(resp.json()["user"]["role"], json!("member"));
}

#[tokio::test]
async fn update_user_sets_clears_and_guards_additional_fields() {
    let env = Env::with(configure).await;
    let mut ann = env.browser();
    let resp = ann.post("/sign-up/email", sign_up_body(json!({"favoriteNumber": 7, "tags": ["a"]}))).await;
    assert_eq!(resp.status, 200);

    let resp = ann.post("/update-user", json!({"favoriteNumber": 8, "tags": null})).await;
    check(&resp, 200, json!({"status": true}));
    let user = ann.session().await["user"].clone();
    assert_eq!((&user["favoriteNumber"], &user["tags"]), (&json!(8), &json!(null)));

    let resp = ann.post("/update-user", json!({"role": "admin"})).await;
    check(&resp, 400, json!({"code": "FIELD_NOT_ALLOWED", "message": "role is not allowed to be set"}));
    let resp = ann.post("/update-user", json!({"favoriteNumber": true})).await;
    check(
        &resp,
        400,
        json!({"code": "VALIDATION_ERROR", "message": "[body.favoriteNumber] Invalid input: expected number, received boolean"}),
    );
    assert_eq!(ann.session().await["user"]["role"], json!("member"));
    // A falsy value for an `input: false` field is ignored (Better Auth's rule), so nothing is left to update.
    let resp = ann.post("/update-user", json!({"role": ""})).await;
    check(&resp, 400, json!({"code": "NO_FIELDS_TO_UPDATE", "message": "No fields to update"}));
}

#[tokio::test]
async fn invalid_additional_field_configs_are_refused_at_start() {
    for fields in [
        json!({"email": {"type": "string"}}),
        json!({"n": {"type": "number", "defaultValue": "x"}}),
        json!({"a": {"type": "string", "fieldName": "same"}, "b": {"type": "string", "fieldName": "same"}}),
    ] {
        let mut config = auth::config::AuthConfig::new(BASE_URL, secret());
        config.user.additional_fields = serde_json::from_value(fields.clone()).unwrap();
        assert!(config.validate().is_err(), "{fields}");
    }
}
