//! The convex plugin's endpoints (`/convex/token`, `/convex/jwks`, `/convex/.well-known/openid-configuration`) and
//! the JWT cookie it keeps in step with the session cookie.

use crate::cookies::{self, SetCookie};
use crate::error::AuthError;
use crate::jwt;
use crate::models::{Session, User};
use crate::service::{Call, Inner, Reply};
use crate::session::{self, Resolved};

const JWT_COOKIE: &str = "convex_jwt";

fn jwt_config<'a>(call: &'a Call<'_>) -> Result<&'a jwt::JwtConfig, AuthError> {
    call.svc.config.jwt.as_ref().ok_or_else(AuthError::not_found)
}

/// Mints a token for a session.
pub(crate) async fn mint_for(call: &Call<'_>, user: &User, session: &Session) -> Result<String, AuthError> {
    let cfg = jwt_config(call)?;
    let keys = call.svc.keys.keys(call.svc, call.now).await?;
    jwt::mint(&keys, cfg, user, session, (call.now.as_date_millis() / 1000.0) as u64)
}

fn jwt_cookie(svc: &Inner, token: &str, max_age: u64) -> SetCookie {
    cookies::auth_cookie(&svc.cookies, JWT_COOKIE, token, Some(max_age))
}

/// The JWT cookie for a new or refreshed session (none when the plugin is off; minting errors are logged and
/// swallowed, as the plugin's after-hook does).
pub(crate) async fn session_jwt_cookie(call: &Call<'_>, user: &User, session: &Session) -> Option<SetCookie> {
    let cfg = call.svc.config.jwt.as_ref()?;
    let keys = match call.svc.keys.keys(call.svc, call.now).await {
        Ok(keys) => keys,
        Err(e) => {
            tracing::warn!(error = %e, "could not load the convex JWT keys");
            return None;
        }
    };
    let now_secs = (call.now.as_date_millis() / 1000.0) as u64;
    if let Some((token, remaining)) = call.svc.minted.get(&keys, user, session, now_secs) {
        return Some(jwt_cookie(call.svc, &token, remaining));
    }
    match jwt::mint(&keys, cfg, user, session, now_secs) {
        Ok(token) => {
            call.svc.minted.put(&keys, user, session, &token, now_secs, now_secs + cfg.expiration_secs);
            Some(jwt_cookie(call.svc, &token, cfg.expiration_secs))
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not mint the convex JWT for a session");
            None
        }
    }
}

/// Expires the JWT cookie (sign-out, delete-user, get-session without a session).
pub(crate) fn clear_jwt_cookie(svc: &Inner) -> Option<SetCookie> {
    svc.config.jwt.as_ref().map(|_| cookies::delete_cookie(&svc.cookies, JWT_COOKIE))
}

/// `GET /convex/token`: `{token}` for the caller's session (cookie or bearer), plus the JWT cookie.
pub(crate) async fn token(call: &Call<'_>) -> Result<Reply, AuthError> {
    let cfg = jwt_config(call)?;
    let svc = call.svc;
    let resolved = read!(svc, txn, Ok(session::resolve(call, txn, false).await?.0))?;
    let Resolved::Active(active) = resolved else { return Err(AuthError::unauthorized()) };
    let token = mint_for(call, &active.user, &active.session).await?;
    Ok(Reply::json(serde_json::json!({ "token": token })).with_cookies([jwt_cookie(svc, &token, cfg.expiration_secs)]))
}

/// `GET /convex/jwks`: the public keys (creating the first pair on demand), no cache headers.
pub(crate) async fn jwks(call: &Call<'_>) -> Result<Reply, AuthError> {
    jwt_config(call)?;
    let keys = call.svc.keys.keys(call.svc, call.now).await?;
    Ok(Reply::json(jwt::jwks_document(&keys)))
}

/// `GET /convex/.well-known/openid-configuration`: Better Auth's OIDC metadata with the issuer and `jwks_uri` of
/// the deployment.
pub(crate) fn openid_configuration(call: &Call<'_>) -> Result<Reply, AuthError> {
    let cfg = jwt_config(call)?;
    let base = call.svc.config.auth_base();
    let jwks_uri = format!("{}{}/convex/jwks", cfg.issuer, call.svc.config.base_path);
    Ok(Reply::json(serde_json::json!({
        "issuer": cfg.issuer,
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "userinfo_endpoint": format!("{base}/oauth2/userinfo"),
        "jwks_uri": jwks_uri,
        "registration_endpoint": format!("{base}/oauth2/register"),
        "end_session_endpoint": format!("{base}/oauth2/endsession"),
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "acr_values_supported": ["urn:mace:incommon:iap:silver", "urn:mace:incommon:iap:bronze"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256", "none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "nbf", "iat", "jti", "email", "email_verified", "name"],
    })))
}
