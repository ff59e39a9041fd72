//! `data-plane-probe`: one real call with the token — by default the smallest chat completion
//! (`max_tokens: 1`) — judged by status, body shape and headers. A 401 PermissionDenied while
//! a new role assignment propagates is retried with backoff (reported through
//! `ctx.progress`) up to `--wait-for-propagation`; a role that is plainly missing fails at
//! once with the `az role assignment create` fix.

use super::Check;
use crate::azure::dataplane::{self, ProbeError, ProbeRequest, ProbeResponse};
use crate::codes;
use crate::context::{ProbeKind, RunContext};
use crate::diagnose::dataplane::{
    AuthPassedReason, DataPlaneKind, DataPlaneVerdict, classify_response, explain_token_rejection,
    retry_after_from_headers, retry_after_from_message,
};
use crate::diagnose::jwt::{self, ClaimExpectations, ClaimProblem, Claims, JwtError};
use crate::diagnose::redact;
use crate::facts::{Fact, Facts, RoleFacts, RoleVerdict};
use crate::model::{Finding, Judgement, Status};
use crate::runner::Outcome;
use async_trait::async_trait;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

pub struct DataPlaneProbeCheck;

const ID: &str = "data-plane-probe";

#[async_trait]
impl Check for DataPlaneProbeCheck {
    fn id(&self) -> &'static str {
        ID
    }
    fn title(&self) -> &'static str {
        "A real call to the data plane"
    }
    fn needs(&self) -> &'static [Fact] {
        &[Fact::AccessToken]
    }
    fn after(&self) -> &'static [Fact] {
        &[Fact::Endpoint, Fact::Roles, Fact::Claims]
    }
    /// The propagation wait comes on top of the usual limit, so the runner does not stop a
    /// probe that is patiently waiting.
    fn timeout(&self, ctx: &RunContext) -> Duration {
        ctx.target.wait_for_propagation + ctx.timeouts.check
    }
    async fn run(&self, ctx: &RunContext, facts: &Facts) -> Outcome {
        let Some(token) = &facts.token else {
            return Outcome::new(Judgement::new(Status::Skip, "no token"));
        };
        let kind = ctx.target.probe;
        if kind == ProbeKind::None {
            return Outcome::new(Judgement::new(Status::Skip, "no live call: --probe none"));
        }
        let Some(base) = base_url(ctx, facts) else {
            return Outcome::new(Judgement::new(
                Status::Skip,
                "skipped: no endpoint (--endpoint or AZURE_OPENAI_ENDPOINT)",
            ));
        };
        if base.scheme() != "https" && !is_loopback(&base) {
            let f = Finding::error(
                &codes::PROBE_INSECURE_HTTP,
                format!(
                    "{base} is plain {}: the probe does not send a bearer token over an unencrypted connection.",
                    base.scheme()
                ),
            )
            .fix("Use the https:// endpoint of the resource.")
            .command(
                "az cognitiveservices account show -n YOUR-RESOURCE -g YOUR-RG --query properties.endpoint -o tsv",
            );
            return Outcome::new(Judgement::new(Status::Fail, "not sent: the endpoint is not https").finding(f));
        }
        let deployment = ctx
            .target
            .deployment
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        let Some(request) = dataplane::request(&base, kind, deployment, &ctx.target.api_version) else {
            return Outcome::new(no_deployment(kind));
        };

        let policy = WaitPolicy::standard(ctx.target.wait_for_propagation);
        let run = gather(ctx, &request, &token.token, facts.roles.as_ref(), &policy).await;

        // After a 404 DeploymentNotFound, name the deployments that do exist (best effort).
        let mut deployments = None;
        if let Ok(resp) = &run.answer
            && classify_response(resp.status, &resp.headers, &resp.body).kind == DataPlaneKind::DeploymentNotFound
            && let Some(list) = dataplane::deployments_request(&base)
            && let Ok(r) = dataplane::call(&ctx.http, &list, &token.token, request_limit(ctx)).await
            && r.status == 200
        {
            deployments = parse_deployments(&r.body);
        }

        let decoded = jwt::decode_claims(token.token.expose());
        let input = Input {
            request: &request,
            kind,
            deployment,
            run: &run,
            decoded: decoded.as_ref(),
            roles: facts.roles.as_ref(),
            resource: ResourceNames::find(ctx, facts),
            audience_resource: ctx.target.cloud.cognitive_resource(),
            scope: &ctx.target.scope,
            now: ctx.now(),
            wait: ctx.target.wait_for_propagation,
            deployments,
        };
        Outcome::new(judge(&input))
    }
}

/// `scheme://host[:port]/` of the endpoint the `endpoint` check understood, else of the target.
fn base_url(ctx: &RunContext, facts: &Facts) -> Option<url::Url> {
    if let Some(e) = &facts.endpoint {
        return Some(e.base.clone());
    }
    let mut u = ctx.target.endpoint.clone()?;
    u.set_path("/");
    u.set_query(None);
    u.set_fragment(None);
    Some(u)
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// One request's limit: the HTTP limit, and never most of the check's own.
fn request_limit(ctx: &RunContext) -> Duration {
    ctx.timeouts
        .http
        .min(ctx.timeouts.check.mul_f64(0.8))
        .max(Duration::from_millis(200))
}

fn no_deployment(kind: ProbeKind) -> Judgement {
    let what = if kind == ProbeKind::Embeddings {
        "embeddings"
    } else {
        "chat completion"
    };
    Judgement::new(Status::Warn, format!("no live call: no deployment to send a {what} to"))
        .finding(
            Finding::warning(
                &codes::PROBE_NO_DEPLOYMENT,
                format!(
                    "No deployment was given, so the {what} probe was not made and access is not proven end to end."
                ),
            )
            .fix("Name the deployment (its name, not the model's), or probe the models list, which needs none.")
            .command("aoai-doctor --deployment YOUR-DEPLOYMENT")
            .command("aoai-doctor --probe models"),
        )
        .evidence(json!({ "probe": kind.name() }))
}

/// How the probe waits for a role to propagate.
#[derive(Debug, Clone)]
pub struct WaitPolicy {
    /// 0 = never wait.
    pub max_wait: Duration,
    /// The first pause; each next one doubles, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl WaitPolicy {
    pub fn standard(max_wait: Duration) -> Self {
        WaitPolicy {
            max_wait,
            first_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(30),
        }
    }

    /// The pause before the next attempt: the backoff step, or the server's Retry-After hint
    /// when it gave one — capped at `max_delay` either way (a 429 may ask for 86400 s) and
    /// never beyond what is left of the wait.
    pub fn next_delay(&self, step: Duration, hint_secs: Option<u64>, remaining: Duration) -> Duration {
        let wanted = match hint_secs {
            Some(s) => Duration::from_secs(s.max(1)),
            None => step,
        };
        wanted.min(self.max_delay).min(remaining)
    }
}

/// What the probe saw, over all its attempts.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    /// The answer judged: the last one, except that a transient failure while waiting does not
    /// hide the PermissionDenied that made us wait.
    pub answer: Result<ProbeResponse, ProbeError>,
    pub attempts: u32,
    /// Time spent waiting for propagation (from the first PermissionDenied to the last
    /// attempt); `None` when no attempt was repeated.
    pub waited: Option<Duration>,
    /// The wait ran out while the answer was still PermissionDenied.
    pub gave_up: bool,
}

/// Would waiting help? Only for PermissionDenied, only when allowed, and only when the role
/// check says the role is propagating or could not tell.
pub fn worth_waiting(kind: &DataPlaneKind, roles: Option<&RoleFacts>, max_wait: Duration) -> bool {
    matches!(kind, DataPlaneKind::RoleMissing { .. })
        && !max_wait.is_zero()
        && roles.is_some_and(|r| matches!(r.verdict, RoleVerdict::Propagating | RoleVerdict::Unknown))
}

