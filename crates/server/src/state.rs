//! Everything a request handler needs, built once from the config.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use certgate_credentials::Sensitive;
use certgate_policy::{Policy, TrustMode};
use certgate_store::Database;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{SigningKey, VerifyingKey};
use tokio::sync::Notify;

use crate::config::{IdpConfig, ServerConfig};
use crate::content::BundleDoc;
use crate::db::{self, hash_secret};
use crate::error::{Error, Result};
use crate::regrade::{BundleRegrader, NoBundle, Regrader};
use crate::updates::UpdateShelf;

/// The signed policy as served.
#[derive(Debug, Clone)]
pub struct PolicyDoc {
    pub text: String,
    /// Detached signature (`.sig` text).
    pub signature: String,
    pub sha256: String,
    pub policy: Policy,
    /// PEM of the key that signed it, served to devices to pin.
    pub public_key_pem: String,
}

impl PolicyDoc {
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.sha256)
    }

    pub fn track(&self, id: &str) -> Option<&certgate_policy::model::Track> {
        self.policy
            .training_requirements
            .certification_tracks
            .iter()
            .find(|t| t.id == id)
    }
}

/// The token-signing key.
#[derive(Debug)]
pub struct IssuerKeys {
    pub name: String,
    pub signing: Sensitive<SigningKey>,
}

impl IssuerKeys {
    pub fn public(&self) -> VerifyingKey {
        self.signing.expose().verifying_key()
    }

    pub fn issuer(&self) -> certgate_credentials::Issuer {
        certgate_credentials::Issuer {
            name: self.name.clone(),
            key: self.public(),
        }
    }
}

/// Time source, injectable so expiry is testable.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Shared server state.
pub struct AppState {
    db: Mutex<Database>,
    pub issuer: IssuerKeys,
    pub policy: PolicyDoc,
    pub admin_token_hash: String,
    pub regrader: Box<dyn Regrader>,
    pub clock: Clock,
    pub code_ttl: Duration,
    pub idp: Option<IdpConfig>,
    /// Wakes the IdP write-back worker when a change is queued.
    pub idp_wake: Notify,
    /// The signed content bundle devices download; `None` serves 404.
    pub bundle: Option<BundleDoc>,
    /// The app update on offer; `None` tells every device it is up to date.
    pub updates: Option<UpdateShelf>,
    /// This server's URL for links in answers; `None` uses the request's Host.
    pub public_url: Option<String>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("issuer", &self.issuer.name)
            .field("policy", &self.policy.sha256)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state from a config: opens and migrates the database, verifies the policy
    /// and bundle signatures, loads the issuer key.
    pub fn from_config(config: &ServerConfig) -> Result<Self> {
        let mut database = Database::open(&config.database)?;
        database.migrate(&db::SCHEMA)?;
        let (policy, regrader, bundle) = load_policy_and_bundle(config)?;
        let pem = read(&config.issuer_key)?;
        let signing = SigningKey::from_pkcs8_pem(&pem).map_err(|_| Error::IssuerKey {
            path: config.issuer_key.clone(),
        })?;
        Ok(Self {
            db: Mutex::new(database),
            issuer: IssuerKeys {
                name: config.issuer.clone(),
                signing: Sensitive::new(signing),
            },
            policy,
            admin_token_hash: hash_secret(config.admin_token.expose().trim()),
            regrader,
            clock: Arc::new(Utc::now),
            code_ttl: Duration::hours(i64::from(config.enrolment_code_ttl_hours)),
            idp: config.idp.clone(),
            idp_wake: Notify::new(),
            bundle,
            updates: config
                .updates
                .as_deref()
                .map(UpdateShelf::open)
                .transpose()?,
            public_url: config.public_url.clone(),
        })
    }

