#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use protocol::UnixTime;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use http::{HeaderMap, HeaderValue};

use super::*;

// ---------------------------------------------------------------------------------------------------------------
// Helpers

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn limiter(config: RateLimitConfig) -> (RateLimiter, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::default());
    (RateLimiter::new(config, store.clone()), store)
}

/// Sends `n` requests at `now_ms` and returns how many were allowed.
async fn burst(limiter: &RateLimiter, path: &str, client: Option<IpAddr>, now_ms: u64, n: usize) -> usize {
    let mut allowed = 0;
    for _ in 0..n {
        if limiter.check(path, client, UnixTime::from_millis(now_ms)).await.is_ok() {
            allowed += 1;
        }
    }
    allowed
}

const T0: u64 = 1_893_456_000_000;

// ---------------------------------------------------------------------------------------------------------------
// The fixed-window step

/// Runs a sequence of `(now_ms, expected allowed, expected retry)` through [`step`] with one record.
fn check_steps(window_ms: u64, max: u32, steps: &[(u64, bool, u64)]) {
    let mut record = None;
    for (i, (now, allowed, retry)) in steps.iter().enumerate() {
        let (decision, next) = step(record, window_ms, max, *now);
        assert_eq!((decision.allowed, decision.retry_after_secs), (*allowed, *retry), "step {i} at {now}");
        if let Some(next) = next {
            record = Some(next);
        } else {
            assert!(!decision.allowed);
        }
    }
}

#[test]
fn fixed_window_arithmetic_at_the_edges() {
    check_steps(
        10_000,
        3,
        &[
            (T0, true, 0),
            (T0 + 1, true, 0),
            (T0 + 2, true, 0),        // count 3, lastRequest T0+2
            (T0 + 3, false, 10),      // ceil((T0+2+10000 − (T0+3)) / 1000) = ceil(9.999) = 10
            (T0 + 9_002, false, 1),   // 1 ms short of the window: ceil(0.001)... = 1
            (T0 + 10_001, false, 1),  // elapsed 9 999 < 10 000
            (T0 + 10_002, true, 0),   // elapsed = window exactly: allowed, count 4 (not reset: 1.4.9 resets only on >)
            (T0 + 10_003, false, 10), // count 4 ≥ 3, lastRequest T0+10002
            (T0 + 20_003, true, 0),   // elapsed > window? 10 001 > 10 000: reset to 1
            (T0 + 20_004, true, 0),
            (T0 + 20_005, true, 0),
            (T0 + 20_006, false, 10),
        ],
    );
}

#[test]
fn rejections_do_not_extend_the_window() {
    // The window runs from the last *allowed* request; refused requests leave the record untouched.
    let mut steps = vec![(T0, true, 0), (T0, true, 0)];
    for ms in (1..10_000).step_by(997) {
        steps.push((T0 + ms, false, (10_000 - ms).div_ceil(1000)));
    }
    steps.push((T0 + 10_001, true, 0));
    check_steps(10_000, 2, &steps);
}

#[test]
fn first_request_is_allowed_even_with_max_zero() {
    check_steps(10_000, 0, &[(T0, true, 0), (T0 + 1, false, 10), (T0 + 10_001, true, 0), (T0 + 10_002, false, 10)]);
}

#[test]
fn clock_going_backwards_does_not_panic_or_free() {
    check_steps(10_000, 1, &[(T0, true, 0), (T0 - 5_000, false, 15), (0, false, (T0 + 10_000).div_ceil(1000))]);
    let huge = u64::try_from((2 * u128::from(u64::MAX)).div_ceil(1000)).unwrap();
    check_steps(u64::MAX, 1, &[(u64::MAX, true, 0), (0, false, huge)]);
}

// ---------------------------------------------------------------------------------------------------------------
// Rules

