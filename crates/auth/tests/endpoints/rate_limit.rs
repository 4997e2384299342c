//! Security floor: rate limits (3 per 10 s on sign-in/sign-up, 100 per 10 s elsewhere), per client address,
//! forwarding headers believed only from loopback proxies. Time moves with the manual clock.

use crate::harness::*;
use serde_json::json;
use std::net::IpAddr;

/// A sign-in refused before any hashing (malformed e-mail), so attempts are cheap; the limiter counts it anyway.
fn attempt(forwarded_for: Option<&str>, peer: IpAddr) -> Req {
    let req = Req::post("/sign-in/email", json!({"email": "nope", "password": "wrong password"})).peer(Some(peer));
    match forwarded_for {
        Some(ip) => req.header("x-forwarded-for", ip),
        None => req,
    }
}

#[track_caller]
fn check_limited(resp: &Resp, retry_after: &str) {
    assert_eq!(resp.status, 429);
    assert_eq!(resp.text(), r#"{"message":"Too many requests. Please try again later."}"#);
    assert_eq!(resp.header("content-type"), Some("text/plain;charset=UTF-8"));
    assert_eq!(resp.header("x-retry-after"), Some(retry_after));
}

#[track_caller]
fn check_allowed(resp: &Resp) {
    check_error(resp, 400, "INVALID_EMAIL", "Invalid email");
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn fourth_sign_in_in_ten_seconds_is_refused() {
    let env = Env::with(|c| c.rate_limit.enabled = true).await;
    let client = Some("198.51.100.9");
    for _ in 0..3 {
        check_allowed(&env.send(attempt(client, LOOPBACK)).await);
    }
    check_limited(&env.send(attempt(client, LOOPBACK)).await, "10");
    // A real sign-in from that address is refused too, before its password is looked at.
    let real = Req::post("/sign-in/email", json!({"email": "a@example.com", "password": PASSWORD}))
        .header("x-forwarded-for", "198.51.100.9");
    check_limited(&env.send(real).await, "10");
    // The bucket is per path (sign-up has its own) and per address.
    check_allowed(&env.send(attempt(Some("198.51.100.10"), LOOPBACK)).await);
    let sign_up = Req::post("/sign-up/email", json!({})).header("x-forwarded-for", "198.51.100.9");
    assert_eq!(env.send(sign_up).await.status, 400);
    // A trailing slash is the same bucket (and then not routed).
    let slash = Req::post("/sign-in/email/", json!({})).header("x-forwarded-for", "198.51.100.9");
    check_limited(&env.send(slash).await, "10");

    // The window runs from the last allowed request.
    env.clock.advance(9_500_000_000);
    check_limited(&env.send(attempt(client, LOOPBACK)).await, "1");
    // At exactly one window, 1.4.9 lets one request through without resetting the count.
    env.clock.advance(500_000_000);
    check_allowed(&env.send(attempt(client, LOOPBACK)).await);
    check_limited(&env.send(attempt(client, LOOPBACK)).await, "10");
    // More than a window after it, the count starts over.
    env.clock.advance(10_001_000_000);
    for _ in 0..3 {
        check_allowed(&env.send(attempt(client, LOOPBACK)).await);
    }
    check_limited(&env.send(attempt(client, LOOPBACK)).await, "10");
}

#[tokio::test]
async fn forwarding_headers_are_believed_only_from_loopback_proxies() {
    let env = Env::with(|c| c.rate_limit.enabled = true).await;
    // A client on the internet cannot pick a fresh bucket per request by inventing X-Forwarded-For.
    let direct = ip("203.0.113.7");
    for spoofed in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        check_allowed(&env.send(attempt(Some(spoofed), direct)).await);
    }
    check_limited(&env.send(attempt(Some("192.0.2.4"), direct)).await, "10");
    check_limited(&env.send(attempt(None, direct)).await, "10");
    // Behind the local proxy, the forwarded address is the client: the spoofer's addresses are separate buckets,
    // and the proxy's other clients are unaffected.
    check_allowed(&env.send(attempt(Some("203.0.113.8"), LOOPBACK)).await);
    check_allowed(&env.send(attempt(Some("192.0.2.1, 203.0.113.9"), LOOPBACK)).await);
    // Another direct client is unaffected.
    check_allowed(&env.send(attempt(None, ip("203.0.113.20"))).await);
    // IPv4-mapped IPv6 peers are the same client as the IPv4 address.
    check_limited(&env.send(attempt(None, ip("::ffff:203.0.113.7"))).await, "10");
    // IPv6 clients are grouped by /64: one host owns the whole prefix.
    for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        check_allowed(&env.send(attempt(None, ip(host))).await);
    }
    check_limited(&env.send(attempt(None, ip("2001:db8:1:2::4"))).await, "10");
    check_allowed(&env.send(attempt(None, ip("2001:db8:1:3::1"))).await);
}

#[tokio::test]
async fn requests_without_a_known_address_share_one_bucket() {
    let env = Env::with(|c| c.rate_limit.enabled = true).await;
    let unknown = || attempt(Some("192.0.2.1"), LOOPBACK).peer(None);
    for _ in 0..3 {
        check_allowed(&env.send(unknown()).await);
    }
    check_limited(&env.send(unknown()).await, "10");
    check_allowed(&env.send(attempt(None, LOOPBACK)).await);
}

#[tokio::test]
async fn other_endpoints_allow_a_hundred_per_window() {
    let env = Env::with(|c| c.rate_limit.enabled = true).await;
    for _ in 0..100 {
        assert_eq!(env.send(Req::get("/ok")).await.status, 200);
    }
    check_limited(&env.send(Req::get("/ok")).await, "10");
    // Unknown paths are counted too (the limiter runs before routing), in their own bucket.
    assert_eq!(env.send(Req::get("/nope")).await.status, 404);
    env.advance_secs(11);
    assert_eq!(env.send(Req::get("/ok")).await.status, 200);
}