fn transient(answer: &Result<ProbeResponse, ProbeError>) -> bool {
    match answer {
        Ok(r) => r.status >= 500 || r.status == 408,
        Err(ProbeError::TimedOut(_)) | Err(ProbeError::Transport { .. }) => true,
        Err(ProbeError::Setup(_)) => false,
    }
}

/// Makes the call, and repeats it while a role propagates.
pub async fn gather(
    ctx: &RunContext,
    request: &ProbeRequest,
    token: &crate::secret::Secret,
    roles: Option<&RoleFacts>,
    policy: &WaitPolicy,
) -> ProbeRun {
    let started = Instant::now();
    // Whatever happens, stay inside the limit the runner gives this check.
    let hard_deadline = started + policy.max_wait + ctx.timeouts.check.mul_f64(0.9);
    let limit = request_limit(ctx);
    let mut attempts = 0u32;
    let mut first_denied: Option<Instant> = None;
    let mut last_denied: Option<ProbeResponse> = None;
    let mut step = policy.first_delay;
    loop {
        let this_limit = limit
            .min(hard_deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(100));
        let answer = dataplane::call(&ctx.http, request, token, this_limit).await;
        attempts += 1;
        let verdict = answer
            .as_ref()
            .ok()
            .map(|r| classify_response(r.status, &r.headers, &r.body));
        let denied = verdict
            .as_ref()
            .is_some_and(|v| worth_waiting(&v.kind, roles, policy.max_wait));
        let waiting = first_denied.is_some();
        if denied && first_denied.is_none() {
            first_denied = Some(Instant::now());
        }
        if let (true, Ok(r)) = (denied, &answer) {
            last_denied = Some(r.clone());
        }
        let keep_going = denied || (waiting && transient(&answer));
        let waited = first_denied.map(|_| started.elapsed());
        if !keep_going {
            if waiting {
                ctx.progress.done(
                    ID,
                    &format!(
                        "answered HTTP {} after {}",
                        status_text(&answer),
                        short_duration(started.elapsed())
                    ),
                );
            }
            return ProbeRun {
                answer,
                attempts,
                waited,
                gave_up: false,
            };
        }
        let since_denied = first_denied.map(|t| t.elapsed()).unwrap_or_default();
        let remaining = policy.max_wait.saturating_sub(since_denied).min(
            hard_deadline
                .saturating_duration_since(Instant::now())
                .saturating_sub(limit),
        );
        let hint = answer
            .as_ref()
            .ok()
            .and_then(|r| retry_after_from_headers(&r.headers).or_else(|| retry_after_from_message(&r.body)));
        let delay = policy.next_delay(step, hint, remaining);
        if delay.is_zero() || remaining < Duration::from_millis(50) {
            ctx.progress.done(
                ID,
                &format!("still 401 PermissionDenied after {}", short_duration(started.elapsed())),
            );
            let answer = match (&answer, last_denied) {
                (Ok(_), _) | (Err(_), None) => answer,
                (Err(_), Some(d)) => Ok(d),
            };
            return ProbeRun {
                answer,
                attempts,
                waited,
                gave_up: true,
            };
        }
        let why = match (verdict.as_ref().map(|v| &v.kind), roles.map(|r| r.verdict)) {
            (Some(DataPlaneKind::RoleMissing { .. }), Some(RoleVerdict::Propagating)) => {
                "401 PermissionDenied, role still propagating".to_string()
            }
            (Some(DataPlaneKind::RoleMissing { .. }), _) => {
                "401 PermissionDenied, waiting for the role to take effect".to_string()
            }
            _ => format!("{} while waiting for the role, retrying", status_text(&answer)),
        };
        ctx.progress.waiting(ID, &why, started.elapsed(), Some(delay));
        tokio::time::sleep(delay).await;
        step = (step * 2).min(policy.max_delay);
    }
}

fn status_text(answer: &Result<ProbeResponse, ProbeError>) -> String {
    match answer {
        Ok(r) => r.status.to_string(),
        Err(e) => e.describe(),
    }
}

/// `45s`, `1m05s`, `3m12s`, `1h02m`.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{sec:02}s")
    } else if s >= 10 || d.as_millis() < 100 || d.subsec_millis() == 0 {
        format!("{s}s")
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The account and resource group, for commands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceNames {
    pub resource_id: Option<String>,
    pub account: Option<String>,
    pub resource_group: Option<String>,
}

impl ResourceNames {
    fn find(ctx: &RunContext, facts: &Facts) -> Self {
        let id = facts
            .roles
            .as_ref()
            .and_then(|r| r.resource_id.clone())
            .or_else(|| ctx.target.resource_id.clone());
        let mut names = id.as_deref().map(Self::from_id).unwrap_or_default();
        if names.account.is_none() {
            names.account = facts.endpoint.as_ref().and_then(|e| e.subdomain.clone());
        }
        names.resource_id = id;
        names
    }

    /// `/subscriptions/S/resourceGroups/RG/providers/Microsoft.CognitiveServices/accounts/NAME`.
    pub fn from_id(id: &str) -> Self {
        let parts: Vec<&str> = id.split('/').collect();
        let after = |key: &str| {
            parts
                .windows(2)
                .find(|w| w[0].eq_ignore_ascii_case(key))
                .map(|w| w[1].to_string())
                .filter(|s| !s.is_empty())
        };
        ResourceNames {
            resource_id: Some(id.to_string()),
            account: after("accounts"),
            resource_group: after("resourceGroups"),
        }
    }
    fn rg(&self) -> &str {
        self.resource_group.as_deref().unwrap_or("YOUR-RG")
    }
    fn name(&self) -> &str {
        self.account.as_deref().unwrap_or("YOUR-RESOURCE")
    }
    fn scope(&self) -> String {
        self.resource_id.clone().unwrap_or_else(|| {
            format!(
                "$(az cognitiveservices account show -n {} -g {} --query id -o tsv)",
                self.name(),
                self.rg()
            )
        })
    }
}

/// `{"data":[{"id":"gpt-4o-mini","model":"gpt-4o-mini"},…]}` → `gpt-4o-mini (gpt-4o-mini)`.
pub fn parse_deployments(body: &str) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let list: Vec<String> = v
        .get("data")?
        .as_array()?
        .iter()
        .filter_map(|d| {
            let id = d.get("id")?.as_str()?;
            Some(match d.get("model").and_then(|m| m.as_str()) {
                Some(m) if m != id => format!("{id} (model {m})"),
                _ => id.to_string(),
            })
        })
        .take(50)
        .collect();
    Some(list)
}

/// Everything the judge looks at.
pub struct Input<'a> {
    pub request: &'a ProbeRequest,
    pub kind: ProbeKind,
    pub deployment: Option<&'a str>,
    pub run: &'a ProbeRun,
    /// The claims of the token that was sent (never the token).
    pub decoded: Result<&'a Claims, &'a JwtError>,
    pub roles: Option<&'a RoleFacts>,
    pub resource: ResourceNames,
    pub audience_resource: &'a str,
    pub scope: &'a str,
    pub now: i64,
    pub wait: Duration,
    /// Deployments the data plane listed after a 404.
    pub deployments: Option<Vec<String>>,
}

