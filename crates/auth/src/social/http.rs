//! Outbound HTTP to OAuth providers, behind a trait so the service is tested against any transport. The
//! production client never follows redirects: a token endpoint answering 3xx is a failed exchange, not an
//! invitation to send the authorization code and client secret somewhere else.

use async_trait::async_trait;

/// Largest provider response read (token, profile, JWKS and discovery documents are a few KiB).
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// One request to a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: http::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl OutboundRequest {
    pub fn get(url: &str) -> Self {
        OutboundRequest { method: http::Method::GET, url: url.to_string(), headers: Vec::new(), body: None }
    }

    /// A form POST (`application/x-www-form-urlencoded`).
    pub fn post_form(url: &str, pairs: &[(&str, &str)]) -> Self {
        OutboundRequest {
            method: http::Method::POST,
            url: url.to_string(),
            headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into())],
            body: Some(form_urlencode(pairs)),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// What a provider answered (redirects are answers too: never followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl OutboundResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Sends requests to providers. Errors are transport failures (connection refused, timeout, oversized body).
#[async_trait]
pub trait OAuthHttp: Send + Sync {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, String>;
}

/// `application/x-www-form-urlencoded` as `URLSearchParams` serialises it: `*-._` and alphanumerics kept,
/// space as `+`, everything else percent-encoded (UTF-8).
pub fn form_urlencode(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", form_component(k), form_component(v))).collect::<Vec<_>>().join("&")
}

pub fn form_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_matches_url_search_params() {
        assert_eq!(form_component("read:user user:email"), "read%3Auser+user%3Aemail");
        assert_eq!(
            form_component("http://localhost:3000/api/auth/callback/github"),
            "http%3A%2F%2Flocalhost%3A3000%2Fapi%2Fauth%2Fcallback%2Fgithub"
        );
        assert_eq!(form_component("a*b-c._~é"), "a*b-c._%7E%C3%A9");
        assert_eq!(form_urlencode(&[("a", "1 2"), ("b&", "=")]), "a=1+2&b%26=%3D");
    }
}
