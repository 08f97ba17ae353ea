//! The quiz engine: pure functions, no I/O, no clock, no hidden randomness.
//!
//! # Re-grading contract
//! A device and the org server must agree on an attempt from `(bank, draw_count, seed, responses)`
//! alone, so:
//! - [`plan_attempt`] is a fixed function of the bank's question ids **in file order**, each
//!   question's option ids **in file order**, `draw_count` and the `seed`. Its randomness is
//!   [`SplitMix64`] (Steele, Lea & Flood 2014; 64-bit state, `+0x9E3779B97F4A7C15` step), and
//!   every bounded draw uses rejection sampling ([`SplitMix64::below`]), so the plan is identical
//!   on every platform and Rust version. A test pins one plan; changing this algorithm is a
//!   breaking change for stored attempts.
//! - Questions: a Fisher–Yates shuffle of the bank indices (from the last index down, swapping
//!   `i` with `below(i + 1)`), the first `draw_count` taken. Then, for each drawn question in
//!   order, its options are shuffled the same way (true/false questions draw nothing).
//! - [`grade`] reads responses by question id and option id (never by displayed letter), so the
//!   display order does not matter to the score.
//!
//! # Scoring
//! Every question is worth 1 point. Single, scenario and true/false: 1 when right, else 0.
//! Multiple choice, `all_or_nothing`: 1 when exactly the correct set is picked. Multiple choice,
//! `partial`: (correct picked − wrong picked) / number of correct options, floored at 0. Sums are
//! exact fractions and the pass mark is compared exactly: `raw / max × 100 ≥ minScorePct`, with
//! `minScorePct` taken to 4 decimal places (84.99% fails at 85; 85.00% passes).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::GradeError;
use crate::model::{Question, QuestionBank, QuestionKind, Scoring};

/// A tiny, fully specified PRNG (SplitMix64): enough for fair draws, trivially portable.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..n` (`n > 0`), without modulo bias: values of the top, incomplete
    /// block of `u64` are drawn again.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let n = n.max(1);
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }

    /// Fisher–Yates, from the last index down.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            // `i + 1` fits in u64 and the result is ≤ i, so both casts are lossless.
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// A fresh seed from the OS random source.
pub fn new_seed() -> crate::Result<u64> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| crate::Error::Random(e.to_string()))?;
    Ok(u64::from_le_bytes(bytes))
}

/// The questions of one attempt, in the order shown, each with its options in the order shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptPlan {
    pub seed: u64,
    pub questions: Vec<PlannedQuestion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedQuestion {
    pub question_id: String,
    /// Option ids in display order (empty for true/false). The `n`th is shown as letter
    /// `a + n`.
    pub option_order: Vec<String>,
}

/// Draws `draw_count` questions (all of them when the bank is smaller) and shuffles their
/// options, deterministically from `seed`. See the module docs for the exact algorithm.
pub fn plan_attempt(bank: &QuestionBank, draw_count: u32, seed: u64) -> AttemptPlan {
    let mut rng = SplitMix64::new(seed);
    let mut order: Vec<usize> = (0..bank.questions.len()).collect();
    rng.shuffle(&mut order);
    let take = (draw_count as usize).min(order.len());
    let questions = order[..take]
        .iter()
        .map(|&i| {
            let q = &bank.questions[i];
            let mut option_order: Vec<String> = q.options().iter().map(|o| o.id.clone()).collect();
            rng.shuffle(&mut option_order);
            PlannedQuestion {
                question_id: q.id.clone(),
                option_order,
            }
        })
        .collect();
    AttemptPlan { seed, questions }
}

/// What the user chose for one question: option ids (by id, not displayed letter), or a
/// true/false value. An empty option list is a skipped question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Choice {
    Bool(bool),
    Options(Vec<String>),
}

/// One raw answer as recorded and sent to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub question_id: String,
    pub choice: Choice,
}

/// Why a typed answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("answer true or false (or t/f, yes/no)")]
    NotBool,
    #[error("`{0}` is not one of the choices shown")]
    UnknownLetter(String),
    #[error("this question takes exactly one choice")]
    OneChoice,
    #[error("pick at least one choice")]
    Empty,
}

