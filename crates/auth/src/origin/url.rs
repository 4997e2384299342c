//! The part of the WHATWG URL parser that Better Auth's origin checks read: what `new URL(s)` gives as
//! `protocol`, `host` and `origin`, or whether it throws.
//!
//! Better Auth decides trust from `new URL(url).origin` / `.host` / `.protocol`, and a browser follows a redirect
//! by the same parser, so for the URLs an attacker controls this must agree with the URL Standard: never a
//! different origin than a browser would compute. Where full agreement would need Unicode tables (IDNA/UTS #46
//! mapping of non-ASCII host names) or schemes with their own rules (`file:`, `blob:`), the parser answers
//! [`Parsed::Unsupported`] and callers treat the URL as untrusted: stricter than Better Auth, never looser.
//!
//! Covered exactly: input trimming and tab/newline removal, scheme syntax, special-scheme slash/backslash
//! handling, user info, ports (digits only, ≤ 65535, default ports dropped), percent-decoding of ASCII hosts,
//! lower-casing, forbidden host/domain code points, the IPv4 number forms (`0x7f.1`, `017700000001`, …),
//! bracketed IPv6 with its canonical serialisation, opaque hosts of non-special schemes (`myapp://Host`), and
//! `xn--` labels (Punycode-decoded and checked for NFC; see [`check_punycode_label`] for what is not checked).

use std::net::Ipv6Addr;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{is_nfc, UnicodeNormalization};

/// The result of parsing an absolute URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    Url(UrlParts),
    /// `new URL(s)` throws.
    Failure,
    /// Outside what this parser reproduces exactly; treat as untrusted.
    Unsupported,
}

/// What Better Auth reads from a parsed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlParts {
    /// Lower-case, without the `:`.
    pub scheme: String,
    /// The serialised host (`example.com`, `127.0.0.1`, `[::1]`, an opaque host); `None` when the URL has none.
    pub host: Option<String>,
    /// `None` when absent or the scheme's default.
    pub port: Option<u16>,
}

impl UrlParts {
    fn is_special(&self) -> bool {
        default_port(&self.scheme).is_some()
    }

    /// `URL.host`: host and port, `""` when the URL has no host.
    pub fn host_and_port(&self) -> String {
        match (&self.host, self.port) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.clone(),
            (None, _) => String::new(),
        }
    }

    /// `URL.origin` unless it is the opaque `"null"` (every non-special scheme).
    pub fn origin(&self) -> Option<String> {
        if !self.is_special() {
            return None;
        }
        Some(format!("{}://{}", self.scheme, self.host_and_port()))
    }
}

/// Default ports of the special schemes other than `file` (which this parser does not support).
fn default_port(scheme: &str) -> Option<Option<u16>> {
    match scheme {
        "http" | "ws" => Some(Some(80)),
        "https" | "wss" => Some(Some(443)),
        "ftp" => Some(Some(21)),
        _ => None,
    }
}

/// Parses `input` as `new URL(input)` does (no base URL).
pub(crate) fn parse(input: &str) -> Parsed {
    // Strip leading and trailing C0 control or space, then remove every ASCII tab or newline.
    let trimmed = input.trim_matches(|c: char| c <= ' ');
    let cleaned: String = trimmed.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    let Some((scheme, rest)) = split_scheme(&cleaned) else {
        return Parsed::Failure;
    };
    match scheme.as_str() {
        "http" | "https" | "ws" | "wss" | "ftp" => parse_special(scheme, rest),
        // `file:` hosts and `blob:` origins follow their own rules; Better Auth's users never need them trusted.
        "file" | "blob" => Parsed::Unsupported,
        _ => parse_non_special(scheme, rest),
    }
}

/// `scheme ":" rest` with the scheme's syntax checked (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )).
fn split_scheme(input: &str) -> Option<(String, &str)> {
    let colon = input.find(':')?;
    let scheme = &input[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic() || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return None;
    }
    Some((scheme.to_ascii_lowercase(), &input[colon + 1..]))
}

