//! Restricted terms from the policy: a dictionary matcher, case-insensitive, on word boundaries.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::error::Result;
use crate::finding::FindingType;
use crate::resolve::Candidate;

pub(crate) struct Terms {
    ac: AhoCorasick,
    count: usize,
}

impl Terms {
    /// `None` when the policy lists no terms.
    pub(crate) fn new(terms: &[String]) -> Result<Option<Self>> {
        let mut pats: Vec<String> = Vec::new();
        for t in terms {
            let t = t.trim();
            if t.is_empty() {
                continue;
            }
            // The matcher folds ASCII case only; add Unicode-folded spellings for the rest.
            for v in [t.to_owned(), t.to_lowercase(), t.to_uppercase()] {
                if !pats.contains(&v) {
                    pats.push(v);
                }
            }
        }
        if pats.is_empty() {
            return Ok(None);
        }
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&pats)?;
        Ok(Some(Self {
            ac,
            count: terms.len(),
        }))
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn scan(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.ac.find_iter(text) {
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if word(before) || word(after) {
                continue;
            }
            out.push(Candidate {
                kind: FindingType::RestrictedTerm,
                detector: "restricted-term",
                start: m.start(),
                end: m.end(),
                confidence: 1.0,
            });
        }
    }
}