#[tokio::test]
async fn sign_in_gets_3_per_10s_and_everything_else_100() {
    let (limiter, _) = limiter(RateLimitConfig::default());
    let client = Some(ip("198.51.100.9"));
    assert_eq!(burst(&limiter, "/sign-in/email", client, T0, 10).await, 3);
    let err = limiter.check("/sign-in/email", client, UnixTime::from_millis(T0 + 1)).await;
    assert_eq!(err, Err(RateLimited { retry_after_secs: 10 }));
    assert_eq!(burst(&limiter, "/ok", client, T0, 150).await, 100);
    assert_eq!(burst(&limiter, "/get-session", client, T0, 150).await, 100);
    // Another IP and another path have their own buckets.
    assert_eq!(burst(&limiter, "/sign-in/email", Some(ip("198.51.100.10")), T0, 10).await, 3);
    assert_eq!(burst(&limiter, "/sign-up/email", client, T0, 10).await, 3);
    // After the window.
    assert_eq!(burst(&limiter, "/sign-in/email", client, T0 + 10_001, 10).await, 3);
}

#[tokio::test]
async fn built_in_rules() {
    let (limiter, _) = limiter(RateLimitConfig::default());
    for path in
        ["/sign-in/email", "/sign-in/social", "/sign-up/email", "/change-password", "/change-email", "/sign-inx"]
    {
        assert_eq!(limiter.rule_for(path), Some((10, 3)), "{path}");
    }
    for path in
        ["/request-password-reset", "/send-verification-email", "/forget-password", "/forget-password/email-otp"]
    {
        assert_eq!(limiter.rule_for(path), Some((60, 3)), "{path}");
    }
    for path in ["/ok", "/get-session", "/sign-out", "/", "", "/unknown", "/request-password-reset/x"] {
        assert_eq!(limiter.rule_for(path), Some((10, 100)), "{path}");
    }
    // 1.4.9 only: just the credentials rule.
    let config = RateLimitConfig { special_rules: vec![SpecialRule::credentials()], ..RateLimitConfig::default() };
    let (limiter, _) = self::limiter(config);
    assert_eq!(limiter.rule_for("/request-password-reset"), Some((10, 100)));
}

#[tokio::test]
async fn custom_rules_override_and_disable() {
    let config = RateLimitConfig {
        custom_rules: vec![
            CustomRule { path: "/sign-in/email".into(), limit: CustomLimit::Limit { window_secs: 60, max: 5 } },
            CustomRule { path: "/sign-in/*".into(), limit: CustomLimit::Limit { window_secs: 20, max: 2 } },
            CustomRule { path: "/get-session".into(), limit: CustomLimit::Disabled },
            CustomRule { path: "/a?c".into(), limit: CustomLimit::Limit { window_secs: 1, max: 1 } },
        ],
        ..RateLimitConfig::default()
    };
    let (limiter, _) = limiter(config);
    assert_eq!(limiter.rule_for("/sign-in/email"), Some((60, 5)));
    assert_eq!(limiter.rule_for("/sign-in/social"), Some((20, 2)));
    assert_eq!(limiter.rule_for("/sign-in/social/x"), Some((10, 3)));
    assert_eq!(limiter.rule_for("/get-session"), None);
    // Without `*` a path is compared exactly (`?` is literal).
    assert_eq!(limiter.rule_for("/abc"), Some((10, 100)));
    assert_eq!(limiter.rule_for("/a?c"), Some((1, 1)));
    let client = Some(ip("198.51.100.9"));
    assert_eq!(burst(&limiter, "/get-session", client, T0, 500).await, 500);
    assert_eq!(burst(&limiter, "/sign-in/email", client, T0, 10).await, 5);
}

#[tokio::test]
async fn zero_window_and_max_mean_the_defaults_and_disabled_means_off() {
    let config = RateLimitConfig { window_secs: 0, max: 0, ..RateLimitConfig::default() };
    let (limiter, _) = limiter(config);
    assert_eq!(limiter.rule_for("/ok"), Some((10, 100)));
    let (limiter, store) = self::limiter(RateLimitConfig { enabled: false, ..RateLimitConfig::default() });
    assert_eq!(burst(&limiter, "/sign-in/email", Some(ip("198.51.100.9")), T0, 50).await, 50);
    assert!(store.is_empty());
}

