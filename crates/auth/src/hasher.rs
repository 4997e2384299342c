//! Password hashing off the async runtime, with bounded concurrency: each scrypt run holds 32 MiB, so at most
//! `permits` run at once and the rest wait their turn instead of exhausting memory.

use crate::crypto;
use database::Entropy;
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    entropy: Arc<dyn Entropy>,
    /// A hash of a random password, verified against when the user does not exist so timing does not tell.
    dummy: Arc<String>,
}

impl Hasher {
    pub fn new(permits: usize, entropy: Arc<dyn Entropy>) -> Self {
        let mut random = [0u8; 24];
        entropy.fill(&mut random);
        let dummy_password: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let dummy = crypto::hash_password(&dummy_password, entropy.as_ref());
        Hasher { permits: Arc::new(Semaphore::new(permits.max(1))), entropy, dummy: Arc::new(dummy) }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let _permit = self.permits.acquire().await.ok()?;
        tokio::task::spawn_blocking(work).await.ok()
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
