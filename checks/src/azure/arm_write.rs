//! The one write the doctor ever makes: `PUT {scope}/providers/Microsoft.Authorization/
//! roleAssignments/{name}?api-version=2022-04-01` for `aoai-doctor fix`. The name is
//! deterministic, so the PUT is idempotent and a timed-out attempt may be repeated; 429s are
//! retried after their Retry-After (capped), everything within a fixed number of attempts.
//! The bearer token goes only to the ARM origin the caller gives.

use super::arm::AUTHORIZATION_API;
use super::http;
use crate::fix::Plan;
use crate::secret::Secret;
use std::time::Duration;
use url::Url;

/// At most this many attempts of the PUT (first + retries after 429 or no answer).
const MAX_ATTEMPTS: u32 = 3;
/// A 429's Retry-After is honoured up to this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);
const MAX_BODY: usize = 256 * 1024;

/// How the write ended.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome {
    /// 200/201: the assignment exists under the planned name (ARM's `createdOn`, when sent).
    Created { created_on: Option<String> },
    /// 409 RoleAssignmentExists: the same role for the same principal at the scope, under
    /// another name; ARM's message (it names the existing id).
    AlreadyExists { message: String },
}

/// Why the write failed.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteFailure {
    /// ARM answered with an error status (after the bounded 429 retries for 429).
    Status {
        status: u16,
        code: Option<String>,
        message: String,
        /// A `WWW-Authenticate` with `claims=` (a claims challenge: MFA, fresh sign-in).
        claims_challenge: bool,
        attempts: u32,
    },
    /// No answer within the limit, on every attempt.
    TimedOut { limit: Duration, attempts: u32 },
    /// Connection failure (DNS, refused, TLS), described.
    Transport { message: String, attempts: u32 },
}

impl WriteFailure {
    pub fn describe(&self) -> String {
        match self {
            WriteFailure::Status {
                status,
                code,
                message,
                attempts,
                ..
            } => {
                let code = code.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
                let msg: String = message.chars().take(400).collect();
                let tries = if *attempts > 1 {
                    format!(" (after {attempts} attempts)")
                } else {
                    String::new()
                };
                crate::diagnose::redact(&format!("HTTP {status}{code}: {msg}{tries}"))
            }
            WriteFailure::TimedOut { limit, attempts } => {
                format!(
                    "no answer within {} ({attempts} attempts)",
                    crate::diagnose::duration::time_limit(*limit)
                )
            }
            WriteFailure::Transport { message, attempts } => {
                crate::diagnose::redact(&format!("{message} ({attempts} attempts)"))
            }
        }
    }
}

/// The request body ARM documents (`principalType` set: a just-created identity otherwise
/// meets PrincipalNotFound while the directory replicates).
pub fn body(plan: &Plan) -> serde_json::Value {
    serde_json::json!({
        "properties": {
            "roleDefinitionId": plan.role_definition_id,
            "principalId": plan.principal_id,
            "principalType": plan.principal_type,
            "description": plan.description,
        }
    })
}

pub fn url(arm_base: &Url, plan: &Plan) -> Url {
    let mut u = arm_base.clone();
    let prefix = arm_base.path().trim_end_matches('/');
    u.set_path(&format!("{prefix}{}", plan.assignment_id));
    u.set_query(Some(&format!("api-version={AUTHORIZATION_API}")));
    u
}

