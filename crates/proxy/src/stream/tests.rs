use super::*;
use certgate_redact::FindingType;

fn vaults() -> (Vault, Vault) {
    let mut v = Vault::new();
    let mut j = Vault::new();
    v.placeholder(FindingType::Email, "ann@example.org");
    j.placeholder(FindingType::Email, "ann@example.org");
    v.placeholder(FindingType::Person, "Bo \"B\" Li");
    j.placeholder(FindingType::Person, "Bo \\\"B\\\" Li");
    (v, j)
}

/// Splits `text` into deltas of `n` chars.
fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// Every `data:` JSON of an SSE body.
fn events(body: &[u8]) -> Vec<(Option<String>, String)> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut name = None;
        let mut data = None;
        for line in block.lines() {
            if let Some(n) = line.strip_prefix("event: ") {
                name = Some(n.to_owned());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = Some(d.to_owned());
            }
        }
        if let Some(d) = data {
            out.push((name, d));
        }
    }
    out
}

fn run(rw: &mut SseRewriter, input: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in input.chunks(chunk) {
        out.extend(rw.feed(c));
    }
    out.extend(rw.finish());
    out
}

#[test]
fn openai_chat_restores_across_events_at_any_chunking() {
    let (v, j) = vaults();
    let answer = "Write to [EMAIL_1] and [PERSON_1] now [EMAIL_9]";
    let mut input = String::new();
    for p in pieces(answer, 3) {
        let c = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]});
        input.push_str(&format!("data: {c}\n\n"));
    }
    let last = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    input.push_str(&format!("data: {last}\n\ndata: [DONE]\n\n"));
    for chunk in [1, 2, 7, 64, 100_000] {
        let mut rw = SseRewriter::new(Api::ChatCompletions, v.clone(), j.clone(), vec![]);
        let out = run(&mut rw, input.as_bytes(), chunk);
        let mut text = String::new();
        let evs = events(&out);
        for (_, d) in &evs {
            if d == "[DONE]" {
                continue;
            }
            let e: Value = serde_json::from_str(d).unwrap();
            if let Some(t) = e
                .pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
            {
                text.push_str(t);
            }
        }
        assert_eq!(
            text, "Write to ann@example.org and Bo \"B\" Li now [EMAIL_9]",
            "chunk size {chunk}"
        );
        assert_eq!(evs.last().unwrap().1, "[DONE]", "DONE stays last");
    }
}

#[test]
fn openai_disallowed_tool_call_removed_and_args_restored_as_json() {
    let (v, j) = vaults();
    let chunks = [
        json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "t0", "type": "function", "function": {"name": "issue_refund", "arguments": ""}}]}, "finish_reason": null}]}),
        json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": "{\"amount\": 5}"}}]}, "finish_reason": null}]}),
        json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 1, "id": "t1", "type": "function", "function": {"name": "lookup", "arguments": "{\"who\": \"[PERS"}}]}, "finish_reason": null}]}),
        json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 1, "function": {"arguments": "ON_1]\"}"}}]}, "finish_reason": null}]}),
        json!({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
    ];
    let input: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    let mut rw = SseRewriter::new(Api::ChatCompletions, v, j, vec!["issue_refund".to_owned()]);
    let out = run(&mut rw, input.as_bytes(), 5);
    assert_eq!(rw.facts.tool_calls_removed, 1);
    let (mut content, mut args) = (String::new(), String::new());
    for (_, d) in events(&out) {
        let e: Value = serde_json::from_str(&d).unwrap();
        let delta = &e["choices"][0]["delta"];
        content.push_str(delta["content"].as_str().unwrap_or(""));
        for c in delta["tool_calls"].as_array().into_iter().flatten() {
            assert_ne!(c["function"]["name"], "issue_refund");
            assert_eq!(c["index"], 1, "the refund call's deltas are dropped");
            args.push_str(c["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert!(content.contains("issue_refund") && content.contains("[certgate]"));
    let parsed: Value = serde_json::from_str(&args).expect("arguments are valid JSON");
    assert_eq!(parsed["who"], "Bo \"B\" Li");
}

#[test]
fn anthropic_restores_per_block_and_replaces_tool_use() {
    let (v, j) = vaults();
    let mut input = String::new();
    let mut ev = |name: &str, data: Value| {
        input.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    };
    ev(
        "message_start",
        json!({"type": "message_start", "message": {"id": "m", "content": []}}),
    );
    ev(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    );
    for p in pieces("Hi [EMAIL_1]!", 1) {
        ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}),
        );
    }
    ev(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " [EMAIL_"}}),
    );
    ev(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    );
    ev(
        "content_block_start",
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "issue_refund", "input": {}}}),
    );
    ev(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":1}"}}),
    );
    ev(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 1}),
    );
    ev(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}}),
    );
    ev("message_stop", json!({"type": "message_stop"}));
    let mut rw = SseRewriter::new(Api::Messages, v, j, vec!["issue_refund".to_owned()]);
    let out = run(&mut rw, input.as_bytes(), 1);
    let evs = events(&out);
    let mut texts: HashMap<u64, String> = HashMap::new();
    let mut order = Vec::new();
    for (name, d) in &evs {
        let e: Value = serde_json::from_str(d).unwrap();
        order.push(name.clone().unwrap());
        if let Some(t) = e.pointer("/delta/text").and_then(Value::as_str) {
            texts.entry(u(&e, "index")).or_default().push_str(t);
        }
        assert!(
            e.pointer("/delta/partial_json").is_none(),
            "blocked tool input leaked"
        );
        if e["type"] == "message_delta" {
            assert_eq!(e["delta"]["stop_reason"], "end_turn");
        }
    }
    assert_eq!(texts[&0], "Hi ann@example.org! [EMAIL_");
    assert!(texts[&1].contains("issue_refund"));
    let stop0 = order
        .iter()
        .position(|n| n == "content_block_stop")
        .unwrap();
    assert_eq!(
        order[stop0 - 1],
        "content_block_delta",
        "held text flushed before the stop"
    );
    assert_eq!(rw.facts.tool_calls_removed, 1);
}

