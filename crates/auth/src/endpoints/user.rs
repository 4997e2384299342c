//! update-user, change-email, delete-user and its callback.

use super::account::credential_account;
use super::sign::check_callback;
use super::Body;
use crate::adapter::{self, Where};
use crate::additional::{self, Action};
use crate::crypto;
use crate::email::{Email, EmailKind};
use crate::error::{codes, AuthError};
use crate::models::Verification;
use crate::origin::CallbackKind;
use crate::schema::Model;
use crate::service::{Call, Reply};
use crate::session::{self, adapter_error};
use value::{Object, Value};

const DELETE_PREFIX: &str = "delete-account-";

/// `POST /update-user {name?, image?, <additional fields>}` (session): other fields are ignored, `email` is
/// refused.
pub(crate) async fn update_user(call: &Call<'_>) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let Some(serde_json::Value::Object(fields)) = &call.body else {
        return Err(codes::BODY_MUST_BE_AN_OBJECT());
    };
    if fields.contains_key("email") {
        return Err(codes::EMAIL_CAN_NOT_BE_UPDATED());
    }
    let mut update = Object::new();
    match fields.get("name") {
        None => {}
        Some(serde_json::Value::String(name)) => {
            update.insert("name".into(), Value::String(name.clone()));
        }
        Some(_) => return Err(AuthError::validation("[body.name] Invalid input: expected string")),
    }
    match fields.get("image") {
        None => {}
        Some(serde_json::Value::Null) => {
            update.insert("image".into(), Value::Null);
        }
        Some(serde_json::Value::String(image)) => {
            update.insert("image".into(), Value::String(image.clone()));
        }
        Some(_) => return Err(AuthError::validation("[body.image] Invalid input: expected string")),
    }
    update.extend(additional::parse_input(&svc.config.user.additional_fields, Some(fields), Action::Update)?);
    if update.is_empty() {
        return Err(codes::NO_FIELDS_TO_UPDATE());
    }
    update.insert("updatedAt".into(), Value::Float64(call.now.as_date_millis()));
    let active = transact!(svc, txn, {
        let active = session::require(call, txn).await?;
        adapter::update_one(txn, Model::User, &[Where::id(active.user.id.as_str())], update.clone())
            .await
            .map_err(adapter_error)?
            .ok_or_else(codes::FAILED_TO_UPDATE_USER)?;
        Ok(active)
    })?;
    // The session cookie is re-issued with a fresh Max-Age (session-only while dont_remember is present).
    let max_age = if call.dont_remember() { None } else { Some(svc.config.session.expires_in) };
    Ok(Reply::json(serde_json::json!({"status": true}))
        .with_cookies([svc.session_cookie(&active.session.token, max_age)]))
}

/// `POST /change-email {newEmail, callbackURL?}` (sensitive).
pub(crate) async fn change_email(call: &Call<'_>) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let cfg = &svc.config.user.change_email;
    if !cfg.enabled {
        return Err(codes::CHANGE_EMAIL_IS_DISABLED());
    }
    let body = Body::required(call)?;
    let new_email = body.email("newEmail")?;
    let callback_url = body.opt_string("callbackURL")?.map(str::to_string);
    check_callback(call, callback_url.as_deref(), CallbackKind::Callback)?;
    let (active, taken) = read!(svc, txn, {
        let active = session::require(call, txn).await?;
        let taken = adapter::find_one(txn, Model::User, &[Where::eq("email", new_email.as_str())])
            .await
            .map_err(adapter_error)?
            .is_some();
        Ok((active, taken))
    })?;
    if new_email == active.user.email {
        return Err(codes::EMAIL_IS_THE_SAME());
    }
    if taken {
        return Err(codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL());
    }
    if !active.user.email_verified && cfg.update_email_without_verification {
        let session = transact!(svc, txn, {
            let active = session::require(call, txn).await?;
            let mut update = Object::new();
            update.insert("email".into(), Value::String(new_email.clone()));
            update.insert("updatedAt".into(), Value::Float64(call.now.as_date_millis()));
            adapter::update_one(txn, Model::User, &[Where::id(active.user.id.as_str())], update).await.map_err(
                |e| match e {
                    adapter::AdapterError::Unique { .. } => codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL(),
                    other => adapter_error(other),
                },
            )?;
            Ok(active.session)
        })?;
        super::verification::send_verification_mail(call, &new_email, None, callback_url.as_deref(), true).await;
        return Ok(Reply::json(serde_json::json!({"status": true})).with_cookies(session::cookies_for(
            svc,
            &session,
            call.dont_remember(),
        )));
    }
    let kind = if active.user.email_verified && cfg.send_change_email_verification {
        "change-email-confirmation"
    } else {
        "change-email-verification"
    };
    super::verification::send_verification_mail(
        call,
        &active.user.email,
        Some((&new_email, kind)),
        callback_url.as_deref(),
        false,
    )
    .await;
    Ok(Reply::json(serde_json::json!({"status": true})))
}

