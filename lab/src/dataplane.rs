//! The Azure OpenAI data plane: chat completions, completions, embeddings, Responses, models
//! and deployments lists, on the classic `?api-version=` routes, the `/openai/v1/` ones, a
//! Foundry project's `/api/projects/{p}/openai/v1/` and the model-inference `/models/` route
//! (surfaces, audiences and data actions: `dataplane_routes.rs`).
//!
//! The order of the checks is the service's as far as the captures show it: route and
//! api-version, network rules (403 + `policy-id`), credentials (api-key: 403
//! AuthenticationTypeDisabled / 401; bearer: 401 for a bad, expired or wrong-audience token,
//! 400 for another tenant's token), RBAC data actions (401 PermissionDenied, with role
//! propagation), deployment (404 DeploymentNotFound), rate limit (429), request validation.
//! Bodies: fixtures/corpus/aoai-dataplane.json unless a comment names another source.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{Value, json};

use super::dataplane_routes::{ApiVersionCheck, Op, OpKind, Surface, check_api_version, rbac_scope, route};
use super::http::{Resp, bearer, header, q, respond};
use super::jwt::Invalid;
use super::scenario::{Deployment, DeploymentKind, PermissionDeniedStyle};
use super::state::LabState;
use super::util::{b64, form_pairs, guid, http_date, now_unix, param, random_chars};

pub fn router(state: Arc<LabState>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// Per-request context for the headers every answer carries.
pub(crate) struct Ctx {
    apim: String,
    client_request_id: String,
    region: String,
    deployment: Option<String>,
}

impl Ctx {
    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("apim-request-id", self.apim.clone()),
            ("x-ms-client-request-id", self.client_request_id.clone()),
            (
                "strict-transport-security",
                "max-age=31536000; includeSubDomains; preload".into(),
            ),
            ("x-content-type-options", "nosniff".into()),
            ("x-ms-region", self.region.clone()),
            ("date", http_date(now_unix())),
        ];
        if let Some(d) = &self.deployment {
            h.push(("x-ms-deployment-name", d.clone()));
        }
        h
    }

    pub(crate) fn send(&self, status: u16, body: String, extra: &[(&'static str, String)]) -> Resp {
        let mut h = self.headers();
        h.extend_from_slice(extra);
        respond(status, "application/json", body, &h)
    }

    /// `{"error":{"code":C,"message": M}}`, with the space after `"message":` that the
    /// captures with a Content-Length show (aoai-404-deployment-not-found-headers).
    pub(crate) fn error(&self, status: u16, code: &str, message: &str, extra: &[(&'static str, String)]) -> Resp {
        self.send(
            status,
            format!("{{\"error\":{{\"code\":{},\"message\": {}}}}}", q(code), q(message)),
            extra,
        )
    }

    /// OpenAI-style validation errors (type / param / code).
    pub(crate) fn invalid(&self, message: &str, param: Option<&str>, code: Option<&str>) -> Resp {
        let body =
            json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}});
        self.send(400, body.to_string(), &[])
    }
}

