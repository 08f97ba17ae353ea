//! IdP group write-back: on pass, add the user to the track's group (`groupMapping`); on
//! expiry or revocation, remove. Changes are queued in the database in the same transaction
//! as the certification change, applied in order by a worker, retried with backoff (429
//! honours `Retry-After` / `X-Rate-Limit-Reset`), and every attempt's outcome is recorded.
//!
//! Dialects: SCIM 2.0 PATCH on `/Groups/{id}` (RFC 7644 §3.5.2; removal by the path filter
//! `members[value eq "id"]`), Entra ID's SCIM (removal as `path: members` plus a `value`
//! list, the form Entra sends and accepts), and Okta's Groups API
//! (`PUT/DELETE /api/v1/groups/{gid}/users/{uid}`, `Authorization: SSWS …`).

use std::sync::Arc;
use std::time::Duration;

use certgate_store::rusqlite::{Transaction, params};
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::config::{IdpApi, IdpConfig};
use crate::db::{audit, ts};
use crate::error::Result;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add,
    Remove,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Remove => "remove",
        }
    }
}

/// Queues a membership change when the track maps to a group and an IdP is configured.
pub fn queue(
    state: &AppState,
    tx: &Transaction<'_>,
    user_id: &str,
    track: &str,
    action: Action,
    now: DateTime<Utc>,
) -> Result<()> {
    if state.idp.is_none() {
        return Ok(());
    }
    let groups = &state
        .policy
        .policy
        .access_gating
        .identity_provider
        .groups_by_track;
    let Some(group) = groups.get(track) else {
        return Ok(());
    };
    tx.execute(
        "INSERT INTO server_idp_changes (user_id, track, group_name, action, state, created_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
        params![user_id, track, group, action.as_str(), ts(now)],
    )?;
    Ok(())
}

/// Why one IdP call failed, and whether to retry.
#[derive(Debug, thiserror::Error)]
pub enum IdpFailure {
    #[error("rate limited by the IdP")]
    RateLimited { wait: Option<Duration> },
    #[error("IdP unavailable: {0}")]
    Transient(String),
    #[error("IdP refused: {0}")]
    Permanent(String),
}

/// A client for the configured IdP.
#[derive(Debug, Clone)]
pub struct IdpClient {
    http: reqwest::Client,
    config: IdpConfig,
}

