//! The bundle's user-written files (bundle.yaml, module front matter, question banks) decoded
//! with `certgate_policy::yaml`, so every problem names file, line, column, field and fix.

use std::collections::{BTreeMap, HashSet};

use certgate_policy::Diagnostic;
use certgate_policy::yaml::{Cx, Decode, MapReader, MarkedYaml, location, named, parse_document};
use saphyr::{Scalar, YamlData};

use crate::model::{Question, QuestionBank, QuestionKind, QuizOption, Scoring};

/// `bundle.yaml` as written.
#[derive(Debug, Clone)]
pub(crate) struct BundleDecl {
    // Fields other than the tracks may be missing (already reported), so a broken header does
    // not hide the checks of the tracks.
    pub bundle_id: Option<String>,
    pub version: Option<String>,
    pub title: Option<String>,
    pub tracks: BTreeMap<String, TrackDecl>,
    pub role_sops: Vec<String>,
    pub acknowledgement: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct TrackDecl {
    pub modules: Vec<String>,
    pub quiz: String,
    pub draw_count: u32,
    pub cooldown_minutes: Option<u32>,
}

impl<S> Decode<S> for BundleDecl {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let bundle_id = m.req("bundleId", cx);
        let version = m.req("version", cx);
        let title = m.req("title", cx);
        let tracks = m.req("tracks", cx);
        let role_sops = m.opt("roleSops", cx);
        let acknowledgement = m.req("acknowledgement", cx);
        m.finish(cx);
        Some(Self {
            bundle_id,
            version,
            title,
            tracks: tracks?,
            role_sops: role_sops.ok().flatten().unwrap_or_default(),
            acknowledgement,
        })
    }
}

impl<S> Decode<S> for TrackDecl {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let modules = m.req("modules", cx);
        let quiz = m.req("quiz", cx);
        let draw_count: Option<u32> = m.req("drawCount", cx);
        let cooldown_minutes = m.opt("cooldownMinutes", cx);
        m.finish(cx);
        if draw_count == Some(0) {
            cx.error_at_path(
                &format!("{path}.drawCount"),
                "an attempt must draw at least one question",
                "set drawCount to 1 or more",
            );
            return None;
        }
        Some(Self {
            modules: modules?,
            quiz: quiz?,
            draw_count: draw_count?,
            cooldown_minutes: cooldown_minutes.ok()?,
        })
    }
}

/// A module's or the acknowledgement's front matter.
#[derive(Debug, Clone)]
pub(crate) struct FrontMatter {
    pub id: String,
    pub title: String,
    /// Modules only.
    pub track: Option<String>,
    pub minutes: Option<u32>,
    pub version: String,
}

/// Which front matter a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageKind {
    Module,
    Acknowledgement,
}

impl Decode<PageKind> for FrontMatter {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<PageKind>) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let id = m.req("id", cx);
        let title = m.req("title", cx);
        let (track, minutes) = if cx.state == PageKind::Module {
            (m.req("track", cx).map(Some), m.req("minutes", cx).map(Some))
        } else {
            (Some(None), Some(None))
        };
        let version = m.req("version", cx);
        m.finish(cx);
        Some(Self {
            id: id?,
            title: title?,
            track: track?,
            minutes: minutes?,
            version: version?,
        })
    }
}

