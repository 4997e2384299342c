//! The identity functions see (`ctx.auth.getUserIdentity()`), built from verified claims as Convex builds it.

use crate::error::AuthFailure;
use crate::token::Claims;
use functions::UserIdentity;
use serde_json::{Map, Value as Json};
use value::{Object, Value};

/// Claims never copied into a customJwt identity: the registered claims biscuit models itself, and Clerk's `fva`.
const CUSTOM_JWT_EXCLUDED: &[&str] = &["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "fva"];

/// Claims never copied as extra fields of an OIDC identity: those openidconnect's `IdTokenClaims` models itself,
/// the standard claims Convex maps to typed fields (keybroker `UserIdentity::from_token`), `jti`, `nbf`, `fva`.
const OIDC_EXCLUDED: &[&str] = &[
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "sub",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "jti",
    "nbf",
    "fva",
];

/// A JSON value as a function sees it after Convex hands it to JavaScript: every number is a float.
pub fn json_to_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(json_to_value).collect()),
        Json::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect()),
    }
}

/// keybroker's `extract_custom_jwt_claims`: nested objects become dotted keys, recursively (an empty object
/// contributes nothing); everything else is kept as is.
fn flatten_into(prefix: Option<&str>, claims: &Map<String, Json>, out: &mut Object) {
    for (key, value) in claims {
        let name = match prefix {
            Some(prefix) => format!("{prefix}.{key}"),
            None => key.clone(),
        };
        match value {
            Json::Object(nested) => flatten_into(Some(&name), nested, out),
            other => {
                out.insert(name, json_to_value(other));
            }
        }
    }
}

/// A customJwt identity: `tokenIdentifier = iss|sub` (raw `iss`), every other claim under its own name.
/// Requires `sub`, `iss` and `exp`, checked in that order.
pub(crate) fn custom_jwt_identity(claims: &Claims) -> Result<(UserIdentity, i64), AuthFailure> {
    let subject = claims.sub.clone().ok_or_else(AuthFailure::missing_subject)?;
    let issuer = claims.iss.clone().ok_or_else(AuthFailure::missing_issuer)?;
    let exp = claims.exp.ok_or_else(AuthFailure::missing_expiry)?;
    let extra: Map<String, Json> = claims
        .all
        .iter()
        .filter(|(name, _)| !CUSTOM_JWT_EXCLUDED.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let mut fields = Object::new();
    flatten_into(None, &extra, &mut fields);
    Ok((UserIdentity { token_identifier: format!("{issuer}|{subject}"), subject, issuer, fields }, exp))
}

/// An OIDC identity: standard claims mapped to camelCase fields, other claims copied unflattened.
///
/// A standard claim of the wrong JSON type is left out (openidconnect would fail to parse such a token; we prefer
/// to keep the identity and drop the field).
pub(crate) fn oidc_identity(claims: &Claims) -> Result<(UserIdentity, i64), AuthFailure> {
    let subject = claims.sub.clone().ok_or_else(AuthFailure::oidc_unverified)?;
    let issuer = claims.iss.clone().ok_or_else(AuthFailure::oidc_unverified)?;
    let exp = claims.exp.ok_or_else(AuthFailure::oidc_unverified)?;
    let all = &claims.all;
    let mut fields = Object::new();
    const STRINGS: &[(&str, &str)] = &[
        ("name", "name"),
        ("given_name", "givenName"),
        ("family_name", "familyName"),
        ("nickname", "nickname"),
        ("preferred_username", "preferredUsername"),
        ("profile", "profileUrl"),
        ("picture", "pictureUrl"),
        ("website", "websiteUrl"),
        ("email", "email"),
        ("gender", "gender"),
        ("birthdate", "birthday"),
        ("zoneinfo", "timezone"),
        ("locale", "language"),
        ("phone_number", "phoneNumber"),
    ];
    for (claim, field) in STRINGS {
        if let Some(Json::String(s)) = all.get(*claim) {
            fields.insert((*field).to_string(), Value::String(s.clone()));
        }
    }
    for (claim, field) in [("email_verified", "emailVerified"), ("phone_number_verified", "phoneNumberVerified")] {
        if let Some(Json::Bool(b)) = all.get(claim) {
            fields.insert(field.to_string(), Value::Boolean(*b));
        }
    }
    if let Some(Json::String(formatted)) = all.get("address").and_then(|a| a.get("formatted")) {
        fields.insert("address".to_string(), Value::String(formatted.clone()));
    }
    if let Some(updated_at) = all.get("updated_at").and_then(Json::as_f64).and_then(rfc3339_from_unix) {
        fields.insert("updatedAt".to_string(), Value::String(updated_at));
    }
    for (name, value) in all {
        if !OIDC_EXCLUDED.contains(&name.as_str()) {
            fields.insert(name.clone(), json_to_value(value));
        }
    }
    Ok((UserIdentity { token_identifier: format!("{issuer}|{subject}"), subject, issuer, fields }, exp))
}

/// chrono's `to_rfc3339()` of a UTC time: `2024-05-01T12:00:00+00:00`, fractional seconds (3, 6 or 9 digits) only
/// when there are any.
pub(crate) fn rfc3339_from_unix(seconds: f64) -> Option<String> {
    if !seconds.is_finite() {
        return None;
    }
    let nanos = (seconds * 1e9).round() as i128;
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
    let date = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    let fraction = match at.nanosecond() {
        0 => String::new(),
        n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
        n if n % 1_000 == 0 => format!(".{:06}", n / 1_000),
        n => format!(".{n:09}"),
    };
    Some(format!("{date}{fraction}+00:00"))
}
