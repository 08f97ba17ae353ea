//! Server errors, and how each becomes an HTTP answer. Clients get a short code and a message
//! in words; internals (SQL, I/O) are logged, not sent.

use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use certgate_credentials::wire::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("server config {path}: {reason}")]
    Config { path: PathBuf, reason: String },
    /// The updates folder's `release.toml` (or an artifact it names) is wrong.
    #[error("update release {path}{}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Release {
        path: PathBuf,
        line: Option<usize>,
        reason: String,
    },
    #[error("issuer key {path} is not an Ed25519 PKCS#8 PEM private key")]
    IssuerKey { path: PathBuf },
    #[error(transparent)]
    Policy(#[from] certgate_policy::Error),
    #[error(transparent)]
    Training(#[from] certgate_training::Error),
    #[error(transparent)]
    Store(#[from] certgate_store::Error),
    #[error("database error: {0}")]
    Sql(#[from] certgate_store::rusqlite::Error),
    #[error(transparent)]
    Credentials(#[from] certgate_credentials::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot pack the content bundle ({file}): {source}")]
    Pack {
        file: String,
        #[source]
        source: std::io::Error,
    },

    // Answers to clients.
    /// Missing or wrong admin or device credentials.
    #[error("not authorised: {0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// Same statement id with other content, a lease held by another device, a used code…
    #[error("{0}")]
    Conflict(String),
    /// The request is understood and refused by policy (attempts exhausted, exception rules).
    #[error("{0}")]
    Refused(String),
    /// The server cannot re-grade (no bundle for the track): never trust the device instead.
    #[error("cannot re-grade: {0}")]
    Regrade(String),
    /// The device's claimed result disagrees with the server's re-grade.
    #[error("{0}")]
    ScoreMismatch(String),
    #[error("posture attestation refused: {0}")]
    Attestation(#[from] certgate_posture::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Refused(_) => (StatusCode::FORBIDDEN, "refused"),
            Self::ScoreMismatch(_) => (StatusCode::UNPROCESSABLE_ENTITY, "score_mismatch"),
            Self::Regrade(_) => (StatusCode::UNPROCESSABLE_ENTITY, "cannot_regrade"),
            Self::Attestation(_) => (StatusCode::FORBIDDEN, "attestation_refused"),
            Self::Credentials(certgate_credentials::Error::Malformed { .. }) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "request failed");
            "internal error; see the server log".to_owned()
        } else {
            self.to_string()
        };
        (
            status,
            Json(ErrorBody {
                error: code.to_owned(),
                message,
            }),
        )
            .into_response()
    }
}
