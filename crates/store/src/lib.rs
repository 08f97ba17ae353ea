//! Certgate's on-disk state. Everything Certgate writes lives under one data directory,
//! resolved here and nowhere else, and its records live in one SQLite database opened here.
//!
//! Each engine crate owns its tables: it declares a [`Schema`] (a component name and an ordered
//! list of migrations) and calls [`Database::migrate`] once at start. Versions are tracked per
//! component, so crates add migrations without coordinating numbers with each other.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod db;
pub mod error;
pub mod paths;

pub use db::{Database, FILE_NAME, Migration, Schema};
pub use error::{Error, Result};
pub use rusqlite;
