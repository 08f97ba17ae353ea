//! Tauri commands, one module per area. Bodies stay a few lines: the rules live in `crates/`.

pub mod access;
pub mod dashboard;
pub mod enrol;
pub mod policy;
pub mod posture;
pub mod settings;
pub mod training;
pub mod window;
