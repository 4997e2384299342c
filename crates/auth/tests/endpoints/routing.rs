//! `/ok`, `/error`, exact routing, body media types and sizes.

use crate::harness::*;
use http::Method;
use serde_json::json;

#[tokio::test]
async fn ok_answers_ok() {
    let env = Env::new().await;
    let resp = env.send(Req::get("/ok")).await;
    check(&resp, 200, json!({"ok": true}));
    assert_eq!(resp.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn error_page_shows_a_sanitised_code_and_an_escaped_description() {
    let env = Env::new().await;
    let resp = env
        .send(Req::get(
            "/error?error=state_mismatch&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E%20%26%20more",
        ))
        .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/html; charset=utf-8"));
    let html = resp.text();
    assert!(html.contains("state_mismatch"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"), "{html}");
    assert!(!html.contains("<script>"), "{html}");

    for query in ["?error=%3Cb%3E", "?error=a%20b", "", "?error="] {
        let html = env.send(Req::get(&format!("/error{query}"))).await.text();
        assert!(html.contains("UNKNOWN") && !html.contains("<b>"), "{query}: {html}");
    }
}

#[tokio::test]
async fn unrouted_requests_are_empty_404s() {
    let env = Env::new().await;
    let requests = [
        Req::get("/get-session/"),
        Req::get("//get-session"),
        Req::get("/sign-in/email"),
        Req::get("/does-not-exist"),
        Req::get("/reset-password/"),
        Req::get("/reset-password/a/b?callbackURL=%2F"),
        Req::post("/forget-password", json!({"email": "alice@example.com"})),
        // (`POST /get-session` is routed since Better Auth 1.7.)
        Req::new(Method::PUT, "/get-session"),
        Req::post("/sign-up/email/", json!({})),
        Req::new(Method::HEAD, "/ok"),
        Req::new(Method::PUT, "/update-user"),
        Req::new(Method::DELETE, "/delete-user"),
        Req::get("/ok").full_path("/get-session"),
        Req::get("/ok").full_path("/api/authok"),
        Req::get("/ok").full_path("/api/auth"),
    ];
    for req in requests {
        let label = format!("{} {}", req.method, req.path);
        let resp = env.send(req).await;
        assert_eq!((resp.status, resp.text()), (404, String::new()), "{label}");
        assert!(resp.header("content-type").is_none(), "{label}");
    }
}

#[tokio::test]
async fn bodies_must_be_json() {
    let env = Env::new().await;
    let body = r#"{"email":"bob@example.com","password":"correct horse battery staple"}"#;
    let resp = env.send(Req::raw_body(Method::POST, "/sign-in/email", "text/plain", body)).await;
    check_error(
        &resp,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "Content-Type \"text/plain\" is not allowed. Allowed types: application/json",
    );
    let resp = env
        .send(Req::raw_body(
            Method::POST,
            "/sign-in/email",
            "application/x-www-form-urlencoded",
            "email=a%40b.co&password=x",
        ))
        .await;
    check_error(
        &resp,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "Content-Type \"application/x-www-form-urlencoded\" is not allowed. Allowed types: application/json",
    );
    let mut req = Req::post_empty("/sign-in/email");
    req.body = body.into();
    check_error(
        &env.send(req).await,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "Content-Type is required. Allowed types: application/json",
    );

    // Malformed JSON is the client's mistake, not a server failure.
    for bad in ["{not json", "{\"email\":", "\u{0}"] {
        let resp = env.send(Req::raw_body(Method::POST, "/sign-in/email", "application/json", bad)).await;
        check_error(&resp, 400, "BAD_REQUEST", "Invalid JSON in request body");
    }

    // Parameters and case of the media type do not matter.
    let resp = env
        .send(Req::raw_body(Method::POST, "/sign-in/email", "Application/JSON; charset=utf-8", r#"{"email":"x"}"#))
        .await;
    check_error(&resp, 400, "VALIDATION_ERROR", "[body.password] Invalid input: expected string, received undefined");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let env = Env::new().await;
    let name = "x".repeat(auth::MAX_BODY_BYTES);
    let body = json!({"name": name, "email": "big@example.com", "password": PASSWORD});
    let resp = env.send(Req::post("/sign-up/email", body)).await;
    check_error(&resp, 413, "PAYLOAD_TOO_LARGE", "Request body is too large");
    // Exactly at the limit is read (and then judged on its content).
    let padding = auth::MAX_BODY_BYTES - r#"{"email":"x","p":""}"#.len();
    let at_limit = format!(r#"{{"email":"x","p":"{}"}}"#, "y".repeat(padding));
    assert_eq!(at_limit.len(), auth::MAX_BODY_BYTES);
    let resp = env.send(Req::raw_body(Method::POST, "/sign-in/email", "application/json", at_limit)).await;
    check_error(&resp, 400, "VALIDATION_ERROR", "[body.password] Invalid input: expected string, received undefined");
    assert_eq!(env.count(auth::schema::Model::User, &[]).await, 0);
}
