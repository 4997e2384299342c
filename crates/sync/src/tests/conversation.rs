//! The replayable conversation script of `convex-wire.md` §9, and version chaining over a long conversation.

use super::harness::{check, Session, SESSION_1};
use crate::ClientKind;
use serde_json::json;
use value::{obj, Value};

/// `convex-wire.md` §9 line by line; the prose line (`expect_any_of_these_chains`) is the `expect_chain` step.
const SCRIPT: &str = r#"
{"send":{"type":"Connect","sessionId":"11111111-1111-4111-8111-111111111111","connectionCount":0,"lastCloseReason":"InitialConnect","clientTs":0}}
{"send":{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{}]}]}}
{"expect":{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":1,"identity":0,"ts":"$T1"},"modifications":[{"type":"QueryUpdated","queryId":0,"value":[],"logLines":"*","journal":"*"}]}}
{"send":{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{"body":"hi"}]}}
{"expect":{"type":"MutationResponse","requestId":0,"success":true,"result":null,"ts":"$M0>=$T1","logLines":"*"}}
{"expect":{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"$T1"},"endVersion":{"querySet":1,"identity":0,"ts":"$T2>=$M0"},"modifications":[{"type":"QueryUpdated","queryId":0,"value":[{"body":"hi"}],"logLines":"*","journal":"*"}]}}
{"send":{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{"body":"hi"}]}}
{"expect":{"type":"MutationResponse","requestId":0,"success":true,"result":null,"ts":"$M0","logLines":"*"}}
{"expect":{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"$T2"},"endVersion":{"querySet":1,"identity":0,"ts":"$T3>=$T2"},"modifications":"*"}}
{"send":{"type":"Action","requestId":1,"udfPath":"actions:echo","args":[{"n":{"$integer":"KgAAAAAAAAA="}}]}}
{"expect":{"type":"ActionResponse","requestId":1,"success":true,"result":{"n":{"$integer":"KgAAAAAAAAA="}},"logLines":"*"}}
{"send":{"type":"Mutation","requestId":2,"udfPath":"errors.js:convexError","args":[{}]}}
{"expect":{"type":"MutationResponse","requestId":2,"success":false,"result":"*","errorData":{"code":"NOPE"},"logLines":"*"}}
{"expect":{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"$T3"},"endVersion":{"querySet":1,"identity":0,"ts":"$T4>=$T3"},"modifications":"*"}}
{"send":{"type":"Authenticate","tokenType":"User","value":"$JWT_OK","baseVersion":0}}
{"send":{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{"type":"Add","queryId":1,"udfPath":"whoami","args":[{}]},{"type":"Remove","queryId":0}]}}
{"expect_chain":{"to":{"querySet":2,"identity":1},"modifications":[{"type":"QueryUpdated","queryId":1,"value":"u1"},{"type":"QueryRemoved","queryId":0}],"allow":[{"type":"QueryUpdated","queryId":0}]}}
{"send":{"type":"Authenticate","tokenType":"User","value":"$JWT_BAD","baseVersion":1}}
{"expect":{"type":"AuthError","error":"*","baseVersion":1,"authUpdateAttempted":true}}
{"expect_close":true}
"#;

#[tokio::test]
async fn the_spec_conversation_script() {
    let session = check(SCRIPT).await;
    // The replayed requestId 0 did not insert again.
    assert_eq!(session.query("messages:list", obj! {}).await, Value::Array(vec![obj! {"body" => "hi"}]));
    assert!(session.is_closed("a"));
}

/// The same script with the socket's own flush after every frame is what `check` does; answering Authenticate and
/// ModifyQuerySet together (one Transition, the other branch of the chain) is allowed too.
#[tokio::test]
async fn the_spec_conversation_with_authenticate_and_query_set_in_one_transition() {
    let script = SCRIPT.replace(
        r#"{"send":{"type":"Authenticate","tokenType":"User","value":"$JWT_OK","baseVersion":0}}"#,
        r#"{"send":{"type":"Authenticate","tokenType":"User","value":"$JWT_OK","baseVersion":0},"flush":false}"#,
    );
    assert_ne!(script, SCRIPT);
    let session = check(&script).await;
    let last = session.transitions("a").last().cloned().unwrap();
    assert_eq!(last["startVersion"]["identity"], 0, "one Transition carried both changes: {last}");
    assert_eq!(last["endVersion"]["querySet"], 2);
    assert_eq!(last["endVersion"]["identity"], 1);
}

