//! Requests: every text the model will see goes through the redaction engine before upload.
//! Each API's text fields are walked explicitly; content this proxy cannot inspect (files,
//! audio, token arrays) is refused rather than passed through.

use std::collections::BTreeMap;

use certgate_redact::{Action, FindingType, Redactor, Vault};
use serde_json::Value;

/// Which client API a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    ChatCompletions,
    Responses,
    Embeddings,
    Messages,
}

impl Api {
    pub fn path(self) -> &'static str {
        match self {
            Self::ChatCompletions => "/v1/chat/completions",
            Self::Responses => "/v1/responses",
            Self::Embeddings => "/v1/embeddings",
            Self::Messages => "/v1/messages",
        }
    }

    pub fn is_anthropic(self) -> bool {
        self == Self::Messages
    }
}

/// What redaction did to one request.
#[derive(Debug, Default)]
pub struct Scrubbed {
    /// Finding counts by type name.
    pub counts: BTreeMap<String, u32>,
    /// Types that block the request (never values).
    pub blocked: Vec<FindingType>,
    /// Placeholders → original values, for restoring plain text.
    pub vault: Vault,
    /// The same placeholders → values escaped for the inside of a JSON string, for restoring
    /// text that is itself JSON (tool-call arguments).
    pub json_vault: Vault,
}

/// Why a request cannot be filtered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unscannable {
    /// A content part of this type cannot be inspected (file, audio, tokens).
    Content(String),
}

struct Scrubber<'a> {
    redactor: &'a Redactor,
    out: Scrubbed,
}

