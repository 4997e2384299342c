//! Better Auth 1.7's session endpoints: `POST /get-session`, `POST /update-session`, `POST /verify-password`.

use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn get_session_answers_post_like_get() {
    let env = Env::new().await;
    let (mut alice, user) = env.signed_up("Alice", "alice@example.com").await;
    let via_get = alice.get("/get-session").await;
    let via_post = alice.post("/get-session", json!({})).await;
    assert_eq!(via_post.status, 200);
    assert_eq!(via_post.json(), via_get.json());
    assert_eq!(via_post.json()["user"]["id"], user["id"]);
    // Signed out: null, as GET.
    let resp = env.browser().post("/get-session", json!({})).await;
    check(&resp, 200, json!(null));
    // Other methods are still 404s.
    check_empty(&env.send(Req::new(http::Method::PUT, "/get-session")).await, 404);
}

#[tokio::test]
async fn verify_password_checks_the_session_users_password() {
    let env = Env::new().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    check(&alice.post("/verify-password", json!({"password": PASSWORD})).await, 200, json!({"status": true}));
    let resp = alice.post("/verify-password", json!({"password": "not the password"})).await;
    check(&resp, 400, json!({"code": "INVALID_PASSWORD", "message": "Invalid password"}));
    let resp = alice.post("/verify-password", json!({})).await;
    assert_eq!((resp.status, resp.json()["code"].clone()), (400, json!("VALIDATION_ERROR")));
    // No session: the session middleware's bodyless 401.
    check_empty(&env.send(Req::post("/verify-password", json!({"password": PASSWORD}))).await, 401);
}

#[tokio::test]
async fn update_session_sets_the_sessions_additional_fields() {
    let env = Env::with(|c| {
        c.session.additional_fields = serde_json::from_value(json!({
            "theme": {"type": "string"},
            "device": {"type": "string", "defaultValue": "web", "input": false},
        }))
        .unwrap();
    })
    .await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let token = alice.token();
    let resp = alice.post("/update-session", json!({"theme": "dark"})).await;
    assert_eq!(resp.status, 200, "{}", resp.json());
    assert_eq!(resp.json()["session"]["theme"], json!("dark"));
    assert_eq!(resp.json()["session"]["token"], json!(token));
    assert_eq!(resp.set_cookies(), [session_cookie(&token, Some(604800))]);
    assert_eq!(alice.session().await["session"]["theme"], json!("dark"));

    let resp = alice.post("/update-session", json!({"device": "phone"})).await;
    check(&resp, 400, json!({"code": "FIELD_NOT_ALLOWED", "message": "device is not allowed to be set"}));
    let resp = alice.post("/update-session", json!({"unknown": 1})).await;
    check(&resp, 400, json!({"code": "NO_FIELDS_TO_UPDATE", "message": "No fields to update"}));
    let resp = alice.post("/update-session", json!({"theme": 3})).await;
    assert_eq!((resp.status, resp.json()["code"].clone()), (400, json!("VALIDATION_ERROR")));
    check_empty(&env.send(Req::post("/update-session", json!({"theme": "x"}))).await, 401);
    assert_eq!(alice.session().await["session"]["theme"], json!("dark"));
}