/// The Rust client re-Adds queries in the server's canonical form (`messages.js:list`).
#[tokio::test]
async fn the_first_six_lines_with_the_js_path_form() {
    let six: Vec<&str> = SCRIPT.trim().lines().take(6).collect();
    let script = six.join("\n").replace(r#""udfPath":"messages:list""#, r#""udfPath":"messages.js:list""#);
    assert!(script.contains("messages.js:list"));
    let session = check(&script).await;
    assert!(session.ts("T2") >= session.ts("M0"));
}

/// Every Transition's startVersion is the previous endVersion (the first starts at zero), across query-set
/// changes, mutations (successful, replayed, failed), actions that write, identity changes and other clients' commits.
#[tokio::test]
async fn versions_chain_across_many_operations() {
    let mut session = Session::new().await;
    session.open("a", ClientKind::NpmWithChunks);
    session
        .run(&format!(
            r#"
{{"connect":"{SESSION_1}"}}
{{"send":{{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{{}}]}}]}}}}
{{"send":{{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{{"body":"one"}}]}}}}
{{"send":{{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{{"type":"Add","queryId":1,"udfPath":"whoami:get","args":[{{}}]}}]}}}}
{{"send":{{"type":"Action","requestId":1,"udfPath":"actions:echo","args":[{{"x":1}}]}}}}
{{"send":{{"type":"Action","requestId":2,"udfPath":"actions:send","args":[{{"body":"from an action"}}]}}}}
{{"send":{{"type":"Mutation","requestId":3,"udfPath":"errors:convexError","args":[{{}}]}}}}
{{"send":{{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{{"body":"one"}}]}}}}
{{"send":{{"type":"Authenticate","tokenType":"User","value":"JWT_OK","baseVersion":0}}}}
{{"send":{{"type":"ModifyQuerySet","baseVersion":2,"newVersion":3,"modifications":[{{"type":"Remove","queryId":0}}]}}}}
{{"on":"b","send":{{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{{"body":"from b"}}]}}}}
{{"notify":true}}
{{"send":{{"type":"ModifyQuerySet","baseVersion":3,"newVersion":4,"modifications":[{{"type":"Add","queryId":2,"udfPath":"messages:byAuthor","args":[{{"author":"ann"}}]}},{{"type":"Add","queryId":3,"udfPath":"no/such:fn","args":[{{}}]}}]}}}}
{{"mutate":{{"path":"messages:sendAs","args":{{"body":"by ann","author":"ann"}}}}}}
{{"notify":true}}
{{"send":{{"type":"Authenticate","tokenType":"None","baseVersion":1}}}}
{{"send":{{"type":"ModifyQuerySet","baseVersion":4,"newVersion":5,"modifications":[]}}}}
{{"send":{{"type":"Mutation","requestId":4,"udfPath":"messages:send","args":[{{"body":"two"}}]}}}}
{{"send":{{"type":"Authenticate","tokenType":"User","value":"JWT_U2","baseVersion":2}}}}
"#
        ))
        .await;
    let transitions = session.transitions("a");
    assert!(transitions.len() >= 12, "{} Transitions", transitions.len());
    let mut version = json!({"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="});
    for t in transitions {
        assert_eq!(t["startVersion"], version, "{t}");
        version = t["endVersion"].clone();
    }
    assert_eq!(version["querySet"], 5);
    assert_eq!(version["identity"], 3);
    // The query-set changes and identity changes each showed up in some Transition, in order.
    let query_sets: Vec<u64> = transitions.iter().filter_map(|t| t["endVersion"]["querySet"].as_u64()).collect();
    assert!(query_sets.windows(2).all(|w| w[0] <= w[1]) && query_sets.contains(&3), "{query_sets:?}");
}
