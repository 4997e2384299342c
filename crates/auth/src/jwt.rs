//! The convex plugin's keys and tokens: RS256 key pairs in `betterAuth/jwks` (private keys encrypted with the
//! secret exactly as Better Auth stores them), JWT minting, the JWKS document, rotation with a grace period.
//!
//! Keys are cached in memory; the first use under concurrency creates exactly one key (the creation is one
//! serializable transaction that first reads the table, so concurrent creators conflict and re-read).

use crate::adapter::{self, FindOptions, Where};
use crate::crypto::{self, Secret};
use crate::error::AuthError;
use crate::models::{Session, User};
use crate::schema::Model;
use crate::service::Inner;
use crate::session::adapter_error;
use base64::Engine;
use database::Entropy;
use parking_lot::RwLock;
use protocol::UnixTime;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use value::{Object, Value};

/// Options of the convex plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// `iss`: the deployment's site URL (`CONVEX_SITE_URL`).
    pub issuer: String,
    /// `aud` (`"convex"`).
    pub audience: String,
    /// Token lifetime in seconds (`jwt.expirationSeconds`, 900).
    pub expiration_secs: u64,
    /// How long a rotated-out key stays in the JWKS so tokens it signed keep verifying.
    pub rotation_grace_secs: u64,
}

impl JwtConfig {
    pub fn new(issuer: &str) -> Self {
        JwtConfig {
            issuer: issuer.trim_end_matches('/').to_string(),
            audience: "convex".into(),
            expiration_secs: 900,
            rotation_grace_secs: 3600,
        }
    }
}

/// A public key as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub alg: String,
    pub kty: String,
    pub n: String,
    pub e: String,
    pub kid: String,
}

/// The full private JWK, the plaintext of the encrypted `privateKey` column.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PrivateJwk {
    kty: String,
    n: String,
    e: String,
    d: String,
    p: String,
    q: String,
    dp: String,
    dq: String,
    qi: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PublicKeyJson {
    kty: String,
    n: String,
    e: String,
}

/// The keys in use: the newest signs, every unexpired one verifies.
pub struct KeySet {
    signing_kid: String,
    signing: ring::signature::RsaKeyPair,
    pub public: Vec<PublicJwk>,
    /// Epoch ms after which the set must be reloaded (a grace period ends).
    valid_until_ms: f64,
}

/// In-memory cache of the key set.
#[derive(Default)]
pub struct KeyRing {
    cache: RwLock<Option<Arc<KeySet>>>,
    creating: tokio::sync::Mutex<()>,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Result<BigUint, String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| format!("invalid base64url in JWK: {e}"))?;
    Ok(BigUint::from_bytes_be(&bytes))
}

/// An RNG over the injected entropy source, for key generation.
struct EntropyRng<'a>(&'a dyn Entropy);

impl rand::RngCore for EntropyRng<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

impl rand::CryptoRng for EntropyRng<'_> {}

fn private_jwk(key: &RsaPrivateKey) -> Result<PrivateJwk, String> {
    let primes = key.primes();
    let (p, q) = match primes {
        [p, q] => (p, q),
        _ => return Err("expected a two-prime RSA key".into()),
    };
    let dp = key.dp().ok_or("missing dp")?;
    let dq = key.dq().ok_or("missing dq")?;
    let qi = key.crt_coefficient().ok_or("missing qi")?;
    Ok(PrivateJwk {
        kty: "RSA".into(),
        n: b64(&key.n().to_bytes_be()),
        e: b64(&key.e().to_bytes_be()),
        d: b64(&key.d().to_bytes_be()),
        p: b64(&p.to_bytes_be()),
        q: b64(&q.to_bytes_be()),
        dp: b64(&dp.to_bytes_be()),
        dq: b64(&dq.to_bytes_be()),
        qi: b64(&qi.to_bytes_be()),
    })
}

fn encoding_key(jwk: &PrivateJwk) -> Result<ring::signature::RsaKeyPair, String> {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let key = RsaPrivateKey::from_components(
        unb64(&jwk.n)?,
        unb64(&jwk.e)?,
        unb64(&jwk.d)?,
        vec![unb64(&jwk.p)?, unb64(&jwk.q)?],
    )
    .map_err(|e| format!("invalid RSA key: {e}"))?;
    let der = key.to_pkcs1_der().map_err(|e| format!("cannot encode RSA key: {e}"))?;
    ring::signature::RsaKeyPair::from_der(der.as_bytes()).map_err(|e| format!("unusable RSA key: {e}"))
}

