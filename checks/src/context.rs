//! Everything a check may use: the resolved target, the one HTTP client, the endpoints it may
//! call (all overridable, so tests and the lab stay on loopback), the environment seam and
//! the clock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Which Azure cloud the user targets; decides the default hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[allow(clippy::enum_variant_names)] // the clouds' own names, as `az cloud list` spells them
pub enum Cloud {
    #[cfg_attr(feature = "clap", value(name = "AzureCloud", alias = "azurecloud", alias = "public"))]
    AzureCloud,
    #[cfg_attr(
        feature = "clap",
        value(name = "AzureUSGovernment", alias = "azureusgovernment", alias = "usgov")
    )]
    AzureUsGovernment,
    #[cfg_attr(
        feature = "clap",
        value(name = "AzureChinaCloud", alias = "azurechinacloud", alias = "china")
    )]
    AzureChinaCloud,
}

impl Cloud {
    pub fn name(self) -> &'static str {
        match self {
            Cloud::AzureCloud => "AzureCloud",
            Cloud::AzureUsGovernment => "AzureUSGovernment",
            Cloud::AzureChinaCloud => "AzureChinaCloud",
        }
    }
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::AzureCloud => "https://login.microsoftonline.com/",
            Cloud::AzureUsGovernment => "https://login.microsoftonline.us/",
            Cloud::AzureChinaCloud => "https://login.chinacloudapi.cn/",
        }
    }
    pub fn arm_endpoint(self) -> &'static str {
        match self {
            Cloud::AzureCloud => "https://management.azure.com/",
            Cloud::AzureUsGovernment => "https://management.usgovcloudapi.net/",
            Cloud::AzureChinaCloud => "https://management.chinacloudapi.cn/",
        }
    }
    /// The scope of ARM tokens. Always the real audience, never an overridden ARM endpoint:
    /// Entra (and the lab) issue tokens for the real resource.
    pub fn arm_scope(self) -> String {
        format!("{}.default", self.arm_endpoint())
    }
    /// The resource every Azure OpenAI token must be issued for (the `aud` claim).
    pub fn cognitive_resource(self) -> &'static str {
        match self {
            Cloud::AzureCloud => "https://cognitiveservices.azure.com",
            Cloud::AzureUsGovernment => "https://cognitiveservices.azure.us",
            Cloud::AzureChinaCloud => "https://cognitiveservices.azure.cn",
        }
    }
    /// The scope for the classic resource routes; the scope a given endpoint needs is
    /// [`crate::surface::Surface::default_scope`] (Foundry projects need `https://ai.azure.com`).
    pub fn default_scope(self) -> String {
        format!("{}/.default", self.cognitive_resource())
    }
    /// Host suffixes of custom-subdomain endpoints in this cloud.
    pub fn endpoint_suffixes(self) -> &'static [&'static str] {
        match self {
            Cloud::AzureCloud => &[
                ".openai.azure.com",
                ".cognitiveservices.azure.com",
                ".services.ai.azure.com",
            ],
            Cloud::AzureUsGovernment => &[
                ".openai.azure.us",
                ".cognitiveservices.azure.us",
                ".services.ai.azure.us",
            ],
            Cloud::AzureChinaCloud => &[
                ".openai.azure.cn",
                ".cognitiveservices.azure.cn",
                ".services.ai.azure.cn",
            ],
        }
    }
    pub const ALL: [Cloud; 3] = [Cloud::AzureCloud, Cloud::AzureUsGovernment, Cloud::AzureChinaCloud];
}

/// Whose `DefaultAzureCredential` order the chain check mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Sdk {
    Python,
    Js,
    Dotnet,
    Java,
    Go,
}

impl Sdk {
    pub fn name(self) -> &'static str {
        match self {
            Sdk::Python => "python",
            Sdk::Js => "js",
            Sdk::Dotnet => "dotnet",
            Sdk::Java => "java",
            Sdk::Go => "go",
        }
    }
}

/// `--credential`: let the chain decide, or force one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum CredentialChoice {
    Auto,
    Environment,
    WorkloadIdentity,
    ManagedIdentity,
    AzureCli,
    AzureDeveloperCli,
}

