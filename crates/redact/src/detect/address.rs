//! Street addresses in US, UK, German and French forms, plus unit and box lines.

use regex::Regex;

use super::gate::{Family, Hits, alternation, merge_windows};
use super::{captures_in, compile, find_in_runs, glued_before};
use crate::error::Result;
use crate::finding::FindingType;
use crate::resolve::Candidate;

pub(crate) struct Addresses {
    /// Each form with its confidence and where it can match.
    forms: Vec<(Regex, f32, Site)>,
    /// "Rengaskuja 21", "Kárpát u. 16": capitalised non-dictionary words then a house number.
    named: Regex,
    /// A crossing: "the corner of 26 rue des Lilas and Silva Brooks" (no digit needed).
    corner: Regex,
}

/// Where a form's matches can lie, so its regex searches there instead of the whole text.
#[derive(Clone, Copy)]
enum Site {
    /// Starts at a house number followed by a capitalised word ("1600 Pennsylvania").
    HouseNumber,
    /// Around a German street ending followed by a house number ("…straße 5").
    GermanStreet,
    /// Around a French street word after a house number ("12 rue").
    FrenchStreet,
    /// Anywhere: the regex's literal prefix already makes the search fast.
    Anywhere,
}

/// German street-name endings ("Hauptstraße", "Am Lindenweg").
pub(crate) const GERMAN_STREET_ENDINGS: [&str; 14] = [
    "straße", "strasse", "str.", "weg", "platz", "allee", "gasse", "ring", "damm", "ufer",
    "chaussee", "steig", "pfad", "markt",
];

/// French street words after the house number ("12 rue de la Paix").
pub(crate) const FRENCH_STREET_WORDS: [&str; 13] = [
    "rue",
    "avenue",
    "av.",
    "boulevard",
    "bd",
    "place",
    "chemin",
    "allée",
    "impasse",
    "quai",
    "route",
    "cours",
    "passage",
];

/// Bytes a whole address can span around the word or number that anchors it.
const ADDRESS_REACH: usize = 256;

// A capitalised word, Latin letters with accents.
const CAP: &str = r"\p{Lu}[\p{Ll}\p{Lu}'’\-]*\.?";

/// Words that open a street's name in Romance, Slavic and Portuguese forms ("Via Roma 41",
/// "ul. Opolskiego 8", "R Capela 83"): not names, but part of the address.
const STREET_PREFIXES: [&str; 22] = [
    "via", "viale", "piazza", "corso", "largo", "rua", "r", "travessa", "avenida", "av", "calle",
    "c/", "plaza", "paseo", "rambla", "rue", "ulica", "ul", "aleja", "al", "strada", "v",
];

