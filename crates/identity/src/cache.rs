//! Per-URL memory of fetched provider documents (JWKS, OpenID configurations).
//!
//! - An entry is reused until it expires (`now` is the caller's clock, in seconds).
//! - Requests for one URL are serialised: callers that arrive while a fetch is in flight wait for it and share its
//!   outcome, so concurrent first verifications make one request.
//! - A fresh entry that lacks what the caller needs (a JWKS without the token's `kid`, after a key rotation) is
//!   refetched at once, but at most once per `refetch_interval` seconds per URL, so tokens with made-up `kid`s
//!   cannot turn into a stream of requests.
//! - Failures are not reused: the next caller tries again.
//!
//! The key space is bounded by configuration (provider URLs and the `jwks_uri`s their discovery documents name).

use crate::error::AuthFailure;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

pub(crate) struct FetchCache<T> {
    slots: Mutex<HashMap<String, Arc<Slot<T>>>>,
}

struct Slot<T> {
    state: Mutex<SlotState<T>>,
    /// Held while a fetch for this URL is in flight.
    fetching: tokio::sync::Mutex<()>,
}

struct SlotState<T> {
    /// Incremented by every completed fetch.
    generation: u64,
    outcome: Option<Result<Arc<T>, AuthFailure>>,
    expires_at: u64,
    last_forced_refetch: Option<u64>,
}

/// What a fetch produced and for how many seconds it may be reused.
pub(crate) struct Fresh<T> {
    pub value: T,
    pub ttl: u64,
}

impl<T: Send + Sync + 'static> FetchCache<T> {
    pub fn new() -> Self {
        FetchCache { slots: Mutex::new(HashMap::new()) }
    }

    fn slot(&self, key: &str) -> Arc<Slot<T>> {
        let mut slots = self.slots.lock();
        if let Some(slot) = slots.get(key) {
            return slot.clone();
        }
        slots
            .entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Slot {
                    state: Mutex::new(SlotState {
                        generation: 0,
                        outcome: None,
                        expires_at: 0,
                        last_forced_refetch: None,
                    }),
                    fetching: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    /// The cached value for `key` if it is fresh and `satisfies` it, else the outcome of `fetch` (see module docs).
    pub async fn get<F, Fut>(
        &self,
        key: &str,
        now: u64,
        satisfies: impl Fn(&T) -> bool,
        refetch_interval: u64,
        fetch: F,
    ) -> Result<Arc<T>, AuthFailure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fresh<T>, AuthFailure>>,
    {
        let slot = self.slot(key);
        let seen_generation = {
            let state = slot.state.lock();
            if let Some(Ok(value)) = &state.outcome {
                if now < state.expires_at && satisfies(value) {
                    return Ok(value.clone());
                }
            }
            state.generation
        };
        let _fetching = slot.fetching.lock().await;
        {
            let mut state = slot.state.lock();
            if state.generation != seen_generation {
                // Fetched while we waited: as recent as anything we could get.
                if let Some(outcome) = &state.outcome {
                    return outcome.clone();
                }
            }
            if let Some(Ok(value)) = &state.outcome {
                if now < state.expires_at {
                    // Fresh, but without what the caller needs: a forced, rate-limited refetch.
                    if state.last_forced_refetch.is_some_and(|at| now < at.saturating_add(refetch_interval)) {
                        return Ok(value.clone());
                    }
                    state.last_forced_refetch = Some(now);
                }
            }
        }
        let result = fetch().await;
        let mut state = slot.state.lock();
        state.generation += 1;
        let outcome = match result {
            Ok(Fresh { value, ttl }) => {
                state.expires_at = now.saturating_add(ttl);
                Ok(Arc::new(value))
            }
            Err(failure) => {
                state.expires_at = 0;
                Err(failure)
            }
        };
        state.outcome = Some(outcome.clone());
        outcome
    }
}
