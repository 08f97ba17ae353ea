//! Validated PII detectors: email, phone, payment card, IBAN, US SSN, IP, MAC.
//!
//! Each finds candidates cheaply (a byte search or a linear-time regex) and then validates
//! them (checksums, registries, parsers) so bare digit runs do not become findings.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use regex::Regex;

use super::gate::{Family, Hits};
use super::{ByteSet, DIGITS, Seed, context_before, glued_before, is_word_byte};
use crate::error::Result;
use crate::finding::FindingType;
use crate::resolve::Candidate;

fn cand(
    kind: FindingType,
    detector: &'static str,
    start: usize,
    end: usize,
    confidence: f32,
) -> Candidate {
    Candidate {
        kind,
        detector,
        start,
        end,
        confidence,
    }
}

// ---------------------------------------------------------------------------------------
// Email

fn is_local_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-' | b'\'')
}

fn is_domain_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')
}

/// Finds `local@domain.tld` around every `@`.
pub(crate) fn emails(text: &str, out: &mut Vec<Candidate>) {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(off) = text[from..].find('@') {
        let at = from + off;
        from = at + 1;
        let mut s = at;
        while s > 0 && is_local_byte(b[s - 1]) && at - s < 64 {
            s -= 1;
        }
        // "\\nann@x.org": an escaped newline before the address is not part of it.
        if s >= 1 && s < at && b[s - 1] == b'\\' && matches!(b[s], b'n' | b't' | b'r') {
            s += 1;
        }
        while s < at && matches!(b[s], b'.' | b'\'' | b'-' | b'+') {
            s += 1;
        }
        let mut e = at + 1;
        while e < b.len() && is_domain_byte(b[e]) && e - at < 255 {
            e += 1;
        }
        while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
            e -= 1;
        }
        if s == at || e <= at + 1 {
            continue;
        }
        let local = &text[s..at];
        let domain = &text[at + 1..e];
        if local.contains("..") || domain.contains("..") || local == "git" {
            continue;
        }
        let mut labels = domain.split('.');
        let tld = domain.rsplit('.').next().unwrap_or("");
        if labels.clone().count() < 2
            || !(2..=24).contains(&tld.len())
            || !tld.bytes().all(|c| c.is_ascii_alphabetic())
            || labels.any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
        {
            continue;
        }
        from = e;
        out.push(cand(FindingType::Email, "email", s, e, 0.97));
    }
}