async fn dispatch(State(st): State<Arc<LabState>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Resp {
    let ctx = Ctx {
        apim: guid(),
        client_request_id: String::new(),
        region: st.scenario.account.region.clone(),
        deployment: None,
    };
    let ctx = Ctx {
        client_request_id: header(&headers, "x-ms-client-request-id")
            .map(str::to_string)
            .unwrap_or_else(|| ctx.apim.clone()),
        ..ctx
    };
    let path = uri.path().to_string();
    let r = handle(
        &st,
        ctx,
        &method,
        &path,
        uri.query().unwrap_or_default(),
        &headers,
        &body,
    );
    st.log("aoai", format!("{method} {path} -> {}", r.status().as_u16()));
    r
}

fn ip_allowed(rules: &[String], ip: &str) -> bool {
    let parse = |s: &str| -> Option<u32> {
        let o: Vec<u32> = s.split('.').map(|x| x.parse().ok()).collect::<Option<Vec<_>>>()?;
        (o.len() == 4 && o.iter().all(|x| *x < 256)).then(|| (o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3])
    };
    let Some(ip) = parse(ip) else { return false };
    rules.iter().any(|r| {
        let (net, bits) = r
            .split_once('/')
            .map_or((r.as_str(), 32), |(n, b)| (n, b.parse().unwrap_or(33)));
        match parse(net) {
            Some(n) if bits <= 32 => {
                let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                ip & mask == n & mask
            }
            _ => false,
        }
    })
}

fn handle(
    st: &LabState,
    mut ctx: Ctx,
    method: &Method,
    path: &str,
    raw_query: &str,
    h: &HeaderMap,
    body: &[u8],
) -> Resp {
    let query = form_pairs(raw_query.as_bytes());
    let json_body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    // aoai-404-resource-not-found-bad-api-version: unknown paths and a missing api-version.
    let not_found = |ctx: &Ctx| ctx.error(404, "404", "Resource not found", &[]);
    let Some(mut op) = route(method.as_str(), path, &json_body) else {
        return not_found(&ctx);
    };
    if !surface_exists(st, &op.surface) {
        return not_found(&ctx);
    }
    let api_version = param(&query, "api-version").unwrap_or_default().to_string();
    match check_api_version(&op.surface, &api_version) {
        ApiVersionCheck::Ok => {}
        ApiVersionCheck::Missing => return not_found(&ctx),
        // aoai-400-api-version-not-supported; the same body on /openai/v1 (zendev-sh/goai#54).
        ApiVersionCheck::NotSupported => {
            return ctx.send(
                400,
                "{\"error\":{\"code\":\"BadRequest\",\"message\":\"API version not supported\"}}".into(),
                &[],
            );
        }
    }
    ctx.deployment = op.deployment.clone();
    if let Some(dep) = op.deployment.as_ref().and_then(|d| st.scenario.deployments.get(d)) {
        op = op.for_model_format(&dep.format);
    }
    if let Some(r) = network_rules(st, &ctx) {
        return r;
    }
    if let Some(r) = authorize(st, &ctx, &op, h) {
        return r;
    }
    let deployment = match &op.deployment {
        None => None,
        Some(d) => match st.scenario.deployments.get(d) {
            Some(dep) => Some((d.clone(), dep)),
            None => {
                // aoai-404-deployment-not-found-headers
                return ctx.error(
                    404,
                    "DeploymentNotFound",
                    "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.",
                    &[],
                );
            }
        },
    };
    if let Some(r) = rate_limit(st, &ctx, &op, &api_version) {
        return r;
    }
    match (op.kind, deployment) {
        (OpKind::Models, _) => models(st, &ctx, op.v1()),
        (OpKind::Deployments, _) => deployments(st, &ctx),
        (kind, Some((name, dep))) => infer(st, &ctx, &op, kind, &name, dep, body, &json_body, &api_version),
        _ => not_found(&ctx),
    }
}

/// Project routes exist only on an AIServices account that has that project; the
/// model-inference route only on AIServices accounts.
fn surface_exists(st: &LabState, surface: &Surface) -> bool {
    let foundry = st.scenario.account.kind.eq_ignore_ascii_case("AIServices");
    match surface {
        Surface::Project(p) => foundry && st.scenario.projects.contains_key(p),
        Surface::Models => foundry,
        _ => true,
    }
}

/// Network rules come before credentials: the firewall answers even unauthenticated calls.
fn network_rules(st: &LabState, ctx: &Ctx) -> Option<Resp> {
    let account = &st.scenario.account;
    let denied = [("policy-id", "ThrowExceptionDueToTrafficDenied".to_string())];
    if account.public_network_access.eq_ignore_ascii_case("Disabled") {
        // aoai-403-public-access-disabled-accessdenied-code
        return Some(ctx.error(
            403,
            "AccessDenied",
            "Public access is disabled. Please configure private endpoint.",
            &denied,
        ));
    }
    let acls = &account.network_acls;
    if acls.default_action.eq_ignore_ascii_case("Deny")
        && !ip_allowed(&acls.ip_rules, &st.scenario.data_plane.client_ip)
    {
        // Azure-Samples/azure-sql-db-chatbot#3 (policy-id ThrowExceptionDueToTrafficDenied)
        return Some(ctx.error(
            403,
            "403",
            "Access denied due to Virtual Network/Firewall rules.",
            &denied,
        ));
    }
    None
}

/// An inference call on an existing deployment: body validation, then the operation.
#[allow(clippy::too_many_arguments)]
fn infer(
    st: &LabState,
    ctx: &Ctx,
    op: &Op,
    kind: OpKind,
    name: &str,
    dep: &Deployment,
    body: &[u8],
    json_body: &Value,
    api_version: &str,
) -> Resp {
    if !body.is_empty() && json_body.is_null() || !json_body.is_object() {
        // OpenAI's text for an unparsable body.
        return ctx.invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
            None,
            None,
        );
    }
    if let Some(min) = &dep.min_api_version
        && op.surface == Surface::Classic
        && api_version < min.as_str()
    {
        // aoai-400-model-needs-newer-api-version: the placeholder is really in the text.
        return ctx.send(
            400,
            format!("{{\"error\":{{\"code\":\"BadRequest\",\"message\":\"Model {{modelName}} is enabled only for api versions {min} and later\"}}}}"),
            &[],
        );
    }
    match kind {
        OpKind::Chat | OpKind::Completions | OpKind::Responses if dep.kind == DeploymentKind::Embeddings => {
            not_supported(ctx, "chatCompletion", dep)
        }
        OpKind::Embeddings if dep.kind != DeploymentKind::Embeddings => not_supported(ctx, "embeddings", dep),
        OpKind::Chat => chat(st, ctx, name, dep, json_body),
        OpKind::Responses => super::responses::create(ctx, dep, json_body),
        OpKind::Completions => completions(ctx, dep, json_body),
        _ => embeddings(ctx, dep, json_body),
    }
}

