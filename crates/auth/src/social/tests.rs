//! The provider protocol against a scripted transport: what goes out, and how answers are read.

use super::*;
use parking_lot::Mutex;
use serde_json::json;

/// Answers requests in order from a script and records them.
#[derive(Default)]
struct Scripted {
    answers: Mutex<Vec<OutboundResponse>>,
    sent: Mutex<Vec<OutboundRequest>>,
}

impl Scripted {
    fn new(answers: Vec<OutboundResponse>) -> Arc<Scripted> {
        Arc::new(Scripted { answers: Mutex::new(answers.into_iter().rev().collect()), sent: Mutex::default() })
    }
}

#[async_trait::async_trait]
impl OAuthHttp for Scripted {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String> {
        self.sent.lock().push(request);
        self.answers.lock().pop().ok_or_else(|| "connection refused".to_string())
    }
}

fn answer(status: u16, content_type: &str, body: &str) -> OutboundResponse {
    OutboundResponse { status, content_type: Some(content_type.into()), body: body.as_bytes().to_vec() }
}

fn github() -> ProviderConfig {
    let options = SocialOptions {
        social_providers: serde_json::from_value(json!({"github": {"clientId": "id", "clientSecret": "s"}})).unwrap(),
        generic_oauth: Vec::new(),
    };
    options.resolve(&|_| None).unwrap().remove(0)
}

fn endpoints(provider: &ProviderConfig) -> Endpoints {
    Endpoints {
        authorization: provider.authorization_url.clone().unwrap(),
        token: provider.token_url.clone().unwrap(),
        user_info: provider.user_info_url.clone(),
        jwks: None,
        issuers: Vec::new(),
    }
}

async fn exchange(answers: Vec<OutboundResponse>) -> (Result<Tokens, String>, Vec<OutboundRequest>) {
    let http = Scripted::new(answers);
    let provider = github();
    let providers = Providers::new(vec![provider.clone()], http.clone());
    let result =
        providers.exchange_code(&provider, &endpoints(&provider), "c0de", Some("v"), "https://app/cb", 1000.0).await;
    let sent = http.sent.lock().clone();
    (result, sent)
}

#[tokio::test]
async fn the_code_exchange_request_is_better_auths() {
    let (tokens, sent) = exchange(vec![answer(
        200,
        "application/json",
        r#"{"access_token":"gho_1","scope":"read:user,user:email","expires_in":60}"#,
    )])
    .await;
    let tokens = tokens.unwrap();
    assert_eq!(tokens.access_token.as_deref(), Some("gho_1"));
    assert_eq!(tokens.scopes, ["read:user,user:email"]);
    assert_eq!(tokens.access_token_expires_at, Some(61_000.0));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].url, "https://github.com/login/oauth/access_token");
    assert_eq!(
        sent[0].body.as_deref(),
        Some("grant_type=authorization_code&code=c0de&code_verifier=v&redirect_uri=https%3A%2F%2Fapp%2Fcb&client_id=id&client_secret=s")
    );
    assert!(sent[0].headers.contains(&("accept".into(), "application/json".into())));
}

