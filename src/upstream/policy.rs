//! Upstream host policy: which backends the gateway may call, so that no config, flag or
//! uploaded spec turns it against the network it runs in (server-side request forgery).
//!
//! Always refused unless allowed by name (`upstream.allow_hosts`): link-local addresses
//! (169.254.0.0/16, fe80::/10, where cloud metadata services live), the other well-known
//! metadata addresses and names, and unspecified addresses. With `upstream.deny_private`
//! (hosted, multi-tenant setups) also loopback, private, shared (CGNAT) and unique-local
//! ranges. A base URL is checked when it is loaded (literal addresses and names), and every
//! address a name resolves to is checked again when a connection is made, since DNS can
//! change; the connection goes to the checked address, never to a second lookup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::config::UpstreamConfig;

/// Host names of cloud metadata services.
const METADATA_NAMES: [&str; 6] = [
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.internal",
];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "`{host}` is refused by the upstream host policy: {why}; allow it by name in upstream.allow_hosts if this backend is intended"
)]
pub struct PolicyError {
    pub host: String,
    pub why: String,
}

/// The policy, built once from the config.
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    /// Host names or addresses allowed whatever they are (lower case, no brackets).
    allow: Vec<String>,
    deny_private: bool,
}

impl HostPolicy {
    pub fn new(cfg: &UpstreamConfig) -> Self {
        HostPolicy {
            allow: cfg.allow_hosts.iter().map(|h| normalize(h)).collect(),
            deny_private: cfg.deny_private,
        }
    }

    /// Check a base URL's host as written (at load: a literal address or a name).
    pub fn check_url(&self, url: &url::Url) -> Result<(), PolicyError> {
        let Some(host) = url.host() else {
            return Err(PolicyError {
                host: url.to_string(),
                why: "it has no host".into(),
            });
        };
        let (name, ip) = match host {
            url::Host::Domain(d) => (normalize(d), None),
            url::Host::Ipv4(a) => (a.to_string(), Some(IpAddr::V4(a))),
            url::Host::Ipv6(a) => (a.to_string(), Some(IpAddr::V6(a))),
        };
        if self.allowed(&name) {
            return Ok(());
        }
        if let Some(ip) = ip {
            return self.check_ip(&name, ip);
        }
        if METADATA_NAMES.contains(&name.as_str()) {
            return Err(PolicyError {
                host: name,
                why: "it names a cloud metadata service".into(),
            });
        }
        Ok(())
    }

    /// Check every address `host` resolved to (at connect time).
    pub fn check_resolved(&self, host: &str, addrs: &[SocketAddr]) -> Result<(), PolicyError> {
        let name = normalize(host);
        if self.allowed(&name) {
            return Ok(());
        }
        for a in addrs {
            if self.allowed(&a.ip().to_string()) {
                continue;
            }
            self.check_ip(&name, a.ip()).map_err(|e| PolicyError {
                host: name.clone(),
                why: format!("it resolves to {} ({})", a.ip(), e.why),
            })?;
        }
        Ok(())
    }

    fn allowed(&self, name: &str) -> bool {
        self.allow.iter().any(|a| a == name)
    }

    fn check_ip(&self, name: &str, ip: IpAddr) -> Result<(), PolicyError> {
        let refuse = |why: &str| {
            Err(PolicyError {
                host: name.to_string(),
                why: why.to_string(),
            })
        };
        let ip = canonical(ip);
        if let Some(why) = always_refused(ip) {
            return refuse(why);
        }
        if self.deny_private
            && let Some(why) = private(ip)
        {
            return refuse(&format!("{why}, and upstream.deny_private is set"));
        }
        Ok(())
    }
}

