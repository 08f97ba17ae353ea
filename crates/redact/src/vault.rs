//! The per-conversation map between placeholders and original values. Memory only.

// foldhash, not std's SipHash: these maps are hashed on every finding, where SipHash showed in
// profiles; the keys come from the user's own prompts, so hash flooding gains nobody anything.
use foldhash::HashMap;
use std::sync::Arc;

use crate::finding::FindingType;
use crate::restore::Restorer;

const TYPES: usize = FindingType::ALL.len();

/// Maps values to conversation-stable placeholders (`[EMAIL_1]`) and back.
///
/// Lives in memory only and is dropped with the conversation. Its `Debug` prints counts,
/// never values.
#[derive(Default, Clone)]
pub struct Vault {
    /// Per type (indexed by `FindingType as usize`), value → placeholder.
    by_value: [HashMap<String, String>; TYPES],
    // Shared with restorers so a snapshot for a streamed answer costs one pointer copy.
    by_placeholder: Arc<HashMap<String, String>>,
    /// Placeholders minted so far, per type.
    counters: [u32; TYPES],
}

impl Vault {
    /// An empty vault for a new conversation.
    pub fn new() -> Self {
        Self::default()
    }

    /// The placeholder for `value`, minting `[TYPE_N]` the first time it is seen.
    pub fn placeholder(&mut self, kind: FindingType, value: &str) -> &str {
        let of_kind = &mut self.by_value[kind as usize];
        if !of_kind.contains_key(value) {
            let n = &mut self.counters[kind as usize];
            *n += 1;
            let p = placeholder_text(kind, *n);
            Arc::make_mut(&mut self.by_placeholder).insert(p.clone(), value.to_owned());
            of_kind.insert(value.to_owned(), p);
        }
        of_kind.get(value).map_or("", String::as_str)
    }

    /// The original value behind a placeholder, if this conversation minted it.
    pub fn lookup(&self, placeholder: &str) -> Option<&str> {
        self.by_placeholder.get(placeholder).map(String::as_str)
    }

    /// Number of distinct values held.
    pub fn len(&self) -> usize {
        self.by_placeholder.len()
    }

    /// True when nothing was pseudonymized yet.
    pub fn is_empty(&self) -> bool {
        self.by_placeholder.is_empty()
    }

    /// A streaming restorer for one answer, seeing every placeholder minted so far.
    pub fn restorer(&self) -> Restorer {
        Restorer::new(Arc::clone(&self.by_placeholder))
    }

    /// Replaces every known placeholder in a complete text.
    pub fn restore(&self, text: &str) -> String {
        let mut r = self.restorer();
        let mut out = r.push(text);
        out.push_str(&r.finish());
        out
    }
}

/// `[TYPE_N]`, written directly: `format!` cost more than the rest of minting one.
fn placeholder_text(kind: FindingType, n: u32) -> String {
    let stem = kind.as_str();
    let mut digits = itoa::Buffer::new();
    let number = digits.format(n);
    let mut p = String::with_capacity(stem.len() + number.len() + 3);
    p.push('[');
    p.push_str(stem);
    p.push('_');
    p.push_str(number);
    p.push(']');
    p
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("entries", &self.by_placeholder.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_same_placeholder_and_types_count_separately() {
        let mut v = Vault::new();
        let a = v
            .placeholder(FindingType::Email, "a@example.org")
            .to_owned();
        let b = v
            .placeholder(FindingType::Email, "b@example.org")
            .to_owned();
        let a2 = v
            .placeholder(FindingType::Email, "a@example.org")
            .to_owned();
        let p = v
            .placeholder(FindingType::Phone, "+1 202 555 0101")
            .to_owned();
        assert_eq!(a, "[EMAIL_1]");
        assert_eq!(b, "[EMAIL_2]");
        assert_eq!(a2, a, "stable within a conversation");
        assert_eq!(p, "[PHONE_1]");
        assert_eq!(v.lookup("[EMAIL_2]"), Some("b@example.org"));
        assert_eq!(v.lookup("[EMAIL_3]"), None);
    }

    #[test]
    fn placeholder_numbers_are_written_in_decimal() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, u32::MAX] {
            assert_eq!(
                placeholder_text(FindingType::UsSsn, n),
                format!("[US_SSN_{n}]")
            );
        }
    }

    #[test]
    fn debug_never_prints_values() {
        let mut v = Vault::new();
        v.placeholder(FindingType::Secret, "hunter2-super-secret");
        let dbg = format!("{v:?}");
        assert!(!dbg.contains("hunter2"), "Debug leaked a value: {dbg}");
        assert!(
            !dbg.contains("SECRET_1"),
            "Debug should not list placeholders either"
        );
    }
}
