//! Statements in, certifications and tokens out: idempotent intake, re-grading, attempt
//! limits and leases, token issue, revocation and expiry. Every change is audited and queues
//! the IdP write-back in the same transaction.

use certgate_credentials::jws::{self, TokenType};
use certgate_credentials::token::RevocationClaims;
use certgate_credentials::wire::{Grading, StatementAccepted};
use certgate_credentials::{CertificationClaims, Confirmation};
use certgate_store::rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::auth::DeviceAuth;
use crate::db::{audit, parse_ts, ts};
use crate::error::{Error, Result};
use crate::regrade::{ATTEMPT_EXTENSION, AttemptEvidence};
use crate::state::AppState;

/// Longest client statement id accepted (UUIDs are 36).
const MAX_ID_LEN: usize = 128;

/// Takes one xAPI statement from a device. Same id and same content → the first answer again;
/// same id, other content → 409. Attempts are re-graded here; the device's score is ignored
/// except to flag a disagreement, which refuses the statement (422).
pub fn intake(state: &AppState, device: &DeviceAuth, body: &[u8]) -> Result<StatementAccepted> {
    let statement: Value = serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("statement is not JSON: {e}")))?;
    let id = statement
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= MAX_ID_LEN)
        .ok_or_else(|| Error::BadRequest("statement needs a client id (`id`, ≤128 chars)".into()))?
        .to_owned();
    let canonical = certgate_posture::attest::canonical_json(&statement);
    let body_hash = certgate_policy::signing::sha256_hex(canonical.as_bytes());

    if let Some(previous) = replay(state, &id, &body_hash)? {
        return previous;
    }

    let attempt = match statement.pointer(&format!(
        "/result/extensions/{}",
        ATTEMPT_EXTENSION.replace('~', "~0").replace('/', "~1")
    )) {
        Some(v) => Some(
            serde_json::from_value::<AttemptEvidence>(v.clone())
                .map_err(|e| Error::BadRequest(format!("attempt extension: {e}")))?,
        ),
        None => None,
    };
    // Grade outside the lock: it is pure CPU work.
    let grading = match &attempt {
        Some(a) => {
            if state.policy.track(&a.track).is_none() {
                return Err(Error::BadRequest(format!("unknown track {}", a.track)));
            }
            Some(state.regrader.regrade(a)?)
        }
        None => None,
    };
    let claimed = statement
        .pointer("/result/success")
        .and_then(Value::as_bool);
    let mismatch = matches!((&grading, claimed), (Some(g), Some(c)) if g.passed != c);

    let now = state.now();
    let mut db = state.db();
    let tx = db
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    // A concurrent request may have stored the same id meanwhile.
    if let Some(previous) = replay_in(&tx, &id, &body_hash)? {
        return previous;
    }
    if let (Some(a), Some(_)) = (&attempt, &grading) {
        check_attempt_allowed(state, &tx, device, a, now)?;
    }
    let outcome = if mismatch {
        "score_mismatch"
    } else {
        "accepted"
    };
    tx.execute(
        "INSERT INTO server_statements (id, body_hash, body, device_id, user_id, track, attempt_id,
             score_pct, passed, outcome, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            id,
            body_hash,
            canonical,
            device.device_id,
            device.user_id,
            attempt.as_ref().map(|a| a.track.as_str()),
            attempt.as_ref().map(|a| a.attempt_id.as_str()),
            grading.as_ref().map(|g| g.score_pct),
            grading.as_ref().map(|g| g.passed),
            outcome,
            ts(now)
        ],
    )?;
    audit(
        &tx,
        now,
        if grading.is_some() {
            "completion"
        } else {
            "statement"
        },
        Some(&device.user_id),
        &json!({"statementId": id, "grading": grading, "outcome": outcome,
                "verb": statement.pointer("/verb/id")}),
    )?;
    if let Some(g) = grading.as_ref().filter(|g| g.passed && !mismatch) {
        let cert_id = certify(state, &tx, &device.user_id, g, &id, now)?;
        issue_token(state, &tx, cert_id, device, now)?;
    }
    tx.commit()?;
    drop(db);
    if grading.as_ref().is_some_and(|g| g.passed && !mismatch) {
        state.idp_wake.notify_one();
    }
    answer(id, true, grading, mismatch)
}

