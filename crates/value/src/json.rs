//! Convex JSON: the wire encoding (`convex_encoded_json`, used on the WebSocket and by default on HTTP) and the
//! lossy "clean" JSON (`format: "json"`, HTTP only).
//!
//! | value | encoded JSON |
//! |---|---|
//! | int64 | `{"$integer": base64(8-byte little-endian)}` |
//! | finite float64 other than −0 | JSON number |
//! | NaN, ±Infinity, −0 | `{"$float": base64(8-byte little-endian IEEE-754)}` |
//! | bytes | `{"$bytes": standard base64}` |
//! | null, boolean, string, array, object | themselves |

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Number, Value as Json};

use crate::limits::{check_field_name, MAX_VALUE_DEPTH};
use crate::{Object, Value, ValueError};

const INTEGER_KEY: &str = "$integer";
const FLOAT_KEY: &str = "$float";
const BYTES_KEY: &str = "$bytes";

/// Encodes a value as Convex JSON.
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Int64(i) => special(INTEGER_KEY, STANDARD.encode(i.to_le_bytes())),
        Value::Float64(f) => match plain_float(*f) {
            Some(n) => Json::Number(n),
            None => special(FLOAT_KEY, STANDARD.encode(f.to_bits().to_le_bytes())),
        },
        Value::Boolean(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => special(BYTES_KEY, STANDARD.encode(b)),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Object(fields) => Json::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// Encodes a value as Convex JSON text.
pub fn to_json_string(v: &Value) -> String {
    to_json(v).to_string()
}

/// The JSON number for a float that Convex JSON writes as a plain number: finite and not −0.
fn plain_float(f: f64) -> Option<Number> {
    if f == 0.0 && f.is_sign_negative() {
        return None;
    }
    Number::from_f64(f)
}

fn special(key: &str, payload: String) -> Json {
    let mut map = Map::new();
    map.insert(key.to_owned(), Json::String(payload));
    Json::Object(map)
}

/// Decodes Convex JSON text.
pub fn from_json_str(s: &str) -> Result<Value, ValueError> {
    let json: Json = serde_json::from_str(s).map_err(|e| ValueError::Invalid(format!("malformed json: {e}")))?;
    from_json(json)
}

/// Decodes Convex JSON.
///
/// Every plain JSON number is a float64 (`1` → `Float64(1.0)`). An object whose only key is `$integer`, `$float`
/// or `$bytes` is that special type; any other field name starting with `$` is rejected, as are names that break
/// [`check_field_name`] and nesting deeper than [`MAX_VALUE_DEPTH`].
pub fn from_json(j: Json) -> Result<Value, ValueError> {
    decode(j, 0)
}

/// Decodes `j`, which sits inside `depth` containers.
fn decode(j: Json, depth: usize) -> Result<Value, ValueError> {
    Ok(match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(b),
        Json::Number(n) => match n.as_f64() {
            Some(f) => Value::Float64(f),
            None => return Err(ValueError::Invalid(format!("number {n} is not a float64"))),
        },
        Json::String(s) => Value::String(s),
        Json::Array(items) => {
            let depth = enter(depth)?;
            Value::Array(items.into_iter().map(|item| decode(item, depth)).collect::<Result<_, _>>()?)
        }
        Json::Object(map) => {
            if map.len() == 1 {
                if let Some((key, payload)) = map.iter().next() {
                    if let Some(v) = decode_special(key, payload)? {
                        return Ok(v);
                    }
                }
            }
            let depth = enter(depth)?;
            let mut fields = Object::new();
            for (key, value) in map {
                check_field_name(&key)?;
                let value = decode(value, depth)?;
                fields.insert(key, value);
            }
            Value::Object(fields)
        }
    })
}

fn enter(depth: usize) -> Result<usize, ValueError> {
    let depth = depth + 1;
    if depth > MAX_VALUE_DEPTH {
        return Err(ValueError::Limit(format!("value nests deeper than {MAX_VALUE_DEPTH} levels")));
    }
    Ok(depth)
}

/// Decodes a one-key object `{key: payload}` if `key` names a special type; `Ok(None)` for an ordinary field.
fn decode_special(key: &str, payload: &Json) -> Result<Option<Value>, ValueError> {
    match key {
        INTEGER_KEY => Ok(Some(Value::Int64(i64::from_le_bytes(eight_bytes(key, payload)?)))),
        FLOAT_KEY => {
            let f = f64::from_bits(u64::from_le_bytes(eight_bytes(key, payload)?));
            if plain_float(f).is_some() {
                return Err(ValueError::Invalid(format!(
                    "`$float` holds the finite number {f}, which must be encoded as a plain json number"
                )));
            }
            Ok(Some(Value::Float64(f)))
        }
        BYTES_KEY => Ok(Some(Value::Bytes(base64_payload(key, payload)?))),
        "$set" | "$map" => Err(ValueError::Invalid(format!("`{key}` is a removed type and no longer supported"))),
        _ => Ok(None),
    }
}

fn base64_payload(key: &str, payload: &Json) -> Result<Vec<u8>, ValueError> {
    let Json::String(s) = payload else {
        return Err(ValueError::Invalid(format!("`{key}` must hold a base64 string")));
    };
    STANDARD.decode(s).map_err(|e| ValueError::Invalid(format!("`{key}` holds invalid base64 {s:?}: {e}")))
}

fn eight_bytes(key: &str, payload: &Json) -> Result<[u8; 8], ValueError> {
    let bytes = base64_payload(key, payload)?;
    <[u8; 8]>::try_from(bytes.as_slice())
        .map_err(|_| ValueError::Invalid(format!("`{key}` must decode to 8 bytes, got {}", bytes.len())))
}

/// Encodes a value as clean JSON (`format: "json"`): int64 → decimal string, NaN/±Infinity → `"NaN"`,
/// `"Infinity"`, `"-Infinity"`, −0 → the number `-0.0`, bytes → plain base64 string, the rest as itself.
/// Lossy: it cannot be decoded back into the same value.
pub fn to_clean_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Int64(i) => Json::String(i.to_string()),
        Value::Float64(f) => match Number::from_f64(*f) {
            Some(n) => Json::Number(n),
            None if f.is_nan() => Json::String("NaN".into()),
            None if *f > 0.0 => Json::String("Infinity".into()),
            None => Json::String("-Infinity".into()),
        },
        Value::Boolean(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(STANDARD.encode(b)),
        Value::Array(items) => Json::Array(items.iter().map(to_clean_json).collect()),
        Value::Object(fields) => Json::Object(fields.iter().map(|(k, v)| (k.clone(), to_clean_json(v))).collect()),
    }
}

#[cfg(test)]
mod tests;
