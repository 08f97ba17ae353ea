//! Person names.
//!
//! - One to three capitalised words after a title (`Dr. Jane Roe`), after a phrase that
//!   introduces a person (`my name is`, `Dear`, `customer`, `said`, `Hi`), after `said X to`,
//!   or as the value of a name field in JSON, YAML or CSV-like text (`"full_name": "Jane Roe"`).
//! - Two or three capitalised words in a row none of which is a common English word, using
//!   SCOWL (the word lists behind Debian's `wamerican`, Kevin Atkinson, permissive licence in
//!   `data/SCOWL-COPYRIGHT`): a word listed in lower case is common ("Build", "Data"); a word
//!   listed capitalised is a proper noun ("Mary", "Gordon"). Unknown words count as names.
//! - One capitalised word that is a first name (Jörg Michael's `nam_dict.txt`, 37k names from
//!   many countries, GFDL, in `data/GIVEN-NAMES-LICENSE`) and not a common word, wherever a
//!   word stands alone (sentence start, speaker labels, lists, possessives), except after a
//!   place preposition ("in Florence"), before another capitalised word ("Victoria Falls") or
//!   for well-known places ("Austin"); a word with a family-name ending ("Ragnarsdóttir",
//!   "Tomaszewski"); or a word SCOWL lists only as a proper noun, mid-sentence.
//!   No synthetic-data generator's name list is used.

use std::io::Read;
use std::sync::LazyLock;

use regex::Regex;

use super::gate::{Family, Hits, alternation};
use super::{Anchored, compile};
use crate::error::{Error, Result};
use crate::finding::FindingType;
use crate::resolve::Candidate;

pub(crate) struct Persons {
    titled: Anchored,
    introduced: Anchored,
    /// "said Koppány to Christy": the one spoken to.
    spoken_to: Anchored,
    field: Anchored,
    shape: Regex,
    /// `\p{Lu}\p{Ll}+`: a capitalised word, for text that is not ASCII.
    capitalised: Regex,
    words: &'static Words,
}

/// SCOWL words: lower-case entries are common words, capitalised entries proper nouns.
struct Words {
    common: SortedWords,
    proper: SortedWords,
}

/// A sorted, deduplicated word list in one allocation, searched by bisection. A `HashSet`
/// of 74k boxed strings costs several MB; this costs the text plus four bytes a word.
struct SortedWords {
    blob: String,
    /// Start of each word in `blob`; word `i` ends at `starts[i + 1]` (or the blob's end).
    starts: Vec<u32>,
    /// First word of each prefix bucket (see [`bucket`]), so a lookup bisects a few hundred
    /// neighbouring words instead of the whole list: a short prompt's lookups were cache
    /// misses across the whole list.
    buckets: Vec<u32>,
}

/// Classes of a byte in byte order: below `a`, each of `a`–`z`, above `z`.
const BYTE_CLASSES: usize = 28;

fn byte_class(c: Option<u8>) -> usize {
    match c {
        None => 0,
        Some(c @ b'a'..=b'z') => usize::from(c - b'a') + 2,
        Some(c) if c < b'a' => 1,
        Some(_) => BYTE_CLASSES + 1,
    }
}

/// A word's bucket: its first two bytes' classes when it starts with a letter, else its
/// first byte's class alone. Non-decreasing in byte order, so every bucket is one range of
/// the sorted list.
fn bucket(w: &[u8]) -> usize {
    let first = byte_class(w.first().copied());
    let second = if (2..BYTE_CLASSES).contains(&first) {
        byte_class(w.get(1).copied())
    } else {
        0
    };
    first * (BYTE_CLASSES + 2) + second
}

impl SortedWords {
    fn new(mut words: Vec<&str>) -> Option<Self> {
        words.sort_unstable();
        words.dedup();
        let mut blob = String::with_capacity(words.iter().map(|w| w.len()).sum());
        let mut starts = Vec::with_capacity(words.len());
        let n_buckets = (BYTE_CLASSES + 2) * (BYTE_CLASSES + 2);
        let mut buckets = Vec::with_capacity(n_buckets + 1);
        for (i, w) in words.iter().enumerate() {
            starts.push(u32::try_from(blob.len()).ok()?);
            blob.push_str(w);
            while buckets.len() <= bucket(w.as_bytes()) {
                buckets.push(u32::try_from(i).ok()?);
            }
        }
        while buckets.len() <= n_buckets {
            buckets.push(u32::try_from(words.len()).ok()?);
        }
        Some(Self {
            blob,
            starts,
            buckets,
        })
    }

