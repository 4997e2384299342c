//! The multi-node suite on a shared in-memory store: several databases opened on one `Arc` of it behave like several
//! nodes on one database server.

use std::sync::Arc;
use std::time::Duration;
use storage::{DynPersistence, MemoryPersistence};
use test_support::multi_node::{self, Pair};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_a_shared_memory_store_pass_the_multi_node_suite() {
    multi_node::run_all(|| async {
        let store: DynPersistence = Arc::new(MemoryPersistence::new_shared());
        let a = multi_node::node(store.clone(), 1, Duration::from_millis(10)).await;
        let b = multi_node::node(store, 2, Duration::from_millis(10)).await;
        Pair { a, b, keep: Box::new(()) }
    })
    .await;
}
