//! The local client key AI tools present to the proxy: random, made on first use, kept only in
//! the OS keyring (entry [`ENTRY`] of the Certgate keyring namespace), never written to disk.
//! A running proxy re-reads the entry every [`POLL`], so a rotation shuts the old key out
//! within that time, without a restart.

use std::time::Duration;

use certgate_credentials::Keystore;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::config::{ClientKey, Sensitive};
use crate::error::{Error, Result};

/// Keyring entry name of the client key.
pub const ENTRY: &str = "proxy-client-key";

/// How often a running proxy re-reads the keyring entry.
pub const POLL: Duration = Duration::from_secs(1);

/// A fresh key: `cgk_` and 32 random bytes in hex.
pub fn generate() -> Result<Sensitive> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|_| Error::Random)?;
    Ok(Sensitive::new(format!("cgk_{}", hex::encode(b))))
}

/// A short non-secret name for a key (first 12 hex of its SHA-256), to tell keys apart in
/// logs and output without showing them.
pub fn fingerprint(key: &Sensitive) -> String {
    let digest = Sha256::digest(key.expose().as_bytes());
    hex::encode(&digest[..6])
}

/// The key in the keyring, made and stored first when there is none. `true` when it was made now.
pub fn load_or_create(keys: &Keystore) -> Result<(Sensitive, bool)> {
    if let Some(k) = keys.get(ENTRY)? {
        return Ok((k, false));
    }
    let k = generate()?;
    keys.set(ENTRY, &k)?;
    Ok((k, true))
}

/// Replaces the key; the old one stops working at once for a new proxy, and within [`POLL`]
/// for a running one.
pub fn rotate(keys: &Keystore) -> Result<Sensitive> {
    let k = generate()?;
    keys.set(ENTRY, &k)?;
    Ok(k)
}

/// The client keys a proxy accepts, given what the keyring holds now: the key with `label`, or
/// none at all (every request refused) when the entry was deleted.
fn accepted(key: Option<Sensitive>, label: &str) -> Vec<ClientKey> {
    key.map(|key| ClientKey {
        key,
        label: label.to_owned(),
    })
    .into_iter()
    .collect()
}

/// Re-reads the keyring every `every` and sends the proxy the new key when it changed. A read
/// that fails keeps the key in force (the keyring being briefly busy is not a rotation).
pub fn follow(
    keys: Keystore,
    label: String,
    tx: watch::Sender<Vec<ClientKey>>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let k = keys.clone();
            let read = tokio::task::spawn_blocking(move || k.get(ENTRY)).await;
            let now = match read {
                Ok(Ok(now)) => now,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "could not re-read the proxy key; keeping the current one");
                    continue;
                }
                Err(_) => continue,
            };
            let next = accepted(now, &label);
            tx.send_if_modified(|cur| {
                if *cur == next {
                    return false;
                }
                match next.first() {
                    Some(k) => tracing::info!(
                        fingerprint = %fingerprint(&k.key),
                        "proxy key rotated; the old key is refused from now on"
                    ),
                    None => tracing::warn!(
                        "proxy key deleted from the keyring; every request is refused"
                    ),
                }
                *cur = next;
                true
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_long_and_fingerprints_do_not_show_them() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 4 + 64);
        let f = fingerprint(&a);
        assert_eq!(f.len(), 12);
        assert!(
            !a.expose().contains(&f),
            "a fingerprint is not a piece of the key"
        );
        assert_eq!(format!("{a:?}"), "<redacted>");
    }

    #[test]
    fn a_deleted_entry_accepts_no_key() {
        assert!(accepted(None, "developer-sdk").is_empty());
        let k = accepted(Some(Sensitive::new("x".repeat(20))), "developer-sdk");
        assert_eq!(k[0].label, "developer-sdk");
    }

    /// A running proxy on loopback whose key follows the keyring, and an HTTP status probe.
    async fn proxy_following(
        ks: &Keystore,
        key: Sensitive,
        dir: &std::path::Path,
    ) -> (crate::ProxyHandle, tokio::task::JoinHandle<()>) {
        let (tx, keys) = watch::channel(accepted(Some(key), "developer-sdk"));
        let follower = follow(
            ks.clone(),
            "developer-sdk".into(),
            tx,
            Duration::from_millis(50),
        );
        let db = certgate_store::Database::open(&dir.join("certgate.db")).unwrap();
        let deps = crate::Deps {
            policy: crate::PolicySlot::new(std::sync::Arc::new(
                certgate_policy::demo::load().unwrap(),
            ))
            .unwrap(),
            snapshot: watch::channel(crate::GateSnapshot::default()).1,
            keys,
            audit: crate::AuditLog::open(db, 365).unwrap(),
            events: tokio::sync::broadcast::channel(4).0,
        };
        let config = crate::ProxyConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..crate::ProxyConfig::default()
        };
        (crate::start(config, deps).await.unwrap(), follower)
    }

    async fn status_code(addr: std::net::SocketAddr, key: &Sensitive) -> u16 {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("http://{addr}/certgate/v1/status"))
            .bearer_auth(key.expose())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Needs an OS keyring: skipped with a notice unless `CERTGATE_REQUIRE_KEYRING=1`.
    #[tokio::test]
    async fn rotation_in_the_keyring_shuts_the_old_key_out_of_a_running_proxy() {
        let service = format!("certgate-test-proxy-key-{}", std::process::id());
        let Some(ks) = crate::test_keyring(&service) else {
            return;
        };
        let (first, created) = load_or_create(&ks).unwrap();
        assert!(created, "a new namespace has no key yet");
        let (again, created) = load_or_create(&ks).unwrap();
        assert!(!created && again == first, "the stored key is reused");
        let dir = tempfile::tempdir().unwrap();
        let (proxy, follower) = proxy_following(&ks, first.clone(), dir.path()).await;
        let addr = proxy.local_addr();
        assert_eq!(status_code(addr, &first).await, 200);

        let second = rotate(&ks).unwrap();
        assert_ne!(second, first);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while status_code(addr, &first).await != 401 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the old key still works after a rotation"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(status_code(addr, &second).await, 200, "the new key works");

        ks.delete(ENTRY).unwrap();
        while status_code(addr, &second).await != 401 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "a deleted key must admit nobody"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        follower.abort();
        proxy.stop().await;
    }
}