impl PlannedQuestion {
    /// Reads what a user typed for this question (`b`, `a,c`, `a c`, `true`) against the
    /// letters shown, into a [`Choice`] by option id.
    pub fn parse_answer(&self, question: &Question, typed: &str) -> Result<Choice, AnswerError> {
        let typed = typed.trim().to_ascii_lowercase();
        if let QuestionKind::TrueFalse { .. } = question.kind {
            return match typed.as_str() {
                "true" | "t" | "yes" | "y" => Ok(Choice::Bool(true)),
                "false" | "f" | "no" | "n" => Ok(Choice::Bool(false)),
                _ => Err(AnswerError::NotBool),
            };
        }
        let mut picked = Vec::new();
        for part in typed
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
        {
            let mut chars = part.chars();
            let index = match (chars.next(), chars.next()) {
                (Some(c @ 'a'..='z'), None) => (c as usize) - ('a' as usize),
                _ => return Err(AnswerError::UnknownLetter(part.to_owned())),
            };
            let id = self
                .option_order
                .get(index)
                .ok_or_else(|| AnswerError::UnknownLetter(part.to_owned()))?;
            if !picked.contains(id) {
                picked.push(id.clone());
            }
        }
        if picked.is_empty() {
            return Err(AnswerError::Empty);
        }
        if !matches!(question.kind, QuestionKind::Multiple { .. }) && picked.len() != 1 {
            return Err(AnswerError::OneChoice);
        }
        Ok(Choice::Options(picked))
    }

