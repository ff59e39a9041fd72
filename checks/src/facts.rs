//! Facts one check learns and later checks need. The runner merges what each check provides
//! and starts a check only when the checks that provide its inputs have finished.

use crate::chain::{Link, MiSource};
use crate::diagnose::jwt::Claims;
use crate::secret::Secret;
use serde::Serialize;
use std::path::PathBuf;

/// A kind of fact. Which check provides it is that check's business: each check declares
/// what it [`provides`](crate::checks::Check::provides), and the runner derives the producers
/// from those declarations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fact {
    /// The parsed, plausible endpoint.
    Endpoint,
    /// Container / CI / Azure host.
    Environment,
    /// The state of the Azure CLI login.
    CliState,
    /// The credential the app would use.
    Credential,
    /// An access token for the scope.
    AccessToken,
    /// The token's decoded claims.
    Claims,
    /// The role-assignment verdict for the principal.
    Roles,
}

impl Fact {
    pub fn describe(self) -> &'static str {
        match self {
            Fact::Endpoint => "a usable endpoint",
            Fact::Environment => "the environment facts",
            Fact::CliState => "the Azure CLI state",
            Fact::Credential => "a usable credential",
            Fact::AccessToken => "an access token",
            Fact::Claims => "the token's claims",
            Fact::Roles => "the role-assignment result",
        }
    }
}

pub use crate::surface::Surface;

/// The endpoint as the `endpoint` check understood it.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointFacts {
    /// scheme://host[:port]/ — what SDKs want as `azure_endpoint`.
    pub base: url::Url,
    pub host: String,
    /// The custom subdomain (resource name) when the host has one.
    pub subdomain: Option<String>,
    pub loopback: bool,
    /// The surface the endpoint addresses.
    pub surface: Surface,
    /// What the probe appends its route to: the root for the classic route, `…/openai/v1`
    /// for the v1 API and projects, `…/models` for model inference.
    pub call_base: url::Url,
}

/// Where the doctor runs, as the `environment` check found out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EnvironmentFacts {
    pub os: String,
    pub arch: String,
    /// Why we think we are in a container (markers found), empty if not.
    pub container: Vec<String>,
    /// `--container yes|no`: overrides the markers (plan for a container, or for none).
    pub container_override: Option<bool>,
    pub ci: Option<String>,
    pub azure_host: Option<String>,
    pub kubernetes: bool,
}

impl EnvironmentFacts {
    pub fn in_container(&self) -> bool {
        self.container_override.unwrap_or(!self.container.is_empty())
    }
}

/// What the Azure CLI told us (never the token itself unless the chain picked the CLI).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CliState {
    pub installed: bool,
    pub logged_in: bool,
    pub user: Option<String>,
    pub user_type: Option<String>,
    pub tenant_id: Option<String>,
    pub subscription_id: Option<String>,
    /// The `az account get-access-token` answer, reused by `token` so `az` runs once.
    #[serde(skip)]
    pub token: Option<TokenInfo>,
    /// The classified failure text, when the CLI could not give a token.
    pub problem: Option<String>,
}

/// The credential the app would use: the chain link, how it is configured (read once from the
/// environment by `credential-chain`, so nothing later re-reads it), and what the chain
/// already learned about it.
#[derive(Debug, Clone)]
pub struct CredentialFacts {
    pub link: Link,
    /// Link class name as the SDK spells it, e.g. `ManagedIdentityCredential`.
    pub name: String,
    pub config: CredentialConfig,
    /// Extra detail for the report (source of managed identity, client id, …); never a secret.
    pub detail: serde_json::Value,
    /// A token attempt the chain already had to make to decide availability (IMDS, `az`,
    /// `azd`, and JS's fall-through links); `token` judges it instead of asking again.
    pub prefetched: Option<Result<TokenInfo, crate::azure::credentials::AcquireFailure>>,
}

impl CredentialFacts {
    /// Our stable id of the link (as `--credential` spells it), e.g. `managed-identity`.
    pub fn kind(&self) -> &'static str {
        self.link.id()
    }
}

/// How the chosen credential is configured: everything token acquisition needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialConfig {
    /// `EnvironmentCredential` with `AZURE_CLIENT_SECRET`.
    ClientSecret {
        tenant: String,
        client_id: String,
        secret: Secret,
    },
    /// `EnvironmentCredential` with `AZURE_CLIENT_CERTIFICATE_PATH` (not signed in with).
    Certificate {
        tenant: String,
        client_id: String,
        path: PathBuf,
    },
    /// `EnvironmentCredential` with `AZURE_USERNAME`/`AZURE_PASSWORD` (not signed in with).
    UsernamePassword { client_id: String, username: String },
    /// `WorkloadIdentityCredential`: a federated token file exchanged at Entra.
    WorkloadIdentity {
        tenant: String,
        client_id: String,
        token_file: PathBuf,
    },
    /// `ManagedIdentityCredential` from `source`; `client_id` selects a user-assigned identity.
    ManagedIdentity {
        source: MiSource,
        client_id: Option<String>,
    },
    /// The Azure CLI's login.
    AzureCli,
    /// The Azure Developer CLI's login.
    AzureDeveloperCli,
    /// A link the doctor names but does not sign in with (IDE sign-ins).
    NotExamined,
}

