//! Crash safety: a child process submits attempts in a loop and prints `saved <id>` after each
//! commit; the parent SIGKILLs it at random moments, at least 200 times, then checks that every
//! attempt the user was told was saved is in the database exactly once, with its outbox
//! statement (one transaction), and that SQLite's integrity check passes.
//!
//! The child is this same test binary running `child_submits_until_killed` with
//! `CERTGATE_CRASH_DB` set; without it, that test does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use certgate_store::Database;
use certgate_training::quiz::{SplitMix64, correct_responses};
use certgate_training::{AttemptRecord, Records, TrackRules, plan_attempt};

const DB_ENV: &str = "CERTGATE_CRASH_DB";
const KILLS: usize = 200;
const TRACK: &str = "AI_CONSUMER_EXTERNAL";

#[test]
fn child_submits_until_killed() {
    let Some(path) = std::env::var_os(DB_ENV) else {
        return;
    };
    let policy = certgate_policy::demo::load().unwrap();
    let bundle = certgate_training::demo::bundle(&policy).unwrap();
    let rules = TrackRules::from(policy.policy.track(TRACK).unwrap());
    let content = bundle.track(TRACK).unwrap();
    let mut records = Records::new(Database::open(path.as_ref()).unwrap()).unwrap();
    let mut seed = certgate_training::quiz::new_seed().unwrap();
    loop {
        seed = seed.wrapping_add(1);
        let plan = plan_attempt(&content.bank, content.draw_count, seed);
        let responses = correct_responses(&content.bank, &plan);
        let now = chrono::Utc::now();
        let attempt =
            AttemptRecord::grade(&bundle, TRACK, &rules, seed, responses, now, now).unwrap();
        records.submit_attempt(&attempt).unwrap();
        // Printed only after the commit returned: this is the "saved" the user sees.
        println!("saved {}", attempt.id);
    }
}

#[test]
fn every_saved_attempt_survives_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("certgate.db");
    let exe = std::env::current_exe().unwrap();
    let mut rng = SplitMix64::new(certgate_training::quiz::new_seed().unwrap());
    let mut saved: Vec<String> = Vec::new();
    let started = Instant::now();
    for i in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "child_submits_until_killed",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DB_ENV, &db_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut out = String::new();
        // One run in five waits for the first save, so kills surely land among commits however
        // slow start-up is; the others die at any point, start-up and migration included.
        if i % 5 == 0 {
            while !out.contains("saved ") {
                if stdout.read_line(&mut out).unwrap() == 0 {
                    break;
                }
            }
            std::thread::sleep(Duration::from_micros(rng.below(20_000)));
        } else {
            std::thread::sleep(Duration::from_micros(rng.below(60_000)));
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        stdout.read_to_string(&mut out).unwrap();
        saved.extend(
            out.lines()
                // The harness prints `test … ... ` before the first line without a newline.
                .filter_map(|l| l.find("saved ").map(|i| &l[i + "saved ".len()..]))
                .filter(|id| id.len() == 36)
                .map(str::to_owned),
        );
    }
    assert!(!saved.is_empty(), "some attempts were saved before a kill");
    let db = Database::open(&db_path).unwrap();
    assert!(db.integrity_ok().unwrap(), "PRAGMA integrity_check is ok");
    let mut counts: HashMap<String, i64> = HashMap::new();
    let mut stmt = db
        .conn()
        .prepare("SELECT id, COUNT(*) FROM training_attempts GROUP BY id")
        .unwrap();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap()
    {
        let (id, n) = row.unwrap();
        counts.insert(id, n);
    }
    for id in &saved {
        assert_eq!(counts.get(id), Some(&1), "attempt {id} was reported saved");
    }
    let orphans: i64 = db
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM training_attempts a
             WHERE (SELECT COUNT(*) FROM training_outbox o WHERE o.subject_id = a.id) != 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "attempt and statement commit together");
    eprintln!(
        "{KILLS} kills, {} saved attempts reported, {} stored, {:?}",
        saved.len(),
        counts.len(),
        started.elapsed()
    );
}
