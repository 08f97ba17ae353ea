//! Device posture engine: detect, attest and watch a device's security posture.
//!
//! Every fact is `{ value, state, method, evidence[], collectedAt }`; the
//! [`PostureReport`] serialises to exactly the `device` object policy rules evaluate, with
//! summary booleans (`device.managed`, `device.diskEncryption`, …) true only when the fact
//! is ok. Linux probes read injectable filesystem roots and need no root; macOS and Windows
//! probes are thin command runners over pure parsers compiled and tested everywhere.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod attest;
pub mod clock;
pub mod config;
pub mod error;
pub mod fact;
pub mod identity;
pub mod linux;
pub mod macos;
pub mod processes;
pub mod render;
pub mod report;
pub mod runner;
pub mod watch;
pub mod windows;

#[cfg(test)]
mod testdata;

pub use attest::{Attestation, NonceStore, Signer, Verifier, attest};
pub use clock::{Clock, FixedClock, SystemClock};
pub use config::{Marker, PostureConfig, ProcessMatcher};
pub use error::{Error, Result};
pub use fact::{Fact, FactState};
pub use render::{exit_code, render_table};
pub use report::{FactName, Facts, PostureReport};
pub use watch::{ChangeSignals, PostureCache, Watcher};

/// Checks this machine, or, with `snapshot`, the Linux tree unpacked in that folder (no
/// external command runs then): what `certgate posture [--sysroot DIR]` and the app share.
pub fn check(
    snapshot: Option<&std::path::Path>,
    config: PostureConfig,
    clock: &dyn Clock,
) -> Result<PostureReport> {
    let Some(dir) = snapshot else {
        return Ok(check_host(config, clock));
    };
    if !dir.is_dir() {
        return Err(Error::NoSnapshot {
            path: dir.to_owned(),
        });
    }
    #[cfg(target_os = "linux")]
    return Ok(linux::LinuxCheck::sysroot(dir, config).run(clock));
    #[cfg(not(target_os = "linux"))]
    Err(Error::SnapshotUnsupported)
}

/// Runs the full check for the machine this is built for.
#[cfg(target_os = "linux")]
pub fn check_host(config: PostureConfig, clock: &dyn Clock) -> PostureReport {
    linux::LinuxCheck::host(config).run(clock)
}

/// Runs the full check for the machine this is built for.
#[cfg(target_os = "macos")]
pub fn check_host(config: PostureConfig, clock: &dyn Clock) -> PostureReport {
    macos::runner::check(config, clock)
}

/// Runs the full check for the machine this is built for.
#[cfg(target_os = "windows")]
pub fn check_host(config: PostureConfig, clock: &dyn Clock) -> PostureReport {
    windows::runner::check(config, clock)
}
