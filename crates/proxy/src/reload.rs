//! Policy hot reload: the running proxy polls its policy file and the signature beside it
//! (`<file>.sig`) and applies a new version only when it verifies and validates. Polling (a
//! SHA-256 of both files each tick) rather than a file-system watcher: no extra dependency,
//! works the same on every OS and on network folders, and catches an editor's
//! write-then-rename. A refused version is logged with its file, line and field, kept in the
//! status, and sent as an event; the previous policy stays in force.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use certgate_policy::{PublicKey, TrustMode};
use chrono::Utc;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::active::{PolicySlot, Problem, Refusal};
use crate::server::Event;

/// Whose signature a policy file must carry.
#[derive(Debug, Clone)]
pub enum Signer {
    /// The org's pinned key.
    Org(PublicKey),
    /// The published demo key (demo mode only).
    Demo,
}

/// A signed policy file to follow.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub path: PathBuf,
    pub signer: Signer,
}

/// How often the files are checked by [`watch_file`] in production.
pub const POLL: Duration = Duration::from_secs(1);

/// SHA-256 over the policy and its signature (absent files count as empty), or `None` when the
/// policy cannot be read at all.
fn fingerprint(path: &Path) -> Option<[u8; 32]> {
    let text = std::fs::read(path).ok()?;
    let sig = std::fs::read(certgate_policy::signing::signature_path(path)).unwrap_or_default();
    let mut h = Sha256::new();
    h.update((text.len() as u64).to_le_bytes());
    h.update(&text);
    h.update(&sig);
    Some(h.finalize().into())
}

/// What one check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Applied { sha256: String },
    Refused,
}

/// Checks once: when the files changed since `seen`, loads and verifies them and applies or
/// refuses the result.
pub fn check(
    slot: &PolicySlot,
    file: &PolicyFile,
    seen: &mut Option<[u8; 32]>,
    events: &broadcast::Sender<Event>,
) -> Outcome {
    let now = fingerprint(&file.path);
    if now == *seen {
        return Outcome::Unchanged;
    }
    *seen = now;
    let shown = file.path.display().to_string();
    let loaded = match &file.signer {
        Signer::Org(key) => certgate_policy::load(&file.path, TrustMode::Pinned(key)),
        Signer::Demo => certgate_policy::load(&file.path, TrustMode::Demo),
    };
    let refused = |problems: Vec<Problem>| {
        for p in &problems {
            tracing::error!(
                file = %p.file,
                line = p.line,
                field = p.field.as_deref().unwrap_or(""),
                problem = %p.message,
                "new policy refused; the previous policy stays in force"
            );
        }
        slot.refuse(Refusal {
            at: Utc::now(),
            file: shown.clone(),
            problems: problems.clone(),
        });
        let _ = events.send(Event::PolicyRefused {
            file: shown.clone(),
            problems,
        });
        Outcome::Refused
    };
    match loaded {
        Ok(p) if p.sha256 == slot.current().policy.sha256 => Outcome::Unchanged,
        Ok(p) => {
            let sha256 = p.sha256.clone();
            match slot.replace(Arc::new(p)) {
                Ok(()) => {
                    tracing::info!(file = %shown, %sha256, "new signed policy applied");
                    let _ = events.send(Event::PolicyApplied {
                        file: shown.clone(),
                        sha256: sha256.clone(),
                    });
                    Outcome::Applied { sha256 }
                }
                Err(e) => refused(vec![Problem {
                    file: shown.clone(),
                    line: None,
                    column: None,
                    field: Some("modelAndDataControls.dlp".to_owned()),
                    message: e.to_string(),
                }]),
            }
        }
        Err(e) => refused(Problem::from_error(&e, &shown)),
    }
}