impl Addresses {
    pub(crate) fn new() -> Result<Self> {
        let us_types = r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|Ter|Circle|Cir|Circles|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Heights|Hts|Loop|Close|Crescent|Cres|Gardens|Grove|Mews|Row|Hill|Park|Walk|Alley|Plaza|Point|Pike|Run|Path|Crossing|Ridge|Station|Junction|Mall|Center|Centre|Villages?|Estates?|Meadows?|Springs?|Views?|Ways|Lakes?|Shores?|Falls|Fields?|Forest|Glen|Harbor|Haven|Island|Knolls?|Landing|Manor|Mills?|Mountain|Oval|Pass|Pines|Port|Rapids|Spur|Summit|Tunnel|Union|Valley|Vista|Wells?|Bypass|Camp|Canyon|Cape|Causeway|Cliffs?|Club|Common|Corners?|Creek|Crest|Dale|Dam|Divide|Expressway|Extension|Ferry|Flats?|Ford|Fork|Freeway|Gateway|Green|Hollow|Inlet|Keys?|Light|Lock|Lodge|Motorway|Neck|Orchard|Overpass|Prairie|Ramp|Ranch|Rest|River|Route|Shoal|Skyway|Stream|Throughway|Trace|Track|Turnpike|Underpass|Viaduct|Ville)";
        let unit =
            r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|#)\.?\s*[A-Za-z0-9-]{1,6})?";
        let city_zip =
            r"(?:,?\s*(?:\p{Lu}[\p{Ll}]+\s?){1,3},?\s*(?:[A-Z]{2}\s+)?\d{5}(?:-\d{4})?)?";
        let uk_post =
            r"(?:,?\s*(?:\p{Lu}[\p{Ll}]+\s?){0,2},?\s*[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})?";
        let german = alternation(&GERMAN_STREET_ENDINGS);
        let french = alternation(&FRENCH_STREET_WORDS);
        let forms = [
            // US / UK: "1600 Pennsylvania Avenue NW, Apt 2, Washington, DC 20500".
            (format!(r"\d{{1,6}}[A-Za-z]?\s+(?:{CAP}\s+){{1,4}}{us_types}\b\.?(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\.?)?{unit}{city_zip}{uk_post}"), 0.8, Site::HouseNumber),
            // German: "Hauptstraße 5a, 10115 Berlin".
            (format!(r"(?:{CAP}\s+)?\p{{Lu}}[\p{{Ll}}]+(?:{german})\s+\d{{1,4}}\s?[a-z]?(?:,?\s*\d{{5}}\s+{CAP})?"), 0.8, Site::GermanStreet),
            // French: "12 bis, rue de la Paix, 75002 Paris".
            (format!(r"(?i:\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+(?:{french})\s+(?:(?:de|du|des|la|le|l'|d')\s*){{0,2}})(?:{CAP}\s?){{1,4}}(?:,?\s*\d{{5}}\s+{CAP})?"), 0.8, Site::FrenchStreet),
            // Unit lines and military / PO boxes.
            (r"(?:Apt|Apartment|Suite|Ste)\.?\s\d{1,5}[A-Za-z]?".to_owned(), 0.7, Site::Anywhere),
            (r"(?:P\.?\s?O\.?\s?Box|PSC\s+\d{3,5},?\s+Box|Unit\s+\d{3,5}\s+Box)\s+\d{1,6}(?:\s+(?:APO|FPO|DPO)\s+A[AEP]\s+\d{5})?".to_owned(), 0.8, Site::Anywhere),
            // A ship's military address: "USNV Andersson\nFPO AA 61328".
            (r"\b(?:USNS|USNV|USS|USCGC)\s+\p{Lu}[\p{L}'’\-]*(?:\s+\p{Lu}[\p{L}'’\-]*)?\s*,?\s+(?:APO|FPO|DPO)\s+A[AEP]\s+\d{5}".to_owned(), 0.8, Site::Anywhere),
        ];
        let forms = forms
            .into_iter()
            .map(|(p, c, site)| Ok((compile("street-address", &p)?, c, site)))
            .collect::<Result<Vec<_>>>()?;
        let named = compile(
            "street-address",
            r"((?:(?:R|V|C/|ul\.|al\.|Av\.)[ ])?(?:\p{Lu}[\p{Ll}]+\.?[ ]){1,3}(?:\p{Ll}{1,3}\.[ ]|(?:gate|gata|gatan|vei|veien|vej|vegen|väg|vägen|tie|katu|utca|ulice|fasor|út|tér|sor)[ ])?)(\d{1,5}[a-z]?)\.?",
        )?;
        let corner = compile(
            "street-address",
            r"(?i:the corner of)\s+[^,.;:!?\n]{0,60}?[\p{Lu}\d][^,.;:!?\n]{0,60}?\s+and\s+\p{Lu}[\p{L}'’\-]*(?:[ ]\p{Lu}[\p{L}'’\-]*){0,3}",
        )?;
        Ok(Self {
            forms,
            named,
            corner,
        })
    }

    /// Street corners, which need no digit (the other forms run only on text with one).
    pub(crate) fn scan_corners(&self, text: &str, out: &mut Vec<Candidate>) {
        for m in self.corner.find_iter(text) {
            out.push(Candidate {
                kind: FindingType::StreetAddress,
                detector: "street-address",
                start: m.start(),
                end: m.as_str().trim_end().len() + m.start(),
                confidence: 0.6,
            });
        }
    }

    /// `hits`: the German and French street words found by the keyword gate.
    pub(crate) fn scan(&self, text: &str, hits: &Hits, out: &mut Vec<Candidate>) {
        let b = text.as_bytes();
        let numbers = house_numbers(b);
        let named_windows = merge_windows(
            text,
            numbers
                .trailing
                .iter()
                .filter_map(|&(s, e)| Some((street_name_before(b, s)?, e + 2))),
        );
        for caps in captures_in(&self.named, text, named_windows) {
            let (Some(m), Some(words), Some(num)) = (caps.get(0), caps.get(1), caps.get(2)) else {
                continue;
            };
            let (s, e) = (m.start(), num.end());
            if glued_before(b, s, b".")
                || (e < b.len()
                    && (b[e].is_ascii_alphanumeric()
                        || b[e] == b':'
                        || (b[e] == b'.' && b.get(e + 1).is_some_and(u8::is_ascii_digit))))
            {
                continue;
            }
            // The street's name: the capitalised words before the number, after the last one
            // that is no name ("Bluebird Aa 0" is "Aa 0"), so text holding a placeholder
            // where that word was is found the same way: redacting twice finds nothing new.
            let base = words.as_str();
            let tokens: Vec<(usize, &str)> = base
                .split_whitespace()
                .map(|w| {
                    (
                        words.start() + (w.as_ptr() as usize - base.as_ptr() as usize),
                        w,
                    )
                })
                .collect();
            let capitalised = |w: &str| w.starts_with(|c: char| c.is_uppercase());
            let prefixed = tokens.first().is_some_and(|(_, w)| {
                STREET_PREFIXES.contains(&w.trim_end_matches('.').to_lowercase().as_str())
            });
            let named = &tokens[usize::from(prefixed)..];
            let start = match named.iter().rposition(|(_, w)| {
                capitalised(w) && !super::person::namelike_word(w.trim_end_matches('.'))
            }) {
                None if prefixed || named.iter().any(|(_, w)| capitalised(w)) => s,
                None => continue,
                Some(last_other) => {
                    match named[last_other + 1..].iter().find(|(_, w)| capitalised(w)) {
                        Some(&(at, _)) => at,
                        None => continue,
                    }
                }
            };
            out.push(Candidate {
                kind: FindingType::StreetAddress,
                detector: "street-address",
                start,
                end: e,
                confidence: 0.55,
            });
        }
        for (re, conf, site) in &self.forms {
            let windows = match site {
                Site::Anywhere => vec![(0, text.len())],
                // A capitalised word (or a non-ASCII letter) after the number and a space.
                Site::HouseNumber => merge_windows(
                    text,
                    numbers.leading.iter().map(|&s| (s, s + ADDRESS_REACH)),
                ),
                Site::GermanStreet => hits.windows(Family::StreetGerman, text, |s, e| {
                    let rest = &b[e..];
                    let blank = rest.iter().take_while(|c| c.is_ascii_whitespace()).count();
                    (blank > 0 && rest.get(blank).is_some_and(u8::is_ascii_digit))
                        .then_some((s.saturating_sub(ADDRESS_REACH / 2), e + ADDRESS_REACH / 4))
                }),
                Site::FrenchStreet => hits.windows(Family::StreetFrench, text, |s, e| {
                    b[s.saturating_sub(12)..s]
                        .iter()
                        .any(u8::is_ascii_digit)
                        .then_some((s.saturating_sub(16), e + ADDRESS_REACH))
                }),
            };
            for m in find_in_runs(re, text, windows) {
                let (s, mut e) = (m.start(), m.end());
                if glued_before(b, s, b"") {
                    continue;
                }
                while e > s && matches!(b[e - 1], b' ' | b',' | b'\n') {
                    e -= 1;
                }
                out.push(Candidate {
                    kind: FindingType::StreetAddress,
                    detector: "street-address",
                    start: s,
                    end: e,
                    confidence: *conf,
                });
            }
        }
    }
}

