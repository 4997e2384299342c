//! send-verification-email and verify-email.

use crate::harness::*;
use auth::adapter::Where;
use auth::crypto::{self, EmailVerificationClaims, Secret};
use auth::email::EmailKind;
use auth::models::User;
use serde_json::json;

const START_SECS: u64 = START_NANOS / SECS;

/// The JWT of a verify-email link with a percent-encoded callback.
fn link_token(url: &str, encoded_callback: &str) -> String {
    let rest = url.strip_prefix(&format!("{AUTH_BASE}/verify-email?token=")).unwrap();
    let (jwt, query) = rest.split_once('&').unwrap();
    assert_eq!(query, format!("callbackURL={encoded_callback}"));
    jwt.to_string()
}

async fn verified(env: &Env, email: &str) -> bool {
    env.row::<User>(&[Where::eq("email", email)]).await.unwrap().email_verified
}

#[tokio::test]
async fn send_verification_email_and_verify() {
    let env = Env::new().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;

    let resp = alice.post("/send-verification-email", json!({"email": "someoneelse@example.com"})).await;
    check_error(
        &resp,
        400,
        "YOU_CAN_ONLY_SEND_A_VERIFICATION_EMAIL_TO_YOUR_OWN_EMAIL",
        "You can only send a verification email to your own email",
    );
    let resp = alice.post("/send-verification-email", json!({"email": "nope"})).await;
    check_error(&resp, 400, "VALIDATION_ERROR", "[body.email] Invalid email address");
    assert!(env.take_mails().is_empty());

    let resp =
        alice.post("/send-verification-email", json!({"email": "alice@example.com", "callbackURL": "/verified"})).await;
    check(&resp, 200, json!({"status": true}));
    let mails = env.take_mails();
    assert_eq!((mails.len(), mails[0].kind, mails[0].to.as_str()), (1, EmailKind::VerifyEmail, "alice@example.com"));
    let jwt = link_token(&mails[0].url, "%2Fverified");
    let claims = crypto::verify_email_verification_jwt(&jwt, &secret(), START_SECS).unwrap();
    let expected = EmailVerificationClaims::new("alice@example.com", None, None, START_SECS, 3600);
    assert_eq!(claims, expected);
    // Exactly Better Auth's token: header {"alg":"HS256"}, claims email, iat, exp in that order.
    assert_eq!(jwt, crypto::sign_email_verification_jwt(&expected, &secret()));

    // Without a session: unknown addresses get the same answer and no mail; known ones get a mail.
    let resp = env.send(Req::post("/send-verification-email", json!({"email": "ghost@example.com"}))).await;
    check(&resp, 200, json!({"status": true}));
    assert!(env.take_mails().is_empty());
    let resp = env.send(Req::post("/send-verification-email", json!({"email": "ALICE@example.com"}))).await;
    check(&resp, 200, json!({"status": true}));
    assert_eq!(link_token(&env.take_mails()[0].url, "%2F"), jwt);

    env.advance_secs(60);
    let resp = env.send(Req::get(&format!("/verify-email?token={jwt}&callbackURL=%2Fverified"))).await;
    assert_eq!((resp.status, resp.header("location"), resp.text()), (302, Some("/verified"), String::new()));
    assert!(resp.set_cookies().is_empty(), "no auto sign-in by default");
    assert!(verified(&env, "alice@example.com").await);
    assert_eq!(alice.session().await["user"]["updatedAt"], json!(iso_after(60)));

    // Again: already verified.
    let resp = env.send(Req::get(&format!("/verify-email?token={jwt}"))).await;
    check(&resp, 200, json!({"status": true, "user": null}));
    let resp = alice.post("/send-verification-email", json!({"email": "alice@example.com"})).await;
    check_error(
        &resp,
        400,
        "YOU_CAN_ONLY_SEND_A_VERIFICATION_EMAIL_TO_AN_UNVERIFIED_EMAIL",
        "You can only send a verification email to an unverified email",
    );
    // Without a session a verified address gets the neutral answer and no mail.
    let resp = env.send(Req::post("/send-verification-email", json!({"email": "alice@example.com"}))).await;
    check(&resp, 200, json!({"status": true}));
    assert!(env.take_mails().is_empty());
}

