//! The demo course, embedded so the app and the CLI work with no files at hand. Signed by the
//! demo org key (`examples/keys/`), so it loads in demo mode only.
//!
//! The list below must name every file of `examples/demo-content/`: the signature check refuses
//! the bundle when one is missing (a test guards it).

use std::path::Path;

use certgate_policy::{LoadedPolicy, TrustMode};

use crate::bundle::{BundleFiles, load_files};
use crate::{Bundle, Result};

/// Where the embedded files came from, as named in diagnostics.
pub const ORIGIN: &str = "<embedded demo content>";

/// Every file of `examples/demo-content/`, with its signed manifest.
pub const FILES: &[(&str, &[u8])] = &[
    (
        "acknowledgement.md",
        include_bytes!("../../../examples/demo-content/acknowledgement.md"),
    ),
    (
        "bundle.yaml",
        include_bytes!("../../../examples/demo-content/bundle.yaml"),
    ),
    (
        "modules/GOV-101-data-handling.md",
        include_bytes!("../../../examples/demo-content/modules/GOV-101-data-handling.md"),
    ),
    (
        "modules/GOV-102-citations-and-review.md",
        include_bytes!("../../../examples/demo-content/modules/GOV-102-citations-and-review.md"),
    ),
    (
        "modules/GOV-103-incident-escalation.md",
        include_bytes!("../../../examples/demo-content/modules/GOV-103-incident-escalation.md"),
    ),
    (
        "modules/GOV-201-automation-guardrails.md",
        include_bytes!("../../../examples/demo-content/modules/GOV-201-automation-guardrails.md"),
    ),
    (
        "modules/GOV-202-prompting-with-redaction.md",
        include_bytes!(
            "../../../examples/demo-content/modules/GOV-202-prompting-with-redaction.md"
        ),
    ),
    (
        "modules/GOV-203-change-control.md",
        include_bytes!("../../../examples/demo-content/modules/GOV-203-change-control.md"),
    ),
    (
        "modules/SOP-peopleops.md",
        include_bytes!("../../../examples/demo-content/modules/SOP-peopleops.md"),
    ),
    (
        "modules/SOP-sales-revops.md",
        include_bytes!("../../../examples/demo-content/modules/SOP-sales-revops.md"),
    ),
    (
        "modules/SOP-support.md",
        include_bytes!("../../../examples/demo-content/modules/SOP-support.md"),
    ),
    (
        "quizzes/AI_BUILDER_EXTERNAL.yaml",
        include_bytes!("../../../examples/demo-content/quizzes/AI_BUILDER_EXTERNAL.yaml"),
    ),
    (
        "quizzes/AI_CONSUMER_EXTERNAL.yaml",
        include_bytes!("../../../examples/demo-content/quizzes/AI_CONSUMER_EXTERNAL.yaml"),
    ),
    (
        "MANIFEST",
        include_bytes!("../../../examples/demo-content/MANIFEST"),
    ),
    (
        "MANIFEST.sig",
        include_bytes!("../../../examples/demo-content/MANIFEST.sig"),
    ),
];

/// The embedded files by path.
pub fn files() -> BundleFiles {
    FILES
        .iter()
        .map(|(path, bytes)| ((*path).to_owned(), bytes.to_vec()))
        .collect()
}

/// The embedded demo bundle, signature checked against the demo key, validated against `policy`.
pub fn bundle(policy: &LoadedPolicy) -> Result<Bundle> {
    load_files(&files(), Path::new(ORIGIN), policy, TrustMode::Demo)
}
