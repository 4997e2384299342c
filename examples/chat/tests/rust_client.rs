#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The official Rust client (crates.io `convex` 0.10, plain `ws://…/api/sync`) against the real chat binary:
//! subscriptions, mutations from two clients, one-shot queries, function errors and `set_auth` with a JWT from the
//! auth service.

mod common;

use common::ChatProcess;
use convex::{ConvexClient, FunctionResult, QuerySubscription, Value};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

/// How long anything that should happen promptly may take.
const DEADLINE: Duration = Duration::from_secs(30);

type Object = BTreeMap<String, Value>;

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future).await.unwrap_or_else(|_| panic!("timed out after {DEADLINE:?}: {what}"))
}

fn args(pairs: &[(&str, &str)]) -> Object {
    pairs.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect()
}

fn string(object: &Object, field: &str) -> String {
    match object.get(field) {
        Some(Value::String(s)) => s.clone(),
        other => panic!("{field} is not a string: {other:?} in {object:?}"),
    }
}

/// The document id a successful `messages:send` returns.
fn returned_id(result: FunctionResult) -> String {
    match result {
        FunctionResult::Value(Value::String(id)) => id,
        other => panic!("expected a document id, got {other:?}"),
    }
}

/// A `messages:list` result as its documents.
fn documents(result: FunctionResult) -> Vec<Object> {
    let FunctionResult::Value(Value::Array(items)) = result else { panic!("messages:list gave {result:?}") };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(object) => object,
            other => panic!("a message is not an object: {other:?}"),
        })
        .collect()
}

fn ids(list: &[Object]) -> Vec<String> {
    list.iter().map(|m| string(m, "_id")).collect()
}

/// Reads the subscription until a list contains `id`; returns that list.
async fn until_listed(subscription: &mut QuerySubscription, id: &str) -> Vec<Object> {
    within(&format!("the subscription to list {id}"), async {
        loop {
            let result = subscription.next().await.expect("the subscription ended");
            let list = documents(result);
            if ids(&list).iter().any(|i| i == id) {
                return list;
            }
        }
    })
    .await
}

/// The next value of a subscription that satisfies `accept`.
async fn until_value(
    subscription: &mut QuerySubscription,
    what: &str,
    accept: impl Fn(&FunctionResult) -> bool,
) -> FunctionResult {
    within(what, async {
        loop {
            let result = subscription.next().await.expect("the subscription ended");
            if accept(&result) {
                return result;
            }
        }
    })
    .await
}

