//! list-accounts and unlink-account.

use crate::harness::*;
use auth::adapter::Where;
use auth::schema::Model;
use serde_json::json;

#[tokio::test]
async fn list_accounts_never_shows_passwords_or_tokens() {
    let env = Env::new().await;
    let (mut alice, user) = env.signed_up("Alice", "alice@example.com").await;
    let id = user["id"].as_str().unwrap().to_string();

    let resp = alice.get("/list-accounts").await;
    let credential = json!({
        "id": "<id>", "providerId": "credential", "createdAt": START_ISO, "updatedAt": START_ISO,
        "accountId": "<id>", "userId": "<id>", "scopes": [],
    });
    check_shape(&resp, 200, json!([credential]));
    assert_eq!(resp.json()[0]["accountId"], json!(id));
    assert_eq!(resp.json()[0]["userId"], json!(id));

    env.insert_github_account(&id).await;
    let resp = alice.get("/list-accounts").await;
    let github = json!({
        "id": "<id>", "providerId": "github", "createdAt": START_ISO, "updatedAt": START_ISO,
        "accountId": "4242", "userId": "<id>", "scopes": ["read:user", "user:email"],
    });
    check_shape(&resp, 200, json!([credential, github]));
    let text = resp.text();
    for secret in ["password", "gho_access_secret", "ghr_refresh_secret", "id_token_secret", "Token"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    check_empty(&env.send(Req::get("/list-accounts")).await, 401);
}

#[tokio::test]
async fn unlink_account_never_unlinks_the_last_one() {
    let env = Env::new().await;
    let (mut alice, user) = env.signed_up("Alice", "alice@example.com").await;
    let id = user["id"].as_str().unwrap().to_string();

    let resp = alice.post("/unlink-account", json!({"providerId": "credential"})).await;
    check_error(&resp, 400, "YOU_CANT_UNLINK_YOUR_LAST_ACCOUNT", "You can't unlink your last account");
    assert_eq!(env.count(Model::Account, &[Where::eq("userId", id.as_str())]).await, 1);

    env.insert_github_account(&id).await;
    let resp = alice.post("/unlink-account", json!({"providerId": "gitlab"})).await;
    check_error(&resp, 400, "ACCOUNT_NOT_FOUND", "Account not found");
    let resp = alice.post("/unlink-account", json!({"providerId": "github", "accountId": "9999"})).await;
    check_error(&resp, 400, "ACCOUNT_NOT_FOUND", "Account not found");
    let resp = alice.post("/unlink-account", json!({})).await;
    check_error(&resp, 400, "VALIDATION_ERROR", "[body.providerId] Invalid input: expected string, received undefined");
    check_empty(&env.send(Req::post("/unlink-account", json!({"providerId": "github"}))).await, 401);

    let resp = alice.post("/unlink-account", json!({"providerId": "github", "accountId": "4242"})).await;
    check(&resp, 200, json!({"status": true}));
    let providers: Vec<String> = alice
        .get("/list-accounts")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["providerId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(providers, ["credential"]);
    let resp = alice.post("/unlink-account", json!({"providerId": "credential"})).await;
    check_error(&resp, 400, "YOU_CANT_UNLINK_YOUR_LAST_ACCOUNT", "You can't unlink your last account");
}

#[tokio::test]
async fn unlink_account_needs_a_fresh_session() {
    let env = Env::new().await;
    let (mut alice, user) = env.signed_up("Alice", "alice@example.com").await;
    env.insert_github_account(user["id"].as_str().unwrap()).await;
    // Still valid, no longer fresh (freshAge: one day).
    env.advance_secs(DAY);
    let resp = alice.post("/unlink-account", json!({"providerId": "github"})).await;
    check_error(&resp, 403, "SESSION_IS_NOT_FRESH", "Session is not fresh");
    // A sliding refresh makes it fresh again.
    alice.get("/get-session").await;
    let resp = alice.post("/unlink-account", json!({"providerId": "github"})).await;
    check(&resp, 200, json!({"status": true}));
}
