//! Malformed and out-of-protocol client input: protocol violations end the socket with FatalError + close (never a
//! panic), function-level problems (unknown functions, bad arguments to functions) stay function errors.

use super::harness::{check, Session};

/// Each frame, sent first on a fresh socket after Connect, must end it with FatalError and a close without status.
#[tokio::test]
async fn protocol_violations_are_fatal() {
    let frames = [
        "not json at all",
        "",
        "null",
        "[]",
        "42",
        r#"{"type":"Bogus"}"#,
        r#"{"no":"type"}"#,
        r#"{"type":"Mutation"}"#,
        r#"{"type":"Mutation","requestId":-1,"udfPath":"messages:send","args":[{}]}"#,
        r#"{"type":"Mutation","requestId":4294967296,"udfPath":"messages:send","args":[{}]}"#,
        r#"{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":{"body":"not an array"}}"#,
        r#"{"type":"Authenticate","tokenType":"Weird","baseVersion":0}"#,
        r#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Replace","queryId":0}]}"#,
        r#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1}"#,
        // Wrong base version, a skipped version.
        r#"{"type":"ModifyQuerySet","baseVersion":5,"newVersion":6,"modifications":[]}"#,
        r#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":2,"modifications":[]}"#,
        // Remove of a query that was never added.
        r#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Remove","queryId":3}]}"#,
        // Duplicate Add within one message.
        r#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{}]},{"type":"Add","queryId":0,"udfPath":"whoami","args":[{}]}]}"#,
    ];
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for frame in frames.iter().copied().chain([deep.as_str()]) {
        let mut session = Session::new().await;
        let shown: String = frame.chars().take(200).collect();
        session.run(r#"{"connect":"11111111-1111-4111-8111-111111111111"}"#).await;
        session.send("a", frame, true).await.unwrap_or_else(|e| panic!("{shown}: {e}"));
        session
            .run(
                r#"
{"expect":{"type":"FatalError","error":"$ERROR"}}
{"expect_close":true}
"#,
            )
            .await;
        assert!(session.is_closed("a"), "{shown}");
        session.finish();
        let error = session.var("ERROR").as_str().unwrap_or_default().to_string();
        assert!(!error.is_empty(), "{shown}");
        // Nothing more comes from a closed socket.
        session
            .send("a", r#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[]}"#, true)
            .await
            .unwrap();
        session.finish();
    }
}

/// Duplicate Add and Remove of an unknown (or already removed) query on a socket that has been working.
#[tokio::test]
async fn query_set_violations_after_a_working_start_are_fatal() {
    let start = r#"
{"connect":"11111111-1111-4111-8111-111111111111"}
{"send":{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{}]}]}}
{"expect":{"type":"Transition","endVersion":{"querySet":1,"identity":0,"ts":"*"}}}
{"send":{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{"type":"Remove","queryId":0}]}}
{"expect":{"type":"Transition","endVersion":{"querySet":2,"identity":0,"ts":"*"},"modifications":[{"type":"QueryRemoved","queryId":0}]}}
{"send":{"type":"ModifyQuerySet","baseVersion":2,"newVersion":3,"modifications":[{"type":"Add","queryId":1,"udfPath":"whoami","args":[{}]}]}}
{"expect":{"type":"Transition","endVersion":{"querySet":3,"identity":0,"ts":"*"}}}
"#;
    let violations = [
        r#"{"type":"ModifyQuerySet","baseVersion":3,"newVersion":4,"modifications":[{"type":"Add","queryId":1,"udfPath":"messages:list","args":[{}]}]}"#,
        r#"{"type":"ModifyQuerySet","baseVersion":3,"newVersion":4,"modifications":[{"type":"Remove","queryId":0}]}"#,
        r#"{"type":"ModifyQuerySet","baseVersion":2,"newVersion":3,"modifications":[]}"#,
    ];
    for frame in violations {
        let mut session = Session::new().await;
        session.run(start).await;
        session.send("a", frame, true).await.unwrap();
        session.run("{\"expect\":{\"type\":\"FatalError\",\"error\":\"*\"}}\n{\"expect_close\":true}").await;
        session.finish();
    }
}