/// Credentials and RBAC; `None` means the call may proceed.
fn authorize(st: &LabState, ctx: &Ctx, op: &Op, h: &HeaderMap) -> Option<Resp> {
    let account = &st.scenario.account;
    if let Some(key) = header(h, "api-key").filter(|k| !k.trim().is_empty()) {
        if account.disable_local_auth {
            // aoai-403-authtype-disabled-chat-app
            return Some(ctx.error(
                403,
                "AuthenticationTypeDisabled",
                "Key based authentication is disabled for this resource.",
                &[],
            ));
        }
        if key.trim() == account.api_key {
            return None;
        }
        // aoai-401-invalid-key-or-wrong-endpoint
        return Some(ctx.send(
            401,
            "{\"error\":{\"code\":\"401\",\"message\":\"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.\"}}".into(),
            &[],
        ));
    }
    let Some(token) = bearer(h) else {
        // openai/openai-python#1527: no api-key and no Authorization header.
        return Some(ctx.send(
            401,
            "{ \"statusCode\": 401, \"message\": \"Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.\" }".into(),
            &[],
        ));
    };
    let oid = match check_token(st, ctx, op, token) {
        Ok(oid) => oid,
        Err(r) => return Some(r),
    };
    check_data_action(st, ctx, op, &oid)
}

/// Signature, lifetime, audience (per surface) and tenant; the caller's object id (the
/// error is the answer to send, as in arm.rs).
#[allow(clippy::result_large_err)]
fn check_token(st: &LabState, ctx: &Ctx, op: &Op, token: &str) -> Result<String, Resp> {
    // aoai-401-token-rejected-hourly-expiry: one body for missing, malformed, wrong-audience
    // and expired tokens, and for a key sent as a bearer token. The parentheses name the
    // audience the surface wants: `(https://ai.azure.com)` on project routes
    // (microsoft/agent-framework#7201: "The response body itself states the expected
    // audience is https://ai.azure.com").
    let rejected = || {
        ctx.send(
            401,
            format!(
                "{{ \"statusCode\": 401, \"message\": \"Unauthorized. Access token is missing, invalid, audience is incorrect ({}), or have expired.\" }}",
                op.surface.audience_named()
            ),
            &[],
        )
    };
    let claims = match st.signer.verify(token) {
        Ok(c) => c,
        Err(Invalid::Malformed | Invalid::BadSignature) => return Err(rejected()),
    };
    let s = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let n = |k: &str| claims.get(k).and_then(Value::as_i64);
    let now = now_unix();
    // Five minutes of clock skew, as Entra-protected services allow.
    let expired = n("exp").is_none_or(|e| e + 300 < now);
    let early = n("nbf").is_some_and(|nb| nb > now + 300);
    if !op.surface.accepts_audience(&s("aud")) || expired || early {
        return Err(rejected());
    }
    let tid = s("tid");
    if !tid.eq_ignore_ascii_case(st.account_tenant_id()) {
        // Azure-Samples/ai-rag-chat-evaluator#94: a whole sentence as the code, status 400.
        return Err(ctx.send(
            400,
            format!(
                "{{\"error\":{{\"code\":\"Tenant provided in token does not match resource token\",\"message\":\"Token tenant {tid} does not match resource tenant.\"}}}}"
            ),
            &[],
        ));
    }
    Ok(s("oid"))
}

