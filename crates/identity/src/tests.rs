//! Unit tests of the pure parts: issuer normalisation and matching, provider config, JWK parsing, response checks,
//! `data:` URLs and identity construction. End-to-end verification lives in `tests/verify.rs`.

use crate::fetch::{cache_max_age, content_type_accepted, decode_data_url, JWKS_CONTENT_TYPES};
use crate::jwk::JwkSet;
use crate::provider::{normalize_issuer, provider_from_convex_json, Algorithm, JwksSource, Provider};
use crate::token::UnverifiedJwt;
use crate::user_identity::{custom_jwt_identity, oidc_identity, rfc3339_from_unix};
use base64::Engine;
use protocol::UnixTime;
use serde_json::json;
use value::Value;

fn check_issuer(input: &str, expected: Result<&str, &str>) {
    let got = normalize_issuer(input);
    match expected {
        Ok(url) => assert_eq!(got.as_deref(), Ok(url), "{input}"),
        Err(fragment) => {
            let err = got.expect_err(input);
            assert!(err.starts_with(&format!("Invalid provider domain URL \"{input}\"")), "{err}");
            assert!(err.contains(fragment), "{input}: {err}");
        }
    }
}

#[test]
fn issuers_are_normalised_as_convex_does_at_deploy_time() {
    check_issuer("example.com", Ok("https://example.com"));
    check_issuer("localhost", Ok("https://localhost"));
    check_issuer("example.com/", Ok("https://example.com/"));
    check_issuer("http://127.0.0.1:3211", Ok("http://127.0.0.1:3211"));
    check_issuer("http://localhost:3211", Ok("http://localhost:3211"));
    check_issuer("https://happy-animal-123.convex.site", Ok("https://happy-animal-123.convex.site"));
    check_issuer("https://api.workos.com/", Ok("https://api.workos.com/"));
    check_issuer("https://auth.example.com/realms/a", Ok("https://auth.example.com/realms/a"));
    check_issuer("file://example.com", Err("must use HTTPS"));
    check_issuer("HTTP://example.com", Err("must use HTTPS"));
    check_issuer("foobar123", Err("Does not look like a URL"));
    check_issuer("1.2.3.4", Err("Does not look like a URL"));
    check_issuer("\"example.com", Err(""));
    check_issuer("https://", Err(""));
}

fn custom(issuer: &str, application_id: Option<&str>) -> Provider {
    Provider::custom_jwt(
        issuer,
        JwksSource::Url("https://example.com/jwks".into()),
        Algorithm::RS256,
        application_id.map(str::to_string),
    )
    .unwrap()
}

#[test]
fn tokens_match_providers_by_application_id_and_normalised_issuer() {
    let auds = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let p = custom("https://api.workos.com/", None);
    assert!(p.matches_token(&[], "https://api.workos.com"));
    assert!(p.matches_token(&[], "https://api.workos.com//"));
    assert!(p.matches_token(&[], "api.workos.com"));
    assert!(!p.matches_token(&[], "http://api.workos.com"));
    assert!(!p.matches_token(&[], "https://api.workos.com/x"));

    let p = custom("http://127.0.0.1:3211", Some("convex"));
    assert!(p.matches_token(&auds(&["convex"]), "http://127.0.0.1:3211"));
    assert!(p.matches_token(&auds(&["other", "convex"]), "http://127.0.0.1:3211/"));
    assert!(!p.matches_token(&auds(&["other"]), "http://127.0.0.1:3211"));
    assert!(!p.matches_token(&[], "http://127.0.0.1:3211"));
    // The scheme is only added to the token's `iss`, so a scheme-less `iss` never matches an http issuer.
    assert!(!p.matches_token(&auds(&["convex"]), "127.0.0.1:3211"));

    let p = Provider::oidc("example.com", "app").unwrap();
    assert!(p.matches_token(&auds(&["app"]), "https://example.com/"));
    assert!(!p.matches_token(&[], "https://example.com"));
}

