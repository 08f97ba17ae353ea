//! Secret and credential scanner: an Aho-Corasick keyword pass picks which rules run and
//! where; each rule's regex then runs only in windows around its keyword hits.

use std::sync::OnceLock;

use super::gate::KeywordHit;
use regex::Regex;

use super::rules::{RULES, Rule, Shape};
use super::{ceil_char, entropy, floor_char, is_word_byte};
use crate::error::{Error, Result};
use crate::finding::FindingType;
use crate::resolve::Candidate;

/// Bytes searched before a keyword hit (some keywords sit inside their token).
const BACK: usize = 256;
/// Bytes searched after a keyword hit.
const FWD: usize = 1024;
/// Private-key blocks are long.
const FWD_BLOCK: usize = 20_000;

/// A regex compiled on first use. 231 rule automata cost tens of MB when built eagerly, and
/// a prompt's keyword hits need only a handful of them.
struct LazyRegex {
    id: &'static str,
    pattern: Box<str>,
    re: OnceLock<Option<Regex>>,
}

impl LazyRegex {
    fn new(id: &'static str, pattern: &str) -> Self {
        Self {
            id,
            pattern: ascii_classes(pattern).into_boxed_str(),
            re: OnceLock::new(),
        }
    }

    /// `None` only if the pattern does not compile; a test compiles every rule, so this is
    /// logged (rule id only) rather than returned from `scan`.
    fn get(&self) -> Option<&Regex> {
        self.re
            .get_or_init(|| match compile(self.id, &self.pattern) {
                Ok(re) => Some(re),
                Err(e) => {
                    tracing::error!(rule = self.id, error = %e, "secret rule failed to compile");
                    None
                }
            })
            .as_ref()
    }
}

struct Compiled {
    rule: Rule,
    re: LazyRegex,
    fwd: usize,
    assigned: bool,
}

/// Generic rules that are not tied to one provider.
struct Generic {
    id: &'static str,
    kind: FindingType,
    re: LazyRegex,
    /// Minimum entropy of the value.
    entropy: f32,
    confidence: f32,
    /// Password-like values may be short and low-entropy.
    password: bool,
}

pub(crate) struct SecretScanner {
    /// Every rule keyword, lowercase, searched for by the keyword gate (`super::gate`).
    keywords: Vec<String>,
    /// Keyword id → indices into `rules` (or, at `rules.len() + i`, generic rule i).
    targets: Vec<Vec<usize>>,
    rules: Vec<Compiled>,
    generic: Vec<Generic>,
}

impl std::fmt::Debug for SecretScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretScanner")
            .field("rules", &self.rules.len())
            .field("generic", &self.generic.len())
            .finish()
    }
}

/// Assignment operators seen in code, config and shell: `=`, `:=`, `.=`, `?=`, `:`, `=>`, …
/// Also `"KEY", "value"` (setProperty, setenv) and `<key>value</key>`.
const ASSIGN: &str = r#"(?:\s*(?:string|str|String))?(?:[\s'"\]\)]{0,3}(?:=|:=|\.=|\?=|\+=|::=|:::=|:|=>|<-|\|\|:|>)|['"]\s*,)[\s'"`=]{0,8}"#;
/// What may follow a value: a quote, space, separator or the end.
const END: &str = r#"(?:[\s'"`;,)\]}<&|]|\\[nrt]|$)"#;

