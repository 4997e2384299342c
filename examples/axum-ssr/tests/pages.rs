//! The pages against a real chat deployment (in-process, `127.0.0.1:0`), driven like a browser: requests carry
//! the cookies the proxy relayed. Sign-up → dashboard shows the user; protected says Hello / Unauthorized; a
//! reload keeps the session (also once the JWT cookie is gone); sign-out → Unauthorized.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authvex::internals::server::RunningServer;
use authvex_client::{ConvexBetterAuth, SsrConfig};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;

type Json = serde_json::Value;

struct Web {
    origin: String,
    server: Option<RunningServer>,
    http: reqwest::Client,
    /// The browser's cookies for the web app's origin.
    cookies: BTreeMap<String, String>,
}

impl Web {
    async fn start() -> Web {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let server = test_support::deployment::Deployment::new(chat::app())
            .auth_options(json!({"rateLimit": {"enabled": false}}))
            .env("BETTER_AUTH_SECRET", "a-test-secret-that-is-long-enough-0123456789")
            .env("SITE_URL", &origin)
            .env("GITHUB_CLIENT_ID", "gh-client")
            .env("GITHUB_CLIENT_SECRET", "gh-secret")
            .start()
            .await;
        let auth = ConvexBetterAuth::new(SsrConfig::new(&server.api_url, &server.site_url)).unwrap();
        let app = axum_ssr::app(auth);
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Web { origin, server: Some(server), http, cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()) {
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() || set.to_ascii_lowercase().contains("max-age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// A page: (status, HTML).
    async fn page(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.origin))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// What the sign-in page's script does: a same-origin POST to the proxy.
    async fn post_auth(&mut self, path: &str, body: Json) -> (u16, Json) {
        let response = self
            .http
            .post(format!("{}/api/auth/{path}", self.origin))
            .header("cookie", self.cookie_header())
            .header("origin", &self.origin)
            .json(&body)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Json::Null))
    }
}

fn status_of(html: &str) -> &str {
    let start = html.find("<p id=\"status\">").map(|i| i + "<p id=\"status\">".len()).unwrap_or(0);
    let end = html[start..].find("</p>").map_or(html.len(), |i| start + i);
    &html[start..end]
}

fn user_json(html: &str) -> Json {
    let start = html.find("<pre id=\"user\">").expect("no user on the page") + "<pre id=\"user\">".len();
    let end = start + html[start..].find("</pre>").unwrap();
    let text = html[start..end].replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'");
    serde_json::from_str(&text.replace("&amp;", "&")).unwrap()
}

#[tokio::test]
async fn sign_up_dashboard_protected_reload_and_sign_out() {
    let mut web = Web::start().await;

    // Signed out.
    assert_eq!(status_of(&web.page("/protected").await.1), "Unauthorized");
    assert_eq!(status_of(&web.page("/dashboard").await.1), "Unauthorized");
    assert!(status_of(&web.page("/").await.1).starts_with("Not signed in"));
    let (status, sign_in) = web.page("/sign-in").await;
    assert_eq!(status, 200);
    for needle in ["<form id=\"sign-in\">", "<form id=\"sign-up\">", "id=\"github\"", "/api/auth/"] {
        assert!(sign_in.contains(needle), "{needle} missing from the sign-in page");
    }

    // Sign up through the proxy: the cookies are the web app's.
    let (status, body) = web
        .post_auth(
            "sign-up/email",
            json!({"name": "Grace <Hopper>", "email": "grace@example.com", "password": "cobol-forever-1959"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        web.cookies.contains_key("better-auth.session_token") && web.cookies.contains_key("better-auth.convex_jwt")
    );

    let (status, dashboard) = web.page("/dashboard").await;
    assert_eq!(status, 200);
    let user = user_json(&dashboard);
    assert_eq!(user["email"], "grace@example.com");
    assert_eq!(user["name"], "Grace <Hopper>");
    assert_eq!(user["subject"], body["user"]["id"]);
    assert!(!dashboard.contains("<Hopper>"), "user data is escaped");
    assert_eq!(status_of(&web.page("/protected").await.1), "Hello");
    let landing = web.page("/").await.1;
    assert_eq!(status_of(&landing), "Signed in as Grace &lt;Hopper&gt;. <a href=\"/dashboard\">Dashboard</a>");
    assert!(landing.contains("\"_name\":\"auth:getCurrentUser\""), "{landing}");
    assert!(landing.contains("\"_valueJSON\":{"), "{landing}");

    // Reload: same cookies, same user; and once the JWT cookie has expired (the browser dropped it), the session
    // cookie gets a fresh token.
    assert_eq!(user_json(&web.page("/dashboard").await.1)["email"], "grace@example.com");
    let jwt = web.cookies.remove("better-auth.convex_jwt").unwrap();
    assert_eq!(user_json(&web.page("/dashboard").await.1)["email"], "grace@example.com");
    assert_eq!(status_of(&web.page("/protected").await.1), "Hello");
    web.cookies.insert("better-auth.convex_jwt".to_owned(), jwt);

    // Sign out through the proxy: both cookies expired → Unauthorized everywhere.
    let (status, _) = web.post_auth("sign-out", json!({})).await;
    assert_eq!(status, 200);
    assert!(web.cookies.is_empty(), "{:?}", web.cookies);
    assert_eq!(status_of(&web.page("/dashboard").await.1), "Unauthorized");
    assert_eq!(status_of(&web.page("/protected").await.1), "Unauthorized");

    // Sign back in; then the deployment goes away: pages say so with a 502 instead of "Unauthorized".
    let (status, _) =
        web.post_auth("sign-in/email", json!({"email": "grace@example.com", "password": "cobol-forever-1959"})).await;
    assert_eq!(status, 200);
    assert_eq!(status_of(&web.page("/protected").await.1), "Hello");
    web.cookies.remove("better-auth.convex_jwt");
    web.server.take().unwrap().shutdown().await;
    let (status, html) = web.page("/protected").await;
    assert_eq!(status, 502);
    assert_eq!(status_of(&html), "The backend is unavailable. Try again.");
}

#[tokio::test]
async fn the_github_button_starts_the_flow_with_a_callback_on_the_web_apps_origin() {
    let mut web = Web::start().await;
    let (status, body) =
        web.post_auth("sign-in/social", json!({"provider": "github", "callbackURL": "/dashboard"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redirect"], true);
    let url = body["url"].as_str().unwrap();
    assert!(url.starts_with("https://github.com/login/oauth/authorize?"), "{url}");
    let redirect_uri = format!("redirect_uri={}", percent(&format!("{}/api/auth/callback/github", web.origin)));
    assert!(url.contains(&redirect_uri), "{url} lacks {redirect_uri}");
    assert!(url.contains("client_id=gh-client"), "{url}");
    web.server.take().unwrap().shutdown().await;
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
