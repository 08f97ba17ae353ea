//! The typed content of a bundle: modules, question banks and the acknowledgement page.

use std::collections::BTreeMap;

use serde::Serialize;

/// The pseudo-track of role SOP modules: read by role, not certified.
pub const ROLE_SOP_TRACK: &str = "ROLE_SOP";

/// A validated course bundle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub bundle_id: String,
    pub version: String,
    pub title: String,
    /// Track id → what the bundle holds for it.
    pub tracks: BTreeMap<String, TrackContent>,
    /// Every module (track modules and role SOPs), in file-name order.
    pub modules: Vec<Module>,
    /// Ids of the role SOP modules.
    pub role_sops: Vec<String>,
    pub acknowledgement: AckPage,
    /// How far the bundle is trusted (`signed`, `demo`, `unsigned-dev`).
    pub trust: certgate_policy::Trust,
    /// SHA-256 (hex) of the bundle's manifest text (`sha256  path` per file, sorted): names one
    /// exact version of the content; equal to the SHA-256 of `MANIFEST` in a signed bundle.
    pub sha256: String,
}

impl Bundle {
    pub fn module(&self, id: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.id == id)
    }

    pub fn track(&self, id: &str) -> Option<&TrackContent> {
        self.tracks.get(id)
    }

    /// The module whose id starts with `prefix` (`GOV-101` → `GOV-101-data-handling`), when
    /// exactly one does; an exact id always wins.
    pub fn find_module(&self, prefix: &str) -> Option<&Module> {
        if let Some(m) = self.module(prefix) {
            return Some(m);
        }
        let lower = prefix.to_ascii_lowercase();
        let mut found = self
            .modules
            .iter()
            .filter(|m| m.id.to_ascii_lowercase().starts_with(&lower));
        match (found.next(), found.next()) {
            (Some(m), None) => Some(m),
            _ => None,
        }
    }
}

/// One certification track's content.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackContent {
    pub id: String,
    /// Module ids to read, in order.
    pub modules: Vec<String>,
    /// How many questions one attempt draws from the bank.
    pub draw_count: u32,
    /// Minutes to wait between attempts, when the bundle asks for a cool-down; the longer of
    /// this and the policy's `quiz.cooldownMinutes` applies.
    pub cooldown_minutes: Option<u32>,
    pub bank: QuestionBank,
}

/// A module: Markdown with front matter.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    pub id: String,
    pub title: String,
    /// A policy track id, or [`ROLE_SOP_TRACK`].
    pub track: String,
    /// Reading time.
    pub minutes: u32,
    pub version: String,
    /// The Markdown after the front matter.
    pub body: String,
    /// Path inside the bundle, e.g. `modules/GOV-101-data-handling.md`.
    pub file: String,
}

/// The questions of one track.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionBank {
    pub track: String,
    pub version: String,
    pub questions: Vec<Question>,
}

impl QuestionBank {
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    pub id: String,
    /// The module it tests, when given.
    pub module: Option<String>,
    pub kind: QuestionKind,
    /// For scenario questions: the situation shown before the prompt.
    pub scenario: Option<String>,
    pub prompt: String,
    /// Shown after answering.
    pub explanation: String,
}

impl Question {
    /// The options, in file order (none for true/false).
    pub fn options(&self) -> &[QuizOption] {
        match &self.kind {
            QuestionKind::Single { options }
            | QuestionKind::Scenario { options }
            | QuestionKind::Multiple { options, .. } => options,
            QuestionKind::TrueFalse { .. } => &[],
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum QuestionKind {
    /// Exactly one correct option.
    Single {
        options: Vec<QuizOption>,
    },
    /// One or more correct options, scored per [`Scoring`].
    Multiple {
        options: Vec<QuizOption>,
        scoring: Scoring,
    },
    TrueFalse {
        answer: bool,
    },
    /// A workplace situation, then exactly one correct option.
    Scenario {
        options: Vec<QuizOption>,
    },
}

impl QuestionKind {
    pub const NAMES: &'static [&'static str] = &["single", "multiple", "true_false", "scenario"];
}

/// How a multiple-choice question is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scoring {
    /// 1 point only when exactly the correct options are picked.
    AllOrNothing,
    /// (correct picked − wrong picked) / correct options, floored at 0.
    Partial,
}

impl Scoring {
    pub const NAMES: &'static [&'static str] = &["all_or_nothing", "partial"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all_or_nothing" => Some(Self::AllOrNothing),
            "partial" => Some(Self::Partial),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuizOption {
    pub id: String,
    pub text: String,
    pub correct: bool,
}

/// The one-page "Allowed / Not allowed" acknowledgement.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AckPage {
    pub id: String,
    pub title: String,
    pub version: String,
    pub body: String,
    /// SHA-256 (hex) of the whole file as shipped: what a signature covers.
    pub sha256: String,
    pub file: String,
}
