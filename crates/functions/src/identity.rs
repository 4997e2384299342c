//! The verified identity of a caller, as `ctx.auth.getUserIdentity()` returns it.

use value::{Object, Value};

/// `tokenIdentifier`, `subject`, `issuer` plus every other claim as Convex exposes it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserIdentity {
    pub token_identifier: String,
    pub subject: String,
    pub issuer: String,
    /// The remaining fields (camelCase keys for OIDC standard claims, raw claim names for customJwt).
    pub fields: Object,
}

impl UserIdentity {
    /// The identity object functions return to clients.
    pub fn to_value(&self) -> Value {
        let mut o = self.fields.clone();
        o.insert("tokenIdentifier".into(), Value::String(self.token_identifier.clone()));
        o.insert("subject".into(), Value::String(self.subject.clone()));
        o.insert("issuer".into(), Value::String(self.issuer.clone()));
        Value::Object(o)
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.fields.get(field)
    }
}
