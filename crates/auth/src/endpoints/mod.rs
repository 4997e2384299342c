//! The core endpoints and their routing (plugins route their own: `crate::plugin`). Each endpoint reads a
//! [`Call`] and answers a [`Reply`] or an [`AuthError`].

mod account;
mod password;
mod provider_tokens;
mod session;
mod sign;
pub(crate) mod social;
mod user;
mod verification;

use crate::error::AuthError;
use crate::service::{Call, Reply};
use http::Method;

/// Every routed endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Ok,
    Error,
    SignUpEmail,
    SignInEmail,
    GetSession,
    SignOut,
    ListSessions,
    RevokeSession,
    RevokeOtherSessions,
    RevokeSessions,
    UpdateUser,
    ChangePassword,
    VerifyPassword,
    UpdateSession,
    ChangeEmail,
    SendVerificationEmail,
    VerifyEmail,
    RequestPasswordReset,
    ResetPasswordLink(String),
    ResetPassword,
    DeleteUser,
    DeleteUserCallback,
    ListAccounts,
    UnlinkAccount,
    SignInSocial,
    /// `/callback/:providerId` (GET and POST).
    Callback(String),
    LinkSocial,
    GetAccessToken,
    RefreshToken,
    AccountInfo,
}

impl Route {
    /// OAuth callbacks accept form posts; nothing else does.
    pub fn accepts_form(&self) -> bool {
        matches!(self, Route::Callback(_))
    }
}

/// Exact routing: trailing slashes, `//` and wrong methods are 404s (with an empty body).
pub(crate) fn route(method: &Method, path: &str) -> Option<Route> {
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    if let Some(provider) = path.strip_prefix("/callback/") {
        if (get || post) && !provider.is_empty() && !provider.contains('/') {
            return Some(Route::Callback(provider.to_string()));
        }
        return None;
    }
    let route = match path {
        "/ok" if get => Route::Ok,
        "/error" if get => Route::Error,
        "/sign-up/email" if post => Route::SignUpEmail,
        "/sign-in/email" if post => Route::SignInEmail,
        "/get-session" if get || post => Route::GetSession,
        "/update-session" if post => Route::UpdateSession,
        "/verify-password" if post => Route::VerifyPassword,
        "/sign-out" if post => Route::SignOut,
        "/list-sessions" if get => Route::ListSessions,
        "/revoke-session" if post => Route::RevokeSession,
        "/revoke-other-sessions" if post => Route::RevokeOtherSessions,
        "/revoke-sessions" if post => Route::RevokeSessions,
        "/update-user" if post => Route::UpdateUser,
        "/change-password" if post => Route::ChangePassword,
        "/change-email" if post => Route::ChangeEmail,
        "/send-verification-email" if post => Route::SendVerificationEmail,
        "/verify-email" if get => Route::VerifyEmail,
        "/request-password-reset" if post => Route::RequestPasswordReset,
        "/reset-password" if post => Route::ResetPassword,
        "/delete-user" if post => Route::DeleteUser,
        "/delete-user/callback" if get => Route::DeleteUserCallback,
        "/list-accounts" if get => Route::ListAccounts,
        "/unlink-account" if post => Route::UnlinkAccount,
        "/sign-in/social" if post => Route::SignInSocial,
        "/link-social" if post => Route::LinkSocial,
        "/get-access-token" if post => Route::GetAccessToken,
        "/refresh-token" if post => Route::RefreshToken,
        "/account-info" if get => Route::AccountInfo,
        other if get => {
            let token = other.strip_prefix("/reset-password/")?;
            if token.is_empty() || token.contains('/') {
                return None;
            }
            Route::ResetPasswordLink(token.to_string())
        }
        _ => return None,
    };
    Some(route)
}

pub(crate) async fn dispatch(route: Route, call: &Call<'_>) -> Result<Reply, AuthError> {
    match route {
        Route::Ok => Ok(Reply::json(serde_json::json!({"ok": true}))),
        Route::Error => Ok(sign::error_page(call)),
        Route::SignUpEmail => sign::sign_up_email(call).await,
        Route::SignInEmail => sign::sign_in_email(call).await,
        Route::GetSession => session::get_session(call).await,
        Route::SignOut => session::sign_out(call).await,
        Route::ListSessions => session::list_sessions(call).await,
        Route::RevokeSession => session::revoke_session(call).await,
        Route::RevokeOtherSessions => session::revoke_other_sessions(call).await,
        Route::RevokeSessions => session::revoke_sessions(call).await,
        Route::UpdateUser => user::update_user(call).await,
        Route::ChangePassword => password::change_password(call).await,
        Route::VerifyPassword => password::verify_password(call).await,
        Route::UpdateSession => session::update_session(call).await,
        Route::ChangeEmail => user::change_email(call).await,
        Route::SendVerificationEmail => verification::send_verification_email(call).await,
        Route::VerifyEmail => verification::verify_email(call).await,
        Route::RequestPasswordReset => password::request_password_reset(call).await,
        Route::ResetPasswordLink(token) => password::reset_password_link(call, &token).await,
        Route::ResetPassword => password::reset_password(call).await,
        Route::DeleteUser => user::delete_user(call).await,
        Route::DeleteUserCallback => user::delete_user_callback(call).await,
        Route::ListAccounts => account::list_accounts(call).await,
        Route::UnlinkAccount => account::unlink_account(call).await,
        Route::SignInSocial => social::sign_in_social(call).await,
        Route::Callback(provider) => social::callback(call, &provider, social::Flow::SOCIAL).await,
        Route::LinkSocial => social::link_social(call).await,
        Route::GetAccessToken => provider_tokens::get_access_token(call).await,
        Route::RefreshToken => provider_tokens::refresh_token(call).await,
        Route::AccountInfo => provider_tokens::account_info(call).await,
    }
}

