//! Commits reach subscribers: another client's mutation is pushed after a wake-up, results are re-run only when a
//! commit wrote into what they read, and unchanged results are never resent.

use super::harness::{check, decode_ts, Deployment, Session, SESSION_1, SESSION_2};
use serde_json::json;
use std::sync::Arc;

const SUBSCRIBE_LIST: &str = r#"
{"connect":"11111111-1111-4111-8111-111111111111"}
{"send":{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{}]}]}}
{"expect":{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":1,"identity":0,"ts":"$T1"},"modifications":[{"type":"QueryUpdated","queryId":0,"value":[],"logLines":[],"journal":null}]}}
"#;

/// A mutation on another socket (another session) reaches the subscriber after a commit wake-up; the writer's own
/// socket, which subscribes to nothing, still gets its read-your-writes Transition.
#[tokio::test]
async fn another_clients_mutation_is_pushed_after_a_commit_wake_up() {
    let script = format!(
        r#"{SUBSCRIBE_LIST}
{{"on":"b","connect":"{SESSION_2}"}}
{{"on":"b","send":{{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{{"body":"from b"}}]}}}}
{{"on":"b","expect":{{"type":"MutationResponse","requestId":0,"success":true,"result":null,"ts":"$MB>=$T1"}}}}
{{"on":"b","expect":{{"type":"Transition","startVersion":{{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="}},"endVersion":{{"querySet":0,"identity":0,"ts":"$TB>=$MB"}},"modifications":[]}}}}
// Nothing reaches "a" before its socket hears of the commit.
{{"expect_nothing":true}}
{{"notify":true}}
{{"expect":{{"type":"Transition","startVersion":{{"querySet":1,"identity":0,"ts":"$T1"}},"endVersion":{{"querySet":1,"identity":0,"ts":"$T2>=$MB"}},"modifications":[{{"type":"QueryUpdated","queryId":0,"value":[{{"body":"from b"}}],"logLines":[],"journal":null}}]}}}}
// A second wake-up for the same commit changes nothing.
{{"notify":true}}
{{"expect_nothing":true}}
"#
    );
    let session = check(&script).await;
    assert_eq!(session.d.runs.of("messages:list"), 2);
}

/// A commit to a table the client's queries never read sends nothing: the spec allows an empty Transition, the real
/// server sends none (no subscription was invalidated), and neither does this one — nor does it re-run the query.
#[tokio::test]
async fn a_commit_elsewhere_sends_nothing_and_reruns_nothing() {
    let script = format!(
        r#"{SUBSCRIBE_LIST}
{{"on":"b","send":{{"type":"Mutation","requestId":0,"udfPath":"other:insert","args":[{{}}]}}}}
{{"on":"b","expect":{{"type":"MutationResponse","requestId":0,"success":true}}}}
{{"on":"b","expect":{{"type":"Transition","modifications":[]}}}}
{{"notify":true}}
{{"expect_nothing":true}}
{{"mutate":{{"path":"other:insert"}}}}
{{"notify":true}}
{{"expect_nothing":true}}
// A later commit into messages is still pushed, chained to the first Transition.
{{"mutate":{{"path":"messages:send","args":{{"body":"later"}}}}}}
{{"notify":true}}
{{"expect":{{"type":"Transition","startVersion":{{"querySet":1,"identity":0,"ts":"$T1"}},"endVersion":{{"querySet":1,"identity":0,"ts":"$T2>=$T1"}},"modifications":[{{"type":"QueryUpdated","queryId":0,"value":[{{"body":"later"}}]}}]}}}}
"#
    );
    let session = check(&script).await;
    assert_eq!(session.d.runs.of("messages:list"), 2, "re-run only for the commit into messages");
}

/// A commit into what a query read re-runs it; if the result is the same, nothing is sent.
#[tokio::test]
async fn an_unchanged_result_is_not_resent() {
    let script = format!(
        r#"
{{"mutate":{{"path":"messages:send","args":{{"body":"hi"}}}}}}
{{"connect":"{SESSION_1}"}}
{{"send":{{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{{}}]}}]}}}}
{{"expect":{{"type":"Transition","modifications":[{{"type":"QueryUpdated","queryId":0,"value":[{{"body":"hi"}}]}}]}}}}
{{"mutate":{{"path":"messages:setAuthor","args":{{"author":"ann"}}}}}}
{{"notify":true}}
{{"expect_nothing":true}}
"#
    );
    let session = check(&script).await;
    assert_eq!(session.d.runs.of("messages:list"), 2, "the query re-ran (its documents changed) but said nothing");
}

/// A failed query re-runs on commits, but the same failure is not resent (its message differs only in the
/// request id).
#[tokio::test]
async fn an_unchanged_failure_is_not_resent() {
    let script = format!(
        r#"{SUBSCRIBE_LIST}
{{"send":{{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{{"type":"Add","queryId":1,"udfPath":"errors:query","args":[{{}}]}}]}}}}
{{"expect":{{"type":"Transition","endVersion":{{"querySet":2,"identity":0,"ts":"*"}},"modifications":[{{"type":"QueryFailed","queryId":1,"errorMessage":"*","errorData":{{"code":"NOPE"}},"logLines":[]}}]}}}}
{{"mutate":{{"path":"messages:send","args":{{"body":"hi"}}}}}}
{{"notify":true}}
{{"expect":{{"type":"Transition","modifications":[{{"type":"QueryUpdated","queryId":0,"value":[{{"body":"hi"}}]}}]}}}}
{{"mutate":{{"path":"other:insert"}}}}
{{"notify":true}}
{{"expect_nothing":true}}
"#
    );
    check(&script).await;
}

/// A failed query whose data changes is re-run and its new result sent.
#[tokio::test]
async fn a_failed_query_recovers_when_its_data_changes() {
    check(
        r#"
{"connect":"11111111-1111-4111-8111-111111111111"}
{"send":{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:first","args":[{}]}]}}
{"expect":{"type":"Transition","modifications":[{"type":"QueryFailed","queryId":0,"errorMessage":"$E","errorData":"<absent>"}]}}
{"mutate":{"path":"messages:send","args":{"body":"first"}}}
{"notify":true}
{"expect":{"type":"Transition","modifications":[{"type":"QueryUpdated","queryId":0,"value":"first"}]}}
{"mutate":{"path":"messages:send","args":{"body":"second"}}}
{"notify":true}
{"expect_nothing":true}
"#,
    )
    .await;
}

const SUBSCRIBE_ANN: &str = r#"
{"connect":"11111111-1111-4111-8111-111111111111"}
{"send":{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:byAuthor","args":[{"author":"ann"}]}]}}
{"expect":{"type":"Transition","endVersion":{"querySet":1,"identity":0,"ts":"$T1"},"modifications":[{"type":"QueryUpdated","queryId":0,"value":[]}]}}
"#;

/// A query over an index range is re-run only for commits that write inside the range.
#[tokio::test]
async fn an_index_range_query_reruns_only_for_writes_inside_its_range() {
    let mut session = Session::new().await;
    session.run(SUBSCRIBE_ANN).await;
    assert_eq!(session.d.runs.of("messages:byAuthor"), 1);
    session
        .run(
            r#"
{"mutate":{"path":"messages:sendAs","args":{"body":"by bob","author":"bob"}}}
{"mutate":{"path":"messages:sendAs","args":{"body":"by al","author":"al"}}}
{"mutate":{"path":"messages:sendAs","args":{"body":"by anna","author":"anna"}}}
{"notify":true}
{"expect_nothing":true}
"#,
        )
        .await;
    assert_eq!(session.d.runs.of("messages:byAuthor"), 1, "writes outside the range re-ran the query");
    session
        .run(
            r#"
{"mutate":{"path":"messages:sendAs","args":{"body":"by ann","author":"ann"}}}
{"notify":true}
{"expect":{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"$T1"},"endVersion":{"querySet":1,"identity":0,"ts":"$T2>=$T1"},"modifications":[{"type":"QueryUpdated","queryId":0,"value":[{"body":"by ann"}]}]}}
"#,
        )
        .await;
    assert_eq!(session.d.runs.of("messages:byAuthor"), 2);
    // Changing a document out of the range is a write inside it (the old key is removed).
    session
        .run(
            r#"
{"mutate":{"path":"messages:setAuthor","args":{"author":"zed"}}}
{"notify":true}
{"expect":{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"$T2"},"modifications":[{"type":"QueryUpdated","queryId":0,"value":[]}]}}
"#,
        )
        .await;
    session.finish();
}

/// Many commits that never touch a client's queries must not degrade it into re-running every query on every
/// commit once the database's recent-commit window has moved past the client's last Transition.
#[tokio::test]
async fn unrelated_commits_beyond_the_commit_window_do_not_rerun_queries() {
    let mut session = Session::on(Deployment::new(4).await);
    session.run(SUBSCRIBE_ANN).await;
    for _ in 0..12 {
        session.run(r#"{"mutate":{"path":"other:insert"}}"#).await;
        session.run(r#"{"notify":true}"#).await;
        session.run(r#"{"expect_nothing":true}"#).await;
    }
    assert_eq!(session.d.runs.of("messages:byAuthor"), 1);
    // And a relevant commit is still noticed.
    session
        .run(
            r#"
{"mutate":{"path":"messages:sendAs","args":{"body":"by ann","author":"ann"}}}
{"notify":true}
{"expect":{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"$T1"},"modifications":[{"type":"QueryUpdated","queryId":0,"value":[{"body":"by ann"}]}]}}
"#,
        )
        .await;
    assert_eq!(session.d.runs.of("messages:byAuthor"), 2);
    session.finish();
}

/// Several commits between two wake-ups are answered by one Transition at the latest timestamp.
#[tokio::test]
async fn commits_between_wake_ups_coalesce_into_one_transition() {
    let script = format!(
        r#"{SUBSCRIBE_LIST}
{{"mutate":{{"path":"messages:send","args":{{"body":"1"}}}}}}
{{"mutate":{{"path":"messages:send","args":{{"body":"2"}}}}}}
{{"mutate":{{"path":"messages:send","args":{{"body":"3"}}}}}}
{{"notify":true}}
{{"expect":{{"type":"Transition","modifications":[{{"type":"QueryUpdated","queryId":0,"value":[{{"body":"1"}},{{"body":"2"}},{{"body":"3"}}]}}]}}}}
{{"notify":true}}
{{"expect_nothing":true}}
"#
    );
    let session = check(&script).await;
    assert_eq!(session.d.runs.of("messages:list"), 2);
}

/// Storage that can hold the next commit after it became visible to snapshots and before the database logs it (the
/// committer persists a batch, then appends it to the recent-commit log and wakes subscribers).
struct GatedPersistence {
    inner: storage::MemoryPersistence,
    armed: std::sync::atomic::AtomicBool,
    written: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl storage::Persistence for GatedPersistence {
    async fn write(&self, commits: Vec<storage::Commit>) -> storage::Result<()> {
        self.inner.write(commits).await?;
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.written.notify_one();
            self.release.notified().await;
        }
        Ok(())
    }
    async fn snapshot(&self) -> storage::Result<Box<dyn storage::Snapshot>> {
        self.inner.snapshot().await
    }
    async fn log_after(&self, after: database::Timestamp, limit: usize) -> storage::Result<Vec<storage::LogRecord>> {
        self.inner.log_after(after, limit).await
    }
    async fn max_ts(&self) -> storage::Result<Option<database::Timestamp>> {
        self.inner.max_ts().await
    }
    async fn prune_log(&self, before: database::Timestamp) -> storage::Result<()> {
        self.inner.prune_log(before).await
    }
    async fn get_meta(&self, key: &str) -> storage::Result<Option<Vec<u8>>> {
        self.inner.get_meta(key).await
    }
    async fn list_meta(&self, prefix: &str) -> storage::Result<Vec<(String, Vec<u8>)>> {
        self.inner.list_meta(prefix).await
    }
    async fn put_meta(&self, entries: Vec<(String, Option<Vec<u8>>)>) -> storage::Result<()> {
        self.inner.put_meta(entries).await
    }
    async fn clear_index(&self, index: storage::IndexId) -> storage::Result<()> {
        self.inner.clear_index(index).await
    }
    async fn backfill_index(&self, entries: Vec<storage::IndexWrite>) -> storage::Result<()> {
        self.inner.backfill_index(entries).await
    }
}

/// An update that runs while a commit is visible in storage but not yet in the commit log must not lose that commit:
/// once the client has processed everything, it holds what the database holds. `with_add`: the racing update also
/// answers a ModifyQuerySet, so it sends a Transition at the snapshot's timestamp.
async fn a_commit_racing_an_update_is_not_lost(with_add: bool) {
    let persistence = Arc::new(GatedPersistence {
        inner: storage::MemoryPersistence::new(),
        armed: false.into(),
        written: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
    });
    let mut session = Session::on(Deployment::on(persistence.clone(), 10_000).await);
    session.run(SUBSCRIBE_LIST).await;
    persistence.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    let runtime = session.d.runtime.clone();
    let mutation = tokio::spawn(async move {
        let args = value::obj! {"body" => "raced"};
        runtime.run("messages:send", args, functions::Caller::public(None), None).await
    });
    persistence.written.notified().await;
    // The commit is in storage, not yet in the log; the socket updates now (a wake-up for an earlier commit, or a
    // query-set change).
    if with_add {
        session.run(r#"{"send":{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{"type":"Add","queryId":1,"udfPath":"whoami","args":[{}]}]}}"#).await;
    } else {
        session.run(r#"{"notify":true}"#).await;
    }
    persistence.release.notify_one();
    assert!(mutation.await.unwrap().result.is_ok());
    session.run(r#"{"notify":true}"#).await;
    session.drain("a");
    assert_eq!(session.client_value("a", 0), Some(json!([{"body": "raced"}])));
    // Every Transition shows the queries at one snapshot: whatever carried the commit's timestamp carried its data.
    let at_or_after = session.transitions("a").iter().find(|t| {
        let ts = t["endVersion"]["ts"].as_str().and_then(decode_ts);
        ts.is_some_and(|ts| ts > session.ts("T1"))
    });
    let first = at_or_after.expect("a Transition after the commit");
    let lists: Vec<_> = first["modifications"].as_array().unwrap().iter().filter(|m| m["queryId"] == 0).collect();
    assert_eq!(lists.len(), 1, "the first Transition at or after the commit updates the list: {first}");
}

#[tokio::test]
async fn a_commit_racing_a_wake_up_is_not_lost() {
    a_commit_racing_an_update_is_not_lost(false).await;
}

#[tokio::test]
async fn a_commit_racing_a_query_set_change_is_not_lost() {
    a_commit_racing_an_update_is_not_lost(true).await;
}

/// Two sockets subscribed to the same query update at one timestamp with a single evaluation between them.
#[tokio::test]
async fn identical_subscriptions_share_one_evaluation_per_timestamp() {
    let d = super::harness::Deployment::new(10_000).await;
    let mut a = crate::Worker::new(d.services.clone(), crate::ClientKind::Other);
    let mut b = crate::Worker::new(d.services.clone(), crate::ClientKind::Other);
    for w in [&mut a, &mut b] {
        w.client_frame(r#"{"type":"Connect","sessionId":"11111111-1111-4111-8111-111111111111","connectionCount":0,"lastCloseReason":null}"#).await;
    }
    let add = r#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{}]}]}"#;
    a.client_frame(add).await;
    a.flush().await;
    b.client_frame(add).await;
    b.flush().await;
    assert_eq!(d.runs.of("messages:list"), 1, "the second socket reused the first one's evaluation");
}
