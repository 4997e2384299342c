//! The conformance suite against the in-memory backend.

use test_support::conformance::{self, Memory};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_passes_conformance() {
    conformance::run_all(Memory).await;
}

/// The suite itself must not depend on a second thread (readers and the writer interleave by yielding).
#[tokio::test(flavor = "current_thread")]
async fn memory_passes_conformance_on_one_thread() {
    conformance::run_all(Memory).await;
}
