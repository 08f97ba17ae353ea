//! What runs on a contractor's device between single commands, shared by the CLI and the tray
//! app so both behave the same:
//!
//! - [`feed`]: the gate's view of this device (who is signed in, which certifications their
//!   tokens prove, how the device is), rebuilt from the keyring, SQLite and the posture checks;
//! - [`stack`]: the governed proxy on loopback, fed by that view and refreshed on a timer or
//!   on demand (after a sync, a posture change);
//! - [`outbox`]: the training records as the sync drains them;
//! - [`exceptions`]: exception requests from this device and their approvals;
//! - [`enrol`]: enrolment as the org's managed configuration allows it;
//! - [`chat`]: the app's copilot chat, a client of the proxy like any other tool;
//! - [`demo`]: the in-process demo org (server with the demo policy and content) and the demo
//!   user, for `certgate demo` and the app's demo mode.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod chat;
pub mod demo;
pub mod enrol;
pub mod error;
pub mod exceptions;
pub mod feed;
pub mod org;
pub mod outbox;
pub mod stack;

pub use error::{Error, Result};
pub use feed::{Certifications, DeviceFeed, Facts};
pub use outbox::{AuditOutbox, TrainingOutbox};
pub use stack::{LocalStack, StackOptions};

/// A random lowercase hex string of `bytes` bytes (client keys, admin tokens).
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| Error::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
