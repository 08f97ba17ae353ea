//! Dates of birth and government ids: only when a context word is near.

use regex::Regex;

use super::gate::{Family, Hits};
use super::{compile, context_before, find_in_runs};
use crate::error::Result;
use crate::finding::FindingType;
use crate::resolve::Candidate;

pub(crate) struct ContextIds {
    date: Regex,
    id: Regex,
    nino: Regex,
}

pub(crate) const DOB_WORDS: [&str; 10] = [
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

pub(crate) const GOV_WORDS: [&str; 16] = [
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

pub(crate) const NINO_WORDS: [&str; 4] = ["national insurance", "nino", "ni number", "ni no"];

impl ContextIds {
    pub(crate) fn new() -> Result<Self> {
        let months = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)";
        Ok(Self {
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

    /// `hits`: the context words found by the keyword gate. Each regex runs only just after
    /// its words: a value counts when the word lies in the `reach` bytes before it.
    pub(crate) fn scan(&self, text: &str, hits: &Hits, out: &mut Vec<Candidate>) {
        let after = |family, reach: usize| {
            // The longest value (a spelled-out date) is well under 40 bytes.
            hits.windows(family, text, |s, e| Some((e, s + reach + 40)))
        };
        let b = text.as_bytes();
        let bounded = |s: usize, e: usize| {
            (s == 0 || !b[s - 1].is_ascii_alphanumeric())
                && (e >= b.len() || !b[e].is_ascii_alphanumeric())
        };
        for m in find_in_runs(&self.date, text, after(Family::DateOfBirth, 40)) {
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
        for m in find_in_runs(&self.nino, text, after(Family::Nino, 40)) {
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
        for m in find_in_runs(&self.id, text, after(Family::GovId, 32)) {
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
