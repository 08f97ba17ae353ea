use std::path::PathBuf;

use super::*;

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo-content")
}

fn policy() -> LoadedPolicy {
    certgate_policy::demo::load().unwrap()
}

#[test]
fn the_embedded_demo_is_the_signed_demo_folder() {
    let policy = policy();
    let bundle = crate::demo::bundle(&policy).unwrap();
    assert_eq!(bundle.trust, Trust::Demo);
    assert_eq!(bundle.tracks.len(), 2);
    assert_eq!(bundle.modules.len(), 9);
    assert_eq!(bundle.track("AI_CONSUMER_EXTERNAL").unwrap().draw_count, 10);
    assert!(bundle.acknowledgement.body.contains("Not allowed"));
    let on_disk = read_dir(&demo_dir()).unwrap();
    assert_eq!(
        on_disk,
        crate::demo::files(),
        "demo::FILES must list every file of examples/demo-content"
    );
    let from_disk = load_dir(&demo_dir(), &policy, TrustMode::Demo).unwrap();
    assert_eq!(from_disk.sha256, bundle.sha256);
    let minutes: u32 = bundle
        .track("AI_CONSUMER_EXTERNAL")
        .unwrap()
        .modules
        .iter()
        .map(|id| bundle.module(id).unwrap().minutes)
        .sum();
    assert!(
        (45..=60).contains(&minutes),
        "core track reading time {minutes}"
    );
    assert_eq!(
        bundle.find_module("gov-101").unwrap().id,
        "GOV-101-data-handling"
    );
    assert!(
        bundle.find_module("GOV-").is_none(),
        "an ambiguous prefix finds nothing"
    );
}

#[test]
fn tampered_added_unsigned_and_foreign_bundles_are_refused() {
    let policy = policy();
    let key = certgate_policy::demo::public_key().unwrap();
    let origin = Path::new("x");
    let mut files = crate::demo::files();
    files
        .get_mut("modules/GOV-101-data-handling.md")
        .unwrap()
        .push(b' ');
    assert!(matches!(
        verify_files(&files, &key, origin),
        Err(Error::Tampered {
            reason: "was changed",
            ..
        })
    ));
    let mut files = crate::demo::files();
    files.insert("modules/GOV-999-extra.md".into(), b"x".to_vec());
    assert!(matches!(
        verify_files(&files, &key, origin),
        Err(Error::Tampered {
            reason: "was added",
            ..
        })
    ));
    let mut files = crate::demo::files();
    files.remove("quizzes/AI_BUILDER_EXTERNAL.yaml");
    assert!(matches!(
        verify_files(&files, &key, origin),
        Err(Error::Tampered {
            reason: "is missing",
            ..
        })
    ));
    let mut files = crate::demo::files();
    files.remove(MANIFEST_SIG);
    assert!(matches!(
        load_files(&files, origin, &policy, TrustMode::Demo),
        Err(Error::Unsigned { .. })
    ));
    let other = SecretKey::generate().unwrap().public_key();
    assert!(matches!(
        load_files(
            &crate::demo::files(),
            origin,
            &policy,
            TrustMode::Pinned(&other)
        ),
        Err(Error::Signature(_))
    ));
}

