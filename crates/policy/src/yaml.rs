//! Reading user-written YAML into typed values while recording every problem instead of
//! stopping at the first, and remembering where each field was written so later checks can
//! point at it. The policy uses it, and so does every other file format users write (content
//! bundles, question banks, front matter), so each reports file, line, column, field and fix
//! the same way.
//!
//! Each struct decoder asks a [`MapReader`] for its fields; the reader remembers which keys were
//! asked for, so unknown keys are reported with a "did you mean" against exactly those names.

use std::collections::{BTreeMap, HashMap};

use saphyr::{LoadableYamlNode, Scalar, YamlData};

pub use saphyr::MarkedYaml;

use crate::diagnostic::{Diagnostics, Report};
pub use crate::diagnostic::{Location, did_you_mean};

/// Decoding state: the problems found, where each field was written, and `S`, state of the
/// format being decoded (for checks across sections).
pub struct Cx<S> {
    report: Report,
    positions: Positions,
    pub state: S,
}

impl<S> std::fmt::Debug for Cx<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cx")
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl<S> Cx<S> {
    /// A fresh context for the file named `file` in diagnostics.
    pub fn new(file: &str, state: S) -> Self {
        Self {
            report: Report::new(file),
            positions: Positions::default(),
            state,
        }
    }

    /// Records a problem at `at`.
    pub fn error(
        &mut self,
        at: Location,
        path: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.report.error_fix(at, path, message, fix);
    }

    /// Records a problem at the place `path` was written (recorded while decoding).
    pub fn error_at_path(
        &mut self,
        path: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let at = self.positions.at(path);
        self.report.error_fix(at, path, message, fix);
    }

    /// Where `path` was written (line 0 when it never was).
    pub fn position(&self, path: &str) -> Location {
        self.positions.at(path)
    }

    /// Remembers where `path` was written.
    pub fn record(&mut self, path: String, at: Location) {
        self.positions.0.insert(path, at);
    }

    /// Whether any problem has been found.
    pub fn has_errors(&self) -> bool {
        self.report.has_errors()
    }

    /// Every problem, in file order, and the state.
    pub fn finish(self) -> (Diagnostics, S) {
        (self.report.into_diagnostics(), self.state)
    }
}

/// Parses `text` as exactly one YAML document, recording a problem (and returning `None`) for
/// broken syntax, an empty file or several documents. Duplicate keys are errors and alias
/// expansion is bounded, so hostile files cannot blow up memory.
pub fn parse_document<'t, S>(text: &'t str, cx: &mut Cx<S>) -> Option<MarkedYaml<'t>> {
    let docs = match MarkedYaml::load_from_str(text) {
        Ok(docs) => docs,
        Err(e) => {
            let m = e.marker();
            cx.error(
                Location {
                    line: m.line(),
                    column: m.col() + 1,
                },
                "",
                format!("this is not valid YAML: {}", e.info()),
                "fix the YAML syntax at this place (indentation, a missing ':' or quote)",
            );
            return None;
        }
    };
    let mut docs = docs.into_iter();
    match (docs.next(), docs.next()) {
        (Some(root), None) => Some(root),
        (None, _) => {
            cx.error(
                Location { line: 1, column: 1 },
                "",
                "the file is empty",
                "write the document's fields",
            );
            None
        }
        (Some(_), Some(second)) => {
            cx.error(
                location(&second),
                "",
                "the file holds more than one YAML document",
                "keep one document per file: remove the `---` separator and what follows",
            );
            None
        }
    }
}

/// Where each decoded field was written, by field path.
#[derive(Debug, Default)]
struct Positions(HashMap<String, Location>);

impl Positions {
    fn at(&self, path: &str) -> Location {
        self.0.get(path).copied().unwrap_or_default()
    }
}

pub fn location(node: &MarkedYaml<'_>) -> Location {
    Location {
        line: node.span.start.line(),
        column: node.span.start.col() + 1,
    }
}

