//! change-password, request-password-reset, the reset link, reset-password.

use super::account::credential_account;
use super::sign::check_callback;
use super::{check_password_length, Body};
use crate::adapter::{self, Where};
use crate::crypto;
use crate::email::{Email, EmailKind};
use crate::error::{codes, AuthError};
use crate::models::{Account, User, Verification};
use crate::origin::CallbackKind;
use crate::schema::Model;
use crate::service::{Call, Reply};
use crate::session::{self, adapter_error};
use value::{Object, Value};

const RESET_PREFIX: &str = "reset-password:";

/// `POST /verify-password {password}` (session; Better Auth 1.7): `{status: true}` when it is the user's password,
/// 400 `INVALID_PASSWORD` otherwise (also without a credential account; the hash time is spent either way).
pub(crate) async fn verify_password(call: &Call<'_>) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let password = Body::required(call)?.string("password")?.to_string();
    let account = read!(svc, txn, {
        let active = session::require(call, txn).await?;
        credential_account(txn, &active.user.id).await
    })?;
    let hash = account.and_then(|a| a.password);
    if !svc.hasher.verify(hash.as_deref(), &password).await {
        return Err(codes::INVALID_PASSWORD());
    }
    Ok(Reply::json(serde_json::json!({"status": true})))
}

/// `POST /change-password {newPassword, currentPassword, revokeOtherSessions?}` (sensitive).
pub(crate) async fn change_password(call: &Call<'_>) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let body = Body::required(call)?;
    let new_password = body.string("newPassword")?.to_string();
    let current_password = body.string("currentPassword")?.to_string();
    let revoke_others = body.opt_bool("revokeOtherSessions")?.unwrap_or(false);
    check_password_length(call, &new_password)?;

    let (active, account) = read!(svc, txn, {
        let active = session::require(call, txn).await?;
        let account = credential_account(txn, &active.user.id).await?;
        Ok((active, account))
    })?;
    let Some(account) = account.filter(|a| a.password.is_some()) else {
        return Err(codes::CREDENTIAL_ACCOUNT_NOT_FOUND());
    };
    if !svc.hasher.verify(account.password.as_deref(), &current_password).await {
        return Err(codes::INVALID_PASSWORD());
    }
    let hash = svc.hasher.hash(&new_password).await.ok_or_else(codes::FAILED_TO_UPDATE_USER)?;
    let new_session = transact!(svc, txn, {
        // The session must still be valid and the stored hash unchanged since we verified it.
        let current = session::require(call, txn).await?;
        let stored =
            adapter::find_one_row::<Account>(txn, &[Where::id(account.id.as_str())]).await.map_err(adapter_error)?;
        if current.user.id != active.user.id || stored.and_then(|a| a.password) != account.password {
            return Err(codes::INVALID_PASSWORD());
        }
        let mut update = Object::new();
        update.insert("password".into(), Value::String(hash.clone()));
        update.insert("updatedAt".into(), Value::Float64(call.now.as_date_millis()));
        adapter::update_one(txn, Model::Account, &[Where::id(account.id.as_str())], update)
            .await
            .map_err(adapter_error)?;
        if revoke_others {
            adapter::delete_many(txn, Model::Session, &[Where::eq("userId", active.user.id.as_str())])
                .await
                .map_err(adapter_error)?;
            return Ok(Some(session::create(svc, txn, call, &active.user.id, false).await?));
        }
        Ok(None)
    })?;
    let user = svc.user_json(&active.user);
    Ok(match new_session {
        Some(s) => Reply::json(serde_json::json!({"token": s.token, "user": user}))
            .with_cookies(session::cookies_for(svc, &s, false))
            .with_session(&active.user, &s),
        None => Reply::json(serde_json::json!({"token": null, "user": user})),
    })
}

/// `POST /request-password-reset {email, redirectTo?}`: the same answer whether or not the address exists.
pub(crate) async fn request_password_reset(call: &Call<'_>) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let body = Body::required(call)?;
    let email = body.email("email")?;
    let redirect_to = body.opt_string("redirectTo")?.map(str::to_string);
    check_callback(call, redirect_to.as_deref(), CallbackKind::Redirect)?;
    let token = crypto::reset_token(svc.entropy.as_ref());
    let expires_in = svc.config.email_and_password.reset_password_token_expires_in;
    let now = call.now.as_date_millis();
    let user = transact!(svc, txn, {
        let Some(user) =
            adapter::find_one_row::<User>(txn, &[Where::eq("email", email.as_str())]).await.map_err(adapter_error)?
        else {
            return Ok(None);
        };
        let row = Verification::new(format!("{RESET_PREFIX}{token}"), &user.id, now, now + (expires_in * 1000) as f64);
        adapter::create_row(txn, &row).await.map_err(adapter_error)?;
        Ok(Some(user))
    })?;
    if let Some(user) = user {
        let callback = redirect_to.as_deref().map(crate::cookies::encode_uri_component).unwrap_or_default();
        let url = format!("{}/reset-password/{token}?callbackURL={callback}", svc.config.auth_base());
        let subject = "Reset your password".to_string();
        let text = format!("Reset your {} password: {url}", svc.config.app_name);
        svc.send_mail(Email { kind: EmailKind::ResetPassword, to: user.email, subject, text, url }).await;
    }
    Ok(Reply::json(serde_json::json!({
        "status": true,
        "message": "If this email exists in our system, check your email for the reset link",
    })))
}

