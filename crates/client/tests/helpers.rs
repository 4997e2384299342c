//! The SSR helpers against a real chat deployment started in-process on `127.0.0.1:0` (memory storage): token
//! lookup (cookie cache, token endpoint, expired and revoked sessions), authenticated function calls, the
//! Preloaded shape, and the `/api/auth/*` proxy (forwarded headers, `Set-Cookie`, redirects).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authvex::internals::server::RunningServer;
use authvex::{obj, ActionCtx, Value};
use authvex_client::{ClientError, ConvexBetterAuth, SsrConfig};
use base64::Engine;
use http::HeaderMap;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use test_support::deployment::Deployment;

type Json = serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";
const SECRET: &str = "a-test-secret-that-is-long-enough-0123456789";

/// A running chat deployment (plus a `tests:whoami` action), its auth service trusting `web_origin`.
async fn deployment(web_origin: Option<&str>) -> RunningServer {
    let mut app = chat::app();
    app.action("tests:whoami", |ctx: ActionCtx, _: Value| async move {
        Ok(ctx.auth.get_user_identity().map_or(Value::Null, |identity| Value::from(identity.subject.clone())))
    });
    let mut deployment =
        Deployment::new(app).auth_options(json!({"rateLimit": {"enabled": false}})).env("BETTER_AUTH_SECRET", SECRET);
    if let Some(origin) = web_origin {
        deployment = deployment.env("SITE_URL", origin);
    }
    deployment.start().await
}

/// The cookies a sign-up sets: `name=value` pairs by name.
#[derive(Debug, Clone, Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, headers: &HeaderMap) {
        for set in headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()) {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let expired = set.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
            if expired {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn with(mut self, name: &str, value: &str) -> Jar {
        self.0.insert(name.to_owned(), value.to_owned());
        self
    }

    fn without(mut self, name: &str) -> Jar {
        self.0.remove(name);
        self
    }

    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if !self.0.is_empty() {
            let cookie: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
            headers.insert("cookie", cookie.join("; ").parse().unwrap());
        }
        headers
    }
}

const SESSION: &str = "better-auth.session_token";
const JWT: &str = "better-auth.convex_jwt";

