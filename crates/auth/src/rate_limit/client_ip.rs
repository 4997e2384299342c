//! The client's IP address, believing forwarding headers only from trusted proxies.
//!
//! Better Auth 1.4.9 takes the first entry of `X-Forwarded-For` (or of each `ipAddressHeaders` entry in turn)
//! from anyone, so any client can pick its own rate-limit key by sending the header. Here the TCP peer decides:
//! * a peer that is not a trusted proxy is the client, whatever the headers say;
//! * behind trusted proxies, the forwarding chain is read from the right (each proxy appends the address that
//!   connected to it), skipping trusted proxies, and the first untrusted address is the client; if every hop is
//!   trusted, the left-most one is; an entry that is not an IP literal ends the walk at the hop to its right;
//! * [`TrustedProxies::Any`] restores Better Auth's behaviour (left-most entry, from any peer) for deployments
//!   whose edge rewrites the header.
//!
//! The default trusts loopback peers: `authvex dev` runs behind the app's local dev server (Next.js), which
//! forwards from 127.0.0.1/::1. A production deployment behind a load balancer lists its addresses
//! ([`TrustedProxies::Networks`]); one directly on the internet can use [`TrustedProxies::None`].

use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;

/// Which peers may tell us the client's address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TrustedProxies {
    /// 127.0.0.0/8 and ::1.
    #[default]
    Loopback,
    /// These networks (loopback only if listed).
    Networks(Vec<IpNetwork>),
    /// Every peer, taking the left-most header entry (Better Auth's `getIp`).
    Any,
    /// No peer: the client is always the TCP peer.
    None,
}

/// Where the client's address comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpConfig {
    /// Headers tried in order (Better Auth's `advanced.ipAddress.ipAddressHeaders`, default `x-forwarded-for`).
    pub ip_headers: Vec<String>,
    pub trusted_proxies: TrustedProxies,
}

impl Default for IpConfig {
    fn default() -> Self {
        IpConfig { ip_headers: vec!["x-forwarded-for".to_string()], trusted_proxies: TrustedProxies::default() }
    }
}

/// An address range, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a single host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

/// Not an address or range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ip network {0:?}")]
pub struct InvalidNetwork(pub String);

impl IpNetwork {
    pub fn new(address: IpAddr, prefix: u8) -> Result<IpNetwork, InvalidNetwork> {
        let address = canonical(address);
        if prefix > max_prefix(address) {
            return Err(InvalidNetwork(format!("{address}/{prefix}")));
        }
        Ok(IpNetwork { address, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask(u128::from(u32::from(net)), self.prefix, 32) == mask(u128::from(u32::from(ip)), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask(u128::from(net), self.prefix, 128) == mask(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

impl FromStr for IpNetwork {
    type Err = InvalidNetwork;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidNetwork(s.to_string());
        let (address, prefix) = match s.split_once('/') {
            Some((address, prefix)) => {
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                (address, Some(prefix.parse::<u8>().map_err(|_| invalid())?))
            }
            None => (s, None),
        };
        let address = canonical(address.parse::<IpAddr>().map_err(|_| invalid())?);
        IpNetwork::new(address, prefix.unwrap_or(max_prefix(address))).map_err(|_| invalid())
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// The top `prefix` bits of a `bits`-wide value.
fn mask(value: u128, prefix: u8, bits: u32) -> u128 {
    let prefix = u32::from(prefix).min(bits);
    if prefix == 0 {
        return 0;
    }
    let shift = bits - prefix;
    (value >> shift) << shift
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what dual-stack sockets report) as IPv4.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        match self {
            TrustedProxies::Loopback => ip.is_loopback(),
            TrustedProxies::Networks(networks) => networks.iter().any(|n| n.contains(ip)),
            TrustedProxies::Any => true,
            TrustedProxies::None => false,
        }
    }
}

/// One header's entries in order (repeated headers joined, as Fetch's `headers.get` does); a value that is not
/// visible ASCII is one invalid entry.
fn entries<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for value in headers.get_all(name) {
        match value.to_str() {
            Ok(s) => out.extend(s.split(',').map(str::trim).filter(|s| !s.is_empty())),
            Err(_) => out.push(""),
        }
    }
    out
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok().map(canonical)
}

/// The client's address (see the module documentation); `None` when it cannot be known: no peer address and
/// headers that may not be believed.
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, config: &IpConfig) -> Option<IpAddr> {
    let peer = peer.map(canonical);
    if config.trusted_proxies == TrustedProxies::Any {
        for name in &config.ip_headers {
            let first = headers.get(name.as_str()).and_then(|v| v.to_str().ok()).and_then(|s| s.split(',').next());
            if let Some(ip) = first.and_then(|s| parse_ip(s.trim())) {
                return Some(ip);
            }
        }
        return peer;
    }
    let peer = peer?;
    if !config.trusted_proxies.trusts(peer) {
        return Some(peer);
    }
    for name in &config.ip_headers {
        let chain = entries(headers, name);
        if chain.is_empty() {
            continue;
        }
        let mut client = peer;
        for entry in chain.iter().rev() {
            let Some(ip) = parse_ip(entry) else {
                break;
            };
            client = ip;
            if !config.trusted_proxies.trusts(ip) {
                break;
            }
        }
        return Some(client);
    }
    Some(peer)
}
