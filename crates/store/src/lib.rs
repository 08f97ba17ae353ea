//! Certgate's on-disk state. Everything Certgate writes lives under one data directory,
//! resolved here and nowhere else.

pub mod error;
pub mod paths;

pub use error::{Error, Result};
