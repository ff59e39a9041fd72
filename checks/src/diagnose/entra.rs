//! Microsoft Entra ID (AADSTS) token errors.
//!
//! Classified **by AADSTS number only**: the HTTP status and the OAuth `error` of the same
//! code have changed over the years (AADSTS70043 arrives as `invalid_grant` and as
//! `interaction_required`), so they are kept as evidence and never decide anything.

use super::common::{self, collect_ids, header};
use super::redact::redact_truncated;
use super::{Diagnosis, Explanation};
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// Which credential made the token request. Some codes mean different things depending
/// on it (AADSTS700016 with workload identity is a federation problem, AADSTS700024 from
/// an `az` session logged in with a federated token is an expired CI session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntraContext {
    /// Not known (a pasted error, a raw body).
    #[default]
    Unknown,
    /// `az account get-access-token` / `az login` / AzureCliCredential.
    AzureCli,
    /// Workload identity (federated token file, AKS, GitHub OIDC exchange).
    WorkloadIdentity,
    /// Client secret or certificate (EnvironmentCredential, ClientSecretCredential…).
    ClientCredentials,
    /// A managed-identity endpoint passing an Entra error through.
    ManagedIdentity,
}

/// An Entra ID OAuth error body (`{"error","error_description","error_codes",…}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntraError {
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// From `error_codes`, else every `AADSTS<n>` found in the text, in order.
    pub error_codes: Vec<u32>,
    pub suberror: Option<String>,
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
    pub timestamp: Option<String>,
    pub error_uri: Option<String>,
    /// A claims challenge (`claims`), when present.
    pub claims: Option<String>,
}

impl EntraError {
    /// The AADSTS number that classifies this error.
    pub fn aadsts(&self) -> Option<u32> {
        self.error_codes.first().copied()
    }
}

static AADSTS_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"AADSTS(\d{1,9})").unwrap());
static ERROR_CODES_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"["']error_codes["']\s*:\s*\[([\d,\s]*)"#).unwrap());
static DESC_TAIL_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?s)["']error_description["']\s*:\s*["'](.*)"#).unwrap());

/// Every distinct AADSTS number in `text`, in order of appearance.
pub fn extract_aadsts(text: &str) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for c in AADSTS_RE.captures_iter(text) {
        if let Ok(n) = c[1].parse::<u32>()
            && !out.contains(&n)
        {
            out.push(n);
        }
    }
    out
}

fn str_field(obj: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Parses an Entra error body. Tolerates truncated JSON, SDK renderings around the JSON
/// and plain text containing `AADSTS<n>`. `None` when nothing Entra-like is present.
pub fn parse_entra_error(body: &str) -> Option<EntraError> {
    let mut e = EntraError::default();
    if let Some(Value::Object(obj)) = common::parse_json_lenient(body) {
        e.error = str_field(&obj, "error");
        e.error_description = str_field(&obj, "error_description");
        e.suberror = str_field(&obj, "suberror");
        e.trace_id = str_field(&obj, "trace_id");
        e.correlation_id = str_field(&obj, "correlation_id");
        e.timestamp = str_field(&obj, "timestamp");
        e.error_uri = str_field(&obj, "error_uri");
        e.claims = str_field(&obj, "claims");
        if let Some(Value::Array(codes)) = obj.get("error_codes") {
            e.error_codes = codes
                .iter()
                .filter_map(|c| c.as_u64().and_then(|n| u32::try_from(n).ok()))
                .collect();
        }
    } else {
        e.error = common::lenient_field(body, "error");
        e.error_description = common::lenient_field(body, "error_description").or_else(|| {
            DESC_TAIL_RE.captures(body).map(|c| {
                c[1].trim_end_matches(['}', '"', '\'', ' ', '\n'])
                    .replace("\\r\\n", " ")
                    .to_string()
            })
        });
        if let Some(c) = ERROR_CODES_RE.captures(body) {
            e.error_codes = c[1].split(',').filter_map(|s| s.trim().parse::<u32>().ok()).collect();
        }
    }
    if e.error_codes.is_empty() {
        let from_desc = e.error_description.as_deref().map(extract_aadsts).unwrap_or_default();
        e.error_codes = if from_desc.is_empty() {
            extract_aadsts(body)
        } else {
            from_desc
        };
    }
    if e.error.is_none() && e.error_codes.is_empty() && e.error_description.is_none() {
        return None;
    }
    Some(e)
}

/// The advice for one AADSTS number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraAdvice {
    pub diagnosis: Diagnosis,
    /// One line.
    pub summary: String,
    pub fix: String,
    pub commands: Vec<String>,
}

