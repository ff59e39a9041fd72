//! `container-credentials`: inside a container (or with `--container`), which credential can
//! work there — a service principal passed in, a workload identity token file, a managed
//! identity of the Azure host, an `az` login in the image — and the exact flags to pass when
//! none can. The developer's own `az login` on the host is not visible in a container.

use super::Check;
use super::Outcome;
use crate::azure::imds;
use crate::chain::{self, EnvConfig, MiSource, WorkloadConfig};
use crate::codes;
use crate::context::{Environment, RunContext};
use crate::diagnose::jwt;
use crate::facts::{CliState, CredentialFacts, EnvironmentFacts, Fact, Facts};
use crate::model::{Finding, Judgement, Status};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::json;
use std::path::Path;

pub struct ContainerCredentialsCheck;

#[async_trait]
impl Check for ContainerCredentialsCheck {
    fn id(&self) -> &'static str {
        "container-credentials"
    }
    fn title(&self) -> &'static str {
        "Credentials inside the container"
    }
    fn needs(&self) -> &'static [Fact] {
        &[Fact::Environment]
    }
    fn after(&self) -> &'static [Fact] {
        &[Fact::CliState, Fact::Credential]
    }
    async fn run(&self, ctx: &RunContext, facts: &Facts) -> Outcome {
        let Some(envf) = &facts.environment else {
            return Outcome::new(Judgement::new(Status::Skip, "no environment facts"));
        };
        if !envf.in_container() {
            return Outcome::new(Judgement::new(
                Status::Pass,
                "not in a container (pass --container yes to plan for one)",
            ));
        }
        let mut options = assess(
            ctx.env.as_ref(),
            facts.cli.as_ref(),
            facts.credential.as_ref(),
            ctx.now(),
        );
        // Only when nothing else works is it worth asking IMDS ourselves: the chain may have
        // stopped before it (or not have run).
        let imds_unknown = options
            .iter()
            .any(|o| o.link == "managed-identity" && o.state == State::NotChecked);
        if imds_unknown && !options.iter().any(|o| o.state == State::Works) {
            let seen = imds::probe(ctx, &ctx.target.scope).await;
            for o in options.iter_mut().filter(|o| o.link == "managed-identity") {
                *o = imds_option(&seen, &imds_place(&ctx.endpoints.imds));
            }
        }
        Outcome::new(judge(envf, &options, facts.credential.as_ref()))
    }
}

/// How one credential fares inside the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Works,
    /// Configured but broken (expired token file, az without a login…).
    Broken,
    /// Partly configured.
    Incomplete,
    Absent,
    /// Not looked at (an earlier credential is used).
    NotChecked,
    /// Something answered at IMDS that is not IMDS.
    Impostor,
}

#[derive(Debug, Clone, Serialize)]
pub struct CredOption {
    /// Our stable id: environment | workload-identity | managed-identity | azure-cli.
    pub link: &'static str,
    pub state: State,
    pub why: String,
}

fn opt(link: &'static str, state: State, why: impl Into<String>) -> CredOption {
    CredOption {
        link,
        state,
        why: why.into(),
    }
}

