//! Answers: placeholders restored, disallowed tool calls replaced by a refusal, confidence read.

use certgate_redact::Vault;
use serde_json::{Value, json};

use crate::filter::Api;

/// The text a client shows in place of a removed tool call.
pub fn refusal(name: &str) -> String {
    format!(
        "[certgate] The model asked to run `{name}`, which your organisation's policy does not \
         allow from this tool. The action was not taken."
    )
}

/// What was done to an answer.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AnswerFacts {
    pub tool_calls_removed: u32,
    /// From the answer's logprobs, when present.
    pub logprob_confidence: Option<f64>,
}

/// Replaces every known placeholder in every string of `v`.
pub fn restore_all(v: &mut Value, vault: &Vault) {
    if vault.is_empty() {
        return;
    }
    match v {
        Value::String(s) if s.contains('[') => *s = vault.restore(s),
        Value::Array(a) => a.iter_mut().for_each(|x| restore_all(x, vault)),
        Value::Object(o) => o.values_mut().for_each(|x| restore_all(x, vault)),
        _ => {}
    }
}

/// Restores text that is itself JSON (tool arguments) with JSON-escaped values.
fn restore_json_text(v: Option<&mut Value>, json_vault: &Vault) {
    if let Some(Value::String(s)) = v
        && s.contains('[')
    {
        *s = json_vault.restore(s);
    }
}

/// Confidence as exp(mean logprob) of the first choice's tokens.
fn logprob_confidence(body: &Value) -> Option<f64> {
    let tokens = body.pointer("/choices/0/logprobs/content")?.as_array()?;
    let lps: Vec<f64> = tokens
        .iter()
        .filter_map(|t| t.get("logprob").and_then(Value::as_f64))
        .collect();
    if lps.is_empty() {
        return None;
    }
    let mean = lps.iter().sum::<f64>() / lps.len() as f64;
    Some(mean.exp().clamp(0.0, 1.0))
}

