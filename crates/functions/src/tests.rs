//! Runtime behaviour on the in-memory backend (or PostgreSQL with `AUTHVEX_TEST_BACKEND=postgres`).

use crate::*;
use database::{Database, DatabaseConfig, ManualClock, Schema, SeededEntropy, TableDefinition};
use std::collections::BTreeMap;
use std::sync::Arc;
use value::{obj, v, Value};

async fn runtime(app: App) -> Arc<Runtime> {
    let config = DatabaseConfig::new(
        app.schema_ref().clone(),
        Arc::new(ManualClock::new(1_700_000_000_000_000_000)),
        Arc::new(SeededEntropy::new(1)),
    );
    let db = Database::open(test_support::test_persistence().await, config).await.unwrap();
    let env = BTreeMap::from([("GREETING".to_string(), "hello".to_string())]);
    Runtime::new(db, app, env).unwrap()
}

fn counter_app() -> App {
    let mut app = App::new();
    app.schema(Schema::new().table("counters", TableDefinition::new()).table("log", TableDefinition::new()));
    app.mutation("counter:create", |ctx: MutationCtx, _: Value| async move {
        Ok(ctx.db.insert("counters", obj! {"n" => 0i64}).await?.to_string())
    });
    app.mutation("counter:increment", |ctx: MutationCtx, args: Value| async move {
        let id = args.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let doc = ctx.db.get(&id).await?.ok_or("no counter")?;
        let n = doc.get("n").and_then(|v| v.as_i64()).unwrap_or(0);
        tokio::task::yield_now().await;
        ctx.db.patch(&id, obj! {"n" => n + 1}).await?;
        Ok(n + 1)
    });
    app.query("counter:get", |ctx: QueryCtx, args: Value| async move {
        let id = args.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        ctx.log("reading");
        Ok(ctx.db.get(&id).await?.and_then(|d| d.get("n").cloned()))
    });
    app.mutation("log:writeThenFail", |ctx: MutationCtx, _: Value| async move {
        ctx.db.insert("log", obj! {"x" => 1.0}).await?;
        Err::<(), _>(FunctionError::convex(obj! {"code" => "NOPE"}))
    });
    app.query(
        "log:count",
        |ctx: QueryCtx, _: Value| async move { Ok(ctx.db.query("log").collect().await?.len() as i64) },
    );
    app.query("secret:get", |_: QueryCtx, _: Value| async move { Ok("secret") }).internal();
    app.query("env:get", |ctx: QueryCtx, _: Value| async move { Ok(ctx.env("GREETING")) });
    app.query("typed:add", |_: QueryCtx, args: AddArgs| async move { Ok(args.a + args.b) })
        .args(v::object([("a", v::number()), ("b", v::number())]))
        .returns(v::number());
    app.query("typed:badReturn", |_: QueryCtx, _: Value| async move { Ok("not a number") }).returns(v::number());
    app.action("act:viaQueries", |ctx: ActionCtx, args: Value| async move {
        let created = ctx.run_mutation("counter:create", obj! {}).await?;
        let id = created.as_str().unwrap_or_default().to_string();
        let times = args.get("times").and_then(|v| v.as_f64()).unwrap_or(0.0) as usize;
        for _ in 0..times {
            ctx.run_mutation("counter:increment", obj! {"id" => id.clone()}).await?;
        }
        let secret = ctx.run_query("secret:get", obj! {}).await?;
        let n = ctx.run_query("counter:get", obj! {"id" => id}).await?;
        Ok(obj! {"n" => n, "secret" => secret})
    });
    app
}

#[derive(serde::Deserialize)]
struct AddArgs {
    a: f64,
    b: f64,
}

async fn call(rt: &Arc<Runtime>, path: &str, args: Value, kind: Option<FunctionKind>) -> Outcome {
    rt.run(path, args, Caller::public(None), kind).await
}

#[tokio::test]
async fn both_path_forms_reach_the_same_function() {
    let rt = runtime(counter_app()).await;
    for path in ["env:get", "env.js:get"] {
        let out = call(&rt, path, obj! {}, Some(FunctionKind::Query)).await;
        assert_eq!(out.result.unwrap(), Value::from("hello"), "{path}");
    }
}

