//! Copilot access in the app: the governed proxy on loopback, run by the agent crate's
//! `LocalStack` and fed by this device (its posture watcher, its tokens). In demo mode the demo
//! org server and the mock model run in-process too; the device enrols with the demo org at
//! each start and sends its training records there, so a quiz passed in the app is re-graded
//! by a real server before the proxy lets anything through.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use certgate_agent::demo::{self, DemoOrg};
use certgate_agent::{Certifications, DeviceFeed, Facts, LocalStack, StackOptions};
use certgate_credentials::Keystore;
use certgate_policy::LoadedPolicy;
use certgate_posture::PostureCache;
use certgate_proxy::mock::{MockHandle, MockOptions};
use certgate_proxy::{AuditLog, ClientKey, ProxyConfig, Sensitive};
use certgate_store::Database;
use certgate_training::Records;
use tokio::sync::OnceCell;

use crate::dto::{
    AccessState, AccessView, ActivityItem, ChatReplyView, ExceptionInput, ExceptionView,
    RefusalView,
};
use crate::error::{CommandError, ErrorCode};

/// The keyring namespace of the app's demo device (apart from a real enrolment's).
const DEMO_KEYRING_SERVICE: &str = "io.certgate.desktop.demo";
/// The port tools are told about; another free one is taken when it is busy.
const PREFERRED_PORT: u16 = 8787;
/// The tool surface of the app's own chat (a copilot of the demo policy: `desktop_app`).
const CHAT_TOOL: &str = "certgate-chat";
/// The model the chat asks for.
const CHAT_MODEL: &str = "gpt-4o-mini";
/// Rebuild the gate's view at least this often (posture freshness, token expiry).
const REFRESH: Duration = Duration::from_secs(30);

/// Managed by Tauri from the start; filled once the stack is up (or could not start).
#[derive(Default)]
pub struct Access {
    running: OnceCell<Result<Running, CommandError>>,
    /// Demo only: the gate sees a simulated compliant device instead of this one.
    simulated_posture: Arc<AtomicBool>,
}

struct Running {
    stack: LocalStack,
    client_key: Sensitive,
    /// The app's own chat key, for the tool surface the policy names for the desktop app.
    chat_key: Sensitive,
    /// The proxy's evidence log, to read what the chat's requests had pseudonymized.
    audit: AuditLog,
    demo: Option<Demo>,
    /// The enrolled device that syncs and files exception requests: the demo device in demo
    /// mode, this device's real enrolment in org mode. `None` without an OS keyring.
    device: Option<DeviceLink>,
    app_db: PathBuf,
}

/// The in-process demo org.
struct Demo {
    org: DemoOrg,
    _mock: MockHandle,
}

/// An enrolled device: its database and the keyring holding its key.
#[derive(Clone)]
struct DeviceLink {
    db: PathBuf,
    keys: Keystore,
}

/// What org mode starts from: this device's enrolment and the org's managed settings.
pub struct OrgDevice {
    pub enrolment: certgate_credentials::metadata::Enrolment,
    pub device: crate::device::DeviceStore,
    /// The org's AI gateway per region (managed `modelUpstreams`).
    pub upstreams: Vec<certgate_managed::ModelUpstream>,
    pub port: u16,
}

fn access_error(message: impl std::fmt::Display) -> CommandError {
    CommandError {
        code: ErrorCode::Access,
        message: message.to_string(),
    }
}