/// A query path that names no function (or is not a path at all, or names a mutation) fails that query with a
/// function error; the other queries of the same ModifyQuerySet and later ones work.
#[tokio::test]
async fn unknown_functions_fail_only_their_query() {
    let session = check(
        r#"
{"connect":"11111111-1111-4111-8111-111111111111"}
{"send":{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"no/such:fn","args":[{}]},{"type":"Add","queryId":1,"udfPath":"messages:list","args":[{}]},{"type":"Add","queryId":2,"udfPath":"bad path!","args":[{}]},{"type":"Add","queryId":3,"udfPath":"messages:send","args":[{}]}]}}
{"expect":{"type":"Transition","endVersion":{"querySet":1,"identity":0,"ts":"*"},"modifications":[{"type":"QueryFailed","queryId":0,"errorMessage":"$E0","errorData":"<absent>","logLines":[],"journal":null},{"type":"QueryUpdated","queryId":1,"value":[]},{"type":"QueryFailed","queryId":2,"errorMessage":"$E2","errorData":"<absent>"},{"type":"QueryFailed","queryId":3,"errorMessage":"$E3","errorData":"<absent>"}]}}
{"send":{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{"body":"hi"}]}}
{"expect":{"type":"MutationResponse","requestId":0,"success":true}}
{"expect":{"type":"Transition","modifications":[{"type":"QueryUpdated","queryId":1,"value":[{"body":"hi"}]}]}}
{"send":{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{"type":"Add","queryId":4,"udfPath":"whoami:get","args":[{}]}]}}
{"expect":{"type":"Transition","endVersion":{"querySet":2,"identity":0,"ts":"*"},"modifications":[{"type":"QueryUpdated","queryId":4,"value":null}]}}
"#,
    )
    .await;
    let text = |name: &str| session.var(name).as_str().unwrap().to_string();
    assert!(text("E0").contains("Could not find public function for 'no/such:fn'"), "{}", text("E0"));
    assert!(text("E2").contains("bad path!"), "{}", text("E2"));
    assert!(text("E3").contains("Trying to execute messages:send as Query, but it is defined as Mutation."));
}

/// Arguments that are not an object are a function error for mutations and actions (the request is answered and
/// the socket lives); Convex JSON that does not decode is the same.
#[tokio::test]
async fn bad_mutation_and_action_arguments_are_function_errors() {
    check(
        r#"
{"connect":"11111111-1111-4111-8111-111111111111"}
{"send":{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[5]}}
{"expect":{"type":"MutationResponse","requestId":0,"success":false,"result":"*","errorData":"<absent>","logLines":[]}}
{"expect":{"type":"Transition","modifications":[]}}
{"send":{"type":"Mutation","requestId":1,"udfPath":"messages:send","args":[{"n":{"$integer":"short"}}]}}
{"expect":{"type":"MutationResponse","requestId":1,"success":false}}
{"expect":{"type":"Transition"}}
{"send":{"type":"Action","requestId":2,"udfPath":"actions:echo","args":["str"]}}
{"expect":{"type":"ActionResponse","requestId":2,"success":false,"result":"*","errorData":"<absent>","logLines":[]}}
{"send":{"type":"Action","requestId":3,"udfPath":"no/such:fn","args":[{}]}}
{"expect":{"type":"ActionResponse","requestId":3,"success":false,"result":"$E"}}
{"send":{"type":"Action","requestId":4,"udfPath":"actions:echo","args":[{"ok":true}]}}
{"expect":{"type":"ActionResponse","requestId":4,"success":true,"result":{"ok":true}}}
"#,
    )
    .await;
}

/// Telemetry events are ignored, and so are unknown fields.
#[tokio::test]
async fn events_are_ignored() {
    let session = check(
        r#"
{"connect":"11111111-1111-4111-8111-111111111111"}
{"send":{"type":"Event","eventType":"ClientReceivedTransition","event":{"transitionTransitTime":3,"messageLength":100}}}
{"send":{"type":"Event","eventType":"Unknown","event":null,"extra":[1,2]}}
{"expect_nothing":true}
{"send":{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[],"unknownField":true}}
{"expect":{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":1,"identity":0,"ts":"*"},"modifications":[]}}
"#,
    )
    .await;
    assert!(!session.is_closed("a"));
}

/// Query arguments that are not one object of Convex JSON fail that query (a FatalError would stop an npm client
/// for good); the socket keeps working.
#[tokio::test]
async fn undecodable_query_arguments_fail_only_that_query() {
    let deep_args = format!(r#"[{{"a":{}1{}}}]"#, "[".repeat(100), "]".repeat(100));
    for args in [r#"[5]"#, r#"[{},{}]"#, r#"[{"$bad":1}]"#, r#"[{"n":{"$integer":"short"}}]"#, deep_args.as_str()] {
        let mut session = Session::new().await;
        session.run(r#"{"connect":"11111111-1111-4111-8111-111111111111"}"#).await;
        let frame = format!(
            r#"{{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{{"type":"Add","queryId":0,"udfPath":"messages:list","args":{args}}},{{"type":"Add","queryId":1,"udfPath":"messages:list","args":[{{}}]}}]}}"#
        );
        session.send("a", &frame, true).await.unwrap_or_else(|e| panic!("{args}: {e}"));
        session
            .run(
                r#"
{"expect":{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":1,"identity":0,"ts":"*"},"modifications":[{"type":"QueryFailed","queryId":0,"errorMessage":"$MSG","logLines":[],"journal":null},{"type":"QueryUpdated","queryId":1,"value":[],"logLines":"*","journal":null}]}}
"#,
            )
            .await;
        let message = session.var("MSG").as_str().unwrap_or_default().to_string();
        assert!(message.starts_with("ArgumentValidationError"), "{args}: {message}");
        assert!(!session.is_closed("a"), "{args}");
        session.finish();
    }
}
