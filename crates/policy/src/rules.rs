//! The policy's access conditions as CEL programs, compiled once at load.
//!
//! Rules see five variables: `user`, `device`, `trackId`, `request` and `now`. Besides standard
//! CEL they may call `map.contains(key)`, a Certgate extension (standard CEL writes `key in map`)
//! so that the seed policy's `user.certifications.contains(trackId)` works exactly as written.
//! Both forms give the same answer.
//!
//! Any evaluation error (a missing key, a wrong type, a non-boolean result) counts as "not
//! satisfied": an error never allows.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::types::{CelBool, DYN_TYPE, MAP_TYPE};
use cel::common::value::CowVal;
use cel::objects::{Key, Map};
use cel::{Context, Env, ExecutionError, Program, Value};

/// The variables a rule may use.
pub const VARIABLES: &[&str] = &["user", "device", "trackId", "request", "now"];

/// `map.contains(key)`: true when `key` is a key of `map`.
fn map_contains<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [map, key]: [CowVal<'b, 'v>; 2] = args
        .try_into()
        .map_err(|args: Vec<_>| ExecutionError::invalid_argument_count(2, args.len()))?;
    let container = map
        .as_ref()
        .as_container()
        .ok_or_else(|| ExecutionError::function_error("contains", "receiver is not a map"))?;
    let found = container.contains(key.as_ref())?;
    let result = if found { CelBool::TRUE } else { CelBool::FALSE };
    Ok(CowVal::Owned(Box::new(result)))
}

/// The CEL environment every policy rule compiles and runs in.
pub(crate) fn environment() -> Result<Arc<Env>, String> {
    let mut env = Env::stdlib();
    env.add_member_overload(
        "contains",
        "map_contains_key",
        MAP_TYPE,
        vec![DYN_TYPE],
        map_contains,
    )
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(env))
}

/// A rule that failed to compile: the message and the 1-based column within the rule text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompileError {
    pub message: String,
    pub column: usize,
}

/// One compiled condition, with its top-level `&&` parts compiled too so a denial can say which
/// part failed.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub name: String,
    pub source: String,
    program: Program,
    conjuncts: Vec<Conjunct>,
}

#[derive(Debug)]
struct Conjunct {
    source: String,
    program: Program,
    /// For `left OP right`: the left side, evaluated to show the actual value in a denial.
    left: Option<(String, Program)>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

/// All conditions of a policy, ready to evaluate.
pub(crate) struct Compiled {
    env: Arc<Env>,
    pub rules: Vec<CompiledRule>,
}

pub(crate) fn compile(env: &Env, source: &str) -> Result<Program, CompileError> {
    let program = env.compile(source).map_err(|errors| {
        let first = errors.errors.first();
        CompileError {
            message: first
                .map(|e| e.msg.clone())
                .unwrap_or_else(|| errors.to_string()),
            column: first
                .map(|e| usize::try_from(e.pos.1).unwrap_or(0) + 1)
                .unwrap_or(1),
        }
    })?;
    let references = program.references();
    if let Some(unknown) = references
        .variables()
        .into_iter()
        .find(|v| !VARIABLES.contains(v))
    {
        let column = source.find(unknown).map_or(1, |i| i + 1);
        return Err(CompileError {
            message: format!(
                "unknown variable `{unknown}`; rules may use {}",
                VARIABLES.join(", ")
            ),
            column,
        });
    }
    Ok(program)
}

impl Compiled {
    pub(crate) fn new(env: Arc<Env>, rules: Vec<CompiledRule>) -> Self {
        Self { env, rules }
    }

    pub(crate) fn context(&self, vars: Variables) -> Context<'static, 'static> {
        let mut ctx = Context::with_env(self.env.clone());
        ctx.add_variable_from_value("user", vars.user);
        ctx.add_variable_from_value("device", vars.device);
        ctx.add_variable_from_value("trackId", vars.track_id);
        ctx.add_variable_from_value("request", vars.request);
        ctx.add_variable_from_value("now", vars.now);
        ctx
    }
}

/// The values a rule sees.
#[derive(Debug)]
pub(crate) struct Variables {
    pub user: Value,
    pub device: Value,
    pub track_id: Value,
    pub request: Value,
    pub now: Value,
}

/// The outcome of one condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RuleOutcome {
    Satisfied,
    /// Not satisfied; each entry explains one failing part.
    Failed(Vec<String>),
}

