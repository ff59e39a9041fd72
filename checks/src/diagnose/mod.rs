//! Pure classifiers: the knowledge of the doctor.
//!
//! Nothing in here does I/O, spawns a process or reads the clock: every function takes the
//! text, status, headers (and "now" where time matters) it judges. The judges are tested
//! table-driven against the real-world corpus in `fixtures/corpus/` (see `tests.rs`).
//!
//! Entry points:
//! - [`explain::explain`]: a pasted error of any family → [`Explanation`];
//! - [`dataplane::classify_response`]: an Azure OpenAI data-plane response;
//! - [`entra::classify_entra`] / [`entra::explain_token_response`]: Entra ID token errors;
//! - [`cli::classify_az`] and the `az … -o json` parsers;
//! - [`managed_identity::classify_mi_response`] / [`managed_identity::classify_mi_text`];
//! - [`arm::classify_arm_response`];
//! - [`jwt::decode_claims`] / [`jwt::judge_claims`].

pub mod arm;
pub mod cli;
pub mod data_actions;
pub mod dataplane;
pub mod duration;
pub mod entra;
pub mod explain;
pub mod html;
pub mod jwt;
pub mod managed_identity;
pub mod rbac;
pub mod redact;

mod common;
mod sdk_messages;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use explain::explain;
pub use redact::{looks_like_secret, redact};

/// The scope a keyless Azure OpenAI client must request.
pub const AOAI_SCOPE: &str = "https://cognitiveservices.azure.com/.default";
/// The v1 resource (token `aud`) of Azure OpenAI / Cognitive Services.
pub const AOAI_RESOURCE: &str = "https://cognitiveservices.azure.com";
/// App id of the "Microsoft Cognitive Services" resource application.
pub const AOAI_APP_ID: &str = "7d312290-28c8-473c-a0ed-8e53749b6d6d";
/// Role definition GUID of "Cognitive Services OpenAI User".
pub const ROLE_OPENAI_USER: &str = rbac::roles::OPENAI_USER;
/// Role definition GUID of "Azure AI User" (shown as "Foundry User").
pub const ROLE_AZURE_AI_USER: &str = rbac::roles::AZURE_AI_USER;

/// Every diagnosis the classifiers can make. Serialized kebab-case (`not-logged-in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Diagnosis {
    Ok,
    NotLoggedIn,
    CliMissing,
    TokenExpired,
    WrongScopeOrAudience,
    WrongTenant,
    InvalidClientCredentials,
    MfaOrConditionalAccess,
    RoleMissingOrPropagating,
    KeyAuthDisabled,
    NetworkBlocked,
    DeploymentNotFound,
    BadApiVersionOrPath,
    RateLimited,
    MiUnavailable,
    MiIdentityNotFound,
    WorkloadIdentityMisconfigured,
    ArmReadForbidden,
    CredentialUnavailable,
    AppMisconfigured,
    Unknown,
}

impl Diagnosis {
    /// All variants, in declaration order.
    pub const ALL: [Diagnosis; 21] = [
        Diagnosis::Ok,
        Diagnosis::NotLoggedIn,
        Diagnosis::CliMissing,
        Diagnosis::TokenExpired,
        Diagnosis::WrongScopeOrAudience,
        Diagnosis::WrongTenant,
        Diagnosis::InvalidClientCredentials,
        Diagnosis::MfaOrConditionalAccess,
        Diagnosis::RoleMissingOrPropagating,
        Diagnosis::KeyAuthDisabled,
        Diagnosis::NetworkBlocked,
        Diagnosis::DeploymentNotFound,
        Diagnosis::BadApiVersionOrPath,
        Diagnosis::RateLimited,
        Diagnosis::MiUnavailable,
        Diagnosis::MiIdentityNotFound,
        Diagnosis::WorkloadIdentityMisconfigured,
        Diagnosis::ArmReadForbidden,
        Diagnosis::CredentialUnavailable,
        Diagnosis::AppMisconfigured,
        Diagnosis::Unknown,
    ];

