//! Who is calling: bearer JWTs on the Convex HTTP API (and later the sync socket) are verified the way Convex
//! verifies them. The built-in provider is what `getAuthConfigProvider()` describes for this deployment (customJwt,
//! issuer = the site URL, applicationID `convex`, RS256), with its keys handed over in-process by the auth
//! service; app authors may add further customJwt/OIDC issuers.

use database::{Clock, UnixTime};
use functions::{AuthVerifier, VerifiedToken, VerifyError};
use futures::future::BoxFuture;
use identity::{Algorithm, JwkSet, JwksSource, KeySource, Provider, Verifier};
use parking_lot::Mutex;
use std::sync::Arc;

/// The auth service's current keys, parsed once per key-set change.
struct AuthKeys {
    service: auth::AuthService,
    parsed: Mutex<Option<(String, JwkSet)>>,
}

#[async_trait::async_trait]
impl KeySource for AuthKeys {
    async fn jwks(&self) -> Result<JwkSet, String> {
        let document = match self.service.jwks().await {
            Some(Ok(document)) => document,
            Some(Err(e)) => return Err(format!("auth service keys unavailable: {}", e.message)),
            None => return Err("the convex plugin is off".into()),
        };
        let text = document.to_string();
        if let Some((cached_text, set)) = &*self.parsed.lock() {
            if *cached_text == text {
                return Ok(set.clone());
            }
        }
        let set = JwkSet::from_json(text.as_bytes())?;
        *self.parsed.lock() = Some((text, set.clone()));
        Ok(set)
    }
}

/// The built-in provider for a deployment whose JWT issuer is `issuer`.
pub fn builtin_provider(service: &auth::AuthService, issuer: &str) -> Result<Provider, String> {
    let keys = AuthKeys { service: service.clone(), parsed: Mutex::new(None) };
    Provider::custom_jwt(issuer, JwksSource::InProcess(Arc::new(keys)), Algorithm::RS256, Some("convex".into()))
}

/// Verifies tokens against the configured providers at the deployment clock's time.
pub struct ConvexVerifier {
    verifier: Verifier,
    clock: Arc<dyn Clock>,
}

impl ConvexVerifier {
    pub fn new(providers: Vec<Provider>, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let verifier = Verifier::new(providers).map_err(|e| e.to_string())?;
        Ok(ConvexVerifier { verifier, clock })
    }
}

impl AuthVerifier for ConvexVerifier {
    fn verify_token<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<VerifiedToken, VerifyError>> {
        Box::pin(async move {
            self.verifier
                .verify_token(token, self.clock.now())
                .await
                .map(|v| VerifiedToken {
                    identity: v.identity,
                    expires_at: u64::try_from(v.expires_at).ok().map(UnixTime::from_secs),
                })
                .map_err(|failure| VerifyError { code: failure.code, message: failure.message })
        })
    }
}
