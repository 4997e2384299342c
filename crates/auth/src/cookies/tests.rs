//! Expected strings are `Set-Cookie`/`Cookie` headers recorded from `better-auth@1.4.9`
//! (`shared/spec/vectors/better-auth-1.4.9-transcripts.json`, secret below) or outputs of better-call 1.1.7's
//! own `serializeCookie`/`parseCookies` run under Node while writing this module (each says which).

use super::*;

const SECRET: &str = "better-auth-transcript-secret-0123456789abcdef";

fn secret() -> Secret {
    Secret::new(SECRET.to_owned())
}

fn secure() -> CookieConfig {
    CookieConfig { secure: true, ..CookieConfig::default() }
}

// ---------------------------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn cookie_names_follow_prefix_and_secure_setting() {
    assert_eq!(cookie_name(&CookieConfig::default(), SESSION_TOKEN), "better-auth.session_token");
    assert_eq!(cookie_name(&secure(), SESSION_TOKEN), "__Secure-better-auth.session_token");
    assert_eq!(cookie_name(&secure(), DONT_REMEMBER), "__Secure-better-auth.dont_remember");
    let custom = CookieConfig { prefix: "my-app".to_owned(), ..CookieConfig::default() };
    assert_eq!(cookie_name(&custom, STATE), "my-app.state");
    let empty = CookieConfig { prefix: String::new(), ..CookieConfig::default() };
    assert_eq!(cookie_name(&empty, SESSION_DATA), "better-auth.session_data", "'' || 'better-auth'");
}

#[test]
fn default_config_is_better_auths() {
    let config = CookieConfig::default();
    assert_eq!(config.prefix, "better-auth");
    assert!(!config.secure);
    assert_eq!(config.domain, None);
    assert_eq!(config.same_site, SameSite::Lax);
    assert!(!config.partitioned);
}

// ---------------------------------------------------------------------------------------------------------------
// Set-Cookie, against recorded headers
// ---------------------------------------------------------------------------------------------------------------

fn session_header(config: &CookieConfig, token: &str, max_age: Option<u64>) -> String {
    session_cookie(config, &sign_cookie_value(token, &secret()), max_age).to_header_value()
}

#[test]
fn session_cookies_match_the_recorded_headers() {
    // (token, recorded Set-Cookie) from sign-up, sign-in, change-password, social callback, refresh.
    let recorded = [
        ("AbCdEfGhIjKlMnOpQrStUvWxYz012345", "better-auth.session_token=AbCdEfGhIjKlMnOpQrStUvWxYz012345.RnrGjeaza1zSOxki9e1oWZ3iiStLCrc15rOvrhUxatw%3D; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"),
        ("XG6oEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ", "better-auth.session_token=XG6oEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ.6CnuL1BHkf96xZrsCUkZ2dHrH1Ox0K3QfgRDqHdjr58%3D; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"),
        ("lAPr3ye2UgRGhB5zT9EpjTCsnTq777Cc", "better-auth.session_token=lAPr3ye2UgRGhB5zT9EpjTCsnTq777Cc.UTlhZHqfFTTPR%2FNS60kepGphlolxK7%2F8C9MIaQv6nFY%3D; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"),
        ("n8KV9Z7nh0CvT5JAPUk7LY5GDomP14I2", "better-auth.session_token=n8KV9Z7nh0CvT5JAPUk7LY5GDomP14I2.w9L2q1NR89KmPaDykhzXl9hDcAGgIpqNxPmjCih0XrY%3D; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"),
        ("eKn0iLEzPvJsYmAznKcv6CXMS76qAecx", "better-auth.session_token=eKn0iLEzPvJsYmAznKcv6CXMS76qAecx.6mGn7XE%2FY91zrxpLkM%2F480IdCSsRheZ3u1t1l%2Fi10bw%3D; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"),
        ("fPrqQJ9moQ53B7aQHa1nTCbJSIxKcaLw", "better-auth.session_token=fPrqQJ9moQ53B7aQHa1nTCbJSIxKcaLw.BJB9v%2B7kpLU%2FU8I5S4iN1Lg9ZMR8KDkwB10EfrM92MI%3D; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"),
    ];
    for (token, header) in recorded {
        assert_eq!(session_header(&CookieConfig::default(), token, Some(604_800)), header);
    }
    // Vectors `setCookieHeaderSecure`.
    assert_eq!(
        session_header(&secure(), "AbCdEfGhIjKlMnOpQrStUvWxYz012345", Some(604_800)),
        "__Secure-better-auth.session_token=AbCdEfGhIjKlMnOpQrStUvWxYz012345.RnrGjeaza1zSOxki9e1oWZ3iiStLCrc15rOvrhUxatw%3D; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax"
    );
}

