//! The probe end to end: answers from the corpus through the judge, and the wait against a
//! loopback server.

use super::gather::{gather, request_limit};
use super::outcome::{Attempt, CallOutcome};
use super::*;
use crate::azure::dataplane::{ProbeError, ProbeResponse};
use crate::context::Progress;
use crate::diagnose::jwt::Claims;
use crate::facts::{RoleFacts, RoleVerdict};
use crate::model::{Judgement, Status};
use base64::Engine;
use serde_json::json;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

const NOW: i64 = 1_767_225_600;
const OID: &str = "0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70";

fn corpus_case(id: &str) -> (u16, Vec<(String, String)>, String) {
    let all: serde_json::Value =
        serde_json::from_str(include_str!("../../../../fixtures/corpus/aoai-dataplane.json")).expect("corpus");
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
            "/subscriptions/s/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai".into(),
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
        attempt: Attempt::of(answer),
        attempts: 1,
        waited: None,
        gave_up: false,
        role_verdict: None,
        deployments: None,
    }
}

struct Case {
    claims: Claims,
    roles: Option<RoleFacts>,
    deployments: Option<Vec<crate::azure::dataplane::Deployment>>,
    kind: ProbeKind,
    /// The endpoint as configured: decides the surface, the URL and the api-version.
    endpoint: &'static str,
    /// `--api-version` given explicitly (else the surface's default).
    api_version: Option<&'static str>,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            claims: good_claims(),
            roles: None,
            deployments: None,
            kind: ProbeKind::Chat,
            endpoint: "https://contoso-aoai.openai.azure.com/",
            api_version: None,
        }
    }
}

