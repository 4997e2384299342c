//! Validators: the `v.*` shapes of schemas and of function argument and return types.
//!
//! Build them with the [`v`] functions (`v::object([("author", v::string().into())])`), check values with
//! [`Validator::check`], and send them to clients in Convex's JSON shape with [`Validator::to_json`].

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{json, Map, Value as Json};

use crate::value::{field_segment, write_js_key};
use crate::{json as convex_json, Value, ValueError};

/// The shape a value must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validator {
    Any,
    Null,
    /// `v.number()` / `v.float64()`: only float64 values (an int64 does not match).
    Float64,
    /// `v.int64()`: only int64 values.
    Int64,
    Boolean,
    String,
    Bytes,
    /// An id string of the named table.
    Id(String),
    /// Exactly this value.
    Literal(Value),
    Array(Box<Validator>),
    /// Exactly these fields: missing required fields and extra fields are rejected.
    Object(BTreeMap<String, FieldValidator>),
    /// An object whose every key matches the first validator and every value the second.
    Record(Box<Validator>, Box<Validator>),
    /// Any of these.
    Union(Vec<Validator>),
}

/// The validator of one object field, and whether the field may be absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValidator {
    pub validator: Validator,
    pub optional: bool,
}

impl From<Validator> for FieldValidator {
    fn from(validator: Validator) -> Self {
        FieldValidator { validator, optional: false }
    }
}

/// Builders named like Convex's `v` object: `v::object([("body", v::string().into()), ("tag", v::optional(v::string()))])`.
pub mod v {
    use super::{FieldValidator, Validator};
    use crate::Value;

    pub fn string() -> Validator {
        Validator::String
    }

    /// Same as [`float64`].
    pub fn number() -> Validator {
        Validator::Float64
    }

    pub fn float64() -> Validator {
        Validator::Float64
    }

    pub fn int64() -> Validator {
        Validator::Int64
    }

    /// Same as [`int64`].
    pub fn bigint() -> Validator {
        Validator::Int64
    }

    pub fn boolean() -> Validator {
        Validator::Boolean
    }

    pub fn null() -> Validator {
        Validator::Null
    }

    pub fn bytes() -> Validator {
        Validator::Bytes
    }

    pub fn any() -> Validator {
        Validator::Any
    }

    pub fn id(table: &str) -> Validator {
        Validator::Id(table.to_owned())
    }

    pub fn literal(value: impl Into<Value>) -> Validator {
        Validator::Literal(value.into())
    }

    pub fn array(element: Validator) -> Validator {
        Validator::Array(Box::new(element))
    }

    pub fn object<'a, F: Into<FieldValidator>>(fields: impl IntoIterator<Item = (&'a str, F)>) -> Validator {
        Validator::Object(fields.into_iter().map(|(name, field)| (name.to_owned(), field.into())).collect())
    }

    /// A field that may be absent (but, unlike in a union with `v.null()`, not `null`).
    pub fn optional(validator: Validator) -> FieldValidator {
        FieldValidator { validator, optional: true }
    }

    /// A field that must be present; the same as `validator.into()`.
    pub fn required(validator: Validator) -> FieldValidator {
        validator.into()
    }

    pub fn union(members: Vec<Validator>) -> Validator {
        Validator::Union(members)
    }

    pub fn record(keys: Validator, values: Validator) -> Validator {
        Validator::Record(Box::new(keys), Box::new(values))
    }
}

