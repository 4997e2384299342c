//! Transitions over 5,000,000 bytes: split into TransitionChunks for npm clients that reassemble them, one frame for
//! every other client (the Rust client treats a chunk as a protocol error).

use super::harness::Session;
use crate::{ClientKind, MAX_TRANSITION_BYTES};

const SIX_MB: usize = 6 << 20;

fn subscribe_big() -> String {
    format!(
        r#"
{{"connect":"11111111-1111-4111-8111-111111111111"}}
{{"send":{{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{{"type":"Add","queryId":0,"udfPath":"big:get","args":[{{"size":{SIX_MB}}}]}},{{"type":"Add","queryId":1,"udfPath":"messages:list","args":[{{}}]}}]}}}}
{{"expect":{{"type":"Transition","startVersion":{{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="}},"endVersion":{{"querySet":1,"identity":0,"ts":"$T1"}},"modifications":[{{"type":"QueryUpdated","queryId":0,"value":"$BIG"}},{{"type":"QueryUpdated","queryId":1,"value":[]}}]}}}}
"#
    )
}

/// The harness reassembles chunks exactly as npm does (in order, one transitionId, nothing in between) and checks
/// that the result is a Transition chained like any other.
#[tokio::test]
async fn npm_clients_get_a_large_transition_in_chunks() {
    let mut session = Session::new().await;
    session.open("a", ClientKind::NpmWithChunks);
    session.run(&subscribe_big()).await;
    let frames = session.frames("a")[0];
    assert!(frames >= 2, "{frames} frame(s) for a {} byte Transition", SIX_MB);
    assert_eq!(session.var("BIG").as_str().map(str::len), Some(SIX_MB));
    // Later Transitions chain on from the chunked one; small ones are plain.
    session
        .run(
            r#"
{"send":{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{"body":"small"}]}}
{"expect":{"type":"MutationResponse","requestId":0,"success":true}}
{"expect":{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"$T1"},"modifications":[{"type":"QueryUpdated","queryId":1,"value":[{"body":"small"}]}]}}
"#,
        )
        .await;
    assert_eq!(session.frames("a"), &[frames, 1]);
    session.finish();
}

#[tokio::test]
async fn other_clients_get_a_large_transition_in_one_frame() {
    let mut session = Session::new().await;
    session.run(&subscribe_big()).await;
    assert_eq!(session.frames("a"), &[1]);
    assert!(session.transitions("a")[0].to_string().len() > MAX_TRANSITION_BYTES);
    session.finish();
}

/// Chunks split on character boundaries: a multi-byte result survives reassembly.
#[tokio::test]
async fn chunks_split_on_character_boundaries() {
    let text = "é€😀".repeat(MAX_TRANSITION_BYTES / 9 + 1);
    let parts: Vec<serde_json::Value> = protocol::sync::chunk_transition(&text, MAX_TRANSITION_BYTES)
        .iter()
        .map(|m| serde_json::to_value(m).unwrap())
        .collect();
    assert!(parts.len() >= 2);
    let mut joined = String::new();
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part["partNumber"], i);
        assert_eq!(part["totalParts"], parts.len());
        assert_eq!(part["transitionId"], parts[0]["transitionId"]);
        let chunk = part["chunk"].as_str().unwrap();
        assert!(chunk.len() <= MAX_TRANSITION_BYTES);
        joined.push_str(chunk);
    }
    assert_eq!(joined, text);
}
