//! Streaming restorer: placeholders in a model's answer become the originals again.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::finding::FindingType;

/// Longest digit run a placeholder counter can have (`u32::MAX` has 10 digits).
const MAX_DIGITS: usize = 10;

/// Longest possible placeholder in bytes: `[` + longest type name + `_` + digits + `]`.
pub const MAX_PLACEHOLDER_LEN: usize = 1 + 15 + 1 + MAX_DIGITS + 1;

/// Turns placeholders back into values, fed chunk by chunk.
///
/// Holds back only a tail that could still become a placeholder (at most
/// [`MAX_PLACEHOLDER_LEN`] − 1 bytes); anything that cannot is emitted at once. Unknown or
/// malformed placeholders pass through unchanged.
pub struct Restorer {
    map: Arc<foldhash::HashMap<String, String>>,
    pending: String,
    // Bytes of a UTF-8 character split across `push_bytes` calls (at most 3).
    carry: Vec<u8>,
    bytes_seen: u64,
}

impl std::fmt::Debug for Restorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restorer")
            .field("entries", &self.map.len())
            .field("held_bytes", &self.pending.len())
            .finish_non_exhaustive()
    }
}

/// How far a `[`-started tail matches the placeholder grammar.
enum Shape {
    /// A whole placeholder of this byte length.
    Complete(usize),
    /// Could still become one: hold it back.
    Prefix,
    /// Cannot be one: emit the `[` as text.
    NotPlaceholder,
}

fn shape(s: &str) -> Shape {
    let b = s.as_bytes();
    debug_assert_eq!(b.first(), Some(&b'['));
    let body = &b[1..];
    for t in FindingType::ALL {
        let name = t.as_str().as_bytes();
        let n = name.len().min(body.len());
        if body[..n] != name[..n] {
            continue;
        }
        if body.len() <= name.len() {
            return Shape::Prefix;
        }
        let rest = &body[name.len()..];
        if rest[0] != b'_' {
            continue;
        }
        let digits = &rest[1..];
        let run = digits.iter().take_while(|c| c.is_ascii_digit()).count();
        if run > MAX_DIGITS {
            continue;
        }
        if run == digits.len() {
            return Shape::Prefix;
        }
        if run > 0 && digits[run] == b']' {
            return Shape::Complete(1 + name.len() + 1 + run + 1);
        }
    }
    Shape::NotPlaceholder
}

impl Restorer {
    pub(crate) fn new(map: Arc<foldhash::HashMap<String, String>>) -> Self {
        Self {
            map,
            pending: String::new(),
            carry: Vec::new(),
            bytes_seen: 0,
        }
    }

    /// Feeds a text chunk; returns what can be emitted now.
    pub fn push(&mut self, chunk: &str) -> String {
        if self.pending.is_empty() && !chunk.contains('[') {
            return chunk.to_owned();
        }
        self.pending.push_str(chunk);
        self.drain(false)
    }

