//! `DocumentId`: a string that parses is the id's one string form (parse∘display = id both ways), its bytes
//! round-trip, and the same holds for the byte form on its own. Ids arrive in function arguments, `_id` fields
//! and URLs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use value::DocumentId;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = DocumentId::parse(text) {
            assert_eq!(id.to_string(), text, "an id has exactly one string form");
            assert_eq!(DocumentId::from_bytes(&id.to_bytes()), Ok(id));
            assert_eq!(DocumentId::new(id.table(), id.internal()), id);
            let from_serde: Result<DocumentId, _> = serde_json::from_value(serde_json::Value::String(text.into()));
            assert_eq!(from_serde.ok(), Some(id));
        }
    }
    if let Ok(id) = DocumentId::from_bytes(data) {
        assert_eq!(id.to_bytes(), data, "an id has exactly one byte form");
        assert_eq!(DocumentId::parse(&id.to_string()), Ok(id));
    }
});