/// Signs a user up through the auth service and returns `(user id, JWT)`: `POST /api/auth/sign-up/email` as a page
/// on the site would (with `Origin`), then `GET /api/auth/convex/token` with the session cookie.
async fn sign_up_and_get_token(site_url: &str, name: &str, email: &str) -> (String, String) {
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{site_url}/api/auth/sign-up/email"))
        .header("origin", site_url)
        .json(&serde_json::json!({"name": name, "email": email, "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "sign-up failed");
    let session_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("better-auth.session_token="))
        .and_then(|c| c.split(';').next())
        .expect("sign-up set no session cookie")
        .to_string();
    let body: serde_json::Value = response.json().await.unwrap();
    let user_id = body["user"]["id"].as_str().expect("sign-up returned no user id").to_string();

    let response =
        http.get(format!("{site_url}/api/auth/convex/token")).header("cookie", session_cookie).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET /api/auth/convex/token failed");
    let body: serde_json::Value = response.json().await.unwrap();
    let token = body["token"].as_str().expect("no token in the answer").to_string();
    assert_eq!(token.split('.').count(), 3, "not a compact JWS: {token}");
    (user_id, token)
}

/// The convex crate's WebSocket worker outlives its client: once its socket fails after the client is dropped, it
/// polls its closed request channel without ever yielding. Its runtime is therefore shut down in the background
/// (not waited for) before the server is stopped; a `#[tokio::test]` runtime would wait for that task forever.
#[test]
fn official_rust_client_subscribes_mutates_queries_and_authenticates() {
    let data = tempfile::tempdir().unwrap();
    let server = ChatProcess::start(data.path());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(drive_the_official_client(&server));
    runtime.shutdown_background();
    server.stop();
}

async fn drive_the_official_client(server: &ChatProcess) {
    assert!(server.api_url.starts_with("http://127.0.0.1:"), "{}", server.api_url);

    let mut client = ConvexClient::new(&server.api_url).await.unwrap();
    let mut other = ConvexClient::new(&server.api_url).await.unwrap();

    // A fresh deployment: the subscription's first result is the empty list.
    let mut subscription = within("subscribe", client.subscribe("messages:list", BTreeMap::new())).await.unwrap();
    let first = within("the first result", subscription.next()).await.expect("the subscription ended");
    assert_eq!(first, FunctionResult::Value(Value::Array(vec![])));

    // A mutation from the same client: the id comes back and the subscription shows the message.
    let sent =
        within("mutation", client.mutation("messages:send", args(&[("author", "rust"), ("body", "hello from rust")])))
            .await
            .unwrap();
    let id1 = returned_id(sent);
    let list = until_listed(&mut subscription, &id1).await;
    assert_eq!(ids(&list), vec![id1.clone()]);
    let message = &list[0];
    assert_eq!(message.keys().collect::<Vec<_>>(), ["_creationTime", "_id", "author", "body"]);
    assert_eq!(string(message, "author"), "rust");
    assert_eq!(string(message, "body"), "hello from rust");
    assert!(matches!(message.get("_creationTime"), Some(Value::Float64(t)) if *t > 1.0e12), "{message:?}");

    // A mutation from another client reaches this client's subscription, oldest first.
    let sent = within(
        "mutation from the other client",
        other.mutation("messages:send", args(&[("author", "other"), ("body", "hello from another client")])),
    )
    .await
    .unwrap();
    let id2 = returned_id(sent);
    let list = until_listed(&mut subscription, &id2).await;
    assert_eq!(ids(&list), vec![id1.clone(), id2.clone()]);
    assert_eq!(string(&list[1], "author"), "other");

    // One-shot queries from both clients agree with the subscription.
    let queried = documents(within("query", client.query("messages:list", BTreeMap::new())).await.unwrap());
    assert_eq!(queried, list);
    let queried = documents(within("other query", other.query("messages:list", BTreeMap::new())).await.unwrap());
    assert_eq!(queried, list);

    // A ConvexError thrown by the mutation: message and data.
    let result =
        within("failing mutation", client.mutation("messages:send", args(&[("author", "rust"), ("body", " ")])))
            .await
            .unwrap();
    let FunctionResult::ConvexError(error) = result else { panic!("expected a ConvexError, got {result:?}") };
    let Value::Object(data) = &error.data else { panic!("ConvexError data is not an object: {:?}", error.data) };
    assert_eq!(string(data, "code"), "EMPTY_BODY");
    assert!(matches!(data.get("message"), Some(Value::String(_))), "{data:?}");
    assert!(error.message.contains("EMPTY_BODY"), "{}", error.message);

    // Argument validation and unknown functions are plain error messages.
    let result =
        within("invalid arguments", client.mutation("messages:send", args(&[("body", "no author")]))).await.unwrap();
    let FunctionResult::ErrorMessage(message) = result else { panic!("expected an ErrorMessage, got {result:?}") };
    assert!(message.contains("ArgumentValidationError"), "{message}");
    let result = within("unknown query", client.query("no/such:fn", BTreeMap::new())).await.unwrap();
    let FunctionResult::ErrorMessage(message) = result else { panic!("expected an ErrorMessage, got {result:?}") };
    assert!(message.contains("Could not find public function for 'no/such:fn'"), "{message}");
    // The chat app has no action; the Action round trip is checked with an unknown one.
    let result = within("unknown action", client.action("no/such:fn", BTreeMap::new())).await.unwrap();
    let FunctionResult::ErrorMessage(message) = result else { panic!("expected an ErrorMessage, got {result:?}") };
    assert!(message.contains("Could not find public function"), "{message}");

    // Signed out, sendAsMe is refused with a ConvexError whose data is a string.
    let result = within("sendAsMe anonymously", client.mutation("messages:sendAsMe", args(&[("body", "who am i")])))
        .await
        .unwrap();
    assert!(
        matches!(&result, FunctionResult::ConvexError(e) if e.data == Value::String("Unauthenticated".into())),
        "{result:?}"
    );

    // The failures wrote nothing.
    let queried =
        documents(within("query after errors", client.query("messages:list", BTreeMap::new())).await.unwrap());
    assert_eq!(ids(&queried), vec![id1.clone(), id2.clone()]);

    // Auth: a JWT from the auth service makes auth:getCurrentUser return the identity, reactively.
    let mut whoami =
        within("subscribe getCurrentUser", client.subscribe("auth:getCurrentUser", BTreeMap::new())).await.unwrap();
    let anonymous = within("anonymous identity", whoami.next()).await.expect("the subscription ended");
    assert_eq!(anonymous, FunctionResult::Value(Value::Null));

    let email = format!("rust-client-{}@example.com", std::process::id());
    let (user_id, token) = sign_up_and_get_token(&server.site_url, "Rusty", &email).await;
    client.set_auth(Some(token)).await;
    let identity = until_value(&mut whoami, "the identity after set_auth", |r| {
        matches!(r, FunctionResult::Value(Value::Object(_)))
    })
    .await;
    let FunctionResult::Value(Value::Object(identity)) = identity else { unreachable!() };
    assert_eq!(string(&identity, "subject"), user_id);
    assert_eq!(string(&identity, "email"), email);
    assert_eq!(string(&identity, "name"), "Rusty");
    assert_eq!(string(&identity, "issuer"), server.site_url);
    assert_eq!(string(&identity, "tokenIdentifier"), format!("{}|{user_id}", server.site_url));

    // The one-shot query sees the same identity; the other client is still anonymous.
    let queried = within("getCurrentUser query", client.query("auth:getCurrentUser", BTreeMap::new())).await.unwrap();
    assert_eq!(queried, FunctionResult::Value(Value::Object(identity.clone())));
    let queried = within("other getCurrentUser", other.query("auth:getCurrentUser", BTreeMap::new())).await.unwrap();
    assert_eq!(queried, FunctionResult::Value(Value::Null));
    let me = within("users:me", client.query("users:me", BTreeMap::new())).await.unwrap();
    let FunctionResult::Value(Value::Object(me)) = me else { panic!("users:me gave {me:?}") };
    assert_eq!(string(&me, "_id"), user_id);

    // Signed in, sendAsMe writes as the user, and the subscription shows it.
    let sent = within("sendAsMe", client.mutation("messages:sendAsMe", args(&[("body", "as me")]))).await.unwrap();
    let id3 = returned_id(sent);
    let list = until_listed(&mut subscription, &id3).await;
    assert_eq!(ids(&list), vec![id1, id2, id3]);
    assert_eq!(string(&list[2], "author"), "Rusty");

    // set_auth(None) signs the socket out.
    client.set_auth(None).await;
    let signed_out =
        until_value(&mut whoami, "null after set_auth(None)", |r| *r == FunctionResult::Value(Value::Null)).await;
    assert_eq!(signed_out, FunctionResult::Value(Value::Null));

    drop(whoami);
    drop(subscription);
    drop(client);
    drop(other);
}
