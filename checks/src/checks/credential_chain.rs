//! `credential-chain`: which link of `DefaultAzureCredential` (of the SDK named by `--sdk`)
//! would the app use here, and why is each earlier link unavailable? Only *unavailable* falls
//! through: a configured link that fails stops the chain (except where JS keeps walking).

use super::Check;
use crate::azure::credentials::{self, AcquireFailure};
use crate::azure::{az, imds};
use crate::chain::{self, EnvConfig, Link, MiSource, Selection, WorkloadConfig};
use crate::codes;
use crate::context::{RunContext, Sdk};
use crate::diagnose::managed_identity::{MiOutcome, classify_mi_response};
use crate::facts::{CredentialFacts, Fact, Facts, TokenInfo};
use crate::model::{Finding, Judgement, Status};
use crate::runner::Outcome;
use crate::secret::Secret;
use async_trait::async_trait;
use serde_json::json;

pub struct CredentialChainCheck;

#[async_trait]
impl Check for CredentialChainCheck {
    fn id(&self) -> &'static str {
        "credential-chain"
    }
    fn title(&self) -> &'static str {
        "DefaultAzureCredential's choice"
    }
    fn after(&self) -> &'static [Fact] {
        &[Fact::CliState, Fact::Environment]
    }
    async fn run(&self, ctx: &RunContext, facts: &Facts) -> Outcome {
        let sdk = ctx.target.sdk;
        let forced = Link::from_choice(ctx.target.credential);
        let selection = match forced {
            Some(link) => Selection::Narrowed {
                links: vec![link],
                value: format!("--credential {}", link.id()),
            },
            None => chain::select(sdk, ctx.env.var("AZURE_TOKEN_CREDENTIALS").as_deref()),
        };
        let links = match &selection {
            Selection::All => chain::order(sdk),
            Selection::Narrowed { links, .. } => links.clone(),
            Selection::Invalid { value, valid } => {
                let f = Finding::error(
                    &codes::CHAIN_SELECTION_INVALID,
                    format!("AZURE_TOKEN_CREDENTIALS='{value}' is not valid for the {} SDK: DefaultAzureCredential fails before trying anything.", sdk.name()),
                )
                .fix(format!("Use one of: {}.", valid.join(", ")))
                .command("unset AZURE_TOKEN_CREDENTIALS");
                return Outcome::new(Judgement::new(Status::Fail, "AZURE_TOKEN_CREDENTIALS is invalid").finding(f));
            }
        };

        let mut walked = Vec::new();
        let mut findings = Vec::new();
        let mut chosen: Option<CredentialFacts> = None;
        for link in links {
            let state = examine(ctx, facts, link, &mut findings).await;
            let fallthrough = matches!(&state, LinkState::Failed { .. }) && chain::falls_through_on_failure(sdk, link);
            walked.push(json!({
                "link": link.class(sdk),
                "state": state.word(),
                "why": state.why(),
            }));
            match state {
                LinkState::Available { detail, prefetched } => {
                    chosen = Some(CredentialFacts {
                        name: link.class(sdk).into(),
                        kind: link.id().into(),
                        detail,
                        prefetched,
                    });
                    break;
                }
                LinkState::Failed { detail, failure, .. } if !fallthrough => {
                    chosen = Some(CredentialFacts {
                        name: link.class(sdk).into(),
                        kind: link.id().into(),
                        detail,
                        prefetched: Some(Err(failure)),
                    });
                    break;
                }
                LinkState::Failed { why, .. } => {
                    findings.push(
                        Finding::warning(
                            &codes::CHAIN_JS_FALLS_THROUGH,
                            format!("{} failed ({why}), and JavaScript's DefaultAzureCredential silently tries the next link instead of stopping.", link.class(sdk)),
                        )
                        .fix("The app may end up authenticating as someone else (often a developer's az login) and fail later with a 401 on the data plane. Fix this link, or pass the intended credential explicitly instead of DefaultAzureCredential."),
                    );
                }
                LinkState::Unavailable(_) | LinkState::NotExamined(_) => {}
            }
        }

        let evidence = json!({ "sdk": sdk.name(), "selection": selection_text(&selection), "links": walked });
        let Some(chosen) = chosen else {
            let tried: Vec<String> = walked
                .iter()
                .filter(|l| l["state"] != "not examined")
                .map(|l| {
                    format!(
                        "{}: {}",
                        l["link"].as_str().unwrap_or(""),
                        l["why"].as_str().unwrap_or("")
                    )
                })
                .collect();
            let mut f = no_credential(ctx, facts);
            f.message.push_str(&format!(" Tried: {}.", tried.join("; ")));
            findings.push(f);
            return Outcome::new(
                Judgement::new(Status::Fail, "no credential is available here")
                    .with_findings(findings)
                    .evidence(evidence),
            );
        };
        // A configured production link hides the developer's own login from the app.
        if chain::Link::AzureCli.id() != chosen.kind
            && ["environment", "workload-identity", "managed-identity"].contains(&chosen.kind.as_str())
            && facts.cli.as_ref().is_some_and(|c| c.logged_in)
            && forced.is_none()
        {
            findings.push(Finding::info(
                &codes::CHAIN_STOPS_EARLY,
                format!(
                    "{} comes first, so the app never uses your `az login`; if {} fails, the chain stops there.",
                    chosen.name, chosen.name
                ),
            ));
        }
        let status = Judgement::status_from(&findings);
        let summary = format!("{} will be used", describe(&chosen));
        Outcome::with_facts(
            Judgement::new(status, summary)
                .with_findings(findings)
                .evidence(evidence),
            Facts {
                credential: Some(chosen),
                ..Default::default()
            },
        )
    }
}

