//! Password hashing off the async runtime, with bounded concurrency: each scrypt run holds 32 MiB, so at most
//! `permits` run at once and the rest wait their turn instead of exhausting memory.

use crate::crypto;
use database::Entropy;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    entropy: Arc<dyn Entropy>,
    /// A hash of a random password, verified against when the user does not exist so timing does not tell.
    dummy: Arc<String>,
    load: Arc<Load>,
}

/// How many hashes are computing right now, the most that ever did at once, and how many ran.
#[derive(Debug, Default)]
struct Load {
    running: AtomicUsize,
    peak: AtomicUsize,
    total: AtomicUsize,
}

/// A snapshot of the hasher's load (observability; the tests check the bound with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLoad {
    /// Hashes computing right now.
    pub running: usize,
    /// The most that ever computed at once; never more than the permits.
    pub peak: usize,
    /// Hashes and verifications computed since start (the dummy hash of the service's construction excluded).
    pub total: usize,
}

/// Counts one computation as running for as long as it lives (also when the work panics).
struct Running(Arc<Load>);

impl Running {
    fn start(load: Arc<Load>) -> Running {
        let now = load.running.fetch_add(1, Ordering::SeqCst) + 1;
        load.peak.fetch_max(now, Ordering::SeqCst);
        load.total.fetch_add(1, Ordering::SeqCst);
        Running(load)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hasher {
    pub fn new(permits: usize, entropy: Arc<dyn Entropy>) -> Self {
        let mut random = [0u8; 24];
        entropy.fill(&mut random);
        let dummy_password: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let dummy = crypto::hash_password(&dummy_password, entropy.as_ref());
        Hasher {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            entropy,
            dummy: Arc::new(dummy),
            load: Arc::new(Load::default()),
        }
    }

    pub fn load(&self) -> HashLoad {
        HashLoad {
            running: self.load.running.load(Ordering::SeqCst),
            peak: self.load.peak.load(Ordering::SeqCst),
            total: self.load.total.load(Ordering::SeqCst),
        }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        // The permit moves into the blocking task: when the request is dropped (client gone) while scrypt runs, the
        // computation goes on, and so must the permit it holds, or the next hash would start beside it.
        let permit = self.permits.clone().acquire_owned().await.ok()?;
        let load = self.load.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _running = Running::start(load);
            work()
        })
        .await
        .ok()
    }

    /// Hashes a password in Better Auth's scrypt format.
    pub async fn hash(&self, password: &str) -> Option<String> {
        let password = password.to_string();
        let entropy = self.entropy.clone();
        self.run(move || crypto::hash_password(&password, entropy.as_ref())).await
    }

    /// Verifies a password; `None` as the hash verifies against a dummy so the work (and timing) is the same.
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> bool {
        let known = hash.is_some();
        let hash = hash.map(str::to_string).unwrap_or_else(|| (*self.dummy).clone());
        let password = password.to_string();
        let ok = self.run(move || crypto::verify_password(&hash, &password)).await.unwrap_or(false);
        ok && known
    }
}
