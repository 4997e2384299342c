//! A compact JWS split into its parts and read without verification, with the claim types Convex's parser enforces.

use crate::error::AuthFailure;
use crate::jwk::{decode_b64url, is_signature_algorithm};
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value as Json};

/// The registered claims (typed as biscuit types them: a wrongly typed one makes the payload unparseable) and the
/// whole claim set.
#[derive(Debug, Clone)]
pub(crate) struct Claims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    /// `aud` as a list: a single string becomes a one-element list; `None` when absent.
    pub aud: Option<Vec<String>>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    pub all: Map<String, Json>,
}

impl Claims {
    fn from_map(all: Map<String, Json>) -> Option<Claims> {
        let string = |name: &str| match all.get(name) {
            None | Some(Json::Null) => Some(None),
            Some(Json::String(s)) => Some(Some(s.clone())),
            Some(_) => None,
        };
        let timestamp = |name: &str| match all.get(name) {
            None | Some(Json::Null) => Some(None),
            Some(Json::Number(n)) => n.as_i64().map(Some),
            Some(_) => None,
        };
        let aud = match all.get("aud") {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) => Some(vec![s.clone()]),
            Some(Json::Array(items)) => {
                Some(items.iter().map(|item| item.as_str().map(str::to_string)).collect::<Option<Vec<_>>>()?)
            }
            Some(_) => return None,
        };
        string("jti")?;
        Some(Claims {
            iss: string("iss")?,
            sub: string("sub")?,
            aud,
            exp: timestamp("exp")?,
            nbf: timestamp("nbf")?,
            iat: timestamp("iat")?,
            all,
        })
    }

    /// The audiences, empty when `aud` is absent.
    pub fn audiences(&self) -> &[String] {
        self.aud.as_deref().unwrap_or_default()
    }
}

/// The protected header fields verification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub alg: String,
    pub kid: Option<String>,
}

/// A token whose payload has been read but nothing verified.
pub(crate) struct UnverifiedJwt<'a> {
    header_b64: &'a str,
    /// `header.payload`, the bytes the signature covers.
    signing_input: &'a str,
    signature_b64: &'a str,
    pub claims: Claims,
}

impl<'a> UnverifiedJwt<'a> {
    pub fn parse(token: &'a str) -> Result<UnverifiedJwt<'a>, AuthFailure> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthFailure::unparseable_payload());
        };
        let payload = decode_b64url(payload_b64).map_err(|_| AuthFailure::unparseable_payload())?;
        let all: Map<String, Json> =
            serde_json::from_slice(&payload).map_err(|_| AuthFailure::unparseable_payload())?;
        let claims = Claims::from_map(all).ok_or_else(AuthFailure::unparseable_payload)?;
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        Ok(UnverifiedJwt { header_b64, signing_input, signature_b64, claims })
    }

    /// The protected header; the error says what is wrong with it.
    pub fn header(&self) -> Result<Header, String> {
        let bytes = decode_b64url(self.header_b64).map_err(|_| "not base64url".to_string())?;
        let obj: Map<String, Json> = serde_json::from_slice(&bytes).map_err(|_| "not a JSON object".to_string())?;
        let alg = match obj.get("alg") {
            Some(Json::String(alg)) if is_signature_algorithm(alg) => alg.clone(),
            Some(Json::String(alg)) => return Err(format!("unknown algorithm \"{alg}\"")),
            _ => return Err("missing `alg`".to_string()),
        };
        let kid = match obj.get("kid") {
            None | Some(Json::Null) => None,
            Some(Json::String(kid)) => Some(kid.clone()),
            Some(_) => return Err("`kid` must be a string".to_string()),
        };
        Ok(Header { alg, kid })
    }

    /// Whether the signature verifies with exactly this key and algorithm.
    pub fn signature_valid(&self, key: &DecodingKey, algorithm: jsonwebtoken::Algorithm) -> bool {
        jsonwebtoken::crypto::verify(self.signature_b64, self.signing_input.as_bytes(), key, algorithm).unwrap_or(false)
    }
}
