//! Training's tables in the one Certgate database: module progress, attempts (raw answers, seed,
//! bundle version), acknowledgements, exception/reset markers, and the outbox of xAPI
//! statements the sync sends. A write returns only after its transaction committed with a full
//! fsync: that is what "saved" means.

use certgate_store::rusqlite::{OptionalExtension, TransactionBehavior, params};
use certgate_store::{Database, Migration, Schema};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::ack::Acknowledgement;
use crate::error::{Error, Result};
use crate::model::Bundle;
use crate::quiz::{AttemptPlan, Fraction, Response, Score, grade, plan_attempt};
use crate::status::{
    AttemptOutcome, CertStatus, Reminder, TrackHistory, TrackRules, due_reminders,
};
use crate::xapi;

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "progress, attempts, acknowledgements, resets, reminders, outbox",
    sql: "
CREATE TABLE training_module_progress (
    module_id      TEXT PRIMARY KEY,
    module_version TEXT NOT NULL,
    position       INTEGER NOT NULL,
    completed_at   TEXT,
    updated_at     TEXT NOT NULL
);
CREATE TABLE training_attempts (
    id             TEXT PRIMARY KEY,
    track          TEXT NOT NULL,
    bundle_id      TEXT NOT NULL,
    bundle_version TEXT NOT NULL,
    bundle_sha256  TEXT NOT NULL,
    seed           TEXT NOT NULL,
    draw_count     INTEGER NOT NULL,
    responses      TEXT NOT NULL,
    raw_num        INTEGER NOT NULL,
    raw_den        INTEGER NOT NULL,
    max_score      INTEGER NOT NULL,
    passed         INTEGER NOT NULL,
    min_score_pct  REAL NOT NULL,
    started_at     TEXT NOT NULL,
    submitted_at   TEXT NOT NULL,
    verified       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX training_attempts_by_track ON training_attempts (track, submitted_at);
CREATE TABLE training_resets (
    id     INTEGER PRIMARY KEY,
    track  TEXT NOT NULL,
    at     TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE training_acknowledgements (
    id             TEXT PRIMARY KEY,
    ack_id         TEXT NOT NULL,
    version        TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    full_name      TEXT NOT NULL,
    signed_at      TEXT NOT NULL
);
CREATE TABLE training_reminder_checks (
    track      TEXT PRIMARY KEY,
    checked_at TEXT NOT NULL
);
CREATE TABLE training_outbox (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    statement  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at    TEXT
);
",
}];

/// Training's tables.
pub const SCHEMA: Schema = Schema {
    component: "training",
    migrations: MIGRATIONS,
};

/// Timestamps are stored as RFC 3339 UTC with milliseconds, so text order is time order.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::Corrupt(format!("timestamp {s:?}: {e}")))
}

/// Where the user is in one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleProgress {
    pub module_id: String,
    pub module_version: String,
    /// Section (or page) reached, 0-based: where reading resumes.
    pub position: u32,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// One submitted attempt, as stored and as the server re-grades it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRecord {
    /// Client-made UUID.
    pub id: String,
    pub track: String,
    pub bundle_id: String,
    pub bundle_version: String,
    /// The bundle's content hash (see [`Bundle::sha256`]).
    pub bundle_sha256: String,
    pub seed: u64,
    pub draw_count: u32,
    pub responses: Vec<Response>,
    pub score: Score,
    pub min_score_pct: f64,
    pub started_at: DateTime<Utc>,
    pub submitted_at: DateTime<Utc>,
    /// The server re-graded and confirmed it.
    pub verified: bool,
}

impl AttemptRecord {
    /// Grades `responses` to the attempt drawn with `seed` from `track`'s bank and builds the
    /// record to submit.
    pub fn grade(
        bundle: &Bundle,
        track: &str,
        rules: &TrackRules,
        seed: u64,
        responses: Vec<Response>,
        started_at: DateTime<Utc>,
        submitted_at: DateTime<Utc>,
    ) -> Result<Self> {
        let content = bundle
            .track(track)
            .ok_or_else(|| Error::UnknownTrack(track.to_owned()))?;
        let plan: AttemptPlan = plan_attempt(&content.bank, content.draw_count, seed);
        let score = grade(&content.bank, &plan, &responses, rules.min_score_pct)?;
        Ok(Self {
            id: crate::ids::uuid_v4()?,
            track: track.to_owned(),
            bundle_id: bundle.bundle_id.clone(),
            bundle_version: bundle.version.clone(),
            bundle_sha256: bundle.sha256.clone(),
            seed,
            draw_count: content.draw_count,
            responses,
            score,
            min_score_pct: rules.min_score_pct,
            started_at,
            submitted_at,
            verified: false,
        })
    }
}

