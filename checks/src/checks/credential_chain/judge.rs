//! The pure judge of `credential-chain`: from an environment snapshot, the Azure CLI state,
//! the SDK and what the chain's probes answered, which link would the app use, and what is
//! worth saying about the links before it. No I/O: a link whose state needs an answer from
//! the outside (IMDS, `azd`, JS's token attempts) makes the judge ask for that probe, and the
//! check runs it and judges again.

use crate::azure::credentials::{AcquireFailure, Acquired, AzdAnswer};
use crate::chain::{self, EnvConfig, Link, MiSource, Selection, WorkloadConfig};
use crate::codes;
use crate::context::{Environment, Sdk};
use crate::diagnose::managed_identity::{MiOutcome, classify_mi_response};
use crate::facts::{CliState, CredentialConfig, CredentialFacts, TokenInfo};
use crate::model::{Finding, Judgement, Status};
use crate::secret::Secret;
use serde_json::json;
use std::path::PathBuf;

/// What the chain reads from the environment, read once.
#[derive(Debug, Clone)]
pub struct ChainEnv {
    /// `AZURE_TOKEN_CREDENTIALS`, as set (not trimmed: Go does not trim).
    pub token_credentials: Option<String>,
    pub environment: EnvConfig,
    /// `AZURE_CLIENT_SECRET`, for the client-secret configuration.
    pub client_secret: Option<Secret>,
    /// Whether `AZURE_CLIENT_CERTIFICATE_PATH` names an existing file.
    pub certificate_exists: bool,
    pub workload: WorkloadConfig,
    pub mi_source: MiSource,
    /// `AZURE_CLIENT_ID`: selects a user-assigned managed identity.
    pub client_id: Option<String>,
}

impl ChainEnv {
    pub fn read(env: &dyn Environment) -> Self {
        let environment = chain::environment_config(env);
        let certificate_exists = match &environment {
            EnvConfig::Certificate { path, .. } => env.exists(path),
            _ => false,
        };
        ChainEnv {
            token_credentials: env.var("AZURE_TOKEN_CREDENTIALS"),
            client_secret: env.var("AZURE_CLIENT_SECRET").map(Secret::new),
            certificate_exists,
            workload: chain::workload_config(env),
            mi_source: chain::mi_source(env),
            client_id: env.var_set("AZURE_CLIENT_ID"),
            environment,
        }
    }
}

/// What IMDS answered: the availability probe, then (when IMDS is there) the token request.
#[derive(Debug, Clone)]
pub enum ImdsAnswer {
    Absent(String),
    NotImds { status: u16, excerpt: String },
    Token(Acquired),
}

/// The answers of the chain's probes so far; `None`: not asked (yet).
#[derive(Debug, Clone, Default)]
pub struct Probes {
    /// JS only: the workload-identity token (JS falls through on its failure).
    pub workload_token: Option<Acquired>,
    /// JS only: the App Service managed-identity token.
    pub app_service_token: Option<Acquired>,
    pub imds: Option<ImdsAnswer>,
    pub azd: Option<AzdAnswer>,
}

/// A probe the judge needs before it can go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeRequest {
    WorkloadToken {
        tenant: String,
        client_id: String,
        token_file: PathBuf,
    },
    AppServiceToken {
        client_id: Option<String>,
    },
    Imds {
        client_id: Option<String>,
    },
    Azd,
}

/// Everything the judge looks at.
#[derive(Debug, Clone)]
pub struct ChainInput<'a> {
    pub sdk: Sdk,
    /// `--credential`: one link forced, or the chain.
    pub forced: Option<Link>,
    pub env: &'a ChainEnv,
    pub cli: Option<&'a CliState>,
    pub in_container: bool,
    /// The data-plane scope (for the `az login --scope` advice).
    pub scope: &'a str,
    /// The IMDS base the probe asked (for the impostor finding).
    pub imds_url: &'a str,
    pub probes: &'a Probes,
}

/// The verdict: the judgement and the credential the app would use, when there is one.
#[derive(Debug)]
pub struct Verdict {
    pub judgement: Judgement,
    pub chosen: Option<CredentialFacts>,
}

/// Judges the chain, or asks for the probe it needs first.
pub fn judge(input: &ChainInput) -> Result<Verdict, ProbeRequest> {
    let sdk = input.sdk;
    let selection = match input.forced {
        Some(link) => Selection::Narrowed {
            links: vec![link],
            value: format!("--credential {}", link.id()),
        },
        None => chain::select(sdk, input.env.token_credentials.as_deref()),
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
            let judgement = Judgement::new(Status::Fail, "AZURE_TOKEN_CREDENTIALS is invalid").finding(f);
            return Ok(Verdict {
                judgement,
                chosen: None,
            });
        }
    };
    let walk = walk(input, links)?;
    Ok(conclude(input, &selection, walk))
}

