//! `token`: can the credential the chain picked get a token for `--scope`? Every Entra
//! failure becomes a finding named by its AADSTS number, with the fix; a scope the endpoint's
//! surface does not accept (a Foundry project takes only `https://ai.azure.com/.default`,
//! resource paths the Cognitive Services scope or, in the public cloud, the `ai.azure.com` one)
//! is explained even when Entra grants it.

use super::Check;
use super::Outcome;
use crate::azure::credentials::{self, AcquireFailure, Acquired};
use crate::chain::Link;
use crate::codes;
use crate::context::{Cloud, RunContext};
use crate::diagnose::entra::{self, EntraContext};
use crate::diagnose::html;
use crate::diagnose::managed_identity::{MiOutcome, classify_mi_response};
use crate::diagnose::redact::redact;
use crate::facts::{CredentialFacts, Fact, Facts};
use crate::model::{Finding, Judgement, Status};
use crate::surface::{AI_AZURE, Acceptance, Surface};
use async_trait::async_trait;
use serde_json::json;

pub struct TokenCheck;

#[async_trait]
impl Check for TokenCheck {
    fn id(&self) -> &'static str {
        "token"
    }
    fn title(&self) -> &'static str {
        "Token for the scope"
    }
    fn provides(&self) -> &'static [Fact] {
        &[Fact::AccessToken]
    }
    fn needs(&self) -> &'static [Fact] {
        &[Fact::Credential]
    }
    async fn run(&self, ctx: &RunContext, facts: &Facts) -> Outcome {
        let Some(cred) = facts.credential.clone() else {
            return Outcome::new(Judgement::new(Status::Skip, "no credential"));
        };
        // The role check's ARM token, from the same identity endpoint, starts beside this one,
        // unless this one is known to have failed already (the role check will not run then).
        if !matches!(cred.prefetched, Some(Err(_))) {
            ctx.early.start_arm_token(ctx, &cred.config);
        }
        let got = match cred.prefetched.clone() {
            Some(p) => p,
            None => credentials::acquire(ctx, &cred.config, &ctx.target.scope).await,
        };
        let rule = ScopeRule::of_target(&ctx.target);
        let (mut judgement, token) = judge(&cred, got, &ctx.target.scope, &rule, ctx.now());
        if let Some(note) = rule.note(&ctx.target.scope)
            && let Some(evidence) = judgement.evidence.as_object_mut()
        {
            evidence.insert("audience_note".into(), json!(note));
        }
        Outcome::with_facts(
            judgement,
            Facts {
                token,
                ..Default::default()
            },
        )
    }
}

fn entra_context(kind: &str) -> EntraContext {
    match kind {
        "workload-identity" => EntraContext::WorkloadIdentity,
        "environment" => EntraContext::ClientCredentials,
        "managed-identity" => EntraContext::ManagedIdentity,
        "azure-cli" => EntraContext::AzureCli,
        _ => EntraContext::Unknown,
    }
}

