//! Authentication over the socket: identity versions, re-running queries under a new identity, rejected tokens,
//! token expiry while connected, and protocol errors.

use super::harness::{check, Session, START_SECS};
use value::obj;

const WHOAMI_AND_LIST: &str = r#"
{"connect":"11111111-1111-4111-8111-111111111111"}
{"send":{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"whoami:get","args":[{}]},{"type":"Add","queryId":1,"udfPath":"messages:list","args":[{}]}]}}
{"expect":{"type":"Transition","endVersion":{"querySet":1,"identity":0,"ts":"$T1"},"modifications":[{"type":"QueryUpdated","queryId":0,"value":null},{"type":"QueryUpdated","queryId":1,"value":[]}]}}
"#;

/// Each accepted Authenticate (including `None`, which logs out) bumps the identity version by one in a Transition
/// that re-runs the queries; only results that changed are sent.
#[tokio::test]
async fn authenticate_bumps_identity_and_reruns_queries() {
    let script = format!(
        r#"{WHOAMI_AND_LIST}
{{"send":{{"type":"Authenticate","tokenType":"User","value":"JWT_OK","baseVersion":0}}}}
{{"expect":{{"type":"Transition","startVersion":{{"querySet":1,"identity":0,"ts":"$T1"}},"endVersion":{{"querySet":1,"identity":1,"ts":"$T2>=$T1"}},"modifications":[{{"type":"QueryUpdated","queryId":0,"value":"u1"}}]}}}}
{{"send":{{"type":"Authenticate","tokenType":"None","baseVersion":1}}}}
{{"expect":{{"type":"Transition","startVersion":{{"querySet":1,"identity":1,"ts":"$T2"}},"endVersion":{{"querySet":1,"identity":2,"ts":"$T3>=$T2"}},"modifications":[{{"type":"QueryUpdated","queryId":0,"value":null}}]}}}}
{{"send":{{"type":"Authenticate","tokenType":"User","value":"JWT_U2","baseVersion":2}}}}
{{"expect":{{"type":"Transition","endVersion":{{"querySet":1,"identity":3,"ts":"*"}},"modifications":[{{"type":"QueryUpdated","queryId":0,"value":"u2"}}]}}}}
// Mutations and actions run as the current identity.
{{"send":{{"type":"Action","requestId":0,"udfPath":"actions:echo","args":[{{}}]}}}}
{{"expect":{{"type":"ActionResponse","requestId":0,"success":true,"result":{{}},"logLines":["[INFO] 'echo'"]}}}}
"#
    );
    let session = check(&script).await;
    // Evaluated anonymously, as u1 and as u2; the logged-out re-run at the unchanged timestamp reuses the first,
    // anonymous evaluation (the shared query cache). Sent only once either way.
    assert_eq!(session.d.runs.of("messages:list"), 3, "re-run per distinct identity, sent only once");
}