fn parse_special(scheme: String, rest: &str) -> Parsed {
    // Any run of `/` and `\` after the scheme is skipped ("special authority ignore slashes state").
    let rest = rest.trim_start_matches(['/', '\\']);
    let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let Some(host_port) = after_user_info(&rest[..end]) else {
        return Parsed::Failure;
    };
    let Some((host, port)) = split_host_port(host_port) else {
        return Parsed::Failure;
    };
    if host.is_empty() {
        return Parsed::Failure;
    }
    let port = match port.map(parse_port) {
        None => None,
        Some(None) => return Parsed::Failure,
        Some(Some(port)) => port,
    };
    let port = if default_port(&scheme) == Some(port) { None } else { port };
    match parse_special_host(host) {
        Ok(host) => Parsed::Url(UrlParts { scheme, host: Some(host), port }),
        Err(HostError::Failure) => Parsed::Failure,
        Err(HostError::Unsupported) => Parsed::Unsupported,
    }
}

fn parse_non_special(scheme: String, rest: &str) -> Parsed {
    let Some(after) = rest.strip_prefix("//") else {
        // A path or an opaque path (`javascript:…`, `myapp:/x`): no host, and nothing here can fail.
        return Parsed::Url(UrlParts { scheme, host: None, port: None });
    };
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let Some(host_port) = after_user_info(&after[..end]) else {
        return Parsed::Failure;
    };
    let Some((host, port)) = split_host_port(host_port) else {
        return Parsed::Failure;
    };
    let port = match port.map(parse_port) {
        None => None,
        Some(None) => return Parsed::Failure,
        Some(Some(port)) => port,
    };
    match parse_opaque_host(host) {
        Some(host) => Parsed::Url(UrlParts { scheme, host: Some(host), port }),
        None => Parsed::Failure,
    }
}

/// The authority after its last `@`; `None` (failure) when an `@` is followed by nothing.
fn after_user_info(authority: &str) -> Option<&str> {
    match authority.rfind('@') {
        Some(at) if at + 1 == authority.len() => None,
        Some(at) => Some(&authority[at + 1..]),
        None => Some(authority),
    }
}

/// Splits at the first `:` outside `[...]`; `None` (failure) when that `:` has no host before it.
fn split_host_port(input: &str) -> Option<(&str, Option<&str>)> {
    let mut inside_brackets = false;
    for (i, c) in input.char_indices() {
        match c {
            '[' => inside_brackets = true,
            ']' => inside_brackets = false,
            ':' if !inside_brackets => {
                if i == 0 {
                    return None;
                }
                return Some((&input[..i], Some(&input[i + 1..])));
            }
            _ => {}
        }
    }
    Some((input, None))
}

/// `None` = failure; `Some(None)` = no port (empty).
fn parse_port(input: &str) -> Option<Option<u16>> {
    if input.is_empty() {
        return Some(None);
    }
    let mut value: u32 = 0;
    for b in input.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
        if value > u32::from(u16::MAX) {
            return None;
        }
    }
    u16::try_from(value).ok().map(Some)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostError {
    Failure,
    Unsupported,
}

/// The host parser for special schemes (domain to ASCII, IPv4, IPv6).
fn parse_special_host(input: &str) -> Result<String, HostError> {
    if let Some(inner) = input.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(HostError::Failure)?;
        return parse_ipv6(inner).map(|a| format!("[{}]", serialize_ipv6(a))).ok_or(HostError::Failure);
    }
    let bytes = percent_decode(input.as_bytes());
    if !bytes.is_ascii() {
        // Needs UTS #46 mapping (e.g. `ｅｘａｍｐｌｅ.com`, `münchen.de`): refuse rather than guess.
        return Err(HostError::Unsupported);
    }
    let mut domain = String::with_capacity(bytes.len());
    domain.extend(bytes.iter().map(|b| char::from(b.to_ascii_lowercase())));
    for label in domain.split('.') {
        if let Some(encoded) = label.strip_prefix("xn--") {
            // Runtimes disagree here (Node accepts `xn--a-`, which UTS #46 rejects): refuse, whichever way.
            check_punycode_label(encoded).map_err(|_| HostError::Unsupported)?;
        }
    }
    if domain.is_empty() || domain.chars().any(is_forbidden_domain_code_point) {
        return Err(HostError::Failure);
    }
    if ends_in_a_number(&domain) {
        return parse_ipv4(&domain).ok_or(HostError::Failure);
    }
    Ok(domain)
}