impl CredentialChoice {
    pub fn name(self) -> &'static str {
        match self {
            CredentialChoice::Auto => "auto",
            CredentialChoice::Environment => "environment",
            CredentialChoice::WorkloadIdentity => "workload-identity",
            CredentialChoice::ManagedIdentity => "managed-identity",
            CredentialChoice::AzureCli => "azure-cli",
            CredentialChoice::AzureDeveloperCli => "azure-developer-cli",
        }
    }
}

/// What the user asked the doctor to examine, validated before any network call.
#[derive(Debug, Clone)]
pub struct Target {
    pub endpoint: Option<Url>,
    /// Where the endpoint came from: `--endpoint` (or the config file), or the environment
    /// variable that gave it (`AZURE_OPENAI_ENDPOINT`, `OPENAI_BASE_URL`, …).
    pub endpoint_source: Option<String>,
    pub deployment: Option<String>,
    /// The api-version data-plane calls carry; empty = none (the v1 API and Foundry projects,
    /// unless `--api-version` was given to reproduce a client that sends one).
    pub api_version: String,
    pub resource_id: Option<String>,
    pub scope: String,
    pub cloud: Cloud,
    pub credential: CredentialChoice,
    pub sdk: Sdk,
    /// Another principal to check roles for (object id, client id or MI resource id).
    pub assignee: Option<String>,
    /// `--container yes|no`: plan for a container (or for none) whatever the markers say;
    /// `None` detects it.
    pub container: Option<bool>,
    /// Which live call the probe makes.
    pub probe: ProbeKind,
    /// How long the probe may wait for a new role assignment to propagate (0 = not at all).
    pub wait_for_propagation: Duration,
    /// The principal (object id) the app must authenticate as (`--expect-principal`).
    pub expected_principal: Option<String>,
}

/// `--probe`: the live call the `data-plane-probe` check makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ProbeKind {
    Chat,
    /// `POST …/responses` (`store: false`, the smallest `max_output_tokens`): the Responses API.
    Responses,
    Embeddings,
    Models,
    None,
}

impl ProbeKind {
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Chat => "chat",
            ProbeKind::Responses => "responses",
            ProbeKind::Embeddings => "embeddings",
            ProbeKind::Models => "models",
            ProbeKind::None => "none",
        }
    }
}

impl Target {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "endpoint": self.endpoint.as_ref().map(|u| u.as_str()),
            "endpoint_source": self.endpoint_source,
            "deployment": self.deployment,
            "api_version": self.api_version,
            "resource_id": self.resource_id,
            "scope": self.scope,
            "cloud": self.cloud.name(),
            "credential": self.credential.name(),
            "sdk": self.sdk.name(),
            "assignee": self.assignee,
            "container": self.container,
            "probe": self.probe.name(),
            "wait_for_propagation_s": self.wait_for_propagation.as_secs(),
            "expected_principal": self.expected_principal,
        })
    }
}

/// The hosts the doctor may talk to. Defaults come from the cloud; every one is overridable
/// by the same variable or flag the SDKs honour, which is how the lab and the tests keep all
/// traffic on loopback.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Entra ID (`AZURE_AUTHORITY_HOST`).
    pub authority_host: Url,
    /// Azure Resource Manager (`--arm-endpoint` / `AOAI_DOCTOR_ARM_ENDPOINT`).
    pub arm: Url,
    /// IMDS base (`AZURE_POD_IDENTITY_AUTHORITY_HOST`, else `http://169.254.169.254`).
    pub imds: Url,
}

/// Time limits; every network call and subprocess has one.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// Per check, unless the check asks for more (the probe's propagation wait).
    pub check: Duration,
    /// One HTTP request.
    pub http: Duration,
    /// TCP connect.
    pub connect: Duration,
    /// One `az`/`azd` invocation.
    pub subprocess: Duration,
    /// The IMDS availability probe (the SDKs use about 1 s).
    pub imds_probe: Duration,
    /// DNS resolution.
    pub dns: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            check: Duration::from_secs(30),
            http: Duration::from_secs(10),
            connect: Duration::from_secs(5),
            // Python's DefaultAzureCredential gives `az` 10 s.
            subprocess: Duration::from_secs(10),
            imds_probe: Duration::from_secs(1),
            dns: Duration::from_secs(3),
        }
    }
}

