//! The training records' outbox, as the sync drains it.

use certgate_credentials::device::Outbox;
use certgate_credentials::wire::StatementAccepted;
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
