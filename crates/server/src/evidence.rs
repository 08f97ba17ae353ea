//! Proxy evidence uploaded by devices: one metadata-only record per proxied request, kept once
//! per (device, requestId) so a retried upload never duplicates, and exported with the other
//! evidence as kind `proxy_request`.

use certgate_credentials::wire::{
    EVIDENCE_BATCH_MAX, EVIDENCE_COLUMNS, EvidenceAccepted, EvidenceUpload, text_bearing_field,
};
use certgate_store::rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::{Map, Value};

use crate::auth::DeviceAuth;
use crate::db::ts;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The kind proxy records carry in the evidence export.
pub const EXPORT_KIND: &str = "proxy_request";

/// Checks a whole upload before anything is stored: a refused record refuses the batch, so
/// the device's cursor does not move past it.
fn validate(body: &[u8]) -> Result<Vec<(String, Value)>> {
    let upload: EvidenceUpload = serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("the body is not {{\"records\": [...]}}: {e}")))?;
    if upload.records.len() > EVIDENCE_BATCH_MAX {
        return Err(Error::BadRequest(format!(
            "{} records in one upload; send at most {EVIDENCE_BATCH_MAX}",
            upload.records.len()
        )));
    }
    let mut out = Vec::with_capacity(upload.records.len());
    for (i, record) in upload.records.into_iter().enumerate() {
        let Value::Object(map) = &record else {
            return Err(Error::BadRequest(format!(
                "record {i} is not a JSON object"
            )));
        };
        let id = match map.get("requestId") {
            Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
            _ => {
                return Err(Error::BadRequest(format!(
                    "record {i} has no requestId; it is what makes an upload safe to retry"
                )));
            }
        };
        if let Some(field) = text_bearing_field(&record) {
            return Err(Error::BadRequest(format!(
                "record {i} ({id}) has a field {field:?}: evidence is metadata only and never \
                 holds prompt or answer text, so the upload is refused"
            )));
        }
        // Only the known columns are kept: anything else is not evidence we export.
        let mut kept = Map::new();
        for c in EVIDENCE_COLUMNS {
            if let Some(v) = map.get(*c) {
                kept.insert((*c).to_owned(), v.clone());
            }
        }
        out.push((id, Value::Object(kept)));
    }
    Ok(out)
}

/// `POST /v1/evidence`: stores new records, ignores ones already held, and takes a human's
/// decision on a record held as `pending`.
pub fn intake(state: &AppState, device: &DeviceAuth, body: &[u8]) -> Result<EvidenceAccepted> {
    let records = validate(body)?;
    let now = ts(state.now());
    let mut db = state.db();
    let tx = db
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut answer = EvidenceAccepted::default();
    for (request_id, record) in records {
        let held: Option<String> = tx
            .prepare_cached(
                "SELECT record FROM server_evidence WHERE device_id = ?1 AND request_id = ?2",
            )?
            .query_row(params![device.device_id, request_id], |r| r.get(0))
            .optional()?;
        match held {
            None => {
                tx.prepare_cached(
                    "INSERT INTO server_evidence (device_id, request_id, user_id, received_at, record)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    device.device_id,
                    request_id,
                    device.user_id,
                    now,
                    record.to_string()
                ])?;
                answer.accepted += 1;
            }
            Some(text) => {
                let old: Value = serde_json::from_str(&text).unwrap_or_default();
                let decided = old["approvalOutcome"] == "pending"
                    && record["approvalOutcome"].is_string()
                    && record["approvalOutcome"] != "pending";
                if decided {
                    tx.prepare_cached(
                        "UPDATE server_evidence SET record = ?3 WHERE device_id = ?1 AND request_id = ?2",
                    )?
                    .execute(params![device.device_id, request_id, record.to_string()])?;
                    answer.updated += 1;
                } else {
                    answer.duplicates += 1;
                }
            }
        }
    }
    tx.commit()?;
    Ok(answer)
}

/// One exported proxy record: when it happened, whose, and the record with the evidence
/// columns (plus the device and when the server received it).
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub at: String,
    pub user_id: String,
    pub detail: Value,
}

/// Proxy records that happened at or after `since` (text-ordered RFC 3339), oldest first.
pub fn export_rows(conn: &Connection, since: &str) -> Result<Vec<ExportRow>> {
    let mut stmt = conn.prepare(
        "SELECT CAST(COALESCE(json_extract(record, '$.timestamp'), received_at) AS TEXT) AS at,
                user_id, device_id, received_at, record
         FROM server_evidence WHERE at >= ?1 ORDER BY at, rowid",
    )?;
    let rows = stmt.query_map(params![since], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (at, user_id, device_id, received_at, record) = row?;
        let record: Value = serde_json::from_str(&record).unwrap_or_default();
        let mut detail = Map::new();
        for c in EVIDENCE_COLUMNS {
            detail.insert((*c).to_owned(), record.get(*c).cloned().unwrap_or_default());
        }
        detail.insert("deviceId".into(), Value::String(device_id));
        detail.insert("receivedAt".into(), Value::String(received_at));
        out.push(ExportRow {
            at,
            user_id,
            detail: Value::Object(detail),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_keeps_only_evidence_columns_and_refuses_text() {
        let body = serde_json::json!({"records": [
            {"requestId": "r1", "decision": "allowed", "findings": {"EMAIL": 1}, "extra": 1}
        ]});
        let kept = validate(body.to_string().as_bytes()).unwrap();
        assert_eq!(kept[0].0, "r1");
        assert!(
            kept[0].1.get("extra").is_none(),
            "unknown fields are dropped"
        );
        assert_eq!(kept[0].1["findings"]["EMAIL"], 1);

        let no_id = serde_json::json!({"records": [{"decision": "allowed"}]});
        let e = validate(no_id.to_string().as_bytes()).unwrap_err();
        assert!(e.to_string().contains("requestId"), "{e}");
        let text = serde_json::json!({"records": [{"requestId": "r2", "prompt": "hi"}]});
        let e = validate(text.to_string().as_bytes()).unwrap_err();
        assert!(e.to_string().contains("metadata only"), "{e}");
        let many = serde_json::json!({"records": vec![serde_json::json!({"requestId": "x"}); EVIDENCE_BATCH_MAX + 1]});
        assert!(validate(many.to_string().as_bytes()).is_err());
    }
}
