//! Convex document values. Pure: no I/O, no clock, no globals.
//!
//! * [`Value`]: the Convex value model and its total order (the order indexes use).
//! * [`json`]: the Convex JSON wire encoding (`convex_encoded_json`) and clean JSON (`json`).
//! * [`index_key`]: order-preserving byte encoding of values (memcmp order == [`Value`] order).
//! * [`id`]: document ids that encode their table.
//! * [`limits`]: size, depth and field-name rules.
//! * [`validator`]: the `v.*` shapes used by schemas and function arg/return validation.
//! * [`serde_bridge`]: typed Rust values <-> [`Value`] through serde.

pub mod id;
pub mod index_key;
pub mod json;
pub mod limits;
pub mod serde_bridge;
pub mod validator;
mod value;

pub use id::{DocumentId, TableNumber};
pub use serde_bridge::{from_value, to_value};
pub use validator::{v, FieldValidator, ValidationError, Validator};
pub use value::{Object, Value};

/// Errors from decoding, validating or converting values. Messages are lowercase and name the offending part.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// Malformed Convex JSON (bad `$integer` payload, `$set`, unknown `$` key...).
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A field name breaks the rules (starts with `$`, non-printable ASCII, too long, empty).
    #[error("invalid field name {name:?}: {reason}")]
    FieldName { name: String, reason: String },
    /// A limit was exceeded (nesting depth, size, number of fields, array length).
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// Converting between typed Rust values and [`Value`] failed.
    #[error("conversion failed: {0}")]
    Conversion(String),
}
