//! The commit-log record: which index keys a commit touched. Subscriptions and the OCC check compare these keys
//! with read intervals.

use storage::{IndexId, KeyRange, Timestamp};

/// The keys one commit wrote (old and new keys of every changed document, in every index of its table).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSet {
    pub keys: Vec<(IndexId, Vec<u8>)>,
}

impl WriteSet {
    pub fn push(&mut self, index: IndexId, key: Vec<u8>) {
        self.keys.push((index, key));
    }

    /// Whether any written key falls in any of the read intervals.
    pub fn overlaps(&self, reads: &ReadSet) -> bool {
        self.keys.iter().any(|(index, key)| reads.contains(*index, key))
    }

    /// Binary encoding: repeated `[index u32 LE][len u32 LE][key]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.keys.iter().map(|(_, k)| k.len() + 8).sum());
        for (index, key) in &self.keys {
            out.extend_from_slice(&index.to_le_bytes());
            out.extend_from_slice(&(key.len() as u32).to_le_bytes());
            out.extend_from_slice(key);
        }
        out
    }

    pub fn decode(mut bytes: &[u8]) -> Result<Self, String> {
        let mut keys = Vec::new();
        let take_u32 = |b: &mut &[u8]| -> Result<u32, String> {
            let (head, rest) = b.split_at_checked(4).ok_or("truncated commit-log record")?;
            *b = rest;
            let mut buf = [0u8; 4];
            buf.copy_from_slice(head);
            Ok(u32::from_le_bytes(buf))
        };
        while !bytes.is_empty() {
            let index = take_u32(&mut bytes)?;
            let len = take_u32(&mut bytes)? as usize;
            let (key, rest) = bytes.split_at_checked(len).ok_or("truncated commit-log record")?;
            keys.push((index, key.to_vec()));
            bytes = rest;
        }
        Ok(WriteSet { keys })
    }
}

/// A committed write set with its timestamp, as the commit log and subscribers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitEntry {
    pub ts: Timestamp,
    pub writes: WriteSet,
}

/// The index intervals a transaction read. A later write inside any interval invalidates the read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSet {
    pub intervals: Vec<(IndexId, KeyRange)>,
}

impl ReadSet {
    pub fn add(&mut self, index: IndexId, range: KeyRange) {
        if !range.is_empty() {
            self.intervals.push((index, range));
        }
    }

    pub fn contains(&self, index: IndexId, key: &[u8]) -> bool {
        self.intervals.iter().any(|(i, r)| *i == index && r.contains(key))
    }

    pub fn extend(&mut self, other: ReadSet) {
        self.intervals.extend(other.intervals);
    }

    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }
}
