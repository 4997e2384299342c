//! The JWT cookie cache: which cookie holds the Convex JWT, and whether a JWT is still good to reuse.
//! Pure functions; the helpers call them with the request's headers and the injected clock.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::HeaderMap;

/// The JWT cookie's name after the prefix (`better-auth.convex_jwt`), as the convex plugin sets it.
pub const JWT_COOKIE_NAME: &str = "convex_jwt";

/// The value of the cookie `name` in the request's `Cookie` headers (the first one wins, like browsers send).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim())
}

/// The Convex JWT cookie of a request: `<prefix>.convex_jwt`, or `__Secure-<prefix>.convex_jwt` on https.
pub fn jwt_cookie<'a>(headers: &'a HeaderMap, cookie_prefix: &str) -> Option<&'a str> {
    let name = format!("{cookie_prefix}.{JWT_COOKIE_NAME}");
    cookie(headers, &format!("__Secure-{name}")).or_else(|| cookie(headers, &name)).filter(|v| !v.is_empty())
}

/// The `exp` claim (seconds since the epoch) of a JWT, read without verifying the signature: a cached cookie JWT is
/// only ever sent to the deployment, which verifies it (a forged one costs the forger a failed call);
/// `is_authenticated` never trusts it and asks the token endpoint.
pub fn expiry(jwt: &str) -> Option<u64> {
    let mut parts = jwt.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?;
    exp.as_u64().or_else(|| exp.as_f64().filter(|e| e.is_finite() && *e >= 0.0).map(|e| e as u64))
}

/// Whether a JWT may be reused at `now`: it expires more than `margin` seconds from now. Unlike the npm helper
/// (which reuses a token up to 60 s *past* its expiry), an expired or undecodable token is never reused.
pub fn reusable(jwt: &str, now: u64, margin: u64) -> bool {
    expiry(jwt).is_some_and(|exp| exp > now.saturating_add(margin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for cookie in cookies {
            headers.append(http::header::COOKIE, cookie.parse().unwrap());
        }
        headers
    }

    fn jwt(payload: &str) -> String {
        format!("eyJhbGciOiJSUzI1NiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn finds_the_jwt_cookie_with_and_without_the_secure_prefix() {
        let plain = headers(&["a=1; better-auth.convex_jwt=abc.def.ghi; better-auth.session_token=x.y"]);
        assert_eq!(jwt_cookie(&plain, "better-auth"), Some("abc.def.ghi"));
        let secure = headers(&["__Secure-better-auth.convex_jwt=s.e.c", "better-auth.convex_jwt=p.l.n"]);
        assert_eq!(jwt_cookie(&secure, "better-auth"), Some("s.e.c"));
        let custom = headers(&["myapp.convex_jwt=c.u.s"]);
        assert_eq!(jwt_cookie(&custom, "myapp"), Some("c.u.s"));
        assert_eq!(jwt_cookie(&custom, "better-auth"), None);
        assert_eq!(jwt_cookie(&headers(&["better-auth.convex_jwt="]), "better-auth"), None);
        assert_eq!(jwt_cookie(&HeaderMap::new(), "better-auth"), None);
        // A cookie whose name merely ends like ours is someone else's.
        assert_eq!(jwt_cookie(&headers(&["xbetter-auth.convex_jwt=a.b.c"]), "better-auth"), None);
    }

    #[test]
    fn reads_exp_without_verifying_and_rejects_garbage() {
        assert_eq!(expiry(&jwt(r#"{"sub":"u","exp":1700000900}"#)), Some(1_700_000_900));
        assert_eq!(expiry(&jwt(r#"{"exp":1700000900.5}"#)), Some(1_700_000_900));
        assert_eq!(expiry(&jwt(r#"{"sub":"u"}"#)), None);
        assert_eq!(expiry(&jwt(r#"{"exp":"soon"}"#)), None);
        assert_eq!(expiry(&jwt(r#"{"exp":-5}"#)), None);
        assert_eq!(expiry(&jwt("not json")), None);
        assert_eq!(expiry("only.two"), None);
        assert_eq!(expiry("a.b.c.d"), None);
        assert_eq!(expiry("a.!!!.c"), None);
        assert_eq!(expiry(""), None);
    }

    #[test]
    fn a_jwt_is_reused_only_before_its_expiry_minus_the_margin() {
        let token = jwt(r#"{"exp":1000}"#);
        assert!(reusable(&token, 900, 10));
        assert!(reusable(&token, 989, 10));
        assert!(!reusable(&token, 990, 10), "inside the margin");
        assert!(!reusable(&token, 1000, 0), "at expiry");
        assert!(!reusable(&token, 1060, 0), "past expiry (the npm helper would still reuse it)");
        assert!(!reusable(&jwt(r#"{}"#), 0, 0), "no exp");
        assert!(!reusable(&token, u64::MAX, 10));
    }
}
