//! Keys and tokens against the recorded Better Auth + convex plugin run (`fixtures/vectors.json`, a subset of
//! `shared/spec/vectors/convex-better-auth.json`): the stored encrypted key signs the recorded token byte for byte,
//! our key rows decrypt with Better Auth's algorithm, and the key set follows rotation expiries.

use super::*;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use database::SeededEntropy;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

fn vectors() -> Json {
    serde_json::from_str(include_str!("fixtures/vectors.json")).unwrap()
}

fn vector_secret() -> Secret {
    Secret::new(vectors()["env"]["BETTER_AUTH_SECRET"].as_str().unwrap().to_string())
}

fn other_secret() -> Secret {
    Secret::new("another-secret-of-at-least-32-characters".into())
}

/// Epoch ms of the recording (2026-11-28T06:11:03.416Z, the key row's `createdAt`).
const RECORDED_MS: f64 = 1_795_846_263_416.0;

/// The recorded `jwks` row as our store holds it (dates as epoch ms).
fn recorded_row() -> KeyRow {
    let row = &vectors()["jwks_table_row"];
    KeyRow {
        id: row["id"].as_str().unwrap().into(),
        public_key: row["publicKey"].as_str().unwrap().into(),
        private_key: row["privateKey"].as_str().unwrap().into(),
        created_at: crate::dates::parse_iso(row["createdAt"].as_str().unwrap()).unwrap(),
        expires_at: None,
    }
}

fn row(id: &str, fields: &Object, expires_at: Option<f64>) -> KeyRow {
    let text = |f: &str| fields.get(f).and_then(|v| v.as_str()).unwrap().to_string();
    KeyRow {
        id: id.into(),
        public_key: text("publicKey"),
        private_key: text("privateKey"),
        created_at: fields.get("createdAt").and_then(|v| v.as_f64()).unwrap(),
        expires_at,
    }
}

fn key_set(rows: &[KeyRow], secret: &Secret, now_ms: f64) -> KeySet {
    build_key_set(rows, secret, now_ms).unwrap().expect("a live key")
}

fn unb64url(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap()
}

fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    [parts[0], parts[1], parts[2]]
}

/// Better Auth's `symmetricDecrypt`, written out independently of `crypto`: key = SHA-256(UTF-8 secret),
/// XChaCha20-Poly1305, the first 24 bytes of the hex-decoded text are the nonce.
fn better_auth_decrypt(hex: &str, secret: &str) -> Option<String> {
    let bytes: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16)).collect::<Result<_, _>>().ok()?;
    let (nonce, sealed) = bytes.split_at(24);
    let cipher = XChaCha20Poly1305::new(&Sha256::digest(secret.as_bytes()));
    let plaintext = cipher.decrypt(XNonce::from_slice(nonce), sealed).ok()?;
    String::from_utf8(plaintext).ok()
}

/// Checks a token: its header and payload segments decode to exactly `header` and `payload` (as text, so key
/// order counts), and its signature verifies with the RSA public key `(n, e)`.
#[track_caller]
fn check(token: &str, header: &str, payload: &str, public: (&str, &str)) {
    let [h, p, _] = segments(token);
    assert_eq!(String::from_utf8(unb64url(h)).unwrap(), header, "header");
    assert_eq!(String::from_utf8(unb64url(p)).unwrap(), payload, "payload");
    let key = DecodingKey::from_rsa_components(public.0, public.1).unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Json>(token, &key, &validation).expect("the signature verifies");
}

/// The recorded claims in the recorded order (`userId: null` is the SQLite run's plugin column).
#[derive(Serialize)]
struct RecordedClaims {
    iat: u64,
    name: String,
    email: String,
    #[serde(rename = "emailVerified")]
    email_verified: bool,
    #[serde(rename = "createdAt")]
    created_at: String,
    #[serde(rename = "updatedAt")]
    updated_at: String,
    #[serde(rename = "userId")]
    user_id: Option<String>,
    #[serde(rename = "sessionId")]
    session_id: String,
    sub: String,
    exp: u64,
    iss: String,
    aud: String,
}

