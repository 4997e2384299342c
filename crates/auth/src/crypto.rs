//! Better Auth 1.4.9's cryptography, byte for byte: password hashing (scrypt), cookie signatures (HMAC-SHA256),
//! ids and tokens, PKCE, the e-mail verification JWT (HS256) and the symmetric encryption used for the JWKS
//! private key and the OAuth state (XChaCha20-Poly1305).
//!
//! Pure: no I/O, no clock, no global RNG. Randomness comes from a [`database::Entropy`], time from parameters.
//! Every function here is pinned by vectors computed with the real `better-auth@1.4.9` package (see `tests.rs`).
//!
//! Where the JavaScript is more lenient than the spec text, this module follows the JavaScript (the package is
//! the contract): e.g. a password hash's salt is any text, and a cookie signature's base64 may carry non-zero
//! trailing bits (`atob` ignores them).

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit as _};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use database::Entropy;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use unicode_normalization::UnicodeNormalization;

#[cfg(test)]
mod tests;

type HmacSha256 = Hmac<Sha256>;

/// Decodes standard base64 the way `atob` does for our inputs: padding optional, trailing bits ignored.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64url the way `jose` does: padding optional, trailing bits ignored.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

// ---------------------------------------------------------------------------------------------------------------
// Secret
// ---------------------------------------------------------------------------------------------------------------

/// The deployment's auth secret (Better Auth's `secret` option). Its UTF-8 bytes key the cookie HMAC, the
/// e-mail verification JWTs and (through SHA-256) the symmetric encryption. `Debug` never prints it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: String) -> Self {
        Secret(secret)
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Primitives
// ---------------------------------------------------------------------------------------------------------------

/// Compares two byte strings without an early exit on the first difference (lengths are not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// HMAC-SHA256 keyed with the secret's UTF-8 bytes.
pub fn hmac_sha256(secret: &Secret, message: &[u8]) -> [u8; 32] {
    hmac_sha256_raw(secret.as_bytes(), message)
}

/// HMAC-SHA256 with a key of any length.
///
/// `Hmac::new_from_slice` is typed as fallible although HMAC accepts every key length, so the key is brought to
/// the block size here exactly as RFC 2104 does (hashed when longer than 64 bytes, then zero-padded), which
/// lets us use the infallible fixed-size constructor.
fn hmac_sha256_raw(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <HmacSha256 as Mac>::new(&block.into());
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Lowercase hex, as `@better-auth/utils/hex` and `@noble/ciphers` `bytesToHex` produce it.
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Hex decoding as `@noble/hashes` `hexToBytes`: either case, even length; anything else is `None`.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let pairs = text.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    pairs.map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?)).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Passwords (spec §3)
// ---------------------------------------------------------------------------------------------------------------

/// scrypt cost `N = 2^14`.
const SCRYPT_LOG_N: u8 = 14;
const SCRYPT_R: u32 = 16;
const SCRYPT_P: u32 = 1;
/// Derived key length in bytes (128 hex chars in the stored string).
const SCRYPT_KEY_LEN: usize = 64;
/// Random salt bytes; their 32-char lowercase hex text is the scrypt salt.
const SALT_LEN: usize = 16;

/// Better Auth's key derivation: scrypt over the NFKC-normalised password with the salt *text* as salt.
///
/// `None` only if the scrypt crate rejected our fixed parameters, which the vector tests rule out.
fn derive_password_key(password: &str, salt: &str) -> Option<[u8; SCRYPT_KEY_LEN]> {
    let normalized: String = password.nfkc().collect();
    let params = scrypt::Params::new(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, SCRYPT_KEY_LEN).ok()?;
    let mut key = [0u8; SCRYPT_KEY_LEN];
    scrypt::scrypt(normalized.as_bytes(), salt.as_bytes(), &params, &mut key).ok()?;
    Some(key)
}

/// Hashes a password as Better Auth stores it: `<saltHex>:<keyHex>` (32 + 1 + 128 lowercase hex chars).
///
/// Deliberately slow (scrypt N=16384, r=16: 32 MiB, tens of milliseconds in release builds); run it off the
/// async executor's hot path. Should the key derivation ever fail (it cannot with the fixed parameters), the
/// result is the empty string, which no password verifies: the failure is closed, never a usable hash.
pub fn hash_password(password: &str, entropy: &dyn Entropy) -> String {
    let mut salt_bytes = [0u8; SALT_LEN];
    entropy.fill(&mut salt_bytes);
    let salt = hex_encode(&salt_bytes);
    match derive_password_key(password, &salt) {
        Some(key) => format!("{salt}:{}", hex_encode(&key)),
        None => String::new(),
    }
}

