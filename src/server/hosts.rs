//! The `Host` allow-list (DNS rebinding), decided exactly as rmcp's Streamable HTTP service
//! decides it (`validate_dns_rebinding_headers` in rmcp 3.11), so that the fast path, the admin
//! API and rmcp's own endpoint agree on every spelling of a host:
//! - an entry is trimmed, then read as an authority (`host[:port]`, `[v6]:port`); one that is not
//!   an authority is a bare host name; brackets go and case does not count;
//! - an entry without a port allows every port of its host, one with a port only that port;
//! - an empty list allows every host (rmcp's rule; our config never leaves it empty unless told).
//!
//! The entries are read once, when the config is; each request's `Host` is read with `http`'s
//! authority parser, as rmcp reads it. A `Host` rmcp would refuse as malformed is not allowed.

use http::uri::Authority;

/// The parsed `server.allowed_hosts`.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    /// The list was empty: every host is allowed (a list of blank entries allows none).
    open: bool,
    /// (lowercase host without brackets, port)
    entries: Vec<(String, Option<u16>)>,
}

fn bare(host: &str) -> &str {
    host.trim_matches('[').trim_matches(']')
}

impl AllowedHosts {
    pub fn new(list: &[String]) -> Self {
        let entries = list
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .map(|e| match Authority::try_from(e) {
                Ok(a) => (bare(a.host()).to_ascii_lowercase(), a.port_u16()),
                Err(_) => (bare(e).to_ascii_lowercase(), None),
            })
            .collect();
        AllowedHosts {
            open: list.is_empty(),
            entries,
        }
    }

    /// Whether a request with this `Host` (or, lacking one, URI authority) may be served.
    pub fn allows(&self, host: Option<&[u8]>) -> bool {
        if self.open {
            return true;
        }
        let Some(authority) = host
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| crate::fastpath::is_visible_ascii(h.as_bytes()))
            .and_then(|h| Authority::try_from(h).ok())
        else {
            return false;
        };
        let (name, port) = (bare(authority.host()), authority.port_u16());
        self.entries
            .iter()
            .any(|(h, p)| h.eq_ignore_ascii_case(name) && p.is_none_or(|p| Some(p) == port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(list: &[&str], host: &str) -> bool {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        AllowedHosts::new(&list).allows(Some(host.as_bytes()))
    }

    #[test]
    fn spellings_of_a_host() {
        let loopback = ["localhost", "127.0.0.1", "::1"];
        for ok in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1:1",
            "[::1]",
            "[::1]:443",
        ] {
            assert!(allows(&loopback, ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "localhost.",
            "localhost:80:80",
            "::1",
            "127.0.0.1.nip.io",
            "local host",
            "",
        ] {
            assert!(!allows(&loopback, refused), "{refused}");
        }
    }

    #[test]
    fn entries_with_ports_brackets_and_spaces() {
        let list = [
            " api.example.com:8443 ",
            "[::1]:9000",
            "[fe80::1]",
            "Other.Example",
        ];
        assert!(allows(&list, "api.example.com:8443"));
        assert!(!allows(&list, "api.example.com"));
        assert!(!allows(&list, "api.example.com:443"));
        assert!(allows(&list, "[::1]:9000"));
        assert!(!allows(&list, "[::1]:9001"));
        assert!(allows(&list, "[FE80::1]:1"));
        assert!(allows(&list, "other.example:80"));
        assert!(!allows(&list, "other.example.evil"));
    }

    #[test]
    fn an_empty_list_allows_all_a_blank_one_none_and_no_host_none() {
        assert!(AllowedHosts::new(&[]).allows(None));
        assert!(!AllowedHosts::new(&[" ".into()]).allows(Some(b"anything")));
        assert!(!AllowedHosts::new(&["localhost".into()]).allows(None));
        assert!(!AllowedHosts::new(&["localhost".into()]).allows(Some(b"local\xffhost")));
    }
}
