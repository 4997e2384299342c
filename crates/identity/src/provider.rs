//! Auth providers as `convex/auth.config.ts` declares them, with Convex's config-time issuer normalisation and its
//! token-to-provider matching rule.

use crate::jwk::JwkSet;
use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;

/// The signature algorithms Convex accepts for `customJwt` providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    RS256,
    ES256,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
        }
    }

    /// `"RS256"` or `"ES256"`, case-sensitive like Convex's serde enum.
    pub fn parse(name: &str) -> Option<Algorithm> {
        match name {
            "RS256" => Some(Algorithm::RS256),
            "ES256" => Some(Algorithm::ES256),
            _ => None,
        }
    }

    pub(crate) fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Keys handed over in process, e.g. by the deployment's own auth service, without an HTTP round trip.
///
/// Called on every verification of a token for its provider (no caching here), so that a key deleted by a rotation
/// stops verifying at once, exactly as with a JWKS endpoint that sends no cache headers. Implementations should
/// answer from memory.
#[async_trait]
pub trait KeySource: Send + Sync {
    async fn jwks(&self) -> Result<JwkSet, String>;
}

/// Where a `customJwt` provider's keys come from.
#[derive(Clone)]
pub enum JwksSource {
    /// `GET` this http(s) URL (cached, see [`crate::VerifierConfig`]).
    Url(String),
    /// A fixed key set.
    Static(Arc<JwkSet>),
    /// A `data:` URL carrying the JWKS document (base64 or percent-encoded), as `getAuthConfigProvider({jwks})` emits.
    Data(String),
    /// Keys from inside the process.
    InProcess(Arc<dyn KeySource>),
}

impl JwksSource {
    /// The `jwks` string of an `auth.config.ts` provider: a `data:` URL or an http(s) URL.
    pub fn from_config_string(jwks: &str) -> Result<JwksSource, String> {
        let scheme_end = jwks.find(':').unwrap_or(0);
        if jwks[..scheme_end].eq_ignore_ascii_case("data") {
            return Ok(JwksSource::Data(jwks.to_string()));
        }
        match reqwest::Url::parse(jwks) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(JwksSource::Url(jwks.to_string())),
            Ok(url) => Err(format!("Invalid JWKS URL \"{jwks}\": unsupported scheme \"{}\"", url.scheme())),
            Err(e) => Err(format!("Invalid JWKS URL \"{jwks}\": {e}")),
        }
    }
}

impl fmt::Debug for JwksSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksSource::Url(url) => f.debug_tuple("Url").field(url).finish(),
            JwksSource::Static(set) => f.debug_tuple("Static").field(&set.keys().len()).finish(),
            JwksSource::Data(url) => f.debug_tuple("Data").field(&url.len()).finish(),
            JwksSource::InProcess(_) => f.write_str("InProcess"),
        }
    }
}

/// One entry of `auth.config.ts`'s `providers`.
///
/// Build it with [`Provider::custom_jwt`], [`Provider::oidc`] or [`provider_from_convex_json`] so the issuer is
/// normalised as Convex does at deploy time. The issuer is kept as written (plus `https://` when it had no scheme):
/// trailing slashes are trimmed only when comparing, and the original appears in `NoAuthProvider` messages.
#[derive(Debug, Clone)]
pub enum Provider {
    CustomJwt { issuer: String, jwks: JwksSource, algorithm: Algorithm, application_id: Option<String> },
    Oidc { domain: String, application_id: String },
}

impl Provider {
    pub fn custom_jwt(
        issuer: &str,
        jwks: JwksSource,
        algorithm: Algorithm,
        application_id: Option<String>,
    ) -> Result<Provider, String> {
        Ok(Provider::CustomJwt { issuer: normalize_issuer(issuer)?, jwks, algorithm, application_id })
    }

    pub fn oidc(domain: &str, application_id: impl Into<String>) -> Result<Provider, String> {
        Ok(Provider::Oidc { domain: normalize_issuer(domain)?, application_id: application_id.into() })
    }

    /// The issuer (customJwt) or domain (OIDC).
    pub fn issuer(&self) -> &str {
        match self {
            Provider::CustomJwt { issuer, .. } => issuer,
            Provider::Oidc { domain, .. } => domain,
        }
    }

    pub fn application_id(&self) -> Option<&str> {
        match self {
            Provider::CustomJwt { application_id, .. } => application_id.as_deref(),
            Provider::Oidc { application_id, .. } => Some(application_id),
        }
    }

    /// Convex's `AuthInfo::matches_token`: the application ID (when set) is one of the audiences, and the issuers
    /// are equal once a scheme-less `iss` gets `https://` and trailing slashes are trimmed on both sides.
    pub fn matches_token(&self, audiences: &[String], iss: &str) -> bool {
        if let Some(application_id) = self.application_id() {
            if !audiences.iter().any(|aud| aud == application_id) {
                return false;
            }
        }
        issuers_equal(self.issuer(), iss)
    }

