//! Azure Resource Manager error bodies (and their `az` renderings).

use super::common::{self, add_basic_evidence, collect_ids, header};
use super::{Diagnosis, Explanation};
use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

/// What an ARM response means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ArmErrorKind {
    Ok,
    /// 403 `AuthorizationFailed`.
    AuthorizationFailed {
        client: Option<String>,
        object_id: Option<String>,
        action: Option<String>,
        scope: Option<String>,
    },
    /// 401 `InvalidAuthenticationTokenTenant`.
    WrongTenant {
        token_tenant: Option<String>,
        expected_tenant: Option<String>,
    },
    /// 401 `InvalidAuthenticationTokenAudience`.
    WrongAudience {
        found: Option<String>,
        allowed: Vec<String>,
    },
    /// 401 `ExpiredAuthenticationToken`.
    TokenExpired,
    /// 401 `AuthenticationFailed` / `InvalidAuthenticationToken` without more detail;
    /// `resource_tenant` from a `WWW-Authenticate` challenge when it names one.
    AuthenticationFailed {
        header_missing: bool,
        resource_tenant: Option<String>,
    },
    /// 400 `MissingApiVersionParameter` / `InvalidApiVersionParameter` / `NoRegisteredProviderFound`.
    BadApiVersion,
    /// 404 `ResourceNotFound` / `ResourceGroupNotFound` / `SubscriptionNotFound`.
    NotFound {
        code: String,
    },
    Throttled,
    Unrecognized,
}

/// The verdict on one ARM response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmVerdict {
    pub kind: ArmErrorKind,
    pub explanation: Explanation,
}

static CLIENT_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"The client '([^']*)' with object id '([^']*)'").unwrap());
static OBJECT_ID_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"with object id '([^']*)'").unwrap());
static ACTION_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"perform action '([^']*)'").unwrap());
static SCOPE_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"over scope '([^']*)'").unwrap());
static WRONG_ISSUER_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"wrong issuer '(?:https://[^/]+/)?([^/']+)/?'").unwrap());
static MUST_MATCH_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"must match the tenant '(?:https://[^/]+/)?([^/']+)/?'").unwrap());
static AUD_FOUND_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"wrong audience or resource '([^']*)'").unwrap());
static AUD_ALLOWED_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"allowed audiences? ((?:'[^']*',?\s*)+)").unwrap());
static QUOTED_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"'([^']*)'").unwrap());
static AUTH_URI_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"authorization_uri="https://[^/"]+/([0-9a-fA-F-]{36})"#).unwrap());
/// `(Code) Message` and `Code: X` as printed by azure-cli.
static CLI_CODE_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^(?:ERROR:\s*)?\(([A-Za-z]+)\)\s").unwrap());
static CLI_CODE_LINE_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^Code:\s*([A-Za-z]+)\s*$").unwrap());
static STATUS_ERRORCODE_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"ErrorCode:\s*([A-Za-z]+)").unwrap());

/// ARM error codes the doctor knows.
const ARM_CODES: [&str; 13] = [
    "AuthorizationFailed",
    "InvalidAuthenticationTokenTenant",
    "InvalidAuthenticationTokenAudience",
    "InvalidAuthenticationToken",
    "ExpiredAuthenticationToken",
    "AuthenticationFailed",
    "MissingApiVersionParameter",
    "InvalidApiVersionParameter",
    "NoRegisteredProviderFound",
    "ResourceNotFound",
    "ResourceGroupNotFound",
    "SubscriptionNotFound",
    "TooManyRequests",
];

/// The ARM error code in a body or an `az` / SDK rendering, if it is one ARM uses.
pub(crate) fn arm_code(text: &str) -> Option<String> {
    let from_body = common::parse_body(text).code;
    let candidates = [
        from_body,
        CLI_CODE_RE.captures(text).map(|c| c[1].to_string()),
        CLI_CODE_LINE_RE.captures(text).map(|c| c[1].to_string()),
        STATUS_ERRORCODE_RE.captures(text).map(|c| c[1].to_string()),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|c| ARM_CODES.iter().any(|k| k.eq_ignore_ascii_case(c)))
}

