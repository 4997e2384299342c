//! Order-preserving, self-delimiting byte encoding of values for index keys.
//!
//! For any values `a` and `b`, `encode(a).cmp(encode(b)) == a.cmp(b)` (bytewise, as `memcmp`, SQLite BLOB and
//! PostgreSQL `bytea` compare), and no encoding is a prefix of another, so the concatenated encodings of tuples
//! compare as the tuples do. A missing field ("undefined") sorts before every value.
//!
//! Layout: one tag byte, then the payload.
//!
//! | tag | value | payload |
//! |---|---|---|
//! | `0x01` | missing | none |
//! | `0x02` | null | none |
//! | `0x03` | int64 | 8 bytes big-endian, sign bit flipped |
//! | `0x04` | float64 | 8 bytes big-endian of the bits: negative → all bits flipped, else sign bit flipped |
//! | `0x05`/`0x06` | false/true | none |
//! | `0x07` | string | UTF-8 with `0x00` written `0x00 0xFF`, then `0x00 0x01` |
//! | `0x08` | bytes | as string |
//! | `0x09` | array | each element, then `0x00` |
//! | `0x0A` | object | for each field in key order `0x01`, key as string payload, value; then `0x00` |
//!
//! Element and field encodings all start with a byte ≥ `0x01`, so the `0x00` terminator sorts a shorter
//! container before a longer one that it prefixes, as [`Value`]'s order does.

use crate::limits::MAX_VALUE_DEPTH;
use crate::{Object, Value, ValueError};

const MISSING: u8 = 0x01;
const NULL: u8 = 0x02;
const INT64: u8 = 0x03;
const FLOAT64: u8 = 0x04;
const FALSE: u8 = 0x05;
const TRUE: u8 = 0x06;
const STRING: u8 = 0x07;
const BYTES: u8 = 0x08;
const ARRAY: u8 = 0x09;
const OBJECT: u8 = 0x0A;

const END: u8 = 0x00;
const FIELD: u8 = 0x01;
const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xFF;
const STRING_END: u8 = 0x01;

const SIGN: u64 = 1 << 63;

/// Appends the encoding of `v` to `out`.
pub fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(NULL),
        Value::Int64(i) => {
            out.push(INT64);
            out.extend_from_slice(&((*i as u64) ^ SIGN).to_be_bytes());
        }
        Value::Float64(f) => {
            out.push(FLOAT64);
            out.extend_from_slice(&float_key(*f).to_be_bytes());
        }
        Value::Boolean(false) => out.push(FALSE),
        Value::Boolean(true) => out.push(TRUE),
        Value::String(s) => {
            out.push(STRING);
            encode_escaped(s.as_bytes(), out);
        }
        Value::Bytes(b) => {
            out.push(BYTES);
            encode_escaped(b, out);
        }
        Value::Array(items) => {
            out.push(ARRAY);
            for item in items {
                encode(item, out);
            }
            out.push(END);
        }
        Value::Object(fields) => {
            out.push(OBJECT);
            for (key, value) in fields {
                out.push(FIELD);
                encode_escaped(key.as_bytes(), out);
                encode(value, out);
            }
            out.push(END);
        }
    }
}

/// Appends the encoding of a missing field ("undefined"), which sorts before every value.
pub fn encode_missing(out: &mut Vec<u8>) {
    out.push(MISSING);
}

/// The encoding of `v`.
pub fn encode_to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(v, &mut out);
    out
}

/// Decodes one value from the front of `bytes`: `None` for a missing field, and the number of bytes read.
/// Nesting deeper than [`MAX_VALUE_DEPTH`] is rejected.
pub fn decode(bytes: &[u8]) -> Result<(Option<Value>, usize), ValueError> {
    let mut reader = Reader { bytes, pos: 0 };
    if reader.peek() == Some(MISSING) {
        return Ok((None, 1));
    }
    let v = reader.value(0)?;
    Ok((Some(v), reader.pos))
}