    /// Feeds raw bytes (an SSE body may split a UTF-8 character). Invalid UTF-8 is an error.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<String> {
        let base = self.bytes_seen - self.carry.len() as u64;
        self.bytes_seen += bytes.len() as u64;
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(bytes);
        match std::str::from_utf8(&buf) {
            Ok(s) => Ok(self.push(s)),
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                self.carry = buf[valid..].to_vec();
                // valid_up_to guarantees this prefix is UTF-8.
                let s = std::str::from_utf8(&buf[..valid]).map_err(|_| Error::InvalidUtf8 {
                    offset: base + valid as u64,
                })?;
                Ok(self.push(s))
            }
            Err(e) => Err(Error::InvalidUtf8 {
                offset: base + e.valid_up_to() as u64,
            }),
        }
    }

    /// Flushes everything held back at the end of the stream.
    pub fn finish(&mut self) -> String {
        self.carry.clear();
        self.drain(true)
    }

    /// Like [`finish`](Self::finish) for byte streams: a character cut off at the end is an error.
    pub fn finish_bytes(&mut self) -> Result<String> {
        if !self.carry.is_empty() {
            let offset = self.bytes_seen - self.carry.len() as u64;
            self.carry.clear();
            return Err(Error::InvalidUtf8 { offset });
        }
        Ok(self.finish())
    }

    fn drain(&mut self, at_end: bool) -> String {
        let text = std::mem::take(&mut self.pending);
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while let Some(off) = text[i..].find('[') {
            let j = i + off;
            out.push_str(&text[i..j]);
            match shape(&text[j..]) {
                Shape::Complete(len) => {
                    let p = &text[j..j + len];
                    match self.map.get(p) {
                        Some(v) => out.push_str(v),
                        None => out.push_str(p),
                    }
                    i = j + len;
                }
                Shape::Prefix if !at_end => {
                    self.pending.push_str(&text[j..]);
                    return out;
                }
                Shape::Prefix | Shape::NotPlaceholder => {
                    out.push('[');
                    i = j + 1;
                }
            }
        }
        out.push_str(&text[i..]);
        out
    }

    /// Bytes currently held back.
    pub fn held(&self) -> usize {
        self.pending.len() + self.carry.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::Vault;

    fn vault() -> Vault {
        let mut v = Vault::new();
        v.placeholder(FindingType::Email, "ann@example.org");
        v.placeholder(FindingType::CreditCard, "4111 1111 1111 1111");
        v
    }

    #[test]
    fn restores_at_every_split_point_and_one_byte_at_a_time() {
        let v = vault();
        let answer =
            "Mail [EMAIL_1] about [CREDIT_CARD_1]; keep [EMAIL_9] and [EMAIL_1x] and [x] [";
        let want = "Mail ann@example.org about 4111 1111 1111 1111; keep [EMAIL_9] and [EMAIL_1x] and [x] [";
        for cut in 0..=answer.len() {
            let mut r = v.restorer();
            let mut got = r.push(&answer[..cut]);
            got.push_str(&r.push(&answer[cut..]));
            got.push_str(&r.finish());
            assert_eq!(got, want, "split at byte {cut}");
        }
        let mut r = v.restorer();
        let mut got = String::new();
        for b in answer.as_bytes() {
            got.push_str(&r.push_bytes(std::slice::from_ref(b)).unwrap());
            assert!(
                r.held() < MAX_PLACEHOLDER_LEN,
                "holds back no more than a placeholder prefix"
            );
        }
        got.push_str(&r.finish_bytes().unwrap());
        assert_eq!(got, want);
    }

    #[test]
    fn emits_text_that_cannot_be_a_placeholder_immediately() {
        let v = vault();
        let mut r = v.restorer();
        assert_eq!(r.push("a [b"), "a [b", "[b can never start a placeholder");
        assert_eq!(r.push("x [EMA"), "x ", "a possible prefix is held");
        assert_eq!(r.held(), 4);
        assert_eq!(r.push("IL_1] done"), "ann@example.org done");
        assert_eq!(r.push("[EMAIL_"), "");
        assert_eq!(r.finish(), "[EMAIL_", "flushed unchanged at the end");
    }

    #[test]
    fn utf8_split_inside_a_character_and_invalid_bytes() {
        let v = vault();
        let s = "é→[EMAIL_1]😀";
        let bytes = s.as_bytes();
        let mut r = v.restorer();
        let mut got = String::new();
        for b in bytes {
            got.push_str(&r.push_bytes(&[*b]).unwrap());
        }
        got.push_str(&r.finish_bytes().unwrap());
        assert_eq!(got, "é→ann@example.org😀");

        let mut r = v.restorer();
        assert!(r.push_bytes(b"ok").is_ok());
        let err = r.push_bytes(&[0xff, b'a']).unwrap_err();
        assert!(
            matches!(err, Error::InvalidUtf8 { offset: 2 }),
            "got {err:?}"
        );

        let mut r = v.restorer();
        r.push_bytes(&[0xe2, 0x82]).unwrap();
        assert!(
            r.finish_bytes().is_err(),
            "a character cut off at the end is an error"
        );
    }

    #[test]
    fn overlong_counter_is_not_a_placeholder() {
        let v = vault();
        let mut r = v.restorer();
        let s = "[EMAIL_12345678901]";
        let mut out = r.push(s);
        out.push_str(&r.finish());
        assert_eq!(out, s);
    }
}