/// Classifies an ARM response.
pub fn classify_arm_response(status: u16, headers: &[(String, String)], body: &str) -> ArmVerdict {
    classify_arm_parts(Some(status), headers, body).unwrap_or_else(|| {
        let p = common::parse_body(body);
        let (kind, mut ex) = if (200..300).contains(&status) {
            (
                ArmErrorKind::Ok,
                Explanation::new(
                    Diagnosis::Ok,
                    "Azure Resource Manager accepted the call.",
                    "Nothing to fix.",
                ),
            )
        } else {
            (
                ArmErrorKind::Unrecognized,
                Explanation::unknown(format!(
                    "Azure Resource Manager answered HTTP {status} with an error the doctor does not recognise."
                )),
            )
        };
        add_basic_evidence(&mut ex, Some(status), &p);
        collect_ids(&mut ex, headers, body, p.json.as_ref());
        ArmVerdict { kind, explanation: ex }
    })
}

/// Recognises an ARM error by its code (body JSON or CLI rendering). `None` otherwise.
pub(crate) fn classify_arm_parts(status: Option<u16>, headers: &[(String, String)], text: &str) -> Option<ArmVerdict> {
    let www = header(headers, "www-authenticate").unwrap_or("");
    let code = arm_code(text)
        .or_else(|| (status == Some(401) && !www.is_empty()).then(|| "AuthenticationFailed".to_string()))?;
    let p = common::parse_body(text);
    let message = p.message.clone().unwrap_or_else(|| text.to_string());
    let kind = kind_for(&code, &message, www);
    let mut ex = explanation_for(&kind);
    add_basic_evidence(&mut ex, status, &p);
    if p.code.is_none() {
        ex.add_evidence("error_code", code.clone());
    }
    collect_ids(&mut ex, headers, text, p.json.as_ref());
    add_kind_evidence(&mut ex, &kind);
    Some(ArmVerdict { kind, explanation: ex })
}

fn kind_for(code: &str, message: &str, www: &str) -> ArmErrorKind {
    let cap = |re: &Regex| re.captures(message).map(|c| c[1].to_string());
    match code.to_ascii_lowercase().as_str() {
        "authorizationfailed" => ArmErrorKind::AuthorizationFailed {
            client: CLIENT_RE.captures(message).map(|c| c[1].to_string()),
            object_id: cap(&OBJECT_ID_RE),
            action: cap(&ACTION_RE),
            scope: cap(&SCOPE_RE),
        },
        "invalidauthenticationtokentenant" => ArmErrorKind::WrongTenant {
            token_tenant: cap(&WRONG_ISSUER_RE),
            expected_tenant: cap(&MUST_MATCH_RE),
        },
        "invalidauthenticationtokenaudience" => ArmErrorKind::WrongAudience {
            found: cap(&AUD_FOUND_RE),
            allowed: AUD_ALLOWED_RE
                .captures(message)
                .map(|c| QUOTED_RE.captures_iter(&c[1]).map(|q| q[1].to_string()).collect())
                .unwrap_or_default(),
        },
        "expiredauthenticationtoken" => ArmErrorKind::TokenExpired,
        "authenticationfailed" | "invalidauthenticationtoken" => ArmErrorKind::AuthenticationFailed {
            header_missing: common::contains_ci(message, "header is missing")
                || common::contains_ci(www, "missing 'Authorization' header"),
            resource_tenant: AUTH_URI_RE.captures(www).map(|c| c[1].to_string()),
        },
        "missingapiversionparameter" | "invalidapiversionparameter" | "noregisteredproviderfound" => {
            ArmErrorKind::BadApiVersion
        }
        "toomanyrequests" => ArmErrorKind::Throttled,
        _ => ArmErrorKind::NotFound { code: code.to_string() },
    }
}

