//! E-mail verification: the mail, `POST /send-verification-email`, `GET /verify-email`.

use super::sign::check_callback;
use super::Body;
use crate::adapter::{self, Where};
use crate::crypto::{self, EmailVerificationClaims, JwtError};
use crate::email::{Email, EmailKind};
use crate::error::{codes, AuthError};
use crate::models::User;
use crate::origin::CallbackKind;
use crate::schema::Model;
use crate::service::{Call, Reply};
use crate::session::{self, adapter_error, Resolved};
use protocol::ErrorCode;
use value::{Object, Value};

/// Builds and sends a verification mail. `encode_callback` follows Better Auth: the sign-up and resend flows
/// percent-encode the callback URL, the change-email flow does not.
pub(crate) async fn send_verification_mail(
    call: &Call<'_>,
    email: &str,
    change: Option<(&str, &str)>,
    callback_url: Option<&str>,
    encode_callback: bool,
) {
    let svc = call.svc;
    let now_secs = (call.now.as_date_millis() / 1000.0) as u64;
    let (update_to, request_type) = match change {
        Some((to, kind)) => (Some(to.to_string()), Some(kind.to_string())),
        None => (None, None),
    };
    let claims = EmailVerificationClaims::new(
        email,
        update_to.clone(),
        request_type.clone(),
        now_secs,
        svc.config.email_verification.expires_in,
    );
    let token = crypto::sign_email_verification_jwt(&claims, &svc.config.secret);
    let callback = callback_url.unwrap_or("/");
    let callback = if encode_callback { crate::cookies::encode_uri_component(callback) } else { callback.to_string() };
    let url = format!("{}/verify-email?token={token}&callbackURL={callback}", svc.config.auth_base());
    let (kind, to, subject) = match request_type.as_deref() {
        Some("change-email-confirmation") => {
            (EmailKind::ChangeEmailConfirmation, email.to_string(), "Approve the change of your e-mail address")
        }
        Some(_) => (
            EmailKind::ChangeEmailVerification,
            update_to.clone().unwrap_or_default(),
            "Verify your new e-mail address",
        ),
        None => (EmailKind::VerifyEmail, email.to_string(), "Verify your e-mail address"),
    };
    let text = format!("{subject} for {}: {url}", svc.config.app_name);
    svc.send_mail(Email { kind, to, subject: subject.to_string(), text, url }).await;
}

/// `POST /send-verification-email {email, callbackURL?}`.
pub(crate) async fn send_verification_email(call: &Call<'_>) -> Result<Reply, AuthError> {
    let body = Body::required(call)?;
    let email = body.email("email")?;
    let callback_url = body.opt_string("callbackURL")?.map(str::to_string);
    check_callback(call, callback_url.as_deref(), CallbackKind::Callback)?;
    let svc = call.svc;
    let (resolved, _) = read!(svc, txn, session::resolve(call, txn, false).await)?;
    match resolved {
        Resolved::Active(active) => {
            if active.user.email_verified {
                return Err(codes::ONLY_UNVERIFIED_EMAIL());
            }
            if active.user.email != email {
                return Err(codes::ONLY_OWN_EMAIL());
            }
            send_verification_mail(call, &email, None, callback_url.as_deref(), true).await;
        }
        _ => {
            let user = read!(svc, txn, {
                adapter::find_one_row::<User>(txn, &[Where::eq("email", email.as_str())]).await.map_err(adapter_error)
            })?;
            // Unknown or already verified addresses get the same answer and no mail: nothing to enumerate.
            if user.is_some_and(|u| !u.email_verified) {
                send_verification_mail(call, &email, None, callback_url.as_deref(), true).await;
            }
        }
    }
    Ok(Reply::json(serde_json::json!({"status": true})))
}

/// Redirects to the callback with `?error=…`, or answers 401 `{code, message}` without one.
fn token_failure(callback: Option<&str>, error: &'static str) -> Result<Reply, AuthError> {
    match callback {
        Some(url) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            Ok(Reply::redirect(format!("{url}{sep}error={error}")))
        }
        None => Err(AuthError::new(code_of(error), error)),
    }
}

/// The 401 codes of verify-email's failures.
fn code_of(error: &str) -> ErrorCode {
    match error {
        "token_expired" => ErrorCode::TOKEN_EXPIRED,
        "user_not_found" => ErrorCode::USER_NOT_FOUND_401,
        "unauthorized" => ErrorCode::UNAUTHORIZED,
        _ => ErrorCode::INVALID_TOKEN_401,
    }
}

fn done(callback: Option<&str>, body: serde_json::Value) -> Reply {
    match callback {
        Some(url) => Reply::redirect(url.to_string()),
        None => Reply::json(body),
    }
}

