//! `environment`: container? CI? which Azure host do the variables reveal? Any API key left
//! over from key-based auth? Reads only through the environment seam.

use super::Check;
use super::Outcome;
use crate::codes;
use crate::context::{Environment, RunContext};
use crate::facts::{EnvironmentFacts, Fact, Facts};
use crate::model::{Finding, Judgement};
use async_trait::async_trait;
use serde_json::json;
use std::path::Path;

pub struct EnvironmentCheck;

#[async_trait]
impl Check for EnvironmentCheck {
    fn id(&self) -> &'static str {
        "environment"
    }
    fn title(&self) -> &'static str {
        "Where the app runs"
    }
    fn provides(&self) -> &'static [Fact] {
        &[Fact::Environment]
    }
    async fn run(&self, ctx: &RunContext, _facts: &Facts) -> Outcome {
        let (judgement, facts) = judge(ctx.env.as_ref(), ctx.target.container);
        Outcome::with_facts(
            judgement,
            Facts {
                environment: Some(facts),
                ..Default::default()
            },
        )
    }
}

/// Variables that hold an API key; several SDKs use a key whenever one is present.
const KEY_VARS: &[&str] = &["AZURE_OPENAI_API_KEY", "AZURE_OPENAI_KEY", "OPENAI_API_KEY"];
const PROXY_VARS: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The pure judge: everything comes from `env`.
pub fn judge(env: &dyn Environment, container_override: Option<bool>) -> (Judgement, EnvironmentFacts) {
    let facts = EnvironmentFacts {
        os: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
        container: container_markers(env),
        container_override,
        ci: ci(env),
        azure_host: azure_host(env),
        kubernetes: env.var_set("KUBERNETES_SERVICE_HOST").is_some(),
    };
    let mut findings = Vec::new();

    let keys: Vec<&str> = KEY_VARS.iter().copied().filter(|k| env.var_set(k).is_some()).collect();
    if !keys.is_empty() {
        // The value is never read into a message: only the variable's name.
        findings.push(
            Finding::warning(
                &codes::ENV_API_KEY_PRESENT,
                format!("{} set: several SDKs (and LangChain, Semantic Kernel, the openai CLI) use a key whenever one is present, so the app may not be using Entra ID at all — and a key sent where a token is expected gives a bare 401.", keys.join(" and ") + if keys.len() == 1 { " is" } else { " are" }),
            )
            .fix("Remove the key from the app's environment (and from .env files) when you mean to authenticate with Entra ID.")
            .command(format!("unset {}", keys.join(" "))),
        );
    }
    if facts.in_container() {
        let why = if facts.container_override == Some(true) {
            "--container yes".to_string()
        } else {
            facts.container.join(", ")
        };
        findings.push(
            Finding::info(
                &codes::ENV_CONTAINER,
                format!("Inside a container ({why}): a developer's `az login` on the host is not visible here."),
            )
            .fix("The container-credentials check says which credential can work here and the flags to pass."),
        );
    }
    if let Some(host) = &facts.azure_host {
        findings.push(Finding::info(&codes::ENV_AZURE_HOST, format!("Azure host: {host}.")));
    }
    let proxy: Vec<&str> = PROXY_VARS
        .iter()
        .copied()
        .filter(|v| env.var_set(v).is_some())
        .collect();
    if !proxy.is_empty() {
        let no_proxy = env
            .var_set("NO_PROXY")
            .or_else(|| env.var_set("no_proxy"))
            .unwrap_or_default();
        findings.push(
            Finding::info(&codes::ENV_PROXY, format!("A proxy is configured ({}); NO_PROXY={}.", proxy.join(", "), if no_proxy.is_empty() { "(unset)" } else { &no_proxy }))
                .fix("Entra ID, ARM and the endpoint go through the proxy unless NO_PROXY lists them; on an Azure VM add 169.254.169.254 to NO_PROXY so managed identity is not sent to the proxy."),
        );
    }

    let status = Judgement::status_from(&findings);
    let mut parts = Vec::new();
    parts.push(if facts.in_container() {
        "container".to_string()
    } else {
        "no container".to_string()
    });
    parts.push(match &facts.ci {
        Some(ci) => format!("CI: {ci}"),
        None => "not CI".to_string(),
    });
    parts.push(match &facts.azure_host {
        Some(h) => h.clone(),
        None => "no Azure host detected".to_string(),
    });
    if !keys.is_empty() {
        parts.push("API key variable set".to_string());
    }
    let evidence = json!({
        "os": facts.os, "arch": facts.arch, "container_markers": facts.container,
        "container_override": facts.container_override, "ci": facts.ci, "azure_host": facts.azure_host,
        "kubernetes": facts.kubernetes, "api_key_variables": keys, "proxy_variables": proxy,
    });
    (
        Judgement::new(status, parts.join(", "))
            .with_findings(findings)
            .evidence(evidence),
        facts,
    )
}

