//! Re-checking on a timer and publishing changes, plus the cached read the proxy does
//! before each AI request.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::report::{Facts, PostureReport};

/// Default re-check interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// Wall-clock jump (beyond monotonic time) taken as a resume from sleep.
const RESUME_JUMP: Duration = Duration::from_secs(30);

/// Cheap change signals polled between full checks.
pub struct ChangeSignals {
    /// A fingerprint of what the checks depend on; a new value triggers a re-check.
    pub probe: Box<dyn Fn() -> u64 + Send + Sync>,
    /// How often to poll the probe (a few seconds: it reads one or two small files).
    pub every: Duration,
}

impl std::fmt::Debug for ChangeSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeSignals")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

/// A cheap, cloneable read handle on the latest report.
#[derive(Debug, Clone)]
pub struct PostureCache {
    rx: watch::Receiver<Arc<PostureReport>>,
}

impl PostureCache {
    /// The latest report (an `Arc` clone under a read lock: no I/O).
    pub fn current(&self) -> Arc<PostureReport> {
        Arc::clone(&self.rx.borrow())
    }

    /// A receiver woken when a fact's state, value or evidence changes.
    pub fn subscribe(&self) -> watch::Receiver<Arc<PostureReport>> {
        self.rx.clone()
    }
}

/// True when anything but timestamps differs.
pub fn facts_changed(a: &Facts, b: &Facts) -> bool {
    let strip = |f: &Facts| {
        let mut v = serde_json::to_value(f).unwrap_or_default();
        if let Some(map) = v.as_object_mut() {
            for fact in map.values_mut() {
                if let Some(o) = fact.as_object_mut() {
                    o.remove("collectedAt");
                }
            }
        }
        v
    };
    strip(a) != strip(b)
}

/// Re-runs a check on a timer and when poked.
#[derive(Debug)]
pub struct Watcher {
    tx: Arc<watch::Sender<Arc<PostureReport>>>,
    poke: Arc<Notify>,
    /// The timer loop and, when asked for, the change-signal loop; aborted on drop.
    tasks: Vec<JoinHandle<()>>,
}

