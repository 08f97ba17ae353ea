//! Streamed answers (SSE): each event's JSON is decoded, the text deltas go through a streaming
//! restorer per content field (so a placeholder split across events, down to one byte per
//! event, comes back whole), and the event is re-encoded. Restoring works on decoded text, never
//! on raw bytes, so JSON escaping inside `data:` payloads cannot hide or corrupt a placeholder.

use std::collections::{HashMap, HashSet};

use certgate_redact::{Restorer, Vault};
use serde_json::{Value, json};

use crate::answer::{refusal, restore_all, rewrite};
use crate::filter::Api;

/// One content field being streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    /// OpenAI chat `choices[a].delta.content`.
    ChatContent(u64),
    /// OpenAI chat `choices[a].delta.tool_calls[index b].function.arguments` (JSON text).
    ChatArgs(u64, u64),
    /// Anthropic `content_block_delta` text or thinking at index a.
    BlockText(u64),
    /// Anthropic `input_json_delta.partial_json` at index a (JSON text).
    BlockJson(u64),
    /// Responses `response.output_text.delta` (output a, content b).
    OutputText(u64, u64),
    /// Responses `response.function_call_arguments.delta` (output a; JSON text).
    OutputArgs(u64),
    /// Any other Responses text delta (reasoning, refusal…) at (output a, content b).
    OutputOther(u64, u64),
}

impl Field {
    fn is_json(self) -> bool {
        matches!(
            self,
            Self::ChatArgs(..) | Self::BlockJson(_) | Self::OutputArgs(_)
        )
    }
}

type Template = (Value, Option<String>, &'static str);

struct FieldState {
    restorer: Restorer,
    /// A delta event for this field; flushing sets `pointer` in a copy of it.
    template: Value,
    template_event: Option<String>,
    pointer: &'static str,
}

/// What the stream rewriter saw, for the audit record.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StreamFacts {
    pub tool_calls_removed: u32,
    logprob_sum: f64,
    logprob_count: u64,
}

impl StreamFacts {
    /// exp(mean logprob) over every streamed token that carried one.
    pub fn logprob_confidence(&self) -> Option<f64> {
        (self.logprob_count > 0).then(|| {
            (self.logprob_sum / self.logprob_count as f64)
                .exp()
                .clamp(0.0, 1.0)
        })
    }
}

/// Rewrites an SSE byte stream, fed in arbitrary chunks.
pub struct SseRewriter {
    api: Api,
    vault: Vault,
    json_vault: Vault,
    disallowed: Vec<String>,
    buf: Vec<u8>,
    event_name: Option<String>,
    data: Option<String>,
    fields: HashMap<Field, FieldState>,
    /// Tool calls removed: (choice, tool index) for chat, (index, 0) for Anthropic and
    /// (output index, 0) for Responses.
    blocked: HashSet<(u64, u64)>,
    /// Tool calls let through per chat choice / for the Anthropic message.
    allowed_calls: HashSet<(u64, u64)>,
    meta: serde_json::Map<String, Value>,
    pub facts: StreamFacts,
}

impl std::fmt::Debug for SseRewriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseRewriter")
            .field("api", &self.api)
            .field("fields", &self.fields.len())
            .finish_non_exhaustive()
    }
}

