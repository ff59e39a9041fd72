//! Scenario files: `fixtures/scenarios/NAME.toml`, each merged over `_base.toml`.
//!
//! A scenario is data, not code: the world (tenants, subscription, account, deployments,
//! principals), the pitfall (role assignments, CLI state, host, credentials in the
//! environment, network rules, ...) and what the doctor is expected to conclude.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use super::scenario_files::SCENARIO_FILES;

const BASE: &str = include_str!("../../fixtures/scenarios/_base.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Filled from the file name when absent.
    #[serde(default)]
    pub name: String,
    pub description: String,
    pub expected_verdict: Verdict,
    #[serde(default)]
    pub expected_codes: Vec<String>,
    pub tenants: BTreeMap<String, Tenant>,
    pub subscriptions: BTreeMap<String, Subscription>,
    pub account: Account,
    #[serde(default)]
    pub other_accounts: BTreeMap<String, OtherAccount>,
    /// Foundry projects of the account (`…/accounts/{a}/projects/{name}`); only an account
    /// of kind `AIServices` has them.
    #[serde(default)]
    pub projects: BTreeMap<String, Project>,
    pub deployments: BTreeMap<String, Deployment>,
    pub principals: BTreeMap<String, Principal>,
    #[serde(default)]
    pub role_assignments: Vec<RoleAssignment>,
    #[serde(default)]
    pub custom_roles: Vec<CustomRole>,
    #[serde(default)]
    pub deny_assignments: Vec<DenyAssignment>,
    pub cli: Cli,
    pub host: Host,
    pub app: App,
    pub data_plane: DataPlane,
    pub arm: Arm,
    pub doctor: Doctor,
    /// `SERVICE = "FAULT"`: one fault per service (see `lab/src/faults.rs`); `lab serve
    /// --fault` adds to these and overrides them.
    #[serde(default)]
    pub faults: BTreeMap<String, String>,
    /// `[latency]`: round-trip times per service, `az` and `model_time` (see
    /// `lab/src/latency.rs`); `lab serve --latency`/`--model-time` override them.
    #[serde(default)]
    pub latency: super::latency::Latency,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub id: String,
    pub domain: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    pub id: String,
    pub name: String,
    pub tenant: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub name: String,
    pub subscription: String,
    pub resource_group: String,
    pub location: String,
    /// Display name sent in `x-ms-region`.
    pub region: String,
    pub kind: String,
    pub sku: String,
    pub disable_local_auth: bool,
    /// `Enabled` | `Disabled`
    pub public_network_access: String,
    pub network_acls: NetworkAcls,
    pub api_key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkAcls {
    /// `Allow` | `Deny`
    pub default_action: String,
    #[serde(default)]
    pub ip_rules: Vec<String>,
    #[serde(default)]
    pub virtual_network_rules: Vec<String>,
    pub bypass: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtherAccount {
    pub subscription: String,
    pub resource_group: String,
    pub location: String,
}

/// A Foundry project (a child resource of an AIServices account).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentKind {
    Chat,
    Embeddings,
    /// o-series: rejects `max_tokens`, wants `max_completion_tokens`.
    Reasoning,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub model: String,
    pub version: String,
    pub kind: DeploymentKind,
    /// Older api-versions are refused for this model (as Azure does for o-series models).
    pub min_api_version: Option<String>,
    /// The ARM deployment's `properties.model.format`: `OpenAI`, or a Foundry Models
    /// publisher such as `DeepSeek`, `Meta`, `xAI`, `Microsoft` (non-OpenAI models need
    /// `MaaS/*` data actions).
    #[serde(default = "openai_format")]
    pub format: String,
}

fn openai_format() -> String {
    "OpenAI".into()
}

impl Deployment {
    pub fn is_openai(&self) -> bool {
        self.format.eq_ignore_ascii_case("OpenAI")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    User,
    ServicePrincipal,
    ManagedIdentity,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MiType {
    System,
    User,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    #[serde(rename = "type")]
    pub kind: PrincipalKind,
    pub object_id: String,
    /// Home tenant (handle).
    pub tenant: String,
    pub display_name: String,
    /// Users.
    pub upn: Option<String>,
    /// Users: tenants (handles) the user is a guest in.
    #[serde(default)]
    pub guest_of: Vec<String>,
    /// Service principals and managed identities: the client id.
    pub app_id: Option<String>,
    /// Service principals: the one client secret (value) Entra accepts.
    pub secret: Option<String>,
    /// Service principals: the secret's id (what people paste instead of the value).
    pub secret_id: Option<String>,
    /// Service principals: negative means the secret has expired.
    pub secret_expires_in_days: Option<i64>,
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredential>,
    pub mi_type: Option<MiType>,
    /// Managed identities: the ARM id that tokens carry as `xms_mirid`.
    pub resource_id: Option<String>,
    /// Groups: member handles (users, service principals, identities, groups).
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederatedCredential {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audience: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignment {
    /// Principal handle.
    pub principal: String,
    /// Role name (or alias) or GUID.
    pub role: String,
    /// `account`, `resource-group`, `subscription`, `account:NAME` (another account),
    /// `project:NAME` (a Foundry project of the account) or an ARM scope starting with `/`.
    pub scope: String,
    /// How long ago the assignment was created (drives `createdOn` and propagation).
    #[serde(default = "default_age")]
    pub age_seconds: u64,
    /// The assignment's GUID; derived from the other fields when absent.
    pub name: Option<String>,
    pub condition: Option<String>,
    pub description: Option<String>,
}

fn default_age() -> u64 {
    7 * 24 * 3600
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRole {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
    #[serde(default)]
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
    /// Same keywords as a role assignment's scope.
    #[serde(default = "default_assignable")]
    pub assignable_scopes: Vec<String>,
}

fn default_assignable() -> Vec<String> {
    vec!["subscription".into()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyAssignment {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Principal handles, or `everyone`.
    pub principals: Vec<String>,
    #[serde(default)]
    pub exclude_principals: Vec<String>,
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
    #[serde(default)]
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
    pub scope: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CliState {
    LoggedIn,
    NotLoggedIn,
    /// AADSTS700082 on every token request.
    RefreshExpired,
    /// AADSTS53003 on every token request.
    ConditionalAccess,
    /// `az` never answers.
    Hang,
    /// No `az` on PATH.
    Missing,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cli {
    pub state: CliState,
    pub principal: Option<String>,
    pub subscription: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKind {
    Laptop,
    Ci,
    Container,
    AppService,
    ContainerApps,
    Vm,
    Aks,
}

impl HostKind {
    /// Hosts whose managed identity is served through IDENTITY_ENDPOINT/IDENTITY_HEADER.
    pub fn has_identity_endpoint(self) -> bool {
        matches!(self, HostKind::AppService | HostKind::ContainerApps)
    }

    /// Hosts where something answers on the IMDS address.
    pub fn has_imds(self) -> bool {
        matches!(self, HostKind::Vm | HostKind::Aks)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub kind: HostKind,
    /// Managed identity handles attached to the host.
    #[serde(default)]
    pub managed_identities: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppCredential {
    None,
    ServicePrincipal,
    WorkloadIdentity,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub credential: AppCredential,
    /// The service principal (or user-assigned identity) the credential names.
    pub principal: Option<String>,
    /// AZURE_CLIENT_SECRET; defaults to the principal's secret.
    pub secret: Option<String>,
    /// AZURE_TENANT_ID as a tenant handle or a literal; defaults to the principal's tenant.
    pub tenant: Option<String>,
    /// AZURE_CLIENT_ID when it should be set without a secret/federated credential
    /// (user-assigned managed identity), or to override the principal's client id.
    pub client_id: Option<String>,
    /// The projected service-account token's `iss` / `sub` / `aud`; default to the
    /// principal's first federated credential.
    pub federated_issuer: Option<String>,
    pub federated_subject: Option<String>,
    pub federated_audience: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PermissionDeniedStyle {
    DataAction,
    Generic,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataPlane {
    pub propagation_delay_seconds: u64,
    pub client_ip: String,
    pub permission_denied: PermissionDeniedStyle,
    pub rate_limit: Option<RateLimit>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests answered normally before the limit starts.
    #[serde(default)]
    pub after: u32,
    /// How many requests get 429; 0 means all of them.
    #[serde(default)]
    pub count: u32,
    /// `Retry-After` seconds; absent means no header (Azure does that too).
    pub retry_after_seconds: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    pub page_size: usize,
    /// How many subscriptions the caller sees in all: the scenario's own plus empty ones
    /// (listed first, the account's last), e.g. 500 for an enterprise tenant. `lab serve
    /// --subscriptions N` overrides it.
    #[serde(default)]
    pub subscriptions: Option<usize>,
    /// ARM's effective permissions (`…/providers/Microsoft.Authorization/permissions`) are
    /// computed from a cache that lags role-assignment changes: assignments younger than this
    /// are not in that answer yet, though the assignment list already shows them.
    #[serde(default)]
    pub permissions_lag_seconds: u64,
    /// Built-in roles as Microsoft changed them after the doctor's bundled copy was made:
    /// role name → data actions the live definition adds (built-in roles changed several
    /// times in 2025–2026). ARM and the data plane both use the changed role.
    #[serde(default)]
    pub builtin_added_data_actions: BTreeMap<String, Vec<String>>,
    /// How ARM answers role-assignment writes (`aoai-doctor fix`); see `arm_write.rs`.
    #[serde(default)]
    pub role_assignment_write: WriteAnswer,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteAnswer {
    /// ARM's own checks, then the write.
    #[default]
    Normal,
    /// Always 429 with `Retry-After: 1`.
    Throttled,
    /// A claims challenge: a Conditional Access policy wants MFA for the write.
    MfaRequired,
    /// 404 RoleDefinitionDoesNotExist: the planned role is not defined in this cloud (a
    /// sovereign cloud without a newer built-in role).
    RoleDefinitionMissing,
    /// 503 ServiceUnavailable: ARM has no usable answer for the write.
    Unavailable,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Doctor {
    pub deployment: String,
    /// What the app is configured with after the lab's URL (`--endpoint URL/PATH`): empty
    /// for a resource root, `openai/v1/` for a v1 base URL, `api/projects/NAME` for a
    /// Foundry project endpoint, `models` for the model-inference route.
    #[serde(default)]
    pub endpoint_path: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// Every embedded scenario, in file-list order.
pub fn scenarios() -> Vec<Scenario> {
    SCENARIO_FILES
        .iter()
        .map(|(name, text)| {
            parse(name, text).unwrap_or_else(|e| {
                // Embedded files are checked by the unit tests; reaching this is a build bug.
                panic!("embedded scenario {name} is invalid: {e:#}")
            })
        })
        .collect()
}

/// One embedded scenario by name.
pub fn scenario(name: &str) -> Option<Scenario> {
    SCENARIO_FILES
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(n, text)| parse(n, text).ok())
}

/// A scenario by name, or from a TOML file (merged over the same base) when `arg` is a path.
pub fn load(arg: &str) -> Result<Scenario> {
    if let Some(s) = scenario(arg) {
        return Ok(s);
    }
    let path = Path::new(arg);
    if arg.ends_with(".toml") || path.exists() {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {arg}"))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("custom")
            .to_string();
        return parse(&name, &text);
    }
    let names: Vec<&str> = SCENARIO_FILES.iter().map(|(n, _)| *n).collect();
    bail!(
        "unknown scenario '{arg}'; known scenarios: {} (or pass a .toml file)",
        names.join(", ")
    )
}

/// Parse one scenario file merged over the base world, and check its references.
pub fn parse(name: &str, text: &str) -> Result<Scenario> {
    let mut base: toml::Table = toml::from_str(BASE).context("fixtures/scenarios/_base.toml")?;
    let overlay: toml::Table = toml::from_str(text).with_context(|| format!("scenario {name}"))?;
    merge(&mut base, overlay);
    let mut s: Scenario = toml::Value::Table(base)
        .try_into()
        .with_context(|| format!("scenario {name}"))?;
    if s.name.is_empty() {
        s.name = name.to_string();
    }
    s.validate().with_context(|| format!("scenario {name}"))?;
    Ok(s)
}

/// Tables merge key by key; any other value replaces the base's.
fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl Scenario {
    fn validate(&self) -> Result<()> {
        for (h, t) in &self.tenants {
            ensure_guid(&t.id, &format!("tenants.{h}.id"))?;
        }
        for (h, s) in &self.subscriptions {
            ensure_guid(&s.id, &format!("subscriptions.{h}.id"))?;
            self.tenant(&s.tenant)?;
        }
        self.subscription(&self.account.subscription)?;
        for (h, a) in &self.other_accounts {
            self.subscription(&a.subscription)
                .with_context(|| format!("other_accounts.{h}"))?;
        }
        for (h, p) in &self.principals {
            ensure_guid(&p.object_id, &format!("principals.{h}.object_id"))?;
            self.tenant(&p.tenant).with_context(|| format!("principals.{h}"))?;
            for g in &p.guest_of {
                self.tenant(g).with_context(|| format!("principals.{h}"))?;
            }
            match p.kind {
                PrincipalKind::User if p.upn.is_none() => bail!("principals.{h}: a user needs upn"),
                PrincipalKind::ServicePrincipal | PrincipalKind::ManagedIdentity => {
                    let id = p
                        .app_id
                        .as_deref()
                        .ok_or_else(|| anyhow!("principals.{h}: needs app_id"))?;
                    ensure_guid(id, &format!("principals.{h}.app_id"))?;
                }
                _ => {}
            }
            if p.kind == PrincipalKind::ManagedIdentity && (p.mi_type.is_none() || p.resource_id.is_none()) {
                bail!("principals.{h}: a managed identity needs mi_type and resource_id");
            }
            if let Some(id) = &p.secret_id {
                ensure_guid(id, &format!("principals.{h}.secret_id"))?;
            }
            let mut names = std::collections::BTreeSet::new();
            for f in &p.federated_credentials {
                if !names.insert(f.name.as_str()) {
                    bail!("principals.{h}: two federated credentials named '{}'", f.name);
                }
            }
            for m in &p.members {
                self.principal(m).with_context(|| format!("principals.{h}.members"))?;
            }
        }
        for ra in &self.role_assignments {
            self.principal(&ra.principal)?;
            self.scope(&ra.scope)?;
        }
        for d in &self.deny_assignments {
            ensure_guid(&d.id, "deny_assignments.id")?;
            self.scope(&d.scope)?;
            for p in d.principals.iter().chain(&d.exclude_principals) {
                if p != "everyone" {
                    self.principal(p)?;
                }
            }
        }
        for r in &self.custom_roles {
            ensure_guid(&r.id, "custom_roles.id")?;
            for s in &r.assignable_scopes {
                self.scope(s)?;
            }
        }
        if let Some(p) = &self.cli.principal {
            self.principal(p).context("cli.principal")?;
        }
        if let Some(s) = &self.cli.subscription {
            self.subscription(s).context("cli.subscription")?;
        }
        if self.cli.state != CliState::Missing
            && self.cli.state != CliState::NotLoggedIn
            && (self.cli.principal.is_none() || self.cli.subscription.is_none())
        {
            bail!("cli: a logged-in CLI needs principal and subscription");
        }
        for m in &self.host.managed_identities {
            let p = self.principal(m).context("host.managed_identities")?;
            if p.kind != PrincipalKind::ManagedIdentity {
                bail!("host.managed_identities: {m} is not a managed identity");
            }
        }
        if let Some(p) = &self.app.principal {
            self.principal(p).context("app.principal")?;
        }
        if self.app.credential != AppCredential::None && self.app.principal.is_none() {
            bail!("app: credential {:?} needs a principal", self.app.credential);
        }
        super::faults::table(&self.faults)?;
        self.validate_foundry()
    }

    fn validate_foundry(&self) -> Result<()> {
        if !self.projects.is_empty() && !self.is_foundry() {
            bail!("projects: only an account of kind AIServices has projects");
        }
        for name in self.projects.keys() {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                bail!("projects.{name}: not a valid project name");
            }
        }
        let path = self.doctor.endpoint_path.trim_start_matches('/');
        if let Some(p) = path.strip_prefix("api/projects/") {
            let name = p.split('/').next().unwrap_or_default();
            if !self.projects.contains_key(name) {
                bail!("doctor.endpoint_path: unknown project '{name}'");
            }
        }
        Ok(())
    }

    pub fn tenant(&self, handle: &str) -> Result<&Tenant> {
        self.tenants
            .get(handle)
            .ok_or_else(|| anyhow!("unknown tenant '{handle}'"))
    }

    pub fn subscription(&self, handle: &str) -> Result<&Subscription> {
        self.subscriptions
            .get(handle)
            .ok_or_else(|| anyhow!("unknown subscription '{handle}'"))
    }

    pub fn principal(&self, handle: &str) -> Result<&Principal> {
        self.principals
            .get(handle)
            .ok_or_else(|| anyhow!("unknown principal '{handle}'"))
    }

    /// The tenant that owns the account (through its subscription).
    pub fn account_tenant(&self) -> &Tenant {
        self.subscriptions
            .get(&self.account.subscription)
            .and_then(|s| self.tenants.get(&s.tenant))
            .expect("validated")
    }

    pub fn account_subscription(&self) -> &Subscription {
        self.subscriptions.get(&self.account.subscription).expect("validated")
    }

    pub fn account_id(&self) -> String {
        let sub = self.account_subscription();
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.CognitiveServices/accounts/{}",
            sub.id, self.account.resource_group, self.account.name
        )
    }

    pub fn other_account_id(&self, name: &str) -> Result<String> {
        let a = self
            .other_accounts
            .get(name)
            .ok_or_else(|| anyhow!("unknown other account '{name}'"))?;
        let sub = self.subscription(&a.subscription)?;
        Ok(format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.CognitiveServices/accounts/{name}",
            sub.id, a.resource_group
        ))
    }

    /// A Foundry project's ARM id (the project must exist in the scenario).
    pub fn project_id(&self, name: &str) -> Result<String> {
        if !self.projects.contains_key(name) {
            bail!("unknown project '{name}'");
        }
        Ok(format!("{}/projects/{name}", self.account_id()))
    }

    /// An AIServices ("Microsoft Foundry") account: it has projects and the model-inference
    /// route.
    pub fn is_foundry(&self) -> bool {
        self.account.kind.eq_ignore_ascii_case("AIServices")
    }

    /// Expand a scope keyword to an ARM scope.
    pub fn scope(&self, s: &str) -> Result<String> {
        let sub = self.account_subscription();
        Ok(match s {
            "account" => self.account_id(),
            "resource-group" => format!(
                "/subscriptions/{}/resourceGroups/{}",
                sub.id, self.account.resource_group
            ),
            "subscription" => format!("/subscriptions/{}", sub.id),
            "root" => "/".to_string(),
            other if other.starts_with("account:") => self.other_account_id(&other[8..])?,
            other if other.starts_with("project:") => self.project_id(&other[8..])?,
            other if other.starts_with('/') => other.to_string(),
            other => bail!("unknown scope '{other}'"),
        })
    }
}

fn ensure_guid(s: &str, what: &str) -> Result<()> {
    if is_guid(s) {
        Ok(())
    } else {
        bail!("{what}: '{s}' is not a GUID")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_scenario_parses_and_validates() {
        for (name, text) in SCENARIO_FILES {
            let s = parse(name, text).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert_eq!(&s.name, name);
            assert!(!s.description.is_empty(), "{name}: description");
            assert!(!s.description.contains('\n'), "{name}: description must be one line");
        }
    }

    #[test]
    fn every_scenario_file_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().to_string();
            if let Some(stem) = name.strip_suffix(".toml").filter(|s| !s.starts_with('_')) {
                assert!(
                    SCENARIO_FILES.iter().any(|(n, _)| *n == stem),
                    "{name} is not in lab/src/scenario_files.rs"
                );
            }
        }
    }

    #[test]
    fn merge_replaces_arrays_and_merges_tables() {
        let s = parse(
            "t",
            "description = 'x'\nexpected_verdict = 'pass'\n[account]\nname = 'other'\n",
        )
        .unwrap();
        assert_eq!(s.account.name, "other");
        assert_eq!(s.account.resource_group, "rg-ai");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let e = parse(
            "t",
            "description = 'x'\nexpected_verdict = 'pass'\n[account]\nnmae = 'typo'\n",
        );
        assert!(e.is_err());
    }

    #[test]
    fn faults_are_checked_when_the_scenario_loads() {
        let head = "description = 'x'\nexpected_verdict = 'fail'\n";
        let s = parse(
            "t",
            &format!("{head}[faults]\nentra = 'reset-mid-body'\naz = 'empty'\n"),
        )
        .unwrap();
        assert_eq!(s.faults.len(), 2);
        for bad in [
            "nowhere = 'hang'",
            "entra = 'sneeze'",
            "arm = 'opaque-token'",
            "imds = 'untrusted-cert'",
        ] {
            assert!(parse("t", &format!("{head}[faults]\n{bad}\n")).is_err(), "{bad}");
        }
    }

    #[test]
    fn load_by_name_and_unknown_name() {
        assert!(load("healthy-cli").is_ok());
        let e = load("no-such-scenario").unwrap_err().to_string();
        assert!(e.contains("healthy-cli"), "{e}");
    }
}
