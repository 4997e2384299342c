//! get-session, sign-out, list-sessions, revoke-session(s), revoke-other-sessions.

use super::Body;
use crate::adapter::{self, FindOptions, Operator, Where};
use crate::error::AuthError;
use crate::models::Session;
use crate::schema::Model;
use crate::service::{Call, Reply};
use crate::session::{self, adapter_error, Resolved};
use value::Value;

/// `GET /get-session`: `null` or `{session, user}`; slides the expiry when due.
pub(crate) async fn get_session(call: &Call<'_>) -> Result<Reply, AuthError> {
    // Coerced booleans: any non-empty value is true (even "false").
    let disable_refresh = call.query_param("disableRefresh").is_some_and(|v| !v.is_empty());
    let svc = call.svc;
    let (resolved, refreshed) = transact!(svc, txn, session::resolve(call, txn, !disable_refresh).await)?;
    Ok(match resolved {
        Resolved::None => Reply::json(serde_json::Value::Null),
        Resolved::Gone => Reply::json(serde_json::Value::Null).with_cookies(session::clear_cookies(svc)),
        Resolved::Active(active) => Reply::json(serde_json::json!({
            "session": svc.session_json(&active.session),
            "user": svc.user_json(&active.user),
        }))
        .with_cookies(refreshed)
        .with_session(&active.user, &active.session),
    })
}

/// `POST /update-session {<session additional fields>}` (session; Better Auth 1.7): updates the session's
/// additional fields, re-issues the session cookie and answers `{session}`.
pub(crate) async fn update_session(call: &Call<'_>) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let Some(serde_json::Value::Object(body)) = &call.body else {
        return Err(crate::error::codes::BODY_MUST_BE_AN_OBJECT());
    };
    let fields = &svc.config.session.additional_fields;
    let mut update = crate::additional::parse_input(fields, Some(body), crate::additional::Action::Update)?;
    if update.is_empty() {
        return Err(crate::error::codes::NO_FIELDS_TO_UPDATE());
    }
    update.insert("updatedAt".into(), Value::Float64(call.now.as_date_millis()));
    let updated = transact!(svc, txn, {
        let active = session::require(call, txn).await?;
        let updated = adapter::update_one_row::<Session>(txn, &[Where::id(active.session.id.as_str())], update.clone())
            .await
            .map_err(adapter_error)?;
        updated.ok_or_else(AuthError::unauthorized)
    })?;
    let max_age = if call.dont_remember() { None } else { Some(svc.config.session.expires_in) };
    Ok(Reply::json(serde_json::json!({"session": svc.session_json(&updated)}))
        .with_cookies([svc.session_cookie(&updated.token, max_age)]))
}

/// `POST /sign-out`: deletes the session row (if any) and always clears the cookies.
pub(crate) async fn sign_out(call: &Call<'_>) -> Result<Reply, AuthError> {
    let svc = call.svc;
    if let Some(token) = call.session_token() {
        transact!(svc, txn, {
            adapter::delete_one(txn, Model::Session, &[Where::eq("token", token.as_str())])
                .await
                .map_err(adapter_error)?;
            Ok(())
        })?;
    }
    Ok(Reply::json(serde_json::json!({"success": true})).with_cookies(session::clear_cookies(svc)))
}

async fn user_sessions(txn: &mut database::Transaction, user_id: &str, now_ms: f64) -> Result<Vec<Session>, AuthError> {
    let rows = adapter::find_many(txn, Model::Session, &[Where::eq("userId", user_id)], FindOptions::default())
        .await
        .map_err(adapter_error)?;
    let mut sessions = Vec::with_capacity(rows.len());
    for row in rows {
        let s = Session::from_document(&row).map_err(adapter_error)?;
        if s.expires_at > now_ms {
            sessions.push(s);
        }
    }
    Ok(sessions)
}

/// `GET /list-sessions`: the caller's unexpired sessions.
pub(crate) async fn list_sessions(call: &Call<'_>) -> Result<Reply, AuthError> {
    let sessions = transact!(call.svc, txn, {
        let active = session::require(call, txn).await?;
        user_sessions(txn, &active.user.id, call.now.as_date_millis()).await
    })?;
    Ok(Reply::json(
        serde_json::to_value(sessions.iter().map(|s| call.svc.session_json(s)).collect::<Vec<_>>()).unwrap_or_default(),
    ))
}

/// `POST /revoke-session {token}`: deletes one of the caller's sessions (unknown tokens succeed silently).
pub(crate) async fn revoke_session(call: &Call<'_>) -> Result<Reply, AuthError> {
    let body = Body::required(call)?;
    let token = body.string("token")?.to_string();
    transact!(call.svc, txn, {
        let active = session::require(call, txn).await?;
        let filter = [Where::eq("token", token.as_str()), Where::eq("userId", active.user.id.as_str())];
        adapter::delete_one(txn, Model::Session, &filter).await.map_err(adapter_error)?;
        Ok(())
    })?;
    Ok(Reply::json(serde_json::json!({"status": true})))
}

/// `POST /revoke-other-sessions`: deletes every other session of the caller.
pub(crate) async fn revoke_other_sessions(call: &Call<'_>) -> Result<Reply, AuthError> {
    transact!(call.svc, txn, {
        let active = session::require(call, txn).await?;
        let filter = [
            Where::eq("userId", active.user.id.as_str()),
            Where::new("token", Operator::Ne, Value::String(active.session.token.clone())),
        ];
        adapter::delete_many(txn, Model::Session, &filter).await.map_err(adapter_error)?;
        Ok(())
    })?;
    Ok(Reply::json(serde_json::json!({"status": true})))
}

/// `POST /revoke-sessions`: deletes all of the caller's sessions, the current one included (1.4.9 keeps the
/// cookies; the next request finds no session).
pub(crate) async fn revoke_sessions(call: &Call<'_>) -> Result<Reply, AuthError> {
    transact!(call.svc, txn, {
        let active = session::require(call, txn).await?;
        adapter::delete_many(txn, Model::Session, &[Where::eq("userId", active.user.id.as_str())])
            .await
            .map_err(adapter_error)?;
        Ok(())
    })?;
    Ok(Reply::json(serde_json::json!({"status": true})))
}
