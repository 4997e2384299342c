//! Rate-limit counters shared by every node through Redis (`AUTHVEX_REDIS_URL`), with Better Auth's fixed-window
//! rule evaluated atomically inside Redis by a small Lua script (the same rule as [`auth::rate_limit::step`]).
//!
//! A Redis outage never turns into a 500 or an unlimited endpoint: each hit that Redis cannot answer is counted in
//! this node's in-memory store instead (per-node limits), with a warning logged at most every 30 seconds; once
//! Redis answers again, the shared counters take over.
//!
//! `rediss://` connects with TLS (rustls): the server's certificate is checked against the platform's roots, or
//! against the PEM file `AUTHVEX_REDIS_CA` names (a private CA, as hosted Redis services give out). A CA file that
//! cannot be read stops the start; a certificate that does not check out is an unreachable Redis (per-node counters
//! and a logged warning naming the TLS error), never a silent plain-text connection.

use async_trait::async_trait;
use auth::rate_limit::{Decision, MemoryStore, RateLimitStore, StoreError};
use database::UnixTime;
use parking_lot::Mutex;
use redis::aio::ConnectionManager;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `KEYS[1]` = the bucket; `ARGV` = now (ms), window (ms), max. Returns `{allowed (0/1), retry-after seconds}`.
/// The record is `count:last_request_ms`, kept for a little longer than the window.
const HIT_SCRIPT: &str = r#"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local record = redis.call('GET', KEYS[1])
local count = 0
if record then
  local c, last = string.match(record, '^(%d+):(%d+)$')
  if c then
    local elapsed = now - tonumber(last)
    if elapsed < window and tonumber(c) >= max then
      return {0, math.ceil((window - elapsed) / 1000)}
    end
    if elapsed <= window then
      count = tonumber(c)
    end
  end
end
redis.call('SET', KEYS[1], (count + 1) .. ':' .. ARGV[1], 'PX', window + 1000)
return {1, 0}
"#;

/// How long a hit may wait for Redis before this node counts it locally.
const REDIS_DEADLINE: Duration = Duration::from_millis(250);
/// At most one "Redis unavailable" warning per this interval.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// How often a node without a Redis connection tries to make one.
const RECONNECT_EVERY: Duration = Duration::from_secs(5);

pub struct RedisRateLimitStore {
    client: redis::Client,
    /// The live connection (it reconnects by itself once made); `None` until Redis was reachable once.
    redis: Arc<Mutex<Option<ConnectionManager>>>,
    next_connect: Mutex<Instant>,
    url: String,
    script: redis::Script,
    prefix: String,
    local: MemoryStore,
    last_warning: Mutex<Option<Instant>>,
}

async fn open(client: redis::Client) -> Result<ConnectionManager, String> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(REDIS_DEADLINE))
        .set_response_timeout(Some(REDIS_DEADLINE))
        .set_number_of_retries(1);
    match tokio::time::timeout(REDIS_DEADLINE * 4, ConnectionManager::new_with_config(client, config)).await {
        Ok(Ok(manager)) => Ok(manager),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer".into()),
    }
}

impl RedisRateLimitStore {
    /// Connects to `url` (`redis://host:port[/db]`) and keeps its counters under `prefix` (`AUTHVEX_REDIS_PREFIX`,
    /// default `authvex:rate-limit:`; every node of a deployment uses the same). An unreachable server is not fatal:
    /// this node counts locally and tries again every few seconds.
    pub async fn with_prefix(url: &str, prefix: &str) -> Result<RedisRateLimitStore, String> {
        Self::with_options(url, prefix, None).await
    }

    /// [`RedisRateLimitStore::with_prefix`], trusting the root certificates in the PEM file `ca` for `rediss://`
    /// (instead of the platform's).
    pub async fn with_options(url: &str, prefix: &str, ca: Option<&Path>) -> Result<RedisRateLimitStore, String> {
        let client = match ca {
            Some(ca) => {
                if !url.starts_with("rediss://") {
                    return Err(format!(
                        "AUTHVEX_REDIS_CA is set but AUTHVEX_REDIS_URL ({}) is not a rediss:// (TLS) URL",
                        redacted(url)
                    ));
                }
                let root_cert =
                    std::fs::read(ca).map_err(|e| format!("AUTHVEX_REDIS_CA {}: cannot read: {e}", ca.display()))?;
                // redis-rs builds its rustls configuration with the process-wide provider: make it ring's.
                let _ = rustls::crypto::ring::default_provider().install_default();
                redis::Client::build_with_tls(
                    url,
                    redis::TlsCertificates { client_tls: None, root_cert: Some(root_cert) },
                )
                .map_err(|e| format!("AUTHVEX_REDIS_URL / AUTHVEX_REDIS_CA: {e}"))?
            }
            None => {
                if url.starts_with("rediss://") {
                    let _ = rustls::crypto::ring::default_provider().install_default();
                }
                redis::Client::open(url).map_err(|e| format!("AUTHVEX_REDIS_URL is not a Redis URL: {e}"))?
            }
        };
        let redis = match open(client.clone()).await {
            Ok(manager) => Some(manager),
            Err(e) => {
                tracing::warn!(error = %e, url = %redacted(url), "Redis is unreachable; rate limits are per node until it is back");
                None
            }
        };
        Ok(RedisRateLimitStore {
            client,
            redis: Arc::new(Mutex::new(redis)),
            next_connect: Mutex::new(Instant::now() + RECONNECT_EVERY),
            url: url.to_string(),
            script: redis::Script::new(HIT_SCRIPT),
            prefix: prefix.to_string(),
            local: MemoryStore::default(),
            last_warning: Mutex::new(None),
        })
    }

