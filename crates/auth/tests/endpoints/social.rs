//! Social sign-in against the mock provider on 127.0.0.1 (no network): sign-in/social, the callback (every
//! recorded error redirect), link-social, ID-token sign-in, and the security properties — single-use state,
//! PKCE, ID-token checks, no linking of unverified addresses, no redirects followed at the token endpoint.

use crate::harness::*;
use crate::oauth_mock::{Mock, MockUser, Tamper, CLIENT_ID, CLIENT_SECRET};
use auth::adapter::Where;
use auth::config::{AuthConfig, AuthOptions};
use auth::crypto;
use auth::models::{Account, Verification};
use auth::schema::Model;
use serde_json::{json, Value};

const START_SECS: u64 = START_NANOS / 1_000_000_000;

/// The config-file options pointing every provider kind at the mock.
fn providers(mock: &Mock) -> Value {
    json!({
        "socialProviders": {
            "github": {
                "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                "authorizationUrl": mock.url("/authorize"), "tokenUrl": mock.url("/token"),
                "userInfoUrl": mock.url("/user"), "emailsUrl": mock.url("/user/emails"),
            },
            "google": {
                "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                "authorizationUrl": mock.url("/authorize"), "tokenUrl": mock.url("/token"),
                "issuer": mock.base, "jwksUrl": mock.url("/jwks"),
            },
        },
        "genericOAuth": [
            {
                "providerId": "acme", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                "discoveryUrl": mock.url("/.well-known/openid-configuration"),
                "scopes": ["openid", "email", "profile"], "authentication": "basic",
            },
            {
                "providerId": "plain", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                "authorizationUrl": mock.url("/authorize"), "tokenUrl": mock.url("/token"),
                "userInfoUrl": mock.url("/userinfo"), "scopes": ["profile"],
            },
        ],
    })
}

fn apply(config: &mut AuthConfig, options: Value) {
    let options: AuthOptions = serde_json::from_value(options).unwrap();
    config.apply(options);
    config.resolve_social(&|_| None).unwrap();
}

/// A deployment with every provider pointed at a fresh mock; `extra` is merged into the auth options.
pub(crate) async fn deployment(extra: Value) -> (Env, Mock) {
    let mock = Mock::start(START_SECS).await;
    let mut options = providers(&mock);
    for (k, v) in extra.as_object().unwrap() {
        options[k] = v.clone();
    }
    let env = Env::with(|config| apply(config, options)).await;
    (env, mock)
}

/// Follows an authorization URL at the mock as `login` (the mock answers with the redirect a consent would
/// give); returns the callback path relative to the base path.
pub(crate) async fn consent(url: &str, login: &str) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp = client.get(format!("{url}&login={login}")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302, "authorize: {}", resp.text().await.unwrap());
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    location.strip_prefix(AUTH_BASE).unwrap_or_else(|| panic!("redirect_uri {location}")).to_string()
}

/// sign-in/social, then the provider's consent: the callback path.
async fn start(browser: &mut Browser<'_>, body: Value, login: &str) -> String {
    let resp = browser.post("/sign-in/social", body).await;
    assert_eq!(resp.status, 200, "sign-in/social: {}", resp.text());
    consent(resp.json()["url"].as_str().unwrap(), login).await
}

pub(crate) fn query_params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            let v = percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8().unwrap().into_owned();
            (k.to_string(), v)
        })
        .collect()
}

pub(crate) fn location(resp: &Resp) -> &str {
    assert_eq!(resp.status, 302, "expected a redirect: {} {}", resp.status, resp.text());
    resp.header("location").unwrap()
}

const CLEAR_STATE: &str = "better-auth.state=; Max-Age=0";

#[tokio::test]
async fn github_sign_up_then_sign_in() {
    let (env, mock) = deployment(json!({})).await;
    let mut octo = MockUser::verified("4242", "octo@example.com");
    octo.login = "octocat".into();
    mock.add_user(octo);
    let mut browser = env.browser();

    let resp = browser
        .post(
            "/sign-in/social",
            json!({"provider": "github", "callbackURL": "/dashboard", "newUserCallbackURL": "/welcome"}),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["redirect"], json!(true));
    let url = resp.json()["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}?", mock.url("/authorize"))), "{url}");
    let params = query_params(&url);
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["response_type", "client_id", "state", "scope", "redirect_uri", "code_challenge_method", "code_challenge"]
    );
    assert!(url.contains(
        "&scope=read%3Auser+user%3Aemail&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fapi%2Fauth%2Fcallback%2Fgithub&"
    ));
    let state = params[2].1.clone();
    assert_eq!(state.len(), 32);
    // The state cookie (signed, 1.4.9's Max-Age) and the stored state with the verifier the challenge commits to.
    assert_eq!(
        resp.set_cookies(),
        [format!(
            "better-auth.state={}; Max-Age=300000; Path=/; HttpOnly; SameSite=Lax",
            auth::cookies::encode_uri_component(&crypto::sign_cookie_value(&state, &secret()))
        )]
    );
    let row = env.row::<Verification>(&[Where::eq("identifier", state.as_str())]).await.unwrap();
    let data: Value = serde_json::from_str(&row.value).unwrap();
    assert_eq!(data["callbackURL"], json!("/dashboard"));
    assert_eq!(data["newUserURL"], json!("/welcome"));
    assert_eq!(data["state"], json!(state));
    assert_eq!(data["providerId"], json!("github"));
    let verifier = data["codeVerifier"].as_str().unwrap();
    assert_eq!(verifier.len(), 128);
    assert_eq!(params[6].1, crypto::pkce_challenge_s256(verifier));
    assert_eq!(row.expires_at, (START_NANOS / 1_000_000) as f64 + 600_000.0);

    // The callback: a new user, so the new-user URL; the state row is gone and its cookie cleared.
    let path = consent(&url, "octocat").await;
    let resp = browser.get(&path).await;
    assert_eq!(location(&resp), "/welcome");
    let cookies = resp.set_cookies();
    assert_eq!(cookies[0], CLEAR_STATE);
    assert!(cookies[1].starts_with("better-auth.session_token="), "{cookies:?}");
    assert_eq!(env.count(Model::Verification, &[Where::eq("identifier", state.as_str())]).await, 0);

    // What went to the provider: the recorded 1.4.9 token request, then the profile with GitHub's user agent.
    let requests = mock.token_requests();
    let fields: Vec<&str> = requests[0].1.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(fields, ["grant_type", "code", "code_verifier", "redirect_uri", "client_id", "client_secret"]);
    assert_eq!(requests[0].0["accept"], "application/json");
    assert_eq!(requests[0].0["content-type"], "application/x-www-form-urlencoded");
    let profile_paths: Vec<String> = mock.profile_requests().iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(profile_paths, ["/user", "/user/emails"]);
    assert!(mock.profile_requests().iter().all(|(_, h)| h["user-agent"] == "better-auth"));

    // The session is the new user: the primary verified address (the profile showed none), the login as name.
    let session = browser.session().await;
    assert_eq!(
        redact(session["user"].clone()),
        json!({
            "id": "<id>", "name": "octocat", "email": "octo@example.com", "emailVerified": true,
            "image": "https://avatars.example/u/4242", "createdAt": START_ISO, "updatedAt": START_ISO,
        })
    );
    let user_id = session["user"]["id"].as_str().unwrap().to_string();
    let account = env.row::<Account>(&[Where::eq("providerId", "github")]).await.unwrap();
    assert_eq!((account.account_id.as_str(), account.user_id.as_str()), ("4242", user_id.as_str()));
    assert_eq!(account.scope.as_deref(), Some("read:user,user:email"));
    // Tokens at rest are encrypted with the secret (Better Auth's encryptOAuthTokens format).
    let stored = account.access_token.clone().unwrap();
    assert!(!stored.contains("mock-access"), "{stored}");
    let access = crypto::symmetric_decrypt(&stored, &secret()).unwrap();
    assert!(access.starts_with("mock-access-"), "{access}");
    let refresh = crypto::symmetric_decrypt(account.refresh_token.as_deref().unwrap(), &secret()).unwrap();
    assert_eq!(refresh, format!("{access}-refresh"));
    assert_eq!(account.access_token_expires_at, Some((START_NANOS / 1_000_000) as f64 + 3_600_000.0));

    // Signing in again: the same user and account (tokens refreshed), the plain callback URL, a second session.
    let mut again = env.browser();
    let path = start(
        &mut again,
        json!({"provider": "github", "callbackURL": "/dashboard", "newUserCallbackURL": "/welcome"}),
        "octocat",
    )
    .await;
    let resp = again.get(&path).await;
    assert_eq!(location(&resp), "/dashboard");
    assert_eq!(again.session().await["user"]["id"], json!(user_id));
    assert_eq!(env.count(Model::User, &[]).await, 1);
    let accounts = env.rows::<Account>(&[Where::eq("providerId", "github")]).await;
    assert_eq!(accounts.len(), 1);
    let refreshed = crypto::symmetric_decrypt(accounts[0].access_token.as_deref().unwrap(), &secret()).unwrap();
    assert_ne!(refreshed, access);
    assert_eq!(env.count(Model::Session, &[Where::eq("userId", user_id.as_str())]).await, 2);
}