impl Access {
    /// Starts the stack (once). Errors are kept and shown, never fatal: the rest of the app
    /// (training, posture) works without copilot access.
    pub async fn start(
        &self,
        policy: Arc<LoadedPolicy>,
        posture: PostureCache,
        org: Option<OrgDevice>,
    ) {
        let result = self
            .running
            .get_or_init(|| async {
                match org {
                    Some(org) => start_org(policy, posture, org).await,
                    None => start_demo(policy, posture, self.simulated_posture.clone()).await,
                }
            })
            .await;
        match result {
            Ok(r) => {
                tracing::info!(proxy = %r.stack.url(), demo = r.demo.is_some(), "copilot proxy listening");
                // Tokens for what was passed before this start (the org kept the records).
                if let Err(e) = self.sync().await {
                    tracing::warn!(code = ?e.code, "first sync failed: {}", e.message);
                }
            }
            Err(e) => tracing::error!(code = ?e.code, "copilot access unavailable: {}", e.message),
        }
    }

    fn running(&self) -> Option<Result<&Running, CommandError>> {
        self.running.get().map(|r| r.as_ref().map_err(Clone::clone))
    }

    /// What the Copilot access card shows.
    pub fn view(&self) -> AccessView {
        let Some(running) = self.running() else {
            return AccessView::starting();
        };
        let running = match running {
            Ok(r) => r,
            Err(e) => return AccessView::unavailable(e.message),
        };
        let outcome = running.stack.check(demo::LABEL);
        let counts = Database::open(&running.app_db)
            .ok()
            .and_then(|db| certgate_proxy::audit::counts_since(db.conn(), start_of_today()).ok())
            .unwrap_or_default();
        let notice = match (&running.demo, &running.device) {
            (Some(_), None) => Some(
                "No OS keyring is reachable, so this demo device cannot keep a certification \
                 token: access stays off. Start a Secret Service (e.g. gnome-keyring) and restart."
                    .to_owned(),
            ),
            _ => None,
        };
        AccessView {
            state: if running.stack.switched_off() {
                AccessState::Off
            } else if outcome.allowed {
                AccessState::Ready
            } else {
                AccessState::Blocked
            },
            proxy_url: Some(running.stack.url()),
            api_key: Some(running.client_key.expose().clone()),
            tool_surface: demo::LABEL.to_owned(),
            reasons: outcome.reasons.iter().map(Into::into).collect(),
            requests_today: counts.requests,
            refused_today: counts.refused,
            demo: running.demo.is_some(),
            simulated_posture: self.simulated_posture.load(Ordering::Relaxed),
            notice,
        }
    }

    /// Turns copilot access on or off for every tool on this device (the proxy keeps
    /// listening and refuses with the reason while off).
    pub fn switch(&self, on: bool) -> Result<AccessView, CommandError> {
        let running = self
            .running()
            .ok_or_else(|| access_error("copilot access is still starting"))??;
        running.stack.switch_off(!on);
        tracing::info!(on, "copilot access switched by the user");
        Ok(self.view())
    }

    /// Demo only: let the gate see a simulated compliant device (or this one again).
    pub async fn simulate_posture(&self, on: bool) -> Result<AccessView, CommandError> {
        let running = self
            .running()
            .ok_or_else(|| access_error("copilot access is still starting"))??;
        if running.demo.is_none() {
            return Err(access_error(
                "a simulated device exists only in demo mode: with an org policy the gate \
                 always sees this device",
            ));
        }
        self.simulated_posture.store(on, Ordering::Relaxed);
        tracing::warn!(on, "demo: simulated device posture switched");
        running.stack.refresh().await.map_err(access_error)?;
        Ok(self.view())
    }

    /// Sends the training records to the org, fetches tokens, and refreshes the gate.
    pub async fn sync(&self) -> Result<AccessView, CommandError> {
        let running = self
            .running()
            .ok_or_else(|| access_error("copilot access is still starting"))??;
        if let Some(DeviceLink { db, keys }) = running.device.clone() {
            let app_db = running.app_db.clone();
            let report = tokio::task::spawn_blocking(move || {
                let records = Records::new(Database::open(&app_db)?)?;
                certgate_agent::org::sync(&db, &keys, records, &app_db)
            })
            .await
            .map_err(|_| access_error("the sync stopped"))?
            .map_err(access_error)?;
            tracing::info!(
                delivered = report.statements_delivered,
                tokens = report.tokens_stored,
                demo = running.demo.is_some(),
                "synced with the org"
            );
        }
        running.stack.refresh().await.map_err(access_error)?;
        Ok(self.view())
    }