/// Resolves a possibly relative callback URL against the site.
fn absolute(call: &Call<'_>, url: &str) -> String {
    if url.starts_with('/') {
        format!("{}{url}", call.svc.config.base_url)
    } else {
        url.to_string()
    }
}

/// `GET /reset-password/:token?callbackURL=…`: the link in the mail; redirects with the token or an error.
pub(crate) async fn reset_password_link(call: &Call<'_>, token: &str) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let Some(callback) = call.query_param("callbackURL").filter(|c| !c.is_empty()).map(str::to_string) else {
        return Err(codes::CALLBACKURL_IS_REQUIRED());
    };
    check_callback(call, Some(&callback), CallbackKind::Callback)?;
    let identifier = format!("{RESET_PREFIX}{token}");
    let valid = read!(svc, txn, {
        let row = adapter::find_one_row::<Verification>(txn, &[Where::eq("identifier", identifier.as_str())])
            .await
            .map_err(adapter_error)?;
        Ok(row.is_some_and(|r| r.expires_at > call.now.as_date_millis()))
    })?;
    let target = absolute(call, &callback);
    let sep = if target.contains('?') { '&' } else { '?' };
    Ok(Reply::redirect(if valid {
        format!("{target}{sep}token={token}")
    } else {
        format!("{target}{sep}error=INVALID_TOKEN")
    }))
}

/// `POST /reset-password {newPassword, token}`: consumes the token exactly once.
pub(crate) async fn reset_password(call: &Call<'_>) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let body = Body::required(call)?;
    let new_password = body.string("newPassword")?.to_string();
    let token = body
        .opt_string("token")?
        .map(str::to_string)
        .or_else(|| call.query_param("token").map(str::to_string))
        .filter(|t| !t.is_empty())
        .ok_or_else(codes::INVALID_TOKEN)?;
    check_password_length(call, &new_password)?;
    let identifier = format!("{RESET_PREFIX}{token}");
    let now = call.now.as_date_millis();
    // Hash only for a live token, as Better Auth does: made-up tokens must not buy scrypt runs. The transaction below
    // checks again, since the token may be spent while we hash.
    let live = read!(svc, txn, {
        let row = adapter::find_one_row::<Verification>(txn, &[Where::eq("identifier", identifier.as_str())])
            .await
            .map_err(adapter_error)?;
        Ok(row.is_some_and(|r| r.expires_at > now))
    })?;
    if !live {
        return Err(codes::INVALID_TOKEN());
    }
    let hash = svc.hasher.hash(&new_password).await.ok_or_else(codes::FAILED_TO_UPDATE_USER)?;
    let revoke = svc.config.email_and_password.revoke_sessions_on_password_reset;
    transact!(svc, txn, {
        // Single use: the row is deleted in the same transaction that changes the password, so two concurrent
        // resets with one token cannot both succeed (the loser conflicts, re-runs and finds no row).
        let row = adapter::consume_one_row::<Verification>(txn, &[Where::eq("identifier", identifier.as_str())])
            .await
            .map_err(adapter_error)?;
        let Some(row) = row.filter(|r| r.expires_at > now) else {
            return Err(codes::INVALID_TOKEN());
        };
        let user_id = row.value;
        let account = credential_account(txn, &user_id).await?;
        match account {
            Some(account) => {
                let mut update = Object::new();
                update.insert("password".into(), Value::String(hash.clone()));
                update.insert("updatedAt".into(), Value::Float64(now));
                adapter::update_one(txn, Model::Account, &[Where::id(account.id.as_str())], update)
                    .await
                    .map_err(adapter_error)?;
            }
            None => {
                let mut fields = Object::new();
                fields.insert("accountId".into(), Value::String(user_id.clone()));
                fields.insert("providerId".into(), Value::String("credential".into()));
                fields.insert("userId".into(), Value::String(user_id.clone()));
                fields.insert("password".into(), Value::String(hash.clone()));
                fields.insert("createdAt".into(), Value::Float64(now));
                fields.insert("updatedAt".into(), Value::Float64(now));
                adapter::create(txn, Model::Account, fields).await.map_err(adapter_error)?;
            }
        }
        if revoke {
            adapter::delete_many(txn, Model::Session, &[Where::eq("userId", user_id.as_str())])
                .await
                .map_err(adapter_error)?;
        }
        Ok(())
    })?;
    Ok(Reply::json(serde_json::json!({"status": true})))
}
