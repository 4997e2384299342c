//! A mock OAuth 2 / OpenID Connect provider on 127.0.0.1 (axum), strict the way real ones are: the
//! authorization endpoint checks client and redirect URI and requires an S256 challenge; the token endpoint
//! checks the client secret (form or Basic), the redirect URI and the PKCE verifier, and each code works once.
//! It serves GitHub's `/user` + `/user/emails`, an OIDC `userinfo`, discovery and a JWKS, and signs RS256 ID
//! tokens whose claims a test can tamper with. Every token request is recorded.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use parking_lot::Mutex;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

pub const CLIENT_ID: &str = "mock-client-id";
pub const CLIENT_SECRET: &str = "mock-client-secret";

/// One person the provider knows.
#[derive(Debug, Clone)]
pub struct MockUser {
    pub sub: String,
    pub login: String,
    pub name: Option<String>,
    /// The address on the public profile (GitHub shows none when it is private).
    pub profile_email: Option<String>,
    /// `(address, primary, verified)` as `/user/emails` lists them; the first primary one is the OIDC `email`.
    pub emails: Vec<(String, bool, bool)>,
}

impl MockUser {
    /// A user whose only address is verified and primary (and private on the profile).
    pub fn verified(sub: &str, email: &str) -> MockUser {
        MockUser {
            sub: sub.into(),
            login: email.split('@').next().unwrap_or("user").into(),
            name: None,
            profile_email: None,
            emails: vec![(email.into(), true, true)],
        }
    }

    pub fn unverified(sub: &str, email: &str) -> MockUser {
        MockUser { emails: vec![(email.into(), true, false)], ..MockUser::verified(sub, email) }
    }

    fn primary(&self) -> Option<&(String, bool, bool)> {
        self.emails.iter().find(|e| e.1).or(self.emails.first())
    }
}

/// Changes to the ID token the mock signs (to provoke verification failures).
#[derive(Debug, Clone, Default)]
pub struct Tamper {
    pub iss: Option<String>,
    pub aud: Option<String>,
    pub nonce: Option<String>,
    /// Seconds added to `exp` (negative: an expired token).
    pub exp_offset: Option<i64>,
    /// Sign with a key that is not in the JWKS.
    pub foreign_key: bool,
    /// Leave the ID token out of the token response.
    pub omit: bool,
}

#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    nonce: Option<String>,
    user: MockUser,
}

#[derive(Default)]
struct Inner {
    users: HashMap<String, MockUser>,
    grants: HashMap<String, Grant>,
    tokens: HashMap<String, MockUser>,
    refresh_tokens: HashMap<String, MockUser>,
    next: u64,
    tamper: Tamper,
    redirect_token_endpoint: bool,
    token_requests: Vec<(HeaderMap, Vec<(String, String)>)>,
    redirect_target_hits: usize,
    profile_requests: Vec<(String, HeaderMap)>,
}

#[derive(Clone)]
pub struct Mock {
    pub base: String,
    /// The token's `iat` (the auth service's manual clock, in seconds).
    now_secs: u64,
    inner: Arc<Mutex<Inner>>,
}

fn keys() -> &'static (rsa::RsaPrivateKey, rsa::RsaPrivateKey) {
    static KEYS: OnceLock<(rsa::RsaPrivateKey, rsa::RsaPrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::thread_rng();
        (rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap(), rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap())
    })
}

const KID: &str = "mock-key-1";