fn advice(diagnosis: Diagnosis, summary: &str, fix: &str, commands: &[&str]) -> EntraAdvice {
    EntraAdvice {
        diagnosis,
        summary: summary.to_string(),
        fix: fix.to_string(),
        commands: commands.iter().map(|c| c.to_string()).collect(),
    }
}

const LOGIN_AOAI: &str = "az login --tenant <tenant-id> --scope https://cognitiveservices.azure.com/.default";
const CHECK_TOKEN: &str =
    "az account get-access-token --scope https://cognitiveservices.azure.com/.default --query expiresOn -o tsv";
const FIC_LIST: &str =
    "az identity federated-credential list --identity-name <identity-name> --resource-group <resource-group> -o table";
const FIC_CREATE: &str = "az identity federated-credential create --name <name> --identity-name <identity-name> --resource-group <resource-group> --issuer <issuer-url> --subject system:serviceaccount:<namespace>:<service-account> --audiences api://AzureADTokenExchange";
const AKS_ISSUER: &str =
    "az aks show --resource-group <resource-group> --name <cluster> --query oidcIssuerProfile.issuerUrl -o tsv";

/// Classifies an AADSTS number. Unknown numbers give [`Diagnosis::Unknown`], never a guess.
///
/// A lookup table, one arm per AADSTS number with its wording: it is allowed to be longer
/// than 100 lines (the house rule's exception for catalogues); each arm stays short.
pub fn classify_entra(aadsts: u32, ctx: EntraContext) -> EntraAdvice {
    use Diagnosis::*;
    if let Some(a) = classify_assertion_and_app(aadsts, ctx) {
        return a;
    }
    match aadsts {
        // ---- wrong resource / scope ------------------------------------------------
        500011 => {
            let mut a = advice(
                WrongScopeOrAudience,
                "AADSTS500011: the token was requested for a resource that does not exist in this tenant (wrong scope/resource).",
                "Request exactly the Azure OpenAI scope https://cognitiveservices.azure.com/.default \
                 (not the endpoint URL https://<name>.openai.azure.com, not a bare hostname). \
                 If the scope is right, you are signed in to the wrong tenant.",
                &[CHECK_TOKEN, LOGIN_AOAI],
            );
            if ctx == EntraContext::ManagedIdentity {
                a.fix.push_str(
                    " The managed-identity endpoint passed this Entra error through: its `resource` \
                     parameter is malformed, not the identity assignment.",
                );
            }
            a
        }
        70011 => advice(
            WrongScopeOrAudience,
            "AADSTS70011: the requested scope is missing or invalid.",
            "Request a single scope ending in /.default: https://cognitiveservices.azure.com/.default \
             (v1 resource: https://cognitiveservices.azure.com). Do not mix resources in one request.",
            &[CHECK_TOKEN],
        ),
        650057 => advice(
            WrongScopeOrAudience,
            "AADSTS650057: the client application is not permitted to request this resource (wrong scope for this client).",
            "The scope does not name a resource this client may call. For Azure OpenAI request \
             https://cognitiveservices.azure.com/.default (the Azure CLI is pre-authorised for it); \
             for a custom API, add it to the app registration's API permissions.",
            &[CHECK_TOKEN],
        ),
        // ---- app credentials -------------------------------------------------------
        7000215 => advice(
            InvalidClientCredentials,
            "AADSTS7000215: invalid client secret (often the secret's ID was used instead of its value).",
            "Set AZURE_CLIENT_SECRET to the secret VALUE (shown once at creation), not the secret ID; \
             create a new secret if the value was lost.",
            &[
                "az ad app credential list --id <client-id> -o table",
                "az ad app credential reset --id <client-id> --append --display-name aoai-doctor",
            ],
        ),
        7000222 => advice(
            InvalidClientCredentials,
            "AADSTS7000222: the application's client secret has expired.",
            "Create a new client secret (or switch to a certificate / managed identity / workload \
             identity) and update AZURE_CLIENT_SECRET wherever it is stored.",
            &[
                "az ad app credential list --id <client-id> --query \"[].{id:keyId,end:endDateTime}\" -o table",
                "az ad app credential reset --id <client-id> --append --display-name aoai-doctor",
            ],
        ),
        7000218 => advice(
            InvalidClientCredentials,
            "AADSTS7000218: the request carried no client secret or client assertion.",
            "The app is confidential: provide AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH \
             (or use a managed identity / workload identity).",
            &["az ad app credential reset --id <client-id> --append --display-name aoai-doctor"],
        ),
        700027 => advice(
            InvalidClientCredentials,
            "AADSTS700027: the client certificate assertion failed validation (certificate not registered on the app, or wrong key).",
            "Upload the certificate's public part to the app registration and make sure the private \
             key used for signing matches it.",
            &["az ad app credential reset --id <client-id> --cert @<certificate.pem> --append"],
        ),
        7000112 => advice(
            InvalidClientCredentials,
            "AADSTS7000112: the application (service principal) is disabled in this tenant.",
            "Ask a tenant administrator to re-enable the enterprise application, or use another identity.",
            &[
                "az ad sp show --id <client-id> --query accountEnabled",
                "az ad sp update --id <client-id> --set accountEnabled=true",
            ],
        ),
        700016 => match ctx {
            EntraContext::WorkloadIdentity => advice(
                WorkloadIdentityMisconfigured,
                "AADSTS700016: the client id used by workload identity does not exist in this tenant.",
                "Set the service account annotation azure.workload.identity/client-id (or \
                 AZURE_CLIENT_ID) to the client id of the managed identity / app that holds the \
                 federated credential, and check AZURE_TENANT_ID is that identity's tenant.",
                &[
                    "kubectl get serviceaccount <service-account> -n <namespace> -o jsonpath='{.metadata.annotations}'",
                    "az identity show --resource-group <resource-group> --name <identity-name> --query clientId -o tsv",
                ],
            ),
            _ => advice(
                InvalidClientCredentials,
                "AADSTS700016: no application with this client id exists in the tenant the request was sent to.",
                "Check AZURE_CLIENT_ID (a typo, a deleted app registration) and AZURE_TENANT_ID (the \
                 right app in the wrong tenant). With workload identity, the service account's \
                 client-id annotation is the value to check.",
                &["az ad sp show --id <client-id> --query \"{appId:appId, tenant:appOwnerOrganizationId}\""],
            ),
        },
        // ---- tenant / cloud ----------------------------------------------------------
        90002 => advice(
            WrongTenant,
            "AADSTS90002: the tenant does not exist (wrong tenant id, an unreplaced placeholder, or the wrong cloud).",
            "Use your real tenant id (a GUID or a verified domain) and the right cloud: \
             AzureCloud unless the resource lives in a sovereign cloud.",
            &[
                "az cloud show --query name -o tsv",
                "az cloud set --name AzureCloud",
                LOGIN_AOAI,
            ],
        ),
        900023 | 50128 => advice(
            WrongTenant,
            "The tenant identifier in the request is not valid.",
            "Set AZURE_TENANT_ID / --tenant to the tenant GUID or a verified domain of the directory \
             that owns the Azure OpenAI resource.",
            &[
                "az account list --query \"[].{name:name, tenant:tenantId}\" -o table",
                LOGIN_AOAI,
            ],
        ),
        50020 | 50034 | 90072 => advice(
            WrongTenant,
            "The signed-in account does not exist in the tenant the request was sent to.",
            "Sign in to the tenant that owns the Azure OpenAI resource (guests must be invited to it), \
             or target the account's home tenant.",
            &[LOGIN_AOAI],
        ),
        // ---- MFA / Conditional Access --------------------------------------------------
        50076 | 50074 => advice(
            MfaOrConditionalAccess,
            "Multi-factor authentication is required and the token request could not satisfy it.",
            "Sign in interactively so MFA can be completed for the Azure OpenAI scope (sign out first \
             if the old session keeps being reused). Non-interactive identities cannot do MFA: use a \
             service principal or managed identity in automation.",
            &["az logout", LOGIN_AOAI],
        ),
        50079 => advice(
            MfaOrConditionalAccess,
            "AADSTS50079: the account must register multi-factor authentication methods before any token is issued.",
            "Register MFA methods at https://aka.ms/mfasetup, then sign in again.",
            &[LOGIN_AOAI],
        ),
        53003 | 53000 | 53001 | 50158 => advice(
            MfaOrConditionalAccess,
            "A Conditional Access policy blocked token issuance (device, location, app or risk condition).",
            "Signing in again does not help unless the condition is met: use a compliant / managed \
             device or an allowed network, or ask the tenant administrator which policy applied \
             (the sign-in log shows it by the correlation id).",
            &["az logout", LOGIN_AOAI],
        ),
        50005 => advice(
            MfaOrConditionalAccess,
            "AADSTS50005: a Conditional Access policy does not allow sign-in from this device platform.",
            "Sign in from a platform the policy allows, or ask the administrator to include this one.",
            &[],
        ),
        530084 => advice(
            MfaOrConditionalAccess,
            "AADSTS530084: a Conditional Access token-protection policy blocks this client.",
            "Token protection requires a supported client/device; re-login does not help here. Ask \
             the administrator to exclude this app or use a client that supports token binding.",
            &[],
        ),
        // ---- expired / revoked sessions --------------------------------------------------
        700082 => advice(
            TokenExpired,
            "AADSTS700082: the refresh token expired after a period of inactivity; sign in again.",
            "Sign in again (the cached session is dead; `az account get-access-token` cannot refresh it).",
            &[LOGIN_AOAI],
        ),
        70043 => advice(
            TokenExpired,
            "AADSTS70043: the refresh token expired because of a Conditional Access sign-in frequency policy; sign in again.",
            "Sign in again; the policy will require this again after its interval.",
            &[LOGIN_AOAI],
        ),
        50173 => advice(
            TokenExpired,
            "AADSTS50173: the grant was revoked (password change/reset or session revocation, enforced by continuous access evaluation).",
            "Sign out and sign in again so a fresh session is created.",
            &["az logout", LOGIN_AOAI],
        ),
        50133 | 50132 | 70008 | 50078 | 50089 => advice(
            TokenExpired,
            "The session or grant is no longer valid (expired, revoked or invalidated by a password change); sign in again.",
            "Sign out and sign in again.",
            &["az logout", LOGIN_AOAI],
        ),
        50058 => advice(
            NotLoggedIn,
            "AADSTS50058: a silent sign-in was attempted but no user is signed in.",
            "Sign in interactively first.",
            &[LOGIN_AOAI],
        ),
        // ---- workload identity federation -------------------------------------------------
        70021 | 700211 | 700212 | 700213 | 7002138 => advice(
            WorkloadIdentityMisconfigured,
            "No federated identity credential matches the presented assertion (issuer, subject or audience differ).",
            "Create/fix the federated credential so its issuer is the cluster's (or CI's) OIDC issuer \
             URL exactly, its subject is system:serviceaccount:<namespace>:<service-account> \
             (case-sensitive) and its audience is api://AzureADTokenExchange.",
            &[AKS_ISSUER, FIC_LIST, FIC_CREATE],
        ),
        700024 => match ctx {
            EntraContext::AzureCli => advice(
                TokenExpired,
                "AADSTS700024: the Azure CLI session was created from a short-lived federated token (CI OIDC login) that has expired.",
                "Re-run the login step (e.g. azure/login with OIDC) right before the step that needs \
                 the token, or log in again with a fresh federated token; the CLI cannot refresh it \
                 on its own.",
                &[
                    "az login --service-principal --username <client-id> --tenant <tenant-id> --federated-token \"$(cat <federated-token-file>)\"",
                ],
            ),
            EntraContext::ClientCredentials => advice(
                InvalidClientCredentials,
                "AADSTS700024: the client assertion is outside its validity window (clock skew or a reused assertion).",
                "Create a fresh assertion per request and check the machine's clock is in sync.",
                &[],
            ),
            _ => advice(
                WorkloadIdentityMisconfigured,
                "AADSTS700024: the federated client assertion (projected service-account token) has expired.",
                "Re-read AZURE_FEDERATED_TOKEN_FILE for every token request (kubelet rotates it; \
                 never cache its content) and check the node clock is in sync.",
                &["kubectl exec <pod> -- sh -c 'ls -l $AZURE_FEDERATED_TOKEN_FILE'"],
            ),
        },
        other => EntraAdvice {
            diagnosis: Unknown,
            summary: format!("Entra ID returned AADSTS{other}, which the doctor has no rule for."),
            fix: format!(
                "Look the code up at https://login.microsoftonline.com/error?code={other} and check \
                 the sign-in logs by its correlation id."
            ),
            commands: Vec::new(),
        },
    }
}

