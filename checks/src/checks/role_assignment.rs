//! `role-assignment`: does the principal hold, on this Azure OpenAI account, a role whose
//! *data actions* allow the call the app makes? Owner, Contributor and Reader do not (they are
//! management roles), and neither does the right role on the wrong account: both end in a
//! bare 401 PermissionDenied on the data plane.
//!
//! Gather (ARM through [`crate::azure::arm`], with an ARM token from the credential the chain
//! picked): the account (from `--resource-id`, or found by its endpoint in the subscriptions
//! the identity can list), the principal (the token's `oid`, or `--assignee`), its role
//! assignments at the account (inherited and through groups) with their role definitions,
//! deny assignments, the caller's effective permissions, and — when nothing grants the action
//! — its assignments elsewhere. Judge: [`judge`], pure, with [`crate::diagnose::rbac`].
//!
//! A 403 on the role-assignment read is "could not verify" (`warn`), never "missing".

use super::Check;
use super::Outcome;
use crate::azure::arm::{Account, ArmClient, ArmError, RoleAssignment};
use crate::azure::credentials;
use crate::codes;
use crate::context::RunContext;
use crate::diagnose::arm::ArmErrorKind;
use crate::diagnose::jwt::human_duration;
use crate::diagnose::rbac::{
    self, AssignedRole, DenyRule, Evaluation, Permission, RoleDef, RoleReading, data_action_for, describe_scope,
    is_guid, roles,
};
use crate::facts::{Fact, Facts, RoleFacts, RoleVerdict};
use crate::model::{Finding, Judgement, Status};
use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;

pub struct RoleAssignmentCheck;

/// The role the doctor recommends: the least privilege that can call every inference API.
pub const RECOMMENDED_ROLE: &str = "Cognitive Services OpenAI User";
/// At most this many subscriptions are searched for the account (and 5 for assignments
/// elsewhere), so a tenant with thousands stays within the check's time limit.
const MAX_SUBSCRIPTIONS: usize = 200;
const MAX_ELSEWHERE_SUBSCRIPTIONS: usize = 5;

#[async_trait]
impl Check for RoleAssignmentCheck {
    fn id(&self) -> &'static str {
        "role-assignment"
    }
    fn title(&self) -> &'static str {
        "Role grants the data action"
    }
    fn provides(&self) -> &'static [Fact] {
        &[Fact::Roles]
    }
    fn needs(&self) -> &'static [Fact] {
        &[Fact::Claims, Fact::Credential]
    }
    fn after(&self) -> &'static [Fact] {
        &[Fact::Endpoint]
    }
    async fn run(&self, ctx: &RunContext, facts: &Facts) -> Outcome {
        let g = gather(ctx, facts).await;
        let (judgement, roles) = judge(&g, ctx.now());
        Outcome::with_facts(
            judgement,
            Facts {
                roles,
                ..Default::default()
            },
        )
    }
}

/// Whose roles are checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrincipalInfo {
    /// `--assignee` as given.
    pub given: Option<String>,
    /// Object id, lowercased.
    pub object_id: Option<String>,
    /// `User`, `ServicePrincipal` or `Group`, when known.
    pub kind: Option<String>,
    /// The principal is the token's holder (effective permissions apply).
    pub is_caller: bool,
    /// For people: UPN, app id or managed-identity resource id.
    pub display: Option<String>,
    /// How the object id was found.
    pub how: String,
    /// Why `--assignee` could not be resolved.
    pub unresolved: Option<String>,
    /// A GUID that is not the caller's: an object id, or maybe a client id ARM cannot resolve.
    pub maybe_client_id: bool,
}

/// Where the account stands.
#[derive(Debug, Clone, Default)]
pub enum ResourceState {
    #[default]
    NotSearched,
    /// Neither an endpoint nor `--resource-id`.
    NoEndpoint,
    Found {
        account: AccountSummary,
        /// `--resource-id` or `endpoint`.
        via: &'static str,
        tenant: Option<String>,
    },
    /// Not among the accounts the identity can read.
    NotFound {
        host: String,
        subscriptions: usize,
    },
    /// `--resource-id` is not an account id, or ARM says it does not exist.
    BadId {
        id: String,
        why: String,
    },
    OtherTenant {
        id: Option<String>,
        tenant: Option<String>,
    },
    /// ARM refused or failed the search.
    Failed(ArmError),
}

/// What the report shows about the account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountSummary {
    pub id: String,
    pub name: String,
    pub kind: Option<String>,
    pub location: Option<String>,
    pub endpoint: Option<String>,
    pub disable_local_auth: Option<bool>,
    pub public_network_access: Option<String>,
    pub network_acls: Option<Value>,
    pub private_endpoints: Option<usize>,
    /// `false` when only the id is known (the account's properties were not readable).
    pub readable: bool,
}

impl AccountSummary {
    fn from_account(a: &Account) -> Self {
        AccountSummary {
            id: a.id.clone(),
            name: a.name.clone(),
            kind: a.kind.clone(),
            location: a.location.clone(),
            endpoint: a.properties.endpoint.clone(),
            disable_local_auth: a.properties.disable_local_auth,
            public_network_access: a.properties.public_network_access.clone(),
            network_acls: a.properties.network_acls.clone(),
            private_endpoints: a.properties.private_endpoint_connections.as_ref().map(Vec::len),
            readable: true,
        }
    }
    fn evidence(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "kind": self.kind, "location": self.location,
            "endpoint": self.endpoint, "disableLocalAuth": self.disable_local_auth,
            "publicNetworkAccess": self.public_network_access, "networkAcls": self.network_acls,
            "privateEndpointConnections": self.private_endpoints, "properties_readable": self.readable,
        })
    }
}

/// Whether ARM could be used at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ArmAccess {
    #[default]
    Ok,
    /// No ARM token (the credential's failure, described).
    NoToken(String),
    /// ARM not reachable (transport or timeout), described.
    Unreachable(String),
}

/// Everything the gather step saw.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    pub data_action: String,
    pub token_tenant: Option<String>,
    pub principal: PrincipalInfo,
    pub arm: ArmAccess,
    pub resource: ResourceState,
    pub subscriptions_searched: usize,
    /// Assignments at the account (atScope, through groups) with their roles.
    pub assignments: Option<Result<Vec<AssignedRole>, ArmError>>,
    pub denies: Option<Result<Vec<DenyRule>, ArmError>>,
    /// The caller's effective permissions on the account.
    pub effective: Option<Result<Vec<Permission>, ArmError>>,
    /// The principal's assignments elsewhere in the subscriptions searched.
    pub elsewhere: Vec<AssignedRole>,
}

// ---------------------------------------------------------------------------------------
// Gather
// ---------------------------------------------------------------------------------------

