//! The verified identity of a caller, as `ctx.auth.getUserIdentity()` returns it.

use value::{Object, Value};

/// `tokenIdentifier`, `subject`, `issuer` plus every other claim as Convex exposes it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserIdentity {
    pub token_identifier: String,
    pub subject: String,
    pub issuer: String,
    /// The remaining fields (camelCase keys for OIDC standard claims, raw claim names for customJwt).
    pub fields: Object,
}

impl UserIdentity {
    /// The identity object functions return to clients.
    pub fn to_value(&self) -> Value {
        let mut o = self.fields.clone();
        o.insert("tokenIdentifier".into(), Value::String(self.token_identifier.clone()));
        o.insert("subject".into(), Value::String(self.subject.clone()));
        o.insert("issuer".into(), Value::String(self.issuer.clone()));
        Value::Object(o)
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.fields.get(field)
    }
}

/// Why a token was rejected: Convex's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    /// [`ErrorCode::InvalidAuthHeader`], [`ErrorCode::NoAuthProvider`], … (the edge picks the status from it).
    pub code: protocol::ErrorCode,
    pub message: String,
}

/// A verified token: the identity and when it stops being valid.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    pub identity: UserIdentity,
    pub expires_at: Option<protocol::UnixTime>,
}

/// Verifies bearer tokens into identities (the HTTP API, HTTP actions and the sync socket use it).
pub trait AuthVerifier: Send + Sync + 'static {
    fn verify_token<'a>(&'a self, token: &'a str)
        -> futures::future::BoxFuture<'a, Result<VerifiedToken, VerifyError>>;

    fn verify<'a>(&'a self, token: &'a str) -> futures::future::BoxFuture<'a, Result<UserIdentity, VerifyError>> {
        Box::pin(async move { self.verify_token(token).await.map(|v| v.identity) })
    }
}

/// A deployment with no auth providers configured: every token is rejected the way Convex rejects it.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAuthProviders;

impl AuthVerifier for NoAuthProviders {
    fn verify_token<'a>(
        &'a self,
        _token: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<VerifiedToken, VerifyError>> {
        Box::pin(async {
            Err(VerifyError {
                code: protocol::ErrorCode::NoAuthProvider,
                message: "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers".into(),
            })
        })
    }
}
