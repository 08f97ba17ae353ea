//! HTTP to the org server, with retries: exponential backoff with full jitter, `Retry-After`
//! honoured, transport errors and 5xx/429 retried, other refusals returned at once.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{RequestBuilder, Response};

use crate::error::{Error, Result};
use crate::sensitive::Sensitive;
use crate::wire::{DEVICE_AUTH_SCHEME, ErrorBody};

/// How hard to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Full-jitter backoff for retry `n` (0-based): uniform in [0, min(max, base·2ⁿ)].
    pub fn delay(&self, n: u32, jitter: f64) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX))
            .min(self.max_delay);
        cap.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// A client for one server, optionally authenticated as an enrolled device.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::blocking::Client,
    base: String,
    auth: Option<Sensitive<String>>,
    retry: RetryPolicy,
}

/// Installs the pure-Rust TLS provider once (reqwest is built without one of its own).
pub fn install_tls_provider() {
    // Err means another part of the process already installed one: fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    pub fn new(base: &str) -> Result<Self> {
        install_tls_provider();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("certgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Unreachable {
                url: base.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            auth: None,
            retry: RetryPolicy::default(),
        })
    }

    /// Authenticates later requests as device `device_id` with its secret.
    #[must_use]
    pub fn with_device(mut self, device_id: &str, secret: &Sensitive<String>) -> Self {
        self.auth = Some(Sensitive::new(format!(
            "{DEVICE_AUTH_SCHEME} {device_id}.{}",
            secret.expose()
        )));
        self
    }

    /// Authenticates later requests as an admin with the server config's bearer token.
    #[must_use]
    pub fn with_admin(mut self, token: &Sensitive<String>) -> Self {
        self.auth = Some(Sensitive::new(format!("Bearer {}", token.expose().trim())));
        self
    }

    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.authed(self.http.get(self.url(path)))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.authed(self.http.post(self.url(path)))
    }

    fn authed(&self, rb: RequestBuilder) -> RequestBuilder {
        match &self.auth {
            Some(a) => rb.header(reqwest::header::AUTHORIZATION, a.expose()),
            None => rb,
        }
    }

    /// Sends with retries; returns the first answer that is not retryable. `what` names the
    /// request in errors. 2xx and 304 are returned; other statuses become [`Error::Server`].
    pub fn send(&self, what: &'static str, make: &dyn Fn() -> RequestBuilder) -> Result<Response> {
        let mut attempt = 0;
        loop {
            let outcome = make().send();
            let retry_after = match &outcome {
                Ok(r)
                    if r.status() == StatusCode::TOO_MANY_REQUESTS
                        || r.status().is_server_error() =>
                {
                    retry_after(r)
                }
                Ok(_) => None,
                Err(_) => None,
            };
            let retryable = match &outcome {
                Ok(r) => {
                    r.status() == StatusCode::TOO_MANY_REQUESTS || r.status().is_server_error()
                }
                Err(e) => !e.is_builder(),
            };
            attempt += 1;
            if !retryable || attempt >= self.retry.max_attempts {
                return finish(what, &self.base, outcome);
            }
            let delay = retry_after
                .unwrap_or_else(|| self.retry.delay(attempt - 1, jitter()))
                .min(self.retry.max_delay);
            tracing::debug!(what, attempt, ?delay, "retrying request to the org server");
            std::thread::sleep(delay);
        }
    }
}

fn finish(what: &'static str, base: &str, outcome: reqwest::Result<Response>) -> Result<Response> {
    let r = outcome.map_err(|e| Error::Unreachable {
        url: base.to_owned(),
        reason: e.without_url().to_string(),
    })?;
    let status = r.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        return Ok(r);
    }
    let message = r
        .json::<ErrorBody>()
        .map(|b| b.message)
        .unwrap_or_else(|_| status.canonical_reason().unwrap_or("error").to_owned());
    Err(Error::Server {
        what,
        status: status.as_u16(),
        message,
    })
}

/// `Retry-After` in seconds, or Okta's `X-Rate-Limit-Reset` (epoch seconds).
fn retry_after(r: &Response) -> Option<Duration> {
    let h = r.headers();
    if let Some(secs) = h
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_secs(secs));
    }
    let reset = h
        .get("x-rate-limit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())?;
    let wait = reset - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(wait.max(0).unsigned_abs()))
}

/// A number in [0, 1) from the OS random source (0.5 if it fails: still a valid delay).
pub fn jitter() -> f64 {
    let mut b = [0u8; 4];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        };
        assert_eq!(p.delay(0, 1.0), Duration::from_millis(100));
        assert_eq!(p.delay(3, 1.0), Duration::from_millis(800));
        assert_eq!(
            p.delay(30, 1.0),
            Duration::from_secs(2),
            "capped at max_delay"
        );
        assert_eq!(p.delay(3, 0.0), Duration::ZERO, "full jitter reaches zero");
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }
}
