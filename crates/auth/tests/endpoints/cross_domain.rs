//! The crossDomain plugin: cookies through `Better-Auth-Cookie` / `Set-Better-Auth-Cookie`, relative callback URLs
//! made absolute on `siteUrl`, the OAuth state kept server-side, and one-time tokens after OAuth callbacks
//! (single use, expiring, one winner under concurrency).

use crate::harness::*;
use crate::oauth_mock::MockUser;
use crate::social::{consent, deployment, location, query_params};
use auth::adapter::Where;
use auth::models::Verification;
use auth::schema::Model;
use serde_json::{json, Value};

const SPA: &str = "http://spa.example:5173";

fn plugin() -> Value {
    json!({"plugins": {"crossDomain": {"siteUrl": SPA}}})
}

/// A web app on another site, as `crossDomainClient()` behaves: no browser cookies, its stored cookies in
/// `Better-Auth-Cookie` (`; name=value…`, possibly empty), the ones it is sent back taken from
/// `Set-Better-Auth-Cookie` (split on `", "`, as the client splits them).
struct Spa {
    jar: Vec<(String, String)>,
}

impl Spa {
    fn new() -> Spa {
        Spa { jar: Vec::new() }
    }

    fn header(&self) -> String {
        self.jar.iter().map(|(k, v)| format!("; {k}={v}")).collect()
    }

