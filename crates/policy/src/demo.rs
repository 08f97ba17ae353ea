//! The demo org: a policy in the seed format and its signature, made with a demo key whose
//! secret half is published in `examples/keys/`. Good for trying Certgate offline; never for
//! real access (its trust is [`Trust::Demo`](crate::Trust::Demo)).

use std::path::Path;

use crate::{Error, LoadedPolicy, PublicKey, Result, Trust};

/// The demo org policy, as shipped in `examples/demo-policy.yaml`.
pub const POLICY: &str = include_str!("../../../examples/demo-policy.yaml");
/// Its detached signature by the demo key.
pub const SIGNATURE: &str = include_str!("../../../examples/demo-policy.yaml.sig");
/// The demo org's public key (PEM).
pub const PUBLIC_KEY_PEM: &str = include_str!("../../../examples/keys/DEMO-org-signing.pub.pem");

const SOURCE: &str = "<embedded demo policy>";

pub fn public_key() -> Result<PublicKey> {
    PublicKey::from_pem(
        PUBLIC_KEY_PEM,
        Path::new("examples/keys/DEMO-org-signing.pub.pem"),
    )
}

/// The embedded demo policy, verified against the demo key.
pub fn load() -> Result<LoadedPolicy> {
    let key = public_key()?;
    key.verify(POLICY.as_bytes(), SIGNATURE, Path::new(SOURCE))
        .map_err(|e| match e {
            Error::BadSignature { .. } => Error::BadSignature {
                path: SOURCE.into(),
                key_id: key.key_id(),
            },
            other => other,
        })?;
    let mut loaded = crate::parse(POLICY, SOURCE)?;
    loaded.trust = Trust::Demo;
    Ok(loaded)
}