// ---------------------------------------------------------------------------------------
// Payment cards

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(*d);
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Issuer identification ranges of the major networks, with the lengths each issues.
fn iin_ok(d: &[u8]) -> bool {
    let n = d.len();
    let p = |k: usize| d[..k].iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
    let (p1, p2, p3, p4, p6) = (p(1), p(2), p(3), p(4), p(6));
    match p1 {
        4 => matches!(n, 13 | 16 | 19),                             // Visa
        5 if (51..=55).contains(&p2) => n == 16,                    // Mastercard
        2 if (2221..=2720).contains(&p4) => n == 16,                // Mastercard 2-series
        2 if (2200..=2204).contains(&p4) => (16..=19).contains(&n), // Mir
        3 if p2 == 34 || p2 == 37 => n == 15,                       // Amex
        3 if (300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39 => {
            (14..=19).contains(&n)
        } // Diners
        // JCB issues 3528–3589; card generators and some co-branded ranges use all of 35xx.
        3 if p2 == 35 => (16..=19).contains(&n), // JCB
        6 if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 => (16..=19).contains(&n), // Discover
        6 if (622_126..=622_925).contains(&p6) || p2 == 62 => (16..=19).contains(&n), // UnionPay
        6 | 5 if p2 == 50 || (56..=69).contains(&p2) => (12..=19).contains(&n),       // Maestro
        1 if p4 == 1800 => n == 15,                                                   // JCB legacy
        2 if p4 == 2131 => n == 15,                                                   // JCB legacy
        0 if p4 == 604 => (12..=19).contains(&n), // Maestro UK legacy (0604)
        8 if p2 == 81 || p2 == 82 => n == 16,     // RuPay
        9 if p4 == 9792 => n == 16,               // Troy
        _ => false,
    }
}

/// `runs`: maximal runs of [`CARD_BYTES`] holding nine digits or more (shared with SSNs);
/// `re` is anchored (see [`super::find_anchored_from`]).
pub(crate) fn cards(re: &Regex, text: &str, runs: &[(usize, usize)], out: &mut Vec<Candidate>) {
    let b = text.as_bytes();
    // `\d` also matches other scripts' digits: the walk below stands in for the regex on
    // ASCII text only.
    let ascii = text.is_ascii();
    for &(rs, re_end) in runs {
        if b[rs..re_end].iter().filter(|c| c.is_ascii_digit()).count() < 12 {
            continue;
        }
        let hay = &text[..re_end];
        let mut pos = rs;
        let next = |pos: usize| {
            if ascii {
                card_walk_from(b, pos, re_end)
            } else {
                super::find_anchored_from(re, hay, pos, |c| c.is_ascii_digit())
            }
        };
        while let Some((s, e)) = next(pos) {
            match card_at(b, s, e) {
                Some((end, conf)) => {
                    out.push(cand(FindingType::CreditCard, "credit-card", s, end, conf));
                    pos = end;
                }
                // A run like "1234 4111 1111 1111 1111" may hold a card after its first group.
                None => pos = next_group(b, s, e),
            }
        }
    }
}

/// What the card regex `^\d(?:[ -]?\d){11,22}` finds tried at each ASCII digit from `pos` in
/// `b[..end]`, without a regex call per start: every step is forced (a digit, or one separator
/// and a digit), so a greedy walk is the regex's match.
fn card_walk_from(b: &[u8], mut pos: usize, end: usize) -> Option<(usize, usize)> {
    while pos < end {
        pos += b[pos..end].iter().position(u8::is_ascii_digit)?;
        let (mut i, mut digits) = (pos + 1, 1);
        while digits < 23 && i < end {
            if b[i].is_ascii_digit() {
                i += 1;
            } else if matches!(b[i], b' ' | b'-') && i + 1 < end && b[i + 1].is_ascii_digit() {
                i += 2;
            } else {
                break;
            }
            digits += 1;
        }
        if digits >= 12 {
            return Some((pos, i));
        }
        pos += 1;
    }
    None
}

/// Bytes a card or SSN match consists of.
pub(crate) const CARD_BYTES: ByteSet = ByteSet::new(&[DIGITS], b" -");

/// Start of the second digit group of the run `s..e` (or `e`), to retry from there.
fn next_group(b: &[u8], s: usize, e: usize) -> usize {
    let mut i = s;
    while i < e && b[i].is_ascii_digit() {
        i += 1;
    }
    while i < e && !b[i].is_ascii_digit() {
        i += 1;
    }
    i.max(s + 1)
}

/// The longest prefix of the run that is a card: Luhn, IIN, one separator style.
fn card_at(b: &[u8], s: usize, e: usize) -> Option<(usize, f32)> {
    if glued_before(b, s, b".-/:+$#") {
        return None;
    }
    // The card regex matches at most 23 digits: fixed arrays, no allocation per candidate.
    const MAX: usize = 23;
    let mut digits = [0u8; MAX];
    let mut ends = [0usize; MAX];
    let mut seps_before = [0usize; MAX];
    let mut n_digits = 0;
    let mut seps = 0usize;
    let mut sep_kind: Option<u8> = None;
    let mut mixed_from = usize::MAX;
    for (i, &c) in b[s..e].iter().enumerate() {
        if c.is_ascii_digit() {
            if n_digits == MAX {
                break;
            }
            digits[n_digits] = c - b'0';
            ends[n_digits] = s + i + 1;
            seps_before[n_digits] = seps;
            n_digits += 1;
        } else {
            seps += 1;
            match sep_kind {
                None => sep_kind = Some(c),
                Some(k) if k != c && mixed_from == usize::MAX => mixed_from = n_digits,
                Some(_) => {}
            }
        }
    }
    for n in (12..=n_digits.min(19)).rev() {
        if n > mixed_from {
            continue;
        }
        let end = ends[n - 1];
        let at_boundary = end >= b.len()
            || !(b[end].is_ascii_alphanumeric()
                || (b[end] == b'.' && b.get(end + 1).is_some_and(u8::is_ascii_digit)));
        if !at_boundary {
            continue;
        }
        let d = &digits[..n];
        // Written cards group digits in fours (Amex 4-6-5): no short group before the last.
        let mut groups = b[s..end].split(|c| !c.is_ascii_digit()).map(<[u8]>::len);
        let last = groups.next_back().unwrap_or(0);
        let grouped = groups.all(|g| g >= 4) && last >= 3;
        if grouped && luhn(d) && iin_ok(d) && !d.iter().all(|&x| x == d[0]) {
            let conf = if seps_before[n - 1] == 0 && n < 15 {
                0.75
            } else {
                0.92
            };
            return Some((end, conf));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------
// IBAN

/// IBAN length per country (SWIFT IBAN registry).
fn iban_len(cc: &str) -> Option<usize> {
    Some(match cc {
        "NO" => 15,
        "BE" => 16,
        "DK" | "FI" | "FO" | "GL" | "NL" | "SD" | "FK" => 18,
        "MK" | "SI" => 19,
        "AT" | "BA" | "EE" | "KZ" | "LT" | "LU" | "XK" | "MN" => 20,
        "CH" | "HR" | "LI" | "LV" => 21,
        "BG" | "BH" | "CR" | "DE" | "GB" | "GE" | "IE" | "ME" | "RS" | "VA" => 22,
        "AE" | "GI" | "IL" | "IQ" | "TL" | "OM" | "SO" => 23,
        "AD" | "CZ" | "ES" | "MD" | "PK" | "RO" | "SA" | "SE" | "SK" | "TN" | "VG" => 24,
        "LY" | "PT" | "ST" => 25,
        "IS" | "TR" => 26,
        "FR" | "GR" | "IT" | "MC" | "MR" | "SM" | "BI" | "DJ" => 27,
        "AL" | "AZ" | "BY" | "CY" | "DO" | "GT" | "HU" | "LB" | "PL" | "SV" | "NI" | "HN" => 28,
        "BR" | "EG" | "PS" | "QA" | "UA" => 29,
        "JO" | "KW" | "MU" | "YE" => 30,
        "MT" | "SC" => 31,
        "LC" => 32,
        "RU" => 33,
        _ => return None,
    })
}

fn mod97(iban: &[u8]) -> bool {
    let mut r: u32 = 0;
    for &c in iban[4..].iter().chain(&iban[..4]) {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c.to_ascii_uppercase() - b'A') + 10
        };
        r = if v >= 10 {
            (r * 100 + v) % 97
        } else {
            (r * 10 + v) % 97
        };
    }
    r == 1
}

/// `re` is anchored (see [`super::find_anchored_from`]); it matches only capitals, digits and
/// spaces, so it runs only in runs of those long enough to hold an IBAN.
pub(crate) fn ibans(re: &Regex, text: &str, out: &mut Vec<Candidate>) {
    const IBAN_BYTES: ByteSet = ByteSet::new(&[DIGITS, (b'A', b'Z')], b" ");
    for (rs, re_end) in super::runs(text, &IBAN_BYTES, Seed::Digit, 2, 15) {
        let hay = &text[..re_end];
        let mut pos = rs;
        while let Some((s, e)) = super::find_anchored_from(re, hay, pos, |c| c.is_ascii_uppercase())
        {
            // The regex is greedy: the next IBAN may start inside this match.
            pos = s + 1;
            if let Some(end) = iban_at(text, s, e) {
                out.push(cand(FindingType::Iban, "iban", s, end, 0.97));
                pos = end;
            }
        }
    }
}

fn iban_at(text: &str, s: usize, e: usize) -> Option<usize> {
    let b = text.as_bytes();
    if glued_before(b, s, b"") {
        return None;
    }
    let want = iban_len(&text[s..s + 2])?;
    let mut chars: Vec<u8> = Vec::with_capacity(want);
    let mut end = s;
    for (i, &c) in b[s..e].iter().enumerate() {
        if c == b' ' {
            continue;
        }
        chars.push(c);
        end = s + i + 1;
        if chars.len() == want {
            break;
        }
    }
    if chars.len() != want || (end < b.len() && b[end].is_ascii_alphanumeric()) {
        return None;
    }
    mod97(&chars).then_some(end)
}

// ---------------------------------------------------------------------------------------
// US SSN

fn ssn_valid(area: u32, group: u32, serial: u32) -> bool {
    // Sample numbers published in advertising and by the SSA.
    const SAMPLES: [(u32, u32, u32); 3] = [(78, 5, 1120), (219, 9, 9999), (123, 45, 6789)];
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && !SAMPLES.contains(&(area, group, serial))
}

/// `runs`: the card runs (see [`cards`]).
pub(crate) fn ssns(re: &Regex, text: &str, runs: &[(usize, usize)], out: &mut Vec<Candidate>) {
    let b = text.as_bytes();
    for m in super::find_in_runs(re, text, runs.iter().copied()) {
        let (s, e) = (m.start(), m.end());
        if glued_before(b, s, b"-./")
            || (e < b.len()
                && (is_word_byte(b[e])
                    || (matches!(b[e], b'-' | b'.' | b'/')
                        && b.get(e + 1).is_some_and(u8::is_ascii_digit))))
        {
            continue;
        }
        let digits: Vec<u32> = m
            .as_str()
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|c| u32::from(c - b'0'))
            .collect();
        if digits.len() != 9 {
            continue;
        }
        let num = |r: std::ops::Range<usize>| digits[r].iter().fold(0, |a, &d| a * 10 + d);
        if !ssn_valid(num(0..3), num(3..5), num(5..9)) {
            continue;
        }
        let bare = m.as_str().bytes().all(|c| c.is_ascii_digit());
        let ctx = context_before(
            text,
            s,
            48,
            &["ssn", "social security", "social sec", "tax id", "taxpayer"],
        );
        if bare && !ctx {
            continue;
        }
        out.push(cand(
            FindingType::UsSsn,
            "us-ssn",
            s,
            e,
            if ctx { 0.95 } else { 0.85 },
        ));
    }
}

// ---------------------------------------------------------------------------------------
// IP and MAC addresses

pub(crate) fn ipv4s(re: &Regex, text: &str, out: &mut Vec<Candidate>) {
    let b = text.as_bytes();
    const IP_BYTES: ByteSet = ByteSet::new(&[DIGITS], b".");
    let runs = super::runs(text, &IP_BYTES, Seed::Bytes(b"."), 3, 7);
    for m in super::find_in_runs(re, text, runs) {
        let (s, e) = (m.start(), m.end());
        if glued_before(b, s, b".") {
            continue;
        }
        if e < b.len()
            && (is_word_byte(b[e])
                || (b[e] == b'.' && b.get(e + 1).is_some_and(u8::is_ascii_digit)))
        {
            continue;
        }
        // "version 1.2.3.4", "v1.2.3.4" are versions, not addresses.
        if context_before(
            text,
            s,
            12,
            &["version", "ver ", "ver.", "release", "build"],
        ) {
            continue;
        }
        let Ok(ip) = Ipv4Addr::from_str(m.as_str()) else {
            continue;
        };
        if ip.is_loopback() || ip.is_unspecified() || ip.is_broadcast() || ip.octets()[0] == 255 {
            continue;
        }
        out.push(cand(FindingType::IpAddress, "ipv4", s, e, 0.9));
    }
}

pub(crate) fn ipv6s(re: &Regex, text: &str, out: &mut Vec<Candidate>) {
    let b = text.as_bytes();
    for m in re.find_iter(text) {
        let (s, mut e) = (m.start(), m.end());
        if s > 0 && (is_word_byte(b[s - 1]) || b[s - 1] == b':') {
            continue;
        }
        // A trailing single ':' is punctuation ("address fe80::1:").
        while e > s && b[e - 1] == b':' && !(e >= s + 2 && b[e - 2] == b':') {
            e -= 1;
        }
        if e < b.len() && is_word_byte(b[e]) {
            continue;
        }
        let cand_str = &text[s..e];
        if cand_str.bytes().filter(|&c| c == b':').count() < 3 {
            continue;
        }
        let Ok(ip) = Ipv6Addr::from_str(cand_str) else {
            continue;
        };
        if ip.is_loopback() || ip.is_unspecified() {
            continue;
        }
        out.push(cand(FindingType::IpAddress, "ipv6", s, e, 0.9));
    }
}

pub(crate) fn macs(re: &Regex, text: &str, out: &mut Vec<Candidate>) {
    let b = text.as_bytes();
    const MAC_BYTES: ByteSet = ByteSet::new(&[DIGITS, (b'a', b'f'), (b'A', b'F')], b":-.");
    let runs = super::runs(text, &MAC_BYTES, Seed::Bytes(b":-."), 2, 14);
    for m in super::find_in_runs(re, text, runs) {
        let (s, e) = (m.start(), m.end());
        if (s > 0 && (is_word_byte(b[s - 1]) || matches!(b[s - 1], b':' | b'-' | b'.')))
            || (e < b.len()
                && (is_word_byte(b[e])
                    || (matches!(b[e], b':' | b'-' | b'.')
                        && b.get(e + 1).is_some_and(u8::is_ascii_hexdigit))))
        {
            continue;
        }
        let hex: Vec<u8> = m.as_str().bytes().filter(u8::is_ascii_hexdigit).collect();
        if hex.iter().all(|&c| c == b'0') || hex.iter().all(|&c| c == b'f' || c == b'F') {
            continue;
        }
        out.push(cand(FindingType::MacAddress, "mac", s, e, 0.9));
    }
}

// ---------------------------------------------------------------------------------------
// Phone numbers

/// Regions tried for numbers written without a `+` country code.
const REGIONS: [phonenumber::country::Id; 16] = {
    use phonenumber::country::Id::*;
    [
        US, GB, DE, FR, CH, NL, ES, IT, AU, IN, BR, SE, AT, BE, PL, IE,
    ]
};

pub(crate) const PHONE_CONTEXT: [&str; 12] = [
    "phone", "tel", "call", "mobile", "cell", "fax", "contact", "reach", "whatsapp", "number",
    "sms", "text me",
];

/// Labels written after a number in signatures and contact blocks.
pub(crate) const PHONE_AFTER: [&str; 7] =
    ["office", "mobile", "fax", "cell", "home", "work", "(tel"];

pub(crate) struct PhoneRegexes {
    /// Parser verdicts by normalised candidate. Chat clients resend the whole conversation on
    /// every turn, so the same numbers are validated again and again; the parser costs tens
    /// of microseconds per call. Bounded: cleared when full.
    memo: std::sync::Mutex<std::collections::HashMap<String, bool>>,
    pub candidate: Regex,
    pub nanp: Regex,
    pub date: Regex,
    /// 3-2-4 groups are SSN-shaped, not phone-shaped.
    pub ssn_shape: Regex,
}

/// The `phonenumber` crate compiles its metadata patterns lazily into one LRU of 100
/// entries shared by all regions; validating against several regions evicts and recompiles
/// patterns on every call (~0.3 ms per number). Room for every region's patterns keeps them
/// compiled. Done once per process.
fn widen_phonenumber_cache() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(mut cache) = phonenumber::metadata::DATABASE.cache().lock() {
            *cache = regex_cache::RegexCache::new(8192);
        }
    });
}

