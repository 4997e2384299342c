//! Bearer token verification, step for step as convex-backend does it (see the crate docs for the order).

use crate::cache::{FetchCache, Fresh};
use crate::error::{AuthFailure, Error};
use crate::fetch::{decode_data_url, http_get, DISCOVERY_CONTENT_TYPES, JWKS_CONTENT_TYPES};
use crate::jwk::JwkSet;
use crate::provider::{iss_with_scheme, issuers_equal, Algorithm, JwksSource, Provider};
use crate::token::UnverifiedJwt;
use crate::user_identity::{custom_jwt_identity, oidc_identity};
use functions::UserIdentity;
use protocol::UnixTime;
use std::sync::Arc;
use std::time::Duration;

/// Clock-skew allowance for `exp`, `nbf` and `iat` of customJwt tokens (Convex's biscuit `epsilon`).
pub const LEEWAY_SECS: i128 = 5;

/// Operational knobs. The defaults suit a deployment; none of them changes which tokens are valid except the JWKS
/// lifetime, which bounds how long a key removed from a JWKS endpoint keeps verifying.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// How long a fetched JWKS or discovery document is reused when the response has no `Cache-Control` max-age
    /// (Better Auth's JWKS endpoint sends none). Convex itself would refetch every time; zero does that too.
    pub default_ttl: Duration,
    /// Upper bound for a `Cache-Control: max-age` the provider asks for.
    pub max_ttl: Duration,
    /// A token whose `kid` is not in a still-fresh JWKS refetches it at once, at most this often per URL.
    pub unknown_kid_refetch_interval: Duration,
    /// Whole-request timeout for JWKS and discovery requests.
    pub http_timeout: Duration,
    pub http_connect_timeout: Duration,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            default_ttl: Duration::from_secs(300),
            max_ttl: Duration::from_secs(24 * 60 * 60),
            unknown_kid_refetch_interval: Duration::from_secs(5),
            http_timeout: Duration::from_secs(10),
            http_connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A verified token: the identity and the `exp` after which the identity is no longer valid (a WebSocket session
/// answers `"Convex token identity expired"` from then on; no leeway applies to that).
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub identity: UserIdentity,
    pub expires_at: i64,
}

/// The parts of an OpenID configuration document verification uses.
#[derive(Debug)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// Verifies bearer JWTs against the configured providers. Cheap to share (`Arc`); caches live inside.
pub struct Verifier {
    providers: Vec<Provider>,
    config: VerifierConfig,
    http: reqwest::Client,
    jwks: FetchCache<JwkSet>,
    discovery: FetchCache<Discovery>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("providers", &self.providers).field("config", &self.config).finish()
    }
}

impl Verifier {
    pub fn new(providers: Vec<Provider>) -> Result<Verifier, Error> {
        Verifier::with_config(providers, VerifierConfig::default())
    }