fn claim(claims: &Value, key: &str) -> Option<String> {
    claims
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The caller, from the token's claims.
pub fn caller_principal(claims: &Value) -> PrincipalInfo {
    let kind = match claim(claims, "idtyp").as_deref() {
        Some("user") => Some("User"),
        Some("app") => Some("ServicePrincipal"),
        _ if claim(claims, "upn").is_some() || claim(claims, "scp").is_some() => Some("User"),
        _ if claim(claims, "appid").is_some() || claim(claims, "azp").is_some() => Some("ServicePrincipal"),
        _ => None,
    };
    PrincipalInfo {
        object_id: claim(claims, "oid").map(|o| o.to_ascii_lowercase()),
        kind: kind.map(str::to_string),
        is_caller: true,
        display: claim(claims, "upn")
            .or_else(|| claim(claims, "xms_mirid"))
            .or_else(|| claim(claims, "appid")),
        how: "the token's oid claim".into(),
        ..Default::default()
    }
}

/// `--assignee` without ARM: the caller's own ids, an object id, or something ARM must resolve
/// (`None`: ask ARM).
pub fn classify_assignee(assignee: &str, claims: &Value) -> Option<PrincipalInfo> {
    let a = assignee.trim();
    let caller = caller_principal(claims);
    let given = Some(a.to_string());
    if a.starts_with('/') {
        let mirid = claim(claims, "xms_mirid").unwrap_or_default();
        if !mirid.is_empty()
            && mirid
                .trim_end_matches('/')
                .eq_ignore_ascii_case(a.trim_end_matches('/'))
        {
            return Some(PrincipalInfo {
                given,
                kind: Some("ServicePrincipal".into()),
                how: "--assignee is the managed identity the token was issued to (xms_mirid)".into(),
                ..caller
            });
        }
        return None;
    }
    if !is_guid(a) {
        return Some(PrincipalInfo {
            given,
            unresolved: Some(format!(
                "`{a}` is neither an object id / client id (a GUID) nor a managed identity's ARM resource id"
            )),
            ..Default::default()
        });
    }
    let lower = a.to_ascii_lowercase();
    if caller.object_id.as_deref() == Some(lower.as_str()) {
        return Some(PrincipalInfo {
            given,
            how: "--assignee is the token's oid".into(),
            ..caller
        });
    }
    if [claim(claims, "appid"), claim(claims, "azp")]
        .iter()
        .flatten()
        .any(|c| c.eq_ignore_ascii_case(a))
    {
        return Some(PrincipalInfo {
            given,
            how: "--assignee is the token's client id (appid); its object id is the token's oid".into(),
            ..caller
        });
    }
    Some(PrincipalInfo {
        given,
        object_id: Some(lower),
        how: "--assignee, taken as an object id".into(),
        maybe_client_id: true,
        ..Default::default()
    })
}

async fn resolve_assignee(arm: &ArmClient, assignee: &str) -> PrincipalInfo {
    let a = assignee.trim();
    let given = Some(a.to_string());
    match arm.managed_identity_principal(a).await {
        Ok(Some(pid)) => PrincipalInfo {
            given,
            object_id: Some(pid.to_ascii_lowercase()),
            kind: Some("ServicePrincipal".into()),
            display: Some(a.to_string()),
            how: "--assignee resolved through ARM (the managed identity's principalId)".into(),
            ..Default::default()
        },
        Ok(None) => PrincipalInfo {
            given,
            unresolved: Some(format!(
                "{a} has no managed identity the doctor can read (or its resource type is not one it knows)"
            )),
            ..Default::default()
        },
        Err(e) => PrincipalInfo {
            given,
            unresolved: Some(format!("ARM did not return the managed identity {a}: {}", e.describe())),
            ..Default::default()
        },
    }
}

/// Host, port and custom subdomain of the endpoint.
fn endpoint_key(ctx: &RunContext, facts: &Facts) -> Option<(String, Option<u16>, Option<String>)> {
    if let Some(e) = &facts.endpoint {
        return Some((
            e.host.to_ascii_lowercase(),
            e.base.port_or_known_default(),
            e.subdomain.clone(),
        ));
    }
    let u = ctx.target.endpoint.as_ref()?;
    let host = u.host_str()?.to_ascii_lowercase();
    let sub = ctx
        .target
        .cloud
        .endpoint_suffixes()
        .iter()
        .find_map(|s| host.strip_suffix(s))
        .filter(|l| !l.is_empty() && !l.contains('.'))
        .map(str::to_string);
    Some((host, u.port_or_known_default(), sub))
}

/// The account whose endpoint (or custom subdomain) is the endpoint's.
pub fn account_matches(a: &Account, host: &str, port: Option<u16>, subdomain: Option<&str>) -> bool {
    let by_url = a
        .endpoint_urls()
        .iter()
        .filter_map(|e| url::Url::parse(e).ok())
        .any(|u| u.host_str().is_some_and(|h| h.eq_ignore_ascii_case(host)) && u.port_or_known_default() == port);
    let by_subdomain = subdomain
        .zip(a.properties.custom_sub_domain_name.as_deref())
        .is_some_and(|(s, c)| !s.is_empty() && s.eq_ignore_ascii_case(c));
    by_url || by_subdomain
}

/// `/subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/{name}`
/// → subscription id.
pub fn account_subscription(resource_id: &str) -> Option<String> {
    let segs: Vec<&str> = resource_id.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [s, sub, rg, _, p, ns, t, _name]
            if s.eq_ignore_ascii_case("subscriptions")
                && rg.eq_ignore_ascii_case("resourceGroups")
                && p.eq_ignore_ascii_case("providers")
                && ns.eq_ignore_ascii_case("Microsoft.CognitiveServices")
                && t.eq_ignore_ascii_case("accounts") =>
        {
            Some(sub.to_string())
        }
        _ => None,
    }
}

/// `/subscriptions/{s}/resourceGroups/{rg}` of a resource id.
fn resource_group_scope(resource_id: &str) -> Option<String> {
    let segs: Vec<&str> = resource_id.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [s, sub, rg, name, ..]
            if s.eq_ignore_ascii_case("subscriptions") && rg.eq_ignore_ascii_case("resourceGroups") =>
        {
            Some(format!("/subscriptions/{sub}/resourceGroups/{name}"))
        }
        _ => None,
    }
}

fn unreachable_text(e: &ArmError) -> Option<String> {
    e.unreachable().then(|| e.describe())
}

async fn find_resource(ctx: &RunContext, facts: &Facts, arm: &ArmClient, g: &mut Gathered) {
    let token_tenant = g.token_tenant.clone();
    if let Some(id) = ctx.target.resource_id.as_deref().map(str::trim) {
        let Some(sub) = account_subscription(id) else {
            g.resource = ResourceState::BadId {
                id: id.to_string(),
                why: "it is not a Cognitive Services account id (/subscriptions/…/resourceGroups/…/providers/Microsoft.CognitiveServices/accounts/NAME)".into(),
            };
            return;
        };
        g.subscriptions_searched = 1;
        let tenant = match arm.subscription(&sub).await {
            Ok(s) => s.tenant_id,
            Err(e) => match e.kind() {
                Some(ArmErrorKind::WrongTenant { expected_tenant, .. }) => {
                    g.resource = ResourceState::OtherTenant {
                        id: Some(id.to_string()),
                        tenant: expected_tenant.clone(),
                    };
                    return;
                }
                _ if e.unreachable() => {
                    g.arm = ArmAccess::Unreachable(e.describe());
                    return;
                }
                _ if e.code() == Some("SubscriptionNotFound") => {
                    g.resource = ResourceState::BadId {
                        id: id.to_string(),
                        why: format!("ARM says: {}", e.describe()),
                    };
                    return;
                }
                _ => None,
            },
        };
        if let Some(t) = &tenant
            && token_tenant.as_deref().is_some_and(|tt| !tt.eq_ignore_ascii_case(t))
        {
            g.resource = ResourceState::OtherTenant {
                id: Some(id.to_string()),
                tenant: Some(t.clone()),
            };
            return;
        }
        let account = match arm.account(id).await {
            Ok(a) => AccountSummary {
                id: if a.id.is_empty() { id.to_string() } else { a.id.clone() },
                ..AccountSummary::from_account(&a)
            },
            Err(e) if e.is_not_found() => {
                g.resource = ResourceState::BadId {
                    id: id.to_string(),
                    why: format!("ARM says: {}", e.describe()),
                };
                return;
            }
            Err(e) if e.unreachable() => {
                g.arm = ArmAccess::Unreachable(e.describe());
                return;
            }
            // Not readable (403): the id is enough to check roles.
            Err(_) => AccountSummary {
                id: id.to_string(),
                name: id.rsplit('/').next().unwrap_or_default().to_string(),
                ..Default::default()
            },
        };
        g.resource = ResourceState::Found {
            account,
            via: "--resource-id",
            tenant: tenant.or(token_tenant),
        };
        return;
    }

    let Some((host, port, subdomain)) = endpoint_key(ctx, facts) else {
        g.resource = ResourceState::NoEndpoint;
        return;
    };
    let subs = match arm.subscriptions().await {
        Ok(s) => s,
        Err(e) => {
            match unreachable_text(&e) {
                Some(t) => g.arm = ArmAccess::Unreachable(t),
                None => g.resource = ResourceState::Failed(e),
            }
            return;
        }
    };
    let subs: Vec<_> = subs
        .into_iter()
        .filter(|s| !s.subscription_id.is_empty())
        .take(MAX_SUBSCRIPTIONS)
        .collect();
    g.subscriptions_searched = subs.len();
    let calls: Vec<_> = subs
        .iter()
        .map(|s| s.subscription_id.clone())
        .map(|id| async move {
            let r = arm.accounts(&id).await;
            (id, r)
        })
        .collect();
    let lists: Vec<_> = futures::stream::iter(calls).buffered(8).collect().await;
    let mut unreachable = None;
    for (sub_id, result) in lists {
        match result {
            Ok(accounts) => {
                if let Some(a) = accounts
                    .iter()
                    .find(|a| account_matches(a, &host, port, subdomain.as_deref()))
                {
                    let tenant = subs
                        .iter()
                        .find(|s| s.subscription_id.eq_ignore_ascii_case(&sub_id))
                        .and_then(|s| s.tenant_id.clone())
                        .or(token_tenant.clone());
                    if let (Some(t), Some(tt)) = (&tenant, &token_tenant)
                        && !t.eq_ignore_ascii_case(tt)
                    {
                        g.resource = ResourceState::OtherTenant {
                            id: Some(a.id.clone()),
                            tenant: Some(t.clone()),
                        };
                        return;
                    }
                    g.resource = ResourceState::Found {
                        account: AccountSummary::from_account(a),
                        via: "endpoint",
                        tenant,
                    };
                    return;
                }
            }
            Err(e) => {
                if e.unreachable() {
                    unreachable = Some(e.describe());
                }
            }
        }
    }
    if let Some(t) = unreachable {
        g.arm = ArmAccess::Unreachable(t);
        return;
    }
    let shown = match port {
        Some(p) if p != 443 => format!("{host}:{p}"),
        _ => host,
    };
    g.resource = ResourceState::NotFound {
        host: shown,
        subscriptions: g.subscriptions_searched,
    };
}