#[test]
fn remember_me_false_matches_the_recorded_pair() {
    // Sign-in with rememberMe: false (http), then the https deployment (secure cookies).
    let config = CookieConfig::default();
    assert_eq!(
        [
            session_header(&config, "HiSIvj9BFq6Kg0B5rFBDHMPATavkQWoj", None),
            dont_remember_cookie(&config, &secret()).to_header_value()
        ],
        [
            "better-auth.session_token=HiSIvj9BFq6Kg0B5rFBDHMPATavkQWoj.43gYnOvLSed0AMV10WHKLub5IA8iA9yXhA%2BpwVHc%2BPQ%3D; Path=/; HttpOnly; SameSite=Lax",
            "better-auth.dont_remember=true.Im3rq1kDtcvbxKT%2FBOM0kLi4JaKpcy%2FYWjjL5%2Bgwwxg%3D; Path=/; HttpOnly; SameSite=Lax",
        ]
    );
    assert_eq!(
        [
            session_header(&secure(), "RaAaz7lRPxMbppa45jM75AfCUFXJpKku", None),
            dont_remember_cookie(&secure(), &secret()).to_header_value()
        ],
        [
            "__Secure-better-auth.session_token=RaAaz7lRPxMbppa45jM75AfCUFXJpKku.4d8amtwfyDTfCjljj2lQ5dKI2nK12iQCNGWtfmTR4no%3D; Path=/; HttpOnly; Secure; SameSite=Lax",
            "__Secure-better-auth.dont_remember=true.Im3rq1kDtcvbxKT%2FBOM0kLi4JaKpcy%2FYWjjL5%2Bgwwxg%3D; Path=/; HttpOnly; Secure; SameSite=Lax",
        ]
    );
}

#[test]
fn deleting_session_cookies_matches_the_recorded_triple() {
    let headers: Vec<String> =
        delete_session_cookies(&CookieConfig::default()).iter().map(SetCookie::to_header_value).collect();
    assert_eq!(
        headers,
        [
            "better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
            "better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
            "better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
        ]
    );
    let headers: Vec<String> = delete_session_cookies(&secure()).iter().map(ToString::to_string).collect();
    assert_eq!(
        headers,
        [
            "__Secure-better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax",
            "__Secure-better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax",
            "__Secure-better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax",
        ]
    );
}