/// The smallest byte string greater than every string that starts with `prefix`, for turning a prefix into an
/// exclusive upper bound; `None` when there is none (`prefix` empty or all `0xFF`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.last_mut() {
        if *last == u8::MAX {
            out.pop();
        } else {
            *last += 1;
            return Some(out);
        }
    }
    None
}

/// Maps float bits so that unsigned order is `f64::total_cmp` order.
fn float_key(f: f64) -> u64 {
    let bits = f.to_bits();
    if bits & SIGN != 0 {
        !bits
    } else {
        bits ^ SIGN
    }
}

fn float_from_key(key: u64) -> f64 {
    let bits = if key & SIGN != 0 { key ^ SIGN } else { !key };
    f64::from_bits(bits)
}

fn encode_escaped(content: &[u8], out: &mut Vec<u8>) {
    for &b in content {
        out.push(b);
        if b == ESCAPE {
            out.push(ESCAPED_ZERO);
        }
    }
    out.push(ESCAPE);
    out.push(STRING_END);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn byte(&mut self) -> Result<u8, ValueError> {
        let b = self.peek().ok_or_else(|| invalid("ends early"))?;
        self.pos += 1;
        Ok(b)
    }

    fn eight(&mut self) -> Result<u64, ValueError> {
        let end = self.pos + 8;
        let chunk = self
            .bytes
            .get(self.pos..end)
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .ok_or_else(|| invalid("ends inside a number"))?;
        self.pos = end;
        Ok(u64::from_be_bytes(chunk))
    }

    fn escaped(&mut self) -> Result<Vec<u8>, ValueError> {
        let mut content = Vec::new();
        loop {
            match self.byte()? {
                ESCAPE => match self.byte()? {
                    ESCAPED_ZERO => content.push(0),
                    STRING_END => return Ok(content),
                    other => return Err(invalid(&format!("has byte {other:#04x} after 0x00 inside a string"))),
                },
                b => content.push(b),
            }
        }
    }

    fn string(&mut self) -> Result<String, ValueError> {
        String::from_utf8(self.escaped()?).map_err(|_| invalid("holds a string that is not utf-8"))
    }

    /// Reads a value inside `depth` containers.
    fn value(&mut self, depth: usize) -> Result<Value, ValueError> {
        let tag = self.byte()?;
        Ok(match tag {
            NULL => Value::Null,
            INT64 => Value::Int64((self.eight()? ^ SIGN) as i64),
            FLOAT64 => Value::Float64(float_from_key(self.eight()?)),
            FALSE => Value::Boolean(false),
            TRUE => Value::Boolean(true),
            STRING => Value::String(self.string()?),
            BYTES => Value::Bytes(self.escaped()?),
            ARRAY => {
                let depth = enter(depth)?;
                let mut items = Vec::new();
                while self.peek() != Some(END) {
                    items.push(self.value(depth)?);
                }
                self.pos += 1;
                Value::Array(items)
            }
            OBJECT => {
                let depth = enter(depth)?;
                let mut fields = Object::new();
                loop {
                    match self.byte()? {
                        END => break,
                        FIELD => {
                            let key = self.string()?;
                            if fields.last_key_value().is_some_and(|(last, _)| *last >= key) {
                                return Err(invalid("has object fields out of order"));
                            }
                            let value = self.value(depth)?;
                            fields.insert(key, value);
                        }
                        other => {
                            return Err(invalid(&format!("has byte {other:#04x} where an object field should start")))
                        }
                    }
                }
                Value::Object(fields)
            }
            MISSING => return Err(invalid("has a missing value inside a container")),
            other => return Err(invalid(&format!("has unknown type tag {other:#04x}"))),
        })
    }
}

fn enter(depth: usize) -> Result<usize, ValueError> {
    let depth = depth + 1;
    if depth > MAX_VALUE_DEPTH {
        return Err(ValueError::Limit(format!("index key nests deeper than {MAX_VALUE_DEPTH} levels")));
    }
    Ok(depth)
}

fn invalid(what: &str) -> ValueError {
    ValueError::Invalid(format!("index key {what}"))
}

#[cfg(test)]
mod tests;
