//! All detectors, compiled once and run in one pass over the text.

mod address;
mod context;
mod gate;
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
/// Our own placeholders and masks (`[PHONE_1]`, `[US_SSN_2]`) are not context: redacting a
/// second time must find nothing new.
pub(crate) fn context_before(text: &str, pos: usize, window: usize, words: &[&str]) -> bool {
    let hay = &text.as_bytes()[pos.saturating_sub(window)..pos];
    if !hay.contains(&b']') {
        return contains_ci(hay, words);
    }
    let mut buf = hay.to_vec();
    mask_placeholders(&mut buf);
    contains_ci(&buf, words)
}

/// Blanks `[UPPER_CASE_1]`-shaped spans, including one cut off at the start of the window.
fn mask_placeholders(b: &mut [u8]) {
    let mut j = b.len();
    while let Some(close) = b[..j].iter().rposition(|&c| c == b']') {
        let mut i = close;
        while i > 0 && matches!(b[i - 1], b'A'..=b'Z' | b'0'..=b'9' | b'_') {
            i -= 1;
        }
        let opened = i > 0 && b[i - 1] == b'[';
        if i < close && (opened || i == 0) {
            let from = if opened { i - 1 } else { i };
            b[from..=close].fill(b' ');
            j = from;
        } else {
            j = close;
        }
    }
}

/// ASCII case-insensitive substring test without allocating (called per candidate, several
/// times for every phone, date and id candidate). One pass over the window: a bit per first
/// letter says where a word can start, and only there are the words compared.
fn contains_ci(hay: &[u8], words: &[&str]) -> bool {
    let mut firsts = 0u128;
    for w in words {
        match w.as_bytes().first() {
            None => return true,
            Some(&f) if f.is_ascii() => firsts |= 1 << f.to_ascii_lowercase(),
            Some(_) => return words.iter().any(|w| contains_ci_slow(hay, w.as_bytes())),
        }
    }
    hay.iter().enumerate().any(|(i, c)| {
        let c = c.to_ascii_lowercase();
        c.is_ascii()
            && firsts >> c & 1 == 1
            && words.iter().any(|w| {
                hay.get(i..i + w.len())
                    .is_some_and(|win| win.eq_ignore_ascii_case(w.as_bytes()))
            })
    })
}

fn contains_ci_slow(hay: &[u8], w: &[u8]) -> bool {
    w.is_empty()
        || (w.len() <= hay.len() && hay.windows(w.len()).any(|win| win.eq_ignore_ascii_case(w)))
}

/// The bytes a run must hold (see [`runs`]), each kind found by the fastest search for it:
/// a vectorised byte search, or eight bytes at a time for digits.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seed {
    Digit,
    /// One to three bytes.
    Bytes(&'static [u8]),
}

impl Seed {
    fn accepts(self, c: u8) -> bool {
        match self {
            Seed::Digit => c.is_ascii_digit(),
            Seed::Bytes(set) => set.contains(&c),
        }
    }

    /// The first position at or after `from` holding a seed byte.
    fn next(self, b: &[u8], from: usize) -> Option<usize> {
        let hay = &b[from..];
        let at = match self {
            Seed::Digit => next_digit(hay),
            Seed::Bytes(&[x]) => memchr::memchr(x, hay),
            Seed::Bytes(&[x, y]) => memchr::memchr2(x, y, hay),
            Seed::Bytes(&[x, y, z]) => memchr::memchr3(x, y, z, hay),
            Seed::Bytes(set) => hay.iter().position(|c| set.contains(c)),
        }?;
        Some(from + at)
    }
}

