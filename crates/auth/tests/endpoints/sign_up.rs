//! `POST /sign-up/email`.

use crate::harness::*;
use auth::adapter::Where;
use auth::models::{Account, Session};
use http::Method;
use serde_json::json;

#[tokio::test]
async fn sign_up_creates_user_credential_account_and_remembered_session() {
    let env = Env::new().await;
    let mut browser = env.browser();
    let resp = browser
        .send(
            Req::post(
                "/sign-up/email",
                json!({
                    "name": "Alice", "email": "Alice@Example.com", "password": PASSWORD,
                    "image": "https://example.com/alice.png", "emailVerified": true, "callbackURL": "/dashboard",
                }),
            )
            .header("user-agent", "test-agent/1.0"),
        )
        .await;
    let mut user = new_user("Alice", "alice@example.com");
    user["image"] = json!("https://example.com/alice.png");
    // `emailVerified` cannot be set by the client.
    check_shape(&resp, 200, json!({"token": "<token>", "user": user}));
    let token = resp.json()["token"].as_str().unwrap().to_string();
    assert_eq!(resp.set_cookies(), [session_cookie(&token, Some(604800))]);
    assert_eq!(resp.header("content-type"), Some("application/json"));

    let user_id = resp.json()["user"]["id"].as_str().unwrap().to_string();
    let session = browser.get("/get-session").await;
    assert!(session.set_cookies().is_empty());
    check_shape(
        &session,
        200,
        json!({
            "session": {
                "id": "<id>", "expiresAt": iso_after(7 * DAY), "token": "<token>", "createdAt": START_ISO,
                "updatedAt": START_ISO, "ipAddress": "127.0.0.1", "userAgent": "test-agent/1.0", "userId": "<id>",
            },
            "user": user,
        }),
    );
    assert_eq!(session.json()["session"]["token"], json!(token));
    assert_eq!(session.json()["session"]["userId"], json!(user_id));

    let accounts: Vec<Account> = env.rows(&[Where::eq("userId", user_id.as_str())]).await;
    assert_eq!(accounts.len(), 1);
    assert_eq!((accounts[0].provider_id.as_str(), accounts[0].account_id.as_str()), ("credential", &*user_id));
    let hash = accounts[0].password.as_deref().unwrap();
    assert_eq!((hash.len(), hash.find(':')), (161, Some(32)), "Better Auth's scrypt format: {hash}");
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn remember_me_false_sets_dont_remember_and_a_browser_session_cookie() {
    let env = Env::new().await;
    let mut browser = env.browser();
    let resp = browser
        .post(
            "/sign-up/email",
            json!({"name": "Dora", "email": "dora@example.com", "password": PASSWORD, "rememberMe": false}),
        )
        .await;
    check_shape(&resp, 200, json!({"token": "<token>", "user": new_user("Dora", "dora@example.com")}));
    let token = resp.json()["token"].as_str().unwrap().to_string();
    assert_eq!(resp.set_cookies(), [session_cookie(&token, None), dont_remember_cookie()]);
    // The session row lives one day.
    let sessions: Vec<Session> = env.rows(&[Where::eq("token", token.as_str())]).await;
    assert_eq!(auth::dates::iso_millis(sessions[0].expires_at), iso_after(DAY));
}

#[tokio::test]
async fn duplicate_email_is_refused_whatever_its_case() {
    let env = Env::new().await;
    env.signed_up("Alice", "alice@example.com").await;
    let resp = env
        .send(Req::post("/sign-up/email", json!({"name": "Eve", "email": "ALICE@example.com", "password": PASSWORD})))
        .await;
    check_error(&resp, 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.");
    assert!(resp.set_cookies().is_empty());
    assert_eq!(env.count(auth::schema::Model::User, &[]).await, 1);
}

#[tokio::test]
async fn malformed_bodies_are_validation_errors() {
    let env = Env::new().await;
    let cases = [
        (json!({"name": "Bob", "email": "not-an-email", "password": PASSWORD}), "[body.email] Invalid email address"),
        (json!({"name": "Bob", "email": "a@localhost", "password": PASSWORD}), "[body.email] Invalid email address"),
        (
            json!({"name": "Bob", "email": "a..b@example.com", "password": PASSWORD}),
            "[body.email] Invalid email address",
        ),
        (
            json!({"email": "noname@example.com", "password": PASSWORD}),
            "[body.name] Invalid input: expected string, received undefined",
        ),
        (
            json!({"name": 7, "email": "bob@example.com", "password": PASSWORD}),
            "[body.name] Invalid input: expected string, received number",
        ),
        (
            json!({"name": "Bob", "email": "bob@example.com"}),
            "[body.password] Invalid input: expected string, received undefined",
        ),
        (
            json!({"name": "Bob", "password": PASSWORD}),
            "[body.email] Invalid input: expected string, received undefined",
        ),
        (
            json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD, "rememberMe": "no"}),
            "[body.rememberMe] Invalid input: expected boolean, received string",
        ),
        (json!(["Bob"]), "[body] Invalid input: expected object, received array"),
    ];
    for (body, message) in cases {
        let resp = env.send(Req::post("/sign-up/email", body.clone())).await;
        check_error(&resp, 400, "VALIDATION_ERROR", message);
    }
    let resp = env.send(Req::post_empty("/sign-up/email")).await;
    check_error(&resp, 400, "VALIDATION_ERROR", "[body] Invalid input: expected object, received undefined");
    let resp = env.send(Req::raw_body(Method::POST, "/sign-up/email", "application/json", "null")).await;
    check_error(&resp, 400, "VALIDATION_ERROR", "[body] Invalid input: expected object, received null");
    assert_eq!(env.count(auth::schema::Model::User, &[]).await, 0);
}