/// PUTs the planned assignment.
pub async fn put_role_assignment(
    client: &reqwest::Client,
    arm_base: &Url,
    token: &Secret,
    plan: &Plan,
    limit: Duration,
) -> Result<WriteOutcome, WriteFailure> {
    let url = url(arm_base, plan);
    let payload = body(plan).to_string();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let request = client
            .put(url.clone())
            .bearer_auth(token.expose())
            .header("accept", "application/json")
            .header("content-type", "application/json")
            .body(payload.clone())
            .timeout(limit);
        let exchange = async {
            http::count(http::Service::Arm);
            let resp = request.send().await?;
            let status = resp.status().as_u16();
            let headers = http::headers_of(&resp);
            let (text, _) = http::read_capped(resp, MAX_BODY).await?;
            Ok::<_, reqwest::Error>((status, headers, text))
        };
        let answer = match tokio::time::timeout(limit, exchange).await {
            Err(_) => Err(WriteFailure::TimedOut { limit, attempts }),
            Ok(Err(e)) => {
                let (kind, message) = http::classify(&e);
                Err(if kind == http::Failure::Timeout {
                    WriteFailure::TimedOut { limit, attempts }
                } else {
                    WriteFailure::Transport { message, attempts }
                })
            }
            Ok(Ok(a)) => Ok(a),
        };
        let (status, headers, text) = match answer {
            // Same name, same body: repeating a PUT that got no answer is safe.
            Err(f) if attempts < MAX_ATTEMPTS => {
                tracing::debug!(failure = %f.describe(), "role-assignment PUT got no answer; retrying");
                continue;
            }
            Err(f) => return Err(f),
            Ok(a) => a,
        };
        if status == 429 && attempts < MAX_ATTEMPTS {
            let wait = retry_after(&headers)
                .unwrap_or(DEFAULT_RETRY_AFTER)
                .min(MAX_RETRY_AFTER);
            tokio::time::sleep(wait).await;
            continue;
        }
        return judge(status, &headers, &text, attempts);
    }
}

fn retry_after(headers: &[(String, String)]) -> Option<Duration> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Reads ARM's answer to the PUT.
pub fn judge(
    status: u16,
    headers: &[(String, String)],
    text: &str,
    attempts: u32,
) -> Result<WriteOutcome, WriteFailure> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    if (200..300).contains(&status) {
        let created_on = v
            .pointer("/properties/createdOn")
            .and_then(|c| c.as_str())
            .map(str::to_string);
        return Ok(WriteOutcome::Created { created_on });
    }
    let code = v.pointer("/error/code").and_then(|c| c.as_str()).map(str::to_string);
    let message = v
        .pointer("/error/message")
        .and_then(|c| c.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(300).collect());
    if status == 409
        && code
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("RoleAssignmentExists"))
    {
        return Ok(WriteOutcome::AlreadyExists { message });
    }
    let claims_challenge = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("www-authenticate") && v.to_ascii_lowercase().contains("claims="));
    Err(WriteFailure::Status {
        status,
        code,
        message,
        claims_challenge,
        attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(
            judge(201, &[], r#"{"properties":{"createdOn":"2026-01-01T00:00:00Z"}}"#, 1),
            Ok(WriteOutcome::Created {
                created_on: Some("2026-01-01T00:00:00Z".into())
            })
        );
        assert!(matches!(
            judge(
                409,
                &[],
                r#"{"error":{"code":"RoleAssignmentExists","message":"The role assignment already exists."}}"#,
                1
            ),
            Ok(WriteOutcome::AlreadyExists { .. })
        ));
        let challenge = [(
            "WWW-Authenticate".to_string(),
            r#"Bearer authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnt9fQ==""#.to_string(),
        )];
        match judge(
            401,
            &challenge,
            r#"{"error":{"code":"InvalidAuthenticationToken","message":"x"}}"#,
            1,
        ) {
            Err(WriteFailure::Status {
                claims_challenge,
                status,
                ..
            }) => assert!(claims_challenge && status == 401),
            other => panic!("{other:?}"),
        }
        match judge(
            409,
            &[],
            r#"{"error":{"code":"RoleAssignmentUpdateNotPermitted","message":"no"}}"#,
            1,
        ) {
            Err(WriteFailure::Status { code, .. }) => {
                assert_eq!(code.as_deref(), Some("RoleAssignmentUpdateNotPermitted"))
            }
            other => panic!("{other:?}"),
        }
    }
}
