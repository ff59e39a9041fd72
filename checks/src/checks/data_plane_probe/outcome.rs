//! What the probe found, as types: why no call was made ([`NotSent`]), and what one call
//! answered ([`CallOutcome`]). An [`Attempt`] classifies its response once, when it is made;
//! the wait loop and the judge read the outcome, never the body again.

use crate::azure::dataplane::{ProbeError, ProbeResponse};
use crate::azure::http::Failure;
use crate::context::ProbeKind;
use crate::diagnose::dataplane::{
    AuthPassedReason, DataPlaneKind, DataPlaneVerdict, classify_response, retry_after_from_headers,
    retry_after_from_message,
};
use crate::diagnose::redact;
use std::time::Duration;

/// Why the probe made no call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotSent {
    /// No access token to send.
    NoToken,
    /// `--probe none`.
    Disabled,
    /// No endpoint from the `endpoint` check nor the target.
    NoEndpoint,
    /// Plain http:// to a host that is not loopback: a bearer token is never sent there.
    InsecureHttp { base: url::Url },
    /// The kind of call needs a deployment and none was given.
    NoDeployment { kind: ProbeKind },
}

/// How the data plane turned the token down with a 401 other than PermissionDenied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthorized {
    /// Missing, malformed, wrong audience or expired: the token's claims tell which.
    TokenRejected,
    /// "invalid subscription key or wrong API endpoint" although a token was sent.
    KeyOrWrongEndpoint,
}

/// What one call answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// 2xx from Azure OpenAI.
    Ok,
    /// Refused after authentication and the role check passed.
    AuthPassed(AuthPassedReason),
    /// 400 OperationNotSupported: the deployment's model does not do this operation — the
    /// service judged it against the model, which it does only after authorising.
    OperationNotSupported {
        message: String,
    },
    /// 429: access works, the deployment is throttled.
    RateLimited {
        retry_after_secs: Option<u64>,
    },
    /// 401 PermissionDenied: the token is fine, the principal lacks the data action.
    PermissionDenied {
        principal_id: Option<String>,
        data_action: Option<String>,
    },
    Unauthorized(Unauthorized),
    /// 400: the token comes from another tenant than the resource's.
    WrongTenant {
        token_tenant: Option<String>,
    },
    /// 403 AuthenticationTypeDisabled: a key reached a resource that accepts only Entra ID.
    KeyAuthOnly {
        fix: String,
    },
    /// 403 from a network rule.
    NetworkBlocked {
        policy_id: Option<String>,
        message: String,
    },
    /// 404 DeploymentNotFound.
    DeploymentNotFound,
    /// The path or the api-version is not accepted.
    BadPath {
        message: String,
    },
    /// An Entra token sent to a regional endpoint.
    RegionalEndpoint {
        summary: String,
        fix: String,
        commands: Vec<String>,
    },
    /// An HTML page answered (a proxy, a captive portal), not Azure OpenAI.
    Html {
        title: Option<String>,
    },
    /// 5xx.
    ServerError {
        message: String,
    },
    /// An answer the doctor does not recognise.
    Unrecognized {
        code: String,
        message: String,
    },
    /// The connection was accepted but no complete answer came in time.
    TimedOut(Duration),
    /// Refused, reset, DNS, TLS, or not HTTP at all.
    Transport {
        kind: Failure,
        message: String,
    },
    /// The request could not be built.
    Setup(String),
}

/// One call, classified once.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub outcome: CallOutcome,
    /// The response, when one came.
    pub response: Option<ProbeResponse>,
    /// What the classifier read from the answer (error code and message, ids), for the report.
    pub evidence: serde_json::Map<String, serde_json::Value>,
}