#[test]
fn oauth_state_cookies_match_the_recorded_headers() {
    // sign-in/social: Max-Age 300000 (better-auth's ms-for-s slip, reproduced by the caller's choice of max_age).
    assert_eq!(
        signed_cookie(&CookieConfig::default(), STATE, "YGenjydX8YkhVjfjHgwuq2q9wTuGgT8v", &secret(), Some(300_000))
            .to_header_value(),
        "better-auth.state=YGenjydX8YkhVjfjHgwuq2q9wTuGgT8v.DWeiW0BIIymoYceciBdnkm3bVImotC%2Fmg9OVKj7L0Fk%3D; Max-Age=300000; Path=/; HttpOnly; SameSite=Lax"
    );
    // The callback's bare deletion.
    assert_eq!(bare_delete_cookie(&CookieConfig::default(), STATE).to_header_value(), "better-auth.state=; Max-Age=0");
    // better-call forces Secure for a __Secure- name (Node: serializeCookie("__Secure-c", "", {maxAge: 0})).
    assert_eq!(
        bare_delete_cookie(&secure(), STATE).to_header_value(),
        "__Secure-better-auth.state=; Max-Age=0; Secure"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Set-Cookie serialisation rules (Node: better-call serializeCookie)
// ---------------------------------------------------------------------------------------------------------------

fn cookie(name: &str, value: &str) -> SetCookie {
    SetCookie {
        name: name.to_owned(),
        value: value.to_owned(),
        max_age: None,
        path: String::new(),
        http_only: false,
        secure: false,
        same_site: None,
        domain: None,
        expires: None,
        partitioned: false,
    }
}

#[test]
fn every_attribute_in_better_calls_order() {
    // Node: serializeCookie("better-auth.session_token", "v a/l", { maxAge: 10.9, domain: "example.com",
    //   path: "/p", expires: <2030-01-01>, httpOnly: true, secure: true, sameSite: "strict", partitioned: true })
    let full = SetCookie {
        value: encode_uri_component("v a/l"),
        max_age: Some(10),
        path: "/p".to_owned(),
        http_only: true,
        secure: true,
        same_site: Some(SameSite::Strict),
        domain: Some("example.com".to_owned()),
        expires: http_date(1_893_456_000),
        partitioned: true,
        ..cookie("better-auth.session_token", "")
    };
    assert_eq!(
        full.to_header_value(),
        "better-auth.session_token=v%20a%2Fl; Max-Age=10; Domain=example.com; Path=/p; Expires=Tue, 01 Jan 2030 00:00:00 GMT; HttpOnly; Secure; SameSite=Strict; Partitioned"
    );
    // Node: serializeCookie("c", "v", { sameSite: "none", partitioned: true }): no Secure is added.
    let partitioned = SetCookie { same_site: Some(SameSite::None), partitioned: true, ..cookie("c", "v") };
    assert_eq!(partitioned.to_header_value(), "c=v; SameSite=None; Partitioned");
    // Node: serializeCookie("__Host-c", "v", { domain: "example.com", path: "/x" }).
    let host = SetCookie { domain: Some("example.com".to_owned()), path: "/x".to_owned(), ..cookie("__Host-c", "v") };
    assert_eq!(host.to_header_value(), "__Host-c=v; Path=/; Secure");
    // Nothing but the pair.
    assert_eq!(cookie("c", "").to_header_value(), "c=");
}

#[test]
fn config_attributes_reach_the_header() {
    let config = CookieConfig {
        prefix: "app".to_owned(),
        secure: true,
        domain: Some("example.com".to_owned()),
        same_site: SameSite::None,
        partitioned: true,
    };
    assert_eq!(
        session_header(&config, "AbCdEfGhIjKlMnOpQrStUvWxYz012345", Some(60)),
        "__Secure-app.session_token=AbCdEfGhIjKlMnOpQrStUvWxYz012345.RnrGjeaza1zSOxki9e1oWZ3iiStLCrc15rOvrhUxatw%3D; Max-Age=60; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"
    );
    assert_eq!(
        delete_cookie(&config, SESSION_DATA).to_header_value(),
        "__Secure-app.session_data=; Max-Age=0; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"
    );
}

#[test]
fn max_age_is_clamped_to_400_days_and_empty_attributes_are_skipped() {
    let long = SetCookie { max_age: Some(MAX_AGE_LIMIT_SECS + 1), ..cookie("c", "v") };
    assert_eq!(long.to_header_value(), "c=v; Max-Age=34560000");
    let limit = SetCookie { max_age: Some(MAX_AGE_LIMIT_SECS), ..cookie("c", "v") };
    assert_eq!(limit.to_header_value(), "c=v; Max-Age=34560000");
    let blank = SetCookie { domain: Some(String::new()), expires: Some(String::new()), ..cookie("c", "v") };
    assert_eq!(blank.to_header_value(), "c=v");
}

#[test]
fn http_dates_match_to_utc_string() {
    // Node: new Date(ms).toUTCString().
    assert_eq!(http_date(0).as_deref(), Some("Thu, 01 Jan 1970 00:00:00 GMT"));
    assert_eq!(http_date(1_700_000_000).as_deref(), Some("Tue, 14 Nov 2023 22:13:20 GMT"));
    assert_eq!(http_date(-1).as_deref(), Some("Wed, 31 Dec 1969 23:59:59 GMT"));
    assert_eq!(http_date(253_402_300_799).as_deref(), Some("Fri, 31 Dec 9999 23:59:59 GMT"));
    assert_eq!(http_date(i64::MAX), None);
}

// ---------------------------------------------------------------------------------------------------------------
// Percent-encoding
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn encoding_matches_encode_uri_component() {
    // Node: encodeURIComponent("azAZ09-_.!~*'() +/=?&#$,;:@[]€\u0000").
    assert_eq!(
        encode_uri_component("azAZ09-_.!~*'() +/=?&#$,;:@[]€\u{0}"),
        "azAZ09-_.!~*'()%20%2B%2F%3D%3F%26%23%24%2C%3B%3A%40%5B%5D%E2%82%AC%00"
    );
    assert_eq!(encode_uri_component(""), "");
    assert_eq!(encode_uri_component("%"), "%25");
    assert_eq!(encode_uri_component("\"\\"), "%22%5C");
    assert_eq!(encode_uri_component("\u{1F600}"), "%F0%9F%98%80");
}

#[test]
fn decoding_fails_where_decode_uri_component_throws() {
    assert_eq!(decode_uri_component("a%2Bb+c%20").as_deref(), Some("a+b+c "), "+ is not a space");
    assert_eq!(decode_uri_component("%E2%82%AC%e2%82%ac").as_deref(), Some("€€"), "either case");
    assert_eq!(decode_uri_component("plain").as_deref(), Some("plain"));
    assert_eq!(decode_uri_component("€%20").as_deref(), Some("€ "), "raw non-ASCII passes through");
    for bad in ["%", "%4", "%zz", "%G0", "a%", "%E2%82", "%ED%A0%80", "%C0%AF", "%FF", "%E2€"] {
        assert_eq!(decode_uri_component(bad), None, "{bad}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Cookie header parsing (Node: better-call parseCookies)
// ---------------------------------------------------------------------------------------------------------------

fn check_parse(header: &str, expected: &[(&str, &str)]) {
    let parsed = parse_cookie_header(header);
    let parsed: Vec<(&str, &str)> = parsed.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    assert_eq!(parsed, expected, "parsing {header:?}");
}

#[test]
fn parsing_matches_better_call() {
    check_parse("", &[]);
    check_parse(";;;", &[]);
    check_parse("a=1", &[("a", "1")]);
    check_parse("a=1;b=2", &[("a", "1"), ("b", "2")]);
    check_parse(" a = 1 ; b=2;c=3 ", &[("a", "1"), ("b", "2"), ("c", "3")]);
    check_parse("=v; a==b; c=d=e", &[("", "v"), ("a", "=b"), ("c", "d=e")]);
    check_parse("noeq; a=1; also-noeq; b=2; tail", &[("a", "1"), ("b", "2")]);
}

#[test]
fn the_first_occurrence_of_a_name_wins() {
    check_parse("a=1; a=2; b=3; a=4", &[("a", "1"), ("b", "3")]);
    // Even an empty first value shadows a later one.
    check_parse("a=; a=2", &[("a", "")]);
}

#[test]
fn quotes_are_stripped_as_slice_1_minus_1() {
    check_parse(
        r#"a="quoted"; b="; c="x; d=""; e="%41"; f=%22q%22"#,
        &[("a", "quoted"), ("b", ""), ("c", ""), ("d", ""), ("e", "A"), ("f", "\"q\"")],
    );
    check_parse("k=\"\u{1F600}\"", &[("k", "\u{1F600}")]);
    check_parse(r#"k="abc"#, &[("k", "ab")]);
    check_parse(r#"k=x"y""#, &[("k", "x\"y\"")]);
}

#[test]
fn values_are_decoded_only_when_they_contain_percent_and_kept_raw_on_failure() {
    check_parse(
        "a=%zz; b=%4; c=%; d=%E2%82; e=%ED%A0%80; f=%E2%82%AC; g=a+b%2Bc",
        &[("a", "%zz"), ("b", "%4"), ("c", "%"), ("d", "%E2%82"), ("e", "%ED%A0%80"), ("f", "€"), ("g", "a+b+c")],
    );
    // Names are never decoded.
    check_parse("a%20b=1", &[("a%20b", "1")]);
}

#[test]
fn trimming_uses_javascripts_whitespace() {
    // NBSP and BOM are trimmed; U+0085 (NEL), which Rust's trim would take, is kept.
    check_parse("x=\u{a0}pad\u{a0}; y=\u{feff}bom; z=\u{85}nel", &[("x", "pad"), ("y", "bom"), ("z", "\u{85}nel")]);
    check_parse("\t a\t=\t1\t", &[("a", "1")]);
}

#[test]
fn get_cookie_is_exact_and_treats_empty_as_absent() {
    let cookies = parse_cookie_header("better-auth.session_token=abc; empty=; __Secure-better-auth.state=s");
    assert_eq!(get_cookie(&cookies, "better-auth.session_token"), Some("abc"));
    assert_eq!(get_cookie(&cookies, "empty"), None);
    assert_eq!(get_cookie(&cookies, "missing"), None);
    assert_eq!(get_cookie(&cookies, "better-auth.state"), None, "no fallback from the __Secure- form");
    assert_eq!(get_cookie(&cookies, "__Secure-better-auth.session_token"), None, "nor to it");
    assert_eq!(get_cookie(&cookies, "Better-Auth.session_token"), None, "names are case-sensitive");
}

// ---------------------------------------------------------------------------------------------------------------
// Signed cookies, against recorded Cookie headers
// ---------------------------------------------------------------------------------------------------------------

fn read(header: &str, name: &str) -> Option<String> {
    read_signed_cookie(Some(header), name, &secret())
}

#[test]
fn recorded_cookie_headers_are_read() {
    let session = "better-auth.session_token";
    assert_eq!(
        read(
            "better-auth.session_token=XG6oEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ.6CnuL1BHkf96xZrsCUkZ2dHrH1Ox0K3QfgRDqHdjr58%3D",
            session
        )
        .as_deref(),
        Some("XG6oEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ")
    );
    let remember_me_false = "better-auth.session_token=ZP1q9lsA6P4CNE6DXkB25SwadneGMUo7.QbIqTin29teC74zb5oxxu4kV2EUaWtCdRVKJ2JbnZPs%3D; better-auth.dont_remember=true.Im3rq1kDtcvbxKT%2FBOM0kLi4JaKpcy%2FYWjjL5%2Bgwwxg%3D";
    assert_eq!(read(remember_me_false, session).as_deref(), Some("ZP1q9lsA6P4CNE6DXkB25SwadneGMUo7"));
    assert_eq!(read(remember_me_false, "better-auth.dont_remember").as_deref(), Some("true"));
    let with_state = "better-auth.session_token=pD2dNkuh5fqBlf2XEzO9FJXp1F9I3bwT.riQhZ0Ut%2FsopqVL7XV0cg8xzI1GQ0QdxIqfKdvToW4c%3D; better-auth.state=IEjCyULoRTLrKQ8K6sJK_Vq_zjk6Uo5e.pcL4OHyWcHibPqiYA%2Bee0DiOGxSA7pP3L1vOjmBgmOg%3D";
    assert_eq!(read(with_state, session).as_deref(), Some("pD2dNkuh5fqBlf2XEzO9FJXp1F9I3bwT"));
    assert_eq!(read(with_state, "better-auth.state").as_deref(), Some("IEjCyULoRTLrKQ8K6sJK_Vq_zjk6Uo5e"));
    // The https deployment: only the __Secure- name is read.
    let https = "__Secure-better-auth.session_token=RaAaz7lRPxMbppa45jM75AfCUFXJpKku.4d8amtwfyDTfCjljj2lQ5dKI2nK12iQCNGWtfmTR4no%3D; __Secure-better-auth.dont_remember=true.Im3rq1kDtcvbxKT%2FBOM0kLi4JaKpcy%2FYWjjL5%2Bgwwxg%3D";
    assert_eq!(read(https, "__Secure-better-auth.session_token").as_deref(), Some("RaAaz7lRPxMbppa45jM75AfCUFXJpKku"));
    assert_eq!(read(https, session), None);
}

#[test]
fn recorded_hostile_cookies_read_as_no_cookie() {
    let session = "better-auth.session_token";
    // Recorded "get-session tampered cookie" and "get-session unsigned token": both answered null.
    assert_eq!(
        read(
            "better-auth.session_token=XXXXEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ.6CnuL1BHkf96xZrsCUkZ2dHrH1Ox0K3QfgRDqHdjr58%3D",
            session
        ),
        None
    );
    assert_eq!(read("better-auth.session_token=XG6oEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ", session), None);
    assert_eq!(read_signed_cookie(None, session, &secret()), None);
    assert_eq!(read("", session), None);
    assert_eq!(read("better-auth.session_token=", session), None);
    let wrong = Secret::new("another-secret-another-secret-0123".to_owned());
    assert_eq!(
        read_signed_cookie(
            Some("better-auth.session_token=XG6oEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ.6CnuL1BHkf96xZrsCUkZ2dHrH1Ox0K3QfgRDqHdjr58%3D"),
            session,
            &wrong
        ),
        None
    );
}

#[test]
fn signed_cookies_survive_what_browsers_and_proxies_do() {
    let session = "better-auth.session_token";
    let value = "XG6oEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ.6CnuL1BHkf96xZrsCUkZ2dHrH1Ox0K3QfgRDqHdjr58";
    let expected = Some("XG6oEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ".to_owned());
    // Not percent-encoded at all (no '%', so taken raw), quoted, lower-case escapes, among other cookies.
    assert_eq!(read(&format!("{session}={value}="), session), expected);
    assert_eq!(read(&format!("{session}=\"{value}%3D\""), session), expected);
    assert_eq!(read(&format!("{session}={value}%3d"), session), expected);
    assert_eq!(read(&format!("theme=dark; {session}={value}%3D; other=1"), session), expected);
}

#[test]
fn duplicated_and_broken_signed_cookies() {
    let session = "better-auth.session_token";
    let good = "XG6oEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ.6CnuL1BHkf96xZrsCUkZ2dHrH1Ox0K3QfgRDqHdjr58%3D";
    let tampered = "XXXXEpdaOOdAnMzNLBnzO4Qt1FPU8eEJ.6CnuL1BHkf96xZrsCUkZ2dHrH1Ox0K3QfgRDqHdjr58%3D";
    // The first occurrence decides, good or bad.
    assert_eq!(read(&format!("{session}={tampered}; {session}={good}"), session), None);
    assert!(read(&format!("{session}={good}; {session}={tampered}"), session).is_some());
    // An empty first occurrence hides a later valid one.
    assert_eq!(read(&format!("{session}=; {session}={good}"), session), None);
    // Invalid percent-encoding keeps the raw text, whose signature part then is not 44 chars.
    assert_eq!(read(&format!("{session}={good}%zz"), session), None);
    // A doubled escape decodes once, leaving "%3D" in the signature.
    assert_eq!(read(&format!("{session}={}", good.replace("%3D", "%253D")), session), None);
    // A quote only at the start eats the last character.
    assert_eq!(read(&format!("{session}=\"{good}"), session), None);
}