/// Client assertions (certificates, federated tokens) and app-registration setup: the codes of
/// the azure-identity troubleshooting tables that the general rules above do not cover.
fn classify_assertion_and_app(aadsts: u32, ctx: EntraContext) -> Option<EntraAdvice> {
    use Diagnosis::*;
    let assertion = if ctx == EntraContext::WorkloadIdentity {
        WorkloadIdentityMisconfigured
    } else {
        InvalidClientCredentials
    };
    Some(match aadsts {
        700021 => advice(
            assertion,
            "AADSTS700021: the client assertion names another application than the client_id of the request.",
            "Make the assertion's iss/sub the same client id as AZURE_CLIENT_ID (a certificate or federated \
             token issued for one app cannot sign in as another).",
            &[],
        ),
        700023 => advice(
            assertion,
            "AADSTS700023: the client assertion's audience is not this tenant's token endpoint.",
            "Build the assertion for https://login.microsoftonline.com/<tenant-id>/oauth2/v2.0/token of the \
             tenant you send it to (right tenant id and authority host).",
            &[],
        ),
        50027 => advice(
            assertion,
            "AADSTS50027: the JWT sent as client assertion is invalid or malformed.",
            "Send the raw signed JWT (not base64 of a file, no quotes or newline); for workload identity read \
             AZURE_FEDERATED_TOKEN_FILE afresh for each request.",
            &[],
        ),
        50011 => advice(
            AppMisconfigured,
            "AADSTS50011: the request's redirect URI is not registered on the application.",
            "Add the redirect URI to the app registration; for WAM (brokered) sign-in register \
             ms-appx-web://Microsoft.AAD.BrokerPlugin/<client-id>.",
            &["az ad app show --id <client-id> --query publicClient.redirectUris"],
        ),
        65001 => advice(
            AppMisconfigured,
            "AADSTS65001: nobody has consented to the application using this resource.",
            "Grant consent (an administrator for the tenant), or use a credential whose client is \
             pre-authorised for the resource (az login / AzureCliCredential).",
            &["az ad app permission admin-consent --id <client-id>"],
        ),
        65002 => advice(
            AppMisconfigured,
            "AADSTS65002: a Microsoft first-party client (e.g. Visual Studio) is not pre-authorised for this resource.",
            "Use another credential for this resource (az login / AzureCliCredential); the first-party app's \
             pre-authorisation is not something a tenant can add.",
            &[LOGIN_AOAI],
        ),
        50126 => advice(
            InvalidClientCredentials,
            "AADSTS50126: the username or password is invalid.",
            "Username/password sign-in is deprecated and fails under MFA: use az login, a service principal \
             or a managed identity instead of AZURE_USERNAME/AZURE_PASSWORD.",
            &[LOGIN_AOAI],
        ),
        _ => return None,
    })
}