/// Rewrites a complete (non-streamed) answer in place.
pub fn rewrite(
    api: Api,
    body: &mut Value,
    vault: &Vault,
    json_vault: &Vault,
    disallowed: &[String],
) -> AnswerFacts {
    let mut facts = AnswerFacts {
        logprob_confidence: logprob_confidence(body),
        ..AnswerFacts::default()
    };
    let banned = |name: &str| disallowed.iter().any(|d| d == name);
    match api {
        Api::ChatCompletions => {
            if let Some(Value::Array(choices)) = body.get_mut("choices") {
                for choice in choices {
                    let Some(msg) = choice.get_mut("message") else {
                        continue;
                    };
                    let mut refusals = Vec::new();
                    if let Some(Value::Array(calls)) = msg.get_mut("tool_calls") {
                        calls.retain(|c| {
                            let name = c
                                .pointer("/function/name")
                                .and_then(Value::as_str)
                                .unwrap_or("");
                            if banned(name) {
                                refusals.push(refusal(name));
                                false
                            } else {
                                true
                            }
                        });
                        for c in calls.iter_mut() {
                            restore_json_text(c.pointer_mut("/function/arguments"), json_vault);
                        }
                    }
                    if refusals.is_empty() {
                        continue;
                    }
                    facts.tool_calls_removed += refusals.len() as u32;
                    let no_calls_left = msg
                        .get("tool_calls")
                        .and_then(Value::as_array)
                        .is_none_or(Vec::is_empty);
                    if no_calls_left && let Some(o) = msg.as_object_mut() {
                        o.remove("tool_calls");
                    }
                    let mut text = msg
                        .get("content")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    for r in refusals {
                        if !text.is_empty() {
                            text.push('\n');
                        }
                        text.push_str(&r);
                    }
                    msg["content"] = Value::String(text);
                    if no_calls_left {
                        choice["finish_reason"] = json!("stop");
                    }
                }
            }
        }
        Api::Messages => {
            if let Some(Value::Array(blocks)) = body.get_mut("content") {
                for b in blocks.iter_mut() {
                    let name = b.get("name").and_then(Value::as_str).unwrap_or("");
                    if b.get("type").and_then(Value::as_str) == Some("tool_use") && banned(name) {
                        *b = json!({"type": "text", "text": refusal(name)});
                        facts.tool_calls_removed += 1;
                    }
                }
                let any_tool = blocks
                    .iter()
                    .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"));
                if facts.tool_calls_removed > 0 && !any_tool {
                    body["stop_reason"] = json!("end_turn");
                }
            }
        }
        Api::Responses => {
            if let Some(Value::Array(items)) = body.get_mut("output") {
                for item in items.iter_mut() {
                    let is_call = item.get("type").and_then(Value::as_str) == Some("function_call");
                    let name = item.get("name").and_then(Value::as_str).unwrap_or("");
                    if is_call && banned(name) {
                        let id = item.get("id").cloned().unwrap_or(json!("msg_certgate"));
                        *item = json!({"type": "message", "id": id, "role": "assistant",
                            "status": "completed",
                            "content": [{"type": "output_text", "text": refusal(name), "annotations": []}]});
                        facts.tool_calls_removed += 1;
                    } else if is_call {
                        restore_json_text(item.get_mut("arguments"), json_vault);
                    }
                }
            }
        }
        Api::Embeddings => {}
    }
    // Argument strings were restored with JSON escaping above; the plain pass cannot touch
    // them again because no placeholder is left in them.
    restore_all(body, vault);
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_redact::FindingType;

    fn vaults() -> (Vault, Vault) {
        let mut v = Vault::new();
        let mut j = Vault::new();
        v.placeholder(FindingType::Person, "Ann \"Q\" Roe");
        j.placeholder(FindingType::Person, "Ann \\\"Q\\\" Roe");
        (v, j)
    }

    #[test]
    fn chat_restores_and_removes_disallowed_calls() {
        let (v, j) = vaults();
        let mut body = json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Hi [PERSON_1]", "tool_calls": [
              {"id": "a", "type": "function", "function": {"name": "issue_refund", "arguments": "{}"}},
              {"id": "b", "type": "function", "function": {"name": "lookup", "arguments": "{\"who\":\"[PERSON_1]\"}"}}]}}]});
        let f = rewrite(
            Api::ChatCompletions,
            &mut body,
            &v,
            &j,
            &["issue_refund".to_owned()],
        );
        assert_eq!(f.tool_calls_removed, 1);
        let msg = &body["choices"][0]["message"];
        assert!(
            msg["content"]
                .as_str()
                .unwrap()
                .starts_with("Hi Ann \"Q\" Roe\n[certgate]")
        );
        let args = msg["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap();
        let parsed: Value = serde_json::from_str(args).expect("arguments stay valid JSON");
        assert_eq!(parsed["who"], "Ann \"Q\" Roe");
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn anthropic_tool_use_replaced_and_logprobs_read() {
        let (v, j) = vaults();
        let mut body = json!({"stop_reason": "tool_use", "content": [
            {"type": "text", "text": "[PERSON_1]"},
            {"type": "tool_use", "id": "t", "name": "modify_contract_terms", "input": {}}]});
        let f = rewrite(
            Api::Messages,
            &mut body,
            &v,
            &j,
            &["modify_contract_terms".to_owned()],
        );
        assert_eq!(f.tool_calls_removed, 1);
        assert_eq!(body["stop_reason"], "end_turn");
        assert_eq!(body["content"][0]["text"], "Ann \"Q\" Roe");
        assert_eq!(body["content"][1]["type"], "text");

        let mut lp =
            json!({"choices": [{"logprobs": {"content": [{"logprob": -0.1}, {"logprob": -0.3}]}}]});
        let f = rewrite(Api::ChatCompletions, &mut lp, &v, &j, &[]);
        let c = f.logprob_confidence.unwrap();
        assert!((c - (-0.2f64).exp()).abs() < 1e-9);
    }
}
