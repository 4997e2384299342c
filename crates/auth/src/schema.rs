//! The auth component's tables, exactly as `@better-auth/cli generate` writes them for the Convex adapter
//! (convex-better-auth.md §10): table `betterAuth/<model>`, required fields as plain validators, optional fields as
//! `v.optional(v.union(v.null(), T))`, dates as `v.number()` epoch milliseconds, and the listed indexes.
//!
//! The static description ([`Model::fields`], [`Model::indexes`], [`unique_fields`]) is the single source: the
//! database [`Schema`] ([`auth_schema`]), the printable description ([`describe`]) and the adapter's planner and
//! uniqueness checks are all derived from it.

use crate::additional::AdditionalFields;
use database::{Schema, TableDefinition};
use serde::Serialize;
use std::fmt;
use std::sync::OnceLock;
use value::{v, FieldValidator, Validator};

/// The component namespace: auth tables are `betterAuth/<model>`.
pub const NAMESPACE: &str = "betterAuth";

/// A Better Auth model (one table of the component).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Model {
    User,
    Session,
    Account,
    Verification,
    Jwks,
}

/// The logical type of a field (Better Auth's field types that the core tables use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Boolean,
    Number,
    /// A date: stored as epoch milliseconds (`v.number()`), since the Convex adapter sets `supportsDates: false`.
    Date,
}

impl FieldType {
    /// Better Auth's name of the type (`"string"`, `"boolean"`, `"number"`, `"date"`).
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
            FieldType::Number => "number",
            FieldType::Date => "date",
        }
    }

    /// The validator of a value of this type in the document store.
    pub fn validator(self) -> Validator {
        match self {
            FieldType::String => v::string(),
            FieldType::Boolean => v::boolean(),
            FieldType::Number | FieldType::Date => v::number(),
        }
    }

    /// Whether values are numbers in the document store.
    pub fn is_numeric(self) -> bool {
        matches!(self, FieldType::Number | FieldType::Date)
    }
}

/// One field of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The camelCase field name, as stored and as Better Auth names it.
    pub name: &'static str,
    pub ty: FieldType,
    /// Required fields are plain validators; optional ones accept absence and `null`.
    pub required: bool,
    /// Enforced by the adapter on create and update (Better Auth's `unique: true`).
    pub unique: bool,
}

impl FieldSpec {
    /// The field's validator in the table definition.
    pub fn validator(&self) -> FieldValidator {
        if self.required {
            v::required(self.ty.validator())
        } else {
            v::optional(v::union(vec![v::null(), self.ty.validator()]))
        }
    }
}

/// One declared index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: &'static str,
    pub fields: &'static [&'static str],
}

const fn req(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec { name, ty, required: true, unique: false }
}

pub(crate) const fn opt(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec { name, ty, required: false, unique: false }
}

const fn unique(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec { name, ty, required: true, unique: true }
}

