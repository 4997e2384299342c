#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use crate::{Object, Value};

fn hash_of(v: &Value) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// Asserts that `values` is strictly increasing, comparing every pair (not just neighbours).
fn check_strictly_increasing(values: &[Value]) {
    for (i, a) in values.iter().enumerate() {
        for (j, b) in values.iter().enumerate() {
            assert_eq!(a.cmp(b), i.cmp(&j), "{a:?} vs {b:?}");
            assert_eq!(a == b, i == j, "{a:?} == {b:?}");
        }
    }
}

#[test]
fn type_order() {
    check_strictly_increasing(&[
        Value::Null,
        Value::Int64(i64::MAX),
        Value::Float64(f64::NEG_INFINITY),
        Value::Boolean(false),
        Value::String(String::new()),
        Value::Bytes(vec![]),
        Value::Array(vec![]),
        obj! {},
    ]);
}

#[test]
fn float_order_is_total() {
    let neg_nan = f64::from_bits(f64::NAN.to_bits() | (1 << 63));
    check_strictly_increasing(&[
        Value::Float64(neg_nan),
        Value::Float64(f64::NEG_INFINITY),
        Value::Float64(f64::MIN),
        Value::Float64(-1.0),
        Value::Float64(-f64::MIN_POSITIVE),
        Value::Float64(-0.0),
        Value::Float64(0.0),
        Value::Float64(f64::from_bits(1)),
        Value::Float64(1.0),
        Value::Float64(f64::MAX),
        Value::Float64(f64::INFINITY),
        Value::Float64(f64::NAN),
    ]);
    assert_eq!(Value::Float64(f64::NAN), Value::Float64(f64::NAN));
    assert_eq!(hash_of(&Value::Float64(f64::NAN)), hash_of(&Value::Float64(f64::NAN)));
    assert_ne!(Value::Float64(0.0), Value::Float64(-0.0));
}

#[test]
fn scalar_orders() {
    check_strictly_increasing(&[Value::Int64(i64::MIN), Value::Int64(-1), Value::Int64(0), Value::Int64(i64::MAX)]);
    check_strictly_increasing(&[Value::Boolean(false), Value::Boolean(true)]);
    // Bytewise UTF-8: "Z" < "a" < "é" (0xC3 0xA9) < "😀" (0xF0 ...); prefixes first.
    check_strictly_increasing(&[
        "".into(),
        "\0".into(),
        "Z".into(),
        "a".into(),
        "a\0".into(),
        "ab".into(),
        "é".into(),
        "\u{FFFF}".into(),
        "😀".into(),
    ]);
    check_strictly_increasing(&[
        Value::Bytes(vec![]),
        Value::Bytes(vec![0]),
        Value::Bytes(vec![0, 0]),
        Value::Bytes(vec![1]),
        Value::Bytes(vec![0xFF]),
    ]);
}

#[test]
fn container_orders() {
    check_strictly_increasing(&[
        Value::Array(vec![]),
        Value::Array(vec![Value::Null]),
        Value::Array(vec![Value::Null, Value::Null]),
        Value::Array(vec![Value::Int64(1)]),
        Value::Array(vec![Value::Int64(1), Value::Null]),
        Value::Array(vec![Value::Float64(0.0)]),
    ]);
    // Objects: (key, value) pairs in key order, compared lexicographically.
    check_strictly_increasing(&[
        obj! {},
        obj! { "a" => Value::Null },
        obj! { "a" => Value::Null, "b" => Value::Null },
        obj! { "a" => 1 },
        obj! { "a" => 1, "c" => 0 },
        obj! { "aa" => Value::Null },
        obj! { "b" => Value::Null },
    ]);
}

#[test]
fn equal_values_hash_equally() {
    let a = obj! { "x" => vec![Value::from(1), Value::from("s")], "y" => Value::Bytes(vec![1, 2]) };
    let b = obj! { "y" => Value::Bytes(vec![1, 2]), "x" => vec![Value::from(1), Value::from("s")] };
    assert_eq!(a, b);
    assert_eq!(hash_of(&a), hash_of(&b));
    assert_ne!(hash_of(&Value::Int64(1)), hash_of(&Value::Float64(1.0)));
}

#[test]
fn conversions() {
    assert_eq!(Value::from(3i64), Value::Int64(3));
    assert_eq!(Value::from(-3i32), Value::Int64(-3));
    assert_eq!(Value::from(u32::MAX), Value::Int64(4_294_967_295));
    assert_eq!(Value::from(1.5), Value::Float64(1.5));
    assert_eq!(Value::from(true), Value::Boolean(true));
    assert_eq!(Value::from("s"), Value::String("s".into()));
    assert_eq!(Value::from(String::from("s")), Value::String("s".into()));
    assert_eq!(Value::from(None::<i64>), Value::Null);
    assert_eq!(Value::from(Some("x")), Value::String("x".into()));
    assert_eq!(Value::from(Object::new()), obj! {});
}

#[test]
fn accessors() {
    let v = obj! { "name" => "ada", "age" => 36.0, "n" => 2i64, "ok" => true };
    assert_eq!(v.type_name(), "object");
    assert_eq!(v.get("name").and_then(Value::as_str), Some("ada"));
    assert_eq!(v.get("age").and_then(Value::as_f64), Some(36.0));
    assert_eq!(v.get("age").and_then(Value::as_i64), None);
    assert_eq!(v.get("n").and_then(Value::as_i64), Some(2));
    assert_eq!(v.get("n").and_then(Value::as_f64), None);
    assert_eq!(v.get("ok").and_then(Value::as_bool), Some(true));
    assert_eq!(v.get("missing"), None);
    assert_eq!(Value::from("x").get("name"), None);
    assert_eq!(v.as_object().map(|o| o.len()), Some(4));
    let names: Vec<_> = [
        Value::Null,
        Value::Int64(0),
        Value::Float64(0.0),
        Value::Boolean(true),
        Value::from(""),
        Value::Bytes(vec![]),
        Value::Array(vec![]),
        obj! {},
    ]
    .iter()
    .map(Value::type_name)
    .collect();
    assert_eq!(names, ["null", "int64", "float64", "boolean", "string", "bytes", "array", "object"]);
}

#[test]
fn display_is_js_like() {
    let v = obj! {
        "f" => 3.0,
        "g" => 1.5,
        "i" => 3i64,
        "s" => "a\"b",
        "b" => Value::Bytes(vec![1, 2, 3]),
        "a" => vec![Value::Null, Value::Float64(f64::NAN), Value::Float64(-0.0)],
        "odd key" => f64::NEG_INFINITY,
    };
    assert_eq!(
        v.to_string(),
        r#"{a: [null, NaN, -0], b: b"AQID", f: 3, g: 1.5, i: 3n, "odd key": -Infinity, s: "a\"b"}"#
    );
}