impl Input<'_> {
    fn what(&self) -> String {
        match (self.kind, self.deployment) {
            (ProbeKind::Chat, Some(d)) => format!("chat completion on `{d}`"),
            (ProbeKind::Embeddings, Some(d)) => format!("embeddings on `{d}`"),
            (ProbeKind::Models, _) => "models list".to_string(),
            _ => "call".to_string(),
        }
    }
    fn after_wait(&self) -> String {
        match self.run.waited {
            Some(w) => format!(" after {}", short_duration(w)),
            None => String::new(),
        }
    }
    fn principal(&self, from_body: Option<&str>) -> Principal {
        let claims = self.decoded.ok();
        let oid = from_body
            .filter(|p| is_guid(p))
            .map(str::to_string)
            .or_else(|| self.roles.and_then(|r| r.principal_id.clone()))
            .or_else(|| claims.and_then(|c| c.oid.clone()));
        let kind = match claims.and_then(|c| c.idtyp.as_deref()) {
            Some("app") => Some("ServicePrincipal"),
            Some("user") => Some("User"),
            _ if claims.is_some_and(|c| c.upn.is_some() || c.preferred_username.is_some()) => Some("User"),
            _ if claims.is_some_and(|c| c.appid.is_some() || c.azp.is_some())
                && claims.is_some_and(|c| c.upn.is_none()) =>
            {
                Some("ServicePrincipal")
            }
            _ => None,
        };
        Principal {
            describe: claims.map(Claims::principal_summary).unwrap_or_else(|| match &oid {
                Some(o) => format!("principal {o}"),
                None => "the principal".to_string(),
            }),
            oid,
            kind,
        }
    }
}

struct Principal {
    describe: String,
    oid: Option<String>,
    kind: Option<&'static str>,
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `Tue, 15 Nov 1994 08:12:31 GMT` → unix seconds.
pub fn parse_http_date(v: &str) -> Option<i64> {
    let t = v.trim();
    let t = t
        .strip_suffix("GMT")
        .or_else(|| t.strip_suffix("UTC"))
        .map(|s| format!("{}+0000", s))
        .unwrap_or_else(|| t.to_string());
    time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc2822)
        .ok()
        .map(|d| d.unix_timestamp())
}

/// The pure judge.
pub fn judge(input: &Input) -> Judgement {
    let mut evidence = json!({
        "request": input.request.describe(),
        "probe": input.kind.name(),
        "attempts": input.run.attempts,
    });
    if let Some(w) = input.run.waited {
        evidence["waited_s"] = json!(w.as_secs());
    }
    let resp = match &input.run.answer {
        Ok(r) => r,
        Err(e) => return no_answer(input, e).evidence(evidence),
    };
    let verdict = classify_response(resp.status, &resp.headers, &resp.body);
    evidence["status"] = json!(resp.status);
    evidence["elapsed_ms"] = json!(resp.elapsed.as_millis() as u64);
    evidence["response"] = serde_json::Value::Object(verdict.explanation.evidence.clone());
    for (k, v) in resp.request_ids() {
        evidence[k] = v;
    }
    let server_date = resp.header("date").and_then(parse_http_date);
    let mut judgement = judge_response(input, resp, &verdict, server_date);
    if let Some(server) = server_date {
        let skew = input.now - server;
        if skew.abs() > jwt::CLOCK_SKEW_TOLERANCE_SECS
            && !judgement.findings.iter().any(|f| f.code == &codes::CLAIMS_CLOCK_SKEW)
        {
            judgement.findings.push(skew_finding(skew));
            if judgement.status == Status::Pass {
                judgement.status = Status::Warn;
            }
        }
    }
    judgement.evidence(evidence)
}

fn skew_finding(skew: i64) -> Finding {
    Finding::warning(
        &codes::CLAIMS_CLOCK_SKEW,
        format!(
            "This machine's clock is {} {} the data plane's (its Date header): tokens look expired or not yet valid to one side.",
            jwt::human_duration(skew.abs()),
            if skew > 0 { "ahead of" } else { "behind" }
        ),
    )
    .fix("Enable time synchronisation (NTP) on this machine.")
    .command("timedatectl set-ntp true")
}

fn no_answer(input: &Input, e: &ProbeError) -> Judgement {
    let req = input.request.describe();
    match e {
        ProbeError::TimedOut(d) => Judgement::new(Status::Error, format!("no answer within {}", short_duration(*d))).finding(
            Finding::error(
                &codes::PROBE_TIMED_OUT,
                format!("{req}: the endpoint accepted the connection but sent no complete answer within {:.1}s.", d.as_secs_f64()),
            )
            .fix("Something between here and the resource holds the request (a proxy, a firewall dropping packets, a private endpoint route). Check HTTPS_PROXY/NO_PROXY, then try the call with curl to see where it stops.")
            .command(format!("curl -sv --max-time 30 '{}'", input.request.url)),
        ),
        ProbeError::Transport { kind, message } => {
            use crate::azure::http::Failure;
            let (what, fix) = match kind {
                Failure::Reset => (
                    "the connection was closed or reset before an answer",
                    "A firewall, proxy or network appliance cut the connection (or TLS interception failed). Check HTTPS_PROXY/NO_PROXY and the resource's network rules; from inside the VNet use the private endpoint.",
                ),
                Failure::Refused => (
                    "the connection was refused",
                    "Nothing listens at this address: check the endpoint, the proxy settings and --resolve overrides.",
                ),
                Failure::Dns => ("the host name does not resolve", "Check the resource name in the endpoint, and DNS (private DNS zone for a private endpoint)."),
                Failure::TlsUntrusted => (
                    "the TLS certificate is not trusted",
                    "A TLS-inspecting proxy is probably in the way: pass its CA with --ca-cert (or SSL_CERT_FILE).",
                ),
                Failure::TlsNameMismatch | Failure::TlsOther => (
                    "the TLS handshake failed",
                    "Check the endpoint is the resource's own https:// host, and whether a proxy intercepts TLS (--ca-cert).",
                ),
                Failure::Timeout | Failure::Other => (
                    "no HTTP answer came back",
                    "Something that does not speak HTTP(S) answered, or the network dropped the request: check the endpoint and proxy settings.",
                ),
            };
            Judgement::new(Status::Fail, format!("no answer: {what}")).finding(
                Finding::error(&codes::PROBE_UNREACHABLE, format!("{req}: {what} ({}).", redact(message))).fix(fix),
            )
        }
        ProbeError::Setup(m) => Judgement::new(Status::Error, format!("the call could not be made: {m}")).finding(
            Finding::error(&codes::PROBE_UNRECOGNIZED, format!("The probe request could not be built: {}.", redact(m))),
        ),
    }
}