    /// The stable kebab-case name (same as the serde name).
    pub const fn as_str(self) -> &'static str {
        match self {
            Diagnosis::Ok => "ok",
            Diagnosis::NotLoggedIn => "not-logged-in",
            Diagnosis::CliMissing => "cli-missing",
            Diagnosis::TokenExpired => "token-expired",
            Diagnosis::WrongScopeOrAudience => "wrong-scope-or-audience",
            Diagnosis::WrongTenant => "wrong-tenant",
            Diagnosis::InvalidClientCredentials => "invalid-client-credentials",
            Diagnosis::MfaOrConditionalAccess => "mfa-or-conditional-access",
            Diagnosis::RoleMissingOrPropagating => "role-missing-or-propagating",
            Diagnosis::KeyAuthDisabled => "key-auth-disabled",
            Diagnosis::NetworkBlocked => "network-blocked",
            Diagnosis::DeploymentNotFound => "deployment-not-found",
            Diagnosis::BadApiVersionOrPath => "bad-api-version-or-path",
            Diagnosis::RateLimited => "rate-limited",
            Diagnosis::MiUnavailable => "mi-unavailable",
            Diagnosis::MiIdentityNotFound => "mi-identity-not-found",
            Diagnosis::WorkloadIdentityMisconfigured => "workload-identity-misconfigured",
            Diagnosis::ArmReadForbidden => "arm-read-forbidden",
            Diagnosis::CredentialUnavailable => "credential-unavailable",
            Diagnosis::AppMisconfigured => "app-misconfigured",
            Diagnosis::Unknown => "unknown",
        }
    }

    /// One line saying what the diagnosis means.
    pub const fn description(self) -> &'static str {
        match self {
            Diagnosis::Ok => "The call or command succeeded.",
            Diagnosis::NotLoggedIn => "The Azure CLI has no signed-in account.",
            Diagnosis::CliMissing => "The Azure CLI (`az`) is not installed or not on PATH.",
            Diagnosis::TokenExpired => {
                "The token, refresh token or sign-in session expired or was revoked; sign in again."
            }
            Diagnosis::WrongScopeOrAudience => {
                "The token was requested for, or carries, the wrong resource/scope (Azure OpenAI needs https://cognitiveservices.azure.com/.default)."
            }
            Diagnosis::WrongTenant => "The token comes from a different Entra tenant (or cloud) than the resource.",
            Diagnosis::InvalidClientCredentials => {
                "The application's client id, secret or certificate is wrong, expired or disabled."
            }
            Diagnosis::MfaOrConditionalAccess => {
                "Multi-factor authentication or a Conditional Access policy blocks token issuance."
            }
            Diagnosis::RoleMissingOrPropagating => {
                "The principal has no role granting the data action on the resource (or a new assignment is still propagating)."
            }
            Diagnosis::KeyAuthDisabled => {
                "An API key was sent but key authentication is disabled on the resource; use a Microsoft Entra token."
            }
            Diagnosis::NetworkBlocked => {
                "A network rule (firewall, VNet, private endpoint only) blocks this client from the resource."
            }
            Diagnosis::DeploymentNotFound => "The deployment name in the URL does not exist on this resource.",
            Diagnosis::BadApiVersionOrPath => "The endpoint URL, path or api-version is wrong.",
            Diagnosis::RateLimited => "The request was throttled (429); wait and retry, or raise the quota.",
            Diagnosis::MiUnavailable => {
                "No managed-identity endpoint is reachable from here (or something else answered in its place)."
            }
            Diagnosis::MiIdentityNotFound => {
                "The managed-identity endpoint answered, but no (matching) identity is assigned to this host."
            }
            Diagnosis::WorkloadIdentityMisconfigured => {
                "Workload identity federation is misconfigured (client id, federated credential issuer/subject/audience, or a stale assertion)."
            }
            Diagnosis::ArmReadForbidden => {
                "Azure Resource Manager refused to let the caller read what the doctor needs (e.g. role assignments)."
            }
            Diagnosis::CredentialUnavailable => {
                "A credential cannot be used here: its tool is missing, nobody is signed in to it, or it is not configured (the code names which)."
            }
            Diagnosis::AppMisconfigured => {
                "The app registration or client setup does not allow this sign-in (redirect URI, consent, broker)."
            }
            Diagnosis::Unknown => "The error was not recognised; no diagnosis is guessed.",
        }
    }
}

impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a classifier concluded, with what it extracted as evidence.
///
/// Every string in here that may echo input text has gone through [`redact`], and the
/// evidence never holds a token or other secret-looking value.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Explanation {
    pub diagnosis: Diagnosis,
    /// The catalogue code (`crate::codes`) naming this diagnosis precisely, when a classifier
    /// knows one (e.g. `aadsts-7000215`, `cli-not-installed`); `diagnosis` stays the coarse family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// One line.
    pub summary: String,
    pub detail: Option<String>,
    pub fix: String,
    pub commands: Vec<String>,
    pub evidence: Map<String, Value>,
}

impl Explanation {
    pub fn new(diagnosis: Diagnosis, summary: impl Into<String>, fix: impl Into<String>) -> Self {
        Explanation {
            diagnosis,
            code: None,
            summary: one_line(&redact(&summary.into())),
            detail: None,
            fix: redact(&fix.into()),
            commands: Vec::new(),
            evidence: Map::new(),
        }
    }

    /// The honest "I don't know": never a guess.
    pub fn unknown(summary: impl Into<String>) -> Self {
        Explanation::new(
            Diagnosis::Unknown,
            summary,
            "The doctor has no rule for this error. Run `aoai-doctor` (with --endpoint and \
             --deployment) for a full diagnosis, and search the error code/message in the Azure OpenAI and Microsoft \
             Entra troubleshooting docs.",
        )
    }

    /// Names the catalogue code of this diagnosis.
    pub fn with_code(mut self, code: &'static crate::codes::Code) -> Self {
        self.code = Some(code.id);
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        let d = redact(&detail.into());
        self.detail = if d.trim().is_empty() { None } else { Some(d) };
        self
    }

    pub fn with_commands<I, S>(mut self, commands: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.commands.extend(commands.into_iter().map(|c| redact(&c.into())));
        self
    }

    /// Adds one piece of evidence. String values are redacted; a value that is itself
    /// secret-looking is dropped entirely.
    pub fn with_evidence(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.add_evidence(key, value);
        self
    }

    pub fn add_evidence(&mut self, key: &str, value: impl Into<Value>) {
        let value = value.into();
        if let Value::String(s) = &value
            && looks_like_secret(s)
        {
            return;
        }
        self.evidence.insert(key.to_string(), sanitize(value));
    }

    /// Copies all evidence from `other` that is not already present.
    pub fn merge_evidence(&mut self, other: &Map<String, Value>) {
        for (k, v) in other {
            if !self.evidence.contains_key(k) {
                self.add_evidence(k, v.clone());
            }
        }
    }
}

/// Redacts every string inside a JSON value (secret-looking strings become a marker).
fn sanitize(value: Value) -> Value {
    match value {
        Value::String(s) if looks_like_secret(&s) => Value::String("<redacted>".to_string()),
        Value::String(s) => Value::String(redact(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(sanitize).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, sanitize(v))).collect()),
        other => other,
    }
}

/// Collapses whitespace runs so a summary stays on one line.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, part) in s.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(part);
    }
    out
}