/// Decrypts a stored `privateKey` column (a JSON string holding hex ciphertext) into a signing key.
fn decrypt_private_key(column: &str, secret: &Secret) -> Result<ring::signature::RsaKeyPair, String> {
    let hex: String = serde_json::from_str(column).unwrap_or_else(|_| column.to_string());
    let plaintext = crypto::symmetric_decrypt(&hex, secret)
        .ok_or("the stored private key does not decrypt with this BETTER_AUTH_SECRET")?;
    let jwk: PrivateJwk = serde_json::from_str(&plaintext).map_err(|e| format!("invalid private JWK: {e}"))?;
    encoding_key(&jwk)
}

/// Generates a key pair and the fields of its `jwks` row.
pub(crate) fn new_key_row(entropy: &dyn Entropy, secret: &Secret, now_ms: f64) -> Result<Object, String> {
    let key = RsaPrivateKey::new(&mut EntropyRng(entropy), 2048).map_err(|e| format!("RSA key generation: {e}"))?;
    let jwk = private_jwk(&key)?;
    let public = PublicKeyJson { kty: "RSA".into(), n: jwk.n.clone(), e: jwk.e.clone() };
    let plaintext = serde_json::to_string(&jwk).map_err(|e| e.to_string())?;
    let ciphertext = crypto::symmetric_encrypt(&plaintext, secret, entropy);
    let mut row = Object::new();
    row.insert("publicKey".into(), Value::String(serde_json::to_string(&public).map_err(|e| e.to_string())?));
    row.insert("privateKey".into(), Value::String(serde_json::to_string(&ciphertext).map_err(|e| e.to_string())?));
    row.insert("createdAt".into(), Value::Float64(now_ms));
    Ok(row)
}

/// A `jwks` row (the models' typed form).
type KeyRow = crate::models::Jwk;

fn key_row(doc: &Object) -> Option<KeyRow> {
    KeyRow::from_document(doc).ok()
}

fn is_live(row: &KeyRow, now_ms: f64) -> bool {
    row.expires_at.is_none_or(|e| e > now_ms)
}

fn build_key_set(rows: &[KeyRow], secret: &Secret, now_ms: f64) -> Result<Option<KeySet>, String> {
    let live: Vec<&KeyRow> = rows.iter().filter(|r| is_live(r, now_ms)).collect();
    let Some(newest) = live.iter().max_by(|a, b| a.created_at.total_cmp(&b.created_at)) else { return Ok(None) };
    let signing = decrypt_private_key(&newest.private_key, secret)?;
    let mut public = Vec::with_capacity(live.len());
    for row in &live {
        let key: PublicKeyJson =
            serde_json::from_str(&row.public_key).map_err(|e| format!("invalid public JWK in key {}: {e}", row.id))?;
        public.push(PublicJwk { alg: "RS256".into(), kty: key.kty, n: key.n, e: key.e, kid: row.id.clone() });
    }
    // Reload at the end of a grace period, and at least every minute so keys rotated by another process (or
    // node) are picked up.
    let valid_until_ms = live.iter().filter_map(|r| r.expires_at).fold(now_ms + 60_000.0, f64::min);
    Ok(Some(KeySet { signing_kid: newest.id.clone(), signing, public, valid_until_ms }))
}

impl KeyRing {
    fn cached(&self, now_ms: f64) -> Option<Arc<KeySet>> {
        self.cache.read().clone().filter(|k| now_ms < k.valid_until_ms)
    }

    /// Drops the cache (after a rotation elsewhere, or to force a reload).
    pub fn invalidate(&self) {
        *self.cache.write() = None;
    }