static FACT_RES: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("tenant_requested", r"Tenant '([^']+)' not found"),
        ("resource_requested", r"resource principal named (\S+?) was not found"),
        ("tenant_named", r"was not found in the tenant named ([^\s.]+)"),
        ("resource_requested", r"Resource value from request: (\S+?)\.\s"),
        ("client_app_id", r"Client app ID: ([0-9a-fA-F-]{36})"),
        ("client_id", r"Application with identifier '([^']+)'"),
        ("directory", r"was not found in the directory '([^']+)'"),
        ("client_id", r"secret(?: keys)? (?:added to|for) app '([^']+)'"),
        ("assertion_issuer", r"(?i)Assertion Issuer: '([^']+)'"),
        ("assertion_subject", r"(?i)Assertion Subject: '([^']+)'"),
        ("assertion_audience", r"(?i)Assertion Audience: '([^']+)'"),
        ("assertion_issuer", r"presented assertion issuer '([^']+)'"),
        ("assertion_subject", r"presented assertion subject '([^']+)'"),
        ("assertion_audience", r"presented assertion audience '([^']+)'"),
        ("assertion_valid_from", r"assertion valid from ([0-9T:.\-Z]+)"),
        ("assertion_expiry", r"expiry time of assertion ([0-9T:.\-Z]+)"),
        ("current_time", r"Current time: ([0-9T:.\-Z]+)"),
        ("inactive_for", r"inactive for ([0-9.:]+)"),
        (
            "max_lifetime_seconds",
            r"maximum allowed lifetime for this request is (\d+)",
        ),
        ("mfa_resource", r"multi-factor authentication to access '([^']+)'"),
        ("tenant", r"Authentication failed against tenant ([0-9a-fA-F-]{36})"),
    ]
    .into_iter()
    .map(|(k, r)| (k, Regex::new(r).unwrap()))
    .collect()
});

