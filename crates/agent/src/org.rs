//! An enrolled device and its organisation: the device sync, and what the device runs on
//! between syncs (the org's policy and course as last fetched, verified again at every load
//! under the org key pinned at enrolment).

use std::path::Path;

use certgate_credentials::device::{Device, SyncReport};
use certgate_credentials::metadata::{self, Enrolment};
use certgate_credentials::{Keystore, content};
use certgate_policy::{LoadedPolicy, PublicKey};
use certgate_store::Database;
use certgate_training::{Bundle, Records};
use chrono::Utc;

use crate::error::Result;
use crate::outbox::{AuditOutbox, TrainingOutbox};

/// Sends the training records' pending statements; fetches tokens, revocations, exception
/// grants, the policy and the course (installed beside `device_db`); then uploads the proxy's
/// audit records from `audit_db`, as `certgate sync` does. Blocking.
pub fn sync(
    device_db: &Path,
    keys: &Keystore,
    records: Records,
    audit_db: &Path,
) -> Result<SyncReport> {
    let mut db = Database::open(device_db)?;
    let device = Device::load(&mut db, keys)?.with_data_dir(content_dir(device_db));
    let mut outbox = TrainingOutbox::new(records);
    let mut report = device.sync(&db, keys, &mut outbox, Utc::now())?;
    let mut evidence = AuditOutbox::new(Database::open(audit_db)?)?;
    report.evidence_uploaded = device.upload_evidence(&mut evidence)?;
    Ok(report)
}

/// The organisation's content on this device.
#[derive(Debug)]
pub struct OrgContent {
    pub enrolment: Enrolment,
    /// The org policy, signed by the pinned org key.
    pub policy: LoadedPolicy,
    /// The org's course, when the server published one (else the policy's tracks have no
    /// content on this device yet).
    pub bundle: Option<Bundle>,
}

/// Where the course of the org that `device_db` is enrolled with is installed: beside it, so
/// the demo device's course never stands in for a real org's.
fn content_dir(device_db: &Path) -> std::path::PathBuf {
    device_db
        .parent()
        .map_or_else(|| Path::new(".").to_owned(), Path::to_owned)
}

/// What this device runs on when it is enrolled and has fetched its org's policy; `None` when
/// it is not enrolled or has not synced yet. A stored policy or course that no longer verifies
/// under the pinned key is an error, never used.
pub fn load(device_db: &Path) -> Result<Option<OrgContent>> {
    if !device_db.is_file() {
        return Ok(None);
    }
    let mut db = Database::open(device_db)?;
    metadata::migrate(&mut db)?;
    let Some(enrolment) = metadata::enrolment(&db)? else {
        return Ok(None);
    };
    let Some((_, text, signature)) = metadata::policy(&db)? else {
        return Ok(None);
    };
    let key = PublicKey::from_pem(&enrolment.policy_key_pem, Path::new("<pinned org key>"))?;
    let source = format!("org server {}", enrolment.server_url);
    let policy = certgate_policy::load_signed_text(&text, &signature, &source, &key)?;
    let bundle = content::load_installed_bundle(&content_dir(device_db), &key, &policy)?;
    Ok(Some(OrgContent {
        enrolment,
        policy,
        bundle,
    }))
}