#[tokio::test]
async fn unknown_wrong_kind_and_internal_functions_are_function_errors() {
    let rt = runtime(counter_app()).await;
    let out = call(&rt, "no/such:fn", obj! {}, Some(FunctionKind::Query)).await;
    let message = out.result.unwrap_err().message;
    assert!(message.starts_with("[Request ID: "), "{message}");
    assert!(message.contains("Could not find public function for 'no/such:fn'"), "{message}");
    let out = call(&rt, "secret:get", obj! {}, Some(FunctionKind::Query)).await;
    assert!(out.result.unwrap_err().message.contains("Could not find public function"));
    let out = call(&rt, "env:get", obj! {}, Some(FunctionKind::Mutation)).await;
    assert!(out
        .result
        .unwrap_err()
        .message
        .contains("Trying to execute env:get as Mutation, but it is defined as Query."));
}

#[tokio::test]
async fn failed_mutations_write_nothing_and_carry_convex_error_data() {
    let rt = runtime(counter_app()).await;
    let out = call(&rt, "log:writeThenFail", obj! {}, None).await;
    let failure = out.result.unwrap_err();
    assert_eq!(failure.data, Some(obj! {"code" => "NOPE"}));
    assert!(failure.message.ends_with("Uncaught ConvexError: {\"code\":\"NOPE\"}"), "{}", failure.message);
    assert!(out.ts.is_none());
    let count = call(&rt, "log:count", obj! {}, None).await.result.unwrap();
    assert_eq!(count, Value::Int64(0));
}

#[tokio::test]
async fn concurrent_mutations_are_serializable_through_retries() {
    let rt = runtime(counter_app()).await;
    let id = call(&rt, "counter:create", obj! {}, None).await.result.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let rt = rt.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move { call(&rt, "counter:increment", obj! {"id" => id}, None).await }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().result.unwrap().as_i64().unwrap());
    }
    results.sort();
    assert_eq!(results, (1..=24).collect::<Vec<i64>>(), "every increment saw a distinct serial state");
    let out = call(&rt, "counter:get", obj! {"id" => id}, None).await;
    assert_eq!(out.result.unwrap(), Value::Int64(24));
    assert_eq!(out.log_lines, vec!["[LOG] 'reading'".to_string()]);
}

#[tokio::test]
async fn validators_check_arguments_and_returns() {
    let rt = runtime(counter_app()).await;
    let ok = call(&rt, "typed:add", obj! {"a" => 1.5, "b" => 2.0}, None).await;
    assert_eq!(ok.result.unwrap(), Value::Float64(3.5));
    let bad = call(&rt, "typed:add", obj! {"a" => "1", "b" => 2.0}, None).await;
    let message = bad.result.unwrap_err().message;
    assert!(message.contains("ArgumentValidationError"), "{message}");
    let extra = call(&rt, "typed:add", obj! {"a" => 1.0, "b" => 2.0, "c" => 3.0}, None).await;
    assert!(extra.result.unwrap_err().message.contains("ArgumentValidationError"));
    let ret = call(&rt, "typed:badReturn", obj! {}, None).await;
    assert!(ret.result.unwrap_err().message.contains("ReturnsValidationError"));
    let not_object = call(&rt, "typed:add", Value::Array(vec![]), None).await;
    assert!(not_object.result.unwrap_err().message.contains("arguments must be an object"));
}

#[tokio::test]
async fn actions_run_queries_and_mutations_including_internal_ones() {
    let rt = runtime(counter_app()).await;
    let out = call(&rt, "act:viaQueries", obj! {"times" => 3.0}, Some(FunctionKind::Action)).await;
    assert_eq!(out.result.unwrap(), obj! {"n" => 3i64, "secret" => "secret"});
    assert!(out.log_lines.contains(&"[LOG] 'reading'".to_string()), "{:?}", out.log_lines);
}

