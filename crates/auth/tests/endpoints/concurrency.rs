//! Security floor under concurrency: one user per e-mail, single-use tokens, bounded password hashing.

use crate::harness::*;
use auth::adapter::Where;
use auth::schema::Model;
use auth::{AuthService, HashLoad};
use serde_json::json;

/// Runs the requests at once, each on its own task, and returns the answers in order.
async fn all_at_once(svc: &AuthService, requests: Vec<Req>) -> Vec<Resp> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|req| {
            let svc = svc.clone();
            tokio::spawn(async move { Resp::from(svc.handle(req.into_request()).await) })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sign_ups_with_one_email_create_exactly_one_user() {
    let env = Env::new().await;
    let requests = (0..10)
        .map(|i| {
            let email = if i % 2 == 0 { "race@example.com" } else { "RACE@Example.com" };
            Req::post("/sign-up/email", json!({"name": format!("Racer {i}"), "email": email, "password": PASSWORD}))
        })
        .collect();
    let answers = all_at_once(&env.svc, requests).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 422, 422, 422, 422, 422, 422, 422, 422, 422]);
    for resp in answers.iter().filter(|r| r.status == 422) {
        check_error(resp, 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.");
    }
    let winner = answers.iter().find(|r| r.status == 200).unwrap().json();
    let user_id = winner["user"]["id"].as_str().unwrap();
    assert_eq!(env.count(Model::User, &[]).await, 1);
    assert_eq!(env.count(Model::User, &[Where::eq("email", "race@example.com")]).await, 1);
    assert_eq!(env.count(Model::Account, &[]).await, 1);
    assert_eq!(env.count(Model::Account, &[Where::eq("userId", user_id)]).await, 1);
    assert_eq!(env.count(Model::Session, &[]).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_reset_token_used_concurrently_succeeds_exactly_once() {
    let env = Env::new().await;
    env.signed_up("Alice", "alice@example.com").await;
    env.send(Req::post("/request-password-reset", json!({"email": "alice@example.com"}))).await;
    let url = env.take_mails()[0].url.clone();
    let token = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();

    let passwords: Vec<String> = (0..5).map(|i| format!("new password number {i}")).collect();
    let requests =
        passwords.iter().map(|p| Req::post("/reset-password", json!({"newPassword": p, "token": token}))).collect();
    let answers = all_at_once(&env.svc, requests).await;
    let winners: Vec<usize> = (0..5).filter(|&i| answers[i].status == 200).collect();
    assert_eq!(winners.len(), 1, "{:?}", answers.iter().map(|r| (r.status, r.text())).collect::<Vec<_>>());
    for (i, resp) in answers.iter().enumerate() {
        if i != winners[0] {
            check_error(resp, 400, "INVALID_TOKEN", "Invalid token");
        }
    }
    assert_eq!(env.count(Model::Verification, &[]).await, 0);
    env.browser().sign_in("alice@example.com", &passwords[winners[0]]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_sign_ins_never_hash_more_than_the_permits_at_once() {
    let permits = 2;
    let env = Env::build(|_| {}, Setup { hash_permits: permits, ..Setup::default() }).await;
    env.signed_up("Alice", "alice@example.com").await;
    let requests = (0..200)
        .map(|i| {
            // Half of them fail: wrong passwords and unknown users cost the same hashing.
            let body = match i % 4 {
                0 | 1 => json!({"email": "alice@example.com", "password": PASSWORD}),
                2 => json!({"email": "alice@example.com", "password": "wrong password"}),
                _ => json!({"email": format!("nobody{i}@example.com"), "password": PASSWORD}),
            };
            Req::post("/sign-in/email", body)
        })
        .collect();
    let answers = all_at_once(&env.svc, requests).await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    let refused = answers.iter().filter(|r| r.status == 401).count();
    assert_eq!((ok, refused), (100, 100));
    assert_eq!(env.count(Model::Session, &[]).await, 101);
    let load = env.svc.hash_load();
    assert_eq!(load.running, 0);
    assert_eq!(load.total, 201, "one hash for the sign-up, one verification per sign-in");
    assert!((1..=permits).contains(&load.peak), "{load:?}");
}

/// Waits (yielding, never sleeping) until `ready` holds for the service's hash load. The timeout only turns a
/// hang into a failure; nothing here depends on how long anything takes.
async fn until(svc: &AuthService, ready: impl Fn(HashLoad) -> bool) {
    let wait = async {
        while !ready(svc.hash_load()) {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(120), wait).await.expect("the hash load never got there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_request_keeps_its_hash_permit_until_the_hash_is_done() {
    let env = Env::build(|_| {}, Setup { hash_permits: 1, ..Setup::default() }).await;
    env.signed_up("Alice", "alice@example.com").await;
    let sign_in = || Req::post("/sign-in/email", json!({"email": "alice@example.com", "password": PASSWORD}));

    // The client goes away while its password is being hashed.
    let svc = env.svc.clone();
    let abandoned = tokio::spawn(async move { svc.handle(sign_in().into_request()).await });
    until(&env.svc, |load| load.running == 1).await;
    abandoned.abort();
    assert!(abandoned.await.unwrap_err().is_cancelled());

    // The next request waits for that computation to finish instead of running beside it.
    assert_eq!(env.send(sign_in()).await.status, 200);
    until(&env.svc, |load| load.running == 0).await;
    let load = env.svc.hash_load();
    assert_eq!((load.peak, load.total), (1, 3), "{load:?}");
}