/// The first ASCII digit in `hay`, skipping eight bytes at a time where none is.
fn next_digit(hay: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut chunks = hay.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // XOR with '0' maps digits to 0..=9 and every other byte to 10 or more; then the
        // classic "has a byte below n" test (exact as a yes/no for n <= 128).
        let y = u64::from_ne_bytes(word) ^ u64::from_ne_bytes([b'0'; 8]);
        if y.wrapping_sub(ONES * 10) & !y & HIGHS != 0 {
            return chunk.iter().position(u8::is_ascii_digit).map(|i| at + i);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(u8::is_ascii_digit)
        .map(|i| at + i)
}

/// A set of bytes as a lookup table. The run walks test every byte of the text against one,
/// where the equivalent chain of comparisons cost several instructions a byte.
#[derive(Clone, Copy)]
pub(crate) struct ByteSet([bool; 256]);

impl ByteSet {
    /// The bytes of the inclusive `ranges` plus `bytes`.
    pub(crate) const fn new(ranges: &[(u8, u8)], bytes: &[u8]) -> Self {
        let mut set = [false; 256];
        let mut r = 0;
        while r < ranges.len() {
            let (mut c, last) = ranges[r];
            while c <= last {
                set[c as usize] = true;
                if c == u8::MAX {
                    break;
                }
                c += 1;
            }
            r += 1;
        }
        let mut i = 0;
        while i < bytes.len() {
            set[bytes[i] as usize] = true;
            i += 1;
        }
        Self(set)
    }

    pub(crate) fn contains(&self, c: u8) -> bool {
        self.0[usize::from(c)]
    }
}

pub(crate) const DIGITS: (u8, u8) = (b'0', b'9');

/// Maximal runs of bytes that `allowed` accepts, holding at least `min_seeds` seed bytes
/// (which `allowed` must accept too) and at least `min_len` bytes. A regex without anchors or
/// look-around whose matches consist only of `allowed` bytes finds exactly the same matches
/// inside these runs as in the whole text, so the digit detectors search a few short runs
/// instead of every byte. Non-ASCII text is one run: `\d` also matches other scripts' digits.
pub(crate) fn runs(
    text: &str,
    allowed: &ByteSet,
    seed: Seed,
    min_seeds: usize,
    min_len: usize,
) -> Vec<(usize, usize)> {
    if !text.is_ascii() {
        return vec![(0, text.len())];
    }
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut floor = 0;
    while let Some(at) = seed.next(b, i) {
        let mut s = at;
        while s > floor && allowed.contains(b[s - 1]) {
            s -= 1;
        }
        let mut e = at;
        let mut seeds = 0;
        while e < b.len() && allowed.contains(b[e]) {
            seeds += usize::from(seed.accepts(b[e]));
            e += 1;
        }
        if seeds >= min_seeds && e - s >= min_len {
            out.push((s, e));
        }
        floor = e;
        // A seed the caller's `allowed` rejects would end an empty run here.
        i = e.max(at + 1);
        if i >= b.len() {
            break;
        }
    }
    out
}

/// Every match of `re` inside `runs` (from [`runs`], or other disjoint sorted windows), in
/// order and without overlaps, with offsets into `text`: what a full-text search finds there.
/// Look-around sees the text before a window.
pub(crate) fn find_in_runs<'t>(
    re: &'t Regex,
    text: &'t str,
    runs: impl IntoIterator<Item = (usize, usize)> + 't,
) -> impl Iterator<Item = regex::Match<'t>> + 't {
    each_in(text, runs, move |hay, pos| {
        re.find_at(hay, pos).map(|m| (m, m.start(), m.end()))
    })
}

/// [`find_in_runs`] with capture groups.
pub(crate) fn captures_in<'t>(
    re: &'t Regex,
    text: &'t str,
    windows: impl IntoIterator<Item = (usize, usize)> + 't,
) -> impl Iterator<Item = regex::Captures<'t>> + 't {
    each_in(text, windows, move |hay, pos| {
        let caps = re.captures_at(hay, pos)?;
        let m = caps.get(0)?;
        let (s, e) = (m.start(), m.end());
        Some((caps, s, e))
    })
}

/// A pattern `^{prefix}({tail})` tried once at each keyword hit, for patterns whose matches can
/// only begin at a hit. Each attempt is two DFA searches, the prefix and then the tail at its
/// end; a capture group would need a backtracking engine whose setup per attempt (clearing a
/// bitset of NFA states × bytes) cost more than the searches. Only when that split misses
/// (another way through the prefix may still reach a tail) does the one-regex form decide, so
/// the result is the capture group's.
#[derive(Debug)]
pub(crate) struct Anchored {
    prefix: Regex,
    tail: Regex,
    whole: Regex,
}