/// RBAC at the surface's scope: the account, or the project for project routes (an
/// assignment on the project counts there and only there; ones above it count too).
fn check_data_action(st: &LabState, ctx: &Ctx, op: &Op, oid: &str) -> Option<Resp> {
    let scope = rbac_scope(&st.scenario.account_id(), &op.surface);
    let allowed = |action: &str| st.rbac().data_action_allowed(oid, &scope, action, &|a| st.effective(a));
    if allowed(op.data_action) || op.also_granted_by.is_some_and(allowed) {
        return None;
    }
    // aoai-401-permissiondenied-principal-no-access-cli-identity (generic) and the
    // data-action wording (azure-apis.json error_signatures template; the project route's
    // action and templated path as observed in microsoft-foundry/foundry-samples#692).
    let msg = match st.scenario.data_plane.permission_denied {
        PermissionDeniedStyle::Generic => "Principal does not have access to API/Operation.".to_string(),
        PermissionDeniedStyle::DataAction => format!(
            "The principal `{oid}` lacks the required data action `{}` to perform `{}` operation.",
            op.data_action, op.route
        ),
    };
    Some(ctx.error(401, "PermissionDenied", &msg, &[]))
}

fn rate_limit(st: &LabState, ctx: &Ctx, op: &Op, api_version: &str) -> Option<Resp> {
    let rl = st.scenario.data_plane.rate_limit.as_ref()?;
    let limited = {
        let mut c = st.counters.lock().unwrap_or_else(|e| e.into_inner());
        c.data_plane_calls += 1;
        let limited = c.data_plane_calls > rl.after && (rl.count == 0 || c.rate_limited < rl.count);
        if limited {
            c.rate_limited += 1;
        }
        limited
    };
    if !limited {
        return None;
    }
    let mut extra = vec![
        ("x-ratelimit-remaining-requests", "0".to_string()),
        ("x-ratelimit-remaining-tokens", "0".to_string()),
    ];
    match rl.retry_after_seconds {
        Some(n) => {
            extra.push(("retry-after", n.to_string()));
            extra.push(("retry-after-ms", (n * 1000).to_string()));
            let version = if api_version.is_empty() { "v1" } else { api_version };
            Some(ctx.error(
                429,
                "429",
                &format!(
                    "Requests to the {} Operation under Azure OpenAI API version {version} have exceeded token rate limit of your current OpenAI {} pricing tier. Please retry after {n} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
                    op.operation, st.scenario.account.sku
                ),
                &extra,
            ))
        }
        // aoai-429-rate-limit-with-headers: no Retry-After at all.
        None => Some(ctx.error(429, "429", "Rate limit is exceeded. Try again in 2 seconds.", &extra)),
    }
}

fn not_supported(ctx: &Ctx, operation: &str, dep: &Deployment) -> Resp {
    ctx.error(
        400,
        "OperationNotSupported",
        &format!(
            "The {operation} operation does not work with the specified model, {}. Please choose different model and try again. You can learn more about which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.",
            dep.model
        ),
        &[],
    )
}

pub(crate) fn ok_headers(dep: Option<&Deployment>) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("x-request-id", guid()),
        ("x-envoy-upstream-service-time", "212".into()),
        ("x-ratelimit-limit-requests", "50".into()),
        ("x-ratelimit-remaining-requests", "49".into()),
        ("x-ratelimit-limit-tokens", "50000".into()),
        ("x-ratelimit-remaining-tokens", "49970".into()),
    ];
    if let Some(d) = dep {
        h.push((
            "azureml-model-session",
            format!("d{}-{}", &d.version.replace('-', ""), "20250210232931"),
        ));
    }
    h
}