fn describe(c: &CredentialFacts) -> String {
    match c.detail.get("source").and_then(|s| s.as_str()) {
        Some(src) => format!("{} ({src})", c.name),
        None => c.name.clone(),
    }
}

fn selection_text(s: &Selection) -> String {
    match s {
        Selection::All => "whole chain".into(),
        Selection::Narrowed { value, .. } => format!("narrowed by {value}"),
        Selection::Invalid { value, .. } => format!("invalid: {value}"),
    }
}

/// One link's state.
#[derive(Debug)]
enum LinkState {
    Available {
        detail: serde_json::Value,
        prefetched: Option<Result<TokenInfo, AcquireFailure>>,
    },
    Unavailable(String),
    /// Configured, and a real error came back: the chain stops (unless the SDK falls through).
    Failed {
        why: String,
        detail: serde_json::Value,
        failure: AcquireFailure,
    },
    NotExamined(String),
}

impl LinkState {
    fn word(&self) -> &'static str {
        match self {
            LinkState::Available { .. } => "available",
            LinkState::Unavailable(_) => "unavailable",
            LinkState::Failed { .. } => "failed",
            LinkState::NotExamined(_) => "not examined",
        }
    }
    fn why(&self) -> String {
        match self {
            LinkState::Available { detail, .. } => detail
                .get("source")
                .and_then(|s| s.as_str())
                .unwrap_or("configured")
                .to_string(),
            LinkState::Unavailable(w) | LinkState::NotExamined(w) | LinkState::Failed { why: w, .. } => w.clone(),
        }
    }
}

