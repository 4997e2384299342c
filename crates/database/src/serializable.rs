//! Re-running work that lost a serialization conflict: the one retry policy every caller (function mutations, the
//! auth service's transactions) uses.
//!
//! A commit fails with [`DatabaseError::Conflict`] when a commit after its snapshot wrote what it read; running the
//! whole attempt again (a new snapshot, the same logic) is always safe because the failed attempt wrote nothing.
//! Attempts are bounded so a pathological hot spot fails instead of spinning, and re-runs wait a random pause below an
//! exponentially growing ceiling ("full jitter"), so transactions that collided do not collide again in lockstep.

use crate::{Database, DatabaseError, Entropy};
use std::future::Future;
use std::time::Duration;

/// How conflicting attempts are re-run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; the last one's conflict is returned.
    pub max_attempts: u32,
    /// The ceiling of the pause after the first conflict; it doubles with each further conflict.
    pub base_delay: Duration,
    /// The largest ceiling.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// 32 attempts (what mutations and auth endpoints always had), pauses below 100 µs doubling up to 5 ms: at most
    /// about 0.15 s spent waiting before a mutation gives up, about half that on average.
    pub const DEFAULT: RetryPolicy =
        RetryPolicy { max_attempts: 32, base_delay: Duration::from_micros(100), max_delay: Duration::from_millis(5) };

    /// The pause after `conflicts` conflicting attempts (1 after the first): uniform in `[0, ceiling)`.
    pub fn delay(&self, conflicts: u32, entropy: &dyn Entropy) -> Duration {
        let doublings = conflicts.saturating_sub(1).min(31);
        let ceiling = self.base_delay.saturating_mul(1 << doublings).min(self.max_delay);
        let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if ceiling_nanos == 0 {
            return Duration::ZERO;
        }
        let mut bytes = [0u8; 8];
        entropy.fill(&mut bytes);
        Duration::from_nanos(u64::from_le_bytes(bytes) % ceiling_nanos)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::DEFAULT
    }
}

/// An error that may be a serialization conflict (and so worth running the attempt again for).
pub trait MaybeConflict {
    fn is_conflict(&self) -> bool;
}

impl MaybeConflict for DatabaseError {
    fn is_conflict(&self) -> bool {
        DatabaseError::is_conflict(self)
    }
}

/// Runs `attempt` (one whole transaction: begin, work, commit) until it returns anything but a conflict, with
/// [`RetryPolicy::DEFAULT`] and the database's entropy for the pauses. Gives up after the last attempt, returning
/// its conflict; any other error is returned at once.
pub async fn run_serializable<T, E, F, Fut>(db: &Database, attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: MaybeConflict,
{
    run_serializable_with(&RetryPolicy::DEFAULT, db.entropy().as_ref(), attempt).await
}

/// [`run_serializable`] with an explicit policy and source of randomness.
pub async fn run_serializable_with<T, E, F, Fut>(
    policy: &RetryPolicy,
    entropy: &dyn Entropy,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: MaybeConflict,
{
    let mut conflicts = 0u32;
    loop {
        match attempt().await {
            Err(error) if error.is_conflict() && conflicts + 1 < policy.max_attempts => {
                conflicts += 1;
                tracing::debug!(conflicts, "transaction conflicted; running it again");
                tokio::time::sleep(policy.delay(conflicts, entropy)).await;
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests;