impl Scrubber<'_> {
    fn text(&mut self, s: &mut String) {
        if s.is_empty() {
            return;
        }
        let outcome = self.redactor.apply(s, &mut self.out.vault);
        if outcome.findings.is_empty() {
            return;
        }
        for f in &outcome.findings {
            *self
                .out
                .counts
                .entry(f.kind.as_str().to_owned())
                .or_default() += 1;
            if f.action == Action::Block && !self.out.blocked.contains(&f.kind) {
                self.out.blocked.push(f.kind);
            }
            if f.action == Action::Pseudonymize {
                // Replayed in the same order, the JSON vault mints the same numbers.
                let value = s.get(f.start..f.end).unwrap_or_default();
                let escaped = serde_json::to_string(value).unwrap_or_default();
                let inner = escaped
                    .get(1..escaped.len().saturating_sub(1))
                    .unwrap_or_default();
                self.out.json_vault.placeholder(f.kind, inner);
            }
        }
        *s = outcome.text;
    }

    fn value(&mut self, v: &mut Value) {
        if let Value::String(s) = v {
            self.text(s);
        }
    }

    /// Every string anywhere inside `v` (tool inputs written as JSON objects).
    fn all_strings(&mut self, v: &mut Value) {
        match v {
            Value::String(s) => self.text(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.all_strings(x)),
            Value::Object(o) => o.values_mut().for_each(|x| self.all_strings(x)),
            _ => {}
        }
    }

    /// A `content` that is a string or a list of typed parts.
    fn content(&mut self, v: &mut Value) -> Result<(), Unscannable> {
        match v {
            Value::String(s) => self.text(s),
            Value::Array(parts) => {
                for part in parts {
                    self.part(part)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn part(&mut self, part: &mut Value) -> Result<(), Unscannable> {
        let Value::Object(o) = part else {
            self.value(part);
            return Ok(());
        };
        let kind = o
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match kind.as_str() {
            "file" | "input_file" | "document" | "input_audio" | "audio" => {
                return Err(Unscannable::Content(kind));
            }
            // Anthropic tool_use: the model sees its input again.
            "tool_use" => {
                if let Some(input) = o.get_mut("input") {
                    self.all_strings(input);
                }
            }
            // Anthropic tool_result: string or blocks.
            "tool_result" => {
                if let Some(c) = o.get_mut("content") {
                    self.content(c)?;
                }
            }
            // Responses API items inside `input`.
            "function_call" => {
                if let Some(a) = o.get_mut("arguments") {
                    self.value(a);
                }
            }
            "function_call_output" => {
                if let Some(out) = o.get_mut("output") {
                    self.content(out)?;
                }
            }
            _ => {}
        }
        for key in ["text", "refusal", "thinking"] {
            if let Some(t) = o.get_mut(key) {
                self.value(t);
            }
        }
        if kind != "tool_result"
            && kind != "function_call_output"
            && let Some(c) = o.get_mut("content")
        {
            self.content(c)?;
        }
        Ok(())
    }

    fn tools(&mut self, body: &mut Value) {
        let Some(Value::Array(tools)) = body.get_mut("tools") else {
            return;
        };
        for t in tools {
            if let Some(d) = t.get_mut("description") {
                self.value(d);
            }
            if let Some(d) = t.pointer_mut("/function/description") {
                self.value(d);
            }
        }
    }

    fn messages(&mut self, body: &mut Value) -> Result<(), Unscannable> {
        let Some(Value::Array(messages)) = body.get_mut("messages") else {
            return Ok(());
        };
        for m in messages {
            if let Some(c) = m.get_mut("content") {
                self.content(c)?;
            }
            if let Some(Value::Array(calls)) = m.get_mut("tool_calls") {
                for call in calls {
                    if let Some(a) = call.pointer_mut("/function/arguments") {
                        self.value(a);
                    }
                }
            }
            for key in ["refusal", "reasoning_content"] {
                if let Some(v) = m.get_mut(key) {
                    self.value(v);
                }
            }
        }
        Ok(())
    }
}

/// Redacts every text the model will see in `body`, in place.
pub fn scrub(api: Api, redactor: &Redactor, body: &mut Value) -> Result<Scrubbed, Unscannable> {
    let mut s = Scrubber {
        redactor,
        out: Scrubbed::default(),
    };
    match api {
        Api::ChatCompletions => {
            s.messages(body)?;
            s.tools(body);
            if let Some(p) = body.get_mut("prompt") {
                s.all_strings(p);
            }
        }
        Api::Messages => {
            if let Some(sys) = body.get_mut("system") {
                s.content(sys)?;
            }
            s.messages(body)?;
            s.tools(body);
        }
        Api::Responses => {
            if let Some(i) = body.get_mut("instructions") {
                s.value(i);
            }
            if let Some(input) = body.get_mut("input") {
                s.content(input)?;
            }
            s.tools(body);
        }
        Api::Embeddings => match body.get_mut("input") {
            Some(Value::String(t)) => s.text(t),
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::String(t) => s.text(t),
                        // Token ids cannot be inspected.
                        _ => return Err(Unscannable::Content("tokens".to_owned())),
                    }
                }
            }
            Some(Value::Null) | None => {}
            Some(_) => return Err(Unscannable::Content("tokens".to_owned())),
        },
    }
    Ok(s.out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_redact::RedactorConfig;
    use serde_json::json;

    fn redactor() -> Redactor {
        Redactor::new(RedactorConfig::default()).unwrap()
    }

    #[test]
    fn chat_every_role_and_part_is_scrubbed() {
        let r = redactor();
        let mut body = json!({"model": "m", "messages": [
            {"role": "system", "content": "Escalate to ann@example.org"},
            {"role": "user", "content": [{"type": "text", "text": "cc bob@example.org"},
                                         {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "send", "arguments": "{\"to\":\"ann@example.org\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sent to carl@example.org"}
        ]});
        let out = scrub(Api::ChatCompletions, &r, &mut body).unwrap();
        let text = body.to_string();
        for v in ["ann@", "bob@", "carl@"] {
            assert!(!text.contains(v), "{v} left in {text}");
        }
        assert_eq!(out.counts.get("EMAIL"), Some(&4));
        assert!(out.blocked.is_empty());
        assert_eq!(
            out.vault.lookup("[EMAIL_1]"),
            out.json_vault.lookup("[EMAIL_1]"),
            "same numbering in both vaults"
        );
        assert!(text.contains("https://x/y.png"), "images untouched");
    }

    #[test]
    fn anthropic_system_tool_use_and_results() {
        let r = redactor();
        let mut body = json!({"model": "m", "system": [{"type": "text", "text": "ann@example.org"}],
            "messages": [{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "bob@example.org"}]},
                {"type": "tool_use", "id": "t2", "name": "n", "input": {"q": {"deep": "carl@example.org"}}}]}]});
        scrub(Api::Messages, &r, &mut body).unwrap();
        let text = body.to_string();
        assert!(!text.contains("@example.org"), "{text}");
    }

    #[test]
    fn responses_embeddings_secrets_and_unscannable() {
        let r = redactor();
        let mut body = json!({"model": "m", "instructions": "ann@example.org",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "bob@example.org"}]},
                      {"type": "function_call_output", "call_id": "c", "output": "carl@example.org"}]});
        scrub(Api::Responses, &r, &mut body).unwrap();
        assert!(!body.to_string().contains("@example.org"));

        let mut e =
            json!({"model": "m", "input": ["key AKIAIOSFODNN7EXAMPLF here", "dan@example.org"]});
        let out = scrub(Api::Embeddings, &r, &mut e).unwrap();
        assert!(
            !out.blocked.is_empty(),
            "AWS key must block: {:?}",
            out.counts
        );

        let mut tokens = json!({"model": "m", "input": [[1, 2, 3]]});
        assert!(scrub(Api::Embeddings, &r, &mut tokens).is_err());
        let mut file = json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "file", "file": {"file_data": "JVBER"}}]}]});
        assert!(scrub(Api::ChatCompletions, &r, &mut file).is_err());
    }
}