/// Verifies a password against a stored `<salt>:<keyHex>` string, as Better Auth's `verifyPassword`:
/// the first two `:`-separated parts are used (more are ignored), the salt is used as text whatever it contains,
/// the key may be hex in either case, and the comparison is constant-time. Anything malformed (missing or empty
/// part, key not hex or not 64 bytes) is `false` (where JavaScript throws or compares unequal).
pub fn verify_password(hash: &str, password: &str) -> bool {
    let mut parts = hash.split(':');
    let (Some(salt), Some(key_hex)) = (parts.next(), parts.next()) else {
        return false;
    };
    if salt.is_empty() {
        return false;
    }
    let Some(expected) = hex_decode(key_hex) else {
        return false;
    };
    // A key of the wrong length can never compare equal; skip the expensive derivation.
    if expected.len() != SCRYPT_KEY_LEN {
        return false;
    }
    match derive_password_key(password, salt) {
        Some(actual) => constant_time_eq(&actual, &expected),
        None => false,
    }
}

/// A password's length as Better Auth measures it for `minPasswordLength`/`maxPasswordLength`: JavaScript's
/// `.length`, i.e. UTF-16 code units of the input as received (not normalised; an emoji counts 2).
pub fn password_length(password: &str) -> usize {
    password.encode_utf16().count()
}

// ---------------------------------------------------------------------------------------------------------------
// Cookie signatures (spec §2.3)
// ---------------------------------------------------------------------------------------------------------------

/// Length of `base64(HMAC-SHA256)`: 43 characters and one `=`.
const SIGNATURE_LEN: usize = 44;

/// `value + "." + base64(HMAC-SHA256(secret, value))`, as better-call's `signCookieValue` before it
/// percent-encodes (see [`crate::cookies::encode_uri_component`]).
pub fn sign_cookie_value(value: &str, secret: &Secret) -> String {
    let signature = STANDARD.encode(hmac_sha256(secret, value.as_bytes()));
    format!("{value}.{signature}")
}

/// Checks a signed value (already percent-decoded) as better-call's `getSignedCookie`: split at the last `.`,
/// the value before it must be non-empty, the signature after it exactly 44 characters ending with `=`, and the
/// HMAC must match (constant-time). Returns the unsigned value.
pub fn verify_signed_value(signed: &str, secret: &Secret) -> Option<String> {
    let dot = signed.rfind('.')?;
    if dot == 0 {
        return None;
    }
    let (value, signature) = (&signed[..dot], &signed[dot + 1..]);
    if signature.len() != SIGNATURE_LEN || !signature.ends_with('=') {
        return None;
    }
    let provided = STANDARD_LENIENT.decode(signature).ok()?;
    let expected = hmac_sha256(secret, value.as_bytes());
    constant_time_eq(&provided, &expected).then(|| value.to_owned())
}

// ---------------------------------------------------------------------------------------------------------------
// Ids and tokens (spec §4)
// ---------------------------------------------------------------------------------------------------------------

/// The character sets Better Auth draws ids and tokens from, in its own order (the order decides which byte
/// maps to which character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// `a-zA-Z0-9` (62): row ids, session tokens, reset tokens (`generateId`).
    AlphaNumeric,
    /// `a-z0-9A-Z-_` (64): OAuth `state`, PKCE verifier (`generateRandomString` default).
    UrlSafe,
    /// `0-9a-z` (36): delete-account token.
    LowerAlphaNumeric,
}

impl Alphabet {
    fn symbols(self) -> &'static [u8] {
        match self {
            Alphabet::AlphaNumeric => b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            Alphabet::UrlSafe => b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_",
            Alphabet::LowerAlphaNumeric => b"0123456789abcdefghijklmnopqrstuvwxyz",
        }
    }
}

/// A random string as `@better-auth/utils/random`: bytes at or above the largest multiple of the alphabet size
/// (248 for 62, 252 for 36, none for 64) are discarded, the others map to `alphabet[byte % size]`. Bytes are
/// drawn `2 * len` at a time, as the JavaScript does.
pub fn random_string(len: usize, alphabet: Alphabet, entropy: &dyn Entropy) -> String {
    let symbols = alphabet.symbols();
    let size = symbols.len();
    let max_valid = (256 / size) * size;
    let mut out = String::with_capacity(len);
    let mut buffer = vec![0u8; len * 2];
    let mut next = buffer.len();
    while out.len() < len {
        if next >= buffer.len() {
            entropy.fill(&mut buffer);
            next = 0;
        }
        let byte = usize::from(buffer[next]);
        next += 1;
        if byte < max_valid {
            out.push(char::from(symbols[byte % size]));
        }
    }
    out
}

/// A row id (user, session, account, verification, jwks): 32 alphanumeric characters.
pub fn generate_id(entropy: &dyn Entropy) -> String {
    random_string(32, Alphabet::AlphaNumeric, entropy)
}

