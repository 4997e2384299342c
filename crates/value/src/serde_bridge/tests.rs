#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::*;
use crate::obj;

/// `#[serde(with = "as_bytes")]`: a `Vec<u8>` as serde bytes, like the serde_bytes crate.
mod as_bytes {
    use std::fmt;

    use serde::de::{Deserializer, Error, Visitor};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct BytesVisitor;
        impl Visitor<'_> for BytesVisitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(BytesVisitor)
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    name: String,
    age: u32,
    score: f64,
    email_verified: bool,
    nickname: Option<String>,
    tags: Vec<String>,
    #[serde(with = "as_bytes")]
    avatar: Vec<u8>,
    address: Address,
    role: Role,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Address {
    city: String,
    zip: Option<i64>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Role {
    Admin,
    Member,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Point(i64, i64),
    Rect { w: i64, h: i64 },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Unit;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Meters(f64);

fn sample_user() -> User {
    User {
        name: "ada".into(),
        age: 36,
        score: 1.5,
        email_verified: true,
        nickname: None,
        tags: vec!["a".into(), "b".into()],
        avatar: vec![0, 255],
        address: Address { city: "london".into(), zip: Some(12) },
        role: Role::Admin,
    }
}

fn conversion_message<T: std::fmt::Debug>(r: Result<T, ValueError>) -> String {
    match r {
        Err(ValueError::Conversion(m)) => m,
        other => panic!("expected a conversion error, got {other:?}"),
    }
}

#[test]
fn structs_round_trip() {
    let value = to_value(&sample_user()).unwrap();
    assert_eq!(
        value,
        obj! {
            "name" => "ada",
            "age" => 36i64,
            "score" => 1.5,
            "emailVerified" => true,
            "nickname" => Value::Null,
            "tags" => vec![Value::from("a"), Value::from("b")],
            "avatar" => Value::Bytes(vec![0, 255]),
            "address" => obj! { "city" => "london", "zip" => 12i64 },
            "role" => "admin",
        }
    );
    assert_eq!(from_value::<User>(value), Ok(sample_user()));
}

#[test]
fn javascript_numbers_fill_integer_fields() {
    let mut value = to_value(&sample_user()).unwrap();
    let fields = value.as_object_mut().unwrap();
    // A JS client sends every number as float64, and omits `undefined` fields.
    fields.insert("age".into(), Value::Float64(36.0));
    fields.insert("score".into(), Value::Int64(2));
    fields.remove("nickname");
    let user: User = from_value(value).unwrap();
    assert_eq!(user.age, 36);
    assert_eq!(user.score, 2.0);
    assert_eq!(user.nickname, None);

    assert_eq!(from_value::<i64>(Value::Float64(-0.0)), Ok(0));
    assert_eq!(from_value::<i64>(Value::Float64(-9.223_372_036_854_776e18)), Ok(i64::MIN));
    assert_eq!(from_value::<u64>(Value::Float64(1.8e19)), Ok(18_000_000_000_000_000_000));
    assert_eq!(
        conversion_message(from_value::<i64>(Value::Float64(9.3e18))),
        "invalid value: integer `9300000000000000000`, expected i64"
    );
    assert_eq!(
        conversion_message(from_value::<i32>(Value::Float64(1.5))),
        "invalid type: floating point `1.5`, expected i32"
    );
    assert_eq!(
        conversion_message(from_value::<u8>(Value::Float64(300.0))),
        "invalid value: integer `300`, expected u8"
    );
    assert_eq!(conversion_message(from_value::<u32>(Value::Int64(-1))), "invalid value: integer `-1`, expected u32");
    assert!(from_value::<i64>(Value::Float64(f64::NAN)).is_err());
    assert!(from_value::<i64>(Value::Float64(f64::INFINITY)).is_err());
}

#[test]
fn errors_name_the_field() {
    let mut value = to_value(&sample_user()).unwrap();
    let fields = value.as_object_mut().unwrap();
    fields.insert("address".into(), obj! { "city" => 3.0, "zip" => Value::Null });
    assert_eq!(
        conversion_message(from_value::<User>(value)),
        "invalid type: floating point `3.0`, expected a string at .address.city"
    );
    let value = obj! { "name" => "x" };
    assert_eq!(conversion_message(from_value::<User>(value)), "missing field `age`");
    let mut value = to_value(&sample_user()).unwrap();
    value.as_object_mut().unwrap().insert("tags".into(), vec![Value::from("ok"), Value::Int64(2)].into());
    assert_eq!(
        conversion_message(from_value::<User>(value)),
        "invalid type: integer `2`, expected a string at .tags[1]"
    );
    assert_eq!(
        conversion_message(from_value::<Vec<Shape>>(
            vec![obj! { "Rect" => obj! { "w" => 1i64, "h" => "tall" } }].into()
        )),
        "invalid type: string \"tall\", expected i64 at [0].Rect.h"
    );
}

#[test]
fn enums() {
    let cases = [
        (Shape::Empty, Value::from("Empty")),
        (Shape::Circle(2.5), obj! { "Circle" => 2.5 }),
        (Shape::Point(1, -2), obj! { "Point" => vec![Value::Int64(1), Value::Int64(-2)] }),
        (Shape::Rect { w: 3, h: 4 }, obj! { "Rect" => obj! { "w" => 3i64, "h" => 4i64 } }),
    ];
    for (shape, value) in cases {
        assert_eq!(to_value(&shape), Ok(value.clone()));
        assert_eq!(from_value::<Shape>(value), Ok(shape));
    }
    assert!(conversion_message(from_value::<Shape>(Value::from("Hexagon"))).starts_with("unknown variant `Hexagon`"));
    assert_eq!(
        conversion_message(from_value::<Shape>(obj! { "a" => 1i64, "b" => 2i64 })),
        "invalid type: map, expected a variant name or an object with one field"
    );
    assert!(from_value::<Shape>(Value::from("Circle")).is_err());
    assert!(from_value::<Shape>(obj! { "Point" => vec![Value::Int64(1), Value::Int64(2), Value::Int64(3)] }).is_err());
}

#[test]
fn scalars_and_units() {
    assert_eq!(to_value(&()), Ok(Value::Null));
    assert_eq!(to_value(&Unit), Ok(Value::Null));
    assert_eq!(from_value::<Unit>(Value::Null), Ok(Unit));
    assert_eq!(to_value(&Meters(2.0)), Ok(Value::Float64(2.0)));
    assert_eq!(from_value::<Meters>(Value::Float64(2.0)), Ok(Meters(2.0)));
    assert_eq!(to_value(&'x'), Ok(Value::from("x")));
    assert_eq!(from_value::<char>(Value::from("x")), Ok('x'));
    assert_eq!(to_value(&-5i8), Ok(Value::Int64(-5)));
    assert_eq!(to_value(&u32::MAX), Ok(Value::Int64(4_294_967_295)));
    assert_eq!(to_value(&(i64::MAX as u64)), Ok(Value::Int64(i64::MAX)));
    assert_eq!(conversion_message(to_value(&u64::MAX)), "integer 18446744073709551615 does not fit in int64");
    assert_eq!(to_value(&1.5f32), Ok(Value::Float64(1.5)));
    assert_eq!(to_value(&Some(3u8)), Ok(Value::Int64(3)));
    assert_eq!(to_value(&(1u8, "a")), Ok(vec![Value::Int64(1), Value::from("a")].into()));
    assert_eq!(from_value::<(u8, String)>(vec![Value::Int64(1), Value::from("a")].into()), Ok((1, "a".into())));
    assert_eq!(from_value::<Option<bool>>(Value::Null), Ok(None));
    assert_eq!(from_value::<Option<bool>>(Value::Boolean(true)), Ok(Some(true)));
    assert!(from_value::<bool>(Value::Null).is_err());
}

#[test]
fn bytes() {
    // Without a bytes wrapper a Vec<u8> is a sequence of integers, and reads back from bytes too.
    assert_eq!(to_value(&vec![1u8, 2]), Ok(vec![Value::Int64(1), Value::Int64(2)].into()));
    assert_eq!(from_value::<Vec<u8>>(Value::Bytes(vec![7, 8])), Ok(vec![7, 8]));
    assert_eq!(from_value::<Vec<u8>>(vec![Value::Float64(7.0)].into()), Ok(vec![7]));
    assert_eq!(from_value::<[u8; 2]>(Value::Bytes(vec![7, 8])), Ok([7, 8]));
    assert!(from_value::<[u8; 2]>(Value::Bytes(vec![7, 8, 9])).is_err());
}

#[test]
fn maps() {
    let mut map = HashMap::new();
    map.insert("b".to_string(), 2i64);
    map.insert("a".to_string(), 1i64);
    let value = to_value(&map).unwrap();
    assert_eq!(value, obj! { "a" => 1i64, "b" => 2i64 });
    assert_eq!(from_value::<HashMap<String, i64>>(value), Ok(map));

    let mut by_role = BTreeMap::new();
    by_role.insert(Role::Member, 1i64);
    assert_eq!(to_value(&by_role), Ok(obj! { "member" => 1i64 }));

    let mut numbered = BTreeMap::new();
    numbered.insert(1u32, "x");
    assert_eq!(conversion_message(to_value(&numbered)), "map keys must be strings, found an integer");
    let nested = obj! { "inner" => Value::Null };
    let mut outer = BTreeMap::new();
    outer.insert("inner", BTreeMap::from([(vec![1u8], 1u8)]));
    assert_eq!(conversion_message(to_value(&outer)), "map keys must be strings, found a sequence at .inner");
    assert!(from_value::<BTreeMap<String, i64>>(nested).is_err());
}

#[test]
fn value_round_trips_through_serde() {
    let value = obj! {
        "n" => Value::Null,
        "i" => i64::MIN,
        "f" => f64::NAN,
        "b" => false,
        "s" => "x",
        "bytes" => Value::Bytes(vec![1, 2]),
        "a" => vec![Value::Int64(1), obj! {}],
    };
    assert_eq!(to_value(&value), Ok(value.clone()));
    assert_eq!(from_value::<Value>(value.clone()), Ok(value.clone()));

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        id: String,
        data: Value,
    }
    let holder = Holder { id: "h".into(), data: value.clone() };
    let as_value = to_value(&holder).unwrap();
    assert_eq!(as_value.get("data"), Some(&value));
    assert_eq!(from_value::<Holder>(as_value), Ok(holder));

    // Through serde_json's data model: integers are integers, a u64 beyond i64 is refused.
    assert_eq!(
        serde_json::from_str::<Value>(r#"{"a":1,"b":1.5,"c":[null,"s",true]}"#).unwrap(),
        obj! { "a" => 1i64, "b" => 1.5, "c" => vec![Value::Null, "s".into(), true.into()] }
    );
    assert!(serde_json::from_str::<Value>("18446744073709551615").is_err());
    assert_eq!(serde_json::to_string(&obj! { "i" => 3i64, "f" => 1.0 }).unwrap(), r#"{"f":1.0,"i":3}"#);
}

#[test]
fn deny_unknown_fields_is_honoured() {
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        a: i64,
    }
    assert!(
        conversion_message(from_value::<Strict>(obj! { "a" => 1i64, "b" => 2i64 })).starts_with("unknown field `b`")
    );
    assert!(from_value::<Strict>(obj! { "a" => 1i64 }).is_ok());
}
