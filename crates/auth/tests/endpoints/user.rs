//! update-user and change-email (with the verify-email links it sends).

use crate::harness::*;
use auth::adapter::Where;
use auth::crypto::{self, EmailVerificationClaims};
use auth::email::{Email, EmailKind};
use auth::models::User;
use auth::schema::Model;
use base64::Engine;
use serde_json::json;

const START_SECS: u64 = START_NANOS / SECS;

#[tokio::test]
async fn update_user_changes_name_and_image_and_reissues_the_cookie() {
    let env = Env::new().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let token = alice.token();
    env.advance_secs(60);

    let resp =
        alice.post("/update-user", json!({"name": "Alice Liddell", "image": "https://example.com/a2.png"})).await;
    check(&resp, 200, json!({"status": true}));
    assert_eq!(resp.set_cookies(), [session_cookie(&token, Some(604800))]);
    let user = alice.session().await["user"].clone();
    assert_eq!(
        redact(user),
        json!({
            "id": "<id>", "name": "Alice Liddell", "email": "alice@example.com", "emailVerified": false,
            "image": "https://example.com/a2.png", "createdAt": START_ISO, "updatedAt": iso_after(60),
        })
    );

    // `null` removes the image; unknown fields are ignored (and never make a user verified).
    let resp = alice.post("/update-user", json!({"image": null, "emailVerified": true, "role": "admin"})).await;
    check(&resp, 200, json!({"status": true}));
    let user = alice.session().await["user"].clone();
    assert_eq!((user["image"].clone(), user["emailVerified"].clone()), (json!(null), json!(false)));

    let resp = alice.post("/update-user", json!({"email": "x@example.com", "name": "X"})).await;
    check_error(&resp, 400, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated");
    for body in [json!({}), json!({"emailVerified": true})] {
        let resp = alice.post("/update-user", body).await;
        check_error(&resp, 400, "NO_FIELDS_TO_UPDATE", "No fields to update");
        assert!(resp.set_cookies().is_empty());
    }
    let resp = alice.post("/update-user", json!({"name": 5})).await;
    assert_eq!((resp.status, resp.json()["code"].clone()), (400, json!("VALIDATION_ERROR")));
    assert_eq!(alice.session().await["user"]["name"], json!("Alice Liddell"));

    check_empty(&env.send(Req::post("/update-user", json!({"name": "x"}))).await, 401);
}

#[tokio::test]
async fn update_user_keeps_a_dont_remember_session_browser_only() {
    let env = Env::new().await;
    let mut browser = env.browser();
    let resp = browser
        .post(
            "/sign-up/email",
            json!({"name": "Dora", "email": "dora@example.com", "password": PASSWORD, "rememberMe": false}),
        )
        .await;
    let token = resp.json()["token"].as_str().unwrap().to_string();
    let resp = browser.post("/update-user", json!({"name": "Dorothy"})).await;
    check(&resp, 200, json!({"status": true}));
    assert_eq!(resp.set_cookies(), [session_cookie(&token, None)]);
}

#[tokio::test]
async fn change_email_is_disabled_by_default() {
    let env = Env::new().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let resp = alice.post("/change-email", json!({"newEmail": "new@example.com"})).await;
    check_error(&resp, 400, "CHANGE_EMAIL_IS_DISABLED", "Change email is disabled");
    assert!(env.take_mails().is_empty());
}

/// The JWT of a verify-email link, checked to be exactly what Better Auth issues.
fn link_claims(mail: &Email, callback: &str) -> (String, EmailVerificationClaims) {
    let rest = mail.url.strip_prefix(&format!("{AUTH_BASE}/verify-email?token=")).unwrap();
    let (jwt, query) = rest.split_once('&').unwrap();
    assert_eq!(query, format!("callbackURL={callback}"));
    let header = jwt.split('.').next().unwrap();
    assert_eq!(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap(), br#"{"alg":"HS256"}"#);
    let claims = crypto::verify_email_verification_jwt(jwt, &secret(), START_SECS).unwrap();
    (jwt.to_string(), claims)
}

#[tokio::test]
async fn change_email_sends_a_verification_to_the_new_address() {
    let env = Env::with(|c| c.user.change_email.enabled = true).await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    env.signed_up("Bob", "bob@example.com").await;
    let token = alice.token();

    let resp = alice.post("/change-email", json!({"newEmail": "Alice@Example.com"})).await;
    check_error(&resp, 400, "EMAIL_IS_THE_SAME", "Email is the same");
    let resp = alice.post("/change-email", json!({"newEmail": "BOB@example.com"})).await;
    check_error(&resp, 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.");
    let resp = alice.post("/change-email", json!({"newEmail": "not-an-email"})).await;
    check_error(&resp, 400, "VALIDATION_ERROR", "[body.newEmail] Invalid email address");
    check_empty(&env.send(Req::post("/change-email", json!({"newEmail": "x@example.com"}))).await, 401);
    assert!(env.take_mails().is_empty());

    let resp =
        alice.post("/change-email", json!({"newEmail": "Alice.New@Example.com", "callbackURL": "/settings"})).await;
    check(&resp, 200, json!({"status": true}));
    let mails = env.take_mails();
    assert_eq!(mails.len(), 1);
    assert_eq!((mails[0].kind, mails[0].to.as_str()), (EmailKind::ChangeEmailVerification, "alice.new@example.com"));
    // This flow does not percent-encode the callback.
    let (jwt, claims) = link_claims(&mails[0], "/settings");
    assert_eq!(
        claims,
        EmailVerificationClaims {
            email: "alice@example.com".into(),
            update_to: Some("alice.new@example.com".into()),
            request_type: Some("change-email-verification".into()),
            iat: START_SECS,
            exp: START_SECS + 3600,
        }
    );
    // Nothing changes until the link is opened.
    assert_eq!(alice.session().await["user"]["email"], json!("alice@example.com"));

    let resp = alice.get(&format!("/verify-email?token={jwt}")).await;
    let mut user = new_user("Alice", "alice.new@example.com");
    user["emailVerified"] = json!(true);
    check_shape(&resp, 200, json!({"status": true, "user": user}));
    assert_eq!(resp.set_cookies(), [session_cookie(&token, Some(604800))]);
    assert_eq!(alice.session().await["user"]["email"], json!("alice.new@example.com"));
    assert_eq!(env.count(Model::User, &[Where::eq("email", "alice@example.com")]).await, 0);
    // The link is spent: the old address no longer exists, and a session of another address may not use it.
    let resp = env.send(Req::get(&format!("/verify-email?token={jwt}"))).await;
    check_error(&resp, 401, "USER_NOT_FOUND", "user_not_found");
    let resp = alice.get(&format!("/verify-email?token={jwt}")).await;
    check_error(&resp, 401, "UNAUTHORIZED", "unauthorized");

    // The new address signs in.
    let mut again = env.browser();
    again.sign_in("alice.new@example.com", PASSWORD).await;
}

/// Change of e-mail with a confirmation by the current address first.
async fn confirming_env() -> Env {
    Env::with(|c| {
        c.user.change_email.enabled = true;
        c.user.change_email.send_change_email_verification = true;
    })
    .await
}

/// Alice, signed up, with a verified address.
async fn verified_alice(env: &Env) -> Browser<'_> {
    let (alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let mut verified = value::Object::new();
    verified.insert("emailVerified".into(), value::Value::Boolean(true));
    env.update(Model::User, &[Where::eq("email", "alice@example.com")], verified).await;
    alice
}

#[tokio::test]
async fn change_email_of_a_verified_user_is_confirmed_by_the_current_address_first() {
    let env = confirming_env().await;
    let mut alice = verified_alice(&env).await;

    let resp = alice.post("/change-email", json!({"newEmail": "alice.new@example.com"})).await;
    check(&resp, 200, json!({"status": true}));
    let mails = env.take_mails();
    assert_eq!((mails.len(), mails[0].kind), (1, EmailKind::ChangeEmailConfirmation));
    assert_eq!(mails[0].to, "alice@example.com");
    let (jwt, claims) = link_claims(&mails[0], "/");
    assert_eq!(claims.request_type.as_deref(), Some("change-email-confirmation"));
    assert_eq!(claims.update_to.as_deref(), Some("alice.new@example.com"));

    // Confirming sends the verification to the new address; the e-mail is unchanged so far.
    let resp = alice.get(&format!("/verify-email?token={jwt}&callbackURL=%2Fsettings")).await;
    assert_eq!((resp.status, resp.header("location")), (302, Some("/settings")));
    let mails = env.take_mails();
    assert_eq!((mails.len(), mails[0].kind), (1, EmailKind::ChangeEmailVerification));
    assert_eq!(mails[0].to, "alice.new@example.com");
    assert_eq!(alice.session().await["user"]["email"], json!("alice@example.com"));
    let (jwt, claims) = link_claims(&mails[0], "/settings");
    assert_eq!(claims.request_type.as_deref(), Some("change-email-verification"));

    let resp = alice.get(&format!("/verify-email?token={jwt}&callbackURL=%2Fsettings")).await;
    assert_eq!((resp.status, resp.header("location")), (302, Some("/settings")));
    let user = alice.session().await["user"].clone();
    assert_eq!((user["email"].clone(), user["emailVerified"].clone()), (json!("alice.new@example.com"), json!(true)));
}

#[tokio::test]
async fn change_email_without_verification_applies_at_once_for_unverified_users() {
    let env = Env::with(|c| {
        c.user.change_email.enabled = true;
        c.user.change_email.update_email_without_verification = true;
    })
    .await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let token = alice.token();
    let resp = alice.post("/change-email", json!({"newEmail": "alice.new@example.com"})).await;
    check(&resp, 200, json!({"status": true}));
    assert_eq!(resp.set_cookies(), [session_cookie(&token, Some(604800))]);
    let user: User = env.row(&[Where::eq("email", "alice.new@example.com")]).await.unwrap();
    assert!(!user.email_verified);
    // A plain verification mail goes to the new address.
    let mails = env.take_mails();
    assert_eq!(
        (mails.len(), mails[0].kind, mails[0].to.as_str()),
        (1, EmailKind::VerifyEmail, "alice.new@example.com")
    );
    let (_, claims) = link_claims(&mails[0], "%2F");
    assert_eq!((claims.email.as_str(), claims.update_to), ("alice.new@example.com", None));
}

#[tokio::test]
async fn change_email_confirmation_opened_by_another_signed_in_user_is_refused() {
    let env = confirming_env().await;
    let mut alice = verified_alice(&env).await;
    let (mut bob, _) = env.signed_up("Bob", "bob@example.com").await;
    let resp = alice.post("/change-email", json!({"newEmail": "alice.new@example.com"})).await;
    check(&resp, 200, json!({"status": true}));
    let mails = env.take_mails();
    let (jwt, _) = link_claims(&mails[0], "/");

    // Bob opens Alice's confirmation link: redirected with `error=unauthorized`, no mail, nothing changed.
    let resp = bob.get(&format!("/verify-email?token={jwt}&callbackURL=%2Fsettings")).await;
    assert_eq!((resp.status, resp.header("location")), (302, Some("/settings?error=unauthorized")));
    assert!(resp.set_cookies().is_empty());
    assert!(env.take_mails().is_empty());
    // Without a callback: 401 UNAUTHORIZED.
    let resp = bob.get(&format!("/verify-email?token={jwt}")).await;
    assert_eq!(resp.status, 401);
    assert_eq!(resp.json()["code"], json!("UNAUTHORIZED"));
    assert!(env.take_mails().is_empty());
    assert_eq!(bob.session().await["user"]["email"], json!("bob@example.com"));
    assert_eq!(alice.session().await["user"]["email"], json!("alice@example.com"));

    // Alice herself (or a signed-out browser) still confirms.
    let resp = env.browser().get(&format!("/verify-email?token={jwt}&callbackURL=%2Fsettings")).await;
    assert_eq!((resp.status, resp.header("location")), (302, Some("/settings")));
    let mails = env.take_mails();
    assert_eq!((mails.len(), mails[0].kind), (1, EmailKind::ChangeEmailVerification));
}
