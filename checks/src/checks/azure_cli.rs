//! `azure-cli`: is `az` installed, is someone logged in (as whom, tenant, subscription), and
//! can the login still get a token for the scope? `az` runs once: `get-access-token` answers
//! all of that, and its token is reused by `token` when the chain picks the CLI.

use super::Check;
use super::Outcome;
use crate::azure::{az, process::ProcError};
use crate::chain;
use crate::codes;
use crate::context::{CredentialChoice, RunContext};
use crate::diagnose::{self, Diagnosis, cli as azcli, duration::time_limit, jwt};
use crate::facts::{CliState, Fact, Facts, TokenInfo};
use crate::model::{Finding, Judgement, Status};
use crate::secret::Secret;
use async_trait::async_trait;
use serde_json::json;

pub struct AzureCliCheck;

#[async_trait]
impl Check for AzureCliCheck {
    fn id(&self) -> &'static str {
        "azure-cli"
    }
    fn title(&self) -> &'static str {
        "Azure CLI login"
    }
    fn provides(&self) -> &'static [Fact] {
        &[Fact::CliState]
    }
    async fn run(&self, ctx: &RunContext, _facts: &Facts) -> Outcome {
        let located = az::locate(ctx.env.as_ref(), "az");
        let gathered = match &located {
            None => Gathered::NotInstalled,
            Some(path) => match start_beside_arm(ctx, path).await {
                Ok(out) => Gathered::Ran(out),
                Err(ProcError::TimedOut(d)) => Gathered::TimedOut(d),
                Err(ProcError::Spawn(why)) => Gathered::SpawnFailed(why),
            },
        };
        let depends = depends_on_cli(ctx);
        // The local offset cannot be read safely in a multi-threaded process; `expires_on`
        // (CLI 2.54+) and the JWT's `exp` come first anyway.
        let utc_offset = time::UtcOffset::UTC;
        let (judgement, state) = judge(&gathered, depends, ctx.now(), utc_offset, &ctx.target.scope);
        let mut judgement = judgement;
        if let (Some(p), Some(obj)) = (&located, judgement.evidence.as_object_mut()) {
            obj.insert("path".into(), json!(p.display().to_string()));
            if let Some(dir) = ctx.env.var_set("AZURE_CONFIG_DIR") {
                obj.insert("azure_config_dir".into(), json!(dir));
            }
        }
        Outcome::with_facts(
            judgement,
            Facts {
                cli: Some(state),
                ..Default::default()
            },
        )
    }
}

/// The data-plane token call, with the ARM token's started beside it when the chain may use
/// the CLI (the role check takes that one instead of calling `az` again, later).
async fn start_beside_arm(
    ctx: &RunContext,
    az: &std::path::Path,
) -> Result<crate::azure::process::ProcOutput, ProcError> {
    if !matches!(depends_on_cli(ctx), Dependence::NotUsed(_)) {
        ctx.az_tokens.start_arm(az, ctx.timeouts.subprocess);
        // And the ARM connection, while `az` runs (the credential-chain check, which opens it
        // otherwise, waits for this one).
        ctx.early.start_arm_connection(ctx);
    }
    ctx.az_tokens.get(az, &ctx.target.scope, ctx.timeouts.subprocess).await
}

/// What running `az` gave.
#[derive(Debug, Clone)]
pub enum Gathered {
    NotInstalled,
    SpawnFailed(String),
    TimedOut(std::time::Duration),
    Ran(crate::azure::process::ProcOutput),
}

/// Does the app depend on the CLI here? Only then is a CLI problem a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dependence {
    /// `--credential azure-cli`.
    Forced,
    /// Another credential was forced, or a production link configured by variables comes
    /// first in the chain (named).
    NotUsed(String),
    /// The chain may reach the CLI.
    Maybe,
}

pub fn depends_on_cli(ctx: &RunContext) -> Dependence {
    match ctx.target.credential {
        CredentialChoice::AzureCli => Dependence::Forced,
        CredentialChoice::Auto => match chain::static_prod_link(ctx.env.as_ref()) {
            Some(link) => Dependence::NotUsed(link.class(ctx.target.sdk).to_string()),
            None => Dependence::Maybe,
        },
        other => Dependence::NotUsed(format!("--credential {}", other.name())),
    }
}

