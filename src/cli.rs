//! The command line: clap definitions (every option also from an environment variable) and
//! the validation that turns them into a [`Target`] before any network call.

use aoai_doctor_checks::context::{Cloud, CredentialChoice, ProbeKind, Sdk, Target};
use aoai_doctor_checks::surface::Surface;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// The GA data-plane API version used when none is given.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

const AFTER_HELP: &str = "\
Examples:
  aoai-doctor demo                              see every pitfall diagnosed in the built-in lab (no Azure needed)
  aoai-doctor --endpoint https://contoso.openai.azure.com --deployment gpt-4o-mini
  aoai-doctor --endpoint https://contoso.openai.azure.com/openai/v1/ --deployment gpt-4o-mini --probe responses
  aoai-doctor --endpoint https://contoso.services.ai.azure.com/api/projects/my-project --deployment gpt-4o-mini
  aoai-doctor --credential managed-identity     check only the managed-identity path
  aoai-doctor --only endpoint,environment       run just these checks
  aoai-doctor --format json --output report.json   the report to attach to a support ticket
  aoai-doctor explain < error.txt               diagnose an error message you already have
  aoai-doctor token token.txt                   judge a token your app captured (claims only)

Checks (in order): endpoint, environment, azure-cli, credential-chain, token, token-claims, container-credentials, role-assignment, data-plane-probe

Exit codes:
  0  every check passed (warnings allowed unless --strict)
  1  a check failed: the report says what is wrong and how to fix it
  2  usage or configuration error (bad flag, not a URL, unknown check id)
  3  a check could not run (timeout, crash, unexpected answer)

Every option can also be set by the environment variable shown with it; flags win.
Proxies: HTTPS_PROXY / NO_PROXY are honoured. Extra CA: --ca-cert or SSL_CERT_FILE.
Tokens and secrets are never printed, in any format.";