#[tokio::test]
async fn github_profile_email_is_used_and_its_verification_looked_up() {
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser {
        sub: "7".into(),
        login: "pub".into(),
        name: Some("Pub Lic".into()),
        profile_email: Some("public@example.com".into()),
        emails: vec![("primary@example.com".into(), true, true), ("public@example.com".into(), false, false)],
    });
    let mut browser = env.browser();
    let path = start(&mut browser, json!({"provider": "github"}), "pub").await;
    // No callbackURL: the app's origin.
    assert_eq!(location(&browser.get(&path).await), BASE_URL);
    let user = browser.session().await["user"].clone();
    assert_eq!(
        (&user["email"], &user["emailVerified"], &user["name"]),
        (&json!("public@example.com"), &json!(false), &json!("Pub Lic"))
    );
}

#[tokio::test]
async fn google_oidc_verifies_the_id_token_with_a_nonce() {
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser::verified("google-sub-1", "gina@example.com"));
    let mut browser = env.browser();
    let resp = browser.post("/sign-in/social", json!({"provider": "google", "callbackURL": "/home"})).await;
    let url = resp.json()["url"].as_str().unwrap().to_string();
    let params = query_params(&url);
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "response_type",
            "client_id",
            "state",
            "scope",
            "redirect_uri",
            "code_challenge_method",
            "code_challenge",
            "nonce",
            "include_granted_scopes",
        ]
    );
    assert_eq!(params[3].1, "email profile openid");
    let state = &params[2].1;
    let row = env.row::<Verification>(&[Where::eq("identifier", state.as_str())]).await.unwrap();
    let data: Value = serde_json::from_str(&row.value).unwrap();
    assert_eq!(data["nonce"].as_str(), Some(params[7].1.as_str()));

    let path = consent(&url, "gina").await;
    assert_eq!(location(&browser.get(&path).await), "/home");
    let user = browser.session().await["user"].clone();
    assert_eq!(
        redact(user),
        json!({
            "id": "<id>", "name": "gina", "email": "gina@example.com", "emailVerified": true,
            "image": "https://avatars.example/google-sub-1", "createdAt": START_ISO, "updatedAt": START_ISO,
        })
    );
    let account = env.row::<Account>(&[Where::eq("providerId", "google")]).await.unwrap();
    assert_eq!(account.account_id, "google-sub-1");
    assert!(account.id_token.is_some());
    // Google and the generic OIDC provider never call a profile endpoint: the verified ID token is the profile.
    assert!(mock.profile_requests().is_empty());
}

#[tokio::test]
async fn generic_oidc_provider_from_discovery() {
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser::verified("acme-9", "ada@example.com"));
    let mut browser = env.browser();
    let resp = browser.post("/sign-in/social", json!({"provider": "acme", "callbackURL": "/in"})).await;
    let url = resp.json()["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}?", mock.url("/authorize"))), "{url}");
    assert!(url.contains(
        "&scope=openid+email+profile&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fapi%2Fauth%2Fcallback%2Facme&"
    ));
    assert!(url.contains("&nonce="), "{url}");
    let path = consent(&url, "ada").await;
    assert_eq!(location(&browser.get(&path).await), "/in");
    assert_eq!(browser.session().await["user"]["email"], json!("ada@example.com"));
    // Client authentication by HTTP Basic: no secret in the form.
    let (headers, form) = mock.token_requests().pop().unwrap();
    assert!(headers["authorization"].to_str().unwrap().starts_with("Basic "));
    assert!(form.iter().all(|(k, _)| k != "client_secret" && k != "client_id"));
    let account = env.row::<Account>(&[Where::eq("providerId", "acme")]).await.unwrap();
    assert_eq!(account.account_id, "acme-9");
}