/// The npm client switching tokens (its React provider re-running `setAuth`) sends `Authenticate None` and then
/// `Authenticate User`. The socket applies both before the next Transition (after a frame that signed an identity
/// out it waits briefly for the next one, see `Worker::signed_out_last`): one Transition over two identity versions,
/// and the queries never show the signed-out result.
#[tokio::test]
async fn a_token_switch_applied_together_shows_no_signed_out_result() {
    let script = format!(
        r#"{WHOAMI_AND_LIST}
{{"send":{{"type":"Authenticate","tokenType":"User","value":"JWT_OK","baseVersion":0}}}}
{{"expect":{{"type":"Transition","startVersion":{{"querySet":1,"identity":0,"ts":"$T1"}},"endVersion":{{"querySet":1,"identity":1,"ts":"$T2>=$T1"}},"modifications":[{{"type":"QueryUpdated","queryId":0,"value":"u1"}}]}}}}
"#
    );
    let mut session = Session::new().await;
    session.run(&script).await;
    assert!(!session.signed_out_last("a"), "signing in is no sign-out");
    session.run(r#"{"send":{"type":"Authenticate","tokenType":"None","baseVersion":1},"flush":false}"#).await;
    assert!(session.signed_out_last("a"), "None after a User identity signed out");
    session
        .run(
            r#"
{"send":{"type":"Authenticate","tokenType":"User","value":"JWT_OK","baseVersion":2}}
{"expect":{"type":"Transition","startVersion":{"querySet":1,"identity":1,"ts":"$T2"},"endVersion":{"querySet":1,"identity":3,"ts":"*"},"modifications":[]}}
"#,
        )
        .await;
    assert!(!session.signed_out_last("a"), "any later frame clears the flag");
    // Signing out an anonymous socket drops no identity: nothing to wait for.
    session
        .run(
            r#"
{"send":{"type":"Authenticate","tokenType":"None","baseVersion":3}}
{"expect":{"type":"Transition","endVersion":{"querySet":1,"identity":4,"ts":"*"},"modifications":[{"type":"QueryUpdated","queryId":0,"value":null}]}}
{"send":{"type":"Authenticate","tokenType":"None","baseVersion":4},"flush":false}
"#,
        )
        .await;
    assert!(!session.signed_out_last("a"), "None on an anonymous socket");
    session.finish();
}

/// With no queries, the Transition that confirms a token carries no modifications (`convex-wire.md` §8.4).
#[tokio::test]
async fn authenticate_without_queries_is_confirmed_by_an_empty_transition() {
    check(
        r#"
{"connect":"11111111-1111-4111-8111-111111111111"}
{"send":{"type":"Authenticate","tokenType":"User","value":"JWT_OK","baseVersion":0}}
{"expect":{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":1,"ts":"*"},"modifications":[]}}
{"send":{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"whoami","args":[{}]}]}}
{"expect":{"type":"Transition","startVersion":{"querySet":0,"identity":1,"ts":"*"},"endVersion":{"querySet":1,"identity":1,"ts":"*"},"modifications":[{"type":"QueryUpdated","queryId":0,"value":"u1","logLines":[],"journal":null}]}}
"#,
    )
    .await;
}

/// A rejected token: AuthError (attempted) with the server's identity version, then a close without status code;
/// the socket says nothing more.
#[tokio::test]
async fn a_rejected_token_ends_the_socket() {
    let script = format!(
        r#"{WHOAMI_AND_LIST}
{{"send":{{"type":"Authenticate","tokenType":"User","value":"JWT_BAD","baseVersion":0}}}}
{{"expect":{{"type":"AuthError","error":"Could not verify token claim. Check that the JWT contains valid claims and matches your auth provider configuration.","baseVersion":0,"authUpdateAttempted":true}}}}
{{"expect_close":true}}
{{"send":{{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{{"body":"after close"}}]}}}}
{{"mutate":{{"path":"messages:send","args":{{"body":"elsewhere"}}}}}}
{{"notify":true}}
{{"tick":true}}
{{"expect_nothing":true}}
"#
    );
    let session = check(&script).await;
    assert_eq!(session.query("messages:list", obj! {}).await.as_array().map(<[_]>::len), Some(1));
}

#[tokio::test]
async fn admin_keys_are_rejected_with_an_auth_error() {
    check(
        r#"
{"connect":"11111111-1111-4111-8111-111111111111"}
{"send":{"type":"Authenticate","tokenType":"Admin","value":"some-admin-key","baseVersion":0}}
{"expect":{"type":"AuthError","error":"*","baseVersion":0,"authUpdateAttempted":true}}
{"expect_close":true}
"#,
    )
    .await;
}

/// `baseVersion` must be the server's identity version: otherwise the socket closes with 1011.
#[tokio::test]
async fn an_identity_base_version_mismatch_closes_with_1011() {
    let script = format!(
        r#"{WHOAMI_AND_LIST}
{{"send":{{"type":"Authenticate","tokenType":"User","value":"JWT_OK","baseVersion":0}}}}
{{"expect":{{"type":"Transition","endVersion":{{"querySet":1,"identity":1,"ts":"*"}}}}}}
{{"send":{{"type":"Authenticate","tokenType":"User","value":"JWT_OK","baseVersion":0}}}}
{{"expect_close":1011}}
"#
    );
    check(&script).await;
}

