#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;
use crate::{obj, DocumentId, TableNumber};

/// Resolves ids of table 1 to "messages" and of table 2 to "users".
fn id_table(s: &str) -> Option<String> {
    let id = DocumentId::parse(s).ok()?;
    match id.table() {
        TableNumber(1) => Some("messages".into()),
        TableNumber(2) => Some("users".into()),
        _ => None,
    }
}

fn check(validator: &Validator, value: Value) -> Result<(), ValidationError> {
    validator.check(&value, &id_table)
}

fn error_text(validator: &Validator, value: Value) -> String {
    match check(validator, value) {
        Err(e) => e.to_string(),
        Ok(()) => panic!("{validator} accepted the value"),
    }
}

fn message_validator() -> Validator {
    v::object([
        ("author", v::string().into()),
        ("body", v::string().into()),
        ("tags", v::optional(v::array(v::string()))),
    ])
}

#[test]
fn scalars_match_only_their_type() {
    let values = [
        Value::Null,
        Value::Int64(1),
        Value::Float64(1.0),
        Value::Boolean(true),
        Value::from("s"),
        Value::Bytes(vec![1]),
        Value::Array(vec![]),
        obj! {},
    ];
    let validators = [v::null(), v::int64(), v::number(), v::boolean(), v::string(), v::bytes()];
    for (i, validator) in validators.iter().enumerate() {
        for (j, value) in values.iter().enumerate() {
            assert_eq!(check(validator, value.clone()).is_ok(), i == j, "{validator} / {value}");
        }
    }
    for value in values {
        assert_eq!(check(&v::any(), value), Ok(()));
    }
    assert_eq!(v::float64(), v::number());
    assert_eq!(v::bigint(), v::int64());
}

#[test]
fn error_format_matches_convex() {
    let validator = message_validator();
    assert_eq!(
        error_text(&validator, obj! { "author" => 3.0, "body" => "hi" }),
        "Value does not match validator.\nPath: .author\nValue: 3\nValidator: v.string()"
    );
    // At the top, no Path line.
    assert_eq!(
        error_text(&v::string(), Value::Int64(3)),
        "Value does not match validator.\nValue: 3n\nValidator: v.string()"
    );
    let err = check(&validator, obj! { "author" => "a", "body" => "b", "tags" => vec![Value::from("x"), Value::Null] })
        .unwrap_err();
    assert_eq!(err.path, ".tags[1]");
    assert_eq!(err.message, "Value does not match validator.\nValue: null\nValidator: v.string()");
}

#[test]
fn objects_require_fields_and_reject_extras() {
    let validator = message_validator();
    assert_eq!(check(&validator, obj! { "author" => "a", "body" => "b" }), Ok(()));
    assert_eq!(check(&validator, obj! { "author" => "a", "body" => "b", "tags" => Vec::<Value>::new() }), Ok(()));
    assert_eq!(
        error_text(&validator, obj! { "author" => "a" }),
        "Object is missing the required field `body`. Consider wrapping the field validator in \
         `v.optional(...)` if this is expected.\nObject: {author: \"a\"}\nValidator: v.object({author: \
         v.string(), body: v.string(), tags: v.optional(v.array(v.string()))})"
    );
    assert_eq!(
        error_text(&validator, obj! { "author" => "a", "body" => "b", "x" => 1.0 }),
        "Object contains extra field `x` that is not in the validator.\nObject: {author: \"a\", body: \
         \"b\", x: 1}\nValidator: v.object({author: v.string(), body: v.string(), tags: \
         v.optional(v.array(v.string()))})"
    );
    // Optional does not mean nullable.
    assert!(check(&validator, obj! { "author" => "a", "body" => "b", "tags" => Value::Null }).is_err());
    // The path of a nested missing field is the object's.
    let outer = v::object([("inner", message_validator())]);
    assert_eq!(check(&outer, obj! { "inner" => obj! { "author" => "a" } }).unwrap_err().path, ".inner");
    assert!(check(&outer, Value::Array(vec![])).is_err());
}

#[test]
fn ids_must_name_the_table() {
    let message_id = DocumentId::new(TableNumber(1), [5; 16]);
    let user_id = DocumentId::new(TableNumber(2), [5; 16]);
    let unknown_table = DocumentId::new(TableNumber(3), [5; 16]);
    let validator = v::id("messages");
    assert_eq!(check(&validator, Value::from(message_id)), Ok(()));
    assert!(check(&validator, Value::from(user_id)).is_err());
    assert!(check(&validator, Value::from(unknown_table)).is_err());
    assert!(check(&validator, Value::from("not an id")).is_err());
    assert_eq!(
        error_text(&validator, Value::Null),
        "Value does not match validator.\nValue: null\nValidator: v.id(\"messages\")"
    );
}