    /// How `NoAuthProvider` messages list the provider.
    pub(crate) fn describe(&self) -> String {
        match self {
            Provider::CustomJwt { issuer, application_id, .. } => {
                format!("CustomJWT(issuer={issuer}, app_id={})", application_id.as_deref().unwrap_or("none"))
            }
            Provider::Oidc { domain, application_id } => format!("OIDC(domain={domain}, app_id={application_id})"),
        }
    }
}

/// A token's `iss` as Convex compares it: `https://` prepended unless it starts with `http://` or `https://`.
pub(crate) fn iss_with_scheme(iss: &str) -> std::borrow::Cow<'_, str> {
    if iss.starts_with("https://") || iss.starts_with("http://") {
        std::borrow::Cow::Borrowed(iss)
    } else {
        std::borrow::Cow::Owned(format!("https://{iss}"))
    }
}

pub(crate) fn issuers_equal(configured: &str, iss: &str) -> bool {
    configured.trim_end_matches('/') == iss_with_scheme(iss).trim_end_matches('/')
}

/// Convex's deploy-time validation of a provider `issuer`/`domain`.
///
/// A value without a scheme (`^\w+://`) gets `https://` and must then have a host that is `localhost` or ends in
/// a top-level domain; with a scheme only `http://` and `https://` are allowed; the result must parse as a URL;
/// a leading `"` is rejected.
/// Returns the string Convex stores (not re-serialised by the URL parser).
///
/// Divergence: Convex checks the last label against the IANA list of TLDs; we accept any label of two or more ASCII
/// letters or an IDNA `xn--` label (so `idont.looklikeadomain` passes here and fails there).
pub fn normalize_issuer(original: &str) -> Result<String, String> {
    let had_scheme = has_scheme(original);
    let url = if had_scheme { original.to_string() } else { format!("https://{original}") };
    let invalid = |reason: &str| format!("Invalid provider domain URL \"{original}\": {reason}");
    if original.starts_with('"') {
        // A quoted value pasted from a .env file; the URL parser would accept `"` in a host.
        return Err(invalid("must not be quoted"));
    }
    if !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(invalid("must use HTTPS"));
    }
    let parsed = reqwest::Url::parse(&url).map_err(|e| invalid(&e.to_string()))?;
    if !had_scheme && !parsed.host_str().is_some_and(ends_with_tld) {
        return Err(invalid("Does not look like a URL (must have a scheme or end with a top-level domain)"));
    }
    Ok(url)
}

/// `^\w+://`.
fn has_scheme(s: &str) -> bool {
    let word_len = s.char_indices().find(|(_, c)| !(c.is_alphanumeric() || *c == '_')).map_or(s.len(), |(i, _)| i);
    word_len > 0 && s[word_len..].starts_with("://")
}

fn ends_with_tld(host: &str) -> bool {
    if host == "localhost" {
        return true;
    }
    let Some((_, last)) = host.rsplit_once('.') else { return false };
    let last = last.to_ascii_lowercase();
    last.starts_with("xn--") || (last.len() >= 2 && last.bytes().all(|b| b.is_ascii_lowercase()))
}

/// One provider object of `auth.config.ts`, as the Convex CLI pushes it:
/// `{type: "customJwt", issuer, jwks, algorithm, applicationID?}` or `{domain, applicationID}`.
///
/// Like Convex's `SerializedAuthInfo`, an object whose `type` is anything but `"customJwt"` is read as OIDC, and
/// unknown fields are ignored.
pub fn provider_from_convex_json(v: &serde_json::Value) -> Result<Provider, String> {
    let obj = v.as_object().ok_or_else(|| "an auth provider must be an object".to_string())?;
    let string = |field: &str| -> Result<Option<&str>, String> {
        match obj.get(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("auth provider field `{field}` must be a string")),
        }
    };
    let required = |field: &str| -> Result<&str, String> {
        string(field)?.ok_or_else(|| format!("auth provider is missing the field `{field}`"))
    };
    if obj.get("type").and_then(serde_json::Value::as_str) == Some("customJwt") {
        let algorithm = required("algorithm")?;
        let algorithm = Algorithm::parse(algorithm)
            .ok_or_else(|| format!("Invalid signature algorithm (only RS256 and ES256 are supported): {algorithm}"))?;
        let jwks = JwksSource::from_config_string(required("jwks")?)?;
        Provider::custom_jwt(required("issuer")?, jwks, algorithm, string("applicationID")?.map(str::to_string))
    } else {
        let application_id = required("applicationID")?.to_string();
        Provider::oidc(required("domain")?, application_id)
    }
}
