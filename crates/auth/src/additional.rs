//! `user.additionalFields` / `session.additionalFields`: app-defined fields on the core tables, with Better Auth's
//! option names (`type`, `required`, `defaultValue`, `input`, `fieldName`, `returned`).
//!
//! * Input (sign-up, update-user, update-session): Better Auth's `parseInputData` — a field with `input: false` set
//!   by the client is 400 `FIELD_NOT_ALLOWED` "`<key>` is not allowed to be set" (its default is used on create);
//!   a missing required field on create is 400 `MISSING_FIELD` "`<key>` is required"; defaults apply on create.
//!   Better Auth leaves types to the database; here a value of the wrong type is refused before the write, 400
//!   `VALIDATION_ERROR` "[body.`<key>`] Invalid input: expected `<type>`, received `<type>`" (zod's wording, as
//!   the other body fields). Dates are accepted as ISO strings (what `JSON.stringify(new Date())` sends) or epoch
//!   milliseconds and stored as epoch milliseconds.
//! * Storage: under `fieldName` (default: the key), `v.number()` for numbers and dates, optional unless
//!   `required` (part of the table's validator, see [`crate::schema::auth_schema_for`]).
//! * Output: under the key, dates as ISO strings, absent values as `null`; `returned: false` fields are left out.

use crate::dates::iso_millis;
use crate::error::AuthError;
use protocol::ErrorCode;
use serde::Deserialize;
use std::collections::BTreeMap;
use value::{v, FieldValidator, Object, Validator, Value};

/// Better Auth's field types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AdditionalType {
    #[serde(rename = "string")]
    String,
    #[serde(rename = "number")]
    Number,
    #[serde(rename = "boolean")]
    Boolean,
    #[serde(rename = "date")]
    Date,
    #[serde(rename = "string[]")]
    StringArray,
    #[serde(rename = "number[]")]
    NumberArray,
}

impl AdditionalType {
    pub fn name(self) -> &'static str {
        match self {
            AdditionalType::String => "string",
            AdditionalType::Number => "number",
            AdditionalType::Boolean => "boolean",
            AdditionalType::Date => "date",
            AdditionalType::StringArray => "string[]",
            AdditionalType::NumberArray => "number[]",
        }
    }

    /// The stored value's validator (dates are epoch milliseconds).
    pub fn validator(self) -> Validator {
        match self {
            AdditionalType::String => v::string(),
            AdditionalType::Number | AdditionalType::Date => v::number(),
            AdditionalType::Boolean => v::boolean(),
            AdditionalType::StringArray => v::array(v::string()),
            AdditionalType::NumberArray => v::array(v::number()),
        }
    }

    /// What zod names in "expected …".
    fn expected(self) -> &'static str {
        match self {
            AdditionalType::String => "string",
            AdditionalType::Number => "number",
            AdditionalType::Boolean => "boolean",
            AdditionalType::Date => "date",
            AdditionalType::StringArray | AdditionalType::NumberArray => "array",
        }
    }
}

fn yes() -> bool {
    true
}

/// One additional field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdditionalField {
    #[serde(rename = "type")]
    pub ty: AdditionalType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default_value: Option<serde_json::Value>,
    /// Whether clients may set it (sign-up, update-user).
    #[serde(default = "yes")]
    pub input: bool,
    /// Whether it is part of the user/session objects the API returns.
    #[serde(default = "yes")]
    pub returned: bool,
    /// The stored field name (default: the key).
    #[serde(default)]
    pub field_name: Option<String>,
}

impl AdditionalField {
    pub fn storage_name<'a>(&'a self, key: &'a str) -> &'a str {
        self.field_name.as_deref().unwrap_or(key)
    }

    /// The field's validator in the table definition.
    pub fn field_validator(&self) -> FieldValidator {
        if self.required {
            v::required(self.ty.validator())
        } else {
            v::optional(v::union(vec![v::null(), self.ty.validator()]))
        }
    }
}

/// The additional fields of one model, by key.
pub type AdditionalFields = BTreeMap<String, AdditionalField>;