/// What UTS #46 (as the URL Standard runs it) requires of an `xn--` label, approximated from the safe side
/// without its tables: the rest must be valid Punycode and decode to a non-empty NFC label with at least one
/// non-ASCII character; its ASCII must be lower-case letters, digits and `-`; every other character must be a
/// letter or digit (or a combining mark, not first), unchanged by lower-casing and by NFKC (so not "mapped"),
/// and not a joiner. This refuses some labels browsers accept (emoji domains), never the common IDNs.
fn check_punycode_label(encoded: &str) -> Result<(), HostError> {
    let decoded = punycode_decode(encoded).ok_or(HostError::Failure)?;
    if decoded.is_empty() || decoded.iter().all(char::is_ascii) {
        return Err(HostError::Failure);
    }
    for (i, c) in decoded.iter().enumerate() {
        let valid = if c.is_ascii() {
            c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'
        } else {
            let mut one = [0u8; 4];
            let one = &*c.encode_utf8(&mut one);
            (c.is_alphanumeric() || (i > 0 && is_combining_mark(*c)))
                && !matches!(c, '\u{200c}' | '\u{200d}')
                && c.to_lowercase().eq(std::iter::once(*c))
                && one.nfkc().eq(one.chars())
        };
        if !valid {
            return Err(HostError::Failure);
        }
    }
    if !is_nfc(&decoded.iter().collect::<String>()) {
        return Err(HostError::Failure);
    }
    Ok(())
}

/// Forbidden host code points (also forbidden in opaque hosts).
fn is_forbidden_host_code_point(c: char) -> bool {
    matches!(
        c,
        '\0' | '\t' | '\n' | '\r' | ' ' | '#' | '/' | ':' | '<' | '>' | '?' | '@' | '[' | '\\' | ']' | '^' | '|'
    )
}

fn is_forbidden_domain_code_point(c: char) -> bool {
    is_forbidden_host_code_point(c) || c.is_ascii_control() || c == '%'
}

/// `%XX` sequences decoded; a `%` not followed by two hex digits stays as it is.
fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        let hi = input.get(i + 1).and_then(|b| hex_value(*b));
        let lo = input.get(i + 2).and_then(|b| hex_value(*b));
        match (b, hi, lo) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The opaque-host parser of non-special schemes: brackets mean IPv6, forbidden host code points fail, the rest
/// is kept as written (case included) with controls and non-ASCII percent-encoded.
fn parse_opaque_host(input: &str) -> Option<String> {
    if let Some(inner) = input.strip_prefix('[') {
        let inner = inner.strip_suffix(']')?;
        return parse_ipv6(inner).map(|a| format!("[{}]", serialize_ipv6(a)));
    }
    if input.chars().any(is_forbidden_host_code_point) {
        return None;
    }
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Some(out)
}

/// The URL Standard's "ends in a number" check.
fn ends_in_a_number(domain: &str) -> bool {
    let mut parts: Vec<&str> = domain.split('.').collect();
    if parts.last() == Some(&"") {
        if parts.len() == 1 {
            return false;
        }
        parts.pop();
    }
    let Some(last) = parts.last() else {
        return false;
    };
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    parse_ipv4_number(last).is_some()
}

/// The URL Standard's IPv4 number parser: decimal, `0x` hex or leading-zero octal; `None` on failure.
fn parse_ipv4_number(input: &str) -> Option<u64> {
    if input.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(hex) = input.strip_prefix("0x").or_else(|| input.strip_prefix("0X")) {
        (hex, 16)
    } else if input.len() >= 2 && input.starts_with('0') {
        (&input[1..], 8)
    } else {
        (input, 10)
    };
    if digits.is_empty() {
        return Some(0);
    }
    let mut value: u64 = 0;
    for c in digits.chars() {
        let d = u64::from(c.to_digit(radix)?);
        // Saturate: anything this large fails the range checks of the caller anyway.
        value = value.saturating_mul(u64::from(radix)).saturating_add(d);
    }
    Some(value)
}

