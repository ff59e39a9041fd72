//! `aoai-doctor explain`: a pasted error of any family → a diagnosis.
//!
//! The text may be a raw HTTP body, an SDK exception (openai-python's
//! `Error code: 401 - {'error': {...}}`, azure-identity aggregates, MSAL texts), `az`
//! stderr, or curl output. The family is detected from the text and the matching
//! classifier decides. Unrecognised text gives `unknown`, never a guess.

use super::common::{self, collect_ids, header, parse_status_from_text};
use super::sdk_messages::{self, Tier};
use super::{Diagnosis, Explanation, arm, cli, dataplane, entra, managed_identity};
use crate::codes::{self, Code};
use serde_json::Value;

/// Explains a pasted error. `status` and `headers` are optional context (a status is
/// also read from the text: "Error code: 401", "Status code 401", "(401)").
pub fn explain(status: Option<u16>, headers: &[(String, String)], text: &str) -> Explanation {
    let status = status.or_else(|| parse_status_from_text(text));
    let mut ex = dispatch(status, headers, text);
    if let Some(s) = status
        && !ex.evidence.contains_key("http_status")
    {
        ex.add_evidence("http_status", u64::from(s));
    }
    ex
}

/// The catalogue code `explain` reports for `ex` (one vocabulary with the checks): the
/// AADSTS code when Entra's number decided and the catalogue knows it, else the code a check
/// gives the same problem, else one of the few codes only `explain` emits.
pub fn finding_code(ex: &Explanation, text: &str) -> &'static Code {
    // A classifier that named a specific catalogue code wins (SDK credential messages, the
    // data-plane answers, an AADSTS rule); then the AADSTS number; then the family's code.
    if let Some(code) = ex.code.and_then(codes::find) {
        return code;
    }
    let aadsts = entra::extract_aadsts(text).first().copied().and_then(codes::for_aadsts);
    match aadsts {
        Some(code) if ex.diagnosis != Diagnosis::Ok => code,
        _ => code_of(ex.diagnosis),
    }
}

/// The catalogue code of each diagnosis.
pub fn code_of(diagnosis: Diagnosis) -> &'static Code {
    match diagnosis {
        Diagnosis::Ok => &codes::EXPLAIN_OK,
        Diagnosis::NotLoggedIn => &codes::CLI_NOT_LOGGED_IN,
        Diagnosis::CliMissing => &codes::CLI_NOT_INSTALLED,
        Diagnosis::TokenExpired => &codes::CLAIMS_EXPIRED,
        Diagnosis::WrongScopeOrAudience => &codes::CLAIMS_WRONG_AUDIENCE,
        Diagnosis::WrongTenant => &codes::CLAIMS_WRONG_TENANT,
        Diagnosis::InvalidClientCredentials => &codes::TOKEN_ENTRA_ERROR,
        Diagnosis::MfaOrConditionalAccess => &codes::CLI_CONDITIONAL_ACCESS,
        Diagnosis::RoleMissingOrPropagating => &codes::PROBE_PERMISSION_DENIED,
        Diagnosis::KeyAuthDisabled => &codes::PROBE_KEY_AUTH_DISABLED,
        Diagnosis::NetworkBlocked => &codes::PROBE_NETWORK_BLOCKED,
        Diagnosis::DeploymentNotFound => &codes::PROBE_DEPLOYMENT_NOT_FOUND,
        Diagnosis::BadApiVersionOrPath => &codes::PROBE_BAD_PATH,
        Diagnosis::RateLimited => &codes::PROBE_RATE_LIMITED,
        Diagnosis::MiUnavailable => &codes::MI_UNAVAILABLE,
        Diagnosis::MiIdentityNotFound => &codes::TOKEN_MI_IDENTITY_NOT_FOUND,
        Diagnosis::WorkloadIdentityMisconfigured => &codes::TOKEN_WORKLOAD_FILE,
        Diagnosis::ArmReadForbidden => &codes::ROLE_READ_FORBIDDEN,
        Diagnosis::CredentialUnavailable => &codes::CHAIN_NO_CREDENTIAL,
        Diagnosis::AppMisconfigured => &codes::EXPLAIN_UNKNOWN,
        Diagnosis::Unknown => &codes::EXPLAIN_UNKNOWN,
    }
}

