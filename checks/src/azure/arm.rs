//! A small Azure Resource Manager client: reqwest and typed serde structs (no generated SDK:
//! the few reads the doctor makes do not warrant one), GETs only, `nextLink` paging, bounded
//! throttling retries, and every error body read by
//! [`crate::diagnose::arm::classify_arm_response`].
//!
//! The bearer token is only ever sent to the ARM origin the client was built for: a
//! `nextLink` pointing anywhere else is refused, not followed.

use super::http;
use crate::context::RunContext;
use crate::diagnose::arm::{ArmErrorKind, ArmVerdict, classify_arm_response};
use crate::diagnose::rbac::Permission;
use crate::diagnose::redact::redact;
use crate::secret::Secret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Mutex;
use std::time::Duration;
use url::Url;

mod resource_id;
pub use resource_id::{ParseError as ResourceIdError, ResourceId};

/// `Microsoft.Authorization` (role assignments, definitions, deny assignments, permissions).
pub const AUTHORIZATION_API: &str = "2022-04-01";
/// `GET /subscriptions`.
pub const SUBSCRIPTIONS_API: &str = "2022-12-01";
/// `Microsoft.CognitiveServices/accounts`.
pub const ACCOUNTS_API: &str = "2023-05-01";
/// `Microsoft.CognitiveServices/accounts/projects` (Foundry projects; GA in 2025-06-01, which
/// also reads accounts and deployments).
pub const PROJECTS_API: &str = "2025-06-01";
/// `Microsoft.ManagedIdentity/userAssignedIdentities`.
pub const MANAGED_IDENTITY_API: &str = "2023-01-31";

/// At most this many retries of one request after a 429.
const MAX_RETRIES: u32 = 2;
/// At most this long waiting on 429s, over the client's whole life.
const THROTTLE_BUDGET: Duration = Duration::from_secs(10);
/// Retry-After when ARM sends none (or one we cannot read).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);
/// At most this many pages per listing, and this many bytes per body.
const MAX_PAGES: usize = 100;
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Why an ARM call gave no usable answer.
#[derive(Debug, Clone)]
pub enum ArmError {
    /// ARM answered with an error status; `verdict` is the classifier's reading of the body.
    Status {
        status: u16,
        code: Option<String>,
        message: String,
        verdict: Box<ArmVerdict>,
    },
    /// No answer: DNS, connect, TLS, reset.
    Transport {
        kind: http::Failure,
        message: String,
    },
    TimedOut(Duration),
    /// A 2xx whose body is not what the API documents.
    BadBody {
        status: u16,
        message: String,
    },
    /// A `nextLink` to another origin: not followed, so the token never leaves ARM.
    ForeignLink(String),
}

impl ArmError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ArmError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
    /// The ARM error code (`AuthorizationFailed`, `ResourceNotFound`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            ArmError::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }
    pub fn kind(&self) -> Option<&ArmErrorKind> {
        match self {
            ArmError::Status { verdict, .. } => Some(&verdict.kind),
            _ => None,
        }
    }
    pub fn is_forbidden(&self) -> bool {
        matches!(self.kind(), Some(ArmErrorKind::AuthorizationFailed { .. })) || self.status() == Some(403)
    }
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
    /// Transport failures and timeouts: ARM was not reached at all.
    pub fn unreachable(&self) -> bool {
        matches!(self, ArmError::Transport { .. } | ArmError::TimedOut(_))
    }
    /// One line for a finding (redacted).
    pub fn describe(&self) -> String {
        match self {
            ArmError::Status {
                status, code, message, ..
            } => {
                let code = code.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
                let msg: String = message.chars().take(300).collect();
                redact(&format!("HTTP {status}{code}: {msg}"))
            }
            ArmError::Transport { message, .. } => redact(message),
            ArmError::TimedOut(d) => format!("no answer within {}", crate::diagnose::duration::time_limit(*d)),
            ArmError::BadBody { status, message } => {
                redact(&format!("HTTP {status} with an unexpected body: {message}"))
            }
            ArmError::ForeignLink(l) => format!("ARM's nextLink points to another host ({}), not followed", redact(l)),
        }
    }
}

