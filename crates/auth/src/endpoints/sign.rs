//! sign-up/email, sign-in/email and the `/error` page.

use super::account::credential_account;
use super::{check_password_length, is_valid_email, Body};
use crate::adapter::{self, Where};
use crate::additional::{self, Action};
use crate::error::{codes, AuthError};
use crate::models::User;
use crate::origin::{self, CallbackKind};
use crate::schema::Model;
use crate::service::{Call, Reply};
use crate::session::{self, adapter_error};
use value::{Object, Value};

/// Rejects a callback URL that is neither relative nor on a trusted origin.
pub(crate) fn check_callback(call: &Call<'_>, url: Option<&str>, kind: CallbackKind) -> Result<(), AuthError> {
    match url {
        Some(url) => {
            origin::validate_callback_url(url, &call.svc.trusted, kind).map_err(|e| AuthError::new(e.code, e.message))
        }
        None => Ok(()),
    }
}

/// `POST /sign-up/email`.
pub(crate) async fn sign_up_email(call: &Call<'_>) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let cfg = &svc.config.email_and_password;
    if !cfg.enabled || cfg.disable_sign_up {
        return Err(codes::EMAIL_AND_PASSWORD_SIGN_UP_IS_NOT_ENABLED());
    }
    let body = Body::required(call)?;
    let name = body.string("name")?.to_string();
    let email = body.email("email")?;
    let password = body.string("password")?.to_string();
    let image = body.opt_string("image")?.map(str::to_string);
    let callback_url = body.opt_string("callbackURL")?.map(str::to_string);
    let remember_me = body.opt_bool("rememberMe")?.unwrap_or(true);
    check_callback(call, callback_url.as_deref(), CallbackKind::Callback)?;
    check_password_length(call, &password)?;
    let body_fields = call.body.as_ref().and_then(serde_json::Value::as_object);
    let extra = additional::parse_input(&svc.config.user.additional_fields, body_fields, Action::Create)?;

    // Hash first, whatever happens next: an existing e-mail costs the same time as a new one.
    let hash = svc.hasher.hash(&password).await.ok_or_else(codes::FAILED_TO_CREATE_USER)?;
    let sign_in = cfg.auto_sign_in && !cfg.require_email_verification;
    let now = call.now.as_date_millis();

    let outcome = transact!(svc, txn, {
        if adapter::find_one(txn, Model::User, &[Where::eq("email", email.as_str())])
            .await
            .map_err(adapter_error)?
            .is_some()
        {
            return Ok(None);
        }
        let mut fields = extra.clone();
        fields.insert("name".into(), Value::String(name.clone()));
        fields.insert("email".into(), Value::String(email.clone()));
        fields.insert("emailVerified".into(), Value::Boolean(false));
        fields.insert("image".into(), image.clone().map_or(Value::Null, Value::String));
        fields.insert("createdAt".into(), Value::Float64(now));
        fields.insert("updatedAt".into(), Value::Float64(now));
        let user_doc = adapter::create(txn, Model::User, fields).await.map_err(adapter_error)?;
        let user = User::from_document(&user_doc).map_err(adapter_error)?;
        let mut account = Object::new();
        account.insert("accountId".into(), Value::String(user.id.clone()));
        account.insert("providerId".into(), Value::String("credential".into()));
        account.insert("userId".into(), Value::String(user.id.clone()));
        account.insert("password".into(), Value::String(hash.clone()));
        account.insert("createdAt".into(), Value::Float64(now));
        account.insert("updatedAt".into(), Value::Float64(now));
        adapter::create(txn, Model::Account, account).await.map_err(adapter_error)?;
        let session = if sign_in { Some(session::create(svc, txn, call, &user.id, !remember_me).await?) } else { None };
        Ok(Some((user, session)))
    })?;

    let Some((user, session)) = outcome else {
        if cfg.require_email_verification {
            // Do not reveal that the address is taken: answer like a fresh sign-up awaiting verification, down to
            // the shape of the id.
            let id = crate::crypto::generate_id(svc.entropy.as_ref());
            let fake = User { id, name, email, email_verified: false, image, created_at: now, updated_at: now, extra };
            return Ok(Reply::json(serde_json::json!({"token": null, "user": svc.user_json(&fake)})));
        }
        return Err(codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL());
    };
    let verification = &svc.config.email_verification;
    if verification.send_on_sign_up || cfg.require_email_verification {
        super::verification::send_verification_mail(call, &user.email, None, callback_url.as_deref(), true).await;
    }
    Ok(match session {
        Some(session) => Reply::json(serde_json::json!({"token": session.token, "user": svc.user_json(&user)}))
            .with_cookies(session::cookies_for(svc, &session, !remember_me))
            .with_session(&user, &session),
        None => Reply::json(serde_json::json!({"token": null, "user": svc.user_json(&user)})),
    })
}