/// The pure judge.
pub fn judge(
    cred: &CredentialFacts,
    got: Acquired,
    scope: &str,
    rule: &ScopeRule,
    now: i64,
) -> (Judgement, Option<crate::facts::TokenInfo>) {
    let mut findings = scope_findings(scope, rule);
    let stops = cred.link.is_prod();
    match got {
        Ok(token) => {
            let expires = token
                .expires_on
                .map(|e| {
                    format!(
                        ", expires in {}",
                        crate::diagnose::jwt::human_duration(e.saturating_sub(now))
                    )
                })
                .unwrap_or_default();
            let evidence = json!({ "credential": cred.name, "scope": scope, "expires_on": token.expires_on });
            let status = Judgement::status_from(&findings);
            let summary = match findings.first() {
                None => format!("got a token from {}{expires}", cred.name),
                Some(f) => format!(
                    "got a token from {}, but: {}",
                    cred.name,
                    f.message.split(':').next().unwrap_or("")
                ),
            };
            (
                Judgement::new(status, summary)
                    .with_findings(findings)
                    .evidence(evidence),
                Some(token),
            )
        }
        Err(failure) => {
            let mut f = failure_finding(cred, &failure);
            if stops {
                f.message.push_str(&format!(
                    " DefaultAzureCredential stops at {}: the links after it (such as the Azure CLI) are not tried.",
                    cred.name
                ));
            }
            let mut evidence = json!({ "credential": cred.name, "scope": scope, "failure": failure.describe() });
            if let AcquireFailure::Http { status, headers, body } = &failure {
                let ex = entra::explain_token_response(*status, headers, body, entra_context(cred.kind()));
                evidence["response"] = serde_json::Value::Object(ex.evidence);
            }
            let status = match failure {
                AcquireFailure::TimedOut(_) => Status::Error,
                AcquireFailure::Setup(_) if f.code == &codes::CHAIN_CERTIFICATE_NOT_TESTED => Status::Warn,
                _ => Status::Fail,
            };
            let summary = f
                .message
                .split(". ")
                .next()
                .unwrap_or("")
                .trim_end_matches('.')
                .to_string();
            findings.insert(0, f);
            (
                Judgement::new(status, summary)
                    .with_findings(findings)
                    .evidence(evidence),
                None,
            )
        }
    }
}

fn failure_finding(cred: &CredentialFacts, failure: &AcquireFailure) -> Finding {
    match failure {
        AcquireFailure::Http { status, headers, body } => {
            if cred.link == Link::ManagedIdentity {
                let v = classify_mi_response(*status, headers, body);
                if v.outcome != MiOutcome::EntraError {
                    let code = if v.outcome == MiOutcome::IdentityNotFound { &codes::TOKEN_MI_IDENTITY_NOT_FOUND } else { &codes::TOKEN_MI_FAILED };
                    return Finding::error(code, v.explanation.summary.clone()).fix(v.explanation.fix.clone()).commands(v.explanation.commands.clone());
                }
            }
            if let Some(page) = html_page(headers, body) {
                return Finding::error(
                    &codes::TOKEN_UNREACHABLE,
                    format!("{} did not reach Entra ID: HTTP {status} with {page}, the answer of a proxy or gateway in between.", cred.name),
                )
                .fix("Check HTTPS_PROXY / NO_PROXY and the firewall for the Entra ID authority host (login.microsoftonline.com); a proxy that needs sign-in or cannot reach Entra answers with such a page.");
            }
            let ex = entra::explain_token_response(*status, headers, body, entra_context(cred.kind()));
            let aadsts = entra::parse_entra_error(body).and_then(|e| e.aadsts());
            let code = aadsts.and_then(codes::for_aadsts).unwrap_or(&codes::TOKEN_ENTRA_ERROR);
            let mut message = ex.summary.clone();
            if code == &codes::TOKEN_ENTRA_ERROR {
                message = format!("{} refused with HTTP {status}: {}", cred.name, ex.detail.clone().unwrap_or(ex.summary.clone()));
            }
            Finding::error(code, message).fix(ex.fix.clone()).commands(ex.commands.clone())
        }
        AcquireFailure::Transport { message, .. } => Finding::error(&codes::TOKEN_UNREACHABLE, format!("{} could not reach its token endpoint: {}.", cred.name, redact(message)))
            .fix("Check DNS, proxy (HTTPS_PROXY / NO_PROXY) and firewall rules for the Entra ID or managed-identity endpoint; behind a TLS-inspecting proxy pass its CA with --ca-cert."),
        AcquireFailure::TimedOut(d) => Finding::error(&codes::TOKEN_TIMED_OUT, format!("{} got no answer within {}.", cred.name, crate::diagnose::duration::time_limit(*d)))
            .fix("A proxy or firewall may be swallowing the request; run with -v to see the endpoint."),
        AcquireFailure::NotAToken { status, body_excerpt } => Finding::error(
            &codes::TOKEN_NOT_A_TOKEN,
            format!("{} got HTTP {status}, but the body is not a token: {}", cred.name, redact(body_excerpt)),
        )
        .fix("Something other than Entra ID / the identity endpoint answered: a proxy, captive portal or a wrong endpoint override."),
        AcquireFailure::Setup(why) if cred.link == Link::WorkloadIdentity => Finding::error(&codes::TOKEN_WORKLOAD_FILE, format!("WorkloadIdentityCredential: {why}."))
            .fix("Check the pod has the azure.workload.identity/use: \"true\" label and its service account the client-id annotation, so the webhook mounts the token file.")
            .command("kubectl get pod <pod> -o jsonpath='{.spec.volumes}'"),
        AcquireFailure::Setup(why) if why.contains("certificate") || why.contains("username") => {
            Finding::warning(&codes::CHAIN_CERTIFICATE_NOT_TESTED, format!("{}: {why}.", cred.name)).fix("Test the credential from the app itself; the doctor checks the rest of the path.")
        }
        AcquireFailure::Setup(why) => Finding::error(&codes::TOKEN_MI_FAILED, format!("{}: {why}.", cred.name)),
        AcquireFailure::Cli { stderr, exit_code } => {
            let ex = crate::diagnose::cli::classify_az("", stderr, *exit_code);
            let aadsts = entra::extract_aadsts(stderr).first().copied();
            let code = aadsts.and_then(codes::for_aadsts).unwrap_or(&codes::CLI_FAILED);
            Finding::error(code, ex.summary.clone()).fix(ex.fix.clone()).commands(ex.commands.clone())
        }
    }
}

