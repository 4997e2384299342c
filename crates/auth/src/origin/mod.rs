//! Origin and CSRF checks, and redirect-target validation: Better Auth 1.4.9's `originCheckMiddleware`, plus
//! better-auth 1.7's Fetch-Metadata "form CSRF" rule for sign-in/sign-up and 1.7's stricter origin matching.
//!
//! Pure: the caller extracts [`RequestFacts`] from the request and maps an [`OriginError`] to the response
//! (`403` with `{"code", "message"}`).
//!
//! # Trusted origins
//! [`TrustedOrigins`] = the origin of the base URL (`SITE_URL`) + the configured `trustedOrigins` entries. An entry
//! is an exact origin (`https://app.example.com`, never with a trailing slash), a custom-scheme prefix
//! (`myapp://`, `exp://192.168.1.5:8081`), or a wildcard pattern: with `://` it is matched against the URL's
//! origin (`https://*.example.com`), without it against the URL's `host:port` (`*.example.com`,
//! `*.example.com:*`). `*` matches any characters but `/` and `\` (so it crosses `.`), `?` one. The exact rules,
//! and where they are stricter than 1.4.9, are in `pattern.rs`.
//!
//! # Checks on a state-changing request ([`check_request`])
//! Every method but `GET`, `HEAD` and `OPTIONS`, unless the CSRF check is disabled ([`CsrfCheck::Disabled`],
//! Better Auth's `advanced.disableCSRFCheck`/`disableOriginCheck`):
//! 1. **With a `Cookie` header** (any cookie; 1.4.9): the `Origin` header, else the `Referer`, must be present,
//!    not `null` (→ 403 `MISSING_OR_NULL_ORIGIN` "Missing or null Origin") and trusted (→ 403 `INVALID_ORIGIN`
//!    "Invalid origin"; a `Referer` is compared by its origin). 1.7 addition: `Origin: null` together with
//!    `Sec-Fetch-Site: same-origin` is judged by the request's own origin ([`RequestFacts::request_origin`]),
//!    which a browser cannot forge.
//! 2. **Without cookies, on a login endpoint** ([`CsrfScope::Login`]: sign-in/sign-up; 1.7's
//!    `formCsrfMiddleware`, which closes 1.4.9's gap where a cookieless cross-site POST signs the victim's
//!    browser into the attacker's account): if any `Sec-Fetch-Site`/`-Mode`/`-Dest` header is non-blank, then
//!    `Sec-Fetch-Site: cross-site` with `Sec-Fetch-Mode: navigate` (a cross-site form submission or top-level
//!    navigation) → 403 `CROSS_SITE_NAVIGATION_LOGIN_BLOCKED`, and anything else must pass check 1 as if it had
//!    cookies; without Fetch-Metadata, an `Origin` or `Referer` that is present must pass check 1; a request
//!    with none of these headers (not a browser: mobile apps, servers) passes.
//! 3. Otherwise (no cookies, any other endpoint) the request passes, as in both versions.
//!
//! # Redirect targets ([`validate_callback_url`])
//! Always checked, also without cookies and with the CSRF check disabled (1.4.9): `callbackURL`, `redirectTo`,
//! `errorCallbackURL`, `newUserCallbackURL` (in that order, after the origin check). Empty values are skipped. A
//! value is accepted when it is a safe relative path (`/dashboard`, `/a/b?x=1&y=%20z`; not `//evil.com`,
//! `/\evil.com`, `/%2fevil.com`, `/a#frag`, spaces, non-ASCII) or an absolute URL that a trusted entry matches.
//! Failure → 403 with 1.4.9's codes, which it derives from the message: `INVALID_CALLBACKURL` "Invalid
//! callbackURL", `INVALID_REDIRECTURL` "Invalid redirectURL", `INVALID_ERRORCALLBACKURL` "Invalid
//! errorCallbackURL", `INVALID_NEWUSERCALLBACKURL` "Invalid newUserCallbackURL" (1.7 renamed the codes to
//! `INVALID_CALLBACK_URL`, `INVALID_REDIRECT_URL`, `INVALID_ERROR_CALLBACK_URL`, `INVALID_NEW_USER_CALLBACK_URL`
//! with the same messages).

mod glob;
mod pattern;
mod url;

#[cfg(test)]
mod oracle;
#[cfg(test)]
mod tests;

pub(crate) use glob::Glob;

use http::{header, HeaderMap, Method};

use pattern::Entry;
use protocol::ErrorCode;

/// A rejected request or redirect target: a 403 code with Better Auth's `{"code", "message"}` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct OriginError {
    pub code: ErrorCode,
    pub message: String,
}

impl OriginError {
    fn forbidden(code: ErrorCode) -> OriginError {
        OriginError { code, message: code.default_message().to_string() }
    }

    fn missing_or_null_origin() -> OriginError {
        OriginError::forbidden(ErrorCode::MISSING_OR_NULL_ORIGIN)
    }

    fn invalid_origin() -> OriginError {
        OriginError::forbidden(ErrorCode::INVALID_ORIGIN)
    }