impl Mock {
    /// Starts the provider on a free loopback port; ID tokens are issued at `now_secs`.
    pub async fn start(now_secs: u64) -> Mock {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mock = Mock { base, now_secs, inner: Arc::new(Mutex::new(Inner::default())) };
        let app = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/token-elsewhere", post(token_elsewhere))
            .route("/user", get(github_user))
            .route("/user/emails", get(github_emails))
            .route("/userinfo", get(userinfo))
            .route("/jwks", get(jwks))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state(mock.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        mock
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers a user the `/authorize?login=` parameter can pick.
    pub fn add_user(&self, user: MockUser) {
        self.inner.lock().users.insert(user.login.clone(), user);
    }

    pub fn tamper(&self, tamper: Tamper) {
        self.inner.lock().tamper = tamper;
    }

    /// Makes `/token` answer `302 Location: /token-elsewhere` (which would hand out a token).
    pub fn redirect_token_endpoint(&self) {
        self.inner.lock().redirect_token_endpoint = true;
    }

    pub fn token_requests(&self) -> Vec<(HeaderMap, Vec<(String, String)>)> {
        self.inner.lock().token_requests.clone()
    }

    pub fn redirect_target_hits(&self) -> usize {
        self.inner.lock().redirect_target_hits
    }

    pub fn profile_requests(&self) -> Vec<(String, HeaderMap)> {
        self.inner.lock().profile_requests.clone()
    }

    /// An ID token signed with the provider's key (the claims a test wants, e.g. for the ID-token sign-in).
    pub fn sign_id_token(&self, claims: &Value) -> String {
        sign(claims, &keys().0)
    }

    /// The standard claims the mock puts in an ID token for `user`.
    pub fn claims(&self, user: &MockUser, nonce: Option<&str>) -> Value {
        let (email, verified) = user.primary().map(|e| (e.0.clone(), e.2)).unwrap_or_default();
        let mut claims = json!({
            "iss": self.base, "aud": CLIENT_ID, "sub": user.sub, "email": email, "email_verified": verified,
            "name": user.name.clone().unwrap_or_else(|| user.login.clone()),
            "picture": format!("https://avatars.example/{}", user.sub),
            "iat": self.now_secs, "exp": self.now_secs + 3600,
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        claims
    }
}

fn sign(claims: &Value, key: &rsa::RsaPrivateKey) -> String {
    let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(KID.into());
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()).unwrap()
}

/// `application/x-www-form-urlencoded` pairs.
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"error": error}))).into_response()
}

