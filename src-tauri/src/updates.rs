//! Signed updates of the app itself, from the org server the device is enrolled with (or the
//! managed `serverUrl`): checked shortly after start, then daily, and on "Check now".
//!
//! The Tauri updater downloads the artifact and verifies it under this build's update key
//! (`plugins.updater.pubkey`, a key of its own, never the policy key) and the version it was
//! signed for before anything is installed; a refused update is reported to the user and the
//! app keeps running as it is.

use std::sync::Mutex;
use std::time::Duration;

use certgate_managed::ServerUrl;
use certgate_training::notice::Notice;
use chrono::Utc;
use tauri::{AppHandle, Config, Emitter, Manager, Runtime, Url};
use tauri_plugin_updater::UpdaterExt;

use crate::dto::{UpdateState, UpdateView};
use crate::notify::Notices;
use crate::settings::Settings;
use crate::state::AppState;

/// Event the window listens to: the update status changed.
pub const UPDATE_EVENT: &str = "update-status";
/// Long enough for the tray and the proxy to come up first, short enough to patch a fleet fast.
pub const FIRST_CHECK_AFTER: Duration = Duration::from_secs(5);
pub const CHECK_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
/// A stalled server must not hold a check (and the next ones) for ever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Where updates come from and what they must be signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSource {
    pub server: ServerUrl,
    /// The update public key as `cargo tauri signer generate` prints it (base64).
    pub pubkey: String,
}

impl UpdateSource {
    /// The server's update route with the updater's placeholders.
    pub fn endpoint(&self) -> Result<Url, String> {
        let url = format!(
            "{}/v1/updates/{{{{target}}}}/{{{{arch}}}}/{{{{bundle_type}}}}/{{{{current_version}}}}",
            self.server.as_str()
        );
        Url::parse(&url).map_err(|e| format!("cannot build the update address {url}: {e}"))
    }
}

/// The update key this build carries, if its release pipeline set one.
pub fn build_pubkey(config: &Config) -> Option<String> {
    config
        .plugins
        .0
        .get("updater")
        .and_then(|updater| updater.get("pubkey"))
        .and_then(|key| key.as_str())
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
}

/// Where this device checks for updates, or why it does not.
pub fn source(
    config: &Config,
    enrolled_server: Option<&str>,
    managed_server: Option<&ServerUrl>,
) -> Result<UpdateSource, String> {
    let pubkey = build_pubkey(config).ok_or(
        "this build carries no update key, so it installs no updates itself: your device management updates Certgate",
    )?;
    let server = match (enrolled_server, managed_server) {
        (Some(enrolled), _) => ServerUrl::parse(enrolled)
            .map_err(|e| format!("the enrolled server {enrolled} cannot serve updates: {e}"))?,
        (None, Some(managed)) => managed.clone(),
        (None, None) => {
            return Err(
                "not enrolled with an organisation yet: updates come from its server once enrolled"
                    .into(),
            );
        }
    };
    Ok(UpdateSource { server, pubkey })
}

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    UpToDate,
    Installed { version: String },
    Refused { version: String, reason: String },
    Failed { reason: String },
}

/// The update status, shared by the scheduled checks and "Check now" (one check at a time).
pub struct Updates {
    view: Mutex<UpdateView>,
    checking: tokio::sync::Mutex<()>,
}

impl Default for Updates {
    fn default() -> Self {
        Self {
            view: Mutex::new(UpdateView {
                current_version: String::new(),
                state: UpdateState::NotChecked,
                message: "Not checked yet.".into(),
                server: None,
                checked_at: None,
            }),
            checking: tokio::sync::Mutex::new(()),
        }
    }
}

impl Updates {
    /// The status, with the version running now (the bundle's, which the updater compares).
    pub fn view<R: Runtime>(&self, app: &AppHandle<R>) -> UpdateView {
        self.set(app, |_| {})
    }

    fn set<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        change: impl FnOnce(&mut UpdateView),
    ) -> UpdateView {
        let mut view = self
            .view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        view.current_version = app.package_info().version.to_string();
        change(&mut view);
        view.clone()
    }
}

/// Checks at start (after [`FIRST_CHECK_AFTER`]) and then every [`CHECK_EVERY`].
pub fn spawn<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(FIRST_CHECK_AFTER).await;
        loop {
            check_now(&app).await;
            tokio::time::sleep(CHECK_EVERY).await;
        }
    });
}