    fn word(&self, i: usize) -> &str {
        let s = self.starts[i] as usize;
        let e = self
            .starts
            .get(i + 1)
            .map_or(self.blob.len(), |&e| e as usize);
        &self.blob[s..e]
    }

    fn contains(&self, w: &str) -> bool {
        let b = bucket(w.as_bytes());
        let (mut lo, mut hi) = (self.buckets[b] as usize, self.buckets[b + 1] as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.word(mid).cmp(w) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }
}

/// What the word lists say of one capitalised word.
struct Listed {
    lower: String,
    /// A first name, or shaped like a surname.
    given: bool,
    /// A common English word.
    common: bool,
    /// Listed as a proper noun.
    proper: bool,
}

/// A word list shipped gzip'd in `data/`, one word per line.
fn gunzip(gz: &[u8]) -> Option<String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

static WORDS: LazyLock<Option<Words>> = LazyLock::new(|| {
    let text = gunzip(include_bytes!("../../data/scowl-words.txt.gz"))?;
    // Slices of the text, not one allocation per word: the heap they would leave behind
    // outlives the list.
    let mut lowered = String::new();
    let mut common = Vec::new();
    for w in text.lines() {
        if w.starts_with(|c: char| c.is_uppercase()) {
            lowered.push_str(&w.to_lowercase());
            lowered.push('\n');
        } else {
            common.push(w);
        }
    }
    let proper: Vec<&str> = lowered.lines().collect();
    Some(Words {
        common: SortedWords::new(common)?,
        proper: SortedWords::new(proper)?,
    })
});

/// First names, lower case (see the module doc).
static GIVEN: LazyLock<Option<SortedWords>> = LazyLock::new(|| {
    let text = gunzip(include_bytes!("../../data/given-names.txt.gz"))?;
    SortedWords::new(text.lines().collect())
});

/// Well-known places that are also first names: alone, the place is the likelier reading
/// ("Austin has a big tech scene"); in a full name ("Jordan Peterson") they still count.
const PLACES_NAMED_LIKE_PEOPLE: [&str; 46] = [
    "austin",
    "denver",
    "dallas",
    "houston",
    "phoenix",
    "orlando",
    "florence",
    "victoria",
    "sydney",
    "adelaide",
    "wellington",
    "hamilton",
    "kingston",
    "jordan",
    "georgia",
    "virginia",
    "carolina",
    "florida",
    "paris",
    "london",
    "lyon",
    "milan",
    "vienna",
    "geneva",
    "sofia",
    "valencia",
    "santiago",
    "alexandria",
    "chelsea",
    "madison",
    "lincoln",
    "savannah",
    "charlotte",
    "aurora",
    "raleigh",
    "augusta",
    "helena",
    "salem",
    "dayton",
    "eugene",
    "regina",
    "india",
    "china",
    "kenya",
    "israel",
    "chad",
];

/// Endings that make a word a family name in the languages they come from: Nordic
/// patronymics, Slavic, Romanian, Greek and Turkish surname suffixes ("Ragnarsdóttir",
/// "Knudsen", "Tomaszewski", "Sklenářová", "Popescu", "Papadopoulos", "Yılmazoğlu").
const SURNAME_ENDINGS: [&str; 20] = [
    "dóttir", "dottir", "sson", "ssen", "sen", "son", "ski", "ska", "cki", "cka", "ová", "ovà",
    "vić", "vic", "enko", "czyk", "wicz", "escu", "poulos", "oğlu",
];

/// A word shaped like a family name (lower case, not a common word: the caller checks).
fn surname_shaped(lower: &str) -> bool {
    lower.chars().count() >= 5 && SURNAME_ENDINGS.iter().any(|end| lower.ends_with(end))
}

/// Capitalised product, platform and org words that are not in a dictionary but are not names.
const TECH: [&str; 76] = [
    "salesforce",
    "zendesk",
    "hubspot",
    "atlassian",
    "notion",
    "figma",
    "shopify",
    "workday",
    "servicenow",
    "tableau",
    "databricks",
    "numpy",
    "github",
    "gitlab",
    "bitbucket",
    "kubernetes",
    "docker",
    "javascript",
    "typescript",
    "postgres",
    "postgresql",
    "mysql",
    "redis",
    "nginx",
    "linux",
    "ubuntu",
    "debian",
    "fedora",
    "android",
    "chrome",
    "firefox",
    "safari",
    "slack",
    "jira",
    "confluence",
    "okta",
    "azure",
    "google",
    "microsoft",
    "amazon",
    "stripe",
    "twilio",
    "openai",
    "anthropic",
    "claude",
    "chatgpt",
    "copilot",
    "golang",
    "kotlin",
    "django",
    "flask",
    "laravel",
    "terraform",
    "ansible",
    "jenkins",
    "vercel",
    "netlify",
    "heroku",
    "supabase",
    "firebase",
    "mongodb",
    "kafka",
    "rabbitmq",
    "elasticsearch",
    "grafana",
    "prometheus",
    "datadog",
    "sentry",
    "tauri",
    "vite",
    "webpack",
    "svelte",
    "react",
    "angular",
    "nodejs",
    "graphql",
];

/// Words that end an organisation's name.
const ORG: [&str; 16] = [
    "inc",
    "llc",
    "ltd",
    "plc",
    "gmbh",
    "corp",
    "co",
    "ag",
    "sa",
    "bv",
    "group",
    "holdings",
    "partners",
    "associates",
    "bank",
    "university",
];

// A capitalised name word, accents allowed; not ALL CAPS (placeholders, acronyms).
const NAME: &str = r"\p{Lu}\p{Ll}[\p{Ll}'’\-]*(?:-\p{Lu}\p{Ll}+)?";
const INITIAL: &str = r"\p{Lu}\.?";

/// Capitalised words that follow our context phrases but are not names.
const STOP: [&str; 24] = [
    "The", "This", "That", "Team", "All", "Sir", "Madam", "Customer", "Support", "Sales", "Hi",
    "Hello", "There", "Everyone", "Thanks", "Thank", "Regards", "Best", "Please", "Admin", "User",
    "Manager", "Service", "Our",
];

/// Is this capitalised word plausibly a name (not a common word, product or org suffix)?
pub(crate) fn namelike_word(w: &str) -> bool {
    let Some(words) = WORDS.as_ref() else {
        return false;
    };
    with_lowercase(w, |lower| {
        !TECH_AND_PLACES.contains(lower)
            && !ORG.contains(&lower)
            && (!words.common.contains(lower) || words.proper.contains(lower))
    })
}

/// Tech and place words in one hashed set: checked for every name candidate, where scanning
/// the arrays cost more than the rest of the verdict.
static TECH_AND_PLACES: LazyLock<foldhash::HashSet<&'static str>> =
    LazyLock::new(|| TECH.iter().chain(&PLACE).copied().collect());

/// Runs `f` on `w` in lower case: an ASCII word is lowered on the stack, without allocating.
fn with_lowercase<T>(w: &str, f: impl FnOnce(&str) -> T) -> T {
    let mut buf = [0u8; 32];
    match buf.get_mut(..w.len()) {
        Some(lowered) if w.is_ascii() => {
            lowered.copy_from_slice(w.as_bytes());
            lowered.make_ascii_lowercase();
            f(std::str::from_utf8(lowered).unwrap_or_default())
        }
        _ => f(&w.to_lowercase()),
    }
}

/// Place words that start or end many capitalised runs ("South Africa", "Rua Mouco").
const PLACE: [&str; 43] = [
    "north",
    "south",
    "east",
    "west",
    "new",
    "saint",
    "san",
    "santa",
    "los",
    "las",
    "port",
    "fort",
    "mount",
    "lake",
    "rua",
    "via",
    "calle",
    "avenida",
    "strada",
    "ulica",
    "rue",
    "avenue",
    "street",
    "road",
    "spain",
    "france",
    "germany",
    "italy",
    "portugal",
    "switzerland",
    "austria",
    "poland",
    "slovenia",
    "africa",
    "america",
    "england",
    "scotland",
    "ireland",
    "zealand",
    "monaco",
    "alaska",
    "nebraska",
    "essen",
];

/// Words that introduce a person: the name follows ("my name is Ann", "Dear Mr Roe").
pub(crate) const INTRODUCING: [&str; 32] = [
    "my name is",
    "my name's",
    "i am called",
    "dear",
    "signed",
    "sincerely,",
    "regards,",
    "cheers,",
    "thanks,",
    "customer",
    "client",
    "patient",
    "employee",
    "contact person",
    "assigned to",
    "reported by",
    "requested by",
    "cc:",
    "from:",
    "to:",
    "author:",
    "contact:",
    "full name:",
    "hi",
    "hello",
    "hey",
    "calls me",
    "call me",
    "said",
    "says",
    "asked",
    "replied",
];

/// Field names whose value is a person's name (JSON, YAML, CSV headers, `key=value`).
pub(crate) const NAME_FIELDS: [&str; 18] = [
    "full_name",
    "fullname",
    "first_name",
    "firstname",
    "last_name",
    "lastname",
    "customer_name",
    "customername",
    "contact_name",
    "contactname",
    "author",
    "display_name",
    "displayname",
    "owner",
    "assignee",
    "reporter",
    "user_name",
    "username",
];

/// Titles before a name, as written (matched case-sensitively).
pub(crate) const TITLES: [&str; 20] = [
    "Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Dame", "Herr", "Frau", "Mme", "Mlle",
    "M.", "Monsieur", "Madame", "Señor", "Señora", "Sr", "Sra",
];

/// Verbs of speech: "said Koppány to Christy" names the one spoken to.
pub(crate) const SPEAKING: [&str; 6] = ["said", "says", "asked", "replied", "whispered", "shouted"];

/// Bytes after a context word within which the name it introduces must start and end.
const NAME_REACH: usize = 160;

impl Persons {
    pub(crate) fn new() -> Result<Self> {
        let titles = alternation(&TITLES);
        let speaking = alternation(&SPEAKING);
        let introducing = alternation(&INTRODUCING);
        let fields = alternation(&NAME_FIELDS);
        let words = WORDS.as_ref().ok_or(Error::WordList)?;
        let full = format!(r"{NAME}(?:\s+(?:{INITIAL}\s+)?{NAME}){{0,2}}");
        let name = compile("person-name", &format!("^(?:{full})"))?;
        let context = |detector, prefix: String| Anchored::new(detector, &prefix, &full, &name);
        Ok(Self {
            // Anchored: tried at each keyword hit.
            titled: context("person-title", format!(r"(?:{titles})\.?\s+"))?,
            introduced: context("person-context", format!(r"(?i:{introducing})\s*[,:]?\s*"))?,
            spoken_to: context(
                "person-context",
                format!(r"(?i:{speaking})\s+{full}\s+to\s+"),
            )?,
            field: context("person-field", format!(r#"(?i:{fields})"?\s*[:=]\s*"?"#))?,
            shape: compile(
                "person-name",
                r"(?:Mc|Mac|O['’])?\p{Lu}\p{Ll}+(?:[-'’]\p{Lu}\p{Ll}+)?(?:[ \t]+(?:\p{Lu}\.?[ \t]+)?(?:Mc|Mac|O['’])?\p{Lu}\p{Ll}+(?:[-'’]\p{Lu}\p{Ll}+)?){1,3}",
            )?,
            capitalised: compile("person-name", r"\p{Lu}\p{Ll}+")?,
            words,
        })
    }

    fn namelike(&self, w: &str) -> bool {
        let _ = self.words;
        namelike_word(w)
    }

    /// Every capitalised word (`\p{Lu}\p{Ll}+`), in order. Thousands of short matches cost
    /// the regex engine more per match than per byte, so ASCII text is scanned by hand.
    fn capitalised_words(&self, text: &str) -> Vec<(usize, usize)> {
        if !text.is_ascii() {
            return self
                .capitalised
                .find_iter(text)
                .map(|m| (m.start(), m.end()))
                .collect();
        }
        let b = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(off) = b[i..].iter().position(u8::is_ascii_uppercase) {
            let s = i + off;
            let e = s
                + 1
                + b[s + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_lowercase())
                    .count();
            if e > s + 1 {
                out.push((s, e));
            }
            i = e;
        }
        out
    }

    /// Runs of two or more capitalised words ("Dana Whitfield", "John F. Kennedy"). The shape
    /// regex runs only where two capitalised words stand next to each other.
    fn scan_shapes(&self, text: &str, words: &[(usize, usize)], out: &mut Vec<Candidate>) {
        let b = text.as_bytes();
        // Between two words of a name: blanks, an initial, an apostrophe or a hyphen
        // ("O'Neil", "Smith-Jones", "McDonald" is "Mc" + "Donald").
        let joins = |gap: &[u8]| {
            let mut marks = gap.iter().filter(|&&c| c != b' ' && c != b'\t');
            marks.clone().count() <= 6
                && marks.all(|&c| {
                    c.is_ascii_uppercase() || matches!(c, b'.' | b'\'' | b'-') || c >= 0x80
                })
        };
        let pairs = words.windows(2).filter_map(|pair| {
            let ((s, e), (s2, e2)) = (pair[0], pair[1]);
            joins(&b[e..s2]).then_some((s, e2))
        });
        let windows = super::gate::merge_windows(text, pairs);
        for m in super::find_in_runs(&self.shape, text, windows) {
            let (s, e) = (m.start(), m.end());
            let glued =
                |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '@');
            // "config.Value Name" or "Name@host" are code and addresses, not names.
            let before = text[..s].chars().next_back();
            if glued(before)
                || before == Some('.') && s >= 2 && b[s - 2] != b' '
                || glued(text[e..].chars().next())
            {
                continue;
            }
            // Longest run of name-like words (initials ride along) with at least two names.
            let mut run: Vec<(usize, usize)> = Vec::new();
            let mut best: Option<(usize, usize, usize)> = None;
            let flush = |run: &mut Vec<(usize, usize)>,
                         best: &mut Option<(usize, usize, usize)>| {
                let names = run.iter().filter(|(a, z)| z - a > 2).count();
                if let (true, Some(first), Some(last)) = (
                    names >= 2 && best.is_none_or(|(_, _, n)| names > n),
                    run.first(),
                    run.last(),
                ) {
                    *best = Some((first.0, last.1, names));
                }
                run.clear();
            };
            let mut i = s;
            for w in text[s..e].split([' ', '\t']) {
                if w.is_empty() {
                    i += 1;
                    continue;
                }
                let (ws, we) = (i, i + w.len());
                i = we + 1;
                let initial = w.trim_end_matches('.').chars().count() == 1;
                if (initial && !run.is_empty()) || (!initial && self.namelike(w)) {
                    run.push((ws, we));
                } else {
                    flush(&mut run, &mut best);
                }
            }
            flush(&mut run, &mut best);
            // A trailing organisation word ("Robinson PLC") makes the run an organisation.
            if let Some((a, z, _)) = best {
                let next = text[z..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches([',', '.']);
                if ORG.contains(&next.to_lowercase().as_str()) {
                    continue;
                }
                // Between a number and a number it is a street ("80580 Prinses Beatrixstraat 197").
                let prev = text[..a].split_whitespace().next_back().unwrap_or("");
                let numeric = |t: &str| {
                    let t = t.trim_end_matches([',', '.']);
                    (1..=6).contains(&t.len()) && t.bytes().all(|c| c.is_ascii_digit())
                };
                if (text[z..].starts_with(' ') && numeric(next))
                    || (text[..a].ends_with(' ') && numeric(prev))
                {
                    out.push(Candidate {
                        kind: FindingType::StreetAddress,
                        detector: "street-name",
                        start: a,
                        end: z,
                        confidence: 0.5,
                    });
                    continue;
                }
                out.push(Candidate {
                    kind: FindingType::Person,
                    detector: "person-name",
                    start: a,
                    end: z,
                    confidence: 0.6,
                });
            }
        }
    }

    /// A single capitalised word: a first name wherever a word stands alone (not after a place
    /// preposition), or a word SCOWL lists only as a proper noun, mid-sentence and not after a
    /// place preposition. Weaker evidence, lower confidence.
    fn scan_single(&self, text: &str, capitalised: &[(usize, usize)], out: &mut Vec<Candidate>) {
        const PLACE_BEFORE: [&str; 8] = ["in", "at", "from", "to", "near", "on", "via", "visit"];
        const NOT_AFTER: [&str; 4] = ["of", "the", "a", "an"];
        // After these a capitalised word names a thing ("the new Wilson score", "class Jackson").
        const THING_BEFORE: [&str; 16] = [
            "the",
            "a",
            "an",
            "new",
            "class",
            "struct",
            "enum",
            "trait",
            "interface",
            "extends",
            "implements",
            "import",
            "type",
            "impl",
            "def",
            "fn",
        ];
        const CALENDAR: [&str; 19] = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
            "january",
            "february",
            "march",
            "april",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
            "christmas",
        ];
        let Some(words) = WORDS.as_ref() else { return };
        let given_names = GIVEN.as_ref();
        // Word-list verdicts per distinct word: prompts repeat their capitalised words
        // ("Please …" on every line), and each verdict costs a lower-casing and three bisections.
        let mut listed: foldhash::HashMap<&str, Listed> = Default::default();
        // `\p{Lu}\p{Ll}{2,}`: capitalised words of three letters or more.
        for &(s, e) in capitalised
            .iter()
            .filter(|&&(s, e)| text[s..e].chars().nth(2).is_some())
        {
            // A JSON or log escape (`\n`, `\t`) before the word is a line break, not a letter.
            let escaped = ["\\n", "\\r", "\\t"]
                .iter()
                .find_map(|esc| text[..s].strip_suffix(esc));
            let (head, before) = match escaped {
                Some(head) => (head.trim_end_matches([' ', '\t']), Some('\n')),
                None => (
                    text[..s].trim_end_matches([' ', '\t']),
                    text[..s].chars().next_back(),
                ),
            };
            let after = text[e..].chars().next();
            let apostrophe = matches!(after, Some('\'' | '’'));
            if before.is_some_and(|c| {
                c.is_alphanumeric()
                    || matches!(c, '_' | '@' | '.' | '/' | '-' | '<' | '"' | '\'' | '`')
            }) || (!apostrophe
                && after.is_some_and(|c| {
                    c.is_alphanumeric()
                        || matches!(c, '_' | '@' | '(' | '/' | '-' | '=' | '"' | '`' | '>' | '[')
                }))
            {
                continue;
            }
            let Listed {
                lower,
                given,
                common,
                proper,
            } = listed.entry(&text[s..e]).or_insert_with_key(|w| {
                let lower = w.to_lowercase();
                Listed {
                    given: given_names.is_some_and(|g| g.contains(&lower))
                        || surname_shaped(&lower),
                    common: words.common.contains(&lower),
                    proper: words.proper.contains(&lower),
                    lower,
                }
            });
            let (lower, given) = (lower.as_str(), *given);
            let line_start = escaped.is_some() || head.is_empty() || head.ends_with('\n');
            // A transcript's speaker ("\nRoger: You saved my life!") is a name even when the
            // word is also a common one; "Max: 100" is not a speaker.
            let speaker = given
                && line_start
                && text[e..]
                    .strip_prefix(": ")
                    .is_some_and(|said| said.starts_with(|c: char| c.is_uppercase() || c == '"'));
            if (*common && !speaker) || CALENDAR.contains(&lower) || TECH_AND_PLACES.contains(lower)
            {
                continue;
            }
            // A first name's possessive ("Erik's address") still stands alone; any other
            // apostrophe glues the word to something ("O'Neil" is found as a whole elsewhere).
            if apostrophe
                && !(given && {
                    let rest = &text[e + after.map_or(0, char::len_utf8)..];
                    rest.starts_with('s') && !rest[1..].starts_with(char::is_alphanumeric)
                })
            {
                continue;
            }
            if !given && !*proper {
                continue;
            }
            // Sentence start: after ". ", "! ", "? ", a line break, a label, or at the beginning.
            let sentence_start = escaped.is_some()
                || head.is_empty()
                || head.ends_with(['.', '!', '?', '\n', ':', '#', '*', '-']);
            let prev = head
                .rsplit([' ', '\t', '\n'])
                .next()
                .unwrap_or("")
                .to_lowercase();
            let prev = prev.as_str();
            // "Victoria Falls", "Jackson Hole": the first word of a longer proper noun (whole
            // names are found as shapes).
            // One of our placeholders (`[IBAN_1]`) counts as capitalised: the value it replaced
            // may have been, and redacting twice must find nothing new.
            let next_capitalised = text[e..].strip_prefix(' ').is_some_and(|rest| {
                let rest = rest.strip_prefix('[').unwrap_or(rest);
                rest.starts_with(char::is_uppercase)
            });
            let stands_alone = if given {
                !PLACE_BEFORE.contains(&prev)
                    && !THING_BEFORE.contains(&prev)
                    && !next_capitalised
                    && !PLACES_NAMED_LIKE_PEOPLE.contains(&lower)
            } else {
                !sentence_start && !PLACE_BEFORE.contains(&prev) && !NOT_AFTER.contains(&prev)
            };
            if !stands_alone {
                continue;
            }
            out.push(Candidate {
                kind: FindingType::Person,
                detector: "person-name",
                start: s,
                end: e,
                confidence: if given { 0.5 } else { 0.45 },
            });
        }
    }

    /// `hits`: the introducing words and name fields found by the keyword gate.
    pub(crate) fn scan(&self, text: &str, hits: &Hits, out: &mut Vec<Candidate>) {
        let words = self.capitalised_words(text);
        self.scan_shapes(text, &words, out);
        self.scan_single(text, &words, out);
        let b = text.as_bytes();
        // `introduced` and `spoken_to` start at a word boundary, `titled` at a title in its
        // case, a field at its name (an opening quote before it changes nothing captured).
        let bounded = |s: usize| s == 0 || !(b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'_');
        // Between a context word and its name the patterns allow blanks and `,:."=` only, and
        // a name starts with a capital: most hits ("Hi team", "client.post") end here.
        let name_follows = |e: usize| {
            let next = b[e..].iter().find(|c| {
                !(c.is_ascii_whitespace() || matches!(c, b',' | b':' | b'.' | b'"' | b'='))
            });
            next.is_some_and(|&c| c.is_ascii_uppercase() || c >= 0x80)
        };
        let attempts = |family: Family, keep: &dyn Fn(usize, usize) -> bool, reach: usize| {
            hits.of(family)
                .iter()
                .filter(|&&(s, e)| keep(s, e) && name_follows(e))
                .map(|&(s, e)| (s, e + reach))
                .collect::<Vec<_>>()
        };
        let titled = attempts(
            Family::PersonTitle,
            &|s, e| TITLES.contains(&&text[s..e]),
            1 + NAME_REACH,
        );
        let introduced = attempts(Family::PersonIntroduced, &|s, _| bounded(s), NAME_REACH);
        let spoken_to = attempts(Family::PersonSpoken, &|s, _| bounded(s), 2 * NAME_REACH);
        let fields = attempts(Family::PersonField, &|_, _| true, NAME_REACH);
        for (re, attempts, detector, conf) in [
            (&self.titled, titled, "person-title", 0.9f32),
            (&self.introduced, introduced, "person-context", 0.75),
            (&self.spoken_to, spoken_to, "person-context", 0.7),
            (&self.field, fields, "person-field", 0.8),
        ] {
            for (s, e) in re.tails_at(text, attempts) {
                // Drop leading stop words ("Dear Team"), keep the rest.
                let mut start = s;
                let mut name = &text[s..e];
                while let Some(first) = name.split_whitespace().next() {
                    if STOP.contains(&first) {
                        let skip = name.find(first).unwrap_or(0) + first.len();
                        start += skip;
                        name = &name[skip..];
                        let trimmed = name.trim_start();
                        start += name.len() - trimmed.len();
                        name = trimmed;
                    } else {
                        break;
                    }
                }
                if name.is_empty() {
                    continue;
                }
                // After a context word the name must still look like one ("Customer Success").
                if detector != "person-title"
                    && !name
                        .split_whitespace()
                        .any(|w| w.chars().count() > 2 && namelike_word(w))
                {
                    continue;
                }
                out.push(Candidate {
                    kind: FindingType::Person,
                    detector,
                    start,
                    end: start + name.len(),
                    confidence: conf,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowered_like_to_lowercase() {
        for w in [
            "Dana",
            "WHITFIELD",
            "x",
            "",
            "Ölsen",
            "ÆRØ",
            &"Ab".repeat(16),
            &"Ab".repeat(17),
        ] {
            assert_eq!(with_lowercase(w, str::to_owned), w.to_lowercase(), "{w:?}");
        }
    }

    #[test]
    fn bucketed_lookup_finds_exactly_the_listed_words() {
        let listed = [
            "", "'tis", "-ish", "0day", "a", "ab", "abc", "b", "zz", "zzz", "é", "éa", "ça",
            "zürich",
        ];
        let words = SortedWords::new(listed.to_vec()).unwrap();
        for w in listed {
            assert!(words.contains(w), "{w:?} is listed");
        }
        for w in ["'ti", "-", "0", "aa", "abd", "c", "z", "zzzz", "è", "ç"] {
            assert!(!words.contains(w), "{w:?} is not listed");
        }
        let scowl = WORDS.as_ref().unwrap();
        for i in (0..scowl.common.starts.len()).step_by(97) {
            assert!(scowl.common.contains(scowl.common.word(i)));
        }
    }
}