/// The seam between the checks and the process environment and filesystem, so judges can be
/// tested with any environment and the product reads the real one.
pub trait Environment: Send + Sync + std::fmt::Debug {
    fn var(&self, name: &str) -> Option<String>;
    fn exists(&self, path: &Path) -> bool;
    fn read_to_string(&self, path: &Path) -> Option<String>;
    /// A variable that is set and not blank.
    fn var_set(&self, name: &str) -> Option<String> {
        self.var(name).filter(|v| !v.trim().is_empty())
    }
}

/// The real process environment and filesystem.
#[derive(Debug, Default)]
pub struct SystemEnvironment;

impl Environment for SystemEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn read_to_string(&self, path: &Path) -> Option<String> {
        // Bounded: a marker file is small; never slurp something huge by accident.
        use std::io::Read;
        let f = std::fs::File::open(path).ok()?;
        let mut s = String::new();
        f.take(1 << 20).read_to_string(&mut s).ok()?;
        Some(s)
    }
}

/// An environment made of explicit variables and files, for judges' tests and for planning
/// (e.g. "what would a container with these variables see").
#[derive(Debug, Default, Clone)]
pub struct FakeEnvironment {
    pub vars: HashMap<String, String>,
    pub files: HashMap<PathBuf, String>,
}

impl FakeEnvironment {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn var(mut self, k: &str, v: &str) -> Self {
        self.vars.insert(k.to_string(), v.to_string());
        self
    }
    pub fn file(mut self, p: &str, content: &str) -> Self {
        self.files.insert(PathBuf::from(p), content.to_string());
        self
    }
}

impl Environment for FakeEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn exists(&self, path: &Path) -> bool {
        self.files.contains_key(path)
    }
    fn read_to_string(&self, path: &Path) -> Option<String> {
        self.files.get(path).cloned()
    }
}

/// Seconds since the Unix epoch; replaceable so judges of expiry and skew are testable.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    })
}

/// Host name → address overrides (`--resolve HOST:ADDR`, as curl's), applied to every
/// connection the doctor makes.
pub type Resolves = Vec<(String, std::net::IpAddr)>;

/// Where a long-running check reports progress (the probe's propagation wait). Checks do not
/// know the screen: the binary decides between a spinner on a TTY and plain lines.
pub trait Progress: Send + Sync {
    /// A wait is going on: what for, how long so far, and when the next attempt is.
    fn waiting(&self, _check: &str, _message: &str, _elapsed: Duration, _next_attempt_in: Option<Duration>) {}
    /// The wait is over.
    fn done(&self, _check: &str, _message: &str) {}
}

/// Reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// The shared state of one run.
pub struct RunContext {
    pub target: Target,
    pub endpoints: Endpoints,
    pub timeouts: Timeouts,
    /// The one HTTP client: extra roots, no redirects, timeouts, proxies from the environment.
    pub http: reqwest::Client,
    pub env: Arc<dyn Environment>,
    pub clock: Clock,
    pub resolves: Resolves,
    /// Extra trusted roots (PEM), kept for clients built later (e.g. the no-proxy IMDS client).
    pub extra_roots_pem: Option<Vec<u8>>,
    pub progress: Arc<dyn Progress>,
    /// `az` token calls started ahead of need (the ARM token beside the data-plane one).
    pub az_tokens: crate::azure::az_tokens::AzTokens,
    /// Work started ahead of need: the managed-identity ARM token, the ARM connection.
    pub early: crate::azure::early::EarlyCalls,
    /// The no-proxy client for IMDS, built on first use and shared by the probe and every
    /// token request, so they reuse one connection.
    pub imds_http: std::sync::OnceLock<reqwest::Client>,
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("target", &self.target)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl RunContext {
    pub fn now(&self) -> i64 {
        (self.clock)()
    }
}