fn judge_response(
    input: &Input,
    resp: &ProbeResponse,
    verdict: &DataPlaneVerdict,
    server_date: Option<i64>,
) -> Judgement {
    let what = input.what();
    let st = resp.status;
    let ex = &verdict.explanation;
    let error_code = ex.evidence.get("error_code").and_then(|v| v.as_str()).unwrap_or("");
    let error_message = ex.evidence.get("error_message").and_then(|v| v.as_str()).unwrap_or("");
    match &verdict.kind {
        DataPlaneKind::Ok => {
            let summary = match input.run.waited {
                Some(w) => format!("{what} answered HTTP {st} after {} of waiting for the role to propagate", short_duration(w)),
                None => format!("{what} answered HTTP {st} in {} ms", resp.elapsed.as_millis()),
            };
            let mut j = Judgement::new(Status::Pass, summary);
            if let Some(w) = input.run.waited {
                j = j.finding(propagated(w));
            }
            j
        }
        DataPlaneKind::AuthPassed(reason) => {
            let (summary, message) = match reason {
                AuthPassedReason::UnsupportedParameter { parameter } => {
                    let p = parameter.as_deref().unwrap_or("a parameter");
                    (
                        format!("authentication and role passed (HTTP {st}: the model refuses `{p}`){}", input.after_wait()),
                        format!(
                            "HTTP {st} unsupported parameter `{p}`: the model refused the probe's request body, which it only reads after authentication and the role check passed. Reasoning models (o-series, gpt-5) want `max_completion_tokens` instead of `max_tokens` — update the app if it sends `max_tokens`."
                        ),
                    )
                }
                AuthPassedReason::ContentFilter => (
                    format!("authentication and role passed (the content filter refused the prompt){}", input.after_wait()),
                    format!("HTTP {st} from the content filter: the prompt was judged, so authentication and the role check passed."),
                ),
            };
            let mut j = Judgement::new(Status::Pass, summary).finding(Finding::info(&codes::PROBE_AUTH_PASSED, message));
            if let Some(w) = input.run.waited {
                j = j.finding(propagated(w));
            }
            j
        }
        // Not in the classifier's table, but the same proof: the service judged the
        // operation against the deployment's model, which it does only after authorising.
        _ if st == 400 && error_code.eq_ignore_ascii_case("OperationNotSupported") => {
            let other = if input.kind == ProbeKind::Embeddings { "chat" } else { "embeddings" };
            Judgement::new(Status::Pass, format!("authentication and role passed (HTTP 400: the deployment's model does not do this operation){}", input.after_wait()))
                .finding(
                    Finding::info(
                        &codes::PROBE_AUTH_PASSED,
                        format!("HTTP 400 OperationNotSupported: {}. Authentication and the role check passed.", redact(error_message)),
                    )
                    .command(format!("aoai-doctor --probe {other}")),
                )
        }
        DataPlaneKind::RateLimited { retry_after_header_secs, retry_after_message_secs } => {
            let hint = retry_after_header_secs.or(*retry_after_message_secs);
            let wait_text = match hint {
                Some(s) if s >= 3600 => format!(" The service asks to wait {s} s ({}): a quota for the period, not a burst.", jwt::human_duration(s as i64)),
                Some(s) => format!(" Retry-After: {s} s."),
                None => String::new(),
            };
            Judgement::new(Status::Warn, format!("authentication and role work; {what} is rate limited (HTTP 429){}", input.after_wait()))
                .finding(
                    Finding::warning(
                        &codes::PROBE_RATE_LIMITED,
                        format!("HTTP 429 on the {what}: the token and the role were accepted, but the deployment is throttled.{wait_text}"),
                    )
                    .fix("Lower the request rate, honour Retry-After, or raise the deployment's tokens-per-minute quota.")
                    .command(format!(
                        "az cognitiveservices account deployment show -g {} -n {} --deployment-name {} --query sku",
                        input.resource.rg(),
                        input.resource.name(),
                        input.deployment.unwrap_or("YOUR-DEPLOYMENT")
                    )),
                )
        }
        DataPlaneKind::RoleMissing { principal_id, data_action, .. } => permission_denied(input, principal_id.as_deref(), data_action.as_deref()),
        DataPlaneKind::TokenRejected { .. } => token_rejected(input, server_date),
        DataPlaneKind::ApiKeyRejected => Judgement::new(Status::Fail, format!("HTTP {st}: the credential was rejected as a key / wrong endpoint")).finding(
            Finding::error(
                &codes::PROBE_TOKEN_REJECTED,
                format!("HTTP {st} \"invalid subscription key or wrong API endpoint\" although a Microsoft Entra token was sent: the endpoint is probably not this resource's own custom subdomain."),
            )
            .fix("Use the endpoint the resource reports (https://NAME.openai.azure.com or https://NAME.cognitiveservices.azure.com).")
            .command(format!("az cognitiveservices account show -n {} -g {} --query properties.endpoint -o tsv", input.resource.name(), input.resource.rg())),
        ),
        DataPlaneKind::WrongTenant { token_tenant } => {
            let token_tenant = token_tenant.clone().or_else(|| input.decoded.ok().and_then(|c| c.tid.clone()));
            let resource_tenant = input.roles.and_then(|r| r.resource_tenant.clone());
            let message = format!(
                "HTTP 400: the token is from tenant {}, but the resource belongs to {}.",
                token_tenant.as_deref().unwrap_or("(unknown)"),
                resource_tenant.as_deref().map(|t| format!("tenant {t}")).unwrap_or_else(|| "another tenant".into())
            );
            let rt = resource_tenant.as_deref().unwrap_or("RESOURCE-TENANT-ID");
            Judgement::new(Status::Fail, "HTTP 400: the token comes from another tenant than the resource's").finding(
                Finding::error(&codes::PROBE_WRONG_TENANT, message)
                    .fix("Get the token from the resource's tenant: `az login --tenant`, AZURE_TENANT_ID for a service principal, or the credential's tenant option. Guest users sign in to the resource's tenant, not their home tenant.")
                    .command(format!("az login --tenant {rt} --scope {}", input.scope)),
            )
        }
        DataPlaneKind::KeyAuthDisabled => Judgement::new(Status::Fail, "HTTP 403 AuthenticationTypeDisabled: key authentication is disabled").finding(
            Finding::error(
                &codes::PROBE_KEY_AUTH_DISABLED,
                "HTTP 403 AuthenticationTypeDisabled: an API key reached the resource, which accepts only Microsoft Entra ID (disableLocalAuth).",
            )
            .fix(ex.fix.clone())
            .command("unset AZURE_OPENAI_API_KEY OPENAI_API_KEY"),
        ),
        DataPlaneKind::NetworkBlocked { policy_id } => {
            let public_off = error_message.to_ascii_lowercase().contains("public access is disabled");
            let mut message = format!("HTTP {st}: a network rule of the resource blocks this client");
            if !error_message.is_empty() {
                message.push_str(&format!(" (\"{}\")", redact(error_message)));
            }
            if let Some(p) = policy_id {
                message.push_str(&format!("; policy-id: {p}"));
            }
            message.push('.');
            let mut f = Finding::error(&codes::PROBE_NETWORK_BLOCKED, message);
            if public_off {
                f = f
                    .fix("Public network access is disabled: call from inside the virtual network through the private endpoint (its private DNS zone must resolve the custom subdomain to the private IP), or enable public access with IP rules.")
                    .command(format!("nslookup {}", input.request.url.host_str().unwrap_or("YOUR-RESOURCE.openai.azure.com")));
            } else {
                f = f
                    .fix("Call from an allowed network (the private endpoint, a VNet with a service endpoint), or add this client's public IP to the resource's network rules.")
                    .command(format!(
                        "az cognitiveservices account network-rule add -g {} -n {} --ip-address $(curl -s https://api.ipify.org)",
                        input.resource.rg(),
                        input.resource.name()
                    ));
            }
            f = f.command(format!(
                "az cognitiveservices account show -g {} -n {} --query \"{{public:properties.publicNetworkAccess, acls:properties.networkAcls}}\"",
                input.resource.rg(),
                input.resource.name()
            ));
            Judgement::new(Status::Fail, format!("HTTP {st}: blocked by the resource's network rules")).finding(f)
        }
        DataPlaneKind::DeploymentNotFound => {
            let d = input.deployment.unwrap_or("?");
            let mut message = format!("HTTP 404 DeploymentNotFound: this resource has no deployment named `{d}`.");
            match &input.deployments {
                Some(list) if !list.is_empty() => message.push_str(&format!(" Its deployments: {}.", list.join(", "))),
                Some(_) => message.push_str(" It has no deployments at all."),
                None => {}
            }
            message.push_str(" The URL needs the deployment's name, which is often not the model's name; waiting rarely helps (only right after creating it).");
            Judgement::new(Status::Fail, format!("HTTP 404: no deployment `{d}` on this resource")).finding(
                Finding::error(&codes::PROBE_DEPLOYMENT_NOT_FOUND, message)
                    .fix("Use an existing deployment's name (--deployment / AZURE_OPENAI_DEPLOYMENT), or create the deployment.")
                    .command(format!("az cognitiveservices account deployment list -g {} -n {} -o table", input.resource.rg(), input.resource.name())),
            )
        }
        DataPlaneKind::BadPathOrApiVersion => {
            let detail = if error_message.is_empty() { String::new() } else { format!(" (\"{}\")", redact(error_message)) };
            Judgement::new(Status::Fail, format!("HTTP {st}: the path or api-version is not accepted")).finding(
                Finding::error(
                    &codes::PROBE_BAD_PATH,
                    format!("{} answered HTTP {st}{detail}: the URL path or the api-version is wrong for this resource or model.", input.request.describe()),
                )
                .fix("Use the resource's base endpoint (no path) and a supported api-version, passed as a string; newer models need newer api-versions.")
                .command("aoai-doctor --api-version 2024-10-21"),
            )
        }
        DataPlaneKind::RegionalEndpoint => Judgement::new(Status::Fail, "a regional endpoint does not accept Microsoft Entra tokens").finding(
            Finding::error(&codes::ENDPOINT_REGIONAL, ex.summary.clone()).fix(ex.fix.clone()).commands(ex.commands.clone()),
        ),
        _ if resp.is_html() || verdict.kind == DataPlaneKind::NotAzureOpenAi => {
            let title = html_title(&resp.body).map(|t| format!(" titled \"{t}\"")).unwrap_or_default();
            Judgement::new(Status::Fail, format!("HTTP {st}: an HTML page answered, not Azure OpenAI")).finding(
                Finding::error(
                    &codes::PROBE_NOT_AZURE_OPENAI,
                    format!("{} got HTTP {st} with an HTML page{title}: a proxy, captive portal or firewall answered instead of Azure OpenAI.", input.request.describe()),
                )
                .fix("Check HTTPS_PROXY/NO_PROXY (add the endpoint's host to NO_PROXY if the proxy should not see it) and that the host resolves to the resource.")
                .command(format!("curl -sv '{}' -o /dev/null", input.request.url)),
            )
        }
        DataPlaneKind::ServerError => Judgement::new(Status::Error, format!("HTTP {st}: a service-side error; access not verified")).finding(
            Finding::error(&codes::PROBE_SERVER_ERROR, format!("{} answered HTTP {st}{}: a service-side problem, not an access problem the doctor can name.", input.request.describe(), quoted(error_message)))
                .fix("Retry in a few minutes; if it persists, open a support request with the request ids from the JSON report (--format json)."),
        ),
        _ => Judgement::new(Status::Error, format!("HTTP {st}: an answer the doctor does not recognise")).finding(
            Finding::error(
                &codes::PROBE_UNRECOGNIZED,
                format!(
                    "{} answered HTTP {st}{}{}.",
                    input.request.describe(),
                    if error_code.is_empty() { String::new() } else { format!(" {}", redact(error_code)) },
                    quoted(error_message)
                ),
            )
            .fix("The message is shown as the service sent it; the JSON report (--format json) has the request ids for a support ticket."),
        ),
    }
}

