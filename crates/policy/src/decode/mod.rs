//! Reads the YAML tree into the typed policy, recording every problem instead of stopping at the
//! first, and remembering where each field was written so later checks can point at it.
//!
//! Each struct decoder asks a [`MapReader`] for its fields; the reader remembers which keys were
//! asked for, so unknown keys are reported with a "did you mean" against exactly those names.

mod policy;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cel::Env;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::diagnostic::{Location, Report, did_you_mean};
use crate::model::Policy;
use crate::rules::CompiledRule;

pub(crate) use policy::decode_policy;

/// Where each decoded field was written, by field path.
#[derive(Debug, Default)]
pub(crate) struct Positions(HashMap<String, Location>);

impl Positions {
    pub(crate) fn at(&self, path: &str) -> Location {
        self.0.get(path).copied().unwrap_or_default()
    }
}

/// Decoding state: the report being filled and the positions seen.
pub(crate) struct Cx {
    pub(crate) report: Report,
    pub(crate) positions: Positions,
    /// Ids of the tracks decoded so far, for checking references to tracks.
    pub(crate) track_ids: Vec<String>,
    /// The environment conditions compile in, and the conditions compiled so far.
    pub(crate) env: Arc<Env>,
    pub(crate) rules: Vec<CompiledRule>,
}

/// The YAML text parsed and decoded, with the problems found on the way.
pub(crate) fn decode_text(text: &str, file: &str, env: Arc<Env>) -> (Option<Policy>, Cx) {
    let mut cx = Cx {
        report: Report::new(file),
        positions: Positions::default(),
        track_ids: Vec::new(),
        env,
        rules: Vec::new(),
    };
    let docs = match MarkedYaml::load_from_str(text) {
        Ok(docs) => docs,
        Err(e) => {
            let m = e.marker();
            cx.report.error_fix(
                Location {
                    line: m.line(),
                    column: m.col() + 1,
                },
                "",
                format!("this is not valid YAML: {}", e.info()),
                "fix the YAML syntax at this place (indentation, a missing ':' or quote)",
            );
            return (None, cx);
        }
    };
    let root = match docs.as_slice() {
        [root] => root,
        [] => {
            cx.report.error_fix(
                Location { line: 1, column: 1 },
                "",
                "the file is empty",
                "write the policy, starting with `policyId:`",
            );
            return (None, cx);
        }
        [_, second, ..] => {
            cx.report.error_fix(
                location(second),
                "",
                "the file holds more than one YAML document",
                "keep one policy per file: remove the `---` separator and what follows",
            );
            return (None, cx);
        }
    };
    let policy = decode_policy(root, &mut cx);
    (policy, cx)
}

pub(crate) fn location(node: &MarkedYaml<'_>) -> Location {
    Location {
        line: node.span.start.line(),
        column: node.span.start.col() + 1,
    }
}

/// A field path under construction: `a.b[2].c`.
pub(crate) fn join(parent: &str, key: &str) -> String {
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
pub(crate) trait Decode: Sized {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self>;
}

fn wrong_type(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx, want: &str, fix: &str) {
    cx.report.error_fix(
        location(node),
        path,
        format!("expected {want}, found {}", kind_name(node)),
        fix,
    );
}

impl Decode for String {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
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

impl Decode for bool {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        match &node.data {
            YamlData::Value(Scalar::Boolean(b)) => Some(*b),
            _ => {
                wrong_type(node, path, cx, "true or false", "write true or false");
                None
            }
        }
    }
}

impl Decode for u32 {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        match &node.data {
            YamlData::Value(Scalar::Integer(i)) => match u32::try_from(*i) {
                Ok(v) => Some(v),
                Err(_) => {
                    cx.report.error_fix(
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

impl Decode for f64 {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
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

impl<T: Decode> Decode for Vec<T> {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
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
            cx.positions.0.insert(item_path.clone(), location(item));
            match T::decode(item, &item_path, cx) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

impl<T: Decode> Decode for BTreeMap<String, T> {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
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
            cx.positions.0.insert(value_path.clone(), location(key));
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

fn key_name<'n>(key: &'n MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<&'n str> {
    match &key.data {
        YamlData::Value(Scalar::String(s)) => Some(s.as_ref()),
        _ => {
            wrong_type(key, path, cx, "a text key", "write keys as plain words");
            None
        }
    }
}

/// Reads the fields of one YAML map, remembering which keys were asked for.
pub(crate) struct MapReader<'n, 'i> {
    node: &'n MarkedYaml<'i>,
    path: String,
    entries: Vec<(&'n str, &'n MarkedYaml<'i>, &'n MarkedYaml<'i>)>,
    known: Vec<&'static str>,
}

impl<'n, 'i> MapReader<'n, 'i> {
    /// `None` (with a diagnostic) when the node is not a map.
    pub(crate) fn new(node: &'n MarkedYaml<'i>, path: &str, cx: &mut Cx) -> Option<Self> {
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

    pub(crate) fn path(&self) -> &str {
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
    pub(crate) fn req<T: Decode>(&mut self, key: &'static str, cx: &mut Cx) -> Option<T> {
        let path = join(&self.path, key);
        match self.find(key) {
            Some((k, v)) => {
                cx.positions.0.insert(path.clone(), location(k));
                T::decode(v, &path, cx)
            }
            None => {
                cx.report.error_fix(
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
    pub(crate) fn opt<T: Decode>(
        &mut self,
        key: &'static str,
        cx: &mut Cx,
    ) -> Result<Option<T>, ()> {
        let path = join(&self.path, key);
        match self.find(key) {
            Some((k, v)) => {
                cx.positions.0.insert(path.clone(), location(k));
                T::decode(v, &path, cx).map(Some).ok_or(())
            }
            None => Ok(None),
        }
    }

    /// The raw node of a field, for decoders that need custom handling.
    pub(crate) fn raw(&mut self, key: &'static str, cx: &mut Cx) -> Option<&'n MarkedYaml<'i>> {
        let path = join(&self.path, key);
        let found = self.find(key);
        if let Some((k, _)) = found {
            cx.positions.0.insert(path, location(k));
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
    pub(crate) fn finish(self, cx: &mut Cx) {
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