#[tokio::test]
async fn trailing_slashes_share_the_bucket() {
    let (limiter, store) = limiter(RateLimitConfig::default());
    let client = Some(ip("198.51.100.9"));
    assert_eq!(burst(&limiter, "/sign-in/email", client, T0, 2).await, 2);
    assert_eq!(burst(&limiter, "/sign-in/email//", client, T0, 5).await, 1);
    assert_eq!(burst(&limiter, "sign-in/email", client, T0, 5).await, 0);
    assert_eq!(store.len(), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Keys

#[test]
fn ipv6_is_grouped_by_64_and_mapped_ipv4_is_ipv4() {
    assert_eq!(ip_key(ip("2001:db8:1:2:3:4:5:6"), 64), "2001:db8:1:2::");
    assert_eq!(ip_key(ip("2001:DB8:1:2:ffff:ffff:ffff:ffff"), 64), "2001:db8:1:2::");
    assert_eq!(ip_key(ip("2001:db8:1:3::1"), 64), "2001:db8:1:3::");
    assert_eq!(ip_key(ip("2001:db8:1:2:3:4:5:6"), 128), "2001:db8:1:2:3:4:5:6");
    assert_eq!(ip_key(ip("2001:db8:1:2:3:4:5:6"), 48), "2001:db8:1::");
    assert_eq!(ip_key(ip("2001:db8:1:2:3:4:5:6"), 0), "::");
    assert_eq!(ip_key(ip("2001:db8:1:2:3:4:5:6"), 200), "2001:db8:1:2:3:4:5:6");
    assert_eq!(ip_key(ip("::ffff:198.51.100.9"), 64), "198.51.100.9");
    assert_eq!(ip_key(ip("198.51.100.9"), 64), "198.51.100.9");
}

#[tokio::test]
async fn one_ipv6_slash_64_is_one_client() {
    let (limiter, _) = limiter(RateLimitConfig::default());
    let mut allowed = 0;
    for host in 0..20u16 {
        let address = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, 7, host, 0, 0, host));
        allowed += burst(&limiter, "/sign-in/email", Some(address), T0, 1).await;
    }
    assert_eq!(allowed, 3);
    // The neighbouring /64 is someone else.
    assert_eq!(burst(&limiter, "/sign-in/email", Some(ip("2001:db8:7:8::1")), T0, 5).await, 3);
}

#[tokio::test]
async fn requests_without_ip_share_a_bucket_or_are_skipped() {
    let (limiter, _) = limiter(RateLimitConfig::default());
    assert_eq!(burst(&limiter, "/sign-in/email", None, T0, 10).await, 3);
    // An attacker without an IP cannot use up a real client's budget, nor the other way round.
    assert_eq!(burst(&limiter, "/sign-in/email", Some(ip("198.51.100.9")), T0, 10).await, 3);
    let config = RateLimitConfig { missing_ip: MissingIp::Skip, ..RateLimitConfig::default() };
    let (limiter, store) = self::limiter(config);
    assert_eq!(burst(&limiter, "/sign-in/email", None, T0, 10).await, 10);
    assert!(store.is_empty());
}

// ---------------------------------------------------------------------------------------------------------------
// The store

#[test]
fn memory_is_bounded_under_100k_distinct_keys() {
    let store = MemoryStore::default();
    assert_eq!(store.capacity(), DEFAULT_MAX_KEYS - DEFAULT_MAX_KEYS % 64);
    for i in 0..150_000u32 {
        let [a, b, c, d] = i.to_be_bytes();
        let key = format!("{}/sign-in/email", Ipv4Addr::new(10 ^ a, b, c, d));
        assert!(store.hit_now(&key, 10_000, 3, T0).allowed);
    }
    assert!(store.len() <= DEFAULT_MAX_KEYS, "{}", store.len());
    // Still holding most of what it may.
    assert!(store.len() >= DEFAULT_MAX_KEYS * 3 / 4, "{}", store.len());
}

