//! The expo server plugin: `expo-origin` standing in for a missing `Origin`, the authorization proxy (state cookie
//! in the system browser, redirect only to the provider of a live state), and deep-link redirects carrying the
//! session cookie.

use crate::harness::*;
use crate::oauth_mock::MockUser;
use crate::social::{consent, deployment, location, query_params};
use serde_json::{json, Value};

const APP: &str = "myapp://";

fn plugin(options: Value) -> Value {
    json!({"trustedOrigins": [APP], "plugins": {"expo": options}})
}

fn sign_in(origin_headers: &[(&str, &str)]) -> Req {
    let mut req = Req::post("/sign-in/email", json!({"email": "nobody@example.com", "password": "password123"}))
        .header("cookie", "x=1");
    for (name, value) in origin_headers {
        req = req.header(name, value);
    }
    req
}

#[tokio::test]
async fn expo_origin_stands_in_for_a_missing_origin() {
    let (env, _mock) = deployment(plugin(json!({}))).await;
    // The app's scheme is trusted: the request gets past the CSRF check (and fails on the credentials).
    let resp = env.send(sign_in(&[("expo-origin", APP)])).await;
    check_error(&resp, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    let resp = env.send(sign_in(&[("expo-origin", "evil://")])).await;
    check_error(&resp, 403, "INVALID_ORIGIN", "Invalid origin");
    // A real Origin is never replaced.
    let resp = env.send(sign_in(&[("expo-origin", APP), ("origin", "http://evil.example")])).await;
    check_error(&resp, 403, "INVALID_ORIGIN", "Invalid origin");

    let (env, _mock) = deployment(plugin(json!({"disableOriginOverride": true}))).await;
    let resp = env.send(sign_in(&[("expo-origin", APP)])).await;
    check_error(&resp, 403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin");
}

#[tokio::test]
async fn social_sign_in_through_the_proxy_ends_at_the_deep_link_with_the_cookie() {
    let (env, mock) = deployment(plugin(json!({}))).await;
    mock.add_user(MockUser::verified("601", "expo@example.com"));
    let resp = env
        .send(
            Req::post("/sign-in/social", json!({"provider": "github", "callbackURL": "myapp://home"}))
                .header("expo-origin", APP),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let url = resp.json()["url"].as_str().unwrap().to_string();

    // The system browser opens the proxy: the state cookie there, and the provider.
    let encoded = auth::cookies::encode_uri_component(&url);
    let resp = env.send(Req::get(&format!("/expo-authorization-proxy?authorizationURL={encoded}"))).await;
    assert_eq!(location(&resp), url);
    let state_cookie = resp.set_cookies()[0].split(';').next().unwrap().to_string();
    assert!(state_cookie.starts_with("better-auth.state="), "{state_cookie}");

    let path = consent(&url, "expo").await;
    let resp = env.send(Req::get(&path).header("cookie", &state_cookie)).await;
    let to = location(&resp).to_string();
    assert!(to.starts_with("myapp://home?cookie="), "{to}");
    let cookie = query_params(&to).into_iter().find(|(k, _)| k == "cookie").unwrap().1;
    let session_cookie = cookie.split(", ").find(|c| c.starts_with("better-auth.session_token=")).unwrap();
    let pair = session_cookie.split(';').next().unwrap();
    let resp = env.send(Req::get("/get-session").header("cookie", pair)).await;
    assert_eq!(resp.json()["user"]["email"], json!("expo@example.com"));
}

#[tokio::test]
async fn the_proxy_redirects_only_to_the_provider_of_a_live_state() {
    let (env, _mock) = deployment(plugin(json!({}))).await;
    let resp = env
        .send(
            Req::post("/sign-in/social", json!({"provider": "github", "callbackURL": "myapp://home"}))
                .header("expo-origin", APP),
        )
        .await;
    let url = resp.json()["url"].as_str().unwrap().to_string();
    let state = query_params(&url).into_iter().find(|(k, _)| k == "state").unwrap().1;
    let proxy = |target: &str| {
        Req::get(&format!("/expo-authorization-proxy?authorizationURL={}", auth::cookies::encode_uri_component(target)))
    };
    // Elsewhere with a live state, a made-up state, no state: refused without a redirect or a cookie.
    for target in [
        format!("https://evil.example/authorize?state={state}"),
        url.replace(&state, "0123456789abcdef0123456789abcdef"),
        "https://evil.example/authorize".to_string(),
    ] {
        let resp = env.send(proxy(&target)).await;
        check_error(&resp, 400, "UNEXPECTED_ERROR", "Unexpected error");
        assert!(resp.set_cookies().is_empty());
    }
    let resp = env.send(Req::get("/expo-authorization-proxy")).await;
    assert_eq!((resp.status, resp.json()["code"].clone()), (400, json!("VALIDATION_ERROR")));
    // An expired state is refused too.
    env.advance_secs(601);
    let resp = env.send(proxy(&url)).await;
    check_error(&resp, 400, "UNEXPECTED_ERROR", "Unexpected error");
}

#[tokio::test]
async fn web_callbacks_carry_no_cookie_in_the_url() {
    let (env, mock) = deployment(plugin(json!({}))).await;
    mock.add_user(MockUser::verified("602", "web@example.com"));
    let mut browser = env.browser();
    let resp = browser.post("/sign-in/social", json!({"provider": "github", "callbackURL": "/dashboard"})).await;
    let path = consent(resp.json()["url"].as_str().unwrap(), "web").await;
    let resp = browser.get(&path).await;
    assert_eq!(location(&resp), "/dashboard");
}
