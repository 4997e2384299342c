#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::obj;

/// Random values drawn from small pools, so that equal values, shared prefixes and edge cases are common.
fn random_value(rng: &mut StdRng, depth: usize) -> Value {
    let kinds = if depth >= 3 { 6 } else { 8 };
    match rng.gen_range(0..kinds) {
        0 => Value::Null,
        1 => Value::Int64(match rng.gen_range(0..8) {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => -1,
            3 => 0,
            4 => 1,
            5 => 256,
            6 => -256,
            _ => rng.r#gen(),
        }),
        2 => Value::Float64(match rng.gen_range(0..16) {
            0 => f64::NAN,
            1 => -f64::NAN,
            2 => 0.0,
            3 => -0.0,
            4 => f64::INFINITY,
            5 => f64::NEG_INFINITY,
            6 => 1.0,
            7 => -1.0,
            8 => f64::MIN_POSITIVE,
            9 => f64::from_bits(1),
            10 => f64::MAX,
            11 => f64::MIN,
            12 => f64::from_bits(rng.r#gen()),
            _ => rng.gen_range(-3.0..3.0),
        }),
        3 => Value::Boolean(rng.r#gen()),
        4 => Value::String(random_string(rng)),
        5 => Value::Bytes(
            (0..rng.gen_range(0..4)).map(|_| [0x00, 0x01, 0x7F, 0xFE, 0xFF][rng.gen_range(0..5)]).collect(),
        ),
        6 => Value::Array((0..rng.gen_range(0..4)).map(|_| random_value(rng, depth + 1)).collect()),
        _ => Value::Object(
            (0..rng.gen_range(0..4)).map(|_| (random_string(rng), random_value(rng, depth + 1))).collect(),
        ),
    }
}

fn random_string(rng: &mut StdRng) -> String {
    const CHARS: [char; 7] = ['\0', '\u{1}', 'a', 'b', '\u{7F}', 'é', '\u{10FFFF}'];
    (0..rng.gen_range(0..4)).map(|_| CHARS[rng.gen_range(0..CHARS.len())]).collect()
}

fn sample(n: usize, seed: u64) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut values: Vec<Value> = (0..n).map(|_| random_value(&mut rng, 0)).collect();
    values.extend([
        Value::Int64(i64::MIN),
        Value::Int64(i64::MAX),
        Value::Float64(f64::NAN),
        Value::Float64(-0.0),
        Value::Float64(0.0),
        Value::from(""),
        Value::from("\0"),
        Value::Bytes(vec![]),
        Value::Array(vec![]),
        obj! {},
        obj! { "" => Value::Null },
    ]);
    values
}

#[test]
fn byte_order_is_value_order() {
    let values = sample(3000, 1);
    let keys: Vec<Vec<u8>> = values.iter().map(encode_to_vec).collect();
    // Every pair among the first 700.
    for i in 0..700 {
        for j in 0..700 {
            assert_eq!(keys[i].cmp(&keys[j]), values[i].cmp(&values[j]), "{:?} vs {:?}", values[i], values[j]);
        }
    }
    // All of them: sorting by value sorts the keys, and equal keys mean equal values.
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].cmp(&values[b]));
    for pair in order.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert_eq!(keys[a].cmp(&keys[b]), values[a].cmp(&values[b]));
    }
}

#[test]
fn decode_inverts_encode() {
    for v in sample(3000, 2) {
        let key = encode_to_vec(&v);
        let (decoded, used) = decode(&key).unwrap();
        assert_eq!(decoded.as_ref(), Some(&v));
        assert_eq!(used, key.len());
        // Bit-exact floats (NaN payloads, signs) survive too.
        if let (Some(Value::Float64(a)), Value::Float64(b)) = (&decoded, &v) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }
}

#[test]
fn concatenated_keys_order_as_tuples() {
    let mut values: Vec<Option<Value>> = sample(150, 3).into_iter().map(Some).collect();
    values.push(None);
    let encode_opt = |v: &Option<Value>, out: &mut Vec<u8>| match v {
        Some(v) => encode(v, out),
        None => encode_missing(out),
    };
    let tuples: Vec<(&Option<Value>, &Option<Value>)> = values
        .iter()
        .zip(values.iter().rev().cycle().skip(7))
        .chain(values.iter().zip(values.iter().skip(1)))
        .collect();
    let keys: Vec<Vec<u8>> = tuples
        .iter()
        .map(|(a, b)| {
            let mut out = Vec::new();
            encode_opt(a, &mut out);
            encode_opt(b, &mut out);
            out
        })
        .collect();
    for (i, ti) in tuples.iter().enumerate() {
        for (j, tj) in tuples.iter().enumerate() {
            assert_eq!(keys[i].cmp(&keys[j]), ti.cmp(tj), "{ti:?} vs {tj:?}");
        }
        // Decoding a concatenation reads exactly the first part.
        let (first, used) = decode(&keys[i]).unwrap();
        assert_eq!(&first, ti.0);
        let (second, rest) = decode(&keys[i][used..]).unwrap();
        assert_eq!(&second, ti.1);
        assert_eq!(used + rest, keys[i].len());
    }
}