/// Splits `---\n<yaml>\n---\n<body>`; `None` when the text has no front matter.
pub(crate) fn split_front_matter(text: &str) -> Option<(&str, &str)> {
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Some((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}

/// Decodes a page's front matter, with diagnostics at the page's own line numbers.
pub(crate) fn front_matter(
    text: &str,
    file: &str,
    kind: PageKind,
) -> (Option<(FrontMatter, String)>, Vec<Diagnostic>) {
    let Some((yaml, body)) = split_front_matter(text) else {
        let d = Diagnostic {
            file: file.to_owned(),
            line: 1,
            column: 1,
            path: String::new(),
            message: "the page has no front matter".into(),
            fix: Some(
                "start the file with a `---` line, the fields (id, title, track, minutes, version), and another `---` line"
                    .into(),
            ),
        };
        return (None, vec![d]);
    };
    let mut cx = Cx::new(file, kind);
    let fm = parse_document(yaml, &mut cx).and_then(|root| FrontMatter::decode(&root, "", &mut cx));
    let (diagnostics, _) = cx.finish();
    // The YAML starts on the file's second line.
    let diagnostics = diagnostics
        .0
        .into_iter()
        .map(|mut d| {
            d.line += 1;
            d
        })
        .collect::<Vec<_>>();
    let ok = diagnostics.is_empty();
    (
        fm.filter(|_| ok).map(|fm| (fm, body.to_owned())),
        diagnostics,
    )
}

impl<S> Decode<S> for QuestionBank {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let track = m.req("track", cx);
        let version = m.req("version", cx);
        let questions = m.raw("questions", cx);
        if questions.is_none() {
            cx.error(
                location(node),
                "questions",
                "missing required field `questions`",
                "add `questions:` with one `- id: …` entry per question",
            );
        }
        m.finish(cx);
        let questions = questions.and_then(|node| questions_of(node, cx));
        Some(Self {
            track: track?,
            version: version?,
            questions: questions?,
        })
    }
}

/// Every question, each decoded on its own so one broken question hides no other problem, and
/// duplicate ids caught even among broken ones.
fn questions_of<S>(node: &MarkedYaml<'_>, cx: &mut Cx<S>) -> Option<Vec<Question>> {
    let YamlData::Sequence(items) = &node.data else {
        cx.error(
            location(node),
            "questions",
            "expected a list",
            "write one `- id: …` entry per question",
        );
        return None;
    };
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let path = format!("questions[{i}]");
        cx.record(path.clone(), location(item));
        let id = match &item.data {
            YamlData::Mapping(map) => map.iter().find_map(|(key, v)| match (&key.data, &v.data) {
                (YamlData::Value(Scalar::String(k)), YamlData::Value(Scalar::String(v)))
                    if k.as_ref() == "id" =>
                {
                    Some((v.to_string(), location(key)))
                }
                _ => None,
            }),
            _ => None,
        };
        if let Some((id, at)) = id
            && !seen.insert(id.clone())
        {
            cx.error(
                at,
                &format!("{path}.id"),
                format!("duplicate question id `{id}`"),
                "give every question of the bank its own id",
            );
            ok = false;
        }
        match Question::decode(item, &path, cx) {
            Some(q) => out.push(q),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// The question type as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Single,
    Multiple,
    TrueFalse,
    Scenario,
}

impl Kind {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "single" => Some(Self::Single),
            "multiple" => Some(Self::Multiple),
            "true_false" => Some(Self::TrueFalse),
            "scenario" => Some(Self::Scenario),
            _ => None,
        }
    }
}

impl<S> Decode<S> for QuizOption {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let id = m.req("id", cx);
        let text = m.req("text", cx);
        let correct = m.opt("correct", cx);
        m.finish(cx);
        Some(Self {
            id: id?,
            text: text?,
            correct: correct.ok()?.unwrap_or(false),
        })
    }
}

impl<S> Decode<S> for Question {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx<S>) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let id: Option<String> = m.req("id", cx);
        let module = m.opt("module", cx);
        let type_path = format!("{path}.type");
        let kind = match m.raw("type", cx) {
            Some(n) => named(n, &type_path, cx, QuestionKind::NAMES, Kind::parse),
            None => {
                cx.error(
                    location(node),
                    &type_path,
                    "missing required field `type`",
                    format!("add `type:` with one of {}", QuestionKind::NAMES.join(", ")),
                );
                None
            }
        };
        let scoring_path = format!("{path}.scoring");
        let scoring = m
            .raw("scoring", cx)
            .map(|n| named(n, &scoring_path, cx, Scoring::NAMES, Scoring::parse));
        let scenario: Result<Option<String>, ()> = m.opt("scenario", cx);
        let prompt = m.req("prompt", cx);
        let options: Result<Option<Vec<QuizOption>>, ()> = m.opt("options", cx);
        let answer: Result<Option<bool>, ()> = m.opt("answer", cx);
        let explanation = m.req("explanation", cx);
        m.finish(cx);

        let kind = kind?;
        let (options, answer, scenario) = (options.ok()?, answer.ok()?, scenario.ok()?);
        let scoring = match scoring {
            Some(parsed) => Some(parsed?),
            None => None,
        };
        let built = build_kind(kind, options, answer, scoring, scenario.is_some(), path, cx)?;
        Some(Self {
            id: id?,
            module: module.ok()?,
            kind: built,
            scenario,
            prompt: prompt?,
            explanation: explanation?,
        })
    }
}