fn user_and_session(claims: &Json) -> (User, Session) {
    let created = crate::dates::parse_iso(claims["createdAt"].as_str().unwrap()).unwrap();
    let user = User {
        id: claims["sub"].as_str().unwrap().into(),
        name: claims["name"].as_str().unwrap().into(),
        email: claims["email"].as_str().unwrap().into(),
        email_verified: claims["emailVerified"].as_bool().unwrap(),
        image: Some("https://example.com/alice.png".into()),
        created_at: created,
        updated_at: created,
        extra: Default::default(),
    };
    let session = Session {
        id: claims["sessionId"].as_str().unwrap().into(),
        expires_at: created + 7.0 * 86_400_000.0,
        token: "DibmwWYhxevewRDVtAJCgd4w3UBYDy1h".into(),
        created_at: created,
        updated_at: created,
        ip_address: None,
        user_agent: None,
        user_id: claims["sub"].as_str().unwrap().into(),
        extra: Default::default(),
    };
    (user, session)
}

fn recorded_public() -> (String, String) {
    let jwk = &vectors()["jwks_response_body"]["keys"][0];
    (jwk["n"].as_str().unwrap().into(), jwk["e"].as_str().unwrap().into())
}

// ---------------------------------------------------------------------------------------------------------------
// The recorded run

#[test]
fn the_recorded_key_row_signs_the_recorded_token_byte_for_byte() {
    let v = vectors();
    let keys = key_set(&[recorded_row()], &vector_secret(), RECORDED_MS);
    assert_eq!(keys.signing_kid, "44noHUoxfrGHFYc6jcLLDRCSSB8YLNjv");
    let c = &v["jwt_claims"];
    let claims = RecordedClaims {
        iat: c["iat"].as_u64().unwrap(),
        name: c["name"].as_str().unwrap().into(),
        email: c["email"].as_str().unwrap().into(),
        email_verified: c["emailVerified"].as_bool().unwrap(),
        created_at: c["createdAt"].as_str().unwrap().into(),
        updated_at: c["updatedAt"].as_str().unwrap().into(),
        user_id: None,
        session_id: c["sessionId"].as_str().unwrap().into(),
        sub: c["sub"].as_str().unwrap().into(),
        exp: c["exp"].as_u64().unwrap(),
        iss: c["iss"].as_str().unwrap().into(),
        aud: c["aud"].as_str().unwrap().into(),
    };
    // RS256 (PKCS#1 v1.5) is deterministic: same key, header and claims give the same bytes.
    assert_eq!(sign(&keys, &claims).unwrap(), v["jwt"].as_str().unwrap());
}

