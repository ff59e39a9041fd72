//! Azure OpenAI data-plane responses: status + body shape + headers, never status alone.
//!
//! Facts this encodes (see `fixtures/corpus/aoai-dataplane.json`):
//! a missing (or still propagating) role answers **401** `PermissionDenied`; **403** means key
//! auth disabled or a network rule; a token from another tenant gets **400** with a whole
//! sentence as `code`; a missing api-version answers 404; bodies come as
//! `{"error":{code,message}}`, `{"statusCode",message}` or bare `{code,message}`.

use super::common::{self, BodyShape, ParsedBody, add_basic_evidence, collect_ids, header};
use super::jwt::{ClaimProblem, Claims, JwtError};
use super::rbac::{is_guid, roles};
use super::{Diagnosis, Explanation, ROLE_AZURE_AI_USER, ROLE_OPENAI_USER};
use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

/// Why a request that got past authentication was still refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum AuthPassedReason {
    /// e.g. `max_tokens` sent to a reasoning model (it wants `max_completion_tokens`).
    UnsupportedParameter { parameter: Option<String> },
    /// The prompt or completion was filtered.
    ContentFilter,
}

/// What the response means, more finely than [`Diagnosis`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DataPlaneKind {
    Ok,
    /// Authentication and authorisation passed; the request itself was refused.
    AuthPassed(AuthPassedReason),
    /// The generic 401 "Access token is missing, invalid, audience is incorrect … or have
    /// expired": decode the token ([`explain_token_rejection`]) to say which.
    TokenRejected {
        audience_expected: Option<String>,
    },
    /// "Access denied due to invalid subscription key or wrong API endpoint": an API key was
    /// sent (and rejected); nothing here is about Entra.
    ApiKeyRejected,
    RoleMissing {
        principal_id: Option<String>,
        data_action: Option<String>,
        operation: Option<String>,
    },
    WrongTenant {
        token_tenant: Option<String>,
    },
    KeyAuthDisabled,
    NetworkBlocked {
        policy_id: Option<String>,
    },
    DeploymentNotFound,
    BadPathOrApiVersion,
    /// An Entra token sent to a regional endpoint (`<region>.api.cognitive.microsoft.com`).
    RegionalEndpoint,
    RateLimited {
        retry_after_header_secs: Option<u64>,
        retry_after_message_secs: Option<u64>,
    },
    /// Something other than Azure OpenAI answered (an HTML page from a proxy or portal).
    NotAzureOpenAi,
    ServerError,
    Unrecognized,
}

/// The verdict on one data-plane response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataPlaneVerdict {
    pub kind: DataPlaneKind,
    pub explanation: Explanation,
}

impl DataPlaneVerdict {
    pub fn diagnosis(&self) -> Diagnosis {
        self.explanation.diagnosis
    }
}

