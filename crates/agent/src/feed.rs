//! The gate's view of this device, rebuilt from its sources each time it is asked: nothing is
//! cached here, so a revoked token or a failing posture shows at the next refresh.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use certgate_credentials::{Keystore, device};
use certgate_policy::{CertificationClaim, DeviceFacts, UserContext};
use certgate_posture::{PostureConfig, PostureReport, SystemClock};
use certgate_proxy::{ExceptionGrant, GateSnapshot};
use certgate_store::Database;
use chrono::{DateTime, Utc};

use crate::error::Result;

/// The latest posture report of a watcher the embedder runs (the app's).
pub type ReportSource = Arc<dyn Fn() -> Arc<PostureReport> + Send + Sync>;

/// Where the device facts come from.
#[derive(Clone)]
pub enum Facts {
    /// A compliant device, marked `simulated` in the facts (demo only).
    Simulated,
    /// A fresh check of this host at each refresh.
    Host(PostureConfig),
    /// The embedder's own watcher.
    Watched(ReportSource),
    /// Demo only: the watcher, or a simulated compliant device while the switch is on (the
    /// app's demo mode lets a newcomer walk to access on a laptop that is not managed).
    DemoSwitch {
        simulated: Arc<AtomicBool>,
        watched: ReportSource,
    },
}

impl std::fmt::Debug for Facts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Simulated => "Facts::Simulated",
            Self::Host(_) => "Facts::Host",
            Self::Watched(_) => "Facts::Watched",
            Self::DemoSwitch { .. } => "Facts::DemoSwitch",
        })
    }
}

/// Where the user's certifications come from.
#[derive(Clone)]
pub enum Certifications {
    /// None: every track-gated request is denied.
    None,
    /// Claims already verified by the caller (the demo's in-memory token).
    Verified(BTreeMap<String, CertificationClaim>),
    /// This device's tokens, verified offline at each refresh against the pinned issuer and
    /// the cached revocation list.
    Device { db: PathBuf, keys: Keystore },
}

impl std::fmt::Debug for Certifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("Certifications::None"),
            Self::Verified(claims) => f
                .debug_tuple("Certifications::Verified")
                .field(&claims.keys().collect::<Vec<_>>())
                .finish(),
            Self::Device { db, .. } => f
                .debug_struct("Certifications::Device")
                .field("db", db)
                .finish_non_exhaustive(),
        }
    }
}

/// Everything a [`GateSnapshot`] is built from.
#[derive(Debug, Clone)]
pub struct DeviceFeed {
    /// Who uses the device; its certifications are filled in from [`Self::certifications`].
    pub user: UserContext,
    pub certifications: Certifications,
    pub facts: Facts,
}

impl DeviceFeed {
    /// The gate's view now. Errors only when a source is broken (unreadable database, locked
    /// keyring): a device that is simply not enrolled has no certifications.
    pub fn snapshot(&self) -> Result<GateSnapshot> {
        let (certifications, exceptions) = match &self.certifications {
            Certifications::None => (BTreeMap::new(), Vec::new()),
            Certifications::Verified(claims) => (claims.clone(), Vec::new()),
            Certifications::Device { db, keys } => {
                let mut db = Database::open(db)?;
                let certifications = match device::certifications(&mut db, keys, Utc::now()) {
                    Ok(statuses) => device::policy_certifications(&statuses),
                    Err(certgate_credentials::Error::NotEnrolled) => BTreeMap::new(),
                    Err(e) => return Err(e.into()),
                };
                (certifications, exception_grants(&mut db, keys))
            }
        };
        let (facts, collected_at) = self.device_facts()?;
        Ok(GateSnapshot {
            user: UserContext {
                certifications,
                ..self.user.clone()
            },
            device: Some(DeviceFacts::from_json(&facts)),
            device_collected_at: Some(collected_at),
            exceptions,
            switched_off: false,
        })
    }

    /// The device object rules see, and when it was collected.
    pub fn device_facts(&self) -> Result<(serde_json::Value, DateTime<Utc>)> {
        let simulated = || {
            let facts =
                serde_json::json!({"managed": true, "diskEncryption": true, "simulated": true});
            Ok((facts, Utc::now()))
        };
        let report = match &self.facts {
            Facts::Simulated => return simulated(),
            Facts::DemoSwitch { simulated: on, .. } if on.load(Ordering::Relaxed) => {
                return simulated();
            }
            Facts::DemoSwitch { watched, .. } => watched(),
            Facts::Host(config) => {
                Arc::new(certgate_posture::check_host(config.clone(), &SystemClock))
            }
            Facts::Watched(latest) => latest(),
        };
        Ok((serde_json::to_value(&*report)?, report.collected_at))
    }
}

