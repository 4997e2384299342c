#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;

fn invalid_message(r: Result<DocumentId, ValueError>) -> String {
    match r {
        Err(ValueError::Invalid(m)) => m,
        other => panic!("expected an invalid id error, got {other:?}"),
    }
}

fn sample_id() -> DocumentId {
    DocumentId::new(
        TableNumber(10_001),
        [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF],
    )
}

#[test]
fn known_encoding() {
    let id = DocumentId::new(TableNumber(1), [0; 16]);
    // varint 0x01, sixteen zeros, Fletcher-16 of [1, 0 x 16] = high 17, low 1.
    let mut expected = vec![0x01];
    expected.extend([0; 16]);
    expected.extend([17, 1]);
    assert_eq!(id.to_bytes(), expected);
    let s = id.to_string();
    assert_eq!(s, "0400000000000000000000000001208");
    assert_eq!(DocumentId::parse(&s), Ok(id));
}

#[test]
fn string_lengths_follow_the_varint() {
    for (table, len) in [(0, 31), (127, 31), (128, 32), (10_001, 32), (16_383, 32), (16_384, 34), (u32::MAX, 37)] {
        let id = DocumentId::new(TableNumber(table), [0xAB; 16]);
        let s = id.to_string();
        assert_eq!(s.len(), len, "table {table}");
        assert_eq!(s.parse::<DocumentId>(), Ok(id));
        assert_eq!(DocumentId::from_bytes(&id.to_bytes()), Ok(id));
    }
}

#[test]
fn random_ids_round_trip_and_are_distinct() {
    let mut rng = StdRng::seed_from_u64(9);
    let mut strings = HashSet::new();
    for _ in 0..2000 {
        let id = DocumentId::random(TableNumber(10_001), &mut rng);
        assert_eq!(id.table(), TableNumber(10_001));
        let s = id.to_string();
        assert!(s.bytes().all(|b| ALPHABET.contains(&b)), "{s}");
        assert_eq!(DocumentId::parse(&s), Ok(id));
        assert!(strings.insert(s));
    }
}

#[test]
fn ids_of_one_table_sort_as_their_strings() {
    let mut rng = StdRng::seed_from_u64(10);
    let mut ids: Vec<DocumentId> = (0..500).map(|_| DocumentId::random(TableNumber(300), &mut rng)).collect();
    ids.sort();
    let strings: Vec<String> = ids.iter().map(DocumentId::to_string).collect();
    let mut sorted = strings.clone();
    sorted.sort();
    assert_eq!(strings, sorted);
}

#[test]
fn every_single_character_change_is_rejected() {
    let s = sample_id().to_string();
    for (i, original) in s.char_indices() {
        for &replacement in ALPHABET.iter() {
            let replacement = char::from(replacement);
            if replacement == original {
                continue;
            }
            let mut changed = s.clone();
            changed.replace_range(i..i + 1, replacement.encode_utf8(&mut [0; 4]));
            assert!(DocumentId::parse(&changed).is_err(), "{changed} (position {i}) was accepted");
        }
    }
}

#[test]
fn rejections() {
    let s = sample_id().to_string();
    assert_eq!(
        invalid_message(DocumentId::parse("abc")),
        r#"invalid document id "abc": expected 31 to 37 characters, got 3"#
    );
    assert_eq!(
        invalid_message(DocumentId::parse(&s.to_uppercase())),
        format!(
            "invalid document id {:?}: unexpected character {:?}",
            s.to_uppercase(),
            s.to_uppercase().chars().find(|c| c.is_ascii_uppercase()).unwrap()
        )
    );
    let with_i = format!("i{}", &s[1..]);
    assert!(invalid_message(DocumentId::parse(&with_i)).contains("unexpected character 'i'"));
    // 33 characters is 165 bits: 20 bytes and 5 bits, not a whole encoding.
    assert!(
        invalid_message(DocumentId::parse(&format!("{s}0"))).contains("33 characters is not a whole number of bytes")
    );
    // Flip a bit of the checksum.
    let mut bytes = sample_id().to_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert_eq!(
        DocumentId::from_bytes(&bytes),
        Err(ValueError::Invalid("invalid document id bytes: checksum mismatch".into()))
    );
    let reencoded = base32_encode(&bytes);
    assert!(invalid_message(DocumentId::parse(&reencoded)).ends_with(": checksum mismatch"));
    // Wrong body length.
    assert!(invalid_message(DocumentId::from_bytes(&bytes[..18]))
        .contains("expected 18 bytes after the table number, got 16"));
}

#[test]
fn non_canonical_varints_are_rejected() {
    // Table 1 written as two varint bytes (0x81 0x00) with a correct checksum.
    let mut bytes = vec![0x81, 0x00];
    bytes.extend([7; 16]);
    let checksum = fletcher16(&bytes);
    bytes.extend(checksum.to_be_bytes());
    assert!(invalid_message(DocumentId::from_bytes(&bytes)).contains("redundant varint byte"));
    // Five varint bytes whose last carries more than 4 bits.
    let mut bytes = vec![0xFF, 0xFF, 0xFF, 0xFF, 0x1F];
    bytes.extend([7; 16]);
    let checksum = fletcher16(&bytes);
    bytes.extend(checksum.to_be_bytes());
    assert!(invalid_message(DocumentId::from_bytes(&bytes)).contains("does not fit in 32 bits"));
    assert!(invalid_message(DocumentId::from_bytes(&[0x80, 0x80])).contains("truncated"));
}

#[test]
fn base32_round_trips_every_length() {
    let data: Vec<u8> = (0..=255).collect();
    for len in 0..40 {
        let encoded = base32_encode(&data[..len]);
        assert_eq!(encoded.len(), (len * 8).div_ceil(5));
        assert_eq!(base32_decode(&encoded), Ok(data[..len].to_vec()));
    }
    // Non-zero padding bits: "01" is one byte (0x00) plus two bits set to 01.
    assert_eq!(base32_decode("01"), Err("non-zero padding bits".into()));
    assert_eq!(base32_decode("00"), Ok(vec![0]));
}

#[test]
fn conversions() {
    let id = sample_id();
    assert_eq!(Value::from(id), Value::String(id.to_string()));
    assert_eq!(crate::to_value(&id), Ok(Value::String(id.to_string())));
    assert_eq!(crate::from_value::<DocumentId>(Value::from(&id)), Ok(id));
    assert!(crate::from_value::<DocumentId>(Value::from("nope")).is_err());
    assert_eq!(format!("{id:?}"), format!("DocumentId({id}, table 10001)"));
}