fn authenticated_until_60s() -> String {
    format!(
        r#"{WHOAMI_AND_LIST}
{{"send":{{"type":"Authenticate","tokenType":"User","value":"JWT_OK","baseVersion":0}}}}
{{"expect":{{"type":"Transition","endVersion":{{"querySet":1,"identity":1,"ts":"$T2"}},"modifications":[{{"type":"QueryUpdated","queryId":0,"value":"u1"}}]}}}}
{{"advance_secs":30}}
{{"tick":true}}
{{"expect_nothing":true}}
"#
    )
}

const EXPIRED: &str = r#"
{"expect":{"type":"AuthError","error":"Convex token identity expired","baseVersion":1,"authUpdateAttempted":false}}
{"expect_close":true}
"#;

/// A session authenticated with a token that expires 60 s after the start, then `step` 31 s later (past the expiry
/// and its leeway), which must end in [`EXPIRED`].
async fn after_expiry(step: &str) -> Session {
    let mut session = Session::new().await;
    session.d.verifier.set_expiry(Some(START_SECS + 60));
    session.run(&authenticated_until_60s()).await;
    session.run(&format!("{{\"advance_secs\":31}}\n{step}\n{EXPIRED}")).await;
    session.finish();
    session
}

/// The periodic tick notices an expired identity: AuthError (not attempted) and a close.
#[tokio::test]
async fn an_expired_identity_is_noticed_by_the_tick() {
    after_expiry(r#"{"tick":true}"#).await;
}

/// A mutation after expiry is refused (and does not run).
#[tokio::test]
async fn a_mutation_after_expiry_gets_an_auth_error() {
    let session = after_expiry(
        r#"{"send":{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{"body":"too late"}]}}"#,
    )
    .await;
    assert_eq!(session.query("messages:list", obj! {}).await, value::Value::Array(vec![]));
}

#[tokio::test]
async fn an_action_after_expiry_gets_an_auth_error() {
    let session = after_expiry(
        r#"{"send":{"type":"Action","requestId":0,"udfPath":"actions:send","args":[{"body":"too late"}]}}"#,
    )
    .await;
    assert_eq!(session.query("messages:list", obj! {}).await, value::Value::Array(vec![]));
}

/// Re-running queries after a commit is also "running something": an expired identity ends the socket then.
#[tokio::test]
async fn a_query_rerun_after_expiry_gets_an_auth_error() {
    after_expiry("{\"mutate\":{\"path\":\"messages:send\",\"args\":{\"body\":\"hi\"}}}\n{\"notify\":true}").await;
}

/// A fresh token replaces the old expiry (the npm client refreshes before `exp`), also when it arrives just after
/// the old token expired but before anything noticed; logging out removes the expiry.
#[tokio::test]
async fn a_refreshed_token_replaces_the_expiry() {
    let mut session = Session::new().await;
    session.d.verifier.set_expiry(Some(START_SECS + 60));
    session.run(&authenticated_until_60s()).await;
    session.d.verifier.set_expiry(Some(START_SECS + 200));
    session
        .run(
            r#"
{"advance_secs":35}
{"send":{"type":"Authenticate","tokenType":"User","value":"JWT_OK","baseVersion":1}}
{"expect":{"type":"Transition","endVersion":{"querySet":1,"identity":2,"ts":"*"},"modifications":[]}}
{"advance_secs":100}
{"tick":true}
{"expect_nothing":true}
{"send":{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{"body":"still signed in"}]}}
{"expect":{"type":"MutationResponse","requestId":0,"success":true}}
{"expect":{"type":"Transition","modifications":[{"type":"QueryUpdated","queryId":1,"value":[{"body":"still signed in"}]}]}}
{"send":{"type":"Authenticate","tokenType":"None","baseVersion":2}}
{"expect":{"type":"Transition","endVersion":{"querySet":1,"identity":3,"ts":"*"},"modifications":[{"type":"QueryUpdated","queryId":0,"value":null}]}}
{"advance_secs":1000}
{"tick":true}
{"expect_nothing":true}
"#,
        )
        .await;
    session.finish();
}