fn http_app() -> App {
    let mut app = App::new();
    app.route(http::Method::GET, "/hello", |ctx: ActionCtx, req: HttpRequest| async move {
        let body = format!("hello {} {}", req.uri().query().unwrap_or(""), ctx.env("GREETING").unwrap_or_default());
        Ok(HttpResponse::new(body.into()))
    });
    app.route_prefix(http::Method::GET, "/files/", |_, req: HttpRequest| async move {
        Ok(HttpResponse::new(format!("short {}", req.uri().path()).into()))
    });
    app.route_prefix(http::Method::GET, "/files/deep/", |_, req: HttpRequest| async move {
        Ok(HttpResponse::new(format!("deep {}", req.uri().path()).into()))
    });
    app.route(http::Method::POST, "/fail", |_, _| async move { Err::<HttpResponse, _>(FunctionError::msg("boom")) });
    app.route(http::Method::POST, "/cors", |_, _| async move { Ok(HttpResponse::new("ok".into())) })
        .cors(CorsConfig::origins(&["http://app.example"]));
    app
}

fn request(method: http::Method, uri: &str, headers: &[(&str, &str)]) -> HttpRequest {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(bytes::Bytes::new()).unwrap()
}

#[tokio::test]
async fn http_routes_match_exact_then_longest_prefix() {
    let rt = runtime(http_app()).await;
    let r = rt.handle_http(request(http::Method::GET, "/hello?x=1", &[]), None).await;
    assert_eq!(r.body(), "hello x=1 hello");
    let r = rt.handle_http(request(http::Method::GET, "/files/deep/a.txt", &[]), None).await;
    assert_eq!(r.body(), "deep /files/deep/a.txt");
    let r = rt.handle_http(request(http::Method::GET, "/files/a.txt", &[]), None).await;
    assert_eq!(r.body(), "short /files/a.txt");
    let r = rt.handle_http(request(http::Method::HEAD, "/hello", &[]), None).await;
    assert_eq!(r.status(), 200);
    assert!(r.body().is_empty(), "HEAD drops the body");
    let r = rt.handle_http(request(http::Method::POST, "/hello", &[]), None).await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.body(), "No HttpAction routed for /hello");
    let r = rt.handle_http(request(http::Method::POST, "/fail", &[]), None).await;
    assert_eq!(r.status(), 500);
    let body: serde_json::Value = serde_json::from_slice(r.body().as_bytes().unwrap()).unwrap();
    assert!(body["code"].as_str().unwrap().contains("Server Error: Uncaught Error: boom"), "{body}");
}

#[tokio::test]
async fn cors_is_opt_in_per_route() {
    let rt = runtime(http_app()).await;
    let pre = rt
        .handle_http(
            request(
                http::Method::OPTIONS,
                "/cors",
                &[("origin", "http://app.example"), ("access-control-request-method", "POST")],
            ),
            None,
        )
        .await;
    assert_eq!(pre.status(), 204);
    assert_eq!(pre.headers()["access-control-allow-origin"], "http://app.example");
    assert_eq!(pre.headers()["access-control-allow-credentials"], "true");
    let r = rt.handle_http(request(http::Method::POST, "/cors", &[("origin", "http://evil.example")]), None).await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = rt.handle_http(request(http::Method::GET, "/hello", &[("origin", "http://app.example")]), None).await;
    assert!(r.headers().get("access-control-allow-origin").is_none(), "routes without cors get no CORS headers");
}

#[test]
fn registration_mistakes_are_reported_at_start() {
    let mut app = App::new();
    app.query("bad path!", |_: QueryCtx, _: Value| async move { Ok(()) });
    app.query("m:f", |_: QueryCtx, _: Value| async move { Ok(()) });
    app.query("m.js:f", |_: QueryCtx, _: Value| async move { Ok(()) });
    app.route(http::Method::GET, "no-slash", |_, _| async move { Ok(HttpResponse::new("".into())) });
    assert_eq!(app.errors.len(), 3, "{:?}", app.errors);
}