#[test]
fn providers_are_read_from_auth_config_objects() {
    let p = provider_from_convex_json(&json!({
        "type": "customJwt", "issuer": "http://127.0.0.1:3211", "applicationID": "convex", "algorithm": "RS256",
        "jwks": "http://127.0.0.1:3211/api/auth/convex/jwks"
    }))
    .unwrap();
    let Provider::CustomJwt { issuer, jwks: JwksSource::Url(url), algorithm, application_id } = p else {
        panic!("{p:?}")
    };
    assert_eq!(issuer, "http://127.0.0.1:3211");
    assert_eq!(url, "http://127.0.0.1:3211/api/auth/convex/jwks");
    assert_eq!(algorithm, Algorithm::RS256);
    assert_eq!(application_id.as_deref(), Some("convex"));

    let p = provider_from_convex_json(&json!({
        "type": "customJwt", "issuer": "privy.io", "algorithm": "ES256", "applicationID": null,
        "jwks": "data:text/plain;charset=utf-8;base64,e30="
    }))
    .unwrap();
    assert!(matches!(
        p,
        Provider::CustomJwt { ref issuer, jwks: JwksSource::Data(_), algorithm: Algorithm::ES256, application_id: None }
            if issuer == "https://privy.io"
    ));

    let p = provider_from_convex_json(&json!({"domain": "example.com", "applicationID": "app", "name": "x"})).unwrap();
    assert!(matches!(p, Provider::Oidc { ref domain, ref application_id }
        if domain == "https://example.com" && application_id == "app"));

    let err = |v| provider_from_convex_json(&v).unwrap_err();
    assert_eq!(
        err(json!({"type": "customJwt", "issuer": "https://a.com", "jwks": "https://a.com/j", "algorithm": "EdDSA"})),
        "Invalid signature algorithm (only RS256 and ES256 are supported): EdDSA"
    );
    assert!(err(json!({"type": "customJwt", "issuer": "https://a.com", "algorithm": "RS256"})).contains("`jwks`"));
    assert!(err(
        json!({"type": "customJwt", "issuer": "https://a.com", "jwks": "ftp://a.com/j", "algorithm": "RS256"})
    )
    .contains("unsupported scheme"));
    assert!(err(json!({"domain": "https://a.com"})).contains("`applicationID`"));
    assert!(err(json!({"domain": "foobar123", "applicationID": "x"})).contains("Does not look like a URL"));
    assert!(err(json!("https://a.com")).contains("object"));
}