async fn authorize(State(mock): State<Mock>, Query(q): Query<HashMap<String, String>>) -> Response {
    let param = |name: &str| q.get(name).cloned();
    if param("response_type").as_deref() != Some("code") || param("client_id").as_deref() != Some(CLIENT_ID) {
        return oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client");
    }
    let (Some(redirect_uri), Some(state), Some(login)) = (param("redirect_uri"), param("state"), param("login")) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let challenge = param("code_challenge");
    if challenge.is_some() && param("code_challenge_method").as_deref() != Some("S256") {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let mut inner = mock.inner.lock();
    let Some(user) = inner.users.get(&login).cloned() else {
        return oauth_error(StatusCode::BAD_REQUEST, "access_denied");
    };
    inner.next += 1;
    let code = format!("code-{}", inner.next);
    inner.grants.insert(
        code.clone(),
        Grant {
            client_id: CLIENT_ID.into(),
            redirect_uri: redirect_uri.clone(),
            challenge,
            nonce: param("nonce"),
            user,
        },
    );
    let location = format!("{redirect_uri}?code={code}&state={}", auth::social::http::form_component(&state));
    (StatusCode::FOUND, [("location", location)]).into_response()
}

async fn token(State(mock): State<Mock>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let form = parse_form(&body);
    let mut inner = mock.inner.lock();
    inner.token_requests.push((headers.clone(), form.clone()));
    if inner.redirect_token_endpoint {
        return (StatusCode::FOUND, [("location", mock.url("/token-elsewhere"))]).into_response();
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (client_id, client_secret) = match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(basic) => {
            let decoded = STANDARD.decode(basic.trim_start_matches("Basic ")).unwrap_or_default();
            let text = String::from_utf8(decoded).unwrap_or_default();
            let (id, secret) = text.split_once(':').unwrap_or_default();
            (Some(id.to_string()), Some(secret.to_string()))
        }
        None => (field("client_id"), field("client_secret")),
    };
    if client_id.as_deref() != Some(CLIENT_ID) || client_secret.as_deref() != Some(CLIENT_SECRET) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if field("grant_type").as_deref() == Some("refresh_token") {
        let Some(user) = field("refresh_token").and_then(|t| inner.refresh_tokens.remove(&t)) else {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        };
        inner.next += 1;
        let access_token = format!("mock-refreshed-{}", inner.next);
        inner.tokens.insert(access_token.clone(), user.clone());
        inner.refresh_tokens.insert(format!("{access_token}-refresh"), user);
        return Json(json!({
            "access_token": access_token, "token_type": "bearer", "refresh_token": format!("{access_token}-refresh"),
            "expires_in": 7200,
        }))
        .into_response();
    }
    if field("grant_type").as_deref() != Some("authorization_code") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let Some(grant) = field("code").and_then(|code| inner.grants.remove(&code)) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if grant.client_id != CLIENT_ID || field("redirect_uri").as_deref() != Some(grant.redirect_uri.as_str()) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    if let Some(challenge) = &grant.challenge {
        let Some(verifier) = field("code_verifier") else {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        };
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
    }
    inner.next += 1;
    let access_token = format!("mock-access-{}", inner.next);
    inner.tokens.insert(access_token.clone(), grant.user.clone());
    inner.refresh_tokens.insert(format!("{access_token}-refresh"), grant.user.clone());
    let tamper = inner.tamper.clone();
    drop(inner);
    let mut body = json!({
        "access_token": access_token, "token_type": "bearer", "scope": "read:user,user:email",
        "refresh_token": format!("{access_token}-refresh"), "expires_in": 3600,
    });
    if !tamper.omit {
        let mut claims = mock.claims(&grant.user, grant.nonce.as_deref());
        if let Some(iss) = tamper.iss {
            claims["iss"] = json!(iss);
        }
        if let Some(aud) = tamper.aud {
            claims["aud"] = json!(aud);
        }
        if let Some(nonce) = tamper.nonce {
            claims["nonce"] = json!(nonce);
        }
        if let Some(offset) = tamper.exp_offset {
            claims["exp"] = json!(mock.now_secs as i64 + offset);
        }
        let key = if tamper.foreign_key { &keys().1 } else { &keys().0 };
        body["id_token"] = json!(sign(&claims, key));
    }
    Json(body).into_response()
}

async fn token_elsewhere(State(mock): State<Mock>) -> Response {
    mock.inner.lock().redirect_target_hits += 1;
    Json(json!({"access_token": "stolen", "token_type": "bearer"})).into_response()
}

fn bearer_user(mock: &Mock, path: &str, headers: &HeaderMap) -> Option<MockUser> {
    let mut inner = mock.inner.lock();
    inner.profile_requests.push((path.to_string(), headers.clone()));
    let token = headers.get("authorization")?.to_str().ok()?.strip_prefix("Bearer ")?;
    inner.tokens.get(token).cloned()
}

async fn github_user(State(mock): State<Mock>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&mock, "/user", &headers) else {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"}))).into_response();
    };
    let id: u64 = user.sub.parse().unwrap_or(0);
    Json(json!({
        "login": user.login, "id": id, "name": user.name, "email": user.profile_email,
        "avatar_url": format!("https://avatars.example/u/{id}"),
    }))
    .into_response()
}

async fn github_emails(State(mock): State<Mock>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&mock, "/user/emails", &headers) else {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"}))).into_response();
    };
    let list: Vec<Value> = user
        .emails
        .iter()
        .map(|(email, primary, verified)| json!({"email": email, "primary": primary, "verified": verified}))
        .collect();
    Json(Value::Array(list)).into_response()
}

async fn userinfo(State(mock): State<Mock>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&mock, "/userinfo", &headers) else {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_token"}))).into_response();
    };
    let mut claims = mock.claims(&user, None);
    let map: &mut Map<String, Value> = claims.as_object_mut().unwrap();
    for k in ["iss", "aud", "iat", "exp"] {
        map.remove(k);
    }
    Json(claims).into_response()
}

async fn jwks() -> Response {
    let public = keys().0.to_public_key();
    let key = json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    });
    Json(json!({"keys": [key]})).into_response()
}

async fn discovery(State(mock): State<Mock>) -> Response {
    Json(json!({
        "issuer": mock.base,
        "authorization_endpoint": mock.url("/authorize"),
        "token_endpoint": mock.url("/token"),
        "userinfo_endpoint": mock.url("/userinfo"),
        "jwks_uri": mock.url("/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}