fn paging_app() -> App {
    let mut app = App::new();
    app.schema(Schema::new().table("items", TableDefinition::new().index("by_group", &["group"])));
    app.mutation("items:seed", |ctx: MutationCtx, _: Value| async move {
        for i in 0..10i64 {
            ctx.db.insert("items", obj! {"group" => if i % 2 == 0 { "even" } else { "odd" }, "i" => i}).await?;
        }
        Ok(())
    });
    app.query("items:page", |ctx: QueryCtx, opts: PaginationOptions| async move {
        ctx.db.query("items").with_index("by_group", |q| q.eq("group", "even")).paginate(opts).await
    });
    app.query("items:only", |ctx: QueryCtx, args: Value| async move {
        let i = args.get("i").and_then(|v| v.as_i64()).unwrap_or(-1);
        ctx.db.query("items").filter(move |d| d.get("i") == Some(&Value::Int64(i))).unique().await
    });
    app.query("items:anyOdd", |ctx: QueryCtx, _: Value| async move {
        ctx.db.query("items").filter(|d| d.get("group") == Some(&Value::from("odd"))).unique().await
    });
    app
}

#[tokio::test]
async fn paginate_walks_an_index_range_with_cursors() {
    let rt = runtime(paging_app()).await;
    call(&rt, "items:seed", obj! {}, None).await.result.unwrap();
    let mut cursor = Value::Null;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let out = call(&rt, "items:page", obj! {"numItems" => 2.0, "cursor" => cursor.clone()}, None).await;
        let page = out.result.unwrap();
        for doc in page.get("page").and_then(|p| p.as_array()).unwrap() {
            seen.push(doc.get("i").and_then(|v| v.as_i64()).unwrap());
        }
        cursor = page.get("continueCursor").cloned().unwrap();
        if page.get("isDone") == Some(&Value::Boolean(true)) {
            break;
        }
    }
    assert_eq!(seen, vec![0, 2, 4, 6, 8]);
    let bad = call(&rt, "items:page", obj! {"numItems" => 2.0, "cursor" => "!!"}, None).await;
    assert!(bad.result.unwrap_err().message.contains("InvalidCursor"));
}

#[tokio::test]
async fn unique_returns_one_or_fails_on_many() {
    let rt = runtime(paging_app()).await;
    call(&rt, "items:seed", obj! {}, None).await.result.unwrap();
    let one = call(&rt, "items:only", obj! {"i" => 3i64}, None).await.result.unwrap();
    assert_eq!(one.get("i"), Some(&Value::Int64(3)));
    let none = call(&rt, "items:only", obj! {"i" => 42i64}, None).await.result.unwrap();
    assert_eq!(none, Value::Null);
    let many = call(&rt, "items:anyOdd", obj! {}, None).await.result.unwrap_err();
    assert!(many.message.contains("more than one result"), "{}", many.message);
}

#[tokio::test]
async fn component_tables_are_invisible_to_app_functions() {
    let mut app = App::new();
    app.schema(Schema::new().table("betterAuth/user", TableDefinition::new()).table("notes", TableDefinition::new()));
    app.mutation("x:peek", |ctx: MutationCtx, _: Value| async move {
        ctx.db.query("betterAuth/user").collect().await.map(|d| d.len() as i64)
    });
    app.mutation("x:write", |ctx: MutationCtx, _: Value| async move {
        ctx.db.insert("betterAuth/user", obj! {"name" => "mallory"}).await.map(|id| id.to_string())
    });
    let rt = runtime(app).await;
    let peek = call(&rt, "x:peek", obj! {}, None).await.result.unwrap_err();
    assert!(peek.message.contains("belongs to a component"), "{}", peek.message);
    let write = call(&rt, "x:write", obj! {}, None).await.result.unwrap_err();
    assert!(write.message.contains("belongs to a component"), "{}", write.message);
}

fn system_table_app() -> App {
    let mut app = App::new();
    app.schema(
        Schema::new()
            .system_table("_things", TableDefinition::new())
            .system_table("_system/private", TableDefinition::new()),
    );
    app.query("sys:list", |ctx: QueryCtx, _: Value| async move { ctx.db.system().query("_things").collect().await });
    app.query("sys:get", |ctx: QueryCtx, args: Value| async move {
        let id = args.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let via_system = ctx.db.system().get(&id).await?;
        let via_db = ctx.db.get(&id).await?;
        Ok(obj! {"system" => via_system.map_or(Value::Null, Value::from), "db" => via_db.map_or(Value::Null, Value::from)})
    })
    .args(v::object([("id", v::id("_things"))]));
    app.query("sys:private", |ctx: QueryCtx, _: Value| async move {
        ctx.db.system().query("_system/private").collect().await
    });
    app.query("sys:queryViaDb", |ctx: QueryCtx, _: Value| async move { ctx.db.query("_things").collect().await });
    app.query("sys:userTableViaSystem", |ctx: QueryCtx, _: Value| async move {
        ctx.db.system().query("notes").collect().await
    });
    app.mutation("sys:insert", |ctx: MutationCtx, _: Value| async move {
        Ok(ctx.db.insert("_things", obj! {"x" => 1.0}).await?.to_string())
    });
    app.mutation("sys:delete", |ctx: MutationCtx, args: Value| async move {
        let id = args.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        ctx.db.delete(&id).await
    });
    app.mutation("notes:add", |ctx: MutationCtx, _: Value| async move {
        Ok(ctx.db.insert("notes", obj! {"x" => 1.0}).await?.to_string())
    });
    app
}

