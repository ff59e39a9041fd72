//! Azure OpenAI data-plane responses: status + body shape + headers, never status alone.
//!
//! Facts this encodes (see `fixtures/corpus/aoai-dataplane.json`):
//! a missing (or still propagating) role answers **401** `PermissionDenied`; **403** means key
//! auth disabled or a network rule; a token from another tenant gets **400** with a whole
//! sentence as `code`; a missing api-version answers 404; bodies come as
//! `{"error":{code,message}}`, `{"statusCode",message}` or bare `{code,message}`.

use super::common::{self, BodyShape, ParsedBody, add_basic_evidence, collect_ids, header};
use super::data_actions::{self, OPENAI_USER};
use super::jwt::{ClaimProblem, Claims, JwtError};
use super::rbac::is_guid;
use super::{Diagnosis, Explanation};
use crate::codes;
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
    let mut ex = surface_explanation(&kind, body).unwrap_or_else(|| verdict_explanation(&kind, status.unwrap_or(0)));
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
    if ex.code.is_none() {
        ex.code = kind_code(&kind).map(|c| c.id);
    }
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
    if is_bad_path_text(&both) {
        return Some(DataPlaneKind::BadPathOrApiVersion);
    }
    if st == 404 && matches!(p.shape, BodyShape::Empty | BodyShape::Html) {
        return Some(DataPlaneKind::BadPathOrApiVersion);
    }
    None
}

/// The catalogue code of each kind (the probe's codes: a pasted response means what the probe's would).
fn kind_code(kind: &DataPlaneKind) -> Option<&'static codes::Code> {
    use DataPlaneKind as K;
    Some(match kind {
        K::Ok | K::ApiKeyRejected => return None,
        K::AuthPassed(_) => &codes::PROBE_AUTH_PASSED,
        K::TokenRejected { .. } => &codes::PROBE_TOKEN_REJECTED,
        K::RoleMissing { .. } => &codes::PROBE_PERMISSION_DENIED,
        K::WrongTenant { .. } => &codes::PROBE_WRONG_TENANT,
        K::KeyAuthDisabled => &codes::PROBE_KEY_AUTH_DISABLED,
        K::NetworkBlocked { .. } => &codes::PROBE_NETWORK_BLOCKED,
        K::DeploymentNotFound => &codes::PROBE_DEPLOYMENT_NOT_FOUND,
        K::BadPathOrApiVersion => &codes::PROBE_BAD_PATH,
        K::RegionalEndpoint => &codes::ENDPOINT_REGIONAL,
        K::RateLimited { .. } => &codes::PROBE_RATE_LIMITED,
        K::NotAzureOpenAi => &codes::PROBE_NOT_AZURE_OPENAI,
        K::ServerError => &codes::PROBE_SERVER_ERROR,
        K::Unrecognized => &codes::PROBE_UNRECOGNIZED,
    })
}

/// The 401 `PermissionDenied` advice: names the data action the body quotes and the smallest
/// built-in role that grants it (from [`data_actions`], the table `fix` shares).
fn role_missing(principal_id: Option<&str>, data_action: Option<&str>) -> Explanation {
    let oid = principal_id.filter(|p| is_guid(p)).unwrap_or("<principal-object-id>");
    let role = match data_action {
        Some(a) => data_actions::smallest_role_for(a),
        None => Some(&OPENAI_USER),
    };
    let summary = match data_action {
        Some(a) => format!("The token was accepted but the principal lacks the data action {a} on the resource (or a new assignment has not propagated yet)."),
        None => "The token was accepted but the principal holds no role granting this data action on the resource (or a new assignment has not propagated yet).".to_string(),
    };
    let Some(role) = role else {
        return Explanation::new(
            Diagnosis::RoleMissingOrPropagating,
            summary,
            "No built-in role the doctor knows grants this data action: ask the owner for a custom role that \
             includes it (Owner/Contributor grant no data actions).",
        )
        .with_code(&codes::PROBE_PERMISSION_DENIED);
    };
    let action_note = data_action
        .map(|a| format!(" — the smallest built-in role granting {a}; it {}", role.why))
        .unwrap_or_default();
    Explanation::new(
        Diagnosis::RoleMissingOrPropagating,
        summary,
        format!(
            "Assign \"{}\" ({}) to the principal on the account (or the project){action_note}. \
             Owner/Contributor grant no data actions. A new assignment can take up to 10 minutes to \
             apply; then get a fresh token.",
            role.display_name(),
            role.guid
        ),
    )
    .with_commands([
        format!("az role assignment list --assignee {oid} --scope <resource-id> --include-inherited --include-groups -o table"),
        format!("az role assignment create --assignee-object-id {oid} --assignee-principal-type <User|ServicePrincipal> --role {} --scope <resource-id>", role.guid),
    ])
    .with_code(&codes::PROBE_PERMISSION_DENIED)
    .with_evidence("smallest_role", role.name)
    .with_evidence("smallest_role_id", role.guid)
}

