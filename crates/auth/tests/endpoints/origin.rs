//! Security floor: the origin/CSRF checks and redirect-target validation.

use crate::harness::*;
use http::Method;
use serde_json::json;

const EVIL: &str = "https://evil.example";

#[tokio::test]
async fn cookie_bearing_posts_need_a_trusted_origin() {
    let env = Env::with(|c| c.trusted_origins = vec!["https://app.example.com".into()]).await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;

    let cases: [(Option<&str>, Option<&str>, &str, &str); 4] = [
        (None, None, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin"),
        (Some("null"), None, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin"),
        (Some(EVIL), None, "INVALID_ORIGIN", "Invalid origin"),
        (None, Some("https://evil.example/page"), "INVALID_ORIGIN", "Invalid origin"),
    ];
    for (origin, referer, code, message) in cases {
        alice.origin = origin.map(str::to_string);
        let mut req = Req::post("/update-user", json!({"name": "Mallory"}));
        if let Some(referer) = referer {
            req = req.header("referer", referer);
        }
        let resp = alice.send(req).await;
        check_error(&resp, 403, code, message);
        assert!(resp.header("access-control-allow-origin").is_none());
    }
    // Sign-out is state-changing too: a cross-site page cannot sign the user out.
    alice.origin = Some(EVIL.into());
    check_error(&alice.post("/sign-out", json!({})).await, 403, "INVALID_ORIGIN", "Invalid origin");
    alice.origin = None;
    assert_eq!(alice.session().await["user"]["name"], json!("Alice"));

    // Trusted: the site itself (also with a path, or as a Referer), and configured origins (which get CORS).
    for (origin, referer) in [
        (Some(ORIGIN), None),
        (Some("http://localhost:3000/some/path"), None),
        (None, Some("http://localhost:3000/settings?tab=1")),
        (Some("https://app.example.com"), None),
    ] {
        alice.origin = origin.map(str::to_string);
        let mut req = Req::post("/update-user", json!({"name": "Alice"}));
        if let Some(referer) = referer {
            req = req.header("referer", referer);
        }
        check(&alice.send(req).await, 200, json!({"status": true}));
    }
    let resp = alice.post("/update-user", json!({"name": "Alice"})).await;
    assert_eq!(resp.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert_eq!(resp.header("access-control-allow-credentials"), Some("true"));

    // Lookalikes of trusted origins are not trusted.
    for origin in [
        "http://localhost:3001",
        "https://localhost:3000",
        "http://localhost:3000.evil.example",
        "https://app.example.com.evil.example",
    ] {
        alice.origin = Some(origin.into());
        check_error(&alice.post("/update-user", json!({"name": "M"})).await, 403, "INVALID_ORIGIN", "Invalid origin");
    }

    // Reads are exempt.
    alice.origin = Some(EVIL.into());
    let resp = alice.send(Req::get("/get-session").header("origin", EVIL)).await;
    assert_eq!(resp.json()["user"]["name"], json!("Alice"));
}

#[tokio::test]
async fn cross_site_login_attempts_are_blocked() {
    let env = Env::new().await;
    env.signed_up("Alice", "alice@example.com").await;
    let credentials = json!({"email": "alice@example.com", "password": PASSWORD});
    let navigate = |req: Req| {
        req.header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "navigate")
            .header("sec-fetch-dest", "document")
    };

    // A cross-site HTML form posting to sign-in (login CSRF): no cookies, form-encoded, a top-level navigation.
    let form = Req::raw_body(
        Method::POST,
        "/sign-in/email",
        "application/x-www-form-urlencoded",
        "email=alice%40example.com&password=correct+horse+battery+staple",
    )
    .header("origin", EVIL);
    let message = "Cross-site navigation login blocked. This request appears to be a CSRF attack.";
    check_error(&env.send(navigate(form)).await, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", message);
    // The same with a text/plain form (the only way a form sends JSON-looking text), and without an Origin.
    let text = Req::raw_body(Method::POST, "/sign-up/email", "text/plain", credentials.to_string());
    check_error(&env.send(navigate(text)).await, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", message);
    let json_nav = Req::post("/sign-in/email", credentials.clone()).header("origin", "null");
    check_error(&env.send(navigate(json_nav)).await, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", message);

    // A cookieless browser request to a login endpoint from an untrusted page.
    let fetch = Req::post("/sign-in/email", credentials.clone())
        .header("origin", EVIL)
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "cors");
    check_error(&env.send(fetch).await, 403, "INVALID_ORIGIN", "Invalid origin");
    let fetch = Req::post("/sign-in/email", credentials.clone()).header("origin", EVIL);
    check_error(&env.send(fetch).await, 403, "INVALID_ORIGIN", "Invalid origin");

    // The app's own pages sign in; so do non-browser clients (no Origin, no Fetch-Metadata).
    let same = Req::post("/sign-in/email", credentials.clone())
        .header("origin", ORIGIN)
        .header("sec-fetch-site", "same-origin")
        .header("sec-fetch-mode", "cors");
    assert_eq!(env.send(same).await.status, 200);
    assert_eq!(env.send(Req::post("/sign-in/email", credentials)).await.status, 200);
}

#[tokio::test]
async fn redirect_targets_must_be_relative_or_trusted() {
    let env = Env::with(|c| {
        c.trusted_origins = vec!["https://app.example.com".into()];
        c.user.change_email.enabled = true;
        c.user.delete_user.enabled = true;
    })
    .await;
    // Everything here is refused before any password is hashed or any row is read.
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let attacks = [
        "https://evil.example/after",
        "//evil.example/after",
        "/\\evil.example",
        "/%2fevil.example",
        "/%5Cevil.example",
        "http://localhost:3000.evil.example/",
        "javascript:alert(1)",
        "https://app.example.com@evil.example/",
        "/a#frag",
        "/path with space",
    ];
    let callback = ("INVALID_CALLBACKURL", "Invalid callbackURL");
    let redirect = ("INVALID_REDIRECTURL", "Invalid redirectURL");
    for target in attacks {
        let encoded = auth::cookies::encode_uri_component(target);
        let posts = [
            (
                "/sign-in/email",
                json!({"email": "alice@example.com", "password": PASSWORD, "callbackURL": target}),
                callback,
            ),
            (
                "/sign-up/email",
                json!({"name": "M", "email": "m@example.com", "password": PASSWORD, "callbackURL": target}),
                callback,
            ),
            ("/request-password-reset", json!({"email": "alice@example.com", "redirectTo": target}), redirect),
            ("/send-verification-email", json!({"email": "alice@example.com", "callbackURL": target}), callback),
            ("/change-email", json!({"newEmail": "new@example.com", "callbackURL": target}), callback),
            ("/delete-user", json!({"callbackURL": target}), callback),
        ];
        for (path, body, (code, message)) in posts {
            let resp = alice.post(path, body).await;
            assert_eq!(
                (resp.status, resp.json()),
                (403, json!({"code": code, "message": message})),
                "{path} with {target}"
            );
        }
        let gets = [
            format!("/verify-email?token=x&callbackURL={encoded}"),
            format!("/reset-password/sometoken?callbackURL={encoded}"),
            format!("/delete-user/callback?token=x&callbackURL={encoded}"),
        ];
        for path in gets {
            let resp = alice.get(&path).await;
            assert_eq!((resp.status, resp.json()), (403, json!({"code": callback.0, "message": callback.1})), "{path}");
            assert!(resp.header("location").is_none());
        }
    }
    assert!(env.take_mails().is_empty());
    assert_eq!(env.count(auth::schema::Model::User, &[]).await, 1);
    assert_eq!(env.count(auth::schema::Model::Session, &[]).await, 1);

    // Relative paths and trusted origins are fine.
    for target in ["/dashboard", "/a/b?x=1&y=%20z", "http://localhost:3000/after", "https://app.example.com/x"] {
        let resp = env
            .send(Req::get(&format!(
                "/verify-email?token=x&callbackURL={}",
                auth::cookies::encode_uri_component(target)
            )))
            .await;
        let sep = if target.contains('?') { '&' } else { '?' };
        assert_eq!(resp.header("location"), Some(format!("{target}{sep}error=invalid_token").as_str()));
    }
    let resp = env
        .send(Req::post(
            "/sign-in/email",
            json!({"email": "alice@example.com", "password": PASSWORD, "callbackURL": "https://app.example.com/x"}),
        ))
        .await;
    assert_eq!((resp.status, resp.json()["url"].clone()), (200, json!("https://app.example.com/x")));
}

#[tokio::test]
async fn preflight_answers_trusted_origins_only() {
    let env = Env::with(|c| c.trusted_origins = vec!["https://app.example.com".into()]).await;
    let preflight = |origin: &str| {
        Req::new(Method::OPTIONS, "/sign-in/email")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
    };
    let resp = env.send(preflight("https://app.example.com")).await;
    assert_eq!((resp.status, resp.text()), (204, String::new()));
    assert_eq!(resp.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert_eq!(resp.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(resp.header("access-control-allow-headers"), Some("content-type"));
    let resp = env.send(preflight(EVIL)).await;
    assert_eq!(resp.status, 204);
    assert!(resp.headers.keys().all(|k| !k.as_str().starts_with("access-control-")), "{:?}", resp.headers);
}
