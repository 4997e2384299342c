#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;
use crate::obj;

/// Encodes `v`, checks the JSON text, and decodes it back to `v`.
fn check_round_trip(v: Value, expected_json: &str) {
    let text = to_json_string(&v);
    assert_eq!(text, expected_json, "encoding {v:?}");
    assert_eq!(from_json_str(&text), Ok(v), "decoding {text}");
}

fn invalid_message(r: Result<Value, ValueError>) -> String {
    match r {
        Err(ValueError::Invalid(m)) => m,
        other => panic!("expected an invalid value error, got {other:?}"),
    }
}

#[test]
fn spec_examples() {
    check_round_trip(Value::Int64(42), r#"{"$integer":"KgAAAAAAAAA="}"#);
    check_round_trip(Value::Int64(-2), r#"{"$integer":"/v////////8="}"#);
    check_round_trip(Value::Int64(9_007_199_254_740_993), r#"{"$integer":"AQAAAAAAIAA="}"#);
    check_round_trip(Value::Float64(f64::NAN), r#"{"$float":"AAAAAAAA+H8="}"#);
    check_round_trip(Value::Float64(f64::INFINITY), r#"{"$float":"AAAAAAAA8H8="}"#);
    check_round_trip(Value::Float64(f64::NEG_INFINITY), r#"{"$float":"AAAAAAAA8P8="}"#);
    check_round_trip(Value::Float64(-0.0), r#"{"$float":"AAAAAAAAAIA="}"#);
}

#[test]
fn plain_types() {
    check_round_trip(Value::Null, "null");
    check_round_trip(Value::Boolean(false), "false");
    check_round_trip(Value::Float64(1.5), "1.5");
    check_round_trip(Value::Float64(0.0), "0.0");
    check_round_trip(Value::Float64(1.0), "1.0");
    check_round_trip(Value::Float64(-3.25e-300), "-3.25e-300");
    check_round_trip(Value::Float64(f64::MAX), "1.7976931348623157e+308");
    check_round_trip(Value::from("a\"\u{1}é"), r#""a\"\u0001é""#);
    check_round_trip(Value::Bytes(vec![0, 1, 2, 255]), r#"{"$bytes":"AAEC/w=="}"#);
    check_round_trip(Value::Bytes(vec![]), r#"{"$bytes":""}"#);
    check_round_trip(
        obj! { "b" => vec![Value::Int64(1), Value::Null], "a" => obj! {} },
        r#"{"a":{},"b":[{"$integer":"AQAAAAAAAAA="},null]}"#,
    );
}

#[test]
fn every_plain_number_is_float64() {
    assert_eq!(from_json_str("1"), Ok(Value::Float64(1.0)));
    assert_eq!(from_json_str("-7"), Ok(Value::Float64(-7.0)));
    assert_eq!(from_json_str("1e3"), Ok(Value::Float64(1000.0)));
    // Does not fit an f64 exactly: still read as the nearest f64.
    assert_eq!(from_json_str("9007199254740993"), Ok(Value::Float64(9_007_199_254_740_992.0)));
    assert_eq!(from_json_str("18446744073709551615"), Ok(Value::Float64(18_446_744_073_709_551_615.0)));
}

#[test]
fn special_objects_need_exactly_one_key() {
    // With another key, `$integer` is just a field name, and field names must not start with `$`.
    match from_json(json!({"$integer": "KgAAAAAAAAA=", "a": 1})) {
        Err(ValueError::FieldName { name, .. }) => assert_eq!(name, "$integer"),
        other => panic!("{other:?}"),
    }
    match from_json(json!({"$x": 1})) {
        Err(ValueError::FieldName { name, .. }) => assert_eq!(name, "$x"),
        other => panic!("{other:?}"),
    }
    match from_json(json!({"ok": {"a\u{7f}": 1}})) {
        Err(ValueError::FieldName { name, .. }) => assert_eq!(name, "a\u{7f}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_special_payloads() {
    assert_eq!(invalid_message(from_json(json!({"$integer": "AAA="}))), "`$integer` must decode to 8 bytes, got 2");
    assert_eq!(
        invalid_message(from_json(json!({"$float": "AAAAAAAAAAAAAA=="}))),
        "`$float` must decode to 8 bytes, got 10"
    );
    assert_eq!(
        invalid_message(from_json(json!({"$float": "AAAAAAAA8D8="}))),
        "`$float` holds the finite number 1, which must be encoded as a plain json number"
    );
    // +0 must be a plain number too.
    assert!(invalid_message(from_json(json!({"$float": "AAAAAAAAAAA="}))).contains("finite"));
    assert_eq!(invalid_message(from_json(json!({"$integer": 42}))), "`$integer` must hold a base64 string");
    assert!(invalid_message(from_json(json!({"$bytes": "not base64!"}))).contains("invalid base64"));
    assert_eq!(invalid_message(from_json(json!({"$set": []}))), "`$set` is a removed type and no longer supported");
    assert_eq!(invalid_message(from_json(json!({"$map": []}))), "`$map` is a removed type and no longer supported");
}

#[test]
fn nan_payload_and_sign_survive() {
    let neg_nan = f64::from_bits(0xFFF8_0000_0000_0001);
    let back = from_json(to_json(&Value::Float64(neg_nan)));
    assert_eq!(back.map(|v| v.as_f64().map(f64::to_bits)), Ok(Some(neg_nan.to_bits())));
}

fn nested_json(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn depth_limit() {
    let mut v = Value::Float64(1.0);
    for _ in 0..64 {
        v = Value::Array(vec![v]);
    }
    assert_eq!(from_json_str(&nested_json(64)), Ok(v));
    assert_eq!(from_json_str(&nested_json(65)), Err(ValueError::Limit("value nests deeper than 64 levels".into())));
    // Objects count, special objects do not.
    let deep_objects = format!("{}{{\"$integer\":\"KgAAAAAAAAA=\"}}{}", "{\"a\":".repeat(64), "}".repeat(64));
    assert!(from_json_str(&deep_objects).is_ok());
    let too_deep_objects = format!("{}1{}", "{\"a\":".repeat(65), "}".repeat(65));
    assert!(matches!(from_json_str(&too_deep_objects), Err(ValueError::Limit(_))));
}

#[test]
fn deep_json_built_in_memory_is_rejected_without_overflow() {
    // Deeper than serde_json's parser would allow; the decoder must stop at level 65.
    let mut j = Json::Null;
    for _ in 0..2_000 {
        j = Json::Array(vec![j]);
    }
    assert!(matches!(from_json(j), Err(ValueError::Limit(_))));
}

#[test]
fn malformed_text() {
    assert!(invalid_message(from_json_str("{")).starts_with("malformed json"));
}

#[test]
fn clean_json() {
    let v = obj! {
        "i" => -2i64,
        "big" => i64::MAX,
        "nan" => f64::NAN,
        "inf" => f64::INFINITY,
        "ninf" => f64::NEG_INFINITY,
        "nzero" => -0.0,
        "f" => 1.5,
        "b" => Value::Bytes(vec![0, 1, 2, 255]),
        "s" => "x",
        "n" => Value::Null,
        "t" => true,
        "a" => vec![Value::Int64(1)],
    };
    assert_eq!(
        to_clean_json(&v),
        json!({
            "i": "-2",
            "big": "9223372036854775807",
            "nan": "NaN",
            "inf": "Infinity",
            "ninf": "-Infinity",
            "nzero": -0.0,
            "f": 1.5,
            "b": "AAEC/w==",
            "s": "x",
            "n": null,
            "t": true,
            "a": ["1"],
        })
    );
    assert_eq!(to_clean_json(&Value::Float64(-0.0)).to_string(), "-0.0");
}
