//! `POST …/openai/v1/responses`: the Responses API, which Microsoft's docs now lead with.
//! Shape as OpenAI documents the response object; the lab validates what a probe sends
//! (`input`, `max_output_tokens`, `store`).

use serde_json::{Value, json};

use super::dataplane::{Ctx, approx_tokens, ok_headers};
use super::http::Resp;
use super::scenario::{Deployment, DeploymentKind};
use super::util::{now_unix, random_chars};

/// OpenAI's floor for `max_output_tokens`; below it the API answers
/// "integer below minimum value".
const MIN_OUTPUT_TOKENS: u64 = 16;

pub(crate) fn create(ctx: &Ctx, dep: &Deployment, body: &Value) -> Resp {
    let Some(input) = body.get("input").filter(|i| !i.is_null()) else {
        return ctx.invalid(
            "Missing required parameter: 'input'.",
            Some("input"),
            Some("missing_required_parameter"),
        );
    };
    let limit = match body.get("max_output_tokens") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= MIN_OUTPUT_TOKENS => Some(n),
            _ => {
                return ctx.invalid(
                    &format!(
                        "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= {MIN_OUTPUT_TOKENS}, but got {v} instead."
                    ),
                    Some("max_output_tokens"),
                    Some("integer_below_min_value"),
                );
            }
        },
    };
    // `store` defaults to true on the service; a probe sends false so nothing is kept.
    let store = body.get("store").and_then(Value::as_bool).unwrap_or(true);
    let reasoning = dep.kind == DeploymentKind::Reasoning;
    let reasoning_tokens = if reasoning { 8 } else { 0 };
    let text = "Hello! How can I help you today?";
    let output_tokens = 9 + reasoning_tokens;
    let input_tokens = approx_tokens(input) + 7;
    let created = now_unix();
    let out = json!({
        "id": format!("resp_{}", random_chars(48)),
        "object": "response",
        "created_at": created,
        "status": "completed",
        "background": false,
        "error": null,
        "incomplete_details": null,
        "instructions": body.get("instructions").cloned().unwrap_or(Value::Null),
        "max_output_tokens": limit,
        "model": dep.model,
        "output": [{
            "id": format!("msg_{}", random_chars(48)),
            "type": "message",
            "status": "completed",
            "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}],
            "role": "assistant"
        }],
        "parallel_tool_calls": true,
        "previous_response_id": null,
        "reasoning": {"effort": if reasoning { json!("medium") } else { Value::Null }, "summary": null},
        "store": store,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens
        },
        "user": null,
        "metadata": {}
    });
    ctx.send(200, out.to_string(), &ok_headers(Some(dep)))
}
