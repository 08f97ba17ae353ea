//! Device side of certification: the device's Ed25519 key and the org's signed, device-bound
//! certification tokens, kept in the OS keyring; offline verification with the pinned issuer
//! key; sync with the org server. The token codec ([`jws`]) is shared with the server.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod client;
pub mod content;
pub mod device;
pub mod error;
pub mod grant;
pub mod jws;
pub mod keystore;
pub mod metadata;
pub mod sensitive;
pub mod token;
pub mod wire;

pub use device::{CertificationStatus, Device, EmptyOutbox, EvidenceOutbox, Outbox, SyncReport};
pub use error::{Error, Result};
pub use grant::{ExceptionGrantClaims, GrantApprover, verified_exception_grants};
pub use keystore::{DeviceKey, Keystore};
pub use sensitive::Sensitive;
pub use token::{
    CertificationClaims, Confirmation, DEFAULT_REVOCATION_MAX_AGE, Issuer, RevocationList,
    TokenState,
};
