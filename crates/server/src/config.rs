//! The server's config file (TOML). Unknown keys are refused; the admin token is required, so
//! the server is never open by default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use certgate_credentials::Sensitive;
use serde::Deserialize;

use crate::error::{Error, Result};

/// `certgate server --config FILE`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// `iss` of every token this server signs, e.g. `https://certgate.example.org`.
    pub issuer: String,
    /// SQLite database file (created if missing).
    pub database: PathBuf,
    /// The org policy (YAML); its signature must sit beside it as `<file>.sig`.
    /// Omit with `demo = true` to serve the embedded demo policy and bundle.
    #[serde(default)]
    pub policy: Option<PathBuf>,
    /// PEM public key the policy and bundle signatures are checked with.
    #[serde(default)]
    pub policy_public_key: Option<PathBuf>,
    /// Signed content bundle (folder, or its packed `.tar`) the server re-grades attempts
    /// with and serves to devices.
    #[serde(default)]
    pub bundle: Option<PathBuf>,
    /// Serve the demo org (demo policy, demo bundle). Never for real access.
    #[serde(default)]
    pub demo: bool,
    /// PKCS#8 PEM Ed25519 key that signs tokens (`openssl genpkey -algorithm ed25519`).
    pub issuer_key: PathBuf,
    /// Bearer token for admin endpoints, at least 32 characters.
    pub admin_token: Sensitive<String>,
    /// Lifetime of enrolment codes, hours.
    #[serde(default = "default_code_ttl_hours")]
    pub enrolment_code_ttl_hours: u32,
    /// Where group membership is written back; none means no write-back.
    #[serde(default)]
    pub idp: Option<IdpConfig>,
    /// Folder with the app update on offer (`release.toml`, artifacts, `.sig` files); none
    /// means devices are told there is no update.
    #[serde(default)]
    pub updates: Option<PathBuf>,
    /// This server's URL as devices reach it (`https://certgate.example.org`), for the
    /// download links in update offers; default: `http://` and the request's Host.
    #[serde(default)]
    pub public_url: Option<String>,
}

/// Which IdP API to speak and where.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdpConfig {
    pub kind: IdpApi,
    /// SCIM base (`…/scim/v2`) or Okta org URL (`https://org.okta.com`).
    pub base_url: String,
    /// API token (SCIM bearer, or Okta `SSWS` token).
    pub token: Sensitive<String>,
    /// Attempts per change before it is left for the next sweep.
    #[serde(default = "default_idp_attempts")]
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdpApi {
    /// RFC 7644 PATCH; removal by `members[value eq "id"]` path filter.
    Scim,
    /// SCIM as Entra ID speaks it: removal with `path: members` and a `value` list.
    Entra,
    /// Okta Groups API: `PUT/DELETE /api/v1/groups/{gid}/users/{uid}`.
    Okta,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}

fn default_code_ttl_hours() -> u32 {
    72
}

fn default_idp_attempts() -> u32 {
    6
}

impl ServerConfig {
    /// Reads and checks a config file; relative paths in it are taken from its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Self = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_owned(),
            reason: e.message().to_owned(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            Some(&mut config.database),
            config.policy.as_mut(),
            config.policy_public_key.as_mut(),
            config.bundle.as_mut(),
            config.updates.as_mut(),
            Some(&mut config.issuer_key),
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<()> {
        let bad = |reason: &str| Error::Config {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        if self.admin_token.expose().trim().len() < 32 {
            return Err(bad(
                "adminToken must be at least 32 characters (e.g. `openssl rand -hex 32`)",
            ));
        }
        if !self.demo && (self.policy.is_none() || self.policy_public_key.is_none()) {
            return Err(bad(
                "set policy and policyPublicKey (and bundle), or demo = true for the demo org",
            ));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(bad(
                "publicUrl must be this server's http(s) URL, e.g. https://certgate.example.org",
            ));
        }
        if self.issuer.trim().is_empty() {
            return Err(bad("issuer must name this server, e.g. its URL"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ServerConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        std::fs::write(&path, text).unwrap();
        ServerConfig::load(&path)
    }

    const OK: &str = "issuer = \"https://org\"\ndatabase = \"s.db\"\ndemo = true\nissuerKey = \"k.pem\"\nadminToken = \"0123456789abcdef0123456789abcdef\"\n";

    #[test]
    fn valid_config_resolves_paths_next_to_it_and_hides_the_token() {
        let c = load(OK).unwrap();
        assert!(c.database.is_absolute() && c.database.ends_with("s.db"));
        assert_eq!(
            c.listen.to_string(),
            "127.0.0.1:8443",
            "loopback by default"
        );
        assert!(
            !format!("{c:?}").contains("0123456789abcdef"),
            "Debug hides the admin token"
        );
    }

    #[test]
    fn unknown_keys_short_tokens_and_missing_policy_are_refused() {
        let unknown = format!("{OK}adminTokn = \"x\"\n");
        assert!(matches!(load(&unknown), Err(Error::Config { .. })));
        let short = OK.replace("0123456789abcdef0123456789abcdef", "short");
        let e = load(&short).unwrap_err().to_string();
        assert!(e.contains("at least 32"), "{e}");
        let no_policy = OK.replace("demo = true\n", "");
        let e = load(&no_policy).unwrap_err().to_string();
        assert!(e.contains("policyPublicKey"), "{e}");
        let no_token = OK.replace("adminToken = \"0123456789abcdef0123456789abcdef\"\n", "");
        assert!(
            load(&no_token).is_err(),
            "never open by default: the admin token is required"
        );
    }
}
