//! The server's tables (store component `server`) and the audit trail every change writes.

use certgate_store::rusqlite::{Connection, params};
use certgate_store::{Migration, Schema};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::Result;

pub const SCHEMA: Schema = Schema {
    component: "server",
    migrations: &[
    Migration {
        version: 1,
        name: "users, devices, statements, certifications, tokens, idp, exceptions, audit",
        sql: "
CREATE TABLE server_users (
    id          TEXT PRIMARY KEY,
    user_type   TEXT NOT NULL,
    vendor_org  TEXT NOT NULL,
    region      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE server_enrolment_codes (
    code_hash   TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    user_type   TEXT NOT NULL,
    vendor_org  TEXT NOT NULL,
    region      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    device_id   TEXT
);
CREATE TABLE server_devices (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES server_users(id),
    public_key   TEXT NOT NULL,
    jkt          TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    enrolled_at  TEXT NOT NULL,
    last_counter INTEGER,
    posture      TEXT,
    posture_at   TEXT
);
CREATE TABLE server_statements (
    id          TEXT PRIMARY KEY,
    body_hash   TEXT NOT NULL,
    body        TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    track       TEXT,
    attempt_id  TEXT,
    score_pct   REAL,
    passed      INTEGER,
    outcome     TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX server_statements_attempts ON server_statements(user_id, track) WHERE track IS NOT NULL;
CREATE TABLE server_leases (
    user_id    TEXT NOT NULL,
    track      TEXT NOT NULL,
    attempt_id TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    leased_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, track)
);
CREATE TABLE server_certifications (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        TEXT NOT NULL,
    track          TEXT NOT NULL,
    score_pct      REAL NOT NULL,
    modules        TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    statement_id   TEXT NOT NULL,
    passed_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    ended_at       TEXT,
    end_reason     TEXT
);
CREATE INDEX server_certifications_user ON server_certifications(user_id, track);
CREATE TABLE server_tokens (
    jti              TEXT PRIMARY KEY,
    certification_id INTEGER NOT NULL REFERENCES server_certifications(id),
    device_id        TEXT NOT NULL,
    token            TEXT NOT NULL,
    issued_at        TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    revoked_at       TEXT
);
CREATE INDEX server_tokens_cert ON server_tokens(certification_id, device_id);
CREATE TABLE server_nonces (
    nonce      TEXT PRIMARY KEY,
    device_id  TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE server_idp_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL,
    track       TEXT NOT NULL,
    group_name  TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('add', 'remove')),
    state       TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    done_at     TEXT
);
CREATE TABLE server_exceptions (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL,
    track          TEXT NOT NULL,
    justification  TEXT NOT NULL,
    duration_days  INTEGER NOT NULL,
    requested_at   TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'refused')),
    token          TEXT,
    expires_at     TEXT,
    refusal        TEXT
);
CREATE TABLE server_exception_approvals (
    exception_id TEXT NOT NULL REFERENCES server_exceptions(id),
    role         TEXT NOT NULL,
    approver     TEXT NOT NULL,
    approved_at  TEXT NOT NULL,
    PRIMARY KEY (exception_id, role)
);
CREATE TABLE server_audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    user_id TEXT,
    detail  TEXT NOT NULL
);
CREATE INDEX server_audit_at ON server_audit(at);
",
    },
    Migration {
        version: 2,
        name: "exception tool scope, device-bound exception grants",
        sql: "
ALTER TABLE server_exceptions ADD COLUMN tool TEXT;
CREATE TABLE server_exception_grants (
    jti          TEXT PRIMARY KEY,
    exception_id TEXT NOT NULL REFERENCES server_exceptions(id),
    device_id    TEXT NOT NULL,
    token        TEXT NOT NULL,
    issued_at    TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    UNIQUE (exception_id, device_id)
);
",
    },
    Migration {
        version: 3,
        name: "proxy evidence uploaded by devices",
        sql: "
CREATE TABLE server_evidence (
    device_id   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (device_id, request_id)
);
CREATE INDEX server_evidence_received ON server_evidence(received_at);
",
    }],
};

/// Appends one evidence record (`kind`: completion, certification_issued, token_issued,
/// revoked, expired, exception_*, idp_*, enrolled…).
pub fn audit(
    conn: &Connection,
    at: DateTime<Utc>,
    kind: &str,
    user_id: Option<&str>,
    detail: &Value,
) -> Result<()> {
    conn.execute(
        "INSERT INTO server_audit (at, kind, user_id, detail) VALUES (?1, ?2, ?3, ?4)",
        params![ts(at), kind, user_id, detail.to_string()],
    )?;
    Ok(())
}

/// Timestamps are stored as fixed-width RFC 3339 UTC so text order is time order.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn parse_ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// SHA-256 hex of a secret, as stored (codes, device secrets, admin token comparison).
pub fn hash_secret(secret: &str) -> String {
    certgate_policy::signing::sha256_hex(secret.as_bytes())
}
