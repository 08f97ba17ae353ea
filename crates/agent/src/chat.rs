//! The app's own copilot chat as a client of the governed proxy, exactly as any other tool:
//! its own key and tool surface, OpenAI chat completions, streamed. What the proxy refuses comes
//! back as a refusal with the proxy's words, never as an error of the chat.

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// The proxy's request-id header (its evidence record has the same id).
const REQUEST_ID: &str = "x-certgate-request-id";
/// Set when the answer needs a person's approval before it is used.
const APPROVAL: &str = "x-certgate-approval";

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    pub request_id: Option<String>,
    /// The answer, with the proxy's pseudonyms already restored.
    pub text: String,
    /// Confidence was below the policy's threshold: a person must approve or reject it.
    pub approval_required: bool,
    /// The proxy refused the request (status and its message), so nothing was answered.
    pub refused: Option<(u16, String)>,
}

fn http(what: &'static str) -> impl FnOnce(reqwest::Error) -> Error {
    move |e| Error::Protocol {
        what,
        reason: e.to_string(),
    }
}

/// Sends the conversation through the proxy at `base_url` and streams the answer's text to
/// `on_text` as it arrives.
pub async fn send(
    base_url: &str,
    key: &str,
    model: &str,
    turns: &[Turn],
    mut on_text: impl FnMut(&str),
) -> Result<Reply> {
    certgate_credentials::client::install_tls_provider();
    let resp = reqwest::Client::new()
        .post(format!("{base_url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "stream": true, "messages": turns}))
        .send()
        .await
        .map_err(http("the proxy"))?;
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut reply = Reply {
        request_id: header(REQUEST_ID),
        approval_required: header(APPROVAL).as_deref() == Some("required"),
        ..Reply::default()
    };
    let status = resp.status();
    if !status.is_success() {
        let body: Value = resp.json().await.unwrap_or_default();
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("the proxy refused the request")
            .to_owned();
        reply.refused = Some((status.as_u16(), message));
        return Ok(reply);
    }
    let mut pending = String::new();
    let mut chunks = resp.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(http("the answer stream"))?;
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            if let Some(text) = delta_text(line.trim()) {
                on_text(&text);
                reply.text.push_str(&text);
            }
        }
    }
    Ok(reply)
}

/// The text of one SSE line of an OpenAI chat stream (`data: {...choices[0].delta.content}`).
fn delta_text(line: &str) -> Option<String> {
    let data = line.strip_prefix("data:")?.trim();
    if data == "[DONE]" {
        return None;
    }
    let v: Value = serde_json::from_str(data).ok()?;
    v["choices"][0]["delta"]["content"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Records a person's decision on an answer that needed approval (`approved` or `rejected`).
pub async fn decide(base_url: &str, key: &str, request_id: &str, outcome: &str) -> Result<()> {
    certgate_credentials::client::install_tls_provider();
    let resp = reqwest::Client::new()
        .post(format!("{base_url}/certgate/v1/approvals"))
        .bearer_auth(key)
        .json(&json!({"requestId": request_id, "outcome": outcome}))
        .send()
        .await
        .map_err(http("the proxy"))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or_default();
        Err(Error::Protocol {
            what: "the approval",
            reason: format!(
                "{status}: {}",
                body["error"]["message"].as_str().unwrap_or("refused")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_lines_give_only_the_text_deltas() {
        let line = r#"data: {"choices":[{"delta":{"content":"Hel"}}]}"#;
        assert_eq!(delta_text(line).as_deref(), Some("Hel"));
        assert_eq!(delta_text("data: [DONE]"), None);
        assert_eq!(delta_text(": keep-alive"), None);
        assert_eq!(
            delta_text(r#"data: {"choices":[{"delta":{"role":"assistant"}}]}"#),
            None
        );
        assert_eq!(delta_text("data: {not json"), None);
    }
}
