//! Web origins (`https://www.acme.example`, `http://127.0.0.1:8080`): the sites
//! browsers may open chat sockets from, compared with a socket's `Origin` header.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a text is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an origin: write the scheme and host, and a port if any, as in https://www.acme.example ({1})"
)]
pub struct OriginError(pub String, &'static str);

/// A web origin: `http` or `https`, a host (a DNS name in ASCII, an IPv4 address or
/// a bracketed IPv6 one) and a port unless it is the scheme's default; no path,
/// query or user. Compared as browsers send them: the scheme and host lower-case,
/// a default port left out (`https://acme.example:443` is `https://acme.example`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Origin(String);

impl Origin {
    /// Parses an origin as written in the configuration or sent in an `Origin` header.
    pub fn parse(text: &str) -> Result<Self, OriginError> {
        let fail = |why| Err(OriginError(text.to_string(), why));
        let lower = text.to_ascii_lowercase();
        let (scheme, rest) = match lower.split_once("://") {
            Some((s @ ("http" | "https"), rest)) => (s, rest),
            _ => return fail("the scheme is http:// or https://"),
        };
        if rest.contains(['/', '?', '#']) {
            return fail("an origin has no path, not even /");
        }
        if rest.contains('@') {
            return fail("an origin has no user");
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let Some((addr, after)) = v6.split_once(']') else {
                return fail("an IPv6 address ends with ]");
            };
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return fail("not an IPv6 address");
            }
            let port = match after {
                "" => None,
                p => match p.strip_prefix(':') {
                    Some(p) => Some(p),
                    None => return fail("a port follows a colon"),
                },
            };
            (format!("[{addr}]"), port)
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (rest.to_string(), None),
            }
        };
        if !host.starts_with('[') {
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            };
            if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
                return fail(
                    "the host is a DNS name (internationalised ones in punycode) or an IP address",
                );
            }
        }
        let default = if scheme == "https" { 443 } else { 80 };
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return fail("the port is a number from 1 to 65535"),
                Ok(p) if p == default => None,
                Ok(p) => Some(p),
            },
        };
        Ok(Self(match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        }))
    }

    /// The origin as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Origin {
    type Error = OriginError;
    fn try_from(v: String) -> Result<Self, OriginError> {
        Self::parse(&v)
    }
}

impl From<Origin> for String {
    fn from(o: Origin) -> String {
        o.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_a_scheme_a_host_and_a_port_compared_as_browsers_send_it() {
        for (text, origin) in [
            ("https://www.acme.example", "https://www.acme.example"),
            ("HTTPS://WWW.Acme.Example", "https://www.acme.example"),
            ("https://acme.example:443", "https://acme.example"),
            ("http://acme.example:80", "http://acme.example"),
            ("https://acme.example:8443", "https://acme.example:8443"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            (
                "https://xn--bcher-kva.example",
                "https://xn--bcher-kva.example",
            ),
        ] {
            assert_eq!(Origin::parse(text).unwrap().as_str(), origin, "{text}");
        }
    }

    #[test]
    fn paths_users_other_schemes_and_bad_hosts_or_ports_are_not_origins() {
        for text in [
            "www.acme.example",
            "https://www.acme.example/",
            "https://www.acme.example/pricing",
            "https://www.acme.example?x=1",
            "https://user@acme.example",
            "ftp://acme.example",
            "wss://acme.example",
            "null",
            "",
            "https://",
            "https://acme..example",
            "https://-acme.example",
            "https://acme_site.example",
            "https://*.acme.example",
            "https://acme.example:0",
            "https://acme.example:99999",
            "https://acme.example:",
            "https://[::1",
            "https://[nope]",
            "https://bücher.example",
        ] {
            assert!(Origin::parse(text).is_err(), "{text:?} was accepted");
        }
        let err = Origin::parse("https://www.acme.example/").unwrap_err();
        assert!(err.to_string().contains("no path"), "{err}");
    }
}
