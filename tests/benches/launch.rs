//! Launch to tray icon: the real `certgate-app` started in a fresh home on the test desktop,
//! timed from spawn until its tray item (StatusNotifierItem) is on the session bus. The first
//! launch after a build is cold (libraries not yet in the page cache); the rest are warm.
//!
//! ```sh
//! cargo build --release -p certgate-app
//! keyctl session - dbus-run-session -- bash scripts/desktop-session.sh \
//!   cargo bench -p certgate-e2e --bench launch
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use certgate_e2e::{App, app_binary, dbus, poll, require_desktop_session};

const LAUNCHES: usize = 8;

fn main() {
    require_desktop_session();
    let mut times = Vec::with_capacity(LAUNCHES);
    for _ in 0..LAUNCHES {
        let started = Instant::now();
        let mut app = App::launch("bench-launch", &[]);
        poll(Duration::from_secs(60), || {
            app.assert_running();
            dbus::item_of_process(app.pid())
        })
        .unwrap_or_else(|| panic!("no tray item within 60 s; log:\n{}", app.log()));
        times.push(started.elapsed());
        drop(app);
    }
    let first = times[0];
    let mut warm = times[1..].to_vec();
    warm.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "launch to tray icon, {} ({} launches)",
        app_binary().display(),
        LAUNCHES
    );
    println!(
        "  first (cold page cache after a build): {:.0} ms",
        ms(first)
    );
    println!(
        "  warm: p50 {:.0} ms, max {:.0} ms",
        ms(warm[warm.len() / 2]),
        ms(warm[warm.len() - 1])
    );
    println!(
        "reproduce: cargo build --release -p certgate-app && keyctl session - dbus-run-session -- bash scripts/desktop-session.sh cargo bench -p certgate-e2e --bench launch"
    );
}