#[tokio::test]
async fn password_length_is_counted_in_utf16_code_units() {
    let env = Env::new().await;
    let emoji = "\u{1F600}";
    let refused = [
        ("1234567".to_string(), "PASSWORD_TOO_SHORT", "Password too short"),
        // 4 characters, 7 UTF-16 code units.
        (format!("{}a", emoji.repeat(3)), "PASSWORD_TOO_SHORT", "Password too short"),
        ("a".repeat(129), "PASSWORD_TOO_LONG", "Password too long"),
        // 65 characters, 129 UTF-16 code units.
        (format!("{}a", emoji.repeat(64)), "PASSWORD_TOO_LONG", "Password too long"),
    ];
    for (i, (password, code, message)) in refused.iter().enumerate() {
        let body = json!({"name": "P", "email": format!("p{i}@example.com"), "password": password});
        check_error(&env.send(Req::post("/sign-up/email", body)).await, 400, code, message);
    }
    // 8 and 128 code units are accepted (the second is 65 characters).
    for (i, password) in ["12345678".to_string(), format!("{}aa", emoji.repeat(63))].iter().enumerate() {
        let body = json!({"name": "P", "email": format!("ok{i}@example.com"), "password": password});
        let resp = env.send(Req::post("/sign-up/email", body)).await;
        assert_eq!(resp.status, 200, "{}", resp.text());
    }
    assert_eq!(env.count(auth::schema::Model::User, &[]).await, 2);
}

#[tokio::test]
async fn passwords_are_nfkc_normalised() {
    let env = Env::new().await;
    let mut browser = env.browser();
    browser
        .sign_up(
            "Wide",
            "wide@example.com",
            "\u{FF30}\u{FF41}\u{FF53}\u{FF53}\u{FF57}\u{FF4F}\u{FF52}\u{FF44}\u{FF11}\u{FF12}\u{FF13}",
        )
        .await;
    let mut other = env.browser();
    other.sign_in("wide@example.com", "Password123").await;
    let resp = other.post("/sign-in/email", json!({"email": "wide@example.com", "password": "password123"})).await;
    check_error(&resp, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
}

#[tokio::test]
async fn disabled_sign_up_is_refused() {
    let env = Env::with(|c| c.email_and_password.disable_sign_up = true).await;
    let resp = env
        .send(Req::post("/sign-up/email", json!({"name": "A", "email": "a@example.com", "password": PASSWORD})))
        .await;
    check_error(&resp, 400, "EMAIL_AND_PASSWORD_SIGN_UP_IS_NOT_ENABLED", "Email and password sign up is not enabled");
}

#[tokio::test]
async fn https_sites_get_secure_cookies() {
    let env = Env::with(|c| c.base_url = "https://auth.example.com".into()).await;
    let mut browser = env.browser();
    browser.origin = Some("https://auth.example.com".into());
    let resp = browser
        .post(
            "/sign-up/email",
            json!({"name": "Sec", "email": "sec@example.com", "password": PASSWORD, "rememberMe": false}),
        )
        .await;
    let token = resp.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        resp.set_cookies(),
        [
            format!("__Secure-better-auth.session_token={}; Path=/; HttpOnly; Secure; SameSite=Lax", signed(&token)),
            format!("__Secure-better-auth.dont_remember={}; Path=/; HttpOnly; Secure; SameSite=Lax", signed("true")),
        ]
    );
    assert_eq!(browser.session().await["session"]["token"], json!(token));
    // The unprefixed name is a different cookie.
    let plain = Req::get("/get-session").header("cookie", &format!("better-auth.session_token={}", signed(&token)));
    check(&env.send(plain).await, 200, json!(null));
    let resp = browser.post("/sign-out", json!({})).await;
    assert_eq!(
        resp.set_cookies(),
        ["session_token", "session_data", "dont_remember"]
            .map(|c| format!("__Secure-better-auth.{c}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax"))
    );
}