impl PhoneRegexes {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            memo: std::sync::Mutex::new(std::collections::HashMap::new()),
            // Anchored: searched from each possible start (see `find_anchored_from`).
            candidate: super::compile(
                "phone",
                r"^(?:\+\d{1,3}[ .-]?)?(?:\(0\)[ ]?)?(?:\(\d{1,5}\)[ .-]?)?\d[\d .\-/]{4,20}\d(?:[ ]?(?:x|ext\.?|#)[ ]?\d{1,6})?",
            )?,
            nanp: super::compile(
                "phone",
                r"^(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?:[ ]?(?:x|ext\.?)[ ]?\d{1,6})?$",
            )?,
            ssn_shape: super::compile("phone", r"^\d{3}[- ]\d{2}[- ]\d{4}$")?,
            date: super::compile(
                "phone",
                r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?:[ T]\d{1,2})?$",
            )?,
        })
    }
}

/// `hits`: the gate's phone context words.
pub(crate) fn phones(re: &PhoneRegexes, text: &str, hits: &Hits, out: &mut Vec<Candidate>) {
    const PHONE_BYTES: ByteSet = ByteSet::new(&[DIGITS], b"+() .-/xet#");
    for (rs, re_end) in super::runs(text, &PHONE_BYTES, Seed::Digit, 7, 7) {
        phones_in(re, text, hits, rs, re_end, out);
    }
}