fn add_facts(ex: &mut Explanation, text: &str) {
    for (key, re) in FACT_RES.iter() {
        if ex.evidence.contains_key(*key) {
            continue;
        }
        if let Some(c) = re.captures(text) {
            let v = c[1].trim_end_matches(['.', ',']).to_string();
            if !v.starts_with('<') && v != "***" {
                ex.add_evidence(key, v);
            }
        }
    }
}

/// Which credential produced an error, from the markers nearest before the first AADSTS
/// (an SDK aggregate lists several credentials), else anywhere in the text.
pub(crate) fn context_from_text(text: &str) -> EntraContext {
    const MARKERS: [(&str, EntraContext); 12] = [
        ("WorkloadIdentityCredential", EntraContext::WorkloadIdentity),
        ("AZURE_FEDERATED_TOKEN_FILE", EntraContext::WorkloadIdentity),
        ("AzureCliCredential", EntraContext::AzureCli),
        ("Azure CLI", EntraContext::AzureCli),
        ("az login", EntraContext::AzureCli),
        ("az account", EntraContext::AzureCli),
        ("ManagedIdentityCredential", EntraContext::ManagedIdentity),
        ("IMDS", EntraContext::ManagedIdentity),
        ("ClientSecretCredential", EntraContext::ClientCredentials),
        ("ClientCertificateCredential", EntraContext::ClientCredentials),
        ("EnvironmentCredential", EntraContext::ClientCredentials),
        ("ClientAssertionCredential", EntraContext::ClientCredentials),
    ];
    let cut = text.find("AADSTS").unwrap_or(text.len());
    let before = &text[..cut];
    let nearest = MARKERS
        .iter()
        .filter_map(|(m, c)| before.rfind(m).map(|pos| (pos, *c)))
        .max_by_key(|(pos, _)| *pos);
    if let Some((_, c)) = nearest {
        return c;
    }
    MARKERS
        .iter()
        .filter_map(|(m, c)| text.find(m).map(|pos| (pos, *c)))
        .min_by_key(|(pos, _)| *pos)
        .map(|(_, c)| c)
        .unwrap_or_default()
}