impl Attempt {
    pub fn of(answer: Result<ProbeResponse, ProbeError>) -> Self {
        match answer {
            Ok(response) => {
                let verdict = classify_response(response.status, &response.headers, &response.body);
                Attempt {
                    outcome: CallOutcome::of_response(&response, &verdict),
                    evidence: verdict.explanation.evidence,
                    response: Some(response),
                }
            }
            Err(e) => Attempt {
                outcome: CallOutcome::of_error(e),
                response: None,
                evidence: serde_json::Map::new(),
            },
        }
    }

    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status)
    }

    /// A failure that may pass: 5xx, 408, no answer in time, a broken connection.
    pub fn transient(&self) -> bool {
        match (&self.response, &self.outcome) {
            (Some(r), _) => r.status >= 500 || r.status == 408,
            (None, CallOutcome::TimedOut(_) | CallOutcome::Transport { .. }) => true,
            (None, _) => false,
        }
    }

    /// The server's Retry-After (header, or "retry after N seconds" in the body).
    pub fn retry_after_secs(&self) -> Option<u64> {
        let r = self.response.as_ref()?;
        retry_after_from_headers(&r.headers).or_else(|| retry_after_from_message(&r.body))
    }

    /// `200`, or why there was no answer, for progress lines.
    pub fn status_text(&self) -> String {
        match (&self.response, &self.outcome) {
            (Some(r), _) => r.status.to_string(),
            (None, CallOutcome::TimedOut(d)) => ProbeError::TimedOut(*d).describe(),
            (None, CallOutcome::Transport { message, .. } | CallOutcome::Setup(message)) => message.clone(),
            (None, _) => "no answer".to_string(),
        }
    }
}