#[test]
fn a_small_store_stays_within_its_cap() {
    let store = MemoryStore::new(1000);
    for i in 0..100_000u64 {
        store.hit_now(&format!("k{i}"), 10_000, 3, T0 + i);
        if i % 997 == 0 {
            assert!(store.len() <= store.capacity());
        }
    }
    assert!(store.capacity() <= 1000);
    let tiny = MemoryStore::new(0);
    assert_eq!(tiny.capacity(), 1);
    tiny.hit_now("a", 10_000, 3, T0);
    tiny.hit_now("b", 10_000, 3, T0);
    assert_eq!(tiny.len(), 1);
}

#[test]
fn expired_entries_are_evicted_first() {
    let store = MemoryStore::new(64);
    // Fill every shard with entries from long ago.
    let mut i = 0;
    while store.len() < store.capacity() {
        store.hit_now(&format!("old{i}"), 10_000, 3, T0);
        i += 1;
    }
    // Much later, new keys push them out without touching live ones.
    for j in 0..200 {
        store.hit_now(&format!("new{j}"), 10_000, 3, T0 + 60_000);
    }
    assert!(store.len() <= store.capacity());
}

#[test]
fn a_flood_of_new_keys_does_not_free_a_blocked_client() {
    // Four keys per shard, so the blocked key's shard is flooded many times over.
    let store = MemoryStore::new(64 * 4);
    let blocked = "198.51.100.9/sign-in/email";
    for _ in 0..3 {
        assert!(store.hit_now(blocked, 10_000, 3, T0).allowed);
    }
    assert!(!store.hit_now(blocked, 10_000, 3, T0 + 1).allowed);
    // 100 000 fresh keys, all within the window (nothing expires), each hit once.
    for i in 0..100_000u32 {
        store.hit_now(&format!("flood{i}"), 10_000, 3, T0 + 2);
    }
    assert!(!store.hit_now(blocked, 10_000, 3, T0 + 3).allowed, "the flood reset a blocked client's counter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_hits_never_exceed_max() {
    for max in [1u32, 3, 100] {
        let store = Arc::new(MemoryStore::default());
        let limiter = Arc::new(RateLimiter::new(
            RateLimitConfig { max, special_rules: Vec::new(), ..RateLimitConfig::default() },
            store,
        ));
        let mut tasks = Vec::new();
        for t in 0..64u64 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                let mut allowed = 0u32;
                for i in 0..20u64 {
                    if limiter
                        .check(
                            "/ok",
                            Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))),
                            UnixTime::from_millis(T0 + (t + i) % 5),
                        )
                        .await
                        .is_ok()
                    {
                        allowed += 1;
                    }
                    tokio::task::yield_now().await;
                }
                allowed
            }));
        }
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        assert_eq!(total, max, "max {max}");
    }
}

struct FailingStore;

#[async_trait::async_trait]
impl RateLimitStore for FailingStore {
    async fn hit(&self, _: &str, _: u64, _: u32, _: UnixTime) -> Result<Decision, StoreError> {
        Err(StoreError::Unavailable("connection refused".into()))
    }
}

