//! The keyword gate: one Aho-Corasick pass over the text finds every keyword that a
//! detector needs (a secret rule's provider name, a person introduced by "my name is", a
//! German street ending in "straße", a date of birth after "born"), and each detector then
//! runs its regex only in windows around its own hits. A full-text regex pass costs about as
//! much as this whole pass, so gating every keyword-bound detector on it keeps the scan fast.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::error::Result;

/// The detectors gated by keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    DateOfBirth,
    GovId,
    Nino,
    PersonTitle,
    PersonIntroduced,
    PersonSpoken,
    PersonField,
    StreetGerman,
    StreetFrench,
    /// Words before a phone number ("call", "tel").
    PhoneBefore,
    /// Labels after a phone number ("(mobile)").
    PhoneAfter,
}

const FAMILIES: usize = 11;

/// A secret rule keyword found in the text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeywordHit {
    /// Index into the secret scanner's keywords.
    pub keyword: usize,
    pub start: usize,
    pub end: usize,
}

/// Keyword spans per family in text order, and secret keyword hits in the order found.
#[derive(Debug, Default)]
pub(crate) struct Hits {
    spans: [Vec<(usize, usize)>; FAMILIES],
    pub secret: Vec<KeywordHit>,
}

impl Hits {
    pub(crate) fn of(&self, family: Family) -> &[(usize, usize)] {
        &self.spans[family as usize]
    }

    /// True when a hit lies wholly inside `from..to` and is not part of one of our
    /// placeholders (`[PHONE_1]` is not the word "phone": redacting twice must find nothing
    /// new).
    pub(crate) fn any_within(&self, family: Family, text: &str, from: usize, to: usize) -> bool {
        let spans = self.of(family);
        let first = spans.partition_point(|&(s, _)| s < from);
        spans[first..]
            .iter()
            .take_while(|&&(s, _)| s < to)
            .any(|&(s, e)| e <= to && !in_placeholder(text.as_bytes(), s, e))
    }

    /// Merged search windows, one per hit that `window` maps to `Some((start, end))`, clamped
    /// to char boundaries. A window's start moves back to the start of its word, so a regex
    /// never starts a match in the middle of one.
    pub(crate) fn windows(
        &self,
        family: Family,
        text: &str,
        window: impl Fn(usize, usize) -> Option<(usize, usize)>,
    ) -> Vec<(usize, usize)> {
        merge_windows(
            text,
            self.of(family).iter().filter_map(|&(s, e)| window(s, e)),
        )
    }
}

/// True when `b[s..e]` lies inside a `[UPPER_CASE_1]`-shaped placeholder.
fn in_placeholder(b: &[u8], s: usize, e: usize) -> bool {
    let inner = |c: &u8| matches!(c, b'A'..=b'Z' | b'0'..=b'9' | b'_');
    let open = s - b[..s].iter().rev().take_while(|c| inner(c)).count();
    let close = e + b[e..].iter().take_while(|c| inner(c)).count();
    open > 0 && b[open - 1] == b'[' && b.get(close) == Some(&b']') && b[s..e].iter().all(inner)
}

/// Sorted, merged, char-aligned windows from `(start, end)` pairs in near-sorted order.
pub(crate) fn merge_windows(
    text: &str,
    windows: impl Iterator<Item = (usize, usize)>,
) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut raw: Vec<(usize, usize)> = windows
        .map(|(s, e)| {
            let mut s = s.min(text.len());
            let limit = s.saturating_sub(64);
            while s > limit && !b[s - 1].is_ascii_whitespace() {
                s -= 1;
            }
            (
                super::floor_char(text, s),
                super::ceil_char(text, e.min(text.len())),
            )
        })
        .collect();
    raw.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(raw.len());
    for (s, e) in raw {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

pub(crate) struct Gate {
    ac: AhoCorasick,
    /// Patterns below this index are secret keywords; the rest belong to `family_of`.
    secret_keywords: usize,
    family_of: Vec<Family>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("keywords", &self.family_of.len())
            .finish()
    }
}

