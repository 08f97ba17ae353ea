//! The demo org in-process: the org server with the demo policy and content on loopback, its
//! demo user, and the steps a real device takes against it (enrolment code, enrolment, a passed
//! quiz, sync). Used by `certgate demo` and the app's demo mode; never for real access.

use std::path::Path;
use std::sync::Arc;

use certgate_credentials::metadata::Enrolment;
use certgate_credentials::{
    CertificationClaims, Confirmation, DeviceKey, Keystore, RevocationList, Sensitive, SyncReport,
    device,
};
use certgate_policy::{CertificationClaim, LoadedPolicy, UserContext};
use certgate_server::routes::CodeResponse;
use certgate_server::state::{IssuerKeys, demo_bundle_doc, demo_policy};
pub use certgate_server::updates::UpdateShelf;
use certgate_server::{AppState, Running};
use certgate_store::Database;
use certgate_training::{AttemptRecord, QuestionKind, Records, TrackRules, plan_attempt, quiz};
use chrono::Utc;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};

use crate::error::{Error, Result};

/// The tool surface of the demo's client key: an SDK copilot the demo policy allows.
pub const LABEL: &str = "developer-sdk";
/// The track the demo user takes.
pub const TRACK: &str = "AI_CONSUMER_EXTERNAL";
pub const USER: &str = "demo-contractor";
pub const USER_TYPE: &str = "contractor";
pub const VENDOR: &str = "Demo Vendor";
pub const REGION: &str = "us-east-1";
/// The demo server's name in its tokens.
pub const ISSUER: &str = "certgate-demo";

/// The demo user as the gate sees them, before certifications are filled in.
pub fn user() -> UserContext {
    UserContext {
        id: Some(USER.to_owned()),
        user_type: Some(USER_TYPE.to_owned()),
        vendor_org: Some(VENDOR.to_owned()),
        region: Some(REGION.to_owned()),
        certifications: Default::default(),
    }
}

/// One upstream per region the policy allows, all pointing at the demo's mock model.
pub fn mock_upstreams(policy: &LoadedPolicy, mock_url: &str) -> Vec<certgate_proxy::Upstream> {
    policy
        .policy
        .scope
        .regions_allowed
        .iter()
        .map(|region| certgate_proxy::Upstream {
            region: region.clone(),
            base_url: mock_url.to_owned(),
            api_key: None,
        })
        .collect()
}

/// The demo org server, serving on loopback until dropped.
pub struct DemoOrg {
    state: Arc<AppState>,
    admin: Sensitive<String>,
    url: String,
    _server: Running,
}

impl std::fmt::Debug for DemoOrg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoOrg")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// The demo issuer key kept in `dir`, so tokens issued before a restart still verify. It signs
/// demo tokens only (the demo policy is signed with a published key anyway).
fn issuer_key(dir: &Path) -> Result<SigningKey> {
    let path = dir.join("demo-issuer.pem");
    if let Ok(pem) = std::fs::read_to_string(&path) {
        return SigningKey::from_pkcs8_pem(&pem).map_err(|e| Error::Demo {
            what: "issuer key",
            reason: format!(
                "{} is not a PKCS#8 Ed25519 key ({e}); delete it",
                path.display()
            ),
        });
    }
    let key = certgate_credentials::jws::generate_key()?;
    let pem = key
        .to_pkcs8_pem(Default::default())
        .map_err(|e| Error::Demo {
            what: "issuer key",
            reason: e.to_string(),
        })?;
    let tmp = dir.join("demo-issuer.pem.tmp");
    write_private(&tmp, pem.as_bytes())?;
    std::fs::rename(&tmp, &path).map_err(io("write", &path))?;
    Ok(key)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io("create", path))?;
    file.write_all(bytes).map_err(io("write", path))?;
    file.sync_all().map_err(io("write", path))
}

impl DemoOrg {
    /// Starts the demo server on a free loopback port, its database and issuer key in `dir`
    /// (kept across restarts: a passed quiz stays passed).
    pub async fn start(dir: &Path) -> Result<Self> {
        Self::start_offering(dir, None).await
    }