/// House numbers that can anchor an address, found in one pass over the text's digits.
struct HouseNumbers {
    /// Starts of numbers before a capitalised street name ("1600 Pennsylvania", "221B Baker").
    leading: Vec<usize>,
    /// Numbers after a street name: a space after a lower-case letter or a dot ("Rengaskuja
    /// 21", "Kárpát u. 16").
    trailing: Vec<(usize, usize)>,
}

/// Where the street name before a trailing house number at `s` can start: the fifth
/// space-separated word back (a prefix, three name words and an abbreviation), if one of the
/// four words before the number is capitalised. `None` when none is: no street name.
fn street_name_before(b: &[u8], s: usize) -> Option<usize> {
    let floor = s.saturating_sub(ADDRESS_REACH / 2);
    let mut k = s - 1;
    let mut capitalised = false;
    for word in 0..5 {
        let end = k;
        while k > floor && !b[k - 1].is_ascii_whitespace() {
            k -= 1;
        }
        if word < 4
            && b.get(k)
                .is_some_and(|&c| c.is_ascii_uppercase() || c >= 0x80)
            && k < end
        {
            capitalised = true;
        }
        if k <= floor || b[k - 1] != b' ' {
            break;
        }
        k -= 1;
    }
    capitalised.then_some(k)
}