/// Explains an Entra error found in `text` (a raw body, or any text naming `AADSTS<n>`).
/// `None` when the text holds no AADSTS number.
pub fn explain_entra(
    status: Option<u16>,
    headers: &[(String, String)],
    text: &str,
    ctx: EntraContext,
) -> Option<Explanation> {
    let parsed = parse_entra_error(text)?;
    let code = parsed.aadsts()?;
    let a = classify_entra(code, ctx);
    let mut ex = Explanation::new(a.diagnosis, a.summary, a.fix).with_commands(a.commands);
    ex.code = crate::codes::for_aadsts(code)
        .or_else(|| (a.diagnosis == Diagnosis::Unknown).then_some(&crate::codes::TOKEN_ENTRA_ERROR))
        .map(|c| c.id);
    ex.add_evidence(
        "aadsts",
        Value::Array(parsed.error_codes.iter().map(|c| Value::from(*c)).collect()),
    );
    if let Some(s) = status {
        ex.add_evidence("http_status", u64::from(s));
    }
    if let Some(e) = &parsed.error {
        ex.add_evidence("error", redact_truncated(e, 100));
    }
    if let Some(s) = &parsed.suberror {
        ex.add_evidence("suberror", redact_truncated(s, 100));
    }
    if let Some(t) = &parsed.trace_id {
        ex.add_evidence("trace_id", t.clone());
    }
    if let Some(c) = &parsed.correlation_id {
        ex.add_evidence("correlation_id", c.clone());
    }
    if parsed.claims.is_some() || common::contains_ci(text, "claims challenge") {
        ex.add_evidence("claims_challenge", true);
    }
    collect_ids(&mut ex, headers, text, None);
    let desc = parsed.error_description.clone().unwrap_or_else(|| text.to_string());
    add_facts(&mut ex, &desc);
    add_facts(&mut ex, text);
    Some(ex.with_detail(redact_truncated(&desc, 600)))
}

