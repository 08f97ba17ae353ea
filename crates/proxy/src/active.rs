//! The policy in force and everything built from it (redactor, alert rules), swapped as one
//! `Arc`: a request takes the current one once, at its start, and uses it to the end, so it
//! never sees half of an old policy and half of a new one.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use certgate_policy::LoadedPolicy;
use certgate_redact::Redactor;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Result;
use crate::monitor::{self, AlertRule};
use crate::server::redactor_config;

/// One policy, ready to serve.
#[derive(Debug)]
pub struct Active {
    pub policy: Arc<LoadedPolicy>,
    pub(crate) redactor: Redactor,
    pub(crate) alerts: Vec<AlertRule>,
    /// Alerts of the policy the proxy does not count (evaluated elsewhere).
    pub alerts_elsewhere: Vec<String>,
    pub loaded_at: DateTime<Utc>,
}

impl Active {
    /// Builds everything first; fails without touching anything in force.
    pub fn build(policy: Arc<LoadedPolicy>, now: DateTime<Utc>) -> Result<Self> {
        let redactor = Redactor::new(redactor_config(&policy))?;
        let (alerts, alerts_elsewhere) = monitor::rules(&policy);
        Ok(Self {
            policy,
            redactor,
            alerts,
            alerts_elsewhere,
            loaded_at: now,
        })
    }
}

/// One problem with a refused policy, with its place when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted field path (`modelAndDataControls.dlp.piiRedaction`), or `signature`.
    pub field: Option<String>,
    pub message: String,
}

impl Problem {
    /// Every problem a policy load reported: each diagnostic with file, line and field; a
    /// signature or read failure as one problem naming the file.
    pub fn from_error(e: &certgate_policy::Error, file: &str) -> Vec<Self> {
        use certgate_policy::Error as E;
        let whole = |file: String, field: Option<&str>| {
            vec![Self {
                file,
                line: None,
                column: None,
                field: field.map(str::to_owned),
                message: e.to_string(),
            }]
        };
        match e {
            E::Invalid(d) => {
                d.0.iter()
                    .map(|d| Self {
                        file: d.file.clone(),
                        line: Some(d.line),
                        column: Some(d.column),
                        field: Some(d.path.clone()).filter(|p| !p.is_empty()),
                        message: d.message.clone(),
                    })
                    .collect()
            }
            E::Unsigned { sig, .. } | E::SignatureFormat { path: sig } => {
                whole(sig.display().to_string(), Some("signature"))
            }
            E::BadSignature { path, .. } => whole(path.display().to_string(), Some("signature")),
            E::Read { path, .. } => whole(path.display().to_string(), None),
            _ => whole(file.to_owned(), None),
        }
    }
}

/// A policy file change that was not applied; the previous policy stayed in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    pub at: DateTime<Utc>,
    pub file: String,
    pub problems: Vec<Problem>,
}

/// What `GET /certgate/v1/status` says about the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyStatus {
    pub source: String,
    pub sha256: String,
    pub trust: String,
    pub loaded_at: DateTime<Utc>,
    /// Policies applied since start (the first one not counted).
    pub reloads: u64,
    /// The last refused change, cleared when a valid policy is applied.
    pub last_refusal: Option<Refusal>,
    pub alerts_evaluated: Vec<String>,
    pub alerts_elsewhere: Vec<String>,
}

#[derive(Debug)]
struct Slot {
    current: RwLock<Arc<Active>>,
    reloads: Mutex<(u64, Option<Refusal>)>,
}

/// The handle to the policy in force. Cheap to clone; the embedder keeps one to swap policies
/// (or hands it to [`crate::reload::watch_file`]).
#[derive(Debug, Clone)]
pub struct PolicySlot(Arc<Slot>);

impl PolicySlot {
    pub fn new(policy: Arc<LoadedPolicy>) -> Result<Self> {
        let active = Active::build(policy, Utc::now())?;
        Ok(Self(Arc::new(Slot {
            current: RwLock::new(Arc::new(active)),
            reloads: Mutex::new((0, None)),
        })))
    }

    /// The policy in force now. Take it once per request.
    pub fn current(&self) -> Arc<Active> {
        self.0
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Builds everything for `policy`, then swaps it in with one pointer store. On error
    /// nothing changes.
    pub fn replace(&self, policy: Arc<LoadedPolicy>) -> Result<()> {
        let active = Arc::new(Active::build(policy, Utc::now())?);
        *self
            .0
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = active;
        let mut r = self
            .0
            .reloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        r.0 += 1;
        r.1 = None;
        Ok(())
    }

    /// Records a refused change (the policy in force stays).
    pub fn refuse(&self, refusal: Refusal) {
        self.0
            .reloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1 = Some(refusal);
    }

    pub fn status(&self) -> PolicyStatus {
        let a = self.current();
        let (reloads, last_refusal) = self
            .0
            .reloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        PolicyStatus {
            source: a.policy.source.clone(),
            sha256: a.policy.sha256.clone(),
            trust: a.policy.trust.label().to_owned(),
            loaded_at: a.loaded_at,
            reloads,
            last_refusal,
            alerts_evaluated: a.alerts.iter().map(|r| r.name.clone()).collect(),
            alerts_elsewhere: a.alerts_elsewhere.clone(),
        }
    }
}