    fn cross_site_navigation() -> OriginError {
        OriginError::forbidden(ErrorCode::CROSS_SITE_NAVIGATION_LOGIN_BLOCKED)
    }

    /// The HTTP status (403 for every error here).
    pub fn status(&self) -> u16 {
        self.code.status()
    }
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustedOriginsError {
    #[error("invalid base url {0:?}: must be an absolute http or https url")]
    InvalidBaseUrl(String),
    /// Better Auth: "A provided trusted origin is invalid, make sure your trusted origins list is properly
    /// defined."
    #[error("a trusted origin entry is empty")]
    EmptyEntry,
}

/// Whether the Cookie/Origin part of the checks runs. Redirect targets are validated either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsrfCheck {
    #[default]
    Enabled,
    /// Better Auth's `advanced.disableCSRFCheck` (and `disableOriginCheck`, on by default under `NODE_ENV=test`).
    Disabled,
}

/// Whether relative paths count as trusted (redirect targets) or not (`Origin` headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelativePaths {
    Allowed,
    Rejected,
}

/// The base URL's origin and the configured `trustedOrigins`, compiled.
#[derive(Debug, Clone)]
pub struct TrustedOrigins {
    entries: Vec<Entry>,
    csrf: CsrfCheck,
}

impl TrustedOrigins {
    /// `base_url` (e.g. `http://localhost:3000`, a path is ignored) contributes its origin; `entries` are used as
    /// written (Better Auth neither trims nor normalises them; an empty one is an error, like Better Auth's).
    pub fn new<S: AsRef<str>>(base_url: &str, entries: &[S]) -> Result<TrustedOrigins, TrustedOriginsError> {
        let base = match url::parse(base_url) {
            url::Parsed::Url(parts) if parts.scheme == "http" || parts.scheme == "https" => parts.origin(),
            _ => None,
        };
        let base = base.ok_or_else(|| TrustedOriginsError::InvalidBaseUrl(base_url.to_string()))?;
        let mut compiled = vec![Entry::new(&base)];
        for entry in entries {
            let entry = entry.as_ref();
            if entry.is_empty() {
                return Err(TrustedOriginsError::EmptyEntry);
            }
            compiled.push(Entry::new(entry));
        }
        Ok(TrustedOrigins { entries: compiled, csrf: CsrfCheck::Enabled })
    }

    /// Turns the Cookie/Origin checks off (tests, or a deployment that handles CSRF itself).
    pub fn with_csrf_check(mut self, csrf: CsrfCheck) -> TrustedOrigins {
        self.csrf = csrf;
        self
    }

    pub fn csrf_check(&self) -> CsrfCheck {
        self.csrf
    }

    /// The entries in order, the base URL's origin first.
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(Entry::raw)
    }

    /// Better Auth's `ctx.isTrustedOrigin(url, { allowRelativePaths })`.
    pub fn is_trusted(&self, url: &str, relative: RelativePaths) -> bool {
        if url.starts_with('/') {
            // Relative paths do not depend on the entries (as long as there is one, which the base URL is).
            return relative == RelativePaths::Allowed && pattern::is_safe_relative_path(url);
        }
        let parsed = url::parse(url);
        self.entries.iter().any(|entry| entry.matches_absolute(url, &parsed))
    }

    /// Whether an `Origin` header value is trusted (relative paths never are), e.g. for CORS.
    pub fn matches(&self, origin: &str) -> bool {
        self.is_trusted(origin, RelativePaths::Rejected)
    }
}

/// Which CSRF rules an endpoint gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsrfScope {
    /// The cookie-based origin check only.
    #[default]
    Default,
    /// Endpoints that create a session from credentials (sign-in, sign-up): also the Fetch-Metadata rule for
    /// requests without cookies. See [`CsrfScope::for_path`].
    Login,
}

impl CsrfScope {
    /// 1.7 puts its `formCsrfMiddleware` on `/sign-in/email`, `/sign-up/email`, `/sign-in/magic-link` and
    /// `/email-otp/send-verification-otp`; here every `/sign-in…` and `/sign-up…` path gets it, as the rule only
    /// refuses what a legitimate browser client never sends.
    pub fn for_path(path: &str) -> CsrfScope {
        if path.starts_with("/sign-in") || path.starts_with("/sign-up") || path == "/email-otp/send-verification-otp" {
            CsrfScope::Login
        } else {
            CsrfScope::Default
        }
    }
}

/// Stands in for a header value that is not visible ASCII, or that appears more than once: present, and never
/// trusted (Fetch would join repeated values with `", "`, which no origin matches either).
pub const UNREADABLE_HEADER: &str = "\u{fffd}";

/// What the checks read from a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFacts<'a> {
    /// As sent; only exactly `GET`, `HEAD` and `OPTIONS` are exempt.
    pub method: &'a str,
    pub origin: Option<&'a str>,
    pub referer: Option<&'a str>,
    /// Whether a `Cookie` header is present at all (Better Auth: `headers.has("cookie")`), before any bearer
    /// token is turned into a cookie.
    pub cookie_present: bool,
    pub sec_fetch_site: Option<&'a str>,
    pub sec_fetch_mode: Option<&'a str>,
    pub sec_fetch_dest: Option<&'a str>,
    /// The origin this request was addressed to (scheme and `Host`), used only for 1.7's `Origin: null` +
    /// `Sec-Fetch-Site: same-origin` rule; `None` rejects `Origin: null` as 1.4.9 does.
    pub request_origin: Option<&'a str>,
    pub scope: CsrfScope,
}

