//! Shared by the agent's integration tests: a stack with the demo policy in front of a mock
//! model, and a way to run blocking calls from async tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use certgate_agent::demo;
use certgate_agent::{DeviceFeed, LocalStack, StackOptions};
use certgate_proxy::mock::{MockHandle, MockOptions};
use certgate_proxy::{AuditLog, ClientKey, ProxyConfig, Sensitive};

/// The client key the test stacks accept.
pub const KEY: &str = "cg-test-0123456789abcdef";

/// A proxy on a free loopback port with the demo policy, its audit log `audit`, its gate fed by
/// `feed`, and the mock model as the upstream of every allowed region.
pub async fn start_stack_with(audit: AuditLog, feed: DeviceFeed) -> (LocalStack, MockHandle) {
    let mock = certgate_proxy::mock::start(([127, 0, 0, 1], 0).into(), MockOptions::default())
        .await
        .unwrap();
    let policy = Arc::new(certgate_policy::demo::load().unwrap());
    let options = StackOptions {
        config: ProxyConfig {
            listen: ([127, 0, 0, 1], 0).into(),
            upstreams: demo::mock_upstreams(&policy, &format!("http://{}", mock.addr)),
            ..ProxyConfig::default()
        },
        client_key: ClientKey {
            key: Sensitive::new(KEY.to_owned()),
            label: demo::LABEL.to_owned(),
        },
        refresh_every: Duration::from_secs(3600),
    };
    let stack = LocalStack::start(policy, feed, audit, options)
        .await
        .unwrap();
    (stack, mock)
}

/// The demo user certified by a token `org` minted in memory, on a simulated compliant device.
pub fn certified_feed(org: &certgate_agent::demo::DemoOrg) -> DeviceFeed {
    let policy = certgate_policy::demo::load().unwrap();
    let claim = org.mint_in_memory(&policy).unwrap();
    DeviceFeed {
        user: demo::user(),
        certifications: certgate_agent::Certifications::Verified(
            [(demo::TRACK.to_owned(), claim)].into(),
        ),
        facts: certgate_agent::Facts::Simulated,
    }
}

pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}