#[test]
fn minted_tokens_have_the_recorded_header_and_claims_in_order() {
    let v = vectors();
    let keys = key_set(&[recorded_row()], &vector_secret(), RECORDED_MS);
    let (n, e) = recorded_public();
    let jwt = JwtConfig::new("http://127.0.0.1:3211/");
    assert_eq!(jwt.issuer, "http://127.0.0.1:3211", "a trailing slash is trimmed");

    // SQLite run: identical but for the plugin's `userId` column, which is null there and absent from our rows
    // (as in the Convex run: Convex omits unset optional fields).
    let (user, session) = user_and_session(&v["jwt_claims"]);
    let token = mint(&keys, &jwt, &user, &session, 1_795_846_263).unwrap();
    let [recorded_header, recorded_payload, _] = segments(v["jwt"].as_str().unwrap());
    let recorded_header = String::from_utf8(unb64url(recorded_header)).unwrap();
    let recorded_payload = String::from_utf8(unb64url(recorded_payload)).unwrap();
    assert!(recorded_payload.contains(r#""userId":null,"#));
    check(&token, &recorded_header, &recorded_payload.replace(r#""userId":null,"#, ""), (&n, &e));

    // Convex run: the payload segment is byte-identical (its key is not on record, so the header differs in
    // `kid` only).
    let run = &v["convex_test_run"];
    let (user, session) = user_and_session(&run["jwt_claims"]);
    let token = mint(&keys, &jwt, &user, &session, run["jwt_claims"]["iat"].as_u64().unwrap()).unwrap();
    assert_eq!(segments(&token)[1], segments(run["jwt"].as_str().unwrap())[1]);
    assert_eq!(run["jwt_header"], json!({"alg": "RS256", "kid": "0000000000000000000000010003jwks"}));

    // A configured lifetime and audience.
    let jwt = JwtConfig { expiration_secs: 60, audience: "my-app".into(), ..JwtConfig::new("https://site.example") };
    let token = mint(&keys, &jwt, &user, &session, 1_800_000_000).unwrap();
    let payload: Json = serde_json::from_slice(&unb64url(segments(&token)[1])).unwrap();
    assert_eq!(
        (&payload["iat"], &payload["exp"], &payload["iss"], &payload["aud"]),
        (&json!(1_800_000_000), &json!(1_800_000_060), &json!("https://site.example"), &json!("my-app"))
    );
}

#[test]
fn the_recorded_jwks_document_is_reproduced() {
    let v = vectors();
    let keys = key_set(&[recorded_row()], &vector_secret(), RECORDED_MS);
    assert_eq!(jwks_document(&keys), v["jwks_response_body"]);
    // Each key has exactly Better Auth's members, in its order.
    let (n, _) = recorded_public();
    assert_eq!(
        serde_json::to_string(&keys.public[0]).unwrap(),
        format!(r#"{{"alg":"RS256","kty":"RSA","n":"{n}","e":"AQAB","kid":"44noHUoxfrGHFYc6jcLLDRCSSB8YLNjv"}}"#)
    );
}

#[test]
fn the_test_decryptor_agrees_with_better_auth() {
    // The independent decryptor opens the row Better Auth wrote, and only with its secret.
    let v = vectors();
    let column = v["jwks_table_row"]["privateKey"].as_str().unwrap();
    let hex: String = serde_json::from_str(column).unwrap();
    assert_eq!(&hex[..48], v["crypto_checks_private_key"]["nonce_hex"].as_str().unwrap());
    let jwk: Json =
        serde_json::from_str(&better_auth_decrypt(&hex, v["env"]["BETTER_AUTH_SECRET"].as_str().unwrap()).unwrap())
            .unwrap();
    let names: Vec<&str> = jwk.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(names.len(), 9, "{names:?}");
    assert!(better_auth_decrypt(&hex, "another-secret-of-at-least-32-characters").is_none());
}

// ---------------------------------------------------------------------------------------------------------------
// Our key rows

#[test]
fn new_key_rows_are_better_auth_rows() {
    let secret = vector_secret();
    let entropy = SeededEntropy::new(3);
    let fields = new_key_row(&entropy, &secret, RECORDED_MS).unwrap();
    let names: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(names, ["createdAt", "privateKey", "publicKey"]);
    assert_eq!(fields.get("createdAt"), Some(&Value::Float64(RECORDED_MS)));

    // `privateKey`: the JSON text of a string of lower-case hex, nonce first.
    let column = fields.get("privateKey").and_then(|v| v.as_str()).unwrap();
    assert!(column.starts_with('"') && column.ends_with('"'), "{column}");
    let hex: String = serde_json::from_str(column).unwrap();
    assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let plaintext = better_auth_decrypt(&hex, vectors()["env"]["BETTER_AUTH_SECRET"].as_str().unwrap()).unwrap();
    assert_eq!(hex.len(), 2 * (24 + plaintext.len() + 16));

    // The plaintext: the full private JWK in jose's member order.
    let private: Json = serde_json::from_str(&plaintext).unwrap();
    let members: Vec<&str> = plaintext_member_order(&plaintext);
    assert_eq!(members, ["kty", "n", "e", "d", "p", "q", "dp", "dq", "qi"]);
    assert_eq!((&private["kty"], &private["e"]), (&json!("RSA"), &json!("AQAB")));
    let int = |name: &str| BigUint::from_bytes_be(&unb64url(private[name].as_str().unwrap()));
    let (n, e, d, p, q) = (int("n"), int("e"), int("d"), int("p"), int("q"));
    let one = BigUint::from(1u32);
    assert_eq!(n.bits(), 2048);
    assert_eq!(&p * &q, n);
    assert_eq!(int("dp"), &d % (&p - &one));
    assert_eq!(int("dq"), &d % (&q - &one));
    assert_eq!((int("qi") * &q) % &p, one);
    assert_eq!((&e * &d) % (&p - &one), one);
    assert_eq!((&e * &d) % (&q - &one), one);

    // `publicKey`: the JSON text of the public JWK, matching the private one.
    let public = fields.get("publicKey").and_then(|v| v.as_str()).unwrap();
    assert_eq!(public, format!(r#"{{"kty":"RSA","n":"{}","e":"AQAB"}}"#, private["n"].as_str().unwrap()));

    // It signs tokens its public key verifies, and publishes that key.
    let keys = key_set(&[row("k1", &fields, None)], &secret, RECORDED_MS);
    let (user, session) = user_and_session(&vectors()["jwt_claims"]);
    let token = mint(&keys, &JwtConfig::new("http://127.0.0.1:3211"), &user, &session, 1_795_846_263).unwrap();
    let payload = String::from_utf8(unb64url(segments(&token)[1])).unwrap();
    check(&token, r#"{"alg":"RS256","kid":"k1"}"#, &payload, (private["n"].as_str().unwrap(), "AQAB"));
    assert_eq!(
        jwks_document(&keys),
        json!({"keys": [{"alg": "RS256", "kty": "RSA", "n": private["n"], "e": "AQAB", "kid": "k1"}]})
    );

    // Fresh randomness for every row: another key, another nonce.
    let again = new_key_row(&entropy, &secret, RECORDED_MS).unwrap();
    assert_ne!(again.get("publicKey"), fields.get("publicKey"));
    let again_hex: String = serde_json::from_str(again.get("privateKey").and_then(|v| v.as_str()).unwrap()).unwrap();
    assert_ne!(&again_hex[..48], &hex[..48]);
}

/// The top-level member names of a JSON object text, in order (this workspace's `serde_json` sorts maps).
fn plaintext_member_order(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text.strip_prefix('{').unwrap();
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let end = after.find('"').unwrap();
        names.push(&after[..end]);
        // Skip the value (a string: no member values here contain quotes or commas).
        let value = &after[end + 2..];
        let value_end = value[1..].find('"').unwrap() + 2;
        rest = &value[value_end..];
    }
    names
}

#[test]
fn a_row_encrypted_with_another_secret_fails_cleanly() {
    let fields = new_key_row(&SeededEntropy::new(5), &other_secret(), RECORDED_MS).unwrap();
    let err = build_key_set(&[row("k1", &fields, None)], &vector_secret(), RECORDED_MS).err().unwrap();
    assert_eq!(err, "the stored private key does not decrypt with this BETTER_AUTH_SECRET");
    let err = build_key_set(&[recorded_row()], &other_secret(), RECORDED_MS).err().unwrap();
    assert_eq!(err, "the stored private key does not decrypt with this BETTER_AUTH_SECRET");
    // Garbage in the column is an error too, never a panic.
    for column in ["", "\"\"", "\"zz\"", "\"00\"", "not json"] {
        let mut broken = recorded_row();
        broken.private_key = column.into();
        assert!(build_key_set(&[broken], &vector_secret(), RECORDED_MS).is_err(), "{column:?}");
    }
    let mut broken = recorded_row();
    broken.public_key = "{}".into();
    assert!(build_key_set(&[broken], &vector_secret(), RECORDED_MS).is_err());
}

#[test]
fn the_newest_live_key_signs_and_expired_keys_drop_out() {
    let secret = vector_secret();
    let entropy = SeededEntropy::new(9);
    let old = recorded_row();
    let newer = new_key_row(&entropy, &secret, RECORDED_MS + 1000.0).unwrap();
    let grace_end = RECORDED_MS + 3_600_000.0;
    let rows = [row("new", &newer, None), KeyRow { expires_at: Some(grace_end), ..recorded_row() }];
    let kids = |keys: &KeySet| keys.public.iter().map(|k| k.kid.clone()).collect::<Vec<_>>();

    // During the grace period both are published, the newest signs, and the set is reloaded within a minute.
    let keys = key_set(&rows, &secret, RECORDED_MS + 2000.0);
    assert_eq!((keys.signing_kid.as_str(), kids(&keys)), ("new", vec!["new".to_string(), old.id.clone()]));
    assert_eq!(keys.valid_until_ms, RECORDED_MS + 62_000.0);
    // Close to its end, the set expires with the grace period.
    let keys = key_set(&rows, &secret, grace_end - 1000.0);
    assert_eq!(keys.valid_until_ms, grace_end);
    // After it only the new key is left.
    let keys = key_set(&rows, &secret, grace_end);
    assert_eq!(kids(&keys), ["new"]);
    // An older row never signs, whatever the table order.
    let keys = key_set(&[recorded_row(), row("new", &newer, None)], &secret, RECORDED_MS + 2000.0);
    assert_eq!(keys.signing_kid, "new");
    // No rows, or only expired ones: no key set.
    assert!(build_key_set(&[], &secret, RECORDED_MS).unwrap().is_none());
    assert!(build_key_set(&rows[1..], &secret, grace_end).unwrap().is_none());
}