fn dispatch(status: Option<u16>, headers: &[(String, String)], text: &str) -> Explanation {
    // 1. Entra: an AADSTS number decides, whoever relayed it (az, an SDK, IMDS).
    if let Some(ex) = entra::explain_entra(status, headers, text, entra::context_from_text(text)) {
        return ex;
    }
    // 2. ARM, by its error code (JSON body, `(Code) Message` or `ErrorCode: X`).
    if arm::arm_code(text).is_some()
        && let Some(v) = arm::classify_arm_parts(status, headers, text)
    {
        return v.explanation;
    }
    // 3. A managed-identity endpoint that answered "no identity" (beats any other link of
    //    a credential chain that failed only because this one did).
    if let Some(ex) = managed_identity::recognise_identity_not_found(text) {
        return ex;
    }
    // 3b. A credential's own failure message (pipelines, tenant, certificate, broker…).
    if let Some(ex) = sdk_messages::recognise(text, Tier::Strong) {
        return ex;
    }
    // 4. The Azure CLI: missing, revoked session, wrong cloud, not logged in.
    if let Some(ex) = cli::recognise_cli_text(text) {
        return ex;
    }
    // 5. No managed-identity endpoint (or something else answering for it).
    if let Some(ex) = managed_identity::recognise_mi_unavailable(text) {
        return ex;
    }
    // 5b. A credential that is merely unavailable here, then the chain's own aggregate.
    if let Some(ex) =
        sdk_messages::recognise(text, Tier::Weak).or_else(|| sdk_messages::recognise_chain_aggregate(text))
    {
        return ex;
    }
    // 6. The Azure OpenAI data plane.
    if let Some(v) = dataplane::classify_parts(status, headers, text) {
        return v.explanation;
    }
    // 7. An ARM 401 challenge without a body.
    if status == Some(401)
        && header(headers, "www-authenticate").is_some()
        && let Some(v) = arm::classify_arm_parts(status, headers, text)
    {
        return v.explanation;
    }
    // 8. Success outputs pasted without a status.
    if let Some(ex) = success_shape(text) {
        return ex;
    }
    let mut ex = Explanation::unknown(match status {
        Some(s) => format!("HTTP {s} with a body the doctor does not recognise."),
        None => "The doctor does not recognise this error.".to_string(),
    });
    collect_ids(&mut ex, headers, text, None);
    ex
}

fn ok(summary: &str) -> Explanation {
    Explanation::new(Diagnosis::Ok, summary, "Nothing to fix.")
}

