//! The frames recorded from the real clients and server (shared/spec/convex-wire.md §8) round-trip through the
//! typed messages: what the server sends byte for byte, what clients send as the same JSON (clients order their
//! keys differently from one another, and the spec calls key order irrelevant, so those compare as values).

// Helpers outside `#[test]` functions panic too.
#![allow(clippy::panic)]

use protocol::http_api::{FunctionRequest, FunctionResponse, QueryTsResponse};
use protocol::sync::{ClientMessage, ServerMessage, StateModification};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value as Json;

const FRAMES: &str = include_str!("fixtures/convex-wire-frames.txt");

fn frames(kind: &str) -> Vec<&'static str> {
    let frames: Vec<&str> = FRAMES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .filter(|(k, _)| *k == kind)
        .map(|(_, text)| text)
        .collect();
    assert!(!frames.is_empty(), "no {kind} frames in the fixture");
    frames
}

fn parse<T: DeserializeOwned>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn print<T: Serialize>(message: &T) -> String {
    serde_json::to_string(message).unwrap_or_else(|e| panic!("{e}"))
}

fn exact<T: DeserializeOwned + Serialize>(kind: &str) -> usize {
    let frames = frames(kind);
    for text in &frames {
        let message: T = parse(text);
        assert_eq!(print(&message), *text, "{kind} frame does not round-trip byte for byte");
    }
    frames.len()
}

fn same_json<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(kind: &str) -> usize {
    let frames = frames(kind);
    for text in &frames {
        let message: T = parse(text);
        let printed = print(&message);
        assert_eq!(parse::<Json>(&printed), parse::<Json>(text), "{kind} frame changes meaning: {text}");
        assert_eq!(parse::<T>(&printed), message);
    }
    frames.len()
}

#[test]
fn server_frames_round_trip_byte_for_byte() {
    assert!(exact::<ServerMessage>("sync-server") >= 20);
    exact::<StateModification>("sync-modification");
    assert!(exact::<FunctionResponse>("http-response") >= 4);
    exact::<QueryTsResponse>("http-query-ts");
}

#[test]
fn client_frames_round_trip() {
    assert!(same_json::<ClientMessage>("sync-client") >= 20);
    assert!(same_json::<FunctionRequest>("http-request") >= 6);
}

/// The three recorded `TransitionChunk`s concatenate to a Transition that itself round-trips.
#[test]
fn recorded_chunks_reassemble_into_a_transition() {
    let mut text = String::new();
    for (i, frame) in frames("sync-server").iter().filter(|f| f.contains("TransitionChunk")).enumerate() {
        let ServerMessage::TransitionChunk { chunk, part_number, .. } = parse(frame) else { panic!("{frame}") };
        assert_eq!(part_number as usize, i);
        text.push_str(&chunk);
    }
    let transition: ServerMessage = parse(&text);
    assert!(matches!(transition, ServerMessage::Transition(_)));
    assert_eq!(print(&transition), text);
}

/// Every error body Better Auth 1.4.9 answered in the recorded transcripts (extracted from
/// shared/spec/vectors/better-auth-1.4.9-transcripts.json) is an `ErrorBody` that prints back byte for byte, and
/// names exactly one entry of the code list with that status — with the recorded message as its default, except
/// where Better Auth words the message per request.
#[test]
fn better_auth_error_bodies_are_entries_of_the_code_list() {
    use protocol::{ErrorBody, ErrorCode};
    #[derive(serde::Deserialize)]
    struct Recorded {
        name: String,
        status: u16,
        body: Json,
    }
    let recorded: Vec<Recorded> = parse(include_str!("fixtures/better-auth-1.4.9-error-bodies.json"));
    assert!(recorded.len() >= 30);
    for r in recorded {
        let body: ErrorBody = parse(&r.body.to_string());
        assert_eq!(serde_json::to_value(&body).ok(), Some(r.body.clone()), "{}", r.name);
        let entries: Vec<ErrorCode> =
            ErrorCode::ALL.iter().copied().filter(|c| c.wire() == body.code && c.status() == r.status).collect();
        assert_eq!(entries.len(), 1, "{}: {} {} is not exactly one entry", r.name, r.status, body.code);
        let per_request = matches!(
            entries[0],
            ErrorCode::VALIDATION_ERROR | ErrorCode::UNSUPPORTED_MEDIA_TYPE | ErrorCode::INVALID_TOKEN_401
        );
        if !per_request {
            assert_eq!(entries[0].default_message(), body.message, "{}", r.name);
        }
    }
}