#[tokio::test]
async fn system_tables_are_read_through_db_system_and_written_only_by_the_platform() {
    let rt = runtime(system_table_app()).await;
    // The platform writes system documents directly through the database.
    let mut txn = rt.database().begin(false).await.unwrap();
    let id = txn.insert("_things", value::Object::from([("x".to_string(), Value::Float64(7.0))])).await.unwrap();
    rt.database().commit(txn).await.unwrap();

    let listed = call(&rt, "sys:list", obj! {}, None).await.result.unwrap();
    assert_eq!(listed.as_array().map(|a| a.len()), Some(1));
    // v.id("_things") accepts the id; db.system.get finds it, db.get does not.
    let got = call(&rt, "sys:get", obj! {"id" => id.to_string()}, None).await.result.unwrap();
    assert_eq!(got.get("system").and_then(|d| d.get("x")).and_then(|x| x.as_f64()), Some(7.0));
    assert_eq!(got.get("db"), Some(&Value::Null));

    let refused = |o: Outcome| o.result.unwrap_err().message;
    assert!(refused(call(&rt, "sys:queryViaDb", obj! {}, None).await).contains("ctx.db.system()"));
    assert!(refused(call(&rt, "sys:userTableViaSystem", obj! {}, None).await).contains("is not a system table"));
    assert!(refused(call(&rt, "sys:private", obj! {}, None).await).contains("is not a system table"));
    assert!(refused(call(&rt, "sys:insert", obj! {}, None).await).contains("read-only"));
    assert!(refused(call(&rt, "sys:delete", obj! {"id" => id.to_string()}, None).await).contains("read-only"));
    // Still there after the refused delete; declaring only system tables keeps undeclared user tables allowed.
    let listed = call(&rt, "sys:list", obj! {}, None).await.result.unwrap();
    assert_eq!(listed.as_array().map(|a| a.len()), Some(1));
    assert!(call(&rt, "notes:add", obj! {}, None).await.result.is_ok());
    // The platform cannot write a system table nobody declared.
    let mut txn = rt.database().begin(false).await.unwrap();
    let err = txn.insert("_undeclared", value::Object::new()).await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn component_schemas_do_not_make_a_schemaless_app_strict() {
    let mut app = App::new();
    app.extend_schema(Schema::new().table("component/things", TableDefinition::new()));
    assert!(!app.schema_ref().strict_tables, "an app that declares nothing accepts any table");
    app.schema(Schema::new().table("mine", TableDefinition::new()));
    assert!(app.schema_ref().strict_tables, "declaring its own tables makes it strict");
    app.extend_schema(Schema::new().table("component/more", TableDefinition::new()));
    assert!(app.schema_ref().strict_tables);
}

/// Actions validate ids like queries and mutations: `v.id("t")` accepts an id of `t` (arguments and returns) and
/// refuses one of another table.
#[tokio::test]
async fn action_validators_resolve_table_ids() {
    let mut app = counter_app();
    app.action("act:echoId", |_: ActionCtx, args: Value| async move { Ok(args.get("id").cloned()) })
        .args(v::object([("id", v::id("counters"))]))
        .returns(v::id("counters"));
    app.action(
        "act:logId",
        |ctx: ActionCtx, _: Value| async move { ctx.run_mutation("counter:create", obj! {}).await },
    )
    .returns(v::id("log"));
    let rt = runtime(app).await;
    let id = call(&rt, "counter:create", obj! {}, None).await.result.unwrap();
    let echoed = call(&rt, "act:echoId", obj! {"id" => id.clone()}, None).await.result.unwrap();
    assert_eq!(echoed, id);
    call(&rt, "log:writeThenFail", obj! {}, None).await.result.unwrap_err();
    let wrong = call(&rt, "act:logId", obj! {}, None).await.result.unwrap_err();
    assert!(wrong.message.contains("ReturnsValidationError"), "{}", wrong.message);
    let not_an_id = call(&rt, "act:echoId", obj! {"id" => "nope"}, None).await.result.unwrap_err();
    assert!(not_an_id.message.contains("ArgumentValidationError"), "{}", not_an_id.message);
}

fn search_app() -> App {
    let mut app = App::new();
    app.schema(Schema::new().table("notes", TableDefinition::new().search_index("search_text", "text", &["tag"])));
    app.mutation("notes:add", |ctx: MutationCtx, args: Value| async move {
        Ok(ctx.db.insert("notes", args).await?.to_string())
    });
    app.query("notes:search", |ctx: QueryCtx, args: Value| async move {
        let text = args.get("q").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let tag = args.get("tag").and_then(|v| v.as_str()).map(str::to_string);
        let q = ctx.db.query("notes").with_search_index("search_text", |q| {
            let q = q.search("text", &text);
            match tag {
                Some(tag) => q.eq("tag", tag),
                None => q,
            }
        });
        match args.get("paginationOpts") {
            Some(_) => Ok(value::to_value(&q.paginate(pagination_opts_of(&args)?).await?)?),
            None => Ok(value::to_value(&q.collect().await?)?),
        }
    });
    app.query("notes:ordered", |ctx: QueryCtx, _: Value| async move {
        let q = ctx.db.query("notes").with_search_index("search_text", |q| q.search("text", "apple"));
        q.order(Order::Desc).collect().await
    });
    app.query("notes:take", |ctx: QueryCtx, args: Value| async move {
        let n = args.get("n").and_then(|v| v.as_f64()).unwrap_or(1.0) as usize;
        let q = ctx.db.query("notes").with_search_index("search_text", |q| q.search("text", "apple"));
        q.take(n).await
    });
    app.query("notes:pageKept", |ctx: QueryCtx, args: Value| async move {
        let q = ctx.db.query("notes").with_search_index("search_text", |q| q.search("text", "apple"));
        let q = q.filter(|d| d.get("tag") != Some(&Value::from("skip")));
        Ok(value::to_value(&q.paginate(pagination_opts_of(&args)?).await?)?)
    });
    app.query("notes:first", |ctx: QueryCtx, _: Value| async move {
        let q = ctx.db.query("notes").with_search_index("search_text", |q| q.search("text", "apple"));
        let q = q.filter(|d| d.get("tag") != Some(&Value::from("skip")));
        q.first().await
    });
    app
}

/// `with_search_index` from functions: collect with an `eq` filter, `first` after a `.filter`, and `paginate` through
/// the relevance order with cursors bound to the search.
#[tokio::test]
async fn search_queries_collect_filter_and_paginate() {
    let rt = runtime(search_app()).await;
    for (text, tag) in
        [("apple pie", "food"), ("apple apple apple", "skip"), ("green apple tree", "nature"), ("apple", "food")]
    {
        call(&rt, "notes:add", obj! {"text" => text, "tag" => tag}, None).await.result.unwrap();
    }
    let texts = |v: &Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|d| d.get("text").and_then(|t| t.as_str()).unwrap().to_string()).collect()
    };
    let food = call(&rt, "notes:search", obj! {"q" => "apple", "tag" => "food"}, None).await.result.unwrap();
    assert_eq!(texts(&food), ["apple", "apple pie"]);
    let first = call(&rt, "notes:first", obj! {}, None).await.result.unwrap();
    assert_eq!(first.get("text"), Some(&Value::from("apple")));
    let all = texts(&call(&rt, "notes:search", obj! {"q" => "apple"}, None).await.result.unwrap());
    assert_eq!(all.len(), 4);
    let mut cursor = Value::Null;
    let mut paged = Vec::new();
    loop {
        let args = obj! {"q" => "apple", "paginationOpts" => obj! {"numItems" => 3.0, "cursor" => cursor.clone()}};
        let page = call(&rt, "notes:search", args, None).await.result.unwrap();
        paged.extend(texts(page.get("page").unwrap()));
        cursor = page.get("continueCursor").cloned().unwrap();
        if page.get("isDone") == Some(&Value::Boolean(true)) {
            break;
        }
    }
    assert_eq!(paged, all);
    let other = obj! {"q" => "pie", "paginationOpts" => obj! {"numItems" => 3.0, "cursor" => cursor}};
    let refused = call(&rt, "notes:search", other, None).await.result.unwrap_err();
    assert!(refused.message.contains("InvalidCursor"), "{}", refused.message);
    let ordered = call(&rt, "notes:ordered", obj! {}, None).await.result.unwrap_err();
    assert!(ordered.message.contains("Search queries must always be in relevance order"), "{}", ordered.message);
    let empty = call(&rt, "notes:search", obj! {"q" => ""}, None).await.result.unwrap();
    assert_eq!(empty, Value::Array(vec![]));
}