#[tokio::test]
async fn generic_oauth2_provider_reads_the_userinfo_endpoint() {
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser::verified("plain-1", "pat@example.com"));
    // The ID token this provider gets cannot be verified (no issuer or keys configured): it is ignored.
    mock.tamper(Tamper { foreign_key: true, ..Tamper::default() });
    let mut browser = env.browser();
    let path = start(&mut browser, json!({"provider": "plain", "callbackURL": "/in"}), "pat").await;
    assert_eq!(location(&browser.get(&path).await), "/in");
    let user = browser.session().await["user"].clone();
    assert_eq!((&user["email"], &user["emailVerified"]), (&json!("pat@example.com"), &json!(true)));
    let paths: Vec<String> = mock.profile_requests().iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(paths, ["/userinfo"]);
    assert_eq!(env.row::<Account>(&[Where::eq("providerId", "plain")]).await.unwrap().account_id, "plain-1");
}

#[tokio::test]
async fn missing_unknown_and_mismatched_state() {
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser::verified("1", "s@example.com"));
    let mut browser = env.browser();
    let body = json!({"provider": "github", "callbackURL": "/dashboard", "errorCallbackURL": "/auth-error"});
    let path = start(&mut browser, body, "s").await;

    // No state at all: 1.4.9's `?state=state_not_found`, always to the default error page.
    let resp = browser.get("/callback/github?code=abc").await;
    assert_eq!(location(&resp), "http://localhost:3000/api/auth/error?state=state_not_found");
    // A state nobody issued.
    let resp = browser.get("/callback/github?code=abc&state=unknownstate").await;
    assert_eq!(location(&resp), "http://localhost:3000/api/auth/error?error=please_restart_the_process");
    assert!(resp.set_cookies().is_empty());
    // The right state from a browser without the state cookie (login CSRF): refused, the row is kept.
    let mut stranger = env.browser();
    let resp = stranger.get(&path).await;
    assert_eq!(location(&resp), "http://localhost:3000/api/auth/error?error=state_mismatch");
    assert!(resp.set_cookies().is_empty());
    // …and with another flow's state cookie.
    let mut other = env.browser();
    start(&mut other, json!({"provider": "github"}), "s").await;
    let resp = other.get(&path).await;
    assert_eq!(location(&resp), "http://localhost:3000/api/auth/error?error=state_mismatch");
    assert_eq!(env.count(Model::Session, &[]).await, 0);
    assert!(mock.token_requests().is_empty());

    // The owner still completes it.
    assert_eq!(location(&browser.get(&path).await), "/dashboard");
}

#[tokio::test]
async fn a_state_is_consumed_exactly_once() {
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser::verified("1", "once@example.com"));
    let mut browser = env.browser();
    let path = start(&mut browser, json!({"provider": "github", "callbackURL": "/dashboard"}), "once").await;
    let cookie = browser.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");

    // Eight concurrent callbacks with the same state and cookie: one signs in, the others must restart.
    let attempts = (0..8).map(|_| env.send(Req::get(&path).header("cookie", &cookie)));
    let answers = futures::future::join_all(attempts).await;
    let mut locations: Vec<&str> = answers.iter().map(location).collect();
    locations.sort();
    let restart = "http://localhost:3000/api/auth/error?error=please_restart_the_process";
    assert_eq!(locations, [vec!["/dashboard"], vec![restart; 7]].concat());
    assert_eq!(mock.token_requests().len(), 1);
    assert_eq!(env.count(Model::Session, &[]).await, 1);

    // A replay later is refused the same way.
    let resp = browser.get(&path).await;
    assert_eq!(location(&resp), restart);
    assert_eq!(env.count(Model::Session, &[]).await, 1);
}

#[tokio::test]
async fn an_expired_state_must_restart() {
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser::verified("1", "late@example.com"));
    let mut browser = env.browser();
    let path = start(&mut browser, json!({"provider": "github", "errorCallbackURL": "/auth-error"}), "late").await;
    env.advance_secs(601);
    let resp = browser.get(&path).await;
    assert_eq!(location(&resp), "http://localhost:3000/api/auth/error?error=please_restart_the_process");
    assert_eq!(resp.set_cookies(), [CLEAR_STATE]);
    assert!(mock.token_requests().is_empty());

    // Abandoned flows do not pile up: each new sign-in sweeps expired state rows.
    for _ in 0..12 {
        browser.post("/sign-in/social", json!({"provider": "github"})).await;
    }
    assert_eq!(env.count(Model::Verification, &[]).await, 12);
    env.advance_secs(601);
    browser.post("/sign-in/social", json!({"provider": "github"})).await;
    assert_eq!(env.count(Model::Verification, &[]).await, 12 - 8 + 1);
    browser.post("/sign-in/social", json!({"provider": "github"})).await;
    assert_eq!(env.count(Model::Verification, &[]).await, 2);
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_an_invalid_code() {
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser::verified("1", "pkce@example.com"));
    let mut browser = env.browser();
    let resp = browser.post("/sign-in/social", json!({"provider": "github", "errorCallbackURL": "/auth-error"})).await;
    let url = resp.json()["url"].as_str().unwrap().to_string();
    // An attacker's challenge in place of ours: the code it yields does not redeem with our verifier.
    let (head, challenge) = url.rsplit_once("code_challenge=").unwrap();
    assert_eq!(challenge.len(), 43);
    let forged = format!("{head}code_challenge={}", crypto::pkce_challenge_s256("attacker's verifier"));
    let path = consent(&forged, "pkce").await;
    let resp = browser.get(&path).await;
    assert_eq!(location(&resp), "/auth-error?error=invalid_code");
    assert_eq!(resp.set_cookies(), [CLEAR_STATE]);
    assert_eq!(mock.token_requests().len(), 1);
    assert_eq!(env.count(Model::User, &[]).await, 0);
}

#[tokio::test]
async fn provider_errors_and_missing_codes_redirect_to_the_error_url() {
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser::verified("1", "e@example.com"));
    let mut browser = env.browser();
    let body = json!({"provider": "github", "callbackURL": "/dashboard", "errorCallbackURL": "/auth-error"});
    let path = start(&mut browser, body.clone(), "e").await;
    let state = query_params(&path).into_iter().find(|(k, _)| k == "state").unwrap().1;
    let resp = browser
        .get(&format!("/callback/github?error=access_denied&error_description=User%20denied&state={state}"))
        .await;
    assert_eq!(location(&resp), "/auth-error?error=access_denied&error_description=User+denied");
    assert_eq!(resp.set_cookies(), [CLEAR_STATE]);

    // No code.
    let path = start(&mut browser, body.clone(), "e").await;
    let state = query_params(&path).into_iter().find(|(k, _)| k == "state").unwrap().1;
    let resp = browser.get(&format!("/callback/github?state={state}")).await;
    assert_eq!(location(&resp), "/auth-error?error=no_code");

    // A code the provider never issued; without errorCallbackURL the default error page.
    let path = start(&mut browser, json!({"provider": "github"}), "e").await;
    let state = query_params(&path).into_iter().find(|(k, _)| k == "state").unwrap().1;
    let resp = browser.get(&format!("/callback/github?code=bad-code&state={state}")).await;
    assert_eq!(location(&resp), "http://localhost:3000/api/auth/error?error=invalid_code");

    // A state issued for github presented at another provider's callback path: an unknown provider, or a known
    // one the state was not issued for (a mix-up: the code is never sent to the wrong token endpoint).
    let path = start(&mut browser, body.clone(), "e").await;
    let resp = browser.get(&path.replace("/callback/github", "/callback/nope")).await;
    assert_eq!(location(&resp), "/auth-error?error=oauth_provider_not_found");
    let path = start(&mut browser, body, "e").await;
    let exchanges = mock.token_requests().len();
    let resp = browser.get(&path.replace("/callback/github", "/callback/google")).await;
    assert_eq!(location(&resp), "/auth-error?error=state_mismatch");
    assert_eq!(mock.token_requests().len(), exchanges);
    assert_eq!(env.count(Model::User, &[]).await, 0);
}

