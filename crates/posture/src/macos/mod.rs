//! macOS: pure parsers here (compiled and tested on every OS); the command runner only on macOS.

pub mod parse;
#[cfg(target_os = "macos")]
pub mod runner;
