//! Typed rows of the auth tables and their two outward shapes.
//!
//! * Storage: [`Row::from_document`] reads a stored document (`_id` becomes `id`; dates are epoch-ms numbers;
//!   optional fields may be absent or `null`), [`Row::to_fields`] writes the user fields. An unset optional field
//!   is **absent** from `to_fields` (the validators accept absent or `null`; the adapter also turns `null` in
//!   writes into absence, so the store holds one representation). To clear a field in an update, pass
//!   `Value::Null` to the adapter.
//! * API: `to_json` gives Better Auth's response object: camelCase keys in Better Auth's order, dates as ISO
//!   millisecond strings, unset optional fields as `null`. These are typed [`Serialize`] views rather than
//!   `serde_json::Value`s because this workspace's `serde_json` sorts object keys; serialize them directly (or
//!   nest them in a `Serialize` response struct) to keep the order.

use crate::adapter::AdapterError;
use crate::dates::iso_millis;
use crate::schema::Model;
use serde::{Deserialize, Serialize};
use value::{Object, Value};

/// A typed row of one model, for the adapter's `*_row` helpers. Each row type also has the same conversions as
/// inherent functions, so callers need not import the trait.
pub trait Row: Sized {
    const MODEL: Model;

    /// Reads a stored document (with `_id`).
    fn from_document(doc: &Object) -> Result<Self, AdapterError>;

    /// The user fields to store (no `id`, `_id` or `_creationTime`; unset optional fields absent).
    fn to_fields(&self) -> Object;

    /// The document id.
    fn id(&self) -> &str;
}

/// `user`.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: f64,
    pub updated_at: f64,
    /// Stored fields beyond the core and plugin ones (`user.additionalFields`, by storage name).
    pub extra: Object,
}

/// `session`.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub expires_at: f64,
    pub token: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: String,
    /// Stored fields beyond the core ones (`session.additionalFields`, by storage name).
    pub extra: Object,
}

/// `account`. `password` is the scrypt string of credential accounts; it never leaves through `to_json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: String,
    pub account_id: String,
    pub provider_id: String,
    pub user_id: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<f64>,
    pub refresh_token_expires_at: Option<f64>,
    pub scope: Option<String>,
    pub password: Option<String>,
    pub created_at: f64,
    pub updated_at: f64,
}

/// `verification`.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    pub id: String,
    pub identifier: String,
    pub value: String,
    pub expires_at: f64,
    pub created_at: f64,
    pub updated_at: f64,
}

/// `jwks`: a signing key. `kid` is the row id; `private_key` is the encrypted private JWK (convex-better-auth.md
/// §3.5).
#[derive(Debug, Clone, PartialEq)]
pub struct Jwk {
    pub id: String,
    pub public_key: String,
    pub private_key: String,
    pub created_at: f64,
    pub expires_at: Option<f64>,
}

/// Better Auth's user object: `id, name, email, emailVerified, image, createdAt, updatedAt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserJson {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Better Auth's session object: `id, expiresAt, token, createdAt, updatedAt, ipAddress, userAgent, userId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionJson {
    pub id: String,
    pub expires_at: String,
    pub token: String,
    pub created_at: String,
    pub updated_at: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: String,
}

/// An account row as JSON, in schema order, without `password`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountJson {
    pub id: String,
    pub account_id: String,
    pub provider_id: String,
    pub user_id: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<String>,
    pub refresh_token_expires_at: Option<String>,
    pub scope: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One entry of `GET /list-accounts` (better-auth-http.md §7.24): `id, providerId, createdAt, updatedAt,
/// accountId, userId, scopes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountListJson {
    pub id: String,
    pub provider_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub account_id: String,
    pub user_id: String,
    pub scopes: Vec<String>,
}

/// A verification row as JSON: `id, identifier, value, expiresAt, createdAt, updatedAt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationJson {
    pub id: String,
    pub identifier: String,
    pub value: String,
    pub expires_at: String,
    pub created_at: String,
    pub updated_at: String,
}

impl User {
    pub fn to_json(&self) -> UserJson {
        UserJson {
            id: self.id.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            email_verified: self.email_verified,
            image: self.image.clone(),
            created_at: iso_millis(self.created_at),
            updated_at: iso_millis(self.updated_at),
        }
    }
}

impl Session {
    pub fn to_json(&self) -> SessionJson {
        SessionJson {
            id: self.id.clone(),
            expires_at: iso_millis(self.expires_at),
            token: self.token.clone(),
            created_at: iso_millis(self.created_at),
            updated_at: iso_millis(self.updated_at),
            ip_address: self.ip_address.clone(),
            user_agent: self.user_agent.clone(),
            user_id: self.user_id.clone(),
        }
    }
}

impl Account {
    /// The row without `password`.
    pub fn to_json(&self) -> AccountJson {
        AccountJson {
            id: self.id.clone(),
            account_id: self.account_id.clone(),
            provider_id: self.provider_id.clone(),
            user_id: self.user_id.clone(),
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
            id_token: self.id_token.clone(),
            access_token_expires_at: self.access_token_expires_at.map(iso_millis),
            refresh_token_expires_at: self.refresh_token_expires_at.map(iso_millis),
            scope: self.scope.clone(),
            created_at: iso_millis(self.created_at),
            updated_at: iso_millis(self.updated_at),
        }
    }