static V1_API_VERSION_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)api-version query parameter is not allowed|not allowed when using /v1|/v1 path").unwrap()
});

/// A wrong path or api-version, classic or v1 (`text_lc` is lower-cased code + message).
fn is_bad_path_text(text_lc: &str) -> bool {
    text_lc.contains("api version not supported")
        || text_lc.contains("enabled only for api versions")
        || text_lc.contains("unsupported api version")
        || (text_lc.contains("api-version") && (text_lc.contains("not supported") || text_lc.contains("invalid")))
        || text_lc.contains("resource not found")
        || is_api_version_on_v1(text_lc)
}

fn is_api_version_on_v1(text_lc: &str) -> bool {
    V1_API_VERSION_RE.is_match(text_lc)
}

/// What only today's surfaces (the v1 API, Foundry projects) explain: a 401 naming
/// `https://ai.azure.com` as the only audience, and a 400 about an api-version on `/openai/v1`.
/// `text` is everything pasted (a URL beside the body shows the /openai/v1 path).
fn surface_explanation(kind: &DataPlaneKind, text: &str) -> Option<Explanation> {
    match kind {
        DataPlaneKind::TokenRejected {
            audience_expected: Some(aud),
        } if aud.contains("ai.azure.com") && !aud.contains("cognitiveservices") => Some(project_audience()),
        DataPlaneKind::BadPathOrApiVersion
            if is_api_version_on_v1(text)
                || (text.to_ascii_lowercase().contains("api version not supported") && text.contains("/openai/v1")) =>
        {
            Some(api_version_on_v1())
        }
        _ => None,
    }
}

fn project_audience() -> Explanation {
    Explanation::new(
        Diagnosis::WrongScopeOrAudience,
        "The endpoint wants a token for https://ai.azure.com (a Microsoft Foundry project endpoint), and the token sent was not one.",
        "Request the token with the scope https://ai.azure.com/.default: a project endpoint \
         (https://<resource>.services.ai.azure.com/api/projects/<project>) accepts no other audience. \
         azure-ai-projects 1.x and 2.0.0b2 requested https://cognitiveservices.azure.com/.default: upgrade \
         to azure-ai-projects >= 2.0.0b3 and use project.get_openai_client(); with the plain OpenAI client \
         pass get_bearer_token_provider(credential, \"https://ai.azure.com/.default\").",
    )
    .with_commands(["az account get-access-token --scope https://ai.azure.com/.default --query expiresOn -o tsv"])
    .with_code(&codes::PROBE_PROJECT_AUDIENCE)
    .with_evidence("scope_needed", "https://ai.azure.com/.default")
}

fn api_version_on_v1() -> Explanation {
    Explanation::new(
        Diagnosis::BadApiVersionOrPath,
        "An api-version was sent to the /openai/v1 API, which takes none: an AzureOpenAI client or a dated api-version is pointed at /openai/v1.",
        "For https://<resource>.openai.azure.com/openai/v1/ use the plain OpenAI client (Python `OpenAI`, JS \
         `new OpenAI`) with base_url set to it and no api_version / OPENAI_API_VERSION; or keep AzureOpenAI \
         with azure_endpoint = the resource root (no /openai/v1) and a dated api-version.",
    )
    .with_code(&codes::PROBE_API_VERSION_ON_V1)
}