impl<'a> RequestFacts<'a> {
    /// Reads the headers; `scope` and `request_origin` are left at their defaults for the caller to set.
    pub fn from_headers(method: &'a Method, headers: &'a HeaderMap) -> RequestFacts<'a> {
        RequestFacts {
            method: method.as_str(),
            origin: single_header(headers, header::ORIGIN.as_str()),
            referer: single_header(headers, header::REFERER.as_str()),
            cookie_present: headers.contains_key(header::COOKIE),
            sec_fetch_site: single_header(headers, "sec-fetch-site"),
            sec_fetch_mode: single_header(headers, "sec-fetch-mode"),
            sec_fetch_dest: single_header(headers, "sec-fetch-dest"),
            request_origin: None,
            scope: CsrfScope::Default,
        }
    }
}

fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some(UNREADABLE_HEADER);
    }
    Some(first.to_str().unwrap_or(UNREADABLE_HEADER))
}

/// The origin/CSRF checks for one request (see the module documentation for the rules).
pub fn check_request(req: &RequestFacts<'_>, trusted: &TrustedOrigins) -> Result<(), OriginError> {
    if matches!(req.method, "GET" | "HEAD" | "OPTIONS") || trusted.csrf == CsrfCheck::Disabled {
        return Ok(());
    }
    if req.cookie_present {
        return validate_origin(req, trusted);
    }
    if req.scope != CsrfScope::Login {
        return Ok(());
    }
    let non_blank = |v: Option<&str>| v.is_some_and(|v| !v.trim().is_empty());
    if non_blank(req.sec_fetch_site) || non_blank(req.sec_fetch_mode) || non_blank(req.sec_fetch_dest) {
        if req.sec_fetch_site == Some("cross-site") && req.sec_fetch_mode == Some("navigate") {
            return Err(OriginError::cross_site_navigation());
        }
        return validate_origin(req, trusted);
    }
    if non_empty(req.origin).is_some() || non_empty(req.referer).is_some() {
        return validate_origin(req, trusted);
    }
    Ok(())
}

fn non_empty(v: Option<&str>) -> Option<&str> {
    v.filter(|v| !v.is_empty())
}

/// `Origin || Referer` must be present, not `null`, and trusted.
fn validate_origin(req: &RequestFacts<'_>, trusted: &TrustedOrigins) -> Result<(), OriginError> {
    let inferred = if req.origin == Some("null") && req.sec_fetch_site == Some("same-origin") {
        req.request_origin.and_then(|o| match url::parse(o) {
            url::Parsed::Url(parts) => parts.origin(),
            _ => None,
        })
    } else {
        None
    };
    let source = inferred.as_deref().or(non_empty(req.origin)).or(non_empty(req.referer));
    let source = match source {
        None | Some("null") => return Err(OriginError::missing_or_null_origin()),
        Some(source) => source,
    };
    if !trusted.is_trusted(source, RelativePaths::Rejected) {
        tracing::info!(origin = source, "rejected a request from an untrusted origin");
        return Err(OriginError::invalid_origin());
    }
    Ok(())
}

/// The request fields that name a redirect target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackKind {
    /// `callbackURL` (body or query).
    Callback,
    /// Body `redirectTo` (Better Auth's label: `redirectURL`).
    Redirect,
    /// `errorCallbackURL`.
    ErrorCallback,
    /// `newUserCallbackURL`.
    NewUserCallback,
}

impl CallbackKind {
    /// Better Auth's label, used in the message.
    pub fn label(self) -> &'static str {
        match self {
            CallbackKind::Callback => "callbackURL",
            CallbackKind::Redirect => "redirectURL",
            CallbackKind::ErrorCallback => "errorCallbackURL",
            CallbackKind::NewUserCallback => "newUserCallbackURL",
        }
    }

    /// 1.4.9's wire code (the message upper-cased with spaces as `_`).
    pub fn code(self) -> ErrorCode {
        match self {
            CallbackKind::Callback => ErrorCode::INVALID_CALLBACKURL,
            CallbackKind::Redirect => ErrorCode::INVALID_REDIRECTURL,
            CallbackKind::ErrorCallback => ErrorCode::INVALID_ERRORCALLBACKURL,
            CallbackKind::NewUserCallback => ErrorCode::INVALID_NEWUSERCALLBACKURL,
        }
    }
}

/// Validates a redirect target (see the module documentation). An empty value passes: Better Auth skips it.
pub fn validate_callback_url(url: &str, trusted: &TrustedOrigins, kind: CallbackKind) -> Result<(), OriginError> {
    if url.is_empty() || trusted.is_trusted(url, RelativePaths::Allowed) {
        return Ok(());
    }
    tracing::info!(field = kind.label(), url, "rejected an untrusted redirect target");
    Err(OriginError { code: kind.code(), message: format!("Invalid {}", kind.label()) })
}
