//! The test harness: an auth service on in-memory storage with a manual clock, seeded entropy and an in-memory
//! outbox, and a small "browser" that keeps a cookie jar, sends `Origin` on state-changing requests and returns
//! what the service answered (status, headers, JSON, `Set-Cookie` lines).

use auth::adapter::{self, Where};
use auth::config::AuthConfig;
use auth::cookies::encode_uri_component;
use auth::crypto::{self, Secret};
use auth::email::{Email, EmailTransport, MemoryTransport};
use auth::models::Row;
use auth::schema::Model;
use auth::{AuthDeps, AuthRequest, AuthService};
use bytes::Bytes;
use database::{Database, DatabaseConfig, ManualClock, SeededEntropy};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use value::Object;

pub const SECRET: &str = "a-secret-of-at-least-32-characters-long";
pub const BASE_URL: &str = "http://localhost:3000";
pub const AUTH_BASE: &str = "http://localhost:3000/api/auth";
/// The site's own origin: what a browser on the app sends.
pub const ORIGIN: &str = "http://localhost:3000";
pub const PASSWORD: &str = "correct horse battery staple";
/// 2030-01-01T00:00:00Z.
pub const START_NANOS: u64 = 1_893_456_000_000_000_000;
pub const START_ISO: &str = "2030-01-01T00:00:00.000Z";
pub const SECS: u64 = 1_000_000_000;
pub const DAY: u64 = 24 * 3600;
pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The three deletions of sign-out, delete-user and a dead session, in Better Auth's order.
pub const DELETION_COOKIES: [&str; 3] = [
    "better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    "better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
    "better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
];

pub fn secret() -> Secret {
    Secret::new(SECRET.into())
}

/// The wire value of the signed session cookie for `token` (also what `set-auth-token` carries).
pub fn signed(token: &str) -> String {
    encode_uri_component(&crypto::sign_cookie_value(token, &secret()))
}

/// The exact `Set-Cookie` line of a session cookie (`None`: browser-session cookie, no `Max-Age`).
pub fn session_cookie(token: &str, max_age: Option<u64>) -> String {
    let max_age = max_age.map(|m| format!("; Max-Age={m}")).unwrap_or_default();
    format!("better-auth.session_token={}{max_age}; Path=/; HttpOnly; SameSite=Lax", signed(token))
}

/// The exact `Set-Cookie` line of the `dont_remember` cookie.
pub fn dont_remember_cookie() -> String {
    format!("better-auth.dont_remember={}; Path=/; HttpOnly; SameSite=Lax", signed("true"))
}

/// `2030-01-01T00:00:00.000Z` plus `secs`.
pub fn iso_after(secs: u64) -> String {
    auth::dates::iso_millis(((START_NANOS / 1_000_000) + secs * 1000) as f64)
}

/// One test deployment.
pub struct Env {
    pub svc: AuthService,
    pub clock: ManualClock,
    pub mail: Arc<MemoryTransport>,
}

/// How to build an [`Env`] beyond the configuration.
pub struct Setup {
    pub mailer: Option<Arc<dyn EmailTransport>>,
    pub hash_permits: usize,
    pub seed: u64,
    /// The app's database hooks and triggers.
    pub triggers: auth::triggers::Triggers,
    /// App tables beside the auth component's.
    pub app_schema: Option<database::Schema>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup { mailer: None, hash_permits: 4, seed: 7, triggers: Default::default(), app_schema: None }
    }
}

impl Env {
    /// The default configuration, rate limiting off (the rate-limit tests turn it on).
    pub async fn new() -> Env {
        Env::with(|_| {}).await
    }

    pub async fn with(configure: impl FnOnce(&mut AuthConfig)) -> Env {
        Env::build(configure, Setup::default()).await
    }

