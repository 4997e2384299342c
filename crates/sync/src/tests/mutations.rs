//! Mutations over the socket: responses, the Transition that must follow every one of them, failures, and
//! idempotency by `(sessionId, requestId)` across reconnects.

use super::harness::{check, Session, SESSION_1, SESSION_2};
use serde_json::json;
use value::{obj, Value};

const SUBSCRIBED: &str = r#"
{"connect":"11111111-1111-4111-8111-111111111111"}
{"send":{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{}]}]}}
{"expect":{"type":"Transition","endVersion":{"querySet":1,"identity":0,"ts":"$T1"}}}
"#;

/// A failed mutation answers `success: false` with the message in `result`, `errorData` only for a ConvexError,
/// no `ts`, and is still followed by a Transition (the Rust client waits for one).
#[tokio::test]
async fn failed_mutations_respond_then_transition() {
    let script = format!(
        r#"{SUBSCRIBED}
{{"send":{{"type":"Mutation","requestId":0,"udfPath":"errors:convexError","args":[{{}}]}}}}
{{"expect":{{"type":"MutationResponse","requestId":0,"success":false,"result":"$E0","errorData":{{"code":"NOPE"}},"logLines":[]}}}}
{{"expect":{{"type":"Transition","startVersion":{{"querySet":1,"identity":0,"ts":"$T1"}},"endVersion":{{"querySet":1,"identity":0,"ts":"$T2>=$T1"}},"modifications":[]}}}}
{{"send":{{"type":"Mutation","requestId":1,"udfPath":"errors:plain","args":[{{}}]}}}}
{{"expect":{{"type":"MutationResponse","requestId":1,"success":false,"result":"$E1","errorData":"<absent>","logLines":[]}}}}
{{"expect":{{"type":"Transition","startVersion":{{"querySet":1,"identity":0,"ts":"$T2"}},"endVersion":{{"querySet":1,"identity":0,"ts":"$T3>=$T2"}}}}}}
// Not a mutation, and no such function: function errors, not protocol errors.
{{"send":{{"type":"Mutation","requestId":2,"udfPath":"messages:list","args":[{{}}]}}}}
{{"expect":{{"type":"MutationResponse","requestId":2,"success":false,"result":"$E2","errorData":"<absent>"}}}}
{{"expect":{{"type":"Transition","endVersion":{{"querySet":1,"identity":0,"ts":"$T4>=$T3"}}}}}}
{{"send":{{"type":"Mutation","requestId":3,"udfPath":"no/such:fn","args":[{{}}]}}}}
{{"expect":{{"type":"MutationResponse","requestId":3,"success":false,"result":"$E3"}}}}
{{"expect":{{"type":"Transition","endVersion":{{"querySet":1,"identity":0,"ts":"$T5>=$T4"}}}}}}
// The socket still works.
{{"send":{{"type":"Mutation","requestId":4,"udfPath":"messages:send","args":[{{"body":"ok"}}]}}}}
{{"expect":{{"type":"MutationResponse","requestId":4,"success":true,"ts":"$M4>=$T5"}}}}
{{"expect":{{"type":"Transition","endVersion":{{"querySet":1,"identity":0,"ts":"$T6>=$M4"}},"modifications":[{{"type":"QueryUpdated","queryId":0,"value":[{{"body":"ok"}}]}}]}}}}
"#
    );
    let session = check(&script).await;
    let text = |name: &str| session.var(name).as_str().unwrap().to_string();
    assert!(text("E0").starts_with("[Request ID: "), "{}", text("E0"));
    assert!(text("E0").ends_with("Server Error\nUncaught ConvexError: {\"code\":\"NOPE\"}"), "{}", text("E0"));
    assert!(text("E1").ends_with("Server Error\nUncaught Error: boom"), "{}", text("E1"));
    assert!(text("E2").contains("Trying to execute messages:list as Mutation, but it is defined as Query."));
    assert!(text("E3").contains("Could not find public function for 'no/such:fn'"), "{}", text("E3"));
    // A failure response carries no commit timestamp.
    for t in session.transitions("a") {
        assert!(t["endVersion"]["ts"].is_string());
    }
}

