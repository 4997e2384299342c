//! The convex plugin: `/convex/token`, `/convex/jwks`, the JWT cookie hooks, key creation under concurrency,
//! rotation and keys the secret cannot open.

use crate::harness::*;
use auth::adapter::Where;
use auth::jwt::JwtConfig;
use auth::models::{Jwk, Session};
use auth::schema::Model;
use auth::{AuthDeps, AuthService};
use base64::Engine;
use database::SeededEntropy;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

const ISSUER: &str = "http://127.0.0.1:3211";
const JWT_DELETION: &str = "better-auth.convex_jwt=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax";
const START_SECS: u64 = START_NANOS / SECS;
/// A bare session token of the generated shape, for rows inserted directly.
const RAW_TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";

async fn env() -> Env {
    Env::with(|c| c.jwt = Some(JwtConfig::new(ISSUER))).await
}

fn jwt_cookie(token: &str, max_age: u64) -> String {
    format!("better-auth.convex_jwt={token}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax")
}

fn segment(token: &str, i: usize) -> String {
    let part = token.split('.').nth(i).unwrap();
    String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The JWT of a `Set-Cookie` line that sets the JWT cookie for the default lifetime.
#[track_caller]
fn jwt_of(line: &str) -> String {
    let token = line.strip_prefix("better-auth.convex_jwt=").unwrap().split(';').next().unwrap().to_string();
    assert_eq!(line, jwt_cookie(&token, 900));
    token
}

/// The published JWKS (GET `/convex/jwks`).
async fn jwks(env: &Env) -> Value {
    let resp = env.send(Req::get("/convex/jwks")).await;
    assert_eq!((resp.status, resp.header("content-type")), (200, Some("application/json")), "{}", resp.text());
    assert!(resp.header("cache-control").is_none());
    resp.json()
}

fn kids(jwks: &Value) -> BTreeSet<String> {
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

/// Verifies a token against a JWKS the way Convex does (kid lookup, RS256, issuer, audience) and returns its
/// header `kid` and claims.
#[track_caller]
fn verify(token: &str, jwks: &Value, now_secs: u64) -> (String, Value) {
    let header: Value = serde_json::from_str(&segment(token, 0)).unwrap();
    let kid = header["kid"].as_str().unwrap().to_string();
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == json!(kid)).expect("kid in the JWKS");
    let key =
        jsonwebtoken::DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&["convex"]);
    // The test clock is not the system clock.
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation).expect("the token verifies").claims;
    let exp = claims["exp"].as_u64().unwrap();
    assert!(exp > now_secs, "expired: exp {exp}, now {now_secs}");
    (kid, claims)
}

