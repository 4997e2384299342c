#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{run_serializable_with, RetryPolicy};
use crate::{DatabaseError, SeededEntropy};
use std::cell::Cell;
use std::time::Duration;

const POLICY: RetryPolicy =
    RetryPolicy { max_attempts: 4, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(3) };

/// Runs the helper over attempts that fail with `errors` in turn (then succeed); returns the outcome and how many
/// attempts ran.
async fn check(errors: Vec<DatabaseError>) -> (Result<u32, DatabaseError>, u32) {
    let entropy = SeededEntropy::new(1);
    let attempts = Cell::new(0u32);
    let mut errors = errors.into_iter();
    let outcome = run_serializable_with(&POLICY, &entropy, || {
        attempts.set(attempts.get() + 1);
        let outcome = errors.next().map_or(Ok(attempts.get()), Err);
        async move { outcome }
    })
    .await;
    (outcome, attempts.get())
}

fn conflict() -> DatabaseError {
    DatabaseError::Conflict("messages".into())
}

#[tokio::test(start_paused = true)]
async fn conflicts_are_run_again_until_an_attempt_commits() {
    let (outcome, attempts) = check(vec![conflict(), conflict(), conflict()]).await;
    assert_eq!(outcome.unwrap(), 4, "the fourth attempt's value");
    assert_eq!(attempts, 4);
}

#[tokio::test(start_paused = true)]
async fn after_the_last_attempt_its_conflict_is_returned() {
    let (outcome, attempts) = check((0..10).map(|_| conflict()).collect()).await;
    assert!(matches!(outcome, Err(DatabaseError::Conflict(_))), "{outcome:?}");
    assert_eq!(attempts, POLICY.max_attempts, "bounded");
}

#[tokio::test(start_paused = true)]
async fn other_errors_are_returned_at_once() {
    let (outcome, attempts) = check(vec![DatabaseError::Invalid("bad id".into()), conflict()]).await;
    assert!(matches!(outcome, Err(DatabaseError::Invalid(_))), "{outcome:?}");
    assert_eq!(attempts, 1, "never re-run");
}

#[test]
fn pauses_are_random_below_a_ceiling_that_doubles_up_to_the_cap() {
    let entropy = SeededEntropy::new(7);
    for conflicts in 1..40 {
        let ceiling = match conflicts {
            1 => Duration::from_millis(1),
            2 => Duration::from_millis(2),
            _ => Duration::from_millis(3),
        };
        let delays: Vec<Duration> = (0..50).map(|_| POLICY.delay(conflicts, &entropy)).collect();
        assert!(delays.iter().all(|delay| *delay < ceiling), "after {conflicts} conflicts: {delays:?}");
        assert!(delays.iter().any(|delay| *delay != delays[0]), "jittered: {delays:?}");
    }
    let never = RetryPolicy { base_delay: Duration::ZERO, ..POLICY };
    assert_eq!(never.delay(5, &entropy), Duration::ZERO);
}
