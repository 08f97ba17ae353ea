//! The training records' outbox and the proxy's audit records, as the sync drains them.

use certgate_credentials::device::{EvidenceOutbox, Outbox};
use certgate_credentials::wire::StatementAccepted;
use certgate_proxy::audit;
use certgate_store::Database;
use certgate_training::Records;
use serde_json::Value;

/// Statements the device has not delivered yet; attempts the server passes are marked verified.
pub struct TrainingOutbox {
    records: Records,
    /// Outbox id → attempt id, to mark attempts verified when the server passes them.
    subjects: Vec<(String, String)>,
}

impl std::fmt::Debug for TrainingOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainingOutbox").finish_non_exhaustive()
    }
}

impl TrainingOutbox {
    pub fn new(records: Records) -> Self {
        Self {
            records,
            subjects: Vec::new(),
        }
    }
}

fn outbox_err(e: certgate_training::Error) -> certgate_credentials::Error {
    certgate_credentials::Error::Outbox {
        reason: e.to_string(),
    }
}

impl Outbox for TrainingOutbox {
    fn pending(&mut self) -> certgate_credentials::Result<Vec<(String, Value)>> {
        let items = self.records.pending_outbox().map_err(outbox_err)?;
        self.subjects = items
            .iter()
            .filter(|i| i.kind == "attempt")
            .map(|i| (i.id.clone(), i.subject_id.clone()))
            .collect();
        Ok(items.into_iter().map(|i| (i.id, i.statement)).collect())
    }

    fn delivered(
        &mut self,
        id: &str,
        answer: &StatementAccepted,
    ) -> certgate_credentials::Result<()> {
        let passed = answer.grading.as_ref().is_some_and(|g| g.passed);
        if let Some((_, attempt)) = self.subjects.iter().find(|(o, _)| o == id)
            && passed
        {
            self.records.mark_verified(attempt).map_err(outbox_err)?;
        }
        self.records
            .mark_sent(&[id.to_owned()], chrono::Utc::now())
            .map_err(outbox_err)
    }

    fn refused(&mut self, id: &str, reason: &str) -> certgate_credentials::Result<()> {
        tracing::warn!(statement = id, reason, "the server refused a statement");
        // Resending the same statement can only get the same refusal.
        self.records
            .mark_sent(&[id.to_owned()], chrono::Utc::now())
            .map_err(outbox_err)
    }
}

/// The proxy's audit records the org server does not hold yet, read from the database that
/// holds the audit tables; delivery moves the audit upload cursor.
pub struct AuditOutbox {
    db: Database,
    /// Seq of each record of the last `pending`, to move the cursor to on delivery.
    seqs: Vec<i64>,
}

impl std::fmt::Debug for AuditOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditOutbox")
            .field("db", &self.db.path())
            .finish_non_exhaustive()
    }
}

fn evidence_err(e: impl std::fmt::Display) -> certgate_credentials::Error {
    certgate_credentials::Error::EvidenceOutbox {
        reason: e.to_string(),
    }
}

impl AuditOutbox {
    /// Brings the audit tables in `db` up to date (an empty log when the proxy never ran).
    pub fn new(mut db: Database) -> crate::Result<Self> {
        db.migrate(&audit::SCHEMA)?;
        Ok(Self {
            db,
            seqs: Vec::new(),
        })
    }
}

impl EvidenceOutbox for AuditOutbox {
    fn pending(&mut self, limit: usize) -> certgate_credentials::Result<Vec<Value>> {
        let items = audit::pending_upload(self.db.conn(), limit).map_err(evidence_err)?;
        self.seqs = items.iter().map(|(seq, _)| *seq).collect();
        Ok(items.into_iter().map(|(_, v)| v).collect())
    }

    fn delivered(&mut self, count: usize) -> certgate_credentials::Result<()> {
        let Some(seq) = count.checked_sub(1).and_then(|i| self.seqs.get(i)) else {
            return Ok(());
        };
        audit::mark_uploaded(self.db.conn(), *seq).map_err(evidence_err)?;
        self.seqs.drain(..count.min(self.seqs.len()));
        Ok(())
    }
}
