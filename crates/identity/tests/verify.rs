//! End-to-end verification through the public API: the recorded Better Auth token, every rejection with its message,
//! and JWKS/discovery retrieval from a local HTTP server (content types, caching, rotation, redirects).

// Helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use identity::{
    json_to_value, provider_from_convex_json, Algorithm, AuthFailure, JwkSet, JwksSource, KeySource, Provider,
    Verified, Verifier, VerifierConfig,
};
use jsonwebtoken::EncodingKey;
use parking_lot::Mutex;
use protocol::UnixTime;
use serde_json::{json, Value as Json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const NOW: u64 = 1_795_846_263;
const ISS: &str = "https://auth.example.com";

// ---------------------------------------------------------------------------------------------------------------
// Keys, tokens and providers.

fn vectors() -> Json {
    serde_json::from_str(include_str!("fixtures/convex_better_auth_vectors.json")).unwrap()
}

#[derive(Clone, Copy)]
enum Key {
    RsaA,
    RsaB,
    Ec,
}

impl Key {
    fn encoding(self) -> EncodingKey {
        match self {
            Key::RsaA => EncodingKey::from_rsa_pem(include_bytes!("fixtures/rsa_a.pem")).unwrap(),
            Key::RsaB => EncodingKey::from_rsa_pem(include_bytes!("fixtures/rsa_b.pem")).unwrap(),
            Key::Ec => EncodingKey::from_ec_pem(include_bytes!("fixtures/ec_p256.pem")).unwrap(),
        }
    }

    /// The public JWK with `kid` and, if given, `alg`.
    fn jwk(self, kid: &str, alg: Option<&str>) -> Json {
        let text = match self {
            Key::RsaA => include_str!("fixtures/rsa_a.jwk.json"),
            Key::RsaB => include_str!("fixtures/rsa_b.jwk.json"),
            Key::Ec => include_str!("fixtures/ec_p256.jwk.json"),
        };
        let mut jwk: Json = serde_json::from_str(text).unwrap();
        jwk["kid"] = json!(kid);
        if let Some(alg) = alg {
            jwk["alg"] = json!(alg);
        }
        jwk
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS with exactly this header and these claims.
fn sign(header: Json, claims: &Json, key: &EncodingKey, alg: jsonwebtoken::Algorithm) -> String {
    let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{signature}")
}

fn rs256(kid: &str, key: Key, claims: &Json) -> String {
    sign(json!({"alg": "RS256", "kid": kid}), claims, &key.encoding(), jsonwebtoken::Algorithm::RS256)
}

/// Better Auth's claim set for `ISS`, issued at `NOW`, valid 15 minutes.
fn claims() -> Json {
    json!({
        "iat": NOW, "name": "Alice", "email": "alice@example.com", "emailVerified": false, "sessionId": "s1",
        "sub": "user1", "exp": NOW + 900, "iss": ISS, "aud": "convex"
    })
}

fn with(mut claims: Json, changes: Json) -> Json {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn static_jwks(keys: &[Json]) -> JwksSource {
    let body = serde_json::to_vec(&json!({ "keys": keys })).unwrap();
    JwksSource::Static(Arc::new(JwkSet::from_json(&body).unwrap()))
}

fn custom(issuer: &str, jwks: JwksSource, algorithm: Algorithm, application_id: Option<&str>) -> Provider {
    Provider::custom_jwt(issuer, jwks, algorithm, application_id.map(str::to_string)).unwrap()
}

/// The provider `getAuthConfigProvider()` yields for `ISS`, with key A (`k1`, alg RS256) as its JWKS.
fn better_auth_provider() -> Provider {
    custom(ISS, static_jwks(&[Key::RsaA.jwk("k1", Some("RS256"))]), Algorithm::RS256, Some("convex"))
}

fn verifier_for(providers: Vec<Provider>) -> Verifier {
    Verifier::new(providers).unwrap()
}

/// Verifying `token` at `now` with `verifier` fails with exactly `code` and `message`.
async fn check_rejects(verifier: &Verifier, token: &str, now: u64, code: protocol::ErrorCode, message: &str) {
    let failure: AuthFailure =
        verifier.verify(token, UnixTime::from_secs(now)).await.expect_err("the token must be rejected");
    assert_eq!((failure.code, failure.message.as_str()), (code, message), "{token}");
}

const INVALID: protocol::ErrorCode = identity::code::INVALID_AUTH_HEADER;

// ---------------------------------------------------------------------------------------------------------------
// The recorded vectors.

fn expected_identity(identity: &Json) -> functions::UserIdentity {
    let mut fields: value::Object =
        identity.as_object().unwrap().iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect();
    let mut take = |name: &str| match fields.remove(name) {
        Some(value::Value::String(s)) => s,
        other => panic!("{name}: {other:?}"),
    };
    let token_identifier = take("tokenIdentifier");
    let issuer = take("issuer");
    let subject = take("subject");
    functions::UserIdentity { token_identifier, subject, issuer, fields }
}

#[tokio::test]
async fn the_recorded_better_auth_token_verifies_with_its_static_provider_into_the_derived_identity() {
    let v = vectors();
    let run = &v["sqlite_run"];
    let verifier = verifier_for(vec![provider_from_convex_json(&run["auth_config_provider_static"]).unwrap()]);
    let token = run["jwt"].as_str().unwrap();
    let verified = verifier.verify_token(token, UnixTime::from_secs(NOW)).await.unwrap();
    assert_eq!(verified, Verified { identity: expected_identity(&run["identity"]), expires_at: 1_795_847_163 });
    assert_eq!(verified.identity.token_identifier, "http://127.0.0.1:3211|XwImH3aQ6Tcd6bv1YLq5VWlyrdn4je32");

    // 5 s of leeway past `exp`, not 6.
    assert!(verifier.verify(token, UnixTime::from_secs(1_795_847_163 + 5)).await.is_ok());
    check_rejects(
        &verifier,
        token,
        1_795_847_163 + 6,
        INVALID,
        "Could not validate token: Token expired 6 seconds ago",
    )
    .await;
}

#[tokio::test]
async fn the_recorded_convex_run_token_verifies_over_http_like_the_default_provider() {
    let v = vectors();
    let run = &v["convex_test_run"];
    let server = JwksServer::start(run["jwks_body"].as_str().unwrap()).await;
    let provider = provider_from_convex_json(&json!({
        "type": "customJwt", "issuer": "http://127.0.0.1:3211", "applicationID": "convex", "algorithm": "RS256",
        "jwks": server.url("/api/auth/convex/jwks"),
    }))
    .unwrap();
    let verifier = verifier_for(vec![provider]);
    let token = run["jwt"].as_str().unwrap();
    let identity = verifier.verify(token, UnixTime::from_secs(1_795_846_317)).await.unwrap();
    assert_eq!(identity.token_identifier, "http://127.0.0.1:3211|0000000000000000000000010000user");
    assert_eq!(
        identity.fields.get("sessionId"),
        Some(&value::Value::String("0000000000000000000010002session".into()))
    );
    assert!(!identity.fields.contains_key("userId"));
    assert_eq!(server.fetches(), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Rejections.

#[tokio::test]
async fn a_valid_token_verifies_and_keeps_its_claims() {
    let verifier = verifier_for(vec![better_auth_provider()]);
    let verified = verifier.verify_token(&rs256("k1", Key::RsaA, &claims()), UnixTime::from_secs(NOW)).await.unwrap();
    assert_eq!(verified.expires_at, (NOW + 900) as i64);
    assert_eq!(verified.identity.token_identifier, format!("{ISS}|user1"));
    assert_eq!(verified.identity.issuer, ISS);
    assert_eq!(verified.identity.subject, "user1");
    assert_eq!(
        verified.identity.fields,
        value::obj! {"name" => "Alice", "email" => "alice@example.com", "emailVerified" => false, "sessionId" => "s1"}
            .as_object()
            .unwrap()
            .clone()
    );
}

#[tokio::test]
async fn algorithm_confusion_is_rejected() {
    let verifier = verifier_for(vec![better_auth_provider()]);
    let payload = b64url(claims().to_string().as_bytes());
    let alg_none = format!("{}.{payload}.", b64url(br#"{"alg":"none","kid":"k1"}"#));
    let unexpected = |alg: &str| {
        format!("Could not decode token. Token provided was signed or encrypted with an unexpected algorithm ('{alg}', expected 'RS256').")
    };
    check_rejects(&verifier, &alg_none, NOW, INVALID, &unexpected("none")).await;

    // HS256 keyed with the public key: rejected whether or not the JWK names its algorithm.
    let hmac = EncodingKey::from_secret(include_bytes!("fixtures/rsa_a.pub.pem"));
    let hs256 = sign(json!({"alg": "HS256", "kid": "k1"}), &claims(), &hmac, jsonwebtoken::Algorithm::HS256);
    check_rejects(&verifier, &hs256, NOW, INVALID, &unexpected("HS256")).await;
    let no_alg_in_jwk = verifier_with_keys(&[Key::RsaA.jwk("k1", None)]);
    check_rejects(&no_alg_in_jwk, &hs256, NOW, INVALID, &unexpected("HS256")).await;
    assert!(no_alg_in_jwk.verify(&rs256("k1", Key::RsaA, &claims()), UnixTime::from_secs(NOW)).await.is_ok());

    // An RS384 header over an RS256 key, and an RS256 key on an ES256 provider.
    let rs384 =
        sign(json!({"alg": "RS384", "kid": "k1"}), &claims(), &Key::RsaA.encoding(), jsonwebtoken::Algorithm::RS384);
    check_rejects(&verifier, &rs384, NOW, INVALID, &unexpected("RS384")).await;
    let es_provider = verifier_for(vec![custom(
        ISS,
        static_jwks(&[Key::RsaA.jwk("k1", Some("RS256"))]),
        Algorithm::ES256,
        Some("convex"),
    )]);
    check_rejects(
        &es_provider,
        &rs256("k1", Key::RsaA, &claims()),
        NOW,
        INVALID,
        "Could not decode token. Token provided was signed or encrypted with an unexpected algorithm ('RS256', expected 'ES256').",
    )
    .await;
}

fn verifier_with_keys(keys: &[Json]) -> Verifier {
    verifier_for(vec![custom(ISS, static_jwks(keys), Algorithm::RS256, Some("convex"))])
}

#[tokio::test]
async fn es256_tokens_verify_with_p256_keys() {
    let verifier =
        verifier_for(vec![custom(ISS, static_jwks(&[Key::Ec.jwk("e1", Some("ES256"))]), Algorithm::ES256, None)]);
    let token =
        sign(json!({"alg": "ES256", "kid": "e1"}), &claims(), &Key::Ec.encoding(), jsonwebtoken::Algorithm::ES256);
    assert!(verifier.verify(&token, UnixTime::from_secs(NOW)).await.is_ok());
    let tampered = token.replace('.', ".x").replacen(".x", ".", 1);
    check_rejects(&verifier, &tampered, NOW, INVALID, "Could not decode token. Invalid signature.").await;
}

#[tokio::test]
async fn keys_are_selected_by_kid() {
    let verifier = verifier_with_keys(&[Key::RsaB.jwk("k2", Some("RS256")), Key::RsaA.jwk("k1", Some("RS256"))]);
    assert!(verifier.verify(&rs256("k1", Key::RsaA, &claims()), UnixTime::from_secs(NOW)).await.is_ok());
    check_rejects(
        &verifier,
        &rs256("k9", Key::RsaA, &claims()),
        NOW,
        INVALID,
        "Could not decode token. Key not found in JWKS: no key has kid 'k9'.",
    )
    .await;
    let no_kid = sign(json!({"alg": "RS256"}), &claims(), &Key::RsaA.encoding(), jsonwebtoken::Algorithm::RS256);
    check_rejects(
        &verifier,
        &no_kid,
        NOW,
        INVALID,
        "Could not decode token. JWT may be missing a 'kid' (key ID) header.",
    )
    .await;
    // The right kid with the other key's signature.
    check_rejects(
        &verifier,
        &rs256("k2", Key::RsaA, &claims()),
        NOW,
        INVALID,
        "Could not decode token. Invalid signature.",
    )
    .await;
    let bad_header = format!("e30.{}", rs256("k1", Key::RsaA, &claims()).split_once('.').unwrap().1);
    check_rejects(&verifier, &bad_header, NOW, INVALID, "Could not decode token. Invalid JWT header: missing `alg`.")
        .await;
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature() {
    let verifier = verifier_for(vec![better_auth_provider()]);
    let token = rs256("k1", Key::RsaA, &claims());
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = b64url(with(claims(), json!({"sub": "admin"})).to_string().as_bytes());
    check_rejects(&verifier, &parts.join("."), NOW, INVALID, "Could not decode token. Invalid signature.").await;
}

#[tokio::test]
async fn issuer_and_audience_select_the_provider() {
    let verifier = verifier_for(vec![better_auth_provider()]);
    let no_provider = format!(
        "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of \
         your configured providers: [CustomJWT(issuer={ISS}, app_id=convex)]"
    );
    for changes in
        [json!({"iss": "https://evil.example.com"}), json!({"aud": "other"}), json!({"aud": null}), json!({"aud": []})]
    {
        let token = rs256("k1", Key::RsaA, &with(claims(), changes));
        check_rejects(&verifier, &token, NOW, identity::code::NO_AUTH_PROVIDER, &no_provider).await;
    }
    for changes in
        [json!({"aud": ["other", "convex"]}), json!({"iss": "auth.example.com/"}), json!({"iss": format!("{ISS}/")})]
    {
        let token = rs256("k1", Key::RsaA, &with(claims(), changes.clone()));
        assert!(verifier.verify(&token, UnixTime::from_secs(NOW)).await.is_ok(), "{changes}");
    }
    // tokenIdentifier keeps `iss` exactly as the token has it.
    let token = rs256("k1", Key::RsaA, &with(claims(), json!({"iss": format!("{ISS}/")})));
    assert_eq!(
        verifier.verify(&token, UnixTime::from_secs(NOW)).await.unwrap().token_identifier,
        format!("{ISS}/|user1")
    );

    let none = verifier_for(vec![]);
    check_rejects(
        &none,
        &rs256("k1", Key::RsaA, &claims()),
        NOW,
        identity::code::NO_AUTH_PROVIDER,
        "No auth provider found matching the given token (no providers configured). Check convex/auth.config.ts.",
    )
    .await;
}

#[tokio::test]
async fn the_first_matching_provider_wins_and_one_without_application_id_ignores_aud() {
    let wrong_keys = custom(ISS, static_jwks(&[Key::RsaB.jwk("k1", Some("RS256"))]), Algorithm::RS256, None);
    let right_keys = better_auth_provider();
    let verifier = verifier_for(vec![wrong_keys.clone(), right_keys.clone()]);
    check_rejects(
        &verifier,
        &rs256("k1", Key::RsaA, &claims()),
        NOW,
        INVALID,
        "Could not decode token. Invalid signature.",
    )
    .await;
    let verifier = verifier_for(vec![right_keys, wrong_keys]);
    assert!(verifier.verify(&rs256("k1", Key::RsaA, &claims()), UnixTime::from_secs(NOW)).await.is_ok());

    let verifier = verifier_for(vec![custom(ISS, static_jwks(&[Key::RsaA.jwk("k1", None)]), Algorithm::RS256, None)]);
    assert!(verifier
        .verify(&rs256("k1", Key::RsaA, &with(claims(), json!({"aud": null}))), UnixTime::from_secs(NOW))
        .await
        .is_ok());
}

#[tokio::test]
async fn times_are_checked_with_five_seconds_of_leeway() {
    let verifier = verifier_for(vec![better_auth_provider()]);
    let at = |changes: Json| rs256("k1", Key::RsaA, &with(claims(), changes));
    assert!(verifier.verify(&at(json!({"exp": NOW - 5})), UnixTime::from_secs(NOW)).await.is_ok());
    check_rejects(
        &verifier,
        &at(json!({"exp": NOW - 6})),
        NOW,
        INVALID,
        "Could not validate token: Token expired 6 seconds ago",
    )
    .await;
    assert!(verifier.verify(&at(json!({"nbf": NOW + 5})), UnixTime::from_secs(NOW)).await.is_ok());
    check_rejects(
        &verifier,
        &at(json!({"nbf": NOW + 6})),
        NOW,
        INVALID,
        "Could not validate token: Token will be valid in 6 seconds",
    )
    .await;
    assert!(verifier.verify(&at(json!({"iat": NOW + 5})), UnixTime::from_secs(NOW)).await.is_ok());
    check_rejects(
        &verifier,
        &at(json!({"iat": NOW + 60})),
        NOW,
        INVALID,
        "Could not validate token: Token will be valid in 60 seconds",
    )
    .await;
    // No maximum age.
    assert!(verifier.verify(&at(json!({"iat": 0})), UnixTime::from_secs(NOW)).await.is_ok());
}

#[tokio::test]
async fn subject_issuer_and_expiry_are_required() {
    let verifier = verifier_for(vec![better_auth_provider()]);
    let without = |claim: &str| rs256("k1", Key::RsaA, &with(claims(), json!({ claim: null })));
    check_rejects(&verifier, &without("sub"), NOW, INVALID, "Missing subject").await;
    check_rejects(&verifier, &without("exp"), NOW, INVALID, "Missing expiry").await;
    check_rejects(
        &verifier,
        &without("iss"),
        NOW,
        INVALID,
        "Missing issuer claim ('iss') in JWT payload. Check that the token contains an 'iss' field.",
    )
    .await;
}

#[tokio::test]
async fn malformed_tokens_are_rejected_before_anything_is_fetched() {
    let verifier = verifier_for(vec![better_auth_provider()]);
    let unparseable = "Could not parse JWT payload. Check that the token is a valid JWT with three base64url-encoded \
                       parts separated by dots.";
    let valid = rs256("k1", Key::RsaA, &claims());
    let (head, _) = valid.rsplit_once('.').unwrap();
    for token in ["", "garbage", "a.b.c", head, &format!("{valid}.extra"), &format!("x.{}.y", b64url(b"[]"))] {
        check_rejects(&verifier, token, NOW, INVALID, unparseable).await;
    }
    let exp_string = rs256("k1", Key::RsaA, &with(claims(), json!({"exp": "soon"})));
    check_rejects(&verifier, &exp_string, NOW, INVALID, unparseable).await;
}

#[tokio::test]
async fn a_key_set_with_an_eddsa_key_fails_as_a_whole() {
    let eddsa = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed", "alg": "EdDSA"});
    let verifier = verifier_with_keys(&[Key::RsaA.jwk("k1", Some("RS256")), eddsa]);
    check_rejects(
        &verifier,
        &rs256("k1", Key::RsaA, &claims()),
        NOW,
        identity::code::AUTH_PROVIDER_DISCOVERY_FAILED,
        "Invalid JWKS response body: keys[1]: unknown algorithm \"EdDSA\"",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------------------------
// JWKS over HTTP.

/// A JWKS endpoint (plus an OpenID configuration) on 127.0.0.1 whose responses tests change as they go.
struct JwksServer {
    base: String,
    state: Arc<ServerState>,
}

struct ServerState {
    body: Mutex<String>,
    content_type: Mutex<String>,
    cache_control: Mutex<Option<String>>,
    fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
    base: Mutex<String>,
}

async fn serve_jwks(State(state): State<Arc<ServerState>>, headers: HeaderMap) -> Response {
    assert_eq!(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()), Some("application/json"));
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let mut response = state.body.lock().clone().into_response();
    let content_type = HeaderValue::from_str(&state.content_type.lock()).unwrap();
    response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    if let Some(cache_control) = state.cache_control.lock().clone() {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_str(&cache_control).unwrap());
    }
    response
}

async fn serve_discovery(State(state): State<Arc<ServerState>>) -> Response {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let base = state.base.lock().clone();
    axum::Json(json!({
        "issuer": base, "authorization_endpoint": format!("{base}/authorize"), "jwks_uri": format!("{base}/api/auth/convex/jwks"),
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256", "none"]
    }))
    .into_response()
}

impl JwksServer {
    async fn start(body: &str) -> JwksServer {
        let state = Arc::new(ServerState {
            body: Mutex::new(body.to_string()),
            content_type: Mutex::new("application/json".to_string()),
            cache_control: Mutex::new(None),
            fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            base: Mutex::new(String::new()),
        });
        let app = Router::new()
            .route("/api/auth/convex/jwks", get(serve_jwks))
            .route("/moved", get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/api/auth/convex/jwks")]) }))
            .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "no such route") }))
            .route(
                "/.well-known/openid-configuration",
                get(|| async {
                    (StatusCode::FOUND, [(header::LOCATION, "/api/auth/convex/.well-known/openid-configuration")])
                }),
            )
            .route("/api/auth/convex/.well-known/openid-configuration", get(serve_discovery))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        *state.base.lock() = base.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        JwksServer { base, state }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    fn set_keys(&self, keys: &[Json]) {
        *self.state.body.lock() = json!({ "keys": keys }).to_string();
    }

    fn set_content_type(&self, content_type: &str) {
        *self.state.content_type.lock() = content_type.to_string();
    }

    fn set_cache_control(&self, cache_control: &str) {
        *self.state.cache_control.lock() = Some(cache_control.to_string());
    }

    /// A verifier with one customJwt provider (issuer `ISS`, application ID `convex`) reading keys from `path`.
    fn verifier(&self, path: &str) -> Verifier {
        verifier_for(vec![custom(ISS, JwksSource::Url(self.url(path)), Algorithm::RS256, Some("convex"))])
    }
}

async fn key_a_server() -> JwksServer {
    JwksServer::start(&json!({"keys": [Key::RsaA.jwk("k1", Some("RS256"))]}).to_string()).await
}

#[tokio::test]
async fn jwks_responses_must_be_json() {
    let server = key_a_server().await;
    let token = rs256("k1", Key::RsaA, &claims());
    for ok in ["application/json", "application/jwk-set+json", "application/json; charset=utf-8"] {
        server.set_content_type(ok);
        assert!(
            server.verifier("/api/auth/convex/jwks").verify(&token, UnixTime::from_secs(NOW)).await.is_ok(),
            "{ok}"
        );
    }
    for bad in ["text/plain", "text/html; charset=utf-8", "application/json; charset=iso-8859-1"] {
        server.set_content_type(bad);
        let failure =
            server.verifier("/api/auth/convex/jwks").verify(&token, UnixTime::from_secs(NOW)).await.unwrap_err();
        assert_eq!(failure.code, identity::code::AUTH_PROVIDER_DISCOVERY_FAILED);
        assert_eq!(
            failure.message,
            format!(
                "Invalid Content-Type \"{bad}\" in the auth jwks response from {} (expected application/json or \
                 application/jwk-set+json)",
                server.url("/api/auth/convex/jwks")
            )
        );
    }
    server.set_content_type("application/json");
    check_rejects(
        &server.verifier("/missing"),
        &token,
        NOW,
        identity::code::AUTH_PROVIDER_DISCOVERY_FAILED,
        "Error from auth jwks request 404 Not Found: no such route",
    )
    .await;
    *server.state.body.lock() = "<html>".into();
    let failure = server.verifier("/api/auth/convex/jwks").verify(&token, UnixTime::from_secs(NOW)).await.unwrap_err();
    assert!(failure.message.starts_with("Invalid JWKS response body: "), "{failure}");
}

#[tokio::test]
async fn redirects_are_followed() {
    let server = key_a_server().await;
    assert!(server
        .verifier("/moved")
        .verify(&rs256("k1", Key::RsaA, &claims()), UnixTime::from_secs(NOW))
        .await
        .is_ok());
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn one_fetch_serves_many_verifications_until_the_entry_expires() {
    let server = key_a_server().await;
    let verifier = Arc::new(server.verifier("/api/auth/convex/jwks"));
    let token = rs256("k1", Key::RsaA, &claims());
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), token.clone());
            tokio::spawn(async move { verifier.verify(&token, UnixTime::from_secs(NOW)).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    for offset in 0..299 {
        assert!(verifier.verify(&token, UnixTime::from_secs(NOW + offset)).await.is_ok());
    }
    assert_eq!(server.fetches(), 1);
    // The default lifetime (no Cache-Control) is 300 s.
    assert!(verifier.verify(&token, UnixTime::from_secs(NOW + 300)).await.is_ok());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn cache_control_sets_the_lifetime() {
    let server = key_a_server().await;
    let token = rs256("k1", Key::RsaA, &claims());
    server.set_cache_control("public, max-age=60");
    let verifier = server.verifier("/api/auth/convex/jwks");
    for now in [NOW, NOW + 59] {
        verifier.verify(&token, UnixTime::from_secs(now)).await.unwrap();
    }
    assert_eq!(server.fetches(), 1);
    verifier.verify(&token, UnixTime::from_secs(NOW + 60)).await.unwrap();
    assert_eq!(server.fetches(), 2);

    server.set_cache_control("no-cache");
    let verifier = server.verifier("/api/auth/convex/jwks");
    for _ in 0..3 {
        verifier.verify(&token, UnixTime::from_secs(NOW + 60)).await.unwrap();
    }
    assert_eq!(server.fetches(), 5);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_at_once_and_unknown_kids_refetch_at_most_every_five_seconds() {
    let server = key_a_server().await;
    let verifier = server.verifier("/api/auth/convex/jwks");
    let old = rs256("k1", Key::RsaA, &claims());
    verifier.verify(&old, UnixTime::from_secs(NOW)).await.unwrap();
    assert_eq!(server.fetches(), 1);

    // rotateKeys(): every key replaced.
    server.set_keys(&[Key::RsaB.jwk("k2", Some("RS256"))]);
    let new = rs256("k2", Key::RsaB, &claims());
    verifier.verify(&new, UnixTime::from_secs(NOW)).await.unwrap();
    assert_eq!(server.fetches(), 2);
    // The old key is gone from the refetched set.
    check_rejects(&verifier, &old, NOW, INVALID, "Could not decode token. Key not found in JWKS: no key has kid 'k1'.")
        .await;

    // Made-up kids: one refetch per interval (counted from the rotation's refetch at NOW), never more.
    for (offset, kid) in [(0, "x1"), (1, "x2"), (4, "x3")] {
        let token = rs256(kid, Key::RsaB, &claims());
        assert!(verifier.verify(&token, UnixTime::from_secs(NOW + offset)).await.is_err());
    }
    assert_eq!(server.fetches(), 2);
    for kid in ["x4", "x5"] {
        assert!(verifier.verify(&rs256(kid, Key::RsaB, &claims()), UnixTime::from_secs(NOW + 5)).await.is_err());
    }
    assert_eq!(server.fetches(), 3);
    // Known kids never refetch.
    verifier.verify(&new, UnixTime::from_secs(NOW + 6)).await.unwrap();
    assert_eq!(server.fetches(), 3);
}

#[tokio::test]
async fn a_failed_fetch_is_retried_by_the_next_verification() {
    let server = key_a_server().await;
    let verifier = server.verifier("/api/auth/convex/jwks");
    let token = rs256("k1", Key::RsaA, &claims());
    server.set_content_type("text/plain");
    assert!(verifier.verify(&token, UnixTime::from_secs(NOW)).await.is_err());
    server.set_content_type("application/json");
    assert!(verifier.verify(&token, UnixTime::from_secs(NOW)).await.is_ok());
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn data_url_jwks_is_decoded_inline() {
    let jwks = json!({"keys": [Key::RsaA.jwk("k1", Some("RS256"))]}).to_string();
    let data_url =
        format!("data:text/plain;charset=utf-8;base64,{}", base64::engine::general_purpose::STANDARD.encode(&jwks));
    let verifier = verifier_for(vec![custom(
        ISS,
        JwksSource::from_config_string(&data_url).unwrap(),
        Algorithm::RS256,
        Some("convex"),
    )]);
    assert!(verifier.verify(&rs256("k1", Key::RsaA, &claims()), UnixTime::from_secs(NOW)).await.is_ok());
    check_rejects(
        &verifier,
        &rs256("k2", Key::RsaA, &claims()),
        NOW,
        INVALID,
        "Could not decode token. Key not found in JWKS: no key has kid 'k2'.",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------------------------
// Keys handed over in process.

struct Rotating {
    keys: Mutex<Vec<Json>>,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl KeySource for Rotating {
    async fn jwks(&self) -> Result<JwkSet, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        JwkSet::from_json(&serde_json::to_vec(&json!({ "keys": *self.keys.lock() })).unwrap())
    }
}

#[tokio::test]
async fn in_process_keys_are_asked_on_every_verification() {
    let source =
        Arc::new(Rotating { keys: Mutex::new(vec![Key::RsaA.jwk("k1", Some("RS256"))]), calls: AtomicUsize::new(0) });
    let verifier =
        verifier_for(vec![custom(ISS, JwksSource::InProcess(source.clone()), Algorithm::RS256, Some("convex"))]);
    let old = rs256("k1", Key::RsaA, &claims());
    verifier.verify(&old, UnixTime::from_secs(NOW)).await.unwrap();
    *source.keys.lock() = vec![Key::RsaB.jwk("k2", Some("RS256"))];
    verifier.verify(&rs256("k2", Key::RsaB, &claims()), UnixTime::from_secs(NOW)).await.unwrap();
    check_rejects(&verifier, &old, NOW, INVALID, "Could not decode token. Key not found in JWKS: no key has kid 'k1'.")
        .await;
    assert_eq!(source.calls.load(Ordering::SeqCst), 3);
}

// ---------------------------------------------------------------------------------------------------------------
// OIDC providers.

#[tokio::test]
async fn oidc_tokens_verify_through_discovery_and_map_standard_claims() {
    let server = key_a_server().await;
    let verifier = verifier_for(vec![Provider::oidc(&server.base, "convex").unwrap()]);
    let oidc_claims = json!({
        "iss": server.base, "sub": "u1", "aud": "convex", "iat": NOW, "exp": NOW + 60,
        "given_name": "Ada", "email_verified": true, "org": {"role": "admin"}, "jti": "j"
    });
    let identity = verifier.verify(&rs256("k1", Key::RsaA, &oidc_claims), UnixTime::from_secs(NOW)).await.unwrap();
    assert_eq!(identity.token_identifier, format!("{}|u1", server.base));
    assert_eq!(
        identity.fields,
        value::obj! {"givenName" => "Ada", "emailVerified" => true, "org" => value::obj! {"role" => "admin"}}
            .as_object()
            .unwrap()
            .clone()
    );
    assert_eq!(server.state.discovery_fetches.load(Ordering::SeqCst), 1);

    let unverified = "Could not verify OIDC token claim. Check that the token signature is valid and the token \
                      hasn't expired.";
    let expired = rs256("k1", Key::RsaA, &with(oidc_claims.clone(), json!({"exp": NOW})));
    check_rejects(&verifier, &expired, NOW, identity::code::UNAUTHENTICATED, unverified).await;
    let two_audiences = rs256("k1", Key::RsaA, &with(oidc_claims.clone(), json!({"aud": ["convex", "other"]})));
    check_rejects(&verifier, &two_audiences, NOW, identity::code::UNAUTHENTICATED, unverified).await;
    let other_key = rs256("k1", Key::RsaB, &oidc_claims);
    check_rejects(&verifier, &other_key, NOW, identity::code::UNAUTHENTICATED, unverified).await;
    let no_iat = rs256("k1", Key::RsaA, &with(oidc_claims.clone(), json!({"iat": null})));
    check_rejects(&verifier, &no_iat, NOW, identity::code::UNAUTHENTICATED, unverified).await;
    // Without a kid the only RS256 key is used.
    let no_kid = sign(json!({"alg": "RS256"}), &oidc_claims, &Key::RsaA.encoding(), jsonwebtoken::Algorithm::RS256);
    assert!(verifier.verify(&no_kid, UnixTime::from_secs(NOW)).await.is_ok());
    assert_eq!(server.state.discovery_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn oidc_discovery_must_name_the_tokens_issuer() {
    let server = key_a_server().await;
    let verifier = verifier_for(vec![Provider::oidc(&format!("{}/", server.base), "convex").unwrap()]);
    let token = rs256(
        "k1",
        Key::RsaA,
        &json!({"iss": format!("{}/", server.base), "sub": "u1", "aud": "convex", "iat": NOW, "exp": NOW + 60}),
    );
    let failure = verifier.verify(&token, UnixTime::from_secs(NOW)).await.unwrap_err();
    assert_eq!(failure.code, identity::code::AUTH_PROVIDER_DISCOVERY_FAILED);
    assert!(failure.message.contains(&format!("unexpected issuer URI `{}`", server.base)), "{failure}");
}

#[test]
fn verifier_config_defaults_are_documented_values() {
    let config = VerifierConfig::default();
    assert_eq!(config.default_ttl.as_secs(), 300);
    assert_eq!(config.unknown_kid_refetch_interval.as_secs(), 5);
}