fn filter_results() -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    json!({"hate": safe, "self_harm": safe, "sexual": safe, "violence": safe})
}

pub(crate) fn approx_tokens(v: &Value) -> u64 {
    (v.to_string().len() as u64 / 4).max(1)
}

fn chat(st: &LabState, ctx: &Ctx, _name: &str, dep: &Deployment, body: &Value) -> Resp {
    let Some(messages) = body.get("messages").and_then(Value::as_array).filter(|m| !m.is_empty()) else {
        return ctx.invalid(
            "Missing required parameter: 'messages'.",
            Some("messages"),
            Some("missing_required_parameter"),
        );
    };
    let max_tokens = body.get("max_tokens").and_then(Value::as_u64);
    let max_completion = body.get("max_completion_tokens").and_then(Value::as_u64);
    let reasoning = dep.kind == DeploymentKind::Reasoning;
    if reasoning && body.get("max_tokens").is_some_and(|v| !v.is_null()) {
        // OpenAI's body for o-series models (e.g. fish2018/YPrompt#26, griptape-ai/ComfyUI-Griptape#312).
        return ctx.invalid(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            Some("max_tokens"),
            Some("unsupported_parameter"),
        );
    }
    if reasoning
        && let Some(t) = body
            .get("temperature")
            .and_then(Value::as_f64)
            .filter(|t| (t - 1.0).abs() > f64::EPSILON)
    {
        return ctx.invalid(
            &format!("Unsupported value: 'temperature' does not support {t:?} with this model. Only the default (1) value is supported."),
            Some("temperature"),
            Some("unsupported_value"),
        );
    }
    let limit = max_completion.or(max_tokens).unwrap_or(4096);
    let reasoning_tokens = if reasoning { 64.min(limit) } else { 0 };
    let answer = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"];
    let room = limit.saturating_sub(reasoning_tokens) as usize;
    let words: String = answer.iter().take(room).copied().collect();
    let finish = if room < answer.len() { "length" } else { "stop" };
    let completion_tokens = room.min(answer.len()) as u64 + reasoning_tokens;
    let prompt_tokens = approx_tokens(&Value::Array(messages.clone())) + 7;
    let id = format!("chatcmpl-{}", random_chars(29));
    let created = now_unix();
    let model = format!("{}-{}", dep.model, dep.version);
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        return stream(ctx, &id, created, &model, &words, finish);
    }
    let out = json!({
        "choices": [{
            "content_filter_results": filter_results(),
            "finish_reason": finish,
            "index": 0,
            "logprobs": null,
            "message": {"annotations": [], "content": words, "refusal": null, "role": "assistant"}
        }],
        "created": created,
        "id": id,
        "model": model,
        "object": "chat.completion",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filter_results()}],
        "system_fingerprint": format!("fp_{}", &super::util::stable_guid(&st.scenario.account.name).replace('-', "")[..10]),
        "usage": {
            "completion_tokens": completion_tokens,
            "completion_tokens_details": {"accepted_prediction_tokens": 0, "audio_tokens": 0, "reasoning_tokens": reasoning_tokens, "rejected_prediction_tokens": 0},
            "prompt_tokens": prompt_tokens,
            "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 0},
            "total_tokens": prompt_tokens + completion_tokens
        }
    });
    ctx.send(200, out.to_string(), &ok_headers(Some(dep)))
}

/// Server-sent events as Azure streams them: a first event with an empty id that only
/// carries prompt_filter_results (aoai-200-stream-first-chunk-empty-id), then deltas.
fn stream(ctx: &Ctx, id: &str, created: i64, model: &str, content: &str, finish: &str) -> Resp {
    let first = json!({"id": "", "object": "", "created": 0, "model": "", "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": filter_results()}], "choices": [], "usage": null});
    let chunk = |delta: Value, finish: Value| json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [{"index": 0, "finish_reason": finish, "delta": delta, "content_filter_results": {}}], "usage": null});
    let events = [
        first,
        chunk(json!({"role": "assistant"}), Value::Null),
        chunk(json!({"content": content}), Value::Null),
        chunk(json!({}), json!(finish)),
    ];
    let mut body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    body.push_str("data: [DONE]\n\n");
    let mut h = ctx.headers();
    h.extend(ok_headers(None));
    respond(200, "text/event-stream; charset=utf-8", body, &h)
}