/// What each credential looks like from inside, from the environment seam and what earlier
/// checks learned. Pure.
pub fn assess(
    env: &dyn Environment,
    cli: Option<&CliState>,
    chosen: Option<&CredentialFacts>,
    now: i64,
) -> Vec<CredOption> {
    let mut out = Vec::new();
    out.push(match chain::environment_config(env) {
        EnvConfig::Secret { .. } => opt(
            "environment",
            State::Works,
            "service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are set",
        ),
        EnvConfig::Certificate { path, .. } if env.exists(&path) => opt(
            "environment",
            State::Works,
            format!("service principal with a certificate ({})", path.display()),
        ),
        EnvConfig::Certificate { path, .. } => opt(
            "environment",
            State::Broken,
            format!(
                "AZURE_CLIENT_CERTIFICATE_PATH points to {}, which is not in the container (mount it)",
                path.display()
            ),
        ),
        EnvConfig::UsernamePassword { .. } => opt(
            "environment",
            State::Works,
            "AZURE_USERNAME/AZURE_PASSWORD (deprecated; fails under MFA)",
        ),
        EnvConfig::Incomplete { set, missing } => opt(
            "environment",
            State::Incomplete,
            format!(
                "{} reached the container but {} did not",
                set.join(", "),
                missing.join(", ")
            ),
        ),
        EnvConfig::None => opt(
            "environment",
            State::Absent,
            "no AZURE_CLIENT_SECRET / AZURE_CLIENT_CERTIFICATE_PATH",
        ),
    });
    out.push(match chain::workload_config(env) {
        WorkloadConfig::Complete { token_file, .. } => federated_file(env, &token_file, now),
        WorkloadConfig::Missing(missing) if env.var_set("AZURE_FEDERATED_TOKEN_FILE").is_some() => opt(
            "workload-identity",
            State::Incomplete,
            format!("AZURE_FEDERATED_TOKEN_FILE is set but {} is not", missing.join(", ")),
        ),
        WorkloadConfig::Missing(_) => opt("workload-identity", State::Absent, "no AZURE_FEDERATED_TOKEN_FILE"),
    });
    out.push(match chain::mi_source(env) {
        MiSource::Imds if chosen.is_some_and(|c| c.kind() == "managed-identity") => {
            opt("managed-identity", State::Works, "IMDS answers with a managed identity")
        }
        MiSource::Imds => opt("managed-identity", State::NotChecked, "IMDS not examined"),
        MiSource::AppService => opt(
            "managed-identity",
            State::Works,
            "IDENTITY_ENDPOINT and IDENTITY_HEADER are set (App Service / Functions / Container Apps)",
        ),
        other => opt(
            "managed-identity",
            State::Works,
            format!("{} variables are set (not examined further)", other.name()),
        ),
    });
    out.push(match cli {
        None => opt("azure-cli", State::NotChecked, "the azure-cli check did not run"),
        Some(c) if !c.installed => opt("azure-cli", State::Absent, "no `az` in the image"),
        Some(c) if c.token.is_some() => opt(
            "azure-cli",
            State::Works,
            format!(
                "`az` is installed and logged in here{}",
                c.user.as_deref().map(|u| format!(" as {u}")).unwrap_or_default()
            ),
        ),
        Some(c) => {
            let mut why = format!(
                "`az` is installed but {}",
                c.problem.as_deref().unwrap_or("has no usable login here")
            );
            if let Some(dir) = cli_config_dir(env).filter(|d| !env.exists(d)) {
                why.push_str(&format!(
                    " ({} does not exist: no login directory is mounted)",
                    dir.display()
                ));
            }
            opt("azure-cli", State::Broken, why)
        }
    });
    out
}

