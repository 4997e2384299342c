//! Rate limiting as Better Auth 1.4.9 does it (fixed window per `ip + path`, 100 requests / 10 s by default,
//! 3 / 10 s on sign-in, sign-up, change-password and change-email), with 1.7's hardening where it is stricter:
//! IPv6 clients grouped by /64, IPv4-mapped addresses as IPv4, requests without a known IP sharing one bucket
//! per path instead of going unlimited, 3 / 60 s on the e-mail sending endpoints, and a bounded in-memory store.
//!
//! Pure apart from the store: time is a parameter (`now_ms`), the client address is resolved by [`client_ip`].
//!
//! # A request's key and rule ([`RateLimiter::check`])
//! * Path: the path after the base path (`/api/auth`), trailing `/` removed, so `/sign-in/email/` and
//!   `/sign-in/email` share a bucket. Unknown paths are counted too (the limiter runs before routing).
//! * Key: `ip + path`, e.g. `198.51.100.9/sign-in/email` (Better Auth 1.4.9's format). IPv6 addresses are cut to
//!   their /64 ([`RateLimitConfig::ipv6_subnet`]): one host usually owns the whole /64, so per-address keys
//!   would let it rotate through 2^64 buckets.
//! * No known IP: 1.4.9 does not rate limit such a request in production (and uses `127.0.0.1` in development).
//!   Here, by default ([`MissingIp::SharedBucket`], 1.7's behaviour), all such requests share one bucket per
//!   path (key `no-trusted-ip` + path); [`MissingIp::Skip`] restores 1.4.9's production behaviour.
//! * Rule: the default (`window_secs`/`max`); else the first matching [`SpecialRule`]; then the first matching
//!   [`CustomRule`] overrides (exact path, or a `wildcardMatch` glob when the path contains `*`), or disables
//!   limiting for that path.
//!
//! # Rejection ([`RateLimited`])
//! `429`, `X-Retry-After: <seconds>`, body `{"message":"Too many requests. Please try again later."}` with
//! `Content-Type: text/plain;charset=UTF-8` (1.4.9 builds the response from a bare string; 1.7 sends
//! `application/json`; the client parses the JSON either way). No `code`.

mod client_ip;
mod store;

#[cfg(test)]
mod tests;

use protocol::UnixTime;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

pub use client_ip::{client_ip, InvalidNetwork, IpConfig, IpNetwork, TrustedProxies};
pub use store::{step, Decision, MemoryStore, RateLimitStore, Record, StoreError, DEFAULT_MAX_KEYS};

use crate::origin::Glob;

/// How a built-in rule selects paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    Prefix(String),
    Exact(String),
}

impl PathMatch {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
            PathMatch::Exact(exact) => path == exact,
        }
    }
}

/// A built-in rule (Better Auth's `getDefaultSpecialRules`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialRule {
    pub paths: Vec<PathMatch>,
    pub window_secs: u64,
    pub max: u32,
}

impl SpecialRule {
    /// 1.4.9: paths starting with `/sign-in`, `/sign-up`, `/change-password`, `/change-email` → 3 per 10 s.
    pub fn credentials() -> SpecialRule {
        SpecialRule {
            paths: ["/sign-in", "/sign-up", "/change-password", "/change-email"]
                .map(|p| PathMatch::Prefix(p.to_string()))
                .into(),
            window_secs: 10,
            max: 3,
        }
    }

    /// 1.7: the endpoints that send e-mail → 3 per 60 s.
    pub fn email_sending() -> SpecialRule {
        SpecialRule {
            paths: vec![
                PathMatch::Exact("/request-password-reset".into()),
                PathMatch::Exact("/send-verification-email".into()),
                PathMatch::Prefix("/forget-password".into()),
                PathMatch::Exact("/email-otp/send-verification-otp".into()),
                PathMatch::Exact("/email-otp/request-password-reset".into()),
            ],
            window_secs: 60,
            max: 3,
        }
    }
}

/// What a custom rule does to its paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomLimit {
    Limit {
        window_secs: u64,
        max: u32,
    },
    /// `false` in Better Auth's `customRules`: not rate limited.
    Disabled,
}

/// One entry of Better Auth's `rateLimit.customRules` (`{"/path": {window, max}}`); the first matching entry
/// wins, so order them as the config object was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRule {
    /// An exact path, or a `wildcardMatch` pattern when it contains `*` (`/sign-in/*`).
    pub path: String,
    pub limit: CustomLimit,
}

/// Requests whose client address is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingIp {
    /// One bucket per path for all of them (1.7).
    #[default]
    SharedBucket,
    /// Not rate limited (1.4.9 in production).
    Skip,
}

/// What a store failure means for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnStoreError {
    /// Let it through (logged): an outage of the limiter's store does not take sign-in down.
    #[default]
    Allow,
    /// Refuse it with the rule's window as the retry delay.
    Reject,
}