fn completions(ctx: &Ctx, dep: &Deployment, body: &Value) -> Resp {
    if dep.kind != DeploymentKind::Chat || body.get("prompt").is_none() {
        return ctx.error(
            400,
            "OperationNotSupported",
            &format!("The completion operation does not work with the specified model, {}. Please choose different model and try again. You can learn more about which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.", dep.model),
            &[],
        );
    }
    let out = json!({
        "id": format!("cmpl-{}", random_chars(29)), "object": "text_completion", "created": now_unix(),
        "model": dep.model, "choices": [{"text": " Hello!", "index": 0, "finish_reason": "stop", "logprobs": null}],
        "usage": {"completion_tokens": 2, "prompt_tokens": approx_tokens(body), "total_tokens": 2 + approx_tokens(body)}
    });
    ctx.send(200, out.to_string(), &ok_headers(Some(dep)))
}

fn embeddings(ctx: &Ctx, dep: &Deployment, body: &Value) -> Resp {
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect(),
        _ => {
            return ctx.invalid(
                "'input' is a required property",
                Some("input"),
                Some("missing_required_parameter"),
            );
        }
    };
    let dims = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .unwrap_or(1536)
        .clamp(1, 3072) as usize;
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let v = vector(text, dims);
            let emb = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(b64(&bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": emb})
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|s| (s.len() as u64 / 4).max(1)).sum();
    let out = json!({"object": "list", "data": data, "model": dep.model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}});
    ctx.send(200, out.to_string(), &ok_headers(Some(dep)))
}

/// A deterministic unit vector for `text`.
fn vector(text: &str, dims: usize) -> Vec<f32> {
    let mut seed = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .to_vec();
    let mut v = Vec::with_capacity(dims);
    while v.len() < dims {
        for b in &seed {
            if v.len() < dims {
                v.push((*b as f32 - 127.5) / 127.5);
            }
        }
        seed = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &seed)
            .as_ref()
            .to_vec();
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::EPSILON);
    v.iter().map(|x| x / norm).collect()
}

fn models(st: &LabState, ctx: &Ctx, v1: bool) -> Resp {
    let created = st.started_unix - 120 * 86400;
    let data: Vec<Value> = st
        .scenario
        .deployments
        .values()
        .map(|d| {
            let id = format!("{}-{}", d.model, d.version);
            if v1 {
                json!({"id": id, "object": "model", "created": created, "owned_by": "system"})
            } else {
                let chat = d.kind != DeploymentKind::Embeddings;
                json!({
                    "status": "succeeded",
                    "capabilities": {"fine_tune": false, "inference": true, "completion": false, "chat_completion": chat, "embeddings": !chat},
                    "lifecycle_status": "generally-available",
                    "deprecation": {"inference": created + 540 * 86400},
                    "id": id, "created_at": created, "object": "model"
                })
            }
        })
        .collect();
    ctx.send(
        200,
        json!({"data": data, "object": "list"}).to_string(),
        &ok_headers(None),
    )
}

fn deployments(st: &LabState, ctx: &Ctx) -> Resp {
    let t = st.started_unix - 30 * 86400;
    let data: Vec<Value> = st
        .scenario
        .deployments
        .iter()
        .map(|(n, d)| json!({"scale_settings": {"scale_type": "standard"}, "model": d.model, "owner": "organization-owner", "id": n, "status": "succeeded", "created_at": t, "updated_at": t, "object": "deployment"}))
        .collect();
    ctx.send(
        200,
        json!({"data": data, "object": "list"}).to_string(),
        &ok_headers(None),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_rules() {
        assert!(ip_allowed(&["203.0.113.0/24".into()], "203.0.113.7"));
        assert!(ip_allowed(&["203.0.113.7".into()], "203.0.113.7"));
        assert!(!ip_allowed(&["198.51.100.0/24".into()], "203.0.113.7"));
        assert!(!ip_allowed(&["garbage/99".into()], "203.0.113.7"));
    }

    #[test]
    fn vectors_are_unit_length() {
        let v = vector("hello", 1536);
        let n: f32 = v.iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-3);
    }
}