#[test]
fn an_org_signs_a_folder_and_devices_pinning_its_key_load_it() {
    let dir = tempfile::tempdir().unwrap();
    for (path, bytes) in crate::demo::files() {
        if is_signature_file(&path) {
            continue;
        }
        let target = dir.path().join(&path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
    let policy = policy();
    assert!(matches!(
        load_dir(dir.path(), &policy, TrustMode::Demo),
        Err(Error::Unsigned { .. })
    ));
    let key = SecretKey::generate().unwrap();
    sign_dir(dir.path(), &key).unwrap();
    let bundle = load_dir(dir.path(), &policy, TrustMode::Pinned(&key.public_key())).unwrap();
    assert!(matches!(bundle.trust, Trust::Signed { .. }));
    // Demo key signing reproduces the committed manifest byte for byte.
    let demo_key = SecretKey::from_pem(
        include_str!("../../../../examples/keys/DEMO-org-signing.key.pem"),
        Path::new("k"),
    )
    .unwrap();
    sign_dir(dir.path(), &demo_key).unwrap();
    assert_eq!(
        read_dir(dir.path()).unwrap(),
        crate::demo::files(),
        "MANIFEST and MANIFEST.sig are what `certgate content sign` writes"
    );
}

/// The demo files with some replaced, loaded unsigned: the diagnostics.
fn problems(edits: &[(&str, &str)]) -> Vec<Diagnostic> {
    let mut files = crate::demo::files();
    for (path, text) in edits {
        files.insert((*path).to_owned(), text.as_bytes().to_vec());
    }
    match load_files(&files, Path::new("b"), &policy(), TrustMode::DevUnsigned) {
        Err(Error::Invalid(d)) => d.0,
        other => panic!("expected diagnostics, got {other:?}"),
    }
}

fn find<'d>(all: &'d [Diagnostic], needle: &str) -> &'d Diagnostic {
    all.iter()
        .find(|d| d.message.contains(needle))
        .unwrap_or_else(|| panic!("no diagnostic containing {needle:?} in {all:#?}"))
}

const BANK_HEAD: &str = "track: AI_CONSUMER_EXTERNAL\nversion: 1.0.0\nquestions:\n";

#[test]
fn every_content_problem_is_reported_with_file_line_and_field() {
    let bundle_yaml = "bundleId: b\nversion: 1.0.0\ntitle: t\ntracks:\n  AI_CONSUMER_EXTERNAL:\n    modules: [GOV-101-data-handling, GOV-102-citations-and-review, GOV-103-incident-escalation]\n    quiz: quizzes/AI_CONSUMER_EXTERNAL.yaml\n    drawCount: 2\n  AI_MYSTERY_TRACK:\n    modules: [GOV-999]\n    quiz: quizzes/none.yaml\n    drawCount: 1\nroleSops: [SOP-support]\nacknowledgment: acknowledgement.md\n";
    let bank = format!(
        "{BANK_HEAD}  - id: Q1\n    type: single\n    prompt: p\n    options:\n      - {{ id: a, text: x }}\n      - {{ id: b, text: y }}\n    explanation: e\n  - id: Q1\n    type: single\n    prompt: p\n    options:\n      - {{ id: a, text: x, correct: true }}\n      - {{ id: b, text: y, correct: true }}\n    explanation: e\n  - id: Q3\n    type: multiple\n    prompt: p\n    options:\n      - {{ id: a, text: x, correct: true }}\n      - {{ id: b, text: y }}\n    explanation: e\n  - id: Q4\n    type: true_false\n    prompt: p\n    explanation: e\n  - id: Q5\n    type: scenaro\n    prompt: p\n    explanation: e\n"
    );
    let all = problems(&[
        (BUNDLE_FILE, bundle_yaml),
        ("quizzes/AI_CONSUMER_EXTERNAL.yaml", &bank),
    ]);
    let d = find(&all, "defines no track `AI_MYSTERY_TRACK`");
    assert_eq!(
        (d.file.as_str(), d.line, d.path.as_str()),
        ("b/bundle.yaml", 9, "tracks.AI_MYSTERY_TRACK")
    );
    let d = find(&all, "AI_BUILDER_EXTERNAL has no content");
    assert_eq!((d.line, d.path.as_str()), (4, "tracks"));
    let d = find(&all, "unknown key `acknowledgment`");
    assert_eq!(d.fix.as_deref(), Some("did you mean `acknowledgement`?"));
    let d = find(&all, "0 options are marked correct");
    assert_eq!(
        (d.file.as_str(), d.line, d.path.as_str()),
        (
            "b/quizzes/AI_CONSUMER_EXTERNAL.yaml",
            7,
            "questions[0].options"
        )
    );
    find(&all, "2 options are marked correct");
    let d = find(&all, "duplicate question id `Q1`");
    assert_eq!((d.line, d.path.as_str()), (11, "questions[1].id"));
    let d = find(&all, "must declare how it is scored");
    assert_eq!(d.path, "questions[2].scoring");
    let d = find(&all, "without its answer");
    assert_eq!(d.path, "questions[3].answer");
    let d = find(&all, "unknown value `scenaro`");
    assert_eq!(d.fix.as_deref(), Some("did you mean `scenario`?"));
    assert!(
        all.iter().all(|d| d.line > 0),
        "every problem has a line: {all:#?}"
    );
}

