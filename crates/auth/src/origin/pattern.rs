//! Matching one URL against one trusted-origin entry.
//!
//! A URL is trusted by an entry when **both** Better Auth 1.4.9's `matchesOriginPattern` and 1.7.25's accept it
//! (each ported below as written in its package). 1.4.9 is the protocol we speak; 1.7 only removed holes, so the
//! conjunction keeps every 1.4.9 behaviour a client can rely on while closing what 1.7 closed:
//! * an exact custom-scheme entry (`myapp://cb`) is a prefix in 1.4.9 (`myapp://cbevil` passed); 1.7 compares
//!   scheme, authority and a `..`-resolved path;
//! * a wildcard entry made of digits, dots and wildcards (`192.168.*.*`) admits only IPv4 literals in 1.7,
//!   because `*` crosses `.` (`192.168.attacker.com` passed in 1.4.9);
//! * an `http(s)` wildcard entry is matched against the URL's origin only; 1.4.9 fell back to the raw string
//!   when the URL did not parse;
//! * a custom-scheme wildcard entry rejects URLs with user info in 1.7.
//!
//! Relative redirect targets use 1.4.9's expression only, which is stricter than 1.7's check (it also refuses
//! `#fragments`, spaces and non-ASCII).

use super::glob::Glob;
use super::url::Parsed;

/// One `trustedOrigins` entry, with its globs compiled once.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    raw: String,
    wildcard: bool,
    /// `wildcardMatch(raw)`, for wildcard entries.
    glob: Option<Glob>,
    /// The entry as 1.7 splits a custom-scheme origin (only used when the URL is not http(s)).
    custom: Option<CustomPattern>,
}

#[derive(Debug, Clone)]
struct CustomPattern {
    parts: CustomParts,
    authority_glob: Option<Glob>,
    path_glob: Option<Glob>,
}

impl Entry {
    pub(crate) fn new(raw: &str) -> Entry {
        let wildcard = raw.contains('*') || raw.contains('?');
        let custom = parse_custom_scheme_origin(raw, wildcard).map(|parts| CustomPattern {
            authority_glob: (wildcard && !parts.authority.is_empty()).then(|| Glob::new(&parts.authority)),
            path_glob: (wildcard && !parts.path.is_empty()).then(|| Glob::new(&parts.path)),
            parts,
        });
        Entry { raw: raw.to_string(), wildcard, glob: wildcard.then(|| Glob::new(raw)), custom }
    }

    pub(crate) fn raw(&self) -> &str {
        &self.raw
    }

    /// `matchesOriginPattern(url, entry, { allowRelativePaths })` of both versions.
    #[cfg(test)]
    pub(crate) fn matches(&self, url: &str, allow_relative: bool) -> bool {
        if url.starts_with('/') {
            return allow_relative && is_safe_relative_path(url);
        }
        self.matches_absolute(url, &super::url::parse(url))
    }

    /// Both versions' answer for a URL not starting with `/`, already parsed.
    pub(crate) fn matches_absolute(&self, url: &str, parsed: &Parsed) -> bool {
        self.matches_1_4_9(url, parsed) && self.matches_1_7(url, parsed)
    }

    fn glob_matches(&self, subject: &str) -> bool {
        self.glob.as_ref().is_some_and(|g| g.is_match(subject))
    }

    /// 1.4.9: wildcard entries with `://` are matched against `getOrigin(url) || url`, other wildcard entries
    /// against `URL.host`; exact entries must equal the origin for http(s) (and unparseable) URLs, and must be a
    /// prefix of the raw URL for other schemes.
    pub(super) fn matches_1_4_9(&self, url: &str, parsed: &Parsed) -> bool {
        if self.wildcard {
            if self.raw.contains("://") {
                return match parsed {
                    Parsed::Url(parts) => match parts.origin() {
                        Some(origin) => self.glob_matches(&origin),
                        None => self.glob_matches(url),
                    },
                    Parsed::Failure => self.glob_matches(url),
                    Parsed::Unsupported => false,
                };
            }
            return match parsed {
                Parsed::Url(parts) => {
                    let host = parts.host_and_port();
                    !host.is_empty() && self.glob_matches(&host)
                }
                Parsed::Failure | Parsed::Unsupported => false,
            };
        }
        match parsed {
            Parsed::Url(parts) if parts.scheme == "http" || parts.scheme == "https" => {
                parts.origin().as_deref() == Some(self.raw.as_str())
            }
            Parsed::Url(_) => url.starts_with(&self.raw),
            // `pattern === getOrigin(url)` with a null origin.
            Parsed::Failure | Parsed::Unsupported => false,
        }
    }