#[test]
fn a_key_the_customjwt_parser_rejects_spoils_the_whole_set_but_oidc_skips_it() {
    let rsa = json!({"kty": "RSA", "kid": "a", "alg": "RS256", "n": "AQAB", "e": "AQAB"});
    let check = |extra: serde_json::Value, expected: Option<&str>| {
        let body = serde_json::to_vec(&json!({"keys": [rsa, extra]})).unwrap();
        let set = JwkSet::from_json(&body).unwrap();
        assert_eq!(set.strict_error(), expected, "{extra}");
        assert!(set.find("a").is_some());
    };
    check(
        json!({"kty": "OKP", "crv": "Ed25519", "x": "AQAB", "kid": "b", "alg": "EdDSA"}),
        Some("keys[1]: unknown algorithm \"EdDSA\""),
    );
    check(json!({"kty": "OKP", "crv": "Ed25519", "x": "AQAB", "kid": "b"}), None);
    check(json!({"kty": "RSA", "kid": "b", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"}), None);
    check(json!({"kty": "RSA", "kid": "b", "n": "AQAB"}), Some("keys[1]: missing field `e`"));
    check(json!({"kty": "XYZ"}), Some("keys[1]: unknown key type \"XYZ\""));
    check(
        json!({"kty": "EC", "crv": "P-256", "x": "AQAB", "y": "!!"}),
        Some("keys[1]: `y` is not base64url: Invalid symbol 33, offset 0."),
    );
    check(json!({"kty": "RSA", "kid": 7, "n": "AQAB", "e": "AQAB"}), Some("keys[1]: `kid` must be a string"));

    assert_eq!(JwkSet::from_json(b"{}").unwrap_err(), "missing field `keys`");
    assert_eq!(JwkSet::from_json(b"{\"keys\": {}}").unwrap_err(), "`keys` must be an array");
    assert!(JwkSet::from_json(b"<html>").is_err());
}

#[test]
fn jwks_responses_need_a_json_content_type() {
    for ok in [
        "application/json",
        "application/jwk-set+json",
        "Application/JSON; charset=utf-8",
        "application/json;charset=\"UTF-8\"",
    ] {
        assert!(content_type_accepted(Some(ok), JWKS_CONTENT_TYPES), "{ok}");
    }
    for bad in ["text/plain", "application/json; charset=latin1", "text/json", "application/jwk+json", ""] {
        assert!(!content_type_accepted(Some(bad), JWKS_CONTENT_TYPES), "{bad}");
    }
    assert!(!content_type_accepted(None, JWKS_CONTENT_TYPES));
}

#[test]
fn cache_lifetime_comes_from_cache_control() {
    assert_eq!(cache_max_age(None, None), None);
    assert_eq!(cache_max_age(Some("public"), None), None);
    assert_eq!(cache_max_age(Some("public, max-age=600"), None), Some(600));
    assert_eq!(cache_max_age(Some("max-age=600, must-revalidate"), Some("100")), Some(500));
    assert_eq!(cache_max_age(Some("max-age=60"), Some("100")), Some(0));
    assert_eq!(cache_max_age(Some("max-age=600, no-cache"), None), Some(0));
    assert_eq!(cache_max_age(Some("no-store"), None), Some(0));
    assert_eq!(cache_max_age(Some("max-age=abc"), None), Some(0));
}

#[test]
fn data_urls_decode_base64_and_percent_encoding() {
    let jwks = br#"{"keys":[]}"#;
    let b64 = base64::engine::general_purpose::STANDARD.encode(jwks);
    assert_eq!(decode_data_url(&format!("data:text/plain;charset=utf-8;base64,{b64}")).unwrap(), jwks);
    assert_eq!(decode_data_url(&format!("DATA:;BASE64,{}", b64.trim_end_matches('='))).unwrap(), jwks);
    assert_eq!(decode_data_url(&format!("data:;base64,{}%3D", &b64[..b64.len() - 1])).unwrap(), jwks);
    assert_eq!(decode_data_url("data:application/json,%7B%22keys%22%3A%5B%5D%7D").unwrap(), jwks);
    assert_eq!(decode_data_url("data:,{\"keys\":[]}").unwrap(), jwks);
    assert!(decode_data_url("data:;base64,***").is_err());
    assert!(decode_data_url("data:no-comma").is_err());
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn token_with(payload: &str) -> String {
    format!("{}.{}.sig", b64url(br#"{"alg":"RS256","kid":"k"}"#), b64url(payload.as_bytes()))
}

fn claims_of(payload: &serde_json::Value) -> crate::token::Claims {
    UnverifiedJwt::parse(&token_with(&payload.to_string())).unwrap().claims
}

#[test]
fn payloads_with_mistyped_registered_claims_do_not_parse() {
    for payload in [
        r#"{"iss":5}"#,
        r#"{"iss":"a","aud":5}"#,
        r#"{"iss":"a","aud":["x",5]}"#,
        r#"{"iss":"a","exp":1.5}"#,
        r#"{"iss":"a","exp":"1"}"#,
        r#"{"iss":"a","nbf":true}"#,
        r#"{"iss":"a","jti":{}}"#,
        r#"{"iss":"a","sub":[]}"#,
        r#"[1]"#,
        "not json",
    ] {
        let err = UnverifiedJwt::parse(&token_with(payload)).err().unwrap();
        assert!(err.message.starts_with("Could not parse JWT payload"), "{payload}");
    }
    for token in ["a.b", "a.b.c.d", "", "...", "x.%%%.y"] {
        assert!(UnverifiedJwt::parse(token).is_err(), "{token}");
    }
    let claims = claims_of(&json!({"iss": null, "aud": "convex", "exp": null}));
    assert_eq!(claims.iss, None);
    assert_eq!(claims.audiences(), ["convex".to_string()]);
}

fn identity_fields(payload: serde_json::Value) -> value::Object {
    custom_jwt_identity(&claims_of(&payload)).unwrap().0.fields
}

#[test]
fn custom_jwt_claims_are_copied_flattened_with_json_numbers_as_floats() {
    let fields = identity_fields(json!({
        "iss": "https://a.com", "sub": "u", "aud": "x", "exp": 10, "nbf": 1, "iat": 1, "jti": "j", "fva": [1, 2],
        "given_name": "Ada", "n": 3, "flag": true, "none": null, "list": [1, {"a": {"b": 2}}],
        "org": {"role": "admin", "deep": {"level": 2}, "empty": {}}
    }));
    let expected: value::Object = [
        ("given_name", Value::String("Ada".into())),
        ("n", Value::Float64(3.0)),
        ("flag", Value::Boolean(true)),
        ("none", Value::Null),
        (
            "list",
            Value::Array(vec![
                Value::Float64(1.0),
                Value::Object([("a".to_string(), value::obj! {"b" => 2.0})].into_iter().collect()),
            ]),
        ),
        ("org.role", Value::String("admin".into())),
        ("org.deep.level", Value::Float64(2.0)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(fields, expected);
}

#[test]
fn custom_jwt_identity_needs_subject_issuer_and_expiry_in_that_order() {
    let missing = |payload: serde_json::Value| custom_jwt_identity(&claims_of(&payload)).unwrap_err().message;
    assert_eq!(missing(json!({})), "Missing subject");
    assert_eq!(missing(json!({"sub": "u"})), "Missing issuer");
    assert_eq!(missing(json!({"sub": "u", "iss": "i"})), "Missing expiry");
}

#[test]
fn oidc_identities_map_standard_claims_to_camel_case() {
    let payload = json!({
        "iss": "https://a.com/", "sub": "u", "aud": "app", "exp": 10, "iat": 1, "azp": "app", "nonce": "n",
        "name": "Ada L", "given_name": "Ada", "family_name": "L", "nickname": "al", "preferred_username": "ada",
        "profile": "https://p", "picture": "https://pic", "website": "https://w", "email": "a@b.c",
        "email_verified": true, "gender": "f", "birthdate": "1815-12-10", "zoneinfo": "Europe/London",
        "locale": "en-GB", "phone_number": "+44", "phone_number_verified": false,
        "address": {"formatted": "London", "country": "UK"}, "updated_at": 1700000000,
        "jti": "j", "nbf": 1, "fva": [1], "name#fr": "Ada", "custom": {"a": 1}
    });
    let (identity, exp) = oidc_identity(&claims_of(&payload)).unwrap();
    assert_eq!(exp, 10);
    assert_eq!(identity.token_identifier, "https://a.com/|u");
    let s = |v: &str| Value::String(v.into());
    let expected: value::Object = [
        ("name", s("Ada L")),
        ("givenName", s("Ada")),
        ("familyName", s("L")),
        ("nickname", s("al")),
        ("preferredUsername", s("ada")),
        ("profileUrl", s("https://p")),
        ("pictureUrl", s("https://pic")),
        ("websiteUrl", s("https://w")),
        ("email", s("a@b.c")),
        ("emailVerified", Value::Boolean(true)),
        ("gender", s("f")),
        ("birthday", s("1815-12-10")),
        ("timezone", s("Europe/London")),
        ("language", s("en-GB")),
        ("phoneNumber", s("+44")),
        ("phoneNumberVerified", Value::Boolean(false)),
        ("address", s("London")),
        ("updatedAt", s("2023-11-14T22:13:20+00:00")),
        ("name#fr", s("Ada")),
        ("custom", value::obj! {"a" => 1.0}),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(identity.fields, expected);
}

#[test]
fn updated_at_is_formatted_like_chrono_to_rfc3339() {
    assert_eq!(rfc3339_from_unix(0.0).as_deref(), Some("1970-01-01T00:00:00+00:00"));
    assert_eq!(rfc3339_from_unix(1700000000.5).as_deref(), Some("2023-11-14T22:13:20.500+00:00"));
    assert_eq!(rfc3339_from_unix(f64::NAN), None);
}

#[test]
fn verification_futures_are_send_so_they_can_be_boxed_for_the_http_layer() {
    fn assert_send<T: Send>(_: &T) {}
    let verifier = crate::Verifier::new(vec![]).unwrap();
    let future = verifier.verify("token", UnixTime::from_secs(0));
    assert_send(&future);
    fn assert_sync<T: Send + Sync>() {}
    assert_sync::<crate::Verifier>();
}
