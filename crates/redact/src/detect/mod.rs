//! All detectors, compiled once and run in one pass over the text.

mod address;
mod context;
pub(crate) mod person;
mod pii;
pub(crate) mod rules;
mod secrets;
mod terms;

use regex::Regex;

use crate::error::{Error, Result};
use crate::resolve::Candidate;

pub(crate) fn compile(detector: &'static str, pattern: &str) -> Result<Regex> {
    regex::RegexBuilder::new(pattern)
        .size_limit(16 << 20)
        .dfa_size_limit(16 << 20)
        .build()
        .map_err(|e| Error::Pattern {
            detector,
            source: Box::new(e),
        })
}

/// ASCII word byte (letters, digits, underscore); non-ASCII bytes count too, so a match
/// glued to a non-Latin word is not bounded.
pub(crate) fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// True when the byte before `s` glues a match to a word. An escaped `\n`, `\t` or `\r` (as
/// in JSON strings pasted into a prompt) counts as a separator, not as the letter.
pub(crate) fn glued_before(b: &[u8], s: usize, extra: &[u8]) -> bool {
    if s == 0 {
        return false;
    }
    let p = b[s - 1];
    if s >= 2 && b[s - 2] == b'\\' && matches!(p, b'n' | b't' | b'r') {
        return false;
    }
    is_word_byte(p) || extra.contains(&p)
}

pub(crate) fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

pub(crate) fn ceil_char(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Shannon entropy in bits per character.
pub(crate) fn entropy(s: &str) -> f32 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[b as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f32;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f32 / n;
            -p * p.log2()
        })
        .sum()
}

/// True when one of `words` (lowercase ASCII) occurs in the `window` bytes before `pos`.
pub(crate) fn context_before(text: &str, pos: usize, window: usize, words: &[&str]) -> bool {
    contains_ci(&text.as_bytes()[pos.saturating_sub(window)..pos], words)
}

/// True when one of `words` (lowercase) occurs in the `window` bytes after `pos`.
pub(crate) fn context_after(text: &str, pos: usize, window: usize, words: &[&str]) -> bool {
    contains_ci(&text.as_bytes()[pos..(pos + window).min(text.len())], words)
}

/// ASCII case-insensitive substring test without allocating (called per candidate).
fn contains_ci(hay: &[u8], words: &[&str]) -> bool {
    words.iter().any(|w| {
        let w = w.as_bytes();
        w.len() <= hay.len() && hay.windows(w.len()).any(|win| win.eq_ignore_ascii_case(w))
    })
}

/// Which detector families run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Enabled {
    pub pii: bool,
}

/// Every compiled detector.
pub(crate) struct Detectors {
    card: Regex,
    iban: Regex,
    ssn: Regex,
    ipv4: Regex,
    ipv6: Regex,
    mac: Regex,
    phone: pii::PhoneRegexes,
    address: address::Addresses,
    person: person::Persons,
    context: context::ContextIds,
    secrets: secrets::SecretScanner,
    terms: Option<terms::Terms>,
}

impl std::fmt::Debug for Detectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detectors")
            .field("secrets", &self.secrets)
            .field(
                "restricted_terms",
                &self.terms.as_ref().map(terms::Terms::len),
            )
            .finish_non_exhaustive()
    }
}

impl Detectors {
    pub(crate) fn new(restricted_terms: &[String]) -> Result<Self> {
        Ok(Self {
            card: compile("credit-card", r"\d(?:[ -]?\d){11,22}")?,
            iban: compile("iban", r"[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,32}")?,
            ssn: compile("us-ssn", r"\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}|\d{9}")?,
            ipv4: compile("ipv4", r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")?,
            ipv6: compile(
                "ipv6",
                r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]{2,45}(?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})?",
            )?,
            mac: compile(
                "mac",
                r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}",
            )?,
            phone: pii::PhoneRegexes::new()?,
            address: address::Addresses::new()?,
            person: person::Persons::new()?,
            context: context::ContextIds::new()?,
            secrets: secrets::SecretScanner::new()?,
            terms: terms::Terms::new(restricted_terms)?,
        })
    }

    pub(crate) fn secret_rule_count(&self) -> usize {
        self.secrets.rule_count()
    }

    pub(crate) fn scan(&self, text: &str, enabled: Enabled) -> Vec<Candidate> {
        let mut out = Vec::new();
        self.secrets.scan(text, &mut out);
        if let Some(t) = &self.terms {
            t.scan(text, &mut out);
        }
        if enabled.pii {
            pii::emails(text, &mut out);
            let has_digit = text.bytes().any(|c| c.is_ascii_digit());
            if has_digit {
                pii::cards(&self.card, text, &mut out);
                pii::ibans(&self.iban, text, &mut out);
                pii::ssns(&self.ssn, text, &mut out);
                pii::ipv4s(&self.ipv4, text, &mut out);
                pii::phones(&self.phone, text, &mut out);
                self.address.scan(text, &mut out);
                self.context.scan(text, &mut out);
            }
            if text.contains(':') {
                pii::ipv6s(&self.ipv6, text, &mut out);
            }
            if text.contains([':', '-', '.']) {
                pii::macs(&self.mac, text, &mut out);
            }
            self.person.scan(text, &mut out);
            address::join_fragments(text, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_orders_random_above_repetitive() {
        assert!(entropy("aaaaaaaa") < 0.01);
        assert!(entropy("k8Zq2LpX9vR4mN7w") > 3.5);
    }
}
