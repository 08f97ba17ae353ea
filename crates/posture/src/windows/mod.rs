//! Windows: pure parsers here (compiled and tested on every OS); the command runner only on Windows.

pub mod parse;
#[cfg(target_os = "windows")]
pub mod runner;
