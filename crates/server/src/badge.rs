//! Open Badges 3.0: each passed certification as a portable credential (W3C Verifiable
//! Credentials 2.0 data model, `OpenBadgeCredential`), signed in the VC-JWT proof format with
//! the same issuer key as the tokens, so anyone with `/v1/keys` can check it.

use certgate_credentials::jws::{self, TokenType};
use certgate_store::rusqlite::params;
use serde::Serialize;
use serde_json::{Value, json};

use crate::db::parse_ts;
use crate::error::Result;
use crate::state::AppState;

/// One badge: the credential JSON and its signed VC-JWT form.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Badge {
    pub credential: Value,
    pub jwt: String,
}

/// Badges for every passed certification of `user_id` (live or ended; `validUntil` tells).
pub fn for_user(state: &AppState, user_id: &str) -> Result<Vec<Badge>> {
    let rows: Vec<(i64, String, f64, String, String, String)> = {
        let db = state.db();
        let mut stmt = db.conn().prepare(
            "SELECT id, track, score_pct, passed_at, expires_at, policy_version
             FROM server_certifications WHERE user_id = ?1 AND (end_reason IS NULL OR end_reason != 'revoked')
             ORDER BY id",
        )?;
        let rows = stmt.query_map(params![user_id], |r| {
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
    let issuer = state.issuer.name.trim_end_matches('/');
    let mut out = Vec::with_capacity(rows.len());
    for (id, track, score, passed_at, expires_at, policy_version) in rows {
        let pass_mark = state
            .policy
            .track(&track)
            .map_or(0.0, |t| t.quiz.min_score_pct);
        let credential = json!({
            "@context": [
                "https://www.w3.org/ns/credentials/v2",
                "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
            ],
            "id": format!("{issuer}/badges/{id}"),
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {
                "id": issuer,
                "type": ["Profile"],
                "name": state.policy.policy.policy_id,
            },
            "validFrom": passed_at,
            "validUntil": expires_at,
            "name": format!("{track} certification"),
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "identifier": [{
                    "type": "IdentityObject",
                    "identityHash": user_id,
                    "identityType": "identifier",
                    "hashed": false
                }],
                "achievement": {
                    "id": format!("{issuer}/achievements/{track}"),
                    "type": ["Achievement"],
                    "achievementType": "Certificate",
                    "name": track,
                    "description": format!("Completed the {track} training modules and passed its quiz, re-graded by the org server."),
                    "criteria": {"narrative": format!("Score at least {pass_mark}% on the {track} quiz under policy version {policy_version}.")}
                },
                "result": [{"type": ["Result"], "value": format!("{score:.2}")}]
            }
        });
        let mut claims = credential.clone();
        if let Some(obj) = claims.as_object_mut() {
            obj.insert("iss".into(), json!(issuer));
            obj.insert("jti".into(), json!(format!("{issuer}/badges/{id}")));
            obj.insert("nbf".into(), json!(parse_ts(&passed_at).timestamp()));
            obj.insert("exp".into(), json!(parse_ts(&expires_at).timestamp()));
        }
        let jwt = jws::sign(&claims, TokenType::Badge, state.issuer.signing.expose())?;
        out.push(Badge { credential, jwt });
    }
    Ok(out)
}