#[tokio::test]
async fn id_tokens_with_a_wrong_issuer_audience_nonce_key_or_expiry_are_refused() {
    let cases = [
        ("iss", Tamper { iss: Some("https://evil.example".into()), ..Tamper::default() }),
        ("aud", Tamper { aud: Some("someone-else".into()), ..Tamper::default() }),
        ("nonce", Tamper { nonce: Some("replayed-nonce".into()), ..Tamper::default() }),
        ("expired", Tamper { exp_offset: Some(-3600), ..Tamper::default() }),
        ("signature", Tamper { foreign_key: true, ..Tamper::default() }),
        ("missing", Tamper { omit: true, ..Tamper::default() }),
    ];
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser::verified("g-1", "idt@example.com"));
    for provider in ["google", "acme"] {
        for (what, tamper) in &cases {
            if provider == "acme" && *what == "missing" {
                continue; // without an ID token a generic provider reads userinfo (tested elsewhere)
            }
            mock.tamper(tamper.clone());
            let mut browser = env.browser();
            let body = json!({"provider": provider, "callbackURL": "/in", "errorCallbackURL": "/auth-error"});
            let path = start(&mut browser, body, "idt").await;
            let resp = browser.get(&path).await;
            assert_eq!(location(&resp), "/auth-error?error=unable_to_get_user_info", "{provider} {what}");
            assert_eq!(resp.set_cookies(), [CLEAR_STATE], "{provider} {what}");
        }
    }
    assert_eq!(env.count(Model::User, &[]).await, 0);
    assert_eq!(env.count(Model::Session, &[]).await, 0);
    // The untampered token passes (the checks above failed for their one reason).
    mock.tamper(Tamper::default());
    let mut browser = env.browser();
    let path = start(&mut browser, json!({"provider": "google", "callbackURL": "/in"}), "idt").await;
    assert_eq!(location(&browser.get(&path).await), "/in");
}

#[tokio::test]
async fn an_unverified_address_never_links_into_an_existing_account() {
    let (env, mock) = deployment(json!({})).await;
    let (_alice, alice_user) = env.signed_up("Alice", "alice@example.com").await;
    let alice_id = alice_user["id"].as_str().unwrap().to_string();
    mock.add_user(MockUser::unverified("666", "alice@example.com"));

    for provider in ["github", "plain"] {
        let mut attacker = env.browser();
        let body = json!({"provider": provider, "callbackURL": "/dashboard", "errorCallbackURL": "/auth-error"});
        let path = start(&mut attacker, body, "alice").await;
        let resp = attacker.get(&path).await;
        assert_eq!(location(&resp), "/auth-error?error=account_not_linked", "{provider}");
        assert_eq!(resp.set_cookies(), [CLEAR_STATE]);
        assert!(attacker.cookie("better-auth.session_token").is_none());
    }
    assert_eq!(env.count(Model::Account, &[Where::eq("userId", alice_id.as_str())]).await, 1);
    assert_eq!(env.count(Model::Session, &[Where::eq("userId", alice_id.as_str())]).await, 1);

    // Alice never verified her own address, so even a provider-verified one does not link by default (Better Auth
    // 1.7's requireLocalEmailVerified): whoever registered the address first need not be its owner.
    mock.add_user(MockUser::verified("4242", "alice@example.com"));
    let mut browser = env.browser();
    let body = json!({"provider": "github", "callbackURL": "/dashboard", "errorCallbackURL": "/auth-error"});
    let path = start(&mut browser, body, "alice").await;
    assert_eq!(location(&browser.get(&path).await), "/auth-error?error=account_not_linked");
    assert_eq!(env.count(Model::Account, &[Where::eq("userId", alice_id.as_str())]).await, 1);
}

#[tokio::test]
async fn a_verified_provider_address_links_into_an_unverified_user_only_when_allowed() {
    let (env, mock) = deployment(json!({"account": {"accountLinking": {"requireLocalEmailVerified": false}}})).await;
    let (_alice, alice_user) = env.signed_up("Alice", "alice@example.com").await;
    let alice_id = alice_user["id"].as_str().unwrap().to_string();
    // A verified address at the provider links (and marks the user verified): Better Auth 1.4.9's behaviour.
    mock.add_user(MockUser::verified("4242", "alice@example.com"));
    let mut browser = env.browser();
    let path = start(&mut browser, json!({"provider": "github", "callbackURL": "/dashboard"}), "alice").await;
    assert_eq!(location(&browser.get(&path).await), "/dashboard");
    let session = browser.session().await;
    assert_eq!(session["user"]["id"], json!(alice_id));
    assert_eq!(session["user"]["emailVerified"], json!(true));
    assert_eq!(env.count(Model::Account, &[Where::eq("userId", alice_id.as_str())]).await, 2);
}

/// `additionalData` is merged into the stored state, but never over what the server decides: a `link` smuggled in
/// by a caller without a session must not attach the caller's provider account to somebody else's user, and
/// redirect targets must not bypass the trusted-origin check.
#[tokio::test]
async fn additional_data_cannot_set_the_link_target_or_the_redirects() {
    let (env, mock) = deployment(json!({"account": {"accountLinking": {"requireLocalEmailVerified": false}}})).await;
    let (_victim, victim_user) = env.signed_up("Victim", "victim@example.com").await;
    let victim_id = victim_user["id"].as_str().unwrap().to_string();
    mock.add_user(MockUser::verified("31337", "mallory@example.com"));
    let mut attacker = env.browser();
    let body = json!({
        "provider": "github",
        "callbackURL": "/dashboard",
        "additionalData": {
            "link": {"userId": victim_id, "email": "mallory@example.com"},
            "errorURL": "https://evil.example/phish",
            "newUserURL": "https://evil.example/welcome",
            "codeVerifier": "attacker-chosen-verifier",
        },
    });
    let path = start(&mut attacker, body, "mallory").await;
    let resp = attacker.get(&path).await;
    // A plain sign-up of Mallory's own account, redirected to the validated callback URL.
    assert_eq!(location(&resp), "/dashboard");
    let session = attacker.session().await;
    assert_ne!(session["user"]["id"], json!(victim_id), "the attacker is not signed in as the victim");
    assert_eq!(session["user"]["email"], json!("mallory@example.com"));
    assert_eq!(env.count(Model::Account, &[Where::eq("userId", victim_id.as_str())]).await, 1);
}