/// The URL Standard's IPv4 parser, serialised as dotted decimal.
fn parse_ipv4(input: &str) -> Option<String> {
    let mut parts: Vec<&str> = input.split('.').collect();
    if parts.last() == Some(&"") && parts.len() > 1 {
        parts.pop();
    }
    if parts.len() > 4 {
        return None;
    }
    let numbers: Vec<u64> = parts.iter().map(|p| parse_ipv4_number(p)).collect::<Option<_>>()?;
    let (last, init) = numbers.split_last()?;
    if init.iter().any(|n| *n > 255) {
        return None;
    }
    let limit = 256u64.pow(5 - numbers.len() as u32);
    if *last >= limit {
        return None;
    }
    let mut address = *last;
    for (i, n) in init.iter().enumerate() {
        address += n * 256u64.pow(3 - i as u32);
    }
    let [a, b, c, d] = u32::try_from(address).ok()?.to_be_bytes();
    Some(format!("{a}.{b}.{c}.{d}"))
}

fn parse_ipv6(input: &str) -> Option<Ipv6Addr> {
    input.parse().ok()
}

/// The URL Standard's IPv6 serialisation: lower-case hex pieces, the first longest run of two or more zero
/// pieces written `::`, never the dotted IPv4 tail that `Ipv6Addr`'s `Display` uses.
pub(crate) fn serialize_ipv6(address: Ipv6Addr) -> String {
    let pieces = address.segments();
    let mut compress: Option<usize> = None;
    let mut best = 1;
    let mut i = 0;
    while i < 8 {
        if pieces[i] == 0 {
            let start = i;
            while i < 8 && pieces[i] == 0 {
                i += 1;
            }
            if i - start > best {
                best = i - start;
                compress = Some(start);
            }
        } else {
            i += 1;
        }
    }
    let mut out = String::new();
    let mut ignore_zero = false;
    for (i, piece) in pieces.iter().enumerate() {
        if ignore_zero && *piece == 0 {
            continue;
        }
        ignore_zero = false;
        if compress == Some(i) {
            out.push_str(if i == 0 { "::" } else { ":" });
            ignore_zero = true;
            continue;
        }
        out.push_str(&format!("{piece:x}"));
        if i != 7 {
            out.push(':');
        }
    }
    out
}

/// RFC 3492 Punycode decoding (the part of a label after `xn--`); `None` when invalid.
fn punycode_decode(input: &str) -> Option<Vec<char>> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    const INITIAL_BIAS: u32 = 72;
    const INITIAL_N: u32 = 128;

    let (basic, encoded) = match input.rfind('-') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => ("", input),
    };
    if !basic.is_ascii() {
        return None;
    }
    let mut output: Vec<char> = basic.chars().collect();
    let mut n = INITIAL_N;
    let mut i: u32 = 0;
    let mut bias = INITIAL_BIAS;
    let mut bytes = encoded.bytes().peekable();
    while bytes.peek().is_some() {
        let old_i = i;
        let mut weight: u32 = 1;
        let mut k = BASE;
        loop {
            let digit = match bytes.next()? {
                b @ b'a'..=b'z' => u32::from(b - b'a'),
                b @ b'A'..=b'Z' => u32::from(b - b'A'),
                b @ b'0'..=b'9' => u32::from(b - b'0') + 26,
                _ => return None,
            };
            i = i.checked_add(digit.checked_mul(weight)?)?;
            let t = if k <= bias {
                T_MIN
            } else if k >= bias + T_MAX {
                T_MAX
            } else {
                k - bias
            };
            if digit < t {
                break;
            }
            weight = weight.checked_mul(BASE - t)?;
            k += BASE;
        }
        let length = u32::try_from(output.len()).ok()? + 1;
        bias = punycode_adapt(i - old_i, length, old_i == 0);
        n = n.checked_add(i / length)?;
        i %= length;
        output.insert(usize::try_from(i).ok()?, char::from_u32(n)?);
        i += 1;
    }
    Some(output)
}

fn punycode_adapt(delta: u32, points: u32, first: bool) -> u32 {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    const SKEW: u32 = 38;
    const DAMP: u32 = 700;
    let mut delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

#[cfg(test)]
pub(crate) fn punycode_decode_for_tests(input: &str) -> Option<String> {
    punycode_decode(input).map(|chars| chars.into_iter().collect())
}
