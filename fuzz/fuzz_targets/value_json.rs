//! Convex JSON (`value::json`): any text either fails to decode or decodes to a value that survives
//! encode∘decode unchanged, whose encoding is canonical (decoding it again and re-encoding gives the same text),
//! and whose index key decodes back to it. The lossy clean JSON, the limits check and the JavaScript-like
//! rendering must not panic on anything that decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use value::{index_key, json, limits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(v) = json::from_json_str(text) else { return };

    let encoded = json::to_json_string(&v);
    let again = match json::from_json_str(&encoded) {
        Ok(again) => again,
        Err(e) => panic!("the encoding of a decoded value does not decode: {e}\n{encoded}"),
    };
    assert_eq!(again, v, "decode(encode(v)) != v for {encoded}");
    assert_eq!(json::to_json_string(&again), encoded, "the encoding is not canonical");

    let key = index_key::encode_to_vec(&v);
    match index_key::decode(&key) {
        Ok((Some(decoded), read)) => {
            assert_eq!(decoded, v, "index_key round trip");
            assert_eq!(read, key.len(), "index_key decode read {read} of {} bytes", key.len());
        }
        other => panic!("index_key::decode(encode(v)) = {other:?}"),
    }

    let _ = json::to_clean_json(&v).to_string();
    let _ = v.to_string();
    let _ = limits::check_value(&v);
    if let Some(fields) = v.as_object() {
        let _ = limits::check_document(fields);
    }
});