/// Where `az` keeps its login: `AZURE_CONFIG_DIR`, else `~/.azure`.
fn cli_config_dir(env: &dyn Environment) -> Option<std::path::PathBuf> {
    env.var_set("AZURE_CONFIG_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| env.var_set("HOME").map(|h| Path::new(&h).join(".azure")))
}

/// The federated token file: present, a JWT, not expired. Never shows the token.
fn federated_file(env: &dyn Environment, path: &Path, now: i64) -> CredOption {
    let shown = path.display();
    let Some(content) = env.read_to_string(path) else {
        return opt(
            "workload-identity",
            State::Broken,
            format!("the token file {shown} is missing or unreadable"),
        );
    };
    match jwt::decode_claims(content.trim()) {
        Err(_) => opt(
            "workload-identity",
            State::Broken,
            format!("the token file {shown} does not hold a JWT"),
        ),
        Ok(c) => match c.exp {
            Some(exp) if exp <= now => opt(
                "workload-identity",
                State::Broken,
                format!(
                    "the token in {shown} expired {} ago (nothing refreshes it: kubelet only does in a pod)",
                    jwt::human_duration(now - exp)
                ),
            ),
            Some(exp) => opt(
                "workload-identity",
                State::Works,
                format!("token file {shown}, valid for {}", jwt::human_duration(exp - now)),
            ),
            None => opt(
                "workload-identity",
                State::Broken,
                format!("the token in {shown} has no expiry (exp)"),
            ),
        },
    }
}

/// Where IMDS was asked, for a message: the real address, or the variable that moved it (its
/// value is the user's own, and in the lab a loopback stand-in).
fn imds_place(imds: &url::Url) -> String {
    if imds.host_str() == Some("169.254.169.254") {
        imds.as_str().to_string()
    } else {
        "the address in AZURE_POD_IDENTITY_AUTHORITY_HOST".to_string()
    }
}

fn imds_option(seen: &imds::Probe, at: &str) -> CredOption {
    match seen {
        imds::Probe::Imds { .. } => opt("managed-identity", State::Works, format!("IMDS answers at {at}")),
        imds::Probe::NotImds { status, .. } => opt(
            "managed-identity",
            State::Impostor,
            format!("something that is not IMDS answers at {at} (HTTP {status})"),
        ),
        imds::Probe::Absent(why) => opt(
            "managed-identity",
            State::Absent,
            format!(
                "nothing answers at {at} ({})",
                crate::diagnose::redact(why.rsplit(": ").next().unwrap_or(why))
            ),
        ),
    }
}

fn label(link: &str) -> &'static str {
    match link {
        "environment" => "EnvironmentCredential",
        "workload-identity" => "WorkloadIdentityCredential",
        "managed-identity" => "ManagedIdentityCredential",
        _ => "AzureCliCredential",
    }
}

