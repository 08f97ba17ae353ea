//! Time-limited exceptions (`approvals.exceptionPath`): a request must fill every
//! justification field the policy names and stay within `maxDurationDays`; every required
//! approver role must approve (one person cannot fill two roles); the exception token is
//! issued only after the last approval, lists its approvers and expires with the exception.
//! Each of the user's devices gets its own exception grant, bound to its key (`cnf.jkt`),
//! which the device's gate checks offline.

use std::collections::BTreeMap;

use certgate_credentials::jws::{self, TokenType};
use certgate_credentials::{Confirmation, ExceptionGrantClaims, GrantApprover};
use certgate_store::rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::DeviceAuth;
use crate::db::{audit, parse_ts, ts};
use crate::error::{Error, Result};
use crate::state::AppState;

pub use certgate_credentials::wire::{Approval, Approver, ExceptionRequest, ExceptionStatus};

/// Longest tool name accepted in an exception scope.
const MAX_TOOL_LEN: usize = 128;

/// Claims of an exception token (`typ: certgate-exception+jwt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExceptionClaims {
    pub iss: String,
    pub sub: String,
    /// `track:<id>`: what the exception stands in for.
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub approvers: Vec<Approver>,
    pub justification: BTreeMap<String, String>,
}

/// Files a request, or refuses it with every reason.
pub fn request(state: &AppState, user_id: &str, req: &ExceptionRequest) -> Result<ExceptionStatus> {
    let path = &state.policy.policy.access_gating.approvals.exception_path;
    let mut reasons = Vec::new();
    if !path.allowed {
        reasons.push("the policy allows no exceptions".to_owned());
    }
    if state.policy.track(&req.track).is_none() {
        reasons.push(format!("unknown track {}", req.track));
    }
    if let Some(tool) = &req.tool
        && (tool.trim().is_empty() || tool.len() > MAX_TOOL_LEN)
    {
        reasons.push(format!(
            "tool must name one tool surface (1..={MAX_TOOL_LEN} characters) or be left out"
        ));
    }
    if req.duration_days == 0 || req.duration_days > path.max_duration_days {
        reasons.push(format!(
            "durationDays {} is outside 1..={} (maxDurationDays)",
            req.duration_days, path.max_duration_days
        ));
    }
    for field in &path.justification_fields {
        if req
            .justification
            .get(field)
            .is_none_or(|v| v.trim().is_empty())
        {
            reasons.push(format!("justification field {field} is missing or empty"));
        }
    }
    for field in req.justification.keys() {
        if !path.justification_fields.contains(field) {
            reasons.push(format!(
                "justification field {field} is not one the policy names"
            ));
        }
    }
    if !reasons.is_empty() {
        return Err(Error::Refused(format!(
            "exception refused: {}",
            reasons.join("; ")
        )));
    }
    let id = jws::random_id(12)?;
    let now = state.now();
    let db = state.db();
    db.conn().execute(
        "INSERT INTO server_exceptions (id, user_id, track, justification, duration_days, requested_at, state, tool)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
        params![
            id,
            user_id,
            req.track,
            serde_json::to_string(&req.justification)?,
            req.duration_days,
            ts(now),
            req.tool.as_deref().map(str::trim)
        ],
    )?;
    audit(
        db.conn(),
        now,
        "exception_requested",
        Some(user_id),
        &json!({"exceptionId": id, "track": req.track, "tool": req.tool,
                "durationDays": req.duration_days, "justification": req.justification}),
    )?;
    drop(db);
    status(state, &id)
}