    async fn send(&mut self, env: &Env, req: Req) -> Resp {
        let resp = env.send(req.header("origin", SPA).header("better-auth-cookie", &self.header())).await;
        if let Some(set) = resp.header("set-better-auth-cookie") {
            for cookie in set.split(", ") {
                let (name, value) = cookie.split(';').next().unwrap().split_once('=').unwrap();
                self.jar.retain(|(k, _)| k != name);
                if !cookie.contains("Max-Age=0") {
                    self.jar.push((name.to_string(), value.to_string()));
                }
            }
        }
        resp
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[tokio::test]
async fn cookies_travel_in_better_auth_cookie_headers() {
    let (env, _mock) = deployment(plugin()).await;
    let mut spa = Spa::new();
    let resp = spa
        .send(
            &env,
            Req::post("/sign-up/email", json!({"name": "Spa", "email": "spa@example.com", "password": "password123"})),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    // No Set-Cookie at all: the cookies are in the header the client reads, which CORS exposes to it.
    assert!(resp.set_cookies().is_empty(), "{:?}", resp.set_cookies());
    assert!(resp.header("set-better-auth-cookie").unwrap().starts_with("better-auth.session_token="));
    assert_eq!(resp.header("access-control-allow-origin"), Some(SPA));
    let exposed = resp.header("access-control-expose-headers").unwrap();
    assert!(exposed.contains("Set-Better-Auth-Cookie") && exposed.contains("set-auth-token"), "{exposed}");
    assert!(spa.cookie("better-auth.session_token").is_some());

    // The stored cookie authenticates.
    let resp = spa.send(&env, Req::get("/get-session")).await;
    assert_eq!(resp.json()["user"]["email"], json!("spa@example.com"));

    // An Authorization header wins: the stored cookies are not used (an invalid bearer → no session). Expo native
    // requests are the expo plugin's: the header is ignored. (Sent past the SPA's jar, which would store the
    // cookie-clearing answer as the client does.)
    let stored = spa.header();
    let with_stored = |req: Req| req.header("origin", SPA).header("better-auth-cookie", &stored);
    let resp = env.send(with_stored(Req::get("/get-session").header("authorization", "Bearer not-a-session"))).await;
    assert_eq!(resp.json(), Value::Null);
    let resp = env.send(with_stored(Req::get("/get-session").header("expo-origin", "myapp://"))).await;
    assert_eq!(resp.json(), Value::Null);

    // Requests from other origins are still refused; the site is trusted, but not everything.
    let resp = env
        .send(
            Req::post("/sign-out", json!({}))
                .header("origin", "http://evil.example")
                .header("better-auth-cookie", &spa.header()),
        )
        .await;
    check_error(&resp, 403, "INVALID_ORIGIN", "Invalid origin");

    // Sign-out through the header: the cleared cookies come back in it, and the session is gone.
    let token = spa.cookie("better-auth.session_token").unwrap().to_string();
    let resp = spa.send(&env, Req::post("/sign-out", json!({}))).await;
    assert_eq!(resp.status, 200);
    assert!(resp.header("set-better-auth-cookie").unwrap().contains("better-auth.session_token=; Max-Age=0"));
    assert_eq!(spa.cookie("better-auth.session_token"), None);
    let resp = env
        .send(Req::get("/get-session").header("better-auth-cookie", &format!("; better-auth.session_token={token}")))
        .await;
    assert_eq!(resp.json(), Value::Null);
}

#[tokio::test]
async fn relative_callback_urls_resolve_on_the_site() {
    let (env, _mock) = deployment(plugin()).await;
    let mut spa = Spa::new();
    let body =
        json!({"provider": "github", "callbackURL": "/dash", "newUserCallbackURL": "/new", "errorCallbackURL": "/err"});
    let resp = spa.send(&env, Req::post("/sign-in/social", body)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let state = query_params(resp.json()["url"].as_str().unwrap()).into_iter().find(|(k, _)| k == "state").unwrap().1;
    let row = env.row::<Verification>(&[Where::eq("identifier", state.as_str())]).await.unwrap();
    let data: Value = serde_json::from_str(&row.value).unwrap();
    assert_eq!(data["callbackURL"], json!(format!("{SPA}/dash")));
    assert_eq!(data["newUserURL"], json!(format!("{SPA}/new")));
    assert_eq!(data["errorURL"], json!(format!("{SPA}/err")));

    // Verification mails link back to the site too.
    spa.send(
        &env,
        Req::post("/sign-up/email", json!({"name": "V", "email": "v@example.com", "password": "password123"})),
    )
    .await;
    env.take_mails();
    let resp = spa
        .send(
            &env,
            Req::post("/send-verification-email", json!({"email": "v@example.com", "callbackURL": "/verified"})),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let mails = env.take_mails();
    assert!(mails[0].url.ends_with("&callbackURL=http%3A%2F%2Fspa.example%3A5173%2Fverified"), "{}", mails[0].url);
    // Absolute URLs elsewhere are judged as ever.
    let resp = spa
        .send(&env, Req::post("/sign-in/social", json!({"provider": "github", "callbackURL": "https://evil.example/"})))
        .await;
    check_error(&resp, 403, "INVALID_CALLBACKURL", "Invalid callbackURL");
}

/// Sign-in from the SPA, consent at the mock, and the callback in the browser (no state cookie: another site):
/// the redirect to the SPA with its `?ott=`.
async fn callback_with_ott(env: &Env, login: &str) -> String {
    let mut spa = Spa::new();
    let resp = spa.send(env, Req::post("/sign-in/social", json!({"provider": "github", "callbackURL": "/"}))).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let path = consent(resp.json()["url"].as_str().unwrap(), login).await;
    let resp = env.send(Req::get(&path)).await;
    let to = location(&resp).to_string();
    let prefix = format!("{SPA}/?ott=");
    assert!(to.starts_with(&prefix), "{to}");
    to[prefix.len()..].to_string()
}

#[tokio::test]
async fn oauth_callbacks_hand_a_one_time_token_to_the_site() {
    let (env, mock) = deployment(plugin()).await;
    mock.add_user(MockUser::verified("501", "octo@example.com"));
    let ott = callback_with_ott(&env, "octo").await;
    assert_eq!(ott.len(), 32);
    assert!(ott.chars().all(|c| c.is_ascii_alphanumeric()));
    let row =
        env.row::<Verification>(&[Where::eq("identifier", format!("one-time-token:{ott}").as_str())]).await.unwrap();
    assert_eq!(row.expires_at, (START_NANOS / 1_000_000) as f64 + 180_000.0);

    // Verified once: the session and its cookie (through the header), then "Invalid token".
    let mut spa = Spa::new();
    let resp = spa.send(&env, Req::post("/cross-domain/one-time-token/verify", json!({"token": ott}))).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["user"]["email"], json!("octo@example.com"));
    assert_eq!(resp.json()["session"]["token"].as_str(), Some(row.value.as_str()));
    assert!(spa.cookie("better-auth.session_token").is_some());
    let resp = spa.send(&env, Req::get("/get-session")).await;
    assert_eq!(resp.json()["user"]["email"], json!("octo@example.com"));
    let resp = spa.send(&env, Req::post("/cross-domain/one-time-token/verify", json!({"token": ott}))).await;
    check_error(&resp, 400, "INVALID_TOKEN", "Invalid token");

    let resp = spa.send(&env, Req::post("/cross-domain/one-time-token/verify", json!({}))).await;
    assert_eq!((resp.status, resp.json()["code"].clone()), (400, json!("VALIDATION_ERROR")));
}

#[tokio::test]
async fn one_time_tokens_expire_and_have_one_winner() {
    let (env, mock) = deployment(plugin()).await;
    mock.add_user(MockUser::verified("502", "late@example.com"));
    let ott = callback_with_ott(&env, "late").await;
    env.advance_secs(181);
    let verify =
        |token: &str| Req::post("/cross-domain/one-time-token/verify", json!({"token": token})).header("origin", SPA);
    let resp = env.send(verify(&ott)).await;
    check_error(&resp, 400, "TOKEN_EXPIRED", "Token expired");
    // Spent by the failed attempt, as Better Auth deletes it before the expiry check.
    assert_eq!(
        env.count(Model::Verification, &[Where::eq("identifier", format!("one-time-token:{ott}").as_str())]).await,
        0
    );

    let ott = callback_with_ott(&env, "late").await;
    let attempts: Vec<_> = (0..8).map(|_| env.send(verify(&ott))).collect();
    let statuses: Vec<u16> = futures::future::join_all(attempts).await.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 7, "{statuses:?}");
}

#[tokio::test]
async fn without_the_plugin_the_state_cookie_is_required_and_headers_mean_nothing() {
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser::verified("503", "plain@example.com"));
    let resp = env
        .send(
            Req::post("/sign-in/social", json!({"provider": "github", "callbackURL": "/"})).header("origin", BASE_URL),
        )
        .await;
    let path = consent(resp.json()["url"].as_str().unwrap(), "plain").await;
    // The callback without the state cookie is refused.
    let resp = env.send(Req::get(&path)).await;
    assert!(location(&resp).ends_with("?error=state_mismatch"), "{}", location(&resp));
    let resp = env
        .send(Req::post("/cross-domain/one-time-token/verify", json!({"token": "x"})).header("origin", BASE_URL))
        .await;
    assert_eq!(resp.status, 404);
}