    /// A state over explicit parts (tests, benches).
    pub fn new(
        database: Database,
        issuer: IssuerKeys,
        policy: PolicyDoc,
        admin_token: &str,
        regrader: Box<dyn Regrader>,
        clock: Clock,
    ) -> Result<Self> {
        let mut database = database;
        database.migrate(&db::SCHEMA)?;
        Ok(Self {
            db: Mutex::new(database),
            issuer,
            policy,
            admin_token_hash: hash_secret(admin_token),
            regrader,
            clock,
            code_ttl: Duration::hours(72),
            idp: None,
            idp_wake: Notify::new(),
            bundle: None,
            updates: None,
            public_url: None,
        })
    }

    pub fn with_idp(mut self, idp: Option<IdpConfig>) -> Self {
        self.idp = idp;
        self
    }

    /// Serves `bundle` at `GET /v1/bundle`.
    #[must_use]
    pub fn with_bundle(mut self, bundle: Option<BundleDoc>) -> Self {
        self.bundle = bundle;
        self
    }

    /// Offers the update in `updates` at `GET /v1/updates/…`.
    #[must_use]
    pub fn with_updates(mut self, updates: Option<UpdateShelf>) -> Self {
        self.updates = updates;
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// The database; a poisoned lock (a panic mid-request) still yields the connection, since
    /// every write is a transaction that rolled back.
    pub fn db(&self) -> MutexGuard<'_, Database> {
        self.db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The demo org's policy document and bundle regrader.
pub fn demo_policy() -> Result<(PolicyDoc, BundleRegrader)> {
    let loaded = certgate_policy::demo::load()?;
    let bundle = certgate_training::demo::bundle(&loaded)?;
    let regrader = BundleRegrader::new(bundle, &loaded.policy);
    Ok((
        PolicyDoc {
            text: certgate_policy::demo::POLICY.to_owned(),
            signature: certgate_policy::demo::SIGNATURE.to_owned(),
            sha256: loaded.sha256.clone(),
            policy: loaded.policy,
            public_key_pem: certgate_policy::demo::PUBLIC_KEY_PEM.to_owned(),
        },
        regrader,
    ))
}

/// The demo bundle as served (checked against the demo policy).
pub fn demo_bundle_doc() -> Result<BundleDoc> {
    let loaded = certgate_policy::demo::load()?;
    let files = certgate_training::demo::files();
    let (doc, _) = BundleDoc::new(
        &files,
        Path::new(certgate_training::demo::ORIGIN),
        &loaded,
        TrustMode::Demo,
    )?;
    Ok(doc)
}

type Loaded = (PolicyDoc, Box<dyn Regrader>, Option<BundleDoc>);

fn load_policy_and_bundle(config: &ServerConfig) -> Result<Loaded> {
    let (Some(policy_path), Some(key_path)) = (&config.policy, &config.policy_public_key) else {
        let (doc, regrader) = demo_policy()?;
        tracing::warn!("serving the DEMO org policy and bundle: never for real access");
        return Ok((doc, Box::new(regrader), Some(demo_bundle_doc()?)));
    };
    let key_pem = read(key_path)?;
    let key = certgate_policy::PublicKey::from_pem(&key_pem, key_path)?;
    let loaded = certgate_policy::load(policy_path, TrustMode::Pinned(&key))?;
    let (regrader, served): (Box<dyn Regrader>, Option<BundleDoc>) = match &config.bundle {
        Some(path) => {
            // A signed folder or its packed archive (`certgate content pack`).
            let files = if path.is_file() {
                certgate_training::archive::read_archive(path)?
            } else {
                certgate_training::bundle::read_dir(path)?
            };
            let (doc, bundle) = BundleDoc::new(&files, path, &loaded, TrustMode::Pinned(&key))?;
            (
                Box::new(BundleRegrader::new(bundle, &loaded.policy)),
                Some(doc),
            )
        }
        None => {
            tracing::warn!("no content bundle configured: attempts cannot be re-graded");
            (Box::new(NoBundle), None)
        }
    };
    let doc = PolicyDoc {
        text: read(policy_path)?,
        signature: read(&certgate_policy::signing::signature_path(policy_path))?,
        sha256: loaded.sha256.clone(),
        policy: loaded.policy,
        public_key_pem: key_pem,
    };
    Ok((doc, regrader, served))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        path: path.to_owned(),
        source,
    })
}