/// `POST /sign-in/email`. Unknown users, missing credentials and wrong passwords answer identically, after the
/// same amount of hashing work.
pub(crate) async fn sign_in_email(call: &Call<'_>) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let cfg = &svc.config.email_and_password;
    if !cfg.enabled {
        return Err(codes::EMAIL_AND_PASSWORD_IS_NOT_ENABLED());
    }
    let body = Body::required(call)?;
    let email = body.string("email")?.to_lowercase();
    let password = body.string("password")?.to_string();
    let callback_url = body.opt_string("callbackURL")?.map(str::to_string);
    let remember_me = body.opt_bool("rememberMe")?.unwrap_or(true);
    check_callback(call, callback_url.as_deref(), CallbackKind::Callback)?;
    if !is_valid_email(&email) {
        return Err(codes::INVALID_EMAIL());
    }

    let found = read!(svc, txn, {
        let Some(user_doc) =
            adapter::find_one(txn, Model::User, &[Where::eq("email", email.as_str())]).await.map_err(adapter_error)?
        else {
            return Ok(None);
        };
        let user = User::from_document(&user_doc).map_err(adapter_error)?;
        let account = credential_account(txn, &user.id).await?;
        Ok(Some((user, account)))
    })?;
    let stored_hash = found.as_ref().and_then(|(_, account)| account.as_ref()).and_then(|a| a.password.clone());
    let valid = svc.hasher.verify(stored_hash.as_deref(), &password).await;
    let Some((user, _)) = found.filter(|_| valid) else {
        return Err(codes::INVALID_EMAIL_OR_PASSWORD());
    };
    if cfg.require_email_verification && !user.email_verified {
        if svc.config.email_verification.send_on_sign_in {
            super::verification::send_verification_mail(call, &user.email, None, callback_url.as_deref(), true).await;
        }
        return Err(codes::EMAIL_NOT_VERIFIED());
    }
    let session = transact!(svc, txn, {
        // The user may have been deleted since the password check.
        if adapter::find_one(txn, Model::User, &[Where::eq("id", user.id.as_str())])
            .await
            .map_err(adapter_error)?
            .is_none()
        {
            return Err(codes::INVALID_EMAIL_OR_PASSWORD());
        }
        session::create(svc, txn, call, &user.id, !remember_me).await
    })?;
    let mut body = serde_json::json!({
        "redirect": callback_url.is_some(),
        "token": session.token,
        "user": svc.user_json(&user),
    });
    if let Some(url) = &callback_url {
        body["url"] = serde_json::Value::String(url.clone());
    }
    Ok(Reply::json(body).with_cookies(session::cookies_for(svc, &session, !remember_me)).with_session(&user, &session))
}

/// `GET /error`: the landing page of failed redirects.
pub(crate) fn error_page(call: &Call<'_>) -> Reply {
    let raw = call.query_param("error").unwrap_or("UNKNOWN");
    let code = if !raw.is_empty() && raw.chars().all(|c| c.is_ascii_alphanumeric() || "'_-".contains(c)) {
        raw
    } else {
        "UNKNOWN"
    };
    let description = call.query_param("error_description").map(html_escape).unwrap_or_default();
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Error</title></head><body><h1>{}</h1><p>{}</p><p>{}</p></body></html>",
        html_escape(&call.svc.config.app_name),
        html_escape(code),
        description
    );
    Reply { status: 200, html: Some(html), ..Default::default() }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