#[tokio::test]
async fn trusted_providers_link_unverified_addresses_and_linking_can_be_turned_off() {
    let linking = json!({"trustedProviders": ["github"], "requireLocalEmailVerified": false});
    let (env, mock) = deployment(json!({"account": {"accountLinking": linking}})).await;
    env.signed_up("Bea", "bea@example.com").await;
    mock.add_user(MockUser::unverified("5", "bea@example.com"));
    let mut browser = env.browser();
    let path = start(&mut browser, json!({"provider": "github", "callbackURL": "/d"}), "bea").await;
    assert_eq!(location(&browser.get(&path).await), "/d");
    // Trusted, but the address stays unverified.
    assert_eq!(browser.session().await["user"]["emailVerified"], json!(false));

    let (env, mock) = deployment(json!({"account": {"accountLinking": {"enabled": false}}})).await;
    env.signed_up("Cy", "cy@example.com").await;
    mock.add_user(MockUser::verified("6", "cy@example.com"));
    let mut browser = env.browser();
    let path = start(&mut browser, json!({"provider": "github", "errorCallbackURL": "/e"}), "cy").await;
    assert_eq!(location(&browser.get(&path).await), "/e?error=account_not_linked");
}

#[tokio::test]
async fn a_token_endpoint_that_redirects_is_not_followed() {
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser::verified("1", "r@example.com"));
    mock.redirect_token_endpoint();
    let mut browser = env.browser();
    let body = json!({"provider": "github", "callbackURL": "/dashboard", "errorCallbackURL": "/auth-error"});
    let path = start(&mut browser, body, "r").await;
    let resp = browser.get(&path).await;
    assert_eq!(location(&resp), "/auth-error?error=invalid_code");
    assert_eq!(mock.token_requests().len(), 1);
    // The code and client secret never reached the redirect target.
    assert_eq!(mock.redirect_target_hits(), 0);
    assert_eq!(env.count(Model::User, &[]).await, 0);
}

#[tokio::test]
async fn sign_in_social_request_errors() {
    let (env, _mock) = deployment(json!({})).await;
    let mut browser = env.browser();
    for provider in ["nope", "apple"] {
        let resp = browser.post("/sign-in/social", json!({"provider": provider, "callbackURL": "/dashboard"})).await;
        check_error(&resp, 404, "PROVIDER_NOT_FOUND", "Provider not found");
    }
    let resp =
        browser.post("/sign-in/social", json!({"provider": "github", "callbackURL": "https://evil.example/cb"})).await;
    check_error(&resp, 403, "INVALID_CALLBACKURL", "Invalid callbackURL");
    let resp =
        browser.post("/sign-in/social", json!({"provider": "github", "errorCallbackURL": "//evil.example"})).await;
    check_error(&resp, 403, "INVALID_ERRORCALLBACKURL", "Invalid errorCallbackURL");
    let resp = browser
        .post("/sign-in/social", json!({"provider": "github", "newUserCallbackURL": "https://evil.example"}))
        .await;
    check_error(&resp, 403, "INVALID_NEWUSERCALLBACKURL", "Invalid newUserCallbackURL");
    let resp = browser.post("/sign-in/social", json!({})).await;
    check_error(&resp, 400, "VALIDATION_ERROR", "[body.provider] Invalid input: expected string, received undefined");
    let resp = browser.post("/sign-in/social", json!({"provider": "github", "scopes": "repo"})).await;
    assert_eq!(resp.status, 400);
    let resp = browser.post("/sign-in/social", json!({"provider": "github", "idToken": {"token": "x"}})).await;
    check_error(&resp, 404, "ID_TOKEN_NOT_SUPPORTED", "id_token not supported");
    assert_eq!(env.count(Model::Verification, &[]).await, 0);

    // disableRedirect, extra scopes and a login hint (recorded shape).
    let resp = browser
        .post(
            "/sign-in/social",
            json!({"provider": "github", "callbackURL": "/dashboard", "disableRedirect": true, "scopes": ["repo"], "loginHint": "alice"}),
        )
        .await;
    assert_eq!(resp.json()["redirect"], json!(false));
    let url = resp.json()["url"].as_str().unwrap().to_string();
    assert!(url.contains("&scope=read%3Auser+user%3Aemail+repo&redirect_uri="), "{url}");
    assert!(url.contains("%2Fgithub&login_hint=alice&code_challenge_method=S256&"), "{url}");

    // Providers that are not configured are not found, even built-in ones.
    let env = Env::new().await;
    let resp = env.browser().post("/sign-in/social", json!({"provider": "github"})).await;
    check_error(&resp, 404, "PROVIDER_NOT_FOUND", "Provider not found");
}