/// `an HTML page titled "…"` when an answer is an HTML page (by content type or first bytes).
fn html_page(headers: &[(String, String)], body: &str) -> Option<String> {
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str());
    if !html::is_html(content_type, body) {
        return None;
    }
    Some(match html::title(body).map(|t| redact(&t)) {
        Some(x) => format!("an HTML page titled \"{x}\""),
        None => "an HTML page".to_string(),
    })
}

/// What the endpoint's surface asks of the scope: a Foundry project only `https://ai.azure.com`,
/// resource-level paths the cloud's Cognitive Services audience (and, in the public cloud,
/// `https://ai.azure.com`); see [`Surface::acceptance`].
#[derive(Debug, Clone)]
pub struct ScopeRule {
    pub surface: Surface,
    pub cloud: Cloud,
}

impl ScopeRule {
    /// The classic resource root: what the doctor judged before surfaces existed.
    pub fn classic(cloud: Cloud) -> Self {
        ScopeRule {
            surface: Surface::ResourceRoot,
            cloud,
        }
    }
    /// The rule for the target's endpoint (the classic root when there is none, or its path
    /// is no surface: the endpoint check reports that).
    pub fn of_target(target: &crate::context::Target) -> Self {
        let surface = target
            .endpoint
            .as_ref()
            .and_then(Surface::of)
            .unwrap_or(Surface::ResourceRoot);
        ScopeRule {
            surface,
            cloud: target.cloud,
        }
    }
    fn preferred(&self) -> String {
        self.surface.default_scope(self.cloud)
    }
    /// Why a scope the surface accepts is still unverified there, for the evidence.
    pub fn note(&self, scope: &str) -> Option<&'static str> {
        match self.surface.acceptance(self.cloud, scope_resource(scope).as_str()) {
            Acceptance::Unverified(why) => Some(why),
            _ => None,
        }
    }
}

/// `https://ai.azure.com/.default` → `https://ai.azure.com`.
fn scope_resource(scope: &str) -> String {
    let lower = scope.trim().to_ascii_lowercase();
    lower.trim_end_matches("/.default").trim_end_matches('/').to_string()
}

