//! The org server: serves the signed policy and the keys devices pin, enrols devices with
//! one-time codes, takes xAPI statements idempotently and re-grades every attempt itself,
//! issues device-bound certification tokens and a signed revocation list, verifies posture
//! attestations, handles time-limited exceptions, writes group membership back to the IdP
//! and exports evidence.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod badge;
pub mod certify;
pub mod config;
pub mod content;
pub mod db;
pub mod enrolment_code;
pub mod error;
pub mod evidence;
pub mod exceptions;
pub mod export;
pub mod idp;
pub mod regrade;
pub mod routes;
pub mod state;
pub mod updates;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use config::ServerConfig;
pub use error::{Error, Result};
pub use routes::router;
pub use state::AppState;

/// How often expired certifications are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A running server: its address, and a handle that stops it on drop.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` (port 0 picks a free one) and serves in the background, with the IdP
/// write-back worker and the expiry sweep.
pub async fn spawn(state: Arc<AppState>, addr: SocketAddr) -> Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| Error::Listen { addr, source })?;
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        let worker = tokio::spawn(idp::worker(state.clone()));
        let sweeper = tokio::spawn(sweep_loop(state));
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "server stopped");
        }
        worker.abort();
        sweeper.abort();
    });
    Ok(Running { addr: bound, task })
}

async fn sweep_loop(state: Arc<AppState>) {
    loop {
        match certify::expire_due(&state) {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "certifications expired"),
            Err(e) => tracing::error!(error = %e, "expiry sweep failed"),
        }
        tokio::time::sleep(SWEEP_EVERY).await;
    }
}

/// Runs the server from a config until Ctrl-C. Prints the bound address on stdout first
/// (`listening on http://…`), so scripts using port 0 can read it.
pub async fn serve(config: &ServerConfig) -> Result<()> {
    let state = Arc::new(AppState::from_config(config)?);
    let running = spawn(state, config.listen).await?;
    println!("listening on http://{}", running.addr);
    let _ = tokio::signal::ctrl_c().await;
    drop(running);
    Ok(())
}
