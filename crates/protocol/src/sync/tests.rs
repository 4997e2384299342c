use super::*;
use serde_json::json;

#[test]
fn timestamps_are_base64_of_the_little_endian_u64() {
    assert_eq!(Ts(0).encode(), "AAAAAAAAAAA=");
    let ts = Ts(1_795_846_229_783_000_000);
    assert_eq!(Ts::decode(&ts.encode()), Some(ts));
    // The npm client's decoder also takes the URL-safe alphabet.
    assert!(Ts::decode("AAAAAAAA+H8=").is_some());
    assert_eq!(Ts::decode("AAAAAAAA-H8="), Ts::decode("AAAAAAAA+H8="));
    assert_eq!(Ts::decode("AAAA"), None, "three bytes");
    assert_eq!(Ts::decode("not base64!"), None);
    assert!(serde_json::from_value::<Ts>(json!("AAAA")).is_err());
}

#[test]
fn transitions_serialise_in_the_real_servers_order_with_shared_values() {
    let value = SharedJson::new(&json!([{"body": "hi"}]));
    let transition = Transition {
        start_version: StateVersion::default(),
        end_version: StateVersion { query_set: 1, identity: 0, ts: Ts(5) },
        modifications: vec![
            StateModification::QueryUpdated {
                query_id: 0,
                value: value.clone(),
                log_lines: Arc::from(vec!["[LOG] 'x'".to_string()]),
                journal: None,
            },
            StateModification::QueryFailed {
                query_id: 1,
                error_message: Arc::from("boom"),
                log_lines: Arc::from(Vec::new()),
                journal: None,
                error_data: Some(SharedJson::new(&json!({"code": "NOPE"}))),
            },
            StateModification::QueryRemoved { query_id: 2 },
        ],
        client_clock_skew: Some(-3),
        server_ts: Some(7),
    };
    let text = ServerMessage::Transition(transition.clone()).encode().unwrap_or_default();
    assert_eq!(
        text,
        r#"{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":1,"identity":0,"ts":"BQAAAAAAAAA="},"modifications":[{"type":"QueryUpdated","queryId":0,"value":[{"body":"hi"}],"logLines":["[LOG] 'x'"],"journal":null},{"type":"QueryFailed","queryId":1,"errorMessage":"boom","logLines":[],"journal":null,"errorData":{"code":"NOPE"}},{"type":"QueryRemoved","queryId":2}],"clientClockSkew":-3,"serverTs":7}"#
    );
    assert!(transition.encoded_len_bound() >= text.len());
    let back: ServerMessage = serde_json::from_str(&text).unwrap_or(ServerMessage::Ping);
    assert_eq!(back, ServerMessage::Transition(transition));
}

#[test]
fn the_length_bound_holds_for_strings_that_need_escapes() {
    let nasty = "\u{1}\"\\\n".repeat(50);
    let transition = Transition {
        start_version: StateVersion::default(),
        end_version: StateVersion::default(),
        modifications: vec![StateModification::QueryFailed {
            query_id: u32::MAX,
            error_message: Arc::from(nasty.as_str()),
            log_lines: Arc::from(vec![nasty.clone(), nasty.clone()]),
            journal: Some(nasty.clone()),
            error_data: Some(SharedJson::new(&json!(nasty))),
        }],
        client_clock_skew: Some(i64::MIN),
        server_ts: Some(u64::MAX),
    };
    let text = ServerMessage::Transition(transition.clone()).encode().unwrap_or_default();
    assert!(transition.encoded_len_bound() >= text.len(), "{} < {}", transition.encoded_len_bound(), text.len());
}

#[test]
fn chunks_split_on_character_boundaries_and_reassemble() {
    let text = "é€😀".repeat(100);
    let parts = chunk_transition(&text, 10);
    let mut joined = String::new();
    for (i, part) in parts.iter().enumerate() {
        let ServerMessage::TransitionChunk { chunk, part_number, total_parts, transition_id } = part else {
            panic!("not a chunk: {part:?}");
        };
        assert!(chunk.len() <= 10);
        assert_eq!(*part_number as usize, i);
        assert_eq!(*total_parts as usize, parts.len());
        assert_eq!(transition_id, &text.len().to_string());
        joined.push_str(chunk);
    }
    assert_eq!(joined, text);
}

#[test]
fn client_messages_read_leniently() {
    // Unknown fields ignored, optional ones defaulted: what the Rust client sends at first connect.
    let m: ClientMessage =
        serde_json::from_str(r#"{"type":"Connect","sessionId":"s","connectionCount":0,"clientTs":0,"extra":1}"#)
            .unwrap_or(ClientMessage::Event { event_type: None, event: None });
    assert_eq!(
        m,
        ClientMessage::Connect {
            session_id: "s".into(),
            connection_count: 0,
            last_close_reason: None,
            max_observed_timestamp: None,
            client_ts: Some(0),
        }
    );
    let bad_ts: ClientMessage =
        serde_json::from_str(r#"{"type":"Connect","sessionId":"s","maxObservedTimestamp":"zz"}"#)
            .unwrap_or(ClientMessage::Event { event_type: None, event: None });
    assert_eq!(bad_ts.max_observed_ts(), None, "an undecodable timestamp is ignored, not fatal");
    for bad in [
        r#"{"type":"Nope"}"#,
        r#"{"type":"ModifyQuerySet","baseVersion":-1,"newVersion":0,"modifications":[]}"#,
        r#"{"type":"Authenticate","tokenType":"Root","baseVersion":0}"#,
        r#"{"type":"Mutation","requestId":0,"udfPath":"a:b","args":{}}"#,
        "[]",
    ] {
        assert!(serde_json::from_str::<ClientMessage>(bad).is_err(), "{bad}");
    }
}