    /// The current keys, loading them or creating the first pair when the table is empty.
    pub(crate) async fn keys(&self, svc: &Inner, now: UnixTime) -> Result<Arc<KeySet>, AuthError> {
        let now_ms = now.as_date_millis();
        if let Some(keys) = self.cached(now_ms) {
            return Ok(keys);
        }
        let _guard = self.creating.lock().await;
        if let Some(keys) = self.cached(now_ms) {
            return Ok(keys);
        }
        let secret = &svc.config.secret;
        let rows: Vec<KeyRow> = read!(svc, txn, {
            let docs =
                adapter::find_many(txn, Model::Jwks, &[], FindOptions::default()).await.map_err(adapter_error)?;
            Ok(docs.iter().filter_map(key_row).collect())
        })?;
        let keys = match build_key_set(&rows, secret, now_ms).map_err(key_error)? {
            Some(keys) => keys,
            None => {
                // Generate outside the transaction (it takes a while), insert only if there is still no live key
                // (the table is empty, or holds only keys whose grace period ended).
                let row = {
                    let entropy = svc.entropy.clone();
                    let secret = secret.clone();
                    tokio::task::spawn_blocking(move || new_key_row(entropy.as_ref(), &secret, now_ms))
                        .await
                        .map_err(|e| key_error(e.to_string()))?
                        .map_err(key_error)?
                };
                let rows: Vec<KeyRow> = transact!(svc, txn, {
                    let existing = adapter::find_many(txn, Model::Jwks, &[], FindOptions::default())
                        .await
                        .map_err(adapter_error)?;
                    let mut rows: Vec<KeyRow> = existing.iter().filter_map(key_row).collect();
                    if !rows.iter().any(|r| is_live(r, now_ms)) {
                        let created = adapter::create(txn, Model::Jwks, row.clone()).await.map_err(adapter_error)?;
                        rows.extend(key_row(&created));
                    }
                    Ok(rows)
                })?;
                build_key_set(&rows, secret, now_ms).map_err(key_error)?.ok_or_else(|| key_error("no key".into()))?
            }
        };
        let keys = Arc::new(keys);
        *self.cache.write() = Some(keys.clone());
        Ok(keys)
    }

    /// Creates a new signing key; older keys stay published for the grace period, then disappear.
    pub(crate) async fn rotate(&self, svc: &Inner, jwt: &JwtConfig, now: UnixTime) -> Result<PublicJwk, AuthError> {
        let now_ms = now.as_date_millis();
        let _guard = self.creating.lock().await;
        let row = {
            let entropy = svc.entropy.clone();
            let secret = svc.config.secret.clone();
            tokio::task::spawn_blocking(move || new_key_row(entropy.as_ref(), &secret, now_ms))
                .await
                .map_err(|e| key_error(e.to_string()))?
                .map_err(key_error)?
        };
        let grace_end = now_ms + (jwt.rotation_grace_secs * 1000) as f64;
        let created = transact!(svc, txn, {
            let existing =
                adapter::find_many(txn, Model::Jwks, &[], FindOptions::default()).await.map_err(adapter_error)?;
            for doc in &existing {
                let Some(old) = key_row(doc) else { continue };
                if old.expires_at.is_some_and(|e| e <= now_ms) {
                    adapter::delete_one(txn, Model::Jwks, &[Where::id(old.id.as_str())])
                        .await
                        .map_err(adapter_error)?;
                } else if old.expires_at.is_none() {
                    let mut update = Object::new();
                    update.insert("expiresAt".into(), Value::Float64(grace_end));
                    adapter::update_one(txn, Model::Jwks, &[Where::id(old.id.as_str())], update)
                        .await
                        .map_err(adapter_error)?;
                }
            }
            let created = adapter::create(txn, Model::Jwks, row.clone()).await.map_err(adapter_error)?;
            Ok(key_row(&created))
        })?
        .ok_or_else(|| key_error("created key row is unreadable".into()))?;
        self.invalidate();
        let public: PublicKeyJson = serde_json::from_str(&created.public_key).map_err(|e| key_error(e.to_string()))?;
        Ok(PublicJwk { alg: "RS256".into(), kty: public.kty, n: public.n, e: public.e, kid: created.id })
    }
}

fn key_error(message: String) -> AuthError {
    tracing::error!(error = %message, "JWT key failure");
    AuthError::internal("Failed to load signing keys")
}