impl Watcher {
    /// Starts watching with `initial` as the first report; `check` runs on a blocking thread
    /// every `interval` and whenever [`Watcher::recheck`] is called. Must run inside a tokio
    /// runtime.
    pub fn spawn<F>(initial: PostureReport, interval: Duration, check: F) -> Self
    where
        F: Fn() -> PostureReport + Send + Sync + 'static,
    {
        let (tx, _rx) = watch::channel(Arc::new(initial));
        let tx = Arc::new(tx);
        let poke = Arc::new(Notify::new());
        let check = Arc::new(check);
        let (tx2, poke2) = (Arc::clone(&tx), Arc::clone(&poke));
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await; // the first tick fires at once; we already have `initial`
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = poke2.notified() => {}
                }
                let c = Arc::clone(&check);
                let Ok(new) = tokio::task::spawn_blocking(move || c()).await else {
                    tracing::warn!("posture check panicked; keeping the previous report");
                    continue;
                };
                // Always keep the freshest report (attestations need a recent collectedAt),
                // but only wake subscribers on a real change.
                tx2.send_if_modified(|cur| {
                    let changed = facts_changed(&cur.facts, &new.facts);
                    *cur = Arc::new(new);
                    changed
                });
            }
        });
        Self {
            tx,
            poke,
            tasks: vec![task],
        }
    }

    /// Like [`Watcher::spawn`], and also re-checks as soon as a cheap change signal fires:
    /// `signals.probe` (a fingerprint of the mount table and settings files) changed, or the
    /// wall clock jumped ahead of the monotonic clock (the machine slept).
    pub fn spawn_with_signals<F>(
        initial: PostureReport,
        interval: Duration,
        check: F,
        signals: ChangeSignals,
    ) -> Self
    where
        F: Fn() -> PostureReport + Send + Sync + 'static,
    {
        let mut w = Self::spawn(initial, interval, check);
        let poke = Arc::clone(&w.poke);
        let signal_task = tokio::spawn(async move {
            let probe = signals.probe;
            let mut last = probe();
            let mut mono = tokio::time::Instant::now();
            let mut wall = std::time::SystemTime::now();
            loop {
                tokio::time::sleep(signals.every).await;
                let now_fp = probe();
                let mono_step = mono.elapsed();
                let wall_step = wall.elapsed().unwrap_or_default();
                mono = tokio::time::Instant::now();
                wall = std::time::SystemTime::now();
                let resumed = wall_step > mono_step + RESUME_JUMP;
                if now_fp != last || resumed {
                    last = now_fp;
                    poke.notify_one();
                }
            }
        });
        w.tasks.push(signal_task);
        w
    }

    /// A read handle.
    pub fn cache(&self) -> PostureCache {
        PostureCache {
            rx: self.tx.subscribe(),
        }
    }

    /// Re-checks now (mount table changed, resumed from sleep, settings file changed).
    pub fn recheck(&self) {
        self.poke.notify_one();
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Fact, FactState};
    use chrono::DateTime;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn report(secs: i64, fw: FactState) -> PostureReport {
        let at = DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap();
        let mut f = Facts::unknown(at, "x");
        f.firewall = Fact::new(fw, None, "t", at).with("fw");
        PostureReport::new("linux", f, at)
    }

    #[tokio::test(start_paused = true)]
    async fn change_signal_triggers_a_recheck_before_the_timer() {
        let runs = Arc::new(AtomicU32::new(0));
        let fingerprint = Arc::new(std::sync::atomic::AtomicU64::new(1));
        let (r2, fp2) = (Arc::clone(&runs), Arc::clone(&fingerprint));
        let w = Watcher::spawn_with_signals(
            report(0, FactState::Ok),
            Duration::from_secs(600),
            move || {
                r2.fetch_add(1, Ordering::SeqCst);
                report(1, FactState::Fail)
            },
            ChangeSignals {
                probe: Box::new(move || fp2.load(Ordering::SeqCst)),
                every: Duration::from_secs(5),
            },
        );
        let mut rx = w.cache().subscribe();
        rx.borrow_and_update();
        tokio::time::sleep(Duration::from_secs(12)).await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            0,
            "no signal, no early re-check"
        );
        fingerprint.store(2, Ordering::SeqCst); // e.g. a new mount appeared
        rx.changed().await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(
            tokio::time::Instant::now().elapsed() < Duration::from_secs(600),
            "well before the 10-minute timer"
        );
    }

    #[test]
    fn timestamps_alone_are_not_a_change() {
        assert!(!facts_changed(
            &report(0, FactState::Ok).facts,
            &report(60, FactState::Ok).facts
        ));
        assert!(facts_changed(
            &report(0, FactState::Ok).facts,
            &report(0, FactState::Fail).facts
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn publishes_changes_on_timer_and_poke() {
        let runs = Arc::new(AtomicU32::new(0));
        let r2 = Arc::clone(&runs);
        let w = Watcher::spawn(
            report(0, FactState::Ok),
            Duration::from_secs(600),
            move || {
                let n = r2.fetch_add(1, Ordering::SeqCst) + 1;
                // 1st re-check: unchanged; 2nd: firewall turned off.
                report(
                    i64::from(n),
                    if n >= 2 {
                        FactState::Fail
                    } else {
                        FactState::Ok
                    },
                )
            },
        );
        let cache = w.cache();
        let mut rx = cache.subscribe();
        rx.borrow_and_update();
        tokio::time::sleep(Duration::from_secs(601)).await;
        while runs.load(Ordering::SeqCst) < 1 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(
            !rx.has_changed().unwrap(),
            "an unchanged re-check must not wake subscribers"
        );
        assert_eq!(
            cache.current().collected_at.timestamp(),
            1_800_000_001,
            "the cache still refreshes"
        );
        w.recheck();
        rx.changed().await.unwrap();
        assert!(!rx.borrow().firewall, "the change is published");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
