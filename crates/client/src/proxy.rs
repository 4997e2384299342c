//! `/api/auth/*` on the web app's origin, forwarded to the deployment's site origin (the Next.js guide's
//! `app/api/auth/[...all]/route.ts`). The browser talks to its own origin only, so the session and JWT cookies
//! the deployment sets are the web app's; responses (statuses, `Location`, every `Set-Cookie`) come back
//! untouched and redirects are never followed.

use crate::ConvexBetterAuth;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use protocol::{ErrorBody, ErrorCode};
use std::net::SocketAddr;

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1).
pub(crate) const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The largest request body forwarded (auth requests are small JSON documents).
const MAX_BODY: usize = 1024 * 1024;

impl ConvexBetterAuth {
    /// A router answering `/api/auth/*` by forwarding to the site origin. Merge it into the web app's router and
    /// serve with `into_make_service_with_connect_info::<SocketAddr>()` so the client IP reaches the deployment
    /// (its rate limits are per client IP).
    pub fn proxy_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let auth = self.clone();
        Router::new().route(
            "/api/auth/{*path}",
            any(move |request: Request| {
                let auth = auth.clone();
                async move { auth.proxy(request).await }
            }),
        )
    }

    /// Forwards one request to the same path and query on the site origin, with `x-forwarded-host` (the
    /// request's `Host`), `x-forwarded-proto` and `x-forwarded-for` (the peer address from `ConnectInfo`).
    /// Incoming `x-forwarded-*` values are replaced unless [`crate::SsrConfig::trust_forwarded_headers`] says a
    /// trusted proxy in front set them.
    pub async fn proxy(&self, request: Request) -> Response {
        let inner = &self.inner;
        let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        let (parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        // `..` segments (also percent-encoded) would be resolved by the URL parser and leave /api/auth for any
        // route of the site origin; nothing under /api/auth has such a segment.
        if has_dot_segment(parts.uri.path()) {
            return error(ErrorCode::NOT_FOUND, "not found");
        }
        let url = format!("{}{path}", inner.site);
        let Ok(method) = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()) else {
            return error(ErrorCode::METHOD_NOT_ALLOWED, "unsupported method");
        };
        let body = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(body) => body,
            Err(_) => return error(ErrorCode::PAYLOAD_TOO_LARGE, "request body too large"),
        };
        let headers = forwarded_headers(&parts.headers, peer, inner.config.trust_forwarded_headers);
        let upstream = inner.http.request(method, &url).headers(headers).body(body).send().await;
        let upstream = match upstream {
            Ok(upstream) => upstream,
            Err(e) => {
                tracing::warn!(url, error = %e, "auth proxy: the deployment did not answer");
                return error(ErrorCode::BAD_GATEWAY, "the auth server did not answer");
            }
        };
        let status = upstream.status();
        let mut response_headers = upstream.headers().clone();
        for name in HOP_BY_HOP.iter().chain(&["content-length"]) {
            response_headers.remove(*name);
        }
        let bytes = match upstream.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(url, error = %e, "auth proxy: the deployment's response broke off");
                return error(ErrorCode::BAD_GATEWAY, "the auth server's response broke off");
            }
        };
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = status;
        *response.headers_mut() = response_headers;
        response
    }
}

/// The headers sent upstream: the incoming ones without hop-by-hop headers, `host` (the client sets the site's)
/// and `content-length`, plus the `x-forwarded-*` trio.
fn forwarded_headers(incoming: &HeaderMap, peer: Option<std::net::IpAddr>, trust_incoming: bool) -> HeaderMap {
    let mut headers = incoming.clone();
    for name in HOP_BY_HOP.iter().chain(&["host", "content-length", "accept-encoding"]) {
        headers.remove(*name);
    }
    // Hop-by-hop headers named in `Connection` go too.
    for listed in incoming.get_all(http::header::CONNECTION).iter().filter_map(|v| v.to_str().ok()) {
        for name in listed.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                headers.remove(name);
            }
        }
    }
    headers.insert(http::header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    let set = |headers: &mut HeaderMap, name: &'static str, value: Option<String>| {
        let keep = trust_incoming && headers.contains_key(name);
        if keep {
            return;
        }
        headers.remove(name);
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    };
    let host = incoming.get(http::header::HOST).and_then(|v| v.to_str().ok()).map(str::to_owned);
    set(&mut headers, "x-forwarded-host", host);
    set(&mut headers, "x-forwarded-proto", Some("http".to_owned()));
    let peer = peer.map(|ip| ip.to_string());
    match (trust_incoming, incoming.get("x-forwarded-for").and_then(|v| v.to_str().ok()), peer) {
        // Behind a trusted proxy: the chain it reported, then the proxy's own address.
        (true, Some(chain), Some(peer)) => {
            if let Ok(value) = HeaderValue::from_str(&format!("{chain}, {peer}")) {
                headers.insert("x-forwarded-for", value);
            }
        }
        (true, Some(_), None) => {}
        (_, _, peer) => set(&mut headers, "x-forwarded-for", peer),
    }
    headers
}

