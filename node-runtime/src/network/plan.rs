//! The checked form of a network spec: parsing the spec's CIDR
//! strings, and deciding which address the bridge holds on the host side. Pure values, no I/O;
//! `mod.rs` checks a whole `NetworkSpec` here before anything touches the kernel, so bad input
//! changes nothing.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use fleet_protocol::NetworkSpec;

use super::NetworkError;

/// An interface address with its prefix length (`10.0.0.5/24`, `fd00::5/64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    /// The address itself (host bits kept: this is an interface address, not a network).
    pub addr: IpAddr,
    /// Prefix length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies in this address's subnet (same family, same first `prefix` bits).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = NetworkError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| NetworkError::InvalidCidr {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let (addr, prefix) = value
            .split_once('/')
            .ok_or_else(|| invalid("the prefix length is missing"))?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| invalid("the address part is not an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix.parse().ok().filter(|p| *p <= max).ok_or_else(|| {
            invalid(if max == 32 {
                "the prefix length must be 0..=32 for IPv4"
            } else {
                "the prefix length must be 0..=128 for IPv6"
            })
        })?;
        if addr.is_unspecified() || addr.is_multicast() || addr.is_loopback() {
            return Err(invalid(
                "an interface address must not be unspecified, loopback or multicast",
            ));
        }
        Ok(Cidr { addr, prefix })
    }
}

/// Parses every address of a list, failing on the first bad one (named in the error).
pub fn parse_all(addresses: &[String]) -> Result<Vec<Cidr>, NetworkError> {
    let mut parsed = Vec::with_capacity(addresses.len());
    for text in addresses {
        let cidr: Cidr = text.parse()?;
        if parsed.iter().any(|c: &Cidr| c.addr == cidr.addr) {
            return Err(NetworkError::DuplicateAddress {
                value: text.clone(),
            });
        }
        parsed.push(cidr);
    }
    Ok(parsed)
}

/// Canonical CIDR strings for a list (as `read_live` prints them), sorted, so a drift check
/// compares `normalize(spec) == read_live(pid)` without caring how the spec spelled them.
pub fn normalize(addresses: &[String]) -> Result<Vec<String>, NetworkError> {
    let mut out: Vec<String> = parse_all(addresses)?.iter().map(Cidr::to_string).collect();
    out.sort();
    Ok(out)
}

/// The checked form of a bridged `NetworkSpec`: what attach and update work from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Host bridge name.
    pub bridge: String,
    /// The container's addresses on eth0.
    pub addresses: Vec<Cidr>,
    /// Default gateway inside the container.
    pub gateway: Option<IpAddr>,
    /// The address the bridge holds on the host side: the gateway, with the prefix of the
    /// container address whose subnet holds it, so the node is its containers' router.
    pub bridge_address: Option<Cidr>,
}

/// The bridge used when the spec names none (one constant for both sides, in the protocol).
pub use fleet_protocol::effects::DEFAULT_BRIDGE;

/// Checks a spec and works out what the kernel should hold; errors name the bad value.
pub fn plan(spec: &NetworkSpec) -> Result<Plan, NetworkError> {
    let bridge = spec
        .bridge
        .clone()
        .unwrap_or_else(|| DEFAULT_BRIDGE.to_string());
    check_ifname(&bridge)?;
    let addresses = parse_all(&spec.addresses)?;
    let gateway = match &spec.gateway {
        None => None,
        Some(text) => Some(text.parse::<IpAddr>().map_err(|_| {
            NetworkError::InvalidGateway {
                value: text.clone(),
                reason: "it is not an IPv4 or IPv6 address (write it without a prefix, \
                             e.g. 10.0.0.1)"
                    .to_string(),
            }
        })?),
    };
    let bridge_address = match gateway {
        None => None,
        Some(gw) => {
            let subnet = addresses.iter().find(|c| c.contains(gw)).ok_or_else(|| {
                NetworkError::InvalidGateway {
                    value: gw.to_string(),
                    reason: format!(
                        "it lies outside every address's subnet ({}); pick a gateway inside one",
                        if addresses.is_empty() {
                            "no addresses given".to_string()
                        } else {
                            spec.addresses.join(", ")
                        }
                    ),
                }
            })?;
            if subnet.addr == gw {
                return Err(NetworkError::InvalidGateway {
                    value: gw.to_string(),
                    reason: "it is also one of the container's own addresses".to_string(),
                });
            }
            Some(Cidr {
                addr: gw,
                prefix: subnet.prefix,
            })
        }
    };
    Ok(Plan {
        bridge,
        addresses,
        gateway,
        bridge_address,
    })
}

