//! The auth service's own tokens and sealed values (`auth::crypto`, `auth::social::oidc`): HS256 JWTs (the e-mail
//! verification link), XChaCha20-Poly1305 ciphertexts (stored JWKS private keys, the cookie-held OAuth state) and
//! ID-token claims. Input: line 1 a token, line 2 a claims JSON object, the rest a hex ciphertext / plaintext.
//! * verification never panics on any token, and a token it accepts carries a signature made with the secret;
//! * sign∘verify = id for any JSON object payload without time claims, and for every e-mail verification claim
//!   set before its expiry; decrypt∘encrypt = id;
//! * the OIDC claim checks never panic, whatever the claim types.
#![no_main]

use auth::crypto::{
    hex_decode, hex_encode, sign_email_verification_jwt, sign_hs256_jwt, symmetric_decrypt, symmetric_encrypt,
    verify_email_verification_jwt, verify_hs256_jwt, EmailVerificationClaims, JwtError, Secret,
};
use auth::social::oidc::{check_claims, stored_claims};
use authvex_fuzz::lines;
use database::SeededEntropy;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const SECRET: &str = "a-secret-of-at-least-32-characters-long";
/// 2030-01-01T00:00:00Z.
const NOW_SECS: u64 = 1_893_456_000;

fuzz_target!(|data: &[u8]| {
    let secret = Secret::new(SECRET.into());
    let Some((fields, rest)) = lines(data, 2) else { return };
    let (Ok(token), Ok(claims_text), Ok(rest)) =
        (std::str::from_utf8(fields[0]), std::str::from_utf8(fields[1]), std::str::from_utf8(rest))
    else {
        return;
    };

    // Arbitrary tokens: only tokens signed with the secret verify, and none of them panics.
    if let Ok(claims) = verify_hs256_jwt(token, &secret, NOW_SECS) {
        let resigned = sign_hs256_jwt(&Value::Object(claims).to_string(), &secret);
        assert!(verify_hs256_jwt(&resigned, &secret, NOW_SECS).is_ok());
        assert!(
            verify_hs256_jwt(token, &Secret::new(format!("{SECRET}!")), NOW_SECS).is_err(),
            "a token verified under two secrets"
        );
    }
    let _ = verify_email_verification_jwt(token, &secret, NOW_SECS);
    let _ = stored_claims(token);

    // Round trips through signing.
    if let Ok(Value::Object(claims)) = serde_json::from_str::<Value>(claims_text) {
        let signed = sign_hs256_jwt(claims_text, &secret);
        let timed = ["iat", "nbf", "exp"].iter().any(|k| claims.contains_key(*k));
        match verify_hs256_jwt(&signed, &secret, NOW_SECS) {
            Ok(verified) => assert_eq!(verified, claims, "verify(sign(claims)) != claims"),
            Err(e) => assert!(timed, "a payload without time claims was refused: {e:?}"),
        }
        for nonce in [None, Some("n-0S6_WzA2Mj")] {
            let issuers = ["https://accounts.google.com".to_string()];
            let _ = check_claims(&claims, &issuers, "client-id", nonce, Some(3600), NOW_SECS as f64 * 1000.0);
        }
        let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
        if let Some(email) = text("email") {
            let issued = EmailVerificationClaims::new(&email, text("updateTo"), text("requestType"), NOW_SECS, 3600);
            let token = sign_email_verification_jwt(&issued, &secret);
            assert_eq!(verify_email_verification_jwt(&token, &secret, NOW_SECS + 1), Ok(issued.clone()));
            assert_eq!(verify_email_verification_jwt(&token, &secret, NOW_SECS + 3600), Err(JwtError::Expired));
        }
    }

    // Sealed values.
    let _ = symmetric_decrypt(rest, &secret);
    if let Some(bytes) = hex_decode(rest) {
        assert_eq!(hex_encode(&bytes), rest.to_ascii_lowercase(), "hex round trip");
    }
    let entropy = SeededEntropy::new(u64::from(data.len() as u32));
    let sealed = symmetric_encrypt(rest, &secret, &entropy);
    assert_eq!(symmetric_decrypt(&sealed, &secret).as_deref(), Some(rest), "decrypt(encrypt(x)) != x");
});