/// A search ranks from its postings and reads only the documents it returns: with a read limit of 5 documents,
/// `take(3)` over 20 matches succeeds and `take(6)` fails on the limit. Pages after a `.filter` count the documents
/// that pass it.
#[tokio::test]
async fn search_reads_only_the_documents_it_returns() {
    let app = search_app();
    let mut config = DatabaseConfig::new(
        app.schema_ref().clone(),
        Arc::new(ManualClock::new(1_700_000_000_000_000_000)),
        Arc::new(SeededEntropy::new(1)),
    );
    config.limits.max_documents_read = 5;
    let db = Database::open(test_support::test_persistence().await, config).await.unwrap();
    let rt = Runtime::new(db, app, BTreeMap::new()).unwrap();
    for i in 0..20 {
        let tag = if i % 2 == 0 { "skip" } else { "keep" };
        call(&rt, "notes:add", obj! {"text" => format!("apple number {i}"), "tag" => tag}, None).await.result.unwrap();
    }
    let three = call(&rt, "notes:take", obj! {"n" => 3.0}, None).await.result.unwrap();
    let texts: Vec<&str> = three.as_array().unwrap().iter().map(|d| d.get("text").unwrap().as_str().unwrap()).collect();
    assert_eq!(texts, ["apple number 19", "apple number 18", "apple number 17"], "ties newest first");
    let six = call(&rt, "notes:take", obj! {"n" => 6.0}, None).await.result.unwrap_err();
    assert!(six.message.contains("too many documents read"), "{}", six.message);

    let opts = obj! {"paginationOpts" => obj! {"numItems" => 2.0, "cursor" => Value::Null}};
    let refused = call(&rt, "notes:pageKept", opts, None).await.result.unwrap_err();
    assert!(
        refused.message.contains("too many documents read"),
        "a filtered page reads every match: {}",
        refused.message
    );
}

/// `paginate` after a `.filter`: positions count the documents that pass it.
#[tokio::test]
async fn search_pages_after_a_filter_skip_what_it_rejects() {
    let rt = runtime(search_app()).await;
    for i in 0..5 {
        let tag = if i % 2 == 0 { "skip" } else { "keep" };
        call(&rt, "notes:add", obj! {"text" => format!("apple number {i}"), "tag" => tag}, None).await.result.unwrap();
    }
    let mut cursor = Value::Null;
    let mut paged = Vec::new();
    for _ in 0..5 {
        let opts = obj! {"paginationOpts" => obj! {"numItems" => 1.0, "cursor" => cursor.clone()}};
        let page = call(&rt, "notes:pageKept", opts, None).await.result.unwrap();
        let docs = page.get("page").unwrap().as_array().unwrap();
        paged.extend(docs.iter().map(|d| d.get("text").unwrap().as_str().unwrap().to_string()));
        cursor = page.get("continueCursor").cloned().unwrap();
        if page.get("isDone") == Some(&Value::Boolean(true)) {
            break;
        }
    }
    assert_eq!(paged, ["apple number 3", "apple number 1"]);
}