fn error(code: ErrorCode, message: &str) -> Response {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    (status, axum::Json(ErrorBody::new(code, message))).into_response()
}

#[cfg(test)]
mod tests {
    use super::forwarded_headers;
    use http::HeaderMap;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        map
    }

    #[test]
    fn sets_the_forwarded_trio_and_drops_connection_headers() {
        let incoming = headers(&[
            ("host", "app.example:3000"),
            ("cookie", "a=1"),
            ("origin", "http://app.example:3000"),
            ("connection", "keep-alive, x-secret"),
            ("x-secret", "hop"),
            ("keep-alive", "timeout=5"),
            ("content-length", "12"),
            ("accept-encoding", "gzip"),
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-host", "evil.example"),
        ]);
        let out = forwarded_headers(&incoming, Some("10.1.2.3".parse().unwrap()), false);
        assert_eq!(out["x-forwarded-host"], "app.example:3000");
        assert_eq!(out["x-forwarded-proto"], "http");
        assert_eq!(out["x-forwarded-for"], "10.1.2.3", "a client-sent value is replaced");
        assert_eq!(out["cookie"], "a=1");
        assert_eq!(out["origin"], "http://app.example:3000");
        assert_eq!(out["accept-encoding"], "identity");
        for gone in ["host", "connection", "x-secret", "keep-alive", "content-length"] {
            assert!(!out.contains_key(gone), "{gone} forwarded");
        }
    }

    #[test]
    fn behind_a_trusted_proxy_the_incoming_values_are_kept_and_the_peer_appended() {
        let incoming = headers(&[
            ("host", "internal:3000"),
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-host", "app.example"),
            ("x-forwarded-proto", "https"),
        ]);
        let out = forwarded_headers(&incoming, Some("10.0.0.1".parse().unwrap()), true);
        assert_eq!(out["x-forwarded-host"], "app.example");
        assert_eq!(out["x-forwarded-proto"], "https");
        assert_eq!(out["x-forwarded-for"], "203.0.113.9, 10.0.0.1");
        let bare = forwarded_headers(&headers(&[("host", "internal:3000")]), None, true);
        assert_eq!(bare["x-forwarded-host"], "internal:3000");
        assert!(!bare.contains_key("x-forwarded-for"), "no peer address, nothing to report");
    }
}

/// Whether a path has a `.` or `..` segment, literally or percent-encoded (`%2e`, `%2E`), or a backslash (which
/// some URL parsers treat as a separator).
fn has_dot_segment(path: &str) -> bool {
    path.contains('\\')
        || path.split('/').any(|segment| {
            let decoded = segment.replace("%2e", ".").replace("%2E", ".");
            decoded == "." || decoded == ".."
        })
}

#[cfg(test)]
mod dot_segment_tests {
    use super::has_dot_segment;

    #[test]
    fn dot_segments_are_recognised_in_every_spelling() {
        for path in [
            "/api/auth/../../messages",
            "/api/auth/%2e%2e/x",
            "/api/auth/%2E%2e/x",
            "/api/auth/./get-session",
            "/api/auth/.%2E/x",
            "/api/auth/..\\x",
        ] {
            assert!(has_dot_segment(path), "{path}");
        }
        for path in ["/api/auth/get-session", "/api/auth/callback/github", "/api/auth/a..b", "/api/auth/.well-known"] {
            assert!(!has_dot_segment(path), "{path}");
        }
    }
}