fn container_markers(env: &dyn Environment) -> Vec<String> {
    let mut found = Vec::new();
    if env.exists(Path::new("/.dockerenv")) {
        found.push("/.dockerenv".to_string());
    }
    if env.exists(Path::new("/run/.containerenv")) {
        found.push("/run/.containerenv".to_string());
    }
    if let Some(cgroup) = env.read_to_string(Path::new("/proc/1/cgroup")) {
        for marker in ["docker", "kubepods", "containerd", "libpod", "lxc"] {
            if cgroup.contains(marker) {
                found.push(format!("cgroup:{marker}"));
                break;
            }
        }
    }
    if let Some(kind) = env.var_set("container") {
        found.push(format!("container={kind}"));
    }
    if env.var_set("KUBERNETES_SERVICE_HOST").is_some() {
        found.push("KUBERNETES_SERVICE_HOST".to_string());
    }
    found
}

fn ci(env: &dyn Environment) -> Option<String> {
    let is = |k: &str, v: &str| env.var(k).is_some_and(|x| x.eq_ignore_ascii_case(v));
    let set = |k: &str| env.var_set(k).is_some();
    let name = if is("GITHUB_ACTIONS", "true") {
        "GitHub Actions"
    } else if is("TF_BUILD", "true") {
        "Azure Pipelines"
    } else if is("GITLAB_CI", "true") {
        "GitLab CI"
    } else if set("JENKINS_URL") {
        "Jenkins"
    } else if is("CIRCLECI", "true") {
        "CircleCI"
    } else if is("BUILDKITE", "true") {
        "Buildkite"
    } else if env
        .var_set("CI")
        .is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
    {
        "CI (generic)"
    } else {
        return None;
    };
    Some(name.to_string())
}

