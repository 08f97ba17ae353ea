//! A signed bundle as one file: a tar of the folder including `MANIFEST` and `MANIFEST.sig`.
//! The signature travels inside, so the archive is checked exactly like the folder. Archives
//! are written deterministically (sorted paths, fixed mode, owner and time), so the same folder
//! always makes the same bytes.

use std::io::Read;
use std::path::{Component, Path};

use certgate_policy::{LoadedPolicy, TrustMode};

use crate::bundle::{BundleFiles, MANIFEST, MANIFEST_SIG, load_files, read_dir};
use crate::error::{Error, Result};
use crate::model::Bundle;

/// Largest archive content read (all files together): course text is far smaller, so anything
/// bigger is refused rather than read into memory.
pub const MAX_ARCHIVE_BYTES: u64 = 64 * 1024 * 1024;

/// Packs the signed folder `dir` into the tar archive `out`.
pub fn write_archive(dir: &Path, out: &Path) -> Result<()> {
    let files = read_dir(dir)?;
    if !files.contains_key(MANIFEST) || !files.contains_key(MANIFEST_SIG) {
        return Err(Error::Unsigned {
            dir: dir.to_owned(),
        });
    }
    let write_err = |source| Error::Write {
        path: out.to_owned(),
        source,
    };
    let file = std::fs::File::create(out).map_err(write_err)?;
    pack_into(&files, file)
        .and_then(|f| f.sync_all())
        .map_err(write_err)?;
    Ok(())
}

/// Writes bundle files as a deterministic tar into `out` (sorted paths, fixed mode, owner and
/// time: the same content always makes the same bytes) and gives `out` back.
pub fn pack_into<W: std::io::Write>(files: &BundleFiles, out: W) -> std::io::Result<W> {
    let mut tar = tar::Builder::new(out);
    for (path, bytes) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, bytes.as_slice())?;
    }
    tar.into_inner()
}

/// Reads the files of a bundle archive. Only regular files with plain relative paths are
/// accepted; links, absolute paths and `..` are refused.
pub fn read_archive(path: &Path) -> Result<BundleFiles> {
    let read_err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let bad = |what: String| Error::Read {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, what),
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut archive = tar::Archive::new(file);
    let mut files = BundleFiles::new();
    let mut total = 0u64;
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        let name = entry.path().map_err(read_err)?.into_owned();
        if !kind.is_file() {
            return Err(bad(format!("{} is not a regular file", name.display())));
        }
        if !name.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(bad(format!(
                "{} is not a plain relative path",
                name.display()
            )));
        }
        total = total.saturating_add(entry.size());
        if total > MAX_ARCHIVE_BYTES {
            return Err(bad(format!(
                "the archive holds more than {MAX_ARCHIVE_BYTES} bytes"
            )));
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(read_err)?;
        let key = name
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        files.insert(key, bytes);
    }
    Ok(files)
}

/// Loads a bundle archive like a folder: signature per `mode`, then every check.
pub fn load_archive(path: &Path, policy: &LoadedPolicy, mode: TrustMode<'_>) -> Result<Bundle> {
    load_files(&read_archive(path)?, path, policy, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_round_trips_the_signed_folder_and_is_checked_the_same() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo-content");
        let out = tempfile::tempdir().unwrap();
        let tar = out.path().join("demo.tar");
        write_archive(&demo, &tar).unwrap();
        assert_eq!(read_archive(&tar).unwrap(), crate::demo::files());
        let again = out.path().join("again.tar");
        write_archive(&demo, &again).unwrap();
        assert_eq!(
            std::fs::read(&tar).unwrap(),
            std::fs::read(&again).unwrap(),
            "archives are deterministic"
        );
        let policy = certgate_policy::demo::load().unwrap();
        let bundle = load_archive(&tar, &policy, TrustMode::Demo).unwrap();
        assert_eq!(bundle.sha256, crate::demo::bundle(&policy).unwrap().sha256);

        // A changed byte inside the archive is caught by the manifest.
        let mut bytes = std::fs::read(&tar).unwrap();
        let at = bytes.windows(8).position(|w| w == b"Contoso ").unwrap();
        bytes[at] = b'X';
        std::fs::write(&tar, bytes).unwrap();
        assert!(matches!(
            load_archive(&tar, &policy, TrustMode::Demo),
            Err(Error::Tampered { .. })
        ));
    }

    #[test]
    fn an_unsigned_folder_is_not_packed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bundle.yaml"), "x").unwrap();
        assert!(matches!(
            write_archive(dir.path(), &dir.path().join("x.tar")),
            Err(Error::Unsigned { .. })
        ));
    }
}