/// Checks a token's header and payload as text (key order counts): Better Auth's claims for `user` and `session`.
#[track_caller]
fn check_token(token: &str, kid: &str, user: &Value, session_id: &str, iat: u64, lifetime: u64) {
    assert_eq!(segment(token, 0), format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#));
    let expected = format!(
        r#"{{"iat":{iat},"name":{},"email":{},"emailVerified":{},"createdAt":{},"updatedAt":{},"sessionId":"{session_id}","sub":{},"exp":{},"iss":"{ISSUER}","aud":"convex"}}"#,
        user["name"],
        user["email"],
        user["emailVerified"],
        user["createdAt"],
        user["updatedAt"],
        user["id"],
        iat + lifetime,
    );
    assert_eq!(segment(token, 1), expected);
}

/// A user and a session inserted directly (no sign-up hook, so no key is created on the way). Returns the user id.
async fn insert_user_with_session(env: &Env, token: &str) -> String {
    let now = (START_NANOS / 1_000_000) as f64;
    let user = value::obj! {
        "name" => "Ann", "email" => "ann@example.com", "emailVerified" => true, "createdAt" => now, "updatedAt" => now,
    };
    let value::Value::Object(user) = user else { unreachable!() };
    let user_id = env.insert(Model::User, user).await;
    let session = value::obj! {
        "token" => token, "userId" => user_id.as_str(), "expiresAt" => now + 7.0 * 86_400_000.0,
        "createdAt" => now, "updatedAt" => now, "ipAddress" => "", "userAgent" => "",
    };
    let value::Value::Object(session) = session else { unreachable!() };
    env.insert(Model::Session, session).await;
    user_id
}

fn bearer(token: &str) -> Req {
    Req::get("/convex/token").header("authorization", &format!("Bearer {token}"))
}

// ---------------------------------------------------------------------------------------------------------------
// /convex/token

#[tokio::test]
async fn token_needs_a_session() {
    let env = env().await;
    for req in [Req::get("/convex/token"), bearer(RAW_TOKEN), bearer("nonsense.signature")] {
        let resp = env.send(req).await;
        check_empty(&resp, 401);
        assert!(resp.set_cookies().is_empty());
    }
    // Only GET is routed.
    check_empty(&env.send(Req::post_empty("/convex/token")).await, 404);
    // Without the plugin there is nothing.
    let plain = Env::new().await;
    let (mut alice, _) = plain.signed_up("Alice", "alice@example.com").await;
    for path in ["/convex/token", "/convex/jwks", "/convex/.well-known/openid-configuration"] {
        check_empty(&alice.get(path).await, 404);
    }
    assert!(plain.svc.jwks().await.is_none());
}

#[tokio::test]
async fn token_for_a_cookie_session() {
    let env = env().await;
    let mut alice = env.browser();
    let resp = alice
        .post(
            "/sign-up/email",
            json!({"name": "Alice", "email": "alice@example.com", "password": PASSWORD, "image": "https://x.test/a.png"}),
        )
        .await;
    let user = resp.json()["user"].clone();
    env.advance_secs(42);
    let resp = alice.get("/convex/token").await;
    assert_eq!(resp.status, 200);
    let body = resp.json();
    let names: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(names, ["token"]);
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(resp.set_cookies(), [jwt_cookie(&token, 900)]);
    assert_eq!(alice.cookie("better-auth.convex_jwt"), Some(token.as_str()));

    let keys = jwks(&env).await;
    let (kid, claims) = verify(&token, &keys, START_SECS + 42);
    assert_eq!(kids(&keys), BTreeSet::from([kid.clone()]));
    let session = env.row::<Session>(&[Where::eq("userId", user["id"].as_str().unwrap())]).await.unwrap();
    // No `image`, no `id`: Better Auth's default payload.
    check_token(&token, &kid, &user, &session.id, START_SECS + 42, 900);
    assert_eq!(claims["createdAt"], json!(START_ISO));

    // Minted at the current time, every time.
    env.advance_secs(100);
    let again = alice.get("/convex/token").await.json()["token"].as_str().unwrap().to_string();
    check_token(&again, &kid, &user, &session.id, START_SECS + 142, 900);
    // Same second, same session: byte-identical (RS256 is deterministic).
    assert_eq!(alice.get("/convex/token").await.json()["token"], json!(again));

    // An expired session mints nothing.
    env.advance_secs(8 * DAY);
    check_empty(&alice.get("/convex/token").await, 401);
}

#[tokio::test]
async fn token_for_a_bearer_session_token() {
    let env = env().await;
    let user_id = insert_user_with_session(&env, RAW_TOKEN).await;
    let resp = env.send(bearer(RAW_TOKEN)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let token = resp.json()["token"].as_str().unwrap().to_string();
    assert_eq!(resp.set_cookies(), [jwt_cookie(&token, 900)]);
    let (kid, claims) = verify(&token, &jwks(&env).await, START_SECS);
    let session = env.row::<Session>(&[Where::eq("token", RAW_TOKEN)]).await.unwrap();
    let user = json!({
        "id": user_id, "name": "Ann", "email": "ann@example.com", "emailVerified": true,
        "createdAt": START_ISO, "updatedAt": START_ISO,
    });
    check_token(&token, &kid, &user, &session.id, START_SECS, 900);
    assert_eq!(claims["emailVerified"], json!(true));
    // The signed form works as well.
    assert_eq!(env.send(bearer(&signed(RAW_TOKEN))).await.status, 200);
}

#[tokio::test]
async fn a_configured_lifetime_sets_exp_and_the_cookie_max_age() {
    let env = Env::with(|c| c.jwt = Some(JwtConfig { expiration_secs: 120, ..JwtConfig::new(ISSUER) })).await;
    let mut alice = env.browser();
    let resp =
        alice.post("/sign-up/email", json!({"name": "Al", "email": "al@example.com", "password": PASSWORD})).await;
    let user = resp.json()["user"].clone();
    let hooked = resp.set_cookies()[1].clone();
    let resp = alice.get("/convex/token").await;
    let token = resp.json()["token"].as_str().unwrap().to_string();
    assert_eq!(resp.set_cookies(), [jwt_cookie(&token, 120)]);
    assert_eq!(hooked, jwt_cookie(&token, 120), "the hook mints the same token in the same second");
    let (kid, _) = verify(&token, &jwks(&env).await, START_SECS);
    let session = env.row::<Session>(&[]).await.unwrap();
    check_token(&token, &kid, &user, &session.id, START_SECS, 120);
}

#[tokio::test]
async fn jwks_and_openid_configuration() {
    let env = env().await;
    // The first JWKS request creates the key.
    assert_eq!(env.count(Model::Jwks, &[]).await, 0);
    let keys = jwks(&env).await;
    let row = env.row::<Jwk>(&[]).await.unwrap();
    let public: Value = serde_json::from_str(&row.public_key).unwrap();
    assert_eq!(keys, json!({"keys": [{"alg": "RS256", "kty": "RSA", "n": public["n"], "e": "AQAB", "kid": row.id}]}));
    assert_eq!(public, json!({"kty": "RSA", "n": public["n"], "e": "AQAB"}));
    assert_eq!(env.svc.jwks().await.unwrap().unwrap(), keys);
    assert_eq!(env.count(Model::Jwks, &[]).await, 1);

    let resp = env.send(Req::get("/convex/.well-known/openid-configuration")).await;
    assert_eq!(resp.status, 200);
    let doc = resp.json();
    assert_eq!(doc["issuer"], json!(ISSUER));
    assert_eq!(doc["jwks_uri"], json!("http://127.0.0.1:3211/api/auth/convex/jwks"));
    assert_eq!(doc["authorization_endpoint"], json!("http://localhost:3000/api/auth/oauth2/authorize"));
}

// ---------------------------------------------------------------------------------------------------------------
// The JWT cookie hooks

#[tokio::test]
async fn session_responses_carry_the_jwt_cookie_and_endings_expire_it() {
    let env = Env::with(|c| {
        c.jwt = Some(JwtConfig::new(ISSUER));
        c.user.delete_user.enabled = true;
    })
    .await;
    // sign-up: session cookie, then the JWT for the new session.
    let mut alice = env.browser();
    let resp = alice
        .post("/sign-up/email", json!({"name": "Alice", "email": "alice@example.com", "password": PASSWORD}))
        .await;
    let body = resp.json();
    let cookies = resp.set_cookies();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert_eq!(cookies[0], session_cookie(body["token"].as_str().unwrap(), Some(604800)));
    let token = jwt_of(&cookies[1]);
    let keys = jwks(&env).await;
    let (kid, claims) = verify(&token, &keys, START_SECS);
    let session = env.row::<Session>(&[Where::eq("token", body["token"].as_str().unwrap())]).await.unwrap();
    check_token(&token, &kid, &body["user"], &session.id, START_SECS, 900);
    assert_eq!(claims["sub"], body["user"]["id"]);

    // sign-in: a new session, a JWT for it.
    env.advance_secs(5);
    let mut laptop = env.browser();
    let resp = laptop.post("/sign-in/email", json!({"email": "alice@example.com", "password": PASSWORD})).await;
    let cookies = resp.set_cookies();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let laptop_token = resp.json()["token"].as_str().unwrap().to_string();
    assert_eq!(cookies[0], session_cookie(&laptop_token, Some(604800)));
    let laptop_session = env.row::<Session>(&[Where::eq("token", laptop_token.as_str())]).await.unwrap();
    check_token(&jwt_of(&cookies[1]), &kid, &body["user"], &laptop_session.id, START_SECS + 5, 900);

    // get-session with a session: the JWT, with or without a refresh. A token minted for the session within the
    // first quarter of its lifetime is reused (with its remaining Max-Age) instead of signing on every call.
    for path in ["/get-session", "/get-session?disableRefresh=true"] {
        let resp = alice.get(path).await;
        assert_eq!(resp.set_cookies().len(), 1, "{path}: {:?}", resp.set_cookies());
        assert_eq!(resp.set_cookies()[0], jwt_cookie(&token, 895), "{path}: the sign-up token, 5 s later");
    }
    env.advance_secs(300);
    let resp = alice.get("/get-session?disableRefresh=true").await;
    assert_eq!(resp.set_cookies().len(), 1, "{:?}", resp.set_cookies());
    check_token(&jwt_of(&resp.set_cookies()[0]), &kid, &body["user"], &session.id, START_SECS + 305, 900);
    // get-session without one: expired.
    let resp = env.send(Req::get("/get-session")).await;
    check(&resp, 200, json!(null));
    assert_eq!(resp.set_cookies(), [JWT_DELETION]);

    // sign-out: the session cookies, then the JWT.
    let resp = laptop.send(Req::post_empty("/sign-out")).await;
    check(&resp, 200, json!({"success": true}));
    let mut expected: Vec<String> = DELETION_COOKIES.iter().map(|c| c.to_string()).collect();
    expected.push(JWT_DELETION.into());
    assert_eq!(resp.set_cookies(), expected);
    assert_eq!(laptop.cookie("better-auth.convex_jwt"), None);
    // The signed-out session mints no more tokens.
    check_empty(&env.send(bearer(&laptop_token)).await, 401);

    // delete-user: the same.
    let resp = alice.post("/delete-user", json!({"password": PASSWORD})).await;
    check(&resp, 200, json!({"success": true, "message": "User deleted"}));
    assert_eq!(resp.set_cookies(), expected);
    check_empty(&alice.get("/convex/token").await, 401);
}

// ---------------------------------------------------------------------------------------------------------------
// Keys

/// A second service on the same database (another process of the same deployment).
fn sibling(env: &Env, seed: u64) -> AuthService {
    let config = env.svc.config().clone();
    let deps = AuthDeps {
        db: env.svc.database().clone(),
        clock: Arc::new(env.clock.clone()),
        entropy: Arc::new(SeededEntropy::new(seed)),
        mailer: env.mail.clone(),
        rate_limit_store: Arc::new(auth::rate_limit::MemoryStore::default()),
        hash_permits: 1,
        http: Arc::new(server::auth_transports::ReqwestHttp::new().unwrap()),
    };
    AuthService::new(config, deps).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_requests_create_one_key() {
    let env = env().await;
    insert_user_with_session(&env, RAW_TOKEN).await;
    let other = sibling(&env, 99);
    assert_eq!(env.count(Model::Jwks, &[]).await, 0);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            // Half through each of two services sharing the database.
            let svc = if i % 2 == 0 { env.svc.clone() } else { other.clone() };
            tokio::spawn(async move { Resp::from(svc.handle(bearer(RAW_TOKEN).into_request()).await) })
        })
        .collect();
    let mut kids = BTreeSet::new();
    for task in tasks {
        let resp = task.await.unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text());
        let token = resp.json()["token"].as_str().unwrap().to_string();
        let header: Value = serde_json::from_str(&segment(&token, 0)).unwrap();
        kids.insert(header["kid"].as_str().unwrap().to_string());
    }
    assert_eq!(kids.len(), 1, "{kids:?}");
    assert_eq!(env.count(Model::Jwks, &[]).await, 1);
    assert_eq!(kids, self::kids(&jwks(&env).await));
}