/// Rewrites `\w` and `\d` to their ASCII classes: tokens are ASCII, and Unicode classes
/// under long counted repetitions make automata hundreds of times larger.
fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('w') if in_class => out.push_str("0-9A-Za-z_"),
                Some('w') => out.push_str("[0-9A-Za-z_]"),
                Some('d') if in_class => out.push_str("0-9"),
                Some('d') => out.push_str("[0-9]"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A leading `]` or `^]` is literal.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn compile(id: &'static str, pattern: &str) -> Result<Regex> {
    regex::RegexBuilder::new(pattern)
        .size_limit(32 << 20)
        .dfa_size_limit(8 << 20)
        .build()
        .map_err(|e| Error::Pattern {
            detector: id,
            source: Box::new(e),
        })
}

fn generic_rules() -> Vec<Generic> {
    let key_secret = r"(?:api[_.-]?key|apikey|api[_.-]?token|access[_.-]?token|auth[_.-]?token|secret[_.-]?key|access[_.-]?key|client[_.-]?secret|private[_.-]?key|signing[_.-]?key|token|secret|creds?|credentials?)";
    let specs: [(&'static str, FindingType, String, f32, f32, bool); 5] = [
        (
            "generic-api-key",
            FindingType::Secret,
            format!(r"(?i)(?:^|[^a-z0-9])[\w.-]{{0,40}}?{key_secret}[\w.-]{{0,20}}?{ASSIGN}([a-z0-9_.=+/~@-]{{20,200}}){END}"),
            3.5,
            0.7,
            false,
        ),
        (
            "password-assignment",
            FindingType::Credential,
            format!(r#"(?i)(?:^|[^a-z0-9])[\w.-]{{0,30}}?(?:password|passwd|passphrase|pwd|pass)[\w.-]{{0,20}}?{ASSIGN}([^\s'"`;,<>(){{}}\[\]]{{4,128}}){END}"#),
            2.0,
            0.75,
            true,
        ),
        (
            "password-flag",
            FindingType::Credential,
            format!(r#"(?i)--(?:password|passwd|pass)[= ]['"]?([^\s'"`;]{{4,128}})['"]?{END}"#),
            2.0,
            0.75,
            true,
        ),
        (
            "authorization-header",
            FindingType::Secret,
            r"(?i)(?:authorization|bearer|x-api-key|api-key)[\s'\x22]*[:=]?[\s'\x22]*(?:bearer|basic|token)?\s*([a-z0-9._~+/-]{16,}={0,2})".to_owned(),
            3.2,
            0.8,
            false,
        ),
        (
            "basic-auth-url",
            FindingType::Credential,
            r"(?i)[a-z][a-z0-9+.-]{1,20}://[^\s:/@?#'\x22]{1,64}:([^\s/@?#'\x22]{1,128})@[^\s/?#'\x22]{1,255}".to_owned(),
            1.5,
            0.85,
            true,
        ),
    ];
    specs
        .into_iter()
        .map(|(id, kind, pat, entropy, confidence, password)| Generic {
            id,
            kind,
            re: LazyRegex::new(id, &pat),
            entropy,
            confidence,
            password,
        })
        .collect()
}

/// Keywords of the generic rules, in the same order as [`generic_rules`].
const GENERIC_KEYWORDS: [&[&str]; 5] = [
    &["key", "token", "secret", "cred"],
    &["pass", "pwd"],
    &["--pass"],
    &["authorization", "bearer", "api-key"],
    &["://"],
];

impl SecretScanner {
    pub(crate) fn new() -> Result<Self> {
        let mut keywords: Vec<String> = Vec::new();
        let mut targets: Vec<Vec<usize>> = Vec::new();
        let mut add = |kw: &str, target: usize, keywords: &mut Vec<String>| {
            let kw = kw.to_ascii_lowercase();
            match keywords.iter().position(|k| *k == kw) {
                Some(i) => targets[i].push(target),
                None => {
                    keywords.push(kw);
                    targets.push(vec![target]);
                }
            }
        };
        let mut rules = Vec::with_capacity(RULES.len());
        for (i, rule) in RULES.iter().enumerate() {
            let (pattern, assigned) = match rule.shape {
                Shape::Token(re) => (re.to_owned(), false),
                Shape::Assigned(value) => {
                    let kws: Vec<String> = rule.keywords.iter().map(|k| regex::escape(k)).collect();
                    (
                        format!(
                            "(?i)({})[\\w.-]{{0,40}}?{ASSIGN}({value}){END}",
                            kws.join("|")
                        ),
                        true,
                    )
                }
            };
            let fwd = if rule.id.contains("private-key") || rule.id.starts_with("pgp") {
                FWD_BLOCK
            } else {
                FWD
            };
            rules.push(Compiled {
                rule: *rule,
                re: LazyRegex::new(rule.id, &pattern),
                fwd,
                assigned,
            });
            for kw in rule.keywords {
                add(kw, i, &mut keywords);
            }
        }
        let generic = generic_rules();
        for (g, kws) in GENERIC_KEYWORDS.iter().enumerate() {
            for kw in *kws {
                add(kw, RULES.len() + g, &mut keywords);
            }
        }
        Ok(Self {
            keywords,
            targets,
            rules,
            generic,
        })
    }

    /// Number of provider rules plus generic rules.
    pub(crate) fn rule_count(&self) -> usize {
        self.rules.len() + self.generic.len()
    }

    /// Keywords of every rule, for the keyword gate; `scan` takes their hits by index.
    pub(crate) fn keywords(&self) -> &[String] {
        &self.keywords
    }

    /// `hits`: `(keyword id, start, end)` of the keywords found, in the order found.
    pub(crate) fn scan(&self, text: &str, hits: &[KeywordHit], out: &mut Vec<Candidate>) {
        if hits.is_empty() {
            return;
        }
        let n_targets = self.rules.len() + self.generic.len();
        // Per target, windows in hit order (hits arrive sorted by end, so starts are near-sorted).
        let mut windows: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n_targets];
        for &KeywordHit {
            keyword,
            start,
            end,
        } in hits
        {
            for &t in &self.targets[keyword] {
                let (back, fwd) = if t < self.rules.len() {
                    let c = &self.rules[t];
                    (if c.assigned { 0 } else { BACK }, c.fwd)
                } else {
                    (64, 600)
                };
                let s = start.saturating_sub(back);
                let e = (end + fwd).min(text.len());
                let w = &mut windows[t];
                match w.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => w.push((s, e)),
                }
            }
        }
        for (t, ws) in windows.iter().enumerate() {
            for &(s, e) in ws {
                let s = floor_char(text, s);
                let e = ceil_char(text, e);
                if t < self.rules.len() {
                    self.run_rule(&self.rules[t], text, s, e, out);
                } else {
                    self.run_generic(&self.generic[t - self.rules.len()], text, s, e, out);
                }
            }
        }
    }

    fn run_rule(&self, c: &Compiled, text: &str, ws: usize, we: usize, out: &mut Vec<Candidate>) {
        let hay = &text[ws..we];
        let Some(re) = c.re.get() else { return };
        for caps in re.captures_iter(hay) {
            let (kw, secret) = if c.assigned {
                match (caps.get(1), caps.get(2)) {
                    (Some(k), Some(v)) => (Some(k), v),
                    _ => continue,
                }
            } else {
                match caps.get(1).or_else(|| caps.get(0)) {
                    Some(v) => (None, v),
                    None => continue,
                }
            };
            let start = ws + secret.start();
            let end = ws + secret.end();
            if let Some(k) = kw {
                if !keyword_boundary(text, ws + k.start()) {
                    continue;
                }
            } else if !token_boundary(text, start, end) {
                continue;
            }
            let value = &text[start..end];
            if c.rule.entropy > 0.0 && entropy(value) < c.rule.entropy {
                continue;
            }
            if is_placeholder(value) {
                continue;
            }
            push_unique(
                out,
                Candidate {
                    kind: c.rule.kind,
                    detector: c.rule.id,
                    start,
                    end,
                    confidence: c.rule.confidence,
                },
            );
        }
    }

    fn run_generic(&self, g: &Generic, text: &str, ws: usize, we: usize, out: &mut Vec<Candidate>) {
        let hay = &text[ws..we];
        let Some(re) = g.re.get() else { return };
        for caps in re.captures_iter(hay) {
            let Some(v) = caps.get(1) else { continue };
            let start = ws + v.start();
            let end = ws + v.end();
            let value = &text[start..end];
            if is_placeholder(value) || entropy(value) < g.entropy {
                continue;
            }
            if g.password && looks_like_code(value, text, start, end) {
                continue;
            }
            if !g.password && (!looks_random(value) || has_stopword(value)) {
                continue;
            }
            push_unique(
                out,
                Candidate {
                    kind: g.kind,
                    detector: g.id,
                    start,
                    end,
                    confidence: g.confidence,
                },
            );
        }
    }
}

fn push_unique(out: &mut Vec<Candidate>, c: Candidate) {
    // Overlapping windows of one rule can report the same span twice.
    if !out
        .iter()
        .rev()
        .take(8)
        .any(|o| o.start == c.start && o.end == c.end && o.detector == c.detector)
    {
        out.push(c);
    }
}

/// A provider keyword must start an identifier: at the start, after a non-letter, or at a
/// camelCase hump — so `SetSysctl` does not count as `etsy`.
fn keyword_boundary(text: &str, kw_start: usize) -> bool {
    let b = text.as_bytes();
    if kw_start == 0 {
        return true;
    }
    let prev = b[kw_start - 1];
    if !prev.is_ascii_alphabetic() {
        return true;
    }
    prev.is_ascii_lowercase() && b[kw_start].is_ascii_uppercase()
}

/// A self-identifying token must not be glued to other word characters.
fn token_boundary(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let before_ok = start == 0 || !b[start - 1].is_ascii_alphanumeric();
    let after_ok = end >= b.len() || !(is_word_byte(b[end]) || b[end] == b'-');
    before_ok && after_ok
}

/// Placeholders people put where a secret goes: `${VAR}`, `<token>`, `xxxx`, `changeme`, …
pub(crate) fn is_placeholder(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    const WORDS: [&str; 22] = [
        "example",
        "changeme",
        "change_me",
        "change-me",
        "placeholder",
        "your_",
        "your-",
        "yourkey",
        "xxxx",
        "****",
        "....",
        "<",
        "${",
        "{{",
        "$(",
        "%(",
        "dummy",
        "redacted",
        "sample",
        "replace",
        "insert",
        "todo",
    ];
    if WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    if v.starts_with('$') || v.starts_with('%') {
        return true;
    }
    if v.starts_with('[') && v.ends_with(']') {
        // One of our own placeholders (or a mask): never a secret.
        return true;
    }
    let first = v.chars().next();
    v.chars().all(|c| Some(c) == first)
}

/// A password-ish value that is really code: a type name, keyword, or an identifier path.
fn looks_like_code(v: &str, text: &str, _start: usize, end: usize) -> bool {
    const TYPES: [&str; 24] = [
        "string",
        "str",
        "int",
        "bool",
        "boolean",
        "number",
        "null",
        "none",
        "nil",
        "true",
        "false",
        "undefined",
        "object",
        "any",
        "required",
        "optional",
        "password",
        "secret",
        "text",
        "char",
        "varchar",
        "bytes",
        "self",
        "this",
    ];
    let lower = v.to_ascii_lowercase();
    if TYPES.contains(&lower.as_str()) {
        return true;
    }
    // Unquoted identifier paths (`self.password`, `config.db.pass`) without digits are code.
    let quoted = text
        .as_bytes()
        .get(end)
        .is_some_and(|&c| c == b'"' || c == b'\'' || c == b'`');
    let identifier = v
        .bytes()
        .all(|c| c.is_ascii_alphabetic() || c == b'_' || c == b'.');
    if !quoted && identifier {
        return true;
    }
    lower.starts_with("env.") || lower.starts_with("process.") || lower.starts_with("os.")
}

/// Generic (entropy-only) matches holding a fixture word are test data, not secrets.
fn has_stopword(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    [
        "test", "fake", "mock", "dummy", "sample", "example", "foobar", "lorem",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// Generic tokens must look random: not a dotted identifier path or plain lowercase words.
fn looks_random(v: &str) -> bool {
    let has_digit = v.bytes().any(|c| c.is_ascii_digit());
    let has_upper = v.bytes().any(|c| c.is_ascii_uppercase());
    let has_lower = v.bytes().any(|c| c.is_ascii_lowercase());
    (has_digit && (has_upper || has_lower)) || (has_upper && has_lower && v.len() >= 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_compiles() {
        let sc = SecretScanner::new().unwrap();
        for c in &sc.rules {
            compile(c.rule.id, &c.re.pattern).unwrap();
            assert!(c.re.get().is_some(), "{}", c.rule.id);
        }
        for g in &sc.generic {
            compile(g.id, &g.re.pattern).unwrap();
        }
    }

    /// Deterministic filler so no token-shaped literal sits in the source.
    fn fill(charset: &str, n: usize, seed: u64) -> String {
        let cs: Vec<char> = charset.chars().collect();
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                cs[((x >> 33) as usize) % cs.len()]
            })
            .collect()
    }

    const AN: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const LOWER_AN: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
    const HEX: &str = "0123456789abcdef";
    const UPPER_AN: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    static SCANNER: std::sync::LazyLock<SecretScanner> =
        std::sync::LazyLock::new(|| SecretScanner::new().unwrap());

    static GATE: std::sync::LazyLock<super::super::gate::Gate> = std::sync::LazyLock::new(|| {
        super::super::gate::Gate::new(SCANNER.keywords(), &[]).unwrap()
    });

    fn detectors(text: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        SCANNER.scan(text, &GATE.scan(text).secret, &mut out);
        out.iter().map(|c| c.detector).collect()
    }

    #[test]
    fn provider_formats_are_detected_in_prose_code_and_config() {
        let cases: Vec<(&str, String)> = vec![
            (
                "aws-access-key-id",
                format!("export AWS_ACCESS_KEY_ID=AKIA{}", fill(UPPER_AN, 16, 1)),
            ),
            (
                "github-pat",
                format!("git clone https://x:ghp_{}@github.com/o/r", fill(AN, 36, 2)),
            ),
            (
                "github-fine-grained-pat",
                format!("token: github_pat_{}", fill(AN, 82, 3)),
            ),
            (
                "gitlab-pat",
                format!("GITLAB_TOKEN=glpat-{}", fill(AN, 20, 4)),
            ),
            (
                "slack-bot-token",
                format!(
                    "SLACK=xoxb-{}-{}-{}",
                    fill("0123456789", 12, 5),
                    fill("0123456789", 13, 6),
                    fill(AN, 24, 7)
                ),
            ),
            (
                "stripe-secret-key",
                format!("stripe.api_key = 'sk_live_{}'", fill(AN, 24, 8)),
            ),
            (
                "openai-project-key",
                format!("OPENAI_API_KEY=sk-proj-{}", fill(AN, 64, 9)),
            ),
            (
                "anthropic-api-key",
                format!("x-api-key: sk-ant-api03-{}AA", fill(AN, 93, 10)),
            ),
            ("gcp-api-key", format!("key=AIza{}", fill(AN, 35, 11))),
            (
                "npm-access-token",
                format!("//registry.npmjs.org/:_authToken=npm_{}", fill(AN, 36, 12)),
            ),
            (
                "huggingface-access-token",
                format!(
                    "HF_TOKEN=hf_{}",
                    fill(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                        34,
                        13
                    )
                ),
            ),
            ("sendgrid-api-token", format!("SG.{}", fill(AN, 66, 14))),
            (
                "shopify-access-token",
                format!("shpat_{}", fill(HEX, 32, 15)),
            ),
            (
                "digitalocean-token",
                format!("dop_v1_{}", fill(HEX, 64, 16)),
            ),
            (
                "linkedin-client-secret",
                format!("linkedin_secret = \"{}\"", fill(LOWER_AN, 16, 17)),
            ),
            (
                "etsy-access-token",
                format!("<etsyToken>\n    {}\n</etsyToken>", fill(LOWER_AN, 24, 18)),
            ),
            (
                "jwt",
                format!(
                    "Authorization: Bearer eyJ{}.eyJ{}.{}",
                    fill(AN, 20, 19),
                    fill(AN, 30, 20),
                    fill(AN, 43, 21)
                ),
            ),
            (
                "private-key",
                format!(
                    "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----",
                    fill(AN, 64, 22)
                ),
            ),
            (
                "basic-auth-url",
                format!(
                    "DATABASE_URL=postgres://app:{}@db.internal:5432/app",
                    fill(AN, 14, 23)
                ),
            ),
            (
                "password-assignment",
                format!("{{\"password\": \"{}\"}}", fill(AN, 12, 24)),
            ),
            (
                "generic-api-key",
                format!("my_service_api_key = \"{}\"", fill(AN, 32, 25)),
            ),
        ];
        for (id, text) in &cases {
            let got = detectors(text);
            assert!(got.contains(id), "{id} not detected (got {got:?})");
        }
    }

    #[test]
    fn clean_lookalikes_are_not_flagged() {
        for text in [
            format!("SetSysctl = \"{}\"", fill(LOWER_AN, 24, 30)),
            format!(
                "nonMatchingToken := \"task_test_{}\"",
                fill(LOWER_AN, 30, 31)
            ),
            format!("sntryu_{}", "a".repeat(64)),
            format!("primaryKey={}", fill(AN, 30, 32)),
            "password = getPassword()".to_owned(),
            "password: ${DB_PASSWORD}".to_owned(),
            "git@github.com:org/repo.git".to_owned(),
            format!("sha256: {}", fill(HEX, 64, 33)),
        ] {
            assert_eq!(detectors(&text), Vec::<&str>::new(), "flagged clean text");
        }
    }

    #[test]
    fn ascii_classes_rewrites_inside_and_outside_brackets() {
        assert_eq!(
            ascii_classes(r"a\w{2}[\w.-]\d[^\d]\."),
            r"a[0-9A-Za-z_]{2}[0-9A-Za-z_.-][0-9][^0-9]\."
        );
    }
}