    fn warn(&self, error: &str) {
        let mut last = self.last_warning.lock();
        if last.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(error, url = %redacted(&self.url), "Redis rate-limit store failed; counting on this node");
        }
    }

    /// The connection, or `None` (then a connection attempt starts in the background if one is due).
    fn connection(&self) -> Option<ConnectionManager> {
        if let Some(manager) = self.redis.lock().clone() {
            return Some(manager);
        }
        let mut next = self.next_connect.lock();
        if Instant::now() >= *next {
            *next = Instant::now() + RECONNECT_EVERY;
            let (client, slot) = (self.client.clone(), self.redis.clone());
            tokio::spawn(async move {
                if let Ok(manager) = open(client).await {
                    tracing::info!("Redis is reachable again; rate limits are shared");
                    *slot.lock() = Some(manager);
                }
            });
        }
        None
    }

    async fn shared_hit(&self, key: &str, window_ms: u64, max: u32, now_ms: u64) -> Result<Decision, String> {
        let Some(mut redis) = self.connection() else { return Err("not connected".into()) };
        let mut invocation = self.script.key(format!("{}{key}", self.prefix));
        invocation.arg(now_ms).arg(window_ms).arg(max);
        let answer: Result<redis::RedisResult<(u8, u64)>, _> =
            tokio::time::timeout(REDIS_DEADLINE, invocation.invoke_async(&mut redis)).await;
        match answer {
            Ok(Ok((allowed, retry_after_secs))) => Ok(Decision { allowed: allowed == 1, retry_after_secs }),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {REDIS_DEADLINE:?}")),
        }
    }
}

/// The URL without its password, for logs.
fn redacted(url: &str) -> String {
    match url.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?))) {
        Some((scheme, (_, host))) => format!("{scheme}://***@{host}"),
        None => url.to_string(),
    }
}

#[async_trait]
impl RateLimitStore for RedisRateLimitStore {
    async fn hit(&self, key: &str, window_ms: u64, max: u32, now: UnixTime) -> Result<Decision, StoreError> {
        let now_ms = now.as_millis();
        match self.shared_hit(key, window_ms, max, now_ms).await {
            Ok(decision) => Ok(decision),
            Err(error) => {
                self.warn(&error);
                Ok(self.local.hit_now(key, window_ms, max, now_ms))
            }
        }
    }
}

