//! The pagination and search demo ports answer with the demos' shapes (their web frontends read exactly these).
//! Also makes `cargo test` build the demo binaries the e2e suites start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use authvex::internals::functions::{Caller, FunctionKind, Runtime};
use authvex::{obj, Value};
use std::sync::Arc;
use test_support::deployment::Deployment;

async fn run(rt: &Arc<Runtime>, path: &str, args: Value, kind: FunctionKind) -> Value {
    rt.run(path, args, Caller::default(), Some(kind)).await.result.unwrap_or_else(|f| panic!("{path}: {}", f.message))
}

fn field(items: &Value, name: &str) -> Vec<String> {
    items.as_array().unwrap().iter().map(|d| d.get(name).and_then(|v| v.as_str()).unwrap().to_string()).collect()
}

#[tokio::test]
async fn pagination_demo_lists_newest_first_by_page() {
    let server = Deployment::new(demos::pagination::app()).start().await;
    let rt = server.runtime.clone();
    for (i, author) in ["ann", "bob", "ann", "ann", "bob", "ann", "bob"].iter().enumerate() {
        run(&rt, "messages:send", obj! {"body" => format!("m{i}"), "author" => *author}, FunctionKind::Mutation).await;
    }
    let first = obj! {"paginationOpts" => obj! {"numItems" => 5.0, "cursor" => Value::Null, "id" => 1.0}};
    let page = run(&rt, "messages:list", first.clone(), FunctionKind::Query).await;
    assert_eq!(field(page.get("page").unwrap(), "body"), ["m6", "m5", "m4", "m3", "m2"]);
    assert_eq!(page.get("isDone"), Some(&Value::Boolean(false)));
    let next =
        obj! {"paginationOpts" => obj! {"numItems" => 5.0, "cursor" => page.get("continueCursor").cloned().unwrap()}};
    let page = run(&rt, "messages:list", next, FunctionKind::Query).await;
    assert_eq!(field(page.get("page").unwrap(), "body"), ["m1", "m0"]);
    assert_eq!(page.get("isDone"), Some(&Value::Boolean(true)));

    let mut by_author = first.clone();
    if let Value::Object(o) = &mut by_author {
        o.insert("author".into(), Value::from("bob"));
    }
    let page = run(&rt, "messages:listWithExtraArg", by_author, FunctionKind::Query).await;
    assert_eq!(field(page.get("page").unwrap(), "body"), ["m6", "m4", "m1"]);

    let page = run(&rt, "messages:listWithTransformation", first, FunctionKind::Query).await;
    let items = page.get("page").unwrap();
    assert_eq!(field(items, "body"), ["M6", "M5", "M4", "M3", "M2"]);
    assert_eq!(field(items, "author"), ["b", "a", "b", "a", "a"]);
    assert!(page.get("continueCursor").and_then(|c| c.as_str()).is_some());
    server.shutdown().await;
}

#[tokio::test]
async fn search_demo_finds_the_most_relevant_ten() {
    let server = Deployment::new(demos::search::app()).start().await;
    let rt = server.runtime.clone();
    assert_eq!(run(&rt, "messages:search", obj! {"query" => ""}, FunctionKind::Query).await, Value::Array(vec![]));
    for i in 0..12 {
        let body = if i == 7 { "hello hello world".to_string() } else { format!("hello number {i}") };
        run(&rt, "messages:send", obj! {"body" => body, "author" => "ann"}, FunctionKind::Mutation).await;
    }
    run(&rt, "messages:send", obj! {"body" => "goodbye", "author" => "bob"}, FunctionKind::Mutation).await;
    let hits = run(&rt, "messages:search", obj! {"query" => "hello wor"}, FunctionKind::Query).await;
    let bodies = field(&hits, "body");
    assert_eq!(bodies.len(), 10);
    assert_eq!(bodies[0], "hello hello world");
    assert!(!bodies.contains(&"goodbye".to_string()));
    let all = run(&rt, "messages:list", obj! {}, FunctionKind::Query).await;
    assert_eq!(all.as_array().unwrap().len(), 13);
    server.shutdown().await;
}