/// A session token (the value signed into the session cookie): 32 alphanumeric characters.
pub fn session_token(entropy: &dyn Entropy) -> String {
    random_string(32, Alphabet::AlphaNumeric, entropy)
}

/// A password-reset token: 24 alphanumeric characters.
pub fn reset_token(entropy: &dyn Entropy) -> String {
    random_string(24, Alphabet::AlphaNumeric, entropy)
}

/// An OAuth `state`: 32 characters of `a-z0-9A-Z-_`.
pub fn oauth_state(entropy: &dyn Entropy) -> String {
    random_string(32, Alphabet::UrlSafe, entropy)
}

/// A delete-account verification token: 32 characters of `0-9a-z`.
pub fn delete_account_token(entropy: &dyn Entropy) -> String {
    random_string(32, Alphabet::LowerAlphaNumeric, entropy)
}

/// A PKCE `code_verifier`: 128 characters of `a-z0-9A-Z-_`.
pub fn pkce_verifier(entropy: &dyn Entropy) -> String {
    random_string(128, Alphabet::UrlSafe, entropy)
}

/// The PKCE `S256` challenge: `base64url_nopad(SHA-256(verifier))`.
pub fn pkce_challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

// ---------------------------------------------------------------------------------------------------------------
// HS256 JWTs (spec §4, §7.15; `jose` as better-auth calls it)
// ---------------------------------------------------------------------------------------------------------------

/// `base64url({"alg":"HS256"})`: better-auth's `signJWT` sets exactly this protected header (no `typ`).
const HS256_HEADER_B64: &str = "eyJhbGciOiJIUzI1NiJ9";

/// Why a JWT was refused. The verify-email endpoint answers `token_expired` for [`JwtError::Expired`] and
/// `invalid_token` for everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Malformed, wrong algorithm, bad signature, unusable claims, or not yet valid (`nbf`).
    #[error("invalid token")]
    Invalid,
    /// Correctly signed but `exp <= now`.
    #[error("token expired")]
    Expired,
}

impl JwtError {
    /// The error string Better Auth puts in the redirect (`?error=`) or the 401 body's `message`.
    pub fn code(self) -> &'static str {
        match self {
            JwtError::Invalid => "invalid_token",
            JwtError::Expired => "token_expired",
        }
    }
}

/// Signs an HS256 JWT over a payload that is already JSON text (so its key order is the caller's, as
/// `JSON.stringify` would give it). Header `{"alg":"HS256"}`, key = the secret's bytes.
pub fn sign_hs256_jwt(payload_json: &str, secret: &Secret) -> String {
    let payload = URL_SAFE_NO_PAD.encode(payload_json.as_bytes());
    let signing_input = format!("{HS256_HEADER_B64}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(secret, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// Verifies an HS256 JWT as `jose`'s `jwtVerify(token, secret, { algorithms: ["HS256"] })` at `now_secs`:
/// three parts; the header a JSON object with `alg` `"HS256"` and no `crit`; the signature checked before any
/// claim is looked at; the payload a JSON object; `iat`/`nbf`/`exp`, when present, numbers; `nbf > now` is
/// invalid and `exp <= now` expired. Returns the payload.
pub fn verify_hs256_jwt(token: &str, secret: &Secret, now_secs: u64) -> Result<Map<String, Value>, JwtError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Invalid);
    };

    let header = decode_json_object(header_b64)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") || header.contains_key("crit") {
        return Err(JwtError::Invalid);
    }
    let signature = URL_SAFE_LENIENT.decode(signature_b64).map_err(|_| JwtError::Invalid)?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    if !constant_time_eq(&signature, &hmac_sha256(secret, signing_input.as_bytes())) {
        return Err(JwtError::Invalid);
    }

    let claims = decode_json_object(payload_b64)?;
    let now = now_secs as f64;
    let numeric = |name: &str| -> Result<Option<f64>, JwtError> {
        match claims.get(name) {
            None => Ok(None),
            Some(value) => value.as_f64().map(Some).ok_or(JwtError::Invalid),
        }
    };
    numeric("iat")?;
    if numeric("nbf")?.is_some_and(|nbf| nbf > now) {
        return Err(JwtError::Invalid);
    }
    if numeric("exp")?.is_some_and(|exp| exp <= now) {
        return Err(JwtError::Expired);
    }
    Ok(claims)
}

fn decode_json_object(segment: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_LENIENT.decode(segment).map_err(|_| JwtError::Invalid)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(JwtError::Invalid),
    }
}

