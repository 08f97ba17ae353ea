use chrono::Duration;

use super::*;
use crate::quiz::correct_responses;
use crate::status::{CertStatus, track_status};

const TRACK: &str = "AI_CONSUMER_EXTERNAL";

fn setup() -> (tempfile::TempDir, Records, Bundle, TrackRules) {
    let dir = tempfile::tempdir().unwrap();
    let records = Records::new(Database::open(&dir.path().join("c.db")).unwrap()).unwrap();
    let policy = certgate_policy::demo::load().unwrap();
    let bundle = crate::demo::bundle(&policy).unwrap();
    let rules = TrackRules::from(policy.policy.track(TRACK).unwrap());
    (dir, records, bundle, rules)
}

fn t(minutes: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).unwrap() + Duration::minutes(minutes)
}

fn attempt(bundle: &Bundle, rules: &TrackRules, seed: u64, right: bool, at: i64) -> AttemptRecord {
    let content = bundle.track(TRACK).unwrap();
    let plan = plan_attempt(&content.bank, content.draw_count, seed);
    let mut responses = correct_responses(&content.bank, &plan);
    if !right {
        responses.truncate(5);
    }
    AttemptRecord::grade(bundle, TRACK, rules, seed, responses, t(at - 10), t(at)).unwrap()
}

#[test]
fn attempts_round_trip_and_drive_the_status() {
    let (_dir, mut records, bundle, rules) = setup();
    let failed = attempt(&bundle, &rules, 1, false, 0);
    assert!(!failed.score.passed);
    records.submit_attempt(&failed).unwrap();
    assert!(
        records.submit_attempt(&failed).is_err(),
        "the same attempt is never stored twice"
    );
    let history = records.history(&bundle, TRACK).unwrap();
    assert!(matches!(
        track_status(&rules, &history, t(1)),
        CertStatus::Failed {
            attempts_left: 1,
            ..
        }
    ));
    let passed = attempt(&bundle, &rules, u64::MAX, true, 100);
    records.submit_attempt(&passed).unwrap();
    let stored = records.attempts(&bundle, TRACK).unwrap();
    assert_eq!(
        stored,
        vec![failed, passed.clone()],
        "stored exactly as submitted"
    );
    let status = track_status(&rules, &records.history(&bundle, TRACK).unwrap(), t(101));
    assert_eq!(status.label(), "passed (pending verification)");
    assert!(records.mark_verified(&passed.id).unwrap());
    let status = track_status(&rules, &records.history(&bundle, TRACK).unwrap(), t(101));
    assert_eq!(status.label(), "passed");
}

#[test]
fn the_outbox_statement_lets_the_server_regrade() {
    let (_dir, mut records, bundle, rules) = setup();
    let a = attempt(&bundle, &rules, 77, true, 0);
    records.submit_attempt(&a).unwrap();
    let outbox = records.pending_outbox().unwrap();
    assert_eq!(outbox.len(), 1);
    let s = &outbox[0].statement;
    assert_eq!(s["id"].as_str().unwrap().len(), 36);
    assert_eq!(s["timestamp"], "2026-05-28T20:26:40.000Z");
    assert_eq!(s["result"]["score"]["max"], 10);
    assert_eq!(s["result"]["score"]["raw"], 10.0);
    assert_eq!(s["result"]["score"]["scaled"], 1.0);
    assert_eq!(s["result"]["score"]["min"], 0);
    assert_eq!(s["result"]["success"], true);
    assert_eq!(s["result"]["completion"], true);
    let ext = &s["result"]["extensions"][crate::xapi::ATTEMPT_EXTENSION];
    assert_eq!(ext["seed"], "77");
    assert_eq!(ext["bundleVersion"], "1.0.0");
    // What the server does: re-derive the plan from the seed and grade the raw responses.
    let parsed = crate::xapi::AttemptExtension::from_statement(s).unwrap();
    assert_eq!(
        (parsed.seed, parsed.attempt_id.as_str()),
        (77, a.id.as_str())
    );
    let content = bundle.track(TRACK).unwrap();
    let score = crate::quiz::regrade(
        &content.bank,
        parsed.draw_count,
        parsed.seed,
        &parsed.responses,
        parsed.min_score_pct,
    )
    .unwrap();
    assert_eq!(score, a.score);
    records.mark_sent(&[outbox[0].id.clone()], t(5)).unwrap();
    assert!(records.pending_outbox().unwrap().is_empty());
}

