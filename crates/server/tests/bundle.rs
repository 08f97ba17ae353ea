//! Content bundles over loopback: a real server on port 0 serves the org-signed bundle, the
//! device's sync fetches it (ETag / 304), checks the org signature with the key pinned at
//! enrolment before installing, installs atomically, and the training crate loads it. A
//! tampered bundle is refused with its reason and the installed one stays.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use certgate_credentials::client::Client;
use certgate_credentials::content::{installed_bundle_path, load_installed_bundle};
use certgate_credentials::device::Device;
use certgate_credentials::keystore::DeviceKey;
use certgate_credentials::metadata::{self, Enrolment};
use certgate_credentials::{Error, Issuer};
use certgate_policy::{LoadedPolicy, PublicKey, SecretKey, TrustMode};
use certgate_server::content::{BundleDoc, pack};
use certgate_server::regrade::BundleRegrader;
use certgate_server::state::{IssuerKeys, PolicyDoc};
use certgate_server::{AppState, Running};
use certgate_store::Database;
use certgate_training::bundle::{BundleFiles, MANIFEST, MANIFEST_SIG, manifest_text};
use chrono::Utc;
use ed25519_dalek::SigningKey;

/// An org of our own: a policy and bundles signed with a fresh org key.
struct Org {
    key: SecretKey,
    policy_text: String,
    policy_sig: String,
    policy: LoadedPolicy,
}

impl Org {
    fn new() -> Self {
        let key = SecretKey::generate().unwrap();
        let policy_text = certgate_policy::demo::POLICY.to_owned();
        let policy_sig = key.sign(policy_text.as_bytes());
        let policy = certgate_policy::load_signed_text(
            &policy_text,
            &policy_sig,
            "<test policy>",
            &key.public_key(),
        )
        .unwrap();
        Self {
            key,
            policy_text,
            policy_sig,
            policy,
        }
    }