/// aoai-doctor: find out why keyless (Microsoft Entra ID) calls to Azure OpenAI fail, and how to fix it.
///
/// Runs an ordered set of independent checks — endpoint, environment, Azure CLI login,
/// credential chain, token, token claims, role assignment, container credentials and a live
/// call — and prints one report with a fix for every failure.
#[derive(Parser, Debug)]
#[command(name = "aoai-doctor", version, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the doctor against the built-in lab (an Azure emulator on loopback): no Azure account, no network.
    Demo(aoai_doctor_lab::cli::DemoArgs),
    /// The built-in Azure emulator: serve a scenario for your own app or the real SDKs.
    #[command(subcommand)]
    Lab(aoai_doctor_lab::cli::LabCommand),
    /// Diagnose an error you already have: paste an HTTP body, an SDK exception or az stderr.
    Explain(crate::tools::ExplainArgs),
    /// Create the one least-privilege role assignment the diagnosis calls for, then wait until the live call works.
    Fix(Box<crate::fix::FixArgs>),
    /// Judge an access token an app captured: print its claims (never the token) and what is wrong.
    Token(crate::tools::TokenArgs),
    /// Print a shell completion script: aoai-doctor completions bash > /etc/bash_completion.d/aoai-doctor
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): aoai-doctor man > aoai-doctor.1
    Man,
    /// List the checks, in the order they run.
    Checks,
    /// List every finding code with its description.
    Codes,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Checks to run (same as --only); default: all of them.
    #[arg(value_name = "CHECK")]
    pub checks: Vec<String>,

    /// The endpoint exactly as the app is configured with it: AzureOpenAI's azure_endpoint
    /// (https://NAME.openai.azure.com/), OpenAI's base_url (…/openai/v1/), AIProjectClient's
    /// endpoint (https://NAME.services.ai.azure.com/api/projects/PROJECT) or …/models
    /// [env: AZURE_OPENAI_ENDPOINT, then OPENAI_BASE_URL, then AZURE_AI_PROJECT_ENDPOINT, PROJECT_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// The config file set --endpoint (for the report's "from"); not a flag.
    #[arg(skip)]
    pub endpoint_from_config: bool,

    /// The deployment to probe [env: AZURE_OPENAI_DEPLOYMENT, AZURE_OPENAI_DEPLOYMENT_NAME, AZURE_OPENAI_CHAT_DEPLOYMENT_NAME]
    #[arg(long, value_name = "NAME")]
    pub deployment: Option<String>,

    /// Data-plane API version of the classic route [default: 2024-10-21; env: OPENAI_API_VERSION].
    /// The v1 API and Foundry projects take none: OPENAI_API_VERSION is ignored there, and an
    /// explicit --api-version is sent to reproduce a client that adds one.
    #[arg(long, value_name = "VERSION")]
    pub api_version: Option<String>,

    /// The resource id of the Azure OpenAI / AI Services account (found from the endpoint if omitted).
    #[arg(long, env = "AOAI_DOCTOR_RESOURCE_ID", value_name = "ID")]
    pub resource_id: Option<String>,

    /// The token scope the app asks for [default: follows the endpoint: https://ai.azure.com/.default for a Foundry project, else the cloud's https://cognitiveservices.azure.com/.default]
    #[arg(long, env = "AOAI_DOCTOR_SCOPE", value_name = "SCOPE")]
    pub scope: Option<String>,

    /// Which credential to examine: let the chain decide (auto) or force one link.
    #[arg(long, env = "AOAI_DOCTOR_CREDENTIAL", value_enum, default_value_t = CredentialChoice::Auto)]
    pub credential: CredentialChoice,

    /// Whose DefaultAzureCredential order to mirror.
    #[arg(long, env = "AOAI_DOCTOR_SDK", value_enum, default_value_t = Sdk::Python)]
    pub sdk: Sdk,

    /// The Azure cloud.
    #[arg(long, env = "AOAI_DOCTOR_CLOUD", value_enum, default_value_t = Cloud::AzureCloud)]
    pub cloud: Cloud,

    /// Azure Resource Manager endpoint [default: the cloud's, e.g. https://management.azure.com/]
    #[arg(long, env = "AOAI_DOCTOR_ARM_ENDPOINT", value_name = "URL")]
    pub arm_endpoint: Option<String>,

    /// Entra ID authority host [default: the cloud's, e.g. https://login.microsoftonline.com/]
    #[arg(long, env = "AZURE_AUTHORITY_HOST", value_name = "URL")]
    pub authority_host: Option<String>,

    /// Another principal to check roles for: object id, client id, or a managed identity's resource id.
    #[arg(long, env = "AOAI_DOCTOR_ASSIGNEE", value_name = "ID")]
    pub assignee: Option<String>,

    /// Plan for running inside a container (yes), or for none (no), whatever this machine looks like.
    #[arg(long, env = "AOAI_DOCTOR_CONTAINER", value_enum, num_args = 0..=1, default_missing_value = "yes", value_name = "yes|no")]
    pub container: Option<YesNo>,

    /// Extra trusted root certificates (PEM), e.g. a TLS-inspecting proxy's CA [also: SSL_CERT_FILE]
    #[arg(long, env = "AOAI_DOCTOR_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Connect to ADDR whenever HOST is needed (like curl --resolve), e.g. contoso.openai.azure.com:10.0.0.5
    #[arg(long, env = "AOAI_DOCTOR_RESOLVE", value_name = "HOST:ADDR", value_delimiter = ',')]
    pub resolve: Vec<String>,

    /// The live call the data-plane probe makes.
    #[arg(long, env = "AOAI_DOCTOR_PROBE", value_enum, default_value_t = ProbeKind::Chat)]
    pub probe: ProbeKind,

    /// How long to wait for a new role assignment to propagate (0 = fail at once), e.g. 10m.
    #[arg(
        long,
        env = "AOAI_DOCTOR_WAIT_FOR_PROPAGATION",
        value_name = "DURATION",
        default_value = "10m"
    )]
    pub wait_for_propagation: String,

    /// Output format.
    #[arg(long, env = "AOAI_DOCTOR_FORMAT", value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', env = "AOAI_DOCTOR_OUTPUT", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Also write the report as FORMAT to PATH (repeatable), e.g. --report junit=junit.xml
    #[arg(long, value_name = "FORMAT=PATH")]
    pub report: Vec<String>,

    /// Also write the JSON report to FILE (the support-ticket attachment).
    #[arg(long, value_name = "FILE")]
    pub output_json: Option<PathBuf>,

    /// Also write a JUnit XML report to FILE (GitLab, Azure Pipelines, Jenkins test tabs).
    #[arg(long, value_name = "FILE")]
    pub output_junit: Option<PathBuf>,

    /// Also write a Markdown summary to FILE.
    #[arg(long, value_name = "FILE")]
    pub output_markdown: Option<PathBuf>,

    /// CI annotations (GitHub Actions ::error / Azure Pipelines ##vso, on stderr) and GitHub's step summary.
    #[arg(long, env = "AOAI_DOCTOR_CI_ANNOTATIONS", value_enum, default_value_t = Annotations::Auto)]
    pub ci_annotations: Annotations,

    /// Hide personal data (UPNs, e-mails, names, IP addresses) but keep the ids support needs.
    #[arg(long, env = "AOAI_DOCTOR_REDACT")]
    pub redact: bool,

    /// Read options from this file [default: ./aoai-doctor.toml when present]
    #[arg(long, env = "AOAI_DOCTOR_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The principal (object id) the app must authenticate as; any other is a failure.
    #[arg(long, env = "AOAI_DOCTOR_EXPECT_PRINCIPAL", value_name = "OBJECT_ID")]
    pub expect_principal: Option<String>,

    /// Run only these checks (comma-separated; the checks they depend on run too).
    #[arg(long, env = "AOAI_DOCTOR_ONLY", value_name = "IDS", value_delimiter = ',')]
    pub only: Vec<String>,

    /// Skip these checks (comma-separated).
    #[arg(long, env = "AOAI_DOCTOR_SKIP", value_name = "IDS", value_delimiter = ',')]
    pub skip: Vec<String>,

    /// Treat warnings as failures (exit 1).
    #[arg(long, env = "AOAI_DOCTOR_STRICT")]
    pub strict: bool,

    /// Time limit per check, e.g. 30s, 2m.
    #[arg(long, env = "AOAI_DOCTOR_TIMEOUT", value_name = "DURATION", default_value = "30s")]
    pub timeout: String,

    /// Hard ceiling for the whole run [default: 3m plus --wait-for-propagation]
    #[arg(long, env = "AOAI_DOCTOR_DEADLINE", value_name = "DURATION")]
    pub deadline: Option<String>,

    /// When to use colors (auto honours NO_COLOR, CLICOLOR_FORCE and whether stdout is a terminal).
    #[arg(long, env = "AOAI_DOCTOR_COLOR", value_enum, default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,

    /// More detail on standard error (-v info, -vv debug). Never shows tokens.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only the verdict line (and findings of failed checks).
    #[arg(short, long, env = "AOAI_DOCTOR_QUIET")]
    pub quiet: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Junit,
    Markdown,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Annotations {
    Auto,
    Never,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum YesNo {
    Yes,
    No,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// A configuration error: one clear line, exit 2.
#[derive(Debug)]
pub struct UsageError(pub String);

/// Reads an environment variable the way the SDKs do: set and not blank.
fn env_nonblank(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where an app finds its endpoint when none is passed, in the order the doctor reads them:
/// AzureOpenAI's variable, the openai SDKs' `OPENAI_BASE_URL`, the Foundry samples' project
/// variables.
pub const ENDPOINT_ENV: [&str; 4] = [
    "AZURE_OPENAI_ENDPOINT",
    "OPENAI_BASE_URL",
    "AZURE_AI_PROJECT_ENDPOINT",
    "PROJECT_ENDPOINT",
];

/// The first endpoint variable that is set, and its name.
pub fn endpoint_from_env() -> Option<(&'static str, String)> {
    ENDPOINT_ENV
        .iter()
        .find_map(|name| env_nonblank(name).map(|v| (*name, v.trim().to_string())))
}

impl RunArgs {
    /// Validates everything that can be validated offline.
    pub fn target(&self) -> Result<Target, UsageError> {
        let cloud = self.cloud;
        let given = match self.endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(raw) => {
                let from = if self.endpoint_from_config {
                    "config file"
                } else {
                    "--endpoint"
                };
                Some((from, raw.to_string()))
            }
            None => endpoint_from_env(),
        };
        let (endpoint, endpoint_source) = match given {
            None => (None, None),
            Some((from, raw)) => {
                let url = parse_http_url(from, &raw, "https://NAME.openai.azure.com/")?;
                (Some(url), Some(from.to_string()))
            }
        };
        let surface = endpoint.as_ref().and_then(Surface::of).unwrap_or(Surface::ResourceRoot);
        let classic_version = env_nonblank("OPENAI_API_VERSION").unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
        let api_version = surface
            .api_version(self.api_version.as_deref(), &classic_version)
            .unwrap_or_default();
        let deployment = self
            .deployment
            .clone()
            .or_else(|| env_nonblank("AZURE_OPENAI_DEPLOYMENT"))
            .or_else(|| env_nonblank("AZURE_OPENAI_DEPLOYMENT_NAME"))
            .or_else(|| env_nonblank("AZURE_OPENAI_CHAT_DEPLOYMENT_NAME"));
        let scope = self.scope.clone().unwrap_or_else(|| surface.default_scope(cloud));
        if scope.trim().is_empty() || scope.contains(char::is_whitespace) {
            return Err(UsageError(format!(
                "--scope '{scope}' is not a scope (expected e.g. {})",
                surface.default_scope(cloud)
            )));
        }
        Ok(Target {
            endpoint,
            endpoint_source,
            deployment,
            api_version,
            resource_id: self.resource_id.clone().filter(|r| !r.trim().is_empty()),
            scope,
            cloud,
            credential: self.credential,
            sdk: self.sdk,
            assignee: self.assignee.clone().filter(|a| !a.trim().is_empty()),
            container: self.container.map(|c| c == YesNo::Yes),
            probe: self.probe,
            wait_for_propagation: parse_duration("--wait-for-propagation", &self.wait_for_propagation)?,
            expected_principal: self.expect_principal.clone().filter(|p| !p.trim().is_empty()),
        })
    }

    /// `--deadline`, or 3 minutes on top of the propagation wait.
    pub fn deadline(&self, wait: Duration) -> Result<Duration, UsageError> {
        match &self.deadline {
            Some(d) => parse_duration("--deadline", d),
            None => Ok(Duration::from_secs(180) + wait),
        }
    }

    pub fn check_timeout(&self) -> Result<Duration, UsageError> {
        parse_duration("--timeout", &self.timeout)
    }

    /// `--only` plus positional check ids, validated against the known ids.
    pub fn selection(&self, known: &[&str]) -> Result<(Vec<String>, Vec<String>), UsageError> {
        let only: Vec<String> = self
            .checks
            .iter()
            .chain(self.only.iter())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let skip: Vec<String> = self
            .skip
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for id in only.iter().chain(skip.iter()) {
            if !known.contains(&id.as_str()) {
                return Err(UsageError(format!(
                    "unknown check '{id}' (known: {})",
                    known.join(", ")
                )));
            }
        }
        Ok((only, skip))
    }

    /// Every extra report file: `--report FORMAT=PATH` and the `--output-*` shorthands.
    pub fn extra_reports(&self) -> Result<Vec<(Format, PathBuf)>, UsageError> {
        let mut out = Vec::new();
        for r in &self.report {
            let (fmt, path) = r
                .split_once('=')
                .filter(|(f, p)| !f.is_empty() && !p.is_empty())
                .ok_or_else(|| UsageError(format!("--report '{r}' is not FORMAT=PATH (e.g. junit=junit.xml)")))?;
            let format = Format::from_str(fmt, true).map_err(|_| {
                UsageError(format!(
                    "--report '{r}': unknown format '{fmt}' (table, json, junit, markdown)"
                ))
            })?;
            out.push((format, PathBuf::from(path)));
        }
        for (format, path) in [
            (Format::Json, &self.output_json),
            (Format::Junit, &self.output_junit),
            (Format::Markdown, &self.output_markdown),
        ] {
            if let Some(p) = path {
                out.push((format, p.clone()));
            }
        }
        Ok(out)
    }

    pub fn resolves(&self) -> Result<Vec<(String, std::net::IpAddr)>, UsageError> {
        self.resolve
            .iter()
            .filter(|r| !r.trim().is_empty())
            .map(|r| {
                let (host, addr) = r.trim().split_once(':').filter(|(h, _)| !h.is_empty()).ok_or_else(|| {
                    UsageError(format!(
                        "--resolve '{r}' is not HOST:ADDR (e.g. contoso.openai.azure.com:10.0.0.5)"
                    ))
                })?;
                let addr = addr.trim_start_matches('[').trim_end_matches(']');
                let ip = addr
                    .parse()
                    .map_err(|_| UsageError(format!("--resolve '{r}': '{addr}' is not an IP address")))?;
                Ok((host.to_string(), ip))
            })
            .collect()
    }
}

/// An absolute http(s) URL with a host, or a one-line explanation.
pub fn parse_http_url(flag: &str, raw: &str, example: &str) -> Result<url::Url, UsageError> {
    // First, before the URL is echoed in any message or used for any call.
    if let Some(why) = crate::url_secrets::refusal(flag, raw) {
        return Err(UsageError(why));
    }
    let bad = |why: &str| UsageError(format!("{flag} '{raw}' is not a URL: {why} (expected e.g. {example})"));
    let url = url::Url::parse(raw).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => bad("it has no scheme, add https://"),
        other => bad(&other.to_string()),
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(bad(&format!("the scheme is '{}', not https", url.scheme())));
    }
    match url.host_str() {
        Some(h) if !h.is_empty() => Ok(url),
        _ => Err(bad("it has no host")),
    }
}

/// `30s`, `2m`, `1m30s`, `500ms`, or a bare number of seconds.
pub fn parse_duration(flag: &str, raw: &str) -> Result<Duration, UsageError> {
    let raw = raw.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(raw).map_err(|e| {
        UsageError(format!(
            "{flag} '{raw}' is not a duration: {e} (expected e.g. 30s, 2m, 1m30s)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(parse_http_url("--endpoint", "https://x.openai.azure.com", "e").is_ok());
        let e = parse_http_url("--endpoint", "not-a-url", "e").unwrap_err().0;
        assert!(e.contains("no scheme"), "{e}");
        assert!(
            parse_http_url("--endpoint", "ftp://x", "e")
                .unwrap_err()
                .0
                .contains("scheme")
        );
        assert!(parse_http_url("--endpoint", "https://", "e").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("t", "30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("t", "2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("t", "45").unwrap(), Duration::from_secs(45));
        assert!(parse_duration("t", "soon").is_err());
    }

    #[test]
    fn help_lists_the_checks_in_order() {
        let line = AFTER_HELP
            .lines()
            .find(|l| l.starts_with("Checks (in order): "))
            .unwrap();
        assert_eq!(
            line,
            format!("Checks (in order): {}", aoai_doctor_checks::checks::ids().join(", "))
        );
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