#[test]
fn progress_resumes_and_keeps_completion() {
    let (_dir, mut records, bundle, _) = setup();
    assert_eq!(records.progress("GOV-101-data-handling").unwrap(), None);
    assert!(!records.history(&bundle, TRACK).unwrap().modules_started);
    let mut p = ModuleProgress {
        module_id: "GOV-101-data-handling".into(),
        module_version: "1.0.0".into(),
        position: 3,
        completed_at: Some(t(0)),
        updated_at: t(0),
    };
    records.save_progress(&p).unwrap();
    p.position = 1;
    p.completed_at = None;
    p.updated_at = t(9);
    records.save_progress(&p).unwrap();
    let back = records.progress("GOV-101-data-handling").unwrap().unwrap();
    assert_eq!((back.position, back.completed_at), (1, Some(t(0))));
    assert!(records.history(&bundle, TRACK).unwrap().modules_started);
}

#[test]
fn acknowledgements_are_stored_with_a_statement() {
    let (_dir, mut records, bundle, _) = setup();
    let page = &bundle.acknowledgement;
    assert_eq!(records.latest_acknowledgement(&page.id).unwrap(), None);
    let signed = crate::ack::sign(page, "Dana Whitfield", t(0)).unwrap();
    records.save_acknowledgement(&signed).unwrap();
    let latest = records.latest_acknowledgement(&page.id).unwrap();
    assert_eq!(latest.as_ref(), Some(&signed));
    assert!(!crate::ack::needs_signature(page, latest.as_ref()));
    let outbox = records.pending_outbox().unwrap();
    assert_eq!(outbox[0].kind, "acknowledgement");
    assert_eq!(
        outbox[0].statement["result"]["extensions"][crate::xapi::ACK_EXTENSION]["contentSha256"],
        page.sha256.as_str()
    );
}

#[test]
fn a_reset_unlocks_a_locked_track() {
    let (_dir, mut records, bundle, rules) = setup();
    for (i, seed) in [1, 2].into_iter().enumerate() {
        let at = i64::try_from(i).unwrap() * 120;
        records
            .submit_attempt(&attempt(&bundle, &rules, seed, false, at))
            .unwrap();
    }
    let locked = records.history(&bundle, TRACK).unwrap();
    assert!(matches!(
        track_status(&rules, &locked, t(500)),
        CertStatus::Locked { .. }
    ));
    records
        .record_reset(TRACK, t(600), "exception EX-1")
        .unwrap();
    let history = records.history(&bundle, TRACK).unwrap();
    assert!(crate::status::can_attempt(&rules, &history, t(601)).is_ok());
}

#[test]
fn reminders_fire_once_each_over_a_year_of_daily_checks() {
    let (_dir, mut records, bundle, rules) = setup();
    records
        .submit_attempt(&attempt(&bundle, &rules, 9, true, 0))
        .unwrap();
    let mut fired = Vec::new();
    for day in 0..365 {
        let now = t(day * 24 * 60 + 1);
        let status = track_status(&rules, &records.history(&bundle, TRACK).unwrap(), now);
        if let Some(r) = records.take_reminder(TRACK, &status, now).unwrap() {
            fired.push((day, r));
        }
    }
    use crate::status::Reminder::{Expired, ExpiresIn};
    assert_eq!(
        fired,
        [
            (150, ExpiresIn { days: 30 }),
            (166, ExpiresIn { days: 14 }),
            (177, ExpiresIn { days: 3 }),
            (180, Expired)
        ]
    );
}