    fn public(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The demo course at `version`, with one module line changed, signed by this org.
    fn files(&self, version: &str, module_note: &str) -> BundleFiles {
        let mut files = certgate_training::demo::files();
        let yaml = String::from_utf8(files["bundle.yaml"].clone()).unwrap();
        files.insert(
            "bundle.yaml".into(),
            yaml.replace("version: 1.0.0", &format!("version: {version}"))
                .into_bytes(),
        );
        let module = "modules/GOV-101-data-handling.md";
        let mut text = files[module].clone();
        text.extend_from_slice(format!("\n{module_note}\n").as_bytes());
        files.insert(module.into(), text);
        files.remove(MANIFEST);
        files.remove(MANIFEST_SIG);
        let manifest = manifest_text(&files);
        files.insert(
            MANIFEST_SIG.into(),
            self.key.sign(manifest.as_bytes()).into_bytes(),
        );
        files.insert(MANIFEST.into(), manifest.into_bytes());
        files
    }

    fn bundle(&self, version: &str, note: &str) -> BundleDoc {
        let pk = self.public();
        BundleDoc::new(
            &self.files(version, note),
            Path::new("<test bundle>"),
            &self.policy,
            TrustMode::Pinned(&pk),
        )
        .unwrap()
        .0
    }

    async fn serve(&self, bundle: BundleDoc, dir: &Path, n: u32) -> Running {
        let (_, regrader_bundle) = {
            let pk = self.public();
            BundleDoc::new(
                &self.files("1.0.0", "x"),
                Path::new("<test bundle>"),
                &self.policy,
                TrustMode::Pinned(&pk),
            )
            .unwrap()
        };
        let state = AppState::new(
            Database::open(&dir.join(format!("server-{n}.db"))).unwrap(),
            IssuerKeys {
                name: "https://certgate.test".into(),
                signing: certgate_credentials::Sensitive::new(SigningKey::from_bytes(&[42; 32])),
            },
            PolicyDoc {
                text: self.policy_text.clone(),
                signature: self.policy_sig.clone(),
                sha256: self.policy.sha256.clone(),
                policy: self.policy.policy.clone(),
                public_key_pem: self.public().to_pem().unwrap(),
            },
            "admin-token-0123456789abcdef0123456789",
            Box::new(BundleRegrader::new(regrader_bundle, &self.policy.policy)),
            Arc::new(Utc::now),
        )
        .unwrap()
        .with_bundle(Some(bundle));
        certgate_server::spawn(Arc::new(state), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap()
    }
}

/// A device pinned to `org`, talking to `url` (bundles and policy are public routes, so no
/// enrolment secret is needed here; the keyring-backed enrolment is covered by e2e.rs).
fn device(org: &Org, url: &str, data: &Path) -> Device {
    Device {
        enrolment: Enrolment {
            server_url: url.to_owned(),
            device_id: "d1".into(),
            user_id: "alice".into(),
            profile: Default::default(),
            issuer: Issuer {
                name: "https://certgate.test".into(),
                key: SigningKey::from_bytes(&[42; 32]).verifying_key(),
            },
            policy_key_pem: org.public().to_pem().unwrap(),
            enrolled_at: Utc::now(),
        },
        key: DeviceKey::generate().unwrap(),
        client: Client::new(url).unwrap(),
        data_dir: data.to_owned(),
    }
}

fn content_files(data: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.join("content"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_installs_signed_bundles_and_refuses_tampered_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("device-data");
    std::fs::create_dir_all(&data).unwrap();
    let org = Org::new();

    // v1 served; the device fetches the policy, then the bundle.
    let v1 = org
        .serve(org.bundle("1.0.0", "first edition"), tmp.path(), 1)
        .await;
    let url1 = format!("http://{}", v1.addr);
    let (org, data) = tokio::task::spawn_blocking(move || {
        let mut db = Database::open(&data.join("device.db")).unwrap();
        metadata::migrate(&mut db).unwrap();
        let dev = device(&org, &url1, &data);
        assert!(dev.fetch_policy(&db, Utc::now()).unwrap());
        assert_eq!(
            dev.fetch_bundle(&db, Utc::now()).unwrap().as_deref(),
            Some("1.0.0"),
            "first sync installs the served bundle"
        );
        assert_eq!(
            dev.fetch_bundle(&db, Utc::now()).unwrap(),
            None,
            "ETag: unchanged bundle is not downloaded again (304)"
        );
        let pk = org.public();
        let b = load_installed_bundle(&data, &pk, &org.policy)
            .unwrap()
            .unwrap();
        assert_eq!(b.version, "1.0.0");
        (org, data)
    })
    .await
    .unwrap();
    drop(v1);

    // The server now serves a bundle changed after signing: refused, v1 stays installed.
    let mut tampered_bytes = pack(&org.files("2.0.0", "second edition")).unwrap();
    let at = tampered_bytes
        .windows(14)
        .position(|w| w == b"second edition")
        .unwrap();
    tampered_bytes[at] = b'S';
    let tampered = BundleDoc::from_archive(tampered_bytes, "tampered", "2.0.0");
    let bad = org.serve(tampered, tmp.path(), 2).await;
    let url2 = format!("http://{}", bad.addr);
    let (org, data) = tokio::task::spawn_blocking(move || {
        let db = Database::open(&data.join("device.db")).unwrap();
        let before = std::fs::read(installed_bundle_path(&data)).unwrap();
        let dev = device(&org, &url2, &data);
        let err = dev.fetch_bundle(&db, Utc::now()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Bundle {
                    what: "signature check failed",
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("modules/GOV-101-data-handling.md was changed")
                && msg.contains("the installed course is unchanged"),
            "the error says what was refused and why: {msg}"
        );
        assert_eq!(
            std::fs::read(installed_bundle_path(&data)).unwrap(),
            before,
            "the old bundle is intact"
        );
        assert_eq!(
            content_files(&data),
            vec!["bundle.tar".to_owned()],
            "no temp file is left behind"
        );
        let pk = org.public();
        let b = load_installed_bundle(&data, &pk, &org.policy)
            .unwrap()
            .unwrap();
        assert_eq!(b.version, "1.0.0", "the training crate still loads v1");

        // A bundle signed by another key is refused the same way.
        let other = Org::new();
        let foreign = pack(&other.files("3.0.0", "foreign")).unwrap();
        let e = certgate_credentials::content::install_bundle(&data, &foreign, &pk, &org.policy)
            .unwrap_err();
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
        let e =
            certgate_credentials::content::install_bundle(&data, b"not a tar", &pk, &org.policy)
                .unwrap_err();
        assert!(matches!(e, Error::Bundle { .. }), "{e:?}");
        assert_eq!(std::fs::read(installed_bundle_path(&data)).unwrap(), before);
        (org, data)
    })
    .await
    .unwrap();
    drop(bad);

    // v2, properly signed: installed, and the training crate loads the new content.
    let v2 = org
        .serve(org.bundle("2.0.0", "second edition"), tmp.path(), 3)
        .await;
    let url3 = format!("http://{}", v2.addr);
    tokio::task::spawn_blocking(move || {
        let db = Database::open(&data.join("device.db")).unwrap();
        let dev = device(&org, &url3, &data);
        assert_eq!(
            dev.fetch_bundle(&db, Utc::now()).unwrap().as_deref(),
            Some("2.0.0")
        );
        let pk = org.public();
        let b = load_installed_bundle(&data, &pk, &org.policy)
            .unwrap()
            .unwrap();
        assert_eq!(b.version, "2.0.0");
        assert!(
            b.module("GOV-101-data-handling")
                .unwrap()
                .body
                .contains("second edition"),
            "the new module text is what the training crate reads"
        );
        assert_eq!(
            metadata::installed_bundle(&db).unwrap().unwrap().version,
            "2.0.0"
        );
        assert_eq!(content_files(&data), vec!["bundle.tar".to_owned()]);
    })
    .await
    .unwrap();
}
