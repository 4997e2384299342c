//! Origin/CSRF checks and redirect-target validation (`auth::origin`), including its WHATWG URL parser and the
//! wildcard patterns of `trustedOrigins`. Input, one per line: the base URL, the trusted entries separated by
//! tabs, a URL to judge (a callback URL or an `Origin` header), then request headers as the HTTP layer hands them
//! over (`name: value`: `origin`, `referer`, `cookie`, `sec-fetch-*`, `host`) after a method line.
//!
//! Nothing panics; an origin trusted without relative paths is trusted with them; a relative path is never a
//! trusted origin; a URL the base origin starts is trusted whenever the base URL is a plain `http(s)://host`.
#![no_main]

use auth::origin::{
    check_request, validate_callback_url, CallbackKind, CsrfCheck, CsrfScope, RelativePaths, RequestFacts,
    TrustedOrigins,
};
use authvex_fuzz::{lines, RawRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((fields, request)) = lines(data, 3) else { return };
    let (Ok(base_url), Ok(entries), Ok(url)) =
        (std::str::from_utf8(fields[0]), std::str::from_utf8(fields[1]), std::str::from_utf8(fields[2]))
    else {
        return;
    };
    let entries: Vec<&str> = if entries.is_empty() { Vec::new() } else { entries.split('\t').collect() };
    let Ok(trusted) = TrustedOrigins::new(base_url, &entries) else { return };

    let strict = trusted.is_trusted(url, RelativePaths::Rejected);
    let lenient = trusted.is_trusted(url, RelativePaths::Allowed);
    assert!(!strict || lenient, "trusted as an origin but not as a redirect target: {url:?}");
    assert_eq!(trusted.matches(url), strict);
    if url.starts_with('/') {
        assert!(!strict, "a relative path matched as an origin: {url:?}");
    }
    for kind in
        [CallbackKind::Callback, CallbackKind::Redirect, CallbackKind::ErrorCallback, CallbackKind::NewUserCallback]
    {
        let verdict = validate_callback_url(url, &trusted, kind);
        assert_eq!(verdict.is_ok(), url.is_empty() || lenient, "validate_callback_url disagrees with is_trusted");
        if let Err(e) = verdict {
            assert_eq!(e.status(), 403);
        }
    }
    // A plain base URL trusts its own origin.
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if let Some(host) = base_url.strip_prefix("https://").or_else(|| base_url.strip_prefix("http://")) {
        if !host.is_empty() && plain(host) && host.bytes().any(|b| b.is_ascii_lowercase()) && !host.contains("..") {
            let origin = &base_url[..base_url.len()];
            assert!(trusted.matches(origin), "the base URL's own origin is not trusted: {origin:?}");
        }
    }

    let Some(raw) = RawRequest::parse(request) else { return };
    for csrf in [CsrfCheck::Enabled, CsrfCheck::Disabled] {
        let trusted = trusted.clone().with_csrf_check(csrf);
        for scope in [CsrfScope::Default, CsrfScope::Login, CsrfScope::for_path(&raw.path)] {
            let mut facts = RequestFacts::from_headers(&raw.method, &raw.headers);
            facts.scope = scope;
            let host = raw.headers.get(http::header::HOST).and_then(|v| v.to_str().ok());
            let request_origin = host.map(|host| format!("http://{host}"));
            facts.request_origin = request_origin.as_deref();
            let verdict = check_request(&facts, &trusted);
            if csrf == CsrfCheck::Disabled || matches!(facts.method, "GET" | "HEAD" | "OPTIONS") {
                assert!(verdict.is_ok(), "a request refused although the check does not apply: {verdict:?}");
            }
            if let Err(e) = verdict {
                assert_eq!(e.status(), 403);
            }
        }
    }
});
