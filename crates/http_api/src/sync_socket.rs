//! The sync WebSocket (`/api/sync`, `/api/<client version>/sync`): frames in, [`sync::Worker`] steps out.
//!
//! Robustness: a slow or dead client cannot block anyone — commits reach the socket task through a bounded
//! broadcast (a lagging socket re-evaluates everything instead of blocking the committer), every send has a
//! deadline after which the socket is dropped, in-flight actions per socket are capped, and a socket that says
//! nothing (not even a pong) for two minutes is closed.

use crate::ApiState;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use functions::{Caller, FunctionKind, Outcome};
use futures::{FutureExt, SinkExt, StreamExt};
use http::HeaderMap;
use protocol::sync::ServerMessage;
use protocol::ErrorCode;
use std::sync::Arc;
use std::time::Duration;
use sync::{ClientKind, Step, Worker};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

/// Protocol-level ping cadence.
const PING_EVERY: Duration = Duration::from_secs(5);
/// A sync `Ping` message after this long without any other message (browsers cannot see protocol pings).
const SYNC_PING_AFTER: Duration = Duration::from_secs(15);
/// A client silent for this long is gone.
const INACTIVE_AFTER: Duration = Duration::from_secs(120);
/// A send that takes longer means the client is not reading.
const SEND_DEADLINE: Duration = Duration::from_secs(10);
/// How long a frame that signed the identity out waits for a following frame (the client's new token) before the
/// Transition: the npm client sends both from one task, so they arrive well within it; a real sign-out is
/// delayed by at most this much.
const TOKEN_SWITCH_WINDOW: Duration = Duration::from_millis(50);
/// At most this many frames the client already sent are applied together before one Transition.
const MAX_FRAMES_PER_TRANSITION: usize = 64;
/// Largest accepted frame.
pub const MAX_FRAME_BYTES: usize = 20 << 20;
/// Per-socket read buffer.
const READ_BUFFER_BYTES: usize = 8 * 1024;
/// Actions in flight per socket.
const MAX_ACTIONS: usize = 1000;

fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// `Convex-Client: npm-1.48.0` (or the path's version for npm clients, which send no header from browsers).
fn client_kind(headers: &HeaderMap, path_version: Option<&str>) -> ClientKind {
    let header = headers.get("convex-client").and_then(|v| v.to_str().ok());
    let npm_version = match header {
        Some(h) => h.strip_prefix("npm-").map(str::to_string),
        None => path_version.map(str::to_string),
    };
    match npm_version.as_deref().and_then(parse_version) {
        Some(v) if v >= (1, 28, 0) => ClientKind::NpmWithChunks,
        _ => ClientKind::Other,
    }
}

pub(crate) async fn sync_unversioned(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(state, ws, client_kind(&headers, None))
}

pub(crate) async fn sync_versioned(
    State(state): State<ApiState>,
    Path(version): Path<String>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if parse_version(&version).is_none() {
        return crate::ApiError::new(ErrorCode::InvalidClientVersion, format!("{version:?} is not a client version"))
            .into_response();
    }
    upgrade(state, ws, client_kind(&headers, Some(&version)))
}

fn upgrade(state: ApiState, ws: WebSocketUpgrade, kind: ClientKind) -> Response {
    let Some(services) = state.sync.clone() else {
        return crate::ApiError::new(ErrorCode::NotFound, "sync is not enabled").into_response();
    };
    // A small read buffer: tungstenite keeps (and zeroes) the whole buffer per socket, and idle sockets should
    // cost little memory; larger frames still arrive, in more reads.
    ws.read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| run(socket, services, state.shutdown.clone(), kind))
}