/// The default payload (`definePayload`: the user minus `id` and `image`), then `sessionId`; `iat` first, and
/// `sub`, `exp`, `iss`, `aud` last — Better Auth's order.
#[derive(Serialize)]
struct Claims<'a> {
    iat: u64,
    name: &'a str,
    email: &'a str,
    #[serde(rename = "emailVerified")]
    email_verified: bool,
    #[serde(rename = "createdAt")]
    created_at: String,
    #[serde(rename = "updatedAt")]
    updated_at: String,
    #[serde(rename = "sessionId")]
    session_id: &'a str,
    sub: &'a str,
    exp: u64,
    iss: &'a str,
    aud: &'a str,
}

/// Signs claims with the current signing key: header `{"alg":"RS256","kid":<row id>}`, no `typ`.
fn sign(keys: &KeySet, claims: &impl Serialize) -> Result<String, AuthError> {
    /// Better Auth's header: `alg` then `kid`, no `typ`.
    #[derive(Serialize)]
    struct JwtHeader<'a> {
        alg: &'a str,
        kid: &'a str,
    }
    let header = serde_json::to_vec(&JwtHeader { alg: "RS256", kid: &keys.signing_kid })
        .map_err(|e| key_error(format!("cannot encode the JWT header: {e}")))?;
    let payload = serde_json::to_vec(claims).map_err(|e| key_error(format!("cannot encode the JWT claims: {e}")))?;
    let signing_input = format!("{}.{}", b64(&header), b64(&payload));
    let mut signature = vec![0u8; keys.signing.public().modulus_len()];
    keys.signing
        .sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .map_err(|e| key_error(format!("signing failed: {e}")))?;
    Ok(format!("{signing_input}.{}", b64(&signature)))
}

/// Signs a token for a session.
pub(crate) fn mint(
    keys: &KeySet,
    jwt: &JwtConfig,
    user: &User,
    session: &Session,
    now_secs: u64,
) -> Result<String, AuthError> {
    let claims = Claims {
        iat: now_secs,
        name: &user.name,
        email: &user.email,
        email_verified: user.email_verified,
        created_at: crate::dates::iso_millis(user.created_at),
        updated_at: crate::dates::iso_millis(user.updated_at),
        session_id: &session.id,
        sub: &user.id,
        exp: now_secs + jwt.expiration_secs,
        iss: &jwt.issuer,
        aud: &jwt.audience,
    };
    sign(keys, &claims)
}

/// The JWKS document.
pub(crate) fn jwks_document(keys: &KeySet) -> serde_json::Value {
    serde_json::json!({ "keys": keys.public })
}

#[cfg(test)]
mod tests;

/// JWTs minted for the cookie hooks, by session. A token is reused while it has most of its lifetime left and was
/// minted for the same user state (`updatedAt`) and key set; `/convex/token` always mints afresh (the Convex
/// client treats a refresh that returns the same string as a failure).
#[derive(Default)]
pub struct MintCache {
    entries: parking_lot::Mutex<std::collections::HashMap<String, CachedToken>>,
}

#[derive(Clone)]
struct CachedToken {
    token: String,
    user_updated_at: f64,
    kid: String,
    iat: u64,
    exp: u64,
}

/// Cached tokens are reused during the first quarter of their lifetime.
const REUSE_FRACTION: u64 = 4;
/// Bound on remembered sessions (the cache is cleared when it grows past this).
const MINT_CACHE_CAPACITY: usize = 100_000;

impl MintCache {
    /// A cached token for `session` still fresh at `now_secs`, with its remaining lifetime in seconds.
    pub(crate) fn get(&self, keys: &KeySet, user: &User, session: &Session, now_secs: u64) -> Option<(String, u64)> {
        let entries = self.entries.lock();
        let cached = entries.get(&session.id)?;
        let lifetime = cached.exp.saturating_sub(cached.iat);
        let fresh = now_secs >= cached.iat && now_secs - cached.iat < lifetime / REUSE_FRACTION;
        (fresh && cached.user_updated_at == user.updated_at && cached.kid == keys.signing_kid)
            .then(|| (cached.token.clone(), cached.exp.saturating_sub(now_secs)))
    }

    pub(crate) fn put(&self, keys: &KeySet, user: &User, session: &Session, token: &str, iat: u64, exp: u64) {
        let mut entries = self.entries.lock();
        if entries.len() >= MINT_CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(
            session.id.clone(),
            CachedToken {
                token: token.to_string(),
                user_updated_at: user.updated_at,
                kid: keys.signing_kid.clone(),
                iat,
                exp,
            },
        );
    }
}