#[tokio::test]
async fn failed_exchanges() {
    for (why, response) in [
        ("redirect", answer(302, "text/html", "")),
        ("GitHub's 200 with an error", answer(200, "application/json", r#"{"error":"bad_verification_code"}"#)),
        ("no access token", answer(200, "application/json", r#"{"token_type":"bearer"}"#)),
        ("not a token response", answer(200, "text/html", "<html>")),
        ("server error", answer(500, "application/json", r#"{"access_token":"x"}"#)),
    ] {
        assert!(exchange(vec![response]).await.0.is_err(), "{why}");
    }
    assert!(exchange(Vec::new()).await.0.is_err(), "transport failure");
    // A form-encoded answer (older OAuth 2 servers) is read.
    let (tokens, _) =
        exchange(vec![answer(200, "application/x-www-form-urlencoded", "access_token=a%2Bb&scope=repo+gist")]).await;
    let tokens = tokens.unwrap();
    assert_eq!((tokens.access_token.as_deref(), tokens.scopes), (Some("a+b"), vec!["repo".to_string(), "gist".into()]));
}

#[tokio::test]
async fn github_profile_picks_the_primary_verified_address() {
    let user = r#"{"id": 7, "login": "octo", "name": null, "email": null, "avatar_url": "https://a/7"}"#;
    let emails = r#"[{"email":"old@x.io","primary":false,"verified":true},{"email":"main@x.io","primary":true,"verified":true}]"#;
    let http = Scripted::new(vec![answer(200, "application/json", user), answer(200, "application/json", emails)]);
    let provider = github();
    let providers = Providers::new(vec![provider.clone()], http.clone());
    let tokens = Tokens { access_token: Some("t".into()), ..Tokens::default() };
    let profile = providers.profile(&provider, &endpoints(&provider), &tokens, None, 0.0).await.unwrap();
    assert_eq!(
        (profile.id.as_str(), profile.name.as_deref(), profile.email.as_deref(), profile.email_verified),
        ("7", Some("octo"), Some("main@x.io"), true)
    );
    assert_eq!(profile.raw["email"], json!("main@x.io"));
    let sent = http.sent.lock().clone();
    assert_eq!(
        sent.iter().map(|r| r.url.as_str()).collect::<Vec<_>>(),
        ["https://api.github.com/user", "https://api.github.com/user/emails"]
    );
    assert!(sent.iter().all(|r| r.headers.contains(&("authorization".into(), "Bearer t".into()))));
    // /user failing is no profile at all.
    let http = Scripted::new(vec![answer(401, "application/json", "{}"), answer(200, "application/json", emails)]);
    let providers = Providers::new(vec![provider.clone()], http);
    assert!(providers.profile(&provider, &endpoints(&provider), &tokens, None, 0.0).await.is_err());
}

#[test]
fn claim_checks() {
    let now_ms = 1_000_000.0 * 1000.0;
    let base =
        json!({"iss": "https://idp", "aud": "client", "sub": "u1", "exp": 1_000_100, "iat": 1_000_000, "nonce": "n"});
    let check = |patch: serde_json::Value, nonce: Option<&str>, max_age: Option<u64>| {
        let mut claims = base.as_object().unwrap().clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                claims.remove(k);
            } else {
                claims.insert(k.clone(), v.clone());
            }
        }
        oidc::check_claims(&claims, &["https://idp".to_string()], "client", nonce, max_age, now_ms)
    };
    assert_eq!(check(json!({}), Some("n"), Some(3600)), Ok(()));
    assert_eq!(check(json!({"aud": ["client"]}), None, None), Ok(()));
    assert_eq!(check(json!({"aud": ["client", "other"], "azp": "client"}), None, None), Ok(()));
    assert_eq!(check(json!({"exp": 999_990}), None, None), Ok(()), "within the leeway");
    for (patch, nonce, max_age, why) in [
        (json!({"iss": "https://idp/"}), None, None, "issuer differs"),
        (json!({"aud": "other"}), None, None, "audience"),
        (json!({"aud": ["client", "other"]}), None, None, "several audiences, no azp"),
        (json!({"azp": "other"}), None, None, "azp"),
        (json!({"exp": 999_900}), None, None, "expired"),
        (json!({"exp": null}), None, None, "no exp"),
        (json!({"nbf": 1_000_100}), None, None, "not yet valid"),
        (json!({"iat": 1_000_100}), None, None, "issued in the future"),
        (json!({}), Some("m"), None, "nonce"),
        (json!({"nonce": null}), Some("n"), None, "nonce missing"),
        (json!({"iat": 990_000}), None, Some(3600), "too old"),
        (json!({"sub": ""}), None, None, "empty sub"),
    ] {
        assert!(check(patch, nonce, max_age).is_err(), "{why}");
    }
}

#[test]
fn authorization_url_keeps_an_endpoint_query() {
    let mut provider = github();
    provider.authorization_url = Some("https://ghe.example/authorize?tenant=a".into());
    let url = authorization_url(&provider, &endpoints(&provider), "st", None, None, "https://app/cb", &[], None);
    assert_eq!(
        url,
        "https://ghe.example/authorize?tenant=a&response_type=code&client_id=id&state=st&scope=read%3Auser+user%3Aemail&redirect_uri=https%3A%2F%2Fapp%2Fcb"
    );
}

/// Better Auth 1.4.9's recorded GitHub flow (transcript "sign-in/social github", extras `githubOutbound`):
/// the same state and verifier give the same authorization URL and the same token request, byte for byte.
#[tokio::test]
async fn recorded_github_flow() {
    let options = SocialOptions {
        social_providers: serde_json::from_value(
            json!({"github": {"clientId": "fake-github-client-id", "clientSecret": "fake-github-client-secret"}}),
        )
        .unwrap(),
        generic_oauth: Vec::new(),
    };
    let provider = options.resolve(&|_| None).unwrap().remove(0);
    let state = "YGenjydX8YkhVjfjHgwuq2q9wTuGgT8v";
    let verifier = "SVt0Em5MSMYwf7AzKPI5BBgPSFVGl7hKaWcAmb8tr86XUrilluw58zk26vB4YX6Y3gXE7MFPpNWV71dJbnyAbRIsVf-Qdp2yVj32HwnvBKqiQ5Vt51Ek-q-mrlPDAaAL";
    let redirect = "http://localhost:3000/api/auth/callback/github";
    let url = authorization_url(&provider, &endpoints(&provider), state, Some(verifier), None, redirect, &[], None);
    assert_eq!(
        url,
        "https://github.com/login/oauth/authorize?response_type=code&client_id=fake-github-client-id&state=YGenjydX8YkhVjfjHgwuq2q9wTuGgT8v&scope=read%3Auser+user%3Aemail&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fapi%2Fauth%2Fcallback%2Fgithub&code_challenge_method=S256&code_challenge=e0k35jYUtws_CYJdsN2qLYDPoZnAY3J4i3R6zV4Tj0s"
    );
    let http = Scripted::new(vec![answer(200, "application/json", r#"{"access_token":"gho_fakeAccessToken123"}"#)]);
    let providers = Providers::new(vec![provider.clone()], http.clone());
    providers
        .exchange_code(&provider, &endpoints(&provider), "fake-code-1", Some(verifier), redirect, 0.0)
        .await
        .unwrap();
    let sent = http.sent.lock().clone();
    assert_eq!(sent[0].method, ::http::Method::POST);
    assert_eq!(sent[0].url, "https://github.com/login/oauth/access_token");
    assert_eq!(
        sent[0].body.as_deref(),
        Some("grant_type=authorization_code&code=fake-code-1&code_verifier=SVt0Em5MSMYwf7AzKPI5BBgPSFVGl7hKaWcAmb8tr86XUrilluw58zk26vB4YX6Y3gXE7MFPpNWV71dJbnyAbRIsVf-Qdp2yVj32HwnvBKqiQ5Vt51Ek-q-mrlPDAaAL&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fapi%2Fauth%2Fcallback%2Fgithub&client_id=fake-github-client-id&client_secret=fake-github-client-secret")
    );
}
