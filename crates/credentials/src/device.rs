//! The device side of the org protocol: enrol, sync (outbox → server, tokens, revocations,
//! policy) and the certifications the policy engine sees.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use certgate_policy::CertificationClaim;
use certgate_policy::clock::{Clock, FixedClock};
use certgate_store::Database;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::jws;
use crate::keystore::{DeviceKey, Keystore};
use crate::metadata::{self, Enrolment};
use crate::sensitive::Sensitive;
use crate::token::{DEFAULT_REVOCATION_MAX_AGE, Issuer, RevocationList, TokenState};
use crate::wire::{
    BUNDLE_VERSION_HEADER, EVIDENCE_BATCH_MAX, EnrollRequest, EnrollResponse, EvidenceAccepted,
    EvidenceUpload, ExceptionGrantsResponse, KeysResponse, StatementAccepted, TokensResponse,
};

/// xAPI statements waiting to be sent. The training crate's outbox implements this; delivery
/// is at-least-once and the server's idempotency makes it exactly-once in effect.
pub trait Outbox {
    /// Statements not yet delivered: (client id, statement JSON).
    fn pending(&mut self) -> Result<Vec<(String, Value)>>;
    /// The server accepted (or had already accepted) this statement, with its own grading.
    fn delivered(&mut self, id: &str, answer: &StatementAccepted) -> Result<()>;
    /// The server refused it for good (e.g. 409: same id, other content).
    fn refused(&mut self, id: &str, reason: &str) -> Result<()>;
}

/// An outbox with nothing in it, for devices without the training crate's records.
#[derive(Debug, Default)]
pub struct EmptyOutbox;

impl Outbox for EmptyOutbox {
    fn pending(&mut self) -> Result<Vec<(String, Value)>> {
        Ok(Vec::new())
    }
    fn delivered(&mut self, _: &str, _: &StatementAccepted) -> Result<()> {
        Ok(())
    }
    fn refused(&mut self, _: &str, _: &str) -> Result<()> {
        Ok(())
    }
}

/// The proxy's audit records waiting to be uploaded (metadata only). The agent's audit
/// outbox implements this over the audit tables. Delivery is at-least-once: a record whose
/// delivery was not marked (a crash after the POST) is sent again, and the server ignores it
/// by (device, requestId).
pub trait EvidenceOutbox {
    /// Up to `limit` records not yet delivered, oldest first.
    fn pending(&mut self, limit: usize) -> Result<Vec<Value>>;
    /// The server holds the first `count` records of the last [`EvidenceOutbox::pending`].
    fn delivered(&mut self, count: usize) -> Result<()>;
}