/// The pure judge.
pub fn judge(
    g: &Gathered,
    depends: Dependence,
    now: i64,
    offset: time::UtcOffset,
    scope: &str,
) -> (Judgement, CliState) {
    let mut state = CliState::default();
    let problem: Finding = match g {
        Gathered::NotInstalled => Finding::error(&codes::CLI_NOT_INSTALLED, "`az` is not on PATH.")
            .fix("Install the Azure CLI if this app should use your developer login; in a container or on an Azure host use a managed or workload identity instead.")
            .command("curl -sL https://aka.ms/InstallAzureCLIDeb | sudo bash"),
        Gathered::SpawnFailed(why) => {
            Finding::error(&codes::CLI_NOT_INSTALLED, format!("`az` is on PATH but could not be started: {why}."))
                .fix("Reinstall the Azure CLI or fix the file's permissions.")
        }
        Gathered::TimedOut(d) => {
            state.installed = true;
            state.problem = Some("timed out".into());
            let j = Judgement::new(Status::Error, format!("`az` did not answer within {} and was stopped", time_limit(*d)))
                .finding(
                    Finding::error(&codes::CLI_TIMED_OUT, format!("`az account get-access-token` did not finish within {}; it was stopped.", time_limit(*d)))
                        .fix("`az` hangs when it wants an interactive login or cannot reach Entra ID. Run it yourself to see what it waits for; log in again if asked.")
                        .command(format!("az account get-access-token --scope {scope} -o json"))
                        .command(format!("az login --scope {scope}")),
                )
                .evidence(json!({ "installed": true, "timed_out_after_ms": d.as_millis() as u64 }));
            return (j, state);
        }
        Gathered::Ran(out) => {
            state.installed = true;
            if out.exit_code == Some(0) {
                match azcli::parse_get_access_token(&out.stdout) {
                    Ok(parsed) => return logged_in(parsed, now, offset, state),
                    Err(e) => Finding::error(&codes::CLI_BAD_OUTPUT, format!("`az` exited 0 but its output is unusable: {e}."))
                        .fix("Update the Azure CLI (`az upgrade`); an extension or a wrapper script may be printing to stdout.")
                        .command("az version -o json"),
                }
            } else {
                problem_finding(&azcli::classify_az(&out.stdout, &out.stderr, out.exit_code), scope)
            }
        }
    };
    state.problem = Some(problem.message.clone());
    let installed = state.installed;
    let evidence = json!({ "installed": installed, "logged_in": false });
    let j = match depends {
        Dependence::NotUsed(by) => {
            let mut info = problem.clone();
            info.code = &codes::CLI_NOT_USED;
            info.severity = crate::model::Severity::Info;
            info.message = format!("{} Not needed here: the app gets its token from {by}.", problem.message);
            Judgement::new(Status::Pass, format!("not used ({by}); {}", short(&problem.message))).finding(info)
        }
        Dependence::Forced => Judgement::new(Status::Fail, short(&problem.message)).finding(problem),
        // The chain may still find another credential; `credential-chain` fails if none.
        Dependence::Maybe => {
            let mut w = problem;
            w.severity = crate::model::Severity::Warning;
            Judgement::new(Status::Warn, short(&w.message)).finding(w)
        }
    };
    (j.evidence(evidence), state)
}

fn short(s: &str) -> String {
    s.split(". ").next().unwrap_or(s).trim_end_matches('.').to_string()
}

/// Turns the classifier's explanation of a failed `az` into a finding with our code.
fn problem_finding(ex: &diagnose::Explanation, scope: &str) -> Finding {
    let code = match ex.diagnosis {
        Diagnosis::CliMissing => &codes::CLI_NOT_INSTALLED,
        Diagnosis::NotLoggedIn => &codes::CLI_NOT_LOGGED_IN,
        Diagnosis::TokenExpired => &codes::CLI_LOGIN_EXPIRED,
        Diagnosis::MfaOrConditionalAccess => &codes::CLI_CONDITIONAL_ACCESS,
        _ => &codes::CLI_FAILED,
    };
    let mut f = Finding::error(code, ex.summary.clone()).fix(ex.fix.clone());
    if ex.commands.is_empty() && code == &codes::CLI_NOT_LOGGED_IN {
        f = f.command(format!("az login --scope {scope}"));
    }
    for c in &ex.commands {
        f = f.command(c.clone());
    }
    f
}

