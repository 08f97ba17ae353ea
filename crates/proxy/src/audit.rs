//! Evidence: one metadata-only record per request in SQLite, each row chained to the previous
//! by SHA-256 so an edited, inserted or deleted row is detected. Approvals are appended as their
//! own chained rows (the log is never updated in place) and folded into the request's
//! `approvalOutcome` on export. Purging keeps an anchor (the last purged row's hash) so the
//! chain still verifies afterwards.
//!
//! Writes go through one writer thread that batches rows into a transaction, so the request
//! path never waits on an fsync.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::mpsc;

use certgate_store::rusqlite::{self, OptionalExtension, params};
use certgate_store::{Database, Migration, Schema};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The audit tables.
pub const SCHEMA: Schema = Schema {
    component: "audit",
    migrations: &[
        Migration {
            version: 1,
            name: "hash-chained audit log",
            sql: "CREATE TABLE audit_log (
                seq INTEGER PRIMARY KEY,
                kind TEXT NOT NULL,
                request_id TEXT NOT NULL,
                ts TEXT NOT NULL,
                record TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL
              );
              CREATE INDEX audit_log_request ON audit_log(request_id);
              CREATE TABLE audit_anchor (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                purged_seq INTEGER NOT NULL,
                purged_hash TEXT NOT NULL,
                head_seq INTEGER NOT NULL,
                head_hash TEXT NOT NULL
              );
              INSERT INTO audit_anchor VALUES (1, 0, '', 0, '');",
        },
        Migration {
            version: 2,
            name: "upload cursor",
            // Kept apart from the chain: uploading never edits a chained row.
            sql: "CREATE TABLE audit_upload (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    last_seq INTEGER NOT NULL
                  );
                  INSERT INTO audit_upload VALUES (1, 0);",
        },
    ],
};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One request's evidence. Metadata only: never prompt text, answers or found values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub request_id: String,
    pub timestamp: Option<String>,
    pub user_id: Option<String>,
    pub user_type: Option<String>,
    pub vendor_org: Option<String>,
    pub tool_surface: Option<String>,
    pub retrieval_sources: Option<Vec<String>>,
    pub confidence_score: Option<f64>,
    /// `pending`, `approved`, `rejected`, `not_required`, `not_assessed`.
    pub approval_outcome: Option<String>,
    /// `allowed`, `denied`, `blocked`, `refused`, `error`, `cancelled`.
    pub decision: String,
    /// Failed checks (`condition:devicePosture`, `region`…) or the error kind.
    pub reasons: Vec<String>,
    /// Finding counts by type.
    pub findings: BTreeMap<String, u32>,
    pub track: Option<String>,
    pub model: Option<String>,
    pub region: Option<String>,
    pub route: String,
    pub status: u16,
    pub streamed: bool,
    pub latency_ms: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub tool_calls_removed: u32,
    pub via_exception: bool,
    /// Monitoring rules this request tripped (`repeated-low-confidence-usage`).
    pub flags: Vec<String>,
}

/// The export columns, in order: the policy's `promptLogging.fields`, then the decision. The
/// org server exports uploaded records with the same columns.
pub const EXPORT_COLUMNS: &[&str] = certgate_credentials::wire::EVIDENCE_COLUMNS;

/// The result of recording an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalResult {
    Recorded,
    /// No request with that id awaits approval.
    NotPending,
}