/// The links examined in order, and where the walk stopped.
struct Walk {
    walked: Vec<serde_json::Value>,
    findings: Vec<Finding>,
    chosen: Option<CredentialFacts>,
}

fn walk(input: &ChainInput, links: Vec<Link>) -> Result<Walk, ProbeRequest> {
    let sdk = input.sdk;
    let mut w = Walk {
        walked: Vec::new(),
        findings: Vec::new(),
        chosen: None,
    };
    for link in links {
        let state = examine(input, link, &mut w.findings)?;
        let fallthrough = matches!(&state, LinkState::Failed { .. }) && chain::falls_through_on_failure(sdk, link);
        w.walked.push(json!({
            "link": link.class(sdk),
            "state": state.word(),
            "why": state.why(),
        }));
        let chosen = |config, detail, prefetched| CredentialFacts {
            link,
            name: link.class(sdk).into(),
            config,
            detail,
            prefetched,
        };
        match state {
            LinkState::Available {
                detail,
                config,
                prefetched,
            } => {
                w.chosen = Some(chosen(config, detail, prefetched));
                break;
            }
            LinkState::Failed {
                detail,
                config,
                failure,
                ..
            } if !fallthrough => {
                w.chosen = Some(chosen(config, detail, Some(Err(failure))));
                break;
            }
            LinkState::Failed { why, .. } => {
                w.findings.push(
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
    Ok(w)
}

fn conclude(input: &ChainInput, selection: &Selection, w: Walk) -> Verdict {
    let Walk {
        walked,
        mut findings,
        chosen,
    } = w;
    let evidence = json!({ "sdk": input.sdk.name(), "selection": selection_text(selection), "links": walked });
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
        let mut f = no_credential(input);
        f.message.push_str(&format!(" Tried: {}.", tried.join("; ")));
        findings.push(f);
        let judgement = Judgement::new(Status::Fail, "no credential is available here")
            .with_findings(findings)
            .evidence(evidence);
        return Verdict {
            judgement,
            chosen: None,
        };
    };
    // A configured production link hides the developer's own login from the app.
    if chosen.link.is_prod() && input.cli.is_some_and(|c| c.logged_in) && input.forced.is_none() {
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
    Verdict {
        judgement: Judgement::new(status, summary)
            .with_findings(findings)
            .evidence(evidence),
        chosen: Some(chosen),
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
        config: CredentialConfig,
        prefetched: Option<Result<TokenInfo, AcquireFailure>>,
    },
    Unavailable(String),
    /// Configured, and a real error came back: the chain stops (unless the SDK falls through).
    Failed {
        why: String,
        detail: serde_json::Value,
        config: CredentialConfig,
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

fn available(detail: serde_json::Value, config: CredentialConfig) -> LinkState {
    LinkState::Available {
        detail,
        config,
        prefetched: None,
    }
}

fn examine(input: &ChainInput, link: Link, findings: &mut Vec<Finding>) -> Result<LinkState, ProbeRequest> {
    Ok(match link {
        Link::Environment => environment(input.env, findings),
        Link::WorkloadIdentity => return workload_identity(input),
        Link::ManagedIdentity => return managed_identity(input, findings),
        Link::AzureCli => azure_cli(input.cli),
        Link::AzureDeveloperCli => match &input.probes.azd {
            None => return Err(ProbeRequest::Azd),
            Some(answer) => azd(answer),
        },
        other => LinkState::NotExamined(format!(
            "{} sign-in is not examined by the doctor",
            other.class(input.sdk)
        )),
    })
}

fn environment(env: &ChainEnv, findings: &mut Vec<Finding>) -> LinkState {
    match &env.environment {
        EnvConfig::Secret { tenant, client_id } => available(
            json!({ "source": "client secret", "tenant_id": tenant, "client_id": client_id }),
            CredentialConfig::ClientSecret {
                tenant: tenant.clone(),
                client_id: client_id.clone(),
                secret: env.client_secret.clone().unwrap_or_default(),
            },
        ),
        EnvConfig::Certificate {
            tenant,
            client_id,
            path,
        } => {
            findings.push(
                Finding::info(&codes::CHAIN_CERTIFICATE_NOT_TESTED, format!("A client certificate is configured ({}); the doctor does not sign in with certificates.", path.display()))
                    .fix("Check the certificate is uploaded to the app registration and not expired: az ad app credential list --id <client-id>."),
            );
            available(
                json!({ "source": "client certificate", "tenant_id": tenant, "client_id": client_id, "certificate_exists": env.certificate_exists }),
                CredentialConfig::Certificate {
                    tenant: tenant.clone(),
                    client_id: client_id.clone(),
                    path: path.clone(),
                },
            )
        }
        EnvConfig::UsernamePassword { client_id, username } => {
            findings.push(
                Finding::warning(&codes::CHAIN_USERNAME_PASSWORD, "AZURE_USERNAME/AZURE_PASSWORD are set: username/password sign-in is deprecated and fails once MFA is enforced.")
                    .fix("Use a service principal, workload identity or managed identity instead."),
            );
            available(
                json!({ "source": "username/password", "client_id": client_id, "username": username }),
                CredentialConfig::UsernamePassword {
                    client_id: client_id.clone(),
                    username: username.clone(),
                },
            )
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
    }
}

fn workload_identity(input: &ChainInput) -> Result<LinkState, ProbeRequest> {
    let (tenant, client_id, token_file) = match &input.env.workload {
        WorkloadConfig::Missing(missing) => {
            return Ok(LinkState::Unavailable(format!("{} not set", missing.join(", "))));
        }
        WorkloadConfig::Complete {
            tenant,
            client_id,
            token_file,
        } => (tenant, client_id, token_file),
    };
    let detail = json!({ "source": "federated token file", "tenant_id": tenant, "client_id": client_id, "token_file": token_file.display().to_string() });
    let config = CredentialConfig::WorkloadIdentity {
        tenant: tenant.clone(),
        client_id: client_id.clone(),
        token_file: token_file.clone(),
    };
    if input.sdk != Sdk::Js {
        return Ok(available(detail, config));
    }
    // JS treats a failure here as "unavailable": we must try to know.
    match &input.probes.workload_token {
        None => Err(ProbeRequest::WorkloadToken {
            tenant: tenant.clone(),
            client_id: client_id.clone(),
            token_file: token_file.clone(),
        }),
        Some(got) => Ok(available_or_failed(detail, config, got.clone())),
    }
}

fn available_or_failed(detail: serde_json::Value, config: CredentialConfig, got: Acquired) -> LinkState {
    match got {
        Ok(t) => LinkState::Available {
            detail,
            config,
            prefetched: Some(Ok(t)),
        },
        Err(failure) => LinkState::Failed {
            why: failure.describe(),
            detail,
            config,
            failure,
        },
    }
}

fn azure_cli(cli: Option<&CliState>) -> LinkState {
    match cli {
        None => LinkState::Unavailable("not examined (the azure-cli check did not run)".into()),
        Some(cli) if !cli.installed => LinkState::Unavailable("az is not on PATH".into()),
        Some(cli) => match &cli.token {
            Some(t) => LinkState::Available {
                detail: json!({ "source": cli.user.clone().unwrap_or_else(|| "az login".into()), "tenant_id": cli.tenant_id }),
                config: CredentialConfig::AzureCli,
                prefetched: Some(Ok(t.clone())),
            },
            None => LinkState::Unavailable(cli.problem.clone().unwrap_or_else(|| "no usable login".into())),
        },
    }
}

fn azd(answer: &AzdAnswer) -> LinkState {
    match answer {
        AzdAnswer::NotInstalled => LinkState::Unavailable("azd is not on PATH".into()),
        AzdAnswer::Token(t) => LinkState::Available {
            detail: json!({ "source": "azd auth login" }),
            config: CredentialConfig::AzureDeveloperCli,
            prefetched: Some(Ok(t.clone())),
        },
        AzdAnswer::NoToken => LinkState::Unavailable("azd printed no token".into()),
        AzdAnswer::Failed { stderr, .. } => LinkState::Unavailable(crate::diagnose::redact::redact(
            stderr.lines().next().unwrap_or("azd failed"),
        )),
        AzdAnswer::DidNotAnswer(e) => LinkState::Unavailable(format!(
            "azd did not answer: {}",
            AcquireFailure::from(e.clone()).describe()
        )),
    }
}

fn managed_identity(input: &ChainInput, findings: &mut Vec<Finding>) -> Result<LinkState, ProbeRequest> {
    let client_id = input.env.client_id.clone();
    let source = input.env.mi_source;
    let detail = json!({ "source": source.name(), "client_id": client_id });
    let config = CredentialConfig::ManagedIdentity {
        source,
        client_id: client_id.clone(),
    };
    match source {
        MiSource::AppService if input.sdk == Sdk::Js => match &input.probes.app_service_token {
            None => Err(ProbeRequest::AppServiceToken { client_id }),
            Some(got) => Ok(available_or_failed(detail, config, got.clone())),
        },
        MiSource::AppService => Ok(available(detail, config)),
        MiSource::Imds => match &input.probes.imds {
            None => Err(ProbeRequest::Imds { client_id }),
            Some(answer) => Ok(imds(input, answer, detail, config, findings)),
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
            Ok(LinkState::Failed {
                why: format!("{} not examined", other.name()),
                detail,
                config,
                failure: AcquireFailure::Setup(format!(
                    "the {} managed-identity source is not examined by the doctor",
                    other.name()
                )),
            })
        }
    }
}

fn imds(
    input: &ChainInput,
    answer: &ImdsAnswer,
    detail: serde_json::Value,
    config: CredentialConfig,
    findings: &mut Vec<Finding>,
) -> LinkState {
    match answer {
        ImdsAnswer::Absent(why) => LinkState::Unavailable(format!(
            "no IMDS endpoint answered ({why}): not on an Azure VM/VMSS/AKS node"
        )),
        ImdsAnswer::NotImds { status, excerpt } => {
            findings.push(
                Finding::info(
                    &codes::CHAIN_IMDS_IMPOSTOR,
                    format!("Something that is not IMDS answered at {} (HTTP {status}: {}).", input.imds_url, crate::diagnose::redact::redact(excerpt)),
                )
                .fix("Docker Desktop and some proxies answer for 169.254.169.254. Managed identity does not exist here; use another credential (see container-credentials)."),
            );
            LinkState::Unavailable(format!("HTTP {status} from something that is not IMDS"))
        }
        // The SDKs make the real request next; a 400 "no identity" is "unavailable"
        // (system-assigned), anything else is a failure that stops the chain.
        ImdsAnswer::Token(Ok(t)) => LinkState::Available {
            detail,
            config,
            prefetched: Some(Ok(t.clone())),
        },
        ImdsAnswer::Token(Err(AcquireFailure::Http { status, headers, body })) => {
            imds_refused(input, (*status, headers, body), detail, config, findings)
        }
        ImdsAnswer::Token(Err(failure)) => LinkState::Failed {
            why: failure.describe(),
            detail,
            config,
            failure: failure.clone(),
        },
    }
}

/// IMDS answered the token request with an error: "no such identity" is unavailable to the
/// chain (except a user-assigned one in Go), anything else a failure that stops it.
fn imds_refused(
    input: &ChainInput,
    (status, headers, body): (u16, &[(String, String)], &str),
    detail: serde_json::Value,
    config: CredentialConfig,
    findings: &mut Vec<Finding>,
) -> LinkState {
    let verdict = classify_mi_response(status, headers, body);
    let failure = AcquireFailure::Http {
        status,
        headers: headers.to_vec(),
        body: body.to_string(),
    };
    let client_id = input.env.client_id.clone();
    let user_assigned = client_id.is_some();
    if verdict.outcome != MiOutcome::IdentityNotFound || (user_assigned && input.sdk == Sdk::Go) {
        return LinkState::Failed {
            why: verdict.explanation.summary.clone(),
            detail,
            config,
            failure,
        };
    }
    if !user_assigned {
        return LinkState::Unavailable("IMDS answered, but no managed identity is assigned to this machine".into());
    }
    // Unavailable to the chain, but worth saying: the id is wrong.
    let client_id = client_id.unwrap_or_default();
    findings.push(
        Finding::error(&codes::TOKEN_MI_IDENTITY_NOT_FOUND, format!("IMDS has no managed identity with client id {client_id} (from AZURE_CLIENT_ID)."))
            .fix("Assign that user-assigned identity to this VM / VMSS / node pool, or set AZURE_CLIENT_ID to the client id of an identity that is assigned.")
            .command("az vm identity show -g <resource-group> -n <vm> --query userAssignedIdentities")
            .command("az vm identity assign -g <resource-group> -n <vm> --identities <identity-resource-id>"),
    );
    LinkState::Unavailable(format!(
        "IMDS has no identity with client id {client_id} (AZURE_CLIENT_ID)"
    ))
}

/// Nothing worked: say what would, for where the app runs.
fn no_credential(input: &ChainInput) -> Finding {
    let f = Finding::error(
        &codes::CHAIN_NO_CREDENTIAL,
        "No credential in the chain is available: the app cannot get a token here.",
    );
    if input.in_container {
        f.fix("Inside a container, pass a service principal (or use workload / managed identity on the Azure host). The container-credentials check lists the options.")
            .command("docker run -e AZURE_TENANT_ID -e AZURE_CLIENT_ID -e AZURE_CLIENT_SECRET …")
    } else {
        f.fix("On a developer machine, log in with the Azure CLI; in Azure, enable a managed identity on the host; in CI, use workload identity federation or a service principal.")
            .command(format!("az login --scope {}", input.scope))
    }
}
