//! The CLI's exit codes, shared by every subcommand.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Done, allowed, verified.
    Ok = 0,
    /// A check said no: denied, signature bad, posture failing.
    Failed = 1,
    /// Usage error or invalid input (the message says what and where).
    Invalid = 2,
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code as u8)
    }
}