fn explanation_for(kind: &ArmErrorKind) -> Explanation {
    match kind {
        ArmErrorKind::Ok => Explanation::new(Diagnosis::Ok, "Azure Resource Manager accepted the call.", "Nothing to fix."),
        ArmErrorKind::AuthorizationFailed { action, scope, .. } => Explanation::new(
            Diagnosis::ArmReadForbidden,
            format!(
                "Azure Resource Manager refused {} on {}.",
                action.as_deref().unwrap_or("the action"),
                scope.as_deref().unwrap_or("the scope")
            ),
            "Give the signed-in principal read access on the resource (e.g. Reader, or \
             Cognitive Services OpenAI User which includes role-assignment read), or run the doctor \
             as someone who has it. If access was just granted, sign in again to refresh the token.",
        )
        .with_commands([
            "az role assignment create --assignee-object-id <object-id> --assignee-principal-type <User|ServicePrincipal> --role Reader --scope <resource-id>",
        ]),
        ArmErrorKind::WrongTenant { expected_tenant, .. } => Explanation::new(
            Diagnosis::WrongTenant,
            "The ARM token comes from a different tenant than the subscription's.",
            "Sign in to the subscription's tenant (ARM names it) and retry.",
        )
        .with_commands([format!(
            "az login --tenant {}",
            expected_tenant.as_deref().unwrap_or("<subscription-tenant-id>")
        )]),
        ArmErrorKind::WrongAudience { found, allowed } => {
            let scope = arm_scope_from_allowed(allowed);
            Explanation::new(
                Diagnosis::WrongScopeOrAudience,
                format!(
                    "The token sent to Azure Resource Manager was issued for {}, not for ARM.",
                    found.as_deref().unwrap_or("another resource")
                ),
                format!("ARM calls need their own token for {scope} (the Azure OpenAI token is only for the data plane)."),
            )
            .with_commands([format!("az account get-access-token --scope {scope} --query expiresOn -o tsv")])
        }
        ArmErrorKind::TokenExpired => Explanation::new(
            Diagnosis::TokenExpired,
            "The ARM token has expired.",
            "Get a fresh token (sign in again if refreshing fails).",
        )
        .with_commands(["az login --tenant <tenant-id>"]),
        ArmErrorKind::AuthenticationFailed { header_missing: true, .. } => Explanation::unknown(
            "Azure Resource Manager received no bearer token (the Authorization header is missing).",
        ),
        ArmErrorKind::AuthenticationFailed { .. } => Explanation::unknown(
            "Azure Resource Manager rejected the token without saying why (absent, malformed or from another cloud); decode the token to learn more.",
        ),
        ArmErrorKind::BadApiVersion => Explanation::new(
            Diagnosis::BadApiVersionOrPath,
            "The ARM request has no (or an unsupported) api-version, or a wrong provider path.",
            "Add ?api-version=<version> supported by the resource type (e.g. 2022-04-01 for \
             Microsoft.Authorization, 2024-10-01 for Microsoft.CognitiveServices).",
        ),
        ArmErrorKind::NotFound { code } => Explanation::unknown(format!(
            "Azure Resource Manager answered {code}: the subscription, resource group or resource id is wrong or not visible to this principal."
        )),
        ArmErrorKind::Throttled => Explanation::new(
            Diagnosis::RateLimited,
            "Azure Resource Manager throttled the request.",
            "Wait and retry (honour Retry-After).",
        ),
        ArmErrorKind::Unrecognized => Explanation::unknown("The ARM response was not recognised."),
    }
}

fn add_kind_evidence(ex: &mut Explanation, kind: &ArmErrorKind) {
    match kind {
        ArmErrorKind::AuthorizationFailed {
            client,
            object_id,
            action,
            scope,
        } => {
            for (k, v) in [
                ("client", client),
                ("principal_id", object_id),
                ("action", action),
                ("scope", scope),
            ] {
                if let Some(v) = v {
                    ex.add_evidence(k, v.clone());
                }
            }
        }
        ArmErrorKind::WrongTenant {
            token_tenant,
            expected_tenant,
        } => {
            if let Some(t) = token_tenant {
                ex.add_evidence("token_tenant", t.clone());
            }
            if let Some(t) = expected_tenant {
                ex.add_evidence("expected_tenant", t.clone());
            }
        }
        ArmErrorKind::WrongAudience { found, allowed } => {
            if let Some(f) = found {
                ex.add_evidence("audience_found", f.clone());
            }
            if !allowed.is_empty() {
                ex.add_evidence("audiences_allowed", allowed.clone());
            }
        }
        ArmErrorKind::AuthenticationFailed {
            resource_tenant: Some(t),
            ..
        } => {
            ex.add_evidence("resource_tenant", t.clone());
        }
        _ => {}
    }
}