async fn delete_everything(txn: &mut database::Transaction, user_id: &str) -> Result<(), AuthError> {
    adapter::delete_many(txn, Model::Session, &[Where::eq("userId", user_id)]).await.map_err(adapter_error)?;
    adapter::delete_many(txn, Model::Account, &[Where::eq("userId", user_id)]).await.map_err(adapter_error)?;
    adapter::delete_one(txn, Model::User, &[Where::id(user_id)]).await.map_err(adapter_error)?;
    Ok(())
}

fn deleted(call: &Call<'_>, callback: Option<&str>) -> Reply {
    let reply = match callback {
        Some(url) => Reply::redirect(url.to_string()),
        None => Reply::json(serde_json::json!({"success": true, "message": "User deleted"})),
    };
    reply.with_cookies(session::clear_cookies(call.svc))
}

/// `POST /delete-user {password?, token?, callbackURL?}` (sensitive; 404 unless enabled).
pub(crate) async fn delete_user(call: &Call<'_>) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let cfg = &svc.config.user.delete_user;
    if !cfg.enabled {
        return Err(AuthError::not_found());
    }
    let body = Body::optional(call)?;
    let password = body.opt_string("password")?.map(str::to_string);
    let token = body.opt_string("token")?.map(str::to_string);
    let callback_url = body.opt_string("callbackURL")?.map(str::to_string);
    check_callback(call, callback_url.as_deref(), CallbackKind::Callback)?;
    if let Some(token) = token {
        return delete_with_token(call, &token, None).await;
    }
    let (active, account) = read!(svc, txn, {
        let active = session::require(call, txn).await?;
        let account = credential_account(txn, &active.user.id).await?;
        Ok((active, account))
    })?;
    if let Some(password) = &password {
        let Some(account) = account.filter(|a| a.password.is_some()) else {
            return Err(codes::CREDENTIAL_ACCOUNT_NOT_FOUND());
        };
        if !svc.hasher.verify(account.password.as_deref(), password).await {
            return Err(codes::INVALID_PASSWORD());
        }
    } else {
        // Without a password the session must be fresh.
        let fresh_age = svc.config.session.fresh_age;
        if fresh_age > 0 && call.now.as_date_millis() - active.session.created_at >= (fresh_age * 1000) as f64 {
            return Err(codes::SESSION_EXPIRED());
        }
    }
    if cfg.send_delete_account_verification {
        let token = crypto::delete_account_token(svc.entropy.as_ref());
        let now = call.now.as_date_millis();
        transact!(svc, txn, {
            let row = Verification::new(
                format!("{DELETE_PREFIX}{token}"),
                &active.user.id,
                now,
                now + 24.0 * 3600.0 * 1000.0,
            );
            adapter::create_row(txn, &row).await.map_err(adapter_error)?;
            Ok(())
        })?;
        let callback = callback_url.as_deref().unwrap_or("/");
        let url = format!("{}/delete-user/callback?token={token}&callbackURL={callback}", svc.config.auth_base());
        let subject = "Confirm the deletion of your account".to_string();
        let text = format!("{subject}: {url}");
        svc.send_mail(Email { kind: EmailKind::DeleteAccount, to: active.user.email.clone(), subject, text, url })
            .await;
        return Ok(Reply::json(serde_json::json!({"success": true, "message": "Verification email sent"})));
    }
    transact!(svc, txn, {
        let current = session::require(call, txn).await?;
        delete_everything(txn, &current.user.id).await
    })?;
    // The client called this with fetch: it gets JSON; `callbackURL` only goes into the confirmation link.
    Ok(deleted(call, None))
}

async fn delete_with_token(call: &Call<'_>, token: &str, callback: Option<&str>) -> Result<Reply, AuthError> {
    let identifier = format!("{DELETE_PREFIX}{token}");
    transact!(call.svc, txn, {
        let active = session::require(call, txn).await?;
        let row = adapter::consume_one_row::<Verification>(txn, &[Where::eq("identifier", identifier.as_str())])
            .await
            .map_err(adapter_error)?;
        let Some(row) = row.filter(|r| r.expires_at > call.now.as_date_millis() && r.value == active.user.id) else {
            return Err(codes::INVALID_TOKEN());
        };
        delete_everything(txn, &row.value).await
    })?;
    Ok(deleted(call, callback))
}

/// `GET /delete-user/callback?token=…&callbackURL=…`.
pub(crate) async fn delete_user_callback(call: &Call<'_>) -> Result<Reply, AuthError> {
    if !call.svc.config.user.delete_user.enabled {
        return Err(AuthError::not_found());
    }
    let callback = call.query_param("callbackURL").filter(|c| !c.is_empty()).map(str::to_string);
    check_callback(call, callback.as_deref(), CallbackKind::Callback)?;
    let token = call.query_param("token").unwrap_or_default().to_string();
    delete_with_token(call, &token, callback.as_deref()).await
}
