//! Dates of birth and government ids: only when a context word is near.

use regex::Regex;

use super::{compile, context_before};
use crate::error::Result;
use crate::finding::FindingType;
use crate::resolve::Candidate;

pub(crate) struct ContextIds {
    /// Any context word at all: without one, none of the regexes can produce a finding.
    gate: aho_corasick::AhoCorasick,
    date: Regex,
    id: Regex,
    nino: Regex,
}

const DOB_WORDS: [&str; 10] = [
    "born",
    "birth",
    "dob",
    "d.o.b",
    "birthday",
    "geburtsdatum",
    "geb.",
    "né le",
    "née le",
    "naissance",
];

const GOV_WORDS: [&str; 16] = [
    "passport",
    "driver's licen",
    "drivers licen",
    "driving licen",
    "licence no",
    "license no",
    "license number",
    "national id",
    "id card",
    "personalausweis",
    "steuer-id",
    "steuerid",
    "insee",
    "numéro de sécurité sociale",
    "aadhaar",
    "social insurance",
];

const NINO_WORDS: [&str; 4] = ["national insurance", "nino", "ni number", "ni no"];

impl ContextIds {
    pub(crate) fn new() -> Result<Self> {
        let months = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)";
        let gate_words: Vec<&str> = DOB_WORDS
            .iter()
            .chain(GOV_WORDS.iter())
            .chain(NINO_WORDS.iter())
            .copied()
            .collect();
        let gate = aho_corasick::AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(gate_words)?;
        Ok(Self {
            gate,
            date: compile(
                "date-of-birth",
                &format!(
                    r"(?i)\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{months}\.?,?\s+\d{{4}}|{months}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
                ),
            )?,
            id: compile("gov-id", r"[A-Z0-9][A-Z0-9-]{4,16}[A-Z0-9]")?,
            nino: compile(
                "gov-id",
                r"[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]",
            )?,
        })
    }

    pub(crate) fn scan(&self, text: &str, out: &mut Vec<Candidate>) {
        if !self.gate.is_match(text) {
            return;
        }
        let b = text.as_bytes();
        let bounded = |s: usize, e: usize| {
            (s == 0 || !b[s - 1].is_ascii_alphanumeric())
                && (e >= b.len() || !b[e].is_ascii_alphanumeric())
        };
        for m in self.date.find_iter(text) {
            if bounded(m.start(), m.end()) && context_before(text, m.start(), 40, &DOB_WORDS) {
                out.push(Candidate {
                    kind: FindingType::DateOfBirth,
                    detector: "date-of-birth",
                    start: m.start(),
                    end: m.end(),
                    confidence: 0.85,
                });
            }
        }
        for m in self.nino.find_iter(text) {
            if bounded(m.start(), m.end()) && context_before(text, m.start(), 40, &NINO_WORDS) {
                out.push(Candidate {
                    kind: FindingType::GovId,
                    detector: "uk-nino",
                    start: m.start(),
                    end: m.end(),
                    confidence: 0.9,
                });
            }
        }
        for m in self.id.find_iter(text) {
            let digits = m.as_str().bytes().filter(u8::is_ascii_digit).count();
            if digits >= 5
                && bounded(m.start(), m.end())
                && context_before(text, m.start(), 32, &GOV_WORDS)
            {
                out.push(Candidate {
                    kind: FindingType::GovId,
                    detector: "gov-id",
                    start: m.start(),
                    end: m.end(),
                    confidence: 0.75,
                });
            }
        }
    }
}
