//! What can fail in the redaction engine.

/// A failure of the redaction engine. Messages never carry matched text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A built-in or configured pattern failed to compile.
    #[error("detector pattern {detector} failed to compile")]
    Pattern {
        /// The detector id whose pattern failed.
        detector: &'static str,
        /// The underlying compile error (about the pattern, not about input text).
        #[source]
        source: Box<regex::Error>,
    },
    /// The restricted-terms dictionary could not be built.
    #[error("restricted terms dictionary failed to build")]
    Dictionary(#[from] aho_corasick::BuildError),
    /// The embedded word list (used by the person-name detector) failed to decompress.
    #[error("embedded word list is corrupt")]
    WordList,
    /// A streamed chunk was not valid UTF-8 (bytes are never skipped).
    #[error("invalid UTF-8 in streamed input at byte {offset}")]
    InvalidUtf8 {
        /// Offset of the first invalid byte, counted from the start of the stream.
        offset: u64,
    },
    /// A `--jsonl` input line was not a JSON object with a string `text`.
    #[error("line {line}: expected a JSON object with a string field \"text\"")]
    JsonlLine {
        /// One-based line number.
        line: u64,
    },
    /// Reading input or writing output failed.
    #[error("i/o failed")]
    Io(#[from] std::io::Error),
    /// Serialising a result failed.
    #[error("JSON serialisation failed")]
    Json(#[from] serde_json::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