#[test]
fn missing_sorts_first() {
    let mut missing = Vec::new();
    encode_missing(&mut missing);
    assert_eq!(decode(&missing), Ok((None, 1)));
    for v in sample(200, 4) {
        assert!(missing < encode_to_vec(&v), "{v:?}");
    }
}

#[test]
fn layout() {
    assert_eq!(encode_to_vec(&Value::Null), [0x02]);
    assert_eq!(encode_to_vec(&Value::Int64(1)), [0x03, 0x80, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(encode_to_vec(&Value::Int64(-1)), [0x03, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    assert_eq!(encode_to_vec(&Value::Float64(1.0)), [0x04, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(encode_to_vec(&Value::Float64(-1.0)), [0x04, 0x40, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    assert_eq!(encode_to_vec(&Value::from("a\0")), [0x07, b'a', 0x00, 0xFF, 0x00, 0x01]);
    assert_eq!(
        encode_to_vec(&Value::Array(vec![Value::Boolean(true), Value::Boolean(false)])),
        [0x09, 0x06, 0x05, 0x00]
    );
    assert_eq!(encode_to_vec(&obj! { "k" => Value::Null }), [0x0A, 0x01, b'k', 0x00, 0x01, 0x02, 0x00]);
}

#[test]
fn decode_rejects_malformed_keys() {
    let cases: &[(&[u8], &str)] = &[
        (&[], "index key ends early"),
        (&[0x03, 0, 0], "index key ends inside a number"),
        (&[0x07, b'a'], "index key ends early"),
        (&[0x07, b'a', 0x00, 0x02], "index key has byte 0x02 after 0x00 inside a string"),
        (&[0x07, 0xC3, 0x00, 0x01], "index key holds a string that is not utf-8"),
        (&[0x0B], "index key has unknown type tag 0x0b"),
        (&[0x09, 0x01, 0x00], "index key has a missing value inside a container"),
        (&[0x09, 0x02], "index key ends early"),
        (&[0x0A, 0x02, 0x00], "index key has byte 0x02 where an object field should start"),
        (
            &[0x0A, 0x01, b'b', 0x00, 0x01, 0x02, 0x01, b'a', 0x00, 0x01, 0x02, 0x00],
            "index key has object fields out of order",
        ),
        (
            &[0x0A, 0x01, b'a', 0x00, 0x01, 0x02, 0x01, b'a', 0x00, 0x01, 0x02, 0x00],
            "index key has object fields out of order",
        ),
    ];
    for (bytes, message) in cases {
        assert_eq!(decode(bytes), Err(ValueError::Invalid((*message).into())), "{bytes:02x?}");
    }
    let mut deep = vec![0x09; 65];
    deep.push(0x02);
    deep.extend([0x00; 65]);
    assert_eq!(decode(&deep), Err(ValueError::Limit("index key nests deeper than 64 levels".into())));
    assert!(decode(&deep[1..deep.len() - 1]).is_ok());
}

#[test]
fn prefix_successor_bounds_prefix_ranges() {
    assert_eq!(prefix_successor(&[1, 2]), Some(vec![1, 3]));
    assert_eq!(prefix_successor(&[1, 0xFF, 0xFF]), Some(vec![2]));
    assert_eq!(prefix_successor(&[0xFF, 0xFF]), None);
    assert_eq!(prefix_successor(&[]), None);

    // Keys extending an encoded prefix fall in [prefix, successor); keys of other first values fall outside.
    let values = sample(120, 5);
    for a in &values {
        let prefix = encode_to_vec(a);
        let Some(upper) = prefix_successor(&prefix) else {
            panic!("no successor for {a:?}");
        };
        for b in &values {
            let mut key = prefix.clone();
            encode(b, &mut key);
            assert!(prefix <= key && key < upper);
            let other = encode_to_vec(b);
            let inside = prefix <= other && other < upper;
            assert_eq!(inside, a == b, "{a:?} / {b:?}");
        }
    }
}