    pub async fn build(configure: impl FnOnce(&mut AuthConfig), setup: Setup) -> Env {
        let clock = ManualClock::new(START_NANOS);
        let entropy = Arc::new(SeededEntropy::new(setup.seed));
        let mut config = AuthConfig::new(BASE_URL, secret());
        config.rate_limit.enabled = false;
        configure(&mut config);
        let mut schema =
            auth::schema::auth_schema_for(&config.user.additional_fields, &config.session.additional_fields);
        if let Some(app) = setup.app_schema {
            schema = schema.merge(app);
        }
        let db_config = DatabaseConfig::new(schema, Arc::new(clock.clone()), Arc::new(SeededEntropy::new(1)));
        let db = Database::open(test_support::test_persistence().await, db_config).await.unwrap();
        let mail = Arc::new(MemoryTransport::default());
        let deps = AuthDeps {
            db,
            clock: Arc::new(clock.clone()),
            entropy,
            mailer: setup.mailer.unwrap_or_else(|| mail.clone()),
            rate_limit_store: Arc::new(auth::rate_limit::MemoryStore::default()),
            hash_permits: setup.hash_permits,
            http: Arc::new(server::auth_transports::ReqwestHttp::new().unwrap()),
        };
        let svc = AuthService::new(config, deps).unwrap().with_triggers(setup.triggers).unwrap();
        Env { svc, clock, mail }
    }

    pub fn browser(&self) -> Browser<'_> {
        Browser { env: self, jar: Vec::new(), origin: Some(ORIGIN.to_string()), peer: LOOPBACK }
    }

    /// Sends a request as is: no cookies, no `Origin` unless the request has them.
    pub async fn send(&self, req: Req) -> Resp {
        Resp::from(self.svc.handle(req.into_request()).await)
    }

    pub fn clock_nanos(&self) -> u64 {
        database::Clock::now(&self.clock).as_nanos()
    }

    pub fn advance_secs(&self, secs: u64) {
        self.clock.advance(secs * SECS);
    }

    /// The mails sent so far, emptying the outbox.
    pub fn take_mails(&self) -> Vec<Email> {
        std::mem::take(&mut *self.mail.sent.lock())
    }

    pub async fn count(&self, model: Model, clauses: &[Where]) -> usize {
        let db = self.svc.database();
        let mut txn = db.begin(true).await.unwrap();
        adapter::count(&mut txn, model, clauses).await.unwrap()
    }

    pub async fn rows<R: Row>(&self, clauses: &[Where]) -> Vec<R> {
        let db = self.svc.database();
        let mut txn = db.begin(true).await.unwrap();
        adapter::find_many_rows::<R>(&mut txn, clauses, adapter::FindOptions::default()).await.unwrap()
    }

    pub async fn row<R: Row>(&self, clauses: &[Where]) -> Option<R> {
        self.rows::<R>(clauses).await.into_iter().next()
    }

    /// Inserts a row directly (setting up states the endpoints cannot reach, e.g. a user without a password).
    pub async fn insert(&self, model: Model, fields: Object) -> String {
        let db = self.svc.database();
        let mut txn = db.begin(false).await.unwrap();
        let doc = adapter::create(&mut txn, model, fields).await.unwrap();
        db.commit(txn).await.unwrap();
        doc.get("_id").and_then(value::Value::as_str).unwrap().to_string()
    }

    /// Sets fields of the rows matching `clauses`.
    pub async fn update(&self, model: Model, clauses: &[Where], fields: Object) -> usize {
        let db = self.svc.database();
        let mut txn = db.begin(false).await.unwrap();
        let n = adapter::update_many(&mut txn, model, clauses, fields).await.unwrap();
        db.commit(txn).await.unwrap();
        n
    }

    /// A user who signed up through a provider: a user row and a `github` account (with an access token), no
    /// password. Returns the user id.
    pub async fn insert_oauth_user(&self, email: &str) -> String {
        let now = (START_NANOS / 1_000_000) as f64;
        let user = value::obj! {
            "name" => "Octo", "email" => email, "emailVerified" => true, "createdAt" => now, "updatedAt" => now,
        };
        let user_id = self.insert(Model::User, object(user)).await;
        self.insert_github_account(&user_id).await;
        user_id
    }

    /// Links a `github` account (with tokens and scopes) to a user.
    pub async fn insert_github_account(&self, user_id: &str) -> String {
        let now = (START_NANOS / 1_000_000) as f64;
        let account = value::obj! {
            "accountId" => "4242", "providerId" => "github", "userId" => user_id, "accessToken" => "gho_access_secret",
            "refreshToken" => "ghr_refresh_secret", "idToken" => "id_token_secret", "scope" => "read:user,user:email",
            "createdAt" => now, "updatedAt" => now,
        };
        self.insert(Model::Account, object(account)).await
    }

    /// Signs a new user up in a fresh browser; returns the browser (signed in) and the user object.
    pub async fn signed_up(&self, name: &str, email: &str) -> (Browser<'_>, Value) {
        let mut browser = self.browser();
        let user = browser.sign_up(name, email, PASSWORD).await;
        (browser, user)
    }
}

