//! The bearer plugin: `set-auth-token` on responses that set a session, `Authorization: Bearer` on requests.

use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn bearer_tokens_stand_in_for_the_session_cookie() {
    let env = Env::new().await;
    env.signed_up("Jay", "jay@example.com").await;

    let resp = env.send(Req::post("/sign-in/email", json!({"email": "jay@example.com", "password": PASSWORD}))).await;
    let token = resp.json()["token"].as_str().unwrap().to_string();
    let auth_token = signed(&token);
    assert_eq!(resp.header("set-auth-token"), Some(auth_token.as_str()));
    assert_eq!(resp.header("access-control-expose-headers"), Some("set-auth-token"));

    // The header value, its decoded form and the raw token all authenticate, without any cookie.
    let decoded = auth::cookies::decode_uri_component(&auth_token).unwrap();
    for bearer in [auth_token.as_str(), decoded.as_str(), token.as_str()] {
        let resp = env.send(Req::get("/get-session").header("authorization", &format!("Bearer {bearer}"))).await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.json()["session"]["token"], json!(token), "Bearer {bearer}");
        assert!(resp.set_cookies().is_empty());
        // Nothing new was set, so no new token is announced.
        assert!(resp.header("set-auth-token").is_none());
    }

    // A bad signature is ignored: no session, nothing cleared.
    let forged = signed(&token).replacen(&token, &format!("{}x", &token[..31]), 1);
    let other = auth::cookies::encode_uri_component(&auth::crypto::sign_cookie_value(
        &token,
        &auth::crypto::Secret::new("another-secret-of-at-least-32-characters".into()),
    ));
    for bearer in [forged.as_str(), other.as_str(), "nonsense.signature"] {
        let resp = env.send(Req::get("/get-session").header("authorization", &format!("Bearer {bearer}"))).await;
        check(&resp, 200, json!(null));
        assert!(resp.set_cookies().is_empty(), "Bearer {bearer}");
    }
    // An unknown raw token finds no session.
    let resp =
        env.send(Req::get("/get-session").header("authorization", "Bearer AbCdEfGhIjKlMnOpQrStUvWxYz012345")).await;
    check(&resp, 200, json!(null));
    // Not a bearer scheme: ignored.
    let resp = env.send(Req::get("/get-session").header("authorization", &format!("Basic {auth_token}"))).await;
    check(&resp, 200, json!(null));

    // Bearer-only requests carry no cookie, so the CSRF origin check does not apply to them.
    let resp = env
        .send(
            Req::post("/update-user", json!({"name": "Jay Bird"}))
                .header("authorization", &format!("Bearer {auth_token}")),
        )
        .await;
    check(&resp, 200, json!({"status": true}));
    // update-user re-issues the session cookie, so the token is announced again.
    assert_eq!(resp.header("set-auth-token"), Some(auth_token.as_str()));
    let resp = env.send(Req::post_empty("/sign-out").header("authorization", &format!("Bearer {auth_token}"))).await;
    check(&resp, 200, json!({"success": true}));
    assert!(resp.header("set-auth-token").is_none(), "deletions do not announce a token");
    let resp = env.send(Req::get("/get-session").header("authorization", &format!("Bearer {auth_token}"))).await;
    check(&resp, 200, json!(null));
}

#[tokio::test]
async fn sign_up_announces_its_token_too() {
    let env = Env::new().await;
    let resp = env
        .send(Req::post("/sign-up/email", json!({"name": "Jay", "email": "jay@example.com", "password": PASSWORD})))
        .await;
    let token = resp.json()["token"].as_str().unwrap().to_string();
    assert_eq!(resp.header("set-auth-token"), Some(signed(&token).as_str()));
}
