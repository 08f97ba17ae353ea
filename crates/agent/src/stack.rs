//! The governed proxy on loopback with its gate fed from this device: the one way the CLI and
//! the app run it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use certgate_policy::LoadedPolicy;
use certgate_policy::RequestContext;
use certgate_proxy::gate::{self, GateOutcome};
use certgate_proxy::{
    AuditLog, ClientKey, Deps, Event, GateSnapshot, PolicySlot, ProxyConfig, ProxyHandle,
    TrackChoice,
};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::feed::DeviceFeed;

/// How the stack runs.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub config: ProxyConfig,
    /// The local key tools use, with the tool surface it stands for.
    pub client_key: ClientKey,
    /// How often the gate's view is rebuilt when nothing asks for it sooner, so posture stays
    /// fresh and a token that expires or is revoked stops counting.
    pub refresh_every: Duration,
}

/// A running proxy and the task that keeps its gate current. Stop it with [`Self::stop`];
/// dropping it also stops the proxy.
pub struct LocalStack {
    proxy: ProxyHandle,
    feed: DeviceFeed,
    snapshot_tx: Arc<watch::Sender<GateSnapshot>>,
    keys_tx: watch::Sender<Vec<ClientKey>>,
    events: broadcast::Sender<Event>,
    policy: PolicySlot,
    tracks: TrackChoice,
    refresh: JoinHandle<()>,
}

impl std::fmt::Debug for LocalStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStack")
            .field("addr", &self.addr())
            .finish_non_exhaustive()
    }
}

/// Builds the gate's view off the async threads: it reads SQLite and the keyring and may run
/// the posture checks.
async fn build(feed: DeviceFeed) -> Result<GateSnapshot> {
    tokio::task::spawn_blocking(move || feed.snapshot())
        .await
        .map_err(|_| Error::Stopped {
            what: "the gate refresh",
        })?
}

impl LocalStack {
    /// Builds the first view (an error here is an error of the stack: nothing listens yet),
    /// then binds the proxy and starts the refresh timer.
    pub async fn start(
        policy: Arc<LoadedPolicy>,
        feed: DeviceFeed,
        audit: AuditLog,
        options: StackOptions,
    ) -> Result<Self> {
        let first = build(feed.clone()).await?;
        let (snapshot_tx, snapshot) = watch::channel(first);
        let snapshot_tx = Arc::new(snapshot_tx);
        let (keys_tx, keys) = watch::channel(vec![options.client_key]);
        let (events, _) = broadcast::channel(64);
        let policy = PolicySlot::new(policy)?;
        let tracks = options.config.tracks.clone();
        let deps = Deps {
            policy: policy.clone(),
            snapshot,
            keys,
            audit,
            events: events.clone(),
        };
        let proxy = certgate_proxy::start(options.config, deps).await?;
        let refresh = keep_fresh(feed.clone(), snapshot_tx.clone(), options.refresh_every);
        Ok(Self {
            proxy,
            feed,
            snapshot_tx,
            keys_tx,
            events,
            policy,
            tracks,
            refresh,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.proxy.local_addr()
    }

    /// The base URL tools are given (`…/v1` for the OpenAI SDK).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Rebuilds the gate's view now (after a sync, a quiz passed, a posture change). On error
    /// the previous view stays; the caller says why.
    pub async fn refresh(&self) -> Result<()> {
        let snapshot = build(self.feed.clone()).await?;
        publish(&self.snapshot_tx, snapshot);
        Ok(())
    }

    /// Turns copilot access off (every request refused with the reason, whatever the user's
    /// certifications) or on again. Kept across refreshes until changed.
    pub fn switch_off(&self, off: bool) {
        self.snapshot_tx.send_modify(|s| s.switched_off = off);
    }

    /// Whether the user turned copilot access off.
    pub fn switched_off(&self) -> bool {
        self.snapshot_tx.borrow().switched_off
    }

    /// The gate's current view, and its updates.
    pub fn gate(&self) -> watch::Receiver<GateSnapshot> {
        self.snapshot_tx.subscribe()
    }

    /// What the proxy reports: blocked requests, alerts, policy changes.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The policy in force, to swap it for a newer signed one.
    pub fn policy(&self) -> &PolicySlot {
        &self.policy
    }

    /// What the gate would answer now for a request from `tool` (the proxy's own decision, for
    /// a screen that says whether access is ready and, if not, why and what to do).
    pub fn check(&self, tool: &str) -> GateOutcome {
        let active = self.policy.current();
        let track = gate::track_for(&active.policy, &self.tracks, tool, None);
        let request = RequestContext {
            tool_surface: Some(tool.to_owned()),
            region: None,
            model: None,
        };
        let snapshot = self.snapshot_tx.borrow().clone();
        gate::evaluate(
            &active.policy,
            &snapshot,
            &track,
            &request,
            chrono::Utc::now(),
        )
    }

    /// Replaces the accepted client keys; the old ones are refused from the next request on.
    pub fn set_client_keys(&self, keys: Vec<ClientKey>) {
        self.keys_tx.send_replace(keys);
    }

    /// Stops the refresh timer and the proxy (in-flight requests finish first).
    pub async fn stop(self) {
        self.refresh.abort();
        self.proxy.stop().await;
    }
}

/// A new view from the feed; the user's on/off switch is not the feed's to change.
fn publish(snapshot_tx: &watch::Sender<GateSnapshot>, mut next: GateSnapshot) {
    snapshot_tx.send_modify(|current| {
        next.switched_off = current.switched_off;
        *current = next;
    });
}

/// Rebuilds the gate's view every `every` into `snapshot_tx` (for embedders that wire the
/// proxy themselves, like `certgate proxy`).
pub fn keep_fresh(
    feed: DeviceFeed,
    snapshot_tx: Arc<watch::Sender<GateSnapshot>>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(refresh_forever(feed, snapshot_tx, every))
}

async fn refresh_forever(
    feed: DeviceFeed,
    snapshot_tx: Arc<watch::Sender<GateSnapshot>>,
    every: Duration,
) {
    let mut timer = tokio::time::interval(every);
    // The first tick is immediate and the first view was just built.
    timer.tick().await;
    loop {
        timer.tick().await;
        match build(feed.clone()).await {
            Ok(snapshot) => publish(&snapshot_tx, snapshot),
            // The previous view stays, but only until its posture is older than the policy
            // allows: the gate then denies, so a broken source fails closed.
            Err(e) => tracing::warn!(error = %e, "gate view not refreshed; the previous one stays"),
        }
    }
}
