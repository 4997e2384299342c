//! `index_key`: the input is read as index keys one after the other. Every key that decodes re-encodes to exactly
//! the bytes it was read from (one encoding per value, self-delimiting), and for the first two keys byte order is
//! value order — the invariant every index and read set relies on (`cmp(encode(a), encode(b)) == a.cmp(b)`).
//! `prefix_successor` bounds every extension of its input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use value::index_key;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut values = Vec::new();
    while !rest.is_empty() && values.len() < 8 {
        let Ok((decoded, read)) = index_key::decode(rest) else { break };
        assert!(read >= 1 && read <= rest.len(), "decode read {read} of {} bytes", rest.len());
        let consumed = &rest[..read];
        match &decoded {
            Some(v) => {
                let encoded = index_key::encode_to_vec(v);
                assert_eq!(encoded, consumed, "encode(decode(bytes)) != bytes for {v:?}");
            }
            None => assert_eq!(consumed, [0x01], "a missing field is the one byte 0x01"),
        }
        values.push((decoded, consumed));
        rest = &rest[read..];
    }

    if let [(a, a_bytes), (b, b_bytes), ..] = values.as_slice() {
        // `None` (a missing field) sorts before every value, as `Option`'s order has it.
        assert_eq!(a_bytes.cmp(b_bytes), a.cmp(b), "byte order != value order for {a:?} and {b:?}");
        // Prefix-free: the concatenation of two keys compares as the pair.
        let ab = [*a_bytes, *b_bytes].concat();
        let ba = [*b_bytes, *a_bytes].concat();
        assert_eq!(ab.cmp(&ba), (a, b).cmp(&(b, a)), "tuple order");
    }

    if let Some(successor) = index_key::prefix_successor(data) {
        assert!(successor.as_slice() > data, "prefix_successor must be greater than its prefix");
        let mut extended = data.to_vec();
        extended.extend_from_slice(&[0xFF; 4]);
        assert!(successor > extended, "prefix_successor must exceed every extension of the prefix");
    } else {
        assert!(data.iter().all(|b| *b == 0xFF), "only an empty or all-0xFF prefix has no successor");
    }
});