/// The user this device is enrolled as (`None` before enrolment), from its database at `db`.
pub fn enrolled_user(db: &std::path::Path) -> Result<Option<UserContext>> {
    let mut db = Database::open(db)?;
    certgate_credentials::metadata::migrate(&mut db)?;
    Ok(certgate_credentials::metadata::enrolment(&db)?.map(|e| e.user_context()))
}

/// This device's approved exceptions, verified offline; none when they cannot be verified (a
/// stale revocation list, no enrolment): an exception that cannot be checked admits nothing.
fn exception_grants(db: &mut Database, keys: &Keystore) -> Vec<ExceptionGrant> {
    let verified = certgate_credentials::verified_exception_grants(
        db,
        keys,
        &SystemClock,
        certgate_credentials::DEFAULT_REVOCATION_MAX_AGE,
    );
    match verified {
        Ok(grants) => grants
            .iter()
            .map(|g| ExceptionGrant {
                track: g.track.clone(),
                tool: g.tool.clone(),
                expires_at: g.expires_at(),
            })
            .collect(),
        Err(certgate_credentials::Error::NotEnrolled) => Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "exception grants not used");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserContext {
        UserContext {
            id: Some("u1".into()),
            user_type: Some("contractor".into()),
            vendor_org: None,
            region: Some("us-east-1".into()),
            certifications: BTreeMap::new(),
        }
    }

    #[test]
    fn simulated_facts_pass_the_seed_rule_and_say_so() {
        let feed = DeviceFeed {
            user: user(),
            certifications: Certifications::None,
            facts: Facts::Simulated,
        };
        let (device, _) = feed.device_facts().unwrap();
        assert_eq!(device["managed"], true);
        assert_eq!(device["diskEncryption"], true);
        assert_eq!(device["simulated"], true);
        let snap = feed.snapshot().unwrap();
        assert!(snap.device.is_some());
        assert!(snap.user.certifications.is_empty());
        assert_eq!(snap.user.id.as_deref(), Some("u1"));
    }

    #[test]
    fn a_watched_report_is_used_with_its_own_collection_time() {
        let at = Utc::now() - chrono::Duration::minutes(7);
        let report = Arc::new(PostureReport::new(
            "linux",
            certgate_posture::Facts::unknown(at, "test"),
            at,
        ));
        let feed = DeviceFeed {
            user: user(),
            certifications: Certifications::None,
            facts: Facts::Watched(Arc::new(move || report.clone())),
        };
        let snap = feed.snapshot().unwrap();
        assert_eq!(snap.device_collected_at, Some(at));
        let (device, _) = feed.device_facts().unwrap();
        // Unknown never counts as ok: the summary boolean is false.
        assert_eq!(device["diskEncryption"], false);
    }

    #[test]
    fn the_demo_switch_flips_between_the_watched_report_and_a_simulated_device() {
        let at = Utc::now() - chrono::Duration::minutes(3);
        let report = Arc::new(PostureReport::new(
            "linux",
            certgate_posture::Facts::unknown(at, "test"),
            at,
        ));
        let switch = Arc::new(AtomicBool::new(false));
        let feed = DeviceFeed {
            user: user(),
            certifications: Certifications::None,
            facts: Facts::DemoSwitch {
                simulated: switch.clone(),
                watched: Arc::new(move || report.clone()),
            },
        };
        let (device, collected) = feed.device_facts().unwrap();
        assert_eq!((device["managed"].clone(), collected), (false.into(), at));
        switch.store(true, Ordering::Relaxed);
        let (device, _) = feed.device_facts().unwrap();
        assert_eq!(device["managed"], true);
        assert_eq!(device["simulated"], true);
    }

    #[test]
    fn an_unenrolled_device_has_no_certifications_rather_than_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let Ok(keys) = Keystore::new("certgate-agent-test-unenrolled") else {
            return;
        };
        let feed = DeviceFeed {
            user: user(),
            certifications: Certifications::Device {
                db: dir.path().join("device.db"),
                keys,
            },
            facts: Facts::Simulated,
        };
        let snap = feed.snapshot().unwrap();
        assert!(snap.user.certifications.is_empty());
    }
}
