//! JSON Web Key Sets, read with the rules of the parser Convex uses for `customJwt` providers (biscuit).
//!
//! A set is parsed key by key. For `customJwt` a single key the parser rejects (an unknown `alg` such as `EdDSA`, an
//! unknown `kty`, a missing `n`) makes the whole set unusable, as in Convex; OIDC verification (openidconnect in
//! Convex) skips such keys instead. [`JwkSet`] therefore keeps the keys it could read and remembers the first one it
//! could not.

use base64::Engine;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value as Json};

/// The JWA names biscuit's `Algorithm` enum knows: signature algorithms (usable in a JWS header).
const SIGNATURE_ALGORITHMS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "none",
];

/// The other JWA names biscuit knows (key management and content encryption); a JWK may carry them but cannot verify
/// a signature with them.
const OTHER_ALGORITHMS: &[&str] = &[
    "RSA1_5",
    "RSA-OAEP",
    "RSA-OAEP-256",
    "A128KW",
    "A192KW",
    "A256KW",
    "dir",
    "ECDH-ES",
    "ECDH-ES+A128KW",
    "ECDH-ES+A192KW",
    "ECDH-ES+A256KW",
    "A128GCMKW",
    "A192GCMKW",
    "A256GCMKW",
    "PBES2-HS256+A128KW",
    "PBES2-HS384+A192KW",
    "PBES2-HS512+A256KW",
    "A128CBC-HS256",
    "A192CBC-HS384",
    "A256CBC-HS512",
    "A128GCM",
    "A192GCM",
    "A256GCM",
];

/// The curves biscuit's `EllipticCurve` enum knows.
const CURVES: &[&str] = &["P-256", "P-384", "P-521", "Ed25519"];

/// Whether `alg` is a JWS signature algorithm name a JWT header may carry.
pub(crate) fn is_signature_algorithm(alg: &str) -> bool {
    SIGNATURE_ALGORITHMS.contains(&alg)
}

/// Base64url as JOSE libraries read it: padding optional.
pub(crate) fn decode_b64url(input: &str) -> Result<Vec<u8>, base64::DecodeError> {
    const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    ENGINE.decode(input)
}

/// The key material of one JWK (public parts; private members are ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyParams {
    Rsa {
        n: String,
        e: String,
    },
    Ec {
        crv: String,
        x: String,
        y: String,
    },
    /// A symmetric key: never used to verify (Convex's algorithms are asymmetric).
    Oct,
    Okp {
        crv: String,
        x: String,
    },
}

/// One public JSON Web Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: Option<String>,
    pub alg: Option<String>,
    /// `use`.
    pub key_use: Option<String>,
    pub params: KeyParams,
}

impl Jwk {
    /// An RSA public key from its base64url modulus and exponent.
    pub fn rsa(kid: impl Into<String>, alg: Option<&str>, n: impl Into<String>, e: impl Into<String>) -> Jwk {
        Jwk {
            kid: Some(kid.into()),
            alg: alg.map(str::to_string),
            key_use: None,
            params: KeyParams::Rsa { n: n.into(), e: e.into() },
        }
    }

    /// Reads one key with biscuit's rules; the error says which rule failed.
    pub fn from_json(value: &Json) -> Result<Jwk, String> {
        let obj = value.as_object().ok_or("a key must be a JSON object")?;
        let kid = optional_string(obj, "kid")?;
        let alg = optional_string(obj, "alg")?;
        if let Some(alg) = &alg {
            if !SIGNATURE_ALGORITHMS.contains(&alg.as_str()) && !OTHER_ALGORITHMS.contains(&alg.as_str()) {
                return Err(format!("unknown algorithm \"{alg}\""));
            }
        }
        let key_use = optional_string(obj, "use")?;
        let kty = optional_string(obj, "kty")?.ok_or("missing field `kty`")?;
        let params = match kty.as_str() {
            "RSA" => KeyParams::Rsa { n: base64_member(obj, "n")?, e: base64_member(obj, "e")? },
            "EC" => KeyParams::Ec { crv: curve(obj)?, x: base64_member(obj, "x")?, y: base64_member(obj, "y")? },
            "oct" => {
                base64_member(obj, "k")?;
                KeyParams::Oct
            }
            "OKP" => KeyParams::Okp { crv: curve(obj)?, x: base64_member(obj, "x")? },
            other => return Err(format!("unknown key type \"{other}\"")),
        };
        Ok(Jwk { kid, alg, key_use, params })
    }

    /// The key that verifies `algorithm` signatures, if this key can (RSA for RS256, P-256 for ES256).
    pub(crate) fn decoding_key(&self, algorithm: jsonwebtoken::Algorithm) -> Option<DecodingKey> {
        match (&self.params, algorithm) {
            (KeyParams::Rsa { n, e }, jsonwebtoken::Algorithm::RS256) => {
                Some(DecodingKey::from_rsa_raw_components(&decode_b64url(n).ok()?, &decode_b64url(e).ok()?))
            }
            (KeyParams::Ec { crv, x, y }, jsonwebtoken::Algorithm::ES256) if crv == "P-256" => {
                // An uncompressed SEC1 point; the ECDSA verifier reads these bytes with `from_sec1_bytes`.
                let mut point = vec![0x04];
                point.extend(decode_b64url(x).ok()?);
                point.extend(decode_b64url(y).ok()?);
                Some(DecodingKey::from_ec_der(&point))
            }
            _ => None,
        }
    }
}

fn optional_string(obj: &Map<String, Json>, field: &str) -> Result<Option<String>, String> {
    match obj.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{field}` must be a string")),
    }
}

fn base64_member(obj: &Map<String, Json>, field: &str) -> Result<String, String> {
    let value = optional_string(obj, field)?.ok_or_else(|| format!("missing field `{field}`"))?;
    decode_b64url(&value).map_err(|e| format!("`{field}` is not base64url: {e}"))?;
    Ok(value)
}

fn curve(obj: &Map<String, Json>) -> Result<String, String> {
    let crv = optional_string(obj, "crv")?.ok_or("missing field `crv`")?;
    if CURVES.contains(&crv.as_str()) {
        Ok(crv)
    } else {
        Err(format!("unknown curve \"{crv}\""))
    }
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    keys: Vec<Jwk>,
    /// Why the first unreadable key was rejected (`keys[i]: …`).
    invalid: Option<String>,
}

impl JwkSet {
    pub fn new(keys: Vec<Jwk>) -> JwkSet {
        JwkSet { keys, invalid: None }
    }

    /// Parses a JWKS document (`{"keys": [...]}`). Fails only when the document itself is not one; unreadable keys
    /// are skipped and remembered (see the module docs).
    pub fn from_json(body: &[u8]) -> Result<JwkSet, String> {
        let doc: Json = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let keys = doc.get("keys").ok_or("missing field `keys`")?;
        let keys = keys.as_array().ok_or("`keys` must be an array")?;
        let mut set = JwkSet::default();
        for (i, key) in keys.iter().enumerate() {
            match Jwk::from_json(key) {
                Ok(jwk) => set.keys.push(jwk),
                Err(e) => {
                    set.invalid.get_or_insert_with(|| format!("keys[{i}]: {e}"));
                }
            }
        }
        Ok(set)
    }

    /// The keys that could be read.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// Why Convex's `customJwt` parser would reject the whole set, if it would.
    pub fn strict_error(&self) -> Option<&str> {
        self.invalid.as_deref()
    }

    /// The first key with this `kid` (biscuit's `JWKSet::find`).
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}