/// Runs one check against this device's update source and returns the status after it.
pub async fn check_now<R: Runtime>(app: &AppHandle<R>) -> UpdateView {
    let source = {
        let state = app.state::<AppState>();
        let settings = app.state::<Settings>();
        let managed_server = settings
            .managed()
            .config()
            .and_then(|(config, _)| config.server_url.as_ref());
        source(
            app.config(),
            state.enrolment.as_ref().map(|e| e.server_url.as_str()),
            managed_server,
        )
    };
    check_with(app, source).await
}

/// One check against `source` (or the status saying why there is none); a check already under
/// way is not started twice.
pub async fn check_with<R: Runtime>(
    app: &AppHandle<R>,
    source: Result<UpdateSource, String>,
) -> UpdateView {
    let updates = app.state::<Updates>();
    let Ok(_one_at_a_time) = updates.checking.try_lock() else {
        return updates.view(app);
    };
    let source = match source {
        Ok(source) => source,
        Err(reason) => {
            let view = updates.set(app, |v| {
                v.state = UpdateState::Off;
                v.message = format!("Automatic updates are off: {reason}.");
            });
            let _ = app.emit(UPDATE_EVENT, &view);
            return view;
        }
    };
    let checking = updates.set(app, |v| {
        v.state = UpdateState::Checking;
        v.message = format!("Checking {} for a newer Certgate…", source.server);
        v.server = Some(source.server.as_str().to_owned());
    });
    let _ = app.emit(UPDATE_EVENT, &checking);

    let outcome = run(app, &source).await;
    let view = updates.set(app, |v| {
        v.checked_at = Some(Utc::now());
        (v.state, v.message) = describe(&outcome, &v.current_version);
    });
    match &outcome {
        Outcome::UpToDate => tracing::info!(server = %source.server, "no newer Certgate"),
        Outcome::Installed { version } => tracing::info!(%version, "update installed"),
        Outcome::Refused { version, reason } => {
            tracing::warn!(%version, %reason, "update refused");
        }
        Outcome::Failed { reason } => tracing::warn!(%reason, "update check failed"),
    }
    if let Some(notice) = notice(&outcome)
        && let Some(notices) = app.try_state::<Notices>()
    {
        notices.send(notice);
    }
    let _ = app.emit(UPDATE_EVENT, &view);
    view
}

async fn run<R: Runtime>(app: &AppHandle<R>, source: &UpdateSource) -> Outcome {
    let failed = |reason: String| Outcome::Failed { reason };
    let endpoint = match source.endpoint() {
        Ok(url) => url,
        Err(reason) => return failed(reason),
    };
    let updater = match app
        .updater_builder()
        .endpoints(vec![endpoint])
        .map(|b| b.pubkey(source.pubkey.clone()).timeout(REQUEST_TIMEOUT))
        .and_then(|b| b.build())
    {
        Ok(updater) => updater,
        Err(e) => return failed(format!("the updater cannot start: {e}")),
    };
    let update = match updater.check().await {
        Ok(None) => return Outcome::UpToDate,
        Ok(Some(update)) => update,
        Err(e) => return failed(format!("cannot check {}: {e}", source.server)),
    };
    let version = update.version.clone();
    // The artifact travels outside TLS only on this machine; its signature is checked anyway.
    if let Err(e) = ServerUrl::parse(update.download_url.as_str()) {
        return Outcome::Refused {
            version,
            reason: format!(
                "its download address {} is unsafe: {e}",
                update.download_url
            ),
        };
    }
    // `download` verifies the signature and the signed version before returning the bytes.
    let bytes = match update.download(|_, _| {}, || {}).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return match refusal(&e) {
                Some(reason) => Outcome::Refused { version, reason },
                None => failed(format!("cannot download {version}: {e}")),
            };
        }
    };
    // Installing may wait on an administrator prompt (pkexec on Linux): off the async workers.
    let installing = update.clone();
    match tauri::async_runtime::spawn_blocking(move || installing.install(bytes)).await {
        Ok(Ok(())) => Outcome::Installed { version },
        Ok(Err(e)) => match refusal(&e) {
            Some(reason) => Outcome::Refused { version, reason },
            None => failed(format!("cannot install {version}: {e}")),
        },
        Err(e) => failed(format!("the install of {version} stopped: {e}")),
    }
}