/// Signs up (or in) directly against the site origin; returns the cookies set and the user.
async fn sign_up(server: &RunningServer, email: &str) -> (Jar, Json) {
    let site = &server.site_url;
    let response = reqwest::Client::new()
        .post(format!("{site}/api/auth/sign-up/email"))
        .header("origin", site)
        .json(&json!({"email": email, "password": PASSWORD, "name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut jar = Jar::default();
    jar.take(response.headers());
    assert!(jar.get(SESSION).is_some() && jar.get(JWT).is_some(), "{jar:?}");
    (jar, response.json::<Json>().await.unwrap()["user"].clone())
}

async fn post_auth(server: &RunningServer, path: &str, jar: &Jar, body: Json) -> reqwest::Response {
    let site = &server.site_url;
    reqwest::Client::new()
        .post(format!("{site}/api/auth/{path}"))
        .headers(jar.headers())
        .header("origin", site)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn helpers(server: &RunningServer) -> ConvexBetterAuth {
    ConvexBetterAuth::new(SsrConfig::new(&server.api_url, &server.site_url)).unwrap()
}

/// A site URL nothing listens on: a helper that reaches for the network fails.
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// A structurally valid JWT with this payload (the signature is garbage: only the deployment verifies).
fn fake_jwt(payload: Json) -> String {
    let b64 = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!("{}.{}.{}", b64(r#"{"alg":"RS256","kid":"nope"}"#.into()), b64(payload.to_string()), b64("sig".into()))
}

fn exp_of(jwt: &str) -> u64 {
    authvex_client::token::expiry(jwt).unwrap()
}

fn subject(identity: &Value) -> String {
    identity.get("subject").and_then(Value::as_str).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_valid_jwt_cookie_is_reused_without_asking_the_token_endpoint() {
    let server = deployment(None).await;
    let (jar, user) = sign_up(&server, "reuse@example.com").await;
    // The site origin is unreachable: only the cookie can produce the token.
    let auth = ConvexBetterAuth::new(SsrConfig::new(&server.api_url, dead_url().await)).unwrap();
    let request = auth.request(&jar.headers());
    assert_eq!(request.get_token().await.unwrap().as_deref(), jar.get(JWT));
    let identity = request.fetch_auth_query("auth:getCurrentUser", obj! {}).await.unwrap();
    assert_eq!(subject(&identity), user["id"].as_str().unwrap());

    // Without the session cookie the JWT cookie alone still counts while it is valid (the cache's trade-off).
    let only_jwt = jar.clone().without(SESSION);
    assert_eq!(auth.request(&only_jwt.headers()).get_token().await.unwrap().as_deref(), jar.get(JWT));
    server.shutdown().await;
}

#[tokio::test]
async fn an_expired_jwt_cookie_is_never_reused_and_a_fresh_token_is_fetched() {
    let server = deployment(None).await;
    let (jar, user) = sign_up(&server, "expired@example.com").await;
    let jwt = jar.get(JWT).unwrap().to_owned();

    // An expired JWT (by the real clock) in the cookie: the token endpoint is asked with the session cookie.
    let stale = fake_jwt(json!({"sub": "someone", "exp": exp_of(&jwt) - 3600}));
    let request = helpers(&server).request(&jar.clone().with(JWT, &stale).headers());
    let fresh = request.get_token().await.unwrap().expect("a fresh token");
    assert_ne!(fresh, stale);
    assert!(exp_of(&fresh) > exp_of(&stale));
    let identity = request.fetch_auth_query("auth:getCurrentUser", obj! {}).await.unwrap();
    assert_eq!(subject(&identity), user["id"].as_str().unwrap());

    // The real cookie JWT once the web server's clock has passed its expiry (or is within the margin of it):
    // the helper goes to the network (which is down here) instead of reusing it.
    for now in [exp_of(&jwt) + 1, exp_of(&jwt) - 5] {
        let mut config = SsrConfig::new(&server.api_url, dead_url().await);
        config.clock = Arc::new(move || now);
        let auth = ConvexBetterAuth::new(config).unwrap();
        let error = auth.request(&jar.headers()).get_token().await.expect_err("must not reuse");
        assert!(matches!(error, ClientError::Http { .. }), "{error}");
    }
    // Ten minutes in, the cookie is still good.
    let mut config = SsrConfig::new(&server.api_url, dead_url().await);
    let now = exp_of(&jwt) - 300;
    config.clock = Arc::new(move || now);
    let auth = ConvexBetterAuth::new(config).unwrap();
    assert_eq!(auth.request(&jar.headers()).get_token().await.unwrap(), Some(jwt));
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_session_cookie_the_request_is_signed_out() {
    let server = deployment(None).await;
    let auth = helpers(&server);
    let request = auth.request(&HeaderMap::new());
    assert_eq!(request.get_token().await.unwrap(), None);
    assert!(!request.is_authenticated().await.unwrap());
    // Functions still run, anonymously.
    assert_eq!(request.fetch_auth_query("auth:getCurrentUser", obj! {}).await.unwrap(), Value::Null);
    assert_eq!(request.fetch_auth_action("tests:whoami", obj! {}).await.unwrap(), Value::Null);

    // Unrelated cookies, or a forged session cookie: the token endpoint says 401.
    let strangers = Jar::default().with("theme", "dark").with(SESSION, "forged.signature");
    let request = auth.request(&strangers.headers());
    assert_eq!(request.get_token().await.unwrap(), None);
    assert!(!request.is_authenticated().await.unwrap());
    server.shutdown().await;
}

#[tokio::test]
async fn a_signed_out_or_revoked_session_gets_no_token() {
    let server = deployment(None).await;
    let auth = helpers(&server);
    let mut no_cache_config = SsrConfig::new(&server.api_url, &server.site_url);
    no_cache_config.jwt_cache = false;
    let no_cache = ConvexBetterAuth::new(no_cache_config).unwrap();

    // Sign out: the browser's cookies are expired by the response; the old session cookie is dead too.
    let (mut jar, _) = sign_up(&server, "out@example.com").await;
    let old = jar.clone();
    assert!(auth.request(&old.clone().without(JWT).headers()).is_authenticated().await.unwrap());
    let response = post_auth(&server, "sign-out", &jar, json!({})).await;
    assert_eq!(response.status(), 200);
    jar.take(response.headers());
    assert!(jar.get(SESSION).is_none() && jar.get(JWT).is_none(), "sign-out expires both cookies: {jar:?}");
    assert_eq!(auth.request(&jar.headers()).get_token().await.unwrap(), None);
    assert_eq!(auth.request(&old.clone().without(JWT).headers()).get_token().await.unwrap(), None);
    // With the cache off, even the old unexpired JWT cookie is not trusted.
    assert_eq!(no_cache.request(&old.headers()).get_token().await.unwrap(), None);

    // Revoke-sessions from another device: this device's session stops getting tokens.
    let (here, _) = sign_up(&server, "revoked@example.com").await;
    let signed_in = post_auth(
        &server,
        "sign-in/email",
        &Jar::default(),
        json!({"email": "revoked@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(signed_in.status(), 200);
    let mut there = Jar::default();
    there.take(signed_in.headers());
    assert_eq!(post_auth(&server, "revoke-sessions", &there, json!({})).await.status(), 200);
    assert_eq!(auth.request(&here.clone().without(JWT).headers()).get_token().await.unwrap(), None);
    assert_eq!(no_cache.request(&here.headers()).get_token().await.unwrap(), None);
    // The session-checking function refuses the still-unexpired cached JWT.
    let request = auth.request(&here.headers());
    assert_eq!(request.fetch_auth_query("users:me", obj! {}).await.unwrap(), Value::Null);
    server.shutdown().await;
}

#[tokio::test]
async fn mutations_actions_and_errors_run_as_the_requests_user() {
    let server = deployment(None).await;
    let (jar, user) = sign_up(&server, "calls@example.com").await;
    let auth = helpers(&server);
    let request = auth.request(&jar.headers());
    let id = request.fetch_auth_mutation("messages:sendAsMe", obj! { "body" => "hi from ssr" }).await.unwrap();
    assert!(id.as_str().is_some(), "{id:?}");
    let list = request.fetch_auth_query("messages:list", obj! {}).await.unwrap();
    let Value::Array(messages) = list else { panic!("{list:?}") };
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].get("author").and_then(Value::as_str), Some("Ada"));
    assert_eq!(messages[0].get("body").and_then(Value::as_str), Some("hi from ssr"));
    let who = request.fetch_auth_action("tests:whoami", obj! {}).await.unwrap();
    assert_eq!(who.as_str(), user["id"].as_str());

    // A ConvexError comes back with its data; signed out, the mutation refuses.
    let anonymous = auth.request(&HeaderMap::new());
    match anonymous.fetch_auth_mutation("messages:sendAsMe", obj! { "body" => "x" }).await {
        Err(ClientError::Function { data, .. }) => assert_eq!(data, Some(Value::from("Unauthenticated"))),
        other => panic!("{other:?}"),
    }
    match request.fetch_auth_mutation("messages:send", obj! { "author" => "a", "body" => "  " }).await {
        Err(ClientError::Function { data: Some(data), .. }) => {
            assert_eq!(data.get("code").and_then(Value::as_str), Some("EMPTY_BODY"));
        }
        other => panic!("{other:?}"),
    }
    // Arguments failing the validator, and an unknown function: errors with the deployment's message.
    let Err(ClientError::Function { message, .. }) =
        request.fetch_auth_mutation("messages:send", obj! { "author" => 1.0 }).await
    else {
        panic!("expected a validation error")
    };
    assert!(message.contains("ArgumentValidationError"), "{message}");
    let Err(error) = request.fetch_auth_query("nope:missing", obj! {}).await else { panic!("unknown function") };
    assert!(error.to_string().contains("nope:missing"), "{error}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_cached_jwt_the_deployment_refuses_is_replaced_once() {
    let server = deployment(None).await;
    let (jar, user) = sign_up(&server, "retry@example.com").await;
    // Unexpired but not signed by the deployment: the call gets 401, the helper fetches a fresh token.
    let forged = fake_jwt(json!({"sub": "x", "iss": server.site_url, "exp": exp_of(jar.get(JWT).unwrap())}));
    let request = helpers(&server).request(&jar.clone().with(JWT, &forged).headers());
    let identity = request.fetch_auth_query("auth:getCurrentUser", obj! {}).await.unwrap();
    assert_eq!(subject(&identity), user["id"].as_str().unwrap());
    assert_ne!(request.get_token().await.unwrap().as_deref(), Some(forged.as_str()));

    // Without a session to fall back on, the refusal is the answer.
    let request = helpers(&server).request(&Jar::default().with(JWT, &forged).headers());
    let error = request.fetch_auth_query("auth:getCurrentUser", obj! {}).await;
    assert_eq!(error.unwrap(), Value::Null, "a fresh attempt without a session runs anonymously");
    server.shutdown().await;
}

/// `is_authenticated` never takes a JWT cookie's word for it: an unsigned cookie with a far expiry must not pass for a
/// session (a page gated on it would render for anybody), while a real session still counts.
#[tokio::test]
async fn is_authenticated_is_not_fooled_by_a_forged_jwt_cookie() {
    let server = deployment(None).await;
    let (jar, _user) = sign_up(&server, "forged-jwt@example.com").await;
    let forged = fake_jwt(json!({"sub": "x", "iss": server.site_url, "exp": 9_999_999_999u64}));
    let request = helpers(&server).request(&Jar::default().with(JWT, &forged).headers());
    assert!(!request.is_authenticated().await.unwrap(), "a forged JWT cookie without a session");
    let request = helpers(&server).request(&jar.clone().with(JWT, &forged).headers());
    assert!(request.is_authenticated().await.unwrap(), "a real session beside a forged JWT cookie");
    let request = helpers(&server).request(&jar.headers());
    assert!(request.is_authenticated().await.unwrap(), "a real session and its JWT cookie");
    server.shutdown().await;
}

#[tokio::test]
async fn preload_produces_the_preloaded_query_json() {
    let server = deployment(None).await;
    let (jar, user) = sign_up(&server, "preload@example.com").await;
    let request = helpers(&server).request(&jar.headers());
    request.fetch_auth_mutation("messages:sendAsMe", obj! { "body" => "preloaded" }).await.unwrap();
    let preloaded = request.preload_auth_query("messages:byAuthor", obj! { "author" => "Ada" }).await.unwrap();
    let json = serde_json::to_value(&preloaded).unwrap();
    assert_eq!(json["_name"], "messages:byAuthor");
    assert_eq!(json["_argsJSON"], json!({"author": "Ada"}));
    assert_eq!(json["_valueJSON"][0]["body"], "preloaded");
    assert_eq!(json.as_object().unwrap().len(), 3, "{json}");
    let Value::Array(items) = preloaded.value().unwrap() else { panic!() };
    assert_eq!(items.len(), 1);

    let me = request.preload_auth_query("users:me", obj! {}).await.unwrap();
    assert_eq!(me.value_json["email"], "preload@example.com");
    assert_eq!(me.value_json["_id"].as_str(), user["id"].as_str());
    assert_eq!(me.args_json, json!({}));
    assert!(!me.to_script_json().contains('<'));
    server.shutdown().await;
}

#[test]
fn bad_urls_are_clear_errors() {
    for (api, site, needle) in [
        ("127.0.0.1:3210", "http://127.0.0.1:3211", "convex_url"),
        ("ftp://h", "http://127.0.0.1:3211", "scheme"),
        ("http://127.0.0.1:3210", "http://127.0.0.1:3211/api/auth", "without a path"),
        ("http://127.0.0.1:3210", "https://happy-animal-123.convex.cloud", ".convex.site"),
        ("http://127.0.0.1:3210", "", "convex_site_url"),
    ] {
        let error = ConvexBetterAuth::new(SsrConfig::new(api, site)).expect_err(site);
        assert!(error.to_string().contains(needle), "{error}");
    }
    assert!(ConvexBetterAuth::new(SsrConfig::new("http://127.0.0.1:3210/", "https://x.convex.site")).is_ok());
}

/// A web app (just the proxy) on `listener`, served with connection info.
fn serve_proxy(auth: &ConvexBetterAuth, listener: tokio::net::TcpListener) {
    let app: axum::Router = auth.proxy_router();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test]
async fn the_proxy_forwards_path_body_and_headers_and_relays_redirects_and_cookies_untouched() {
    // An upstream that records what it receives and answers with a redirect setting two cookies.
    let seen = Arc::new(tokio::sync::Mutex::new(Vec::<(String, HeaderMap, String)>::new()));
    let recorder = seen.clone();
    let upstream = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let recorder = recorder.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let uri = parts.uri.to_string();
            recorder.lock().await.push((uri, parts.headers, String::from_utf8(body.to_vec()).unwrap()));
            axum::response::Response::builder()
                .status(302)
                .header("location", "/dashboard?from=upstream")
                .header("set-cookie", "a=1; Path=/; HttpOnly")
                .header("set-cookie", "b=2; Path=/; Max-Age=60")
                .body(axum::body::Body::from("redirecting"))
                .unwrap()
        }
    });
    let upstream_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}", upstream_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(upstream_listener, upstream).await.unwrap() });

    let auth = ConvexBetterAuth::new(SsrConfig::new("http://127.0.0.1:1", &upstream_url)).unwrap();
    let web = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web_addr = web.local_addr().unwrap();
    serve_proxy(&auth, web);

    let response = no_redirects()
        .post(format!("http://{web_addr}/api/auth/sign-in/social?x=1&y=%20"))
        .header("cookie", "better-auth.session_token=abc")
        .header("origin", format!("http://{web_addr}"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-host", "evil.example")
        .header("content-type", "application/json")
        .body(r#"{"provider":"github"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/dashboard?from=upstream");
    let cookies: Vec<&str> = response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(cookies, ["a=1; Path=/; HttpOnly", "b=2; Path=/; Max-Age=60"]);
    assert_eq!(response.text().await.unwrap(), "redirecting");

    let recorded = seen.lock().await.clone();
    let (uri, headers, body) = &recorded[0];
    assert_eq!(uri, "/api/auth/sign-in/social?x=1&y=%20");
    assert_eq!(body, r#"{"provider":"github"}"#);
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1", "the peer address, not the client's claim");
    assert_eq!(headers["x-forwarded-host"], web_addr.to_string().as_str());
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["host"], upstream_url.trim_start_matches("http://"));
    assert_eq!(headers["cookie"], "better-auth.session_token=abc");
    assert_eq!(headers["origin"], format!("http://{web_addr}").as_str());
    assert_eq!(headers["content-type"], "application/json");

    // Paths outside /api/auth are not the proxy's; a dead upstream is a 502, not a panic.
    let other = no_redirects().get(format!("http://{web_addr}/api/query")).send().await.unwrap();
    assert_eq!(other.status(), 404);
    // Nor is a path that climbs out of /api/auth with dot segments (sent raw: HTTP clients normalise them away).
    for path in ["/api/auth/../../secret", "/api/auth/%2e%2e/%2E%2e/secret"] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut raw = tokio::net::TcpStream::connect(web_addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {web_addr}\r\nConnection: close\r\n\r\n");
        raw.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        raw.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
    }
    assert_eq!(seen.lock().await.len(), 1, "nothing with dot segments reached the upstream");
    let dead = ConvexBetterAuth::new(SsrConfig::new("http://127.0.0.1:1", dead_url().await)).unwrap();
    let web = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = web.local_addr().unwrap();
    serve_proxy(&dead, web);
    let response = no_redirects().get(format!("http://{dead_addr}/api/auth/get-session")).send().await.unwrap();
    assert_eq!(response.status(), 502);
}

#[tokio::test]
async fn through_the_proxy_the_deployment_sets_the_web_apps_cookies_and_redirects() {
    let web = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web_origin = format!("http://{}", web.local_addr().unwrap());
    let server = deployment(Some(&web_origin)).await;
    let auth = helpers(&server);
    serve_proxy(&auth, web);
    let client = no_redirects();

    // Sign-up through the web app's origin: the session and JWT cookies come back through the proxy.
    let response = client
        .post(format!("{web_origin}/api/auth/sign-up/email"))
        .header("origin", &web_origin)
        .json(&json!({"email": "proxy@example.com", "password": PASSWORD, "name": "Pat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut jar = Jar::default();
    jar.take(response.headers());
    assert!(jar.get(SESSION).is_some() && jar.get(JWT).is_some(), "{jar:?}");

    // Those cookies are what the SSR helpers read on the next page.
    let request = auth.request(&jar.headers());
    let identity = request.fetch_auth_query("auth:getCurrentUser", obj! {}).await.unwrap();
    assert_eq!(identity.get("email").and_then(Value::as_str), Some("proxy@example.com"));
    let session = client.get(format!("{web_origin}/api/auth/get-session")).headers(jar.headers()).send().await.unwrap();
    assert_eq!(session.json::<Json>().await.unwrap()["user"]["email"], "proxy@example.com");

    // A redirect of the deployment reaches the browser as a redirect (not followed by the proxy).
    let response = client
        .get(format!("{web_origin}/api/auth/reset-password/not-a-token?callbackURL=/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.ends_with("/reset?error=INVALID_TOKEN"), "{location}");

    // A foreign origin is refused by the deployment's CSRF check, whatever the proxy forwards.
    let response = client
        .post(format!("{web_origin}/api/auth/sign-out"))
        .headers(jar.headers())
        .header("origin", "http://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    server.shutdown().await;
}