/// The claims of the e-mail verification token, in better-auth's order: `email`, `updateTo`?, `requestType`?,
/// `iat`, `exp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailVerificationClaims {
    /// Always lowercase (better-auth lowercases it when issuing).
    pub email: String,
    /// The new address of a change-email flow.
    #[serde(rename = "updateTo", skip_serializing_if = "Option::is_none")]
    pub update_to: Option<String>,
    /// `change-email-confirmation` or `change-email-verification` in change-email flows.
    #[serde(rename = "requestType", skip_serializing_if = "Option::is_none")]
    pub request_type: Option<String>,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expires at (seconds since the epoch); better-auth's default lifetime is 3600 s.
    pub exp: u64,
}

impl EmailVerificationClaims {
    /// Claims issued at `now_secs`, valid for `expires_in_secs`; the e-mail is lowercased.
    pub fn new(
        email: &str,
        update_to: Option<String>,
        request_type: Option<String>,
        now_secs: u64,
        expires_in_secs: u64,
    ) -> Self {
        EmailVerificationClaims {
            email: email.to_lowercase(),
            update_to,
            request_type,
            iat: now_secs,
            exp: now_secs.saturating_add(expires_in_secs),
        }
    }
}

/// Signs the e-mail verification JWT exactly as better-auth's `createEmailVerificationToken` (the e-mail is
/// lowercased here too, whatever the caller put in the claims).
pub fn sign_email_verification_jwt(claims: &EmailVerificationClaims, secret: &Secret) -> String {
    let lowered = EmailVerificationClaims { email: claims.email.to_lowercase(), ..claims.clone() };
    // Serialising strings and integers cannot fail; were it to, the empty payload would never verify.
    let payload = serde_json::to_string(&lowered).unwrap_or_default();
    sign_hs256_jwt(&payload, secret)
}

/// Verifies an e-mail verification JWT at `now_secs` (see [`verify_hs256_jwt`] for the order of checks), then
/// reads its claims: `email` a string, `updateTo`/`requestType` strings when present, `iat`/`exp` non-negative
/// integers. better-auth always issues `iat` and `exp`; a token without them (which only a holder of the secret
/// could mint) is refused as invalid, where `jose` would accept one without `exp` forever.
pub fn verify_email_verification_jwt(
    token: &str,
    secret: &Secret,
    now_secs: u64,
) -> Result<EmailVerificationClaims, JwtError> {
    let claims = verify_hs256_jwt(token, secret, now_secs)?;
    let optional_string = |name: &str| -> Result<Option<String>, JwtError> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(JwtError::Invalid),
        }
    };
    let email = optional_string("email")?.ok_or(JwtError::Invalid)?;
    let update_to = optional_string("updateTo")?;
    let request_type = optional_string("requestType")?;
    let iat = claims.get("iat").and_then(Value::as_u64).ok_or(JwtError::Invalid)?;
    let exp = claims.get("exp").and_then(Value::as_u64).ok_or(JwtError::Invalid)?;
    Ok(EmailVerificationClaims { email, update_to, request_type, iat, exp })
}

// ---------------------------------------------------------------------------------------------------------------
// Symmetric encryption (spec §15.4)
// ---------------------------------------------------------------------------------------------------------------

/// XChaCha20-Poly1305 nonce length.
const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
const TAG_LEN: usize = 16;

fn symmetric_cipher(secret: &Secret) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Sha256::digest(secret.as_bytes()))
}

/// better-auth's `symmetricEncrypt`: XChaCha20-Poly1305 with key = SHA-256(secret), a random 24-byte nonce
/// prepended (`@noble/ciphers` `managedNonce`), the whole as lowercase hex. Used for the JWKS private key and
/// the cookie-stored OAuth state.
///
/// Encryption only fails for plaintexts of 256 GiB and more; the empty string returned then never decrypts.
pub fn symmetric_encrypt(plaintext: &str, secret: &Secret, entropy: &dyn Entropy) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    entropy.fill(&mut nonce);
    match symmetric_cipher(secret).encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes()) {
        Ok(sealed) => {
            let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
            out.extend_from_slice(&nonce);
            out.extend_from_slice(&sealed);
            hex_encode(&out)
        }
        Err(_) => String::new(),
    }
}

/// better-auth's `symmetricDecrypt`: hex (either case) of nonce ‖ ciphertext ‖ tag. `None` when the text is not
/// hex, too short, or fails authentication. Invalid UTF-8 in the plaintext becomes U+FFFD, as `TextDecoder`.
pub fn symmetric_decrypt(ciphertext_hex: &str, secret: &Secret) -> Option<String> {
    let bytes = hex_decode(ciphertext_hex)?;
    if bytes.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let plaintext = symmetric_cipher(secret).decrypt(XNonce::from_slice(nonce), sealed).ok()?;
    Some(String::from_utf8_lossy(&plaintext).into_owned())
}