/// Checks a model's additional fields against its core field names (`reserved`).
pub fn validate(model: &str, fields: &AdditionalFields, reserved: &[&str]) -> Result<(), String> {
    let mut stored = std::collections::BTreeSet::new();
    for (key, field) in fields {
        let name = field.storage_name(key);
        let valid = |s: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if !valid(key) || !valid(name) {
            return Err(format!("{model}.additionalFields: {key:?} must be letters, digits and '_'"));
        }
        if reserved.contains(&key.as_str()) || reserved.contains(&name) || key == "id" {
            return Err(format!("{model}.additionalFields: {key:?} is a built-in field"));
        }
        if !stored.insert(name.to_string()) {
            return Err(format!("{model}.additionalFields: two fields are stored as {name:?}"));
        }
        if let Some(default) = &field.default_value {
            to_stored(key, field.ty, default)
                .map_err(|_| format!("{model}.additionalFields.{key}: defaultValue is not a {}", field.ty.name()))?;
        }
    }
    Ok(())
}

fn received(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// A client value as stored, or the validation error.
fn to_stored(key: &str, ty: AdditionalType, json: &serde_json::Value) -> Result<Value, AuthError> {
    let wrong = || {
        AuthError::validation(format!(
            "[body.{key}] Invalid input: expected {}, received {}",
            ty.expected(),
            received(json)
        ))
    };
    let number = |j: &serde_json::Value| j.as_f64().filter(|f| f.is_finite()).map(Value::Float64);
    match (ty, json) {
        (AdditionalType::String, serde_json::Value::String(s)) => Ok(Value::String(s.clone())),
        (AdditionalType::Number, n @ serde_json::Value::Number(_)) => number(n).ok_or_else(wrong),
        (AdditionalType::Boolean, serde_json::Value::Bool(b)) => Ok(Value::Boolean(*b)),
        (AdditionalType::Date, n @ serde_json::Value::Number(_)) => number(n).ok_or_else(wrong),
        (AdditionalType::Date, serde_json::Value::String(s)) => {
            let ms = crate::dates::parse_iso(s).ok_or_else(|| {
                AuthError::validation(format!("[body.{key}] Invalid input: expected date, received Invalid Date"))
            })?;
            Ok(Value::Float64(ms))
        }
        (AdditionalType::StringArray, serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(|s| Value::String(s.to_string())))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array)
            .ok_or_else(wrong),
        (AdditionalType::NumberArray, serde_json::Value::Array(items)) => {
            items.iter().map(number).collect::<Option<Vec<_>>>().map(Value::Array).ok_or_else(wrong)
        }
        _ => Err(wrong()),
    }
}

fn truthy(json: &serde_json::Value) -> bool {
    match json {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        serde_json::Value::String(s) => !s.is_empty(),
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => true,
    }
}

/// Whether the input is for a new row (defaults and `required` apply) or an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
}

/// The stored fields (by storage name) for a client body, per Better Auth's `parseInputData`. `null` clears an
/// optional field on update (and leaves it unset on create).
pub fn parse_input(
    fields: &AdditionalFields,
    body: Option<&serde_json::Map<String, serde_json::Value>>,
    action: Action,
) -> Result<Object, AuthError> {
    let mut out = Object::new();
    for (key, field) in fields {
        let name = field.storage_name(key).to_string();
        let given = body.and_then(|b| b.get(key));
        if let Some(json) = given {
            if !field.input {
                if let (Some(default), Action::Create) = (&field.default_value, action) {
                    out.insert(name, to_stored(key, field.ty, default)?);
                    continue;
                }
                if truthy(json) {
                    return Err(AuthError::new(
                        ErrorCode::FIELD_NOT_ALLOWED,
                        format!("{key} is not allowed to be set"),
                    ));
                }
                continue;
            }
            if json.is_null() && !field.required {
                if action == Action::Update {
                    out.insert(name, Value::Null);
                }
                continue;
            }
            out.insert(name, to_stored(key, field.ty, json)?);
            continue;
        }
        if action == Action::Create {
            if let Some(default) = &field.default_value {
                out.insert(name, to_stored(key, field.ty, default)?);
            } else if field.required {
                return Err(AuthError::new(ErrorCode::MISSING_FIELD, format!("{key} is required")));
            }
        }
    }
    Ok(out)
}

/// A stored number as JSON, integers without a fraction (as JavaScript prints them).
fn number_json(f: f64) -> serde_json::Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        serde_json::Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