pub(crate) const fn index(name: &'static str, fields: &'static [&'static str]) -> IndexSpec {
    IndexSpec { name, fields }
}

use FieldType::{Boolean, Date, String as Str};

const USER_FIELDS: &[FieldSpec] = &[
    req("name", Str),
    unique("email", Str),
    req("emailVerified", Boolean),
    opt("image", Str),
    req("createdAt", Date),
    req("updatedAt", Date),
];

const SESSION_FIELDS: &[FieldSpec] = &[
    req("expiresAt", Date),
    unique("token", Str),
    req("createdAt", Date),
    req("updatedAt", Date),
    opt("ipAddress", Str),
    opt("userAgent", Str),
    req("userId", Str),
];

const ACCOUNT_FIELDS: &[FieldSpec] = &[
    req("accountId", Str),
    req("providerId", Str),
    req("userId", Str),
    opt("accessToken", Str),
    opt("refreshToken", Str),
    opt("idToken", Str),
    opt("accessTokenExpiresAt", Date),
    opt("refreshTokenExpiresAt", Date),
    opt("scope", Str),
    opt("password", Str),
    req("createdAt", Date),
    req("updatedAt", Date),
];

const VERIFICATION_FIELDS: &[FieldSpec] = &[
    req("identifier", Str),
    req("value", Str),
    req("expiresAt", Date),
    req("createdAt", Date),
    req("updatedAt", Date),
];

const JWKS_FIELDS: &[FieldSpec] =
    &[req("publicKey", Str), req("privateKey", Str), req("createdAt", Date), opt("expiresAt", Date)];

const USER_INDEXES: &[IndexSpec] = &[index("email_name", &["email", "name"]), index("name", &["name"])];

const SESSION_INDEXES: &[IndexSpec] = &[
    index("expiresAt", &["expiresAt"]),
    index("expiresAt_userId", &["expiresAt", "userId"]),
    index("token", &["token"]),
    index("userId", &["userId"]),
];

const ACCOUNT_INDEXES: &[IndexSpec] = &[
    index("accountId", &["accountId"]),
    index("accountId_providerId", &["accountId", "providerId"]),
    index("providerId_userId", &["providerId", "userId"]),
    index("userId", &["userId"]),
];

const VERIFICATION_INDEXES: &[IndexSpec] = &[index("expiresAt", &["expiresAt"]), index("identifier", &["identifier"])];

impl Model {
    /// Every model, in the order the generator prints them.
    pub const ALL: [Model; 5] = [Model::User, Model::Session, Model::Account, Model::Verification, Model::Jwks];

    /// Better Auth's model name (`"user"`, `"session"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Model::User => "user",
            Model::Session => "session",
            Model::Account => "account",
            Model::Verification => "verification",
            Model::Jwks => "jwks",
        }
    }

    /// The model with this Better Auth name.
    pub fn from_name(name: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The model stored in this table (`"betterAuth/user"` → `User`).
    pub fn from_table(table: &str) -> Option<Model> {
        let (namespace, name) = table.split_once('/')?;
        if namespace == NAMESPACE {
            Model::from_name(name)
        } else {
            None
        }
    }

    /// The table name, `betterAuth/<name>`.
    pub fn table(self) -> String {
        format!("{NAMESPACE}/{}", self.name())
    }

    /// The user fields of the table (no `_id`/`_creationTime`), in the generator's order: the core's, then those
    /// the plugins add ([`crate::plugin::SchemaPart`]).
    pub fn fields(self) -> &'static [FieldSpec] {
        static MERGED: OnceLock<Vec<Vec<FieldSpec>>> = OnceLock::new();
        let merged = MERGED.get_or_init(|| {
            Model::ALL.map(|model| with_plugins(model.core_fields(), |part| part.fields, model)).into()
        });
        merged.get(self as usize).map_or(&[], Vec::as_slice)
    }

    fn core_fields(self) -> &'static [FieldSpec] {
        match self {
            Model::User => USER_FIELDS,
            Model::Session => SESSION_FIELDS,
            Model::Account => ACCOUNT_FIELDS,
            Model::Verification => VERIFICATION_FIELDS,
            Model::Jwks => JWKS_FIELDS,
        }
    }

    /// One field by name.
    pub fn field(self, name: &str) -> Option<&'static FieldSpec> {
        self.fields().iter().find(|f| f.name == name)
    }

    /// The declared indexes (besides the built-in `by_id` and `by_creation_time`): the core's, then the plugins'.
    pub fn indexes(self) -> &'static [IndexSpec] {
        static MERGED: OnceLock<Vec<Vec<IndexSpec>>> = OnceLock::new();
        let merged = MERGED.get_or_init(|| {
            Model::ALL.map(|model| with_plugins(model.core_indexes(), |part| part.indexes, model)).into()
        });
        merged.get(self as usize).map_or(&[], Vec::as_slice)
    }

    fn core_indexes(self) -> &'static [IndexSpec] {
        match self {
            Model::User => USER_INDEXES,
            Model::Session => SESSION_INDEXES,
            Model::Account => ACCOUNT_INDEXES,
            Model::Verification => VERIFICATION_INDEXES,
            Model::Jwks => &[],
        }
    }

    /// The table definition: document validator and indexes.
    pub fn table_definition(self) -> TableDefinition {
        let definition = TableDefinition::with_fields(self.fields().iter().map(|f| (f.name, f.validator())));
        self.indexes().iter().fold(definition, |definition, ix| definition.index(ix.name, ix.fields))
    }
}

