#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::obj;

fn nested_arrays(levels: usize) -> Value {
    let mut v = Value::Null;
    for _ in 0..levels {
        v = Value::Array(vec![v]);
    }
    v
}

fn limit_message(r: Result<(), ValueError>) -> String {
    match r {
        Err(ValueError::Limit(m)) => m,
        other => panic!("expected a limit error, got {other:?}"),
    }
}

fn field_name_reason(r: Result<(), ValueError>) -> String {
    match r {
        Err(ValueError::FieldName { reason, .. }) => reason,
        other => panic!("expected a field name error, got {other:?}"),
    }
}

#[test]
fn field_names() {
    for ok in ["a", "_id", " ", "~", "with space", "a$", &"x".repeat(1024)] {
        assert_eq!(check_field_name(ok), Ok(()), "{ok:?}");
    }
    assert_eq!(field_name_reason(check_field_name("")), "field names must not be empty");
    assert_eq!(field_name_reason(check_field_name("$x")), "field names must not start with '$'");
    assert!(field_name_reason(check_field_name("a\nb")).contains("printable ascii"));
    assert!(field_name_reason(check_field_name("\u{7f}")).contains("printable ascii"));
    assert!(field_name_reason(check_field_name("é")).contains("printable ascii"));
    assert_eq!(
        field_name_reason(check_field_name(&"x".repeat(1025))),
        "field name is 1025 characters, over the 1024-character limit"
    );
    // Long names are shortened in the error.
    match check_field_name(&format!("${}", "y".repeat(5000))) {
        Err(ValueError::FieldName { name, .. }) => assert!(name.len() < 100, "{name}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn document_field_names_reserve_underscore() {
    assert_eq!(check_document_field_name("name"), Ok(()));
    assert!(field_name_reason(check_document_field_name("_id")).contains("reserved"));
    assert!(field_name_reason(check_document_field_name("_anything")).contains("reserved"));
    assert_eq!(field_name_reason(check_document_field_name("$x")), "field names must not start with '$'");
}

#[test]
fn sizes() {
    assert_eq!(size_of(&Value::Null), 1);
    assert_eq!(size_of(&Value::Boolean(true)), 1);
    assert_eq!(size_of(&Value::Int64(5)), 9);
    assert_eq!(size_of(&Value::Float64(5.0)), 9);
    assert_eq!(size_of(&Value::from("abc")), 5);
    assert_eq!(size_of(&Value::Bytes(vec![0; 4])), 6);
    assert_eq!(size_of(&Value::Array(vec![Value::Null, Value::Int64(1)])), 2 + 1 + 9);
    // 2 + ("ab" 2 + 1 + 1) + ("c" 1 + 1 + [2 + 9])
    assert_eq!(size_of(&obj! { "ab" => Value::Null, "c" => vec![Value::Float64(1.0)] }), 2 + 4 + 13);
}

#[test]
fn value_depth() {
    assert_eq!(check_value(&nested_arrays(64)), Ok(()));
    assert_eq!(limit_message(check_value(&nested_arrays(65))), "value nests deeper than 64 levels");
    // Objects count as levels too.
    let mut v = Value::Null;
    for _ in 0..65 {
        v = obj! { "a" => v };
    }
    assert_eq!(limit_message(check_value(&v)), "value nests deeper than 64 levels");
}

#[test]
fn document_depth() {
    // The document itself is level 1.
    let doc = |levels_inside: usize| {
        let mut o = Object::new();
        o.insert("a".into(), nested_arrays(levels_inside));
        o
    };
    assert_eq!(check_document(&doc(15)), Ok(()));
    assert_eq!(limit_message(check_document(&doc(16))), "document nests deeper than 16 levels");
}

#[test]
fn counts() {
    let long = Value::Array(vec![Value::Null; MAX_ARRAY_LEN]);
    assert_eq!(check_value(&long), Ok(()));
    let too_long = obj! { "list" => vec![Value::Null; MAX_ARRAY_LEN + 1] };
    assert_eq!(limit_message(check_value(&too_long)), "array at .list has 8193 elements, over the 8192-element limit");
    let wide: Object = (0..=MAX_OBJECT_FIELDS).map(|i| (format!("f{i}"), Value::Null)).collect();
    assert_eq!(limit_message(check_document(&wide)), "object has 1025 fields, over the 1024-field limit");
    let nested = obj! { "a" => vec![Value::Null, Value::Object(wide)] };
    assert_eq!(limit_message(check_value(&nested)), "object at .a[1] has 1025 fields, over the 1024-field limit");
}

#[test]
fn nested_field_names_are_checked() {
    let v = obj! { "ok" => vec![obj! { "$bad" => 1 }] };
    assert_eq!(field_name_reason(check_value(&v)), "field names must not start with '$'");
    let mut doc = Object::new();
    doc.insert("_id".into(), Value::from("x"));
    doc.insert("inner".into(), obj! { "" => 1 });
    assert_eq!(field_name_reason(check_document(&doc)), "field names must not be empty");
    doc.remove("inner");
    assert_eq!(check_document(&doc), Ok(()));
}

#[test]
fn document_size() {
    // 2 (object) + "s" 1 + 1 + (len + 2)
    let doc_of = |len: usize| {
        let mut o = Object::new();
        o.insert("s".into(), Value::from("x".repeat(len)));
        o
    };
    let exact = MAX_DOCUMENT_SIZE - 6;
    assert_eq!(size_of(&Value::Object(doc_of(exact))), MAX_DOCUMENT_SIZE);
    assert_eq!(check_document(&doc_of(exact)), Ok(()));
    assert_eq!(
        limit_message(check_document(&doc_of(exact + 24))),
        "document is 1048600 bytes, over the 1048576-byte limit"
    );
}

#[test]
fn value_size() {
    let big = Value::Bytes(vec![0; MAX_VALUE_SIZE - 2]);
    assert_eq!(check_value(&big), Ok(()));
    let too_big = Value::Bytes(vec![0; MAX_VALUE_SIZE - 1]);
    assert_eq!(limit_message(check_value(&too_big)), "value is 16777217 bytes, over the 16777216-byte limit");
}