fn object(value: value::Value) -> Object {
    match value {
        value::Value::Object(object) => object,
        other => panic!("not an object: {other:?}"),
    }
}

/// One request, its path relative to the base path (`/sign-in/email?x=1`).
#[derive(Debug, Clone)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: Option<IpAddr>,
}

impl Req {
    pub fn new(method: Method, path_and_query: &str) -> Req {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q.to_string())),
            None => (path_and_query, None),
        };
        Req {
            method,
            path: format!("/api/auth{path}"),
            query,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            peer: Some(LOOPBACK),
        }
    }

    pub fn get(path_and_query: &str) -> Req {
        Req::new(Method::GET, path_and_query)
    }

    /// A POST with a JSON body, as the client sends it.
    pub fn post(path: &str, body: Value) -> Req {
        Req::raw_body(Method::POST, path, "application/json", body.to_string())
    }

    /// A POST without a body.
    pub fn post_empty(path: &str) -> Req {
        Req::new(Method::POST, path)
    }

    pub fn raw_body(method: Method, path: &str, content_type: &str, body: impl Into<Bytes>) -> Req {
        let mut req = Req::new(method, path);
        req.body = body.into();
        req.header("content-type", content_type)
    }

    /// Replaces the full path (including the base path).
    pub fn full_path(mut self, path: &str) -> Req {
        self.path = path.to_string();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        self
    }

    pub fn peer(mut self, peer: Option<IpAddr>) -> Req {
        self.peer = peer;
        self
    }

    pub fn into_request(self) -> AuthRequest {
        AuthRequest {
            method: self.method,
            path: self.path,
            query: self.query,
            headers: self.headers,
            body: self.body,
            peer: self.peer,
        }
    }
}

/// What the service answered.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl From<auth::AuthResponse> for Resp {
    fn from(response: auth::AuthResponse) -> Self {
        let (parts, body) = response.into_parts();
        Resp { status: parts.status.as_u16(), headers: parts.headers, body }
    }
}

impl Resp {
    /// The body as JSON; an empty body is an error (use [`Resp::text`]).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?} (status {})", self.text(), self.status))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect()
    }

    /// The JSON body with generated ids and tokens replaced by `<id>` and `<token>` (only when they have the
    /// generated shape: 32 alphanumerics), so whole bodies can be compared.
    #[track_caller]
    pub fn shape(&self) -> Value {
        redact(self.json())
    }
}

