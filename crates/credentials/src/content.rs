//! The org's content bundle on this device: `certgate sync` downloads it as one archive (a tar
//! holding `MANIFEST` and `MANIFEST.sig`, the training crate's format), checks the org
//! signature with the key pinned at enrolment and the content against the org policy, and only
//! then installs it. Installing is one rename of a fully written, synced file onto
//! `<data dir>/content/bundle.tar`, so a reader sees the old bundle or the new one, never a mix;
//! a refused download is deleted and the installed bundle stays as it was.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use certgate_policy::{LoadedPolicy, PublicKey, TrustMode};
use certgate_training::Bundle;
use certgate_training::bundle::{MANIFEST, verify_files};

use crate::error::{Error, Result};

/// Folder under the data dir holding the installed bundle.
pub const CONTENT_DIR: &str = "content";
/// The installed bundle archive.
pub const BUNDLE_ARCHIVE: &str = "bundle.tar";
/// Downloads being checked are written as `.incoming-<random>.tar` next to the bundle.
const INCOMING_PREFIX: &str = ".incoming-";
/// A download older than this was abandoned (the process died mid-sync): removed.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(600);
/// How a downloaded bundle is named in messages.
const ORIGIN: &str = "<bundle from the org server>";

/// Where the installed bundle lives.
pub fn installed_bundle_path(data_dir: &Path) -> PathBuf {
    data_dir.join(CONTENT_DIR).join(BUNDLE_ARCHIVE)
}

/// What was installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledBundle {
    /// SHA-256 of the signed `MANIFEST`: names this exact content.
    pub sha256: String,
    pub version: String,
    pub path: PathBuf,
}

/// Verifies `archive` (signature under the pinned org `key`, every file against the manifest,
/// then every content check against `policy`) and installs it atomically. Any failure leaves
/// the installed bundle untouched and says what was wrong.
pub fn install_bundle(
    data_dir: &Path,
    archive: &[u8],
    key: &PublicKey,
    policy: &LoadedPolicy,
) -> Result<InstalledBundle> {
    let dir = data_dir.join(CONTENT_DIR);
    std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
        path: dir.clone(),
        source,
    })?;
    remove_abandoned_downloads(&dir);
    let tmp = dir.join(format!(
        "{INCOMING_PREFIX}{}.tar",
        crate::jws::random_id(9)?
    ));
    let outcome = write_synced(&tmp, archive)
        .and_then(|()| check(&tmp, key, policy))
        .and_then(|bundle| {
            let target = installed_bundle_path(data_dir);
            std::fs::rename(&tmp, &target).map_err(|source| Error::Write {
                path: target.clone(),
                source,
            })?;
            sync_dir(&dir);
            Ok(InstalledBundle {
                sha256: bundle.sha256,
                version: bundle.version,
                path: target,
            })
        });
    if outcome.is_err() {
        // Best effort: a leftover temp file is never read (only bundle.tar is).
        let _ = std::fs::remove_file(&tmp);
    }
    outcome
}

/// Best effort: deletes downloads a killed sync left behind, but not one another sync running
/// right now is still checking.
fn remove_abandoned_downloads(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let abandoned = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > ABANDONED_AFTER);
        if abandoned
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with(INCOMING_PREFIX)
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

/// The whole check, on the bytes as written to disk (so what is verified is what is renamed).
fn check(tmp: &Path, key: &PublicKey, policy: &LoadedPolicy) -> Result<Bundle> {
    let files = certgate_training::archive::read_archive(tmp).map_err(|e| Error::Bundle {
        what: "not a bundle archive",
        reason: e.to_string(),
    })?;
    let origin = Path::new(ORIGIN);
    if !files.contains_key(MANIFEST) {
        return Err(Error::Bundle {
            what: "unsigned",
            reason: "the archive has no MANIFEST and MANIFEST.sig".into(),
        });
    }
    // Signature first, on its own, so a tampered bundle is named as such.
    verify_files(&files, key, origin).map_err(|e| Error::Bundle {
        what: "signature check failed",
        reason: e.to_string(),
    })?;
    certgate_training::bundle::load_files(&files, origin, policy, TrustMode::Pinned(key)).map_err(
        |e| Error::Bundle {
            what: "content does not fit the org policy",
            reason: e.to_string(),
        },
    )
}

