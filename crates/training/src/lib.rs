//! Offline training for Certgate: signed content bundles (modules, question banks, the
//! acknowledgement page), the quiz engine the org server re-grades with, certification status
//! and reminders, and crash-safe local records.
//!
//! The server re-grades an attempt with exactly these two functions:
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = certgate_policy::demo::load()?;
//! let bundle = certgate_training::demo::bundle(&policy)?;
//! let track = bundle.track("AI_CONSUMER_EXTERNAL").ok_or("no track")?;
//! let plan = certgate_training::plan_attempt(&track.bank, track.draw_count, 42);
//! let answers = certgate_training::quiz::correct_responses(&track.bank, &plan);
//! let score = certgate_training::grade(&track.bank, &plan, &answers, 85.0)?;
//! assert!(score.passed);
//! # Ok(()) }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod ack;
pub mod archive;
pub mod bundle;
mod decode;
pub mod demo;
pub mod error;
pub mod ids;
pub mod model;
pub mod notice;
pub mod quiz;
pub mod records;
pub mod status;
pub mod xapi;

pub use ack::Acknowledgement;
pub use error::{Error, GradeError, Result};
pub use model::{AckPage, Bundle, Module, Question, QuestionBank, QuestionKind, Scoring};
pub use quiz::{AttemptPlan, Choice, Response, Score, grade, plan_attempt, regrade};
pub use records::{AttemptRecord, ModuleProgress, Records};
pub use status::{CertStatus, Clock, FixedClock, SystemClock, TrackHistory, TrackRules};