/// Why a value does not match a validator.
///
/// `message` holds the explanation; its first line is the headline. `Display` puts the path (when not empty)
/// after the headline, like Convex:
///
/// ```text
/// Value does not match validator.
/// Path: .author
/// Value: 3
/// Validator: v.string()
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Where in the value: `.author`, `.tags[2]`, empty for the value itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (headline, details) = match self.message.split_once('\n') {
            Some((headline, details)) => (headline, Some(details)),
            None => (self.message.as_str(), None),
        };
        f.write_str(headline)?;
        if !self.path.is_empty() {
            write!(f, "\nPath: {}", self.path)?;
        }
        if let Some(details) = details {
            write!(f, "\n{details}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

/// A failure on its way up: path segments innermost first.
struct Failure {
    reversed_path: Vec<String>,
    message: String,
}

impl Failure {
    fn new(message: String) -> Self {
        Failure { reversed_path: Vec::new(), message }
    }

    fn mismatch(value: &Value, validator: &Validator) -> Self {
        Failure::new(format!("Value does not match validator.\nValue: {value}\nValidator: {validator}"))
    }

    fn at_field(mut self, name: &str) -> Self {
        self.reversed_path.push(field_segment(name));
        self
    }

    fn at_index(mut self, index: usize) -> Self {
        self.reversed_path.push(format!("[{index}]"));
        self
    }

    fn into_error(self) -> ValidationError {
        ValidationError { path: self.reversed_path.into_iter().rev().collect(), message: self.message }
    }
}

impl Validator {
    /// Checks `value`. `id_table` maps an id string to the name of its table, or `None` when the string is not an
    /// id of any known table.
    pub fn check(&self, value: &Value, id_table: &dyn Fn(&str) -> Option<String>) -> Result<(), ValidationError> {
        self.check_inner(value, id_table).map_err(Failure::into_error)
    }

    fn check_inner(&self, value: &Value, id_table: &dyn Fn(&str) -> Option<String>) -> Result<(), Failure> {
        let matches = match (self, value) {
            (Validator::Any, _)
            | (Validator::Null, Value::Null)
            | (Validator::Float64, Value::Float64(_))
            | (Validator::Int64, Value::Int64(_))
            | (Validator::Boolean, Value::Boolean(_))
            | (Validator::String, Value::String(_))
            | (Validator::Bytes, Value::Bytes(_)) => true,
            (Validator::Id(table), Value::String(s)) => id_table(s).is_some_and(|found| found == *table),
            (Validator::Literal(expected), _) => expected == value,
            (Validator::Array(element), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    element.check_inner(item, id_table).map_err(|f| f.at_index(i))?;
                }
                true
            }
            (Validator::Object(fields), Value::Object(object)) => {
                return self.check_object(fields, value, object, id_table)
            }
            (Validator::Record(keys, values), Value::Object(object)) => {
                for (key, item) in object {
                    let key_value = Value::String(key.clone());
                    if keys.check_inner(&key_value, id_table).is_err() {
                        return Err(Failure::new(format!(
                            "Record key does not match validator.\nKey: {key_value}\nValidator: {keys}"
                        )));
                    }
                    values.check_inner(item, id_table).map_err(|f| f.at_field(key))?;
                }
                true
            }
            (Validator::Union(members), _) => members.iter().any(|member| member.check_inner(value, id_table).is_ok()),
            _ => false,
        };
        if matches {
            Ok(())
        } else {
            Err(Failure::mismatch(value, self))
        }
    }

    fn check_object(
        &self,
        fields: &BTreeMap<String, FieldValidator>,
        value: &Value,
        object: &crate::Object,
        id_table: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), Failure> {
        if let Some(extra) = object.keys().find(|k| !fields.contains_key(*k)) {
            return Err(Failure::new(format!(
                "Object contains extra field `{extra}` that is not in the validator.\nObject: {value}\nValidator: {self}"
            )));
        }
        for (name, field) in fields {
            match object.get(name) {
                Some(item) => field
                    .validator
                    .check_inner(item, id_table)
                    .map_err(|f| f.at_field(name))?,
                None if field.optional => {}
                None => {
                    return Err(Failure::new(format!(
                        "Object is missing the required field `{name}`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\nObject: {value}\nValidator: {self}"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Convex's JSON form of the validator, as sent to clients and dashboards.
    pub fn to_json(&self) -> Json {
        match self {
            Validator::Any => json!({"type": "any"}),
            Validator::Null => json!({"type": "null"}),
            Validator::Float64 => json!({"type": "number"}),
            Validator::Int64 => json!({"type": "bigint"}),
            Validator::Boolean => json!({"type": "boolean"}),
            Validator::String => json!({"type": "string"}),
            Validator::Bytes => json!({"type": "bytes"}),
            Validator::Id(table) => json!({"type": "id", "tableName": table}),
            Validator::Literal(value) => {
                json!({"type": "literal", "value": convex_json::to_json(value)})
            }
            Validator::Array(element) => json!({"type": "array", "value": element.to_json()}),
            Validator::Object(fields) => {
                let fields: Map<String, Json> =
                    fields.iter().map(|(name, field)| (name.clone(), field.to_json())).collect();
                json!({"type": "object", "value": fields})
            }
            Validator::Record(keys, values) => json!({
                "type": "record",
                "keys": keys.to_json(),
                "values": {"fieldType": values.to_json(), "optional": false},
            }),
            Validator::Union(members) => json!({
                "type": "union",
                "value": members.iter().map(Validator::to_json).collect::<Vec<_>>(),
            }),
        }
    }

    /// Reads Convex's JSON form of a validator (the inverse of [`Validator::to_json`]).
    pub fn from_json(j: &Json) -> Result<Validator, ValueError> {
        Self::from_json_at(j, 0)
    }

    fn from_json_at(j: &Json, depth: usize) -> Result<Validator, ValueError> {
        let bad = |why: String| ValueError::Invalid(format!("invalid validator json: {why}"));
        if depth > crate::limits::MAX_VALUE_DEPTH {
            return Err(ValueError::Limit(format!(
                "validator nests deeper than {} levels",
                crate::limits::MAX_VALUE_DEPTH
            )));
        }
        let depth = depth + 1;
        let ty = j.get("type").and_then(Json::as_str).ok_or_else(|| bad(format!("missing \"type\" in {j}")))?;
        let inner = |key: &str| -> Result<Validator, ValueError> {
            let part = j.get(key).ok_or_else(|| bad(format!("{ty} validator without {key:?}")))?;
            Self::from_json_at(part, depth)
        };
        Ok(match ty {
            "any" => Validator::Any,
            "null" => Validator::Null,
            "number" => Validator::Float64,
            "bigint" => Validator::Int64,
            "boolean" => Validator::Boolean,
            "string" => Validator::String,
            "bytes" => Validator::Bytes,
            "id" => Validator::Id(
                j.get("tableName")
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad("id validator without a \"tableName\" string".into()))?
                    .to_owned(),
            ),
            "literal" => Validator::Literal(convex_json::from_json(
                j.get("value").cloned().ok_or_else(|| bad("literal validator without \"value\"".into()))?,
            )?),
            "array" => Validator::Array(Box::new(inner("value")?)),
            "object" => {
                let fields = j
                    .get("value")
                    .and_then(Json::as_object)
                    .ok_or_else(|| bad("object validator without a \"value\" object".into()))?;
                let mut out = BTreeMap::new();
                for (name, field) in fields {
                    out.insert(name.clone(), FieldValidator::from_json_at(field, depth)?);
                }
                Validator::Object(out)
            }
            "record" => {
                let values = j.get("values").ok_or_else(|| bad("record validator without \"values\"".into()))?;
                Validator::Record(
                    Box::new(inner("keys")?),
                    Box::new(FieldValidator::from_json_at(values, depth)?.validator),
                )
            }
            "union" => Validator::Union(
                j.get("value")
                    .and_then(Json::as_array)
                    .ok_or_else(|| bad("union validator without a \"value\" array".into()))?
                    .iter()
                    .map(|member| Self::from_json_at(member, depth))
                    .collect::<Result<_, _>>()?,
            ),
            other => return Err(bad(format!("unknown validator type {other:?}"))),
        })
    }
}

impl FieldValidator {
    fn to_json(&self) -> Json {
        json!({"fieldType": self.validator.to_json(), "optional": self.optional})
    }

    fn from_json_at(j: &Json, depth: usize) -> Result<FieldValidator, ValueError> {
        let field_type = j.get("fieldType").ok_or_else(|| {
            ValueError::Invalid(format!("invalid validator json: field without \"fieldType\" in {j}"))
        })?;
        Ok(FieldValidator {
            validator: Validator::from_json_at(field_type, depth)?,
            optional: j.get("optional").and_then(Json::as_bool).unwrap_or(false),
        })
    }
}

/// Convex's notation: `v.string()`, `v.id("messages")`, `v.object({author: v.string()})`.
impl fmt::Display for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validator::Any => f.write_str("v.any()"),
            Validator::Null => f.write_str("v.null()"),
            Validator::Float64 => f.write_str("v.float64()"),
            Validator::Int64 => f.write_str("v.int64()"),
            Validator::Boolean => f.write_str("v.boolean()"),
            Validator::String => f.write_str("v.string()"),
            Validator::Bytes => f.write_str("v.bytes()"),
            Validator::Id(table) => write!(f, "v.id({})", Json::String(table.clone())),
            Validator::Literal(value) => write!(f, "v.literal({value})"),
            Validator::Array(element) => write!(f, "v.array({element})"),
            Validator::Object(fields) => {
                f.write_str("v.object({")?;
                for (i, (name, field)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_js_key(f, name)?;
                    write!(f, ": {field}")?;
                }
                f.write_str("})")
            }
            Validator::Record(keys, values) => write!(f, "v.record({keys}, {values})"),
            Validator::Union(members) => {
                f.write_str("v.union(")?;
                for (i, member) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{member}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// `v.optional(...)` around optional fields.
impl fmt::Display for FieldValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.optional {
            write!(f, "v.optional({})", self.validator)
        } else {
            write!(f, "{}", self.validator)
        }
    }
}

#[cfg(test)]
mod tests;