async fn examine(ctx: &RunContext, facts: &Facts, link: Link, findings: &mut Vec<Finding>) -> LinkState {
    let env = ctx.env.as_ref();
    let sdk = ctx.target.sdk;
    match link {
        Link::Environment => match chain::environment_config(env) {
            EnvConfig::Secret { tenant, client_id } => LinkState::Available {
                detail: json!({ "source": "client secret", "tenant_id": tenant, "client_id": client_id }),
                prefetched: None,
            },
            EnvConfig::Certificate {
                tenant,
                client_id,
                path,
            } => {
                findings.push(
                    Finding::info(&codes::CHAIN_CERTIFICATE_NOT_TESTED, format!("A client certificate is configured ({}); the doctor does not sign in with certificates.", path.display()))
                        .fix("Check the certificate is uploaded to the app registration and not expired: az ad app credential list --id <client-id>."),
                );
                LinkState::Available {
                    detail: json!({ "source": "client certificate", "tenant_id": tenant, "client_id": client_id, "certificate_exists": env.exists(&path) }),
                    prefetched: None,
                }
            }
            EnvConfig::UsernamePassword { client_id, username } => {
                findings.push(
                    Finding::warning(&codes::CHAIN_USERNAME_PASSWORD, "AZURE_USERNAME/AZURE_PASSWORD are set: username/password sign-in is deprecated and fails once MFA is enforced.")
                        .fix("Use a service principal, workload identity or managed identity instead."),
                );
                LinkState::Available {
                    detail: json!({ "source": "username/password", "client_id": client_id, "username": username }),
                    prefetched: None,
                }
            }
            EnvConfig::Incomplete { set, missing } => {
                findings.push(
                    Finding::warning(
                        &codes::CHAIN_ENV_INCOMPLETE,
                        format!("{} set but {} missing: EnvironmentCredential is skipped, so the app falls through to the next credential.", set.join(", "), missing.join(", ")),
                    )
                    .fix("Set the missing variables if the app should sign in as this service principal, or remove the leftovers.")
                    .command(format!("export {}", missing.iter().map(|m| format!("{m}=<value>")).collect::<Vec<_>>().join(" "))),
                );
                LinkState::Unavailable(format!("{} not set", missing.join(", ")))
            }
            EnvConfig::None => {
                LinkState::Unavailable("AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are not set".into())
            }
        },
        Link::WorkloadIdentity => match chain::workload_config(env) {
            WorkloadConfig::Missing(missing) => LinkState::Unavailable(format!("{} not set", missing.join(", "))),
            WorkloadConfig::Complete {
                tenant,
                client_id,
                token_file,
            } => {
                let detail = json!({ "source": "federated token file", "tenant_id": tenant, "client_id": client_id, "token_file": token_file.display().to_string() });
                if sdk == Sdk::Js {
                    // JS treats a failure here as "unavailable": we must try to know.
                    let got =
                        credentials::workload_identity(ctx, &tenant, &client_id, &token_file, &ctx.target.scope).await;
                    return available_or_failed(detail, got);
                }
                LinkState::Available {
                    detail,
                    prefetched: None,
                }
            }
        },
        Link::ManagedIdentity => managed_identity(ctx, findings).await,
        Link::AzureCli => match &facts.cli {
            None => LinkState::Unavailable("not examined (the azure-cli check did not run)".into()),
            Some(cli) if !cli.installed => LinkState::Unavailable("az is not on PATH".into()),
            Some(cli) => match &cli.token {
                Some(t) => LinkState::Available {
                    detail: json!({ "source": cli.user.clone().unwrap_or_else(|| "az login".into()), "tenant_id": cli.tenant_id }),
                    prefetched: Some(Ok(t.clone())),
                },
                None => LinkState::Unavailable(cli.problem.clone().unwrap_or_else(|| "no usable login".into())),
            },
        },
        Link::AzureDeveloperCli => azd(ctx).await,
        other => LinkState::NotExamined(format!("{} sign-in is not examined by the doctor", other.class(sdk))),
    }
}

fn available_or_failed(detail: serde_json::Value, got: credentials::Acquired) -> LinkState {
    match got {
        Ok(t) => LinkState::Available {
            detail,
            prefetched: Some(Ok(t)),
        },
        Err(failure) => LinkState::Failed {
            why: failure.describe(),
            detail,
            failure,
        },
    }
}

