//! Document ids that carry their table.
//!
//! Bytes: `varint(table number)` (LEB128), the 16 internal bytes, then a 2-byte Fletcher-16 checksum of the
//! preceding bytes (big-endian). The string form is those bytes in base32 (alphabet
//! `0123456789abcdefghjkmnpqrstvwxyz`, most significant bits first, final partial group zero-padded), 31 characters
//! for tables below 128 and 32 for tables up to 16383, like Convex's ids.
//!
//! Every id has exactly one string form: parsing rejects upper case, non-zero padding bits and over-long varints.
//! The alphabet is in ASCII order, so ids of one table sort as strings in the order of their internal bytes.

use std::fmt;
use std::str::FromStr;

use crate::{Value, ValueError};

/// The number of a table; ids encode it, so an id names its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableNumber(pub u32);

impl fmt::Display for TableNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A document id: the table number and 16 internal bytes. Ordered by table, then internal bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocumentId {
    table: TableNumber,
    internal: [u8; 16],
}

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const INTERNAL_LEN: usize = 16;
const CHECKSUM_LEN: usize = 2;
const MAX_VARINT_LEN: usize = 5;
const MIN_BYTES: usize = 1 + INTERNAL_LEN + CHECKSUM_LEN;
const MAX_BYTES: usize = MAX_VARINT_LEN + INTERNAL_LEN + CHECKSUM_LEN;

impl DocumentId {
    pub fn new(table: TableNumber, internal: [u8; 16]) -> Self {
        DocumentId { table, internal }
    }

    /// A new id with random internal bytes.
    pub fn random<R: rand::RngCore + ?Sized>(table: TableNumber, rng: &mut R) -> Self {
        let mut internal = [0u8; INTERNAL_LEN];
        rng.fill_bytes(&mut internal);
        DocumentId { table, internal }
    }

    pub fn table(&self) -> TableNumber {
        self.table
    }

    pub fn internal(&self) -> [u8; 16] {
        self.internal
    }

    /// The bytes that the string form encodes: varint table number, internal bytes, checksum.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_BYTES);
        let mut n = self.table.0;
        while n >= 0x80 {
            out.push(((n & 0x7F) as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend_from_slice(&self.internal);
        let checksum = fletcher16(&out);
        out.extend_from_slice(&checksum.to_be_bytes());
        out
    }

    /// Reads the bytes of [`DocumentId::to_bytes`], checking the varint and the checksum.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ValueError> {
        Self::decode_bytes(bytes).map_err(|why| ValueError::Invalid(format!("invalid document id bytes: {why}")))
    }

    /// Parses the string form; errors read `invalid document id "<s>": <why>`.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::decode_str(s).map_err(|why| {
            let shown: String = s.chars().take(64).collect();
            ValueError::Invalid(format!("invalid document id {shown:?}: {why}"))
        })
    }

    fn decode_str(s: &str) -> Result<Self, String> {
        let min_chars = (MIN_BYTES * 8).div_ceil(5);
        let max_chars = (MAX_BYTES * 8).div_ceil(5);
        if !(min_chars..=max_chars).contains(&s.len()) {
            return Err(format!("expected {min_chars} to {max_chars} characters, got {}", s.chars().count()));
        }
        Self::decode_bytes(&base32_decode(s)?)
    }

    fn decode_bytes(bytes: &[u8]) -> Result<Self, String> {
        let (table, varint_len) = read_varint(bytes)?;
        let rest = &bytes[varint_len..];
        if rest.len() != INTERNAL_LEN + CHECKSUM_LEN {
            return Err(format!(
                "expected {} bytes after the table number, got {}",
                INTERNAL_LEN + CHECKSUM_LEN,
                rest.len()
            ));
        }
        let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if fletcher16(body).to_be_bytes() != checksum {
            return Err("checksum mismatch".into());
        }
        let mut internal = [0u8; INTERNAL_LEN];
        internal.copy_from_slice(&rest[..INTERNAL_LEN]);
        Ok(DocumentId { table: TableNumber(table), internal })
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base32_encode(&self.to_bytes()))
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({}, table {})", self, self.table.0)
    }
}

impl FromStr for DocumentId {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocumentId::parse(s)
    }
}

/// An id is stored in documents as its string form.
impl From<DocumentId> for Value {
    fn from(id: DocumentId) -> Self {
        Value::String(id.to_string())
    }
}

impl From<&DocumentId> for Value {
    fn from(id: &DocumentId) -> Self {
        Value::String(id.to_string())
    }
}

/// Serializes as the string form.
impl serde::Serialize for DocumentId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Deserializes from the string form.
impl<'de> serde::Deserialize<'de> for DocumentId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl serde::de::Visitor<'_> for IdVisitor {
            type Value = DocumentId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a document id string")
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<DocumentId, E> {
                DocumentId::parse(s).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(IdVisitor)
    }
}

/// Reads a canonical LEB128 `u32`: the value and the number of bytes used.
fn read_varint(bytes: &[u8]) -> Result<(u32, usize), String> {
    let mut value: u32 = 0;
    for (i, &b) in bytes.iter().take(MAX_VARINT_LEN).enumerate() {
        let last = i == MAX_VARINT_LEN - 1;
        if last && b > 0x0F {
            return Err("table number does not fit in 32 bits".into());
        }
        value |= u32::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            if i > 0 && b == 0 {
                return Err("table number has a redundant varint byte".into());
            }
            return Ok((value, i + 1));
        }
    }
    Err("table number varint is truncated".into())
}

fn fletcher16(bytes: &[u8]) -> u16 {
    let (mut low, mut high) = (0u16, 0u16);
    for &b in bytes {
        low = (low + u16::from(b)) % 255;
        high = (high + low) % 255;
    }
    (high << 8) | low
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let (mut acc, mut bits) = (0u16, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u16::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[usize::from((acc >> bits) & 31)]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[usize::from((acc << (5 - bits)) & 31)]));
    }
    out
}

fn base32_decode(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u16, 0u32);
    for c in s.chars() {
        let digit = u8::try_from(c)
            .ok()
            .and_then(|b| ALPHABET.iter().position(|&a| a == b))
            .ok_or_else(|| format!("unexpected character {c:?}"))?;
        acc = (acc << 5) | digit as u16;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 5 {
        return Err(format!("{} characters is not a whole number of bytes", s.len()));
    }
    if acc != 0 {
        return Err("non-zero padding bits".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