/// Follows `file` every `every` until the task is aborted. The first check loads the file
/// once: a version equal to the one in force changes nothing, one written since start applies.
pub fn watch_file(
    slot: PolicySlot,
    file: PolicyFile,
    every: Duration,
    events: broadcast::Sender<Event>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen = None;
        loop {
            tokio::time::sleep(every).await;
            let (s, f, e) = (slot.clone(), file.clone(), events.clone());
            let Ok((next, _)) = tokio::task::spawn_blocking(move || {
                let mut seen = seen;
                let o = check(&s, &f, &mut seen, &e);
                (seen, o)
            })
            .await
            else {
                continue;
            };
            seen = next;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_policy::SecretKey;

    const DEMO: &str = certgate_policy::demo::POLICY;

    struct Org {
        dir: tempfile::TempDir,
        key: SecretKey,
    }

    impl Org {
        fn new() -> Self {
            Self {
                dir: tempfile::tempdir().unwrap(),
                key: SecretKey::generate().unwrap(),
            }
        }
        fn path(&self) -> PathBuf {
            self.dir.path().join("policy.yaml")
        }
        /// Writes `text` and a signature over `signed` (the same text for a valid pair).
        fn write(&self, text: &str, signed: &str) {
            std::fs::write(self.path(), text).unwrap();
            let sig = self.key.sign(signed.as_bytes());
            std::fs::write(certgate_policy::signing::signature_path(&self.path()), sig).unwrap();
        }
        fn file(&self) -> PolicyFile {
            PolicyFile {
                path: self.path(),
                signer: Signer::Org(self.key.public_key()),
            }
        }
    }

    #[test]
    fn applies_a_valid_signed_change_and_refuses_bad_ones_keeping_the_old() {
        let org = Org::new();
        org.write(DEMO, DEMO);
        let first =
            certgate_policy::load(&org.path(), TrustMode::Pinned(&org.key.public_key())).unwrap();
        let slot = PolicySlot::new(Arc::new(first)).unwrap();
        let (events, mut rx) = broadcast::channel(8);
        let mut seen = fingerprint(&org.path());
        assert_eq!(
            check(&slot, &org.file(), &mut seen, &events),
            Outcome::Unchanged
        );

        // A valid signed change is applied.
        let v2 = DEMO.replace("recertifyDays: 180", "recertifyDays: 120");
        org.write(&v2, &v2);
        let Outcome::Applied { sha256 } = check(&slot, &org.file(), &mut seen, &events) else {
            panic!("a valid signed policy must be applied");
        };
        assert_eq!(slot.current().policy.sha256, sha256);
        assert_eq!(slot.status().reloads, 1);
        assert!(matches!(
            rx.try_recv().unwrap(),
            Event::PolicyApplied { .. }
        ));

        // Signed, but invalid: refused with file, line and field; v2 stays.
        let bad = v2.replace("minScorePct: 85", "minScorePct: 185");
        org.write(&bad, &bad);
        assert_eq!(
            check(&slot, &org.file(), &mut seen, &events),
            Outcome::Refused
        );
        assert_eq!(
            slot.current().policy.sha256,
            sha256,
            "the old policy stays in force"
        );
        let refusal = slot.status().last_refusal.expect("the refusal is exposed");
        let p = &refusal.problems[0];
        assert!(p.file.ends_with("policy.yaml"), "{p:?}");
        assert_eq!(p.line, Some(36), "minScorePct's line: {p:?}");
        assert!(
            p.field.as_deref().unwrap().ends_with("quiz.minScorePct"),
            "{p:?}"
        );
        assert!(matches!(
            rx.try_recv().unwrap(),
            Event::PolicyRefused { .. }
        ));

        // Valid content, signature over something else: refused; v2 stays.
        let v3 = DEMO.replace("recertifyDays: 180", "recertifyDays: 60");
        org.write(&v3, &v2);
        assert_eq!(
            check(&slot, &org.file(), &mut seen, &events),
            Outcome::Refused
        );
        assert_eq!(slot.current().policy.sha256, sha256);
        let p = slot.status().last_refusal.unwrap().problems[0].clone();
        assert_eq!(p.field.as_deref(), Some("signature"), "{p:?}");
        assert!(p.file.ends_with("policy.yaml.sig"), "{p:?}");

        // The same text signed by the demo key, while the org key is pinned: refused.
        org.write(DEMO, DEMO);
        std::fs::write(
            certgate_policy::signing::signature_path(&org.path()),
            certgate_policy::demo::SIGNATURE,
        )
        .unwrap();
        assert_eq!(
            check(&slot, &org.file(), &mut seen, &events),
            Outcome::Refused
        );

        // Fixed: applied, the refusal cleared.
        org.write(&v3, &v3);
        assert!(matches!(
            check(&slot, &org.file(), &mut seen, &events),
            Outcome::Applied { .. }
        ));
        assert!(slot.status().last_refusal.is_none());
        assert_eq!(slot.status().reloads, 2);
    }

    #[tokio::test]
    async fn the_watcher_picks_up_a_change_by_itself() {
        let org = Org::new();
        org.write(DEMO, DEMO);
        let first =
            certgate_policy::load(&org.path(), TrustMode::Pinned(&org.key.public_key())).unwrap();
        let slot = PolicySlot::new(Arc::new(first)).unwrap();
        let (events, mut rx) = broadcast::channel(8);
        let task = watch_file(slot.clone(), org.file(), Duration::from_millis(20), events);
        let v2 = DEMO.replace("recertifyDays: 180", "recertifyDays: 120");
        org.write(&v2, &v2);
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the watcher applies the change")
            .unwrap();
        assert!(matches!(ev, Event::PolicyApplied { .. }), "{ev:?}");
        assert_eq!(
            slot.current().policy.sha256,
            certgate_policy::signing::sha256_hex(v2.as_bytes())
        );
        task.abort();
    }
}