fn stored_json(ty: AdditionalType, value: &Value) -> serde_json::Value {
    match (ty, value) {
        (AdditionalType::Date, Value::Float64(ms)) => serde_json::Value::String(iso_millis(*ms)),
        (AdditionalType::Date, Value::Int64(ms)) => serde_json::Value::String(iso_millis(*ms as f64)),
        (_, Value::Float64(f)) => number_json(*f),
        (_, Value::Int64(i)) => serde_json::Value::from(*i),
        (_, Value::String(s)) => serde_json::Value::String(s.clone()),
        (_, Value::Boolean(b)) => serde_json::Value::Bool(*b),
        (_, Value::Array(items)) => serde_json::Value::Array(items.iter().map(|i| stored_json(ty, i)).collect()),
        _ => serde_json::Value::Null,
    }
}

/// Adds the returned additional fields of a stored row (`extra`, by storage name) to an API object.
pub fn add_output(fields: &AdditionalFields, extra: &Object, object: &mut serde_json::Value) {
    let serde_json::Value::Object(map) = object else { return };
    for (key, field) in fields.iter().filter(|(_, f)| f.returned) {
        let value = extra.get(field.storage_name(key)).map_or(serde_json::Value::Null, |v| stored_json(field.ty, v));
        map.insert(key.clone(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields() -> AdditionalFields {
        serde_json::from_value(json!({
            "role": {"type": "string", "defaultValue": "member", "input": false},
            "age": {"type": "number", "required": true},
            "birthday": {"type": "date"},
            "tags": {"type": "string[]", "fieldName": "labels"},
            "plan": {"type": "string", "returned": false},
        }))
        .unwrap()
    }

    fn body(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn create_applies_defaults_types_and_storage_names() {
        let b = body(json!({"age": 41, "birthday": "1984-03-02T00:00:00.000Z", "tags": ["a", "b"]}));
        let out = parse_input(&fields(), Some(&b), Action::Create).unwrap();
        assert_eq!(out["role"], Value::String("member".into()));
        assert_eq!(out["age"], Value::Float64(41.0));
        assert_eq!(out["birthday"], Value::Float64(447_033_600_000.0));
        assert_eq!(out["labels"], Value::Array(vec![Value::String("a".into()), Value::String("b".into())]));
        assert!(!out.contains_key("plan") && !out.contains_key("tags"));
        let mut api = json!({"id": "x"});
        add_output(&fields(), &out, &mut api);
        assert_eq!(
            api,
            json!({"id": "x", "role": "member", "age": 41, "birthday": "1984-03-02T00:00:00.000Z", "tags": ["a", "b"]})
        );
    }

    #[test]
    fn errors_follow_better_auth() {
        let err = parse_input(&fields(), Some(&body(json!({}))), Action::Create).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (Some(ErrorCode::MISSING_FIELD), "age is required"));
        let err = parse_input(&fields(), Some(&body(json!({"age": 1, "role": "admin"}))), Action::Update).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (Some(ErrorCode::FIELD_NOT_ALLOWED), "role is not allowed to be set")
        );
        // On create an `input: false` field with a default takes the default whatever the client sent.
        let out = parse_input(&fields(), Some(&body(json!({"age": 1, "role": "admin"}))), Action::Create).unwrap();
        assert_eq!(out["role"], Value::String("member".into()));
        let err = parse_input(&fields(), Some(&body(json!({"age": "41"}))), Action::Create).unwrap_err();
        assert_eq!(err.message, "[body.age] Invalid input: expected number, received string");
        let err = parse_input(&fields(), Some(&body(json!({"tags": [1]}))), Action::Update).unwrap_err();
        assert_eq!(err.message, "[body.tags] Invalid input: expected array, received array");
        // Updates: nothing required, null clears.
        let out = parse_input(&fields(), Some(&body(json!({"birthday": null}))), Action::Update).unwrap();
        assert_eq!(out, Object::from([("birthday".to_string(), Value::Null)]));
    }

    #[test]
    fn config_is_checked() {
        assert!(validate("user", &fields(), &["name", "email"]).is_ok());
        let bad: AdditionalFields = serde_json::from_value(json!({"email": {"type": "string"}})).unwrap();
        assert!(validate("user", &bad, &["name", "email"]).is_err());
        let bad: AdditionalFields =
            serde_json::from_value(json!({"n": {"type": "number", "defaultValue": "x"}})).unwrap();
        assert!(validate("user", &bad, &[]).is_err());
    }
}