fn judge_with(case: Case, mut run: ProbeRun) -> Judgement {
    // As gather does: the role verdict is asked for on a PermissionDenied only.
    if matches!(run.attempt.outcome, CallOutcome::PermissionDenied { .. }) {
        run.role_verdict = case.roles.as_ref().map(|r| r.verdict);
    }
    run.deployments = case.deployments;
    let endpoint = url::Url::parse(case.endpoint).unwrap();
    let surface = crate::surface::Surface::of(&endpoint).expect("a surface");
    let version = surface.api_version(case.api_version, "2024-10-21").unwrap_or_default();
    let request = dataplane::request(
        &surface.call_base(&endpoint),
        &surface,
        case.kind,
        Some("gpt-4o-mini"),
        &version,
    )
    .unwrap();
    let audiences: Vec<String> = case
        .claims
        .aud
        .as_ref()
        .map(|a| a.values().into_iter().map(str::to_string).collect())
        .unwrap_or_default();
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
        audience_resource: surface.audience_for(crate::context::Cloud::AzureCloud, &audiences),
        surface: &surface,
        scope: "https://cognitiveservices.azure.com/.default",
        now: NOW,
        wait: Duration::from_secs(600),
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
    let body = r#"{"error":{"code":"PermissionDenied","message":"Principal does not have access to API/Operation."}}"#;
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
        attempts: 9,
        waited: Some(Duration::from_secs(600)),
        gave_up: true,
        ..run_of(Ok(resp(401, vec![], body)))
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
        attempts: 5,
        waited: Some(Duration::from_secs(192)),
        ..run_of(Ok(resp(200, vec![], "{}")))
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
    let body =
        r#"{"error":{"code":"DeploymentNotFound","message": "The API deployment for this resource does not exist."}}"#;
    let list = crate::azure::dataplane::parse_deployments(
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
    let denied = CallOutcome::PermissionDenied {
        principal_id: None,
        data_action: None,
    };
    let ten = Duration::from_secs(600);
    assert!(worth_waiting(&denied, Some(RoleVerdict::Propagating), ten));
    assert!(worth_waiting(&denied, Some(RoleVerdict::Unknown), ten));
    assert!(!worth_waiting(&denied, Some(RoleVerdict::Missing), ten));
    assert!(!worth_waiting(&denied, None, ten));
    assert!(!worth_waiting(&denied, Some(RoleVerdict::Propagating), Duration::ZERO));
    assert!(!worth_waiting(
        &CallOutcome::DeploymentNotFound,
        Some(RoleVerdict::Propagating),
        ten
    ));
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

fn quick(ctx: &crate::context::RunContext, max_wait: Duration) -> WaitPolicy {
    WaitPolicy {
        max_wait,
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(60),
        max_attempts: 1000,
        attempt_limit: request_limit(ctx),
        deadline: max_wait + ctx.timeouts.check.mul_f64(0.9),
    }
}

/// A role verdict that counts how often it is asked for.
async fn verdict(v: RoleVerdict, asked: &AtomicU32) -> Option<RoleVerdict> {
    asked.fetch_add(1, Ordering::SeqCst);
    Some(v)
}

#[tokio::test]
async fn a_propagating_role_is_retried_until_it_works_with_progress_reported() {
    let (url, seen) = server(vec![(401, DENIED), (401, DENIED), (401, DENIED)]).await;
    let recorder = Arc::new(Recorder::default());
    let mut ctx = crate::checks::test_support::context();
    ctx.progress = recorder.clone();
    let req = dataplane::request(
        &url,
        &crate::surface::Surface::ResourceRoot,
        ProbeKind::Chat,
        Some("d"),
        "2024-10-21",
    )
    .unwrap();
    let asked = AtomicU32::new(0);
    let policy = quick(&ctx, Duration::from_secs(20));
    let token = crate::secret::Secret::new("t");
    let run = gather(&ctx, &req, &token, &policy, verdict(RoleVerdict::Propagating, &asked)).await;
    assert_eq!(run.attempt.status(), Some(200));
    assert_eq!((run.attempts, *seen.lock().unwrap()), (4, 4));
    assert!(run.waited.is_some() && !run.gave_up);
    // Asked for once, on the first PermissionDenied, and kept for the next attempts.
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(run.role_verdict, Some(RoleVerdict::Propagating));
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
    let req = dataplane::request(
        &url,
        &crate::surface::Surface::ResourceRoot,
        ProbeKind::Chat,
        Some("d"),
        "2024-10-21",
    )
    .unwrap();
    let token = crate::secret::Secret::new("t");
    let asked = AtomicU32::new(0);
    let policy = quick(&ctx, Duration::from_secs(20));
    let run = gather(&ctx, &req, &token, &policy, verdict(RoleVerdict::Missing, &asked)).await;
    assert_eq!((run.attempts, run.waited.is_none(), run.gave_up), (1, true, false));
    assert_eq!(*seen.lock().unwrap(), 1);

    let started = std::time::Instant::now();
    let policy = quick(&ctx, Duration::from_millis(300));
    let run = gather(&ctx, &req, &token, &policy, verdict(RoleVerdict::Unknown, &asked)).await;
    assert!(run.gave_up && run.attempts >= 3, "{run:?}");
    assert_eq!(run.attempt.status(), Some(401));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_role_verdict_is_not_asked_for_unless_the_answer_is_permission_denied() {
    let (url, seen) = server(vec![
        (404, r#"{"error":{"code":"DeploymentNotFound","message":"x"}}"#),
        (200, r#"{"data":[{"id":"gpt-4o","model":"gpt-4o"}]}"#),
    ])
    .await;
    let ctx = crate::checks::test_support::context();
    let req = dataplane::request(
        &url,
        &crate::surface::Surface::ResourceRoot,
        ProbeKind::Chat,
        Some("d"),
        "2024-10-21",
    )
    .unwrap();
    let asked = AtomicU32::new(0);
    let policy = quick(&ctx, Duration::from_secs(20));
    let token = crate::secret::Secret::new("t");
    let run = gather(&ctx, &req, &token, &policy, verdict(RoleVerdict::Propagating, &asked)).await;
    assert_eq!(run.attempt.outcome, CallOutcome::DeploymentNotFound);
    assert_eq!((asked.load(Ordering::SeqCst), run.role_verdict), (0, None));
    // The second request lists the deployments that do exist.
    let listed = crate::azure::dataplane::Deployment {
        name: "gpt-4o".into(),
        model: Some("gpt-4o".into()),
    };
    assert_eq!((run.deployments, *seen.lock().unwrap()), (Some(vec![listed]), 2));
}

/// Today's surfaces: the denial names the action the surface needs and the role that grants
/// it; an api-version on /openai/v1 and the old audience on a project are explained.
mod surfaces {
    use super::*;

    const PROJECT: &str = "https://contoso.services.ai.azure.com/api/projects/chat-proj";
    const AGENTS_WRITE: &str = "Microsoft.CognitiveServices/accounts/AIServices/agents/write";

    fn denied(action: Option<&str>) -> ProbeResponse {
        let message = match action {
            Some(a) => format!(
                "The principal `{OID}` lacks the required data action `{a}` to perform `POST /api/projects/{{projectName}}/openai/*` operation."
            ),
            None => "Principal does not have access to API/Operation.".to_string(),
        };
        let body = json!({"error": {"code": "PermissionDenied", "message": message}});
        resp(401, vec![], &body.to_string())
    }

    #[test]
    fn a_project_denial_blames_the_role_even_when_the_role_check_granted_chat() {
        let case = Case {
            endpoint: PROJECT,
            roles: Some(roles(RoleVerdict::Granted)),
            ..Case::default()
        };
        let j = judge_case(case, denied(Some(AGENTS_WRITE)));
        let f = &j.findings[0];
        assert_eq!((j.status, f.code.id), (Status::Fail, "probe-permission-denied"));
        assert!(f.message.contains(AGENTS_WRITE), "{}", f.message);
        assert!(
            f.message
                .contains("role-assignment checked `OpenAI/deployments/chat/completions/action`"),
            "{}",
            f.message
        );
        assert!(
            f.remediation.text.contains("Foundry User (formerly Azure AI User)"),
            "{}",
            f.remediation.text
        );
        let create = &f.remediation.commands[0];
        assert!(
            create.contains("--role \"53ca6127-db72-4b80-b1b0-d745d6d5456d\"")
                && create.ends_with("/accounts/contoso-aoai/projects/chat-proj"),
            "{create}"
        );
    }

    #[test]
    fn a_project_denial_without_an_action_names_both_candidates_as_unverified() {
        let case = Case {
            endpoint: PROJECT,
            roles: Some(roles(RoleVerdict::Missing)),
            ..Case::default()
        };
        let f = &judge_case(case, denied(None)).findings[0];
        assert!(
            f.message.contains(AGENTS_WRITE) && f.message.contains("AIServices/responses/write"),
            "{}",
            f.message
        );
        assert!(f.message.contains("unverified"), "{}", f.message);
    }

    #[test]
    fn a_classic_denial_keeps_openai_user() {
        let case = Case {
            roles: Some(roles(RoleVerdict::Missing)),
            ..Case::default()
        };
        let f = &judge_case(
            case,
            denied(Some(
                "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
            )),
        )
        .findings[0];
        assert!(!f.message.contains("role-assignment checked"), "{}", f.message);
        assert!(f.remediation.commands[0].contains("--role \"Cognitive Services OpenAI User\""));
    }

    #[test]
    fn an_api_version_on_v1_is_explained_and_none_is_sent_by_default() {
        let bad = resp(
            400,
            vec![],
            r#"{"error":{"code":"BadRequest","message":"API version not supported"}}"#,
        );
        let case = Case {
            endpoint: "https://contoso-aoai.openai.azure.com/openai/v1/",
            api_version: Some("2024-10-21"),
            ..Case::default()
        };
        let j = judge_case(case, bad.clone());
        assert_eq!(j.findings[0].code.id, "probe-api-version-on-v1");
        assert_eq!(
            j.evidence["request"],
            "POST /openai/v1/chat/completions?api-version=2024-10-21"
        );
        // The same 400 on the classic route stays a bad path.
        let j = judge_case(Case::default(), bad);
        assert_eq!(j.findings[0].code.id, "probe-bad-path");
        let ok = judge_case(
            Case {
                endpoint: "https://contoso-aoai.openai.azure.com/openai/v1/",
                kind: ProbeKind::Responses,
                ..Case::default()
            },
            resp(200, vec![], r#"{"object":"response"}"#),
        );
        assert_eq!(ok.evidence["request"], "POST /openai/v1/responses");
        assert_eq!(ok.status, Status::Pass);
    }

    #[test]
    fn the_old_audience_on_a_project_gets_the_new_scope() {
        let body = json!({"statusCode": 401, "message": "Unauthorized. Access token is missing, invalid, audience is incorrect (https://ai.azure.com), or have expired."});
        let case = Case {
            endpoint: PROJECT,
            ..Case::default()
        };
        let j = judge_case(case, resp(401, vec![], &body.to_string()));
        let f = &j.findings[0];
        assert_eq!(f.code.id, "probe-project-audience", "{j:?}");
        assert_eq!(
            f.remediation.commands[0],
            "aoai-doctor --scope https://ai.azure.com/.default"
        );
        assert!(f.remediation.text.contains("2.0.0b2"));
    }
}
