//! Figures for issue 5, printed (not a criterion run):
//! - token verify (target ≤ 100 µs),
//! - statement posts/s against a loopback server with file-backed SQLite (target ≥ 500/s),
//! - passed attempt → token verified on the device (target ≤ 2 s p95; the keyring write is
//!   included when a keyring is reachable).
//!
//! Run: `cargo bench -p certgate-server --bench server`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use certgate_credentials::client::Client;
use certgate_credentials::jws;
use certgate_credentials::{
    CertificationClaims, Confirmation, Keystore, RevocationList, Sensitive,
};
use certgate_server::AppState;
use certgate_server::regrade::ATTEMPT_EXTENSION;
use certgate_server::state::{IssuerKeys, demo_policy};
use certgate_store::Database;
use chrono::Utc;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

const ADMIN: &str = "bench-admin-token-0123456789abcdef0123456789";
const TRACK: &str = "AI_CONSUMER_EXTERNAL";

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn token_verify() {
    let issuer_key = SigningKey::from_bytes(&[7; 32]);
    let device = SigningKey::from_bytes(&[8; 32]);
    let issuer = certgate_credentials::Issuer {
        name: "https://certgate.bench".into(),
        key: issuer_key.verifying_key(),
    };
    let now = Utc::now();
    let claims = CertificationClaims {
        iss: issuer.name.clone(),
        sub: "contractor-00042@vendor.example".into(),
        track: TRACK.into(),
        status: "passed".into(),
        score: 91.67,
        modules: vec![
            "GOV-101-data-handling".into(),
            "GOV-102-citations-and-review".into(),
            "GOV-103-incident-escalation".into(),
        ],
        policy_version: "0".repeat(64),
        iat: now.timestamp(),
        exp: now.timestamp() + 180 * 86_400,
        jti: jws::random_id(16).unwrap(),
        cnf: Confirmation {
            jkt: jws::jwk_thumbprint(&device.verifying_key()),
        },
    };
    let token = claims.sign(&issuer_key).unwrap();
    let revoked = RevocationList::default();
    let dk = device.verifying_key();
    for _ in 0..200 {
        issuer
            .verify_certification(&token, &dk, &revoked, now)
            .unwrap();
    }
    let n = 20_000;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(
            issuer
                .verify_certification(&token, &dk, &revoked, now)
                .unwrap(),
        );
        samples.push(t.elapsed());
    }
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / n as u32;
    println!(
        "token verify ({} bytes): mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs over {n} (target ≤ 100 µs)",
        token.len(),
        mean.as_secs_f64() * 1e6,
        pct(&samples, 0.5).as_secs_f64() * 1e6,
        pct(&samples, 0.99).as_secs_f64() * 1e6
    );
}

fn enrol(url: &str, admin: &Client, user: &str, seed: u8) -> (Client, SigningKey) {
    let code: Value = admin
        .send("code", &|| {
            admin.post("/v1/admin/enrolment-codes").json(&json!({
                "userId": user, "userType": "contractor", "vendorOrg": "Bench", "region": "EU"}))
        })
        .unwrap()
        .json()
        .unwrap();
    let key = SigningKey::from_bytes(&[seed; 32]);
    let c = Client::new(url).unwrap();
    let e: Value = c
        .send("enrol", &|| {
            c.post("/v1/enroll").json(&json!({"code": code["code"],
                "publicKey": jws::encode_public_key(&key.verifying_key())}))
        })
        .unwrap()
        .json()
        .unwrap();
    let client = Client::new(url).unwrap().with_device(
        e["deviceId"].as_str().unwrap(),
        &Sensitive::new(e["deviceSecret"].as_str().unwrap().to_owned()),
    );
    (client, key)
}

