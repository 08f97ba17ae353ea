//! The one error shape the UI sees. Each engine error is mapped by an explicit `match`, so a new
//! engine variant is a compile error here rather than a vague message on screen.

use serde::Serialize;
use ts_rs::TS;

/// What a command sends the UI when it fails: a stable `code` to branch on and a `message`
/// written for the user (it says what to do). Never carries secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

/// Stable, kebab-case error codes; the UI may switch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The policy or its signature could not be read or written.
    PolicyIo,
    /// The policy does not parse or validate; the message lists every problem.
    PolicyInvalid,
    /// The policy has no signature and the app is not in demo/dev mode.
    PolicyUnsigned,
    /// The signature is malformed or does not match the policy and the pinned key.
    PolicySignature,
    /// A key file is not in the expected format.
    PolicyKey,
    /// The training content could not be read.
    ContentIo,
    /// The training content does not validate or its signature does not verify.
    ContentInvalid,
    /// The local database failed or holds an unreadable record.
    Store,
    /// The module, track or question asked for does not exist.
    NotFound,
    /// No quiz attempt is in progress.
    NoAttempt,
    /// The answer does not fit the question, or the question was already answered.
    InvalidAnswer,
    /// No attempt may start now (locked, or cooling down); the message says what to do.
    AttemptBlocked,
    /// The acknowledgement needs a typed full name.
    NameRequired,
    /// Copilot access (the local proxy, the sync with the org) could not start or run.
    Access,
    /// A setting is managed by the organisation, or could not be saved.
    Settings,
    /// Enrolment with an org server failed or was refused (managed configuration, code).
    Enrolment,
    /// Something in the app itself broke (random source, rule engine start-up).
    Internal,
}

impl From<certgate_policy::Error> for CommandError {
    fn from(err: certgate_policy::Error) -> Self {
        Self {
            code: policy_code(&err),
            message: err.to_string(),
        }
    }
}

fn policy_code(err: &certgate_policy::Error) -> ErrorCode {
    use certgate_policy::Error as E;
    match err {
        E::Read { .. } | E::Write { .. } => ErrorCode::PolicyIo,
        E::Invalid(_) => ErrorCode::PolicyInvalid,
        E::Unsigned { .. } => ErrorCode::PolicyUnsigned,
        E::BadSignature { .. } | E::SignatureFormat { .. } => ErrorCode::PolicySignature,
        E::KeyFormat { .. } => ErrorCode::PolicyKey,
        E::Random(_) | E::Engine(_) => ErrorCode::Internal,
    }
}

impl From<certgate_training::Error> for CommandError {
    fn from(err: certgate_training::Error) -> Self {
        use certgate_training::Error as E;
        let code = match &err {
            E::Policy(inner) => policy_code(inner),
            E::Read { .. } | E::Write { .. } => ErrorCode::ContentIo,
            E::Invalid(_)
            | E::Unsigned { .. }
            | E::Signature(_)
            | E::Tampered { .. }
            | E::ManifestFormat { .. } => ErrorCode::ContentInvalid,
            E::Store(_) | E::Corrupt(_) => ErrorCode::Store,
            E::UnknownTrack(_) => ErrorCode::NotFound,
            E::Grade(_) => ErrorCode::InvalidAnswer,
            E::Blocked(_) => ErrorCode::AttemptBlocked,
            E::NameRequired => ErrorCode::NameRequired,
            E::Random(_) => ErrorCode::Internal,
        };
        Self {
            code,
            message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The UI (ui/src/lib/ipc.ts) depends on exactly this shape; changing it is a breaking change.
    #[test]
    fn json_shape_is_pinned() {
        let err = CommandError {
            code: ErrorCode::PolicyUnsigned,
            message: "policy.yaml is not signed".into(),
        };
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            serde_json::json!({ "code": "policy-unsigned", "message": "policy.yaml is not signed" }),
        );
    }

    #[test]
    fn every_code_serialises_to_kebab_case() {
        let codes = [
            (ErrorCode::PolicyIo, "policy-io"),
            (ErrorCode::PolicyInvalid, "policy-invalid"),
            (ErrorCode::PolicyUnsigned, "policy-unsigned"),
            (ErrorCode::PolicySignature, "policy-signature"),
            (ErrorCode::PolicyKey, "policy-key"),
            (ErrorCode::ContentIo, "content-io"),
            (ErrorCode::ContentInvalid, "content-invalid"),
            (ErrorCode::Store, "store"),
            (ErrorCode::NotFound, "not-found"),
            (ErrorCode::NoAttempt, "no-attempt"),
            (ErrorCode::InvalidAnswer, "invalid-answer"),
            (ErrorCode::AttemptBlocked, "attempt-blocked"),
            (ErrorCode::NameRequired, "name-required"),
            (ErrorCode::Access, "access"),
            (ErrorCode::Settings, "settings"),
            (ErrorCode::Internal, "internal"),
        ];
        for (code, wire) in codes {
            assert_eq!(serde_json::to_value(code).unwrap(), wire, "{code:?}");
        }
    }

    #[test]
    fn engine_errors_map_to_their_codes_and_keep_the_advice() {
        let unsigned = CommandError::from(certgate_policy::Error::Unsigned {
            path: PathBuf::from("org.yaml"),
            sig: PathBuf::from("org.yaml.sig"),
        });
        assert_eq!(unsigned.code, ErrorCode::PolicyUnsigned);
        assert!(
            unsigned.message.contains("certgate policy sign"),
            "the message must keep the engine's fix: {}",
            unsigned.message
        );

        let altered = CommandError::from(certgate_policy::Error::BadSignature {
            path: PathBuf::from("org.yaml.sig"),
            key_id: "demo".into(),
        });
        assert_eq!(altered.code, ErrorCode::PolicySignature);

        let engine = CommandError::from(certgate_policy::Error::Engine("boom".into()));
        assert_eq!(engine.code, ErrorCode::Internal);
    }

    #[test]
    fn training_errors_map_to_their_codes() {
        use certgate_training::Error as E;
        assert_eq!(
            CommandError::from(E::NameRequired).code,
            ErrorCode::NameRequired
        );
        assert_eq!(
            CommandError::from(E::UnknownTrack("X".into())).code,
            ErrorCode::NotFound
        );
        let locked = CommandError::from(E::Blocked(certgate_training::status::Blocked::Locked {
            attempts: 3,
        }));
        assert_eq!(locked.code, ErrorCode::AttemptBlocked);
        assert!(
            locked.message.contains("exception"),
            "the engine's way out is kept: {}",
            locked.message
        );
        let wrapped = CommandError::from(E::Policy(certgate_policy::Error::Engine("x".into())));
        assert_eq!(
            wrapped.code,
            ErrorCode::Internal,
            "policy errors keep the policy mapping"
        );
    }
}