/// Role assignments for the principal at `scope` (inherited and, for users and service
/// principals, through groups).
async fn assignments_at(arm: &ArmClient, scope: &str, principal: &str) -> Result<Vec<RoleAssignment>, ArmError> {
    match arm
        .role_assignments(scope, Some(&format!("atScope() and assignedTo('{principal}')")))
        .await
    {
        // assignedTo() rejects group object ids: ask for the group's own assignments.
        Err(e) if e.status() == Some(400) => {
            arm.role_assignments(scope, Some(&format!("atScope() and principalId eq '{principal}'")))
                .await
        }
        other => other,
    }
}

/// Fetches each distinct role definition once; the bundled built-ins are the fallback.
async fn with_roles(
    arm: &ArmClient,
    raw: &[RoleAssignment],
    cache: &mut HashMap<String, Option<RoleDef>>,
) -> Vec<AssignedRole> {
    let mut wanted: Vec<String> = vec![];
    for a in raw {
        let guid = rbac::role_guid(&a.properties.role_definition_id);
        if !cache.contains_key(&guid) && !wanted.iter().any(|w| rbac::role_guid(w) == guid) {
            wanted.push(a.properties.role_definition_id.clone());
        }
    }
    let fetched: Vec<(String, Option<RoleDef>)> = futures::stream::iter(wanted.into_iter().map(|def_id| async move {
        let guid = rbac::role_guid(&def_id);
        let live = if def_id.starts_with('/') {
            arm.role_definition(&def_id).await.ok()
        } else {
            None
        };
        let role = match live {
            Some(d) => Some(RoleDef {
                id: guid.clone(),
                name: if d.properties.role_name.is_empty() {
                    guid.clone()
                } else {
                    d.properties.role_name
                },
                builtin: d
                    .properties
                    .role_type
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("BuiltInRole")),
                permissions: d.properties.permissions,
                source: "arm",
            }),
            None => rbac::builtin_role(&guid),
        };
        (guid, role)
    }))
    .buffered(6)
    .collect()
    .await;
    cache.extend(fetched);
    raw.iter()
        .map(|a| {
            let p = &a.properties;
            let guid = rbac::role_guid(&p.role_definition_id);
            AssignedRole {
                id: a.id.clone(),
                scope: p.scope.clone().unwrap_or_else(|| scope_of_assignment_id(&a.id)),
                principal_id: p.principal_id.to_ascii_lowercase(),
                principal_type: p.principal_type.clone(),
                role: cache.get(&guid).cloned().flatten(),
                role_id: guid,
                condition: p.condition.clone().filter(|c| !c.trim().is_empty()),
                created_on: p.created_on.as_deref().and_then(crate::azure::arm::parse_timestamp),
            }
        })
        .collect()
}

/// `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}` → `{scope}`.
fn scope_of_assignment_id(id: &str) -> String {
    let lower = id.to_ascii_lowercase();
    match lower.rfind("/providers/microsoft.authorization/roleassignments/") {
        Some(0) => "/".into(),
        Some(i) => id[..i].to_string(),
        None => String::new(),
    }
}