/// Checks an interface name the way the kernel does (`dev_valid_name`), so a bad bridge name
/// fails here with a readable message instead of as EINVAL from netlink.
pub fn check_ifname(name: &str) -> Result<(), NetworkError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 15 {
        Some("it is longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("it is . or ..")
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace())
    {
        Some("it contains '/', ':' or whitespace")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(NetworkError::InvalidInterfaceName {
            name: name.to_string(),
            reason: reason.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_protocol::NetworkMode;

    fn spec(addresses: &[&str], gateway: Option<&str>) -> NetworkSpec {
        NetworkSpec {
            mode: NetworkMode::Bridged,
            bridge: None,
            addresses: addresses.iter().map(|s| s.to_string()).collect(),
            gateway: gateway.map(str::to_string),
        }
    }

    #[test]
    fn cidrs_parse_or_say_what_is_wrong() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("10.0.0.5/24", Ok("10.0.0.5/24")),
            ("fd00::0005/64", Ok("fd00::5/64")),
            ("10.0.0.5", Err("prefix length is missing")),
            ("10.0.0.5/33", Err("0..=32")),
            ("fd00::5/129", Err("0..=128")),
            ("10.0.0/24", Err("not an IPv4 or IPv6")),
            ("0.0.0.0/0", Err("unspecified")),
            ("127.0.0.2/8", Err("loopback")),
        ];
        for (input, want) in cases {
            let got = input.parse::<Cidr>().map(|c| c.to_string());
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(*w, g, "{input}"),
                (Err(w), Err(e)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(w), "{input}: {msg}");
                    assert!(msg.contains(input), "error names the value: {msg}");
                }
                (w, g) => panic!("{input}: wanted {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn subnet_membership() {
        let c: Cidr = "10.0.0.5/24".parse().unwrap();
        assert!(c.contains("10.0.0.1".parse().unwrap()));
        assert!(!c.contains("10.0.1.1".parse().unwrap()));
        assert!(!c.contains("fd00::1".parse().unwrap()));
        let all: Cidr = "10.0.0.5/0".parse().unwrap();
        assert!(all.contains("192.168.1.1".parse().unwrap()));
    }

    #[test]
    fn gateway_becomes_the_bridge_address() {
        let p = plan(&spec(&["10.0.0.5/24", "fd00::5/64"], Some("10.0.0.1"))).unwrap();
        assert_eq!(p.bridge, "fleet0");
        assert_eq!(p.bridge_address.unwrap().to_string(), "10.0.0.1/24");
        let p = plan(&spec(&["10.0.0.5/24"], None)).unwrap();
        assert_eq!(p.bridge_address, None);
    }

    #[test]
    fn bad_specs_are_refused() {
        let cases: &[(NetworkSpec, &str)] = &[
            (spec(&["10.0.0.5/24"], Some("10.0.1.1")), "outside every"),
            (spec(&["10.0.0.5/24"], Some("10.0.0.5")), "own addresses"),
            (
                spec(&["10.0.0.5/24"], Some("10.0.0.1/24")),
                "without a prefix",
            ),
            (
                spec(&["10.0.0.5/24", "10.0.0.5/16"], None),
                "more than once",
            ),
            (
                NetworkSpec {
                    bridge: Some("a-very-long-bridge".into()),
                    ..spec(&[], None)
                },
                "longer than 15",
            ),
            (
                NetworkSpec {
                    bridge: Some("br/0".into()),
                    ..spec(&[], None)
                },
                "'/'",
            ),
        ];
        for (s, want) in cases {
            let err = plan(s).unwrap_err().to_string();
            assert!(err.contains(want), "{s:?}: {err}");
        }
    }

    #[test]
    fn normalize_sorts_and_canonicalizes() {
        let got = normalize(&["fd00::0005/64".into(), "10.0.0.5/24".into()]).unwrap();
        assert_eq!(got, vec!["10.0.0.5/24", "fd00::5/64"]);
    }
}
