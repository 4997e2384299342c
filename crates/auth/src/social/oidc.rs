//! OpenID Connect pieces: discovery documents and JWKS (fetched through [`OAuthHttp`], cached), and ID-token
//! verification — signature by `jsonwebtoken` against the provider's keys, then `iss`, `aud`/`azp`, `exp`,
//! `iat`, `nbf` and `nonce` checked against the injected clock (never the system clock).

use super::http::{OAuthHttp, OutboundRequest};
use super::ProviderConfig;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use parking_lot::Mutex;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// How long a discovery document or key set is reused.
const CACHE_MS: f64 = 3600.0 * 1000.0;
/// An unknown `kid` refetches the key set at most this often.
const REFETCH_MS: f64 = 10.0 * 1000.0;
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: f64 = 30.0;
/// Signature algorithms accepted for ID tokens (asymmetric only: an HMAC "signed" with a public key proves nothing).
const ALGORITHMS: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

/// A provider's endpoints, after discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub user_info: Option<String>,
    pub jwks: Option<String>,
    pub issuers: Vec<String>,
}

/// Discovery documents and key sets, cached per URL.
pub struct OidcCache {
    http: Arc<dyn OAuthHttp>,
    documents: Mutex<HashMap<String, (f64, Value)>>,
}

impl OidcCache {
    pub fn new(http: Arc<dyn OAuthHttp>) -> Self {
        OidcCache { http, documents: Mutex::new(HashMap::new()) }
    }

    pub fn http(&self) -> &dyn OAuthHttp {
        self.http.as_ref()
    }

    /// A JSON document from `url`, from the cache unless it is older than an hour (or `refresh_after_ms` when
    /// given and it is older than that).
    async fn document(&self, url: &str, now_ms: f64, refresh_after_ms: Option<f64>) -> Result<Value, String> {
        let max_age = refresh_after_ms.unwrap_or(CACHE_MS);
        if let Some((fetched, doc)) = self.documents.lock().get(url) {
            if now_ms - fetched < max_age {
                return Ok(doc.clone());
            }
        }
        let response = self.http.send(OutboundRequest::get(url).header("accept", "application/json")).await?;
        if response.status != 200 {
            return Err(format!("GET {url} answered {}", response.status));
        }
        let doc = response.json().filter(Value::is_object).ok_or_else(|| format!("GET {url}: not a JSON object"))?;
        self.documents.lock().insert(url.to_string(), (now_ms, doc.clone()));
        Ok(doc)
    }

    /// The provider's endpoints: configured ones, the rest from its discovery document.
    pub async fn endpoints(&self, provider: &ProviderConfig, now_ms: f64) -> Result<Endpoints, String> {
        let discovered = match &provider.discovery_url {
            Some(url) => Some(self.document(url, now_ms, None).await?),
            None => None,
        };
        let field = |name: &str| -> Option<String> {
            discovered.as_ref().and_then(|d| d.get(name)).and_then(Value::as_str).map(str::to_string)
        };
        let authorization = provider
            .authorization_url
            .clone()
            .or_else(|| field("authorization_endpoint"))
            .ok_or_else(|| format!("provider {}: no authorization endpoint", provider.id))?;
        let token = provider
            .token_url
            .clone()
            .or_else(|| field("token_endpoint"))
            .ok_or_else(|| format!("provider {}: no token endpoint", provider.id))?;
        let issuers =
            if provider.issuers.is_empty() { field("issuer").into_iter().collect() } else { provider.issuers.clone() };
        Ok(Endpoints {
            authorization,
            token,
            user_info: provider.user_info_url.clone().or_else(|| field("userinfo_endpoint")),
            jwks: provider.jwks_url.clone().or_else(|| field("jwks_uri")),
            issuers,
        })
    }