/// A scope the endpoint's surface does not take, explained even when Entra grants it.
pub fn scope_findings(scope: &str, rule: &ScopeRule) -> Vec<Finding> {
    let base = scope_resource(scope);
    let default_form = scope.trim().to_ascii_lowercase().ends_with("/.default");
    if rule.surface.acceptance(rule.cloud, &base) != Acceptance::Refused {
        if default_form {
            return vec![];
        }
        let expected = format!("{base}/.default");
        return vec![
            Finding::error(
                &codes::TOKEN_SCOPE_NOT_DEFAULT,
                format!(
                    "The scope `{scope}` lacks /.default; Entra rejects it or issues a token for the wrong permission."
                ),
            )
            .fix(format!("Ask for `{expected}`."))
            .command(format!("aoai-doctor --scope {expected}")),
        ];
    }
    let expected = rule.preferred();
    if rule.surface.is_project() && base.starts_with("https://cognitiveservices.azure.") {
        return vec![project_scope_finding(scope, &rule.surface, &expected)];
    }
    let what = if base.contains("management.") {
        "Azure Resource Manager"
    } else if base.contains(".openai.azure.") || base.contains("openai.azure.com") {
        "the endpoint / openai.azure.com, which is not a token audience"
    } else {
        "another resource"
    };
    vec![
        Finding::error(
            &codes::TOKEN_SCOPE_WRONG_RESOURCE,
            format!(
                "The scope `{scope}` is for {what}: its token has the wrong audience, and Azure OpenAI answers 401."
            ),
        )
        .fix(format!(
            "Request `{expected}` (in Python: get_bearer_token_provider(credential, \"{expected}\"))."
        ))
        .command(format!("aoai-doctor --scope {expected}")),
    ]
}

