//! macOS: pure parsers here (compiled and tested on every OS); the command runner runs on macOS.

pub mod parse;
// Test builds compile the runner everywhere so it is type-checked off its platform.
#[cfg(any(target_os = "macos", test))]
pub mod runner;