fn house_numbers(b: &[u8]) -> HouseNumbers {
    let mut numbers = HouseNumbers {
        leading: Vec::new(),
        trailing: Vec::new(),
    };
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if s >= 2
            && b[s - 1] == b' '
            && (b[s - 2].is_ascii_lowercase() || b[s - 2] >= 0x80 || b[s - 2] == b'.')
        {
            numbers.trailing.push((s, i));
        }
        let rest = &b[i..];
        let rest = match rest.split_first() {
            Some((c, tail)) if c.is_ascii_alphabetic() => tail,
            _ => rest,
        };
        let blank = rest.iter().take_while(|c| c.is_ascii_whitespace()).count();
        // Other scripts' capitals and Unicode spaces are not ASCII.
        if rest
            .get(blank)
            .is_some_and(|&c| c >= 0x80 || (blank > 0 && c.is_ascii_uppercase()))
        {
            numbers.leading.push(s);
        }
    }
    numbers
}

/// Joins address fragments into whole addresses: adjacent pieces separated only by spaces,
/// commas or newlines merge, and a house number before or a postcode after is absorbed
/// ("80580 Prinses Beatrixstraat 197 Apt. 355, Leiria 10343" is one address, not four).
pub(crate) fn join_fragments(text: &str, out: &mut Vec<Candidate>) {
    let b = text.as_bytes();
    let mut addr: Vec<Candidate> = Vec::new();
    out.retain(|c| {
        if c.kind == FindingType::StreetAddress {
            addr.push(c.clone());
            false
        } else {
            true
        }
    });
    if addr.is_empty() {
        return;
    }
    addr.sort_by_key(|c| (c.start, std::cmp::Reverse(c.end)));
    let sep = |c: u8| matches!(c, b' ' | b',' | b'\n' | b'\t');
    // Extends over `[sep]*digits` on either side (house numbers, postcodes).
    let grow_right = |mut e: usize| loop {
        let mut i = e;
        while i < b.len() && sep(b[i]) && i - e < 3 {
            i += 1;
        }
        let d = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i > d
            && i - d <= 6
            && i > e
            && (i >= b.len()
                || sep(b[i])
                || (matches!(b[i], b'.' | b')' | b';')
                    && !b.get(i + 1).is_some_and(u8::is_ascii_digit)))
        {
            e = i;
        } else {
            break e;
        }
    };
    let grow_left = |mut s: usize| loop {
        let mut i = s;
        while i > 0 && s - i < 3 {
            match escape_before(b, i) {
                0 if sep(b[i - 1]) => i -= 1,
                0 => break,
                n => i -= n,
            }
        }
        let d = i;
        while i > 0 && b[i - 1].is_ascii_digit() {
            i -= 1;
        }
        if i < d
            && d - i <= 6
            && i < s
            && (i == 0 || sep(b[i - 1]) || b[i - 1] == b'(' || escape_before(b, i) > 0)
        {
            s = i;
        } else {
            break s;
        }
    };
    let mut merged: Vec<Candidate> = Vec::with_capacity(addr.len());
    // The fragments stay candidates too: if a joined address loses an overlap (to a card,
    // say), its fragments can still win theirs.
    out.extend(addr.iter().cloned());
    for mut c in addr {
        c.start = grow_left(c.start);
        c.end = grow_tail(text, grow_right(c.end), out);
        if let Some(last) = merged.last_mut() {
            let gap_ok = c.start <= last.end
                || (c.start - last.end <= 4
                    && b[last.end..c.start]
                        .iter()
                        .all(|&x| sep(x) || matches!(x, b'.' | b'\\' | b'n')));
            if gap_ok {
                last.end = last.end.max(c.end);
                last.confidence = last.confidence.max(c.confidence);
                continue;
            }
        }
        merged.push(c);
    }
    out.extend(merged);
}

