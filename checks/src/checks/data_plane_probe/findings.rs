//! The probe's wording: each outcome ([`NotSent`], [`CallOutcome`]) becomes a judgement with
//! its findings, fixes and commands. Nothing here does I/O or reads a response body.

use super::input::{Input, parse_http_date};
use super::outcome::{CallOutcome, NotSent, Unauthorized};
use super::wait::short_duration;
use crate::azure::dataplane::Deployment;
use crate::azure::http::Failure;
use crate::codes;
use crate::context::ProbeKind;
use crate::diagnose::dataplane::{AuthPassedReason, explain_token_rejection};
use crate::diagnose::jwt::{self, ClaimExpectations, ClaimProblem};
use crate::diagnose::redact;
use crate::model::{Finding, Judgement, Status};
use serde_json::json;
use std::time::Duration;

/// Why no call was made.
pub fn not_sent(why: &NotSent) -> Judgement {
    match why {
        NotSent::NoToken => Judgement::new(Status::Skip, "no token"),
        NotSent::Disabled => Judgement::new(Status::Skip, "no live call: --probe none"),
        NotSent::NoEndpoint => Judgement::new(
            Status::Skip,
            "skipped: no endpoint (--endpoint or AZURE_OPENAI_ENDPOINT)",
        ),
        NotSent::InsecureHttp { base } => {
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
            Judgement::new(Status::Fail, "not sent: the endpoint is not https").finding(f)
        }
        NotSent::NoDeployment { kind } => no_deployment(*kind),
    }
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

/// The judgement of the call: the outcome's findings, the evidence, and clock skew against
/// the server's `Date`.
pub fn judge(input: &Input) -> Judgement {
    let mut evidence = json!({
        "request": input.request.describe(),
        "probe": input.kind.name(),
        "attempts": input.run.attempts,
    });
    if let Some(w) = input.run.waited {
        evidence["waited_s"] = json!(w.as_secs());
    }
    let attempt = &input.run.attempt;
    let Some(resp) = &attempt.response else {
        return no_answer(input, &attempt.outcome).evidence(evidence);
    };
    evidence["status"] = json!(resp.status);
    evidence["elapsed_ms"] = json!(resp.elapsed.as_millis() as u64);
    evidence["response"] = serde_json::Value::Object(attempt.evidence.clone());
    for (k, v) in resp.request_ids() {
        evidence[k] = v;
    }
    let server_date = resp.header("date").and_then(parse_http_date);
    let mut judgement = answered(input, resp.status, resp.elapsed, server_date);
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

/// No response: the call timed out, broke, or could not be made.
fn no_answer(input: &Input, outcome: &CallOutcome) -> Judgement {
    let req = input.request.describe();
    match outcome {
        CallOutcome::TimedOut(d) => Judgement::new(Status::Error, format!("no answer within {}", short_duration(*d))).finding(
            Finding::error(
                &codes::PROBE_TIMED_OUT,
                format!("{req}: the endpoint accepted the connection but sent no complete answer within {:.1}s.", d.as_secs_f64()),
            )
            .fix("Something between here and the resource holds the request (a proxy, a firewall dropping packets, a private endpoint route). Check HTTPS_PROXY/NO_PROXY, then try the call with curl to see where it stops.")
            .command(format!("curl -sv --max-time 30 '{}'", input.request.url)),
        ),
        CallOutcome::Transport { kind, message } => {
            let (what, fix) = transport_words(kind);
            Judgement::new(Status::Fail, format!("no answer: {what}")).finding(
                Finding::error(&codes::PROBE_UNREACHABLE, format!("{req}: {what} ({}).", redact(message))).fix(fix),
            )
        }
        CallOutcome::Setup(m) => Judgement::new(Status::Error, format!("the call could not be made: {m}")).finding(
            Finding::error(&codes::PROBE_UNRECOGNIZED, format!("The probe request could not be built: {}.", redact(m))),
        ),
        other => Judgement::new(Status::Error, "no answer to judge").finding(Finding::error(
            &codes::PROBE_UNRECOGNIZED,
            format!("{req}: the probe has an outcome ({other:?}) without a response; this is a bug of the doctor."),
        )),
    }
}

/// What a broken connection means, and what to do about it.
fn transport_words(kind: &Failure) -> (&'static str, &'static str) {
    match kind {
        Failure::Reset => (
            "the connection was closed or reset before an answer",
            "A firewall, proxy or network appliance cut the connection (or TLS interception failed). Check HTTPS_PROXY/NO_PROXY and the resource's network rules; from inside the VNet use the private endpoint.",
        ),
        Failure::Refused => (
            "the connection was refused",
            "Nothing listens at this address: check the endpoint, the proxy settings and --resolve overrides.",
        ),
        Failure::Dns => (
            "the host name does not resolve",
            "Check the resource name in the endpoint, and DNS (private DNS zone for a private endpoint).",
        ),
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
    }
}

/// A response: what its outcome means for access.
fn answered(input: &Input, st: u16, elapsed: Duration, server_date: Option<i64>) -> Judgement {
    let what = input.what();
    match &input.run.attempt.outcome {
        CallOutcome::Ok => {
            let summary = match input.run.waited {
                Some(w) => format!("{what} answered HTTP {st} after {} of waiting for the role to propagate", short_duration(w)),
                None => format!("{what} answered HTTP {st} in {} ms", elapsed.as_millis()),
            };
            with_propagation(input, Judgement::new(Status::Pass, summary))
        }
        CallOutcome::AuthPassed(reason) => auth_passed(input, st, reason),
        CallOutcome::OperationNotSupported { message } => operation_not_supported(input, message),
        CallOutcome::RateLimited { retry_after_secs } => rate_limited(input, *retry_after_secs),
        CallOutcome::PermissionDenied { principal_id, data_action } => {
            super::denied::permission_denied(input, principal_id.as_deref(), data_action.as_deref())
        }
        CallOutcome::Unauthorized(Unauthorized::TokenRejected) => token_rejected(input, server_date),
        CallOutcome::Unauthorized(Unauthorized::KeyOrWrongEndpoint) => key_or_wrong_endpoint(input, st),
        CallOutcome::WrongTenant { token_tenant } => wrong_tenant(input, token_tenant.as_deref()),
        CallOutcome::KeyAuthOnly { fix } => Judgement::new(Status::Fail, "HTTP 403 AuthenticationTypeDisabled: key authentication is disabled").finding(
            Finding::error(
                &codes::PROBE_KEY_AUTH_DISABLED,
                "HTTP 403 AuthenticationTypeDisabled: an API key reached the resource, which accepts only Microsoft Entra ID (disableLocalAuth).",
            )
            .fix(fix.clone())
            .command("unset AZURE_OPENAI_API_KEY OPENAI_API_KEY"),
        ),
        CallOutcome::NetworkBlocked { policy_id, message } => network_blocked(input, st, policy_id.as_deref(), message),
        CallOutcome::DeploymentNotFound => deployment_not_found(input),
        CallOutcome::BadPath { message } if input.surface.is_v1() && input.request.url.query().is_some() => {
            super::denied::api_version_on_v1(input, st, message)
        }
        CallOutcome::BadPath { message } => Judgement::new(Status::Fail, format!("HTTP {st}: the path or api-version is not accepted")).finding(
            Finding::error(
                &codes::PROBE_BAD_PATH,
                format!("{} answered HTTP {st}{}: the URL path or the api-version is wrong for this resource or model.", input.request.describe(), parenthesised(message)),
            )
            .fix("Use the resource's base endpoint (no path) and a supported api-version, passed as a string; newer models need newer api-versions.")
            .command("aoai-doctor --api-version 2024-10-21"),
        ),
        CallOutcome::RegionalEndpoint { summary, fix, commands } => Judgement::new(Status::Fail, "a regional endpoint does not accept Microsoft Entra tokens").finding(
            Finding::error(&codes::ENDPOINT_REGIONAL, summary.clone()).fix(fix.clone()).commands(commands.clone()),
        ),
        CallOutcome::Html { title } => {
            let title = title.as_ref().map(|t| format!(" titled \"{t}\"")).unwrap_or_default();
            Judgement::new(Status::Fail, format!("HTTP {st}: an HTML page answered, not Azure OpenAI")).finding(
                Finding::error(
                    &codes::PROBE_NOT_AZURE_OPENAI,
                    format!("{} got HTTP {st} with an HTML page{title}: a proxy, captive portal or firewall answered instead of Azure OpenAI.", input.request.describe()),
                )
                .fix("Check HTTPS_PROXY/NO_PROXY (add the endpoint's host to NO_PROXY if the proxy should not see it) and that the host resolves to the resource.")
                .command(format!("curl -sv '{}' -o /dev/null", input.request.url)),
            )
        }
        CallOutcome::ServerError { message } => Judgement::new(Status::Error, format!("HTTP {st}: a service-side error; access not verified")).finding(
            Finding::error(&codes::PROBE_SERVER_ERROR, format!("{} answered HTTP {st}{}: a service-side problem, not an access problem the doctor can name.", input.request.describe(), quoted(message)))
                .fix("Retry in a few minutes; if it persists, open a support request with the request ids from the JSON report (--format json)."),
        ),
        CallOutcome::Unrecognized { code, message } => Judgement::new(Status::Error, format!("HTTP {st}: an answer the doctor does not recognise")).finding(
            Finding::error(
                &codes::PROBE_UNRECOGNIZED,
                format!(
                    "{} answered HTTP {st}{}{}.",
                    input.request.describe(),
                    if code.is_empty() { String::new() } else { format!(" {}", redact(code)) },
                    quoted(message)
                ),
            )
            .fix("The message is shown as the service sent it; the JSON report (--format json) has the request ids for a support ticket."),
        ),
        CallOutcome::TimedOut(_) | CallOutcome::Transport { .. } | CallOutcome::Setup(_) => no_answer(input, &input.run.attempt.outcome),
    }
}

/// Adds the "it took this long to propagate" note when the probe waited.
fn with_propagation(input: &Input, j: Judgement) -> Judgement {
    match input.run.waited {
        Some(w) => j.finding(propagated(w)),
        None => j,
    }
}

fn auth_passed(input: &Input, st: u16, reason: &AuthPassedReason) -> Judgement {
    let (summary, message) = match reason {
        AuthPassedReason::UnsupportedParameter { parameter } => {
            let p = parameter.as_deref().unwrap_or("a parameter");
            (
                format!(
                    "authentication and role passed (HTTP {st}: the model refuses `{p}`){}",
                    input.after_wait()
                ),
                format!(
                    "HTTP {st} unsupported parameter `{p}`: the model refused the probe's request body, which it only reads after authentication and the role check passed. Reasoning models (o-series, gpt-5) want `max_completion_tokens` instead of `max_tokens` — update the app if it sends `max_tokens`."
                ),
            )
        }
        AuthPassedReason::ContentFilter => (
            format!(
                "authentication and role passed (the content filter refused the prompt){}",
                input.after_wait()
            ),
            format!(
                "HTTP {st} from the content filter: the prompt was judged, so authentication and the role check passed."
            ),
        ),
    };
    let j = Judgement::new(Status::Pass, summary).finding(Finding::info(&codes::PROBE_AUTH_PASSED, message));
    with_propagation(input, j)
}

fn operation_not_supported(input: &Input, message: &str) -> Judgement {
    let other = if input.kind == ProbeKind::Embeddings {
        "chat"
    } else {
        "embeddings"
    };
    Judgement::new(
        Status::Pass,
        format!(
            "authentication and role passed (HTTP 400: the deployment's model does not do this operation){}",
            input.after_wait()
        ),
    )
    .finding(
        Finding::info(
            &codes::PROBE_AUTH_PASSED,
            format!(
                "HTTP 400 OperationNotSupported: {}. Authentication and the role check passed.",
                redact(message)
            ),
        )
        .command(format!("aoai-doctor --probe {other}")),
    )
}

fn rate_limited(input: &Input, hint: Option<u64>) -> Judgement {
    let what = input.what();
    let wait_text = match hint {
        Some(s) if s >= 3600 => format!(
            " The service asks to wait {s} s ({}): a quota for the period, not a burst.",
            jwt::human_duration(s as i64)
        ),
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

fn key_or_wrong_endpoint(input: &Input, st: u16) -> Judgement {
    Judgement::new(Status::Fail, format!("HTTP {st}: the credential was rejected as a key / wrong endpoint")).finding(
        Finding::error(
            &codes::PROBE_TOKEN_REJECTED,
            format!("HTTP {st} \"invalid subscription key or wrong API endpoint\" although a Microsoft Entra token was sent: the endpoint is probably not this resource's own custom subdomain."),
        )
        .fix("Use the endpoint the resource reports (https://NAME.openai.azure.com or https://NAME.cognitiveservices.azure.com).")
        .command(format!("az cognitiveservices account show -n {} -g {} --query properties.endpoint -o tsv", input.resource.name(), input.resource.rg())),
    )
}

fn wrong_tenant(input: &Input, token_tenant: Option<&str>) -> Judgement {
    let token_tenant = token_tenant
        .map(str::to_string)
        .or_else(|| input.decoded.ok().and_then(|c| c.tid.clone()));
    let resource_tenant = input.roles.and_then(|r| r.resource_tenant.clone());
    let message = format!(
        "HTTP 400: the token is from tenant {}, but the resource belongs to {}.",
        token_tenant.as_deref().unwrap_or("(unknown)"),
        resource_tenant
            .as_deref()
            .map(|t| format!("tenant {t}"))
            .unwrap_or_else(|| "another tenant".into())
    );
    let rt = resource_tenant.as_deref().unwrap_or("RESOURCE-TENANT-ID");
    Judgement::new(Status::Fail, "HTTP 400: the token comes from another tenant than the resource's").finding(
        Finding::error(&codes::PROBE_WRONG_TENANT, message)
            .fix("Get the token from the resource's tenant: `az login --tenant`, AZURE_TENANT_ID for a service principal, or the credential's tenant option. Guest users sign in to the resource's tenant, not their home tenant.")
            .command(format!("az login --tenant {rt} --scope {}", input.scope)),
    )
}

fn network_blocked(input: &Input, st: u16, policy_id: Option<&str>, error_message: &str) -> Judgement {
    let public_off = error_message.to_ascii_lowercase().contains("public access is disabled");
    let mut message = format!("HTTP {st}: a network rule of the resource blocks this client");
    if !error_message.is_empty() {
        message.push_str(&format!(" (\"{}\")", redact(error_message)));
    }
    if let Some(p) = policy_id {
        message.push_str(&format!("; policy-id: {p}"));
    }
    message.push('.');
    let (rg, name) = (input.resource.rg(), input.resource.name());
    let mut f = Finding::error(&codes::PROBE_NETWORK_BLOCKED, message);
    if public_off {
        f = f
            .fix("Public network access is disabled: call from inside the virtual network through the private endpoint (its private DNS zone must resolve the custom subdomain to the private IP), or enable public access with IP rules.")
            .command(format!("nslookup {}", input.request.url.host_str().unwrap_or("YOUR-RESOURCE.openai.azure.com")));
    } else {
        f = f
            .fix("Call from an allowed network (the private endpoint, a VNet with a service endpoint), or add this client's public IP to the resource's network rules.")
            .command(format!(
                "az cognitiveservices account network-rule add -g {rg} -n {name} --ip-address $(curl -s https://api.ipify.org)"
            ));
    }
    f = f.command(format!(
        "az cognitiveservices account show -g {rg} -n {name} --query \"{{public:properties.publicNetworkAccess, acls:properties.networkAcls}}\""
    ));
    Judgement::new(
        Status::Fail,
        format!("HTTP {st}: blocked by the resource's network rules"),
    )
    .finding(f)
}

/// `gpt-4o-mini`, or `emb (model text-embedding-3-small)` when the model has another name.
fn deployment_text(d: &Deployment) -> String {
    match &d.model {
        Some(m) if m != &d.name => format!("{} (model {m})", d.name),
        _ => d.name.clone(),
    }
}

fn deployment_not_found(input: &Input) -> Judgement {
    let d = input.deployment.unwrap_or("?");
    let mut message = format!("HTTP 404 DeploymentNotFound: this resource has no deployment named `{d}`.");
    match &input.run.deployments {
        Some(list) if !list.is_empty() => {
            let names: Vec<String> = list.iter().map(deployment_text).collect();
            message.push_str(&format!(" Its deployments: {}.", names.join(", ")));
        }
        Some(_) => message.push_str(" It has no deployments at all."),
        None => {}
    }
    message.push_str(" The URL needs the deployment's name, which is often not the model's name; waiting rarely helps (only right after creating it).");
    Judgement::new(Status::Fail, format!("HTTP 404: no deployment `{d}` on this resource")).finding(
        Finding::error(&codes::PROBE_DEPLOYMENT_NOT_FOUND, message)
            .fix(
                "Use an existing deployment's name (--deployment / AZURE_OPENAI_DEPLOYMENT), or create the deployment.",
            )
            .command(format!(
                "az cognitiveservices account deployment list -g {} -n {} -o table",
                input.resource.rg(),
                input.resource.name()
            )),
    )
}

/// `: "message"`, or nothing.
fn quoted(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(": \"{}\"", redact(m))
    }
}

/// ` ("message")`, or nothing.
fn parenthesised(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(" (\"{}\")", redact(m))
    }
}

fn propagated(w: Duration) -> Finding {
    Finding::info(
        &codes::PROBE_PROPAGATION_WAITED,
        format!("The data plane answered 401 PermissionDenied until the new role assignment reached it; it took {}.", short_duration(w)),
    )
    .fix("Nothing to fix. New role assignments take up to about 10 minutes to reach the data plane; a deployment pipeline can run `aoai-doctor --wait-for-propagation 10m` after assigning the role.")
}

fn token_rejected(input: &Input, server_date: Option<i64>) -> Judgement {
    let mut expected = ClaimExpectations::azure_openai();
    expected.audience_resource = input.audience_resource.to_string();
    if let Some(id) = crate::surface::app_id_of(input.audience_resource) {
        expected.audience_app_id = id.to_string();
    }
    expected.expected_tenant = input.roles.and_then(|r| r.resource_tenant.clone());
    expected.server_date_unix = server_date;
    let problems: Vec<ClaimProblem> = match input.decoded {
        Ok(c) => jwt::judge_claims(c, input.now, &expected),
        Err(_) => vec![],
    };
    let wrong_audience = problems.iter().any(|p| matches!(p, ClaimProblem::WrongAudience { .. }));
    if wrong_audience && input.surface.is_project() {
        return super::denied::project_audience(input);
    }
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
    if wrong_audience {
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
    //! One test per conversion: an outcome, built directly, and the judgement it becomes.
    use super::*;
    use crate::azure::dataplane::{self, ProbeResponse};
    use crate::checks::data_plane_probe::ResourceNames;
    use crate::checks::data_plane_probe::gather::ProbeRun;
    use crate::checks::data_plane_probe::outcome::Attempt;
    use crate::diagnose::jwt::JwtError;
    use crate::facts::{RoleFacts, RoleVerdict};

    const OID: &str = "0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70";
    const ID: &str =
        "/subscriptions/s/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai";

    fn run(outcome: CallOutcome, status: Option<u16>) -> ProbeRun {
        ProbeRun {
            attempt: Attempt {
                outcome,
                response: status.map(|status| ProbeResponse {
                    status,
                    headers: vec![],
                    body: String::new(),
                    truncated: false,
                    elapsed: Duration::from_millis(42),
                }),
                evidence: serde_json::Map::new(),
            },
            attempts: 1,
            waited: None,
            gave_up: false,
            role_verdict: None,
            deployments: None,
        }
    }

    fn judged(run: &ProbeRun) -> Judgement {
        let base = url::Url::parse("https://contoso-aoai.openai.azure.com/").unwrap();
        let request = dataplane::request(
            &base,
            &crate::surface::Surface::ResourceRoot,
            ProbeKind::Chat,
            Some("gpt-4o-mini"),
            "2024-10-21",
        )
        .unwrap();
        let roles = RoleFacts {
            verdict: RoleVerdict::Unknown,
            outcome: crate::facts::RoleOutcomeKind::AssignmentsUnreadable,
            resource_id: Some(ID.into()),
            resource_tenant: Some("t1".into()),
            principal_id: Some(OID.into()),
            data_action: String::new(),
            newest_grant_age_secs: None,
        };
        let err = JwtError::Empty;
        judge(&Input {
            request: &request,
            kind: ProbeKind::Chat,
            deployment: Some("gpt-4o-mini"),
            run,
            decoded: Err(&err),
            roles: Some(&roles),
            resource: ResourceNames::from_id(ID),
            audience_resource: "https://cognitiveservices.azure.com",
            surface: &crate::surface::Surface::ResourceRoot,
            scope: "https://cognitiveservices.azure.com/.default",
            now: 1_767_225_600,
            wait: Duration::from_secs(600),
        })
    }

    fn one(outcome: CallOutcome, status: u16) -> (Status, &'static str, Finding) {
        let j = judged(&run(outcome, Some(status)));
        let f = j.findings.first().cloned().expect("a finding");
        (j.status, f.code.id, f)
    }

    #[test]
    fn access_proven_outcomes_pass() {
        let j = judged(&run(CallOutcome::Ok, Some(200)));
        assert_eq!((j.status, j.findings.len()), (Status::Pass, 0));
        let mut waited = run(CallOutcome::Ok, Some(200));
        waited.waited = Some(Duration::from_secs(65));
        let j = judged(&waited);
        assert!(
            j.summary.ends_with("after 1m05s of waiting for the role to propagate"),
            "{}",
            j.summary
        );
        assert_eq!(j.findings[0].code.id, "probe-propagation-waited");
        let (st, code, f) = one(CallOutcome::AuthPassed(AuthPassedReason::ContentFilter), 400);
        assert_eq!((st, code), (Status::Pass, "probe-auth-passed"));
        assert!(f.message.contains("content filter"), "{}", f.message);
        let (st, code, f) = one(
            CallOutcome::OperationNotSupported {
                message: "no chat here".into(),
            },
            400,
        );
        assert_eq!((st, code), (Status::Pass, "probe-auth-passed"));
        assert_eq!(f.remediation.commands, ["aoai-doctor --probe embeddings"]);
        let (st, code, f) = one(
            CallOutcome::RateLimited {
                retry_after_secs: Some(7200),
            },
            429,
        );
        assert_eq!((st, code), (Status::Warn, "probe-rate-limited"));
        assert!(f.message.contains("a quota for the period"), "{}", f.message);
        assert!(f.remediation.commands[0].contains("-g rg-ai -n contoso-aoai --deployment-name gpt-4o-mini"));
    }

    #[test]
    fn permission_denied_follows_the_role_verdict_it_was_given() {
        let denied = CallOutcome::PermissionDenied {
            principal_id: Some(OID.into()),
            data_action: None,
        };
        let with = |verdict| {
            let mut r = run(denied.clone(), Some(401));
            r.role_verdict = verdict;
            judged(&r)
        };
        let missing = with(Some(RoleVerdict::Missing));
        assert_eq!(missing.findings[0].code.id, "probe-permission-denied");
        assert!(
            missing.summary.contains(&format!("principal {OID}")),
            "{}",
            missing.summary
        );
        assert!(missing.findings[0].message.contains("chat/completions/action"));
        assert_eq!(with(None).summary, missing.summary);
        let propagating = with(Some(RoleVerdict::Propagating));
        assert_eq!(
            propagating.findings[0].remediation.commands,
            ["aoai-doctor --wait-for-propagation 10m"]
        );
        assert!(
            with(Some(RoleVerdict::Granted))
                .summary
                .contains("although a role seems to grant it")
        );
        assert!(
            with(Some(RoleVerdict::Unknown))
                .summary
                .contains("or it has not propagated")
        );
        let mut gave_up = run(denied, Some(401));
        gave_up.gave_up = true;
        gave_up.waited = Some(Duration::from_secs(300));
        assert_eq!(
            judged(&gave_up).summary,
            "still 401 PermissionDenied after waiting 5m00s"
        );
    }

    #[test]
    fn rejected_credentials_and_tenants() {
        let (st, code, f) = one(CallOutcome::Unauthorized(Unauthorized::TokenRejected), 401);
        assert_eq!((st, code), (Status::Fail, "probe-token-rejected"));
        assert!(
            f.message.starts_with("HTTP 401: the data plane rejected the token."),
            "{}",
            f.message
        );
        let (_, code, f) = one(CallOutcome::Unauthorized(Unauthorized::KeyOrWrongEndpoint), 401);
        assert_eq!(code, "probe-token-rejected");
        assert!(
            f.message.contains("not this resource's own custom subdomain"),
            "{}",
            f.message
        );
        let (_, code, f) = one(
            CallOutcome::WrongTenant {
                token_tenant: Some("t2".into()),
            },
            400,
        );
        assert_eq!(code, "probe-wrong-tenant");
        assert_eq!(
            f.message,
            "HTTP 400: the token is from tenant t2, but the resource belongs to tenant t1."
        );
        let (_, code, f) = one(
            CallOutcome::KeyAuthOnly {
                fix: "Stop sending the key.".into(),
            },
            403,
        );
        assert_eq!(
            (code, f.remediation.text.as_str()),
            ("probe-key-auth-disabled", "Stop sending the key.")
        );
    }

    #[test]
    fn network_rules_name_the_way_in() {
        let blocked = |message: &str| CallOutcome::NetworkBlocked {
            policy_id: Some("p1".into()),
            message: message.into(),
        };
        let (_, code, f) = one(blocked("Public access is disabled."), 403);
        assert_eq!(code, "probe-network-blocked");
        assert!(f.message.ends_with("; policy-id: p1."), "{}", f.message);
        assert_eq!(f.remediation.commands[0], "nslookup contoso-aoai.openai.azure.com");
        let (_, _, f) = one(blocked(""), 403);
        assert!(f.remediation.commands[0].contains("network-rule add -g rg-ai -n contoso-aoai"));
    }

    #[test]
    fn wrong_urls_and_foreign_answers() {
        let mut r = run(CallOutcome::DeploymentNotFound, Some(404));
        r.deployments = Some(vec![
            Deployment {
                name: "gpt-4o".into(),
                model: Some("gpt-4o".into()),
            },
            Deployment {
                name: "emb".into(),
                model: Some("text-embedding-3-small".into()),
            },
        ]);
        let f = &judged(&r).findings[0];
        assert!(
            f.message
                .contains("Its deployments: gpt-4o, emb (model text-embedding-3-small)."),
            "{}",
            f.message
        );
        r.deployments = Some(vec![]);
        assert!(judged(&r).findings[0].message.contains("It has no deployments at all."));
        let (_, code, f) = one(
            CallOutcome::BadPath {
                message: "Resource not found".into(),
            },
            404,
        );
        assert_eq!(code, "probe-bad-path");
        assert!(f.message.contains("HTTP 404 (\"Resource not found\")"), "{}", f.message);
        let regional = CallOutcome::RegionalEndpoint {
            summary: "regional".into(),
            fix: "use the subdomain".into(),
            commands: vec!["az x".into()],
        };
        let (_, code, f) = one(regional, 401);
        assert_eq!(
            (code, f.message.as_str(), f.remediation.commands.len()),
            ("endpoint-regional", "regional", 1)
        );
        let (_, code, f) = one(
            CallOutcome::Html {
                title: Some("Portal".into()),
            },
            200,
        );
        assert_eq!(code, "probe-not-azure-openai");
        assert!(f.message.contains("HTML page titled \"Portal\""), "{}", f.message);
        let (st, code, _) = one(CallOutcome::ServerError { message: String::new() }, 502);
        assert_eq!((st, code), (Status::Error, "probe-server-error"));
        let (st, code, f) = one(
            CallOutcome::Unrecognized {
                code: "Teapot".into(),
                message: "stout".into(),
            },
            418,
        );
        assert_eq!((st, code), (Status::Error, "probe-unrecognized"));
        assert!(
            f.message.ends_with("answered HTTP 418 Teapot: \"stout\"."),
            "{}",
            f.message
        );
    }

    #[test]
    fn no_answer_outcomes() {
        let judged_err = |o| judged(&run(o, None));
        let j = judged_err(CallOutcome::TimedOut(Duration::from_secs(3)));
        assert_eq!((j.status, j.findings[0].code.id), (Status::Error, "probe-timed-out"));
        assert_eq!(j.summary, "no answer within 3s");
        for (kind, words) in [
            (Failure::Refused, "refused"),
            (Failure::Dns, "does not resolve"),
            (Failure::TlsUntrusted, "not trusted"),
            (Failure::TlsOther, "handshake failed"),
            (Failure::Other, "no HTTP answer"),
        ] {
            let j = judged_err(CallOutcome::Transport {
                kind,
                message: "m".into(),
            });
            assert_eq!((j.status, j.findings[0].code.id), (Status::Fail, "probe-unreachable"));
            assert!(j.summary.contains(words), "{}", j.summary);
        }
        let j = judged_err(CallOutcome::Setup("bad".into()));
        assert_eq!((j.status, j.findings[0].code.id), (Status::Error, "probe-unrecognized"));
    }

    #[test]
    fn each_reason_not_to_call_has_its_judgement() {
        assert_eq!(not_sent(&NotSent::NoToken).status, Status::Skip);
        assert_eq!(not_sent(&NotSent::Disabled).summary, "no live call: --probe none");
        assert!(not_sent(&NotSent::NoEndpoint).summary.contains("AZURE_OPENAI_ENDPOINT"));
        let base = url::Url::parse("http://contoso.openai.azure.com/").unwrap();
        let j = not_sent(&NotSent::InsecureHttp { base });
        assert_eq!((j.status, j.findings[0].code.id), (Status::Fail, "probe-insecure-http"));
        let j = not_sent(&NotSent::NoDeployment {
            kind: ProbeKind::Embeddings,
        });
        assert_eq!((j.status, j.findings[0].code.id), (Status::Warn, "probe-no-deployment"));
        assert!(j.summary.contains("embeddings"));
    }
}