enum Command {
    Record(Box<AuditRecord>),
    Approve {
        request_id: String,
        outcome: String,
        reply: tokio::sync::oneshot::Sender<Result<ApprovalResult>>,
    },
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// How long the writer waits for more records to commit with the first one.
const LINGER: std::time::Duration = std::time::Duration::from_millis(5);

/// Handle to the audit writer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

fn hash_row(prev: &str, seq: i64, kind: &str, request_id: &str, ts: &str, record: &str) -> String {
    let mut h = Sha256::new();
    for part in [prev, &seq.to_string(), kind, request_id, ts, record] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

struct Chain {
    head_seq: i64,
    head_hash: String,
}

impl Chain {
    fn append(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        kind: &str,
        request_id: &str,
        ts: &str,
        record: &str,
    ) -> Result<()> {
        let seq = self.head_seq + 1;
        let hash = hash_row(&self.head_hash, seq, kind, request_id, ts, record);
        // Cached: one statement prepared per connection, not one SQL parse per row.
        tx.prepare_cached(
            "INSERT INTO audit_log (seq, kind, request_id, ts, record, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            seq,
            kind,
            request_id,
            ts,
            record,
            self.head_hash,
            hash
        ])?;
        self.head_seq = seq;
        self.head_hash = hash;
        Ok(())
    }
}

type Reply = (
    tokio::sync::oneshot::Sender<Result<ApprovalResult>>,
    ApprovalResult,
);

struct Writer {
    db: Database,
    chain: Chain,
}

impl Writer {
    fn open(mut db: Database) -> Result<Self> {
        db.migrate(&SCHEMA)?;
        // The log is appended to, never scanned here: a small page cache is enough, and the
        // default (2 MB) stays resident for good once a burst has filled it.
        db.conn().pragma_update(None, "cache_size", -256)?;
        let (purged_seq, purged_hash, head_seq, head_hash): (i64, String, i64, String) =
            db.conn().query_row(
                "SELECT purged_seq, purged_hash, head_seq, head_hash FROM audit_anchor WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
        let (head_seq, head_hash) = if head_seq > 0 {
            (head_seq, head_hash)
        } else if purged_seq > 0 {
            (purged_seq, purged_hash)
        } else {
            (0, GENESIS.to_owned())
        };
        Ok(Self {
            db,
            chain: Chain {
                head_seq,
                head_hash,
            },
        })
    }

    fn apply(&mut self, cmds: Vec<Command>, replies: &mut Vec<Reply>) -> Result<()> {
        let tx = self.db.conn_mut().transaction()?;
        for cmd in cmds {
            match cmd {
                Command::Record(rec) => {
                    let ts = rec.timestamp.clone().unwrap_or_else(now_text);
                    let json = serde_json::to_string(&rec).map_err(|_| Error::Record { seq: 0 })?;
                    self.chain
                        .append(&tx, "request", &rec.request_id, &ts, &json)?;
                }
                Command::Approve {
                    request_id,
                    outcome,
                    reply,
                } => {
                    let pending = approval_state(&tx, &request_id)?.as_deref() == Some("pending");
                    if pending {
                        let json = serde_json::json!({"requestId": request_id, "outcome": outcome})
                            .to_string();
                        self.chain
                            .append(&tx, "approval", &request_id, &now_text(), &json)?;
                        replies.push((reply, ApprovalResult::Recorded));
                    } else {
                        replies.push((reply, ApprovalResult::NotPending));
                    }
                }
                Command::Flush(_) => {}
            }
        }
        tx.execute(
            "UPDATE audit_anchor SET head_seq = ?1, head_hash = ?2 WHERE id = 1",
            params![self.chain.head_seq, self.chain.head_hash],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn batch(&mut self, mut cmds: Vec<Command>) -> Result<()> {
        let saved = (self.chain.head_seq, self.chain.head_hash.clone());
        let mut flushes = Vec::new();
        cmds.retain_mut(|c| match c {
            Command::Flush(_) => {
                if let Command::Flush(done) =
                    std::mem::replace(c, Command::Flush(tokio::sync::oneshot::channel().0))
                {
                    flushes.push(done);
                }
                false
            }
            _ => true,
        });
        let mut replies = Vec::new();
        let result = self.apply(cmds, &mut replies);
        if result.is_err() {
            (self.chain.head_seq, self.chain.head_hash) = saved;
        }
        for (reply, r) in replies {
            let _ = reply.send(match &result {
                Ok(()) => Ok(r),
                Err(_) => Err(Error::AuditClosed),
            });
        }
        for f in flushes {
            let _ = f.send(());
        }
        result
    }

    /// Deletes rows older than `retention_days`, moving the anchor to the last deleted row.
    fn purge(&mut self, retention_days: u32, now: DateTime<Utc>) -> Result<u64> {
        let cutoff = (now - Duration::days(i64::from(retention_days)))
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let tx = self.db.conn_mut().transaction()?;
        // Only a prefix of the chain is purged, so the rest still links to the anchor.
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM audit_log WHERE seq <= (
                   SELECT COALESCE(MIN(seq), (SELECT MAX(seq) + 1 FROM audit_log)) - 1
                   FROM audit_log WHERE ts >= ?1)
                 ORDER BY seq DESC LIMIT 1",
                params![cutoff],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((seq, hash)) = last else {
            return Ok(0);
        };
        let n = tx.execute("DELETE FROM audit_log WHERE seq <= ?1", params![seq])?;
        tx.execute(
            "UPDATE audit_anchor SET purged_seq = ?1, purged_hash = ?2 WHERE id = 1",
            params![seq, hash],
        )?;
        tx.commit()?;
        Ok(n as u64)
    }
}

impl AuditLog {
    /// Opens the audit tables in `db` (migrating them), purges rows older than
    /// `retention_days` and starts the writer thread.
    pub fn open(db: Database, retention_days: u32) -> Result<Self> {
        let mut writer = Writer::open(db)?;
        let purged = writer.purge(retention_days, Utc::now())?;
        if purged > 0 {
            tracing::info!(purged, "audit rows past retention purged");
        }
        let (tx, rx) = mpsc::channel::<Command>();
        std::thread::Builder::new()
            .name("certgate-audit".to_owned())
            .spawn(move || {
                let mut last_purge = Utc::now();
                while let Ok(first) = rx.recv() {
                    // Group commit: records arriving within LINGER of the first share one
                    // transaction (one fsync) instead of one each under load. A flush or an
                    // approval, which someone waits for, ends the wait at once.
                    let deadline = std::time::Instant::now() + LINGER;
                    let mut waited_for = !matches!(first, Command::Record(_));
                    let mut cmds = vec![first];
                    while cmds.len() < 1024 {
                        let next = if waited_for {
                            rx.try_recv().ok()
                        } else {
                            let left =
                                deadline.saturating_duration_since(std::time::Instant::now());
                            rx.recv_timeout(left).ok()
                        };
                        let Some(c) = next else { break };
                        waited_for |= !matches!(c, Command::Record(_));
                        cmds.push(c);
                    }
                    if let Err(e) = writer.batch(cmds) {
                        tracing::error!(error = %e, "audit batch failed; records lost");
                    }
                    if Utc::now() - last_purge > Duration::hours(24) {
                        last_purge = Utc::now();
                        if let Err(e) = writer.purge(retention_days, last_purge) {
                            tracing::error!(error = %e, "audit purge failed");
                        }
                    }
                }
            })
            .map_err(Error::Runtime)?;
        Ok(Self { tx })
    }

    /// Queues one record.
    pub fn record(&self, rec: AuditRecord) {
        if self.tx.send(Command::Record(Box::new(rec))).is_err() {
            tracing::error!("audit writer stopped; a record was lost");
        }
    }

    /// Records a human's decision on a flagged answer.
    pub async fn approve(&self, request_id: &str, outcome: &str) -> Result<ApprovalResult> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Command::Approve {
                request_id: request_id.to_owned(),
                outcome: outcome.to_owned(),
                reply,
            })
            .map_err(|_| Error::AuditClosed)?;
        rx.await.map_err(|_| Error::AuditClosed)?
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) -> Result<()> {
        let (done, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Command::Flush(done))
            .map_err(|_| Error::AuditClosed)?;
        rx.await.map_err(|_| Error::AuditClosed)
    }
}

/// What `certgate audit verify` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub ok: bool,
    pub rows: u64,
    /// Rows purged before the first one present (the anchor).
    pub anchored_at: i64,
    /// Every break found: `row 12: hash does not match its content`.
    pub problems: Vec<String>,
}

/// Recomputes the chain from the anchor to the head.
pub fn verify(conn: &rusqlite::Connection) -> Result<VerifyReport> {
    let (purged_seq, purged_hash, head_seq, head_hash): (i64, String, i64, String) = conn
        .query_row(
            "SELECT purged_seq, purged_hash, head_seq, head_hash FROM audit_anchor WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
    let mut expect_seq = purged_seq + 1;
    let mut prev = if purged_seq > 0 {
        purged_hash
    } else {
        GENESIS.to_owned()
    };
    let mut problems = Vec::new();
    let mut rows = 0;
    let mut stmt = conn.prepare(
        "SELECT seq, kind, request_id, ts, record, prev_hash, hash FROM audit_log ORDER BY seq",
    )?;
    let mut q = stmt.query([])?;
    while let Some(r) = q.next()? {
        let seq: i64 = r.get(0)?;
        let (kind, rid, ts, record, prev_hash, hash): (
            String,
            String,
            String,
            String,
            String,
            String,
        ) = (
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        );
        rows += 1;
        if seq != expect_seq {
            problems.push(format!(
                "rows {expect_seq}..{} are missing (deleted)",
                seq - 1
            ));
        }
        if prev_hash != prev {
            problems.push(format!("row {seq}: does not link to the row before it"));
        }
        if hash_row(&prev_hash, seq, &kind, &rid, &ts, &record) != hash {
            problems.push(format!(
                "row {seq}: hash does not match its content (edited)"
            ));
        }
        prev = hash;
        expect_seq = seq + 1;
    }
    if head_seq > 0 && (expect_seq - 1 != head_seq || prev != head_hash) {
        problems.push(format!(
            "the log ends at row {} but the recorded head is row {head_seq} (rows removed from the end)",
            expect_seq - 1
        ));
    }
    Ok(VerifyReport {
        ok: problems.is_empty(),
        rows,
        anchored_at: purged_seq,
        problems,
    })
}

/// Export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    JsonLines,
    Csv,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Writes every request record (approvals folded in) with [`EXPORT_COLUMNS`].
pub fn export(
    conn: &rusqlite::Connection,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64> {
    let approvals = approvals(conn)?;
    if format == ExportFormat::Csv {
        writeln!(out, "{}", EXPORT_COLUMNS.join(","))?;
    }
    let mut stmt =
        conn.prepare("SELECT seq, record FROM audit_log WHERE kind = 'request' ORDER BY seq")?;
    let mut q = stmt.query([])?;
    let mut n = 0;
    while let Some(r) = q.next()? {
        let seq: i64 = r.get(0)?;
        let rec: String = r.get(1)?;
        let mut v: serde_json::Value =
            serde_json::from_str(&rec).map_err(|_| Error::Record { seq })?;
        let id = v["requestId"].as_str().unwrap_or_default().to_owned();
        if let Some(o) = approvals.get(&id) {
            v["approvalOutcome"] = serde_json::Value::String(o.clone());
        }
        match format {
            ExportFormat::JsonLines => {
                let mut obj = serde_json::Map::new();
                for c in EXPORT_COLUMNS {
                    obj.insert((*c).to_owned(), v.get(*c).cloned().unwrap_or_default());
                }
                writeln!(out, "{}", serde_json::Value::Object(obj))?;
            }
            ExportFormat::Csv => {
                let cells: Vec<String> = EXPORT_COLUMNS
                    .iter()
                    .map(|c| match v.get(*c) {
                        None | Some(serde_json::Value::Null) => String::new(),
                        Some(serde_json::Value::String(s)) => csv_field(s),
                        Some(serde_json::Value::Array(a)) => csv_field(
                            &a.iter()
                                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                                .collect::<Vec<_>>()
                                .join(";"),
                        ),
                        Some(other) => csv_field(&other.to_string()),
                    })
                    .collect();
                writeln!(out, "{}", cells.join(","))?;
            }
        }
        n += 1;
    }
    Ok(n)
}

/// Request id → the latest approval outcome recorded for it.
fn approvals(conn: &rusqlite::Connection) -> Result<HashMap<String, String>> {
    let mut approvals = HashMap::new();
    let mut stmt =
        conn.prepare("SELECT record FROM audit_log WHERE kind = 'approval' ORDER BY seq")?;
    let mut q = stmt.query([])?;
    while let Some(r) = q.next()? {
        let rec: String = r.get(0)?;
        let v: serde_json::Value = serde_json::from_str(&rec).unwrap_or_default();
        if let (Some(id), Some(o)) = (v["requestId"].as_str(), v["outcome"].as_str()) {
            approvals.insert(id.to_owned(), o.to_owned());
        }
    }
    Ok(approvals)
}

/// The newest `limit` request records, newest first, approvals folded in (the app's Activity).
pub fn recent(conn: &rusqlite::Connection, limit: usize) -> Result<Vec<AuditRecord>> {
    let approvals = approvals(conn)?;
    let mut stmt = conn.prepare(
        "SELECT seq, record FROM audit_log WHERE kind = 'request' ORDER BY seq DESC LIMIT ?1",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut q = stmt.query(params![limit])?;
    let mut out = Vec::new();
    while let Some(r) = q.next()? {
        let seq: i64 = r.get(0)?;
        let rec: String = r.get(1)?;
        let mut record: AuditRecord =
            serde_json::from_str(&rec).map_err(|_| Error::Record { seq })?;
        if let Some(o) = approvals.get(&record.request_id) {
            record.approval_outcome = Some(o.clone());
        }
        out.push(record);
    }
    Ok(out)
}

/// The upload cursor: every row up to this seq is held by the org server.
pub fn uploaded_through(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(
        conn.query_row("SELECT last_seq FROM audit_upload WHERE id = 1", [], |r| {
            r.get(0)
        })?,
    )
}

/// Up to `limit` records the org server does not hold yet, oldest first, each with the seq to
/// pass to [`mark_uploaded`] once it (and everything before it) is delivered. A request row
/// gives its record with approvals folded in as [`export`] does. An approval for a request
/// already uploaded gives that request's record again with the decided outcome (the server
/// replaces a `pending` one); an approval whose request is in the same batch is folded in
/// there and moves that record's seq past it.
pub fn pending_upload(
    conn: &rusqlite::Connection,
    limit: usize,
) -> Result<Vec<(i64, serde_json::Value)>> {
    let cursor = uploaded_through(conn)?;
    let approvals = approvals(conn)?;
    let mut out: Vec<(i64, serde_json::Value)> = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT seq, kind, request_id, record FROM audit_log WHERE seq > ?1 ORDER BY seq",
    )?;
    let mut q = stmt.query(params![cursor])?;
    while let Some(r) = q.next()? {
        let seq: i64 = r.get(0)?;
        let kind: String = r.get(1)?;
        let request_id: String = r.get(2)?;
        let record = if kind == "request" {
            let rec: String = r.get(3)?;
            Some(
                serde_json::from_str::<serde_json::Value>(&rec)
                    .map_err(|_| Error::Record { seq })?,
            )
        } else {
            // The request row, when it was uploaded before this approval (and not purged).
            let earlier: Option<(i64, String)> = conn
                .prepare_cached(
                    "SELECT seq, record FROM audit_log
                     WHERE kind = 'request' AND request_id = ?1 ORDER BY seq DESC LIMIT 1",
                )?
                .query_row(params![request_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match earlier {
                Some((req_seq, rec)) if req_seq <= cursor => Some(
                    serde_json::from_str::<serde_json::Value>(&rec)
                        .map_err(|_| Error::Record { seq: req_seq })?,
                ),
                _ => None,
            }
        };
        match record {
            Some(mut v) => {
                if out.len() == limit {
                    break;
                }
                if let Some(o) = approvals.get(&request_id) {
                    v["approvalOutcome"] = serde_json::Value::String(o.clone());
                }
                out.push((seq, v));
            }
            // Nothing to send for this row; the record before it covers it.
            None => {
                if let Some(last) = out.last_mut() {
                    last.0 = seq;
                }
            }
        }
    }
    Ok(out)
}

/// Moves the upload cursor to `seq` (never backwards: a late or repeated mark is harmless).
pub fn mark_uploaded(conn: &rusqlite::Connection, seq: i64) -> Result<()> {
    conn.execute(
        "UPDATE audit_upload SET last_seq = MAX(last_seq, ?1) WHERE id = 1",
        params![seq],
    )?;
    Ok(())
}

/// The request record with id `request_id`, approvals folded in.
pub fn find(conn: &rusqlite::Connection, request_id: &str) -> Result<Option<AuditRecord>> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, record FROM audit_log WHERE kind = 'request' AND request_id = ?1",
            params![request_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((seq, rec)) = row else {
        return Ok(None);
    };
    let mut record: AuditRecord = serde_json::from_str(&rec).map_err(|_| Error::Record { seq })?;
    if let Some(outcome) = approval_state(conn, request_id)? {
        record.approval_outcome = Some(outcome);
    }
    Ok(Some(record))
}

/// Requests since `since`: how many, and how many were not let through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub requests: u64,
    pub refused: u64,
}

/// Counts request records written at or after `since`.
pub fn counts_since(conn: &rusqlite::Connection, since: DateTime<Utc>) -> Result<Counts> {
    let since = since.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut stmt = conn
        .prepare("SELECT record FROM audit_log WHERE kind = 'request' AND ts >= ?1 ORDER BY seq")?;
    let mut q = stmt.query(params![since])?;
    let mut counts = Counts::default();
    while let Some(r) = q.next()? {
        let rec: String = r.get(0)?;
        let v: serde_json::Value = serde_json::from_str(&rec).unwrap_or_default();
        counts.requests += 1;
        if v["decision"].as_str() != Some("allowed") {
            counts.refused += 1;
        }
    }
    Ok(counts)
}

fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The approval state of a request: its record's outcome, overridden by later approvals.
fn approval_state(conn: &rusqlite::Connection, request_id: &str) -> Result<Option<String>> {
    let mut stmt = conn
        .prepare_cached("SELECT kind, record FROM audit_log WHERE request_id = ?1 ORDER BY seq")?;
    let mut rows = stmt.query(params![request_id])?;
    let mut state = None;
    while let Some(row) = rows.next()? {
        let kind: String = row.get(0)?;
        let record: String = row.get(1)?;
        let v: serde_json::Value = serde_json::from_str(&record).unwrap_or_default();
        let field = if kind == "approval" {
            "outcome"
        } else {
            "approvalOutcome"
        };
        if let Some(s) = v.get(field).and_then(|x| x.as_str()) {
            state = Some(s.to_owned());
        }
    }
    Ok(state)
}
#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, ts: &str, approval: &str) -> AuditRecord {
        AuditRecord {
            request_id: id.to_owned(),
            timestamp: Some(ts.to_owned()),
            user_id: Some("u1".into()),
            approval_outcome: Some(approval.to_owned()),
            decision: "allowed".into(),
            route: "/v1/chat/completions".into(),
            status: 200,
            findings: [("EMAIL".to_owned(), 2)].into(),
            ..AuditRecord::default()
        }
    }

    #[tokio::test]
    async fn recent_is_newest_first_with_approvals_and_counts_only_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certgate.db");
        let log = AuditLog::open(Database::open(&path).unwrap(), 365).unwrap();
        let old = (Utc::now() - Duration::days(3)).to_rfc3339_opts(SecondsFormat::Millis, true);
        log.record(rec("old", &old, "not_required"));
        log.record(rec("waits", &now_text(), "pending"));
        log.record(AuditRecord {
            decision: "blocked".into(),
            status: 422,
            ..rec("blocked", &now_text(), "not_required")
        });
        log.flush().await.unwrap();
        log.approve("waits", "approved").await.unwrap();
        drop(log);

        let db = Database::open(&path).unwrap();
        let newest: Vec<_> = recent(db.conn(), 2)
            .unwrap()
            .into_iter()
            .map(|r| (r.request_id, r.approval_outcome.unwrap_or_default()))
            .collect();
        assert_eq!(
            newest,
            [
                ("blocked".to_owned(), "not_required".to_owned()),
                ("waits".to_owned(), "approved".to_owned())
            ]
        );
        let waits = find(db.conn(), "waits").unwrap().unwrap();
        assert_eq!(waits.approval_outcome.as_deref(), Some("approved"));
        assert!(find(db.conn(), "no-such-request").unwrap().is_none());
        let today = counts_since(db.conn(), Utc::now() - Duration::hours(1)).unwrap();
        assert_eq!(
            today,
            Counts {
                requests: 2,
                refused: 1
            }
        );
        let week = counts_since(db.conn(), Utc::now() - Duration::days(7)).unwrap();
        assert_eq!(week.requests, 3);
    }

    #[tokio::test]
    async fn chain_detects_edits_and_deletions_and_survives_purge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certgate.db");
        let log = AuditLog::open(Database::open(&path).unwrap(), 30).unwrap();
        let old = (Utc::now() - Duration::days(40)).to_rfc3339_opts(SecondsFormat::Millis, true);
        let new = now_text();
        log.record(rec("r1", &old, "not_required"));
        log.record(rec("r2", &old, "not_required"));
        log.record(rec("r3", &new, "pending"));
        log.record(rec("r4", &new, "not_required"));
        log.flush().await.unwrap();
        assert_eq!(
            log.approve("r3", "approved").await.unwrap(),
            ApprovalResult::Recorded
        );
        assert_eq!(
            log.approve("r3", "rejected").await.unwrap(),
            ApprovalResult::NotPending,
            "an approval is final"
        );
        assert_eq!(
            log.approve("r4", "approved").await.unwrap(),
            ApprovalResult::NotPending
        );
        drop(log);

        let db = Database::open(&path).unwrap();
        let r = verify(db.conn()).unwrap();
        assert!(r.ok && r.rows == 5, "{r:?}");

        let mut csv = Vec::new();
        export(db.conn(), ExportFormat::Csv, &mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert!(csv.starts_with("timestamp,userId,"));
        let r3 = csv.lines().find(|l| l.contains(",r3,")).unwrap();
        assert!(r3.contains(",approved,"), "approval folded in: {r3}");
        let mut jl = Vec::new();
        assert_eq!(
            export(db.conn(), ExportFormat::JsonLines, &mut jl).unwrap(),
            4
        );

        db.conn()
            .execute(
                "UPDATE audit_log SET record = replace(record, 'u1', 'u2') WHERE seq = 2",
                [],
            )
            .unwrap();
        let r = verify(db.conn()).unwrap();
        assert!(
            !r.ok && r.problems.iter().any(|p| p.contains("row 2")),
            "{r:?}"
        );
        db.conn()
            .execute("DELETE FROM audit_log WHERE seq = 2", [])
            .unwrap();
        let r = verify(db.conn()).unwrap();
        assert!(r.problems.iter().any(|p| p.contains("missing")), "{r:?}");
        drop(db);

        // Purge from a clean chain: the two 40-day-old rows go, the rest still verifies.
        let dir2 = tempfile::tempdir().unwrap();
        let path2 = dir2.path().join("certgate.db");
        let log = AuditLog::open(Database::open(&path2).unwrap(), 30).unwrap();
        log.record(rec("r1", &old, "not_required"));
        log.record(rec("r2", &old, "not_required"));
        log.record(rec("r3", &new, "not_required"));
        log.flush().await.unwrap();
        drop(log);
        let log = AuditLog::open(Database::open(&path2).unwrap(), 30).unwrap();
        log.record(rec("r4", &new, "not_required"));
        log.flush().await.unwrap();
        drop(log);
        let db = Database::open(&path2).unwrap();
        let r = verify(db.conn()).unwrap();
        assert!(r.ok, "{r:?}");
        assert_eq!((r.rows, r.anchored_at), (2, 2));
        db.conn()
            .execute("DELETE FROM audit_log WHERE seq = 4", [])
            .unwrap();
        assert!(!verify(db.conn()).unwrap().ok, "tail deletion detected");
    }

    #[tokio::test]
    async fn upload_cursor_gives_each_record_once_and_late_approvals_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certgate.db");
        let log = AuditLog::open(Database::open(&path).unwrap(), 365).unwrap();
        for id in ["a", "b", "c"] {
            log.record(rec(id, &now_text(), "pending"));
        }
        log.flush().await.unwrap();
        let db = Database::open(&path).unwrap();
        let ids = |v: &[(i64, serde_json::Value)]| -> Vec<String> {
            v.iter()
                .map(|(_, r)| r["requestId"].as_str().unwrap().to_owned())
                .collect()
        };

        let first = pending_upload(db.conn(), 2).unwrap();
        assert_eq!(ids(&first), ["a", "b"], "oldest first, at most the limit");
        assert_eq!(
            ids(&pending_upload(db.conn(), 2).unwrap()),
            ["a", "b"],
            "nothing moves until delivery is marked"
        );
        mark_uploaded(db.conn(), first[1].0).unwrap();
        mark_uploaded(db.conn(), first[0].0).unwrap();
        assert_eq!(
            uploaded_through(db.conn()).unwrap(),
            first[1].0,
            "monotonic"
        );

        // "b" was uploaded as pending; its approval sends it again, decided. "c" is approved
        // before its first upload: sent once, decided, and its approval row is covered.
        log.approve("b", "approved").await.unwrap();
        log.approve("c", "rejected").await.unwrap();
        log.record(rec("d", &now_text(), "not_required"));
        log.flush().await.unwrap();
        let rest = pending_upload(db.conn(), 10).unwrap();
        assert_eq!(ids(&rest), ["c", "b", "d"]);
        assert_eq!(rest[0].1["approvalOutcome"], "rejected");
        assert_eq!(rest[1].1["approvalOutcome"], "approved");
        for (_, r) in &rest {
            assert!(
                r.get("messages").is_none() && r.get("prompt").is_none(),
                "metadata only: {r}"
            );
        }
        mark_uploaded(db.conn(), rest.last().unwrap().0).unwrap();
        assert!(pending_upload(db.conn(), 10).unwrap().is_empty());
        assert!(
            verify(db.conn()).unwrap().ok,
            "uploading never touches the chain"
        );
    }
}