impl CallOutcome {
    /// The outcome of a response, from its classification. The order matters: a 400
    /// OperationNotSupported is proof of access whatever the classifier made of it, and an
    /// HTML page is named only when nothing more specific was recognised.
    pub fn of_response(resp: &ProbeResponse, verdict: &DataPlaneVerdict) -> Self {
        let text = |key: &str| {
            verdict
                .explanation
                .evidence
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let (error_code, message) = (text("error_code"), text("error_message"));
        let ex = &verdict.explanation;
        match &verdict.kind {
            DataPlaneKind::Ok => CallOutcome::Ok,
            DataPlaneKind::AuthPassed(reason) => CallOutcome::AuthPassed(reason.clone()),
            _ if resp.status == 400 && error_code.eq_ignore_ascii_case("OperationNotSupported") => {
                CallOutcome::OperationNotSupported { message }
            }
            DataPlaneKind::RateLimited {
                retry_after_header_secs,
                retry_after_message_secs,
            } => CallOutcome::RateLimited {
                retry_after_secs: retry_after_header_secs.or(*retry_after_message_secs),
            },
            DataPlaneKind::RoleMissing {
                principal_id,
                data_action,
                ..
            } => CallOutcome::PermissionDenied {
                principal_id: principal_id.clone(),
                data_action: data_action.clone(),
            },
            DataPlaneKind::TokenRejected { .. } => CallOutcome::Unauthorized(Unauthorized::TokenRejected),
            DataPlaneKind::ApiKeyRejected => CallOutcome::Unauthorized(Unauthorized::KeyOrWrongEndpoint),
            DataPlaneKind::WrongTenant { token_tenant } => CallOutcome::WrongTenant {
                token_tenant: token_tenant.clone(),
            },
            DataPlaneKind::KeyAuthDisabled => CallOutcome::KeyAuthOnly { fix: ex.fix.clone() },
            DataPlaneKind::NetworkBlocked { policy_id } => CallOutcome::NetworkBlocked {
                policy_id: policy_id.clone(),
                message,
            },
            DataPlaneKind::DeploymentNotFound => CallOutcome::DeploymentNotFound,
            DataPlaneKind::BadPathOrApiVersion => CallOutcome::BadPath { message },
            DataPlaneKind::RegionalEndpoint => CallOutcome::RegionalEndpoint {
                summary: ex.summary.clone(),
                fix: ex.fix.clone(),
                commands: ex.commands.clone(),
            },
            _ if resp.is_html() || verdict.kind == DataPlaneKind::NotAzureOpenAi => CallOutcome::Html {
                title: html_title(&resp.body),
            },
            DataPlaneKind::ServerError => CallOutcome::ServerError { message },
            _ => CallOutcome::Unrecognized {
                code: error_code,
                message,
            },
        }
    }

    pub fn of_error(e: ProbeError) -> Self {
        match e {
            ProbeError::TimedOut(d) => CallOutcome::TimedOut(d),
            ProbeError::Transport { kind, message } => CallOutcome::Transport { kind, message },
            ProbeError::Setup(m) => CallOutcome::Setup(m),
        }
    }
}

/// The `<title>` of an HTML page, whitespace folded, at most 80 characters, redacted.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(status: u16, headers: &[(&str, &str)], body: &str) -> Attempt {
        Attempt::of(Ok(ProbeResponse {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.into(),
            truncated: false,
            elapsed: Duration::from_millis(5),
        }))
    }

    fn outcome(status: u16, body: &str) -> CallOutcome {
        attempt(status, &[], body).outcome
    }

    #[test]
    fn each_answer_has_its_outcome() {
        assert_eq!(outcome(200, "{}"), CallOutcome::Ok);
        assert_eq!(
            outcome(
                401,
                r#"{"error":{"code":"PermissionDenied","message":"The principal `0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70` lacks the required data action `Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action` to perform `POST /openai/deployments/{deployment-id}/chat/completions` operation."}}"#
            ),
            CallOutcome::PermissionDenied {
                principal_id: Some("0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70".into()),
                data_action: Some(
                    "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action".into()
                ),
            }
        );
        assert_eq!(
            outcome(
                401,
                r#"{"error":{"code":"401","message":"Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."}}"#
            ),
            CallOutcome::Unauthorized(Unauthorized::TokenRejected)
        );
        assert_eq!(
            outcome(
                401,
                r#"{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}}"#
            ),
            CallOutcome::Unauthorized(Unauthorized::KeyOrWrongEndpoint)
        );
        assert!(matches!(
            outcome(
                403,
                r#"{"error":{"code":"AuthenticationTypeDisabled","message":"Key based authentication is disabled for this resource."}}"#
            ),
            CallOutcome::KeyAuthOnly { .. }
        ));
        assert_eq!(
            outcome(404, r#"{"error":{"code":"DeploymentNotFound","message":"x"}}"#),
            CallOutcome::DeploymentNotFound
        );
        assert_eq!(
            outcome(
                400,
                r#"{"error":{"code":"OperationNotSupported","message":"The embeddings operation does not work with the specified model."}}"#
            ),
            CallOutcome::OperationNotSupported {
                message: "The embeddings operation does not work with the specified model.".into()
            }
        );
        assert_eq!(
            outcome(503, "upstream connect error"),
            CallOutcome::ServerError { message: String::new() }
        );
        assert_eq!(
            outcome(418, r#"{"error":{"code":"Teapot","message":"short and stout"}}"#),
            CallOutcome::Unrecognized {
                code: "Teapot".into(),
                message: "short and stout".into()
            }
        );
    }

    #[test]
    fn rate_limits_take_the_header_before_the_message() {
        let a = attempt(
            429,
            &[("retry-after", "7")],
            r#"{"error":{"code":"429","message":"Please retry after 86400 seconds."}}"#,
        );
        assert_eq!(
            a.outcome,
            CallOutcome::RateLimited {
                retry_after_secs: Some(7)
            }
        );
        assert_eq!(a.retry_after_secs(), Some(7));
    }

    #[test]
    fn html_is_named_only_when_nothing_more_specific_was_recognised() {
        let a = attempt(
            500,
            &[("content-type", "text/html")],
            "<html><head><title>\n  Gateway \n Error </title></head></html>",
        );
        assert_eq!(
            a.outcome,
            CallOutcome::Html {
                title: Some("Gateway Error".into())
            }
        );
        assert!(a.transient());
        // A network rule recognised by its header wins over the page it came with.
        let a = attempt(
            403,
            &[("content-type", "text/html"), ("policy-id", "p1")],
            "<html><title>Denied</title></html>",
        );
        assert!(matches!(a.outcome, CallOutcome::NetworkBlocked { policy_id: Some(ref p), .. } if p == "p1"));
    }

    #[test]
    fn errors_become_outcomes_and_only_passing_ones_are_transient() {
        let timed_out = Attempt::of(Err(ProbeError::TimedOut(Duration::from_secs(2))));
        assert_eq!(timed_out.outcome, CallOutcome::TimedOut(Duration::from_secs(2)));
        assert!(timed_out.transient());
        assert_eq!(timed_out.status_text(), "no answer within 2.0s");
        let setup = Attempt::of(Err(ProbeError::Setup("bad method".into())));
        assert!(!setup.transient());
        assert!(!attempt(401, &[], "").transient());
        assert!(attempt(408, &[], "").transient());
    }
}