impl CompiledRule {
    pub(crate) fn new(env: &Env, name: &str, source: &str) -> Result<Self, CompileError> {
        let program = compile(env, source)?;
        let parts = split_top_level(source, "&&");
        let conjuncts = if parts.len() > 1 && split_top_level(source, "||").len() == 1 {
            parts
                .into_iter()
                .filter_map(|part| {
                    let program = compile(env, part).ok()?;
                    let left = comparison_left(part)
                        .and_then(|l| compile(env, l).ok().map(|p| (l.to_owned(), p)));
                    Some(Conjunct {
                        source: part.to_owned(),
                        program,
                        left,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            name: name.to_owned(),
            source: source.to_owned(),
            program,
            conjuncts,
        })
    }

    /// Evaluates the whole rule; on failure, explains each failing part.
    pub(crate) fn evaluate(&self, ctx: &Context<'_, '_>) -> RuleOutcome {
        match self.program.execute(ctx) {
            Ok(Value::Bool(true)) => RuleOutcome::Satisfied,
            whole => {
                let mut why: Vec<String> = self
                    .conjuncts
                    .iter()
                    .filter_map(|c| c.explain_failure(ctx))
                    .collect();
                if why.is_empty() {
                    why.push(explain(&self.source, whole, None, ctx));
                }
                RuleOutcome::Failed(why)
            }
        }
    }

    /// True only when the rule evaluates to exactly `true`.
    pub(crate) fn holds(&self, ctx: &Context<'_, '_>) -> bool {
        matches!(self.program.execute(ctx), Ok(Value::Bool(true)))
    }
}

impl Conjunct {
    fn explain_failure(&self, ctx: &Context<'_, '_>) -> Option<String> {
        match self.program.execute(ctx) {
            Ok(Value::Bool(true)) => None,
            other => Some(explain(&self.source, other, self.left.as_ref(), ctx)),
        }
    }
}

fn explain(
    source: &str,
    result: Result<Value, ExecutionError>,
    left: Option<&(String, Program)>,
    ctx: &Context<'_, '_>,
) -> String {
    match result {
        Ok(Value::Bool(false)) => match left.map(|(text, p)| (text, p.execute(ctx))) {
            Some((text, Ok(actual))) => {
                format!("{text} is {} (the rule needs `{source}`)", show(&actual))
            }
            Some((text, Err(e))) => format!("{text} cannot be read ({})", describe(&e)),
            None => format!("`{source}` is false"),
        },
        Ok(other) => format!("`{source}` gave {} instead of true or false", show(&other)),
        Err(e) => match left.map(|(text, p)| (text, p.execute(ctx))) {
            Some((text, Err(missing))) => format!("{text} is missing ({})", describe(&missing)),
            Some((text, Ok(actual))) => format!(
                "{text} is {}, which `{source}` cannot compare: {}",
                show(&actual),
                describe(&e)
            ),
            None => format!("`{source}` could not be evaluated: {}", describe(&e)),
        },
    }
}

fn describe(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(key) => format!("no value named `{key}` was provided"),
        other => other.to_string(),
    }
}

/// A value as a person reads it in a reason.
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Null => "null".to_owned(),
        Value::Timestamp(t) => t.to_rfc3339(),
        Value::List(l) => format!("a list of {}", l.len()),
        Value::Map(m) => format!("a map of {}", m.map.len()),
        other => format!("{other:?}"),
    }
}

/// Splits `source` on `op` where it is not inside quotes or brackets.
pub(crate) fn split_top_level<'s>(source: &'s str, op: &str) -> Vec<&'s str> {
    let bytes = source.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == b'\\' => {
                let _ = q;
                i += 2;
                continue;
            }
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth -= 1,
                _ if depth == 0 && source[i..].starts_with(op) => {
                    parts.push(source[start..i].trim());
                    i += op.len();
                    start = i;
                    continue;
                }
                _ => {}
            },
        }
        i += 1;
    }
    parts.push(source[start..].trim());
    parts
}

/// The left side of a top-level comparison `left OP right`, if the part is one.
fn comparison_left(part: &str) -> Option<&str> {
    for op in ["==", "!=", ">=", "<=", ">", "<"] {
        let sides = split_top_level(part, op);
        if sides.len() == 2 && !sides[0].is_empty() {
            return Some(sides[0]);
        }
    }
    None
}