/// An access token and where it came from. The token is a [`Secret`].
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub token: Secret,
    /// Unix seconds, when the source said.
    pub expires_on: Option<i64>,
    pub source: String,
}

/// What the role check concluded, for the probe (wait for propagation or fail at once?), a
/// `fix` (what to change) and the report's identity section.
#[derive(Debug, Clone, Serialize)]
pub struct RoleFacts {
    /// Always `outcome.verdict()`: what the data plane should do (kept as a field for the
    /// consumers that only need this much).
    pub verdict: RoleVerdict,
    /// What the role check found, in one word.
    pub outcome: RoleOutcomeKind,
    /// The account's ARM id, when found.
    pub resource_id: Option<String>,
    /// The tenant the account lives in, when known.
    pub resource_tenant: Option<String>,
    /// The principal whose roles were checked (object id).
    pub principal_id: Option<String>,
    /// The data action the probe needs, e.g. `Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action`.
    pub data_action: String,
    /// Age of the youngest assignment that grants it, in seconds.
    pub newest_grant_age_secs: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleVerdict {
    /// A qualifying assignment exists and is older than the propagation window.
    Granted,
    /// A qualifying assignment exists but is recent: the data plane may still say 401.
    Propagating,
    /// No qualifying assignment: waiting will not help.
    Missing,
    /// RBAC could not be read (403 on the role-assignment read, no ARM token…).
    Unknown,
}

/// The role check's outcome, summarised: the public seam for the probe and `fix` (the full
/// outcome, with the assignments it names, is `checks::role_assignment::RoleOutcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleOutcomeKind {
    /// A role at the account grants the data action, long enough ago to have propagated.
    Granted,
    /// Granted, recently: the data plane may answer 401 until it propagates.
    Propagating,
    /// Granted only under ABAC conditions the doctor does not evaluate.
    Conditional,
    /// A deny assignment blocks the action.
    Denied,
    /// Only management roles (Owner, Contributor, Reader…): no data actions.
    ControlPlaneOnly,
    /// The right role, on another account, resource group or subscription.
    WrongScope,
    /// Roles with data actions, none of which covers the call.
    WrongDataActions,
    /// No role at the account at all.
    NoRole,
    /// The caller can list no subscription: it holds no role in its tenant.
    NoRoleInTenant,
    /// Role assignments unreadable, and ARM's effective permissions lack the action.
    EffectivelyMissing,
    /// Role definitions unreadable: whether they grant the action is unknown.
    DefinitionsUnreadable,
    /// Role assignments unreadable (403 or another ARM failure).
    AssignmentsUnreadable,
    /// The assignments were not read.
    NotRead,
    /// No account with the endpoint among those the identity can read.
    AccountNotFound,
    /// `--resource-id` is not an account id, or ARM says it does not exist.
    BadResourceId,
    /// The account lives in another tenant than the token's.
    OtherTenant,
    /// ARM refused or failed the search for the account.
    SearchRefused,
    /// `--assignee` could not be resolved.
    AssigneeUnresolved,
    /// No ARM token, or ARM not reachable.
    ArmUnavailable,
    /// Neither an endpoint nor `--resource-id`: nothing was looked for.
    NoAccountToSearch,
    /// The Foundry project the endpoint names does not exist on the account.
    ProjectNotFound,
    /// Only an unverified alternative reading of the data action is granted (a non-OpenAI
    /// model through `/openai/v1`): the live call decides.
    Unverified,
}

impl RoleOutcomeKind {
    /// What the data plane should do: grant, propagate, refuse, or unknown.
    pub fn verdict(self) -> RoleVerdict {
        use RoleOutcomeKind as K;
        match self {
            K::Granted => RoleVerdict::Granted,
            K::Propagating => RoleVerdict::Propagating,
            K::Denied
            | K::ControlPlaneOnly
            | K::WrongScope
            | K::WrongDataActions
            | K::NoRole
            | K::NoRoleInTenant
            | K::EffectivelyMissing
            // Waiting will not help either: no project to propagate to; nothing grants the
            // action the sources name.
            | K::ProjectNotFound
            | K::Unverified => RoleVerdict::Missing,
            K::Conditional
            | K::DefinitionsUnreadable
            | K::AssignmentsUnreadable
            | K::NotRead
            | K::AccountNotFound
            | K::BadResourceId
            | K::OtherTenant
            | K::SearchRefused
            | K::AssigneeUnresolved
            | K::ArmUnavailable
            | K::NoAccountToSearch => RoleVerdict::Unknown,
        }
    }
}