/// Phones in `text[..end]` from `pos` on (one run from [`super::runs`]).
fn phones_in(
    re: &PhoneRegexes,
    text: &str,
    hits: &Hits,
    mut pos: usize,
    run_end: usize,
    out: &mut Vec<Candidate>,
) {
    let b = text.as_bytes();
    let hay = &text[..run_end];
    while pos <= hay.len()
        && let Some((s, e)) = super::find_anchored_from(&re.candidate, hay, pos, |c| {
            c.is_ascii_digit() || c == b'+' || c == b'('
        })
    {
        // The run may join a phone with a neighbouring number ("+1 202-555-0173 1.1.1.77"):
        // try ends at each space, longest first; on failure retry after the first group.
        let mut found = None;
        let mut end = e;
        // Inside a longer digit run only strong evidence counts ("4111 1111" of a card is not
        // a phone).
        let continues_run = s >= 2 && b[s - 1] == b' ' && b[s - 2].is_ascii_digit();
        // Next to one of our placeholders counts the same as next to the number it replaced,
        // so redacting twice changes nothing more.
        let seps: &[char] = &[' ', '-', '.', '/', ','];
        let after_placeholder =
            text[..s].trim_end_matches(seps).ends_with(']') && text[..s].ends_with(seps);
        // A phone has seven digits or more: shorter ends are not worth a try.
        while b[s..end].iter().filter(|c| c.is_ascii_digit()).count() >= 7 {
            let before_placeholder = text[end..].starts_with(seps)
                && text[end..].trim_start_matches(seps).starts_with('[');
            let strong_only = continues_run || after_placeholder || before_placeholder || end < e;
            if let Some(hit) = phone_at(re, text, hits, s, end, strong_only) {
                found = Some(hit);
                break;
            }
            match text[s..end].rfind(' ') {
                Some(i) if i > 0 => end = s + i,
                _ => break,
            }
        }
        match found {
            Some((ps, pe, conf)) => {
                out.push(cand(FindingType::Phone, "phone", ps, pe, conf));
                pos = pe;
            }
            None => pos = next_group(b, s, e),
        }
    }
}