/// A statement waiting to be sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    pub id: String,
    /// `attempt` or `acknowledgement`.
    pub kind: String,
    /// The attempt's or acknowledgement's id.
    pub subject_id: String,
    pub statement: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Training's records in an open database.
#[derive(Debug)]
pub struct Records {
    db: Database,
}

impl Records {
    /// Takes an open database and brings training's tables up to date.
    pub fn new(mut db: Database) -> Result<Self> {
        db.migrate(&SCHEMA)?;
        Ok(Self { db })
    }

    /// The database in the data directory (`CERTGATE_HOME` overrides it).
    pub fn open_default() -> Result<Self> {
        Self::new(Database::open_default()?)
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Saves where the user is in a module (upsert); completion, once set, is kept.
    pub fn save_progress(&mut self, p: &ModuleProgress) -> Result<()> {
        self.db.conn().execute(
            "INSERT INTO training_module_progress
                 (module_id, module_version, position, completed_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(module_id) DO UPDATE SET
                 module_version = excluded.module_version,
                 position = excluded.position,
                 completed_at = COALESCE(training_module_progress.completed_at, excluded.completed_at),
                 updated_at = excluded.updated_at",
            params![
                p.module_id,
                p.module_version,
                p.position,
                p.completed_at.map(ts),
                ts(p.updated_at)
            ],
        )?;
        Ok(())
    }

    pub fn progress(&self, module_id: &str) -> Result<Option<ModuleProgress>> {
        let row = self
            .db
            .conn()
            .query_row(
                "SELECT module_id, module_version, position, completed_at, updated_at
                 FROM training_module_progress WHERE module_id = ?1",
                [module_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, u32>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        row.map(
            |(module_id, module_version, position, completed, updated)| {
                Ok(ModuleProgress {
                    module_id,
                    module_version,
                    position,
                    completed_at: completed.as_deref().map(parse_ts).transpose()?,
                    updated_at: parse_ts(&updated)?,
                })
            },
        )
        .transpose()
    }

    /// Stores a graded attempt and its xAPI statement in one transaction, and returns only
    /// after the commit is durable. Submitting the same attempt id twice is refused by the
    /// primary key, so an attempt is never stored twice.
    pub fn submit_attempt(&mut self, a: &AttemptRecord) -> Result<()> {
        let statement_id = crate::ids::uuid_v4()?;
        let statement = xapi::attempt_statement(a, &statement_id);
        let responses = serde_json::to_string(&a.responses)
            .map_err(|e| Error::Corrupt(format!("responses: {e}")))?;
        let tx = self
            .db
            .conn_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO training_attempts (id, track, bundle_id, bundle_version, bundle_sha256,
                 seed, draw_count, responses, raw_num, raw_den, max_score, passed, min_score_pct,
                 started_at, submitted_at, verified)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                a.id,
                a.track,
                a.bundle_id,
                a.bundle_version,
                a.bundle_sha256,
                a.seed.to_string(),
                a.draw_count,
                responses,
                i64::try_from(a.score.raw.num).unwrap_or(i64::MAX),
                i64::try_from(a.score.raw.den).unwrap_or(i64::MAX),
                i64::try_from(a.score.max).unwrap_or(i64::MAX),
                a.score.passed,
                a.min_score_pct,
                ts(a.started_at),
                ts(a.submitted_at),
                a.verified,
            ],
        )?;
        tx.execute(
            "INSERT INTO training_outbox (id, kind, subject_id, statement, created_at)
             VALUES (?1, 'attempt', ?2, ?3, ?4)",
            params![
                statement_id,
                a.id,
                statement.to_string(),
                ts(a.submitted_at)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The attempts of `track`, oldest first, re-graded from their stored raw answers.
    pub fn attempts(&self, bundle: &Bundle, track: &str) -> Result<Vec<AttemptRecord>> {
        let mut stmt = self.db.conn().prepare(
            "SELECT id, bundle_id, bundle_version, bundle_sha256, seed, draw_count, responses,
                    raw_num, raw_den, max_score, passed, min_score_pct, started_at, submitted_at,
                    verified
             FROM training_attempts WHERE track = ?1 ORDER BY submitted_at, rowid",
        )?;
        let rows = stmt.query_map([track], |r| {
            Ok(StoredAttempt {
                id: r.get(0)?,
                bundle_id: r.get(1)?,
                bundle_version: r.get(2)?,
                bundle_sha256: r.get(3)?,
                seed: r.get(4)?,
                draw_count: r.get(5)?,
                responses: r.get(6)?,
                raw_num: r.get(7)?,
                raw_den: r.get(8)?,
                max: r.get(9)?,
                passed: r.get(10)?,
                min_score_pct: r.get(11)?,
                started_at: r.get(12)?,
                submitted_at: r.get(13)?,
                verified: r.get(14)?,
            })
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?.into_record(bundle, track)?);
        }
        Ok(out)
    }

    /// What [`crate::status::track_status`] needs for `track`.
    pub fn history(&self, bundle: &Bundle, track: &str) -> Result<TrackHistory> {
        let attempts = self
            .attempts(bundle, track)?
            .into_iter()
            .map(|a| AttemptOutcome {
                submitted_at: a.submitted_at,
                passed: a.score.passed,
                verified: a.verified,
            })
            .collect();
        let last_reset: Option<String> = self.db.conn().query_row(
            "SELECT MAX(at) FROM training_resets WHERE track = ?1",
            [track],
            |r| r.get(0),
        )?;
        let modules = bundle
            .track(track)
            .map(|t| t.modules.clone())
            .unwrap_or_default();
        let mut modules_started = false;
        for m in &modules {
            modules_started |= self.progress(m)?.is_some();
        }
        Ok(TrackHistory {
            attempts,
            last_reset: last_reset.as_deref().map(parse_ts).transpose()?,
            modules_started,
        })
    }

    /// Records that an exception or an admin reset unlocked `track`.
    pub fn record_reset(&mut self, track: &str, at: DateTime<Utc>, reason: &str) -> Result<()> {
        self.db.conn().execute(
            "INSERT INTO training_resets (track, at, reason) VALUES (?1, ?2, ?3)",
            params![track, ts(at), reason],
        )?;
        Ok(())
    }

    /// The server confirmed the attempt.
    pub fn mark_verified(&mut self, attempt_id: &str) -> Result<bool> {
        let n = self.db.conn().execute(
            "UPDATE training_attempts SET verified = 1 WHERE id = ?1",
            [attempt_id],
        )?;
        Ok(n == 1)
    }

    /// The reminder to show for `track` now, if one fell due since the previous call (the most
    /// urgent when several did, e.g. after weeks offline). Each fires once.
    pub fn take_reminder(
        &mut self,
        track: &str,
        status: &CertStatus,
        now: DateTime<Utc>,
    ) -> Result<Option<Reminder>> {
        let expires_at = match status {
            CertStatus::Passed { expires_at, .. } | CertStatus::Expiring { expires_at, .. } => {
                *expires_at
            }
            CertStatus::Expired { expired_at } => *expired_at,
            _ => return Ok(None),
        };
        let since: Option<String> = self
            .db
            .conn()
            .query_row(
                "SELECT checked_at FROM training_reminder_checks WHERE track = ?1",
                [track],
                |r| r.get(0),
            )
            .optional()?;
        let since = since
            .as_deref()
            .map(parse_ts)
            .transpose()?
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let due = due_reminders(expires_at, since, now).pop();
        self.db.conn().execute(
            "INSERT INTO training_reminder_checks (track, checked_at) VALUES (?1, ?2)
             ON CONFLICT(track) DO UPDATE SET checked_at = excluded.checked_at",
            params![track, ts(now)],
        )?;
        Ok(due)
    }

    /// Stores a signature and its xAPI statement in one transaction.
    pub fn save_acknowledgement(&mut self, a: &Acknowledgement) -> Result<()> {
        let statement_id = crate::ids::uuid_v4()?;
        let statement = xapi::acknowledgement_statement(a, &statement_id);
        let tx = self
            .db
            .conn_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO training_acknowledgements
                 (id, ack_id, version, content_sha256, full_name, signed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                a.id,
                a.ack_id,
                a.version,
                a.content_sha256,
                a.full_name,
                ts(a.signed_at)
            ],
        )?;
        tx.execute(
            "INSERT INTO training_outbox (id, kind, subject_id, statement, created_at)
             VALUES (?1, 'acknowledgement', ?2, ?3, ?4)",
            params![statement_id, a.id, statement.to_string(), ts(a.signed_at)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The latest signature of the page `ack_id`, any version.
    pub fn latest_acknowledgement(&self, ack_id: &str) -> Result<Option<Acknowledgement>> {
        let row = self
            .db
            .conn()
            .query_row(
                "SELECT id, version, content_sha256, full_name, signed_at
                 FROM training_acknowledgements WHERE ack_id = ?1
                 ORDER BY signed_at DESC, rowid DESC LIMIT 1",
                [ack_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(id, version, content_sha256, full_name, signed_at)| {
            Ok(Acknowledgement {
                id,
                ack_id: ack_id.to_owned(),
                version,
                content_sha256,
                full_name,
                signed_at: parse_ts(&signed_at)?,
            })
        })
        .transpose()
    }

    /// Statements not yet sent, oldest first.
    pub fn pending_outbox(&self) -> Result<Vec<OutboxItem>> {
        let mut stmt = self.db.conn().prepare(
            "SELECT id, kind, subject_id, statement, created_at FROM training_outbox
             WHERE sent_at IS NULL ORDER BY created_at, rowid",
        )?;
        let rows = stmt.query_map([], |r| {
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
            let (id, kind, subject_id, statement, created_at) = row?;
            out.push(OutboxItem {
                id,
                kind,
                subject_id,
                statement: serde_json::from_str(&statement)
                    .map_err(|e| Error::Corrupt(format!("outbox statement: {e}")))?,
                created_at: parse_ts(&created_at)?,
            });
        }
        Ok(out)
    }

    /// The sync delivered these statements.
    pub fn mark_sent(&mut self, ids: &[String], at: DateTime<Utc>) -> Result<()> {
        let tx = self.db.conn_mut().transaction()?;
        for id in ids {
            tx.execute(
                "UPDATE training_outbox SET sent_at = ?2 WHERE id = ?1",
                params![id, ts(at)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// A row of `training_attempts` as read.
struct StoredAttempt {
    id: String,
    bundle_id: String,
    bundle_version: String,
    bundle_sha256: String,
    seed: String,
    draw_count: u32,
    responses: String,
    raw_num: i64,
    raw_den: i64,
    max: i64,
    passed: bool,
    min_score_pct: f64,
    started_at: String,
    submitted_at: String,
    verified: bool,
}

impl StoredAttempt {
    fn into_record(self, bundle: &Bundle, track: &str) -> Result<AttemptRecord> {
        let corrupt = |what: &str| Error::Corrupt(format!("attempt {}: {what}", self.id));
        let seed: u64 = self.seed.parse().map_err(|_| corrupt("seed"))?;
        let responses: Vec<Response> =
            serde_json::from_str(&self.responses).map_err(|_| corrupt("responses"))?;
        // The stored outcome is what the user was told; the per-question detail is re-derived
        // when the attempt's bundle is the one loaded.
        let per_question = match bundle.track(track) {
            Some(content) if bundle.sha256 == self.bundle_sha256 => {
                let plan = plan_attempt(&content.bank, self.draw_count, seed);
                grade(&content.bank, &plan, &responses, self.min_score_pct)
                    .map(|s| s.per_question)
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let raw = Fraction::new(
            u64::try_from(self.raw_num).map_err(|_| corrupt("score"))?,
            u64::try_from(self.raw_den).map_err(|_| corrupt("score"))?,
        );
        let max = u64::try_from(self.max).map_err(|_| corrupt("score"))?;
        #[allow(clippy::cast_precision_loss)]
        let pct = if max == 0 {
            0.0
        } else {
            (raw.as_f64() * 10_000.0 / max as f64).round() / 100.0
        };
        Ok(AttemptRecord {
            track: track.to_owned(),
            bundle_id: self.bundle_id,
            bundle_version: self.bundle_version,
            bundle_sha256: self.bundle_sha256,
            seed,
            draw_count: self.draw_count,
            responses,
            score: Score {
                raw,
                max,
                pct,
                passed: self.passed,
                per_question,
            },
            min_score_pct: self.min_score_pct,
            started_at: parse_ts(&self.started_at)?,
            submitted_at: parse_ts(&self.submitted_at)?,
            verified: self.verified,
            id: self.id,
        })
    }
}

#[cfg(test)]
mod tests;