fn quoted(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(": \"{}\"", redact(m))
    }
}

fn html_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = lower[start..].find('>')? + start + 1;
    let end = lower[open_end..].find("</title")? + open_end;
    let t: String = body
        .get(open_end..end)?
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!t.is_empty()).then(|| redact(&t.chars().take(80).collect::<String>()))
}

fn propagated(w: Duration) -> Finding {
    Finding::info(
        &codes::PROBE_PROPAGATION_WAITED,
        format!("The data plane answered 401 PermissionDenied until the new role assignment reached it; it took {}.", short_duration(w)),
    )
    .fix("Nothing to fix. New role assignments take up to about 10 minutes to reach the data plane; a deployment pipeline can run `aoai-doctor --wait-for-propagation 10m` after assigning the role.")
}

fn permission_denied(input: &Input, principal_from_body: Option<&str>, action_from_body: Option<&str>) -> Judgement {
    let p = input.principal(principal_from_body);
    let action = action_from_body
        .map(str::to_string)
        .or_else(|| input.roles.map(|r| r.data_action.clone()).filter(|a| !a.is_empty()))
        .unwrap_or_else(|| default_action(input.kind).to_string());
    let verdict = input.roles.map(|r| r.verdict);
    let oid = p.oid.clone().unwrap_or_else(|| "PRINCIPAL-OBJECT-ID".into());
    let create = format!(
        "az role assignment create --assignee-object-id {oid} --assignee-principal-type {} --role \"Cognitive Services OpenAI User\" --scope {}",
        p.kind.unwrap_or("User|ServicePrincipal"),
        input.resource.scope()
    );
    let list = format!("az role assignment list --assignee {oid} --all --include-inherited --include-groups -o table");
    let head = format!(
        "HTTP 401 PermissionDenied: {} lacks the data action `{action}`",
        p.describe
    );
    let (summary, message, fix, commands) = match (verdict, input.run.gave_up, input.run.waited) {
        (_, true, waited) => (
            format!("still 401 PermissionDenied after waiting {}", short_duration(waited.unwrap_or(input.wait))),
            format!("{head}, still after waiting {} for a role to propagate.", short_duration(waited.unwrap_or(input.wait))),
            "Propagation normally finishes within 10 minutes. Check the assignment is on this resource (or a scope above it), for this principal, and is a role with the data action (Cognitive Services OpenAI User); a deny assignment also blocks it.".to_string(),
            vec![list, create],
        ),
        (Some(RoleVerdict::Propagating), false, _) => (
            "401 PermissionDenied: a recent role assignment has not reached the data plane yet".to_string(),
            format!("{head}; role-assignment found a recent assignment that grants it, so it is probably still propagating (up to about 10 minutes)."),
            "Wait and run again, or let the doctor wait for it.".to_string(),
            vec!["aoai-doctor --wait-for-propagation 10m".to_string()],
        ),
        (Some(RoleVerdict::Granted), false, _) => (
            "401 PermissionDenied although a role seems to grant it".to_string(),
            format!("{head}, although role-assignment found an assignment granting it: the token may belong to another principal than the one checked, a deny assignment may apply, or the assignment is on another resource."),
            "Compare the token's principal (token-claims) with the assignment's, and look for deny assignments on the resource.".to_string(),
            vec![list, create],
        ),
        (Some(RoleVerdict::Missing), false, _) | (None, false, _) => (
            format!("401 PermissionDenied: no role grants {} the data action", short_principal(&p)),
            format!("{head} on this resource: assign a role that has it (Owner and Contributor do not; they grant no data actions)."),
            "Assign \"Cognitive Services OpenAI User\" to the principal on the resource; it reaches the data plane within about 10 minutes (then run with --wait-for-propagation 10m).".to_string(),
            vec![create],
        ),
        (Some(RoleVerdict::Unknown), false, _) => (
            "401 PermissionDenied: no role grants the data action (or it has not propagated)".to_string(),
            format!("{head} on this resource (the role assignments could not be read to tell a missing role from one still propagating)."),
            "Assign \"Cognitive Services OpenAI User\" to the principal on the resource if it has no such role; a new assignment takes up to about 10 minutes.".to_string(),
            vec![list, create],
        ),
    };
    Judgement::new(Status::Fail, summary).finding(
        Finding::error(&codes::PROBE_PERMISSION_DENIED, message)
            .fix(fix)
            .commands(commands),
    )
}

