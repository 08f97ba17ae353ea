//! A minimal W3C WebDriver client over `tauri-driver` (which drives the real app through
//! Debian's `WebKitWebDriver`): enough to find elements, click, read text and attributes.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::poll;

/// The W3C key of an element reference, and the one WebKitWebDriver answers with.
const ELEMENT_KEYS: [&str; 2] = [
    "element-6066-11e4-a932-00e53d6d8ec4",
    "element-6066-11e4-a52e-4f735466cecf",
];

/// `tauri-driver` running the app, with one session. Ends both when dropped.
#[derive(Debug)]
pub struct Session {
    driver: Child,
    base: String,
    id: String,
    http: reqwest::blocking::Client,
    log: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|err| panic!("no free loopback port: {err}"))
}

/// The tool, or a failure naming how `scripts/setup` installs it.
fn require_tool(name: &str, how: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()));
    assert!(found, "{name} is not on PATH: {how} (scripts/setup does)");
}

impl Session {
    /// Starts `tauri-driver` with `env` (the app inherits it through WebKitWebDriver) and opens
    /// a session on `app`. The driver's output goes to `log`.
    pub fn start(app: &Path, env: &[(&str, &Path)], log: &Path) -> Self {
        require_tool("tauri-driver", "cargo install tauri-driver --locked");
        require_tool("WebKitWebDriver", "apt-get install webkit2gtk-driver");
        // reqwest is built without a TLS provider here; even plain-HTTP clients need one.
        certgate_credentials::client::install_tls_provider();
        let (port, native) = (free_port(), free_port());
        let out = std::fs::File::create(log)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot dup the log file: {e}"));
        let mut cmd = Command::new("tauri-driver");
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .env("RUST_LOG", "info")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_CACHE_HOME")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let driver = cmd
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start tauri-driver: {err}"));
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap_or_else(|err| panic!("http client: {err}"));
        let base = format!("http://127.0.0.1:{port}");
        poll(Duration::from_secs(30), || {
            http.get(format!("{base}/status"))
                .send()
                .ok()
                .filter(|r| r.status().is_success())
        })
        .unwrap_or_else(|| panic!("tauri-driver did not answer on {base}"));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": app.to_string_lossy()}
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|err| panic!("new WebDriver session: {err}"));
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {answer}"))
            .to_owned();
        Self {
            driver,
            base,
            id,
            http,
            log: log.to_owned(),
        }
    }

    /// What tauri-driver and the app logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.id);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let answer: Value = req
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|err| panic!("WebDriver {path}: {err}"));
        answer["value"].clone()
    }

    /// The first element matching the CSS selector, if there is one now.
    pub fn find(&self, css: &str) -> Option<String> {
        let v = self.call(
            reqwest::Method::POST,
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        ELEMENT_KEYS
            .iter()
            .find_map(|k| v[*k].as_str())
            .map(str::to_owned)
    }

    /// Waits up to `timeout` for an element matching `css`.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> String {
        poll(timeout, || self.find(css)).unwrap_or_else(|| {
            panic!(
                "no element {css} within {timeout:?}; page text:\n{}\nlog:\n{}",
                self.script("return document.body.innerText"),
                self.log()
            )
        })
    }

    pub fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    pub fn text(&self, element: &str) -> String {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/text"),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Types `text` into an element (an input).
    pub fn type_into(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        );
    }

    /// Clicks the first button whose text is exactly `label`; false when there is none.
    pub fn click_button(&self, label: &str) -> bool {
        self.script(&format!(
            "const b=[...document.querySelectorAll('button')].find(b=>b.textContent.trim()==={label:?} && !b.disabled); \
             if (b) b.click(); return !!b"
        )) == true
    }

    /// Waits up to `timeout` for an enabled button labelled `label`, then clicks it.
    pub fn wait_and_click(&self, label: &str, timeout: Duration) {
        poll(timeout, || self.click_button(label).then_some(())).unwrap_or_else(|| {
            panic!(
                "no button {label:?} within {timeout:?}; page text:\n{}",
                self.script("return document.body.innerText")
            )
        });
    }

    /// The visible text of the first element matching `css`, if any.
    pub fn text_of(&self, css: &str) -> Option<String> {
        self.find(css).map(|e| self.text(&e))
    }

    /// Runs a script in the page and returns its value.
    pub fn script(&self, source: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": source, "args": []})),
        )
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.id))
            .send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        crate::wait_for_single_instance_release();
    }
}