async fn managed_identity(ctx: &RunContext, findings: &mut Vec<Finding>) -> LinkState {
    let env = ctx.env.as_ref();
    let client_id = env.var_set("AZURE_CLIENT_ID");
    let source = chain::mi_source(env);
    let detail = json!({ "source": source.name(), "client_id": client_id });
    match source {
        MiSource::AppService => {
            if ctx.target.sdk == Sdk::Js {
                let got = credentials::app_service_managed_identity(ctx, client_id.as_deref(), &ctx.target.scope).await;
                return available_or_failed(detail, got);
            }
            LinkState::Available {
                detail,
                prefetched: None,
            }
        }
        MiSource::Imds => match imds::probe(ctx, &ctx.target.scope).await {
            imds::Probe::Absent(why) => LinkState::Unavailable(format!(
                "no IMDS endpoint answered ({why}): not on an Azure VM/VMSS/AKS node"
            )),
            imds::Probe::NotImds { status, excerpt } => {
                findings.push(
                    Finding::info(
                        &codes::CHAIN_IMDS_IMPOSTOR,
                        format!("Something that is not IMDS answered at {} (HTTP {status}: {}).", ctx.endpoints.imds, crate::diagnose::redact::redact(&excerpt)),
                    )
                    .fix("Docker Desktop and some proxies answer for 169.254.169.254. Managed identity does not exist here; use another credential (see container-credentials)."),
                );
                LinkState::Unavailable(format!("HTTP {status} from something that is not IMDS"))
            }
            imds::Probe::Imds { .. } => {
                // The SDKs make the real request next; a 400 "no identity" is "unavailable"
                // (system-assigned), anything else is a failure that stops the chain.
                let got = imds::token(ctx, client_id.as_deref(), &ctx.target.scope).await;
                match got {
                    Ok(t) => LinkState::Available {
                        detail,
                        prefetched: Some(Ok(t)),
                    },
                    Err(AcquireFailure::Http { status, headers, body }) => {
                        let verdict = classify_mi_response(status, &headers, &body);
                        let failure = AcquireFailure::Http { status, headers, body };
                        let user_assigned = client_id.is_some();
                        if verdict.outcome == MiOutcome::IdentityNotFound
                            && !(user_assigned && ctx.target.sdk == Sdk::Go)
                        {
                            if user_assigned {
                                // Unavailable to the chain, but worth saying: the id is wrong.
                                findings.push(
                                    Finding::error(&codes::TOKEN_MI_IDENTITY_NOT_FOUND, format!("IMDS has no managed identity with client id {} (from AZURE_CLIENT_ID).", client_id.clone().unwrap_or_default()))
                                        .fix("Assign that user-assigned identity to this VM / VMSS / node pool, or set AZURE_CLIENT_ID to the client id of an identity that is assigned.")
                                        .command("az vm identity show -g <resource-group> -n <vm> --query userAssignedIdentities")
                                        .command("az vm identity assign -g <resource-group> -n <vm> --identities <identity-resource-id>"),
                                );
                                LinkState::Unavailable(format!(
                                    "IMDS has no identity with client id {} (AZURE_CLIENT_ID)",
                                    client_id.unwrap_or_default()
                                ))
                            } else {
                                LinkState::Unavailable(
                                    "IMDS answered, but no managed identity is assigned to this machine".into(),
                                )
                            }
                        } else {
                            LinkState::Failed {
                                why: verdict.explanation.summary.clone(),
                                detail,
                                failure,
                            }
                        }
                    }
                    Err(failure) => LinkState::Failed {
                        why: failure.describe(),
                        detail,
                        failure,
                    },
                }
            }
        },
        other => {
            findings.push(
                Finding::warning(
                    &codes::CHAIN_MI_UNSUPPORTED,
                    format!(
                        "Managed identity comes from the {} here; the doctor cannot examine that source.",
                        other.name()
                    ),
                )
                .fix("Test from the app itself, or use the token subcommand on a token the app obtained."),
            );
            LinkState::Failed {
                why: format!("{} not examined", other.name()),
                detail,
                failure: AcquireFailure::Setup(format!(
                    "the {} managed-identity source is not examined by the doctor",
                    other.name()
                )),
            }
        }
    }
}

async fn azd(ctx: &RunContext) -> LinkState {
    let Some(path) = az::locate(ctx.env.as_ref(), "azd") else {
        return LinkState::Unavailable("azd is not on PATH".into());
    };
    match az::azd_token(&path, &ctx.target.scope, ctx.timeouts.subprocess).await {
        Ok(out) if out.exit_code == Some(0) => {
            let v: Option<serde_json::Value> = serde_json::from_str(&out.stdout).ok();
            match v.as_ref().and_then(|v| v.get("token")).and_then(|t| t.as_str()) {
                Some(t) => LinkState::Available {
                    detail: json!({ "source": "azd auth login" }),
                    prefetched: Some(Ok(TokenInfo {
                        token: Secret::new(t),
                        expires_on: None,
                        source: "AzureDeveloperCliCredential".into(),
                    })),
                },
                None => LinkState::Unavailable("azd printed no token".into()),
            }
        }
        Ok(out) => LinkState::Unavailable(crate::diagnose::redact::redact(
            out.stderr.lines().next().unwrap_or("azd failed"),
        )),
        Err(e) => LinkState::Unavailable(format!("azd did not answer: {e}")),
    }
}

/// Nothing worked: say what would, for where the app runs.
fn no_credential(ctx: &RunContext, facts: &Facts) -> Finding {
    let in_container = facts.environment.as_ref().is_some_and(|e| e.in_container());
    let scope = &ctx.target.scope;
    let mut f = Finding::error(
        &codes::CHAIN_NO_CREDENTIAL,
        "No credential in the chain is available: the app cannot get a token here.",
    );
    if in_container {
        f = f
            .fix("Inside a container, pass a service principal (or use workload / managed identity on the Azure host). The container-credentials check lists the options.")
            .command("docker run -e AZURE_TENANT_ID -e AZURE_CLIENT_ID -e AZURE_CLIENT_SECRET …");
    } else {
        f = f
            .fix("On a developer machine, log in with the Azure CLI; in Azure, enable a managed identity on the host; in CI, use workload identity federation or a service principal.")
            .command(format!("az login --scope {scope}"));
    }
    f
}
