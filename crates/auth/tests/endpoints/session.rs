//! get-session (expiry, sliding refresh), sign-out, list-sessions, revoke-session(s), revoke-other-sessions.

use crate::harness::*;
use auth::adapter::Where;
use auth::crypto::{self, Secret};
use auth::models::Session;
use auth::schema::Model;
use serde_json::json;

const TOKEN_COOKIE: &str = "better-auth.session_token";

#[tokio::test]
async fn get_session_without_a_valid_cookie_is_null_and_clears_nothing() {
    let env = Env::new().await;
    let (alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let token = alice.token();

    let resp = env.send(Req::get("/get-session")).await;
    check(&resp, 200, json!(null));
    assert!(resp.set_cookies().is_empty());

    let other_secret = Secret::new("another-secret-of-at-least-32-characters".into());
    let mut flipped = crypto::sign_cookie_value(&token, &secret());
    let first = token.len() + 1;
    let replacement = if flipped[first..].starts_with('A') { "B" } else { "A" };
    flipped.replace_range(first..first + 1, replacement);
    let forged = [
        // The bare token, unsigned.
        token.clone(),
        // Signed with another secret.
        auth::cookies::encode_uri_component(&crypto::sign_cookie_value(&token, &other_secret)),
        // One character of the signature changed.
        auth::cookies::encode_uri_component(&flipped),
        // Another token under this token's signature.
        signed(&token).replacen(&token[..4], "ZZZZ", 1),
        String::from("garbage"),
    ];
    for value in forged {
        let resp = env.send(Req::get("/get-session").header("cookie", &format!("{TOKEN_COOKIE}={value}"))).await;
        check(&resp, 200, json!(null));
        assert!(resp.set_cookies().is_empty(), "{value}: {:?}", resp.set_cookies());
    }
    // The genuine cookie still works: nothing was revoked by the forgeries.
    let resp = env.send(Req::get("/get-session").header("cookie", &format!("{TOKEN_COOKIE}={}", signed(&token)))).await;
    assert_eq!(resp.json()["session"]["token"], json!(token));
}

#[tokio::test]
async fn expired_session_is_null_deleted_and_cookies_cleared() {
    let env = Env::new().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let token = alice.token();
    // Still valid at the last millisecond of its life (protected endpoints do not refresh it).
    env.clock.advance(7 * DAY * SECS);
    assert_eq!(alice.get("/list-sessions").await.status, 200);
    env.clock.advance(1_000_000);
    let resp = alice.get("/get-session").await;
    check(&resp, 200, json!(null));
    assert_eq!(resp.set_cookies(), DELETION_COOKIES);
    assert_eq!(env.count(Model::Session, &[Where::eq("token", token.as_str())]).await, 0);
    assert!(alice.jar.is_empty());
}

#[tokio::test]
async fn protected_endpoints_answer_401_for_an_expired_session() {
    let env = Env::with(|c| c.user.delete_user.enabled = true).await;
    let (alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let cookie = format!("{TOKEN_COOKIE}={}", signed(&alice.token()));
    env.advance_secs(7 * DAY + 1);
    let with_cookie = |req: Req| req.header("cookie", &cookie).header("origin", ORIGIN);
    let requests = [
        Req::get("/list-sessions"),
        Req::get("/list-accounts"),
        Req::post("/update-user", json!({"name": "x"})),
        Req::post("/change-password", json!({"currentPassword": PASSWORD, "newPassword": "another password"})),
        Req::post("/revoke-session", json!({"token": "x"})),
        Req::post("/revoke-sessions", json!({})),
        Req::post("/revoke-other-sessions", json!({})),
        Req::post("/unlink-account", json!({"providerId": "credential"})),
        Req::post("/delete-user", json!({})),
    ];
    for req in requests {
        let path = req.path.clone();
        let resp = env.send(with_cookie(req)).await;
        assert_eq!((resp.status, resp.text()), (401, String::new()), "{path}");
    }
}

#[tokio::test]
async fn sliding_refresh_after_update_age() {
    let env = Env::new().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let token = alice.token();

    // One second before updateAge (1 day): no refresh.
    env.advance_secs(DAY - 1);
    let resp = alice.get("/get-session").await;
    assert!(resp.set_cookies().is_empty());
    assert_eq!(resp.json()["session"]["expiresAt"], json!(iso_after(7 * DAY)));
    assert_eq!(resp.json()["session"]["updatedAt"], json!(START_ISO));

    // At updateAge: the expiry slides to now + expiresIn and the cookie is re-set (same token).
    env.advance_secs(1);
    let resp = alice.get("/get-session").await;
    assert_eq!(resp.set_cookies(), [session_cookie(&token, Some(604800))]);
    assert_eq!(resp.json()["session"]["expiresAt"], json!(iso_after(8 * DAY)));
    assert_eq!(resp.json()["session"]["updatedAt"], json!(iso_after(DAY)));
    let row: Session = env.row(&[Where::eq("token", token.as_str())]).await.unwrap();
    assert_eq!(auth::dates::iso_millis(row.expires_at), iso_after(8 * DAY));

    // Right after, nothing to do.
    let resp = alice.get("/get-session").await;
    assert!(resp.set_cookies().is_empty());

    // `disableRefresh` is a coerced boolean: any non-empty value (even "false") disables, empty does not.
    env.advance_secs(DAY);
    for query in ["?disableRefresh=true", "?disableRefresh=false", "?disableRefresh=0"] {
        let resp = alice.get(&format!("/get-session{query}")).await;
        assert!(resp.set_cookies().is_empty(), "{query}");
        assert_eq!(resp.json()["session"]["expiresAt"], json!(iso_after(8 * DAY)), "{query}");
    }
    let resp = alice.get("/get-session?disableRefresh=").await;
    assert_eq!(resp.set_cookies(), [session_cookie(&token, Some(604800))]);
    assert_eq!(resp.json()["session"]["expiresAt"], json!(iso_after(9 * DAY)));

    // A session that keeps being used outlives its first week.
    for _ in 0..7 {
        env.advance_secs(DAY);
        assert_eq!(alice.get("/get-session").await.json()["session"]["token"], json!(token));
    }
}

#[tokio::test]
async fn dont_remember_sessions_never_slide() {
    let env = Env::new().await;
    let mut browser = env.browser();
    let resp = browser
        .post(
            "/sign-up/email",
            json!({"name": "Dora", "email": "dora@example.com", "password": PASSWORD, "rememberMe": false}),
        )
        .await;
    assert_eq!(resp.status, 200);
    // Already "due" by the formula (expiresAt - expiresIn + updateAge is in the past), but dont_remember wins.
    env.advance_secs(2 * 3600);
    let resp = browser.get("/get-session").await;
    assert!(resp.set_cookies().is_empty());
    assert_eq!(resp.json()["session"]["expiresAt"], json!(iso_after(DAY)));
    env.advance_secs(DAY);
    let resp = browser.get("/get-session").await;
    check(&resp, 200, json!(null));
    assert_eq!(resp.set_cookies(), DELETION_COOKIES);
}

#[tokio::test]
async fn sign_out_deletes_the_session_and_clears_cookies() {
    let env = Env::new().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let token = alice.token();
    let resp = alice.post("/sign-out", json!({})).await;
    check(&resp, 200, json!({"success": true}));
    assert_eq!(resp.set_cookies(), DELETION_COOKIES);
    assert_eq!(env.count(Model::Session, &[]).await, 0);
    // The old cookie is dead; its holder is told to drop it.
    let resp = env.send(Req::get("/get-session").header("cookie", &format!("{TOKEN_COOKIE}={}", signed(&token)))).await;
    check(&resp, 200, json!(null));
    assert_eq!(resp.set_cookies(), DELETION_COOKIES);
    // Without a session (and without a body) the answer is the same.
    let resp = env.send(Req::post_empty("/sign-out")).await;
    check(&resp, 200, json!({"success": true}));
    assert_eq!(resp.set_cookies(), DELETION_COOKIES);
}

#[tokio::test]
async fn list_sessions_lists_only_unexpired_sessions_with_their_tokens() {
    let env = Env::new().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let (mut bob, _) = env.signed_up("Bob", "bob@example.com").await;
    let mut laptop = env.browser();
    let laptop_token = laptop.sign_in("alice@example.com", PASSWORD).await;
    let mut kiosk = env.browser();
    let resp = kiosk
        .post("/sign-in/email", json!({"email": "alice@example.com", "password": PASSWORD, "rememberMe": false}))
        .await;
    let kiosk_token = resp.json()["token"].as_str().unwrap().to_string();

    let resp = alice.get("/list-sessions").await;
    let listed = tokens(&resp.json());
    assert_eq!(listed, [alice.token(), laptop_token.clone(), kiosk_token]);
    // Full session objects, other sessions' tokens included.
    assert_eq!(
        redact(resp.json()[0].clone()),
        json!({
            "id": "<id>", "expiresAt": iso_after(7 * DAY), "token": "<token>", "createdAt": START_ISO,
            "updatedAt": START_ISO, "ipAddress": "127.0.0.1", "userAgent": "", "userId": "<id>",
        })
    );

    // The one-day session expires and is no longer listed.
    env.advance_secs(DAY + 1);
    let resp = alice.get("/list-sessions").await;
    let listed = tokens(&resp.json());
    assert_eq!(listed, [alice.token(), laptop_token]);
    let bobs = bob.get("/list-sessions").await.json();
    assert_eq!(bobs.as_array().unwrap().len(), 1);
    assert_eq!(bobs[0]["token"], json!(bob.token()));

    check_empty(&env.send(Req::get("/list-sessions")).await, 401);
}

#[tokio::test]
async fn revoke_session_revokes_only_the_callers_sessions() {
    let env = Env::new().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let (mut bob, _) = env.signed_up("Bob", "bob@example.com").await;
    let mut laptop = env.browser();
    laptop.sign_in("alice@example.com", PASSWORD).await;

    // Bob's token: "ok", but Bob stays signed in.
    let resp = alice.post("/revoke-session", json!({"token": bob.token()})).await;
    check(&resp, 200, json!({"status": true}));
    assert!(resp.set_cookies().is_empty());
    assert_eq!(bob.session().await["user"]["email"], json!("bob@example.com"));

    // Alice's other session: gone.
    check(&alice.post("/revoke-session", json!({"token": laptop.token()})).await, 200, json!({"status": true}));
    check(&laptop.get("/get-session").await, 200, json!(null));
    assert_eq!(alice.session().await["user"]["email"], json!("alice@example.com"));

    // Unknown tokens succeed silently; validation and authentication still apply.
    check(&alice.post("/revoke-session", json!({"token": "doesnotexist"})).await, 200, json!({"status": true}));
    let resp = alice.post("/revoke-session", json!({})).await;
    check_error(&resp, 400, "VALIDATION_ERROR", "[body.token] Invalid input: expected string, received undefined");
    check_empty(&env.send(Req::post("/revoke-session", json!({"token": bob.token()}))).await, 401);
    assert_eq!(env.count(Model::Session, &[]).await, 2);
}

#[tokio::test]
async fn revoke_other_sessions_keeps_the_current_one() {
    let env = Env::new().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let (mut bob, _) = env.signed_up("Bob", "bob@example.com").await;
    let mut laptop = env.browser();
    laptop.sign_in("alice@example.com", PASSWORD).await;
    let mut phone = env.browser();
    phone.sign_in("alice@example.com", PASSWORD).await;

    let resp = alice.post("/revoke-other-sessions", json!({})).await;
    check(&resp, 200, json!({"status": true}));
    assert!(resp.set_cookies().is_empty());
    check(&laptop.get("/get-session").await, 200, json!(null));
    check(&phone.get("/get-session").await, 200, json!(null));
    assert_eq!(alice.session().await["user"]["email"], json!("alice@example.com"));
    assert_eq!(bob.session().await["user"]["email"], json!("bob@example.com"));
    check_empty(&env.send(Req::post("/revoke-other-sessions", json!({}))).await, 401);
}

#[tokio::test]
async fn revoke_sessions_revokes_all_and_keeps_the_cookies() {
    let env = Env::new().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let (mut bob, _) = env.signed_up("Bob", "bob@example.com").await;
    let mut laptop = env.browser();
    laptop.sign_in("alice@example.com", PASSWORD).await;

    let resp = alice.post("/revoke-sessions", json!({})).await;
    check(&resp, 200, json!({"status": true}));
    // 1.4.9 does not clear the cookies; the next request finds no session (and clears them then).
    assert!(resp.set_cookies().is_empty());
    let resp = alice.get("/get-session").await;
    check(&resp, 200, json!(null));
    assert_eq!(resp.set_cookies(), DELETION_COOKIES);
    check(&laptop.get("/get-session").await, 200, json!(null));
    assert_eq!(bob.session().await["user"]["email"], json!("bob@example.com"));
    check_empty(&env.send(Req::post_empty("/revoke-sessions")).await, 401);
}
