//! Windows: pure parsers here (compiled and tested on every OS); the command runner runs on Windows.

pub mod parse;
// Test builds compile the runner everywhere so it is type-checked off its platform.
#[cfg(any(target_os = "windows", test))]
pub mod runner;