/// Records one approval; after the last required role, issues the exception token.
pub fn approve(state: &AppState, id: &str, a: &Approval) -> Result<ExceptionStatus> {
    let path = &state.policy.policy.access_gating.approvals.exception_path;
    if !path.required_approvers.iter().any(|r| r.role == a.role) {
        let roles: Vec<&str> = path
            .required_approvers
            .iter()
            .map(|r| r.role.as_str())
            .collect();
        return Err(Error::Refused(format!(
            "role {} cannot approve exceptions; required roles: {}",
            a.role,
            roles.join(", ")
        )));
    }
    if a.approver.trim().is_empty() {
        return Err(Error::BadRequest("approver must name who approves".into()));
    }
    let now = state.now();
    let mut db = state.db();
    let tx = db
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row: Option<(String, String, String, String, u32)> = tx
        .query_row(
            "SELECT user_id, track, state, justification, duration_days FROM server_exceptions WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((user_id, track, st, justification, days)) = row else {
        return Err(Error::NotFound(format!("no exception request {id}")));
    };
    if st != "pending" {
        return Err(Error::Conflict(format!("exception {id} is already {st}")));
    }
    let existing = approvals_in(&tx, id)?;
    if existing.iter().any(|x| x.role == a.role) {
        return Err(Error::Conflict(format!(
            "role {} has already approved {id}",
            a.role
        )));
    }
    if existing.iter().any(|x| x.approver == a.approver) {
        return Err(Error::Refused(format!(
            "{} already approved {id} in another role; each role needs its own approver",
            a.approver
        )));
    }
    tx.execute(
        "INSERT INTO server_exception_approvals (exception_id, role, approver, approved_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, a.role, a.approver, ts(now)],
    )?;
    audit(
        &tx,
        now,
        "exception_approved",
        Some(&user_id),
        &json!({"exceptionId": id, "role": a.role, "approver": a.approver}),
    )?;
    let approvals = approvals_in(&tx, id)?;
    let complete = path
        .required_approvers
        .iter()
        .all(|r| approvals.iter().any(|x| x.role == r.role));
    if complete {
        let days = days.min(path.max_duration_days);
        let exp = now + Duration::days(i64::from(days));
        let claims = ExceptionClaims {
            iss: state.issuer.name.clone(),
            sub: user_id.clone(),
            scope: format!("track:{track}"),
            iat: now.timestamp(),
            exp: exp.timestamp(),
            jti: jws::random_id(16)?,
            approvers: approvals,
            justification: serde_json::from_str(&justification)?,
        };
        let token = jws::sign(&claims, TokenType::Exception, state.issuer.signing.expose())?;
        tx.execute(
            "UPDATE server_exceptions SET state = 'approved', token = ?2, expires_at = ?3 WHERE id = ?1",
            params![id, token, ts(exp)],
        )?;
        audit(
            &tx,
            now,
            "exception_issued",
            Some(&user_id),
            &json!({"exceptionId": id, "jti": claims.jti, "expiresAt": ts(exp),
                    "approvers": claims.approvers}),
        )?;
        // Every device the user has enrolled gets its grant now; later devices on request.
        let devices: Vec<(String, String)> = {
            let mut stmt =
                tx.prepare("SELECT id, public_key FROM server_devices WHERE user_id = ?1")?;
            let rows = stmt.query_map(params![user_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (device_id, key) in devices {
            let key = jws::decode_public_key(&key)?;
            issue_grant(state, &tx, id, &device_id, &key, now)?;
        }
    }
    tx.commit()?;
    drop(db);
    status(state, id)
}

/// Signs and stores the grant of approved exception `exception_id` for one device.
fn issue_grant(
    state: &AppState,
    conn: &Connection,
    exception_id: &str,
    device_id: &str,
    device_key: &ed25519_dalek::VerifyingKey,
    now: DateTime<Utc>,
) -> Result<String> {
    let (user_id, track, tool, expires_at): (String, String, Option<String>, String) = conn
        .query_row(
            "SELECT user_id, track, tool, expires_at FROM server_exceptions
             WHERE id = ?1 AND state = 'approved' AND expires_at IS NOT NULL",
            params![exception_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
    let claims = ExceptionGrantClaims {
        iss: state.issuer.name.clone(),
        sub: user_id.clone(),
        exception_id: exception_id.to_owned(),
        track: Some(track),
        tool,
        iat: now.timestamp(),
        exp: parse_ts(&expires_at).timestamp(),
        jti: jws::random_id(16)?,
        cnf: Confirmation {
            jkt: jws::jwk_thumbprint(device_key),
        },
        approvers: approvals_in(conn, exception_id)?
            .into_iter()
            .map(|a| GrantApprover {
                role: a.role,
                approver: a.approver,
            })
            .collect(),
    };
    let token = claims.sign(state.issuer.signing.expose())?;
    conn.execute(
        "INSERT INTO server_exception_grants (jti, exception_id, device_id, token, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![claims.jti, exception_id, device_id, token, ts(now), expires_at],
    )?;
    audit(
        conn,
        now,
        "exception_grant_issued",
        Some(&user_id),
        &json!({"exceptionId": exception_id, "jti": claims.jti, "deviceId": device_id,
                "track": claims.track, "tool": claims.tool, "expiresAt": expires_at}),
    )?;
    Ok(token)
}

/// This device's grants for the user's approved, unexpired exceptions, issuing any missing
/// one (a device enrolled after the approval).
pub fn grants_for(state: &AppState, device: &DeviceAuth) -> Result<Vec<String>> {
    let now = state.now();
    let mut db = state.db();
    let tx = db
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let rows: Vec<(String, Option<String>)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT e.id, g.token FROM server_exceptions e
             LEFT JOIN server_exception_grants g ON g.exception_id = e.id AND g.device_id = ?2
             WHERE e.user_id = ?1 AND e.state = 'approved' AND e.expires_at > ?3
             ORDER BY e.expires_at, e.id",
        )?;
        let rows = stmt.query_map(params![device.user_id, device.device_id, ts(now)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::with_capacity(rows.len());
    for (exception_id, token) in rows {
        match token {
            Some(t) => out.push(t),
            None => out.push(issue_grant(
                state,
                &tx,
                &exception_id,
                &device.device_id,
                &device.public_key,
                now,
            )?),
        }
    }
    tx.commit()?;
    Ok(out)
}

fn approvals_in(conn: &Connection, id: &str) -> Result<Vec<Approver>> {
    let mut stmt = conn.prepare(
        "SELECT role, approver FROM server_exception_approvals WHERE exception_id = ?1 ORDER BY approved_at, role",
    )?;
    let rows = stmt.query_map(params![id], |r| {
        Ok(Approver {
            role: r.get(0)?,
            approver: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn status(state: &AppState, id: &str) -> Result<ExceptionStatus> {
    let db = state.db();
    type Row = (String, String, String, Option<String>, Option<String>);
    let row: Option<Row> = db
        .conn()
        .query_row(
            "SELECT user_id, track, state, token, tool FROM server_exceptions WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((user_id, track, st, token, tool)) = row else {
        return Err(Error::NotFound(format!("no exception request {id}")));
    };
    let approvals = approvals_in(db.conn(), id)?;
    let missing_roles = state
        .policy
        .policy
        .access_gating
        .approvals
        .exception_path
        .required_approvers
        .iter()
        .filter(|r| !approvals.iter().any(|a| a.role == r.role))
        .map(|r| r.role.clone())
        .collect();
    Ok(ExceptionStatus {
        id: id.to_owned(),
        user_id,
        track,
        tool,
        state: st,
        approvals,
        missing_roles,
        token,
    })
}
