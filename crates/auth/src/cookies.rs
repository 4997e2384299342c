//! Cookies exactly as Better Auth 1.4.9 names, serialises and reads them (the serialiser and parser are
//! better-call 1.1.7's, which better-auth uses): `{prefix}.{cookie}` names with `__Secure-` when secure cookies
//! are on, `Set-Cookie` attributes in one fixed order, values percent-encoded like `encodeURIComponent`, and a
//! lenient `Cookie` header parser whose quirks browsers' cookies rely on.
//!
//! Pure: no I/O and no clock (an `Expires` date, when wanted, is formatted from a given time by [`http_date`]).

use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use time::OffsetDateTime;

use crate::crypto::{sign_cookie_value, verify_signed_value, Secret};

#[cfg(test)]
mod tests;

/// Better Auth's default `advanced.cookiePrefix`.
pub const DEFAULT_PREFIX: &str = "better-auth";
/// Prepended to every cookie name when secure cookies are on.
pub const SECURE_PREFIX: &str = "__Secure-";
/// The signed session token.
pub const SESSION_TOKEN: &str = "session_token";
/// The cookie cache.
pub const SESSION_DATA: &str = "session_data";
/// The signed `true` that marks a `rememberMe: false` session.
pub const DONT_REMEMBER: &str = "dont_remember";
/// The signed OAuth state (database state strategy).
pub const STATE: &str = "state";
/// The encrypted OAuth state (cookie state strategy).
pub const OAUTH_STATE: &str = "oauth_state";
/// The encrypted account row (`account.storeAccountCookie`).
pub const ACCOUNT_DATA: &str = "account_data";
/// The largest `Max-Age` better-call accepts (400 days); it throws above, [`SetCookie`] clamps.
pub const MAX_AGE_LIMIT_SECS: u64 = 34_560_000;

/// The `SameSite` attribute, serialised capitalised (`Lax`, `Strict`, `None`) as better-call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    #[default]
    Lax,
    Strict,
    None,
}

impl SameSite {
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// How the deployment's auth cookies are named and which attributes they carry (better-auth's
/// `advanced.cookiePrefix`, `useSecureCookies`, `crossSubDomainCookies` and `defaultCookieAttributes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    /// Name prefix; empty means the default `better-auth`, as in JavaScript.
    pub prefix: String,
    /// Secure cookies: `__Secure-` name prefix and the `Secure` attribute.
    pub secure: bool,
    /// `Domain` attribute (cross-subdomain cookies).
    pub domain: Option<String>,
    pub same_site: SameSite,
    /// `Partitioned` attribute. Note that better-call does not add `Secure` for it (it sets the flag after
    /// `Secure` was written), so a browser only accepts it together with `secure`.
    pub partitioned: bool,
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig {
            prefix: DEFAULT_PREFIX.to_owned(),
            secure: false,
            domain: None,
            same_site: SameSite::Lax,
            partitioned: false,
        }
    }
}

/// The full cookie name: `{prefix}.{base}`, with `__Secure-` in front when secure cookies are on.
pub fn cookie_name(config: &CookieConfig, base: &str) -> String {
    let prefix = if config.prefix.is_empty() { DEFAULT_PREFIX } else { config.prefix.as_str() };
    let secure = if config.secure { SECURE_PREFIX } else { "" };
    format!("{secure}{prefix}.{base}")
}

/// One `Set-Cookie` header. `value` is the wire value (already percent-encoded); an empty `path` means no
/// `Path` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    pub max_age: Option<u64>,
    pub path: String,
    pub http_only: bool,
    pub secure: bool,
    pub same_site: Option<SameSite>,
    pub domain: Option<String>,
    /// An HTTP date as `Date.prototype.toUTCString()` writes it (see [`http_date`]).
    pub expires: Option<String>,
    pub partitioned: bool,
}