impl Anchored {
    /// `tail` is `tail_src` compiled as `^(?:tail_src)`; shared between patterns (a clone of a
    /// `Regex` shares its program and caches).
    pub(crate) fn new(
        detector: &'static str,
        prefix: &str,
        tail_src: &str,
        tail: &Regex,
    ) -> Result<Self> {
        Ok(Self {
            prefix: compile(detector, &format!("^(?:{prefix})"))?,
            tail: tail.clone(),
            whole: compile(detector, &format!("^(?:{prefix})({tail_src})"))?,
        })
    }

    /// The tail's span at each `(start, end)` of `attempts` (sorted by start; the haystack cut
    /// at `end`), skipping starts inside the previous match: what searching the whole text for
    /// the pattern finds in group 1 where matches begin at the attempts' starts.
    pub(crate) fn tails_at<'t>(
        &'t self,
        text: &'t str,
        attempts: impl IntoIterator<Item = (usize, usize)> + 't,
    ) -> impl Iterator<Item = (usize, usize)> + 't {
        let mut resume = 0;
        attempts.into_iter().filter_map(move |(s, e)| {
            if s < resume || !text.is_char_boundary(s) {
                return None;
            }
            let hay = &text[s..ceil_char(text, e.min(text.len()))];
            let split = self.prefix.find(hay).and_then(|p| {
                let t = self.tail.find(&hay[p.end()..])?;
                Some((p.end(), p.end() + t.end()))
            });
            let (ts, te) = match split {
                Some(span) => span,
                None => {
                    let caps = self.whole.captures(hay)?;
                    let t = caps.get(1)?;
                    (t.start(), t.end())
                }
            };
            // The tail ends the pattern: its end is the match's.
            resume = s + te.max(1);
            Some((s + ts, s + te))
        })
    }
}

/// Runs `search(hay, from)` (a search returning its result and span) over each window, the
/// haystack cut at the window's end, moving past each result.
fn each_in<'t, T: 't>(
    text: &'t str,
    windows: impl IntoIterator<Item = (usize, usize)> + 't,
    search: impl Fn(&'t str, usize) -> Option<(T, usize, usize)> + Copy + 't,
) -> impl Iterator<Item = T> + 't {
    windows.into_iter().flat_map(move |(s, e)| {
        let hay = &text[..e];
        let mut pos = s;
        std::iter::from_fn(move || {
            if pos > hay.len() {
                return None;
            }
            let (found, start, end) = search(hay, pos)?;
            pos = if end > start { end } else { end + 1 };
            Some(found)
        })
    })
}