fn logged_in(
    parsed: azcli::AzAccessToken,
    now: i64,
    offset: time::UtcOffset,
    mut state: CliState,
) -> (Judgement, CliState) {
    let claims = jwt::decode_claims(&parsed.access_token).ok();
    let expires = parsed
        .expires_on
        .or(claims.as_ref().and_then(|c| c.exp))
        .or(parsed.expires_unix(offset));
    state.logged_in = true;
    state.tenant_id = parsed
        .tenant
        .clone()
        .or_else(|| claims.as_ref().and_then(|c| c.tid.clone()));
    state.subscription_id = parsed.subscription.clone();
    state.user = claims.as_ref().and_then(|c| {
        c.upn
            .clone()
            .or(c.preferred_username.clone())
            .or(c.unique_name.clone())
            .or(c.appid.clone())
    });
    state.user_type = claims.as_ref().map(|c| {
        if c.idtyp.as_deref() == Some("app") || c.upn.is_none() && c.appid.is_some() && c.idtyp.is_none() {
            "servicePrincipal".to_string()
        } else {
            "user".to_string()
        }
    });
    state.token = Some(TokenInfo {
        token: Secret::new(parsed.access_token),
        expires_on: expires,
        source: "AzureCliCredential".into(),
    });
    let who = claims
        .as_ref()
        .map(|c| c.principal_summary())
        .unwrap_or_else(|| "unknown principal".into());
    let evidence = json!({
        "installed": true,
        "logged_in": true,
        "principal": who,
        "user_type": state.user_type,
        "tenant_id": state.tenant_id,
        "subscription_id": state.subscription_id,
        "token_expires_in_s": expires.map(|e| e - now),
    });
    let tenant = state.tenant_id.clone().unwrap_or_else(|| "?".into());
    (
        Judgement::new(Status::Pass, format!("logged in as {who}, tenant {tenant}")).evidence(evidence),
        state,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::process::ProcOutput;

    fn ran(code: i32, stdout: &str, stderr: &str) -> Gathered {
        Gathered::Ran(ProcOutput {
            exit_code: Some(code),
            stdout: stdout.into(),
            stderr: stderr.into(),
        })
    }
    const SCOPE: &str = "https://cognitiveservices.azure.com/.default";

    fn judge_maybe(g: Gathered) -> (Judgement, CliState) {
        judge(&g, Dependence::Maybe, 1_767_225_600, time::UtcOffset::UTC, SCOPE)
    }

    #[test]
    fn not_logged_in_warns_when_the_chain_may_need_it_and_fails_when_forced() {
        let g = ran(1, "", "ERROR: Please run 'az login' to setup account.\n");
        let (j, s) = judge_maybe(g.clone());
        assert_eq!(j.status, Status::Warn);
        assert_eq!(j.findings[0].code.id, "cli-not-logged-in");
        assert!(s.installed && !s.logged_in);
        let (j, _) = judge(&g, Dependence::Forced, 0, time::UtcOffset::UTC, SCOPE);
        assert_eq!(j.status, Status::Fail);
        let (j, _) = judge(
            &g,
            Dependence::NotUsed("ManagedIdentityCredential".into()),
            0,
            time::UtcOffset::UTC,
            SCOPE,
        );
        assert_eq!((j.status, j.findings[0].code.id), (Status::Pass, "cli-not-used"));
    }

    #[test]
    fn expired_refresh_token_and_conditional_access_are_told_apart() {
        let expired = "ERROR: AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2024-01-01 and was inactive for 90.00:00:00.\nTo re-authenticate, please run:\naz login --scope https://cognitiveservices.azure.com/.default";
        assert_eq!(
            judge_maybe(ran(1, "", expired)).0.findings[0].code.id,
            "cli-login-expired"
        );
        let ca = "ERROR: AADSTS53003: Access has been blocked by Conditional Access policies. Run az login";
        assert_eq!(
            judge_maybe(ran(1, "", ca)).0.findings[0].code.id,
            "cli-conditional-access"
        );
    }

    #[test]
    fn missing_and_hanging() {
        assert_eq!(
            judge_maybe(Gathered::NotInstalled).0.findings[0].code.id,
            "cli-not-installed"
        );
        let (j, _) = judge_maybe(Gathered::TimedOut(std::time::Duration::from_secs(2)));
        assert_eq!((j.status, j.findings[0].code.id), (Status::Error, "cli-timed-out"));
    }

    #[test]
    fn garbage_on_success_is_bad_output() {
        let (j, _) = judge_maybe(ran(0, "<html>proxy</html>", ""));
        assert_eq!(j.findings[0].code.id, "cli-bad-output");
        let (j, _) = judge_maybe(ran(0, "", ""));
        assert_eq!(j.findings[0].code.id, "cli-bad-output");
    }

    #[test]
    fn logged_in_keeps_the_token_secret_and_tolerates_na_expiry() {
        // {"alg":"none"}.{"tid":"t1","oid":"o1","upn":"ann@contoso.com","idtyp":"user","exp":1767229200}.sig
        let token = "eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ0MSIsIm9pZCI6Im8xIiwidXBuIjoiYW5uQGNvbnRvc28uY29tIiwiaWR0eXAiOiJ1c2VyIiwiZXhwIjoxNzY3MjI5MjAwfQ.c2ln";
        let out = format!(
            r#"{{"accessToken":"{token}","expiresOn":"N/A","subscription":"s1","tenant":"t1","tokenType":"Bearer"}}"#
        );
        let (j, s) = judge_maybe(ran(0, &out, ""));
        assert_eq!(j.status, Status::Pass, "{:?}", j);
        assert!(j.summary.contains("ann@contoso.com"));
        assert_eq!(s.token.as_ref().and_then(|t| t.expires_on), Some(1_767_229_200));
        assert_eq!(s.subscription_id.as_deref(), Some("s1"));
        let shown = format!("{:?} {}", s, serde_json::to_string(&j.evidence).unwrap());
        assert!(!shown.contains(token), "token leaked: {shown}");
    }
}