impl SetCookie {
    /// Serialises as better-call's `serializeCookie`, attributes in its fixed order:
    /// `name=value; Max-Age=N; Domain=D; Path=P; Expires=…; HttpOnly; Secure; SameSite=Lax; Partitioned`.
    /// A `__Secure-`/`__Host-` name forces `Secure`; `__Host-` also forces `Path=/` and drops `Domain`.
    /// `Max-Age` above 400 days, which makes better-call throw, is clamped to 400 days.
    pub fn to_header_value(&self) -> String {
        let host_only = self.name.starts_with("__Host-");
        let secure = self.secure || host_only || self.name.starts_with(SECURE_PREFIX);
        let mut out = format!("{}={}", self.name, self.value);
        if let Some(max_age) = self.max_age {
            out.push_str(&format!("; Max-Age={}", max_age.min(MAX_AGE_LIMIT_SECS)));
        }
        if let (Some(domain), false) = (&self.domain, host_only) {
            if !domain.is_empty() {
                out.push_str(&format!("; Domain={domain}"));
            }
        }
        let path = if host_only { "/" } else { self.path.as_str() };
        if !path.is_empty() {
            out.push_str(&format!("; Path={path}"));
        }
        if let Some(expires) = self.expires.as_deref().filter(|expires| !expires.is_empty()) {
            out.push_str(&format!("; Expires={expires}"));
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if secure {
            out.push_str("; Secure");
        }
        if let Some(same_site) = self.same_site {
            out.push_str(&format!("; SameSite={}", same_site.as_str()));
        }
        if self.partitioned {
            out.push_str("; Partitioned");
        }
        out
    }
}

impl fmt::Display for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header_value())
    }
}

/// The reply's cookies as one header value, as `Headers.get("set-cookie")` joins them.
pub fn join_set_cookies(cookies: &[SetCookie]) -> String {
    cookies.iter().map(SetCookie::to_header_value).collect::<Vec<_>>().join(", ")
}

/// A better-auth cookie `base` with the deployment's default attributes (`Path=/`, `HttpOnly`, `SameSite`,
/// `Secure`/`Domain`/`Partitioned` per config) and `raw_value` percent-encoded (better-call's `setCookie`).
pub fn auth_cookie(config: &CookieConfig, base: &str, raw_value: &str, max_age: Option<u64>) -> SetCookie {
    SetCookie {
        name: cookie_name(config, base),
        value: encode_uri_component(raw_value),
        max_age,
        path: "/".to_owned(),
        http_only: true,
        secure: config.secure,
        same_site: Some(config.same_site),
        domain: config.domain.clone(),
        expires: None,
        partitioned: config.partitioned,
    }
}

/// A signed better-auth cookie (better-call's `setSignedCookie`): `value.signature`, percent-encoded.
pub fn signed_cookie(
    config: &CookieConfig,
    base: &str,
    value: &str,
    secret: &Secret,
    max_age: Option<u64>,
) -> SetCookie {
    auth_cookie(config, base, &sign_cookie_value(value, secret), max_age)
}

/// The session cookie from a value signed by [`sign_cookie_value`]. `max_age` is `session.expiresIn`
/// (604800 by default), or `None` for a `rememberMe: false` session (a browser-session cookie).
pub fn session_cookie(config: &CookieConfig, signed_value: &str, max_age: Option<u64>) -> SetCookie {
    auth_cookie(config, SESSION_TOKEN, signed_value, max_age)
}

/// The `dont_remember` cookie: the signed literal `true`, no `Max-Age`.
pub fn dont_remember_cookie(config: &CookieConfig, secret: &Secret) -> SetCookie {
    signed_cookie(config, DONT_REMEMBER, "true", secret, None)
}

/// Deletes cookie `base`: same name and attributes, empty value, `Max-Age=0`.
pub fn delete_cookie(config: &CookieConfig, base: &str) -> SetCookie {
    auth_cookie(config, base, "", Some(0))
}

/// The deletion the OAuth callback emits for the state cookie: `name=; Max-Age=0` with no other attribute
/// (only the `Secure` a `__Secure-` name forces). Browsers do not remove the `Path=/` cookie with it; it
/// expires on its own. Reproduced because 1.4.9 does exactly this.
pub fn bare_delete_cookie(config: &CookieConfig, base: &str) -> SetCookie {
    SetCookie {
        name: cookie_name(config, base),
        value: String::new(),
        max_age: Some(0),
        path: String::new(),
        http_only: false,
        secure: false,
        same_site: None,
        domain: None,
        expires: None,
        partitioned: false,
    }
}

/// What sign-out, delete-user and a dead session emit, in better-auth's order: `session_token`,
/// `session_data`, `dont_remember` (the `account_data`/`oauth_state` deletions of optional features are the
/// caller's to append).
pub fn delete_session_cookies(config: &CookieConfig) -> Vec<SetCookie> {
    [SESSION_TOKEN, SESSION_DATA, DONT_REMEMBER].into_iter().map(|base| delete_cookie(config, base)).collect()
}