/// Recognised success outputs: `az` token / account JSON, managed-identity tokens, chat
/// completions (JSON or SSE), ARM lists and role assignments.
fn success_shape(text: &str) -> Option<Explanation> {
    let t = text.trim();
    if t.starts_with("data:") && t.contains("\"choices\"") {
        return Some(ok("A streamed Azure OpenAI response (the call succeeded)."));
    }
    let v = common::parse_json_lenient(t)?;
    let is_role_assignment = |o: &serde_json::Map<String, Value>| {
        let props = o.get("properties").and_then(Value::as_object).unwrap_or(o);
        props.contains_key("roleDefinitionId") && props.contains_key("principalId")
    };
    match &v {
        Value::Object(o) if o.contains_key("accessToken") => {
            Some(cli::classify_az(t, "", Some(0))).filter(|e| e.diagnosis == Diagnosis::Ok)
        }
        Value::Object(o)
            if o.contains_key("access_token") && (o.contains_key("expires_on") || o.contains_key("expires_in")) =>
        {
            Some(ok("A managed-identity / Entra token response (a token was issued)."))
        }
        Value::Object(o)
            if o.contains_key("choices")
                || o.get("object")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.starts_with("chat.completion")) =>
        {
            Some(ok("An Azure OpenAI completion (the call succeeded)."))
        }
        Value::Object(o) if o.contains_key("tenantId") && o.contains_key("user") => {
            Some(cli::classify_az(t, "", Some(0)))
        }
        Value::Object(o) if is_role_assignment(o) => Some(ok("A role assignment (ARM accepted the call).")),
        Value::Object(o) if o.get("value").is_some_and(Value::is_array) => {
            Some(ok("An Azure Resource Manager list (the call succeeded)."))
        }
        Value::Array(a)
            if !a.is_empty()
                && a.iter().all(|e| {
                    e.as_object()
                        .is_some_and(|o| o.contains_key("tenantId") && o.contains_key("user"))
                }) =>
        {
            Some(cli::classify_az(t, "", Some(0)))
        }
        Value::Array(a) if !a.is_empty() && a.iter().all(|e| e.as_object().is_some_and(is_role_assignment)) => {
            Some(ok("A list of role assignments (ARM accepted the call)."))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_diagnosis_is_a_catalogue_code() {
        for d in Diagnosis::ALL {
            let code = code_of(d);
            assert_eq!(codes::find(code.id), Some(code), "{d:?}");
        }
        let ex = explain(
            Some(401),
            &[],
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#,
        );
        assert_eq!(
            finding_code(&ex, "AADSTS7000215: Invalid client secret provided.").id,
            "aadsts-7000215"
        );
        let ex = explain(None, &[], "something went wrong");
        assert_eq!(finding_code(&ex, "something went wrong").id, "explain-unknown");
        assert!(!ex.fix.contains("aoai-doctor check"), "{}", ex.fix);
    }

    #[test]
    fn openai_python_rendering() {
        let t = "openai.AuthenticationError: Error code: 401 - {'error': {'code': 'PermissionDenied', 'message': 'Principal does not have access to API/Operation.'}}";
        let ex = explain(None, &[], t);
        assert_eq!(ex.diagnosis, Diagnosis::RoleMissingOrPropagating);
        assert_eq!(ex.evidence["http_status"], 401);
    }

    #[test]
    fn tenant_mismatch_sdk_rendering() {
        let t = "azure.core.exceptions.HttpResponseError: (Tenant provided in token does not match resource token) Token tenant 33e01921-4d64-4f8c-a055-5bdaffd5e33d does not match resource tenant.\nCode: Tenant provided in token does not match resource token";
        let ex = explain(None, &[], t);
        assert_eq!(ex.diagnosis, Diagnosis::WrongTenant);
        assert_eq!(ex.evidence["token_tenant"], "33e01921-4d64-4f8c-a055-5bdaffd5e33d");
    }

    #[test]
    fn unrecognised_is_unknown_and_status_is_kept() {
        let ex = explain(None, &[], "the printer is on fire");
        assert_eq!(ex.diagnosis, Diagnosis::Unknown);
        let ex = explain(None, &[], "Status code 418 teapot");
        assert_eq!(ex.diagnosis, Diagnosis::Unknown);
        assert_eq!(ex.evidence["http_status"], 418);
        assert_eq!(explain(None, &[], "").diagnosis, Diagnosis::Unknown);
        assert_eq!(explain(None, &[], "{}").diagnosis, Diagnosis::Unknown);
    }

    #[test]
    fn pasted_tokens_never_come_back() {
        let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2V4YW1wbGUifQ.c2lnbmF0dXJlc2lnbmF0dXJl";
        for t in [
            format!(
                "Authorization: Bearer {jwt}\nError code: 401 - {{'statusCode': 401, 'message': 'Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.'}}"
            ),
            format!("{{\"accessToken\": \"{jwt}\", \"expiresOn\": \"2024-01-01 00:00:00.000000\", \"tenant\": \"t\"}}"),
            format!("weird failure with token {jwt} inside"),
        ] {
            let ex = explain(None, &[], &t);
            let out = serde_json::to_string(&ex).unwrap();
            assert!(!out.contains("eyJ0eXAi"), "{out}");
        }
    }
}
