//! Non-secret mirror of what the keyring holds, in the shared SQLite database (component
//! `credentials`): enrolment (server, device id, pinned issuer key), each token's track,
//! expiry and id, the latest revocation list, and attempts waiting for the server.

use certgate_store::rusqlite::{OptionalExtension, params};
use certgate_store::{Database, Migration, Schema};
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::jws;
use crate::token::{CertificationClaims, Issuer};

pub const SCHEMA: Schema = Schema {
    component: "credentials",
    migrations: &[
        Migration {
            version: 1,
            name: "enrolment, certifications, revocations",
            sql: "
CREATE TABLE credentials_enrolment (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    server_url  TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    issuer_key  TEXT NOT NULL,
    policy_key  TEXT NOT NULL,
    enrolled_at TEXT NOT NULL
);
CREATE TABLE credentials_certifications (
    track      TEXT PRIMARY KEY,
    jti        TEXT NOT NULL,
    status     TEXT NOT NULL,
    score      REAL NOT NULL,
    issued_at  TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
CREATE TABLE credentials_revocations (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    token      TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
CREATE TABLE credentials_policy (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    etag       TEXT NOT NULL,
    text       TEXT NOT NULL,
    signature  TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
",
        },
        Migration {
            version: 2,
            name: "posture attestation counter",
            sql: "
CREATE TABLE credentials_attestation (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    counter INTEGER NOT NULL
);
",
        },
        Migration {
            version: 3,
            name: "installed content bundle, exception grants",
            sql: "
CREATE TABLE credentials_bundle (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    etag         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    version      TEXT NOT NULL,
    installed_at TEXT NOT NULL
);
CREATE TABLE credentials_exception_grants (
    jti          TEXT PRIMARY KEY,
    exception_id TEXT NOT NULL,
    track        TEXT,
    tool         TEXT,
    expires_at   TEXT NOT NULL,
    fetched_at   TEXT NOT NULL
);
",
        },
        Migration {
            version: 4,
            name: "enrolled user's profile",
            sql: "ALTER TABLE credentials_enrolment ADD COLUMN profile TEXT;",
        },
    ],
};

/// Where this device is enrolled.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolment {
    pub server_url: String,
    pub device_id: String,
    pub user_id: String,
    /// The user's type, vendor and region as the org enrolled them.
    pub profile: crate::wire::UserProfile,
    pub issuer: Issuer,
    /// PEM of the org key policies must be signed with (pinned at enrolment).
    pub policy_key_pem: String,
    pub enrolled_at: DateTime<Utc>,
}

impl Enrolment {
    /// The enrolled user as the policy's rules see them (certifications come from tokens).
    pub fn user_context(&self) -> certgate_policy::UserContext {
        certgate_policy::UserContext {
            id: Some(self.user_id.clone()),
            user_type: self.profile.user_type.clone(),
            vendor_org: self.profile.vendor_org.clone(),
            region: self.profile.region.clone(),
            certifications: Default::default(),
        }
    }
}

/// One certification as mirrored (no token text).
#[derive(Debug, Clone, PartialEq)]
pub struct CertificationRow {
    pub track: String,
    pub jti: String,
    pub status: String,
    pub score: f64,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Opens the mirror's tables (migrating them).
pub fn migrate(db: &mut Database) -> Result<()> {
    db.migrate(&SCHEMA)?;
    Ok(())
}

pub fn save_enrolment(db: &Database, e: &Enrolment) -> Result<()> {
    db.conn().execute(
        "INSERT INTO credentials_enrolment (id, server_url, device_id, user_id, issuer, issuer_key, policy_key, enrolled_at, profile)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?7, ?6, ?8)
         ON CONFLICT(id) DO UPDATE SET server_url = ?1, device_id = ?2, user_id = ?3, issuer = ?4,
             issuer_key = ?5, enrolled_at = ?6, policy_key = ?7, profile = ?8",
        params![
            e.server_url,
            e.device_id,
            e.user_id,
            e.issuer.name,
            jws::encode_public_key(&e.issuer.key),
            e.enrolled_at.to_rfc3339(),
            e.policy_key_pem,
            serde_json::to_string(&e.profile).unwrap_or_default()
        ],
    )?;
    Ok(())
}

pub fn enrolment(db: &Database) -> Result<Option<Enrolment>> {
    let row = db
        .conn()
        .query_row(
            "SELECT server_url, device_id, user_id, issuer, issuer_key, enrolled_at, policy_key, profile FROM credentials_enrolment WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            },
        )
        .optional()?;
    let Some((server_url, device_id, user_id, issuer, key, at, policy_key_pem, profile)) = row
    else {
        return Ok(None);
    };
    // Enrolments made before the profile was kept have none: the gate then cannot check the
    // population and denies, saying to enrol again.
    let profile = profile
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or_default();
    Ok(Some(Enrolment {
        server_url,
        device_id,
        user_id,
        profile,
        issuer: Issuer {
            name: issuer,
            key: jws::decode_public_key(&key)?,
        },
        policy_key_pem,
        enrolled_at: parse_time(&at),
    }))
}

pub fn save_certification(
    db: &Database,
    c: &CertificationClaims,
    now: DateTime<Utc>,
) -> Result<()> {
    db.conn().execute(
        "INSERT INTO credentials_certifications (track, jti, status, score, issued_at, expires_at, fetched_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(track) DO UPDATE SET jti = ?2, status = ?3, score = ?4, issued_at = ?5,
             expires_at = ?6, fetched_at = ?7",
        params![
            c.track,
            c.jti,
            c.status,
            c.score,
            c.issued_at().to_rfc3339(),
            c.expires_at().to_rfc3339(),
            now.to_rfc3339()
        ],
    )?;
    Ok(())
}

pub fn remove_certification(db: &Database, track: &str) -> Result<()> {
    db.conn().execute(
        "DELETE FROM credentials_certifications WHERE track = ?1",
        params![track],
    )?;
    Ok(())
}

pub fn certifications(db: &Database) -> Result<Vec<CertificationRow>> {
    let mut stmt = db.conn().prepare(
        "SELECT track, jti, status, score, issued_at, expires_at FROM credentials_certifications ORDER BY track",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(CertificationRow {
            track: r.get(0)?,
            jti: r.get(1)?,
            status: r.get(2)?,
            score: r.get(3)?,
            issued_at: parse_time(&r.get::<_, String>(4)?),
            expires_at: parse_time(&r.get::<_, String>(5)?),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub fn save_revocations(db: &Database, token: &str, now: DateTime<Utc>) -> Result<()> {
    db.conn().execute(
        "INSERT INTO credentials_revocations (id, token, fetched_at) VALUES (1, ?1, ?2)
         ON CONFLICT(id) DO UPDATE SET token = ?1, fetched_at = ?2",
        params![token, now.to_rfc3339()],
    )?;
    Ok(())
}

/// The last signed revocation list fetched (verify it before use).
pub fn revocations(db: &Database) -> Result<Option<String>> {
    Ok(db
        .conn()
        .query_row(
            "SELECT token FROM credentials_revocations WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// The next attestation counter (strictly increasing, persisted before use so a crash never
/// reuses one).
pub fn next_attestation_counter(db: &Database) -> Result<u64> {
    let n: i64 = db.conn().query_row(
        "INSERT INTO credentials_attestation (id, counter) VALUES (1, 1)
         ON CONFLICT(id) DO UPDATE SET counter = counter + 1
         RETURNING counter",
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The signed policy last fetched: (etag, text, signature).
pub fn policy(db: &Database) -> Result<Option<(String, String, String)>> {
    Ok(db
        .conn()
        .query_row(
            "SELECT etag, text, signature FROM credentials_policy WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

pub fn save_policy(
    db: &Database,
    etag: &str,
    text: &str,
    signature: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    db.conn().execute(
        "INSERT INTO credentials_policy (id, etag, text, signature, fetched_at) VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET etag = ?1, text = ?2, signature = ?3, fetched_at = ?4",
        params![etag, text, signature, now.to_rfc3339()],
    )?;
    Ok(())
}

/// The content bundle installed by the last sync that changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledBundleRow {
    pub etag: String,
    pub sha256: String,
    pub version: String,
}

pub fn installed_bundle(db: &Database) -> Result<Option<InstalledBundleRow>> {
    Ok(db
        .conn()
        .query_row(
            "SELECT etag, sha256, version FROM credentials_bundle WHERE id = 1",
            [],
            |r| {
                Ok(InstalledBundleRow {
                    etag: r.get(0)?,
                    sha256: r.get(1)?,
                    version: r.get(2)?,
                })
            },
        )
        .optional()?)
}

pub fn save_installed_bundle(
    db: &Database,
    row: &InstalledBundleRow,
    now: DateTime<Utc>,
) -> Result<()> {
    db.conn().execute(
        "INSERT INTO credentials_bundle (id, etag, sha256, version, installed_at) VALUES (1, ?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET etag = ?1, sha256 = ?2, version = ?3, installed_at = ?4",
        params![row.etag, row.sha256, row.version, now.to_rfc3339()],
    )?;
    Ok(())
}

/// Mirrors one verified exception grant (the grant text itself goes to the keyring).
pub fn save_exception_grant(
    db: &Database,
    g: &crate::grant::ExceptionGrantClaims,
    now: DateTime<Utc>,
) -> Result<()> {
    db.conn().execute(
        "INSERT INTO credentials_exception_grants (jti, exception_id, track, tool, expires_at, fetched_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(jti) DO UPDATE SET fetched_at = ?6",
        params![
            g.jti,
            g.exception_id,
            g.track,
            g.tool,
            g.expires_at().to_rfc3339(),
            now.to_rfc3339()
        ],
    )?;
    Ok(())
}

pub fn remove_exception_grant(db: &Database, jti: &str) -> Result<()> {
    db.conn().execute(
        "DELETE FROM credentials_exception_grants WHERE jti = ?1",
        params![jti],
    )?;
    Ok(())
}

/// Ids of the exception grants held (their text is in the keyring under these ids).
pub fn exception_grant_ids(db: &Database) -> Result<Vec<String>> {
    let mut stmt = db
        .conn()
        .prepare("SELECT jti FROM credentials_exception_grants ORDER BY expires_at, jti")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn parse_time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Confirmation;
    use ed25519_dalek::SigningKey;

    #[test]
    fn enrolment_and_certifications_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(&dir.path().join("c.db")).unwrap();
        migrate(&mut db).unwrap();
        assert!(enrolment(&db).unwrap().is_none());
        let e = Enrolment {
            server_url: "http://127.0.0.1:1".into(),
            device_id: "d1".into(),
            user_id: "alice".into(),
            profile: crate::wire::UserProfile {
                user_type: Some("contractor".into()),
                vendor_org: None,
                region: Some("eu-west-1".into()),
            },
            issuer: Issuer {
                name: "org".into(),
                key: SigningKey::from_bytes(&[3; 32]).verifying_key(),
            },
            policy_key_pem: "-----BEGIN PUBLIC KEY-----".into(),
            enrolled_at: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        save_enrolment(&db, &e).unwrap();
        assert_eq!(enrolment(&db).unwrap(), Some(e.clone()));
        let c = CertificationClaims {
            iss: "org".into(),
            sub: "alice".into(),
            track: "T".into(),
            status: "passed".into(),
            score: 90.0,
            modules: vec![],
            policy_version: "x".into(),
            iat: 1_800_000_000,
            exp: 1_800_086_400,
            jti: "j1".into(),
            cnf: Confirmation { jkt: "k".into() },
        };
        save_certification(&db, &c, e.enrolled_at).unwrap();
        save_certification(&db, &c, e.enrolled_at).unwrap();
        let rows = certifications(&db).unwrap();
        assert_eq!(rows.len(), 1, "saving twice keeps one row per track");
        assert_eq!(rows[0].expires_at, c.expires_at());
    }
}
