//! The rate limiter's client-IP decision (`auth::rate_limit::client_ip`) and trusted-proxy ranges
//! (`IpNetwork`). Lines: the TCP peer address (empty: unknown), the trusted proxies (`loopback`, `any`, `none`
//! or ranges separated by tabs), the IP headers to read (tabs), then `name: value` header lines.
//!
//! Nothing panics; a peer that is not a trusted proxy is the client whatever the headers say; with no trusted
//! proxy the client is always the peer; the answer is the peer or an address from a header; a parsed range
//! contains its own address; rate-limit keys are built for every prefix length.
#![no_main]

use auth::rate_limit::{client_ip, ip_key, IpConfig, IpNetwork, TrustedProxies};
use authvex_fuzz::lines;
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((fields, header_lines)) = lines(data, 3) else { return };
    let (Ok(peer), Ok(proxies), Ok(names)) =
        (std::str::from_utf8(fields[0]), std::str::from_utf8(fields[1]), std::str::from_utf8(fields[2]))
    else {
        return;
    };
    let peer: Option<IpAddr> = peer.parse().ok();
    let trusted_proxies = match proxies {
        "loopback" => TrustedProxies::Loopback,
        "any" => TrustedProxies::Any,
        "none" => TrustedProxies::None,
        ranges => {
            let mut networks = Vec::new();
            for range in ranges.split('\t') {
                if let Ok(network) = range.parse::<IpNetwork>() {
                    let address = range.split('/').next().and_then(|a| a.parse::<IpAddr>().ok());
                    let address = address.unwrap_or_else(|| panic!("{range:?} parsed without an address"));
                    assert!(network.contains(address), "{range:?} does not contain its own address");
                    networks.push(network);
                }
            }
            TrustedProxies::Networks(networks)
        }
    };
    let ip_headers: Vec<String> = names.split('\t').filter(|n| !n.is_empty()).map(str::to_string).collect();
    let mut headers = http::HeaderMap::new();
    for line in header_lines.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
        let value = line[colon + 1..].strip_prefix(b" ").unwrap_or(&line[colon + 1..]);
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(&line[..colon]), http::HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    let config = IpConfig {
        ip_headers: if ip_headers.is_empty() { IpConfig::default().ip_headers } else { ip_headers },
        trusted_proxies: trusted_proxies.clone(),
    };

    let client = client_ip(&headers, peer, &config);
    let peer = peer.map(canonical);
    match &trusted_proxies {
        TrustedProxies::None => assert_eq!(client, peer, "no trusted proxy, yet the client is not the peer"),
        TrustedProxies::Loopback if peer.is_some_and(|p| !p.is_loopback()) => assert_eq!(client, peer),
        TrustedProxies::Any => {}
        _ => assert_eq!(client.is_none(), peer.is_none(), "a client without a peer, or none with one"),
    }
    if let Some(client) = client {
        assert_eq!(client, canonical(client), "the client address is not canonical");
        if Some(client) != peer {
            let text = client.to_string();
            let in_headers = headers.iter().any(|(_, v)| {
                v.to_str().is_ok_and(|v| {
                    v.split(',').any(|entry| entry.trim().parse::<IpAddr>().ok().map(canonical) == Some(client))
                })
            });
            assert!(in_headers, "client {text} is neither the peer nor in a header");
        }
        for subnet in [0, 1, 24, 32, 48, 64, 127, 128, 129, 255] {
            let _ = ip_key(client, subnet);
        }
    }
});