/// Length of a line-break escape (`\n`, `\r`, `\t` as two characters, as in JSON or a log)
/// starting at `i`, or 0.
fn escape_at(b: &[u8], i: usize) -> usize {
    if b.get(i) == Some(&b'\\') && matches!(b.get(i + 1), Some(b'n' | b'r' | b't')) {
        2
    } else {
        0
    }
}

/// Length of such an escape ending just before `i`, or 0.
fn escape_before(b: &[u8], i: usize) -> usize {
    if i >= 2 { escape_at(b, i - 2) } else { 0 }
}

/// Extends an address over the lines or comma-separated parts that finish it: city, region
/// code, postcode, country ("…\n TALENCE\n France 90867", "…, Leiria, Portugal 10343"). A part
/// qualifies when every word in it is capitalised or a postcode-like token, and no other
/// finding (a phone number on the next line) starts in it; at most four parts.
fn grow_tail(text: &str, mut end: usize, others: &[Candidate]) -> usize {
    let b = text.as_bytes();
    for _ in 0..4 {
        let mut i = end;
        while i < b.len() && i - end < 8 {
            match escape_at(b, i) {
                0 if matches!(b[i], b' ' | b',' | b'\n' | b'\t' | b'\r') => i += 1,
                0 => break,
                n => i += n,
            }
        }
        // A part is set off by a comma or a line break, or follows a house or unit number
        // ("Suite 234 Mokopane South Africa").
        let set_off = b[end..i].iter().any(|&c| matches!(c, b',' | b'\n' | b'\\'))
            || (i > end && b[end - 1].is_ascii_digit());
        if !set_off {
            break;
        }
        let rest = &text[i..];
        let len = rest
            .find([',', '\n', '\r', ';', '(', ')', '\\'])
            .unwrap_or(rest.len());
        // A sentence ends the part too ("France 90867. Please call").
        let len = rest[..len].find(". ").map_or(len, |dot| dot.min(len));
        let part = rest[..len].trim_end().trim_end_matches('.');
        // The address words at the start of the part ("Sweden after the concert": "Sweden").
        let taken = address_prefix(part);
        let part_end = i + taken;
        if taken == 0
            || part.chars().count() > 40
            || others.iter().any(|o| o.start < part_end && i < o.end)
        {
            break;
        }
        end = part_end;
        if taken < part.len() {
            break;
        }
    }
    end
}

/// Lower-case words inside place names.
const PARTICLES: [&str; 17] = [
    "de", "da", "do", "dos", "das", "di", "del", "della", "la", "le", "van", "von", "der", "den",
    "am", "an", "sur",
];

/// Byte length of the leading words of `part` that can end an address (capitalised words, at
/// most one number, postcode-like tokens; four words at most), trailing punctuation excluded.
fn address_prefix(part: &str) -> usize {
    let mut taken = 0;
    let (mut words, mut numbers) = (0, 0);
    for (at, word) in part
        .split(' ')
        .scan(0, |offset, w| {
            let at = *offset;
            *offset += w.len() + 1;
            Some((at, w))
        })
        .filter(|(_, w)| !w.is_empty())
    {
        let w = word.trim_end_matches(['.', '?', '!', ':']);
        let number = !w.is_empty() && w.bytes().all(|c| c.is_ascii_digit());
        let capitalised = w.starts_with(char::is_uppercase)
            && w.chars()
                .all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '’'));
        let postcode = (3..=10).contains(&w.len())
            && w.bytes().any(|c| c.is_ascii_digit())
            && w.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
        // "Santa Marta de Penaguião", "Torres de Albánchez": particles inside a place name.
        let particle = words > 0 && PARTICLES.contains(&w);
        if particle {
            continue;
        }
        if words == 4 || !(capitalised || postcode) || (number && numbers == 1) {
            break;
        }
        words += 1;
        numbers += usize::from(number);
        taken = at + w.len();
    }
    taken
}