/// Body field access with Better Auth's (zod's) validation messages.
pub(crate) struct Body<'a> {
    object: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

fn received(v: Option<&serde_json::Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(serde_json::Value::Null) => "null",
        Some(serde_json::Value::Bool(_)) => "boolean",
        Some(serde_json::Value::Number(_)) => "number",
        Some(serde_json::Value::String(_)) => "string",
        Some(serde_json::Value::Array(_)) => "array",
        Some(serde_json::Value::Object(_)) => "object",
    }
}

impl<'a> Body<'a> {
    /// The body as an object; a missing or non-object body is a validation error.
    pub fn required(call: &'a Call<'_>) -> Result<Self, AuthError> {
        match &call.body {
            Some(serde_json::Value::Object(o)) => Ok(Body { object: Some(o) }),
            other => Err(AuthError::validation(format!(
                "[body] Invalid input: expected object, received {}",
                received(other.as_ref())
            ))),
        }
    }

    /// The body as an object if present (endpoints whose body is optional).
    pub fn optional(call: &'a Call<'_>) -> Result<Self, AuthError> {
        match &call.body {
            None => Ok(Body { object: None }),
            Some(serde_json::Value::Object(o)) => Ok(Body { object: Some(o) }),
            Some(other) => Err(AuthError::validation(format!(
                "[body] Invalid input: expected object, received {}",
                received(Some(other))
            ))),
        }
    }

    pub fn raw(&self, field: &str) -> Option<&'a serde_json::Value> {
        self.object.and_then(|o| o.get(field))
    }

    pub fn string(&self, field: &str) -> Result<&'a str, AuthError> {
        match self.raw(field) {
            Some(serde_json::Value::String(s)) => Ok(s),
            other => Err(AuthError::validation(format!(
                "[body.{field}] Invalid input: expected string, received {}",
                received(other)
            ))),
        }
    }

    pub fn opt_string(&self, field: &str) -> Result<Option<&'a str>, AuthError> {
        match self.raw(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            other => Err(AuthError::validation(format!(
                "[body.{field}] Invalid input: expected string, received {}",
                received(other)
            ))),
        }
    }

    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, AuthError> {
        match self.raw(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
            other => Err(AuthError::validation(format!(
                "[body.{field}] Invalid input: expected boolean, received {}",
                received(other)
            ))),
        }
    }

    /// A required e-mail field (zod's `email()` rule).
    pub fn email(&self, field: &str) -> Result<String, AuthError> {
        let value = self.string(field)?;
        if !is_valid_email(value) {
            return Err(AuthError::validation(format!("[body.{field}] Invalid email address")));
        }
        Ok(value.to_lowercase())
    }
}

/// zod v4's `email()` rule: dot-separated local part groups of `[A-Za-z0-9_'+-]` (last char not `'`), `@`, one or
/// more `label.` groups, a TLD of at least two letters.
pub(crate) fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    if local.is_empty() || domain.contains('@') || local.ends_with('\'') {
        return false;
    }
    let local_ok = local
        .split('.')
        .all(|group| !group.is_empty() && group.chars().all(|c| c.is_ascii_alphanumeric() || "_'+-".contains(c)));
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, rest)) = labels.split_last() else { return false };
    let labels_ok = !rest.is_empty()
        && rest.iter().all(|l| {
            l.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    let tld_ok = tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic());
    local_ok && labels_ok && tld_ok
}

/// Checks a password's length in UTF-16 code units against the configured bounds.
pub(crate) fn check_password_length(call: &Call<'_>, password: &str) -> Result<(), AuthError> {
    let len = crate::crypto::password_length(password);
    let cfg = &call.svc.config.email_and_password;
    if len < cfg.min_password_length {
        return Err(crate::error::codes::PASSWORD_TOO_SHORT());
    }
    if len > cfg.max_password_length {
        return Err(crate::error::codes::PASSWORD_TOO_LONG());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rule_matches_zod() {
        for ok in ["a@b.co", "first.last+tag@mail.example.com", "o'neil@x.io", "ALICE@Example.COM", "a_b-c@d-e.fg"] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b.co",
            "a@b",
            "a@b.c",
            "a..b@c.de",
            ".a@b.co",
            "a.@b.co",
            "a'@b.co",
            "a@-b.co",
            "a@b.c0",
            "a b@c.de",
            "a@@b.co",
            "a@localhost",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn routing_is_exact() {
        assert_eq!(route(&Method::POST, "/sign-in/email"), Some(Route::SignInEmail));
        assert_eq!(route(&Method::GET, "/sign-in/email"), None);
        assert_eq!(route(&Method::GET, "/get-session/"), None);
        assert_eq!(route(&Method::GET, "//get-session"), None);
        assert_eq!(route(&Method::GET, "/reset-password/abc"), Some(Route::ResetPasswordLink("abc".into())));
        assert_eq!(route(&Method::GET, "/reset-password/a/b"), None);
        assert_eq!(route(&Method::HEAD, "/ok"), None);
        assert_eq!(route(&Method::GET, "/callback/github"), Some(Route::Callback("github".into())));
        assert_eq!(route(&Method::POST, "/callback/github"), Some(Route::Callback("github".into())));
        assert_eq!(route(&Method::GET, "/callback/"), None);
        assert_eq!(route(&Method::GET, "/callback/a/b"), None);
        assert_eq!(route(&Method::PUT, "/callback/github"), None);
        assert_eq!(route(&Method::GET, "/sign-in/social"), None);
        // Plugin paths are not core routes.
        assert_eq!(route(&Method::GET, "/oauth2/callback/acme"), None);
        assert_eq!(route(&Method::GET, "/convex/token"), None);
    }
}