async fn gather(ctx: &RunContext, facts: &Facts) -> Gathered {
    let claims = facts.claims.as_ref().map(|c| c.shown()).unwrap_or(Value::Null);
    let mut g = Gathered {
        data_action: data_action_for(ctx.target.probe).to_string(),
        token_tenant: claim(&claims, "tid"),
        ..Default::default()
    };
    let assignee = ctx.target.assignee.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let pre = match assignee {
        None => Some(caller_principal(&claims)),
        Some(a) => classify_assignee(a, &claims),
    };
    g.principal = pre.clone().unwrap_or_else(|| PrincipalInfo {
        given: assignee.map(str::to_string),
        ..Default::default()
    });

    let Some(cred) = &facts.credential else {
        g.arm = ArmAccess::NoToken("no credential".into());
        return g;
    };
    let token = match credentials::acquire(ctx, &cred.config, &ctx.target.cloud.arm_scope()).await {
        Ok(t) => t.token,
        Err(f) => {
            g.arm = ArmAccess::NoToken(format!("{} could not get an ARM token: {}", cred.name, f.describe()));
            return g;
        }
    };
    let arm = ArmClient::new(ctx, token);
    if pre.is_none()
        && let Some(a) = assignee
    {
        g.principal = resolve_assignee(&arm, a).await;
    }
    if g.principal.unresolved.is_some() {
        return g;
    }
    find_resource(ctx, facts, &arm, &mut g).await;
    let ResourceState::Found { account, tenant, .. } = &g.resource else {
        return g;
    };
    let (rid, resource_tenant) = (account.id.clone(), tenant.clone());
    let Some(pid) = g.principal.object_id.clone() else {
        return g;
    };

    let mut cache = HashMap::new();
    let (raw, denies, effective) = futures::join!(
        assignments_at(&arm, &rid, &pid),
        arm.deny_assignments(&rid, Some("atScope()")),
        async {
            if g.principal.is_caller {
                Some(arm.permissions(&rid).await)
            } else {
                None
            }
        }
    );
    if let Err(e) = &raw
        && e.unreachable()
    {
        g.arm = ArmAccess::Unreachable(e.describe());
        return g;
    }
    g.denies = Some(denies.map(|list| {
        list.into_iter()
            .map(|d| DenyRule {
                id: d.id.clone(),
                name: d
                    .properties
                    .deny_assignment_name
                    .clone()
                    .unwrap_or_else(|| d.name.clone()),
                scope: d.properties.scope.clone().unwrap_or_default(),
                permissions: d.properties.permissions.clone(),
                principals: d
                    .properties
                    .principals
                    .iter()
                    .map(|p| p.id.to_ascii_lowercase())
                    .collect(),
                excluded: d
                    .properties
                    .exclude_principals
                    .iter()
                    .map(|p| p.id.to_ascii_lowercase())
                    .collect(),
                do_not_apply_to_child_scopes: d.properties.do_not_apply_to_child_scopes,
            })
            .collect()
    }));
    g.effective = effective;
    let assignments = match raw {
        Ok(raw) => Ok(with_roles(&arm, &raw, &mut cache).await),
        Err(e) => Err(e),
    };
    if let Some(kind) = assignments.as_ref().ok().and_then(|list| {
        list.iter()
            .find(|a| a.principal_id == pid && a.principal_type.is_some())
            .and_then(|a| a.principal_type.clone())
    }) && g.principal.kind.is_none()
    {
        g.principal.kind = Some(kind);
    }

    // Nothing grants it here: look for the principal's assignments elsewhere (the right role on
    // the wrong account, resource group or subscription).
    let grants_here = assignments
        .as_ref()
        .is_ok_and(|list| list.iter().any(|a| a.reading(&g.data_action) == RoleReading::Grants));
    if assignments.is_ok() && !grants_here {
        let mut subs: Vec<String> = account_subscription(&rid).into_iter().collect();
        if g.subscriptions_searched > 1
            && let Ok(all) = arm.subscriptions().await
        {
            for s in all {
                if !subs.iter().any(|x| x.eq_ignore_ascii_case(&s.subscription_id))
                    && resource_tenant
                        .as_deref()
                        .is_none_or(|t| s.tenant_id.as_deref().is_none_or(|st| st.eq_ignore_ascii_case(t)))
                {
                    subs.push(s.subscription_id);
                }
            }
        }
        subs.truncate(MAX_ELSEWHERE_SUBSCRIPTIONS);
        let filter = format!("principalId eq '{pid}'");
        let arm_ref = &arm;
        let calls: Vec<_> = subs
            .iter()
            .map(|s| (format!("/subscriptions/{s}"), filter.clone()))
            .map(|(scope, filter)| async move { arm_ref.role_assignments(&scope, Some(&filter)).await })
            .collect();
        let mut found: Vec<_> = futures::stream::iter(calls).buffered(4).collect().await;
        // Reading at the subscription needs a role there; the account's resource group (its
        // other accounts) is often readable when the subscription is not.
        if found
            .first()
            .is_some_and(|r| r.as_ref().is_err_and(ArmError::is_forbidden))
            && let Some(rg) = resource_group_scope(&rid)
        {
            found[0] = arm.role_assignments(&rg, Some(&filter)).await;
        }
        let mut raw: Vec<RoleAssignment> = found.into_iter().flat_map(|r| r.unwrap_or_default()).collect();
        let mut seen = std::collections::HashSet::new();
        raw.retain(|a| seen.insert(a.id.to_ascii_lowercase()));
        g.elsewhere = with_roles(&arm, &raw, &mut cache).await;
    }
    g.assignments = Some(assignments);
    g
}

// ---------------------------------------------------------------------------------------
// Judge
// ---------------------------------------------------------------------------------------

/// Text that ends a sentence: no doubled full stop when it already has one.
fn end(text: &str) -> &str {
    text.trim_end().trim_end_matches('.')
}

fn short_action(action: &str) -> &str {
    action
        .strip_prefix("Microsoft.CognitiveServices/accounts/OpenAI/")
        .unwrap_or(action)
}

/// The principal in a sentence: UPN, managed identity or object id, with the object id.
fn who(p: &PrincipalInfo) -> String {
    let id = p.object_id.as_deref().unwrap_or("?");
    match (&p.display, p.is_caller) {
        (Some(d), _) if d.starts_with('/') => {
            format!(
                "the managed identity of {} (object id {id})",
                d.trim_end_matches('/').rsplit('/').next().unwrap_or(d)
            )
        }
        (Some(d), _) if d != id => format!("{d} (object id {id})"),
        (_, true) => format!("the caller (object id {id})"),
        _ => format!("principal {id}"),
    }
}

/// The principal in a summary: the name alone.
fn short_who(p: &PrincipalInfo) -> String {
    match &p.display {
        Some(d) if d.starts_with('/') => d.trim_end_matches('/').rsplit('/').next().unwrap_or(d).to_string(),
        Some(d) => d.clone(),
        None => p.object_id.clone().unwrap_or_else(|| "?".into()),
    }
}

fn principal_type_arg(p: &PrincipalInfo) -> String {
    p.kind.clone().unwrap_or_else(|| "<User|ServicePrincipal|Group>".into())
}

/// The exact fix: `az`, plus Bicep and Terraform in the text.
fn grant_fix(f: Finding, p: &PrincipalInfo, scope: &str, lead: &str) -> Finding {
    let oid = p.object_id.clone().unwrap_or_else(|| "<object-id>".into());
    let kind = principal_type_arg(p);
    let text = format!(
        "{lead}Assign \"{RECOMMENDED_ROLE}\" (role id {}) to the principal on the account; it takes up to 10 minutes to reach the data plane. \
         Bicep: resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {{ name: guid(account.id, '{oid}', '{}'), scope: account, properties: {{ roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '{}'), principalId: '{oid}', principalType: '{kind}' }} }}. \
         Terraform: resource \"azurerm_role_assignment\" \"aoai\" {{ scope = \"{scope}\" role_definition_name = \"{RECOMMENDED_ROLE}\" principal_id = \"{oid}\" }}",
        roles::OPENAI_USER,
        roles::OPENAI_USER,
        roles::OPENAI_USER,
    );
    f.fix(text).command(format!(
        "az role assignment create --assignee-object-id {oid} --assignee-principal-type {kind} --role \"{RECOMMENDED_ROLE}\" --scope {scope}"
    ))
}

fn assignment_json(a: &AssignedRole, resource: &str, action: &str, now: i64) -> Value {
    json!({
        "role": a.role_name(),
        "role_id": a.role_id,
        "role_source": a.role.as_ref().map(|r| r.source),
        "scope": a.scope,
        "where": describe_scope(&a.scope, resource),
        "principal_id": a.principal_id,
        "principal_type": a.principal_type,
        "age": a.created_on.map(|c| human_duration(now - c)),
        "condition": a.condition,
        "reading": a.reading(action),
    })
}

fn read_forbidden_fix(f: Finding, p: &PrincipalInfo, scope: &str) -> Finding {
    let oid = if p.is_caller {
        p.object_id.clone().unwrap_or_else(|| "<object-id>".into())
    } else {
        "<your-object-id>".into()
    };
    let kind = if p.is_caller {
        principal_type_arg(p)
    } else {
        "<User|ServicePrincipal>".into()
    };
    f.fix(
        "Run the doctor as an identity that may read role assignments on the account: Reader, \"Role Based Access Control Administrator\", or any role with Microsoft.Authorization/roleAssignments/read (Cognitive Services OpenAI User has it). Or check in the portal: the account → Access control (IAM) → Check access.",
    )
    .command(format!("az role assignment create --assignee-object-id {oid} --assignee-principal-type {kind} --role Reader --scope {scope}"))
    .command(format!("az role assignment list --all --assignee {} --include-inherited --include-groups -o table", p.object_id.as_deref().unwrap_or("<object-id>")))
}

