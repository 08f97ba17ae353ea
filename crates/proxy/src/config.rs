//! What the embedder (the app, `certgate proxy`) tells the proxy: where to listen, one upstream
//! per region, limits, which browser origins are the app's.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A secret string (a provider key, a client key): `Debug` and `Display` never show it, and it is
/// never serialised back out. The one `Sensitive` of the workspace, from the credentials crate.
pub type Sensitive = certgate_credentials::Sensitive<String>;

/// One upstream model provider endpoint, serving one region.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Upstream {
    /// Region this endpoint processes requests in (`eu-west-1`); one of the policy's regions.
    pub region: String,
    /// Base URL without the `/v1/...` path (`https://api.openai.com`, `http://127.0.0.1:9000`).
    pub base_url: String,
    /// The provider key sent upstream (`Authorization: Bearer` for OpenAI routes, `x-api-key`
    /// for Anthropic routes). The client's local key is never forwarded.
    #[serde(default)]
    pub api_key: Option<Sensitive>,
}

/// A local client key and the tool surface it stands for (its label, e.g. `developer-sdk`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientKey {
    pub key: Sensitive,
    /// Tool surface, by name or `kind:name`; an `X-Certgate-Tool` header overrides it.
    pub label: String,
}

/// Which certification track a tool surface's requests are gated on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TrackChoice {
    /// Track for the policy's copilots; default: the policy's first track.
    pub copilots: Option<String>,
    /// Track for the policy's automation endpoints; default: the policy's last track.
    pub automation_endpoints: Option<String>,
}

/// The proxy's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyConfig {
    /// Listen address; must be loopback (`127.0.0.1:8787`, port 0 picks a free port).
    pub listen: SocketAddr,
    /// One upstream per region.
    pub upstreams: Vec<Upstream>,
    /// Largest request body accepted, in bytes (413 above).
    pub body_limit_bytes: usize,
    /// Seconds to wait for the upstream's answer headers, and between streamed chunks (504).
    pub upstream_timeout_secs: u64,
    /// Milliseconds to wait for a TCP connection to the upstream (502 when refused).
    pub connect_timeout_ms: u64,
    /// Browser origins allowed to call the proxy (the app's own webview); any other `Origin` is
    /// refused with 403. Requests with no `Origin` (SDKs, curl) are fine.
    pub allowed_origins: Vec<String>,
    /// Tracks by tool kind; an `X-Certgate-Track` header overrides.
    pub tracks: TrackChoice,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            upstreams: Vec::new(),
            body_limit_bytes: 4 * 1024 * 1024,
            upstream_timeout_secs: 120,
            connect_timeout_ms: 5_000,
            allowed_origins: vec![
                "tauri://localhost".to_owned(),
                "http://tauri.localhost".to_owned(),
            ],
            tracks: TrackChoice::default(),
        }
    }
}

impl ProxyConfig {
    pub(crate) fn upstream_timeout(&self) -> Duration {
        Duration::from_secs(self.upstream_timeout_secs)
    }

    /// The upstream serving `region`, if any. Never another region's.
    pub fn upstream_for(&self, region: &str) -> Option<&Upstream> {
        self.upstreams.iter().find(|u| u.region == region)
    }

    /// Checks what can be checked before binding.
    pub fn validate(&self) -> Result<()> {
        if !self.listen.ip().is_loopback() {
            return Err(Error::NotLoopback { addr: self.listen });
        }
        for u in &self.upstreams {
            let ok = (u.base_url.starts_with("http://") || u.base_url.starts_with("https://"))
                && u.base_url.len() > "https://".len();
            if !ok {
                return Err(Error::UpstreamUrl {
                    region: u.region.clone(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_loopback_and_unknown_fields_and_hides_keys() {
        let mut c = ProxyConfig {
            listen: "0.0.0.0:8787".parse().unwrap(),
            ..ProxyConfig::default()
        };
        assert!(matches!(c.validate(), Err(Error::NotLoopback { .. })));
        c.listen = "[::1]:0".parse().unwrap();
        assert!(c.validate().is_ok());
        assert!(
            serde_json::from_str::<ProxyConfig>(r#"{"bodyLimt": 1}"#).is_err(),
            "a typo must not silently keep the default"
        );
        let u: Upstream = serde_json::from_str(
            r#"{"region":"eu-west-1","baseUrl":"http://127.0.0.1:1","apiKey":"sk-live-123"}"#,
        )
        .unwrap();
        assert!(!format!("{u:?}").contains("sk-live"), "Debug leaked a key");
    }
}
