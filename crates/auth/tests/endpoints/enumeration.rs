//! Security floor: answers that would tell whether an account exists are identical, and cost the same hashing.

use crate::harness::*;
use auth::email::EmailKind;
use serde_json::json;

/// Everything a client can observe (the generated date headers aside, there are none).
fn observable(resp: &Resp) -> (u16, Vec<(String, String)>, String) {
    let mut headers: Vec<(String, String)> =
        resp.headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect();
    headers.sort();
    (resp.status, headers, resp.text())
}

#[tokio::test]
async fn failed_sign_ins_are_indistinguishable() {
    let env = Env::new().await;
    env.signed_up("Alice", "alice@example.com").await;
    env.insert_oauth_user("octo@example.com").await;
    let attempt = |email: &str, password: &str| {
        Req::post("/sign-in/email", json!({"email": email, "password": password})).header("origin", ORIGIN)
    };

    let before = env.svc.hash_load().total;
    let wrong_password = env.send(attempt("alice@example.com", "wrong password")).await;
    let unknown_user = env.send(attempt("nobody@example.com", "wrong password")).await;
    let no_password = env.send(attempt("octo@example.com", "wrong password")).await;
    let known_and_right_for_someone_else = env.send(attempt("octo@example.com", PASSWORD)).await;
    check_error(&wrong_password, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    for other in [&unknown_user, &no_password, &known_and_right_for_someone_else] {
        assert_eq!(observable(other), observable(&wrong_password));
    }
    // Each of them ran exactly one password verification: no shortcut for unknown users.
    assert_eq!(env.svc.hash_load().total - before, 4);
}

#[tokio::test]
async fn mail_endpoints_answer_the_same_for_unknown_addresses() {
    let env = Env::new().await;
    env.signed_up("Alice", "alice@example.com").await;
    env.insert_oauth_user("verified@example.com").await;

    let reset = |email: &str| Req::post("/request-password-reset", json!({"email": email, "redirectTo": "/reset"}));
    let known = env.send(reset("alice@example.com")).await;
    let unknown = env.send(reset("ghost@example.com")).await;
    assert_eq!(observable(&known), observable(&unknown));
    let mails = env.take_mails();
    assert_eq!((mails.len(), mails[0].kind, mails[0].to.as_str()), (1, EmailKind::ResetPassword, "alice@example.com"));

    let verify = |email: &str| Req::post("/send-verification-email", json!({"email": email}));
    let unverified = env.send(verify("alice@example.com")).await;
    let verified = env.send(verify("verified@example.com")).await;
    let unknown = env.send(verify("ghost@example.com")).await;
    assert_eq!(observable(&unverified), observable(&unknown));
    assert_eq!(observable(&verified), observable(&unknown));
    let mails = env.take_mails();
    assert_eq!((mails.len(), mails[0].kind, mails[0].to.as_str()), (1, EmailKind::VerifyEmail, "alice@example.com"));
}

#[tokio::test]
async fn with_required_verification_sign_up_does_not_reveal_taken_addresses() {
    let env = Env::with(|c| c.email_and_password.require_email_verification = true).await;
    let sign_up = |email: &str| {
        Req::post("/sign-up/email", json!({"name": "Val", "email": email, "password": PASSWORD}))
            .header("origin", ORIGIN)
    };
    let first = env.send(sign_up("val@example.com")).await;
    let taken = env.send(sign_up("val@example.com")).await;
    let fresh = env.send(sign_up("other@example.com")).await;
    check_shape(&first, 200, json!({"token": null, "user": new_user("Val", "val@example.com")}));
    check_shape(&taken, 200, json!({"token": null, "user": new_user("Val", "val@example.com")}));
    assert_ne!(taken.json()["user"]["id"], first.json()["user"]["id"]);
    let headers = |resp: &Resp| observable(resp).1;
    assert_eq!(headers(&taken), headers(&fresh));
    assert_eq!(env.count(auth::schema::Model::User, &[]).await, 2);
    // Only the real sign-ups got a verification mail.
    let to: Vec<String> = env.take_mails().into_iter().map(|m| m.to).collect();
    assert_eq!(to, ["val@example.com", "other@example.com"]);
}