#[tokio::test]
async fn form_post_callbacks_become_gets() {
    let (env, _mock) = deployment(json!({})).await;
    let req = Req::raw_body(
        http::Method::POST,
        "/callback/github",
        "application/x-www-form-urlencoded",
        "code=xyz&state=QSZRxh6FImHsv90bygf7H0yJylj7b_Cu&user=%7B%22name%22%3A%7B%22firstName%22%3A%22A%22%7D%7D",
    )
    .header("origin", "https://appleid.apple.com");
    let resp = env.send(req).await;
    assert_eq!(
        location(&resp),
        "http://localhost:3000/api/auth/callback/github?code=xyz&state=QSZRxh6FImHsv90bygf7H0yJylj7b_Cu&user=%7B%22name%22%3A%7B%22firstName%22%3A%22A%22%7D%7D"
    );
    // With cookies a form post needs a trusted Origin (CSRF).
    let req =
        Req::raw_body(http::Method::POST, "/callback/github", "application/x-www-form-urlencoded", "code=x&state=y")
            .header("cookie", "better-auth.state=abc");
    check_error(&env.send(req).await, 403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin");
}

#[tokio::test]
async fn signup_can_be_disabled_per_provider() {
    let mock = Mock::start(START_SECS).await;
    let mut options = providers(&mock);
    options["socialProviders"]["github"]["disableImplicitSignUp"] = json!(true);
    let env = Env::with(|config| apply(config, options)).await;
    mock.add_user(MockUser::verified("1", "new@example.com"));
    let mut browser = env.browser();
    let path = start(&mut browser, json!({"provider": "github", "errorCallbackURL": "/e"}), "new").await;
    assert_eq!(location(&browser.get(&path).await), "/e?error=signup_disabled");
    // …unless the sign-in explicitly asks to sign up.
    let path =
        start(&mut browser, json!({"provider": "github", "requestSignUp": true, "callbackURL": "/in"}), "new").await;
    assert_eq!(location(&browser.get(&path).await), "/in");
}

#[tokio::test]
async fn link_social_links_lists_and_unlinks() {
    let (env, mock) = deployment(json!({})).await;
    let (mut alice, user) = env.signed_up("Alice", "alice@example.com").await;
    let alice_id = user["id"].as_str().unwrap().to_string();
    mock.add_user(MockUser::verified("4242", "alice@example.com"));
    mock.add_user(MockUser::verified("777", "someone-else@example.com"));

    let resp = alice.post("/link-social", json!({"provider": "github", "callbackURL": "/settings"})).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["redirect"], json!(true));
    let url = resp.json()["url"].as_str().unwrap().to_string();
    let state = query_params(&url)[2].1.clone();
    let row = env.row::<Verification>(&[Where::eq("identifier", state.as_str())]).await.unwrap();
    let data: Value = serde_json::from_str(&row.value).unwrap();
    assert_eq!(data["link"], json!({"email": "alice@example.com", "userId": alice_id}));
    let path = consent(&url, "alice").await;
    let sessions_before = env.count(Model::Session, &[]).await;
    let resp = alice.get(&path).await;
    assert_eq!(location(&resp), "/settings");
    assert_eq!(resp.set_cookies(), [CLEAR_STATE]);
    assert_eq!(env.count(Model::Session, &[]).await, sessions_before, "linking creates no session");

    let resp = alice.get("/list-accounts").await;
    let providers: Vec<(String, Value)> = resp
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["providerId"].as_str().unwrap().to_string(), a["scopes"].clone()))
        .collect();
    assert_eq!(
        providers,
        [("credential".to_string(), json!([])), ("github".to_string(), json!(["read:user", "user:email"]))]
    );

    // Another address at the provider: refused unless different e-mails are allowed.
    let resp = alice.post("/link-social", json!({"provider": "github", "errorCallbackURL": "/e"})).await;
    let path = consent(resp.json()["url"].as_str().unwrap(), "someone-else").await;
    assert_eq!(location(&alice.get(&path).await), "/e?error=email_doesn%27t_match");

    // A provider account that belongs to someone else cannot be linked.
    let (mut bob, _) = env.signed_up("Bob", "bob@example.com").await;
    let resp = bob.post("/link-social", json!({"provider": "github", "errorCallbackURL": "/e"})).await;
    let url = resp.json()["url"].as_str().unwrap().to_string();
    mock.add_user(MockUser { login: "bob-as-alice".into(), ..MockUser::verified("4242", "bob@example.com") });
    let path = consent(&url, "bob-as-alice").await;
    assert_eq!(location(&bob.get(&path).await), "/e?error=account_already_linked_to_different_user");

    // Unlinking: github goes, the last account stays.
    check(&alice.post("/unlink-account", json!({"providerId": "github"})).await, 200, json!({"status": true}));
    let resp = alice.post("/unlink-account", json!({"providerId": "credential"})).await;
    check_error(&resp, 400, "YOU_CANT_UNLINK_YOUR_LAST_ACCOUNT", "You can't unlink your last account");

    // link-social needs a session.
    check_empty(&env.send(Req::post("/link-social", json!({"provider": "github"}))).await, 401);
}

