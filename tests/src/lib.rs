//! Harness for Certgate's end-to-end tests: launch the real `certgate-app` in a throw-away
//! home, find its X11 window, screenshot it, and drive its tray menu over D-Bus.
//!
//! The tests need the desktop session that `scripts/test` starts (Xvfb, a session bus, a
//! StatusNotifierWatcher tray host, a notification daemon). Without it they fail, loudly,
//! instead of passing without having tested anything.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub mod dbus;
pub mod webdriver;
pub mod x11;

/// Both variables come from `scripts/desktop-session.sh`. Panics (fails the test) when either
/// is missing, naming the command that provides them.
pub fn require_desktop_session() {
    for var in ["DISPLAY", "DBUS_SESSION_BUS_ADDRESS"] {
        let set = std::env::var_os(var).is_some_and(|v| !v.is_empty());
        assert!(
            set,
            "{var} is not set: the end-to-end tests need the virtual desktop session; \
             run via scripts/test (it starts Xvfb, D-Bus, a tray host and a notification daemon)"
        );
    }
}

/// Workspace root (the tests package lives in `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Where screenshots go; kept after the run for people (and the README) to look at.
pub fn artifacts_dir() -> PathBuf {
    let dir = workspace_root().join("tests/artifacts");
    if let Err(err) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {err}", dir.display());
    }
    dir
}

/// The app binary `scripts/test` built: `$CERTGATE_APP_BIN`, else `certgate-app` in the same
/// target profile directory as this test binary.
pub fn app_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("CERTGATE_APP_BIN") {
        return PathBuf::from(bin);
    }
    // target/<profile>/deps/e2e-<hash> -> target/<profile>/certgate-app
    let exe = std::env::current_exe().unwrap_or_else(|err| panic!("current_exe: {err}"));
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected test binary location {}", exe.display()));
    let bin = profile_dir.join(format!("certgate-app{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} does not exist: build it first with `cargo build -p certgate-app` (scripts/test does)",
        bin.display()
    );
    bin
}

/// A running `certgate-app` with its own HOME and CERTGATE_HOME; killed when dropped.
#[derive(Debug)]
pub struct App {
    child: Child,
    home: PathBuf,
    log: PathBuf,
}

impl App {
    /// Starts the app in a fresh home under the target directory (`name` keeps runs apart),
    /// with `extra_env` added to the inherited desktop session.
    pub fn launch(name: &str, extra_env: &[(&str, &str)]) -> Self {
        Self::launch_with_args(name, extra_env, &[])
    }

    /// [`App::launch`] with command-line arguments.
    pub fn launch_with_args(name: &str, extra_env: &[(&str, &str)], args: &[&str]) -> Self {
        let bin = app_binary();
        let home = std::env::temp_dir().join(format!(
            "certgate-e2e-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(home.join("certgate"))
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", home.display()));
        let log = home.join("app.log");
        let log_file = File::create(&log)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", log.display()));
        let log_err = log_file
            .try_clone()
            .unwrap_or_else(|err| panic!("cannot dup the log file: {err}"));

        let mut cmd = Command::new(&bin);
        cmd.args(args)
            .env("HOME", &home)
            .env("CERTGATE_HOME", home.join("certgate"))
            .env("RUST_LOG", "info")
            // The user's XDG dirs would put WebKit's caches outside the throw-away home.
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_CACHE_HOME")
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err);
        for (key, value) in extra_env {
            cmd.env(key, value);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", bin.display()));
        Self { child, home, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The app's throw-away home (`$HOME`).
    pub fn home(&self) -> &std::path::Path {
        &self.home
    }

    /// What the app logged so far (stdout and stderr), for assertions and failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status if the app ends within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(None) => return None,
                Err(err) => panic!("cannot wait for certgate-app: {err}"),
            }
        }
    }

    /// Fails the test if the app has already exited (e.g. crashed on start).
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "certgate-app exited early with {status}; its log:\n{}",
                self.log()
            );
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            wait_for_single_instance_release();
        }
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// The app's single-instance name on the session bus (tauri-plugin-single-instance: the
/// identifier + `.SingleInstance`).
pub const SINGLE_INSTANCE_NAME: &str = "io.certgate.desktop.SingleInstance";

/// After an app was killed, waits until the bus has dropped its single-instance name, so the
/// next test's app starts as the first instance instead of calling a dying one.
pub fn wait_for_single_instance_release() {
    poll(Duration::from_secs(5), || {
        (!dbus::name_has_owner(SINGLE_INSTANCE_NAME).unwrap_or(false)).then_some(())
    });
}

/// Polls `probe` every 100 ms until it returns `Some`, or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