fn network_blocked() -> Explanation {
    Explanation::new(
        Diagnosis::NetworkBlocked,
        "A network rule of the resource blocks this client (firewall, VNet, or public access disabled).",
        "Call from an allowed network: through the private endpoint (check that DNS resolves the \
         custom subdomain to the private IP), or add this client's IP to the resource's network rules.",
    )
    .with_commands([
        "az cognitiveservices account show --name <account> --resource-group <resource-group> --query \"{public:properties.publicNetworkAccess, acls:properties.networkAcls}\"",
        "az cognitiveservices account network-rule add --name <account> --resource-group <resource-group> --ip-address <your-public-ip>",
    ])
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
        K::RoleMissing { principal_id, data_action, .. } => role_missing(principal_id.as_deref(), data_action.as_deref()),
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
        K::NetworkBlocked { .. } => network_blocked(),
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
             /openai/v1/ path; newer models need newer api-versions. On /openai/v1 send no api-version \
             at all (the plain OpenAI client, not AzureOpenAI).",
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
            // A raw literal: in a plain one, the closing quote after an r looks like a raw
            // string's start to simple line counters (such as the one that keeps functions short).
            ex.add_evidence(r"unsupported_parameter", p.clone());
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
                .any(|c| c.contains("0b5fe924-9a61-425c-96af-cfe6e287ca2d") && c.contains(OPENAI_USER.guid))
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

/// Today's surfaces: data-action 401s name their action and its smallest role; the project
/// audience 401; the v1 api-version 400s. Bodies as reported publicly (sources inline).
#[cfg(test)]
mod foundry_tests {
    use super::*;
    use crate::diagnose::explain;

    const FOUNDRY_USER_GUID: &str = "53ca6127-db72-4b80-b1b0-d745d6d5456d";

    fn denied(principal: &str, action: &str, op: &str, link: bool) -> String {
        let tail = if link {
            " For instructions on granting the necessary permissions, see https://aka.ms/FoundryPermissions."
        } else {
            ""
        };
        format!(
            r#"{{"error":{{"code":"PermissionDenied","message":"The principal `{principal}` lacks the required data action `{action}` to perform `{op}` operation.{tail}"}}}}"#
        )
    }

    #[test]
    fn a_named_data_action_gets_its_smallest_role() {
        for (action, op, role_guid, role_name) in [
            (
                "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
                "POST /openai/deployments/{deployment-id}/chat/completions",
                "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
                "Cognitive Services OpenAI User",
            ),
            (
                "Microsoft.CognitiveServices/accounts/OpenAI/responses/write",
                "POST /openai/v1/responses",
                "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
                "Cognitive Services OpenAI User",
            ),
            (
                "Microsoft.CognitiveServices/accounts/AIServices/agents/write",
                "POST /api/projects/{projectName}/openai/*",
                FOUNDRY_USER_GUID,
                "Foundry User",
            ),
            (
                "Microsoft.CognitiveServices/accounts/MaaS/chat/completions/action",
                "POST /models/chat/completions",
                FOUNDRY_USER_GUID,
                "Foundry User",
            ),
        ] {
            for link in [false, true] {
                let body = denied("238d16af-467a-4c66-8f07-2048c59b6c43", action, op, link);
                let v = classify_response(401, &[], &body);
                let ex = &v.explanation;
                assert_eq!(ex.diagnosis, Diagnosis::RoleMissingOrPropagating, "{body}");
                assert_eq!(ex.code, Some("probe-permission-denied"));
                assert!(ex.summary.contains(action), "{}", ex.summary);
                assert!(ex.fix.contains(role_guid) && ex.fix.contains(role_name), "{}", ex.fix);
                assert_eq!(ex.evidence["data_action"], action);
                assert_eq!(ex.evidence["smallest_role_id"], role_guid);
                assert!(
                    ex.commands
                        .iter()
                        .any(|c| c.contains(role_guid) && c.contains("238d16af-467a-4c66-8f07-2048c59b6c43"))
                );
            }
        }
    }

    #[test]
    fn data_action_401s_as_users_paste_them() {
        // https://github.com/microsoft/ai-agent-evals/issues/43 (azure-core rendering, no JSON).
        let py = "azure.core.exceptions.ClientAuthenticationError: (PermissionDenied) The principal `xxxxx` lacks the required data action `Microsoft.CognitiveServices/accounts/AIServices/agents/read` to perform `GET /api/projects/{projectName}/assistants/{assistantId}` operation. For instructions on granting the necessary permissions, see https://aka.ms/FoundryPermissions.";
        // https://github.com/microsoft-foundry/foundry-samples/issues/692 (openai-python rendering).
        let openai = "openai.AuthenticationError: Error code: 401 - {'error': {'code': 'PermissionDenied', 'message': 'The principal `238d16af-467a-4c66-8f07-2048c59b6c43` lacks the required data action `Microsoft.CognitiveServices/accounts/AIServices/agents/write` to perform `POST /api/projects/{projectName}/openai/*` operation. For instructions on granting the necessary permissions, see https://aka.ms/FoundryPermissions.'}}";
        // https://github.com/davrous/AzureAgentToM365/issues/3 (.NET, no backticks).
        let dotnet = "The principal XXXXXXXX lacks the required data action Microsoft.CognitiveServices/accounts/AIServices/agents/read to perform GET /api/projects/{projectName}/assistants/{assistantId} operation. For instructions on granting the necessary permissions, see https://aka.ms/FoundryPermissions. Status: 401 (PermissionDenied) ErrorCode: PermissionDenied";
        for t in [py, openai, dotnet] {
            let ex = explain(None, &[], t);
            assert_eq!(ex.code, Some("probe-permission-denied"), "{t}");
            assert!(ex.summary.contains("AIServices/agents/"), "{}", ex.summary);
            assert!(ex.fix.contains("Foundry User (formerly Azure AI User)"), "{}", ex.fix);
            assert!(ex.fix.contains(FOUNDRY_USER_GUID));
        }
    }

    #[test]
    fn an_action_no_builtin_role_grants_is_not_given_a_guess() {
        let body = denied(
            "u",
            "Microsoft.CognitiveServices/accounts/AIServices/agents/endpoints/UserIdentityImpersonation/action",
            "POST /x",
            false,
        );
        let ex = classify_response(401, &[], &body).explanation;
        assert_eq!(ex.code, Some("probe-permission-denied"));
        assert!(
            ex.fix.contains("custom role") && !ex.fix.contains(FOUNDRY_USER_GUID),
            "{}",
            ex.fix
        );
        assert!(ex.commands.is_empty());
    }

    #[test]
    fn the_project_audience_401_names_the_new_scope() {
        let body = r#"{"statusCode":401,"message":"Unauthorized. Access token is missing, invalid, audience is incorrect (https://ai.azure.com), or have expired."}"#;
        let ex = classify_response(401, &[], body).explanation;
        assert_eq!(ex.diagnosis, Diagnosis::WrongScopeOrAudience);
        assert_eq!(ex.code, Some("probe-project-audience"));
        assert!(
            ex.fix.contains("https://ai.azure.com/.default") && ex.fix.contains("2.0.0b2"),
            "{}",
            ex.fix
        );
        assert_eq!(ex.evidence["audience_expected"], "https://ai.azure.com");
        // Pasted as the openai SDK prints it.
        let ex = explain(
            None,
            &[],
            &format!("openai.AuthenticationError: Error code: 401 - {body}"),
        );
        assert_eq!(ex.code, Some("probe-project-audience"));
        // The classic wording (cognitiveservices) and the 2026 one naming both stay generic:
        // the token's own claims decide there.
        for aud in [
            "https://cognitiveservices.azure.com",
            "https://cognitiveservices.azure.com or https://ai.azure.com",
        ] {
            let b = body.replace("https://ai.azure.com", aud);
            let ex = classify_response(401, &[], &b).explanation;
            assert_eq!(ex.code, Some("probe-token-rejected"), "{b}");
        }
    }

    #[test]
    fn api_versions_sent_to_v1_are_explained() {
        for body in [
            r#"{"error":{"code":"BadRequest","message":"api-version query parameter is not allowed when using /v1 path"}}"#,
            "POST https://x.openai.azure.com/openai/v1/chat/completions?api-version=2024-10-21 -> 400\n\
             {\"error\":{\"code\":\"BadRequest\",\"message\":\"API version not supported\"}}",
        ] {
            let ex = explain(Some(400), &[], body);
            assert_eq!(ex.diagnosis, Diagnosis::BadApiVersionOrPath, "{body}");
            assert_eq!(ex.code, Some("probe-api-version-on-v1"), "{body}");
            assert!(
                ex.summary.contains("AzureOpenAI") && ex.fix.contains("OpenAI client"),
                "{}",
                ex.fix
            );
        }
        // Without a v1 hint the classic advice stays, and it mentions the v1 case too.
        let ex = classify_response(
            400,
            &[],
            r#"{"error":{"code":"BadRequest","message":"API version not supported"}}"#,
        )
        .explanation;
        assert_eq!(ex.code, Some("probe-bad-path"));
        assert!(ex.fix.contains("On /openai/v1 send no api-version"));
    }
}