#[tokio::test]
async fn id_token_sign_in_for_oidc_providers() {
    let (env, mock) = deployment(json!({})).await;
    let user = MockUser::verified("g-77", "ivy@example.com");
    let token = mock.sign_id_token(&mock.claims(&user, Some("n-1")));
    let mut browser = env.browser();
    let resp = browser
        .post(
            "/sign-in/social",
            json!({"provider": "google", "idToken": {"token": token, "nonce": "n-1", "accessToken": "at"}}),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.shape();
    assert_eq!(body["redirect"], json!(false));
    assert_eq!(body["token"], json!("<token>"));
    assert_eq!(body["user"]["email"], json!("ivy@example.com"));
    assert_eq!(browser.session().await["user"]["email"], json!("ivy@example.com"));
    let account = env.row::<Account>(&[Where::eq("providerId", "google")]).await.unwrap();
    assert_eq!(crypto::symmetric_decrypt(account.access_token.as_deref().unwrap(), &secret()).unwrap(), "at");

    // A wrong nonce, a foreign audience or an old token: 401 INVALID_TOKEN, nothing created.
    let users = env.count(Model::User, &[]).await;
    let mut claims = mock.claims(&user, Some("n-1"));
    let bad_nonce = json!({"provider": "google", "idToken": {"token": mock.sign_id_token(&claims), "nonce": "n-2"}});
    claims["aud"] = json!("other-client");
    let bad_aud = json!({"provider": "google", "idToken": {"token": mock.sign_id_token(&claims)}});
    let mut old = mock.claims(&user, None);
    old["iat"] = json!(START_SECS - 7200);
    let too_old = json!({"provider": "google", "idToken": {"token": mock.sign_id_token(&old)}});
    for body in [bad_nonce, bad_aud, too_old, json!({"provider": "google", "idToken": {"token": "not.a.jwt"}})] {
        let resp = env.browser().post("/sign-in/social", body).await;
        check_error(&resp, 401, "INVALID_TOKEN", "Invalid token");
    }
    assert_eq!(env.count(Model::User, &[]).await, users);

    // link-social with an ID token: the signed-in user's own (verified) address links at once.
    let (mut jo, jo_user) = env.signed_up("Jo", "jo@example.com").await;
    let jo_token = mock.sign_id_token(&mock.claims(&MockUser::verified("acme-jo", "jo@example.com"), None));
    let resp = jo.post("/link-social", json!({"provider": "acme", "idToken": {"token": jo_token}})).await;
    check(&resp, 200, json!({"url": "", "status": true, "redirect": false}));
    let account = env.row::<Account>(&[Where::eq("providerId", "acme")]).await.unwrap();
    assert_eq!((account.account_id.as_str(), Some(account.user_id.as_str())), ("acme-jo", jo_user["id"].as_str()));
    let stranger = mock.sign_id_token(&mock.claims(&MockUser::verified("acme-x", "x@example.com"), None));
    let resp = jo.post("/link-social", json!({"provider": "acme", "idToken": {"token": stranger}})).await;
    check_error(
        &resp,
        401,
        "ACCOUNT_NOT_LINKED__DIFFERENT_EMAILS_NOT_ALLOWED",
        "Account not linked - different emails not allowed",
    );
}

#[tokio::test]
async fn provider_config_resolution() {
    let lookup_env = |name: &str| match name {
        "GITHUB_CLIENT_ID" => Some("env-id".to_string()),
        "GITHUB_CLIENT_SECRET" => Some("env-secret".to_string()),
        "MY_IDP_CLIENT_ID" => Some("idp-env-id".to_string()),
        _ => None,
    };
    // Env credentials alone enable a built-in provider (and win over the file).
    let mut config = AuthConfig::new(BASE_URL, secret());
    config.resolve_social(&lookup_env).unwrap();
    assert_eq!(config.social.len(), 1);
    assert_eq!((config.social[0].id.as_str(), config.social[0].client_id.as_str()), ("github", "env-id"));
    assert_eq!(config.social[0].token_url.as_deref(), Some("https://github.com/login/oauth/access_token"));

    let options: AuthOptions = serde_json::from_value(json!({
        "socialProviders": {"github": {"clientId": "file-id", "clientSecret": "file-secret", "scope": ["repo"]}},
        "genericOAuth": [{"providerId": "my-idp", "clientId": "file-idp", "discoveryUrl": "https://idp.example/.well-known/openid-configuration"}],
    }))
    .unwrap();
    let mut config = AuthConfig::new(BASE_URL, secret());
    config.apply(options.clone());
    config.resolve_social(&lookup_env).unwrap();
    assert_eq!(config.social[0].client_id, "env-id");
    assert_eq!(config.social[0].scopes, ["read:user", "user:email", "repo"]);
    assert_eq!((config.social[1].id.as_str(), config.social[1].client_id.as_str()), ("my-idp", "idp-env-id"));
    let mut config = AuthConfig::new(BASE_URL, secret());
    config.apply(options);
    config.resolve_social(&|_| None).unwrap();
    assert_eq!(config.social[0].client_id, "file-id");

    // Errors name what is missing.
    for (options, message) in [
        (json!({"socialProviders": {"google": {"clientId": "x"}}}), "socialProviders.google.clientSecret is missing"),
        (
            json!({"genericOAuth": [{"providerId": "a", "clientId": "x"}]}),
            "set discoveryUrl, or authorizationUrl and tokenUrl",
        ),
        (
            json!({"genericOAuth": [{"providerId": "github", "clientId": "x", "discoveryUrl": "https://x"}],
                "socialProviders": {"github": {"clientId": "x", "clientSecret": "y"}}}),
            "configured twice",
        ),
        (
            json!({"genericOAuth": [{"providerId": "a", "clientId": "x", "discoveryUrl": "ftp://x"}]}),
            "not an http(s) URL",
        ),
    ] {
        let mut config = AuthConfig::new(BASE_URL, secret());
        config.apply(serde_json::from_value(options).unwrap());
        let err = config.resolve_social(&|_| None).unwrap_err();
        assert!(err.contains(message), "{err}");
    }
    assert!(serde_json::from_value::<AuthOptions>(json!({"socialProviders": {"discord": {}}})).is_err());
}

#[tokio::test]
async fn tokens_are_stored_plain_when_encryption_is_off() {
    let (env, mock) = deployment(json!({"account": {"encryptOAuthTokens": false}})).await;
    mock.add_user(MockUser::verified("1", "plain@example.com"));
    let mut browser = env.browser();
    let path = start(&mut browser, json!({"provider": "github"}), "plain").await;
    browser.get(&path).await;
    let account = env.row::<Account>(&[Where::eq("providerId", "github")]).await.unwrap();
    assert!(account.access_token.unwrap().starts_with("mock-access-"));
}

#[tokio::test]
async fn generic_oauth_plugin_endpoints() {
    let (env, mock) = deployment(json!({})).await;
    mock.add_user(MockUser::verified("acme-1", "gen@example.com"));
    let mut browser = env.browser();

    // sign-in/oauth2 {providerId}: the plugin's redirect URI, then its callback.
    let resp = browser.post("/sign-in/oauth2", json!({"providerId": "acme", "callbackURL": "/in"})).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["redirect"], json!(true));
    let url = resp.json()["url"].as_str().unwrap().to_string();
    assert!(
        url.contains("&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fapi%2Fauth%2Foauth2%2Fcallback%2Facme&"),
        "{url}"
    );
    let path = consent(&url, "gen").await;
    assert!(path.starts_with("/oauth2/callback/acme?code="), "{path}");
    assert_eq!(location(&browser.get(&path).await), "/in");
    assert_eq!(browser.session().await["user"]["email"], json!("gen@example.com"));

    // Only genericOAuth providers are the plugin's.
    let resp = browser.post("/sign-in/oauth2", json!({"providerId": "github"})).await;
    check_error(&resp, 400, "PROVIDER_CONFIG_NOT_FOUND", "No config found for provider github");
    let resp = env.send(Req::get("/oauth2/callback/github?code=x&state=y")).await;
    check_error(&resp, 400, "PROVIDER_CONFIG_NOT_FOUND", "No config found for provider github");

    // Provider errors and missing codes, before the state.
    let resp = env.send(Req::get("/oauth2/callback/acme?error=access_denied&error_description=nope")).await;
    assert_eq!(location(&resp), "http://localhost:3000/api/auth/error?error=access_denied&error_description=nope");
    let resp = env.send(Req::get("/oauth2/callback/acme?state=abc")).await;
    assert_eq!(location(&resp), "http://localhost:3000/api/auth/error?error=oAuth_code_missing");

    // The plugin's names for a failed exchange and an unusable profile.
    let body = json!({"providerId": "acme", "errorCallbackURL": "/e"});
    let resp = browser.post("/sign-in/oauth2", body.clone()).await;
    let forged = resp.json()["url"].as_str().unwrap().replace("code_challenge=", "code_challenge=x");
    let path = consent(&forged, "gen").await;
    assert_eq!(location(&browser.get(&path).await), "/e?error=oauth_code_verification_failed");
    mock.tamper(Tamper { aud: Some("other".into()), ..Tamper::default() });
    let resp = browser.post("/sign-in/oauth2", body).await;
    let path = consent(resp.json()["url"].as_str().unwrap(), "gen").await;
    assert_eq!(location(&browser.get(&path).await), "/e?error=user_info_is_missing");
    mock.tamper(Tamper::default());

    // A sign-in/social state (redirect URI /callback/acme) at the plugin's callback: the redirect URI no longer
    // matches what the code was issued for, so the provider refuses the exchange.
    let resp = browser.post("/sign-in/social", json!({"provider": "acme", "errorCallbackURL": "/e"})).await;
    let path = consent(resp.json()["url"].as_str().unwrap(), "gen").await;
    let resp = browser.get(&path.replace("/callback/acme", "/oauth2/callback/acme")).await;
    assert_eq!(location(&resp), "/e?error=oauth_code_verification_failed");

    // oauth2/link: a signed-in user links the provider account with the same (verified) address.
    let (mut lin, lin_user) = env.signed_up("Lin", "lin@example.com").await;
    mock.add_user(MockUser::verified("acme-lin", "lin@example.com"));
    let resp = lin.post("/oauth2/link", json!({"providerId": "acme"})).await;
    check_error(
        &resp,
        400,
        "VALIDATION_ERROR",
        "[body.callbackURL] Invalid input: expected string, received undefined",
    );
    let resp = lin.post("/oauth2/link", json!({"providerId": "acme", "callbackURL": "/settings"})).await;
    assert_eq!(resp.json()["redirect"], json!(true));
    let path = consent(resp.json()["url"].as_str().unwrap(), "lin").await;
    assert_eq!(location(&lin.get(&path).await), "/settings");
    let account = env.row::<Account>(&[Where::eq("accountId", "acme-lin")]).await.unwrap();
    assert_eq!(Some(account.user_id.as_str()), lin_user["id"].as_str());
    check_empty(&env.send(Req::post("/oauth2/link", json!({"providerId": "acme", "callbackURL": "/x"}))).await, 401);
}

