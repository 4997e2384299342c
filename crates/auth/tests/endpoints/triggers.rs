//! Triggers and database hooks (`auth::triggers`): they run in the auth write's transaction, their app writes
//! commit with it, and a rejection aborts everything.

use crate::harness::*;
use auth::adapter::Where;
use auth::models::User;
use auth::schema::Model;
use auth::triggers::{HookError, Op, Triggers};
use database::{Schema, TableDefinition};
use parking_lot::Mutex;
use serde_json::json;
use std::sync::Arc;
use value::{DocumentId, Object, Value};

/// Every `profiles` row a trigger inserted, committed or not.
type Inserted = Arc<Mutex<Vec<DocumentId>>>;

fn app_schema() -> Schema {
    Schema::new().table("profiles", TableDefinition::new())
}

/// A trigger on user creation that inserts a `profiles` row for the new user (and then fails when `fail`).
fn profile_trigger(inserted: Inserted, fail: bool) -> Triggers {
    Triggers::new().after(
        Model::User,
        Op::Create,
        Arc::new(move |txn, change| {
            let inserted = inserted.clone();
            Box::pin(async move {
                let user = change.new.as_ref().and_then(|d| d.get("_id")).cloned().unwrap_or(Value::Null);
                let mut row = Object::new();
                row.insert("userId".into(), user);
                let id = txn.insert("profiles", row).await.map_err(|e| HookError::Fail(e.to_string()))?;
                inserted.lock().push(id);
                if fail {
                    return Err(HookError::Reject("profiles are closed".into()));
                }
                Ok(())
            })
        }),
    )
}

async fn env_with(triggers: Triggers) -> Env {
    Env::build(|_| {}, Setup { triggers, app_schema: Some(app_schema()), ..Setup::default() }).await
}

/// How many of the inserted rows exist.
async fn committed(env: &Env, inserted: &Inserted) -> usize {
    let mut txn = env.svc.database().begin(true).await.unwrap();
    let ids = inserted.lock().clone();
    let mut n = 0;
    for id in ids {
        if txn.get(&id).await.unwrap().is_some() {
            n += 1;
        }
    }
    n
}

#[tokio::test]
async fn a_trigger_writes_an_app_row_in_the_sign_up_transaction() {
    let inserted = Inserted::default();
    let env = env_with(profile_trigger(inserted.clone(), false)).await;
    let (_, user) = env.signed_up("Pat", "pat@example.com").await;
    assert_eq!(committed(&env, &inserted).await, 1);
    let mut txn = env.svc.database().begin(true).await.unwrap();
    let id = inserted.lock()[0];
    let profile = txn.get(&id).await.unwrap().unwrap();
    assert_eq!(profile.get("userId"), Some(&Value::String(user["id"].as_str().unwrap().into())));
}

#[tokio::test]
async fn a_failing_trigger_leaves_no_user_session_account_or_app_row() {
    let inserted = Inserted::default();
    let env = env_with(profile_trigger(inserted.clone(), true)).await;
    let mut browser = env.browser();
    let resp =
        browser.post("/sign-up/email", json!({"name": "Pat", "email": "pat@example.com", "password": PASSWORD})).await;
    check(&resp, 422, json!({"code": "REJECTED_BY_HOOK", "message": "profiles are closed"}));
    assert!(resp.set_cookies().is_empty());
    assert!(!inserted.lock().is_empty(), "the trigger ran");
    assert_eq!(committed(&env, &inserted).await, 0);
    assert!(env.row::<User>(&[Where::eq("email", "pat@example.com")]).await.is_none());
    assert_eq!(env.count(Model::Session, &[]).await, 0);
    assert_eq!(env.count(Model::Account, &[]).await, 0);
}

#[tokio::test]
async fn before_hooks_change_or_reject_the_data() {
    let triggers = Triggers::new()
        .before(
            Model::User,
            Op::Create,
            Arc::new(|_, data| {
                Box::pin(async move {
                    if data.get("email") == Some(&Value::String("blocked@example.com".into())) {
                        return Err(HookError::Reject("this address may not sign up".into()));
                    }
                    if let Some(Value::String(name)) = data.get("name").cloned() {
                        data.insert("name".into(), Value::String(name.to_uppercase()));
                    }
                    Ok(())
                })
            }),
        )
        .before(
            Model::Session,
            Op::Update,
            Arc::new(|_, _| Box::pin(async { Err(HookError::Fail("sessions are frozen".into())) })),
        );
    let env = env_with(triggers).await;
    let (mut ann, user) = env.signed_up("Ann", "ann@example.com").await;
    assert_eq!(user["name"], json!("ANN"));
    let mut blocked = env.browser();
    let resp = blocked
        .post("/sign-up/email", json!({"name": "B", "email": "blocked@example.com", "password": PASSWORD}))
        .await;
    check(&resp, 422, json!({"code": "REJECTED_BY_HOOK", "message": "this address may not sign up"}));
    assert_eq!(env.count(Model::User, &[]).await, 1);
    // A failing hook (not a rejection) is a 500, and the session stays as it was.
    env.advance_secs(2 * 24 * 3600);
    let resp = ann.get("/get-session").await;
    assert_eq!(resp.status, 500);
    assert_eq!(resp.json()["code"], json!("INTERNAL_SERVER_ERROR"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sign_ups_with_a_trigger_keep_one_user_and_one_app_row_per_email() {
    let inserted = Inserted::default();
    let env = env_with(profile_trigger(inserted.clone(), false)).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let svc = env.svc.clone();
            let body = json!({"name": format!("Racer {i}"), "email": "race@example.com", "password": PASSWORD});
            tokio::spawn(async move { Resp::from(svc.handle(Req::post("/sign-up/email", body).into_request()).await) })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 422, 422, 422, 422, 422, 422, 422]);
    assert_eq!(env.count(Model::User, &[]).await, 1);
    assert_eq!(committed(&env, &inserted).await, 1);
}