static DATA_ACTION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)principal\s+[`'\x22]?([^\s`'\x22]+)[`'\x22]?\s+lacks the required data action\s+[`'\x22]?([^\s`'\x22]+)[`'\x22]?(?:\s+to perform\s+[`'\x22]?(.+?)[`'\x22]?\s+operation)?",
    )
    .unwrap()
});
static TOKEN_TENANT_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)Token tenant\s+([^\s]+)\s+does not match resource tenant").unwrap());
static AUDIENCE_HINT_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)audience is incorrect \(([^)]+)\)").unwrap());
static RETRY_MSG_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:retry after|try again in|retry in)\s+(\d{1,12})\s*(?:seconds?|secs?|s)\b").unwrap()
});
static PARAM_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)unsupported parameter:?\s*['"`]?([A-Za-z_]+)['"`]?"#).unwrap());

fn lc(s: &Option<String>) -> String {
    s.as_deref().unwrap_or("").to_ascii_lowercase()
}

fn is_rate_limit_text(m: &str) -> bool {
    m.contains("rate limit is exceeded")
        || m.contains("exceeded token rate limit")
        || m.contains("exceeded call rate limit")
        || m.contains("exceeded the token rate limit")
        || m.contains("ratelimitreached")
}

/// Retry-After in seconds from `retry-after` (seconds) or `retry-after-ms`.
pub fn retry_after_from_headers(headers: &[(String, String)]) -> Option<u64> {
    if let Some(v) = header(headers, "retry-after")
        && let Ok(n) = v.parse::<u64>()
    {
        return Some(n);
    }
    header(headers, "retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| (ms / 1000.0).ceil() as u64)
}

/// "retry after N seconds" / "Try again in N seconds" in a message.
pub fn retry_after_from_message(text: &str) -> Option<u64> {
    RETRY_MSG_RE.captures(text).and_then(|c| c[1].parse().ok())
}

/// Classifies one data-plane response.
pub fn classify_response(status: u16, headers: &[(String, String)], body: &str) -> DataPlaneVerdict {
    classify_parts(Some(status), headers, body).unwrap_or_else(|| {
        let p = common::parse_body(body);
        let mut ex = if (500..600).contains(&status) {
            verdict_explanation(&DataPlaneKind::ServerError, status)
        } else {
            Explanation::unknown(format!(
                "Azure OpenAI answered HTTP {status} with a body the doctor does not recognise."
            ))
        };
        add_basic_evidence(&mut ex, Some(status), &p);
        collect_ids(&mut ex, headers, body, p.json.as_ref());
        let kind = if (500..600).contains(&status) {
            DataPlaneKind::ServerError
        } else {
            DataPlaneKind::Unrecognized
        };
        DataPlaneVerdict { kind, explanation: ex }
    })
}

/// Recognises a data-plane response by its body/headers (and status when known).
/// `None` when nothing identifies it (the caller decides what "unrecognised" means).
pub(crate) fn classify_parts(
    status: Option<u16>,
    headers: &[(String, String)],
    body: &str,
) -> Option<DataPlaneVerdict> {
    let p = common::parse_body(body);
    let kind = recognise(status, headers, body, &p)?;
    let mut ex = verdict_explanation(&kind, status.unwrap_or(0));
    add_basic_evidence(&mut ex, status, &p);
    collect_ids(&mut ex, headers, body, p.json.as_ref());
    for (h, key) in [("x-ms-region", "region"), ("x-ms-deployment-name", "deployment")] {
        if let Some(v) = header(headers, h)
            && !v.eq_ignore_ascii_case("redacted")
        {
            ex.add_evidence(key, v.to_string());
        }
    }
    add_kind_evidence(&mut ex, &kind);
    Some(DataPlaneVerdict { kind, explanation: ex })
}

fn recognise(status: Option<u16>, headers: &[(String, String)], body: &str, p: &ParsedBody) -> Option<DataPlaneKind> {
    let code = p.code.clone().unwrap_or_default();
    let code_lc = code.to_ascii_lowercase();
    let msg = lc(&p.message);
    // For non-JSON bodies the whole text is the message.
    let text_lc = if matches!(p.shape, BodyShape::Text) {
        body.to_ascii_lowercase()
    } else {
        msg.clone()
    };
    let both = format!("{code_lc} {text_lc}");
    let st = status.unwrap_or(0);

    if (200..300).contains(&st) {
        return Some(if p.shape == BodyShape::Html {
            DataPlaneKind::NotAzureOpenAi
        } else {
            DataPlaneKind::Ok
        });
    }
    if st == 429 || code_lc == "429" || is_rate_limit_text(&both) {
        return Some(DataPlaneKind::RateLimited {
            retry_after_header_secs: retry_after_from_headers(headers),
            retry_after_message_secs: retry_after_from_message(p.message.as_deref().unwrap_or(body)),
        });
    }
    if both.contains("does not match resource tenant") || both.contains("tenant provided in token does not match") {
        let src = p.message.as_deref().unwrap_or(body);
        let token_tenant = TOKEN_TENANT_RE
            .captures(src)
            .or_else(|| TOKEN_TENANT_RE.captures(&code))
            .map(|c| c[1].trim_end_matches('.').to_string());
        return Some(DataPlaneKind::WrongTenant { token_tenant });
    }
    if code_lc == "permissiondenied"
        || both.contains("lacks the required data action")
        || both.contains("principal does not have access to api/operation")
    {
        let src = p.message.as_deref().unwrap_or(body);
        let caps = DATA_ACTION_RE.captures(src);
        return Some(DataPlaneKind::RoleMissing {
            principal_id: caps.as_ref().map(|c| c[1].to_string()),
            data_action: caps.as_ref().map(|c| c[2].trim_end_matches('.').to_string()),
            operation: caps.as_ref().and_then(|c| c.get(3)).map(|m| m.as_str().to_string()),
        });
    }
    if both.contains("access token is missing, invalid") || both.contains("audience is incorrect") {
        let audience_expected = AUDIENCE_HINT_RE
            .captures(p.message.as_deref().unwrap_or(body))
            .map(|c| c[1].to_string());
        return Some(DataPlaneKind::TokenRejected { audience_expected });
    }
    if both.contains("invalid subscription key or wrong api endpoint") {
        return Some(DataPlaneKind::ApiKeyRejected);
    }
    if code_lc == "authenticationtypedisabled" || both.contains("key based authentication is disabled") {
        return Some(DataPlaneKind::KeyAuthDisabled);
    }
    let policy_id = header(headers, "policy-id").map(str::to_string);
    if both.contains("public access is disabled")
        || both.contains("virtual network is configured")
        || both.contains("virtual network/firewall rules")
        || both.contains("approved private endpoint")
        || (st == 403 && policy_id.is_some())
    {
        return Some(DataPlaneKind::NetworkBlocked { policy_id });
    }
    if code_lc == "deploymentnotfound" || both.contains("api deployment for this resource does not exist") {
        return Some(DataPlaneKind::DeploymentNotFound);
    }
    if code_lc == "unsupported_parameter"
        || both.contains("unsupported parameter")
        || (both.contains("max_tokens") && both.contains("max_completion_tokens"))
    {
        let parameter = PARAM_RE
            .captures(p.message.as_deref().unwrap_or(body))
            .map(|c| c[1].to_string())
            .or_else(|| both.contains("max_tokens").then(|| "max_tokens".to_string()));
        return Some(DataPlaneKind::AuthPassed(AuthPassedReason::UnsupportedParameter {
            parameter,
        }));
    }
    if code_lc == "content_filter"
        || p.inner_code
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("ResponsibleAIPolicyViolation"))
    {
        return Some(DataPlaneKind::AuthPassed(AuthPassedReason::ContentFilter));
    }
    if both.contains("please provide an authentication key") {
        return Some(DataPlaneKind::RegionalEndpoint);
    }
    if both.contains("api version not supported")
        || both.contains("enabled only for api versions")
        || both.contains("unsupported api version")
        || (both.contains("api-version") && (both.contains("not supported") || both.contains("invalid")))
        || both.contains("resource not found")
    {
        return Some(DataPlaneKind::BadPathOrApiVersion);
    }
    if st == 404 && matches!(p.shape, BodyShape::Empty | BodyShape::Html) {
        return Some(DataPlaneKind::BadPathOrApiVersion);
    }
    None
}

fn role_for_action(action: Option<&str>) -> (&'static str, &'static str) {
    match action {
        Some(a) if a.contains("/AIServices/") || a.contains("/agents/") => {
            (roles::AZURE_AI_USER_NAME, ROLE_AZURE_AI_USER)
        }
        _ => (roles::OPENAI_USER_NAME, ROLE_OPENAI_USER),
    }
}

fn verdict_explanation(kind: &DataPlaneKind, status: u16) -> Explanation {
    use DataPlaneKind as K;
    match kind {
        K::Ok => Explanation::new(Diagnosis::Ok, "Azure OpenAI accepted the call.", "Nothing to fix."),
        K::AuthPassed(AuthPassedReason::UnsupportedParameter { parameter }) => Explanation::new(
            Diagnosis::Ok,
            format!(
                "Authentication and authorisation passed; the model rejected the request parameter {}.",
                parameter.as_deref().unwrap_or("(unnamed)")
            ),
            "Nothing to fix for access. Reasoning models want `max_completion_tokens` instead of `max_tokens`.",
        ),
        K::AuthPassed(AuthPassedReason::ContentFilter) => Explanation::new(
            Diagnosis::Ok,
            "Authentication and authorisation passed; the content filter refused this prompt.",
            "Nothing to fix for access; use an innocuous probe prompt.",
        ),
        K::TokenRejected { .. } => Explanation::new(
            Diagnosis::TokenExpired,
            "Azure OpenAI rejected the bearer token as missing, malformed, for the wrong audience or expired; the body alone cannot tell which.",
            "Decode the token you sent (the doctor checks `exp` and `aud`): get a fresh one for \
             https://cognitiveservices.azure.com/.default. If an API key is being sent as \
             `Authorization: Bearer`, send a Microsoft Entra token instead.",
        )
        .with_commands([
            "az account get-access-token --scope https://cognitiveservices.azure.com/.default --query expiresOn -o tsv",
        ]),
        K::ApiKeyRejected => Explanation::new(
            Diagnosis::Unknown,
            "An API key was sent and rejected (invalid key or wrong endpoint); this is key authentication, not Microsoft Entra.",
            "For keyless access remove the `api-key` header / AZURE_OPENAI_API_KEY so the client \
             sends a Microsoft Entra token; otherwise use a current key of this resource and its own endpoint.",
        ),
        K::RoleMissing { principal_id, data_action, .. } => {
            let (role_name, role_id) = role_for_action(data_action.as_deref());
            let oid = principal_id.as_deref().filter(|p| is_guid(p)).unwrap_or("<principal-object-id>");
            Explanation::new(
                Diagnosis::RoleMissingOrPropagating,
                "The token was accepted but the principal holds no role granting this data action on the resource (or a new assignment has not propagated yet).",
                format!(
                    "Assign \"{role_name}\" ({role_id}) to the principal on the Azure OpenAI account \
                     (Owner/Contributor grant no data actions). A new assignment can take up to \
                     10 minutes to apply; then get a fresh token."
                ),
            )
            .with_commands([
                format!("az role assignment list --assignee {oid} --scope <resource-id> --include-inherited --include-groups -o table"),
                format!("az role assignment create --assignee-object-id {oid} --assignee-principal-type <User|ServicePrincipal> --role {role_id} --scope <resource-id>"),
            ])
        }
        K::WrongTenant { .. } => Explanation::new(
            Diagnosis::WrongTenant,
            "The token was issued by a different tenant than the one that owns the Azure OpenAI resource.",
            "Get the token from the resource's tenant (e.g. `az login --tenant`, AZURE_TENANT_ID, \
             or the credential's tenant option).",
        )
        .with_commands([
            "az account show --subscription <subscription-id> --query tenantId -o tsv",
            "az login --tenant <resource-tenant-id> --scope https://cognitiveservices.azure.com/.default",
        ]),
        K::KeyAuthDisabled => Explanation::new(
            Diagnosis::KeyAuthDisabled,
            "An API key was sent but key authentication is disabled on this resource (disableLocalAuth).",
            "Stop sending the key (remove AZURE_OPENAI_API_KEY / the `api-key` header) and authenticate \
             with Microsoft Entra ID (DefaultAzureCredential / managed identity).",
        )
        .with_commands([
            "az cognitiveservices account show --name <account> --resource-group <resource-group> --query properties.disableLocalAuth",
        ]),
        K::NetworkBlocked { .. } => Explanation::new(
            Diagnosis::NetworkBlocked,
            "A network rule of the resource blocks this client (firewall, VNet, or public access disabled).",
            "Call from an allowed network: through the private endpoint (check that DNS resolves the \
             custom subdomain to the private IP), or add this client's IP to the resource's network rules.",
        )
        .with_commands([
            "az cognitiveservices account show --name <account> --resource-group <resource-group> --query \"{public:properties.publicNetworkAccess, acls:properties.networkAcls}\"",
            "az cognitiveservices account network-rule add --name <account> --resource-group <resource-group> --ip-address <your-public-ip>",
        ]),
        K::DeploymentNotFound => Explanation::new(
            Diagnosis::DeploymentNotFound,
            "The deployment named in the URL does not exist on this resource.",
            "Use the deployment NAME (not the model name) exactly as listed; waiting rarely helps.",
        )
        .with_commands([
            "az cognitiveservices account deployment list --name <account> --resource-group <resource-group> --query \"[].{name:name, model:properties.model.name}\" -o table",
        ]),
        K::BadPathOrApiVersion => Explanation::new(
            Diagnosis::BadApiVersionOrPath,
            "The URL path or the api-version is wrong (or the model needs a newer api-version).",
            "Use https://<name>.openai.azure.com/openai/deployments/<deployment>/chat/completions?api-version=<version> \
             with a supported api-version passed as a quoted string (e.g. \"2024-10-21\"), or the \
             /openai/v1/ path; newer models need newer api-versions.",
        ),
        K::RegionalEndpoint => Explanation::new(
            Diagnosis::BadApiVersionOrPath,
            "A Microsoft Entra token was sent to a regional endpoint, which only accepts keys.",
            "Use the resource's custom-subdomain endpoint (https://<name>.openai.azure.com or \
             https://<name>.cognitiveservices.azure.com); regional endpoints don't support Microsoft Entra authentication.",
        )
        .with_commands([
            "az cognitiveservices account show --name <account> --resource-group <resource-group> --query properties.endpoint -o tsv",
        ]),
        K::RateLimited { .. } => Explanation::new(
            Diagnosis::RateLimited,
            "The request was throttled (rate limit / quota of the deployment); access itself works.",
            "Wait and retry (honour Retry-After, capped), lower the request rate, or raise the \
             deployment's tokens-per-minute quota.",
        ),
        K::NotAzureOpenAi => Explanation::new(
            Diagnosis::NetworkBlocked,
            "Something other than Azure OpenAI answered (an HTML page: a proxy, captive portal or firewall).",
            "Check HTTPS_PROXY/NO_PROXY and that the endpoint host resolves to the Azure OpenAI resource.",
        ),
        K::ServerError => Explanation::unknown(format!(
            "Azure OpenAI answered HTTP {status}: a service-side error, not an access problem the doctor can name."
        )),
        K::Unrecognized => Explanation::unknown("The data-plane response was not recognised."),
    }
}

fn add_kind_evidence(ex: &mut Explanation, kind: &DataPlaneKind) {
    match kind {
        DataPlaneKind::RoleMissing {
            principal_id,
            data_action,
            operation,
        } => {
            if let Some(p) = principal_id {
                ex.add_evidence("principal_id", p.clone());
            }
            if let Some(a) = data_action {
                ex.add_evidence("data_action", a.clone());
            }
            if let Some(o) = operation {
                ex.add_evidence("operation", o.clone());
            }
        }
        DataPlaneKind::WrongTenant { token_tenant: Some(t) } => ex.add_evidence("token_tenant", t.clone()),
        DataPlaneKind::NetworkBlocked { policy_id: Some(p) } => ex.add_evidence("policy-id", p.clone()),
        DataPlaneKind::TokenRejected {
            audience_expected: Some(a),
        } => ex.add_evidence("audience_expected", a.clone()),
        DataPlaneKind::RateLimited {
            retry_after_header_secs,
            retry_after_message_secs,
        } => {
            if let Some(s) = retry_after_header_secs {
                ex.add_evidence("retry_after_seconds", *s);
            }
            if let Some(s) = retry_after_message_secs {
                ex.add_evidence("retry_after_seconds_from_message", *s);
            }
        }
        DataPlaneKind::AuthPassed(AuthPassedReason::UnsupportedParameter { parameter: Some(p) }) => {
            ex.add_evidence("unsupported_parameter", p.clone());
        }
        _ => {}
    }
}

/// Turns a [`DataPlaneKind::TokenRejected`] into a precise diagnosis using the token the
/// caller sent: decoded claims and [`super::jwt::judge_claims`] problems, or the decode error.
pub fn explain_token_rejection(decoded: Result<&Claims, &JwtError>, problems: &[ClaimProblem]) -> Explanation {
    match decoded {
        Err(JwtError::LooksLikeApiKey) | Err(JwtError::NotAJwt { .. }) => Explanation::new(
            Diagnosis::Unknown,
            "The bearer value is not a Microsoft Entra token (it looks like an API key or an opaque string).",
            "Send an API key in the `api-key` header, or (keyless) a Microsoft Entra token for \
             https://cognitiveservices.azure.com/.default as `Authorization: Bearer`.",
        ),
        Err(e) => Explanation::unknown(format!("The bearer token could not be read: {e}.")),
        Ok(claims) => {
            const ORDER: [fn(&ClaimProblem) -> bool; 4] = [
                |p| matches!(p, ClaimProblem::WrongAudience { .. }),
                |p| matches!(p, ClaimProblem::Expired { .. } | ClaimProblem::MissingExp),
                |p| matches!(p, ClaimProblem::NotYetValid { .. } | ClaimProblem::ClockSkew { .. }),
                |p| matches!(p, ClaimProblem::WrongTenant { .. }),
            ];
            let first = ORDER.iter().find_map(|f| problems.iter().find(|p| f(p)));
            match first {
                Some(p) => {
                    let mut ex = Explanation::new(
                        p.diagnosis(),
                        p.describe(),
                        "Get a fresh token for https://cognitiveservices.azure.com/.default from the resource's tenant.",
                    )
                    .with_commands([
                        "az account get-access-token --scope https://cognitiveservices.azure.com/.default --query expiresOn -o tsv",
                    ]);
                    let all: Vec<String> = problems.iter().map(ClaimProblem::describe).collect();
                    ex = ex.with_detail(all.join(" "));
                    ex.add_evidence("principal", claims.principal_summary());
                    ex
                }
                None => Explanation::unknown(
                    "The token looks right (audience, expiry, tenant) yet was rejected: check the endpoint is the resource's custom subdomain.",
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn permission_denied_with_backticks_extracts_principal_and_action() {
        let body = r#"{"error":{"code":"PermissionDenied","message":"The principal `0b5fe924-9a61-425c-96af-cfe6e287ca2d` lacks the required data action `Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action` to perform `POST /openai/deployments/{deployment-id}/chat/completions` operation."}}"#;
        let v = classify_response(401, &h(&[("apim-request-id", "abc-1")]), body);
        assert_eq!(v.diagnosis(), Diagnosis::RoleMissingOrPropagating);
        let e = &v.explanation.evidence;
        assert_eq!(e["principal_id"], "0b5fe924-9a61-425c-96af-cfe6e287ca2d");
        assert_eq!(
            e["data_action"],
            "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
        );
        assert_eq!(
            e["operation"],
            "POST /openai/deployments/{deployment-id}/chat/completions"
        );
        assert_eq!(e["apim-request-id"], "abc-1");
        assert!(
            v.explanation
                .commands
                .iter()
                .any(|c| c.contains("0b5fe924-9a61-425c-96af-cfe6e287ca2d") && c.contains(ROLE_OPENAI_USER))
        );
    }

    #[test]
    fn tenant_sentence_as_code() {
        let body = r#"{"error":{"code":"Tenant provided in token does not match resource token","message":"Token tenant 33e01921-4d64-4f8c-a055-5bdaffd5e33d does not match resource tenant."}}"#;
        let v = classify_response(400, &[], body);
        assert_eq!(v.diagnosis(), Diagnosis::WrongTenant);
        assert_eq!(
            v.explanation.evidence["token_tenant"],
            "33e01921-4d64-4f8c-a055-5bdaffd5e33d"
        );
    }

    #[test]
    fn rate_limit_reports_both_retry_values() {
        let v = classify_response(
            429,
            &h(&[("Retry-After", "30")]),
            r#"{"error":{"code":"429","message":"Requests ... Please retry after 86400 seconds."}}"#,
        );
        assert_eq!(
            v.kind,
            DataPlaneKind::RateLimited {
                retry_after_header_secs: Some(30),
                retry_after_message_secs: Some(86400)
            }
        );
        assert_eq!(v.explanation.evidence["retry_after_seconds"], 30);
        let v = classify_response(429, &h(&[("retry-after-ms", "1500")]), "");
        assert_eq!(
            v.kind,
            DataPlaneKind::RateLimited {
                retry_after_header_secs: Some(2),
                retry_after_message_secs: None
            }
        );
    }

    #[test]
    fn unsupported_max_tokens_means_auth_passed() {
        let body = r#"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#;
        let v = classify_response(400, &[], body);
        assert_eq!(
            v.kind,
            DataPlaneKind::AuthPassed(AuthPassedReason::UnsupportedParameter {
                parameter: Some("max_tokens".into())
            })
        );
        assert_eq!(v.diagnosis(), Diagnosis::Ok);
    }

    #[test]
    fn status_alone_is_not_enough() {
        // A 403 with an unknown body and no policy-id is not guessed to be a network rule.
        assert_eq!(
            classify_response(403, &[], r#"{"error":{"code":"Other","message":"x"}}"#).diagnosis(),
            Diagnosis::Unknown
        );
        assert_eq!(classify_response(401, &[], "").diagnosis(), Diagnosis::Unknown);
        assert_eq!(classify_response(400, &[], "").diagnosis(), Diagnosis::Unknown);
        // …but 403 + policy-id is.
        assert_eq!(
            classify_response(403, &h(&[("policy-id", "x")]), "").diagnosis(),
            Diagnosis::NetworkBlocked
        );
        assert_eq!(
            classify_response(404, &[], "").diagnosis(),
            Diagnosis::BadApiVersionOrPath
        );
        assert_eq!(classify_response(503, &[], "oops").kind, DataPlaneKind::ServerError);
    }

    #[test]
    fn token_rejection_refined_by_claims() {
        use crate::diagnose::jwt::{ClaimExpectations, judge_claims};
        let claims = Claims {
            aud: Some(crate::diagnose::jwt::Audience::One("https://ai.azure.com".into())),
            exp: Some(10),
            ..Default::default()
        };
        let problems = judge_claims(&claims, 100, &ClaimExpectations::azure_openai());
        let ex = explain_token_rejection(Ok(&claims), &problems);
        assert_eq!(ex.diagnosis, Diagnosis::WrongScopeOrAudience);
        let claims = Claims {
            aud: Some(crate::diagnose::jwt::Audience::One(
                "https://cognitiveservices.azure.com".into(),
            )),
            exp: Some(10),
            ..Default::default()
        };
        let problems = judge_claims(&claims, 100, &ClaimExpectations::azure_openai());
        assert_eq!(
            explain_token_rejection(Ok(&claims), &problems).diagnosis,
            Diagnosis::TokenExpired
        );
        assert_eq!(
            explain_token_rejection(Err(&JwtError::LooksLikeApiKey), &[]).diagnosis,
            Diagnosis::Unknown
        );
    }
}