/// Formats seconds since the epoch as `Date.prototype.toUTCString()` (`Thu, 01 Jan 1970 00:00:00 GMT`), for
/// an `Expires` attribute. `None` outside the years the `time` crate represents.
pub fn http_date(epoch_secs: i64) -> Option<String> {
    const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let date = OffsetDateTime::from_unix_timestamp(epoch_secs).ok()?;
    Some(format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[usize::from(date.weekday().number_days_from_monday())],
        date.day(),
        MONTHS[usize::from(u8::from(date.month()) - 1)],
        date.year(),
        date.hour(),
        date.minute(),
        date.second()
    ))
}

// ---------------------------------------------------------------------------------------------------------------
// Percent-encoding
// ---------------------------------------------------------------------------------------------------------------

/// What `encodeURIComponent` escapes: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// JavaScript's `encodeURIComponent`: UTF-8 bytes of everything outside `A-Za-z0-9-_.!~*'()` as `%XX`
/// (uppercase hex).
pub fn encode_uri_component(text: &str) -> String {
    utf8_percent_encode(text, URI_COMPONENT).to_string()
}

/// JavaScript's `decodeURIComponent`: every `%` must start a two-digit hex escape and the decoded bytes must be
/// UTF-8, else `None` (where JavaScript throws `URIError`). `+` stays `+`.
pub fn decode_uri_component(text: &str) -> Option<String> {
    fn hex(c: u8) -> Option<u8> {
        char::from(c).to_digit(16).and_then(|digit| u8::try_from(digit).ok())
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let high = hex(*bytes.get(index + 1)?)?;
            let low = hex(*bytes.get(index + 2)?)?;
            out.push((high << 4) | low);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------------------------

/// JavaScript's `String.prototype.trim` set: ASCII tab/LF/VT/FF/CR/space, NBSP, BOM, line/paragraph separators
/// and the other `Zs` spaces (not U+0085, which Rust's `trim` would also strip).
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | ' '
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
            | '\u{feff}'
    )
}

fn js_trim(text: &str) -> &str {
    text.trim_matches(is_js_whitespace)
}

/// Parses a `Cookie` header as better-call's `parseCookies`, in header order with unique names:
/// * pairs are separated by `;`; a pair without `=` is skipped; the first `=` separates name and value;
/// * name and value are trimmed; the **first** occurrence of a name wins;
/// * a value starting with `"` loses its first and its last character (JavaScript's `slice(1, -1)`, so `"abc`
///   becomes `ab`);
/// * the value is percent-decoded only if it contains `%`, and kept raw if that fails.
///
/// The header text is what the HTTP layer hands over (several `Cookie` headers joined as `fetch` joins them).
pub fn parse_cookie_header(header: &str) -> Vec<(String, String)> {
    let mut cookies: Vec<(String, String)> = Vec::new();
    let mut index = 0;
    while index < header.len() {
        let Some(eq) = header[index..].find('=').map(|offset| index + offset) else {
            break;
        };
        let end = match header[index..].find(';').map(|offset| index + offset) {
            None => header.len(),
            Some(semicolon) if semicolon < eq => {
                // A pair without `=`: resume at the pair that holds this `=`.
                index = header[..eq].rfind(';').map_or(0, |position| position + 1);
                continue;
            }
            Some(semicolon) => semicolon,
        };
        let name = js_trim(&header[index..eq]);
        if !cookies.iter().any(|(existing, _)| existing == name) {
            let mut value = js_trim(&header[eq + 1..end]);
            if let Some(rest) = value.strip_prefix('"') {
                // `slice(1, -1)`: drop the opening quote and the last character, whatever it is.
                value = rest.char_indices().last().map_or("", |(last, _)| &rest[..last]);
            }
            let value = if value.contains('%') {
                decode_uri_component(value).unwrap_or_else(|| value.to_owned())
            } else {
                value.to_owned()
            };
            cookies.push((name.to_owned(), value));
        }
        index = end + 1;
    }
    cookies
}

/// The value of cookie `name` (the full name, `__Secure-` included: there is no fallback between the two
/// forms). An empty value counts as absent, as better-call's `getCookie` (`|| null`).
pub fn get_cookie<'a>(cookies: &'a [(String, String)], name: &str) -> Option<&'a str> {
    cookies
        .iter()
        .find(|(candidate, _)| candidate == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

/// Reads a signed cookie (better-call's `getSignedCookie`): the unsigned value if cookie `name` is present and
/// its signature matches; `None` when there is no header, no such cookie, an unsigned or malformed value, or a
/// wrong signature.
pub fn read_signed_cookie(cookie_header: Option<&str>, name: &str, secret: &Secret) -> Option<String> {
    let cookies = parse_cookie_header(cookie_header?);
    verify_signed_value(get_cookie(&cookies, name)?, secret)
}