    /// [`Self::start`], also offering the app update in `updates` to devices that check.
    pub async fn start_offering(dir: &Path, updates: Option<UpdateShelf>) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let (doc, regrader) = demo_policy()?;
        let admin = Sensitive::new(crate::random_hex(32)?);
        let state = Arc::new(
            AppState::new(
                Database::open(&dir.join("demo-server.db"))?,
                IssuerKeys {
                    name: ISSUER.to_owned(),
                    signing: Sensitive::new(issuer_key(dir)?),
                },
                doc,
                admin.expose(),
                Box::new(regrader),
                Arc::new(Utc::now),
            )?
            .with_bundle(Some(demo_bundle_doc()?))
            .with_updates(updates),
        );
        let server = certgate_server::spawn(state.clone(), ([127, 0, 0, 1], 0).into()).await?;
        Ok(Self {
            url: format!("http://{}", server.addr),
            state,
            admin,
            _server: server,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// What a blocking helper needs to act as the demo admin: the URL and the admin token.
    pub fn admin(&self) -> (String, Sensitive<String>) {
        (self.url.clone(), self.admin.clone())
    }

    /// Without a keyring: the demo user's certification minted in memory with the demo
    /// issuer key, bound to a throw-away device key, and verified offline as a device does.
    pub fn mint_in_memory(&self, policy: &LoadedPolicy) -> Result<CertificationClaim> {
        let track = policy.policy.track(TRACK).ok_or(Error::Demo {
            what: "token",
            reason: format!("the demo policy has no {TRACK} track"),
        })?;
        let device = DeviceKey::generate()?;
        let now = self.state.now();
        let claims = CertificationClaims {
            iss: self.state.issuer.name.clone(),
            sub: USER.to_owned(),
            track: TRACK.to_owned(),
            status: "passed".to_owned(),
            score: 100.0,
            modules: track.modules.clone(),
            policy_version: policy.sha256.clone(),
            iat: now.timestamp(),
            exp: (now + chrono::Duration::days(i64::from(track.recertify_days))).timestamp(),
            jti: format!("demo-{}", crate::random_hex(8)?),
            cnf: Confirmation {
                jkt: device.thumbprint(),
            },
        };
        let token = claims.sign(self.state.issuer.signing.expose())?;
        let verified = self.state.issuer.issuer().verify_certification(
            &token,
            &device.public_key(),
            &RevocationList::default(),
            now,
        )?;
        Ok(verified.to_claim())
    }
}

/// A one-time enrolment code for the demo user from the demo server's admin API. Blocking:
/// call it off the async threads.
pub fn enrolment_code(server_url: &str, admin: &Sensitive<String>) -> Result<String> {
    let client = certgate_credentials::client::Client::new(server_url)?.with_admin(admin);
    let body = serde_json::json!({"userId": USER, "userType": USER_TYPE, "vendorOrg": VENDOR,
                                  "region": REGION});
    let code: CodeResponse = client
        .send("the demo enrolment code", &|| {
            client.post("/v1/admin/enrolment-codes").json(&body)
        })?
        .json()
        .map_err(|e| Error::Demo {
            what: "enrolment code",
            reason: e.to_string(),
        })?;
    Ok(code.code)
}

/// Enrols this device with the demo server as the demo user (device key in `keys`, enrolment
/// in `device_db`). Blocking.
pub fn enrol(
    server_url: &str,
    admin: &Sensitive<String>,
    device_db: &Path,
    keys: &Keystore,
) -> Result<Enrolment> {
    let code = enrolment_code(server_url, admin)?;
    let mut db = Database::open(device_db)?;
    Ok(device::enroll(
        &mut db,
        keys,
        server_url,
        &code,
        Utc::now(),
    )?)
}

/// Records a correctly answered demo quiz attempt in `records` (`certgate demo --certified`:
/// the steps a person takes, scripted).
pub fn pass_quiz(records: &mut Records) -> Result<()> {
    let policy = certgate_policy::demo::load()?;
    let bundle = certgate_training::demo::bundle(&policy)?;
    let quiz_error = |reason: String| Error::Demo {
        what: "quiz",
        reason,
    };
    let content = bundle
        .track(TRACK)
        .ok_or_else(|| quiz_error(format!("the demo course has no {TRACK} quiz")))?;
    let seed = quiz::new_seed()?;
    let plan = plan_attempt(&content.bank, content.draw_count, seed);
    let started_at = Utc::now();
    let mut responses = Vec::new();
    for planned in &plan.questions {
        let question = content
            .bank
            .question(&planned.question_id)
            .ok_or_else(|| quiz_error("the plan names a question the bank lacks".into()))?;
        let typed = match &question.kind {
            QuestionKind::TrueFalse { answer } => answer.to_string(),
            _ => planned.correct_letters(question),
        };
        let choice = planned
            .parse_answer(question, &typed)
            .map_err(|e| quiz_error(format!("answer refused: {e}")))?;
        responses.push(certgate_training::Response {
            question_id: planned.question_id.clone(),
            choice,
        });
    }
    let attempt = AttemptRecord::grade(
        &bundle,
        TRACK,
        &TrackRules::in_policy(&policy.policy, &bundle, TRACK)
            .ok_or_else(|| quiz_error(format!("the demo policy has no {TRACK} track")))?,
        seed,
        responses,
        started_at,
        Utc::now(),
    )?;
    records.submit_attempt(&attempt)?;
    Ok(())
}

/// [`crate::org::sync`] with the proxy's audit tables in the records' database (where the
/// CLI demo and the app keep them). Blocking.
pub fn sync(device_db: &Path, keys: &Keystore, records: Records) -> Result<SyncReport> {
    let audit_db = records.database().path().to_owned();
    crate::org::sync(device_db, keys, records, &audit_db)
}

/// Demo only: approves exception request `id` as every approver role the demo policy
/// requires, through the demo org's admin API (a real org's approvers do this on the server).
/// Blocking.
pub fn approve_exception(
    server_url: &str,
    admin: &Sensitive<String>,
    id: &str,
) -> Result<certgate_credentials::wire::ExceptionStatus> {
    let policy = certgate_policy::demo::load()?;
    let client = certgate_credentials::client::Client::new(server_url)?.with_admin(admin);
    let path = format!("/v1/admin/exceptions/{id}/approve");
    let mut last = None;
    for role in &policy
        .policy
        .access_gating
        .approvals
        .exception_path
        .required_approvers
    {
        let body = certgate_credentials::wire::Approval {
            role: role.role.clone(),
            approver: format!("demo {}", role.role),
        };
        let resp = client.send("a demo approval", &|| client.post(&path).json(&body))?;
        last = Some(resp.json().map_err(|e| Error::Protocol {
            what: "the approval's answer",
            reason: e.to_string(),
        })?);
    }
    last.ok_or(Error::Demo {
        what: "approval",
        reason: "the demo policy names no approver role".into(),
    })
}