impl IdpClient {
    pub fn new(config: IdpConfig) -> std::result::Result<Self, IdpFailure> {
        certgate_credentials::client::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| IdpFailure::Permanent(e.to_string()))?;
        Ok(Self { http, config })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> std::result::Result<(StatusCode, Value), IdpFailure> {
        let auth = match self.config.kind {
            IdpApi::Okta => format!("SSWS {}", self.config.token.expose()),
            IdpApi::Scim | IdpApi::Entra => format!("Bearer {}", self.config.token.expose()),
        };
        let mut rb = self
            .http
            .request(method, self.url(path))
            .header(reqwest::header::AUTHORIZATION, auth)
            .header(
                reqwest::header::ACCEPT,
                "application/scim+json, application/json",
            );
        if let Some(b) = body {
            let ct = match self.config.kind {
                IdpApi::Okta => "application/json",
                IdpApi::Scim | IdpApi::Entra => "application/scim+json",
            };
            rb = rb
                .header(reqwest::header::CONTENT_TYPE, ct)
                .body(b.to_string());
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| IdpFailure::Transient(e.without_url().to_string()))?;
        let status = resp.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(IdpFailure::RateLimited {
                wait: rate_limit_wait(resp.headers(), Utc::now()),
            });
        }
        let text = resp.text().await.unwrap_or_default();
        if status.is_server_error() {
            return Err(IdpFailure::Transient(format!("{status}")));
        }
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok((status, json))
    }

    fn ok_or_refused(
        status: StatusCode,
        body: &Value,
        what: &str,
    ) -> std::result::Result<(), IdpFailure> {
        if status.is_success() {
            Ok(())
        } else {
            let detail = body
                .get("detail")
                .or_else(|| body.get("errorSummary"))
                .and_then(Value::as_str)
                .unwrap_or("");
            Err(IdpFailure::Permanent(format!("{what}: {status} {detail}")))
        }
    }

    /// The IdP's id for a group name.
    async fn group_id(&self, name: &str) -> std::result::Result<String, IdpFailure> {
        let (status, body) = match self.config.kind {
            IdpApi::Okta => {
                self.call(
                    Method::GET,
                    &format!("/api/v1/groups?q={}", enc(name)),
                    None,
                )
                .await?
            }
            IdpApi::Scim | IdpApi::Entra => {
                let filter = format!("displayName eq \"{}\"", name.replace('"', "\\\""));
                self.call(
                    Method::GET,
                    &format!("/Groups?filter={}", enc(&filter)),
                    None,
                )
                .await?
            }
        };
        Self::ok_or_refused(status, &body, "group lookup")?;
        let found = match self.config.kind {
            IdpApi::Okta => body.as_array().and_then(|a| {
                a.iter()
                    .find(|g| g.pointer("/profile/name").and_then(Value::as_str) == Some(name))
            }),
            IdpApi::Scim | IdpApi::Entra => body
                .get("Resources")
                .and_then(Value::as_array)
                .and_then(|a| a.first()),
        };
        found
            .and_then(|g| g.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| IdpFailure::Permanent(format!("no group named {name} in the IdP")))
    }

    /// The IdP's id for a user name (SCIM `userName`, Okta login).
    async fn user_id(&self, user: &str) -> std::result::Result<String, IdpFailure> {
        let (status, body) = match self.config.kind {
            IdpApi::Okta => {
                self.call(Method::GET, &format!("/api/v1/users/{}", enc(user)), None)
                    .await?
            }
            IdpApi::Scim | IdpApi::Entra => {
                let filter = format!("userName eq \"{}\"", user.replace('"', "\\\""));
                self.call(
                    Method::GET,
                    &format!("/Users?filter={}", enc(&filter)),
                    None,
                )
                .await?
            }
        };
        Self::ok_or_refused(status, &body, "user lookup")?;
        let found = match self.config.kind {
            IdpApi::Okta => Some(&body),
            IdpApi::Scim | IdpApi::Entra => body
                .get("Resources")
                .and_then(Value::as_array)
                .and_then(|a| a.first()),
        };
        found
            .and_then(|u| u.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| IdpFailure::Permanent(format!("no user {user} in the IdP")))
    }

    /// Adds or removes one membership. Idempotent: adding a member twice or removing an
    /// absent one succeeds.
    pub async fn apply(
        &self,
        user: &str,
        group: &str,
        action: Action,
    ) -> std::result::Result<(), IdpFailure> {
        let gid = self.group_id(group).await?;
        let uid = self.user_id(user).await?;
        let (status, body) = match self.config.kind {
            IdpApi::Okta => {
                let method = match action {
                    Action::Add => Method::PUT,
                    Action::Remove => Method::DELETE,
                };
                let path = format!("/api/v1/groups/{}/users/{}", enc(&gid), enc(&uid));
                let (status, body) = self.call(method, &path, None).await?;
                if action == Action::Remove && status == StatusCode::NOT_FOUND {
                    return Ok(());
                }
                (status, body)
            }
            IdpApi::Scim | IdpApi::Entra => {
                let patch = scim_patch(self.config.kind, action, &uid);
                self.call(
                    Method::PATCH,
                    &format!("/Groups/{}", enc(&gid)),
                    Some(&patch),
                )
                .await?
            }
        };
        Self::ok_or_refused(status, &body, "membership change")
    }
}

/// The SCIM PatchOp body for one membership change in the given dialect.
pub fn scim_patch(kind: IdpApi, action: Action, uid: &str) -> Value {
    let op = match (action, kind) {
        (Action::Add, IdpApi::Entra) => {
            json!({"op": "Add", "path": "members", "value": [{"value": uid}]})
        }
        (Action::Add, _) => json!({"op": "add", "path": "members", "value": [{"value": uid}]}),
        (Action::Remove, IdpApi::Entra) => {
            json!({"op": "Remove", "path": "members", "value": [{"value": uid}]})
        }
        (Action::Remove, _) => json!({
            "op": "remove",
            "path": format!("members[value eq \"{}\"]", uid.replace('"', "\\\""))
        }),
    };
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [op],
    })
}

/// How long a 429 asks us to wait: `Retry-After` seconds, else Okta's `X-Rate-Limit-Reset`
/// (epoch seconds).
pub fn rate_limit_wait(h: &reqwest::header::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    if let Some(s) = h
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_secs(s));
    }
    let reset = h
        .get("x-rate-limit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())?;
    Some(Duration::from_secs(
        (reset - now.timestamp()).max(0).unsigned_abs(),
    ))
}

fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Longest wait honoured for one 429 before the change is left for the next sweep.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Applies every pending change in order. Returns how many were applied.
pub async fn process_pending(state: &Arc<AppState>) -> Result<usize> {
    let Some(config) = state.idp.clone() else {
        return Ok(0);
    };
    let client = match IdpClient::new(config.clone()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the IdP client");
            return Ok(0);
        }
    };
    let pending: Vec<(i64, String, String, String, String, u32)> = {
        let db = state.db();
        let mut stmt = db.conn().prepare(
            "SELECT id, user_id, track, group_name, action, attempts FROM server_idp_changes
             WHERE state = 'pending' ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut applied = 0;
    for (id, user, track, group, action, mut attempts) in pending {
        let action = if action == "add" {
            Action::Add
        } else {
            Action::Remove
        };
        let outcome = loop {
            attempts += 1;
            match client.apply(&user, &group, action).await {
                Ok(()) => break Ok(()),
                Err(IdpFailure::Permanent(m)) => break Err(m),
                Err(e) if attempts >= config.max_attempts => break Err(e.to_string()),
                Err(e) => {
                    let wait = match e {
                        IdpFailure::RateLimited { wait: Some(w) } => w.min(MAX_WAIT),
                        _ => backoff(attempts),
                    };
                    tracing::info!(change = id, attempts, ?wait, error = %e, "IdP write-back retrying");
                    record_attempt(state, id, attempts, &e.to_string())?;
                    tokio::time::sleep(wait).await;
                }
            }
        };
        let now = state.now();
        let db = state.db();
        match &outcome {
            Ok(()) => {
                db.conn().execute(
                    "UPDATE server_idp_changes SET state = 'done', attempts = ?2, done_at = ?3, last_error = NULL WHERE id = ?1",
                    params![id, attempts, ts(now)],
                )?;
                applied += 1;
            }
            Err(m) => {
                db.conn().execute(
                    "UPDATE server_idp_changes SET state = 'failed', attempts = ?2, last_error = ?3 WHERE id = ?1",
                    params![id, attempts, m],
                )?;
            }
        }
        audit(
            db.conn(),
            now,
            if outcome.is_ok() {
                "idp_change"
            } else {
                "idp_change_failed"
            },
            Some(&user),
            &json!({"changeId": id, "track": track, "group": group, "action": action.as_str(),
                    "attempts": attempts, "error": outcome.as_ref().err()}),
        )?;
    }
    Ok(applied)
}

fn record_attempt(state: &AppState, id: i64, attempts: u32, error: &str) -> Result<()> {
    state.db().conn().execute(
        "UPDATE server_idp_changes SET attempts = ?2, last_error = ?3 WHERE id = ?1",
        params![id, attempts, error],
    )?;
    Ok(())
}

/// Exponential backoff with full jitter: up to 250 ms · 2^(n-1), capped at 30 s.
fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(250)
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(7))
        .min(Duration::from_secs(30));
    cap.mul_f64(certgate_credentials::client::jitter())
}

/// Runs the write-back worker until the process ends: on every queued change and every 30 s.
pub async fn worker(state: Arc<AppState>) {
    loop {
        if let Err(e) = process_pending(&state).await {
            tracing::error!(error = %e, "IdP write-back sweep failed");
        }
        tokio::select! {
            () = state.idp_wake.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(30)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_dialects() {
        let rfc = scim_patch(IdpApi::Scim, Action::Remove, "u-1");
        assert_eq!(rfc["Operations"][0]["path"], "members[value eq \"u-1\"]");
        assert!(rfc["Operations"][0].get("value").is_none());
        let entra = scim_patch(IdpApi::Entra, Action::Remove, "u-1");
        assert_eq!(entra["Operations"][0]["op"], "Remove");
        assert_eq!(entra["Operations"][0]["value"][0]["value"], "u-1");
        let add = scim_patch(IdpApi::Scim, Action::Add, "u-1");
        assert_eq!(add["Operations"][0]["value"][0]["value"], "u-1");
        assert_eq!(
            add["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:PatchOp"
        );
    }

    #[test]
    fn rate_limit_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        h.insert("x-rate-limit-reset", "1007".parse().unwrap());
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(7)));
        h.insert(reqwest::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(
            rate_limit_wait(&h, now),
            Some(Duration::from_secs(3)),
            "Retry-After wins"
        );
        assert_eq!(
            rate_limit_wait(&reqwest::header::HeaderMap::new(), now),
            None
        );
    }

    #[test]
    fn backoff_is_bounded() {
        for n in 1..20 {
            assert!(backoff(n) <= Duration::from_secs(30));
        }
        assert_eq!(enc("a b\"c"), "a%20b%22c");
    }
}
