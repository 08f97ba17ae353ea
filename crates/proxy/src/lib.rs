//! Certgate's governed copilot proxy: a loopback gateway for OpenAI and Anthropic clients.
//!
//! Every request is checked (loopback `Host`, the app's `Origin` only, a local client key),
//! gated by the org policy (certification, fresh and passing device posture, tool, region,
//! exceptions), redacted (PII pseudonymized, secrets and credentials refused with 422), routed to
//! the upstream of the user's region, and its answer restored (also in streams split at any
//! byte), stripped of disallowed tool calls and marked for approval when confidence is low. One
//! metadata-only, hash-chained audit record is written per request.
//!
//! ```no_run
//! # async fn run() -> certgate_proxy::Result<()> {
//! use std::sync::Arc;
//! use certgate_proxy::{AuditLog, ClientKey, Deps, GateSnapshot, PolicySlot, ProxyConfig, Sensitive};
//! let policy = PolicySlot::new(Arc::new(certgate_policy::demo::load().expect("demo policy")))?;
//! let (snapshot_tx, snapshot) = tokio::sync::watch::channel(GateSnapshot::default());
//! let (events, _) = tokio::sync::broadcast::channel(64);
//! let audit = AuditLog::open(certgate_store::Database::open_default()?, 365)?;
//! let key = ClientKey { key: Sensitive::new("local-key".to_owned()), label: "developer-sdk".into() };
//! let (_keys_tx, keys) = tokio::sync::watch::channel(vec![key]);
//! let handle = certgate_proxy::start(ProxyConfig::default(), Deps { policy, snapshot, keys, audit, events }).await?;
//! println!("proxy on http://{}", handle.local_addr());
//! // Later: snapshot_tx.send(new_snapshot) whenever the user or the posture changes,
//! // keys_tx.send(..) on a key rotation, policy.replace(..) or reload::watch_file for a new policy.
//! # drop(snapshot_tx); Ok(()) }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod active;
pub mod answer;
pub mod audit;
pub mod config;
pub mod error;
pub mod filter;
pub mod gate;
pub mod key;
pub mod memory;
pub mod mock;
pub mod monitor;
pub mod reload;
pub mod reply;
pub mod server;
pub mod stream;

use std::net::SocketAddr;

pub use active::{PolicySlot, PolicyStatus};
pub use audit::{AuditLog, AuditRecord, ExportFormat, VerifyReport};
pub use config::{ClientKey, ProxyConfig, Sensitive, TrackChoice, Upstream};
pub use error::{Error, Result};
pub use gate::{ExceptionGrant, GateSnapshot};
pub use server::{Deps, Event, router};

/// A keystore for a test, or `None` (skip, with a printed reason) when no OS keyring is usable;
/// with `CERTGATE_REQUIRE_KEYRING=1` a missing keyring fails the test instead.
#[cfg(test)]
pub(crate) fn test_keyring(service: &str) -> Option<certgate_credentials::Keystore> {
    let required = std::env::var("CERTGATE_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    match certgate_credentials::Keystore::new(service).and_then(|k| k.probe().map(|()| k)) {
        Ok(k) => Some(k),
        Err(e) if !required => {
            eprintln!(
                "NOTICE: keyring test skipped: {e} (set CERTGATE_REQUIRE_KEYRING=1 to fail instead)"
            );
            None
        }
        Err(e) => panic!("CERTGATE_REQUIRE_KEYRING=1 but the OS keyring is not usable: {e}"),
    }
}

/// A running proxy. Dropping it (or calling [`ProxyHandle::stop`]) shuts it down.
#[derive(Debug)]
pub struct ProxyHandle {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ProxyHandle {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds `config.listen` (loopback only) and serves until the handle is stopped or dropped.
pub async fn start(config: ProxyConfig, deps: Deps) -> Result<ProxyHandle> {
    config.validate()?;
    memory::purge_in_background();
    let listen = config.listen;
    let app = router(config, deps)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: listen,
        source,
    })?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // Streamed answers are many small writes: send each at once.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "proxy server stopped");
        }
    });
    tracing::info!(%addr, "certgate proxy listening");
    Ok(ProxyHandle {
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}