#[tokio::test]
async fn rotation_keeps_old_keys_for_the_grace_period() {
    let env = env().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let old_token = alice.get("/convex/token").await.json()["token"].as_str().unwrap().to_string();
    let (old_kid, _) = verify(&old_token, &jwks(&env).await, START_SECS);

    env.advance_secs(10);
    let rotated = env.svc.rotate_keys().await.unwrap();
    assert_ne!(rotated.kid, old_kid);
    assert_eq!((rotated.alg.as_str(), rotated.kty.as_str(), rotated.e.as_str()), ("RS256", "RSA", "AQAB"));
    let new_token = alice.get("/convex/token").await.json()["token"].as_str().unwrap().to_string();
    let keys = jwks(&env).await;
    assert_eq!(kids(&keys), BTreeSet::from([old_kid.clone(), rotated.kid.clone()]));
    assert_eq!(verify(&new_token, &keys, START_SECS + 10).0, rotated.kid);
    // Tokens of the old key keep verifying during the grace period.
    verify(&old_token, &keys, START_SECS + 10);
    // The hooks sign with the new key too.
    let resp = alice.get("/get-session?disableRefresh=true").await;
    assert_eq!(verify(&jwt_of(&resp.set_cookies()[0]), &keys, START_SECS + 10).0, rotated.kid);

    // After the grace period (3600 s) only the new key is published.
    env.advance_secs(3590);
    assert_eq!(kids(&jwks(&env).await), BTreeSet::from([old_kid.clone(), rotated.kid.clone()]));
    env.advance_secs(10);
    let keys = jwks(&env).await;
    assert_eq!(kids(&keys), BTreeSet::from([rotated.kid.clone()]));
    assert_eq!(kids(&env.svc.jwks().await.unwrap().unwrap()), BTreeSet::from([rotated.kid.clone()]));
    let token = alice.get("/convex/token").await.json()["token"].as_str().unwrap().to_string();
    assert_eq!(verify(&token, &keys, START_SECS + 3610).0, rotated.kid);

    // The next rotation removes the expired row.
    assert_eq!(env.count(Model::Jwks, &[]).await, 2);
    let third = env.svc.rotate_keys().await.unwrap();
    let rows: BTreeSet<String> = env.rows::<Jwk>(&[]).await.into_iter().map(|r| r.id).collect();
    assert_eq!(rows, BTreeSet::from([rotated.kid.clone(), third.kid.clone()]));
    assert_eq!(kids(&jwks(&env).await), rows);

    // Without the plugin there is nothing to rotate.
    assert_eq!(Env::new().await.svc.rotate_keys().await.err().map(|e| e.status()), Some(404));
}

