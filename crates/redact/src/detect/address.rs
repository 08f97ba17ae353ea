//! Street addresses in US, UK, German and French forms, plus unit and box lines.

use regex::Regex;

use super::{compile, glued_before};
use crate::error::Result;
use crate::finding::FindingType;
use crate::resolve::Candidate;

pub(crate) struct Addresses {
    forms: Vec<(Regex, f32)>,
    /// "Rengaskuja 21", "Kárpát u. 16": capitalised non-dictionary words then a house number.
    named: Regex,
}

// A capitalised word, Latin letters with accents.
const CAP: &str = r"\p{Lu}[\p{Ll}\p{Lu}'’\-]*\.?";

impl Addresses {
    pub(crate) fn new() -> Result<Self> {
        let us_types = r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|Ter|Circle|Cir|Circles|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Heights|Hts|Loop|Close|Crescent|Cres|Gardens|Grove|Mews|Row|Hill|Park|Walk|Alley|Plaza|Point|Pike|Run|Path|Crossing|Ridge|Station|Junction|Mall|Center|Centre|Villages?|Estates?|Meadows?|Springs?|Views?|Ways|Lakes?|Shores?|Falls|Fields?|Forest|Glen|Harbor|Haven|Island|Knolls?|Landing|Manor|Mills?|Mountain|Oval|Pass|Pines|Port|Rapids|Spur|Summit|Tunnel|Union|Valley|Vista|Wells?|Bypass|Camp|Canyon|Cape|Causeway|Cliffs?|Club|Common|Corners?|Creek|Crest|Dale|Dam|Divide|Expressway|Extension|Ferry|Flats?|Ford|Fork|Freeway|Gateway|Green|Hollow|Inlet|Keys?|Light|Lock|Lodge|Motorway|Neck|Orchard|Overpass|Prairie|Ramp|Ranch|Rest|River|Route|Shoal|Skyway|Stream|Throughway|Trace|Track|Turnpike|Underpass|Viaduct|Ville)";
        let unit =
            r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|#)\.?\s*[A-Za-z0-9-]{1,6})?";
        let city_zip =
            r"(?:,?\s*(?:\p{Lu}[\p{Ll}]+\s?){1,3},?\s*(?:[A-Z]{2}\s+)?\d{5}(?:-\d{4})?)?";
        let uk_post =
            r"(?:,?\s*(?:\p{Lu}[\p{Ll}]+\s?){0,2},?\s*[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})?";
        let forms = [
            // US / UK: "1600 Pennsylvania Avenue NW, Apt 2, Washington, DC 20500".
            (format!(r"\d{{1,6}}[A-Za-z]?\s+(?:{CAP}\s+){{1,4}}{us_types}\.?(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\.?)?{unit}{city_zip}{uk_post}"), 0.8),
            // German: "Hauptstraße 5a, 10115 Berlin".
            (format!(r"(?:{CAP}\s+)?\p{{Lu}}[\p{{Ll}}]+(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer|chaussee|steig|pfad|markt)\s+\d{{1,4}}\s?[a-z]?(?:,?\s*\d{{5}}\s+{CAP})?"), 0.8),
            // French: "12 bis, rue de la Paix, 75002 Paris".
            (format!(r"(?i:\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|route|cours|passage)\s+(?:(?:de|du|des|la|le|l'|d')\s*){{0,2}})(?:{CAP}\s?){{1,4}}(?:,?\s*\d{{5}}\s+{CAP})?"), 0.8),
            // Unit lines and military / PO boxes.
            (r"(?:Apt|Apartment|Suite|Ste)\.?\s\d{1,5}[A-Za-z]?".to_owned(), 0.7),
            (r"(?:P\.?\s?O\.?\s?Box|PSC\s+\d{3,5},?\s+Box|Unit\s+\d{3,5}\s+Box)\s+\d{1,6}(?:\s+(?:APO|FPO|DPO)\s+A[AEP]\s+\d{5})?".to_owned(), 0.8),
        ];
        let forms = forms
            .into_iter()
            .map(|(p, c)| Ok((compile("street-address", &p)?, c)))
            .collect::<Result<Vec<_>>>()?;
        let named = compile(
            "street-address",
            r"((?:\p{Lu}[\p{Ll}]+\.?[ ]){1,3}(?:\p{Ll}{1,3}\.[ ])?)(\d{1,5}[a-z]?)\.?",
        )?;
        Ok(Self { forms, named })
    }

    pub(crate) fn scan(&self, text: &str, out: &mut Vec<Candidate>) {
        let b = text.as_bytes();
        for caps in self.named.captures_iter(text) {
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
            let all_names = words
                .as_str()
                .split_whitespace()
                .filter(|w| w.starts_with(|c: char| c.is_uppercase()))
                .all(|w| super::person::namelike_word(w.trim_end_matches('.')));
            if all_names {
                out.push(Candidate {
                    kind: FindingType::StreetAddress,
                    detector: "street-address",
                    start: s,
                    end: e,
                    confidence: 0.55,
                });
            }
        }
        for (re, conf) in &self.forms {
            for m in re.find_iter(text) {
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
        while i > 0 && sep(b[i - 1]) && s - i < 2 {
            i -= 1;
        }
        let d = i;
        while i > 0 && b[i - 1].is_ascii_digit() {
            i -= 1;
        }
        if i < d && d - i <= 6 && i < s && (i == 0 || sep(b[i - 1]) || b[i - 1] == b'(') {
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
        c.end = grow_right(c.end);
        if let Some(last) = merged.last_mut() {
            let gap_ok = c.start <= last.end
                || (c.start - last.end <= 4
                    && b[last.end..c.start].iter().all(|&x| sep(x) || x == b'.'));
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