#[tokio::test]
async fn store_failures_follow_the_configured_policy() {
    let client = Some(ip("198.51.100.9"));
    let allow = RateLimiter::new(RateLimitConfig::default(), Arc::new(FailingStore));
    assert_eq!(allow.check("/sign-in/email", client, UnixTime::from_millis(T0)).await, Ok(()));
    let config = RateLimitConfig { on_store_error: OnStoreError::Reject, ..RateLimitConfig::default() };
    let reject = RateLimiter::new(config, Arc::new(FailingStore));
    assert_eq!(
        reject.check("/sign-in/email", client, UnixTime::from_millis(T0)).await,
        Err(RateLimited { retry_after_secs: 10 })
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The response

#[test]
fn the_429_is_better_auths() {
    let response = RateLimited { retry_after_secs: 10 }.to_response();
    assert_eq!(response.status(), 429);
    assert_eq!(response.status().canonical_reason(), Some("Too Many Requests"));
    assert_eq!(response.headers()["x-retry-after"], "10");
    assert_eq!(response.headers()["content-type"], "text/plain;charset=UTF-8");
    assert_eq!(response.body(), r#"{"message":"Too many requests. Please try again later."}"#);
    let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(body, serde_json::json!({"message": "Too many requests. Please try again later."}));
}

// ---------------------------------------------------------------------------------------------------------------
// client_ip

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn resolve(pairs: &[(&str, &str)], peer: Option<&str>, config: &IpConfig) -> Option<String> {
    client_ip(&headers(pairs), peer.map(ip), config).map(|a| a.to_string())
}

#[test]
fn spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let config = IpConfig::default();
    let got = resolve(&[("x-forwarded-for", "1.2.3.4")], Some("203.0.113.50"), &config);
    assert_eq!(got.as_deref(), Some("203.0.113.50"));
    let got = resolve(&[("x-forwarded-for", "1.2.3.4, 127.0.0.1")], Some("203.0.113.50"), &config);
    assert_eq!(got.as_deref(), Some("203.0.113.50"));
    // Explicitly untrusting everyone.
    let none = IpConfig { trusted_proxies: TrustedProxies::None, ..IpConfig::default() };
    assert_eq!(resolve(&[("x-forwarded-for", "1.2.3.4")], Some("127.0.0.1"), &none).as_deref(), Some("127.0.0.1"));
}

#[test]
fn behind_a_loopback_proxy_the_right_most_untrusted_hop_is_the_client() {
    let config = IpConfig::default();
    let peer = Some("127.0.0.1");
    assert_eq!(resolve(&[("x-forwarded-for", "198.51.100.9")], peer, &config).as_deref(), Some("198.51.100.9"));
    // The client prepended a fake entry; the proxy appended the real one.
    assert_eq!(
        resolve(&[("x-forwarded-for", "6.6.6.6, 198.51.100.9")], peer, &config).as_deref(),
        Some("198.51.100.9")
    );
    // Several loopback hops.
    assert_eq!(
        resolve(&[("x-forwarded-for", "6.6.6.6, 198.51.100.9, 127.0.0.1, ::1")], Some("::1"), &config).as_deref(),
        Some("198.51.100.9")
    );
    // Repeated headers are one list, in order.
    assert_eq!(
        resolve(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.9")], peer, &config).as_deref(),
        Some("198.51.100.9")
    );
    // All hops trusted: the left-most.
    assert_eq!(resolve(&[("x-forwarded-for", "127.0.0.2, 127.0.0.1")], peer, &config).as_deref(), Some("127.0.0.2"));
    // No header: the peer itself (a direct request on the dev machine).
    assert_eq!(resolve(&[], peer, &config).as_deref(), Some("127.0.0.1"));
    // Mapped peers count as loopback.
    assert_eq!(
        resolve(&[("x-forwarded-for", "198.51.100.9")], Some("::ffff:127.0.0.1"), &config).as_deref(),
        Some("198.51.100.9")
    );
    // IPv6 clients.
    assert_eq!(resolve(&[("x-forwarded-for", "2001:db8::1")], peer, &config).as_deref(), Some("2001:db8::1"));
}

#[test]
fn garbage_is_never_believed_and_never_panics() {
    let config = IpConfig::default();
    let peer = Some("127.0.0.1");
    for value in [
        "",
        ",",
        " , ,",
        "garbage",
        "1.2.3",
        "256.1.1.1",
        "01.2.3.4",
        "1.2.3.4:80",
        "[::1]",
        "fe80::1%eth0",
        "unknown",
        "1.2.3.4 5.6.7.8",
        "\u{7f}",
    ] {
        let mut map = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(value) {
            map.append("x-forwarded-for", v);
        }
        assert_eq!(client_ip(&map, peer.map(ip), &config), Some(ip("127.0.0.1")), "{value:?}");
    }
    // Garbage left of a valid hop stops the walk at that hop.
    assert_eq!(resolve(&[("x-forwarded-for", "garbage, 127.0.0.5")], peer, &config).as_deref(), Some("127.0.0.5"));
    assert_eq!(
        resolve(&[("x-forwarded-for", "garbage, 198.51.100.9")], peer, &config).as_deref(),
        Some("198.51.100.9")
    );
    // Non-ASCII bytes.
    let mut map = HeaderMap::new();
    map.append("x-forwarded-for", HeaderValue::from_bytes(b"198.51.100.9\xff").unwrap());
    assert_eq!(client_ip(&map, peer.map(ip), &config), Some(ip("127.0.0.1")));
    // A configured header name that is not a valid name.
    let odd = IpConfig { ip_headers: vec!["not a header\n".into(), String::new()], ..IpConfig::default() };
    assert_eq!(resolve(&[("x-forwarded-for", "198.51.100.9")], peer, &odd).as_deref(), Some("127.0.0.1"));
    // Unknown peer behind headers that cannot be verified.
    assert_eq!(resolve(&[("x-forwarded-for", "198.51.100.9")], None, &config), None);
}

#[test]
fn configured_networks_and_headers() {
    let config = IpConfig {
        ip_headers: vec!["CF-Connecting-IP".into(), "x-forwarded-for".into()],
        trusted_proxies: TrustedProxies::Networks(vec![
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ]),
    };
    // Tried in order; header names are case-insensitive.
    let got =
        resolve(&[("cf-connecting-ip", "198.51.100.9"), ("x-forwarded-for", "6.6.6.6")], Some("10.1.2.3"), &config);
    assert_eq!(got.as_deref(), Some("198.51.100.9"));
    let got = resolve(&[("x-forwarded-for", "198.51.100.9, 10.9.9.9")], Some("2001:db8::5"), &config);
    assert_eq!(got.as_deref(), Some("198.51.100.9"));
    // Loopback is not implied.
    let got = resolve(&[("x-forwarded-for", "198.51.100.9")], Some("127.0.0.1"), &config);
    assert_eq!(got.as_deref(), Some("127.0.0.1"));
}

#[test]
fn trust_any_is_better_auths_first_entry() {
    let config = IpConfig { trusted_proxies: TrustedProxies::Any, ..IpConfig::default() };
    let got = resolve(&[("x-forwarded-for", "6.6.6.6, 198.51.100.9")], Some("203.0.113.1"), &config);
    assert_eq!(got.as_deref(), Some("6.6.6.6"));
    let got = resolve(&[("x-forwarded-for", " 2001:db8::1 ,1.1.1.1")], None, &config);
    assert_eq!(got.as_deref(), Some("2001:db8::1"));
    // An invalid first entry: next header, then the peer.
    let got = resolve(&[("x-forwarded-for", "garbage, 198.51.100.9")], Some("203.0.113.1"), &config);
    assert_eq!(got.as_deref(), Some("203.0.113.1"));
    assert_eq!(resolve(&[], None, &config), None);
}

#[test]
fn ip_networks_parse_strictly() {
    let net: IpNetwork = "10.0.0.0/8".parse().unwrap();
    assert!(net.contains(ip("10.255.0.1")));
    assert!(!net.contains(ip("11.0.0.1")));
    assert!(net.contains(ip("::ffff:10.0.0.1")));
    let host: IpNetwork = "192.0.2.7".parse().unwrap();
    assert!(host.contains(ip("192.0.2.7")) && !host.contains(ip("192.0.2.8")));
    let all: IpNetwork = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
    let v6: IpNetwork = "2001:db8::/32".parse().unwrap();
    assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
    for bad in ["", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/08x", "nope", "10.0.0.0/8/8"] {
        assert!(bad.parse::<IpNetwork>().is_err(), "{bad:?}");
    }
}
