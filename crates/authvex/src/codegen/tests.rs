use super::{generate, ts_type, CodegenError, Layout};
use functions::{App, MutationCtx, QueryCtx};
use value::{v, Value};

fn check(validator: value::Validator, expected: &str) {
    assert_eq!(ts_type(&validator), expected, "for {validator}");
}

#[test]
fn every_validator_kind_has_its_typescript_type() {
    check(v::string(), "string");
    check(v::int64(), "bigint");
    check(v::bigint(), "bigint");
    check(v::float64(), "number");
    check(v::number(), "number");
    check(v::boolean(), "boolean");
    check(v::null(), "null");
    check(v::bytes(), "ArrayBuffer");
    check(v::any(), "any");
    check(v::id("messages"), "Id<\"messages\">");
    check(v::array(v::string()), "Array<string>");
    check(v::array(v::array(v::int64())), "Array<Array<bigint>>");
    check(v::record(v::string(), v::float64()), "Record<string, number>");
    check(v::union(vec![v::string(), v::null()]), "string | null");
    check(v::union(vec![]), "never");
    check(v::object([("author", v::string()), ("body", v::string())]), "{ author: string; body: string }");
    check(
        v::object([("tag", v::optional(v::string())), ("size", v::required(v::int64()))]),
        "{ size: bigint; tag?: string }",
    );
    check(v::object::<value::FieldValidator>([]), "Record<string, never>");
    check(v::object([("odd key", v::id("users")), ("$ok", v::any())]), "{ $ok: any; \"odd key\": Id<\"users\"> }");
    check(
        v::object([("nested", v::object([("items", v::array(v::object([("n", v::float64())])))]))]),
        "{ nested: { items: Array<{ n: number }> } }",
    );
}

#[test]
fn literals_are_literal_types() {
    check(v::literal("admin"), "\"admin\"");
    check(v::literal("quote\"d"), "\"quote\\\"d\"");
    check(v::literal(3i64), "3n");
    check(v::literal(-7i64), "-7n");
    check(v::literal(1.5), "1.5");
    check(v::literal(f64::NAN), "number");
    check(v::literal(true), "true");
    check(v::literal(Value::Null), "null");
    check(v::union(vec![v::literal("a"), v::literal("b")]), "\"a\" | \"b\"");
}

fn chat_like_app() -> App {
    let mut app = App::new();
    app.query("messages:list", |_: QueryCtx, _: Value| async move { Ok(Value::Null) })
        .args(v::object::<value::FieldValidator>([]))
        .returns(v::array(v::object([("author", v::string()), ("body", v::string())])));
    app.mutation("messages:send", |_: MutationCtx, _: Value| async move { Ok(Value::Null) })
        .args(v::object([("author", v::string()), ("body", v::string())]))
        .returns(v::id("messages"));
    app.query("auth:getCurrentUser", |_: QueryCtx, _: Value| async move { Ok(Value::Null) });
    app.mutation("admin/users:purge", |_: MutationCtx, _: Value| async move { Ok(Value::Null) })
        .args(v::object([("before", v::float64())]))
        .internal();
    app.query("odd_dir/x.y:get", |_: QueryCtx, _: Value| async move { Ok(Value::Null) });
    app
}

#[test]
fn public_functions_go_under_api_and_internal_ones_under_internal() {
    let files = generate(&chat_like_app(), Layout::TypeScript).expect("generate");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, "api.ts");
    let ts = &files[0].contents;
    let expected_public = "export type PublicApi = {
  auth: {
    getCurrentUser: FunctionReference<\"query\", \"public\", any, any>;
  };
  messages: {
    list: FunctionReference<\"query\", \"public\", Record<string, never>, Array<{ author: string; body: string }>>;
    send: FunctionReference<\"mutation\", \"public\", { author: string; body: string }, Id<\"messages\">>;
  };
  odd_dir: {
    \"x.y\": {
      get: FunctionReference<\"query\", \"public\", any, any>;
    };
  };
};";
    assert!(ts.contains(expected_public), "{ts}");
    let expected_internal = "export type InternalApi = {
  admin: {
    users: {
      purge: FunctionReference<\"mutation\", \"internal\", { before: number }, any>;
    };
  };
};";
    assert!(ts.contains(expected_internal), "{ts}");
    assert!(ts.contains("import { anyApi } from \"convex/server\";"), "{ts}");
    assert!(ts.contains("export const api: PublicApi = anyApi as unknown as PublicApi;"), "{ts}");
    assert!(ts.contains("export type Id<TableName extends string> = GenericId<TableName>;"), "{ts}");
}

#[test]
fn the_js_layout_is_anyapi_plus_declarations() {
    let files = generate(&chat_like_app(), Layout::JsWithDeclarations).expect("generate");
    let names: Vec<&str> = files.iter().map(|f| f.name).collect();
    assert_eq!(names, ["api.js", "api.d.ts"]);
    assert!(files[0].contents.contains("export const api = anyApi;\nexport const internal = anyApi;\n"));
    assert!(files[1].contents.contains("export declare const api: {\n  auth: {"), "{}", files[1].contents);
    assert!(files[1].contents.contains("export declare const internal: {\n  admin: {"));
}

#[test]
fn an_app_without_internal_functions_has_an_empty_internal_api() {
    let mut app = App::new();
    app.query("a:b", |_: QueryCtx, _: Value| async move { Ok(Value::Null) });
    let ts = &generate(&app, Layout::TypeScript).expect("generate")[0].contents;
    assert!(ts.contains("export type InternalApi = {};"), "{ts}");
}

#[test]
fn a_function_named_like_a_module_directory_is_a_clear_error() {
    let mut app = App::new();
    app.query("a:b", |_: QueryCtx, _: Value| async move { Ok(Value::Null) });
    app.query("a/b:c", |_: QueryCtx, _: Value| async move { Ok(Value::Null) });
    let error = generate(&app, Layout::TypeScript).expect_err("conflict");
    let CodegenError::Conflict(message) = &error else { panic!("{error}") };
    assert!(message.contains("a/b:c") || message.contains("a:b"), "{error}");
    assert!(error.to_string().starts_with("cannot generate api: function "), "{error}");
}

#[test]
fn an_app_with_registration_mistakes_is_refused_with_them() {
    let mut app = App::new();
    app.query("bad-module:x", |_: QueryCtx, _: Value| async move { Ok(Value::Null) });
    app.query("a:b", |_: QueryCtx, _: Value| async move { Ok(Value::Null) });
    app.query("a.js:b", |_: QueryCtx, _: Value| async move { Ok(Value::Null) });
    let error = generate(&app, Layout::TypeScript).expect_err("invalid app");
    let text = error.to_string();
    assert!(text.starts_with("cannot generate api: the app is invalid: "), "{text}");
    assert!(text.contains("bad-module"), "{text}");
    assert!(text.contains("function a:b is registered twice"), "{text}");
}