/// A new socket of the same session (npm reconnect) replaying a committed requestId gets the stored response with
/// the original ts and the mutation does not run again; a different session (Rust reconnect) runs it again.
#[tokio::test]
async fn replayed_mutations_are_answered_from_the_log_on_a_new_socket() {
    let script = format!(
        r#"{SUBSCRIBED}
{{"send":{{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{{"body":"once"}}]}}}}
{{"expect":{{"type":"MutationResponse","requestId":0,"success":true,"result":null,"ts":"$M0>=$T1"}}}}
{{"expect":{{"type":"Transition","endVersion":{{"querySet":1,"identity":0,"ts":"$T2>=$M0"}},"modifications":[{{"type":"QueryUpdated","queryId":0,"value":[{{"body":"once"}}]}}]}}}}
// The socket dropped before the client saw the Transition; npm reconnects with the same session id.
{{"on":"a2","send":{{"type":"Connect","sessionId":"{SESSION_1}","connectionCount":1,"lastCloseReason":"InternalServerError","maxObservedTimestamp":"$M0","clientTs":0}}}}
{{"on":"a2","send":{{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{{}}]}}]}}}}
{{"on":"a2","expect":{{"type":"Transition","startVersion":{{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="}},"endVersion":{{"querySet":1,"identity":0,"ts":"$T3>=$M0"}},"modifications":[{{"type":"QueryUpdated","queryId":0,"value":[{{"body":"once"}}]}}]}}}}
{{"on":"a2","send":{{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{{"body":"once"}}]}}}}
{{"on":"a2","expect":{{"type":"MutationResponse","requestId":0,"success":true,"result":null,"ts":"$M0"}}}}
{{"on":"a2","expect":{{"type":"Transition","startVersion":{{"querySet":1,"identity":0,"ts":"$T3"}},"endVersion":{{"querySet":1,"identity":0,"ts":"$T4>=$M0"}},"modifications":[]}}}}
// A Rust client reconnects with a new session id: the server cannot know, and runs the mutation again.
{{"on":"c","connect":"{SESSION_2}"}}
{{"on":"c","send":{{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{{"body":"once"}}]}}}}
{{"on":"c","expect":{{"type":"MutationResponse","requestId":0,"success":true,"result":null,"ts":"$M1>=$T4"}}}}
{{"on":"c","expect":{{"type":"Transition","endVersion":{{"querySet":0,"identity":0,"ts":"$T5>=$M1"}},"modifications":[]}}}}
"#
    );
    let session = check(&script).await;
    assert!(session.ts("M1") > session.ts("M0"));
    let once = obj! {"body" => "once"};
    assert_eq!(session.query("messages:list", obj! {}).await, Value::Array(vec![once.clone(), once]));
}

/// A failed mutation is stored too: replaying it repeats the failure (with its original request id) and does not
/// run the function again.
#[tokio::test]
async fn replayed_failures_are_answered_from_the_log() {
    let script = format!(
        r#"
{{"connect":"{SESSION_1}"}}
{{"send":{{"type":"Mutation","requestId":7,"udfPath":"errors:convexError","args":[{{}}]}}}}
{{"expect":{{"type":"MutationResponse","requestId":7,"success":false,"result":"$E","errorData":{{"code":"NOPE"}}}}}}
{{"expect":{{"type":"Transition"}}}}
{{"on":"a2","connect":"{SESSION_1}"}}
{{"on":"a2","send":{{"type":"Mutation","requestId":7,"udfPath":"errors:convexError","args":[{{}}]}}}}
{{"on":"a2","expect":{{"type":"MutationResponse","requestId":7,"success":false,"result":"$E","errorData":{{"code":"NOPE"}}}}}}
{{"on":"a2","expect":{{"type":"Transition"}}}}
"#
    );
    check(&script).await;
}

/// The old socket of a session may still be running a mutation when the client, having reconnected, replays it on
/// the new socket. The replay must wait for the first execution and answer with its outcome, not run it again.
#[tokio::test]
async fn a_replay_racing_the_original_execution_runs_the_mutation_once() {
    let session = Session::new().await;
    let mut first = crate::Worker::new(session.d.services.clone(), crate::ClientKind::Other);
    let mut second = crate::Worker::new(session.d.services.clone(), crate::ClientKind::Other);
    let connect = json!({"type": "Connect", "sessionId": SESSION_1, "connectionCount": 0}).to_string();
    first.client_frame(&connect).await;
    second.client_frame(&connect).await;
    let mutation =
        json!({"type": "Mutation", "requestId": 5, "udfPath": "messages:send", "args": [{"body": "racing"}]})
            .to_string();
    let (a, b) = tokio::join!(first.client_frame(&mutation), second.client_frame(&mutation));
    let response = |steps: &[crate::Step]| match steps.first() {
        Some(crate::Step::Send(m)) => serde_json::to_value(m).unwrap(),
        other => panic!("expected a MutationResponse, got {other:?}"),
    };
    let (a, b) = (response(&a), response(&b));
    assert_eq!(a["type"], "MutationResponse");
    assert_eq!(a["success"], true, "{a}");
    assert_eq!(a, b, "both sockets answer with the one execution's outcome");
    assert_eq!(session.query("messages:list", obj! {}).await, Value::Array(vec![obj! {"body" => "racing"}]));
}

/// Mutations of one socket run one at a time in arrival order, each answered before the next runs.
#[tokio::test]
async fn mutations_of_one_socket_run_in_order() {
    let script = format!(
        r#"{SUBSCRIBED}
{{"send":{{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{{"body":"1"}}]}}}}
{{"expect":{{"type":"MutationResponse","requestId":0,"ts":"$M0>=$T1"}}}}
{{"expect":{{"type":"Transition","modifications":[{{"type":"QueryUpdated","queryId":0,"value":[{{"body":"1"}}]}}]}}}}
{{"send":{{"type":"Mutation","requestId":1,"udfPath":"messages:send","args":[{{"body":"2"}}]}}}}
{{"expect":{{"type":"MutationResponse","requestId":1,"ts":"$M1>=$M0"}}}}
{{"expect":{{"type":"Transition","endVersion":{{"querySet":1,"identity":0,"ts":"$T3>=$M1"}},"modifications":[{{"type":"QueryUpdated","queryId":0,"value":[{{"body":"1"}},{{"body":"2"}}]}}]}}}}
"#
    );
    let session = check(&script).await;
    assert!(session.ts("M1") > session.ts("M0"));
}