/// The pure judge: what was gathered → the result and the role fact for the probe.
pub fn judge(g: &Gathered, now: i64) -> (Judgement, Option<RoleFacts>) {
    let action = g.data_action.as_str();
    let p = &g.principal;
    let mut facts = RoleFacts {
        verdict: RoleVerdict::Unknown,
        resource_id: None,
        resource_tenant: None,
        principal_id: p.object_id.clone(),
        data_action: action.to_string(),
        newest_grant_age_secs: None,
    };
    let mut evidence = json!({
        "data_action": action,
        "principal": {
            "object_id": p.object_id, "type": p.kind, "is_caller": p.is_caller, "display": p.display,
            "assignee": p.given, "resolved_by": p.how,
        },
        "token_tenant": g.token_tenant,
        "subscriptions_searched": g.subscriptions_searched,
    });
    let done = |status: Status, summary: String, findings: Vec<Finding>, evidence: Value, facts: RoleFacts| {
        (
            Judgement::new(status, summary)
                .with_findings(findings)
                .evidence(evidence),
            Some(facts),
        )
    };

    // ARM at all?
    if let ArmAccess::NoToken(why) | ArmAccess::Unreachable(why) = &g.arm {
        let f = Finding::warning(&codes::ROLE_ARM_UNREACHABLE, format!("Roles could not be checked: {}.", end(why)))
            .fix("The app itself does not need ARM; the doctor does, to read role assignments. Allow management.azure.com through the proxy/firewall (or pass --arm-endpoint), or run the doctor where ARM is reachable; the data-plane probe still tests the call itself.")
            .command("az role assignment list --all --assignee <object-id> --include-inherited --include-groups -o table");
        evidence["arm"] = json!(why);
        return done(
            Status::Warn,
            "roles not checked: Azure Resource Manager unavailable".into(),
            vec![f],
            evidence,
            facts,
        );
    }
    if let Some(why) = &p.unresolved {
        let f = Finding::warning(&codes::ROLE_ASSIGNEE_UNRESOLVED, format!("--assignee could not be resolved: {}.", end(why)))
            .fix("Pass the principal's object id. For a managed identity: its principalId; for an app registration: the object id of its service principal (not the application's client id).")
            .command("az identity show --ids <managed-identity-resource-id> --query principalId -o tsv")
            .command("az ad sp show --id <client-id> --query id -o tsv");
        return done(
            Status::Warn,
            "--assignee not resolved: roles not checked".into(),
            vec![f],
            evidence,
            facts,
        );
    }

    let (account, tenant) = match &g.resource {
        ResourceState::Found { account, via, tenant } => {
            evidence["account"] = account.evidence();
            evidence["account_found_by"] = json!(via);
            (account, tenant)
        }
        ResourceState::NotSearched | ResourceState::NoEndpoint => {
            return (
                Judgement::new(
                    Status::Skip,
                    "skipped: needs a usable endpoint (`endpoint`) or --resource-id to find the account",
                )
                .evidence(evidence),
                None,
            );
        }
        ResourceState::NotFound { host, subscriptions } => {
            evidence["endpoint_host"] = json!(host);
            if *subscriptions == 0 && p.is_caller {
                facts.verdict = RoleVerdict::Missing;
                let tenant = g.token_tenant.as_deref().unwrap_or("?");
                let f = grant_fix(
                    Finding::error(
                        &codes::ROLE_MISSING,
                        format!(
                            "{} holds no role at all in tenant {tenant}: ARM lists no subscription for it, so it has no role on the account at {host} (unless that account lives in another tenant, which the app's tokens would not fit either).",
                            who(p)
                        ),
                    ),
                    p,
                    "<account-resource-id>",
                    "Find the account's resource id (az cognitiveservices account list --query \"[].{id:id, endpoint:properties.endpoint}\" -o table, as someone who can see it), then: ",
                );
                return done(
                    Status::Fail,
                    format!("{} holds no role in tenant {tenant}", short_who(p)),
                    vec![f],
                    evidence,
                    facts,
                );
            }
            let f = Finding::warning(
                &codes::ROLE_RESOURCE_NOT_FOUND,
                format!(
                    "No Cognitive Services account with the endpoint {host} is readable in the {subscriptions} subscription(s) {} can list: it may lack read access on the account (a data-only role cannot read it), or the account is in another tenant or subscription.",
                    who(p)
                ),
            )
            .fix("Pass the account's ARM id so the doctor can check roles on it directly (it is on the account's Overview → JSON View, or from az).")
            .command("az cognitiveservices account list --query \"[].{id:id, endpoint:properties.endpoint}\" -o table")
            .command("aoai-doctor --resource-id /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.CognitiveServices/accounts/<name>");
            return done(
                Status::Warn,
                format!("account for {host} not found in readable subscriptions"),
                vec![f],
                evidence,
                facts,
            );
        }
        ResourceState::BadId { id, why } => {
            let f = Finding::error(
                &codes::ROLE_RESOURCE_NOT_FOUND,
                format!("--resource-id {id} is not usable: {}.", end(why)),
            )
            .fix("Pass the account's exact ARM id.")
            .command("az cognitiveservices account show -n <name> -g <resource-group> --query id -o tsv");
            return done(Status::Fail, "--resource-id not found".into(), vec![f], evidence, facts);
        }
        ResourceState::OtherTenant { id, tenant } => {
            facts.resource_id = id.clone();
            facts.resource_tenant = tenant.clone();
            let t = tenant.as_deref().unwrap_or("<resource-tenant-id>");
            let f = Finding::error(
                &codes::ROLE_RESOURCE_OTHER_TENANT,
                format!(
                    "The account {} lives in tenant {t}, but the token comes from tenant {}: roles there cannot be read, and the data plane rejects tokens from another tenant.",
                    id.as_deref().unwrap_or(""),
                    g.token_tenant.as_deref().unwrap_or("?")
                ),
            )
            .fix(format!("Get tokens from the account's tenant: sign in to it, or set AZURE_TENANT_ID={t} for a service principal (a guest user must be invited into that tenant)."))
            .command(format!("az login --tenant {t}"));
            return done(
                Status::Fail,
                format!("account is in another tenant ({t})"),
                vec![f],
                evidence,
                facts,
            );
        }
        ResourceState::Failed(e) => {
            let f = Finding::warning(
                &codes::ROLE_ARM_UNREACHABLE,
                format!("ARM refused the search for the account: {}.", end(&e.describe())),
            )
            .fix(
                e.kind()
                    .map(|_| "See the ARM error; pass --resource-id to skip the search.")
                    .unwrap_or("Pass --resource-id to skip the search."),
            );
            return done(
                Status::Warn,
                "roles not checked: ARM refused the search".into(),
                vec![f],
                evidence,
                facts,
            );
        }
    };
    let rid = account.id.as_str();
    facts.resource_id = Some(rid.to_string());
    facts.resource_tenant = tenant.clone();

    let effective_grants = match &g.effective {
        Some(Ok(blocks)) => {
            evidence["effective_permissions"] =
                json!({"grants": rbac::grants_data(blocks, action), "blocks": blocks.len()});
            Some(rbac::grants_data(blocks, action))
        }
        Some(Err(e)) => {
            evidence["effective_permissions"] = json!({"unreadable": e.describe()});
            None
        }
        None => None,
    };
    let denies: &[DenyRule] = match &g.denies {
        Some(Ok(d)) => {
            evidence["deny_assignments"] = json!(
                d.iter()
                    .map(|d| json!({"name": d.name, "scope": d.scope}))
                    .collect::<Vec<_>>()
            );
            d
        }
        Some(Err(e)) => {
            evidence["deny_assignments"] = json!({"unreadable": e.describe(), "needs": "Microsoft.Authorization/denyAssignments/read (e.g. Reader)"});
            &[]
        }
        None => &[],
    };

    let assignments = match &g.assignments {
        Some(Ok(a)) => a,
        Some(Err(e)) => {
            evidence["role_assignments"] = json!({"unreadable": e.describe()});
            let forbidden = e.is_forbidden();
            let what = if forbidden {
                format!(
                    "{} may not read role assignments on the account (403 AuthorizationFailed: it lacks {}), so the doctor cannot tell which roles it holds",
                    if p.is_caller {
                        who(p)
                    } else {
                        "The doctor's identity".to_string()
                    },
                    rbac::ROLE_ASSIGNMENTS_READ
                )
            } else {
                format!("ARM failed the role-assignment read ({})", e.describe())
            };
            return match effective_grants {
                Some(false) => {
                    facts.verdict = RoleVerdict::Missing;
                    let f = grant_fix(
                        Finding::error(
                            &codes::ROLE_MISSING,
                            format!(
                                "{} has no permission for {} on the account: ARM's effective permissions for it contain no matching data action.",
                                who(p),
                                short_action(action)
                            ),
                        ),
                        p,
                        rid,
                        "",
                    );
                    let info = Finding::info(
                        &codes::ROLE_READ_FORBIDDEN,
                        format!("{what}; the effective-permissions answer decided instead."),
                    );
                    done(
                        Status::Fail,
                        format!("{} lacks {} on the account", short_who(p), short_action(action)),
                        vec![f, info],
                        evidence,
                        facts,
                    )
                }
                Some(true) => {
                    let f = read_forbidden_fix(
                        Finding::warning(
                            &codes::ROLE_READ_FORBIDDEN,
                            format!(
                                "{what}. ARM's effective permissions do include {}, but which assignment grants it, and since when, cannot be read.",
                                short_action(action)
                            ),
                        ),
                        p,
                        rid,
                    );
                    done(
                        Status::Warn,
                        "role assignments unreadable (effective permissions allow the call)".into(),
                        vec![f],
                        evidence,
                        facts,
                    )
                }
                None => {
                    let code = if forbidden {
                        &codes::ROLE_READ_FORBIDDEN
                    } else {
                        &codes::ROLE_ARM_UNREACHABLE
                    };
                    let f = read_forbidden_fix(Finding::warning(code, format!("{}.", end(&what))), p, rid);
                    done(
                        Status::Warn,
                        "role assignments unreadable: roles not verified".into(),
                        vec![f],
                        evidence,
                        facts,
                    )
                }
            };
        }
        None => {
            return done(
                Status::Warn,
                "role assignments not read".into(),
                vec![],
                evidence,
                facts,
            );
        }
    };

    let pid = p.object_id.clone().unwrap_or_default();
    let e: Evaluation = rbac::evaluate(assignments, denies, &pid, rid, action, now);
    evidence["role_assignments"] = json!(
        assignments
            .iter()
            .map(|a| assignment_json(a, rid, action, now))
            .collect::<Vec<_>>()
    );
    let wrong_scope = rbac::wrong_scope_grants(&g.elsewhere, rid, action);
    if !g.elsewhere.is_empty() {
        evidence["assignments_elsewhere"] = json!(
            g.elsewhere
                .iter()
                .map(|a| assignment_json(a, rid, action, now))
                .collect::<Vec<_>>()
        );
    }
    facts.verdict = e.verdict;
    facts.newest_grant_age_secs = e.newest_grant_age_secs;

    let mut findings = vec![];
    let describe = |i: &usize| {
        let a = &assignments[*i];
        format!("{} on {}", a.role_name(), describe_scope(&a.scope, rid))
    };
    let list = |idx: &[usize]| idx.iter().map(describe).collect::<Vec<_>>().join(", ");

    let summary;
    if !e.denied_by.is_empty() {
        let d: Vec<String> = e
            .denied_by
            .iter()
            .map(|i| format!("\"{}\" at {}", denies[*i].name, describe_scope(&denies[*i].scope, rid)))
            .collect();
        let granted = if e.granting.is_empty() {
            String::new()
        } else {
            format!(" although {} grants it", list(&e.granting))
        };
        findings.push(
            Finding::error(
                &codes::ROLE_DENIED,
                format!("A deny assignment blocks {} for {}{granted}: {}. Deny assignments win over every role.", short_action(action), who(p), d.join(", ")),
            )
            .fix("Deny assignments are created by Azure itself (managed applications, deployment stacks, Blueprints), not by role assignments: remove or change the deny setting where it comes from, exclude this principal from it, or use an account outside its scope.")
            .command(format!("az rest --method get --url \"https://management.azure.com{rid}/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01\"")),
        );
        summary = format!("denied by {}", d.join(", "));
    } else if e.granting.is_empty() {
        let control: Vec<usize> = e
            .near_misses
            .iter()
            .copied()
            .filter(|i| assignments[*i].reading(action) == RoleReading::ControlPlaneOnly)
            .collect();
        let other: Vec<usize> = e.near_misses.iter().copied().filter(|i| !control.contains(i)).collect();
        let mut lead_done = false;
        // The right role on the wrong scope first: it is what the person meant to do.
        let wrong: Vec<&AssignedRole> = wrong_scope.iter().map(|i| &g.elsewhere[*i]).collect();
        if !wrong.is_empty() {
            let found: Vec<String> = wrong
                .iter()
                .map(|a| format!("{} on {} ({})", a.role_name(), describe_scope(&a.scope, rid), a.scope))
                .collect();
            let f = Finding::error(
                &codes::ROLE_WRONG_SCOPE,
                format!(
                    "{} holds the right role on the wrong scope: {}. It is needed on this account ({rid}) or a parent (its resource group or subscription).",
                    who(p),
                    found.join("; ")
                ),
            );
            findings.push(grant_fix(f, p, rid, "The role grants nothing outside its scope. "));
            lead_done = true;
        }
        if !control.is_empty() {
            let f = Finding::error(
                &codes::ROLE_CONTROL_PLANE_ONLY,
                format!(
                    "{} holds {} — management roles with no data actions, so they do not allow {} (Owner and Contributor manage the account but cannot call its models with Entra ID). The data plane answers 401 PermissionDenied.",
                    who(p),
                    list(&control),
                    short_action(action)
                ),
            );
            findings.push(if lead_done {
                f.fix("Keep them for management if needed; the data action comes from the role above.")
            } else {
                grant_fix(f, p, rid, "")
            });
            lead_done = true;
        }
        for i in &other {
            let a = &assignments[*i];
            let why = match a.reading(action) {
                RoleReading::Excluded { allowed_by, removed_by } => {
                    format!("its dataActions include {allowed_by}, but its notDataActions remove {removed_by}")
                }
                RoleReading::OtherDataActions { data_actions } => {
                    format!(
                        "its data actions ({}) do not cover {}",
                        data_actions.join(", "),
                        short_action(action)
                    )
                }
                _ => "its definition does not grant it".into(),
            };
            let f = Finding::error(
                &codes::ROLE_MISSING,
                format!(
                    "{} holds {}, which does not allow {}: {why}.",
                    who(p),
                    describe(i),
                    short_action(action)
                ),
            );
            let lead = format!("Add {action} to the custom role's dataActions (and out of its notDataActions), or: ");
            findings.push(if lead_done {
                f.fix(format!("Add {action} to the role's dataActions (and out of its notDataActions), or assign \"{RECOMMENDED_ROLE}\"."))
            } else {
                grant_fix(f, p, rid, &lead)
            });
            lead_done = true;
        }
        if !e.unknown_definitions.is_empty() && !lead_done {
            let f = Finding::warning(
                &codes::ROLE_READ_FORBIDDEN,
                format!(
                    "The definitions of {} could not be read (Microsoft.Authorization/roleDefinitions/read), so whether they allow {} is unknown.",
                    list(&e.unknown_definitions),
                    short_action(action)
                ),
            );
            findings.push(read_forbidden_fix(f, p, rid));
            lead_done = true;
        }
        if !lead_done {
            let f = Finding::error(
                &codes::ROLE_MISSING,
                format!(
                    "{} holds no role on the account — none at its scope, inherited from its resource group or subscription, or through a group — so {} is not allowed and the data plane answers 401 PermissionDenied.",
                    who(p),
                    short_action(action)
                ),
            );
            findings.push(grant_fix(f, p, rid, ""));
            if p.maybe_client_id && g.elsewhere.is_empty() {
                findings.push(
                    Finding::warning(
                        &codes::ROLE_ASSIGNEE_UNRESOLVED,
                        format!("{} has no role assignment anywhere the doctor can read. If it is an application (client) id rather than an object id, the doctor cannot resolve it without Microsoft Graph.", p.object_id.as_deref().unwrap_or("")),
                    )
                    .fix("Pass the service principal's object id.")
                    .command(format!("az ad sp show --id {} --query id -o tsv", p.object_id.as_deref().unwrap_or("<client-id>"))),
                );
            }
        }
        summary = match e.verdict {
            RoleVerdict::Unknown => {
                format!(
                    "could not tell whether {} allows {}",
                    list(&e.unknown_definitions),
                    short_action(action)
                )
            }
            _ if !wrong.is_empty() => format!(
                "the right role on the wrong scope ({}), not on this account",
                wrong
                    .iter()
                    .map(|a| describe_scope(&a.scope, rid))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ if !control.is_empty() => format!("only management roles ({}): no data action", list(&control)),
            _ if !other.is_empty() => format!("{} does not allow {}", list(&other), short_action(action)),
            _ => format!("{} holds no role on the account", short_who(p)),
        };
    } else {
        let granting = list(&e.granting);
        match e.verdict {
            RoleVerdict::Propagating => {
                let age = e
                    .oldest_grant_age_secs
                    .map(human_duration)
                    .unwrap_or_else(|| "moments".into());
                let via_group = e.granting.iter().all(|i| assignments[*i].via_group(&pid));
                let window = if via_group {
                    "30 minutes (it comes through a group)"
                } else {
                    "10 minutes"
                };
                findings.push(
                    Finding::warning(
                        &codes::ROLE_PROPAGATING,
                        format!("{} holds {granting}, assigned {age} ago: assigned, probably still propagating — the data plane may answer 401 for up to {window}.", who(p)),
                    )
                    .fix("Wait and retry; nothing else to change. A new sign-in (fresh token) helps once it has propagated.")
                    .command("aoai-doctor --wait-for-propagation 10m"),
                );
                summary = format!("{granting} assigned {age} ago: probably still propagating");
            }
            RoleVerdict::Unknown => {
                let c: Vec<String> = e
                    .conditional
                    .iter()
                    .map(|i| {
                        format!(
                            "{} ({})",
                            describe(i),
                            assignments[*i]
                                .condition
                                .as_deref()
                                .unwrap_or("condition in the role definition")
                        )
                    })
                    .collect();
                findings.push(
                    Finding::warning(
                        &codes::ROLE_CONDITION,
                        format!("{} holds {granting}, but only with an ABAC condition the doctor does not evaluate: {}.", who(p), c.join("; ")),
                    )
                    .fix("Check that the condition allows this call (the portal shows it under Access control (IAM) → Role assignments → Condition), or assign the role without a condition.")
                    .command(format!("az role assignment list --scope {rid} --assignee {pid} --include-inherited --query \"[].{{role:roleDefinitionName, condition:condition}}\"")),
                );
                summary = format!("{granting}, with an ABAC condition");
            }
            _ => {
                let age = e
                    .oldest_grant_age_secs
                    .map(|a| format!(", assigned {} ago", human_duration(a)))
                    .unwrap_or_default();
                summary = format!(
                    "{} holds {granting}{age}: allows {}",
                    short_who(p),
                    short_action(action)
                );
                if !e.conditional.is_empty() {
                    findings.push(Finding::info(
                        &codes::ROLE_CONDITION,
                        format!(
                            "Some granting assignments carry an ABAC condition: {}.",
                            list(&e.conditional)
                        ),
                    ));
                }
            }
        }
    }

    // The caller's effective permissions, as ARM computes them, against the assignments.
    if let Some(eff) = effective_grants {
        let assigned = !e.granting.is_empty();
        if eff != assigned {
            findings.push(
                Finding::warning(
                    &codes::ROLE_EFFECTIVE_PERMISSIONS_DISAGREE,
                    format!(
                        "ARM's effective permissions say {} is {}, but the role assignments the doctor read {}.",
                        short_action(action),
                        if eff { "allowed" } else { "not allowed" },
                        if assigned { "grant it" } else { "do not grant it (an assignment it cannot see, e.g. through a group assignedTo() does not expand, or a classic administrator?)" }
                    ),
                )
                .fix("Check the account's Access control (IAM) → Check access for this principal.")
                .command(format!("az rest --method get --url \"https://management.azure.com{rid}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01\"")),
            );
        }
    }
    let status = Judgement::status_from(&findings);
    done(status, summary, findings, evidence, facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::arm::AccountProperties;

    const RID: &str =
        "/subscriptions/s1/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai";
    const ALICE: &str = "0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70";
    const NOW: i64 = 1_767_225_600;

    fn alice() -> PrincipalInfo {
        PrincipalInfo {
            object_id: Some(ALICE.into()),
            kind: Some("User".into()),
            is_caller: true,
            display: Some("alice@contoso.onmicrosoft.com".into()),
            ..Default::default()
        }
    }

    fn found(assignments: Result<Vec<AssignedRole>, ArmError>) -> Gathered {
        Gathered {
            data_action: rbac::CHAT_COMPLETIONS_ACTION.into(),
            token_tenant: Some("t".into()),
            principal: alice(),
            resource: ResourceState::Found {
                account: AccountSummary {
                    id: RID.into(),
                    name: "contoso-aoai".into(),
                    readable: true,
                    ..Default::default()
                },
                via: "endpoint",
                tenant: Some("t".into()),
            },
            assignments: Some(assignments),
            denies: Some(Ok(vec![])),
            ..Default::default()
        }
    }

    fn assigned(role: &str, scope: &str, age: i64) -> AssignedRole {
        AssignedRole {
            id: format!("{scope}/providers/Microsoft.Authorization/roleAssignments/x"),
            scope: scope.into(),
            principal_id: ALICE.into(),
            principal_type: Some("User".into()),
            role_id: role.into(),
            role: rbac::builtin_role(role),
            condition: None,
            created_on: Some(NOW - age),
        }
    }

    fn codes_of(j: &Judgement) -> Vec<&'static str> {
        j.findings.iter().map(|f| f.code.id).collect()
    }

    fn forbidden() -> ArmError {
        let body = r#"{"error":{"code":"AuthorizationFailed","message":"The client 'x' with object id 'y' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/read' over scope '/s' or the scope is invalid."}}"#;
        let verdict = crate::diagnose::arm::classify_arm_response(403, &[], body);
        ArmError::Status {
            status: 403,
            code: Some("AuthorizationFailed".into()),
            message: "no".into(),
            verdict: Box::new(verdict),
        }
    }

    #[test]
    fn granted_passes_and_tells_the_probe() {
        let (j, f) = judge(&found(Ok(vec![assigned(roles::OPENAI_USER, RID, 7 * 86400)])), NOW);
        assert_eq!(j.status, Status::Pass, "{j:?}");
        let f = f.unwrap();
        assert_eq!(
            (f.verdict, f.newest_grant_age_secs, f.resource_id.as_deref()),
            (RoleVerdict::Granted, Some(7 * 86400), Some(RID))
        );
        assert!(j.summary.contains("Cognitive Services OpenAI User"), "{}", j.summary);
    }

    #[test]
    fn owner_is_control_plane_only_with_the_exact_fix() {
        let (j, f) = judge(
            &found(Ok(vec![assigned(roles::OWNER, "/subscriptions/s1", 86400)])),
            NOW,
        );
        assert_eq!(
            (j.status, codes_of(&j)),
            (Status::Fail, vec!["role-control-plane-only"])
        );
        assert_eq!(f.unwrap().verdict, RoleVerdict::Missing);
        let cmd = &j.findings[0].remediation.commands[0];
        assert_eq!(
            cmd,
            &format!(
                "az role assignment create --assignee-object-id {ALICE} --assignee-principal-type User --role \"Cognitive Services OpenAI User\" --scope {RID}"
            )
        );
        let text = &j.findings[0].remediation.text;
        assert!(
            text.contains("Bicep:") && text.contains("azurerm_role_assignment"),
            "{text}"
        );
        assert!(
            j.findings[0].message.contains("Owner on subscription s1"),
            "{}",
            j.findings[0].message
        );
    }

    #[test]
    fn wrong_scope_names_both_scopes() {
        let mut g = found(Ok(vec![assigned(
            roles::READER,
            "/subscriptions/s1/resourceGroups/rg-ai",
            86400,
        )]));
        g.elsewhere = vec![assigned(roles::OPENAI_USER, &format!("{RID}-eus2"), 86400)];
        let (j, _) = judge(&g, NOW);
        assert_eq!(codes_of(&j), vec!["role-wrong-scope", "role-control-plane-only"]);
        assert!(
            j.summary.contains("wrong scope (account contoso-aoai-eus2)"),
            "{}",
            j.summary
        );
        assert!(j.findings[0].remediation.commands[0].ends_with(&format!("--scope {RID}")));
        let m = &j.findings[0].message;
        assert!(m.contains("account contoso-aoai-eus2") && m.contains(RID), "{m}");
    }

    #[test]
    fn propagating_and_missing_and_forbidden() {
        let (j, f) = judge(&found(Ok(vec![assigned(roles::OPENAI_USER, RID, 60)])), NOW);
        assert_eq!((j.status, codes_of(&j)), (Status::Warn, vec!["role-propagating"]));
        assert_eq!(f.unwrap().verdict, RoleVerdict::Propagating);
        assert!(j.findings[0].message.contains("probably still propagating"));

        let (j, f) = judge(&found(Ok(vec![])), NOW);
        assert_eq!((j.status, codes_of(&j)), (Status::Fail, vec!["role-missing"]));
        assert_eq!(f.unwrap().verdict, RoleVerdict::Missing);

        // Cannot verify is not missing.
        let (j, f) = judge(&found(Err(forbidden())), NOW);
        assert_eq!((j.status, codes_of(&j)), (Status::Warn, vec!["role-read-forbidden"]));
        assert_eq!(f.unwrap().verdict, RoleVerdict::Unknown);
        assert!(
            j.findings[0]
                .remediation
                .text
                .contains("Role Based Access Control Administrator")
        );

        // …unless the caller's effective permissions settle it.
        let mut g = found(Err(forbidden()));
        g.effective = Some(Ok(vec![]));
        let (j, f) = judge(&g, NOW);
        assert_eq!(
            (j.status, codes_of(&j)),
            (Status::Fail, vec!["role-missing", "role-read-forbidden"])
        );
        assert_eq!(f.unwrap().verdict, RoleVerdict::Missing);
        g.effective = Some(Ok(rbac::builtin_role(roles::OPENAI_USER).unwrap().permissions));
        let (j, f) = judge(&g, NOW);
        assert_eq!((j.status, codes_of(&j)), (Status::Warn, vec!["role-read-forbidden"]));
        assert_eq!(f.unwrap().verdict, RoleVerdict::Unknown);
    }

    #[test]
    fn effective_permissions_disagreeing_is_reported() {
        let mut g = found(Ok(vec![]));
        g.effective = Some(Ok(rbac::builtin_role(roles::OPENAI_USER).unwrap().permissions));
        let (j, _) = judge(&g, NOW);
        assert_eq!(
            codes_of(&j),
            vec!["role-missing", "role-effective-permissions-disagree"]
        );
    }

    #[test]
    fn cannot_reach_arm_or_resolve_is_a_warning() {
        let mut g = found(Ok(vec![]));
        g.arm = ArmAccess::NoToken("x".into());
        let (j, f) = judge(&g, NOW);
        assert_eq!(
            (j.status, codes_of(&j), f.unwrap().verdict),
            (Status::Warn, vec!["role-arm-unreachable"], RoleVerdict::Unknown)
        );
        let mut g = found(Ok(vec![]));
        g.principal.unresolved = Some("nope".into());
        let (j, _) = judge(&g, NOW);
        assert_eq!(codes_of(&j), vec!["role-assignee-unresolved"]);
        g.principal.unresolved = None;
        g.resource = ResourceState::OtherTenant {
            id: Some(RID.into()),
            tenant: Some("other".into()),
        };
        let (j, f) = judge(&g, NOW);
        assert_eq!(
            (j.status, codes_of(&j)),
            (Status::Fail, vec!["role-resource-other-tenant"])
        );
        assert_eq!(f.unwrap().resource_tenant.as_deref(), Some("other"));
    }

    #[test]
    fn assignee_forms() {
        let claims = json!({"oid": ALICE, "tid": "t", "idtyp": "app", "appid": "c5d3a1f7-2e8b-4d6c-9f0a-7b1e3c5d8a92", "xms_mirid": "/subscriptions/s/resourcegroups/r/providers/Microsoft.Web/sites/chat-app"});
        let p = classify_assignee(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Web/sites/chat-app",
            &claims,
        )
        .unwrap();
        assert_eq!((p.object_id.as_deref(), p.is_caller), (Some(ALICE), true));
        let p = classify_assignee("C5D3A1F7-2E8B-4D6C-9F0A-7B1E3C5D8A92", &claims).unwrap();
        assert_eq!(
            (p.object_id.as_deref(), p.kind.as_deref()),
            (Some(ALICE), Some("ServicePrincipal"))
        );
        let p = classify_assignee("2E4A6C8E-0B1D-4F3A-9C5E-7A9B1D3F5E86", &claims).unwrap();
        assert_eq!(
            (p.object_id.as_deref(), p.is_caller, p.maybe_client_id),
            (Some("2e4a6c8e-0b1d-4f3a-9c5e-7a9b1d3f5e86"), false, true)
        );
        assert!(
            classify_assignee(
                "/subscriptions/s/resourcegroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id",
                &claims
            )
            .is_none()
        );
        assert!(
            classify_assignee("alice@contoso.com", &claims)
                .unwrap()
                .unresolved
                .is_some()
        );
    }

    #[test]
    fn account_matching_by_endpoint_or_subdomain() {
        let a = Account {
            id: RID.into(),
            name: "contoso-aoai".into(),
            kind: Some("OpenAI".into()),
            location: None,
            properties: AccountProperties {
                endpoint: Some("https://contoso-aoai.openai.azure.com/".into()),
                custom_sub_domain_name: Some("contoso-aoai".into()),
                ..Default::default()
            },
        };
        assert!(account_matches(&a, "contoso-aoai.openai.azure.com", Some(443), None));
        assert!(account_matches(
            &a,
            "contoso-aoai.cognitiveservices.azure.com",
            Some(443),
            Some("CONTOSO-AOAI")
        ));
        assert!(!account_matches(&a, "contoso-aoai.openai.azure.com", Some(8443), None));
        assert!(!account_matches(&a, "other.openai.azure.com", Some(443), Some("other")));
        assert_eq!(account_subscription(RID).as_deref(), Some("s1"));
        assert_eq!(account_subscription("/subscriptions/s1/resourceGroups/rg"), None);
        assert_eq!(
            scope_of_assignment_id(&format!("{RID}/providers/Microsoft.Authorization/roleAssignments/abc")),
            RID
        );
        assert_eq!(
            scope_of_assignment_id("/providers/Microsoft.Authorization/roleAssignments/abc"),
            "/"
        );
    }
}