#[test]
fn literals_unions_records() {
    let status = v::union(vec![v::literal("active"), v::literal("banned"), v::null()]);
    assert_eq!(check(&status, Value::from("active")), Ok(()));
    assert_eq!(check(&status, Value::Null), Ok(()));
    assert_eq!(
        error_text(&status, Value::from("gone")),
        "Value does not match validator.\nValue: \"gone\"\nValidator: v.union(v.literal(\"active\"), \
         v.literal(\"banned\"), v.null())"
    );
    // Literals compare exactly: int64 1 is not float64 1.
    assert!(check(&v::literal(1.0), Value::Int64(1)).is_err());
    assert_eq!(check(&v::literal(1i64), Value::Int64(1)), Ok(()));
    assert!(check(&v::union(vec![]), Value::Null).is_err());

    let scores = v::record(v::string(), v::number());
    assert_eq!(check(&scores, obj! { "a" => 1.0, "b" => 2.0 }), Ok(()));
    assert_eq!(check(&scores, obj! {}), Ok(()));
    let err = check(&scores, obj! { "a" => 1.0, "odd key" => "x" }).unwrap_err();
    assert_eq!(err.path, "[\"odd key\"]");
    let by_user = v::record(v::id("users"), v::boolean());
    assert_eq!(
        error_text(&by_user, obj! { "nope" => true }),
        "Record key does not match validator.\nKey: \"nope\"\nValidator: v.id(\"users\")"
    );
    let user_key = DocumentId::new(TableNumber(2), [1; 16]).to_string();
    assert_eq!(check(&by_user, obj! { user_key => true }), Ok(()));
}

#[test]
fn json_shape() {
    let validator = v::object([
        ("a", v::required(v::id("t"))),
        ("b", v::optional(v::union(vec![v::null(), v::int64()]))),
        ("c", v::required(v::array(v::literal(3i64)))),
        ("d", v::required(v::record(v::string(), v::any()))),
        ("e", v::required(v::literal(f64::NAN))),
        ("f", v::required(v::number())),
        ("g", v::required(v::bytes())),
        ("h", v::required(v::boolean())),
        ("i", v::required(v::string())),
    ]);
    let expected = json!({
        "type": "object",
        "value": {
            "a": {"fieldType": {"type": "id", "tableName": "t"}, "optional": false},
            "b": {"fieldType": {"type": "union", "value": [{"type": "null"}, {"type": "bigint"}]}, "optional": true},
            "c": {"fieldType": {"type": "array", "value": {"type": "literal", "value": {"$integer": "AwAAAAAAAAA="}}}, "optional": false},
            "d": {"fieldType": {"type": "record", "keys": {"type": "string"}, "values": {"fieldType": {"type": "any"}, "optional": false}}, "optional": false},
            "e": {"fieldType": {"type": "literal", "value": {"$float": "AAAAAAAA+H8="}}, "optional": false},
            "f": {"fieldType": {"type": "number"}, "optional": false},
            "g": {"fieldType": {"type": "bytes"}, "optional": false},
            "h": {"fieldType": {"type": "boolean"}, "optional": false},
            "i": {"fieldType": {"type": "string"}, "optional": false},
        }
    });
    assert_eq!(validator.to_json(), expected);
    assert_eq!(Validator::from_json(&expected), Ok(validator));
    assert!(matches!(
        Validator::from_json(&json!({"type": "set"})),
        Err(ValueError::Invalid(m)) if m.contains("unknown validator type \"set\"")
    ));
    assert!(Validator::from_json(&json!({"type": "id"})).is_err());
}

#[test]
fn display() {
    let validator = v::object([
        ("n", v::required(v::literal(2.5))),
        ("body text", v::optional(v::bytes())),
        ("r", v::required(v::record(v::string(), v::int64()))),
    ]);
    assert_eq!(
        validator.to_string(),
        "v.object({\"body text\": v.optional(v.bytes()), n: v.literal(2.5), r: v.record(v.string(), v.int64())})"
    );
}

#[test]
fn error_without_details_still_shows_path() {
    let e = ValidationError { path: ".a".into(), message: "bad".into() };
    assert_eq!(e.to_string(), "bad\nPath: .a");
}