/// Judges a response of the Entra token endpoint (`/oauth2/v2.0/token`).
pub fn explain_token_response(status: u16, headers: &[(String, String)], body: &str, ctx: EntraContext) -> Explanation {
    if (200..300).contains(&status)
        && let Some(Value::Object(o)) = common::parse_json_lenient(body)
        && o.contains_key("access_token")
    {
        let mut ex = Explanation::new(Diagnosis::Ok, "Entra ID issued a token.", "Nothing to fix.");
        ex.add_evidence("http_status", u64::from(status));
        collect_ids(&mut ex, headers, "", None);
        return ex;
    }
    if let Some(ex) = explain_entra(Some(status), headers, body, ctx) {
        return ex;
    }
    let mut ex = Explanation::unknown(format!(
        "The token endpoint answered HTTP {status} without an AADSTS code; the body does not say why."
    ));
    ex.add_evidence("http_status", u64::from(status));
    if let Some(id) = header(headers, "x-ms-request-id") {
        ex.add_evidence("x-ms-request-id", id.to_string());
    }
    ex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_from_all_places() {
        let e = parse_entra_error(
            r#"{"error":"invalid_grant","error_codes":[70043],"error_description":"AADSTS70043: x"}"#,
        )
        .unwrap();
        assert_eq!(e.aadsts(), Some(70043));
        let e = parse_entra_error(r#"{"error":"invalid_scope","error_description":"AADSTS70011: The provided request must include a 'scope' input parameter.\ (truncated...)"#).unwrap();
        assert_eq!((e.aadsts(), e.error.as_deref()), (Some(70011), Some("invalid_scope")));
        let e = parse_entra_error("ERROR: AADSTS700082: The refresh token has expired").unwrap();
        assert_eq!(e.aadsts(), Some(700082));
        assert!(parse_entra_error("nothing here").is_none());
        assert!(parse_entra_error("").is_none());
    }

    #[test]
    fn classified_by_number_not_by_error_or_status() {
        // The same number under two different `error` values and statuses.
        for body in [
            r#"{"error":"invalid_grant","error_codes":[70043]}"#,
            r#"{"error":"interaction_required","error_codes":[70043]}"#,
        ] {
            for status in [400, 401] {
                let ex = explain_token_response(status, &[], body, EntraContext::Unknown);
                assert_eq!(ex.diagnosis, Diagnosis::TokenExpired, "{body} {status}");
            }
        }
        // The same `error` with different numbers → different diagnoses.
        let a = explain_token_response(
            401,
            &[],
            r#"{"error":"invalid_client","error_codes":[7000215]}"#,
            EntraContext::Unknown,
        );
        let b = explain_token_response(
            401,
            &[],
            r#"{"error":"invalid_client","error_codes":[700024]}"#,
            EntraContext::Unknown,
        );
        assert_eq!(a.diagnosis, Diagnosis::InvalidClientCredentials);
        assert_eq!(b.diagnosis, Diagnosis::WorkloadIdentityMisconfigured);
    }

    #[test]
    fn context_changes_meaning() {
        assert_eq!(
            classify_entra(700016, EntraContext::Unknown).diagnosis,
            Diagnosis::InvalidClientCredentials
        );
        assert_eq!(
            classify_entra(700016, EntraContext::WorkloadIdentity).diagnosis,
            Diagnosis::WorkloadIdentityMisconfigured
        );
        assert_eq!(
            classify_entra(700024, EntraContext::AzureCli).diagnosis,
            Diagnosis::TokenExpired
        );
        assert_eq!(
            classify_entra(700024, EntraContext::WorkloadIdentity).diagnosis,
            Diagnosis::WorkloadIdentityMisconfigured
        );
    }

    #[test]
    fn every_listed_code_has_a_rule() {
        for code in [
            500011, 70011, 650057, 7000215, 7000222, 700016, 90002, 50076, 50079, 53003, 50005, 530084, 700082, 70043,
            50173, 70021, 700211, 700024, 50058, 7000112,
        ] {
            let a = classify_entra(code, EntraContext::Unknown);
            assert_ne!(a.diagnosis, Diagnosis::Unknown, "AADSTS{code}");
            assert!(!a.summary.contains('\n'));
            assert!(!a.fix.is_empty());
        }
        let a = classify_entra(123456, EntraContext::Unknown);
        assert_eq!(a.diagnosis, Diagnosis::Unknown);
        assert!(a.fix.contains("code=123456"));
    }

    #[test]
    fn context_from_sdk_texts() {
        assert_eq!(
            context_from_text(
                "WorkloadIdentityCredential: Microsoft Entra ID error '(invalid_client) AADSTS700211: x'"
            ),
            EntraContext::WorkloadIdentity
        );
        assert_eq!(
            context_from_text(
                "- WorkloadIdentityCredential authentication unavailable.\n- Azure CLI authentication failed ERROR: AADSTS700024: x"
            ),
            EntraContext::AzureCli
        );
        assert_eq!(
            context_from_text("AADSTS70043: x. To re-authenticate, please run `az login`."),
            EntraContext::AzureCli
        );
        assert_eq!(context_from_text("AADSTS70043"), EntraContext::Unknown);
    }

    #[test]
    fn evidence_extracted() {
        let body = r#"{"error":"invalid_request","error_description":"AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: 'https://kubernetes.default.svc.cluster.local'. Assertion Subject: 'system:serviceaccount:default:sa'. Assertion Audience: 'api://AzureADTokenExchange'.","error_codes":[70021],"trace_id":"30b6df93-efd2-459c-ae6a-bad0838f6f00","correlation_id":"dffc6012-a4af-4f00-80ab-3e831069b3cc"}"#;
        let ex = explain_entra(Some(400), &[], body, EntraContext::Unknown).unwrap();
        assert_eq!(
            ex.evidence["assertion_issuer"],
            "https://kubernetes.default.svc.cluster.local"
        );
        assert_eq!(ex.evidence["assertion_subject"], "system:serviceaccount:default:sa");
        assert_eq!(ex.evidence["trace_id"], "30b6df93-efd2-459c-ae6a-bad0838f6f00");
        assert_eq!(ex.evidence["aadsts"], serde_json::json!([70021]));
    }
}