/// A core list followed by what each built-in plugin adds to `model`.
fn with_plugins<T: Copy>(
    core: &'static [T],
    select: impl Fn(&crate::plugin::SchemaPart) -> &'static [(Model, T)],
    model: Model,
) -> Vec<T> {
    let added = crate::plugins::SCHEMA.iter().flat_map(|part| select(part).iter());
    core.iter().copied().chain(added.filter(|(m, _)| *m == model).map(|(_, item)| *item)).collect()
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The table of a model: `betterAuth/user`, `betterAuth/session`, ...
pub fn table(model: Model) -> String {
    model.table()
}

/// The fields Better Auth marks `unique: true` (enforced by the adapter through an index whose first field it is).
pub fn unique_fields(model: Model) -> &'static [&'static str] {
    match model {
        Model::User => &["email"],
        Model::Session => &["token"],
        Model::Account | Model::Verification | Model::Jwks => &[],
    }
}

/// The database schema of the auth component: the five tables, nothing else. Merge it into the app's schema with
/// [`Schema::merge`].
pub fn auth_schema() -> Schema {
    auth_schema_for(&AdditionalFields::new(), &AdditionalFields::new())
}

/// The schema with the app's additional user and session fields ([`crate::additional`]).
pub fn auth_schema_for(user: &AdditionalFields, session: &AdditionalFields) -> Schema {
    Model::ALL.into_iter().fold(Schema::new(), |schema, model| {
        let extra = additional_of(model, user, session);
        let fields = model.fields().iter().map(|f| (f.name.to_string(), f.validator()));
        let fields = fields.chain(extra.iter().map(|(key, f)| (f.storage_name(key).to_string(), f.field_validator())));
        let definition = TableDefinition::with_fields(fields.collect::<Vec<_>>());
        let definition = model.indexes().iter().fold(definition, |definition, ix| definition.index(ix.name, ix.fields));
        schema.table(&model.table(), definition)
    })
}

fn additional_of<'a>(model: Model, user: &'a AdditionalFields, session: &'a AdditionalFields) -> &'a AdditionalFields {
    static NONE: OnceLock<AdditionalFields> = OnceLock::new();
    match model {
        Model::User => user,
        Model::Session => session,
        _ => NONE.get_or_init(AdditionalFields::new),
    }
}

