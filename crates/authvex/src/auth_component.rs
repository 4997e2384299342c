//! Helpers for functions that need the signed-in user, the equivalents of `authComponent.getAuthUser(ctx)` and
//! `safeGetAuthUser(ctx)` from `@convex-dev/better-auth`. They re-read the session and user rows inside the
//! function's own transaction, so a revoked session stops counting at once (even while its JWT is unexpired) and
//! subscribed queries re-run when it is revoked.

use functions::{Auth, DatabaseReader, Document, FunctionError};
use value::DocumentId;

/// The auth component's namespace.
pub const NAMESPACE: &str = "betterAuth";

/// The user document (with `_id`, `_creationTime`, dates as epoch ms) of the caller's session, or `None` when the
/// caller has no identity, the session was revoked or expired, or the user is gone.
pub async fn safe_get_auth_user(
    db: &DatabaseReader,
    auth: &Auth,
    now_ms: f64,
) -> Result<Option<Document>, FunctionError> {
    let Some(identity) = auth.get_user_identity() else { return Ok(None) };
    let Some(session_id) = identity.get("sessionId").and_then(|v| v.as_str()) else { return Ok(None) };
    // A `sessionId` claim that is no document id (another issuer's token) names no session: `None`, not an error.
    let Ok(session_id) = DocumentId::parse(session_id) else { return Ok(None) };
    let component = db.component(NAMESPACE);
    let Some(session) = component.get(session_id).await? else { return Ok(None) };
    let live = session.get("expiresAt").and_then(|v| v.as_f64()).is_some_and(|expires| expires > now_ms);
    let owned = session.get("userId").and_then(|v| v.as_str()) == Some(identity.subject.as_str());
    if !live || !owned {
        return Ok(None);
    }
    component.get(identity.subject.as_str()).await
}

/// Like [`safe_get_auth_user`], but a missing user is the `ConvexError("Unauthenticated")` the npm helper throws.
pub async fn get_auth_user(db: &DatabaseReader, auth: &Auth, now_ms: f64) -> Result<Document, FunctionError> {
    safe_get_auth_user(db, auth, now_ms).await?.ok_or_else(|| FunctionError::convex("Unauthenticated"))
}