/// The old Cognitive Services scope sent to a Foundry project endpoint.
fn project_scope_finding(scope: &str, surface: &Surface, expected: &str) -> Finding {
    Finding::error(
        &codes::TOKEN_SCOPE_WRONG_RESOURCE,
        format!(
            "The scope `{scope}` is Cognitive Services', but the endpoint is a {} which accepts only tokens for {AI_AZURE}: it answers 401.",
            surface.describe()
        ),
    )
    .fix(format!(
        "Request `{expected}`. azure-ai-projects 1.x and 2.0.0b2 requested the old scope: upgrade to azure-ai-projects >= 2.0.0b3 and use \
         project.get_openai_client(), or pass get_bearer_token_provider(credential, \"{expected}\") to the OpenAI client."
    ))
    .command(format!("aoai-doctor --scope {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(kind: &str, name: &str) -> CredentialFacts {
        let link = [
            Link::Environment,
            Link::WorkloadIdentity,
            Link::ManagedIdentity,
            Link::AzureCli,
        ]
        .into_iter()
        .find(|l| l.id() == kind)
        .expect("a link id");
        CredentialFacts {
            link,
            name: name.into(),
            config: crate::facts::CredentialConfig::NotExamined,
            detail: json!({}),
            prefetched: None,
        }
    }
    const SCOPE: &str = "https://cognitiveservices.azure.com/.default";

    #[test]
    fn entra_failures_are_named_by_aadsts_number() {
        let body = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '00000000-0000-0000-0000-000000000001'.","error_codes":[7000215],"trace_id":"t","correlation_id":"c"}"#;
        let failure = AcquireFailure::Http {
            status: 401,
            headers: vec![],
            body: body.into(),
        };
        let (j, token) = judge(
            &cred("environment", "EnvironmentCredential"),
            Err(failure),
            SCOPE,
            &ScopeRule::classic(Cloud::AzureCloud),
            0,
        );
        assert!(token.is_none());
        assert_eq!(j.status, Status::Fail);
        assert_eq!(j.findings[0].code.id, "aadsts-7000215");
        assert!(j.findings[0].message.contains("stops at EnvironmentCredential"));
        // The same code with another status is still the same finding.
        let failure = AcquireFailure::Http {
            status: 400,
            headers: vec![],
            body: body.into(),
        };
        let (j, _) = judge(
            &cred("environment", "EnvironmentCredential"),
            Err(failure),
            SCOPE,
            &ScopeRule::classic(Cloud::AzureCloud),
            0,
        );
        assert_eq!(j.findings[0].code.id, "aadsts-7000215");
    }

    fn classic() -> ScopeRule {
        ScopeRule::classic(Cloud::AzureCloud)
    }

    #[test]
    fn scopes_follow_the_surface() {
        let rule = |surface| ScopeRule {
            surface,
            cloud: Cloud::AzureCloud,
        };
        let ai = "https://ai.azure.com/.default";
        let project = rule(Surface::Project { project: "p".into() });
        // Today's documented scope passes everywhere in the public cloud.
        for r in [&classic(), &rule(Surface::V1), &project] {
            assert!(scope_findings(ai, r).is_empty());
        }
        assert!(classic().note(ai).unwrap().starts_with("unverified"));
        assert_eq!(rule(Surface::V1).note(ai), None);
        // The old scope on a project endpoint fails, with the SDK versions that used it.
        let f = &scope_findings(SCOPE, &project)[0];
        assert_eq!(f.code.id, "token-scope-wrong-resource");
        assert!(f.remediation.text.contains("2.0.0b2"), "{}", f.remediation.text);
        assert_eq!(
            f.remediation.commands,
            ["aoai-doctor --scope https://ai.azure.com/.default"]
        );
        // Sovereign clouds: only their own audience is documented; ai.azure.com is not failed.
        let gov = ScopeRule {
            surface: Surface::V1,
            cloud: Cloud::AzureUsGovernment,
        };
        assert!(scope_findings("https://cognitiveservices.azure.us/.default", &gov).is_empty());
        assert!(scope_findings(ai, &gov).is_empty() && gov.note(ai).is_some());
        assert_eq!(
            scope_findings("https://ai.azure.com", &classic())[0].code.id,
            "token-scope-not-default"
        );
    }

    #[test]
    fn scopes() {
        assert!(scope_findings(SCOPE, &classic()).is_empty());
        assert_eq!(
            scope_findings("https://cognitiveservices.azure.com", &classic())[0]
                .code
                .id,
            "token-scope-not-default"
        );
        assert_eq!(
            scope_findings("https://management.azure.com/.default", &classic())[0]
                .code
                .id,
            "token-scope-wrong-resource"
        );
        assert_eq!(
            scope_findings("https://contoso.openai.azure.com/.default", &classic())[0]
                .code
                .id,
            "token-scope-wrong-resource"
        );
    }

    #[test]
    fn timeouts_are_errors_and_html_is_not_a_token() {
        let (j, _) = judge(
            &cred("managed-identity", "ManagedIdentityCredential"),
            Err(AcquireFailure::TimedOut(std::time::Duration::from_secs(1))),
            SCOPE,
            &ScopeRule::classic(Cloud::AzureCloud),
            0,
        );
        assert_eq!(j.status, Status::Error);
        let (j, _) = judge(
            &cred("environment", "EnvironmentCredential"),
            Err(AcquireFailure::NotAToken {
                status: 200,
                body_excerpt: "<html>".into(),
            }),
            SCOPE,
            &ScopeRule::classic(Cloud::AzureCloud),
            0,
        );
        assert_eq!(j.findings[0].code.id, "token-not-a-token");
    }

    #[test]
    fn imds_identity_not_found() {
        let body = r#"{"error":"invalid_request","error_description":"Identity not found"}"#;
        let failure = AcquireFailure::Http {
            status: 400,
            headers: vec![],
            body: body.into(),
        };
        let (j, _) = judge(
            &cred("managed-identity", "ManagedIdentityCredential"),
            Err(failure),
            SCOPE,
            &ScopeRule::classic(Cloud::AzureCloud),
            0,
        );
        assert_eq!(j.findings[0].code.id, "token-mi-identity-not-found");
    }
}