/// Makes the rename durable where the platform allows syncing a folder.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Loads the installed bundle with the training crate (signature checked again), or `None`
/// when none was installed yet.
pub fn load_installed_bundle(
    data_dir: &Path,
    key: &PublicKey,
    policy: &LoadedPolicy,
) -> Result<Option<Bundle>> {
    let path = installed_bundle_path(data_dir);
    if !path.is_file() {
        return Ok(None);
    }
    certgate_training::archive::load_archive(&path, policy, TrustMode::Pinned(key))
        .map(Some)
        .map_err(|e| Error::InstalledBundle {
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo course packed as the server packs it (the training crate's archive writer).
    fn demo_archive(dir: &Path) -> Vec<u8> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo-content");
        let out = dir.join("demo.tar");
        certgate_training::archive::write_archive(&src, &out).unwrap();
        std::fs::read(out).unwrap()
    }

    #[test]
    fn signed_bundle_installs_and_anything_else_is_refused_leaving_it_in_place() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let key = certgate_policy::demo::public_key().unwrap();
        let policy = certgate_policy::demo::load().unwrap();
        assert!(
            load_installed_bundle(&data, &key, &policy)
                .unwrap()
                .is_none()
        );

        let archive = demo_archive(tmp.path());
        let done = install_bundle(&data, &archive, &key, &policy).unwrap();
        assert_eq!(done.version, "1.0.0");
        let loaded = load_installed_bundle(&data, &key, &policy)
            .unwrap()
            .unwrap();
        assert_eq!(loaded.sha256, done.sha256);

        // One changed byte: the manifest catches it.
        let mut tampered = archive.clone();
        let at = tampered.windows(8).position(|w| w == b"Contoso ").unwrap();
        tampered[at] = b'X';
        let e = install_bundle(&data, &tampered, &key, &policy).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Bundle {
                    what: "signature check failed",
                    ..
                }
            ),
            "{e:?}"
        );
        // Not a tar at all, and an empty archive without a manifest.
        let e = install_bundle(&data, b"garbage", &key, &policy).unwrap_err();
        assert!(matches!(e, Error::Bundle { .. }), "{e:?}");
        // Two zero blocks: a valid, empty tar archive.
        let empty = vec![0u8; 1024];
        let e = install_bundle(&data, &empty, &key, &policy).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Bundle {
                    what: "unsigned",
                    ..
                }
            ),
            "{e:?}"
        );

        assert_eq!(
            std::fs::read(installed_bundle_path(&data)).unwrap(),
            archive,
            "refusals leave the installed bundle byte for byte"
        );
        let names: Vec<_> = std::fs::read_dir(data.join(CONTENT_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from(BUNDLE_ARCHIVE)],
            "no temp files left"
        );

        // A changed installed file is caught when loading, too.
        std::fs::write(installed_bundle_path(&data), &tampered).unwrap();
        assert!(matches!(
            load_installed_bundle(&data, &key, &policy),
            Err(Error::InstalledBundle { .. })
        ));
    }

    #[test]
    fn downloads_abandoned_by_a_killed_sync_are_cleaned_up() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let dir = data.join(CONTENT_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        let old = dir.join(".incoming-old.tar");
        let recent = dir.join(".incoming-recent.tar");
        std::fs::write(&old, b"partial").unwrap();
        std::fs::write(&recent, b"another sync, still checking").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3_600))
            .unwrap();
        let key = certgate_policy::demo::public_key().unwrap();
        let policy = certgate_policy::demo::load().unwrap();
        install_bundle(&data, &demo_archive(tmp.path()), &key, &policy).unwrap();
        assert!(!old.exists(), "an hour-old download was abandoned: removed");
        assert!(
            recent.exists(),
            "a recent one may belong to a running sync: kept"
        );
    }
}
