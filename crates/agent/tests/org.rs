//! An enrolled device's own copy of its org's content: nothing before the first sync, the
//! policy and course after it (verified under the key pinned at enrolment), and an error,
//! never a silent fallback, when the stored policy was altered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use certgate_agent::demo::{self, DemoOrg};
use certgate_credentials::keystore::keystore_for_tests;
use certgate_store::Database;
use certgate_training::Records;
use common::blocking;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_org_policy_and_course_are_used_after_the_first_sync_and_refused_when_altered() {
    let service = format!(
        "certgate-org-test-{}",
        certgate_agent::random_hex(6).unwrap()
    );
    let Some(keys) = keystore_for_tests(&service) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let device_db = dir.path().join("device").join("certgate.db");
    std::fs::create_dir_all(device_db.parent().unwrap()).unwrap();
    assert!(
        certgate_agent::org::load(&device_db).unwrap().is_none(),
        "not enrolled"
    );

    let org = DemoOrg::start(&dir.path().join("org")).await.unwrap();
    let (url, admin) = org.admin();
    let loaded = {
        let (keys, db) = (keys.clone(), device_db.clone());
        blocking(move || {
            demo::enrol(&url, &admin, &db, &keys)?;
            assert!(
                certgate_agent::org::load(&db)?.is_none(),
                "enrolled, not synced: no org content yet"
            );
            let records = Records::new(Database::open(&db)?)?;
            let report = certgate_agent::org::sync(&db, &keys, records, &db)?;
            assert!(report.policy_updated, "{report:?}");
            assert!(report.bundle_installed.is_some(), "{report:?}");
            certgate_agent::org::load(&db)
        })
        .await
        .unwrap()
        .expect("org content after the sync")
    };
    assert_eq!(loaded.enrolment.server_url, org.url());
    assert_eq!(
        loaded.policy.summary().policy_id,
        "northwind-demo-external-ai-gate"
    );
    assert_eq!(
        loaded.policy.trust,
        certgate_policy::Trust::Demo,
        "a server signing with the published demo key runs a demo"
    );
    let bundle = loaded.bundle.expect("the org's course was installed");
    assert!(bundle.track(demo::TRACK).is_some());
    // The course sits beside this device's database, not in the user's data folder.
    assert!(
        certgate_credentials::content::installed_bundle_path(device_db.parent().unwrap()).is_file()
    );

    // An altered stored policy no longer verifies: an error, not the demo or nothing.
    let db = Database::open(&device_db).unwrap();
    let (etag, text, sig) = certgate_credentials::metadata::policy(&db)
        .unwrap()
        .unwrap();
    let altered = text.replacen("northwind-demo-external-ai-gate", "other-policy", 1);
    certgate_credentials::metadata::save_policy(&db, &etag, &altered, &sig, chrono::Utc::now())
        .unwrap();
    let err = certgate_agent::org::load(&device_db).unwrap_err();
    assert!(err.to_string().contains("signature"), "{err}");
}