#[cfg(test)]
// The edge of the test process: it reads its environment and the wall clock (for a unique key prefix).
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    fn redis_url() -> String {
        std::env::var("AUTHVEX_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    fn unique_prefix() -> String {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        format!("authvex-test:{}:{nanos}:", std::process::id())
    }

    async fn shared_store(prefix: &str) -> RedisRateLimitStore {
        let store = RedisRateLimitStore::with_prefix(&redis_url(), prefix).await.unwrap();
        assert!(
            store.redis.lock().is_some(),
            "Redis must run at {} for this test (scripts/test.sh starts it)",
            redis_url()
        );
        store
    }

    #[test]
    fn passwords_stay_out_of_logged_urls() {
        assert_eq!(redacted("redis://:hunter2@127.0.0.1:6379/0"), "redis://***@127.0.0.1:6379/0");
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }

    /// Two nodes, one Redis: the hits counted on node A count on node B, with Better Auth's window rule.
    #[tokio::test]
    async fn nodes_share_counters_through_redis() {
        let prefix = unique_prefix();
        let (a, b) = (shared_store(&prefix).await, shared_store(&prefix).await);
        let now = 1_700_000_000_000u64;
        for i in 0..3 {
            let on = if i % 2 == 0 { &a } else { &b };
            assert!(
                on.hit("1.2.3.4/sign-in/email", 10_000, 3, UnixTime::from_millis(now + i)).await.unwrap().allowed,
                "hit {i}"
            );
        }
        let refused = b.hit("1.2.3.4/sign-in/email", 10_000, 3, UnixTime::from_millis(now + 4_000)).await.unwrap();
        assert!(!refused.allowed, "the fourth hit in the window is refused on the other node");
        assert_eq!(refused.retry_after_secs, 7, "retry after the rest of the window (rounded up)");
        assert!(
            a.hit("5.6.7.8/sign-in/email", 10_000, 3, UnixTime::from_millis(now + 4_000)).await.unwrap().allowed,
            "other keys are apart"
        );
        assert!(
            a.hit("1.2.3.4/sign-in/email", 10_000, 3, UnixTime::from_millis(now + 10_003)).await.unwrap().allowed,
            "a new window"
        );
        // Same answers as the in-memory store's rule.
        let memory = MemoryStore::default();
        let prefix2 = unique_prefix();
        let c = shared_store(&prefix2).await;
        for (i, dt) in [0u64, 100, 200, 300, 9_999, 10_000, 10_001, 10_002, 10_003, 25_000].iter().enumerate() {
            let expected = memory.hit_now("k", 10_000, 3, now + dt);
            assert_eq!(
                c.hit("k", 10_000, 3, UnixTime::from_millis(now + dt)).await.unwrap(),
                expected,
                "step {i} at +{dt} ms"
            );
        }
    }

    /// Redis down: every hit is still answered, from this node's own counters — limits hold per node.
    #[tokio::test]
    async fn an_unreachable_redis_degrades_to_per_node_limits() {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let store =
            RedisRateLimitStore::with_prefix(&format!("redis://127.0.0.1:{port}"), &unique_prefix()).await.unwrap();
        let now = 1_700_000_000_000u64;
        for i in 0..3 {
            assert!(
                store.hit("k", 10_000, 3, UnixTime::from_millis(now + i)).await.unwrap().allowed,
                "hit {i} allowed locally"
            );
        }
        let refused =
            store.hit("k", 10_000, 3, UnixTime::from_millis(now + 10)).await.expect("a Redis outage is never an error");
        assert!(!refused.allowed, "the local limit holds");
    }

    /// A redis-server with only a TLS port, on a free port, killed on drop.
    struct TlsRedis {
        port: u16,
        child: std::process::Child,
    }

    impl Drop for TlsRedis {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn start_tls_redis(server: &test_support::tls::CertFiles, ca: &Path) -> TlsRedis {
        let port = test_support::tls::free_port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--tls-auth-clients", "no"])
            .arg("--tls-cert-file")
            .arg(&server.cert)
            .arg("--tls-key-file")
            .arg(&server.key)
            .arg("--tls-ca-cert-file")
            .arg(ca)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (built with TLS) must be installed for this test; .ci/run installs it");
        let redis = TlsRedis { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on TLS port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    /// `rediss://` with the deployment's own CA: counters are shared over TLS; a server whose certificate another CA
    /// signed is never used (per-node counters), and a CA file without a TLS URL is a configuration error.
    #[tokio::test]
    async fn rediss_with_a_private_ca() {
        let ca = test_support::tls::TestCa::new("redis CA");
        let other = test_support::tls::TestCa::new("another CA");
        let redis = start_tls_redis(&ca.server_cert("redis", &["localhost"]), ca.ca_path());
        let url = format!("rediss://localhost:{}", redis.port);
        let prefix = unique_prefix();
        let a = RedisRateLimitStore::with_options(&url, &prefix, Some(ca.ca_path())).await.unwrap();
        let b = RedisRateLimitStore::with_options(&url, &prefix, Some(ca.ca_path())).await.unwrap();
        assert!(a.redis.lock().is_some() && b.redis.lock().is_some(), "connected over TLS");
        let now = 1_700_000_000_000u64;
        assert!(a.hit("k", 10_000, 2, UnixTime::from_millis(now)).await.unwrap().allowed);
        assert!(b.hit("k", 10_000, 2, UnixTime::from_millis(now + 1)).await.unwrap().allowed);
        assert!(!a.hit("k", 10_000, 2, UnixTime::from_millis(now + 2)).await.unwrap().allowed, "shared over TLS");

        let untrusted = RedisRateLimitStore::with_options(&url, &prefix, Some(other.ca_path())).await.unwrap();
        assert!(untrusted.redis.lock().is_none(), "a certificate from another CA is refused");
        assert!(
            untrusted.hit("k", 10_000, 2, UnixTime::from_millis(now + 3)).await.unwrap().allowed,
            "counted on this node instead (the shared counter is exhausted)"
        );
        let plain =
            RedisRateLimitStore::with_prefix(&format!("redis://localhost:{}", redis.port), &prefix).await.unwrap();
        assert!(plain.redis.lock().is_none(), "plain TCP against the TLS port does not connect");

        let error = RedisRateLimitStore::with_options(
            &format!("redis://localhost:{}", redis.port),
            &prefix,
            Some(ca.ca_path()),
        )
        .await
        .err()
        .unwrap();
        assert!(error.contains("rediss://"), "{error}");
        let error = RedisRateLimitStore::with_options(&url, &prefix, Some(Path::new("/nonexistent/ca.pem")))
            .await
            .err()
            .unwrap();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
    }
}