fn phone_at(
    re: &PhoneRegexes,
    text: &str,
    hits: &Hits,
    s: usize,
    e: usize,
    strong_only: bool,
) -> Option<(usize, usize, f32)> {
    let b = text.as_bytes();
    let (mut s, mut e) = (s, e);
    // The candidate regex may start inside "(0)" or after an opening parenthesis.
    if s > 0 && b[s - 1] == b'(' && !text[s..e].starts_with('(') {
        s -= 1;
    }
    if glued_before(b, s, b".-/:#$=v") {
        return None;
    }
    while e > s && !b[e - 1].is_ascii_digit() {
        e -= 1;
    }
    if e < b.len()
        && (is_word_byte(b[e])
            || (matches!(b[e], b'.' | b'-' | b'/' | b':')
                && b.get(e + 1).is_some_and(u8::is_ascii_digit)))
    {
        return None;
    }
    let cand_str = &text[s..e];
    let main = cand_str.split(['x', '#']).next().unwrap_or(cand_str);
    let main = main.trim_end_matches(['e', ' ', '.']);
    let digits = main.bytes().filter(u8::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return None;
    }
    let seps = main.bytes().filter(|c| !c.is_ascii_digit()).count();
    // Every check up to the verdict only rejects: the cheap structural ones run first and the
    // context words (a scan of the bytes around) are looked up only when a decision needs
    // them, so runs of card, IBAN and id digits end here after a few byte tests.
    // Phone numbers do not end in a one-digit group ("20240311.4" is a build number).
    let last_group = main.bytes().rev().take_while(u8::is_ascii_digit).count();
    if last_group < 2 {
        return None;
    }
    // "012 - 0000", "12  34": two separators in a row are prose, not a phone layout.
    let sep = |c: &u8| matches!(c, b' ' | b'.' | b'-' | b'/');
    if main.as_bytes().windows(2).any(|w| sep(&w[0]) && sep(&w[1])) {
        return None;
    }
    let plus = main.starts_with('+');
    // A context word in the 40 bytes before or a label in the 12 bytes after.
    let mut ctx_memo = None;
    let mut ctx = || {
        *ctx_memo.get_or_insert_with(|| {
            hits.any_within(Family::PhoneBefore, text, s.saturating_sub(40), s)
                || hits.any_within(Family::PhoneAfter, text, e, e + 12)
        })
    };
    if seps == 0 && !plus && !ctx() {
        return None;
    }
    // A NANP number has ten digits, eleven with the country code.
    let shaped = (10..=11).contains(&digits) && re.nanp.is_match(cand_str);
    // Inside a longer digit run only a NANP shape or a validated number with a country code
    // or a context word counts; decide that before paying for the phone-number parser.
    if strong_only && !shaped && !plus && !ctx() {
        return None;
    }
    // Dates have at most ten digits (with an hour), SSNs nine.
    if looks_like_ip_or_version(main)
        || (digits <= 10 && re.date.is_match(main))
        || (digits == 9 && re.ssn_shape.is_match(main))
    {
        return None;
    }
    // "build 2024 0311 77", "Apt. 350 44663" (a unit and a postcode), "#4127" (a ticket).
    if context_before(text, s, 10, &["build", "version", "ver."])
        || context_before(
            text,
            s,
            8,
            &[
                "apt", "suite", "unit", "box", "no.", "#", "order", "ticket", "invoice", "id ",
            ],
        )
    {
        return None;
    }
    if shaped && !plus {
        // NANP layout: accept without the parser (Faker-style and fictional 555 numbers are
        // still numbers someone typed as a phone).
        return Some((s, e, if ctx() { 0.9 } else { 0.8 }));
    }
    // "+41 (0)66 …": the trunk prefix in parentheses is dropped when dialling from abroad.
    let dial = main.replace("(0)", "");
    let main = dial.as_str();
    let valid = re.validate(main, plus);
    let conf = match (valid, shaped, ctx()) {
        (true, _, true) => 0.95,
        (true, _, false) if !strong_only => 0.85,
        (true, _, false) if plus => 0.85,
        (false, true, _) => 0.7,
        (false, false, true) if seps > 0 && !strong_only => 0.6,
        _ => return None,
    };
    Some((s, e, conf))
}