    /// The `list-accounts` entry. `scopes` is `scope.split(",")` as JavaScript does it (so `""` gives `[""]`), or
    /// `[]` when the scope is unset.
    pub fn to_list_json(&self) -> AccountListJson {
        AccountListJson {
            id: self.id.clone(),
            provider_id: self.provider_id.clone(),
            created_at: iso_millis(self.created_at),
            updated_at: iso_millis(self.updated_at),
            account_id: self.account_id.clone(),
            user_id: self.user_id.clone(),
            scopes: self.scope.as_deref().map(|s| s.split(',').map(str::to_string).collect()).unwrap_or_default(),
        }
    }
}

impl Verification {
    /// A new row (its id is assigned by [`crate::adapter::create_row`]) created at `now`, expiring at `expires_at`
    /// (both epoch milliseconds).
    pub fn new(identifier: impl Into<String>, value: impl Into<String>, now: f64, expires_at: f64) -> Verification {
        Verification {
            id: String::new(),
            identifier: identifier.into(),
            value: value.into(),
            expires_at,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn to_json(&self) -> VerificationJson {
        VerificationJson {
            id: self.id.clone(),
            identifier: self.identifier.clone(),
            value: self.value.clone(),
            expires_at: iso_millis(self.expires_at),
            created_at: iso_millis(self.created_at),
            updated_at: iso_millis(self.updated_at),
        }
    }
}

/// Reads the fields of one stored document, naming the model, id and field in errors.
struct Reader<'a> {
    model: Model,
    doc: &'a Object,
    id: String,
}

impl<'a> Reader<'a> {
    fn new(model: Model, doc: &'a Object) -> Result<Self, AdapterError> {
        match doc.get("_id") {
            Some(Value::String(id)) => Ok(Reader { model, doc, id: id.clone() }),
            _ => Err(AdapterError::Invalid(format!("{model} document has no _id"))),
        }
    }

    fn bad(&self, field: &str, expected: &str) -> AdapterError {
        let found = self.doc.get(field).map_or("nothing", Value::type_name);
        AdapterError::Invalid(format!(
            "{} document {}: field {field:?} should be {expected}, found {found}",
            self.model, self.id
        ))
    }

    /// `None` for an absent or `null` field.
    fn present(&self, field: &str) -> Option<&'a Value> {
        self.doc.get(field).filter(|v| !v.is_null())
    }

    fn string(&self, field: &str) -> Result<String, AdapterError> {
        self.opt_string(field)?.ok_or_else(|| self.bad(field, "a string"))
    }

    fn opt_string(&self, field: &str) -> Result<Option<String>, AdapterError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.bad(field, "a string")),
        }
    }

    fn number(&self, field: &str) -> Result<f64, AdapterError> {
        self.opt_number(field)?.ok_or_else(|| self.bad(field, "a number"))
    }

    fn opt_number(&self, field: &str) -> Result<Option<f64>, AdapterError> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::Float64(n)) => Ok(Some(*n)),
            Some(_) => Err(self.bad(field, "a number")),
        }
    }

    /// The stored fields the model does not declare (additional fields), without `_id`/`_creationTime`.
    fn extra(&self) -> Object {
        self.doc
            .iter()
            .filter(|(name, _)| !name.starts_with('_') && self.model.field(name).is_none())
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }

    fn boolean(&self, field: &str) -> Result<bool, AdapterError> {
        match self.present(field) {
            Some(Value::Boolean(b)) => Ok(*b),
            _ => Err(self.bad(field, "a boolean")),
        }
    }
}

/// Builds a fields object, leaving unset optional fields out.
#[derive(Default)]
struct Fields(Object);

impl Fields {
    fn set(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.0.insert(name.to_string(), value.into());
        self
    }

    fn set_opt<T: Into<Value>>(mut self, name: &str, value: Option<T>) -> Self {
        if let Some(value) = value {
            self.0.insert(name.to_string(), value.into());
        }
        self
    }
}

impl User {
    /// Reads a stored document (`_id` becomes `id`).
    pub fn from_document(doc: &Object) -> Result<Self, AdapterError> {
        let r = Reader::new(Model::User, doc)?;
        Ok(User {
            name: r.string("name")?,
            email: r.string("email")?,
            email_verified: r.boolean("emailVerified")?,
            image: r.opt_string("image")?,
            created_at: r.number("createdAt")?,
            updated_at: r.number("updatedAt")?,
            extra: r.extra(),
            id: r.id,
        })
    }

    /// The user fields to store; unset optional fields are left out.
    pub fn to_fields(&self) -> Object {
        Fields(self.extra.clone())
            .set("name", &self.name)
            .set("email", &self.email)
            .set("emailVerified", self.email_verified)
            .set_opt("image", self.image.as_ref())
            .set("createdAt", self.created_at)
            .set("updatedAt", self.updated_at)
            .0
    }
}

