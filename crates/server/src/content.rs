//! The signed content bundle as served to devices: one tar archive of the bundle's files,
//! `MANIFEST` and `MANIFEST.sig` included, so the device checks the org signature itself. The
//! ETag is the SHA-256 of the signed manifest: it changes exactly when the content does.

use std::path::Path;

use axum::body::Bytes;
use certgate_policy::{LoadedPolicy, TrustMode};
use certgate_training::Bundle;
use certgate_training::bundle::BundleFiles;

use crate::error::{Error, Result};

/// The bundle the server serves.
#[derive(Debug, Clone)]
pub struct BundleDoc {
    /// The tar archive, built once at start.
    pub archive: Bytes,
    /// SHA-256 of the signed manifest (the training crate's `Bundle::sha256`).
    pub sha256: String,
    /// `version` from `bundle.yaml`.
    pub version: String,
}

impl BundleDoc {
    /// Checks `files` (signature per `mode`, content against `policy`) and packs them.
    /// Returns the loaded bundle too, for the re-grader.
    pub fn new(
        files: &BundleFiles,
        origin: &Path,
        policy: &LoadedPolicy,
        mode: TrustMode<'_>,
    ) -> Result<(Self, Bundle)> {
        let bundle = certgate_training::bundle::load_files(files, origin, policy, mode)?;
        let doc = Self {
            archive: Bytes::from(pack(files)?),
            sha256: bundle.sha256.clone(),
            version: bundle.version.clone(),
        };
        Ok((doc, bundle))
    }

    /// A doc over already packed bytes, unchecked (tests that serve a tampered archive).
    pub fn from_archive(archive: Vec<u8>, sha256: &str, version: &str) -> Self {
        Self {
            archive: Bytes::from(archive),
            sha256: sha256.to_owned(),
            version: version.to_owned(),
        }
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", self.sha256)
    }
}

/// Packs bundle files into a tar archive the way `certgate content pack` does: sorted paths,
/// fixed mode, owner and time, so the same content always makes the same bytes.
pub fn pack(files: &BundleFiles) -> Result<Vec<u8>> {
    certgate_training::archive::pack_into(files, Vec::new()).map_err(|source| Error::Pack {
        file: "(bundle archive)".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_demo_bundle_reads_back_and_verifies() {
        let policy = certgate_policy::demo::load().unwrap();
        let files = certgate_training::demo::files();
        let (doc, bundle) =
            BundleDoc::new(&files, Path::new("<demo>"), &policy, TrustMode::Demo).unwrap();
        assert_eq!(doc.version, bundle.version);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tar");
        std::fs::write(&path, &doc.archive).unwrap();
        assert_eq!(
            certgate_training::archive::read_archive(&path).unwrap(),
            files,
            "the archive holds exactly the signed files"
        );
        assert_eq!(pack(&files).unwrap(), doc.archive.to_vec(), "deterministic");
        assert_eq!(doc.etag(), format!("\"{}\"", bundle.sha256));
    }
}
