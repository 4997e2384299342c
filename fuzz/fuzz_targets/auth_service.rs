//! The auth service's request pipeline and JSON bodies (`auth::AuthService::handle`): a raw request (see
//! `RawRequest`; `$SESSION` anywhere is replaced by the signed session cookie of a signed-in user, `$TOKEN` by
//! that user's raw session token) on a fresh in-memory deployment holding one user with a password, a session
//! and a convex-plugin signing key. Rate limiting is on: an `x-fuzz-repeat: N` header sends the request N times
//! (at most 6), enough to reach the limits (3 sign-ins per 10 s).
//!
//! Nothing panics and nothing answers 5xx; every error body is Better Auth's `{code?, message}` JSON.
#![no_main]

use auth::adapter::{self, FindOptions};
use auth::config::AuthConfig;
use auth::cookies::encode_uri_component;
use auth::crypto::{self, Secret};
use auth::email::MemoryTransport;
use auth::jwt::JwtConfig;
use auth::schema::Model;
use auth::social::{OAuthHttp, OutboundRequest, OutboundResponse};
use auth::{AuthDeps, AuthRequest, AuthService};
use authvex_fuzz::{block_on, RawRequest};
use database::{Database, DatabaseConfig, ManualClock, SeededEntropy};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};
use value::{obj, Object, Value};

const SECRET: &str = "a-secret-of-at-least-32-characters-long";
const BASE_URL: &str = "http://localhost:3000";
const PASSWORD: &str = "correct horse battery staple";
const SESSION_TOKEN: &str = "FuzzSessionToken0123456789abcdef";
/// 2030-01-01T00:00:00Z.
const START_NANOS: u64 = 1_893_456_000_000_000_000;
const NOW_MS: f64 = (START_NANOS / 1_000_000) as f64;

/// OAuth providers are out of reach: every outbound request fails as an unreachable host would.
struct Offline;

#[async_trait::async_trait]
impl OAuthHttp for Offline {
    async fn send(&self, _request: OutboundRequest) -> Result<OutboundResponse, String> {
        Err("offline".into())
    }
}

fn config() -> AuthConfig {
    let mut config = AuthConfig::new(BASE_URL, Secret::new(SECRET.into()));
    config.jwt = Some(JwtConfig::new("http://localhost:3211"));
    config.trusted_origins = vec!["https://*.example.com".into(), "myapp://".into()];
    config
}

async fn service() -> AuthService {
    let clock = ManualClock::new(START_NANOS);
    let db_config =
        DatabaseConfig::new(auth::schema::auth_schema(), Arc::new(clock.clone()), Arc::new(SeededEntropy::new(1)));
    let db = match Database::open(Arc::new(storage::MemoryPersistence::new()), db_config).await {
        Ok(db) => db,
        Err(e) => panic!("cannot open the in-memory database: {e}"),
    };
    let deps = AuthDeps {
        db,
        clock: Arc::new(clock),
        entropy: Arc::new(SeededEntropy::new(7)),
        mailer: Arc::new(MemoryTransport::default()),
        rate_limit_store: Arc::new(auth::rate_limit::MemoryStore::default()),
        hash_permits: 1,
        http: Arc::new(Offline),
    };
    match AuthService::new(config(), deps) {
        Ok(service) => service,
        Err(e) => panic!("invalid auth config: {e}"),
    }
}

/// What every input's deployment starts with, made once: the password hash (scrypt is slow on purpose) and a
/// signing key row (RSA key generation is slower).
struct Template {
    password_hash: String,
    jwks_row: Object,
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let password_hash = crypto::hash_password(PASSWORD, &SeededEntropy::new(5));
        let jwks_row = block_on(async {
            let svc = service().await;
            match svc.jwks().await {
                Some(Ok(_)) => {}
                other => panic!("cannot create a signing key: {other:?}"),
            }
            let mut txn = svc.database().begin(true).await.unwrap_or_else(|e| panic!("{e}"));
            let rows = adapter::find_many(&mut txn, Model::Jwks, &[], FindOptions::default())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let row = rows.into_iter().next().unwrap_or_else(|| panic!("no jwks row"));
            row.into_iter().filter(|(k, _)| !k.starts_with('_') && k != "id").collect()
        });
        Template { password_hash, jwks_row }
    })
}