    /// The exceptions the gate holds now (what they cover, when they end).
    pub(crate) fn exception_keys(&self) -> Vec<certgate_training::notice::ExceptionKey> {
        match self.running() {
            Some(Ok(r)) => r
                .stack
                .gate()
                .borrow()
                .exceptions
                .iter()
                .map(|g| (g.track.clone(), g.expires_at))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The enrolled device exception requests are filed from.
    fn device(&self) -> Result<DeviceLink, CommandError> {
        let running = self
            .running()
            .ok_or_else(|| access_error("copilot access is still starting"))??;
        running.device.clone().ok_or_else(|| {
            access_error(
                "exception requests need this device enrolled with the org (and an OS keyring)",
            )
        })
    }

    /// Files an exception request for the app's tool surface.
    pub async fn request_exception(
        &self,
        input: ExceptionInput,
    ) -> Result<ExceptionView, CommandError> {
        let DeviceLink { db, keys } = self.device()?;
        let request = certgate_credentials::wire::ExceptionRequest {
            track: input.track,
            tool: Some(demo::LABEL.to_owned()),
            duration_days: input.duration_days,
            justification: input.justification,
        };
        let status = tokio::task::spawn_blocking(move || {
            certgate_agent::exceptions::request(&db, &keys, &request)
        })
        .await
        .map_err(|_| access_error("the exception request stopped"))?
        .map_err(access_error)?;
        Ok(ExceptionView::from(&status))
    }

    /// Where a request stands.
    pub async fn exception_status(&self, id: String) -> Result<ExceptionView, CommandError> {
        let DeviceLink { db, keys } = self.device()?;
        let status = tokio::task::spawn_blocking(move || {
            certgate_agent::exceptions::status(&db, &keys, &id)
        })
        .await
        .map_err(|_| access_error("the exception status stopped"))?
        .map_err(access_error)?;
        Ok(ExceptionView::from(&status))
    }

    /// Demo only: the demo org's approvers approve, then the grant is synced to the gate.
    pub async fn approve_exception_demo(&self, id: String) -> Result<ExceptionView, CommandError> {
        let running = self
            .running()
            .ok_or_else(|| access_error("copilot access is still starting"))??;
        let Some(demo) = &running.demo else {
            return Err(access_error(
                "only the demo organisation approves from the app; your org's approvers \
                 decide on the server",
            ));
        };
        let (url, admin) = demo.org.admin();
        let status =
            tokio::task::spawn_blocking(move || demo::approve_exception(&url, &admin, &id))
                .await
                .map_err(|_| access_error("the demo approval stopped"))?
                .map_err(access_error)?;
        self.sync().await?;
        Ok(ExceptionView::from(&status))
    }

    /// Sends the conversation through the proxy as the app's chat tool, streaming the answer's
    /// text to `on_text`; says what the proxy pseudonymized (types and counts, from its
    /// evidence record) and whether the answer needs a person's approval.
    pub async fn chat(
        &self,
        turns: Vec<certgate_agent::chat::Turn>,
        on_text: impl FnMut(&str),
    ) -> Result<ChatReplyView, CommandError> {
        let running = self
            .running()
            .ok_or_else(|| access_error("copilot access is still starting"))??;
        let reply = certgate_agent::chat::send(
            &running.stack.url(),
            running.chat_key.expose(),
            CHAT_MODEL,
            &turns,
            on_text,
        )
        .await
        .map_err(access_error)?;
        let mut pseudonymized = Vec::new();
        if let Some(id) = &reply.request_id {
            running.audit.flush().await.map_err(access_error)?;
            let db = Database::open(&running.app_db).map_err(access_error)?;
            if let Some(rec) = certgate_proxy::audit::find(db.conn(), id).map_err(access_error)? {
                pseudonymized = ActivityItem::from(&rec).findings;
            }
        }
        Ok(ChatReplyView {
            request_id: reply.request_id,
            text: reply.text,
            approval_required: reply.approval_required,
            refused: reply
                .refused
                .map(|(status, message)| RefusalView { status, message }),
            pseudonymized,
        })
    }

    /// Records a person's decision on a chat answer that needed approval.
    pub async fn decide(&self, request_id: &str, approved: bool) -> Result<(), CommandError> {
        let running = self
            .running()
            .ok_or_else(|| access_error("copilot access is still starting"))??;
        let outcome = if approved { "approved" } else { "rejected" };
        certgate_agent::chat::decide(
            &running.stack.url(),
            running.chat_key.expose(),
            request_id,
            outcome,
        )
        .await
        .map_err(access_error)
    }

    /// The newest proxy requests from the audit log (metadata only: types and counts).
    pub fn activity(&self, limit: usize) -> Result<Vec<ActivityItem>, CommandError> {
        let running = self
            .running()
            .ok_or_else(|| access_error("copilot access is still starting"))??;
        let db = Database::open(&running.app_db).map_err(access_error)?;
        let records = certgate_proxy::audit::recent(db.conn(), limit).map_err(access_error)?;
        Ok(records.iter().map(ActivityItem::from).collect())
    }
}

/// Starts copilot access in the background once the app is up (the window does not wait).
pub fn spawn_start<R: tauri::Runtime>(app: tauri::AppHandle<R>) {
    use tauri::Manager;
    tauri::async_runtime::spawn(async move {
        let state = app.state::<crate::state::AppState>();
        let (Ok(policy), Ok(posture)) = (state.shared_policy(), state.posture()) else {
            tracing::warn!("no copilot access: the policy or the posture watcher did not load");
            return;
        };
        let cache = posture.cache.clone();
        let org = state.enrolment.clone().map(|enrolment| {
            let managed = app.state::<crate::settings::Settings>();
            OrgDevice {
                enrolment,
                device: app.state::<crate::device::DeviceStore>().inner().clone(),
                upstreams: managed
                    .managed()
                    .config()
                    .map(|(c, _)| c.model_upstreams.clone())
                    .unwrap_or_default(),
                port: managed.effective().proxy_port.value,
            }
        });
        let access = app.state::<Access>();
        access.start(policy, cache, org).await;
        if let Some(Ok(running)) = access.running() {
            forward_blocks(app.clone(), running.stack.events());
            keep_syncing(app.clone());
        }
        crate::tray::refresh(&app);
    });
}

/// How often the app syncs with the org on its own (tokens, revocations, grants, evidence).
const SYNC_EVERY: Duration = Duration::from_secs(10 * 60);

/// Syncs on a timer; tells the user when an exception was approved or expired, and when syncs
/// have failed for over an hour (once, until one works again).
fn keep_syncing<R: tauri::Runtime>(app: tauri::AppHandle<R>) {
    use certgate_training::notice::{exception_notices, sync_notice};
    use tauri::Manager;
    tauri::async_runtime::spawn(async move {
        let access = app.state::<Access>();
        let mut last_ok = chrono::Utc::now();
        let mut told = false;
        let mut timer = tokio::time::interval(SYNC_EVERY);
        timer.tick().await;
        loop {
            timer.tick().await;
            let before = access.exception_keys();
            let now = chrono::Utc::now();
            let mut due = Vec::new();
            match access.sync().await {
                Ok(_) => {
                    last_ok = now;
                    told = false;
                    due.extend(exception_notices(&before, &access.exception_keys(), now));
                }
                Err(e) => {
                    tracing::warn!(code = ?e.code, "sync failed: {}", e.message);
                    if let Some(n) = sync_notice(last_ok, now, told) {
                        told = true;
                        due.push(n);
                    }
                }
            }
            if let Some(notices) = app.try_state::<crate::notify::Notices>() {
                due.into_iter().for_each(|n| notices.send(n));
            }
            crate::tray::refresh(&app);
        }
    });
}

/// A request the proxy blocked becomes a desktop notification (types only; the notifier's
/// rate limit folds a burst into one).
fn forward_blocks<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    mut events: tokio::sync::broadcast::Receiver<certgate_proxy::Event>,
) {
    use tauri::Manager;
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(certgate_proxy::Event::RequestBlocked { finding_types, .. }) => {
                    if let Some(notices) = app.try_state::<crate::notify::Notices>() {
                        notices.send(certgate_training::notice::Notice::RequestBlocked {
                            types: finding_types,
                        });
                    }
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}

/// After a passed quiz: send it to the org and pick up the token, without holding the UI.
pub fn spawn_sync<R: tauri::Runtime>(app: tauri::AppHandle<R>) {
    use tauri::Manager;
    tauri::async_runtime::spawn(async move {
        if let Err(e) = app.state::<Access>().sync().await {
            tracing::warn!(code = ?e.code, "sync after the quiz failed: {}", e.message);
        }
        crate::tray::refresh(&app);
    });
}

fn start_of_today() -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Local::now();
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .map_or_else(|| now.to_utc(), |t| t.to_utc())
}

/// Demo mode: the demo org and the mock model in-process, the demo device enrolled with them.
async fn start_demo(
    policy: Arc<LoadedPolicy>,
    posture: PostureCache,
    simulated: Arc<AtomicBool>,
) -> Result<Running, CommandError> {
    if policy.trust != certgate_policy::Trust::Demo {
        return Err(access_error(
            "copilot access with a policy named by CERTGATE_POLICY needs this device enrolled \
             with the org: enrol in Certgate (or `certgate enroll`), or run `certgate proxy`",
        ));
    }
    let data_dir = certgate_store::paths::data_dir().map_err(access_error)?;
    let app_db = data_dir.join(certgate_store::FILE_NAME);
    let demo_dir = data_dir.join("demo");
    let org = DemoOrg::start(&demo_dir).await.map_err(access_error)?;
    let device_db = demo_dir.join("device.db");
    let keys = match Keystore::new(DEMO_KEYRING_SERVICE).and_then(|k| k.probe().map(|()| k)) {
        Ok(k) => Some(k),
        Err(e) => {
            tracing::warn!(error = %e, "no OS keyring: the demo device cannot hold tokens");
            None
        }
    };
    if let Some(keys) = &keys {
        // The demo org listens on a new port each start: enrol again (the device key stays).
        let ((url, admin), keys, db) = (org.admin(), keys.clone(), device_db.clone());
        tokio::task::spawn_blocking(move || demo::enrol(&url, &admin, &db, &keys))
            .await
            .map_err(|_| access_error("the demo enrolment stopped"))?
            .map_err(access_error)?;
    }
    let mock = certgate_proxy::mock::start(([127, 0, 0, 1], 0).into(), MockOptions::default())
        .await
        .map_err(access_error)?;
    let client_key = Sensitive::new(format!(
        "cg-demo-{}",
        certgate_agent::random_hex(16).map_err(access_error)?
    ));
    let device = keys.map(|keys| DeviceLink {
        db: device_db,
        keys,
    });
    let feed = DeviceFeed {
        user: demo::user(),
        certifications: match &device {
            Some(d) => Certifications::Device {
                db: d.db.clone(),
                keys: d.keys.clone(),
            },
            None => Certifications::None,
        },
        facts: Facts::DemoSwitch {
            simulated,
            watched: Arc::new(move || posture.current()),
        },
    };
    let upstreams = demo::mock_upstreams(&policy, &format!("http://{}", mock.addr));
    let launched = launch(policy, feed, &app_db, upstreams, PREFERRED_PORT, client_key).await?;
    Ok(Running {
        demo: Some(Demo { org, _mock: mock }),
        device,
        ..launched
    })
}

/// Org mode: the proxy fed by this enrolled device (its user, tokens, grants and watched
/// posture), forwarding to the org's AI gateway named in the managed configuration.
async fn start_org(
    policy: Arc<LoadedPolicy>,
    posture: PostureCache,
    org: OrgDevice,
) -> Result<Running, CommandError> {
    if org.upstreams.is_empty() {
        return Err(access_error(
            "your organisation has not named its AI gateway for this device (the managed \
             setting modelUpstreams, e.g. \"eu-west-1=https://ai-gateway.example.org/eu\"); \
             ask your IT team",
        ));
    }
    let db = org.device.db()?;
    let keys = org.device.keys()?;
    let client_key = {
        let keys = keys.clone();
        tokio::task::spawn_blocking(move || certgate_proxy::key::load_or_create(&keys))
            .await
            .map_err(|_| access_error("reading the proxy key stopped"))?
            .map_err(access_error)?
            .0
    };
    let feed = DeviceFeed {
        user: org.enrolment.user_context(),
        certifications: Certifications::Device {
            db: db.clone(),
            keys: keys.clone(),
        },
        facts: Facts::Watched(Arc::new(move || posture.current())),
    };
    let upstreams = org
        .upstreams
        .iter()
        .map(|u| certgate_proxy::Upstream {
            region: u.region.clone(),
            base_url: u.url.as_str().to_owned(),
            api_key: None,
        })
        .collect();
    let launched = launch(policy, feed, &db, upstreams, org.port, client_key).await?;
    Ok(Running {
        device: Some(DeviceLink { db, keys }),
        ..launched
    })
}

/// The proxy on `port` (or a free one when it is taken) with the tools' key and the chat's.
async fn launch(
    policy: Arc<LoadedPolicy>,
    feed: DeviceFeed,
    app_db: &std::path::Path,
    upstreams: Vec<certgate_proxy::Upstream>,
    port: u16,
    client_key: Sensitive,
) -> Result<Running, CommandError> {
    let audit = AuditLog::open(
        Database::open(app_db).map_err(access_error)?,
        policy.policy.logging_and_evidence.retention_days,
    )
    .map_err(access_error)?;
    let options = |port: u16| StackOptions {
        config: ProxyConfig {
            listen: ([127, 0, 0, 1], port).into(),
            upstreams: Vec::clone(&upstreams),
            ..ProxyConfig::default()
        },
        client_key: ClientKey {
            key: client_key.clone(),
            label: demo::LABEL.to_owned(),
        },
        refresh_every: REFRESH,
    };
    let stack =
        match LocalStack::start(policy.clone(), feed.clone(), audit.clone(), options(port)).await {
            Ok(s) => s,
            Err(certgate_agent::Error::Proxy(e))
                if matches!(*e, certgate_proxy::Error::Bind { .. }) =>
            {
                tracing::warn!(port, "port busy; the proxy takes a free one");
                LocalStack::start(policy, feed, audit.clone(), options(0))
                    .await
                    .map_err(access_error)?
            }
            Err(e) => return Err(access_error(e)),
        };
    // The chat is a tool of its own: its own key and the desktop app's tool surface.
    let chat_key = Sensitive::new(format!(
        "cg-chat-{}",
        certgate_agent::random_hex(16).map_err(access_error)?
    ));
    stack.set_client_keys(vec![
        ClientKey {
            key: client_key.clone(),
            label: demo::LABEL.to_owned(),
        },
        ClientKey {
            key: chat_key.clone(),
            label: CHAT_TOOL.to_owned(),
        },
    ]);
    Ok(Running {
        stack,
        client_key,
        chat_key,
        audit,
        demo: None,
        device: None,
        app_db: app_db.to_owned(),
    })
}
