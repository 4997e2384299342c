//! Bearer-token verification (`identity::Verifier`, Convex's customJwt rules) with the JWKS and the provider
//! configuration also taken from the input. Lines:
//! 1. a token, or `sign:` and a protected-header JSON, to have the target sign line 2 with its own ES256 key (so
//!    the claim checks behind the signature are reached);
//! 2. the claims JSON to sign;
//! 3. a JWKS document, the keys of provider `https://static.test`;
//! 4. an `auth.config.ts` provider entry (`provider_from_convex_json`), used when its keys come from a `data:` URL
//!    (http(s) JWKS and OIDC providers would fetch from the network).
//!
//! Nothing panics; JWKS parsing keeps the keys it can read; a token the target did not sign never verifies
//! against the target's own key.
#![no_main]

use authvex_fuzz::{block_on, lines};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use identity::{Algorithm, Jwk, JwkSet, JwksSource, KeyParams, Provider, Verifier, VerifierConfig};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

/// A P-256 key made for these targets only (`openssl ecparam -name prime256v1 -genkey`).
const PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgBHPdTRV4kMdUXBia
wmpTEOY3e2uSCa+LrC/TUddE9pyhRANCAASSZdYb3uUot0tPjjh6zjbaTXpO7PCJ
bxLANgbe4a98EPMNt3qllqcb2sFYMZyyBsA+2F7wXfyBtaSOg6pfYN7Q
-----END PRIVATE KEY-----
";
const PUBLIC_X: &str = "kmXWG97lKLdLT444es422k16TuzwiW8SwDYG3uGvfBA";
const PUBLIC_Y: &str = "8w23eqWWpxvawVgxnLIGwD7YXvBd_IG1pI6Dql9g3tA";
/// 2023-11-14T22:13:20Z.
const NOW_SECS: u64 = 1_700_000_000;

fn signing_key() -> &'static jsonwebtoken::EncodingKey {
    static KEY: OnceLock<jsonwebtoken::EncodingKey> = OnceLock::new();
    KEY.get_or_init(|| match jsonwebtoken::EncodingKey::from_ec_pem(PRIVATE_KEY_PEM.as_bytes()) {
        Ok(key) => key,
        Err(e) => panic!("the fuzz key does not load: {e}"),
    })
}

fn own_key() -> Jwk {
    Jwk {
        kid: Some("k1".into()),
        alg: Some("ES256".into()),
        key_use: Some("sig".into()),
        params: KeyParams::Ec { crv: "P-256".into(), x: PUBLIC_X.into(), y: PUBLIC_Y.into() },
    }
}

fn sign(header: &str, claims: &[u8]) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    match jsonwebtoken::crypto::sign(input.as_bytes(), signing_key(), jsonwebtoken::Algorithm::ES256) {
        Ok(signature) => format!("{input}.{signature}"),
        Err(e) => panic!("signing failed: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((fields, config)) = lines(data, 3) else { return };
    let Ok(first) = std::str::from_utf8(fields[0]) else { return };
    let (token, signed_here) = match first.strip_prefix("sign:") {
        Some(header) => (sign(header, fields[1]), true),
        None => (first.to_string(), false),
    };

    let mut providers = vec![Provider::custom_jwt(
        "https://issuer.test",
        JwksSource::Static(Arc::new(JwkSet::new(vec![own_key()]))),
        Algorithm::ES256,
        Some("convex".into()),
    )
    .unwrap_or_else(|e| panic!("{e}"))];
    if let Ok(set) = JwkSet::from_json(fields[2]) {
        let provider =
            Provider::custom_jwt("https://static.test", JwksSource::Static(Arc::new(set)), Algorithm::ES256, None);
        providers.extend(provider.ok());
    }
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(config) {
        match identity::provider_from_convex_json(&json) {
            Ok(provider @ Provider::CustomJwt { jwks: JwksSource::Data(_), .. }) => providers.push(provider),
            Ok(_) | Err(_) => {}
        }
    }
    let _ = identity::normalize_issuer(first);

    // One HTTP client for the process (building one loads the TLS roots); no provider here uses it.
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    let http = HTTP.get_or_init(reqwest::Client::new).clone();
    let verifier = Verifier::with_http_client(providers, VerifierConfig::default(), http);
    let verified = block_on(verifier.verify_token(&token, protocol::UnixTime::from_secs(NOW_SECS)));
    if let Ok(verified) = &verified {
        let identity = &verified.identity;
        assert_eq!(identity.token_identifier, format!("{}|{}", identity.issuer, identity.subject));
        if identity.issuer.trim_end_matches('/') == "https://issuer.test" {
            assert!(signed_here, "a token verified against the target's key without its signature: {token}");
        }
        let _ = identity.to_value();
    }
});
