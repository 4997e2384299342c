//! Cookies and signed cookies (`auth::cookies`, `auth::crypto`), as a request's `Cookie` header reaches them.
//! Input: line 1 a `Cookie` header, line 2 a cookie name, the rest a value to sign.
//! * `parse_cookie_header` never panics, keeps the first occurrence of each name, trims names;
//! * `read_signed_cookie` accepts only what `sign_cookie_value` produced with the secret: whatever it returns
//!   re-signs to the cookie's value;
//! * sign∘verify = id for every non-empty value, through the percent-encoding a `Set-Cookie` header uses, and
//!   `decodeURIComponent(encodeURIComponent(s)) = s`.
#![no_main]

use auth::cookies::{decode_uri_component, encode_uri_component, get_cookie, parse_cookie_header, read_signed_cookie};
use auth::crypto::{sign_cookie_value, verify_signed_value, Secret};
use authvex_fuzz::lines;
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "a-secret-of-at-least-32-characters-long";

fuzz_target!(|data: &[u8]| {
    let secret = Secret::new(SECRET.into());
    let Some((fields, rest)) = lines(data, 2) else { return };
    let (Ok(header), Ok(name), Ok(value)) =
        (std::str::from_utf8(fields[0]), std::str::from_utf8(fields[1]), std::str::from_utf8(rest))
    else {
        return;
    };

    let cookies = parse_cookie_header(header);
    for (i, (cookie_name, _)) in cookies.iter().enumerate() {
        assert!(!cookies[..i].iter().any(|(earlier, _)| earlier == cookie_name), "duplicate cookie {cookie_name:?}");
        assert!(!cookie_name.contains(';') && !cookie_name.contains('='), "cookie name {cookie_name:?}");
    }
    if let Some(unsigned) = read_signed_cookie(Some(header), name, &secret) {
        let raw = get_cookie(&cookies, name);
        assert_eq!(raw, Some(sign_cookie_value(&unsigned, &secret).as_str()), "a signed cookie that was not signed");
    }
    let _ = verify_signed_value(header, &secret);
    let _ = decode_uri_component(header);

    assert_eq!(decode_uri_component(&encode_uri_component(value)).as_deref(), Some(value));
    let signed = sign_cookie_value(value, &secret);
    let verified = verify_signed_value(&signed, &secret);
    if value.is_empty() {
        assert_eq!(verified, None, "an empty value never verifies (better-call)");
    } else {
        assert_eq!(verified.as_deref(), Some(value), "verify(sign(v)) != v");
        assert_eq!(verify_signed_value(&signed, &Secret::new(format!("{SECRET}!"))), None, "another secret verified");
    }
    // Through a Cookie header as a browser sends it back (names that better-call reads back unchanged).
    let plain_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if plain_name && !value.is_empty() {
        let header = format!("{name}={}; {header}", encode_uri_component(&signed));
        assert_eq!(read_signed_cookie(Some(&header), name, &secret).as_deref(), Some(value));
    }
});