impl Session {
    /// Reads a stored document (`_id` becomes `id`).
    pub fn from_document(doc: &Object) -> Result<Self, AdapterError> {
        let r = Reader::new(Model::Session, doc)?;
        Ok(Session {
            expires_at: r.number("expiresAt")?,
            token: r.string("token")?,
            created_at: r.number("createdAt")?,
            updated_at: r.number("updatedAt")?,
            ip_address: r.opt_string("ipAddress")?,
            user_agent: r.opt_string("userAgent")?,
            user_id: r.string("userId")?,
            extra: r.extra(),
            id: r.id,
        })
    }

    /// The user fields to store; unset optional fields are left out.
    pub fn to_fields(&self) -> Object {
        Fields(self.extra.clone())
            .set("expiresAt", self.expires_at)
            .set("token", &self.token)
            .set("createdAt", self.created_at)
            .set("updatedAt", self.updated_at)
            .set_opt("ipAddress", self.ip_address.as_ref())
            .set_opt("userAgent", self.user_agent.as_ref())
            .set("userId", &self.user_id)
            .0
    }
}

impl Account {
    /// Reads a stored document (`_id` becomes `id`).
    pub fn from_document(doc: &Object) -> Result<Self, AdapterError> {
        let r = Reader::new(Model::Account, doc)?;
        Ok(Account {
            account_id: r.string("accountId")?,
            provider_id: r.string("providerId")?,
            user_id: r.string("userId")?,
            access_token: r.opt_string("accessToken")?,
            refresh_token: r.opt_string("refreshToken")?,
            id_token: r.opt_string("idToken")?,
            access_token_expires_at: r.opt_number("accessTokenExpiresAt")?,
            refresh_token_expires_at: r.opt_number("refreshTokenExpiresAt")?,
            scope: r.opt_string("scope")?,
            password: r.opt_string("password")?,
            created_at: r.number("createdAt")?,
            updated_at: r.number("updatedAt")?,
            id: r.id,
        })
    }

    /// The user fields to store; unset optional fields are left out.
    pub fn to_fields(&self) -> Object {
        Fields::default()
            .set("accountId", &self.account_id)
            .set("providerId", &self.provider_id)
            .set("userId", &self.user_id)
            .set_opt("accessToken", self.access_token.as_ref())
            .set_opt("refreshToken", self.refresh_token.as_ref())
            .set_opt("idToken", self.id_token.as_ref())
            .set_opt("accessTokenExpiresAt", self.access_token_expires_at)
            .set_opt("refreshTokenExpiresAt", self.refresh_token_expires_at)
            .set_opt("scope", self.scope.as_ref())
            .set_opt("password", self.password.as_ref())
            .set("createdAt", self.created_at)
            .set("updatedAt", self.updated_at)
            .0
    }
}

impl Verification {
    /// Reads a stored document (`_id` becomes `id`).
    pub fn from_document(doc: &Object) -> Result<Self, AdapterError> {
        let r = Reader::new(Model::Verification, doc)?;
        Ok(Verification {
            identifier: r.string("identifier")?,
            value: r.string("value")?,
            expires_at: r.number("expiresAt")?,
            created_at: r.number("createdAt")?,
            updated_at: r.number("updatedAt")?,
            id: r.id,
        })
    }

    /// The user fields to store; unset optional fields are left out.
    pub fn to_fields(&self) -> Object {
        Fields::default()
            .set("identifier", &self.identifier)
            .set("value", &self.value)
            .set("expiresAt", self.expires_at)
            .set("createdAt", self.created_at)
            .set("updatedAt", self.updated_at)
            .0
    }
}

impl Jwk {
    /// Reads a stored document (`_id` becomes `id`).
    pub fn from_document(doc: &Object) -> Result<Self, AdapterError> {
        let r = Reader::new(Model::Jwks, doc)?;
        Ok(Jwk {
            public_key: r.string("publicKey")?,
            private_key: r.string("privateKey")?,
            created_at: r.number("createdAt")?,
            expires_at: r.opt_number("expiresAt")?,
            id: r.id,
        })
    }

    /// The user fields to store; unset optional fields are left out.
    pub fn to_fields(&self) -> Object {
        Fields::default()
            .set("publicKey", &self.public_key)
            .set("privateKey", &self.private_key)
            .set("createdAt", self.created_at)
            .set_opt("expiresAt", self.expires_at)
            .0
    }
}

/// Implements [`Row`] through the inherent conversions.
macro_rules! row {
    ($ty:ident, $model:expr) => {
        impl Row for $ty {
            const MODEL: Model = $model;

            fn from_document(doc: &Object) -> Result<Self, AdapterError> {
                $ty::from_document(doc)
            }

            fn to_fields(&self) -> Object {
                $ty::to_fields(self)
            }

            fn id(&self) -> &str {
                &self.id
            }
        }
    };
}

row!(User, Model::User);
row!(Session, Model::Session);
row!(Account, Model::Account);
row!(Verification, Model::Verification);
row!(Jwk, Model::Jwks);

#[cfg(test)]
mod tests;