/// The ARM scope of the cloud that answered: ARM lists the audiences it accepts
/// (`https://management.core.usgovcloudapi.net/`, `https://management.usgovcloudapi.net/`);
/// the `management.` one that is not the classic `management.core.` is the scope to ask for.
/// The public cloud's when ARM named none.
fn arm_scope_from_allowed(allowed: &[String]) -> String {
    let pick = allowed
        .iter()
        .map(|a| a.trim().trim_end_matches('/'))
        .find(|a| a.starts_with("https://management.") && !a.starts_with("https://management.core."))
        .unwrap_or("https://management.azure.com");
    format!("{pick}/.default")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_client_wording_extracts_everything() {
        let body = r#"{"error":{"code":"AuthorizationFailed","message":"The client 'alice@contoso.com' with object id '053a0abe-0b3e-40a3-85c8-83f2af887382' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/read' over scope '/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a/providers/Microsoft.Authorization' or the scope is invalid."}}"#;
        let v = classify_arm_response(403, &[], body);
        assert_eq!(v.explanation.diagnosis, Diagnosis::ArmReadForbidden);
        let e = &v.explanation.evidence;
        assert_eq!(e["client"], "alice@contoso.com");
        assert_eq!(e["principal_id"], "053a0abe-0b3e-40a3-85c8-83f2af887382");
        assert_eq!(e["action"], "Microsoft.Authorization/roleAssignments/read");
        assert!(
            e["scope"]
                .as_str()
                .unwrap()
                .ends_with("/providers/Microsoft.Authorization")
        );
    }

    #[test]
    fn wrong_audience_advice_names_the_answering_clouds_arm_scope() {
        let body = |allowed: &str| {
            format!(
                r#"{{"error":{{"code":"InvalidAuthenticationTokenAudience","message":"The access token has been obtained for wrong audience or resource 'https://cognitiveservices.azure.us'. It should exactly match with one of the allowed audiences {allowed}."}}}}"#
            )
        };
        let gov = classify_arm_response(
            401,
            &[],
            &body("'https://management.core.usgovcloudapi.net/','https://management.usgovcloudapi.net/'"),
        );
        let cmd = &gov.explanation.commands[0];
        assert!(
            cmd.contains("--scope https://management.usgovcloudapi.net/.default") && !cmd.contains("azure.com"),
            "{cmd}"
        );
        assert!(
            gov.explanation
                .fix
                .contains("https://management.usgovcloudapi.net/.default")
        );
        let public = classify_arm_response(
            401,
            &[],
            &body("'https://management.core.windows.net/','https://management.azure.com/'"),
        );
        assert!(public.explanation.commands[0].contains("--scope https://management.azure.com/.default"));
    }

    #[test]
    fn wrong_tenant_names_both() {
        let body = r#"{"error":{"code":"InvalidAuthenticationTokenTenant","message":"The access token is from the wrong issuer 'https://sts.windows.net/4a4d599f-e69d-4cd8-a9e1-9882ea340fb5/'. It must match the tenant 'https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/' associated with this subscription."}}"#;
        let v = classify_arm_response(401, &[], body);
        assert_eq!(
            v.kind,
            ArmErrorKind::WrongTenant {
                token_tenant: Some("4a4d599f-e69d-4cd8-a9e1-9882ea340fb5".into()),
                expected_tenant: Some("72f988bf-86f1-41af-91ab-2d7cd011db47".into())
            }
        );
        assert!(v.explanation.commands[0].contains("72f988bf-86f1-41af-91ab-2d7cd011db47"));
    }

    #[test]
    fn www_authenticate_without_body_and_tenant_discovery() {
        let h = vec![(
            "WWW-Authenticate".to_string(),
            r#"Bearer authorization_uri="https://login.windows.net/996fe9d1-6171-40aa-945b-4c64b63bf655", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header.""#.to_string(),
        )];
        let v = classify_arm_response(401, &h, "");
        assert_eq!(
            v.kind,
            ArmErrorKind::AuthenticationFailed {
                header_missing: true,
                resource_tenant: Some("996fe9d1-6171-40aa-945b-4c64b63bf655".into())
            }
        );
        assert_eq!(v.explanation.diagnosis, Diagnosis::Unknown);
        // 401 with neither body nor challenge is not guessed.
        assert_eq!(classify_arm_response(401, &[], "").kind, ArmErrorKind::Unrecognized);
    }

    #[test]
    fn cli_rendering_code() {
        assert_eq!(
            arm_code("ERROR: (AuthorizationFailed) The client"),
            Some("AuthorizationFailed".into())
        );
        assert_eq!(
            arm_code("blah\n\nCode: ExpiredAuthenticationToken\n"),
            Some("ExpiredAuthenticationToken".into())
        );
        assert_eq!(arm_code("(SomethingElse) x"), None);
    }
}
