//! Black-box: `auth_component::safe_get_auth_user` in an app function, against a real deployment on
//! `127.0.0.1:0`. The JWT alone keeps `auth:getCurrentUser` answering until it expires; the helper re-reads the
//! session, so a signed-out session stops counting at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authvex::internals::functions::{Caller, FunctionFailure};
use authvex::internals::server::RunningServer;
use authvex::{App, Object, QueryCtx, UserIdentity, Value};
use serde_json::json;
use std::sync::Arc;

type Json = serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";

fn app() -> App {
    let mut app = App::new();
    app.query("users:me", |ctx: QueryCtx, _: Value| async move {
        authvex::auth_component::safe_get_auth_user(&ctx.db, &ctx.auth, ctx.now_millis()).await
    });
    app
}

struct Deployment {
    server: RunningServer,
    http: reqwest::Client,
}

impl Deployment {
    async fn start() -> Deployment {
        Deployment {
            server: test_support::deployment::Deployment::new(app()).start().await,
            http: reqwest::Client::new(),
        }
    }

    /// Signs up or in (a `POST` to `/api/auth/<path>`); returns the session cookie pair and the user object.
    async fn session(&self, path: &str, body: Json) -> (String, Json) {
        let site = &self.server.site_url;
        let resp =
            self.http.post(format!("{site}/api/auth/{path}")).header("origin", site).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|c| c.starts_with("better-auth.session_token="))
            .map(|c| c.split(';').next().unwrap().to_string())
            .unwrap();
        (cookie, resp.json::<Json>().await.unwrap()["user"].clone())
    }

    async fn token(&self, cookie: &str) -> String {
        let url = format!("{}/api/auth/convex/token", self.server.site_url);
        let resp = self.http.get(url).header("cookie", cookie).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.json::<Json>().await.unwrap()["token"].as_str().unwrap().to_string()
    }

    async fn sign_out(&self, cookie: &str) {
        let site = &self.server.site_url;
        let resp = self
            .http
            .post(format!("{site}/api/auth/sign-out"))
            .header("cookie", cookie)
            .header("origin", site)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    /// The value of a successful `POST /api/query`.
    async fn query(&self, path: &str, bearer: Option<&str>) -> Json {
        let mut req =
            self.http.post(format!("{}/api/query", self.server.api_url)).json(&json!({"path": path, "args": {}}));
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let body: Json = resp.json().await.unwrap();
        assert_eq!((status.as_u16(), &body["status"]), (200, &json!("success")), "{body}");
        body["value"].clone()
    }

    /// Runs `users:me` in process as a caller with this identity (`sessionId` claim optional).
    async fn me_as(&self, subject: &str, session_id: Option<&str>) -> Result<Value, FunctionFailure> {
        let mut fields = Object::new();
        if let Some(id) = session_id {
            fields.insert("sessionId".into(), Value::String(id.into()));
        }
        let identity = UserIdentity {
            token_identifier: format!("https://issuer.example.com|{subject}"),
            subject: subject.into(),
            issuer: "https://issuer.example.com".into(),
            fields,
        };
        let caller = Caller::public(Some(Arc::new(identity)));
        self.server.runtime.run("users:me", Value::Object(Object::new()), caller, None).await.result
    }
}

#[tokio::test]
async fn a_revoked_session_stops_counting_while_its_jwt_still_verifies() {
    let d = Deployment::start().await;
    let (phone, user) =
        d.session("sign-up/email", json!({"name": "Alice", "email": "alice@example.com", "password": PASSWORD})).await;
    let (laptop, _) = d.session("sign-in/email", json!({"email": "alice@example.com", "password": PASSWORD})).await;
    let phone_token = d.token(&phone).await;
    let laptop_token = d.token(&laptop).await;
    let user_id = user["id"].as_str().unwrap();

    // Signed in: the user document, as stored (dates as epoch ms).
    let me = d.query("users:me", Some(&phone_token)).await;
    let fields: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields, ["_creationTime", "_id", "createdAt", "email", "emailVerified", "name", "updatedAt"]);
    assert_eq!(
        (&me["_id"], &me["name"], &me["email"]),
        (&json!(user_id), &json!("Alice"), &json!("alice@example.com"))
    );
    assert!(me["createdAt"].is_f64() || me["createdAt"].is_u64(), "{me}");
    assert_eq!(d.query("users:me", Some(&laptop_token)).await["_id"], json!(user_id));
    // Anonymous: null.
    assert_eq!(d.query("users:me", None).await, json!(null));

    // The phone signs out: its JWT still verifies (it is unexpired), but its session is gone.
    d.sign_out(&phone).await;
    assert_eq!(d.query("auth:getCurrentUser", Some(&phone_token)).await["subject"], json!(user_id));
    assert_eq!(d.query("users:me", Some(&phone_token)).await, json!(null));
    // The laptop's session is untouched.
    assert_eq!(d.query("users:me", Some(&laptop_token)).await["_id"], json!(user_id));
    d.server.shutdown().await;
}

#[tokio::test]
async fn identities_that_name_no_live_session_of_their_subject_get_null() {
    let d = Deployment::start().await;
    let (_, alice) =
        d.session("sign-up/email", json!({"name": "Alice", "email": "alice@example.com", "password": PASSWORD})).await;
    let (bob_cookie, bob) =
        d.session("sign-up/email", json!({"name": "Bob", "email": "bob@example.com", "password": PASSWORD})).await;
    let bob_token = d.token(&bob_cookie).await;
    let bob_session = d.query("auth:getCurrentUser", Some(&bob_token)).await["sessionId"].as_str().unwrap().to_string();
    let (alice_id, bob_id) = (alice["id"].as_str().unwrap(), bob["id"].as_str().unwrap());

    // The helper's own lookups, in process: Bob's identity with his session finds him.
    assert_eq!(d.me_as(bob_id, Some(&bob_session)).await.unwrap().get("name"), Some(&Value::from("Bob")));
    for (subject, session_id) in [
        // No `sessionId` claim (tokens of other issuers, "act as user").
        (bob_id, None),
        // A `sessionId` that is no document id at all: null, not an error.
        (bob_id, Some("not-a-document-id")),
        (bob_id, Some("")),
        // Someone else's session.
        (alice_id, Some(bob_session.as_str())),
        // A document of another table.
        (bob_id, Some(bob_id)),
    ] {
        assert_eq!(d.me_as(subject, session_id).await, Ok(Value::Null), "{subject} {session_id:?}");
    }
    d.server.shutdown().await;
}