/// Why a signature problem makes the update untrustworthy; `None` for every other error.
fn refusal(error: &tauri_plugin_updater::Error) -> Option<String> {
    use minisign_verify::Error as Minisign;
    use tauri_plugin_updater::Error;
    Some(match error {
        Error::Minisign(Minisign::UnexpectedKeyId) => {
            "it is signed with another key than this app's update key".into()
        }
        Error::Minisign(Minisign::InvalidSignature) => {
            "the downloaded file does not match its signature (it was altered after signing)".into()
        }
        Error::Minisign(e) => format!("its signature cannot be checked ({e})"),
        Error::Base64(_) | Error::SignatureUtf8(_) => {
            "its signature is not a minisign signature from the Tauri signer".into()
        }
        Error::MissingSignedVersion => "its signature does not say which version it is for".into(),
        Error::SignedVersionMismatch { signed, announced } => {
            format!("it was signed as version {signed} but offered as {announced}")
        }
        _ => return None,
    })
}

fn describe(outcome: &Outcome, current: &str) -> (UpdateState, String) {
    match outcome {
        Outcome::UpToDate => (
            UpdateState::UpToDate,
            format!("Certgate {current} is the newest version."),
        ),
        Outcome::Installed { version } => (
            UpdateState::Installed,
            format!("Certgate {version} is installed: restart Certgate to use it."),
        ),
        Outcome::Refused { version, reason } => (
            UpdateState::Refused,
            format!(
                "The update to {version} was refused: {reason}. Certgate {current} keeps running; tell your IT team."
            ),
        ),
        Outcome::Failed { reason } => (
            UpdateState::Failed,
            format!("The update check did not complete: {reason}. Certgate tries again later."),
        ),
    }
}

