//! The bearer plugin: `Authorization: Bearer <token>` authenticates like the session cookie (a before hook adds
//! the cookie), and a reply that sets the session cookie also carries its signed value in `set-auth-token`
//! (exposed to browsers through `Access-Control-Expose-Headers`).

use crate::cookies;
use crate::crypto;
use crate::plugin::{BeforeRequest, Plugin};
use crate::service::{Call, Inner, Reply};
use async_trait::async_trait;
use http::{HeaderMap, HeaderValue};

pub(crate) struct Bearer;

#[async_trait]
impl Plugin for Bearer {
    fn id(&self) -> &'static str {
        "bearer"
    }

    fn before(&self, svc: &Inner, request: BeforeRequest<'_>) -> Option<Reply> {
        let signed = bearer_session_cookie(svc, request.headers)?;
        let name = cookies::cookie_name(&svc.cookies, "session_token");
        let extra = format!("{name}={}", cookies::encode_uri_component(&signed));
        // The bearer token takes precedence: the first occurrence of a cookie name wins.
        let existing = request.headers.get(http::header::COOKIE).and_then(|v| v.to_str().ok());
        let cookie = match existing {
            Some(existing) => format!("{extra}; {existing}"),
            None => extra,
        };
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            request.headers.insert(http::header::COOKIE, value);
        }
        None
    }

    async fn after(&self, _path: &str, call: &Call<'_>, reply: &mut Reply) {
        let session_name = cookies::cookie_name(&call.svc.cookies, "session_token");
        let token = reply.cookies.iter().rev().find(|c| c.name == session_name && !c.value.is_empty());
        if let Some(token) = token.map(|c| c.value.clone()) {
            reply.headers.push(("set-auth-token", token));
            reply.headers.push(("access-control-expose-headers", "set-auth-token".into()));
        }
    }
}

/// `Authorization: Bearer <token>`: a signed value (`token.signature`, URL-encoded or not) or, as Better Auth
/// accepts, a raw session token that we sign ourselves. Returns the signed value when valid.
fn bearer_session_cookie(svc: &Inner, headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
    if token.is_empty() {
        return None;
    }
    let decoded = if token.contains('%') {
        percent_encoding::percent_decode_str(token).decode_utf8().ok()?.into_owned()
    } else {
        token.to_string()
    };
    if decoded.contains('.') {
        crypto::verify_signed_value(&decoded, &svc.config.secret).map(|_| decoded)
    } else {
        Some(crypto::sign_cookie_value(&decoded, &svc.config.secret))
    }
}