#[tokio::test]
async fn a_configured_grace_period() {
    let env = Env::with(|c| c.jwt = Some(JwtConfig { rotation_grace_secs: 60, ..JwtConfig::new(ISSUER) })).await;
    let first = kids(&jwks(&env).await);
    let rotated = env.svc.rotate_keys().await.unwrap();
    env.advance_secs(59);
    assert_eq!(kids(&jwks(&env).await).len(), 2);
    env.advance_secs(1);
    assert_eq!(kids(&jwks(&env).await), BTreeSet::from([rotated.kid]));
    assert_eq!(first.len(), 1);
}

#[tokio::test]
async fn a_key_of_another_secret_fails_cleanly_and_stays() {
    // A key row written under another BETTER_AUTH_SECRET.
    let foreign = Env::with(|c| {
        c.jwt = Some(JwtConfig::new(ISSUER));
        c.secret = auth::crypto::Secret::new("another-secret-of-at-least-32-characters".into());
    })
    .await;
    jwks(&foreign).await;
    let row = foreign.row::<Jwk>(&[]).await.unwrap();

    let env = env().await;
    let id = env.insert(Model::Jwks, row.to_fields()).await;
    let stored = env.row::<Jwk>(&[]).await.unwrap();

    // Sign-up still succeeds; the hook's failure is swallowed (no JWT cookie).
    let mut alice = env.browser();
    let resp = alice
        .post("/sign-up/email", json!({"name": "Alice", "email": "alice@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.set_cookies().len(), 1, "{:?}", resp.set_cookies());
    // Minting answers 500 with a body.
    let failure = json!({"code": "INTERNAL_SERVER_ERROR", "message": "Failed to load signing keys"});
    for _ in 0..2 {
        let resp = alice.get("/convex/token").await;
        check(&resp, 500, failure.clone());
        assert!(resp.set_cookies().is_empty());
        check(&env.send(Req::get("/convex/jwks")).await, 500, failure.clone());
        assert_eq!(env.svc.jwks().await.unwrap().err().map(|e| e.status()), Some(500));
        let resp = alice.get("/get-session?disableRefresh=true").await;
        assert_eq!((resp.status, resp.set_cookies().len()), (200, 0));
        env.advance_secs(120);
    }
    // The row is never replaced behind the operator's back.
    assert_eq!(env.rows::<Jwk>(&[]).await, [stored]);
    assert_eq!(env.row::<Jwk>(&[]).await.unwrap().id, id);

    // Rotating is the way out.
    let rotated = env.svc.rotate_keys().await.unwrap();
    let resp = alice.get("/convex/token").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let token = resp.json()["token"].as_str().unwrap().to_string();
    assert_eq!(verify(&token, &jwks(&env).await, START_SECS + 240).0, rotated.kid);
}

#[tokio::test]
async fn only_expired_keys_left_means_a_new_key() {
    // A key whose grace period ended (e.g. rows from a deployment that rotated on an interval) and no live one.
    let source = env().await;
    jwks(&source).await;
    let mut expired = source.row::<Jwk>(&[]).await.unwrap();
    expired.expires_at = Some((START_NANOS / 1_000_000) as f64 - 1000.0);

    let env = env().await;
    let expired_id = env.insert(Model::Jwks, expired.to_fields()).await;
    insert_user_with_session(&env, RAW_TOKEN).await;
    let resp = env.send(bearer(RAW_TOKEN)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let token = resp.json()["token"].as_str().unwrap().to_string();
    let keys = jwks(&env).await;
    let (kid, _) = verify(&token, &keys, START_SECS);
    assert_ne!(kid, expired_id);
    assert_eq!(kids(&keys), BTreeSet::from([kid]));
    assert_eq!(env.count(Model::Jwks, &[]).await, 2);
}