/// An IPv4-mapped or -compatible IPv6 address as the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn always_refused(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) => {
            if a.is_link_local() {
                Some("it is a link-local address, where cloud metadata services answer")
            } else if a.is_unspecified() || a.octets()[0] == 0 {
                Some("it is an unspecified address")
            } else if a == Ipv4Addr::new(100, 100, 100, 200) {
                Some("it is a cloud metadata address")
            } else if a.is_broadcast() || a.is_multicast() {
                Some("it is a broadcast or multicast address")
            } else {
                None
            }
        }
        IpAddr::V6(a) => {
            if (a.segments()[0] & 0xffc0) == 0xfe80 {
                Some("it is a link-local address")
            } else if a.is_unspecified() {
                Some("it is an unspecified address")
            } else if a == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Some("it is a cloud metadata address")
            } else if a.is_multicast() {
                Some("it is a multicast address")
            } else {
                None
            }
        }
    }
}

fn private(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            if a.is_loopback() {
                Some("it is a loopback address")
            } else if a.is_private() {
                Some("it is a private address")
            } else if o[0] == 100 && (64..128).contains(&o[1]) {
                Some("it is a shared (carrier-grade NAT) address")
            } else {
                None
            }
        }
        IpAddr::V6(a) => {
            if a.is_loopback() {
                Some("it is a loopback address")
            } else if (a.segments()[0] & 0xfe00) == 0xfc00 {
                Some("it is a unique-local address")
            } else {
                None
            }
        }
    }
}

/// Lower case, without the brackets of an IPv6 literal or a trailing dot.
fn normalize(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny_private: bool) -> HostPolicy {
        HostPolicy::new(&UpstreamConfig {
            allow_hosts: allow.iter().map(|s| s.to_string()).collect(),
            deny_private,
            ..Default::default()
        })
    }

    fn url_ok(p: &HostPolicy, u: &str) -> bool {
        p.check_url(&url::Url::parse(u).unwrap()).is_ok()
    }

    #[test]
    fn metadata_and_link_local_are_refused_by_default() {
        let p = policy(&[], false);
        for u in [
            "http://169.254.169.254/latest/meta-data",
            "http://169.254.0.1",
            "http://[fe80::1]",
            "http://[febf::1]",
            "http://[::ffff:169.254.169.254]",
            "http://[fd00:ec2::254]",
            "http://100.100.100.200",
            "http://0.0.0.0:8080",
            "http://[::]",
            "http://metadata.google.internal/computeMetadata",
            "http://METADATA.GOOGLE.INTERNAL./",
        ] {
            assert!(!url_ok(&p, u), "{u}");
        }
        for u in [
            "http://127.0.0.1:8080",
            "http://10.0.0.1",
            "http://[::1]:9",
            "https://api.github.com",
            "http://[fec0::1]",
        ] {
            assert!(url_ok(&p, u), "{u}");
        }
    }

    #[test]
    fn private_ranges_only_when_denied_and_names_allow_anything() {
        let p = policy(&["169.254.169.254", "Internal.Example"], true);
        for u in [
            "http://127.0.0.1",
            "http://10.1.2.3",
            "http://172.16.0.1",
            "http://192.168.1.1",
            "http://100.64.0.1",
            "http://[::1]",
            "http://[fd12::1]",
            "http://[::ffff:10.0.0.1]",
        ] {
            assert!(!url_ok(&p, u), "{u}");
        }
        assert!(url_ok(&p, "http://169.254.169.254/latest"));
        assert!(url_ok(&p, "http://100.128.0.1"));
        let resolved = |ip: &str| vec![SocketAddr::new(ip.parse().unwrap(), 80)];
        assert!(
            p.check_resolved("internal.example", &resolved("10.0.0.1"))
                .is_ok()
        );
        let e = p
            .check_resolved("localhost", &resolved("127.0.0.1"))
            .unwrap_err();
        assert!(e.to_string().contains("resolves to 127.0.0.1"), "{e}");
        assert!(e.to_string().contains("upstream host policy"), "{e}");
        let open = policy(&[], false);
        assert!(open.check_resolved("x", &resolved("127.0.0.1")).is_ok());
        assert!(open.check_resolved("x", &resolved("169.254.1.1")).is_err());
    }
}
