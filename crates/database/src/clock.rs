//! Time and randomness are inputs: the core never reads the system clock or a global RNG directly.

use parking_lot::Mutex;
pub use protocol::UnixTime;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A source of wall-clock time. Every crate takes "now" as a [`UnixTime`] from one of these (or from its caller);
/// each protocol's unit — Convex's `_creationTime` milliseconds, Better Auth's date milliseconds, JWT seconds — is a
/// method of `UnixTime`, never a bare number passed between crates.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> UnixTime;
}

/// The real clock; only binaries and tests at the edge construct it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> UnixTime {
        let now = std::time::SystemTime::now();
        UnixTime::from_nanos(now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64))
    }
}

/// A clock that tests move by hand (in nanoseconds since the epoch).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn new(start_nanos: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(start_nanos)))
    }

    pub fn advance(&self, nanos: u64) {
        self.0.fetch_add(nanos, Ordering::SeqCst);
    }

    pub fn set(&self, nanos: u64) {
        self.0.store(nanos, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        UnixTime::from_nanos(self.0.load(Ordering::SeqCst))
    }
}

/// A source of randomness for ids and tokens.
pub trait Entropy: Send + Sync + 'static {
    fn fill(&self, out: &mut [u8]);
}

/// OS randomness (`rand`'s thread-local CSPRNG seeded from the OS).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, out: &mut [u8]) {
        use rand::RngCore;
        rand::thread_rng().fill_bytes(out);
    }
}

/// Deterministic randomness for tests.
#[derive(Debug)]
pub struct SeededEntropy(Mutex<rand::rngs::StdRng>);

impl SeededEntropy {
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        SeededEntropy(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)))
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, out: &mut [u8]) {
        use rand::RngCore;
        self.0.lock().fill_bytes(out);
    }
}
