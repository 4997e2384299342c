//! Black-box: a deployment with the built-in auth service on `127.0.0.1:0`. Users sign up on the site origin, take a
//! JWT from `/api/auth/convex/token` and call functions on the API origin with it; the identity functions see is
//! the one Convex builds. Configured customJwt providers verify tokens signed elsewhere.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use database::Clock;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use server::RunningServer;

const CUSTOM_ISSUER: &str = "https://issuer.example.com";
const CUSTOM_APP: &str = "my-app";
const CUSTOM_KID: &str = "custom-1";

/// The configured provider: customJwt with an inline (`data:`) JWKS of the test key.
fn custom_provider() -> Value {
    let mut jwk: Value = serde_json::from_str(include_str!("fixtures/custom_rsa.jwk.json")).unwrap();
    jwk["kid"] = json!(CUSTOM_KID);
    jwk["alg"] = json!("RS256");
    let jwks = json!({"keys": [jwk]}).to_string();
    json!({
        "type": "customJwt",
        "issuer": CUSTOM_ISSUER,
        "jwks": format!("data:text/plain;charset=utf-8;base64,{}", base64::engine::general_purpose::STANDARD.encode(jwks)),
        "algorithm": "RS256",
        "applicationID": CUSTOM_APP,
    })
}

/// Signs claims with the test key (not the deployment's).
fn sign_with_test_key(kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(include_bytes!("fixtures/custom_rsa.pem")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn now_secs() -> u64 {
    database::SystemClock.now().as_secs()
}

fn b64url_json(part: &str) -> Value {
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

struct Deployment {
    server: RunningServer,
    http: reqwest::Client,
}

/// A signed-up user: the session cookie pair, the user and session objects.
struct SignedUp {
    cookie: String,
    user: Value,
    session: Value,
}

impl Deployment {
    async fn start() -> Deployment {
        let server = test_support::deployment::Deployment::new(functions::App::new())
            .auth_provider(custom_provider())
            .start()
            .await;
        Deployment { server, http: reqwest::Client::new() }
    }

    fn site(&self) -> &str {
        &self.server.site_url
    }

    async fn sign_up(&self, name: &str, email: &str) -> SignedUp {
        let resp = self
            .http
            .post(format!("{}/api/auth/sign-up/email", self.site()))
            .header("origin", self.site())
            .json(&json!({"name": name, "email": email, "password": "correct horse battery staple"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let cookies: Vec<String> =
            resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        assert!(cookies.iter().any(|c| c.starts_with("better-auth.convex_jwt=ey")), "{cookies:?}");
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with("better-auth.session_token="))
            .map(|c| c.split(';').next().unwrap().to_string())
            .unwrap();
        let user = resp.json::<Value>().await.unwrap()["user"].clone();
        let session = self.get_session(&cookie).await["session"].clone();
        SignedUp { cookie, user, session }
    }

    async fn get_session(&self, cookie: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}/api/auth/get-session", self.site()))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        resp.json().await.unwrap()
    }

    async fn token(&self, cookie: &str) -> String {
        let resp = self
            .http
            .get(format!("{}/api/auth/convex/token", self.site()))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
    }

    async fn sign_out(&self, cookie: &str) {
        let resp = self
            .http
            .post(format!("{}/api/auth/sign-out", self.site()))
            .header("cookie", cookie)
            .header("origin", self.site())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    /// `POST /api/query`: the status and the JSON body.
    async fn query(&self, path: &str, bearer: Option<&str>) -> (u16, Value) {
        let mut req =
            self.http.post(format!("{}/api/query", self.server.api_url)).json(&json!({"path": path, "args": {}}));
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// The value of a successful query.
    async fn query_value(&self, path: &str, bearer: Option<&str>) -> Value {
        let (status, body) = self.query(path, bearer).await;
        assert_eq!((status, &body["status"]), (200, &json!("success")), "{body}");
        body["value"].clone()
    }

    async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Asserts a rejected token: 401 with exactly `{code, message}`.
#[track_caller]
fn check_rejected((status, body): (u16, Value), code: &str, message: &str) {
    assert_eq!((status, body), (401, json!({"code": code, "message": message})));
}

#[tokio::test]
async fn built_in_tokens_give_convexs_identity() {
    let d = Deployment::start().await;
    let alice = d.sign_up("Alice", "alice@example.com").await;
    let token = d.token(&alice.cookie).await;
    let site = d.site().to_string();
    let user_id = alice.user["id"].as_str().unwrap();

    // The token: issued by the site URL for `convex`, signed with the published key.
    let parts: Vec<&str> = token.split('.').collect();
    let header = b64url_json(parts[0]);
    let jwks: Value = d.http.get(format!("{site}/api/auth/convex/jwks")).send().await.unwrap().json().await.unwrap();
    assert_eq!(header, json!({"alg": "RS256", "kid": jwks["keys"][0]["kid"]}));
    let claims = b64url_json(parts[1]);
    assert_eq!((&claims["iss"], &claims["aud"], &claims["sub"]), (&json!(site), &json!("convex"), &json!(user_id)));

    // The identity: tokenIdentifier `iss|sub`, issuer, subject and the other claims, no registered ones.
    let identity = d.query_value("auth:getCurrentUser", Some(&token)).await;
    assert_eq!(
        identity,
        json!({
            "tokenIdentifier": format!("{site}|{user_id}"),
            "issuer": site,
            "subject": user_id,
            "name": "Alice",
            "email": "alice@example.com",
            "emailVerified": false,
            "createdAt": alice.user["createdAt"],
            "updatedAt": alice.user["updatedAt"],
            "sessionId": alice.session["id"],
        })
    );

    // No token: null.
    assert_eq!(d.query_value("auth:getCurrentUser", None).await, json!(null));

    // Tampered: the payload says someone else, the signature is the original's.
    let mut forged_claims = claims.clone();
    forged_claims["sub"] = json!("someone-else");
    let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged_claims.to_string());
    let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    check_rejected(
        d.query("auth:getCurrentUser", Some(&tampered)).await,
        "InvalidAuthHeader",
        "Could not decode token. Invalid signature.",
    );
    // A flipped signature byte.
    let mut signature = parts[2].to_string();
    let flipped = if signature.ends_with('A') { 'B' } else { 'A' };
    signature.replace_range(signature.len() - 2.., &format!("{flipped}{flipped}"));
    check_rejected(
        d.query("auth:getCurrentUser", Some(&format!("{}.{}.{signature}", parts[0], parts[1]))).await,
        "InvalidAuthHeader",
        "Could not decode token. Invalid signature.",
    );
    // Not a JWT at all.
    let (status, body) = d.query("auth:getCurrentUser", Some("not-a-jwt")).await;
    assert_eq!((status, body["code"].clone()), (401, json!("InvalidAuthHeader")), "{body}");
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");

    // Right claims, foreign key: with the deployment's kid the signature fails, with another kid there is no key.
    let foreign_claims = json!({
        "sub": user_id, "iss": site, "aud": "convex", "iat": now_secs(), "exp": now_secs() + 600, "name": "Alice",
    });
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    check_rejected(
        d.query("auth:getCurrentUser", Some(&sign_with_test_key(kid, &foreign_claims))).await,
        "InvalidAuthHeader",
        "Could not decode token. Invalid signature.",
    );
    check_rejected(
        d.query("auth:getCurrentUser", Some(&sign_with_test_key("unknown-kid", &foreign_claims))).await,
        "InvalidAuthHeader",
        "Could not decode token. Key not found in JWKS: no key has kid 'unknown-kid'.",
    );

    // The HTTP API does not look at sessions: after sign-out the unexpired JWT still verifies.
    d.sign_out(&alice.cookie).await;
    assert_eq!(d.query_value("auth:getCurrentUser", Some(&token)).await["subject"], json!(user_id));
    d.shutdown().await;
}

#[tokio::test]
async fn configured_custom_jwt_providers_verify_their_own_tokens() {
    let d = Deployment::start().await;
    let now = now_secs();
    let claims = json!({
        "iss": CUSTOM_ISSUER, "sub": "user-7", "aud": CUSTOM_APP, "iat": now, "exp": now + 600, "nbf": now,
        "jti": "j-1", "name": "Seven", "org": {"id": "o-1", "roles": ["admin"]}, "tier": 3,
    });
    let identity = d.query_value("auth:getCurrentUser", Some(&sign_with_test_key(CUSTOM_KID, &claims))).await;
    assert_eq!(
        identity,
        json!({
            "tokenIdentifier": format!("{CUSTOM_ISSUER}|user-7"),
            "issuer": CUSTOM_ISSUER,
            "subject": "user-7",
            "name": "Seven",
            "org.id": "o-1",
            "org.roles": ["admin"],
            "tier": 3.0,
        })
    );

    // Another audience matches no provider.
    let mut other = claims.clone();
    other["aud"] = json!("other-app");
    let (status, body) = d.query("auth:getCurrentUser", Some(&sign_with_test_key(CUSTOM_KID, &other))).await;
    assert_eq!((status, &body["code"]), (401, &json!("NoAuthProvider")), "{body}");
    // Expired beyond the leeway.
    let mut expired = claims.clone();
    expired["exp"] = json!(now - 60);
    let (status, body) = d.query("auth:getCurrentUser", Some(&sign_with_test_key(CUSTOM_KID, &expired))).await;
    assert_eq!((status, &body["code"]), (401, &json!("InvalidAuthHeader")), "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("Could not validate token: Token expired"), "{body}");

    // The built-in provider keeps working next to it.
    let bob = d.sign_up("Bob", "bob@example.com").await;
    let token = d.token(&bob.cookie).await;
    assert_eq!(d.query_value("auth:getCurrentUser", Some(&token)).await["email"], json!("bob@example.com"));
    d.shutdown().await;
}

#[tokio::test]
async fn discovery_redirect_and_jwks_on_the_site_origin() {
    let d = Deployment::start().await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let site = d.site().to_string();
    let resp = no_redirects.get(format!("{site}/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        format!("{site}/api/auth/convex/.well-known/openid-configuration")
    );
    let doc: Value = d
        .http
        .get(format!("{site}/api/auth/convex/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((&doc["issuer"], &doc["jwks_uri"]), (&json!(site), &json!(format!("{site}/api/auth/convex/jwks"))));
    let resp = d.http.get(format!("{site}/api/auth/convex/jwks")).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let jwks: Value = resp.json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!((&jwks["keys"][0]["alg"], &jwks["keys"][0]["e"]), (&json!("RS256"), &json!("AQAB")));
    d.shutdown().await;
}