fn is_generated(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match (&*k, &v) {
                        ("id" | "userId" | "accountId", Value::String(s)) if is_generated(s) => json!("<id>"),
                        ("token", Value::String(s)) if is_generated(s) => json!("<token>"),
                        _ => redact(v),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// Asserts the status and the whole JSON body.
#[track_caller]
pub fn check(resp: &Resp, status: u16, body: Value) {
    assert_eq!((resp.status, resp.json()), (status, body), "set-cookie: {:?}", resp.set_cookies());
}

/// Asserts the status and the whole JSON body, generated ids and tokens redacted (see [`Resp::shape`]).
#[track_caller]
pub fn check_shape(resp: &Resp, status: u16, body: Value) {
    assert_eq!((resp.status, resp.shape()), (status, body), "set-cookie: {:?}", resp.set_cookies());
}

/// Asserts a Better Auth error: status and `{code, message}`.
#[track_caller]
pub fn check_error(resp: &Resp, status: u16, code: &str, message: &str) {
    check(resp, status, json!({"code": code, "message": message}));
}

/// Asserts a bodyless answer (the session middleware's 401, disabled features, unrouted paths).
#[track_caller]
pub fn check_empty(resp: &Resp, status: u16) {
    assert_eq!((resp.status, resp.text()), (status, String::new()));
}

/// The `token` of every session in a list.
pub fn tokens(sessions: &Value) -> Vec<String> {
    sessions.as_array().unwrap().iter().map(|s| s["token"].as_str().unwrap().to_string()).collect()
}

/// The user object of a fresh sign-up at the start time.
pub fn new_user(name: &str, email: &str) -> Value {
    json!({
        "id": "<id>", "name": name, "email": email, "emailVerified": false, "image": null,
        "createdAt": START_ISO, "updatedAt": START_ISO,
    })
}

/// A browser on the site: a cookie jar, `Origin` on every state-changing request.
pub struct Browser<'e> {
    pub env: &'e Env,
    /// Cookies by name, in the order they were first set.
    pub jar: Vec<(String, String)>,
    /// Sent on everything but GET/HEAD; `None` sends no `Origin`.
    pub origin: Option<String>,
    pub peer: IpAddr,
}

impl Browser<'_> {
    pub async fn get(&mut self, path_and_query: &str) -> Resp {
        self.send(Req::get(path_and_query)).await
    }

    pub async fn post(&mut self, path: &str, body: Value) -> Resp {
        self.send(Req::post(path, body)).await
    }

    /// Sends with the jar's cookies and the browser's `Origin` (unless the request sets them), then stores the
    /// cookies the answer sets.
    pub async fn send(&mut self, mut req: Req) -> Resp {
        if !self.jar.is_empty() && !req.headers.contains_key("cookie") {
            let header = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            req = req.header("cookie", &header);
        }
        let safe = req.method == Method::GET || req.method == Method::HEAD;
        if let (false, Some(origin), false) = (safe, &self.origin, req.headers.contains_key("origin")) {
            req = req.header("origin", &origin.clone());
        }
        req.peer = Some(self.peer);
        let resp = self.env.send(req).await;
        for line in resp.set_cookies() {
            self.store(&line);
        }
        resp
    }

    fn store(&mut self, line: &str) {
        let pair = line.split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        let deleted = line.split(';').any(|attr| attr.trim() == "Max-Age=0");
        self.jar.retain(|(k, _)| k != name);
        if !deleted {
            self.jar.push((name.to_string(), value.to_string()));
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.store(&format!("{name}={value}"));
    }

    /// The bare session token the jar's session cookie carries.
    pub fn token(&self) -> String {
        let signed = self.cookie("better-auth.session_token").expect("no session cookie");
        let decoded = auth::cookies::decode_uri_component(signed).unwrap();
        decoded.rsplit_once('.').unwrap().0.to_string()
    }

    /// Signs up (remembered) and checks the answer; returns the user object.
    pub async fn sign_up(&mut self, name: &str, email: &str, password: &str) -> Value {
        let resp = self.post("/sign-up/email", json!({"name": name, "email": email, "password": password})).await;
        assert_eq!(resp.status, 200, "sign-up of {email}: {}", resp.text());
        resp.json()["user"].clone()
    }

    /// Signs in (remembered) and checks the answer; returns the session token.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> String {
        let resp = self.post("/sign-in/email", json!({"email": email, "password": password})).await;
        assert_eq!(resp.status, 200, "sign-in of {email}: {}", resp.text());
        resp.json()["token"].as_str().unwrap().to_string()
    }

    /// `GET /get-session` without refreshing; the session object's JSON or `null`.
    pub async fn session(&mut self) -> Value {
        let resp = self.get("/get-session?disableRefresh=true").await;
        assert_eq!(resp.status, 200);
        resp.json()
    }
}
