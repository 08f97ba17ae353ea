//! Loading a content bundle: its files (from a folder or embedded), the org's signature over
//! them, and every check against the policy, all problems reported at once.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use certgate_policy::signing::sha256_hex;
use certgate_policy::yaml::{Cx, Decode, parse_document};
use certgate_policy::{
    Diagnostic, Diagnostics, LoadedPolicy, PublicKey, SecretKey, Trust, TrustMode,
};

use crate::decode::{self, BundleDecl, PageKind};
use crate::error::{Error, Result};
use crate::model::{AckPage, Bundle, Module, QuestionBank, ROLE_SOP_TRACK, TrackContent};

/// The bundle's description file.
pub const BUNDLE_FILE: &str = "bundle.yaml";
/// The list of `sha256  path` lines the org signs.
pub const MANIFEST: &str = "MANIFEST";
/// The detached Ed25519 signature of [`MANIFEST`].
pub const MANIFEST_SIG: &str = "MANIFEST.sig";
/// Where modules live.
pub const MODULES_DIR: &str = "modules/";

/// A bundle's files by relative path (`/`-separated), e.g. `modules/GOV-101-data-handling.md`.
pub type BundleFiles = BTreeMap<String, Vec<u8>>;

/// Reads every regular file under `dir` (hidden files and folders skipped).
pub fn read_dir(dir: &Path) -> Result<BundleFiles> {
    let mut files = BundleFiles::new();
    walk(dir, "", &mut files)?;
    Ok(files)
}

fn walk(dir: &Path, prefix: &str, files: &mut BundleFiles) -> Result<()> {
    let read_err = |source| Error::Read {
        path: dir.to_owned(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(read_err)?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(read_err)?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let rel = format!("{prefix}{name}");
        let kind = entry.file_type().map_err(read_err)?;
        if kind.is_dir() {
            walk(&path, &format!("{rel}/"), files)?;
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).map_err(|source| Error::Read { path, source })?;
            files.insert(rel, bytes);
        }
    }
    Ok(())
}

/// The manifest text of `files`: one `<sha256>  <path>\n` line per file, sorted by path,
/// without the manifest and its signature.
pub fn manifest_text(files: &BundleFiles) -> String {
    files
        .iter()
        .filter(|(path, _)| !is_signature_file(path))
        .map(|(path, bytes)| format!("{}  {path}\n", sha256_hex(bytes)))
        .collect()
}

fn is_signature_file(path: &str) -> bool {
    path == MANIFEST || path == MANIFEST_SIG
}

/// Signs the bundle folder: writes `MANIFEST` and `MANIFEST.sig` into it.
pub fn sign_dir(dir: &Path, key: &SecretKey) -> Result<String> {
    let manifest = manifest_text(&read_dir(dir)?);
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| Error::Write { path, source })
    };
    write(MANIFEST, &manifest)?;
    write(MANIFEST_SIG, &key.sign(manifest.as_bytes()))?;
    Ok(manifest)
}