impl PhoneRegexes {
    const MEMO_CAP: usize = 4096;

    fn validate(&self, number: &str, plus: bool) -> bool {
        if let Ok(memo) = self.memo.lock()
            && let Some(&v) = memo.get(number)
        {
            return v;
        }
        // The metadata (several MB) loads on the first candidate, not in `Redactor::new`.
        widen_phonenumber_cache();
        let v = if plus {
            phonenumber::parse(None, number).is_ok_and(|n| phonenumber::is_valid(&n))
        } else {
            REGIONS.iter().any(|r| {
                phonenumber::parse(Some(*r), number).is_ok_and(|n| phonenumber::is_valid(&n))
            })
        };
        if let Ok(mut memo) = self.memo.lock() {
            if memo.len() >= Self::MEMO_CAP {
                memo.clear();
            }
            memo.insert(number.to_owned(), v);
        }
        v
    }
}

fn looks_like_ip_or_version(s: &str) -> bool {
    s.split('.').count() >= 3
        && s.split('.')
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The walk finds what the card regex finds, at every start and cut.
        #[test]
        fn card_walk_agrees_with_the_regex(text in "[0-9 \\-a]{0,60}", pos in 0usize..60, cut in 0usize..60) {
            let re = super::super::compile("credit-card", r"^\d(?:[ -]?\d){11,22}").unwrap();
            let end = cut.min(text.len());
            let pos = pos.min(end);
            let hay = &text[..end];
            proptest::prop_assert_eq!(
                card_walk_from(text.as_bytes(), pos, end),
                super::super::find_anchored_from(&re, hay, pos, |c| c.is_ascii_digit())
            );
        }
    }

    #[test]
    fn luhn_and_iin() {
        let d = |s: &str| s.bytes().map(|c| c - b'0').collect::<Vec<_>>();
        assert!(luhn(&d("4111111111111111")) && iin_ok(&d("4111111111111111")));
        assert!(!luhn(&d("4111111111111112")), "one digit off fails Luhn");
        assert!(iin_ok(&d("378282246310005")), "Amex 15 digits");
        assert!(!iin_ok(&d("1234567812345670")), "no network issues 1234…");
    }

    #[test]
    fn iban_checksum() {
        assert!(mod97(b"GB82WEST12345698765432"));
        assert!(!mod97(b"GB82WEST12345698765433"));
        assert!(mod97(b"DE89370400440532013000"));
    }

    #[test]
    fn ssn_rules() {
        assert!(ssn_valid(523, 11, 8386));
        assert!(!ssn_valid(666, 11, 8386), "area 666 is never issued");
        assert!(!ssn_valid(901, 11, 8386), "9xx areas are not SSNs");
        assert!(!ssn_valid(523, 0, 8386));
        assert!(!ssn_valid(523, 11, 0));
        assert!(!ssn_valid(78, 5, 1120), "the Woolworth sample number");
    }
}