/// A printable description of the auth schema (what `authvex generate` prints). Serializes with keys in
/// declaration order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaDescription {
    pub namespace: &'static str,
    pub tables: Vec<TableDescription>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableDescription {
    /// Better Auth's model name.
    pub model: &'static str,
    /// The document-store table.
    pub table: String,
    pub fields: Vec<FieldDescription>,
    pub indexes: Vec<IndexDescription>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDescription {
    pub name: String,
    /// Better Auth's logical type (`string`, `boolean`, `number`, `date`).
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub required: bool,
    pub unique: bool,
    /// The Convex validator, e.g. `v.optional(v.union(v.null(), v.string()))`.
    pub validator: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexDescription {
    pub name: &'static str,
    pub fields: Vec<&'static str>,
}

/// Describes every table: fields with type, requiredness, uniqueness and validator; indexes with their fields.
pub fn describe() -> SchemaDescription {
    describe_for(&AdditionalFields::new(), &AdditionalFields::new())
}

/// [`describe`] with the app's additional user and session fields (after the core and plugin fields).
pub fn describe_for(user: &AdditionalFields, session: &AdditionalFields) -> SchemaDescription {
    let tables = Model::ALL
        .into_iter()
        .map(|model| TableDescription {
            model: model.name(),
            table: model.table(),
            fields: model
                .fields()
                .iter()
                .map(|f| FieldDescription {
                    name: f.name.to_string(),
                    ty: f.ty.name(),
                    required: f.required,
                    unique: f.unique,
                    validator: f.validator().to_string(),
                })
                .chain(additional_of(model, user, session).iter().map(|(key, f)| FieldDescription {
                    name: f.storage_name(key).to_string(),
                    ty: f.ty.name(),
                    required: f.required,
                    unique: false,
                    validator: f.field_validator().to_string(),
                }))
                .collect(),
            indexes: model
                .indexes()
                .iter()
                .map(|ix| IndexDescription { name: ix.name, fields: ix.fields.to_vec() })
                .collect(),
        })
        .collect();
    SchemaDescription { namespace: NAMESPACE, tables }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tables_round_trip() {
        for model in Model::ALL {
            assert_eq!(Model::from_name(model.name()), Some(model));
            assert_eq!(Model::from_table(&table(model)), Some(model));
        }
        assert_eq!(table(Model::User), "betterAuth/user");
        assert_eq!(table(Model::Jwks), "betterAuth/jwks");
        assert_eq!(Model::from_name("users"), None);
        assert_eq!(Model::from_table("other/user"), None);
    }

    #[test]
    fn unique_fields_agree_with_field_specs() {
        for model in Model::ALL {
            let marked: Vec<&str> = model.fields().iter().filter(|f| f.unique).map(|f| f.name).collect();
            assert_eq!(marked, unique_fields(model), "{model}");
            // Every unique field is the first field of some index (the adapter's lookup).
            for field in unique_fields(model) {
                assert!(model.indexes().iter().any(|ix| ix.fields.first() == Some(field)), "{model}.{field}");
            }
        }
    }

    #[test]
    fn index_fields_are_declared_fields() {
        for model in Model::ALL {
            for ix in model.indexes() {
                assert_eq!(ix.name, ix.fields.join("_"), "index names are the fields joined with _");
                for field in ix.fields {
                    assert!(model.field(field).is_some(), "{model}.{field}");
                }
            }
        }
    }

    #[test]
    fn schema_declares_exactly_the_five_tables() {
        let schema = auth_schema();
        let names: Vec<&str> = schema.tables.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "betterAuth/account",
                "betterAuth/jwks",
                "betterAuth/session",
                "betterAuth/user",
                "betterAuth/verification"
            ]
        );
        assert!(schema.strict_tables);
        let user = &schema.tables["betterAuth/user"];
        let fields = user.document.clone().unwrap_or_default();
        assert_eq!(fields["email"].to_string(), "v.string()");
        assert_eq!(fields["image"].to_string(), "v.optional(v.union(v.null(), v.string()))");
        assert_eq!(fields["createdAt"].to_string(), "v.float64()");
        let indexes: Vec<(&str, Vec<&str>)> =
            user.indexes.iter().map(|i| (i.name.as_str(), i.fields.iter().map(String::as_str).collect())).collect();
        assert_eq!(
            indexes,
            [("email_name", vec!["email", "name"]), ("name", vec!["name"]), ("userId", vec!["userId"])]
        );
        assert!(schema.tables["betterAuth/jwks"].indexes.is_empty());
    }

    #[test]
    fn describe_prints_fields_and_indexes_in_order() {
        let text = serde_json::to_string(&describe()).unwrap_or_default();
        assert!(text.starts_with(r#"{"namespace":"betterAuth","tables":[{"model":"user","table":"betterAuth/user","fields":[{"name":"name","type":"string","required":true,"unique":false,"validator":"v.string()"},{"name":"email","type":"string","required":true,"unique":true,"#), "{text}");
        assert!(text.contains(r#"{"name":"expiresAt_userId","fields":["expiresAt","userId"]}"#), "{text}");
        assert!(
            text.contains(r#"{"name":"accessTokenExpiresAt","type":"date","required":false,"unique":false,"validator":"v.optional(v.union(v.null(), v.float64()))"}"#),
            "{text}"
        );
    }
}
