//! An org server's address: https, or plain http only on this machine (demos, tests).
//! Parsed once at the edge, so a managed `serverUrl` and a link's `server` compare exactly.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;
use url::{Host, Url};

/// Why a text is not a usable server address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerUrlError {
    #[error("it is not a URL ({0})")]
    NotUrl(String),
    #[error("its scheme is {0:?}; use https://")]
    Scheme(String),
    #[error(
        "plain http is only allowed for this machine (localhost, 127.0.0.1, ::1); use https://"
    )]
    InsecureHttp,
    #[error("it has no host name")]
    NoHost,
    #[error("it carries a user name or password, which a server address never needs")]
    UserInfo,
    #[error("it has a ?query or #fragment; give only scheme, host, port and path")]
    QueryOrFragment,
}

/// A normalised org server URL: lower-case host, default port dropped, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerUrl(String);

impl ServerUrl {
    pub fn parse(text: &str) -> Result<Self, ServerUrlError> {
        let url = Url::parse(text.trim()).map_err(|e| ServerUrlError::NotUrl(e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => return Err(ServerUrlError::InsecureHttp),
            other => return Err(ServerUrlError::Scheme(other.to_owned())),
        }
        if url.host().is_none() {
            return Err(ServerUrlError::NoHost);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ServerUrlError::UserInfo);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ServerUrlError::QueryOrFragment);
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ServerUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_and_loopback_http_are_accepted_and_normalised() {
        let cases = [
            (
                "https://Certgate.Example.org/",
                "https://certgate.example.org",
            ),
            (
                "https://certgate.example.org:443",
                "https://certgate.example.org",
            ),
            (
                "https://certgate.example.org:8443/org/",
                "https://certgate.example.org:8443/org",
            ),
            ("http://127.0.0.1:7700", "http://127.0.0.1:7700"),
            ("http://localhost:7700/", "http://localhost:7700"),
            ("http://[::1]:7700", "http://[::1]:7700"),
            ("http://127.8.9.10", "http://127.8.9.10"),
        ];
        for (input, want) in cases {
            assert_eq!(
                ServerUrl::parse(input).map(|u| u.0),
                Ok(want.to_owned()),
                "{input}"
            );
        }
        assert_eq!(
            ServerUrl::parse("https://certgate.example.org/"),
            ServerUrl::parse("HTTPS://CERTGATE.EXAMPLE.ORG:443"),
            "the same server written two ways must compare equal"
        );
    }

    #[test]
    fn insecure_or_odd_addresses_are_refused_with_the_reason() {
        assert_eq!(
            ServerUrl::parse("http://certgate.example.org"),
            Err(ServerUrlError::InsecureHttp)
        );
        assert_eq!(
            ServerUrl::parse("http://192.168.1.10"),
            Err(ServerUrlError::InsecureHttp),
            "a LAN address is not this machine"
        );
        assert_eq!(
            ServerUrl::parse("ftp://certgate.example.org"),
            Err(ServerUrlError::Scheme("ftp".into()))
        );
        assert_eq!(
            ServerUrl::parse("https://user:pw@certgate.example.org"),
            Err(ServerUrlError::UserInfo)
        );
        assert_eq!(
            ServerUrl::parse("https://certgate.example.org/?x=1"),
            Err(ServerUrlError::QueryOrFragment)
        );
        assert!(matches!(
            ServerUrl::parse("certgate.example.org"),
            Err(ServerUrlError::NotUrl(_))
        ));
        assert!(ServerUrl::parse("").is_err());
    }
}