/// Enrols this device: makes its key (in the keyring), posts it with the one-time code, pins
/// the issuer key the server names, mirrors the enrolment in SQLite.
pub fn enroll(
    db: &mut Database,
    keys: &Keystore,
    server_url: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Enrolment> {
    metadata::migrate(db)?;
    // Fail before talking to the server when secrets would have nowhere to go.
    keys.probe()?;
    let key = match keys.device_key()? {
        Some(k) => k,
        None => {
            let k = DeviceKey::generate()?;
            keys.store_device_key(&k)?;
            k
        }
    };
    let client = Client::new(server_url)?;
    let body = EnrollRequest {
        code: code.to_owned(),
        public_key: jws::encode_public_key(&key.public_key()),
    };
    let resp: EnrollResponse = client
        .send("the enrolment", &|| client.post("/v1/enroll").json(&body))?
        .json()
        .map_err(|e| protocol("enrolment answer", &e))?;
    let served: KeysResponse = client
        .send("the org keys", &|| client.get("/v1/keys"))?
        .json()
        .map_err(|e| protocol("org keys", &e))?;
    if served.issuer_key != resp.issuer_key || served.issuer != resp.issuer {
        return Err(Error::Protocol {
            what: "enrolment answer",
            reason: "the issuer key differs from the one the server publishes".into(),
        });
    }
    keys.store_device_secret(&Sensitive::new(resp.device_secret.clone()))?;
    let enrolment = Enrolment {
        server_url: server_url.trim_end_matches('/').to_owned(),
        device_id: resp.device_id,
        user_id: resp.user_id,
        profile: resp.profile,
        issuer: Issuer {
            name: resp.issuer,
            key: jws::decode_public_key(&resp.issuer_key)?,
        },
        policy_key_pem: served.policy_key_pem,
        enrolled_at: now,
    };
    metadata::save_enrolment(db, &enrolment)?;
    Ok(enrolment)
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub statements_delivered: usize,
    pub statements_refused: usize,
    pub tokens_stored: usize,
    pub revoked: usize,
    pub policy_updated: bool,
    /// Exception grants held after this sync (verified, unexpired).
    pub exception_grants: usize,
    /// Version of the content bundle newly installed by this sync, if any.
    pub bundle_installed: Option<String>,
    /// Proxy audit records uploaded ([`Device::upload_evidence`], run after the sync).
    pub evidence_uploaded: usize,
}

/// The device's context for talking to its server.
#[derive(Debug)]
pub struct Device {
    pub enrolment: Enrolment,
    pub key: DeviceKey,
    pub client: Client,
    /// Data dir the content bundle is installed in.
    pub data_dir: PathBuf,
}

impl Device {
    /// Loads enrolment (SQLite) and secrets (keyring).
    pub fn load(db: &mut Database, keys: &Keystore) -> Result<Self> {
        metadata::migrate(db)?;
        let enrolment = metadata::enrolment(db)?.ok_or(Error::NotEnrolled)?;
        let key = keys.device_key()?.ok_or(Error::NotEnrolled)?;
        let secret = keys.device_secret()?.ok_or(Error::NotEnrolled)?;
        let client = Client::new(&enrolment.server_url)?.with_device(&enrolment.device_id, &secret);
        Ok(Self {
            enrolment,
            key,
            client,
            data_dir: certgate_store::paths::data_dir()?,
        })
    }

    /// Installs content bundles under `dir` instead of the default data dir.
    #[must_use]
    pub fn with_data_dir(mut self, dir: PathBuf) -> Self {
        self.data_dir = dir;
        self
    }

    /// Drains the outbox, then fetches revocations, tokens and the policy. Safe to repeat and
    /// to interrupt: each step is idempotent.
    pub fn sync(
        &self,
        db: &Database,
        keys: &Keystore,
        outbox: &mut dyn Outbox,
        now: DateTime<Utc>,
    ) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        for (id, mut statement) in outbox.pending()? {
            // The actor is who the server enrolled; it is the same on every retry, so the
            // statement body (and its idempotency hash) does not change between attempts.
            if let Some(obj) = statement.as_object_mut() {
                obj.insert(
                    "actor".into(),
                    serde_json::json!({"account": {
                        "homePage": self.enrolment.server_url,
                        "name": self.enrolment.user_id,
                    }}),
                );
            }
            let sent = self.client.send("a statement", &|| {
                self.client.post("/v1/statements").json(&statement)
            });
            match sent {
                Ok(r) => {
                    let answer: StatementAccepted =
                        r.json().map_err(|e| protocol("statement answer", &e))?;
                    outbox.delivered(&id, &answer)?;
                    report.statements_delivered += 1;
                }
                // Refusals of this statement for good: malformed (400), locked track (403),
                // same id with other content (409), disagreeing score (422). A 401 means the
                // device itself is not recognised: stop and say so.
                Err(Error::Server {
                    status: 400 | 403 | 409 | 422,
                    message,
                    ..
                }) => {
                    outbox.refused(&id, &message)?;
                    report.statements_refused += 1;
                }
                Err(e) => return Err(e),
            }
        }

        let list_text = self
            .client
            .send("the revocation list", &|| {
                self.client.get("/v1/revocations")
            })?
            .text()
            .map_err(|e| protocol("revocation list", &e))?;
        let list = RevocationList::verify(&list_text, &self.enrolment.issuer)?;
        metadata::save_revocations(db, &list_text, now)?;
        report.revoked = list.len();

        let tokens: TokensResponse = self
            .client
            .send("the tokens", &|| self.client.get("/v1/tokens"))?
            .json()
            .map_err(|e| protocol("token list", &e))?;
        for token in tokens.tokens {
            let claims = self.enrolment.issuer.verify_certification(
                &token,
                &self.key.public_key(),
                &list,
                now,
            )?;
            keys.store_token(&claims.track, &Sensitive::new(token))?;
            metadata::save_certification(db, &claims, now)?;
            report.tokens_stored += 1;
        }

        report.exception_grants = self.fetch_exception_grants(db, keys, &list, now)?;
        report.policy_updated = self.fetch_policy(db, now)?;
        // Last: a refused bundle fails the sync with its reason, after everything else is in.
        report.bundle_installed = self.fetch_bundle(db, now)?;
        Ok(report)
    }

    /// Uploads the proxy's audit records to `POST /v1/evidence` in batches of at most
    /// [`EVIDENCE_BATCH_MAX`], marking each batch delivered once the server holds it. Returns
    /// how many records the server acknowledged (new, already held, or updated). Safe to
    /// interrupt: what was sent but not marked is sent again and deduplicated by the server.
    pub fn upload_evidence(&self, source: &mut dyn EvidenceOutbox) -> Result<usize> {
        let mut total = 0;
        loop {
            let records = source.pending(EVIDENCE_BATCH_MAX)?;
            if records.is_empty() {
                return Ok(total);
            }
            let count = records.len().min(EVIDENCE_BATCH_MAX);
            let body = EvidenceUpload {
                records: records.into_iter().take(count).collect(),
            };
            let answer: EvidenceAccepted = self
                .client
                .send("the proxy evidence", &|| {
                    self.client.post("/v1/evidence").json(&body)
                })?
                .json()
                .map_err(|e| protocol("evidence answer", &e))?;
            let held = answer.accepted + answer.duplicates + answer.updated;
            if held != count {
                return Err(Error::Protocol {
                    what: "evidence answer",
                    reason: format!("{count} records sent, {held} acknowledged"),
                });
            }
            if answer.duplicates > 0 {
                tracing::info!(
                    duplicates = answer.duplicates,
                    "the server already held some evidence records (a retried upload)"
                );
            }
            source.delivered(count)?;
            total += count;
        }
    }

    /// Replaces the cached grants with the verified ones the server holds for this device.
    /// A grant that does not verify is not kept; one the server no longer lists is removed.
    fn fetch_exception_grants(
        &self,
        db: &Database,
        keys: &Keystore,
        list: &RevocationList,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let resp = self.client.send("the exception grants", &|| {
            self.client.get("/v1/exception-grants")
        })?;
        let served: ExceptionGrantsResponse =
            resp.json().map_err(|e| protocol("exception grants", &e))?;
        let mut kept = BTreeSet::new();
        for token in &served.grants {
            match self.enrolment.issuer.verify_exception_grant(
                token,
                &self.key.public_key(),
                list,
                now,
            ) {
                Ok(claims) => {
                    keys.store_exception_grant(&claims.jti, &Sensitive::new(token.clone()))?;
                    metadata::save_exception_grant(db, &claims, now)?;
                    kept.insert(claims.jti);
                }
                Err(e) => tracing::warn!(error = %e, "exception grant from the server refused"),
            }
        }
        for jti in metadata::exception_grant_ids(db)? {
            if !kept.contains(&jti) {
                keys.delete_exception_grant(&jti)?;
                metadata::remove_exception_grant(db, &jti)?;
            }
        }
        Ok(kept.len())
    }

    /// Fetches the org's content bundle when it changed (ETag), verifies it against the
    /// pinned org key and the org policy, installs it atomically. Returns the installed
    /// version, `None` when unchanged or when the server serves no bundle.
    pub fn fetch_bundle(&self, db: &Database, now: DateTime<Utc>) -> Result<Option<String>> {
        let installed = metadata::installed_bundle(db)?
            .filter(|_| crate::content::installed_bundle_path(&self.data_dir).is_file());
        let etag = installed.as_ref().map(|b| b.etag.clone());
        let sent = self.client.send("the content bundle", &|| {
            let rb = self.client.get("/v1/bundle");
            match &etag {
                Some(e) => rb.header(reqwest::header::IF_NONE_MATCH, e),
                None => rb,
            }
        });
        let resp = match sent {
            Ok(r) => r,
            Err(Error::Server { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let new_etag = header(&resp, "etag").unwrap_or_default();
        let served_version = header(&resp, BUNDLE_VERSION_HEADER);
        let bytes = resp.bytes().map_err(|e| protocol("content bundle", &e))?;
        let (key, policy) = self.pinned_policy(db)?;
        let done = crate::content::install_bundle(&self.data_dir, &bytes, &key, &policy)?;
        if let Some(v) = served_version.filter(|v| *v != done.version) {
            tracing::warn!(served = %v, signed = %done.version, "bundle version header differs from the signed bundle; the signed one is installed");
        }
        metadata::save_installed_bundle(
            db,
            &metadata::InstalledBundleRow {
                etag: new_etag,
                sha256: done.sha256,
                version: done.version.clone(),
            },
            now,
        )?;
        Ok(Some(done.version))
    }

    /// The pinned org key and the org policy last fetched (verified again under that key).
    fn pinned_policy(
        &self,
        db: &Database,
    ) -> Result<(certgate_policy::PublicKey, certgate_policy::LoadedPolicy)> {
        let key = certgate_policy::PublicKey::from_pem(
            &self.enrolment.policy_key_pem,
            std::path::Path::new("<pinned org key>"),
        )
        .map_err(|e| Error::Policy(Box::new(e)))?;
        let Some((_, text, signature)) = metadata::policy(db)? else {
            return Err(Error::Bundle {
                what: "no org policy yet",
                reason: "the bundle is checked against the org policy, which has not been fetched"
                    .into(),
            });
        };
        let policy =
            certgate_policy::load_signed_text(&text, &signature, "<org server policy>", &key)
                .map_err(|e| Error::Policy(Box::new(e)))?;
        Ok((key, policy))
    }

    /// Proves this device's posture to the server: fetches a fresh nonce, signs the report's
    /// facts with the device key and the next counter, posts it. Returns the counter used.
    pub fn attest_posture(
        &self,
        db: &Database,
        report: &certgate_posture::PostureReport,
    ) -> Result<u64> {
        let nonce: crate::wire::NonceResponse = self
            .client
            .send("a posture nonce", &|| self.client.post("/v1/posture/nonce"))?
            .json()
            .map_err(|e| protocol("posture nonce", &e))?;
        let counter = metadata::next_attestation_counter(db)?;
        let attestation = certgate_posture::attest(report, &nonce.nonce, counter, &self.key)
            .map_err(|e| Error::Protocol {
                what: "posture attestation",
                reason: e.to_string(),
            })?;
        self.client.send("the posture attestation", &|| {
            self.client
                .post("/v1/posture/attestations")
                .json(&attestation)
        })?;
        Ok(counter)
    }

    /// Fetches the org policy when it changed (ETag) and keeps it only when it verifies under
    /// the pinned org key. Returns whether it changed.
    pub fn fetch_policy(&self, db: &Database, now: DateTime<Utc>) -> Result<bool> {
        let etag = metadata::policy(db)?.map(|(e, _, _)| e);
        let resp = self.client.send("the policy", &|| {
            let rb = self.client.get("/v1/policy");
            match &etag {
                Some(e) => rb.header(reqwest::header::IF_NONE_MATCH, e),
                None => rb,
            }
        })?;
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(false);
        }
        let new_etag = header(&resp, "etag").unwrap_or_default();
        let signature = header(&resp, "x-certgate-signature").unwrap_or_default();
        let text = resp.text().map_err(|e| protocol("policy", &e))?;
        // Only a policy signed by the org key pinned at enrolment is kept.
        let key = certgate_policy::PublicKey::from_pem(
            &self.enrolment.policy_key_pem,
            std::path::Path::new("<pinned org key>"),
        )
        .map_err(|e| Error::Policy(Box::new(e)))?;
        certgate_policy::load_signed_text(&text, &signature, "<org server policy>", &key)
            .map_err(|e| Error::Policy(Box::new(e)))?;
        metadata::save_policy(db, &new_etag, &text, &signature, now)?;
        Ok(true)
    }
}

fn header(r: &reqwest::blocking::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn protocol(what: &'static str, e: &reqwest::Error) -> Error {
    Error::Protocol {
        what,
        reason: e.to_string(),
    }
}

/// One track's certification on this device, as `certgate certs` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificationStatus {
    pub track: String,
    pub state: TokenState,
    pub expires_at: Option<DateTime<Utc>>,
    pub score: Option<f64>,
    /// Why a token is not valid, in words.
    pub detail: Option<String>,
    /// The policy engine's view (only for tokens that verify).
    #[serde(skip)]
    pub claim: Option<CertificationClaim>,
}

/// Verifies every token this device holds, offline, at `now`, with the default maximum age
/// of the revocation list ([`DEFAULT_REVOCATION_MAX_AGE`]).
pub fn certifications(
    db: &mut Database,
    keys: &Keystore,
    now: DateTime<Utc>,
) -> Result<Vec<CertificationStatus>> {
    certifications_at(db, keys, &FixedClock(now), DEFAULT_REVOCATION_MAX_AGE)
}

/// Verifies every token this device holds, offline, at `clock`'s time. When the cached
/// revocation list is older than `max_revocation_age` (or missing) every token is
/// [`TokenState::Stale`] ("revocation list is stale: run certgate sync") and gives the policy
/// engine nothing: fail closed until the next sync.
pub fn certifications_at(
    db: &mut Database,
    keys: &Keystore,
    clock: &dyn Clock,
    max_revocation_age: Duration,
) -> Result<Vec<CertificationStatus>> {
    let now = clock.now();
    metadata::migrate(db)?;
    let enrolment = metadata::enrolment(db)?.ok_or(Error::NotEnrolled)?;
    let key = keys.device_key()?.ok_or(Error::NotEnrolled)?;
    let list = match metadata::revocations(db)? {
        Some(t) => RevocationList::verify(&t, &enrolment.issuer)?,
        None => RevocationList::default(),
    };
    let fresh = list.check_fresh(now, max_revocation_age);
    let mut out = Vec::new();
    for row in metadata::certifications(db)? {
        let Some(token) = keys.token(&row.track)? else {
            continue;
        };
        let outcome = match &fresh {
            // The signature, binding and expiry are still checked first, so a stale list
            // never hides a worse problem (and never admits anything).
            Err(Error::RevocationListStale {
                signed_at,
                max_age_hours,
            }) => enrolment
                .issuer
                .verify_certification(token.expose(), &key.public_key(), &list, now)
                .and(Err(Error::RevocationListStale {
                    signed_at: *signed_at,
                    max_age_hours: *max_age_hours,
                })),
            _ => {
                enrolment
                    .issuer
                    .verify_certification(token.expose(), &key.public_key(), &list, now)
            }
        };
        let state = TokenState::of(&outcome, now);
        out.push(CertificationStatus {
            track: row.track,
            state,
            expires_at: Some(row.expires_at),
            score: Some(row.score),
            detail: outcome.as_ref().err().map(ToString::to_string),
            claim: outcome.ok().map(|c| c.to_claim()),
        });
    }
    Ok(out)
}

/// `UserContext.certifications` from the tokens that verify now: an expired, revoked or
/// foreign token contributes nothing, so access stops at once, even offline.
pub fn policy_certifications(
    statuses: &[CertificationStatus],
) -> BTreeMap<String, CertificationClaim> {
    statuses
        .iter()
        .filter_map(|s| s.claim.clone().map(|c| (s.track.clone(), c)))
        .collect()
}