fn short_principal(p: &Principal) -> String {
    p.oid
        .clone()
        .map(|o| format!("principal {o}"))
        .unwrap_or_else(|| "the principal".into())
}

fn default_action(kind: ProbeKind) -> &'static str {
    match kind {
        ProbeKind::Embeddings => "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action",
        ProbeKind::Models => "Microsoft.CognitiveServices/accounts/OpenAI/models/read",
        _ => "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
    }
}

fn token_rejected(input: &Input, server_date: Option<i64>) -> Judgement {
    let mut expected = ClaimExpectations::azure_openai();
    expected.audience_resource = input.audience_resource.to_string();
    expected.expected_tenant = input.roles.and_then(|r| r.resource_tenant.clone());
    expected.server_date_unix = server_date;
    let problems: Vec<ClaimProblem> = match input.decoded {
        Ok(c) => jwt::judge_claims(c, input.now, &expected),
        Err(_) => vec![],
    };
    let ex = explain_token_rejection(input.decoded, &problems);
    let mut message = format!("HTTP 401: the data plane rejected the token. {}", ex.summary);
    if let Some(d) = &ex.detail
        && d != &ex.summary
    {
        message.push_str(&format!(" ({d})"));
    }
    let mut f = Finding::error(&codes::PROBE_TOKEN_REJECTED, message)
        .fix(ex.fix.clone())
        .commands(ex.commands.clone());
    if problems.iter().any(|p| matches!(p, ClaimProblem::WrongAudience { .. })) {
        f = f.command(format!("aoai-doctor --scope {}/.default", input.audience_resource));
    }
    let summary = format!("HTTP 401: token rejected — {}", ex.summary.trim_end_matches('.'));
    let mut j = Judgement::new(Status::Fail, summary).finding(f);
    if let Some(ClaimProblem::ClockSkew { secs }) =
        problems.iter().find(|p| matches!(p, ClaimProblem::ClockSkew { .. }))
    {
        j = j.finding(skew_finding(*secs));
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Progress;
    use base64::Engine;
    use std::sync::{Arc, Mutex};

    const NOW: i64 = 1_767_225_600;
    const OID: &str = "0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70";

    fn corpus_case(id: &str) -> (u16, Vec<(String, String)>, String) {
        let all: serde_json::Value =
            serde_json::from_str(include_str!("../../../fixtures/corpus/aoai-dataplane.json")).expect("corpus");
        let case = all
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no case {id}"));
        let headers = case["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        (
            case["status"].as_u64().unwrap() as u16,
            headers,
            case["body"].as_str().unwrap_or_default().to_string(),
        )
    }

    fn token(payload: serde_json::Value) -> String {
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.{}",
            b(br#"{"alg":"RS256"}"#),
            b(payload.to_string().as_bytes()),
            b(b"sig")
        )
    }

    fn good_claims() -> Claims {
        jwt::decode_claims(&token(json!({
            "aud": "https://cognitiveservices.azure.com", "tid": "t1", "oid": OID, "idtyp": "user",
            "upn": "alice@contoso.com", "exp": NOW + 3600
        })))
        .unwrap()
    }

    fn roles(verdict: RoleVerdict) -> RoleFacts {
        RoleFacts {
            verdict,
            outcome: match verdict {
                RoleVerdict::Granted => crate::facts::RoleOutcomeKind::Granted,
                RoleVerdict::Propagating => crate::facts::RoleOutcomeKind::Propagating,
                RoleVerdict::Missing => crate::facts::RoleOutcomeKind::NoRole,
                RoleVerdict::Unknown => crate::facts::RoleOutcomeKind::AssignmentsUnreadable,
            },
            resource_id: Some(
                "/subscriptions/s/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai"
                    .into(),
            ),
            resource_tenant: Some("t1".into()),
            principal_id: Some(OID.into()),
            data_action: "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action".into(),
            newest_grant_age_secs: Some(60),
        }
    }

    fn resp(status: u16, headers: Vec<(String, String)>, body: &str) -> ProbeResponse {
        ProbeResponse {
            status,
            headers,
            body: body.into(),
            truncated: false,
            elapsed: Duration::from_millis(42),
        }
    }

    fn run_of(answer: Result<ProbeResponse, ProbeError>) -> ProbeRun {
        ProbeRun {
            answer,
            attempts: 1,
            waited: None,
            gave_up: false,
        }
    }

    struct Case {
        claims: Claims,
        roles: Option<RoleFacts>,
        deployments: Option<Vec<String>>,
        kind: ProbeKind,
    }

    impl Default for Case {
        fn default() -> Self {
            Case {
                claims: good_claims(),
                roles: None,
                deployments: None,
                kind: ProbeKind::Chat,
            }
        }
    }

    fn judge_with(case: Case, run: ProbeRun) -> Judgement {
        let base = url::Url::parse("https://contoso-aoai.openai.azure.com/").unwrap();
        let request = dataplane::request(&base, case.kind, Some("gpt-4o-mini"), "2024-10-21").unwrap();
        let resource = case
            .roles
            .as_ref()
            .and_then(|r| r.resource_id.as_deref())
            .map(ResourceNames::from_id)
            .unwrap_or_default();
        judge(&Input {
            request: &request,
            kind: case.kind,
            deployment: Some("gpt-4o-mini"),
            run: &run,
            decoded: Ok(&case.claims),
            roles: case.roles.as_ref(),
            resource,
            audience_resource: "https://cognitiveservices.azure.com",
            scope: "https://cognitiveservices.azure.com/.default",
            now: NOW,
            wait: Duration::from_secs(600),
            deployments: case.deployments,
        })
    }

    fn judge_case(case: Case, r: ProbeResponse) -> Judgement {
        judge_with(case, run_of(Ok(r)))
    }

    fn code(j: &Judgement) -> &'static str {
        j.findings.first().map(|f| f.code.id).unwrap_or("")
    }

    #[test]
    fn success_passes_without_findings() {
        let j = judge_case(
            Case::default(),
            resp(200, vec![], r#"{"choices":[],"object":"chat.completion"}"#),
        );
        assert_eq!(j.status, Status::Pass, "{j:?}");
        assert!(j.findings.is_empty());
        assert!(
            j.summary.contains("chat completion on `gpt-4o-mini` answered HTTP 200"),
            "{}",
            j.summary
        );
    }

    #[test]
    fn a_missing_role_fails_with_the_assignment_command_for_the_principal_and_resource() {
        let (st, h, body) = corpus_case("aoai-401-permissiondenied-principal-no-access-cli-identity");
        let j = judge_case(
            Case {
                roles: Some(roles(RoleVerdict::Missing)),
                ..Default::default()
            },
            resp(st, h, &body),
        );
        assert_eq!(j.status, Status::Fail);
        assert_eq!(code(&j), "probe-permission-denied");
        let f = &j.findings[0];
        assert!(f.message.contains("chat/completions/action"), "{}", f.message);
        let cmd = f.remediation.commands.join("\n");
        assert!(cmd.contains("az role assignment create"), "{cmd}");
        assert!(cmd.contains("--assignee-principal-type User"), "{cmd}");
        assert!(cmd.contains("accounts/contoso-aoai"), "{cmd}");
        assert!(cmd.contains("--role \"Cognitive Services OpenAI User\""), "{cmd}");
    }

    #[test]
    fn propagating_without_waiting_says_how_to_wait_and_after_waiting_says_how_long() {
        let body =
            r#"{"error":{"code":"PermissionDenied","message":"Principal does not have access to API/Operation."}}"#;
        let j = judge_case(
            Case {
                roles: Some(roles(RoleVerdict::Propagating)),
                ..Default::default()
            },
            resp(401, vec![], body),
        );
        assert_eq!(code(&j), "probe-permission-denied");
        assert!(j.findings[0].remediation.commands[0].contains("--wait-for-propagation"));

        let run = ProbeRun {
            answer: Ok(resp(401, vec![], body)),
            attempts: 9,
            waited: Some(Duration::from_secs(600)),
            gave_up: true,
        };
        let j = judge_with(
            Case {
                roles: Some(roles(RoleVerdict::Propagating)),
                ..Default::default()
            },
            run,
        );
        assert_eq!(j.status, Status::Fail);
        assert!(j.summary.contains("after waiting 10m00s"), "{}", j.summary);

        let run = ProbeRun {
            answer: Ok(resp(200, vec![], "{}")),
            attempts: 5,
            waited: Some(Duration::from_secs(192)),
            gave_up: false,
        };
        let j = judge_with(
            Case {
                roles: Some(roles(RoleVerdict::Propagating)),
                ..Default::default()
            },
            run,
        );
        assert_eq!(j.status, Status::Pass);
        assert!(
            j.summary.ends_with("after 3m12s of waiting for the role to propagate"),
            "{}",
            j.summary
        );
        assert_eq!(code(&j), "probe-propagation-waited");
    }

    #[test]
    fn a_reasoning_model_refusing_max_tokens_proves_auth() {
        let body = r#"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#;
        let j = judge_case(Case::default(), resp(400, vec![], body));
        assert_eq!(j.status, Status::Pass);
        assert_eq!(code(&j), "probe-auth-passed");
        assert!(j.findings[0].message.contains("max_completion_tokens"));
    }

    #[test]
    fn an_expired_token_is_named_as_such() {
        let (st, h, body) = corpus_case("aoai-401-token-rejected-hourly-expiry");
        let claims = jwt::decode_claims(&token(
            json!({"aud": "https://cognitiveservices.azure.com", "oid": OID, "exp": NOW - 7200}),
        ))
        .unwrap();
        let j = judge_case(
            Case {
                claims,
                ..Default::default()
            },
            resp(st, h, &body),
        );
        assert_eq!(code(&j), "probe-token-rejected");
        assert!(
            j.findings[0].message.contains("expired 2h"),
            "{}",
            j.findings[0].message
        );
        let claims = jwt::decode_claims(&token(
            json!({"aud": "https://management.azure.com/", "exp": NOW + 600}),
        ))
        .unwrap();
        let j = judge_case(
            Case {
                claims,
                ..Default::default()
            },
            resp(st, vec![], &body),
        );
        assert!(j.findings[0].message.contains("audience"), "{}", j.findings[0].message);
        assert!(
            j.findings[0]
                .remediation
                .commands
                .iter()
                .any(|c| c.contains("--scope https://cognitiveservices.azure.com/.default"))
        );
    }

    #[test]
    fn the_servers_date_reveals_clock_skew() {
        let (_, _, body) = corpus_case("aoai-401-token-rejected-hourly-expiry");
        let claims = jwt::decode_claims(&token(
            json!({"aud": "https://cognitiveservices.azure.com", "exp": NOW + 60}),
        ))
        .unwrap();
        // The server is 2 hours ahead: for it the token expired long ago.
        let date = time::OffsetDateTime::from_unix_timestamp(NOW + 7200)
            .unwrap()
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap()
            .replace("+0000", "GMT");
        let j = judge_case(
            Case {
                claims,
                ..Default::default()
            },
            resp(401, vec![("Date".into(), date)], &body),
        );
        let codes: Vec<_> = j.findings.iter().map(|f| f.code.id).collect();
        assert_eq!(codes, vec!["probe-token-rejected", "claims-clock-skew"], "{j:?}");
        assert!(j.findings[0].message.contains("expired"), "{}", j.findings[0].message);
        assert_eq!(parse_http_date("Thu, 01 Jan 2026 00:00:00 GMT"), Some(NOW));
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn wrong_tenant_names_both_tenants() {
        let body = r#"{"error":{"code":"Tenant provided in token does not match resource token","message":"Token tenant 33e01921-4d64-4f8c-a055-5bdaffd5e33d does not match resource tenant."}}"#;
        let j = judge_case(
            Case {
                roles: Some(roles(RoleVerdict::Unknown)),
                ..Default::default()
            },
            resp(400, vec![], body),
        );
        assert_eq!(code(&j), "probe-wrong-tenant");
        assert!(
            j.findings[0].message.contains("33e01921-4d64-4f8c-a055-5bdaffd5e33d")
                && j.findings[0].message.contains("tenant t1")
        );
        assert!(j.findings[0].remediation.commands[0].starts_with("az login --tenant t1"));
    }

    #[test]
    fn forbidden_is_key_auth_or_network_never_a_guess() {
        let body = r#"{"error":{"code":"AuthenticationTypeDisabled","message": "Key based authentication is disabled for this resource."}}"#;
        assert_eq!(
            code(&judge_case(Case::default(), resp(403, vec![], body))),
            "probe-key-auth-disabled"
        );
        let j = judge_case(
            Case::default(),
            resp(
                403,
                vec![("policy-id".into(), "ThrowExceptionDueToTrafficDenied".into())],
                r#"{"error":{"code":"AccessDenied","message": "Public access is disabled. Please configure private endpoint."}}"#,
            ),
        );
        assert_eq!(code(&j), "probe-network-blocked");
        assert!(j.findings[0].message.contains("ThrowExceptionDueToTrafficDenied"));
        assert!(j.findings[0].remediation.text.contains("private endpoint"));
        let j = judge_case(
            Case::default(),
            resp(403, vec![], r#"{"error":{"code":"Other","message":"x"}}"#),
        );
        assert_eq!((j.status, code(&j)), (Status::Error, "probe-unrecognized"));
    }

    #[test]
    fn deployment_not_found_lists_what_exists() {
        let body = r#"{"error":{"code":"DeploymentNotFound","message": "The API deployment for this resource does not exist."}}"#;
        let list = parse_deployments(
            r#"{"data":[{"id":"gpt-4o-mini","model":"gpt-4o-mini"},{"id":"emb","model":"text-embedding-3-small"}],"object":"list"}"#,
        );
        let j = judge_case(
            Case {
                deployments: list,
                roles: Some(roles(RoleVerdict::Granted)),
                ..Default::default()
            },
            resp(404, vec![], body),
        );
        assert_eq!(code(&j), "probe-deployment-not-found");
        let f = &j.findings[0];
        assert!(
            f.message.contains("`gpt-4o-mini`") && f.message.contains("emb (model text-embedding-3-small)"),
            "{}",
            f.message
        );
        assert_eq!(
            f.remediation.commands[0],
            "az cognitiveservices account deployment list -g rg-ai -n contoso-aoai -o table"
        );
    }

    #[test]
    fn rate_limits_pass_as_a_warning_and_quote_long_waits() {
        let (st, h, body) = corpus_case("aoai-429-rate-limit-with-headers");
        let j = judge_case(Case::default(), resp(st, h, &body));
        assert_eq!((j.status, code(&j)), (Status::Warn, "probe-rate-limited"));
        let body = r#"{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded token rate limit. Please retry after 86400 seconds."}}"#;
        let j = judge_case(Case::default(), resp(429, vec![], body));
        assert_eq!(j.status, Status::Warn);
        assert_eq!(code(&j), "probe-rate-limited");
        assert!(j.findings[0].message.contains("86400"), "{}", j.findings[0].message);
    }

    #[test]
    fn html_and_server_errors_and_no_answer() {
        let j = judge_case(
            Case::default(),
            resp(
                403,
                vec![("content-type".into(), "text/html".into())],
                "<html><head><title>Access Denied by Proxy</title></head></html>",
            ),
        );
        assert_eq!((j.status, code(&j)), (Status::Fail, "probe-not-azure-openai"));
        assert!(j.findings[0].message.contains("Access Denied by Proxy"));
        let j = judge_case(Case::default(), resp(503, vec![], "upstream connect error"));
        assert_eq!((j.status, code(&j)), (Status::Error, "probe-server-error"));
        let j = judge_with(
            Case::default(),
            run_of(Err(ProbeError::TimedOut(Duration::from_secs(3)))),
        );
        assert_eq!((j.status, code(&j)), (Status::Error, "probe-timed-out"));
        let reset = ProbeError::Transport {
            kind: crate::azure::http::Failure::Reset,
            message: "connection closed before message completed".into(),
        };
        let j = judge_with(Case::default(), run_of(Err(reset)));
        assert_eq!((j.status, code(&j)), (Status::Fail, "probe-unreachable"));
        assert!(j.summary.contains("closed or reset"));
    }

    #[test]
    fn waiting_is_for_propagation_only() {
        let denied = DataPlaneKind::RoleMissing {
            principal_id: None,
            data_action: None,
            operation: None,
        };
        let ten = Duration::from_secs(600);
        assert!(worth_waiting(&denied, Some(&roles(RoleVerdict::Propagating)), ten));
        assert!(worth_waiting(&denied, Some(&roles(RoleVerdict::Unknown)), ten));
        assert!(!worth_waiting(&denied, Some(&roles(RoleVerdict::Missing)), ten));
        assert!(!worth_waiting(&denied, None, ten));
        assert!(!worth_waiting(
            &denied,
            Some(&roles(RoleVerdict::Propagating)),
            Duration::ZERO
        ));
        assert!(!worth_waiting(
            &DataPlaneKind::DeploymentNotFound,
            Some(&roles(RoleVerdict::Propagating)),
            ten
        ));
    }

    #[test]
    fn delays_back_off_and_hints_are_capped() {
        let p = WaitPolicy::standard(Duration::from_secs(600));
        let plenty = Duration::from_secs(600);
        assert_eq!(
            p.next_delay(Duration::from_secs(5), None, plenty),
            Duration::from_secs(5)
        );
        assert_eq!(
            p.next_delay(Duration::from_secs(40), None, plenty),
            Duration::from_secs(30)
        );
        assert_eq!(
            p.next_delay(Duration::from_secs(5), Some(86400), plenty),
            Duration::from_secs(30)
        );
        assert_eq!(
            p.next_delay(Duration::from_secs(5), Some(2), plenty),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.next_delay(Duration::from_secs(20), Some(86400), Duration::from_secs(7)),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(short_duration(Duration::from_secs(192)), "3m12s");
        assert_eq!(short_duration(Duration::from_secs(65)), "1m05s");
        assert_eq!(short_duration(Duration::from_secs(45)), "45s");
        assert_eq!(short_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(short_duration(Duration::from_millis(3)), "0s");
        assert_eq!(short_duration(Duration::from_secs(3720)), "1h02m");
    }

    #[test]
    fn resource_names_come_from_the_resource_id() {
        let n = ResourceNames::from_id(
            "/subscriptions/s/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai",
        );
        assert_eq!(
            (n.resource_group.as_deref(), n.account.as_deref()),
            (Some("rg-ai"), Some("contoso-aoai"))
        );
        assert_eq!(
            ResourceNames::default().scope(),
            "$(az cognitiveservices account show -n YOUR-RESOURCE -g YOUR-RG --query id -o tsv)"
        );
    }

    /// Records what the probe reports while it waits.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);
    impl Progress for Recorder {
        fn waiting(&self, check: &str, message: &str, _elapsed: Duration, next: Option<Duration>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{check}: {message}; next {:?}", next.map(|n| n.as_millis())));
        }
        fn done(&self, check: &str, message: &str) {
            self.0.lock().unwrap().push(format!("{check}: done: {message}"));
        }
    }

    /// A one-thread HTTP server on loopback that answers each connection with the next of
    /// `answers` (status, body), then closes it.
    async fn server(answers: Vec<(u16, &'static str)>) -> (url::Url, Arc<Mutex<u32>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let seen = Arc::new(Mutex::new(0u32));
        let counter = seen.clone();
        tokio::spawn(async move {
            for (status, body) in answers.into_iter().chain(std::iter::repeat((200, "{}"))) {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let _ = s.read(&mut buf).await;
                *counter.lock().unwrap() += 1;
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
                let _ = s.shutdown().await;
            }
        });
        (url, seen)
    }

    const DENIED: &str =
        r#"{"error":{"code":"PermissionDenied","message":"Principal does not have access to API/Operation."}}"#;

    fn quick(max_wait: Duration) -> WaitPolicy {
        WaitPolicy {
            max_wait,
            first_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(60),
        }
    }

    #[tokio::test]
    async fn a_propagating_role_is_retried_until_it_works_with_progress_reported() {
        let (url, seen) = server(vec![(401, DENIED), (401, DENIED), (401, DENIED)]).await;
        let recorder = Arc::new(Recorder::default());
        let mut ctx = crate::checks::test_support::context();
        ctx.progress = recorder.clone();
        let req = dataplane::request(&url, ProbeKind::Chat, Some("d"), "2024-10-21").unwrap();
        let run = gather(
            &ctx,
            &req,
            &crate::secret::Secret::new("t"),
            Some(&roles(RoleVerdict::Propagating)),
            &quick(Duration::from_secs(20)),
        )
        .await;
        assert_eq!(run.answer.as_ref().unwrap().status, 200);
        assert_eq!((run.attempts, *seen.lock().unwrap()), (4, 4));
        assert!(run.waited.is_some() && !run.gave_up);
        let log = recorder.0.lock().unwrap().clone();
        assert_eq!(log.len(), 4, "{log:?}");
        assert!(
            log[0].starts_with("data-plane-probe: 401 PermissionDenied, role still propagating; next Some(20)"),
            "{log:?}"
        );
        assert!(log[1].ends_with("next Some(40)"), "{log:?}");
        assert!(log[2].ends_with("next Some(60)"), "{log:?}");
        assert!(
            log[3].starts_with("data-plane-probe: done: answered HTTP 200 after"),
            "{log:?}"
        );
    }

    #[tokio::test]
    async fn a_missing_role_is_not_retried_and_the_wait_is_bounded() {
        let (url, seen) = server(vec![(401, DENIED); 100]).await;
        let ctx = crate::checks::test_support::context();
        let req = dataplane::request(&url, ProbeKind::Chat, Some("d"), "2024-10-21").unwrap();
        let token = crate::secret::Secret::new("t");
        let run = gather(
            &ctx,
            &req,
            &token,
            Some(&roles(RoleVerdict::Missing)),
            &quick(Duration::from_secs(20)),
        )
        .await;
        assert_eq!((run.attempts, run.waited.is_none(), run.gave_up), (1, true, false));
        assert_eq!(*seen.lock().unwrap(), 1);

        let started = std::time::Instant::now();
        let run = gather(
            &ctx,
            &req,
            &token,
            Some(&roles(RoleVerdict::Unknown)),
            &quick(Duration::from_millis(300)),
        )
        .await;
        assert!(run.gave_up && run.attempts >= 3, "{run:?}");
        assert_eq!(run.answer.unwrap().status, 401);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