async fn run(
    socket: WebSocket,
    services: sync::SyncServices,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    kind: ClientKind,
) {
    let (mut sink, stream) = socket.split();
    let mut stream = stream.peekable();
    let mut worker = Worker::new(services.clone(), kind);
    let mut commits = services.runtime.database().subscribe();
    let (action_tx, mut action_rx) = mpsc::channel::<(u32, Outcome)>(64);
    let actions_in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_ACTIONS));
    let mut ticker = tokio::time::interval(PING_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sent = Instant::now();
    let mut last_received = Instant::now();
    if *shutdown.borrow() {
        return;
    }
    loop {
        let steps = tokio::select! {
            frame = stream.next() => {
                last_received = Instant::now();
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        let mut steps = worker.client_frame(text.as_str()).await;
                        // Frames the client sent together are applied before one Transition to their combined
                        // state. The npm client switching tokens sends `Authenticate None` and then, after a few
                        // microtasks, `Authenticate User`: a Transition between them would show every subscribed
                        // query a signed-out result for a moment (a flash of "Unauthorized" in the guide's app).
                        // A sign-out frame waits a moment for the new token that may follow it.
                        for _ in 1..MAX_FRAMES_PER_TRANSITION {
                            let next = std::pin::Pin::new(&mut stream)
                                .next_if(|frame| matches!(frame, Ok(Message::Text(_))));
                            let next = if worker.signed_out_last() {
                                tokio::time::timeout(TOKEN_SWITCH_WINDOW, next).await.ok()
                            } else {
                                next.now_or_never()
                            };
                            let Some(Some(Ok(Message::Text(text)))) = next else { break };
                            steps.extend(worker.client_frame(text.as_str()).await);
                        }
                        steps.extend(worker.flush().await);
                        steps
                    }
                    Some(Ok(Message::Binary(_))) => vec![
                        Step::Send(ServerMessage::fatal(ErrorCode::InvalidClientMessage, "binary frames are not supported")),
                        Step::Close { code: None, reason: ErrorCode::InvalidClientMessage.wire().into() },
                    ],
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Vec::new(),
                    Some(Ok(Message::Close(_))) => {
                        // Complete the closing handshake: flush the Close reply the socket has queued.
                        let _ = tokio::time::timeout(SEND_DEADLINE, sink.close()).await;
                        break;
                    }
                    None => break,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "sync socket read failed");
                        // Most likely an oversized frame: say so before dropping the connection.
                        let frame = CloseFrame { code: 1009, reason: Utf8Bytes::from_static("MessageTooBig") };
                        let _ = tokio::time::timeout(SEND_DEADLINE, sink.send(Message::Close(Some(frame)))).await;
                        break;
                    }
                }
            }
            commit = commits.recv() => {
                match commit {
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Coalesce everything that is already waiting into one evaluation.
                        while !matches!(commits.try_recv(), Err(broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed)) {}
                        worker.commit_notified();
                        worker.flush().await
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
            Some((request_id, outcome)) = action_rx.recv() => {
                let mut steps = worker.action_done(request_id, &outcome).await;
                steps.extend(worker.flush().await);
                steps
            }
            _ = ticker.tick() => {
                if last_received.elapsed() > INACTIVE_AFTER {
                    break;
                }
                if tokio::time::timeout(SEND_DEADLINE, sink.send(Message::Ping(Default::default()))).await.is_err() {
                    break;
                }
                let mut steps = worker.tick();
                if last_sent.elapsed() >= SYNC_PING_AFTER {
                    steps.push(Step::Send(ServerMessage::Ping));
                }
                steps
            }
            _ = shutdown.changed() => {
                let frame = CloseFrame { code: 1012, reason: Utf8Bytes::from_static("ServerRestarting") };
                let _ = tokio::time::timeout(SEND_DEADLINE, sink.send(Message::Close(Some(frame)))).await;
                break;
            }
        };
        let mut stop = false;
        for step in steps {
            match step {
                Step::Send(message) => {
                    let text = match message.encode() {
                        Ok(text) => text,
                        Err(e) => {
                            tracing::error!(error = %e, "sync: cannot serialise a server message");
                            stop = true;
                            break;
                        }
                    };
                    match tokio::time::timeout(SEND_DEADLINE, sink.send(Message::Text(text.into()))).await {
                        Ok(Ok(())) => last_sent = Instant::now(),
                        _ => {
                            stop = true;
                            break;
                        }
                    }
                }
                Step::RunAction { request_id, path, args, identity } => {
                    let runtime = services.runtime.clone();
                    let tx = action_tx.clone();
                    let Ok(permit) = actions_in_flight.clone().try_acquire_owned() else {
                        let response = ServerMessage::ActionResponse {
                            request_id,
                            success: false,
                            result: ErrorCode::TooManyConcurrentActions.wire().into(),
                            error_data: None,
                            log_lines: Vec::new(),
                        };
                        let text = response.encode().unwrap_or_default();
                        if sink.send(Message::Text(text.into())).await.is_err() {
                            stop = true;
                        }
                        continue;
                    };
                    tokio::spawn(async move {
                        let outcome =
                            runtime.run(&path, args, Caller::public(identity), Some(FunctionKind::Action)).await;
                        let _ = tx.send((request_id, outcome)).await;
                        drop(permit);
                    });
                }
                Step::Close { code, reason } => {
                    let frame = code.map(|code| CloseFrame { code, reason: Utf8Bytes::from(reason) });
                    let _ = tokio::time::timeout(SEND_DEADLINE, sink.send(Message::Close(frame))).await;
                    stop = true;
                    break;
                }
            }
        }
        if stop {
            break;
        }
    }
}
