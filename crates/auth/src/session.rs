//! Sessions: creation, lookup with expiry and sliding refresh, and the cookies that carry them.

use crate::adapter::{self, Where};
use crate::cookies::{self, SetCookie};
use crate::crypto;
use crate::error::AuthError;
use crate::models::{Session, User};
use crate::schema::Model;
use crate::service::{storage_error, Call, Inner};
use database::Transaction;
use value::{Object, Value};

/// Sessions created with `rememberMe: false` live one day.
const DONT_REMEMBER_SECS: u64 = 24 * 3600;

pub(crate) fn adapter_error(e: adapter::AdapterError) -> AuthError {
    match e {
        adapter::AdapterError::Database(db) => storage_error(&db),
        adapter::AdapterError::Hook(crate::triggers::HookError::Reject(message)) => {
            AuthError::new(protocol::ErrorCode::REJECTED_BY_HOOK, message)
        }
        other => {
            tracing::error!(error = %other, "auth adapter failure");
            AuthError::internal("Internal server error")
        }
    }
}

/// A valid session and its user.
#[derive(Debug, Clone)]
pub(crate) struct Active {
    pub session: Session,
    pub user: User,
}

/// The outcome of resolving the request's session.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// No (valid) session cookie: nothing to clear.
    None,
    /// The cookie named a session that expired or no longer exists: clear the cookies.
    Gone,
    Active(Box<Active>),
}

/// Creates a session row for a user.
pub(crate) async fn create(
    svc: &Inner,
    txn: &mut Transaction,
    call: &Call<'_>,
    user_id: &str,
    dont_remember: bool,
) -> Result<Session, AuthError> {
    let now = call.now.as_date_millis();
    let lifetime = if dont_remember { DONT_REMEMBER_SECS } else { svc.config.session.expires_in };
    let token = crypto::session_token(svc.entropy.as_ref());
    let mut fields = Object::new();
    fields.insert("expiresAt".into(), Value::Float64(now + (lifetime * 1000) as f64));
    fields.insert("token".into(), Value::String(token));
    fields.insert("createdAt".into(), Value::Float64(now));
    fields.insert("updatedAt".into(), Value::Float64(now));
    fields.insert("ipAddress".into(), Value::String(call.ip_string()));
    fields.insert("userAgent".into(), Value::String(call.user_agent()));
    let extra =
        crate::additional::parse_input(&svc.config.session.additional_fields, None, crate::additional::Action::Create)?;
    fields.extend(extra);
    fields.insert("userId".into(), Value::String(user_id.to_string()));
    let doc = adapter::create(txn, Model::Session, fields).await.map_err(adapter_error)?;
    Session::from_document(&doc).map_err(adapter_error)
}

/// The cookies that establish a session in the browser.
pub(crate) fn cookies_for(svc: &Inner, session: &Session, dont_remember: bool) -> Vec<SetCookie> {
    if dont_remember {
        vec![svc.session_cookie(&session.token, None), cookies::dont_remember_cookie(&svc.cookies, &svc.config.secret)]
    } else {
        vec![svc.session_cookie(&session.token, Some(svc.config.session.expires_in))]
    }
}

/// Cookies that sign the browser out.
pub(crate) fn clear_cookies(svc: &Inner) -> Vec<SetCookie> {
    cookies::delete_session_cookies(&svc.cookies)
}

/// Loads a session by token with its user, if both exist.
pub(crate) async fn load(txn: &mut Transaction, token: &str) -> Result<Option<(Session, User)>, AuthError> {
    let Some(doc) =
        adapter::find_one(txn, Model::Session, &[Where::eq("token", token)]).await.map_err(adapter_error)?
    else {
        return Ok(None);
    };
    let session = Session::from_document(&doc).map_err(adapter_error)?;
    let Some(user_doc) = adapter::find_one(txn, Model::User, &[Where::eq("id", session.user_id.as_str())])
        .await
        .map_err(adapter_error)?
    else {
        return Ok(None);
    };
    let user = User::from_document(&user_doc).map_err(adapter_error)?;
    Ok(Some((session, user)))
}

/// Resolves the request's session inside `txn`: deletes an expired row (when `txn` can write), and (when
/// `refresh`) slides the expiry once the session is older than `updateAge`. Returns the refreshed cookie when it
/// slid.
pub(crate) async fn resolve(
    call: &Call<'_>,
    txn: &mut Transaction,
    refresh: bool,
) -> Result<(Resolved, Option<SetCookie>), AuthError> {
    let svc = call.svc;
    let Some(token) = call.session_token() else { return Ok((Resolved::None, None)) };
    let Some((mut session, user)) = load(txn, &token).await? else { return Ok((Resolved::Gone, None)) };
    let now = call.now.as_date_millis();
    if session.expires_at < now {
        // Endpoints that only read resolve in a read-only transaction: the row stays for a writing one to delete.
        if !txn.is_read_only() {
            adapter::delete_one(txn, Model::Session, &[Where::eq("id", session.id.as_str())])
                .await
                .map_err(adapter_error)?;
        }
        return Ok((Resolved::Gone, None));
    }
    let mut refreshed = None;
    let cfg = &svc.config.session;
    let issued_at = session.expires_at - (cfg.expires_in * 1000) as f64;
    let due = issued_at + (cfg.update_age * 1000) as f64 <= now;
    if refresh && due && !call.dont_remember() {
        let expires_at = now + (cfg.expires_in * 1000) as f64;
        let mut update = Object::new();
        update.insert("expiresAt".into(), Value::Float64(expires_at));
        update.insert("updatedAt".into(), Value::Float64(now));
        let updated = adapter::update_one(txn, Model::Session, &[Where::eq("id", session.id.as_str())], update)
            .await
            .map_err(adapter_error)?;
        if updated.is_none() {
            return Ok((Resolved::Gone, None));
        }
        session.expires_at = expires_at;
        session.updated_at = now;
        let max_age = ((expires_at - now) / 1000.0).floor() as u64;
        refreshed = Some(svc.session_cookie(&session.token, Some(max_age)));
    }
    Ok((Resolved::Active(Box::new(Active { session, user })), refreshed))
}

/// The session middleware: a valid session or a bodyless 401.
pub(crate) async fn require(call: &Call<'_>, txn: &mut Transaction) -> Result<Active, AuthError> {
    match resolve(call, txn, false).await?.0 {
        Resolved::Active(active) => Ok(*active),
        _ => Err(AuthError::unauthorized()),
    }
}

/// The `fresh` middleware: a valid session created or refreshed within `freshAge`.
pub(crate) async fn require_fresh(call: &Call<'_>, txn: &mut Transaction) -> Result<Active, AuthError> {
    let active = require(call, txn).await?;
    let fresh_age = call.svc.config.session.fresh_age;
    if fresh_age > 0 {
        let last = active.session.updated_at.max(active.session.created_at);
        if call.now.as_date_millis() - last >= (fresh_age * 1000) as f64 {
            return Err(crate::error::codes::SESSION_IS_NOT_FRESH());
        }
    }
    Ok(active)
}