fn u(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn encode(out: &mut Vec<u8>, name: Option<&str>, data: &str) {
    if let Some(n) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(n.as_bytes());
        out.push(b'\n');
    }
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

impl SseRewriter {
    pub fn new(api: Api, vault: Vault, json_vault: Vault, disallowed: Vec<String>) -> Self {
        Self {
            api,
            vault,
            json_vault,
            disallowed,
            buf: Vec::new(),
            event_name: None,
            data: None,
            fields: HashMap::new(),
            blocked: HashSet::new(),
            allowed_calls: HashSet::new(),
            meta: serde_json::Map::new(),
            facts: StreamFacts::default(),
        }
    }

    fn banned(&self, name: &str) -> bool {
        self.disallowed.iter().any(|d| d == name)
    }

    /// Feeds upstream bytes; returns the bytes to send to the client now.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(off) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + off;
            let mut line = &self.buf[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let line = String::from_utf8_lossy(line).into_owned();
            start = end + 1;
            self.line(&line, &mut out);
        }
        self.buf.drain(..start);
        out
    }

    /// The end of the upstream stream: flushes a last unterminated event and every held text.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
            self.line(rest.trim_end_matches('\r'), &mut out);
        }
        self.line("", &mut out);
        let keys: Vec<Field> = self.fields.keys().copied().collect();
        self.flush(&keys, &mut out);
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<u8>) {
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                let name = self.event_name.take();
                self.dispatch(name, data, out);
            }
            self.event_name = None;
            return;
        }
        if line.starts_with(':') {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\n\n");
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event_name = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
    }

    /// Emits the held text of `keys` as synthetic delta events.
    fn flush(&mut self, keys: &[Field], out: &mut Vec<u8>) {
        for key in keys {
            let Some(mut st) = self.fields.remove(key) else {
                continue;
            };
            let text = st.restorer.finish();
            if text.is_empty() {
                continue;
            }
            if let Some(slot) = st.template.pointer_mut(st.pointer) {
                *slot = Value::String(text);
            }
            encode(out, st.template_event.as_deref(), &st.template.to_string());
        }
    }

    fn flush_where(&mut self, pred: impl Fn(&Field) -> bool, out: &mut Vec<u8>) {
        let mut keys: Vec<Field> = self.fields.keys().copied().filter(|k| pred(k)).collect();
        keys.sort_by_key(|k| format!("{k:?}"));
        self.flush(&keys, out);
    }

    /// Pushes `text` through the field's restorer, creating it from `template` the first time.
    fn restore(&mut self, key: Field, text: &str, template: Option<Template>) -> String {
        let st = self.fields.entry(key).or_insert_with(|| {
            let (template, template_event, pointer) = template.unwrap_or((Value::Null, None, ""));
            let vault = if key.is_json() {
                &self.json_vault
            } else {
                &self.vault
            };
            FieldState {
                restorer: vault.restorer(),
                template,
                template_event,
                pointer,
            }
        });
        st.restorer.push(text)
    }

    fn dispatch(&mut self, name: Option<String>, data: String, out: &mut Vec<u8>) {
        let Ok(mut v) = serde_json::from_str::<Value>(&data) else {
            if data.trim() == "[DONE]" {
                let keys: Vec<Field> = self.fields.keys().copied().collect();
                self.flush(&keys, out);
            }
            encode(out, name.as_deref(), &data);
            return;
        };
        match self.api {
            Api::ChatCompletions => {
                self.chat(&mut v);
                encode(out, name.as_deref(), &v.to_string());
            }
            Api::Messages => self.anthropic(name, v, out),
            Api::Responses => self.responses(name, v, out),
            Api::Embeddings => {
                restore_all(&mut v, &self.vault);
                encode(out, name.as_deref(), &v.to_string());
            }
        }
    }

    fn chat(&mut self, v: &mut Value) {
        for key in ["id", "object", "created", "model", "system_fingerprint"] {
            if let Some(x) = v.get(key) {
                self.meta.insert(key.to_owned(), x.clone());
            }
        }
        let Some(Value::Array(choices)) = v.get_mut("choices") else {
            return;
        };
        let mut choices = std::mem::take(choices);
        for choice in &mut choices {
            let i = u(choice, "index");
            if let Some(Value::Array(lps)) = choice.pointer("/logprobs/content") {
                for t in lps {
                    if let Some(lp) = t.get("logprob").and_then(Value::as_f64) {
                        self.facts.logprob_sum += lp;
                        self.facts.logprob_count += 1;
                    }
                }
            }
            let mut content_out: Option<String> = choice
                .pointer("/delta/content")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .map(|t| {
                    let tpl = self.template_if_new(Field::ChatContent(i), i, None);
                    self.restore(Field::ChatContent(i), &t, tpl)
                });
            let mut calls_out = Vec::new();
            if let Some(Value::Array(calls)) = choice.pointer_mut("/delta/tool_calls") {
                calls_out = std::mem::take(calls);
            }
            let mut kept = Vec::new();
            for mut call in calls_out {
                let j = u(&call, "index");
                let name = call
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if let Some(name) = name {
                    if self.banned(&name) {
                        self.blocked.insert((i, j));
                        self.facts.tool_calls_removed += 1;
                        let text = format!(
                            "{}{}",
                            if content_out.is_some() { "\n" } else { "" },
                            refusal(&name)
                        );
                        let tpl = self.template_if_new(Field::ChatContent(i), i, None);
                        let r = self.restore(Field::ChatContent(i), &text, tpl);
                        content_out.get_or_insert_with(String::new).push_str(&r);
                        continue;
                    }
                    self.allowed_calls.insert((i, j));
                }
                if self.blocked.contains(&(i, j)) {
                    continue;
                }
                if let Some(Value::String(args)) = call.pointer("/function/arguments").cloned() {
                    let tpl = self.template_if_new(Field::ChatArgs(i, j), i, Some(j));
                    let r = self.restore(Field::ChatArgs(i, j), &args, tpl);
                    if let Some(slot) = call.pointer_mut("/function/arguments") {
                        *slot = Value::String(r);
                    }
                }
                kept.push(call);
            }
            let finished = choice.get("finish_reason").is_some_and(|f| !f.is_null());
            if finished {
                // Closing this choice: its held text goes out in this very chunk.
                let keys: Vec<Field> = self
                    .fields
                    .keys()
                    .copied()
                    .filter(
                        |k| matches!(k, Field::ChatContent(c) | Field::ChatArgs(c, _) if *c == i),
                    )
                    .collect();
                for key in keys {
                    let Some(mut st) = self.fields.remove(&key) else {
                        continue;
                    };
                    let text = st.restorer.finish();
                    match key {
                        Field::ChatArgs(_, j) => {
                            if let Some(c) = kept.iter_mut().find(|c| u(c, "index") == j) {
                                let prev = c
                                    .pointer("/function/arguments")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_owned();
                                c["function"]["arguments"] = Value::String(prev + &text);
                            } else if !text.is_empty() {
                                kept.push(json!({"index": j, "function": {"arguments": text}}));
                            }
                        }
                        _ => content_out.get_or_insert_with(String::new).push_str(&text),
                    }
                }
                let any_allowed = self.allowed_calls.iter().any(|(c, _)| *c == i);
                if choice.get("finish_reason") == Some(&json!("tool_calls")) && !any_allowed {
                    choice["finish_reason"] = json!("stop");
                }
            }
            if let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) {
                if let Some(c) = content_out {
                    delta.insert("content".to_owned(), Value::String(c));
                }
                if kept.is_empty() {
                    delta.remove("tool_calls");
                } else {
                    delta.insert("tool_calls".to_owned(), Value::Array(kept));
                }
            }
        }
        v["choices"] = Value::Array(choices);
    }

    fn template_if_new(&self, key: Field, i: u64, tool: Option<u64>) -> Option<Template> {
        (!self.fields.contains_key(&key)).then(|| self.chat_template(i, tool))
    }

    fn chat_template(&self, i: u64, tool: Option<u64>) -> Template {
        let mut t = Value::Object(self.meta.clone());
        match tool {
            None => {
                t["choices"] =
                    json!([{"index": i, "delta": {"content": ""}, "finish_reason": null}]);
                (t, None, "/choices/0/delta/content")
            }
            Some(j) => {
                t["choices"] = json!([{"index": i, "delta": {"tool_calls": [
                    {"index": j, "function": {"arguments": ""}}]}, "finish_reason": null}]);
                (t, None, "/choices/0/delta/tool_calls/0/function/arguments")
            }
        }
    }

    fn anthropic(&mut self, name: Option<String>, mut v: Value, out: &mut Vec<u8>) {
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let index = u(&v, "index");
        let mut after = Vec::new();
        match kind.as_str() {
            "content_block_start" => {
                let cb_name = v
                    .pointer("/content_block/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let is_tool =
                    v.pointer("/content_block/type").and_then(Value::as_str) == Some("tool_use");
                if is_tool && self.banned(&cb_name) {
                    self.blocked.insert((index, 0));
                    self.facts.tool_calls_removed += 1;
                    v["content_block"] = json!({"type": "text", "text": ""});
                    after.push(json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": refusal(&cb_name)}}));
                } else {
                    if is_tool {
                        self.allowed_calls.insert((index, 0));
                    }
                    restore_all(&mut v, &self.vault);
                }
            }
            "content_block_delta" => {
                if self.blocked.contains(&(index, 0)) {
                    return;
                }
                let dtype = v
                    .pointer("/delta/type")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let (key, pointer) = match dtype {
                    "text_delta" => (Field::BlockText(index), "/delta/text"),
                    "thinking_delta" => (Field::BlockText(index), "/delta/thinking"),
                    "input_json_delta" => (Field::BlockJson(index), "/delta/partial_json"),
                    _ => {
                        restore_all(&mut v, &self.vault);
                        encode(out, name.as_deref(), &v.to_string());
                        return;
                    }
                };
                if let Some(Value::String(t)) = v.pointer(pointer).cloned() {
                    let tpl = (!self.fields.contains_key(&key))
                        .then(|| (v.clone(), name.clone(), pointer));
                    let r = self.restore(key, &t, tpl);
                    if let Some(slot) = v.pointer_mut(pointer) {
                        *slot = Value::String(r);
                    }
                }
            }
            "content_block_stop" => self.flush_where(
                |k| matches!(k, Field::BlockText(i) | Field::BlockJson(i) if *i == index),
                out,
            ),
            "message_delta" => {
                let stop_tool = v.pointer("/delta/stop_reason") == Some(&json!("tool_use"));
                if stop_tool && self.facts.tool_calls_removed > 0 && self.allowed_calls.is_empty() {
                    v["delta"]["stop_reason"] = json!("end_turn");
                }
            }
            "message_stop" => self.flush_where(|_| true, out),
            _ => restore_all(&mut v, &self.vault),
        }
        encode(out, name.as_deref(), &v.to_string());
        for a in after {
            encode(out, Some("content_block_delta"), &a.to_string());
        }
    }

    fn responses(&mut self, name: Option<String>, mut v: Value, out: &mut Vec<u8>) {
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let oi = u(&v, "output_index");
        let ci = u(&v, "content_index");
        let blocked = self.blocked.contains(&(oi, 0));
        if kind.ends_with(".delta") {
            if blocked {
                return;
            }
            let key = match kind.as_str() {
                "response.output_text.delta" => Field::OutputText(oi, ci),
                "response.function_call_arguments.delta" => Field::OutputArgs(oi),
                _ => Field::OutputOther(oi, ci),
            };
            if let Some(Value::String(t)) = v.get("delta").cloned() {
                let tpl =
                    (!self.fields.contains_key(&key)).then(|| (v.clone(), name.clone(), "/delta"));
                let r = self.restore(key, &t, tpl);
                v["delta"] = Value::String(r);
            }
            encode(out, name.as_deref(), &v.to_string());
            return;
        }
        match kind.as_str() {
            "response.output_text.done" => {
                self.flush_where(|k| *k == Field::OutputText(oi, ci), out);
            }
            "response.function_call_arguments.done" => {
                if blocked {
                    return;
                }
                self.flush_where(|k| *k == Field::OutputArgs(oi), out);
                if let Some(Value::String(a)) = v.get("arguments").cloned() {
                    v["arguments"] = Value::String(self.json_vault.restore(&a));
                }
            }
            "response.output_item.added" | "response.output_item.done" => {
                let item = v.get("item").cloned().unwrap_or(Value::Null);
                let is_call = item.get("type").and_then(Value::as_str) == Some("function_call");
                let call_name = item.get("name").and_then(Value::as_str).unwrap_or("");
                if is_call && (blocked || self.banned(call_name)) {
                    if !blocked {
                        self.blocked.insert((oi, 0));
                        self.facts.tool_calls_removed += 1;
                    }
                    let id = item.get("id").cloned().unwrap_or(json!("msg_certgate"));
                    v["item"] = json!({"type": "message", "id": id, "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": refusal(call_name), "annotations": []}]});
                } else if is_call && let Some(Value::String(a)) = item.get("arguments") {
                    v["item"]["arguments"] = Value::String(self.json_vault.restore(a));
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.flush_where(|_| true, out);
                if let Some(r) = v.get_mut("response") {
                    let facts = rewrite(
                        Api::Responses,
                        r,
                        &self.vault,
                        &self.json_vault,
                        &self.disallowed,
                    );
                    // Calls already counted when their items streamed.
                    let _ = facts;
                }
            }
            _ => {}
        }
        restore_all(&mut v, &self.vault);
        encode(out, name.as_deref(), &v.to_string());
    }
}

#[cfg(test)]
mod tests;