fn answer(
    id: String,
    first_time: bool,
    grading: Option<Grading>,
    mismatch: bool,
) -> Result<StatementAccepted> {
    if mismatch {
        return Err(Error::ScoreMismatch(format!(
            "statement {id}: the device's result disagrees with the server's re-grade ({}); no certification was issued",
            grading.map_or("ungraded".to_owned(), |g| format!(
                "{:.2}%, passed={}",
                g.score_pct, g.passed
            ))
        )));
    }
    Ok(StatementAccepted {
        id,
        first_time,
        grading,
    })
}

type Replay = Option<Result<StatementAccepted>>;

fn replay(state: &AppState, id: &str, body_hash: &str) -> Result<Replay> {
    let db = state.db();
    replay_in(db.conn(), id, body_hash)
}

fn replay_in(
    conn: &certgate_store::rusqlite::Connection,
    id: &str,
    body_hash: &str,
) -> Result<Replay> {
    let row = conn
        .query_row(
            "SELECT body_hash, track, score_pct, passed, outcome FROM server_statements WHERE id = ?1",
            params![id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<f64>>(2)?,
                    r.get::<_, Option<bool>>(3)?,
                    r.get::<_, String>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((hash, track, score, passed, outcome)) = row else {
        return Ok(None);
    };
    if hash != body_hash {
        return Ok(Some(Err(Error::Conflict(format!(
            "statement {id} was already received with other content"
        )))));
    }
    let mismatch = outcome == "score_mismatch";
    let grading = match (track, score, passed) {
        (Some(track), Some(score_pct), Some(passed)) => Some(Grading {
            track,
            score_pct,
            passed,
        }),
        _ => None,
    };
    Ok(Some(answer(id.to_owned(), false, grading, mismatch)))
}

/// Attempt limits: single-attempt tracks need this device's lease (taken now when free);
/// others count graded attempts since the last certification.
fn check_attempt_allowed(
    state: &AppState,
    tx: &Transaction<'_>,
    device: &DeviceAuth,
    a: &AttemptEvidence,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(track) = state.policy.track(&a.track) else {
        return Err(Error::BadRequest(format!("unknown track {}", a.track)));
    };
    if track.quiz.attempts_allowed == 1 {
        take_lease(tx, device, &a.track, &a.attempt_id, now)?;
    }
    let since: Option<String> = tx
        .query_row(
            "SELECT MAX(passed_at) FROM server_certifications WHERE user_id = ?1 AND track = ?2",
            params![device.user_id, a.track],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let used: u32 = tx.query_row(
        "SELECT COUNT(*) FROM server_statements WHERE user_id = ?1 AND track = ?2 AND received_at > ?3",
        params![device.user_id, a.track, since.unwrap_or_default()],
        |r| r.get(0),
    )?;
    if used >= track.quiz.attempts_allowed {
        return Err(Error::Refused(format!(
            "all {} attempts for {} are used; the track is locked until an exception or reset",
            track.quiz.attempts_allowed, a.track
        )));
    }
    Ok(())
}

/// Leases the single attempt of a track to one device and attempt id; another device (or
/// another attempt) gets 409.
pub fn take_lease(
    tx: &Transaction<'_>,
    device: &DeviceAuth,
    track: &str,
    attempt_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO server_leases (user_id, track, attempt_id, device_id, leased_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![device.user_id, track, attempt_id, device.device_id, ts(now)],
    )?;
    let (holder_attempt, holder_device): (String, String) = tx.query_row(
        "SELECT attempt_id, device_id FROM server_leases WHERE user_id = ?1 AND track = ?2",
        params![device.user_id, track],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if holder_attempt != attempt_id || holder_device != device.device_id {
        return Err(Error::Conflict(format!(
            "the single attempt of {track} is leased to another device or attempt"
        )));
    }
    Ok(())
}

/// Records a pass: ends any previous certification of the track, starts a new one expiring
/// after `recertifyDays`, queues the IdP add.
fn certify(
    state: &AppState,
    tx: &Transaction<'_>,
    user_id: &str,
    g: &Grading,
    statement_id: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    let track = state
        .policy
        .track(&g.track)
        .ok_or_else(|| Error::BadRequest(format!("unknown track {}", g.track)))?;
    let expires = now + Duration::days(i64::from(track.recertify_days));
    tx.execute(
        "UPDATE server_certifications SET ended_at = ?3, end_reason = 'superseded'
         WHERE user_id = ?1 AND track = ?2 AND ended_at IS NULL",
        params![user_id, g.track, ts(now)],
    )?;
    tx.execute(
        "INSERT INTO server_certifications (user_id, track, score_pct, modules, policy_version,
             statement_id, passed_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            user_id,
            g.track,
            g.score_pct,
            serde_json::to_string(&track.modules)?,
            state.policy.sha256,
            statement_id,
            ts(now),
            ts(expires)
        ],
    )?;
    let cert_id = tx.last_insert_rowid();
    audit(
        tx,
        now,
        "certification_issued",
        Some(user_id),
        &json!({"track": g.track, "scorePct": g.score_pct, "expiresAt": ts(expires),
                "policyVersion": state.policy.sha256, "certificationId": cert_id}),
    )?;
    crate::idp::queue(state, tx, user_id, &g.track, crate::idp::Action::Add, now)?;
    Ok(cert_id)
}

/// Signs and stores a token for certification `cert_id`, bound to `device`'s key.
fn issue_token(
    state: &AppState,
    tx: &Transaction<'_>,
    cert_id: i64,
    device: &DeviceAuth,
    now: DateTime<Utc>,
) -> Result<String> {
    let (user_id, track, score, modules, policy_version, expires_at): (
        String,
        String,
        f64,
        String,
        String,
        String,
    ) = tx.query_row(
        "SELECT user_id, track, score_pct, modules, policy_version, expires_at
         FROM server_certifications WHERE id = ?1",
        params![cert_id],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        },
    )?;
    let claims = CertificationClaims {
        iss: state.issuer.name.clone(),
        sub: user_id.clone(),
        track,
        status: "passed".into(),
        score,
        modules: serde_json::from_str(&modules)?,
        policy_version,
        iat: now.timestamp(),
        exp: parse_ts(&expires_at).timestamp(),
        jti: jws::random_id(16)?,
        cnf: Confirmation {
            jkt: jws::jwk_thumbprint(&device.public_key),
        },
    };
    let token = claims.sign(state.issuer.signing.expose())?;
    tx.execute(
        "INSERT INTO server_tokens (jti, certification_id, device_id, token, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            claims.jti,
            cert_id,
            device.device_id,
            token,
            ts(now),
            expires_at
        ],
    )?;
    audit(
        tx,
        now,
        "token_issued",
        Some(&user_id),
        &json!({"jti": claims.jti, "track": claims.track, "deviceId": device.device_id,
                "expiresAt": expires_at}),
    )?;
    Ok(token)
}

/// This device's tokens for the user's live certifications, issuing any missing one.
pub fn tokens_for(state: &AppState, device: &DeviceAuth) -> Result<Vec<String>> {
    let now = state.now();
    let mut db = state.db();
    let tx = db
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let certs: Vec<i64> = {
        let mut stmt = tx.prepare(
            "SELECT id FROM server_certifications
             WHERE user_id = ?1 AND ended_at IS NULL AND expires_at > ?2 ORDER BY track",
        )?;
        let rows = stmt.query_map(params![device.user_id, ts(now)], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::with_capacity(certs.len());
    for cert_id in certs {
        let existing: Option<String> = tx
            .query_row(
                "SELECT token FROM server_tokens
                 WHERE certification_id = ?1 AND device_id = ?2 AND revoked_at IS NULL",
                params![cert_id, device.device_id],
                |r| r.get(0),
            )
            .optional()?;
        match existing {
            Some(t) => out.push(t),
            None => out.push(issue_token(state, &tx, cert_id, device, now)?),
        }
    }
    tx.commit()?;
    Ok(out)
}

/// Why a certification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Revoked,
    Expired,
}

impl EndReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// Ends the user's live certification of `track`: tokens revoked, IdP removal queued.
/// Returns how many certifications ended (0 when there was none).
pub fn end_certification(
    state: &AppState,
    user_id: &str,
    track: &str,
    reason: EndReason,
    detail: &str,
) -> Result<usize> {
    let now = state.now();
    let mut db = state.db();
    let tx = db
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = end_in(state, &tx, user_id, track, reason, detail, now)?;
    tx.commit()?;
    drop(db);
    if n > 0 {
        state.idp_wake.notify_one();
    }
    Ok(n)
}

fn end_in(
    state: &AppState,
    tx: &Transaction<'_>,
    user_id: &str,
    track: &str,
    reason: EndReason,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let ids: Vec<i64> = {
        let mut stmt = tx.prepare(
            "SELECT id FROM server_certifications WHERE user_id = ?1 AND track = ?2 AND ended_at IS NULL",
        )?;
        let rows = stmt.query_map(params![user_id, track], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    for id in &ids {
        tx.execute(
            "UPDATE server_certifications SET ended_at = ?2, end_reason = ?3 WHERE id = ?1",
            params![id, ts(now), reason.as_str()],
        )?;
        tx.execute(
            "UPDATE server_tokens SET revoked_at = ?2 WHERE certification_id = ?1 AND revoked_at IS NULL",
            params![id, ts(now)],
        )?;
        audit(
            tx,
            now,
            reason.as_str(),
            Some(user_id),
            &json!({"track": track, "certificationId": id, "detail": detail}),
        )?;
    }
    if !ids.is_empty() {
        crate::idp::queue(state, tx, user_id, track, crate::idp::Action::Remove, now)?;
    }
    Ok(ids.len())
}

/// Ends every certification past its expiry. Run on a timer and by `POST /v1/admin/sweep`.
pub fn expire_due(state: &AppState) -> Result<usize> {
    let now = state.now();
    let mut db = state.db();
    let tx = db
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let due: Vec<(String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT user_id, track FROM server_certifications WHERE ended_at IS NULL AND expires_at <= ?1",
        )?;
        let rows = stmt.query_map(params![ts(now)], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut n = 0;
    for (user, track) in &due {
        n += end_in(
            state,
            &tx,
            user,
            track,
            EndReason::Expired,
            "recertifyDays elapsed",
            now,
        )?;
    }
    tx.commit()?;
    drop(db);
    if n > 0 {
        state.idp_wake.notify_one();
    }
    Ok(n)
}

/// The signed revocation list: ids of revoked tokens that have not yet expired anyway.
pub fn revocation_list(state: &AppState) -> Result<String> {
    let now = state.now();
    let db = state.db();
    let mut stmt = db.conn().prepare_cached(
        "SELECT jti FROM server_tokens WHERE revoked_at IS NOT NULL AND expires_at > ?1",
    )?;
    let jti = stmt
        .query_map(params![ts(now)], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let claims = RevocationClaims {
        iss: state.issuer.name.clone(),
        iat: now.timestamp(),
        jti,
    };
    Ok(jws::sign(
        &claims,
        TokenType::Revocations,
        state.issuer.signing.expose(),
    )?)
}