/// `GET /verify-email?token=<jwt>&callbackURL=<url?>`.
pub(crate) async fn verify_email(call: &Call<'_>) -> Result<Reply, AuthError> {
    let svc = call.svc;
    let callback = call.query_param("callbackURL").filter(|c| !c.is_empty()).map(str::to_string);
    check_callback(call, callback.as_deref(), CallbackKind::Callback)?;
    let callback = callback.as_deref();
    let token = call.query_param("token").unwrap_or_default();
    let now_secs = (call.now.as_date_millis() / 1000.0) as u64;
    let claims = match crypto::verify_email_verification_jwt(token, &svc.config.secret, now_secs) {
        Ok(c) => c,
        Err(JwtError::Expired) => return token_failure(callback, "token_expired"),
        Err(_) => return token_failure(callback, "invalid_token"),
    };

    // Change of e-mail address.
    if let Some(new_email) = claims.update_to.clone() {
        let new_email = new_email.to_lowercase();
        if claims.request_type.as_deref() == Some("change-email-confirmation") {
            let (user, resolved) = read!(svc, txn, {
                let user = adapter::find_one_row::<User>(txn, &[Where::eq("email", claims.email.as_str())])
                    .await
                    .map_err(adapter_error)?;
                Ok((user, session::resolve(call, txn, false).await?.0))
            })?;
            if user.is_none() {
                return token_failure(callback, "user_not_found");
            }
            // Another signed-in user opened the link: nothing is sent (Better Auth checks the session first).
            if let Resolved::Active(active) = &resolved {
                if active.user.email != claims.email {
                    return token_failure(callback, "unauthorized");
                }
            }
            send_verification_mail(
                call,
                &claims.email,
                Some((&new_email, "change-email-verification")),
                callback,
                false,
            )
            .await;
            return Ok(done(callback, serde_json::json!({"status": true})));
        }
        let outcome = transact!(svc, txn, {
            let (resolved, _) = session::resolve(call, txn, false).await?;
            if let Resolved::Active(active) = &resolved {
                if active.user.email != claims.email {
                    return Ok(Err("unauthorized"));
                }
            }
            let Some(user) = adapter::find_one_row::<User>(txn, &[Where::eq("email", claims.email.as_str())])
                .await
                .map_err(adapter_error)?
            else {
                return Ok(Err("user_not_found"));
            };
            let mut update = Object::new();
            update.insert("email".into(), Value::String(new_email.clone()));
            update.insert("emailVerified".into(), Value::Boolean(true));
            update.insert("updatedAt".into(), Value::Float64(call.now.as_date_millis()));
            let updated = adapter::update_one_row::<User>(txn, &[Where::id(user.id.as_str())], update)
                .await
                .map_err(|e| match e {
                    adapter::AdapterError::Unique { .. } => codes::USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL(),
                    other => adapter_error(other),
                })?
                .ok_or_else(codes::FAILED_TO_UPDATE_USER)?;
            let session = match resolved {
                Resolved::Active(active) => active.session,
                _ => session::create(svc, txn, call, &updated.id, false).await?,
            };
            Ok(Ok((updated, session)))
        })?;
        return match outcome {
            Err(error) => token_failure(callback, error),
            Ok((user, session)) => {
                Ok(done(callback, serde_json::json!({"status": true, "user": svc.user_json(&user)}))
                    .with_cookies(session::cookies_for(svc, &session, call.dont_remember()))
                    .with_session(&user, &session))
            }
        };
    }

    // Plain verification.
    let auto_sign_in = svc.config.email_verification.auto_sign_in_after_verification;
    let outcome = transact!(svc, txn, {
        let Some(user) = adapter::find_one_row::<User>(txn, &[Where::eq("email", claims.email.as_str())])
            .await
            .map_err(adapter_error)?
        else {
            return Ok(Err("user_not_found"));
        };
        if user.email_verified {
            return Ok(Ok(None));
        }
        let mut update = Object::new();
        update.insert("emailVerified".into(), Value::Boolean(true));
        update.insert("updatedAt".into(), Value::Float64(call.now.as_date_millis()));
        adapter::update_one(txn, Model::User, &[Where::id(user.id.as_str())], update).await.map_err(adapter_error)?;
        if !auto_sign_in {
            return Ok(Ok(None));
        }
        let session = match session::resolve(call, txn, false).await?.0 {
            Resolved::Active(active) if active.user.id == user.id => active.session,
            _ => session::create(svc, txn, call, &user.id, false).await?,
        };
        Ok(Ok(Some((User { email_verified: true, ..user }, session))))
    })?;
    match outcome {
        Err(error) => token_failure(callback, error),
        Ok(session) => {
            let reply = done(callback, serde_json::json!({"status": true, "user": null}));
            Ok(match session {
                Some((user, session)) => reply
                    .with_cookies(session::cookies_for(svc, &session, call.dont_remember()))
                    .with_session(&user, &session),
                None => reply,
            })
        }
    }
}
