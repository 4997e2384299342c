//! The convex plugin (`@convex-dev/better-auth`'s `convex()`): RS256 keys in its `jwks` table, the endpoints
//! `/convex/token`, `/convex/jwks`, `/convex/.well-known/openid-configuration`, the `userId` field on `user`, and
//! an after hook keeping the `convex_jwt` cookie in step with the session cookie: set when sign-in, sign-up, an
//! OAuth callback or get-session yields a session, expired when get-session finds none or a reply expires the
//! session cookie (sign-out, delete-user).

use crate::cookies::{self, SetCookie};
use crate::error::AuthError;
use crate::jwt::{self, KeyRing, MintCache};
use crate::models::{Session, User};
use crate::plugin::{Plugin, RouteSpec, Routed, SchemaPart};
use crate::schema::{index, opt, FieldType, Model};
use crate::service::{Call, Inner, Reply};
use crate::session::{self, Resolved};
use async_trait::async_trait;

const JWT_COOKIE: &str = "convex_jwt";

/// The plugin's part of the schema: the `jwks` table and `user.userId` (`input: false`, a deprecated link to an
/// app users table) with its index.
pub(crate) const SCHEMA: SchemaPart = SchemaPart {
    tables: &[Model::Jwks],
    fields: &[(Model::User, opt("userId", FieldType::String))],
    indexes: &[(Model::User, index("userId", &["userId"]))],
};

const ROUTES: &[RouteSpec] = &[
    RouteSpec::get("/convex/token", "token"),
    RouteSpec::get("/convex/jwks", "jwks"),
    RouteSpec::get("/convex/.well-known/openid-configuration", "openid-configuration"),
];

/// The plugin's state: the signing keys (cached) and recently minted JWTs, so a busy get-session does not sign on
/// every call.
#[derive(Default)]
pub(crate) struct Convex {
    pub keys: KeyRing,
    minted: MintCache,
}

#[async_trait]
impl Plugin for Convex {
    fn id(&self) -> &'static str {
        "convex"
    }

    fn routes(&self) -> &'static [RouteSpec] {
        ROUTES
    }

    async fn handle(&self, route: Routed<'_>, call: &Call<'_>) -> Result<Reply, AuthError> {
        match route.name {
            "token" => self.token(call).await,
            "jwks" => self.jwks(call).await,
            "openid-configuration" => openid_configuration(call),
            _ => Err(AuthError::not_found()),
        }
    }

    async fn after(&self, path: &str, call: &Call<'_>, reply: &mut Reply) {
        if reply.status >= 400 {
            return;
        }
        let creates = ["/sign-in", "/sign-up", "/callback/", "/oauth2/callback/"].iter().any(|p| path.starts_with(p));
        let get_session = path == "/get-session";
        match reply.session.as_deref() {
            Some(active) if creates || get_session => {
                let cookie = self.session_jwt_cookie(call, &active.user, &active.session).await;
                reply.cookies.extend(cookie);
            }
            Some(_) => {}
            None => {
                let session_name = cookies::cookie_name(&call.svc.cookies, "session_token");
                let expires_session = reply.cookies.iter().any(|c| c.name == session_name && c.value.is_empty());
                if get_session || expires_session {
                    reply.cookies.extend(clear_jwt_cookie(call.svc));
                }
            }
        }
    }
}

fn jwt_config<'a>(call: &'a Call<'_>) -> Result<&'a jwt::JwtConfig, AuthError> {
    call.svc.config.jwt.as_ref().ok_or_else(AuthError::not_found)
}

fn jwt_cookie(svc: &Inner, token: &str, max_age: u64) -> SetCookie {
    cookies::auth_cookie(&svc.cookies, JWT_COOKIE, token, Some(max_age))
}

impl Convex {
    /// Mints a token for a session.
    async fn mint_for(&self, call: &Call<'_>, user: &User, session: &Session) -> Result<String, AuthError> {
        let cfg = jwt_config(call)?;
        let keys = self.keys.keys(call.svc, call.now).await?;
        jwt::mint(&keys, cfg, user, session, (call.now.as_date_millis() / 1000.0) as u64)
    }

    /// The JWT cookie for a new or refreshed session (minting errors are logged and swallowed, as the plugin's
    /// after-hook does).
    async fn session_jwt_cookie(&self, call: &Call<'_>, user: &User, session: &Session) -> Option<SetCookie> {
        let cfg = call.svc.config.jwt.as_ref()?;
        let keys = match self.keys.keys(call.svc, call.now).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(error = %e, "could not load the convex JWT keys");
                return None;
            }
        };
        let now_secs = (call.now.as_date_millis() / 1000.0) as u64;
        if let Some((token, remaining)) = self.minted.get(&keys, user, session, now_secs) {
            return Some(jwt_cookie(call.svc, &token, remaining));
        }
        match jwt::mint(&keys, cfg, user, session, now_secs) {
            Ok(token) => {
                self.minted.put(&keys, user, session, &token, now_secs, now_secs + cfg.expiration_secs);
                Some(jwt_cookie(call.svc, &token, cfg.expiration_secs))
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not mint the convex JWT for a session");
                None
            }
        }
    }

    /// `GET /convex/token`: `{token}` for the caller's session (cookie or bearer), plus the JWT cookie.
    async fn token(&self, call: &Call<'_>) -> Result<Reply, AuthError> {
        let cfg = jwt_config(call)?;
        let svc = call.svc;
        let resolved = read!(svc, txn, Ok(session::resolve(call, txn, false).await?.0))?;
        let Resolved::Active(active) = resolved else { return Err(AuthError::unauthorized()) };
        let token = self.mint_for(call, &active.user, &active.session).await?;
        Ok(Reply::json(serde_json::json!({ "token": token })).with_cookies([jwt_cookie(
            svc,
            &token,
            cfg.expiration_secs,
        )]))
    }

    /// `GET /convex/jwks`: the public keys (creating the first pair on demand), no cache headers.
    async fn jwks(&self, call: &Call<'_>) -> Result<Reply, AuthError> {
        jwt_config(call)?;
        let keys = self.keys.keys(call.svc, call.now).await?;
        Ok(Reply::json(jwt::jwks_document(&keys)))
    }
}

/// Expires the JWT cookie (sign-out, delete-user, get-session without a session).
fn clear_jwt_cookie(svc: &Inner) -> Option<SetCookie> {
    svc.config.jwt.as_ref().map(|_| cookies::delete_cookie(&svc.cookies, JWT_COOKIE))
}

/// `GET /convex/.well-known/openid-configuration`: Better Auth's OIDC metadata with the issuer and `jwks_uri` of
/// the deployment.
fn openid_configuration(call: &Call<'_>) -> Result<Reply, AuthError> {
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