/// JSON as a CEL value. Strings that look like RFC 3339 timestamps stay strings: only fields
/// the engine knows to be times (`expiresAt`) become CEL timestamps.
pub(crate) fn json_to_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(json_to_value).collect()))
        }
        serde_json::Value::Object(fields) => map_value(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        ),
    }
}

pub(crate) fn map_value(fields: HashMap<String, Value>) -> Value {
    let map: HashMap<Key, Value> = fields
        .into_iter()
        .map(|(k, v)| (Key::String(Arc::new(k)), v))
        .collect();
    Value::Map(Map { map: Arc::new(map) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx_with(user: serde_json::Value, track: &str) -> Context<'static, 'static> {
        let env = environment().unwrap();
        Compiled::new(env, Vec::new()).context(Variables {
            user: json_to_value(&user),
            device: json_to_value(&serde_json::json!({})),
            track_id: Value::String(Arc::new(track.to_owned())),
            request: json_to_value(&serde_json::json!({})),
            now: Value::Null,
        })
    }

    fn rule(src: &str) -> CompiledRule {
        CompiledRule::new(&environment().unwrap(), "r", src).unwrap()
    }

    #[test]
    fn map_contains_extension_agrees_with_standard_in() {
        let user =
            serde_json::json!({"certifications": {"AI_CONSUMER_EXTERNAL": {"status": "passed"}}});
        let ext = rule("user.certifications.contains(trackId)");
        let std_in = rule("trackId in user.certifications");
        for (track, expected) in [
            ("AI_CONSUMER_EXTERNAL", true),
            ("AI_BUILDER_EXTERNAL", false),
        ] {
            let ctx = ctx_with(user.clone(), track);
            assert_eq!(ext.holds(&ctx), expected, "contains() for {track}");
            assert_eq!(std_in.holds(&ctx), expected, "`in` for {track}");
        }
    }

    #[test]
    fn string_contains_still_works() {
        let ctx = ctx_with(serde_json::json!({"name": "Ada Lovelace"}), "T");
        assert!(rule("user.name.contains('Love')").holds(&ctx));
        assert!(!rule("user.name.contains('Babbage')").holds(&ctx));
    }

    #[test]
    fn the_seed_rule_short_circuits_for_a_user_without_the_track() {
        let seed = rule(
            "user.certifications.contains(trackId) && user.certifications[trackId].status == 'passed'",
        );
        let user = serde_json::json!({"certifications": {}});
        let ctx = ctx_with(user, "AI_CONSUMER_EXTERNAL");
        let RuleOutcome::Failed(why) = seed.evaluate(&ctx) else {
            panic!("a user with no certification must not pass");
        };
        assert!(
            why[0].contains("user.certifications.contains(trackId)"),
            "the first failing part is named: {why:?}"
        );
    }

    #[test]
    fn errors_deny_and_are_explained() {
        let r = rule("device.managed == true && device.diskEncryption == true");
        let ctx = ctx_with(serde_json::json!({}), "T");
        assert!(!r.holds(&ctx));
        let RuleOutcome::Failed(why) = r.evaluate(&ctx) else {
            panic!("missing device facts must deny");
        };
        assert_eq!(why.len(), 2, "both parts fail: {why:?}");
        assert!(why[0].starts_with("device.managed is missing"), "{why:?}");
    }

    #[test]
    fn non_boolean_result_denies() {
        let r = rule("trackId");
        let ctx = ctx_with(serde_json::json!({}), "T");
        assert!(!r.holds(&ctx));
        assert!(matches!(r.evaluate(&ctx), RuleOutcome::Failed(_)));
    }

    #[test]
    fn compile_rejects_syntax_errors_and_unknown_variables() {
        let env = environment().unwrap();
        let err = compile(&env, "user.certifications.contains(").unwrap_err();
        assert!(err.column > 1, "the column points into the rule: {err:?}");
        let err = compile(&env, "devise.managed == true").unwrap_err();
        assert!(err.message.contains("unknown variable `devise`"), "{err:?}");
        assert_eq!(err.column, 1);
    }

    #[test]
    fn splits_only_at_top_level() {
        assert_eq!(
            split_top_level("a && (b && c) && d == 'x && y'", "&&"),
            vec!["a", "(b && c)", "d == 'x && y'"]
        );
        assert_eq!(comparison_left("x.y == 'passed'"), Some("x.y"));
        assert_eq!(comparison_left("x.contains(y)"), None);
    }
}