/// Checks the org's signature over the manifest and every file against it.
pub fn verify_files(files: &BundleFiles, key: &PublicKey, origin: &Path) -> Result<()> {
    let (Some(manifest), Some(sig)) = (files.get(MANIFEST), files.get(MANIFEST_SIG)) else {
        return Err(Error::Unsigned {
            dir: origin.to_owned(),
        });
    };
    let sig = String::from_utf8_lossy(sig);
    key.verify(manifest, &sig, &origin.join(MANIFEST_SIG))
        .map_err(Error::Signature)?;
    let manifest = String::from_utf8_lossy(manifest);
    let mut listed = HashSet::new();
    for (i, line) in manifest.lines().enumerate() {
        let (hash, path) = line
            .split_once("  ")
            .filter(|(h, p)| h.len() == 64 && !p.is_empty())
            .ok_or(Error::ManifestFormat { line: i + 1 })?;
        listed.insert(path);
        match files.get(path) {
            None => {
                return Err(Error::Tampered {
                    file: path.to_owned(),
                    reason: "is missing",
                });
            }
            Some(bytes) if sha256_hex(bytes) != hash => {
                return Err(Error::Tampered {
                    file: path.to_owned(),
                    reason: "was changed",
                });
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = files
        .keys()
        .find(|p| !is_signature_file(p) && !listed.contains(p.as_str()))
    {
        return Err(Error::Tampered {
            file: extra.clone(),
            reason: "was added",
        });
    }
    Ok(())
}

/// Loads and validates the bundle in folder `dir` against `policy`, after checking its
/// signature as `mode` demands.
pub fn load_dir(dir: &Path, policy: &LoadedPolicy, mode: TrustMode<'_>) -> Result<Bundle> {
    load_files(&read_dir(dir)?, dir, policy, mode)
}

/// Loads and validates bundle files (read from `origin`, a folder or `<embedded demo>`).
pub fn load_files(
    files: &BundleFiles,
    origin: &Path,
    policy: &LoadedPolicy,
    mode: TrustMode<'_>,
) -> Result<Bundle> {
    let trust = match mode {
        TrustMode::DevUnsigned => {
            tracing::warn!(origin = %origin.display(), "content bundle loaded without a signature check (dev mode)");
            Trust::UnsignedDev
        }
        TrustMode::Pinned(key) => {
            verify_files(files, key, origin)?;
            Trust::Signed {
                key_id: key.key_id(),
            }
        }
        TrustMode::Demo => {
            verify_files(files, &certgate_policy::demo::public_key()?, origin)?;
            Trust::Demo
        }
    };
    let mut bundle = decode_and_validate(files, origin, policy)?;
    bundle.trust = trust;
    Ok(bundle)
}

fn text<'f>(files: &'f BundleFiles, path: &str) -> Option<std::borrow::Cow<'f, str>> {
    files.get(path).map(|b| String::from_utf8_lossy(b))
}

fn missing_file(file: &str, path: &str, named: &str) -> (String, String) {
    (
        format!("the file `{named}` is not in the bundle"),
        format!("add {named} to the bundle folder or correct `{path}` in {file}"),
    )
}

/// Decodes every file and checks the bundle against the policy.
fn decode_and_validate(
    files: &BundleFiles,
    origin: &Path,
    policy: &LoadedPolicy,
) -> Result<Bundle> {
    let name = |rel: &str| origin.join(rel).display().to_string();
    let mut problems: Vec<Diagnostic> = Vec::new();

    // Modules: every Markdown file under modules/.
    let mut modules: Vec<Module> = Vec::new();
    let policy_tracks: Vec<&str> = policy.policy.track_ids().collect();
    for (path, bytes) in files.range(MODULES_DIR.to_owned()..) {
        if !path.starts_with(MODULES_DIR) {
            break;
        }
        if !path.ends_with(".md") {
            continue;
        }
        let file = name(path);
        let page = String::from_utf8_lossy(bytes);
        let (fm, mut found) = decode::front_matter(&page, &file, PageKind::Module);
        problems.append(&mut found);
        let Some((fm, body)) = fm else { continue };
        let track = fm.track.unwrap_or_default();
        if track != ROLE_SOP_TRACK && !policy_tracks.contains(&track.as_str()) {
            problems.push(Diagnostic {
                file: file.clone(),
                line: line_of(&page, "track:", 0),
                column: 1,
                path: "track".into(),
                message: format!("the policy defines no track `{track}`"),
                fix: Some(format!(
                    "use one of {} (or {ROLE_SOP_TRACK} for a role SOP)",
                    policy_tracks.join(", ")
                )),
            });
        }
        if modules.iter().any(|m| m.id == fm.id) {
            problems.push(Diagnostic {
                file: file.clone(),
                line: line_of(&page, "id:", 0),
                column: 1,
                path: "id".into(),
                message: format!("duplicate module id `{}`", fm.id),
                fix: Some("give each module file its own id".into()),
            });
            continue;
        }
        modules.push(Module {
            id: fm.id,
            title: fm.title,
            track,
            minutes: fm.minutes.unwrap_or(0),
            version: fm.version,
            body,
            file: path.clone(),
        });
    }

    // bundle.yaml, with the checks that cross files reported at its own lines.
    let bundle_file = name(BUNDLE_FILE);
    let Some(bundle_text) = text(files, BUNDLE_FILE) else {
        problems.push(Diagnostic {
            file: bundle_file,
            line: 0,
            column: 0,
            path: String::new(),
            message: format!("the bundle has no {BUNDLE_FILE}"),
            fix: Some(
                "add bundle.yaml with bundleId, version, title, tracks, acknowledgement".into(),
            ),
        });
        return Err(Error::Invalid(Diagnostics(problems)));
    };
    let mut cx = Cx::new(&bundle_file, ());
    let decl = parse_document(&bundle_text, &mut cx)
        .and_then(|root| BundleDecl::decode(&root, "", &mut cx));
    let mut tracks = BTreeMap::new();
    let mut acknowledgement = None;
    if let Some(decl) = &decl {
        for (track_id, t) in &decl.tracks {
            let at = format!("tracks.{track_id}");
            let Some(policy_track) = policy.policy.track(track_id) else {
                cx.error_at_path(
                    &at,
                    format!("the policy defines no track `{track_id}`"),
                    format!("use one of: {}", policy_tracks.join(", ")),
                );
                continue;
            };
            for (i, id) in t.modules.iter().enumerate() {
                match modules.iter().find(|m| &m.id == id) {
                    None => cx.error_at_path(
                        &format!("{at}.modules[{i}]"),
                        format!("no module file has id `{id}`"),
                        "add the module under modules/ or correct the id",
                    ),
                    Some(m) if m.track != *track_id => cx.error_at_path(
                        &format!("{at}.modules[{i}]"),
                        format!("module `{id}` belongs to track `{}` ({})", m.track, m.file),
                        "list the module under its own track, or correct its front matter",
                    ),
                    Some(_) => {}
                }
            }
            for required in &policy_track.modules {
                if !t.modules.contains(required) {
                    cx.error_at_path(
                        &format!("{at}.modules"),
                        format!("the policy's track {track_id} requires module `{required}`, which this track does not list"),
                        format!("add {required} to the track's modules"),
                    );
                }
            }
            let quiz_file = name(&t.quiz);
            let Some(quiz_text) = text(files, &t.quiz) else {
                let (message, fix) = missing_file(&bundle_file, &format!("{at}.quiz"), &t.quiz);
                cx.error_at_path(&format!("{at}.quiz"), message, fix);
                continue;
            };
            let (bank, mut found) = decode::yaml_file::<QuestionBank>(&quiz_text, &quiz_file);
            problems.append(&mut found);
            let Some(bank) = bank else { continue };
            if bank.track != *track_id {
                problems.push(Diagnostic {
                    file: quiz_file.clone(),
                    line: line_of(&quiz_text, "track:", 0),
                    column: 1,
                    path: "track".into(),
                    message: format!(
                        "the bank is for `{}` but bundle.yaml uses it for `{track_id}`",
                        bank.track
                    ),
                    fix: Some(format!(
                        "set `track: {track_id}`, or point the track at its own bank"
                    )),
                });
            }
            for (i, q) in bank.questions.iter().enumerate() {
                if let Some(module) = &q.module
                    && !t.modules.contains(module)
                {
                    let question_line = line_of(&quiz_text, &format!("id: {}", q.id), 0);
                    problems.push(Diagnostic {
                        file: quiz_file.clone(),
                        line: line_of(&quiz_text, "module:", question_line),
                        column: 1,
                        path: format!("questions[{i}].module"),
                        message: format!("`{module}` is not a module of track {track_id}"),
                        fix: Some(format!("use one of: {}", t.modules.join(", "))),
                    });
                }
            }
            let needed = u64::from(t.draw_count) * 3;
            if (bank.questions.len() as u64) < needed {
                cx.error_at_path(
                    &format!("{at}.drawCount"),
                    format!(
                        "the bank {} holds {} questions, fewer than 3 × drawCount ({needed})",
                        t.quiz,
                        bank.questions.len()
                    ),
                    format!("add questions to {} or lower drawCount", t.quiz),
                );
            }
            tracks.insert(
                track_id.clone(),
                TrackContent {
                    id: track_id.clone(),
                    modules: t.modules.clone(),
                    draw_count: t.draw_count,
                    cooldown_minutes: t.cooldown_minutes,
                    bank,
                },
            );
        }
        for policy_track in &policy_tracks {
            if !decl.tracks.contains_key(*policy_track) {
                cx.error_at_path(
                    "tracks",
                    format!("the policy's track {policy_track} has no content in this bundle"),
                    format!(
                        "add `{policy_track}:` under tracks with its modules, quiz and drawCount"
                    ),
                );
            }
        }
        for (i, id) in decl.role_sops.iter().enumerate() {
            match modules.iter().find(|m| &m.id == id) {
                None => cx.error_at_path(
                    &format!("roleSops[{i}]"),
                    format!("no module file has id `{id}`"),
                    "add the SOP under modules/ or correct the id",
                ),
                Some(m) if m.track != ROLE_SOP_TRACK => cx.error_at_path(
                    &format!("roleSops[{i}]"),
                    format!(
                        "module `{id}` has track `{}`, not {ROLE_SOP_TRACK}",
                        m.track
                    ),
                    format!("set `track: {ROLE_SOP_TRACK}` in its front matter"),
                ),
                Some(_) => {}
            }
        }
        let ack_path = decl.acknowledgement.as_deref().unwrap_or_default();
        match text(files, ack_path) {
            None if decl.acknowledgement.is_none() => {}
            None => {
                let (message, fix) = missing_file(&bundle_file, "acknowledgement", ack_path);
                cx.error_at_path("acknowledgement", message, fix);
            }
            Some(page) => {
                let file = name(ack_path);
                let (fm, mut found) = decode::front_matter(&page, &file, PageKind::Acknowledgement);
                problems.append(&mut found);
                if let Some((fm, body)) = fm {
                    acknowledgement = Some(AckPage {
                        id: fm.id,
                        title: fm.title,
                        version: fm.version,
                        body,
                        sha256: sha256_hex(page.as_bytes()),
                        file: ack_path.to_owned(),
                    });
                }
            }
        }
    }
    let (bundle_problems, ()) = cx.finish();
    problems.extend(bundle_problems.0);
    let header = decl.and_then(|d| Some((d.bundle_id?, d.version?, d.title?, d.role_sops)));
    match (header, acknowledgement) {
        (Some((bundle_id, version, title, role_sops)), Some(acknowledgement))
            if problems.is_empty() =>
        {
            Ok(Bundle {
                bundle_id,
                version,
                title,
                tracks,
                modules,
                role_sops,
                acknowledgement,
                trust: Trust::UnsignedDev,
                sha256: sha256_hex(manifest_text(files).as_bytes()),
            })
        }
        _ => Err(Error::Invalid(Diagnostics(problems))),
    }
}

/// The 1-based line of the first line at or after `from` (1-based; 0 = start) whose text,
/// trimmed of indentation and a list dash, starts with `needle` (0 when none): places a
/// cross-file problem at the field it is about.
fn line_of(text: &str, needle: &str, from: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.trim_start().trim_start_matches("- ").starts_with(needle))
        .map_or(0, |(i, _)| i + 1)
}

#[cfg(test)]
mod tests;