fn main() {
    token_verify();

    let dir = tempfile::tempdir().unwrap();
    let (policy, regrader) = demo_policy().unwrap();
    let state = Arc::new(
        AppState::new(
            Database::open(&dir.path().join("server.db")).unwrap(),
            IssuerKeys {
                name: "https://certgate.bench".into(),
                signing: Sensitive::new(SigningKey::from_bytes(&[42; 32])),
            },
            policy,
            ADMIN,
            Box::new(regrader),
            Arc::new(Utc::now),
        )
        .unwrap(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let running = rt
        .block_on(certgate_server::spawn(
            state,
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    let url = format!("http://{}", running.addr);
    let admin = Client::new(&url)
        .unwrap()
        .with_admin(&Sensitive::new(ADMIN.into()));

    // Statement posts/s: 4 client threads, each its own enrolled device, bounded count.
    let threads = 4;
    let per_thread = 750;
    let devices: Vec<Client> = (0..threads)
        .map(|i| enrol(&url, &admin, &format!("load-{i}"), 100 + i as u8).0)
        .collect();
    let start = Instant::now();
    let handles: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(t, c)| {
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let st = json!({
                        "id": format!("00000000-0000-4000-8000-{t:04}{i:08}"),
                        "verb": {"id": "http://adlnet.gov/expapi/verbs/progressed"},
                        "object": {"id": "https://certgate.dev/xapi/modules/GOV-101-data-handling"},
                        "result": {"completion": false, "extensions": {"https://certgate.dev/xapi/extensions/progress": {"section": i}}},
                        "timestamp": "2026-06-01T09:00:00.000Z"
                    });
                    c.send("statement", &|| c.post("/v1/statements").json(&st)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let elapsed = start.elapsed();
    let total = threads * per_thread;
    println!(
        "statement posts: {total} in {:.2} s = {:.0}/s ({threads} client threads, loopback, SQLite WAL synchronous=FULL) (target ≥ 500/s)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );

    // Passed attempt → token verified on the device (and stored in the keyring if present).
    let keyring = Keystore::new("certgate-bench")
        .and_then(|k| k.probe().map(|()| k))
        .ok();
    let issuer = certgate_credentials::Issuer {
        name: "https://certgate.bench".into(),
        key: SigningKey::from_bytes(&[42; 32]).verifying_key(),
    };
    let loaded = certgate_policy::demo::load().unwrap();
    let bundle = certgate_training::demo::bundle(&loaded).unwrap();
    let content = bundle.track(TRACK).unwrap();
    let mut samples = Vec::new();
    for u in 0..60u8 {
        let (client, key) = enrol(&url, &admin, &format!("pass-{u}"), u);
        let seed = u64::from(u) + 1000;
        let plan = certgate_training::plan_attempt(&content.bank, content.draw_count, seed);
        let responses = certgate_training::quiz::correct_responses(&content.bank, &plan);
        let st = json!({"id": format!("pass-{u}"), "result": {"success": true, "extensions": {
            ATTEMPT_EXTENSION: {"track": TRACK, "attemptId": format!("a-{u}"), "seed": seed.to_string(), "responses": responses}}}});
        let t = Instant::now();
        client
            .send("statement", &|| client.post("/v1/statements").json(&st))
            .unwrap();
        let tokens: Value = client
            .send("tokens", &|| client.get("/v1/tokens"))
            .unwrap()
            .json()
            .unwrap();
        let token = tokens["tokens"][0].as_str().unwrap();
        issuer
            .verify_certification(
                token,
                &key.verifying_key(),
                &RevocationList::default(),
                Utc::now(),
            )
            .unwrap();
        if let Some(k) = &keyring {
            k.store_token(TRACK, &Sensitive::new(token.to_owned()))
                .unwrap();
        }
        samples.push(t.elapsed());
    }
    if let Some(k) = &keyring {
        k.delete_token(TRACK).unwrap();
    }
    samples.sort();
    println!(
        "passed attempt → token cached: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms over {} attempts (keyring write {}) (target ≤ 2 s p95)",
        pct(&samples, 0.5).as_secs_f64() * 1e3,
        pct(&samples, 0.95).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
        samples.len(),
        if keyring.is_some() {
            "included"
        } else {
            "skipped: no keyring"
        }
    );
    drop(running);
    println!("command: cargo bench -p certgate-server --bench server");
}