/// `{"value": [...], "nextLink": "..."}`.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(rename = "nextLink", default)]
    pub next_link: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    #[serde(default)]
    pub subscription_id: String,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub properties: AccountProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountProperties {
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub endpoints: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub custom_sub_domain_name: Option<String>,
    #[serde(default)]
    pub disable_local_auth: Option<bool>,
    #[serde(default)]
    pub public_network_access: Option<String>,
    #[serde(default)]
    pub network_acls: Option<serde_json::Value>,
    #[serde(default)]
    pub private_endpoint_connections: Option<Vec<serde_json::Value>>,
}

impl Account {
    /// Every endpoint URL the account lists (primary first).
    pub fn endpoint_urls(&self) -> Vec<String> {
        let mut out: Vec<String> = self.properties.endpoint.iter().cloned().collect();
        if let Some(map) = &self.properties.endpoints {
            out.extend(map.values().filter_map(|v| v.as_str().map(str::to_string)));
        }
        out
    }
}

/// A Foundry project (`…/accounts/{a}/projects/{p}`): ARM names it `{account}/{project}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Project {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub properties: ProjectProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectProperties {
    /// `{"AI Foundry API": "https://{a}.services.ai.azure.com/api/projects/{p}"}`.
    #[serde(default)]
    pub endpoints: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub display_name: Option<String>,
}

impl Project {
    /// The project's own name (the part after the account's `/`).
    pub fn short_name(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }
}