fn build_kind<S>(
    kind: Kind,
    options: Option<Vec<QuizOption>>,
    answer: Option<bool>,
    scoring: Option<Scoring>,
    has_scenario: bool,
    path: &str,
    cx: &mut Cx<S>,
) -> Option<QuestionKind> {
    let at = |field: &str| format!("{path}.{field}");
    let mut ok = true;
    if kind != Kind::Multiple && scoring.is_some() {
        cx.error_at_path(
            &at("scoring"),
            "only multiple-choice questions take `scoring`",
            "remove `scoring`, or make the question `type: multiple`",
        );
        ok = false;
    }
    if kind != Kind::TrueFalse && answer.is_some() {
        cx.error_at_path(
            &at("answer"),
            "only true/false questions take `answer`",
            "mark the right option with `correct: true` instead",
        );
        ok = false;
    }
    if kind == Kind::Scenario && !has_scenario {
        cx.error(
            cx.position(path),
            &at("scenario"),
            "a scenario question needs its situation",
            "add `scenario:` with the short workplace situation shown before the prompt",
        );
        ok = false;
    }
    if kind == Kind::TrueFalse {
        if options.is_some() {
            cx.error_at_path(
                &at("options"),
                "a true/false question has no options",
                "remove `options` and write `answer: true` or `answer: false`",
            );
            ok = false;
        }
        let Some(answer) = answer else {
            cx.error(
                cx.position(path),
                &at("answer"),
                "a true/false question without its answer",
                "add `answer: true` or `answer: false`",
            );
            return None;
        };
        return ok.then_some(QuestionKind::TrueFalse { answer });
    }
    let Some(options) = options else {
        cx.error(
            cx.position(path),
            &at("options"),
            "a choice question without options",
            "add `options:` with `{ id, text }` entries, the right ones with `correct: true`",
        );
        return None;
    };
    let mut ids = HashSet::new();
    for (i, o) in options.iter().enumerate() {
        if !ids.insert(o.id.as_str()) {
            cx.error_at_path(
                &format!("{path}.options[{i}]"),
                format!("duplicate option id `{}`", o.id),
                "give every option of the question its own id",
            );
            ok = false;
        }
    }
    if options.len() < 2 {
        cx.error_at_path(
            &at("options"),
            "a choice question needs at least two options",
            "add options",
        );
        ok = false;
    }
    let correct = options.iter().filter(|o| o.correct).count();
    match kind {
        Kind::Single | Kind::Scenario if correct != 1 => {
            cx.error_at_path(
                &at("options"),
                format!(
                    "{correct} options are marked correct; this question type needs exactly one"
                ),
                "mark exactly one option `correct: true`, or make it `type: multiple`",
            );
            ok = false;
        }
        Kind::Multiple if correct == 0 => {
            cx.error_at_path(
                &at("options"),
                "no option is marked correct",
                "mark the right options with `correct: true`",
            );
            ok = false;
        }
        _ => {}
    }
    let built = match kind {
        Kind::Single => QuestionKind::Single { options },
        Kind::Scenario => QuestionKind::Scenario { options },
        Kind::Multiple => match scoring {
            Some(scoring) => QuestionKind::Multiple { options, scoring },
            None => {
                cx.error(
                    cx.position(path),
                    &at("scoring"),
                    "a multiple-choice question must declare how it is scored",
                    "add `scoring: all_or_nothing` or `scoring: partial`",
                );
                return None;
            }
        },
        Kind::TrueFalse => return None,
    };
    ok.then_some(built)
}

/// Parses and decodes one YAML file; `None` with diagnostics when anything is wrong.
pub(crate) fn yaml_file<T: Decode<()>>(text: &str, file: &str) -> (Option<T>, Vec<Diagnostic>) {
    let mut cx = Cx::new(file, ());
    let value = parse_document(text, &mut cx).and_then(|root| T::decode(&root, "", &mut cx));
    let (diagnostics, ()) = cx.finish();
    let ok = diagnostics.is_empty();
    (value.filter(|_| ok), diagnostics.0)
}