async fn seeded_service() -> AuthService {
    let template = template();
    let svc = service().await;
    let db = svc.database().clone();
    let mut txn = db.begin(false).await.unwrap_or_else(|e| panic!("{e}"));
    let user = obj! {
        "name" => "Ada", "email" => "ada@example.com", "emailVerified" => true,
        "createdAt" => NOW_MS, "updatedAt" => NOW_MS,
    };
    let Value::Object(user) = user else { unreachable!() };
    let user = adapter::create(&mut txn, Model::User, user).await.unwrap_or_else(|e| panic!("{e}"));
    let user_id = user.get("_id").and_then(Value::as_str).unwrap_or_else(|| panic!("no user id")).to_string();
    let account = obj! {
        "accountId" => user_id.as_str(), "providerId" => "credential", "userId" => user_id.as_str(),
        "password" => template.password_hash.as_str(), "createdAt" => NOW_MS, "updatedAt" => NOW_MS,
    };
    let session = obj! {
        "token" => SESSION_TOKEN, "userId" => user_id.as_str(), "expiresAt" => NOW_MS + 7.0 * 86_400_000.0,
        "createdAt" => NOW_MS, "updatedAt" => NOW_MS, "ipAddress" => "127.0.0.1", "userAgent" => "fuzz",
    };
    for (model, fields) in [(Model::Account, account), (Model::Session, session)] {
        let Value::Object(fields) = fields else { unreachable!() };
        adapter::create(&mut txn, model, fields).await.unwrap_or_else(|e| panic!("{e}"));
    }
    adapter::create(&mut txn, Model::Jwks, template.jwks_row.clone()).await.unwrap_or_else(|e| panic!("{e}"));
    db.commit(txn).await.unwrap_or_else(|e| panic!("{e}"));
    svc
}

fn replace(data: &[u8], placeholder: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(at) = rest.windows(placeholder.len()).position(|w| w == placeholder) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + placeholder.len()..];
    }
    out.extend_from_slice(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    // Made outside the runtime: making it runs the runtime itself.
    let _ = template();
    let secret = Secret::new(SECRET.into());
    let cookie = encode_uri_component(&crypto::sign_cookie_value(SESSION_TOKEN, &secret));
    let data = replace(data, b"$SESSION", cookie.as_bytes());
    let data = replace(&data, b"$TOKEN", SESSION_TOKEN.as_bytes());
    let Some(raw) = RawRequest::parse(&data) else { return };
    let request = AuthRequest {
        method: raw.method.clone(),
        path: raw.path.clone(),
        query: raw.query.clone(),
        headers: raw.headers.clone(),
        body: bytes::Bytes::copy_from_slice(raw.body),
        peer: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    let repeat = raw.headers.get("x-fuzz-repeat").and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let repeat = repeat.unwrap_or(1).clamp(1, 6);
    let responses = block_on(async {
        let svc = seeded_service().await;
        let mut responses = Vec::with_capacity(repeat);
        for _ in 0..repeat {
            responses.push(svc.handle(request.clone()).await);
        }
        responses
    });
    for response in responses {
        check(&raw, &response);
    }
});

fn check(raw: &RawRequest<'_>, response: &auth::AuthResponse) {
    let status = response.status();
    let body = response.body();
    assert!(!status.is_server_error(), "{status} for {} {}: {}", raw.method, raw.path, String::from_utf8_lossy(body));
    if status.is_client_error() && !body.is_empty() {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(json) => assert!(json.get("message").is_some() || json.get("error").is_some(), "{status}: {json}"),
            Err(e) => panic!("a {status} answer that is not JSON ({e}): {}", String::from_utf8_lossy(body)),
        }
    }
}