    pub fn with_config(providers: Vec<Provider>, config: VerifierConfig) -> Result<Verifier, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .connect_timeout(config.http_connect_timeout)
            .redirect(reqwest::redirect::Policy::default())
            .user_agent(concat!("authvex/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::HttpClient(e.to_string()))?;
        Ok(Verifier::with_http_client(providers, config, http))
    }

    /// With a caller-built HTTP client (its redirect policy and timeouts apply).
    pub fn with_http_client(providers: Vec<Provider>, config: VerifierConfig, http: reqwest::Client) -> Verifier {
        Verifier { providers, config, http, jwks: FetchCache::new(), discovery: FetchCache::new() }
    }

    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// Verifies `token` at `now` into the identity functions see. JWT claims are whole seconds: `now` is compared
    /// as [`UnixTime::as_secs`].
    pub async fn verify(&self, token: &str, now: UnixTime) -> Result<UserIdentity, AuthFailure> {
        self.verify_token(token, now).await.map(|verified| verified.identity)
    }

    /// [`Verifier::verify`], also returning the token's expiry.
    pub async fn verify_token(&self, token: &str, now: UnixTime) -> Result<Verified, AuthFailure> {
        let now_secs = now.as_secs();
        let jwt = UnverifiedJwt::parse(token)?;
        let iss = jwt.claims.iss.as_deref().ok_or_else(AuthFailure::missing_issuer_claim)?;
        let provider = self
            .providers
            .iter()
            .find(|p| p.matches_token(jwt.claims.audiences(), iss))
            .ok_or_else(|| AuthFailure::no_provider(&self.providers))?;
        let (identity, expires_at) = match provider {
            Provider::CustomJwt { issuer, jwks, algorithm, application_id } => {
                let check =
                    CustomJwtCheck { issuer, jwks, algorithm: *algorithm, application_id: application_id.as_deref() };
                self.verify_custom_jwt(&jwt, check, now_secs).await?
            }
            Provider::Oidc { application_id, .. } => self.verify_oidc(&jwt, iss, application_id, now_secs).await?,
        };
        Ok(Verified { identity, expires_at })
    }

    async fn verify_custom_jwt(
        &self,
        jwt: &UnverifiedJwt<'_>,
        check: CustomJwtCheck<'_>,
        now: u64,
    ) -> Result<(UserIdentity, i64), AuthFailure> {
        let kid_hint = jwt.header().ok().and_then(|h| h.kid);
        let keys = self.custom_jwt_keys(check.jwks, kid_hint.as_deref(), now).await?;
        if let Some(reason) = keys.strict_error() {
            return Err(AuthFailure::invalid_jwks(reason));
        }

        // biscuit `decode_with_jwks(jwks, Some(configured algorithm))`.
        let header = jwt.header().map_err(|e| AuthFailure::bad_header(&e))?;
        let kid = header.kid.as_deref().ok_or_else(AuthFailure::missing_kid)?;
        let jwk = keys.find(kid).ok_or_else(|| AuthFailure::unknown_kid(kid))?;
        let expected = check.algorithm.as_str();
        if let Some(jwk_alg) = jwk.alg.as_deref() {
            if !crate::jwk::is_signature_algorithm(jwk_alg) {
                return Err(AuthFailure::unsupported_key(kid));
            }
            if header.alg != jwk_alg || jwk_alg != expected {
                return Err(AuthFailure::wrong_algorithm(&header.alg, expected));
            }
        } else if header.alg != expected {
            return Err(AuthFailure::wrong_algorithm(&header.alg, expected));
        }
        let algorithm = check.algorithm.jsonwebtoken();
        let key = jwk.decoding_key(algorithm).ok_or_else(|| AuthFailure::unsupported_key(kid))?;
        if !jwt.signature_valid(&key, algorithm) {
            return Err(AuthFailure::invalid_signature());
        }

        let claims = &jwt.claims;
        if let Some(iss) = claims.iss.as_deref() {
            if !issuers_equal(check.issuer, iss) {
                return Err(AuthFailure::invalid_issuer(iss, check.issuer));
            }
        }
        if let Some(application_id) = check.application_id {
            let audiences = claims.aud.as_deref().ok_or_else(AuthFailure::missing_audience)?;
            if !audiences.iter().any(|aud| aud == application_id) {
                return Err(AuthFailure::invalid_audience(audiences, application_id));
            }
        }
        let now = i128::from(now);
        if let Some(exp) = claims.exp {
            if now - i128::from(exp) > LEEWAY_SECS {
                return Err(AuthFailure::expired(now - i128::from(exp)));
            }
        }
        for not_before in [claims.nbf, claims.iat].into_iter().flatten() {
            if i128::from(not_before) - now > LEEWAY_SECS {
                return Err(AuthFailure::not_yet_valid(i128::from(not_before) - now));
            }
        }
        custom_jwt_identity(claims)
    }

    /// The key set of a customJwt provider; `kid` (from the token header) decides whether a cached set will do.
    async fn custom_jwt_keys(
        &self,
        source: &JwksSource,
        kid: Option<&str>,
        now: u64,
    ) -> Result<Arc<JwkSet>, AuthFailure> {
        let satisfies = |set: &JwkSet| kid.is_none_or(|kid| set.find(kid).is_some());
        let refetch_interval = self.config.unknown_kid_refetch_interval.as_secs();
        match source {
            JwksSource::Static(set) => Ok(set.clone()),
            JwksSource::InProcess(keys) => keys
                .jwks()
                .await
                .map(Arc::new)
                .map_err(|e| AuthFailure::jwks_unavailable(format!("Could not load the deployment's JWKS: {e}"))),
            JwksSource::Data(url) => {
                self.jwks
                    .get(url, now, satisfies, refetch_interval, || async {
                        let body = decode_data_url(url).map_err(|e| AuthFailure::invalid_jwks(&e))?;
                        let value = JwkSet::from_json(&body).map_err(|e| AuthFailure::invalid_jwks(&e))?;
                        Ok(Fresh { value, ttl: u64::MAX })
                    })
                    .await
            }
            JwksSource::Url(url) => self.fetch_jwks(url, now, satisfies).await,
        }
    }

    async fn fetch_jwks(
        &self,
        url: &str,
        now: u64,
        satisfies: impl Fn(&JwkSet) -> bool,
    ) -> Result<Arc<JwkSet>, AuthFailure> {
        let refetch_interval = self.config.unknown_kid_refetch_interval.as_secs();
        self.jwks
            .get(url, now, satisfies, refetch_interval, || async {
                let fetched = http_get(&self.http, url, JWKS_CONTENT_TYPES, "auth jwks").await.map_err(|e| {
                    tracing::warn!(url, error = %e, "JWKS request failed");
                    AuthFailure::jwks_unavailable(e)
                })?;
                let value = JwkSet::from_json(&fetched.body).map_err(|e| AuthFailure::invalid_jwks(&e))?;
                tracing::debug!(url, keys = value.keys().len(), "fetched JWKS");
                Ok(Fresh { value, ttl: self.ttl(fetched.max_age) })
            })
            .await
    }

    fn ttl(&self, max_age: Option<u64>) -> u64 {
        max_age.map_or(self.config.default_ttl.as_secs(), |max_age| max_age.min(self.config.max_ttl.as_secs()))
    }

    /// An OIDC ID token (RS256): discovery at `<iss>/.well-known/openid-configuration`, keys from its `jwks_uri`,
    /// then openidconnect's checks: exact issuer, audience = the application ID alone (`azp`, if present, too),
    /// `exp` in the future without leeway, `iat` present.
    async fn verify_oidc(
        &self,
        jwt: &UnverifiedJwt<'_>,
        iss: &str,
        application_id: &str,
        now: u64,
    ) -> Result<(UserIdentity, i64), AuthFailure> {
        let discovery_url = format!("{}/.well-known/openid-configuration", iss_with_scheme(iss).trim_end_matches('/'));
        let discovery = self
            .discovery
            .get(
                &discovery_url,
                now,
                |_| true,
                0,
                || async {
                    let fetched = http_get(&self.http, &discovery_url, DISCOVERY_CONTENT_TYPES, "OpenID configuration")
                        .await
                        .map_err(|e| AuthFailure::discovery_failed(&discovery_url, &e))?;
                    let value = parse_discovery(&fetched.body)
                        .map_err(|e| AuthFailure::discovery_failed(&discovery_url, &e))?;
                    Ok(Fresh { value, ttl: self.ttl(fetched.max_age) })
                },
            )
            .await?;
        if discovery.issuer != iss {
            return Err(AuthFailure::discovery_failed(
                &discovery_url,
                &format!("unexpected issuer URI `{}` (expected `{iss}`)", discovery.issuer),
            ));
        }

        let header = jwt.header().map_err(|_| AuthFailure::oidc_unverified())?;
        if header.alg != Algorithm::RS256.as_str() {
            return Err(AuthFailure::oidc_unverified());
        }
        let kid = header.kid.as_deref();
        let keys =
            self.fetch_jwks(&discovery.jwks_uri, now, |set| kid.is_none_or(|kid| set.find(kid).is_some())).await?;
        let algorithm = Algorithm::RS256.jsonwebtoken();
        let verified = keys
            .keys()
            .iter()
            .filter(|jwk| kid.is_none_or(|kid| jwk.kid.as_deref() == Some(kid)))
            .filter(|jwk| jwk.key_use.as_deref().is_none_or(|u| u == "sig"))
            .filter(|jwk| jwk.alg.as_deref().is_none_or(|alg| alg == "RS256"))
            .filter_map(|jwk| jwk.decoding_key(algorithm))
            .any(|key| jwt.signature_valid(&key, algorithm));
        if !verified {
            return Err(AuthFailure::oidc_unverified());
        }

        let claims = &jwt.claims;
        let audiences = claims.audiences();
        let azp = claims.all.get("azp");
        let audience_ok = !audiences.is_empty()
            && audiences.iter().all(|aud| aud == application_id)
            && azp.is_none_or(|azp| azp.as_str() == Some(application_id));
        let exp = claims.exp.ok_or_else(AuthFailure::oidc_unverified)?;
        if !audience_ok || claims.iat.is_none() || i128::from(now) >= i128::from(exp) {
            return Err(AuthFailure::oidc_unverified());
        }
        oidc_identity(claims)
    }
}

struct CustomJwtCheck<'a> {
    issuer: &'a str,
    jwks: &'a JwksSource,
    algorithm: Algorithm,
    application_id: Option<&'a str>,
}

/// openidconnect's `CoreProviderMetadata` requirements: these members present, `issuer` and `jwks_uri` strings.
fn parse_discovery(body: &[u8]) -> Result<Discovery, String> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    for required in [
        "authorization_endpoint",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        if doc.get(required).is_none_or(serde_json::Value::is_null) {
            return Err(format!("missing field `{required}`"));
        }
    }
    let string = |field: &str| {
        doc.get(field)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("missing field `{field}`"))
    };
    Ok(Discovery { issuer: string("issuer")?, jwks_uri: string("jwks_uri")? })
}
