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
    /// Something in the app itself broke (random source, rule engine start-up).
    Internal,
}

impl From<certgate_policy::Error> for CommandError {
    fn from(err: certgate_policy::Error) -> Self {
        use certgate_policy::Error as E;
        let code = match &err {
            E::Read { .. } | E::Write { .. } => ErrorCode::PolicyIo,
            E::Invalid(_) => ErrorCode::PolicyInvalid,
            E::Unsigned { .. } => ErrorCode::PolicyUnsigned,
            E::BadSignature { .. } | E::SignatureFormat { .. } => ErrorCode::PolicySignature,
            E::KeyFormat { .. } => ErrorCode::PolicyKey,
            E::Random(_) | E::Engine(_) => ErrorCode::Internal,
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
}