/// The leftmost match of `re` in `hay` starting at `pos` or later, like `find_at`, for a
/// pattern that begins with `^` and has no look-behind: it is tried only at the starts
/// `can_start` accepts (ASCII bytes), each an anchored search. Per candidate that runs the
/// forward automaton alone; an unanchored search also runs a reverse one to find where the
/// match began, which dominated the digit detectors' cost.
pub(crate) fn find_anchored_from(
    re: &Regex,
    hay: &str,
    pos: usize,
    can_start: impl Fn(u8) -> bool,
) -> Option<(usize, usize)> {
    let b = hay.as_bytes();
    let mut p = pos;
    while p < b.len() {
        p += b[p..].iter().position(|&c| c.is_ascii() && can_start(c))?;
        if let Some(m) = re.find(&hay[p..]) {
            return Some((p, p + m.end()));
        }
        p += 1;
    }
    None
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
    /// Keywords of the context-bound detectors, found in one pass.
    gate: gate::Gate,
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
        let secrets = secrets::SecretScanner::new()?;
        Ok(Self {
            // Anchored: searched from each possible start (see `find_anchored_from`).
            card: compile("credit-card", r"^\d(?:[ -]?\d){11,22}")?,
            iban: compile("iban", r"^[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,32}")?,
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
            gate: gate::Gate::new(
                secrets.keywords(),
                &[
                    (gate::Family::DateOfBirth, &context::DOB_WORDS),
                    (gate::Family::GovId, &context::GOV_WORDS),
                    (gate::Family::Nino, &context::NINO_WORDS),
                    (gate::Family::PersonTitle, &person::TITLES),
                    (gate::Family::PersonIntroduced, &person::INTRODUCING),
                    (gate::Family::PersonSpoken, &person::SPEAKING),
                    (gate::Family::PersonField, &person::NAME_FIELDS),
                    (gate::Family::StreetGerman, &address::GERMAN_STREET_ENDINGS),
                    (gate::Family::StreetFrench, &address::FRENCH_STREET_WORDS),
                    (gate::Family::PhoneBefore, &pii::PHONE_CONTEXT),
                    (gate::Family::PhoneAfter, &pii::PHONE_AFTER),
                    // The gate folds ASCII case only.
                    (gate::Family::StreetFrench, &["ALLÉE"]),
                ],
            )?,
            secrets,
            terms: terms::Terms::new(restricted_terms)?,
        })
    }

    pub(crate) fn secret_rule_count(&self) -> usize {
        self.secrets.rule_count()
    }

    pub(crate) fn scan(&self, text: &str, enabled: Enabled) -> Vec<Candidate> {
        let mut out = Vec::new();
        let hits = self.gate.scan(text);
        self.secrets.scan(text, &hits.secret, &mut out);
        if let Some(t) = &self.terms {
            t.scan(text, &mut out);
        }
        if enabled.pii {
            pii::emails(text, &mut out);
            let has_digit = text.bytes().any(|c| c.is_ascii_digit());
            if has_digit {
                let card_runs = runs(text, &pii::CARD_BYTES, Seed::Digit, 9, 9);
                pii::cards(&self.card, text, &card_runs, &mut out);
                pii::ibans(&self.iban, text, &mut out);
                pii::ssns(&self.ssn, text, &card_runs, &mut out);
                pii::ipv4s(&self.ipv4, text, &mut out);
                pii::phones(&self.phone, text, &hits, &mut out);
                self.address.scan(text, &hits, &mut out);
                self.context.scan(text, &hits, &mut out);
            }
            if text.contains(':') {
                pii::ipv6s(&self.ipv6, text, &mut out);
            }
            if text.contains([':', '-', '.']) {
                pii::macs(&self.mac, text, &mut out);
            }
            // std's substring search is much faster than a per-byte case-insensitive pass.
            if ["corner of", "Corner of", "CORNER OF"]
                .iter()
                .any(|w| text.contains(w))
            {
                self.address.scan_corners(text, &mut out);
            }
            self.person.scan(text, &hits, &mut out);
            address::join_fragments(text, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_attempts_at_keyword_hits_find_what_a_full_text_search_finds() {
        let keywords = ["dear", "customer", "customer service"];
        let tail_src = r"\p{Lu}\p{Ll}+";
        let tail = Regex::new(&format!("^(?:{tail_src})")).unwrap();
        // "customer" before "customer service": at "customer service: Cleo" the first way
        // through the prefix reaches no name, the second does.
        for alternation in [
            "dear|customer service|customer",
            "dear|customer|customer service",
        ] {
            let prefix = format!(r"(?i:{alternation})\s*[,:]?\s*");
            let whole = Regex::new(&format!("{prefix}({tail_src})")).unwrap();
            let anchored = Anchored::new("test", &prefix, tail_src, &tail).unwrap();
            let ac = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(keywords)
                .unwrap();
            for text in [
                "Dear Ann, customer Bob and Customer Service: Cleo wrote",
                "dear customer Dana Whitfield",
                "customer customer, Eve; DEAR: Fay",
                "no names here, dear customer: Ivy",
                "Dear\n\tGil and dearly Hal",
                "customer service: Cleo",
            ] {
                let mut hits: Vec<(usize, usize)> = ac
                    .find_overlapping_iter(text)
                    .map(|m| (m.start(), m.end() + 40))
                    .collect();
                hits.sort_unstable();
                let got: Vec<(usize, usize)> = anchored.tails_at(text, hits).collect();
                let want: Vec<(usize, usize)> = whole
                    .captures_iter(text)
                    .filter_map(|c| c.get(1).map(|m| (m.start(), m.end())))
                    .collect();
                assert_eq!(got, want, "{alternation}: {text:?}");
                assert!(!want.is_empty(), "{text:?} has a name to find");
            }
        }
    }

    #[test]
    fn runs_find_the_same_matches_as_the_whole_text() {
        let text = "Card 4111 1111 1111 1111, 4111-1111-1111-1111x; ssn 523-11-8386 or 523118386, \
                    ip 10.0.0.1.5 and 203.0.113.9, mac 00:1A:2B:3C:4D:5E aa-bb-cc-dd-ee-ff \
                    0001.0002.0003, +1 (202) 555-0173 ext 12, 4111 1111 1111 1111 1111 end";
        let cases: [(&str, ByteSet, Seed, usize, usize); 3] = [
            (
                r"\d(?:[ -]?\d){11,22}",
                ByteSet::new(&[DIGITS], b" -"),
                Seed::Digit,
                12,
                12,
            ),
            (
                r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
                ByteSet::new(&[DIGITS], b"."),
                Seed::Bytes(b"."),
                3,
                7,
            ),
            (
                r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}",
                ByteSet::new(&[DIGITS, (b'a', b'f'), (b'A', b'F')], b":-."),
                Seed::Bytes(b":-."),
                2,
                14,
            ),
        ];
        for (pat, allowed, seed, n, len) in cases {
            let re = Regex::new(pat).unwrap();
            let whole: Vec<(usize, usize)> =
                re.find_iter(text).map(|m| (m.start(), m.end())).collect();
            let got: Vec<(usize, usize)> =
                find_in_runs(&re, text, runs(text, &allowed, seed, n, len))
                    .map(|m| (m.start(), m.end()))
                    .collect();
            assert!(!whole.is_empty(), "{pat}");
            assert_eq!(got, whole, "{pat}");
        }
        assert_eq!(
            runs("١٢٣ 4", &ByteSet::new(&[(0, 255)], b""), Seed::Digit, 9, 9),
            vec![(0, "١٢٣ 4".len())]
        );
    }

    #[test]
    fn placeholders_are_not_context() {
        let words = ["phone", "ssn"];
        assert!(!context_before("[PHONE_1]\n7090", 10, 40, &words));
        assert!(!context_before("HONE_12] 7090", 9, 40, &words));
        assert!(!context_before(
            "[US_SSN_1] and [REDACTED_PHONE] 7090",
            32,
            40,
            &words
        ));
        assert!(context_before("phone [EMAIL_1] 7090", 16, 40, &words));
        assert!(context_before("[x] phone: 7090", 11, 40, &words));
    }

    #[test]
    fn contains_ci_matches_any_case_anywhere() {
        assert!(contains_ci(b"Call my MOBILE now", &["fax", "mobile"]));
        assert!(contains_ci(b"tel", &["tel"]));
        assert!(!contains_ci(b"te", &["tel"]));
        assert!(!contains_ci(b"mobil e", &["mobile"]));
        assert!(contains_ci(b"anything", &[""]));
        assert!(contains_ci(b"x NiNo", &["NINO"]));
        let long = [b'a'; 100];
        assert!(contains_ci(&long, &["AAA"]) && !contains_ci(&long, &["ab"]));
    }

    proptest::proptest! {
        /// Eight bytes at a time finds the same first digit as looking at each byte.
        #[test]
        fn next_digit_agrees_with_a_byte_scan(hay in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            proptest::prop_assert_eq!(next_digit(&hay), hay.iter().position(u8::is_ascii_digit));
        }

        /// The first-letter filter finds exactly what comparing at every offset finds.
        #[test]
        fn contains_ci_agrees_with_comparing_everywhere(
            hay in "[a-dA-D :]{0,80}",
            words in proptest::collection::vec("[a-dA-D:]{0,4}", 0..5),
        ) {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let slow = words.iter().any(|w| contains_ci_slow(hay.as_bytes(), w.as_bytes()));
            proptest::prop_assert_eq!(contains_ci(hay.as_bytes(), &words), slow);
        }
    }

    #[test]
    fn entropy_orders_random_above_repetitive() {
        assert!(entropy("aaaaaaaa") < 0.01);
        assert!(entropy("k8Zq2LpX9vR4mN7w") > 3.5);
    }
}