/// A model deployment: what the role check needs is its model's format.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Deployment {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub properties: DeploymentProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeploymentProperties {
    #[serde(default)]
    pub model: Option<DeploymentModel>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeploymentModel {
    /// `OpenAI`, or a publisher (`DeepSeek`, `Meta`, `xAI`, `Mistral AI`, …).
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoleAssignment {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub properties: RoleAssignmentProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentProperties {
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub role_definition_id: String,
    #[serde(default)]
    pub principal_id: String,
    #[serde(default)]
    pub principal_type: Option<String>,
    #[serde(default)]
    pub condition: Option<String>,
    #[serde(default)]
    pub condition_version: Option<String>,
    #[serde(default)]
    pub created_on: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoleDefinition {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub properties: RoleDefinitionProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinitionProperties {
    #[serde(default)]
    pub role_name: String,
    #[serde(rename = "type", default)]
    pub role_type: Option<String>,
    #[serde(default)]
    pub permissions: Vec<Permission>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DenyAssignment {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub properties: DenyAssignmentProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DenyAssignmentProperties {
    #[serde(default)]
    pub deny_assignment_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub permissions: Vec<Permission>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub principals: Vec<DenyPrincipal>,
    #[serde(default)]
    pub exclude_principals: Vec<DenyPrincipal>,
    #[serde(default)]
    pub do_not_apply_to_child_scopes: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DenyPrincipal {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// A generic ARM resource, for the identity of a managed-identity host or a user-assigned
/// identity.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GenericResource {
    #[serde(default)]
    pub properties: Option<serde_json::Value>,
    #[serde(default)]
    pub identity: Option<serde_json::Value>,
}

/// The client. Cheap to share by reference; not `Clone` (it owns the throttling budget).
pub struct ArmClient {
    http: reqwest::Client,
    base: Url,
    token: Secret,
    request_timeout: Duration,
    throttle_budget: Mutex<Duration>,
}

impl std::fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl ArmClient {
    /// A client for `ctx.endpoints.arm` with the shared HTTP client and its time limit.
    pub fn new(ctx: &RunContext, token: Secret) -> Self {
        let limit = super::credentials::http_limit(ctx);
        // The ARM client: its connection may be open already (see `EarlyCalls`).
        Self::with(ctx.early.arm_client(ctx), ctx.endpoints.arm.clone(), token, limit)
    }

    pub fn with(http: reqwest::Client, base: Url, token: Secret, request_timeout: Duration) -> Self {
        ArmClient {
            http,
            base,
            token,
            request_timeout,
            throttle_budget: Mutex::new(THROTTLE_BUDGET),
        }
    }

    /// `{base}{path}?api-version=…&k=v`, values percent-encoded with `%20` for spaces (as `az`
    /// sends `$filter`).
    pub fn url(&self, path: &str, api_version: &str, query: &[(&str, &str)]) -> Url {
        let mut u = self.base.clone();
        let prefix = self.base.path().trim_end_matches('/');
        u.set_path(&format!("{prefix}/{}", path.trim_start_matches('/')));
        let enc = |s: &str| {
            url::form_urlencoded::byte_serialize(s.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        };
        let mut q = format!("api-version={}", enc(api_version));
        for (k, v) in query {
            q.push_str(&format!("&{k}={}", enc(v)));
        }
        u.set_query(Some(&q));
        u
    }

    fn same_origin(&self, u: &Url) -> bool {
        u.scheme() == self.base.scheme()
            && u.host_str().map(str::to_ascii_lowercase) == self.base.host_str().map(str::to_ascii_lowercase)
            && u.port_or_known_default() == self.base.port_or_known_default()
    }

    /// Takes up to `want` from the throttling budget; `None` when it is spent.
    fn take_budget(&self, want: Duration) -> Option<Duration> {
        let mut left = self.throttle_budget.lock().ok()?;
        if want > *left {
            return None;
        }
        *left -= want;
        Some(want)
    }

    /// One GET (or, with a body, a JSON POST), retried after 429 (at most [`MAX_RETRIES`]
    /// times, within the budget).
    async fn send(&self, url: &Url, body: Option<&str>) -> Result<(u16, String), ArmError> {
        let mut attempt = 0;
        loop {
            let (status, headers, body) = self.exchange_once(url, body).await?;
            if status == 429 && attempt < MAX_RETRIES {
                let wait = retry_after(&headers).unwrap_or(DEFAULT_RETRY_AFTER);
                if let Some(wait) = self.take_budget(wait) {
                    attempt += 1;
                    tracing::debug!(url = %url.path(), ?wait, attempt, "ARM throttled; retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            if (200..300).contains(&status) {
                return Ok((status, body));
            }
            return Err(status_error(status, &headers, &body));
        }
    }

    /// One GET (a POST of `body` as JSON, when given): status, headers and the capped body,
    /// each step within the request timeout.
    async fn exchange_once(
        &self,
        url: &Url,
        body: Option<&str>,
    ) -> Result<(u16, Vec<(String, String)>, String), ArmError> {
        let req = match body {
            None => self.http.get(url.clone()),
            Some(b) => self
                .http
                .post(url.clone())
                .header("content-type", "application/json")
                .body(b.to_string()),
        };
        let req = req
            .bearer_auth(self.token.expose())
            .header("accept", "application/json");
        http::count(http::Service::Arm);
        let resp = match tokio::time::timeout(self.request_timeout, req.send()).await {
            Err(_) => return Err(ArmError::TimedOut(self.request_timeout)),
            Ok(Err(e)) => {
                let (kind, message) = http::classify(&e);
                return Err(if kind == http::Failure::Timeout {
                    ArmError::TimedOut(self.request_timeout)
                } else {
                    ArmError::Transport { kind, message }
                });
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let headers = http::headers_of(&resp);
        match tokio::time::timeout(self.request_timeout, http::read_capped(resp, MAX_BODY)).await {
            Err(_) => Err(ArmError::TimedOut(self.request_timeout)),
            Ok(Err(e)) => {
                let (kind, message) = http::classify(&e);
                Err(if kind == http::Failure::Timeout {
                    ArmError::TimedOut(self.request_timeout)
                } else {
                    ArmError::Transport {
                        kind: http::Failure::Reset,
                        message: format!(
                            "the connection closed in the middle of ARM's answer (HTTP {status}): {message}"
                        ),
                    }
                })
            }
            Ok(Ok((_, true))) if (200..300).contains(&status) => Err(ArmError::BadBody {
                status,
                message: format!(
                    "the body is larger than {} MiB; the doctor stopped reading it",
                    MAX_BODY / (1024 * 1024)
                ),
            }),
            Ok(Ok((b, _))) => Ok((status, headers, b)),
        }
    }

    /// GET and parse one object.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        api_version: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ArmError> {
        let url = self.url(path, api_version, query);
        let (status, body) = self.send(&url, None).await?;
        parse(status, &body)
    }

    /// POST `body` (JSON) and parse the answer: a query such as Resource Graph's.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        api_version: &str,
        body: &serde_json::Value,
    ) -> Result<T, ArmError> {
        let url = self.url(path, api_version, &[]);
        let (status, answer) = self.send(&url, Some(&body.to_string())).await?;
        parse(status, &answer)
    }

    /// GET a list, following `nextLink` (same origin only, at most [`MAX_PAGES`] pages).
    pub async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        api_version: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, ArmError> {
        let mut url = self.url(path, api_version, query);
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let (status, body) = self.send(&url, None).await?;
            let page: Page<T> = parse(status, &body)?;
            out.extend(page.value);
            match page.next_link.filter(|l| !l.trim().is_empty()) {
                None => return Ok(out),
                Some(link) => {
                    let next = Url::parse(&link).map_err(|_| ArmError::ForeignLink(link.clone()))?;
                    if !self.same_origin(&next) {
                        return Err(ArmError::ForeignLink(format!(
                            "{}://{}",
                            next.scheme(),
                            next.host_str().unwrap_or("?")
                        )));
                    }
                    url = next;
                }
            }
        }
        Ok(out)
    }

    /// The subscriptions the token can see (its tenant's, where it holds any role).
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, ArmError> {
        self.list("/subscriptions", SUBSCRIPTIONS_API, &[]).await
    }

    pub async fn subscription(&self, subscription_id: &str) -> Result<Subscription, ArmError> {
        self.get(&format!("/subscriptions/{subscription_id}"), SUBSCRIPTIONS_API, &[])
            .await
    }

    /// The Cognitive Services accounts in a subscription the token can read.
    pub async fn accounts(&self, subscription_id: &str) -> Result<Vec<Account>, ArmError> {
        let path = format!("/subscriptions/{subscription_id}/providers/Microsoft.CognitiveServices/accounts");
        self.list(&path, ACCOUNTS_API, &[]).await
    }

    pub async fn account(&self, resource_id: &str) -> Result<Account, ArmError> {
        self.get(resource_id, ACCOUNTS_API, &[]).await
    }

    /// A Foundry project of an account.
    pub async fn project(&self, account_id: &str, project: &str) -> Result<Project, ArmError> {
        let path = format!("{}/projects/{project}", account_id.trim_end_matches('/'));
        self.get(&path, PROJECTS_API, &[]).await
    }

    /// The account's Foundry projects.
    pub async fn projects(&self, account_id: &str) -> Result<Vec<Project>, ArmError> {
        let path = format!("{}/projects", account_id.trim_end_matches('/'));
        self.list(&path, PROJECTS_API, &[]).await
    }

    /// One model deployment of an account.
    pub async fn deployment(&self, account_id: &str, name: &str) -> Result<Deployment, ArmError> {
        let path = format!("{}/deployments/{name}", account_id.trim_end_matches('/'));
        self.get(&path, ACCOUNTS_API, &[]).await
    }

    /// Role assignments at `scope` with an optional `$filter` (`atScope() and assignedTo('…')`,
    /// `principalId eq '…'`).
    pub async fn role_assignments(&self, scope: &str, filter: Option<&str>) -> Result<Vec<RoleAssignment>, ArmError> {
        let path = format!(
            "{}/providers/Microsoft.Authorization/roleAssignments",
            scope.trim_end_matches('/')
        );
        let q: Vec<(&str, &str)> = filter.map(|f| vec![("$filter", f)]).unwrap_or_default();
        self.list(&path, AUTHORIZATION_API, &q).await
    }

    /// A role definition by its full id (`/subscriptions/…/providers/Microsoft.Authorization/roleDefinitions/{guid}`
    /// or the tenant-level `/providers/…` form).
    pub async fn role_definition(&self, role_definition_id: &str) -> Result<RoleDefinition, ArmError> {
        self.get(role_definition_id, AUTHORIZATION_API, &[]).await
    }

    pub async fn deny_assignments(&self, scope: &str, filter: Option<&str>) -> Result<Vec<DenyAssignment>, ArmError> {
        let path = format!(
            "{}/providers/Microsoft.Authorization/denyAssignments",
            scope.trim_end_matches('/')
        );
        let q: Vec<(&str, &str)> = filter.map(|f| vec![("$filter", f)]).unwrap_or_default();
        self.list(&path, AUTHORIZATION_API, &q).await
    }

    /// The token holder's effective permissions on a resource (caller only).
    pub async fn permissions(&self, resource_id: &str) -> Result<Vec<Permission>, ArmError> {
        let path = format!(
            "{}/providers/Microsoft.Authorization/permissions",
            resource_id.trim_end_matches('/')
        );
        self.list(&path, AUTHORIZATION_API, &[]).await
    }

    /// The object id of a managed identity named by its resource id: a user-assigned identity
    /// (`properties.principalId`) or the system-assigned identity of a host resource
    /// (`identity.principalId`). `Ok(None)` when the resource has no identity, or its type is
    /// one the doctor does not know an api-version for.
    pub async fn managed_identity_principal(&self, resource_id: &str) -> Result<Option<String>, ArmError> {
        let Some(api) = identity_api_version(resource_id) else {
            return Ok(None);
        };
        let r: GenericResource = self.get(resource_id, api, &[]).await?;
        let pick = |v: &Option<serde_json::Value>| {
            v.as_ref()
                .and_then(|v| v.get("principalId"))
                .and_then(|p| p.as_str())
                .map(str::to_string)
        };
        Ok(pick(&r.properties).or_else(|| pick(&r.identity)))
    }
}

/// The api-version to GET a resource type that carries a managed identity.
pub fn identity_api_version(resource_id: &str) -> Option<&'static str> {
    let id = ResourceId::parse(resource_id).ok()?;
    let types: [(&str, &str); 8] = [
        ("Microsoft.ManagedIdentity/userAssignedIdentities", MANAGED_IDENTITY_API),
        ("Microsoft.Web/sites", "2023-12-01"),
        ("Microsoft.App/containerApps", "2024-03-01"),
        ("Microsoft.App/jobs", "2024-03-01"),
        ("Microsoft.Compute/virtualMachines", "2024-07-01"),
        ("Microsoft.Compute/virtualMachineScaleSets", "2024-07-01"),
        ("Microsoft.ContainerInstance/containerGroups", "2023-05-01"),
        ("Microsoft.MachineLearningServices/workspaces", "2024-04-01"),
    ];
    // A child (a web app's deployment slot) is GET with its parent type's api-version.
    let own = id.resource_type()?.to_ascii_lowercase();
    types
        .iter()
        .find(|(t, _)| {
            let t = t.to_ascii_lowercase();
            own == t || own.starts_with(&format!("{t}/"))
        })
        .map(|(_, v)| *v)
}

fn parse<T: DeserializeOwned>(status: u16, body: &str) -> Result<T, ArmError> {
    serde_json::from_str(body).map_err(|e| ArmError::BadBody {
        status,
        message: match html_page(body) {
            Some(p) => format!("{p} instead of JSON: a proxy or captive portal answered, not Azure Resource Manager"),
            None => e.to_string(),
        },
    })
}

/// `an HTML page ("502 Bad Gateway")` when the body is an HTML page.
fn html_page(body: &str) -> Option<String> {
    let t = body.trim_start();
    let head = t.get(..t.len().min(15)).unwrap_or("").to_ascii_lowercase();
    if !(head.starts_with("<!doctype html") || head.starts_with("<html")) {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    let title = lower
        .find("<title>")
        .map(|i| i + "<title>".len())
        .and_then(|start| lower[start..].find("</title>").map(|end| (start, start + end)))
        .and_then(|(a, b)| t.get(a..b))
        .map(|x| x.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|x| !x.is_empty());
    Some(match title {
        Some(x) => format!("an HTML page (\"{}\")", x.chars().take(80).collect::<String>()),
        None => "an HTML page".to_string(),
    })
}

/// A non-2xx answer as an error: ARM's code and message, classified.
fn status_error(status: u16, headers: &[(String, String)], body: &str) -> ArmError {
    let verdict = classify_arm_response(status, headers, body);
    let json_body = serde_json::from_str::<serde_json::Value>(body).ok();
    let from_body = |pointer: &str| {
        json_body
            .as_ref()
            .and_then(|v| v.pointer(pointer).and_then(|c| c.as_str()).map(str::to_string))
    };
    let code = verdict
        .explanation
        .evidence
        .get("error_code")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| from_body("/error/code"));
    let message = from_body("/error/message")
        .or_else(|| html_page(body).map(|p| format!("{p} from a proxy or gateway, not Azure Resource Manager")))
        .unwrap_or_else(|| verdict.explanation.summary.clone());
    ArmError::Status {
        status,
        code,
        message: redact(&message),
        verdict: Box::new(verdict),
    }
}

/// `Retry-After` in seconds (ARM sends delta-seconds), capped at a minute.
fn retry_after(headers: &[(String, String)]) -> Option<Duration> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(60)))
}

/// Parses an ARM timestamp (`2026-01-01T10:00:00.1234567Z`) to Unix seconds.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A tiny HTTP/1.1 server on loopback answering each request with the next canned
    /// response; returns its base URL and the request lines it saw.
    async fn serve(responses: Vec<String>) -> (Url, Arc<Mutex<Vec<String>>>) {
        serve_with(|_| responses).await
    }

    /// Like [`serve`], the responses built knowing the server's own base URL.
    async fn serve_with(build: impl FnOnce(&Url) -> Vec<String>) -> (Url, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = Url::parse(&format!("http://{addr}/")).unwrap();
        let responses = build(&base);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (seen2, n) = (seen.clone(), Arc::new(AtomicUsize::new(0)));
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = vec![0u8; 16384];
                let len = sock.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..len]).to_string();
                seen2
                    .lock()
                    .unwrap()
                    .push(req.lines().next().unwrap_or_default().to_string());
                let i = n.fetch_add(1, Ordering::SeqCst);
                let resp = responses
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| responses.last().cloned().unwrap_or_default());
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        (base, seen)
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> String {
        let mut s = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s.push_str(body);
        s
    }

    fn client(base: Url) -> ArmClient {
        ArmClient::with(
            reqwest::Client::builder().no_proxy().build().unwrap(),
            base,
            Secret::new("t"),
            Duration::from_secs(5),
        )
    }

    #[tokio::test]
    async fn follows_next_link_on_the_same_origin_and_encodes_the_filter() {
        let p2 = r#"{"value":[{"id":"a2","name":"n2","properties":{"roleDefinitionId":"r","principalId":"p"}}]}"#;
        let (base, seen) = serve_with(|own| {
            let next = format!("{own}subscriptions/s/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&%24skipToken=1");
            let first = format!(r#"{{"value":[{{"id":"a1","name":"n1","properties":{{"roleDefinitionId":"r","principalId":"p"}}}}],"nextLink":"{next}"}}"#);
            vec![response(200, &[], &first), response(200, &[], p2)]
        })
        .await;
        let got = client(base)
            .role_assignments("/subscriptions/s", Some("atScope() and assignedTo('p')"))
            .await
            .unwrap();
        assert_eq!(got.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), vec!["a1", "a2"]);
        let lines = seen.lock().unwrap().clone();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].contains("/subscriptions/s/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope%28%29%20and%20assignedTo%28%27p%27%29"),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains("skipToken=1"), "{}", lines[1]);
    }

    #[tokio::test]
    async fn a_foreign_next_link_is_not_followed() {
        let body = r#"{"value":[],"nextLink":"https://evil.example/steal?x=1"}"#;
        let (base, seen) = serve(vec![response(200, &[], body)]).await;
        let err = client(base).subscriptions().await.unwrap_err();
        assert!(
            matches!(err, ArmError::ForeignLink(ref h) if h.contains("evil.example")),
            "{err:?}"
        );
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn throttling_is_retried_twice_at_most() {
        let throttled = response(
            429,
            &[("retry-after", "0")],
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
        );
        let ok = response(200, &[], r#"{"value":[{"subscriptionId":"s","tenantId":"t"}]}"#);
        let (base, seen) = serve(vec![throttled.clone(), throttled.clone(), ok]).await;
        let subs = client(base).subscriptions().await.unwrap();
        assert_eq!((subs.len(), seen.lock().unwrap().len()), (1, 3));

        let (base, seen) = serve(vec![throttled.clone(), throttled.clone(), throttled]).await;
        let err = client(base).subscriptions().await.unwrap_err();
        assert_eq!((err.status(), seen.lock().unwrap().len()), (Some(429), 3));
    }

    #[tokio::test]
    async fn a_long_retry_after_is_not_waited_for() {
        let throttled = response(
            429,
            &[("retry-after", "30")],
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#,
        );
        let (base, seen) = serve(vec![throttled]).await;
        let started = std::time::Instant::now();
        let err = client(base).subscriptions().await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!((err.status(), seen.lock().unwrap().len()), (Some(429), 1));
    }

    #[tokio::test]
    async fn errors_are_classified() {
        let body = r#"{"error":{"code":"AuthorizationFailed","message":"The client 'alice@contoso.com' with object id '053a0abe-0b3e-40a3-85c8-83f2af887382' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/read' over scope '/subscriptions/s/providers/Microsoft.Authorization' or the scope is invalid."}}"#;
        let (base, _) = serve(vec![response(403, &[], body)]).await;
        let err = client(base)
            .role_assignments("/subscriptions/s", None)
            .await
            .unwrap_err();
        assert!(err.is_forbidden());
        assert_eq!(err.code(), Some("AuthorizationFailed"));
        assert!(err.describe().contains("roleAssignments/read"));
        let (base, _) = serve(vec![response(200, &[], "<html>proxy</html>")]).await;
        assert!(matches!(
            client(base).subscriptions().await.unwrap_err(),
            ArmError::BadBody { .. }
        ));
    }

    #[tokio::test]
    async fn an_unreachable_arm_is_a_transport_error() {
        let err = client(Url::parse("http://127.0.0.1:9/").unwrap())
            .subscriptions()
            .await
            .unwrap_err();
        assert!(err.unreachable(), "{err:?}");
    }

    #[test]
    fn urls_keep_a_base_path_and_timestamps_parse() {
        let c = client(Url::parse("https://arm.example/proxy/").unwrap());
        assert_eq!(
            c.url("/subscriptions", "2022-12-01", &[]).as_str(),
            "https://arm.example/proxy/subscriptions?api-version=2022-12-01"
        );
        assert_eq!(parse_timestamp("2026-01-01T00:00:00.1234567Z"), Some(1_767_225_600));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(
            identity_api_version(
                "/subscriptions/s/resourcegroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
            ),
            Some(MANAGED_IDENTITY_API)
        );
        assert_eq!(
            identity_api_version("/subscriptions/s/resourcegroups/r/providers/Microsoft.Foo/bars/b"),
            None
        );
    }
}