#[tokio::test]
async fn bad_verification_tokens_are_refused() {
    let env = Env::new().await;
    env.signed_up("Alice", "alice@example.com").await;
    let claims = EmailVerificationClaims::new("alice@example.com", None, None, START_SECS, 3600);
    let good = crypto::sign_email_verification_jwt(&claims, &secret());
    let other_secret = Secret::new("another-secret-of-at-least-32-characters".into());
    // Another e-mail under the genuine signature.
    let forged = EmailVerificationClaims::new("mallory@example.com", None, None, START_SECS, 3600);
    let forged = crypto::sign_email_verification_jwt(&forged, &secret());
    let mut parts: Vec<&str> = good.split('.').collect();
    parts[1] = forged.split('.').nth(1).unwrap();
    let tampered_payload = parts.join(".");
    // The first character of the signature changed (the last one may only carry padding bits).
    let signature_start = good.rfind('.').unwrap() + 1;
    let mut tampered_signature = good.clone();
    let replacement = if good[signature_start..].starts_with('A') { "B" } else { "A" };
    tampered_signature.replace_range(signature_start..signature_start + 1, replacement);

    let invalid = [
        "not-a-jwt".to_string(),
        String::new(),
        tampered_payload,
        tampered_signature,
        crypto::sign_email_verification_jwt(&claims, &other_secret),
        // alg none
        format!("eyJhbGciOiJub25lIn0.{}.", good.split('.').nth(1).unwrap()),
    ];
    for token in &invalid {
        let resp = env.send(Req::get(&format!("/verify-email?token={token}"))).await;
        check_error(&resp, 401, "INVALID_TOKEN", "invalid_token");
        let resp = env.send(Req::get(&format!("/verify-email?token={token}&callbackURL=%2Fverified"))).await;
        assert_eq!((resp.status, resp.header("location")), (302, Some("/verified?error=invalid_token")), "{token}");
    }
    let resp = env.send(Req::get("/verify-email?token=x&callbackURL=%2Fverified%3Fx%3D1")).await;
    assert_eq!(resp.header("location"), Some("/verified?x=1&error=invalid_token"));

    let ghost = EmailVerificationClaims::new("ghost@example.com", None, None, START_SECS, 3600);
    let ghost = crypto::sign_email_verification_jwt(&ghost, &secret());
    check_error(
        &env.send(Req::get(&format!("/verify-email?token={ghost}"))).await,
        401,
        "USER_NOT_FOUND",
        "user_not_found",
    );
    let resp = env.send(Req::get(&format!("/verify-email?token={ghost}&callbackURL=%2Fv"))).await;
    assert_eq!(resp.header("location"), Some("/v?error=user_not_found"));

    // An hour later the genuine token has expired.
    env.advance_secs(3600);
    let resp = env.send(Req::get(&format!("/verify-email?token={good}"))).await;
    check_error(&resp, 401, "TOKEN_EXPIRED", "token_expired");
    let resp = env.send(Req::get(&format!("/verify-email?token={good}&callbackURL=%2Fverified"))).await;
    assert_eq!((resp.status, resp.header("location")), (302, Some("/verified?error=token_expired")));
    assert!(!verified(&env, "alice@example.com").await);
}

#[tokio::test]
async fn auto_sign_in_after_verification_sets_a_session_cookie() {
    let env = Env::with(|c| {
        c.email_and_password.require_email_verification = true;
        c.email_verification.auto_sign_in_after_verification = true;
    })
    .await;
    let resp = env
        .send(Req::post(
            "/sign-up/email",
            json!({"name": "Val", "email": "val@example.com", "password": PASSWORD, "callbackURL": "/welcome"}),
        ))
        .await;
    check_shape(&resp, 200, json!({"token": null, "user": new_user("Val", "val@example.com")}));
    let mails = env.take_mails();
    let jwt = link_token(&mails[0].url, "%2Fwelcome");

    let mut browser = env.browser();
    let resp = browser.get(&format!("/verify-email?token={jwt}&callbackURL=%2Fwelcome")).await;
    assert_eq!((resp.status, resp.header("location")), (302, Some("/welcome")));
    let session = browser.session().await;
    assert_eq!(resp.set_cookies(), [session_cookie(session["session"]["token"].as_str().unwrap(), Some(604800))]);
    assert_eq!(session["user"]["email"], json!("val@example.com"));
    assert_eq!(session["user"]["emailVerified"], json!(true));
    assert_eq!(env.count(auth::schema::Model::Session, &[]).await, 1);
}