/// Everything learned so far in a run.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub endpoint: Option<EndpointFacts>,
    pub environment: Option<EnvironmentFacts>,
    pub cli: Option<CliState>,
    pub credential: Option<CredentialFacts>,
    pub token: Option<TokenInfo>,
    pub claims: Option<Claims>,
    pub roles: Option<RoleFacts>,
    /// Facts other checks of this run are still producing (see [`Facts::await_fact`]).
    pub pending: FactWaiter,
}

impl Facts {
    pub fn has(&self, fact: Fact) -> bool {
        match fact {
            Fact::Endpoint => self.endpoint.is_some(),
            Fact::Environment => self.environment.is_some(),
            Fact::CliState => self.cli.is_some(),
            Fact::Credential => self.credential.is_some(),
            Fact::AccessToken => self.token.is_some(),
            Fact::Claims => self.claims.is_some(),
            Fact::Roles => self.roles.is_some(),
        }
    }

    /// Takes every fact `other` provides.
    pub fn merge(&mut self, other: Facts) {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(endpoint, environment, cli, credential, token, claims, roles);
    }

    /// The facts once the check that provides `fact` has finished, for a check that needs the
    /// fact only on some paths and so does not declare it in `needs()`/`after()` (the probe
    /// awaits the role verdict only on a 401, while the role check runs beside it). When no
    /// check of this run provides `fact`, or it has already finished, this returns at once;
    /// the fact may still be missing (its producer failed or was not selected).
    ///
    /// Never await a fact whose producer waits for the awaiting check: both would sit until
    /// their time limits.
    pub async fn await_fact(&self, fact: Fact) -> Facts {
        let Some(board) = &self.pending.board else {
            return self.clone();
        };
        let producer = board.producers.lock().ok().and_then(|p| p.get(&fact).cloned());
        if let Some(done) = producer {
            done.await;
        }
        let mut now = board.facts.lock().map(|f| f.clone()).unwrap_or_default();
        now.pending = self.pending.clone();
        now
    }
}

/// Completes when a check (the producer of some facts) has finished and merged its facts.
pub type Finished = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;

/// The runner's board of a run: the facts merged so far and, per fact, the check that
/// provides it. A default waiter belongs to no run and has nothing pending.
#[derive(Clone, Default)]
pub struct FactWaiter {
    board: Option<std::sync::Arc<Board>>,
}

struct Board {
    facts: std::sync::Arc<std::sync::Mutex<Facts>>,
    producers: std::sync::Mutex<std::collections::HashMap<Fact, Finished>>,
}

impl FactWaiter {
    /// A board over the run's merged `facts`; producers are added as their checks are set up.
    pub fn new(facts: std::sync::Arc<std::sync::Mutex<Facts>>) -> Self {
        FactWaiter {
            board: Some(std::sync::Arc::new(Board {
                facts,
                producers: Default::default(),
            })),
        }
    }
    /// `done` completes once `fact` is merged (or known to be missing).
    pub fn produced_by(&self, fact: Fact, done: Finished) {
        if let Some(board) = &self.board
            && let Ok(mut p) = board.producers.lock()
        {
            p.insert(fact, done);
        }
    }
}

impl std::fmt::Debug for FactWaiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.board.is_some() {
            "FactWaiter(run)"
        } else {
            "FactWaiter(none)"
        })
    }
}

/// The report's `identity` section: who the app is, as far as the checks found out.
pub fn identity_json(facts: &Facts) -> serde_json::Value {
    let mut id = serde_json::Map::new();
    if let Some(c) = &facts.credential {
        id.insert("credential".into(), serde_json::json!(c.name));
    }
    if let Some(cli) = &facts.cli {
        if let Some(t) = &cli.tenant_id {
            id.insert("cli_tenant_id".into(), serde_json::json!(t));
        }
        if let Some(u) = &cli.user {
            id.insert("cli_user".into(), serde_json::json!(u));
        }
    }
    if let Some(serde_json::Value::Object(claims)) = facts.claims.as_ref().map(Claims::shown) {
        for (from, to) in [
            ("tid", "tenant_id"),
            ("oid", "object_id"),
            ("appid", "app_id"),
            ("azp", "app_id"),
            ("idtyp", "principal_type"),
            ("upn", "upn"),
            ("xms_mirid", "managed_identity_resource_id"),
        ] {
            if let Some(v) = claims.get(from)
                && !id.contains_key(to)
            {
                id.insert(to.into(), v.clone());
            }
        }
    }
    serde_json::Value::Object(id)
}