    /// 1.7.25's `matchesOriginPattern` for absolute URLs.
    pub(super) fn matches_1_7(&self, url: &str, parsed: &Parsed) -> bool {
        if self.wildcard && !self.raw.contains("://") {
            let host = match parsed {
                Parsed::Url(parts) => parts.host_and_port(),
                Parsed::Failure | Parsed::Unsupported => return false,
            };
            return !host.is_empty() && self.glob_matches(&host) && is_allowed_ipv4_host(&self.raw, &host);
        }
        let parts = match parsed {
            Parsed::Url(parts) => Some(parts),
            Parsed::Failure => None,
            Parsed::Unsupported => return false,
        };
        let web = parts.is_none_or(|p| p.scheme == "http" || p.scheme == "https");
        if web {
            let origin = parts.and_then(|p| p.origin());
            if !self.wildcard {
                return origin.as_deref() == Some(self.raw.as_str());
            }
            let Some(origin) = origin else {
                return false;
            };
            if !self.glob_matches(&origin) {
                return false;
            }
            return is_allowed_ipv4_host(after_scheme_separator(&self.raw), after_scheme_separator(&origin));
        }
        let (Some(url_parts), Some(pattern)) = (parse_custom_scheme_origin(url, false), &self.custom) else {
            return false;
        };
        if url_parts.scheme != pattern.parts.scheme {
            return false;
        }
        if self.wildcard {
            if url_parts.authority.contains('@') {
                return false;
            }
            if let Some(authority_glob) = &pattern.authority_glob {
                if !(authority_glob.is_match(&url_parts.authority)
                    && is_allowed_ipv4_host(&pattern.parts.authority, &url_parts.authority))
                {
                    return false;
                }
            }
            return match &pattern.path_glob {
                None => true,
                Some(path_glob) => path_glob.is_match(if url_parts.path.is_empty() { "/" } else { &url_parts.path }),
            };
        }
        if !pattern.parts.authority.is_empty() && url_parts.authority != pattern.parts.authority {
            return false;
        }
        let prefix = &pattern.parts.path;
        prefix.is_empty()
            || url_parts.path == *prefix
            || url_parts.path.strip_prefix(prefix.as_str()).is_some_and(|rest| rest.starts_with('/'))
    }
}

/// What follows the first `://` (1.7's `s.slice(s.indexOf("://") + 3)`; callers only pass strings containing it).
fn after_scheme_separator(s: &str) -> &str {
    s.find("://").map_or(s, |i| &s[i + 3..])
}

/// 1.4.9's relative redirect check: `^/(?!/|\\|%2f|%5c)[\w\-.+/@]*(?:\?[\w\-.+/=&%@]*)?$`.
pub(crate) fn is_safe_relative_path(url: &str) -> bool {
    let Some(rest) = url.strip_prefix('/') else {
        return false;
    };
    if rest.starts_with('/') || rest.starts_with('\\') || rest.starts_with("%2f") || rest.starts_with("%5c") {
        return false;
    }
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    path.bytes().all(|b| word(b) || b"-.+/@".contains(&b))
        && query.is_none_or(|q| q.bytes().all(|b| word(b) || b"-.+/=&%@".contains(&b)))
}

/// 1.7's `isAllowedIPv4Host`: an entry host made only of digits, dots and wildcards (with at least one digit)
/// names an address range, so only an IPv4 literal may match it.
fn is_allowed_ipv4_host(pattern_authority: &str, authority: &str) -> bool {
    let pattern_host = pattern_authority.split(':').next().unwrap_or("");
    let is_range = pattern_host.bytes().any(|b| b.is_ascii_digit())
        && pattern_host.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'*' | b'?' | b'.'));
    if !is_range {
        return true;
    }
    is_dotted_ipv4(authority.split(':').next().unwrap_or(""))
}

/// zod's `ipv4()`: four decimal octets 0–255 without leading zeros.
pub(crate) fn is_dotted_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// 1.7's `parseCustomSchemeOrigin`: scheme and authority lower-cased, the path percent-decoded and resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CustomParts {
    scheme: String,
    authority: String,
    path: String,
}

fn parse_custom_scheme_origin(value: &str, wildcard_pattern: bool) -> Option<CustomParts> {
    if value.chars().any(|c| c <= '\u{1f}' || ('\u{7f}'..='\u{9f}').contains(&c)) {
        return None;
    }
    let scheme_end = value.find(':').filter(|i| *i > 0)?;
    let scheme = value[..scheme_end].to_lowercase();
    let mut rest = &value[scheme_end + 1..];
    let mut authority = "";
    if let Some(after) = rest.strip_prefix("//") {
        let end = if wildcard_pattern { after.find(['/', '#']) } else { after.find(['/', '?', '#']) };
        let end = end.unwrap_or(after.len());
        authority = &after[..end];
        rest = &after[end..];
    }
    let path_end = if wildcard_pattern { rest.find('#') } else { rest.find(['?', '#']) };
    let path = normalize_path(&rest[..path_end.unwrap_or(rest.len())]);
    Some(CustomParts { scheme, authority: authority.to_lowercase(), path })
}

/// 1.7's `normalizePath`: `decodeURIComponent` (kept as is when malformed), then `.`/`..`/empty segments
/// resolved; `""` for an empty or root path.
fn normalize_path(path: &str) -> String {
    let decoded = decode_uri_component(path).unwrap_or_else(|| path.to_string());
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            ".." => {
                segments.pop();
            }
            "." | "" => {}
            s => segments.push(s),
        }
    }
    if segments.is_empty() {
        String::new()
    } else {
        format!("/{}", segments.join("/"))
    }
}

/// `decodeURIComponent`: `None` where JavaScript throws (a `%` without two hex digits, or invalid UTF-8).
fn decode_uri_component(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|b| char::from(*b).to_digit(16))?;
            let lo = bytes.get(i + 2).and_then(|b| char::from(*b).to_digit(16))?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