fn azure_host(env: &dyn Environment) -> Option<String> {
    let set = |k: &str| env.var_set(k).is_some();
    let host = if set("IDENTITY_ENDPOINT") && set("IDENTITY_HEADER") && set("IDENTITY_SERVER_THUMBPRINT") {
        "Service Fabric (managed identity endpoint)"
    } else if set("IDENTITY_ENDPOINT") && set("IDENTITY_HEADER") {
        if set("CONTAINER_APP_NAME") || set("CONTAINER_APP_JOB_NAME") {
            "Azure Container Apps (managed identity endpoint)"
        } else if set("FUNCTIONS_WORKER_RUNTIME") || set("FUNCTIONS_EXTENSION_VERSION") {
            "Azure Functions (managed identity endpoint)"
        } else {
            "App Service / Functions / Container Apps (managed identity endpoint)"
        }
    } else if set("IDENTITY_ENDPOINT") && set("IMDS_ENDPOINT") {
        "Azure Arc-enabled server (managed identity endpoint)"
    } else if set("MSI_ENDPOINT") && set("MSI_SECRET") {
        "Azure ML / legacy App Service (MSI endpoint)"
    } else if set("MSI_ENDPOINT") {
        "Azure Cloud Shell"
    } else if set("AZURE_FEDERATED_TOKEN_FILE") {
        if set("KUBERNETES_SERVICE_HOST") {
            "AKS with workload identity"
        } else {
            "workload identity federation (token file)"
        }
    } else {
        return None;
    };
    Some(host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::FakeEnvironment;
    use crate::model::Status;

    fn run(env: FakeEnvironment) -> (Judgement, EnvironmentFacts) {
        judge(&env, None)
    }

    #[test]
    fn plain_laptop_passes() {
        let (j, f) = run(FakeEnvironment::new());
        assert_eq!(j.status, Status::Pass);
        assert!(!f.in_container());
        assert!(f.ci.is_none() && f.azure_host.is_none());
    }

    #[test]
    fn api_key_warns_without_showing_it() {
        let (j, _) = run(FakeEnvironment::new().var("AZURE_OPENAI_API_KEY", "0123456789abcdef0123456789abcdef"));
        assert_eq!(j.status, Status::Warn);
        assert_eq!(j.findings[0].code.id, "env-api-key-present");
        let all = serde_json::to_string(&(j.findings.clone(), j.evidence.clone(), j.summary.clone())).unwrap();
        assert!(!all.contains("0123456789abcdef"), "the key leaked: {all}");
        assert!(all.contains("AZURE_OPENAI_API_KEY"));
        // Empty is not set.
        assert_eq!(
            run(FakeEnvironment::new().var("OPENAI_API_KEY", " ")).0.status,
            Status::Pass
        );
    }

    #[test]
    fn containers_by_every_marker() {
        for env in [
            FakeEnvironment::new().file("/.dockerenv", ""),
            FakeEnvironment::new().file("/run/.containerenv", ""),
            FakeEnvironment::new().file("/proc/1/cgroup", "0::/system.slice/docker-abc.scope"),
            FakeEnvironment::new().var("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
            FakeEnvironment::new().var("container", "podman"),
        ] {
            let (j, f) = run(env);
            assert!(f.in_container(), "{:?}", j.evidence);
            assert!(j.findings.iter().any(|x| x.code.id == "env-container"));
        }
        assert!(
            !run(FakeEnvironment::new().file("/proc/1/cgroup", "0::/init.scope"))
                .1
                .in_container()
        );
        assert!(judge(&FakeEnvironment::new(), Some(true)).1.in_container());
        assert!(
            !judge(&FakeEnvironment::new().file("/.dockerenv", ""), Some(false))
                .1
                .in_container()
        );
    }

    #[test]
    fn ci_systems() {
        let ci = |k: &str, v: &str| run(FakeEnvironment::new().var(k, v)).1.ci;
        assert_eq!(ci("GITHUB_ACTIONS", "true").as_deref(), Some("GitHub Actions"));
        assert_eq!(ci("TF_BUILD", "True").as_deref(), Some("Azure Pipelines"));
        assert_eq!(ci("GITLAB_CI", "true").as_deref(), Some("GitLab CI"));
        assert_eq!(ci("CI", "true").as_deref(), Some("CI (generic)"));
        assert_eq!(ci("CI", "false"), None);
    }

    #[test]
    fn azure_hosts_from_variables() {
        let host = |e: FakeEnvironment| run(e).1.azure_host.unwrap_or_default();
        let appsvc = FakeEnvironment::new()
            .var("IDENTITY_ENDPOINT", "http://x")
            .var("IDENTITY_HEADER", "h");
        assert!(host(appsvc.clone()).starts_with("App Service"));
        assert!(host(appsvc.clone().var("CONTAINER_APP_NAME", "app")).starts_with("Azure Container Apps"));
        assert!(host(appsvc.var("IDENTITY_SERVER_THUMBPRINT", "t")).starts_with("Service Fabric"));
        assert!(
            host(
                FakeEnvironment::new()
                    .var("IDENTITY_ENDPOINT", "x")
                    .var("IMDS_ENDPOINT", "y")
            )
            .contains("Arc")
        );
        assert_eq!(
            host(FakeEnvironment::new().var("MSI_ENDPOINT", "x")),
            "Azure Cloud Shell"
        );
        assert_eq!(
            host(
                FakeEnvironment::new()
                    .var("AZURE_FEDERATED_TOKEN_FILE", "/t")
                    .var("KUBERNETES_SERVICE_HOST", "k")
            ),
            "AKS with workload identity"
        );
    }
}