impl Gate {
    /// Keywords (lowercase, matched ASCII-case-insensitively): the secret scanner's, then
    /// per family.
    pub(crate) fn new(secret_keywords: &[String], keywords: &[(Family, &[&str])]) -> Result<Self> {
        let mut patterns: Vec<&str> = secret_keywords.iter().map(String::as_str).collect();
        let mut family_of = Vec::new();
        for (family, words) in keywords {
            for w in *words {
                patterns.push(w);
                family_of.push(*family);
            }
        }
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            // A full DFA (under 1 MB for these keywords) scans about twice as fast as the
            // contiguous NFA chosen by default for this many patterns, on a pass every
            // request pays.
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&patterns)?;
        Ok(Self {
            ac,
            secret_keywords: secret_keywords.len(),
            family_of,
        })
    }

    pub(crate) fn scan(&self, text: &str) -> Hits {
        let mut hits = Hits::default();
        for m in self.ac.find_overlapping_iter(text) {
            let id = m.pattern().as_usize();
            match id.checked_sub(self.secret_keywords) {
                None => hits.secret.push(KeywordHit {
                    keyword: id,
                    start: m.start(),
                    end: m.end(),
                }),
                Some(i) => hits.spans[self.family_of[i] as usize].push((m.start(), m.end())),
            }
        }
        for spans in &mut hits.spans {
            // Overlapping search reports hits by end; windows want them by start.
            spans.sort_unstable();
        }
        hits
    }
}

/// A regex alternation of `words`, each matched literally: the regexes gated on a family
/// are built from the same keyword list the gate searches for.
pub(crate) fn alternation(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| regex::escape(w))
        .collect::<Vec<_>>()
        .join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_land_in_their_family_in_text_order() {
        let gate = Gate::new(
            &[],
            &[
                (Family::DateOfBirth, &["born", "birthday"]),
                (Family::PersonIntroduced, &["dear", "hi"]),
            ],
        )
        .unwrap();
        let hits = gate.scan("Hi all, Dear Ann was BORN on her birthday");
        assert_eq!(hits.of(Family::PersonIntroduced), &[(0, 2), (8, 12)]);
        assert_eq!(hits.of(Family::DateOfBirth), &[(21, 25), (33, 41)]);
        assert!(hits.of(Family::StreetGerman).is_empty());
    }

    #[test]
    fn hits_inside_placeholders_do_not_count() {
        let gate = Gate::new(&[], &[(Family::PhoneBefore, &["phone"])]).unwrap();
        let within = |text: &str, from, to| {
            gate.scan(text)
                .any_within(Family::PhoneBefore, text, from, to)
        };
        assert!(!within("[PHONE_1] 7090", 0, 10));
        assert!(!within("[CELL_PHONE_12]", 0, 15));
        assert!(within("phone [EMAIL_1] 7090", 0, 16));
        assert!(
            within("[phone_1] 7090", 0, 10),
            "not our placeholder's shape"
        );
        assert!(within("[x] PHONE: 7090", 0, 11));
        assert!(
            !within("phone 7090", 1, 10),
            "the word must lie wholly inside"
        );
        assert!(!within("phone 7090", 0, 4));
    }

    #[test]
    fn windows_merge_and_start_at_a_word() {
        let text = "aaaa bbbbbb cccc dddd";
        let w = merge_windows(text, [(8, 9), (9, 12), (18, 30)].into_iter());
        assert_eq!(w, vec![(5, 12), (17, 21)]);
        let text = "Grüße straße";
        let w = merge_windows(text, [(3, 5)].into_iter());
        assert_eq!(w, vec![(0, 6)], "char-aligned and back to the word's start");
    }

    #[test]
    fn captures_in_windows_match_the_full_text_search_there() {
        let re = regex::Regex::new(r"\b(?i:dear)\s+(\w+)").unwrap();
        let text = "x dear Ann, xdear Bob; DEAR Cy";
        let whole: Vec<String> = re.captures_iter(text).map(|c| c[1].to_owned()).collect();
        let got: Vec<String> = super::super::captures_in(&re, text, vec![(0, 12), (12, 30)])
            .map(|c| c[1].to_owned())
            .collect();
        assert_eq!(whole, ["Ann", "Cy"]);
        assert_eq!(
            got, whole,
            "the boundary before `xdear` sees the text before it"
        );
    }
}