#[test]
fn a_bank_smaller_than_three_draws_and_missing_modules_are_reported() {
    let bundle_yaml = std::str::from_utf8(&crate::demo::files()[BUNDLE_FILE])
        .unwrap()
        .replace("drawCount: 10", "drawCount: 12")
        .replace("GOV-103-incident-escalation]", "GOV-104-missing]");
    let all = problems(&[(BUNDLE_FILE, &bundle_yaml)]);
    let d = find(&all, "fewer than 3 × drawCount (36)");
    assert_eq!(d.file, "b/bundle.yaml");
    assert_eq!(
        (d.line, d.path.as_str()),
        (8, "tracks.AI_CONSUMER_EXTERNAL.drawCount")
    );
    let d = find(&all, "no module file has id `GOV-104-missing`");
    assert_eq!(d.path, "tracks.AI_CONSUMER_EXTERNAL.modules[2]");
    find(&all, "requires module `GOV-103-incident-escalation`");
}

#[test]
fn front_matter_problems_point_at_the_module_file() {
    let module = "---\nid: GOV-101-data-handling\ntitle: t\ntrack: AI_CONSUMER_EXTRNAL\nminutes: ten\nversion: 1.0.0\n---\n# Body\n";
    let all = problems(&[("modules/GOV-101-data-handling.md", module)]);
    let d = find(&all, "expected a whole number");
    assert_eq!(
        (d.file.as_str(), d.line, d.path.as_str()),
        ("b/modules/GOV-101-data-handling.md", 5, "minutes")
    );
    let all = problems(&[(
        "modules/GOV-101-data-handling.md",
        &module.replace("minutes: ten", "minutes: 10"),
    )]);
    let d = find(&all, "defines no track `AI_CONSUMER_EXTRNAL`");
    assert_eq!(d.line, 4);
    let all = problems(&[("modules/GOV-999.md", "# no front matter\n")]);
    find(&all, "no front matter");
}

#[test]
fn a_bundle_cool_down_applies_when_longer_than_the_policy_one() {
    let bundle_yaml = std::str::from_utf8(&crate::demo::files()[BUNDLE_FILE])
        .unwrap()
        .replace("drawCount: 10", "drawCount: 10\n    cooldownMinutes: 240");
    let mut files = crate::demo::files();
    files.insert(BUNDLE_FILE.into(), bundle_yaml.into_bytes());
    let policy = policy();
    let bundle = load_files(&files, Path::new("b"), &policy, TrustMode::DevUnsigned).unwrap();
    let track = policy.policy.track("AI_CONSUMER_EXTERNAL").unwrap();
    let content = bundle.track("AI_CONSUMER_EXTERNAL");
    assert_eq!(content.unwrap().cooldown_minutes, Some(240));
    let rules = crate::status::TrackRules::for_track(track, content);
    assert_eq!(rules.cooldown_minutes, 240);
    let builder = crate::status::TrackRules::for_track(
        policy.policy.track("AI_BUILDER_EXTERNAL").unwrap(),
        bundle.track("AI_BUILDER_EXTERNAL"),
    );
    assert_eq!(builder.cooldown_minutes, 0, "no cool-down in either");
}