    /// The key with `kid` (or the only key usable for `alg` when the token names none).
    async fn key(&self, jwks_url: &str, kid: Option<&str>, alg: &str, now_ms: f64) -> Result<Value, String> {
        let find = |doc: &Value| -> Option<Value> {
            let keys = doc.get("keys")?.as_array()?;
            let usable = |k: &&Value| {
                k.get("use").and_then(Value::as_str).is_none_or(|u| u == "sig")
                    && k.get("alg").and_then(Value::as_str).is_none_or(|a| a == alg)
            };
            match kid {
                Some(kid) => {
                    keys.iter().filter(usable).find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)).cloned()
                }
                None => {
                    let mut candidates = keys.iter().filter(usable);
                    let first = candidates.next()?;
                    candidates.next().is_none().then(|| first.clone())
                }
            }
        };
        let doc = self.document(jwks_url, now_ms, None).await?;
        if let Some(key) = find(&doc) {
            return Ok(key);
        }
        // Keys rotate: an unknown kid refetches the set (not more often than every REFETCH_MS).
        let doc = self.document(jwks_url, now_ms, Some(REFETCH_MS)).await?;
        find(&doc).ok_or_else(|| format!("no signing key {kid:?} in {jwks_url}"))
    }

    /// Verifies an ID token from `provider` and returns its claims. `nonce`: the value the token must carry.
    /// `max_age_secs`: how old `iat` may be (Google's ID-token sign-in allows an hour).
    pub async fn verify_id_token(
        &self,
        provider: &ProviderConfig,
        endpoints: &Endpoints,
        token: &str,
        nonce: Option<&str>,
        max_age_secs: Option<u64>,
        now_ms: f64,
    ) -> Result<Map<String, Value>, String> {
        let jwks_url = endpoints.jwks.as_deref().ok_or("the provider publishes no keys (jwksUrl)")?;
        if endpoints.issuers.is_empty() {
            return Err("the provider's issuer is unknown (issuer)".into());
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not a compact JWS".into());
        };
        let decode = |part: &str| -> Result<Map<String, Value>, String> {
            let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| "bad base64url in the token")?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err("a token part is not a JSON object".into()),
            }
        };
        let header = decode(header_b64)?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or_default().to_string();
        if !ALGORITHMS.contains(&alg.as_str()) {
            return Err(format!("ID-token algorithm {alg:?} is not accepted"));
        }
        let algorithm: jsonwebtoken::Algorithm = alg.parse().map_err(|_| format!("unknown algorithm {alg:?}"))?;
        let kid = header.get("kid").and_then(Value::as_str);
        let jwk_value = self.key(jwks_url, kid, &alg, now_ms).await?;
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(jwk_value).map_err(|e| format!("unusable JWK: {e}"))?;
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable JWK: {e}"))?;
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        let valid = jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), &key, algorithm).unwrap_or(false);
        if !valid {
            return Err("bad ID-token signature".into());
        }
        let claims = decode(payload_b64)?;
        check_claims(&claims, &endpoints.issuers, &provider.client_id, nonce, max_age_secs, now_ms)?;
        Ok(claims)
    }
}

/// The claims of an ID token this service verified when it received it (read back from an account row).
/// Never use it on a token from a request.
pub fn stored_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The claim checks of OIDC Core §3.1.3.7 (after the signature).
pub fn check_claims(
    claims: &Map<String, Value>,
    issuers: &[String],
    client_id: &str,
    nonce: Option<&str>,
    max_age_secs: Option<u64>,
    now_ms: f64,
) -> Result<(), String> {
    let now = now_ms / 1000.0;
    let iss = claims.get("iss").and_then(Value::as_str).ok_or("no iss")?;
    if !issuers.iter().any(|i| i == iss) {
        return Err(format!("iss {iss:?} is not the provider's"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => return Err("no aud".into()),
    };
    if !audiences.contains(&client_id) {
        return Err(format!("aud {audiences:?} does not name this client"));
    }
    if let Some(azp) = claims.get("azp").and_then(Value::as_str) {
        if azp != client_id {
            return Err(format!("azp {azp:?} is not this client"));
        }
    } else if audiences.len() > 1 {
        return Err("several audiences and no azp".into());
    }
    let exp = claims.get("exp").and_then(Value::as_f64).ok_or("no exp")?;
    if now > exp + LEEWAY_SECS {
        return Err("the ID token has expired".into());
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64) {
        if now + LEEWAY_SECS < nbf {
            return Err("the ID token is not valid yet".into());
        }
    }
    let iat = claims.get("iat").and_then(Value::as_f64);
    if let Some(iat) = iat {
        if now + LEEWAY_SECS < iat {
            return Err("the ID token was issued in the future".into());
        }
    }
    if let Some(max_age) = max_age_secs {
        let iat = iat.ok_or("no iat")?;
        if now - iat > max_age as f64 + LEEWAY_SECS {
            return Err("the ID token is too old".into());
        }
    }
    if let Some(expected) = nonce {
        let actual = claims.get("nonce").and_then(Value::as_str);
        let matches = actual.is_some_and(|a| crate::crypto::constant_time_eq(a.as_bytes(), expected.as_bytes()));
        if !matches {
            return Err("nonce mismatch".into());
        }
    }
    match claims.get("sub").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() => Ok(()),
        _ => Err("no sub".into()),
    }
}