/// The pure judge.
pub fn judge(envf: &EnvironmentFacts, options: &[CredOption], chosen: Option<&CredentialFacts>) -> Judgement {
    let why_container = if envf.container.is_empty() {
        "--container".to_string()
    } else {
        envf.container.join(", ")
    };
    let state = |link: &str| options.iter().find(|o| o.link == link);
    let mut findings = Vec::new();

    if let Some(o) = state("environment").filter(|o| matches!(o.state, State::Incomplete | State::Broken)) {
        findings.push(
            Finding::warning(&codes::CONTAINER_ENV_INCOMPLETE, format!("Service principal: {}.", o.why))
                .fix("`docker run -e NAME` copies a variable only when it is set on the host; set all three there (or use --env-file).")
                .command("docker run -e AZURE_TENANT_ID -e AZURE_CLIENT_ID -e AZURE_CLIENT_SECRET IMAGE"),
        );
    }
    if let Some(o) = state("workload-identity").filter(|o| matches!(o.state, State::Broken | State::Incomplete)) {
        let mut f = Finding::error(
            &codes::CONTAINER_FEDERATED_TOKEN,
            format!("Workload identity: {}.", o.why),
        );
        f = if envf.kubernetes {
            f.fix("On AKS the webhook mounts and refreshes the token: label the pod azure.workload.identity/use=\"true\" and annotate its service account with the client id.")
                .command("kubectl get pod POD -o jsonpath='{.spec.volumes}'")
        } else {
            f.fix("Outside Kubernetes nothing refreshes a copied token file (it lives about an hour): use a service principal or managed identity instead.")
        };
        findings.push(f);
    }
    if let Some(o) = state("managed-identity").filter(|o| o.state == State::Impostor) {
        findings.push(
            Finding::warning(&codes::CONTAINER_IMDS_IMPOSTOR, format!("Managed identity: {}.", o.why))
                .fix("Docker Desktop (and some proxies) answer for 169.254.169.254: there is no managed identity on a laptop. Pass a service principal for local runs; managed identity exists only on an Azure host."),
        );
    }

    let works: Vec<&CredOption> = options.iter().filter(|o| o.state == State::Works).collect();
    // The credential the chain picked, if it works here; else the first that does.
    let used = chosen
        .and_then(|c| works.iter().find(|o| o.link == c.kind()).copied())
        .or_else(|| works.first().copied());
    let cli = state("azure-cli");
    let cli_missing = cli.is_some_and(|o| matches!(o.state, State::Absent | State::Broken));

    let (status, summary) = match used {
        Some(o) => {
            let status = Judgement::status_from(&findings);
            (
                status,
                format!(
                    "in a container ({why_container}): {} can work here — {}",
                    label(o.link),
                    o.why
                ),
            )
        }
        None => {
            if cli_missing && !envf.kubernetes {
                let o = cli.expect("checked above");
                findings.push(
                    Finding::warning(&codes::CONTAINER_CLI_UNAVAILABLE, format!("Azure CLI: {}; your `az login` on the host is not visible in the container.", o.why))
                        .fix("For local development on a Linux host: install `az` in the image and mount your login directory read-write (az writes its cache and command index there; a :ro mount makes it fail). A Windows host's token cache is encrypted (DPAPI) and cannot be read in a Linux container, and neither can a macOS cache kept encrypted.")
                        .command("docker run -v \"$HOME/.azure:/root/.azure\" IMAGE"),
                );
            }
            let mut f = Finding::error(
                &codes::CONTAINER_NO_CREDENTIAL,
                format!(
                    "Inside the container ({why_container}) no credential can work: {}.",
                    options
                        .iter()
                        .map(|o| format!("{}: {}", label(o.link), o.why))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            );
            f = if envf.kubernetes {
                f.fix("On AKS use workload identity: a federated credential on the app registration or user-assigned identity, the pod label azure.workload.identity/use=\"true\", and the service account annotation.")
                    .command("kubectl annotate serviceaccount SA azure.workload.identity/client-id=CLIENT-ID")
                    .command("kubectl label pod POD azure.workload.identity/use=true")
            } else {
                f.fix("Pass a service principal's variables into the container (local runs, CI), or give the Azure host a managed identity with the role on the resource (App Service, Container Apps).")
                    .command("docker run -e AZURE_TENANT_ID -e AZURE_CLIENT_ID -e AZURE_CLIENT_SECRET -e AZURE_OPENAI_ENDPOINT IMAGE")
                    .command("az webapp identity assign -g RG -n APP")
                    .command("az containerapp identity assign -g RG -n APP --system-assigned")
            };
            findings.insert(0, f);
            (
                Status::Fail,
                format!("in a container ({why_container}): no credential can work here"),
            )
        }
    };
    let evidence = json!({ "container_markers": envf.container, "container_override": envf.container_override, "kubernetes": envf.kubernetes, "options": options });
    Judgement::new(status, summary)
        .with_findings(findings)
        .evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::FakeEnvironment;
    use crate::facts::TokenInfo;
    use crate::secret::Secret;
    use base64::Engine;

    const NOW: i64 = 1_767_225_600;

    fn container() -> EnvironmentFacts {
        EnvironmentFacts {
            container: vec!["/.dockerenv".into()],
            ..Default::default()
        }
    }
    fn no_cli() -> CliState {
        CliState {
            installed: false,
            ..Default::default()
        }
    }
    fn jwt_with_exp(exp: i64) -> String {
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.{}",
            b(br#"{"alg":"RS256"}"#),
            b(json!({"exp": exp, "sub": "system:serviceaccount:ai:chat"})
                .to_string()
                .as_bytes()),
            b(b"sig")
        )
    }
    fn codes(j: &Judgement) -> Vec<&'static str> {
        j.findings.iter().map(|f| f.code.id).collect()
    }
    fn state_of(options: &[CredOption], link: &str) -> State {
        options.iter().find(|o| o.link == link).unwrap().state
    }

    #[test]
    fn nothing_in_a_plain_container_fails_with_the_docker_flags() {
        let env = FakeEnvironment::new();
        let options = assess(&env, Some(&no_cli()), None, NOW);
        let mut options = options;
        for o in options.iter_mut().filter(|o| o.link == "managed-identity") {
            *o = imds_option(
                &imds::Probe::Absent("connection refused".into()),
                &imds_place(&url::Url::parse("http://169.254.169.254").unwrap()),
            );
        }
        let j = judge(&container(), &options, None);
        assert_eq!(j.status, Status::Fail);
        assert_eq!(codes(&j), vec!["container-no-credential", "container-cli-unavailable"]);
        let cmds = j.findings[0].remediation.commands.join("\n");
        assert!(
            cmds.contains("docker run -e AZURE_TENANT_ID -e AZURE_CLIENT_ID -e AZURE_CLIENT_SECRET"),
            "{cmds}"
        );
        assert!(
            cmds.contains("az containerapp identity assign") && cmds.contains("az webapp identity assign"),
            "{cmds}"
        );
        assert!(j.findings[1].remediation.commands[0].contains("$HOME/.azure:/root/.azure"));
        assert!(!j.findings[1].remediation.commands[0].contains(":ro"));
    }

    #[test]
    fn a_service_principal_passed_in_works() {
        let env = FakeEnvironment::new()
            .var("AZURE_TENANT_ID", "t")
            .var("AZURE_CLIENT_ID", "c")
            .var("AZURE_CLIENT_SECRET", "s");
        let options = assess(&env, Some(&no_cli()), None, NOW);
        let chosen = CredentialFacts {
            link: crate::chain::Link::Environment,
            name: "EnvironmentCredential".into(),
            config: crate::facts::CredentialConfig::NotExamined,
            detail: serde_json::Value::Null,
            prefetched: None,
        };
        let j = judge(&container(), &options, Some(&chosen));
        assert_eq!(j.status, Status::Pass, "{j:?}");
        assert!(
            j.summary.contains("EnvironmentCredential can work here"),
            "{}",
            j.summary
        );
        // The secret's value appears nowhere.
        assert!(!serde_json::to_string(&j.evidence).unwrap().contains("\"s\""));
    }

    #[test]
    fn half_a_service_principal_is_named() {
        let env = FakeEnvironment::new()
            .var("AZURE_CLIENT_ID", "c")
            .var("AZURE_CLIENT_SECRET", "s");
        let options = assess(&env, Some(&no_cli()), None, NOW);
        assert_eq!(state_of(&options, "environment"), State::Incomplete);
        let j = judge(&container(), &options, None);
        assert!(codes(&j).contains(&"container-env-incomplete"), "{j:?}");
        assert!(j.findings.iter().any(|f| f.message.contains("AZURE_TENANT_ID did not")));
    }

    #[test]
    fn workload_identity_token_files_are_judged_by_exp() {
        let base = FakeEnvironment::new()
            .var("AZURE_TENANT_ID", "t")
            .var("AZURE_CLIENT_ID", "c")
            .var("AZURE_FEDERATED_TOKEN_FILE", "/var/run/t");
        let fresh = base.clone().file("/var/run/t", &jwt_with_exp(NOW + 1800));
        assert_eq!(
            state_of(&assess(&fresh, None, None, NOW), "workload-identity"),
            State::Works
        );
        let stale = base.clone().file("/var/run/t", &jwt_with_exp(NOW - 7200));
        let options = assess(&stale, None, None, NOW);
        assert_eq!(state_of(&options, "workload-identity"), State::Broken);
        let j = judge(
            &EnvironmentFacts {
                kubernetes: true,
                ..container()
            },
            &options,
            None,
        );
        assert!(codes(&j).contains(&"container-federated-token"));
        let f = j
            .findings
            .iter()
            .find(|f| f.code.id == "container-federated-token")
            .unwrap();
        assert!(f.message.contains("expired 2h"), "{}", f.message);
        // The token itself never appears.
        assert!(
            !serde_json::to_string(&j.evidence)
                .unwrap()
                .contains(&jwt_with_exp(NOW - 7200))
        );
        assert_eq!(
            state_of(&assess(&base, None, None, NOW), "workload-identity"),
            State::Broken
        );
        let garbage = base.file("/var/run/t", "not a token");
        assert_eq!(
            state_of(&assess(&garbage, None, None, NOW), "workload-identity"),
            State::Broken
        );
    }

    #[test]
    fn imds_is_named_by_its_address_or_by_the_variable_that_moved_it() {
        let real = url::Url::parse("http://169.254.169.254").unwrap();
        assert_eq!(imds_place(&real), "http://169.254.169.254/");
        let moved = url::Url::parse("http://127.0.0.1:40123").unwrap();
        let o = imds_option(&imds::Probe::Absent("refused".into()), &imds_place(&moved));
        assert!(
            o.why
                .contains("nothing answers at the address in AZURE_POD_IDENTITY_AUTHORITY_HOST"),
            "{}",
            o.why
        );
        assert!(!o.why.contains("127.0.0.1"));
    }

    #[test]
    fn docker_desktop_answering_for_imds_is_called_out() {
        let mut options = assess(&FakeEnvironment::new(), Some(&no_cli()), None, NOW);
        for o in options.iter_mut().filter(|o| o.link == "managed-identity") {
            *o = imds_option(
                &imds::Probe::NotImds {
                    status: 403,
                    excerpt: "connecting to 169.254.169.254:80: unreachable network".into(),
                },
                &imds_place(&url::Url::parse("http://169.254.169.254").unwrap()),
            );
        }
        let j = judge(&container(), &options, None);
        assert_eq!(j.status, Status::Fail);
        assert!(codes(&j).contains(&"container-imds-impostor"), "{j:?}");
    }

    #[test]
    fn a_logged_in_az_in_the_image_or_an_app_service_identity_works() {
        let cli = CliState {
            installed: true,
            logged_in: true,
            user: Some("alice@contoso.com".into()),
            token: Some(TokenInfo {
                token: Secret::new("x"),
                expires_on: None,
                source: "az".into(),
            }),
            ..Default::default()
        };
        let options = assess(&FakeEnvironment::new(), Some(&cli), None, NOW);
        let j = judge(&container(), &options, None);
        assert_eq!(j.status, Status::Pass);
        assert!(j.summary.contains("AzureCliCredential"), "{}", j.summary);
        let app = FakeEnvironment::new()
            .var("IDENTITY_ENDPOINT", "http://localhost:42356/msi/token")
            .var("IDENTITY_HEADER", "h");
        let j = judge(&container(), &assess(&app, Some(&no_cli()), None, NOW), None);
        assert_eq!(j.status, Status::Pass);
        assert!(j.summary.contains("ManagedIdentityCredential"), "{}", j.summary);
    }

    #[test]
    fn az_without_a_login_directory_says_nothing_is_mounted() {
        let cli = CliState {
            installed: true,
            problem: Some("nobody is logged in".into()),
            ..Default::default()
        };
        let env = FakeEnvironment::new().var("HOME", "/root");
        let o = assess(&env, Some(&cli), None, NOW);
        let az = o.iter().find(|o| o.link == "azure-cli").unwrap();
        assert_eq!(az.state, State::Broken);
        assert!(az.why.contains("/root/.azure does not exist"), "{}", az.why);
        let mounted = env.file("/root/.azure", "");
        let o = assess(&mounted, Some(&cli), None, NOW);
        assert!(
            !o.iter()
                .find(|o| o.link == "azure-cli")
                .unwrap()
                .why
                .contains("does not exist")
        );
    }

    #[test]
    fn kubernetes_gets_workload_identity_advice_not_docker_flags() {
        let mut options = assess(&FakeEnvironment::new(), Some(&no_cli()), None, NOW);
        for o in options.iter_mut().filter(|o| o.link == "managed-identity") {
            o.state = State::Absent;
        }
        let j = judge(
            &EnvironmentFacts {
                kubernetes: true,
                ..container()
            },
            &options,
            None,
        );
        assert_eq!(codes(&j), vec!["container-no-credential"]);
        assert!(
            j.findings[0]
                .remediation
                .commands
                .iter()
                .any(|c| c.contains("azure.workload.identity"))
        );
    }
}