/// A field path under construction: `a.b[2].c`.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn kind_name(node: &MarkedYaml<'_>) -> &'static str {
    match &node.data {
        YamlData::Value(Scalar::Null) => "nothing (null)",
        YamlData::Value(Scalar::Boolean(_)) => "a boolean",
        YamlData::Value(Scalar::Integer(_)) => "an integer",
        YamlData::Value(Scalar::FloatingPoint(_)) => "a number",
        YamlData::Value(Scalar::String(_)) | YamlData::Representation(..) => "a string",
        YamlData::Sequence(_) => "a list",
        YamlData::Mapping(_) => "a map",
        YamlData::Tagged(..) => "a tagged value",
        YamlData::Alias(_) | YamlData::BadValue => "an unreadable value",
    }
}

/// A value that can be read from one YAML node.
pub trait Decode<S>: Sized {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<Self>;
}

fn wrong_type<S>(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>, want: &str, fix: &str) {
    cx.error(
        location(node),
        path,
        format!("expected {want}, found {}", kind_name(node)),
        fix,
    );
}

impl<S> Decode<S> for String {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<Self> {
        match &node.data {
            YamlData::Value(Scalar::String(s)) if !s.trim().is_empty() => Some(s.to_string()),
            YamlData::Value(Scalar::String(_)) => {
                cx.report
                    .error_fix(location(node), path, "must not be empty", "write a value");
                None
            }
            YamlData::Value(Scalar::Integer(_) | Scalar::FloatingPoint(_) | Scalar::Boolean(_)) => {
                wrong_type(
                    node,
                    path,
                    cx,
                    "a string",
                    "put the value in quotes to make it a string",
                );
                None
            }
            _ => {
                wrong_type(node, path, cx, "a string", "write a single text value");
                None
            }
        }
    }
}

impl<S> Decode<S> for bool {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<Self> {
        match &node.data {
            YamlData::Value(Scalar::Boolean(b)) => Some(*b),
            _ => {
                wrong_type(node, path, cx, "true or false", "write true or false");
                None
            }
        }
    }
}

impl<S> Decode<S> for u32 {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<Self> {
        match &node.data {
            YamlData::Value(Scalar::Integer(i)) => match u32::try_from(*i) {
                Ok(v) => Some(v),
                Err(_) => {
                    cx.error(
                        location(node),
                        path,
                        format!("{i} is out of range"),
                        "write a whole number between 0 and 4294967295",
                    );
                    None
                }
            },
            _ => {
                wrong_type(
                    node,
                    path,
                    cx,
                    "a whole number",
                    "write a whole number such as 30",
                );
                None
            }
        }
    }
}

impl<S> Decode<S> for f64 {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<Self> {
        match &node.data {
            // Integers in a policy (`minScorePct: 85`) are exact in an f64.
            #[allow(clippy::cast_precision_loss)]
            YamlData::Value(Scalar::Integer(i)) => Some(*i as f64),
            YamlData::Value(Scalar::FloatingPoint(f)) if f.0.is_finite() => Some(f.0),
            _ => {
                wrong_type(
                    node,
                    path,
                    cx,
                    "a number",
                    "write a number such as 0.78 or 85",
                );
                None
            }
        }
    }
}

