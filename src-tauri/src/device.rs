//! This device's enrolment with an org: the same database and OS keyring entry as the
//! `certgate` CLI, so either can enrol and both see the result.

use std::path::PathBuf;

use certgate_agent::org::{self, OrgContent};
use certgate_credentials::Keystore;
use certgate_managed::Managed;
use certgate_store::Database;
use certgate_training::Records;

use crate::dto::EnrolmentView;
use crate::error::{CommandError, ErrorCode};

fn enrolment_error(message: impl std::fmt::Display) -> CommandError {
    CommandError {
        code: ErrorCode::Enrolment,
        message: message.to_string(),
    }
}

/// Where this device's enrolment lives. Either part may be missing (no data folder, no OS
/// keyring): the app still starts and says why enrolling cannot work.
#[derive(Debug, Clone)]
pub struct DeviceStore {
    db: Result<PathBuf, CommandError>,
    keys: Result<Keystore, CommandError>,
}

impl DeviceStore {
    /// The user's data folder (`CERTGATE_HOME` overrides it) and the system keyring.
    pub fn system() -> Self {
        Self {
            db: certgate_store::paths::data_dir()
                .map(|d| d.join(certgate_store::FILE_NAME))
                .map_err(enrolment_error),
            keys: Keystore::system()
                .and_then(|k| k.probe().map(|()| k))
                .map_err(|e| {
                    enrolment_error(format!(
                        "no OS keyring to keep this device's key in ({e}); start a Secret \
                         Service (e.g. gnome-keyring) and try again"
                    ))
                }),
        }
    }

    /// A device whose database is `db`; without `keys` it cannot enrol (no keyring).
    #[cfg(test)]
    pub fn new(db: PathBuf, keys: Option<Keystore>) -> Self {
        Self {
            db: Ok(db),
            keys: keys.ok_or_else(|| enrolment_error("no OS keyring for this device's key")),
        }
    }

    pub fn db(&self) -> Result<PathBuf, CommandError> {
        self.db.clone()
    }

    pub fn keys(&self) -> Result<Keystore, CommandError> {
        self.keys.clone()
    }

    /// The org's policy and course this device last synced, if it is enrolled.
    pub fn org_content(&self) -> Result<Option<OrgContent>, CommandError> {
        let Ok(db) = &self.db else { return Ok(None) };
        org::load(db).map_err(|e| {
            enrolment_error(format!(
                "the org policy kept on this device cannot be used: {e}. Sync again, or \
                 enrol again with a new code"
            ))
        })
    }

    /// Enrols with `server` using the one-time `code`, as the managed configuration allows,
    /// then syncs once to fetch the org's policy and course. Blocking.
    pub fn enrol(
        &self,
        managed: &Managed,
        server: &str,
        code: &str,
    ) -> Result<EnrolmentView, CommandError> {
        let (db, keys) = (self.db()?, self.keys()?);
        let enrolment = certgate_agent::enrol::enrol(managed, &db, &keys, server, code.trim())
            .map_err(enrolment_error)?;
        let records =
            Records::new(Database::open(&db).map_err(enrolment_error)?).map_err(enrolment_error)?;
        let report = org::sync(&db, &keys, records, &db).map_err(|e| {
            enrolment_error(format!(
                "enrolled with {}, but the first sync failed: {e}",
                enrolment.server_url
            ))
        })?;
        tracing::info!(server = %enrolment.server_url, device = %enrolment.device_id, "enrolled");
        let content = self.org_content()?;
        Ok(EnrolmentView {
            server_url: enrolment.server_url,
            user_id: enrolment.user_id,
            device_id: enrolment.device_id,
            policy_id: content.as_ref().map(|c| c.policy.summary().policy_id),
            course_installed: report.bundle_installed.is_some()
                || content.is_some_and(|c| c.bundle.is_some()),
        })
    }
}