fn notice(outcome: &Outcome) -> Option<Notice> {
    match outcome {
        Outcome::Installed { version } => Some(Notice::UpdateInstalled {
            version: version.clone(),
        }),
        Outcome::Refused { version, reason } => Some(Notice::UpdateRefused {
            version: version.clone(),
            reason: reason.clone(),
        }),
        Outcome::UpToDate | Outcome::Failed { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use base64::Engine as _;
    use certgate_agent::demo::{DemoOrg, UpdateShelf};

    use super::*;

    /// An update key pair, used the way `cargo tauri signer` uses it.
    struct Signer(minisign::KeyPair);

    fn base64(text: String) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    impl Signer {
        fn new() -> Self {
            Self(minisign::KeyPair::generate_unencrypted_keypair().unwrap())
        }

        /// The public key as a build carries it: base64 of the `.pub` file.
        fn pubkey(&self) -> String {
            base64(self.0.pk.to_box().unwrap().into_string())
        }

        /// What `cargo tauri signer sign --app-version` writes to `<file>.sig`.
        fn sign(&self, bytes: &[u8], file: &str, version: &str) -> String {
            let trusted = format!("timestamp:1764230000\tfile:{file}\tversion:{version}");
            let signature = minisign::sign(
                Some(&self.0.pk),
                &self.0.sk,
                std::io::Cursor::new(bytes),
                Some(&trusted),
                Some("signature from tauri secret key"),
            )
            .unwrap();
            base64(signature.to_string())
        }
    }

    /// Puts `version` on the org's update shelf for Debian amd64, signed by `signer`.
    fn publish(shelf: &Path, version: &str, bytes: &[u8], signer: &Signer) -> std::path::PathBuf {
        std::fs::create_dir_all(shelf).unwrap();
        let file = format!("Certgate_{version}_amd64.deb");
        std::fs::write(
            shelf.join("release.toml"),
            format!("version = \"{version}\"\n[platforms.linux-x86_64]\nfile = \"{file}\"\n"),
        )
        .unwrap();
        std::fs::write(shelf.join(&file), bytes).unwrap();
        std::fs::write(
            shelf.join(format!("{file}.sig")),
            signer.sign(bytes, &file, version),
        )
        .unwrap();
        shelf.join(file)
    }

    fn app_with_updater() -> tauri::App<tauri::test::MockRuntime> {
        let mut context = tauri::test::mock_context(tauri::test::noop_assets());
        context
            .config_mut()
            .plugins
            .0
            .insert("updater".into(), serde_json::json!({ "pubkey": "" }));
        tauri::test::mock_builder()
            .plugin(tauri_plugin_updater::Builder::new().build())
            .manage(Updates::default())
            .build(context)
            .unwrap()
    }

    /// Against a real org server on loopback: only an artifact the app's update key signed for
    /// the version on offer gets past verification; a tampered file or another key's signature
    /// is refused and said so; the running version on offer is "up to date".
    #[test]
    fn only_what_the_update_key_signed_gets_past_verification() {
        let app_key = Signer::new();
        let dir = tempfile::tempdir().unwrap();
        let shelf = dir.path().join("updates");
        let package = b"!<arch>\ndebian-binary   certgate 0.2.0".to_vec();
        let artifact = publish(&shelf, "0.2.0", &package, &app_key);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let org = rt
            .block_on(DemoOrg::start_offering(
                &dir.path().join("org"),
                Some(UpdateShelf::open(&shelf).unwrap()),
            ))
            .unwrap();
        let app = app_with_updater();
        let check = || {
            let source = UpdateSource {
                server: ServerUrl::parse(org.url()).unwrap(),
                pubkey: app_key.pubkey(),
            };
            tauri::async_runtime::block_on(check_with(app.handle(), Ok(source)))
        };

        // Verified, then handed to the installer, which a test binary (no .deb install) lacks.
        let verified = check();
        assert_eq!(verified.state, UpdateState::Failed, "{verified:?}");
        assert!(
            verified.message.contains("cannot install 0.2.0"),
            "{verified:?}"
        );
        assert_eq!(verified.current_version, "0.1.0");
        assert_eq!(verified.server.as_deref(), Some(org.url()));

        std::fs::write(
            &artifact,
            b"!<arch>\ndebian-binary   certgate 0.2.0 + a backdoor",
        )
        .unwrap();
        let tampered = check();
        assert_eq!(tampered.state, UpdateState::Refused, "{tampered:?}");
        assert!(
            tampered.message.contains("update to 0.2.0 was refused")
                && tampered.message.contains("altered after signing"),
            "{tampered:?}"
        );

        publish(&shelf, "0.2.0", &package, &Signer::new());
        let foreign = check();
        assert_eq!(foreign.state, UpdateState::Refused, "{foreign:?}");
        assert!(foreign.message.contains("another key"), "{foreign:?}");

        publish(&shelf, "0.1.0", &package, &app_key);
        let current = check();
        assert_eq!(current.state, UpdateState::UpToDate, "{current:?}");
        assert!(current.checked_at.is_some());

        let off = tauri::async_runtime::block_on(check_with(
            app.handle(),
            Err("not enrolled with an organisation yet".into()),
        ));
        assert_eq!(off.state, UpdateState::Off);
        assert!(off.message.contains("not enrolled"), "{off:?}");
    }

    fn config_with_key(key: &str) -> Config {
        let mut config =
            tauri::test::mock_context::<tauri::test::MockRuntime, _>(tauri::test::noop_assets())
                .config()
                .clone();
        config
            .plugins
            .0
            .insert("updater".into(), serde_json::json!({ "pubkey": key }));
        config
    }

    #[test]
    fn the_enrolled_server_comes_first_then_the_managed_one_and_a_key_is_required() {
        let managed = ServerUrl::parse("https://certgate.example.org").unwrap();
        let keyed = config_with_key("dW50cnVzdGVk");

        let enrolled = source(&keyed, Some("https://org.example.com/"), Some(&managed)).unwrap();
        assert_eq!(enrolled.server.as_str(), "https://org.example.com");
        assert_eq!(
            enrolled.endpoint().unwrap().as_str(),
            "https://org.example.com/v1/updates/%7B%7Btarget%7D%7D/%7B%7Barch%7D%7D/%7B%7Bbundle_type%7D%7D/%7B%7Bcurrent_version%7D%7D"
        );
        let by_management = source(&keyed, None, Some(&managed)).unwrap();
        assert_eq!(by_management.server, managed);

        let nowhere = source(&keyed, None, None).unwrap_err();
        assert!(nowhere.contains("not enrolled"), "{nowhere}");
        let unkeyed =
            source(&config_with_key(" "), Some("https://org.example.com"), None).unwrap_err();
        assert!(unkeyed.contains("no update key"), "{unkeyed}");
        let plain = source(&keyed, Some("http://org.example.com"), None).unwrap_err();
        assert!(plain.contains("https"), "{plain}");
    }
}