    /// The letters of the correct options as shown, e.g. `a,c` (or `true`).
    pub fn correct_letters(&self, question: &Question) -> String {
        if let QuestionKind::TrueFalse { answer } = question.kind {
            return answer.to_string();
        }
        self.option_order
            .iter()
            .enumerate()
            .filter(|(_, id)| question.options().iter().any(|o| &o.id == *id && o.correct))
            .map(|(i, _)| letter(i).to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The letter shown for the `i`th option.
pub fn letter(i: usize) -> char {
    u8::try_from(i)
        .ok()
        .filter(|i| *i < 26)
        .map_or('?', |i| char::from(b'a' + i))
}

/// An exact non-negative fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fraction {
    pub num: u64,
    pub den: u64,
}

impl Fraction {
    pub const ZERO: Self = Self { num: 0, den: 1 };
    pub const ONE: Self = Self { num: 1, den: 1 };

    pub fn new(num: u64, den: u64) -> Self {
        let den = den.max(1);
        let g = gcd(num, den);
        Self {
            num: num / g,
            den: den / g,
        }
    }

    /// For display only; decisions use the exact value.
    #[allow(clippy::cast_precision_loss)]
    pub fn as_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl std::ops::Add for Fraction {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        let g = gcd(self.den, other.den);
        let den = self.den / g * other.den;
        let num = self.num * (den / self.den) + other.num * (den / other.den);
        Self::new(num, den)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// The credit of one question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionResult {
    pub question_id: String,
    /// 0 to 1.
    pub credit: Fraction,
    /// Full credit.
    pub correct: bool,
}

/// The graded attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Score {
    /// Points earned, exact.
    pub raw: Fraction,
    /// Points possible (one per question).
    pub max: u64,
    /// Percent, for display (rounded to 2 decimals).
    pub pct: f64,
    pub passed: bool,
    pub per_question: Vec<QuestionResult>,
}

/// Whether `raw / max × 100 ≥ min_score_pct`, exactly. `min_score_pct` counts to 4 decimals.
pub fn meets_pass_mark(raw: Fraction, max: u64, min_score_pct: f64) -> bool {
    // The policy validates 0..=100, so this is in 0..=1_000_000 and the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let min_e4 = (min_score_pct.clamp(0.0, 100.0) * 10_000.0).round() as u128;
    // raw.num/raw.den * 100 * 10^4 >= min_e4 * max   ⇔   raw.num * 10^6 >= min_e4 * max * raw.den
    u128::from(raw.num) * 1_000_000 >= min_e4 * u128::from(max) * u128::from(raw.den)
}

/// The credit one choice earns on one question.
pub fn credit(question: &Question, choice: &Choice) -> Fraction {
    match (&question.kind, choice) {
        (QuestionKind::TrueFalse { answer }, Choice::Bool(b)) => {
            if answer == b {
                Fraction::ONE
            } else {
                Fraction::ZERO
            }
        }
        (
            QuestionKind::Single { options } | QuestionKind::Scenario { options },
            Choice::Options(picked),
        ) => {
            let right = picked.len() == 1
                && options
                    .iter()
                    .any(|o| o.correct && picked.first() == Some(&o.id));
            if right { Fraction::ONE } else { Fraction::ZERO }
        }
        (QuestionKind::Multiple { options, scoring }, Choice::Options(picked)) => {
            let picked: BTreeSet<&str> = picked.iter().map(String::as_str).collect();
            let correct: BTreeSet<&str> = options
                .iter()
                .filter(|o| o.correct)
                .map(|o| o.id.as_str())
                .collect();
            // Ids that are no option of the question count as wrong picks.
            let right = picked.intersection(&correct).count() as u64;
            let wrong = picked.len() as u64 - right;
            match scoring {
                Scoring::AllOrNothing if picked == correct => Fraction::ONE,
                Scoring::AllOrNothing => Fraction::ZERO,
                Scoring::Partial => {
                    Fraction::new(right.saturating_sub(wrong), correct.len() as u64)
                }
            }
        }
        _ => Fraction::ZERO,
    }
}

/// Grades `responses` to the attempt `plan` drew from `bank`, at the pass mark `min_score_pct`.
/// Questions of the plan without a response score 0; a response to a question outside the plan,
/// or a plan question missing from the bank, is an error (the attempt does not belong to this
/// bank).
pub fn grade(
    bank: &QuestionBank,
    plan: &AttemptPlan,
    responses: &[Response],
    min_score_pct: f64,
) -> Result<Score, GradeError> {
    for r in responses {
        if !plan
            .questions
            .iter()
            .any(|p| p.question_id == r.question_id)
        {
            return Err(GradeError::NotInPlan(r.question_id.clone()));
        }
    }
    let mut raw = Fraction::ZERO;
    let mut per_question = Vec::with_capacity(plan.questions.len());
    for planned in &plan.questions {
        let question = bank
            .question(&planned.question_id)
            .ok_or_else(|| GradeError::UnknownQuestion(planned.question_id.clone()))?;
        let earned = responses
            .iter()
            .find(|r| r.question_id == planned.question_id)
            .map_or(Fraction::ZERO, |r| credit(question, &r.choice));
        raw = raw + earned;
        per_question.push(QuestionResult {
            question_id: planned.question_id.clone(),
            credit: earned,
            correct: earned == Fraction::ONE,
        });
    }
    let max = plan.questions.len() as u64;
    let pct = if max == 0 {
        0.0
    } else {
        #[allow(clippy::cast_precision_loss)]
        let pct = raw.as_f64() * 100.0 / max as f64;
        (pct * 100.0).round() / 100.0
    };
    Ok(Score {
        raw,
        max,
        pct,
        passed: max > 0 && meets_pass_mark(raw, max, min_score_pct),
        per_question,
    })
}

/// What the server does with an attempt it receives: re-derives the plan from the seed and
/// grades the raw responses, trusting nothing the device computed.
pub fn regrade(
    bank: &QuestionBank,
    draw_count: u32,
    seed: u64,
    responses: &[Response],
    min_score_pct: f64,
) -> Result<Score, GradeError> {
    grade(
        bank,
        &plan_attempt(bank, draw_count, seed),
        responses,
        min_score_pct,
    )
}

/// The responses that answer every question of `plan` correctly (for tests, demos and benches).
pub fn correct_responses(bank: &QuestionBank, plan: &AttemptPlan) -> Vec<Response> {
    plan.questions
        .iter()
        .filter_map(|p| bank.question(&p.question_id))
        .map(|q| Response {
            question_id: q.id.clone(),
            choice: match &q.kind {
                QuestionKind::TrueFalse { answer } => Choice::Bool(*answer),
                _ => Choice::Options(
                    q.options()
                        .iter()
                        .filter(|o| o.correct)
                        .map(|o| o.id.clone())
                        .collect(),
                ),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests;