/// `rateLimit` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Better Auth turns it on by default only under `NODE_ENV=production`; here it is on unless configured off.
    pub enabled: bool,
    /// Default window; `0` means 10, as Better Auth's `window || 10`.
    pub window_secs: u64,
    /// Default maximum per window; `0` means 100, as Better Auth's `max || 100`.
    pub max: u32,
    pub special_rules: Vec<SpecialRule>,
    pub custom_rules: Vec<CustomRule>,
    /// IPv6 addresses are keyed by this prefix (1.7's `ipv6Subnet`, default 64; 128 keys single addresses).
    pub ipv6_subnet: u8,
    pub missing_ip: MissingIp,
    pub on_store_error: OnStoreError,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            window_secs: 10,
            max: 100,
            special_rules: vec![SpecialRule::credentials(), SpecialRule::email_sending()],
            custom_rules: Vec::new(),
            ipv6_subnet: 64,
            missing_ip: MissingIp::default(),
            on_store_error: OnStoreError::default(),
        }
    }
}

/// A request refused for exceeding its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited, retry after {retry_after_secs} s")]
pub struct RateLimited {
    pub retry_after_secs: u64,
}

impl RateLimited {
    pub const STATUS: u16 = 429;
    pub const RETRY_AFTER_HEADER: &'static str = "X-Retry-After";
    pub const BODY: &'static str = r#"{"message":"Too many requests. Please try again later."}"#;
    /// What 1.4.9 sends (1.7: `application/json`).
    pub const CONTENT_TYPE: &'static str = "text/plain;charset=UTF-8";

    /// The complete response, as Better Auth 1.4.9 sends it.
    pub fn to_response(&self) -> http::Response<String> {
        let mut response = http::Response::new(Self::BODY.to_string());
        *response.status_mut() = http::StatusCode::TOO_MANY_REQUESTS;
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(Self::CONTENT_TYPE));
        headers.insert(Self::RETRY_AFTER_HEADER, http::HeaderValue::from(self.retry_after_secs));
        response
    }
}

/// The limiter: rules resolved per request, counters in a [`RateLimitStore`].
#[derive(Clone)]
pub struct RateLimiter {
    config: RateLimitConfig,
    custom_globs: Vec<Option<Glob>>,
    store: Arc<dyn RateLimitStore>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The key prefix of requests without a known client address (1.7's name).
pub const NO_IP_KEY: &str = "no-trusted-ip";

impl RateLimiter {
    pub fn new(mut config: RateLimitConfig, store: Arc<dyn RateLimitStore>) -> RateLimiter {
        if config.window_secs == 0 {
            config.window_secs = 10;
        }
        if config.max == 0 {
            config.max = 100;
        }
        let custom_globs =
            config.custom_rules.iter().map(|r| r.path.contains('*').then(|| Glob::new(&r.path))).collect();
        RateLimiter { config, custom_globs, store }
    }

    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// The `(window_secs, max)` for `path` (already without trailing `/`), `None` when not limited.
    pub fn rule_for(&self, path: &str) -> Option<(u64, u32)> {
        let mut rule = (self.config.window_secs, self.config.max);
        if let Some(special) = self.config.special_rules.iter().find(|r| r.paths.iter().any(|p| p.matches(path))) {
            rule = (special.window_secs, special.max);
        }
        let custom = self.config.custom_rules.iter().zip(&self.custom_globs).find(|(r, glob)| match glob {
            Some(glob) => glob.is_match(path),
            None => r.path == path,
        });
        match custom.map(|(r, _)| r.limit) {
            Some(CustomLimit::Disabled) => None,
            Some(CustomLimit::Limit { window_secs, max }) => Some((window_secs, max)),
            None => Some(rule),
        }
    }

    /// Counts one request to `path` (the path after the base path) from `client_ip` at `now`.
    pub async fn check(&self, path: &str, client_ip: Option<IpAddr>, now: UnixTime) -> Result<(), RateLimited> {
        if !self.config.enabled {
            return Ok(());
        }
        // Trailing `/` removed as Better Auth does; a leading one ensured, so that the key `ip + path` is
        // unambiguous (an address never contains `/`).
        let trimmed = path.trim_end_matches('/');
        let owned;
        let path = if trimmed.is_empty() || trimmed.starts_with('/') {
            trimmed
        } else {
            owned = format!("/{trimmed}");
            owned.as_str()
        };
        let prefix = match client_ip {
            Some(ip) => ip_key(ip, self.config.ipv6_subnet),
            None if self.config.missing_ip == MissingIp::Skip => return Ok(()),
            None => NO_IP_KEY.to_string(),
        };
        let Some((window_secs, max)) = self.rule_for(path) else {
            return Ok(());
        };
        let key = format!("{prefix}{path}");
        let window_ms = window_secs.saturating_mul(1000);
        match self.store.hit(&key, window_ms, max, now).await {
            Ok(decision) if decision.allowed => Ok(()),
            Ok(decision) => Err(RateLimited { retry_after_secs: decision.retry_after_secs }),
            Err(error) => {
                tracing::error!(%error, "rate limit store failed");
                match self.config.on_store_error {
                    OnStoreError::Allow => Ok(()),
                    OnStoreError::Reject => Err(RateLimited { retry_after_secs: window_secs }),
                }
            }
        }
    }
}

/// The address part of a key: IPv4 (also when IPv4-mapped) as is, IPv6 cut to `subnet` bits.
pub fn ip_key(ip: IpAddr, subnet: u8) -> String {
    match client_ip::canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let bits = u32::from(subnet.min(128));
            let value = u128::from(v6);
            let masked = if bits == 0 { 0 } else { (value >> (128 - bits)) << (128 - bits) };
            Ipv6Addr::from(masked).to_string()
        }
    }
}