impl<S, T: Decode<S>> Decode<S> for Vec<T> {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<Self> {
        let YamlData::Sequence(items) = &node.data else {
            wrong_type(
                node,
                path,
                cx,
                "a list",
                "write one `- item` per line under this key",
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            cx.record(item_path.clone(), location(item));
            match T::decode(item, &item_path, cx) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

impl<S, T: Decode<S>> Decode<S> for BTreeMap<String, T> {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<Self> {
        let YamlData::Mapping(entries) = &node.data else {
            wrong_type(
                node,
                path,
                cx,
                "a map",
                "write `key: value` lines under this key",
            );
            return None;
        };
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (key, value) in entries {
            let Some(name) = key_name(key, path, cx) else {
                ok = false;
                continue;
            };
            let value_path = join(path, name);
            cx.record(value_path.clone(), location(key));
            match T::decode(value, &value_path, cx) {
                Some(v) => {
                    out.insert(name.to_owned(), v);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

fn key_name<'n, S>(key: &'n MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<&'n str> {
    match &key.data {
        YamlData::Value(Scalar::String(s)) => Some(s.as_ref()),
        _ => {
            wrong_type(key, path, cx, "a text key", "write keys as plain words");
            None
        }
    }
}

/// Reads the fields of one YAML map, remembering which keys were asked for.
#[derive(Debug)]
pub struct MapReader<'n, 'i> {
    node: &'n MarkedYaml<'i>,
    path: String,
    entries: Vec<(&'n str, &'n MarkedYaml<'i>, &'n MarkedYaml<'i>)>,
    known: Vec<&'static str>,
}

impl<'n, 'i> MapReader<'n, 'i> {
    /// `None` (with a diagnostic) when the node is not a map.
    pub fn new<S>(node: &'n MarkedYaml<'i>, path: &str, cx: &mut Cx<S>) -> Option<Self> {
        let YamlData::Mapping(map) = &node.data else {
            wrong_type(
                node,
                path,
                cx,
                "a map",
                "write `key: value` lines under this key",
            );
            return None;
        };
        let entries = map
            .iter()
            .filter_map(|(k, v)| key_name(k, path, cx).map(|name| (name, k, v)))
            .collect();
        Some(Self {
            node,
            path: path.to_owned(),
            entries,
            known: Vec::new(),
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    fn find(&mut self, key: &'static str) -> Option<(&'n MarkedYaml<'i>, &'n MarkedYaml<'i>)> {
        self.known.push(key);
        self.entries
            .iter()
            .find(|(name, ..)| *name == key)
            .map(|(_, k, v)| (*k, *v))
    }

    /// A required field; a diagnostic when it is missing or invalid.
    pub fn req<S, T: Decode<S>>(&mut self, key: &'static str, cx: &mut Cx<S>) -> Option<T> {
        let path = join(&self.path, key);
        match self.find(key) {
            Some((k, v)) => {
                cx.record(path.clone(), location(k));
                T::decode(v, &path, cx)
            }
            None => {
                cx.error(
                    location(self.node),
                    &path,
                    format!("missing required field `{key}`"),
                    format!("add `{key}:` under `{}`", self.display_path()),
                );
                None
            }
        }
    }

    /// An optional field: `Ok(None)` when absent, `Err(())` when present but invalid.
    #[allow(clippy::result_unit_err)]
    pub fn opt<S, T: Decode<S>>(
        &mut self,
        key: &'static str,
        cx: &mut Cx<S>,
    ) -> Result<Option<T>, ()> {
        let path = join(&self.path, key);
        match self.find(key) {
            Some((k, v)) => {
                cx.record(path.clone(), location(k));
                T::decode(v, &path, cx).map(Some).ok_or(())
            }
            None => Ok(None),
        }
    }

    /// The raw node of a field, for decoders that need custom handling.
    pub fn raw<S>(&mut self, key: &'static str, cx: &mut Cx<S>) -> Option<&'n MarkedYaml<'i>> {
        let path = join(&self.path, key);
        let found = self.find(key);
        if let Some((k, _)) = found {
            cx.record(path, location(k));
        }
        found.map(|(_, v)| v)
    }

    fn display_path(&self) -> &str {
        if self.path.is_empty() {
            "the top level"
        } else {
            &self.path
        }
    }

    /// Reports every key that no decoder asked for.
    pub fn finish<S>(self, cx: &mut Cx<S>) {
        for (name, key, _) in &self.entries {
            if self.known.contains(name) {
                continue;
            }
            let path = join(&self.path, name);
            let fix = match did_you_mean(name, self.known.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!(
                    "remove it; the keys allowed under {} are: {}",
                    self.display_path(),
                    self.known.join(", ")
                ),
            };
            cx.report
                .error_fix(location(key), &path, format!("unknown key `{name}`"), fix);
        }
    }
}

/// Reads a string whose value must be one of `names`, mapping it with `parse`; a misspelling
/// gets a "did you mean".
pub fn named<S, T>(
    node: &MarkedYaml<'_>,
    path: &str,
    cx: &mut Cx<S>,
    names: &[&str],
    parse: fn(&str) -> Option<T>,
) -> Option<T> {
    let text: String = Decode::decode(node, path, cx)?;
    if let Some(v) = parse(&text) {
        return Some(v);
    }
    let fix = match did_you_mean(&text, names.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("use one of: {}", names.join(", ")),
    };
    cx.error(location(node), path, format!("unknown value `{text}`"), fix);
    None
}