#[test]
fn responses_deltas_done_and_completed() {
    let (v, j) = vaults();
    let mut input = String::new();
    let mut ev = |data: Value| {
        let name = data["type"].as_str().unwrap().to_owned();
        input.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    };
    for p in pieces("to [EMAIL_1]", 2) {
        ev(
            json!({"type": "response.output_text.delta", "item_id": "i", "output_index": 0, "content_index": 0, "delta": p}),
        );
    }
    ev(
        json!({"type": "response.output_text.done", "item_id": "i", "output_index": 0, "content_index": 0, "text": "to [EMAIL_1]"}),
    );
    ev(
        json!({"type": "response.completed", "response": {"output": [{"type": "message", "content": [{"type": "output_text", "text": "to [EMAIL_1]"}]}]}}),
    );
    let mut rw = SseRewriter::new(Api::Responses, v, j, vec![]);
    let out = run(&mut rw, input.as_bytes(), 3);
    let mut deltas = String::new();
    for (_, d) in events(&out) {
        let e: Value = serde_json::from_str(&d).unwrap();
        match e["type"].as_str().unwrap() {
            "response.output_text.delta" => deltas.push_str(e["delta"].as_str().unwrap()),
            "response.output_text.done" => assert_eq!(e["text"], "to ann@example.org"),
            "response.completed" => assert_eq!(
                e["response"]["output"][0]["content"][0]["text"],
                "to ann@example.org"
            ),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(deltas, "to ann@example.org");
}

#[test]
fn responses_disallowed_function_call_replaced_and_its_arguments_dropped() {
    let (v, j) = vaults();
    let mut input = String::new();
    let mut ev = |data: Value| {
        let name = data["type"].as_str().unwrap().to_owned();
        input.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    };
    let fc = json!({"type": "function_call", "id": "fc_1", "call_id": "c", "name": "issue_refund", "arguments": ""});
    ev(json!({"type": "response.output_item.added", "output_index": 1, "item": fc}));
    ev(
        json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 1, "delta": "{\"amount\":"}),
    );
    ev(
        json!({"type": "response.function_call_arguments.done", "item_id": "fc_1", "output_index": 1, "arguments": "{\"amount\":5}"}),
    );
    ev(json!({"type": "response.output_item.done", "output_index": 1, "item": fc}));
    ev(json!({"type": "response.completed", "response": {"output": [fc]}}));
    let mut rw = SseRewriter::new(Api::Responses, v, j, vec!["issue_refund".to_owned()]);
    let out = run(&mut rw, input.as_bytes(), 7);
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains("amount"),
        "blocked call's arguments leaked: {text}"
    );
    assert!(!text.contains("\"function_call\""), "{text}");
    assert_eq!(rw.facts.tool_calls_removed, 1, "counted once");
    assert_eq!(
        text.matches("[certgate]").count(),
        3,
        "added, done and completed carry the refusal"
    );
}
