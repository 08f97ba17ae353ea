//! What can fail when starting the proxy or reading its audit log. Request-time failures are
//! HTTP responses (see `reply.rs`), never these.

use std::net::SocketAddr;

/// A failure to start the proxy or to use its audit log. Messages never carry prompt text,
/// keys or values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address is not a loopback address.
    #[error("refusing to listen on {addr}: the proxy binds to loopback addresses only")]
    NotLoopback { addr: SocketAddr },
    /// Binding the listen socket failed.
    #[error("could not listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// No client key was configured: nobody could use the proxy.
    #[error("no client key configured")]
    NoClientKeys,
    /// An upstream base URL is not an http(s) URL.
    #[error("upstream for region {region} has an invalid base URL (expected http:// or https://)")]
    UpstreamUrl { region: String },
    /// The redaction engine failed to compile its detectors.
    #[error("redaction engine failed to start")]
    Redact(#[from] certgate_redact::Error),
    /// The HTTP client for upstream calls could not be built.
    #[error("upstream HTTP client could not be built")]
    Client(#[source] reqwest::Error),
    /// The audit database could not be opened or migrated.
    #[error("audit store failed")]
    Store(#[from] certgate_store::Error),
    /// An audit query failed.
    #[error("audit database query failed")]
    Sql(#[from] certgate_store::rusqlite::Error),
    /// The audit writer thread stopped (the database failed earlier; see the log).
    #[error("audit writer stopped")]
    AuditClosed,
    /// Writing an export failed.
    #[error("writing the audit export failed")]
    Io(#[from] std::io::Error),
    /// A stored audit record is not valid JSON.
    #[error("audit row {seq} is not a valid record")]
    Record { seq: i64 },
    /// The OS keyring could not give or keep the client key.
    #[error("the proxy client key could not be read or stored")]
    Keyring(#[from] certgate_credentials::Error),
    /// The OS random source failed.
    #[error("the OS random source failed")]
    Random,
    /// The async runtime could not be built.
    #[error("async runtime could not start")]
    Runtime(#[source] std::io::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
