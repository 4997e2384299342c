//! The sync protocol's client frames (`protocol::sync::ClientMessage`), each line of the input one text frame,
//! driven through a `sync::Worker` exactly as `http_api::sync_socket` drives it (every frame followed by a flush,
//! actions run and reported back) on a fresh in-memory deployment. Whatever the frames say, the worker answers
//! with protocol messages or a close, never panics, sends nothing after a close, and every Transition starts at
//! the version the previous one ended at. Round trips: a frame that parses as a `ClientMessage` prints and parses
//! back to the same message, and every server message the worker sends parses back from its text unchanged.
#![no_main]

use authvex_fuzz::{block_on, test_runtime, text_lines, TestVerifier};
use functions::{Caller, FunctionKind};
use libfuzzer_sys::fuzz_target;
use protocol::sync::{ClientMessage, ServerMessage, StateVersion};
use std::sync::Arc;
use sync::{ClientKind, MutationLog, QueryCache, Step, SyncServices, Worker};

/// Frames per input: enough for connect, subscribe, authenticate, mutate and unsubscribe several times.
const MAX_FRAMES: usize = 24;

struct Checker {
    closed: bool,
    version: StateVersion,
}

impl Checker {
    fn steps(&mut self, steps: Vec<Step>, actions: &mut Vec<(u32, String, value::Value, Caller)>) {
        for step in steps {
            assert!(!self.closed, "a step after the close: {step:?}");
            match step {
                Step::Send(message) => self.message(&message),
                Step::RunAction { request_id, path, args, identity } => {
                    actions.push((request_id, path, args, Caller::public(identity)))
                }
                Step::Close { .. } => self.closed = true,
            }
        }
    }

    fn message(&mut self, message: &ServerMessage) {
        let text = message.encode().unwrap_or_else(|e| panic!("cannot serialise {message:?}: {e}"));
        match serde_json::from_str::<ServerMessage>(&text) {
            Ok(back) => assert_eq!(&back, message, "a server message does not survive its own text: {text}"),
            Err(e) => panic!("the worker sent a message its own types cannot read ({e}): {text}"),
        }
        if let ServerMessage::Transition(t) = message {
            assert_eq!(t.start_version, self.version, "a Transition that does not chain: {text}");
            self.version = t.end_version;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    block_on(async {
        let (runtime, clock) = test_runtime().await;
        let services = SyncServices {
            runtime: runtime.clone(),
            verifier: Arc::new(TestVerifier),
            mutations: Arc::new(MutationLog::default()),
            clock: Arc::new(clock.clone()),
            queries: Arc::new(QueryCache::default()),
        };
        let mut worker = Worker::new(services, ClientKind::Other);
        let mut checker = Checker { closed: false, version: StateVersion::default() };
        for frame in text_lines(data).into_iter().take(MAX_FRAMES) {
            if let Ok(parsed) = serde_json::from_str::<ClientMessage>(frame) {
                let text =
                    serde_json::to_string(&parsed).unwrap_or_else(|e| panic!("cannot serialise {parsed:?}: {e}"));
                let back: ClientMessage =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text} (from {frame})"));
                assert_eq!(back, parsed, "a client message does not survive printing: {frame} -> {text}");
            }
            let mut actions = Vec::new();
            let steps = worker.client_frame(frame).await;
            checker.steps(steps, &mut actions);
            let steps = worker.flush().await;
            checker.steps(steps, &mut actions);
            while let Some((request_id, path, args, caller)) = actions.pop() {
                let outcome = runtime.run(&path, args, caller, Some(FunctionKind::Action)).await;
                let steps = worker.action_done(request_id, &outcome).await;
                checker.steps(steps, &mut actions);
                let steps = worker.flush().await;
                checker.steps(steps, &mut actions);
            }
            if worker.is_closed() {
                assert!(worker.client_frame(frame).await.is_empty(), "a closed worker answered a frame");
                break;
            }
            // Later frames see a later clock: five minutes a frame, so the test tokens (valid for an hour) expire
            // within one input.
            clock.advance(300_000_000_000);
        }
    });
});