#[tokio::test]
async fn provider_token_helpers() {
    let (env, mock) = deployment(json!({})).await;
    let mut octo = MockUser::verified("4242", "tok@example.com");
    octo.login = "tok".into();
    mock.add_user(octo);
    mock.add_user(MockUser { login: "tok-google".into(), ..MockUser::verified("g-9", "tok@example.com") });
    mock.tamper(Tamper { omit: true, ..Tamper::default() }); // GitHub issues no ID token
    let mut browser = env.browser();
    let path = start(&mut browser, json!({"provider": "github", "callbackURL": "/d"}), "tok").await;
    assert_eq!(location(&browser.get(&path).await), "/d");
    let account = env.row::<Account>(&[Where::eq("providerId", "github")]).await.unwrap();
    let access = crypto::symmetric_decrypt(account.access_token.as_deref().unwrap(), &secret()).unwrap();

    // The stored (encrypted) token, in clear, for the session's own account.
    let resp = browser.post("/get-access-token", json!({"providerId": "github"})).await;
    check(
        &resp,
        200,
        json!({"accessToken": access, "accessTokenExpiresAt": iso_after(3600), "scopes": ["read:user", "user:email"]}),
    );
    let resp = browser.post("/get-access-token", json!({"providerId": "github", "accountId": account.id})).await;
    assert_eq!(resp.json()["accessToken"], json!(access));

    // The provider's current profile.
    let resp = browser.get("/account-info?accountId=4242").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["user"],
        json!({"id": "4242", "name": "tok", "email": "tok@example.com", "image": "https://avatars.example/u/4242", "emailVerified": true})
    );
    assert_eq!(resp.json()["data"]["login"], json!("tok"));

    // Within five seconds of expiry the token is refreshed first (and stored encrypted).
    env.advance_secs(3600 - 3);
    let resp = browser.post("/get-access-token", json!({"providerId": "github"})).await;
    let refreshed = resp.json()["accessToken"].as_str().unwrap().to_string();
    assert!(refreshed.starts_with("mock-refreshed-"), "{}", resp.text());
    assert_eq!(resp.json()["accessTokenExpiresAt"], json!(iso_after(3600 - 3 + 7200)));
    let grants: Vec<String> = mock
        .token_requests()
        .iter()
        .map(|(_, form)| form.iter().find(|(k, _)| k == "grant_type").unwrap().1.clone())
        .collect();
    assert_eq!(grants, ["authorization_code", "refresh_token"]);
    let row = env.row::<Account>(&[Where::eq("providerId", "github")]).await.unwrap();
    assert_eq!(crypto::symmetric_decrypt(row.access_token.as_deref().unwrap(), &secret()).unwrap(), refreshed);
    assert_eq!(
        crypto::symmetric_decrypt(row.refresh_token.as_deref().unwrap(), &secret()).unwrap(),
        format!("{refreshed}-refresh")
    );

    // refresh-token refreshes unconditionally.
    let resp = browser.post("/refresh-token", json!({"providerId": "github"})).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.json();
    assert!(body["accessToken"].as_str().unwrap().starts_with("mock-refreshed-"));
    assert_ne!(body["accessToken"], json!(refreshed));
    assert_eq!(
        (&body["providerId"], &body["accountId"], &body["scope"]),
        (&json!("github"), &json!("4242"), &json!("read:user,user:email"))
    );

    // Errors: no session, unknown provider, no such account, someone else's account.
    check_empty(&env.send(Req::post("/get-access-token", json!({"providerId": "github"}))).await, 401);
    check_empty(&env.send(Req::get("/account-info?accountId=4242")).await, 401);
    let resp = browser.post("/get-access-token", json!({"providerId": "nope"})).await;
    check_error(&resp, 400, "PROVIDER_NOT_SUPPORTED", "Provider nope is not supported.");
    let resp = browser.post("/get-access-token", json!({"providerId": "google"})).await;
    check_error(&resp, 400, "ACCOUNT_NOT_FOUND", "Account not found");
    let resp = browser.post("/refresh-token", json!({"providerId": "nope"})).await;
    check_error(&resp, 400, "PROVIDER_NOT_FOUND", "Provider nope not found.");
    let (mut other, _) = env.signed_up("Other", "other@example.com").await;
    check_error(&other.get("/account-info?accountId=4242").await, 400, "ACCOUNT_NOT_FOUND", "Account not found");
    let resp = other.post("/get-access-token", json!({"providerId": "github", "accountId": account.id})).await;
    check_error(&resp, 400, "ACCOUNT_NOT_FOUND", "Account not found");

    // Google: the profile from the ID token stored with the account.
    mock.tamper(Tamper::default());
    let mut gina = env.browser();
    let path = start(&mut gina, json!({"provider": "google"}), "tok-google").await;
    gina.get(&path).await;
    let resp = gina.get("/account-info?accountId=g-9").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["user"]["email"], json!("tok@example.com"));
    assert_eq!(resp.json()["data"]["iss"], json!(mock.base));
}
