//! Gather: everything the role check reads from ARM, into [`Gathered`]. No verdicts here.

use super::{AccountSummary, ArmAccess, Gathered, PrincipalInfo, ProjectState, ResourceState};
use crate::azure::arm::{Account, ArmClient, ArmError, DenyAssignment, ResourceId, RoleAssignment};
use crate::azure::credentials;
use crate::azure::resource_graph;
use crate::codes;
use crate::context::RunContext;
use crate::diagnose::arm::ArmErrorKind;
use crate::diagnose::data_actions::{Call, required_data_actions};
use crate::diagnose::rbac::{self, AssignedRole, DenyRule, RoleDef, RoleReading, is_guid};
use crate::facts::{Facts, Surface};
use crate::model::Finding;
use futures::StreamExt;
use serde_json::Value;
use std::collections::HashMap;

/// Subscriptions whose accounts are read at the same time when Resource Graph does not answer.
const SCAN_CONCURRENCY: usize = 8;
/// At most this many subscriptions are searched for assignments elsewhere.
const MAX_ELSEWHERE_SUBSCRIPTIONS: usize = 5;

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
/// Read from the endpoint the user gave, not the endpoint check's fact: the role check does
/// not wait for that check's network round trip.
fn endpoint_key(ctx: &RunContext, _facts: &Facts) -> Option<(String, Option<u16>, Option<String>)> {
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

/// A Cognitive Services account id
/// (`/subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/{name}`).
pub fn account_id(resource_id: &str) -> Option<ResourceId> {
    ResourceId::parse(resource_id)
        .ok()
        .filter(|id| id.is_type("Microsoft.CognitiveServices/accounts"))
        .filter(|id| matches!(id.scope(), Some(ResourceId::ResourceGroup { .. })))
}

/// `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}` → `{scope}` (`/` at the
/// root; empty when the id is not a role assignment's).
pub(super) fn scope_of_assignment_id(id: &str) -> String {
    ResourceId::parse(id)
        .ok()
        .filter(|a| a.is_type("Microsoft.Authorization/roleAssignments"))
        .and_then(|a| a.scope().map(ToString::to_string))
        .unwrap_or_default()
}

fn unreachable_text(e: &ArmError) -> Option<String> {
    e.unreachable().then(|| e.describe())
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

/// A built-in role whose live definition differs from the bundled copy (data actions only:
/// what the verdict reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDrift {
    pub guid: String,
    pub name: String,
    /// Data actions (and `!`-prefixed not-data-actions) only the live definition has.
    pub only_live: Vec<String>,
    /// Those only the bundled copy has.
    pub only_bundled: Vec<String>,
}

/// The role definitions read so far, and the built-ins whose live definition has drifted.
#[derive(Debug, Default)]
pub(super) struct RoleCache {
    defs: HashMap<String, Option<RoleDef>>,
    pub drift: Vec<RoleDrift>,
    /// The data-action sets of the permission blocks ARM's effective permissions listed (read
    /// in the same round trip as the assignments): a bundled built-in role whose set is one of
    /// them is the role ARM applies today, so its live definition need not be read.
    confirmed: Vec<std::collections::BTreeSet<String>>,
}

impl RoleCache {
    /// Remembers what ARM's effective-permissions answer confirms.
    fn confirm_from(&mut self, effective: Option<&Result<Vec<crate::diagnose::rbac::Permission>, ArmError>>) {
        if let Some(Ok(blocks)) = effective {
            self.confirmed = blocks
                .iter()
                .map(|b| data_action_set(std::slice::from_ref(b)))
                .collect();
        }
    }

    /// The bundled copy of a built-in role ARM's effective permissions already show unchanged
    /// (a role with no data actions is never taken as confirmed: any block would match it).
    fn confirmed_builtin(&self, guid: &str) -> Option<RoleDef> {
        let b = rbac::builtin_role(guid)?;
        let set = data_action_set(&b.permissions);
        (!set.is_empty() && self.confirmed.contains(&set)).then_some(b)
    }
}

/// A role's data actions as a set: `action` granted, `!action` excluded; lowercased.
fn data_action_set(perms: &[crate::diagnose::rbac::Permission]) -> std::collections::BTreeSet<String> {
    perms
        .iter()
        .flat_map(|p| {
            let granted = p.data_actions.iter().map(|a| a.to_ascii_lowercase());
            let excluded = p
                .not_data_actions
                .iter()
                .map(|a| format!("!{}", a.to_ascii_lowercase()));
            granted.chain(excluded)
        })
        .collect()
}

/// The role that decides, and any drift: a bundled built-in decides (it needs no request to
/// be trusted), the live definition is kept when it agrees (its name is ARM's) and compared
/// when it does not; an unknown role is whatever ARM says.
fn decide(guid: &str, bundled: Option<RoleDef>, live: Option<RoleDef>) -> (Option<RoleDef>, Option<RoleDrift>) {
    match (bundled, live) {
        (Some(b), Some(l)) => {
            let (bs, ls) = (data_action_set(&b.permissions), data_action_set(&l.permissions));
            if bs == ls {
                return (Some(l), None);
            }
            let drift = RoleDrift {
                guid: guid.to_string(),
                name: l.name.clone(),
                only_live: ls.difference(&bs).cloned().collect(),
                only_bundled: bs.difference(&ls).cloned().collect(),
            };
            (Some(b), Some(drift))
        }
        (b, l) => (b.or(l), None),
    }
}

/// Reads each distinct role definition once, all at the same time; the bundled built-ins
/// decide, and their live definitions are compared with them.
async fn with_roles(arm: &ArmClient, raw: &[RoleAssignment], cache: &mut RoleCache) -> Vec<AssignedRole> {
    let mut wanted: Vec<String> = vec![];
    for a in raw {
        let guid = rbac::role_guid(&a.properties.role_definition_id);
        if !cache.defs.contains_key(&guid)
            && let Some(b) = cache.confirmed_builtin(&guid)
        {
            // Confirmed by the effective permissions read beside the assignments: no extra
            // round trip for its live definition.
            cache.defs.insert(guid.clone(), Some(b));
        }
        if !cache.defs.contains_key(&guid) && !wanted.iter().any(|w| rbac::role_guid(w) == guid) {
            wanted.push(a.properties.role_definition_id.clone());
        }
    }
    let fetched: Vec<(String, Option<RoleDef>, Option<RoleDrift>)> =
        futures::future::join_all(wanted.into_iter().map(|def_id| async move {
            let guid = rbac::role_guid(&def_id);
            let live = if def_id.starts_with('/') {
                arm.role_definition(&def_id).await.ok().map(|d| RoleDef {
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
                })
            } else {
                None
            };
            let (role, drift) = decide(&guid, rbac::builtin_role(&guid), live);
            (guid, role, drift)
        }))
        .await;
    for (guid, role, drift) in fetched {
        cache.defs.insert(guid, role);
        cache.drift.extend(drift);
    }
    raw.iter()
        .map(|a| {
            let p = &a.properties;
            let guid = rbac::role_guid(&p.role_definition_id);
            AssignedRole {
                id: a.id.clone(),
                scope: p.scope.clone().unwrap_or_else(|| scope_of_assignment_id(&a.id)),
                principal_id: p.principal_id.to_ascii_lowercase(),
                principal_type: p.principal_type.clone(),
                role: cache.defs.get(&guid).cloned().flatten(),
                role_id: guid,
                condition: p.condition.clone().filter(|c| !c.trim().is_empty()),
                created_on: p.created_on.as_deref().and_then(crate::azure::arm::parse_timestamp),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Judge

/// `--resource-id`: its subscription's tenant, then the account itself.
async fn find_by_id(arm: &ArmClient, id: &str, g: &mut Gathered) {
    let token_tenant = g.token_tenant.clone();
    let Some(parsed) = account_id(id) else {
        g.resource = ResourceState::BadId {
            id: id.to_string(),
            why: "it is not a Cognitive Services account id (/subscriptions/…/resourceGroups/…/providers/Microsoft.CognitiveServices/accounts/NAME)".into(),
        };
        return;
    };
    let sub = parsed.subscription().unwrap_or_default();
    g.subscriptions_searched = 1;
    let tenant = match arm.subscription(sub).await {
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
            name: parsed.name().unwrap_or_default().to_string(),
            ..Default::default()
        },
    };
    g.resource = ResourceState::Found {
        account,
        via: "--resource-id",
        tenant: tenant.or(token_tenant),
    };
}

/// How the account was looked for by its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// One Resource Graph query found it.
    ResourceGraph,
    /// Resource Graph refused, failed or found nothing (its index can lag a new account):
    /// the accounts of every subscription the identity can list were read, `subscriptions`
    /// of them.
    SubscriptionScan { why: String, subscriptions: usize },
}

/// The info finding when Resource Graph did not find the account and every subscription was
/// read instead (`None` otherwise).
pub(super) fn discovery_finding(g: &Gathered) -> Option<Finding> {
    let Some(Discovery::SubscriptionScan { why, subscriptions }) = &g.discovery else {
        return None;
    };
    let plural = if *subscriptions == 1 { "" } else { "s" };
    Some(
        Finding::info(
            &codes::ROLE_DISCOVERY_SCAN,
            format!("The account was looked for subscription by subscription ({subscriptions} subscription{plural} searched): {why}."),
        )
        .fix("Nothing to fix; `--resource-id` skips the search. If Resource Graph is refused, the identity may lack Reader where the account lives."),
    )
}

/// One info finding per built-in role whose live definition differs from the bundled copy.
pub(super) fn drift_findings(g: &Gathered) -> Vec<Finding> {
    g.definition_drift
        .iter()
        .map(|d| {
            let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
            Finding::info(
                &codes::ROLE_DEFINITION_CHANGED,
                format!(
                    "The built-in role `{}` ({}) as ARM defines it today differs from the copy bundled with the doctor, which decided the verdict. Data actions only in the live definition: {}; only in the bundled copy: {} (`!` marks an excluded action).",
                    d.name, d.guid, list(&d.only_live), list(&d.only_bundled)
                ),
            )
            .fix("Nothing to fix in Azure; update aoai-doctor so its bundled roles match. If the verdict looks wrong, the live definition is the truth.")
            .command(format!("az role definition list --name {} --query \"[0].permissions\"", d.guid))
        })
        .collect()
}

/// The endpoint as discovery compares it with an account's.
struct EndpointKey {
    host: String,
    port: Option<u16>,
    subdomain: Option<String>,
}

impl EndpointKey {
    fn matches(&self, a: &Account) -> bool {
        account_matches(a, &self.host, self.port, self.subdomain.as_deref())
    }
}

/// The account whose endpoint is the endpoint's: one Resource Graph query, else every
/// subscription the identity can list, each one's accounts read.
async fn find_by_endpoint(ctx: &RunContext, facts: &Facts, arm: &ArmClient, g: &mut Gathered) {
    let Some((host, port, subdomain)) = endpoint_key(ctx, facts) else {
        g.resource = ResourceState::NoEndpoint;
        return;
    };
    let key = EndpointKey { host, port, subdomain };
    let why_scan = match resource_graph::accounts_on_host(arm, &key.host).await {
        Ok(rows) => match rows.iter().find(|r| key.matches(&r.account)) {
            Some(row) => {
                g.discovery = Some(Discovery::ResourceGraph);
                // As with `--resource-id`: the account's own subscription is the one read.
                g.subscriptions_searched = 1;
                let tenant = row.tenant_id.clone().or(g.token_tenant.clone());
                g.resource = found_by_endpoint(&row.account, tenant, g.token_tenant.as_deref());
                return;
            }
            None => {
                "Resource Graph listed no account with this endpoint (its index can lag a new account by a few minutes)"
                    .to_string()
            }
        },
        Err(e) if e.unreachable() => {
            g.arm = ArmAccess::Unreachable(e.describe());
            return;
        }
        Err(e) => format!("Resource Graph did not answer: {}", e.describe()),
    };
    scan_subscriptions(arm, &key, why_scan, g).await;
}

/// `Found`, or `OtherTenant` when the account's tenant is not the token's.
fn found_by_endpoint(a: &Account, tenant: Option<String>, token_tenant: Option<&str>) -> ResourceState {
    match (&tenant, token_tenant) {
        (Some(t), Some(tt)) if !t.eq_ignore_ascii_case(tt) => ResourceState::OtherTenant {
            id: Some(a.id.clone()),
            tenant: Some(t.clone()),
        },
        _ => ResourceState::Found {
            account: AccountSummary::from_account(a),
            via: "endpoint",
            tenant,
        },
    }
}

/// The fallback: every subscription the identity can list (all pages, no cap), their
/// accounts read [`SCAN_CONCURRENCY`] at a time.
async fn scan_subscriptions(arm: &ArmClient, key: &EndpointKey, why: String, g: &mut Gathered) {
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
    let subs: Vec<_> = subs.into_iter().filter(|s| !s.subscription_id.is_empty()).collect();
    g.subscriptions_searched = subs.len();
    g.discovery = Some(Discovery::SubscriptionScan {
        why,
        subscriptions: subs.len(),
    });
    let calls: Vec<_> = subs
        .iter()
        .map(|s| (s.subscription_id.clone(), s.tenant_id.clone()))
        .map(|(id, tenant)| async move { (tenant, arm.accounts(&id).await) })
        .collect();
    let lists: Vec<_> = futures::stream::iter(calls).buffered(SCAN_CONCURRENCY).collect().await;
    let mut unreachable = None;
    for (sub_tenant, result) in lists {
        let accounts = match result {
            Ok(accounts) => accounts,
            Err(e) => {
                if e.unreachable() {
                    unreachable = Some(e.describe());
                }
                continue;
            }
        };
        if let Some(a) = accounts.iter().find(|a| key.matches(a)) {
            let tenant = sub_tenant.or(g.token_tenant.clone());
            g.resource = found_by_endpoint(a, tenant, g.token_tenant.as_deref());
            return;
        }
    }
    if let Some(t) = unreachable {
        g.arm = ArmAccess::Unreachable(t);
        return;
    }
    let shown = match key.port {
        Some(p) if p != 443 => format!("{}:{p}", key.host),
        _ => key.host.clone(),
    };
    g.resource = ResourceState::NotFound {
        host: shown,
        subscriptions: g.subscriptions_searched,
    };
}

fn deny_rule(d: DenyAssignment) -> DenyRule {
    let ids = |list: &[crate::azure::arm::DenyPrincipal]| list.iter().map(|p| p.id.to_ascii_lowercase()).collect();
    DenyRule {
        id: d.id.clone(),
        name: d
            .properties
            .deny_assignment_name
            .clone()
            .unwrap_or_else(|| d.name.clone()),
        scope: d.properties.scope.clone().unwrap_or_default(),
        permissions: d.properties.permissions.clone(),
        principals: ids(&d.properties.principals),
        excluded: ids(&d.properties.exclude_principals),
        do_not_apply_to_child_scopes: d.properties.do_not_apply_to_child_scopes,
    }
}

/// The principal and the ARM client (with a token for the cloud's ARM scope), or why not.
async fn principal_and_arm(ctx: &RunContext, facts: &Facts, claims: &Value, g: &mut Gathered) -> Option<ArmClient> {
    let assignee = ctx.target.assignee.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let pre = match assignee {
        None => Some(caller_principal(claims)),
        Some(a) => classify_assignee(a, claims),
    };
    g.principal = pre.clone().unwrap_or_else(|| PrincipalInfo {
        given: assignee.map(str::to_string),
        ..Default::default()
    });
    let Some(cred) = &facts.credential else {
        g.arm = ArmAccess::NoToken("no credential".into());
        return None;
    };
    let token = match credentials::acquire(ctx, &cred.config, &ctx.target.cloud.arm_scope()).await {
        Ok(t) => t.token,
        Err(f) => {
            g.arm = ArmAccess::NoToken(format!("{} could not get an ARM token: {}", cred.name, f.describe()));
            return None;
        }
    };
    let arm = ArmClient::new(ctx, token);
    if pre.is_none()
        && let Some(a) = assignee
    {
        g.principal = resolve_assignee(&arm, a).await;
    }
    Some(arm)
}

pub(super) async fn gather(ctx: &RunContext, facts: &Facts) -> Gathered {
    let claims = facts.claims.as_ref().map(|c| c.shown()).unwrap_or(Value::Null);
    let surface = request_surface(ctx);
    let call = Call::of_probe(ctx.target.probe);
    let mut g = Gathered {
        requirement: required_data_actions(&surface, call, None),
        token_tenant: claim(&claims, "tid"),
        cloud: Some(ctx.target.cloud),
        ..Default::default()
    };
    let Some(arm) = principal_and_arm(ctx, facts, &claims, &mut g).await else {
        return g;
    };
    if g.principal.unresolved.is_some() {
        return g;
    }
    match ctx.target.resource_id.as_deref().map(str::trim) {
        Some(id) => find_by_id(&arm, id, &mut g).await,
        None => find_by_endpoint(ctx, facts, &arm, &mut g).await,
    }
    let ResourceState::Found { account, tenant, .. } = &g.resource else {
        return g;
    };
    let (account, resource_tenant) = (account.clone(), tenant.clone());
    let deployment = ctx.target.deployment.as_deref();
    let format = model_format(&arm, &account, &surface, deployment, &mut g).await;
    g.requirement = required_data_actions(&surface, call, format.as_deref());
    if let Some(project) = surface.project() {
        g.project = find_project(&arm, &account.id, project, &mut g).await;
    }
    // The scope the call is authorized at: the project for a project endpoint (its own
    // assignments and those above it count), the account otherwise (a project's do not).
    let scope = match &g.project {
        ProjectState::NotAProject => account.id.clone(),
        ProjectState::Found { id, .. } | ProjectState::Unreadable { id, .. } => id.clone(),
        ProjectState::NotFound { .. } | ProjectState::BadName { .. } => return g,
    };
    let Some(pid) = g.principal.object_id.clone() else {
        return g;
    };
    read_at_account(&arm, &scope, resource_tenant.as_deref(), &pid, &mut g).await;
    g
}

/// The surface the call goes to, classified from the endpoint the user gave (the same pure
/// classification the endpoint check reports), so the role check never waits for the endpoint
/// check's network round trip. A pasted request path reads as the surface it starts with
/// ([`Surface::meant_by`]); no endpoint, as the classic root.
pub(super) fn request_surface(ctx: &RunContext) -> Surface {
    ctx.target
        .endpoint
        .as_ref()
        .map(Surface::meant_by)
        .unwrap_or(Surface::ResourceRoot)
}

/// A name ARM can take as one path segment (no `/`, no `.`/`..` that would climb the path).
pub(super) fn plain_segment(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The deployment's `properties.model.format` (OpenAI, DeepSeek, Meta…), read only where it
/// can change the data action: a deployment on a non-`OpenAI` account, off a project route.
async fn model_format(
    arm: &ArmClient,
    account: &AccountSummary,
    surface: &Surface,
    deployment: Option<&str>,
    g: &mut Gathered,
) -> Option<String> {
    let d = deployment.map(str::trim).filter(|d| plain_segment(d))?;
    let openai_kind = account
        .kind
        .as_deref()
        .is_some_and(|k| k.eq_ignore_ascii_case("OpenAI"));
    if openai_kind || surface.project().is_some() {
        return None;
    }
    match arm.deployment(&account.id, d).await {
        Ok(dep) => dep.properties.model.and_then(|m| m.format),
        Err(e) => {
            g.model_format_unread = Some(format!("deployment {d}: {}", e.describe()));
            None
        }
    }
}

/// The project a project endpoint names, in ARM: found, missing (with the account's
/// projects), or not readable (its id is still known, so roles are read there).
async fn find_project(arm: &ArmClient, account_id: &str, name: &str, g: &mut Gathered) -> ProjectState {
    if !plain_segment(name) {
        return ProjectState::BadName { name: name.to_string() };
    }
    let id = format!("{}/projects/{name}", account_id.trim_end_matches('/'));
    match arm.project(account_id, name).await {
        Ok(p) => ProjectState::Found {
            id: if p.id.is_empty() { id } else { p.id.clone() },
            name: p.short_name().to_string(),
        },
        Err(e) if e.is_not_found() => ProjectState::NotFound {
            name: name.to_string(),
            account: account_id.to_string(),
            existing: arm
                .projects(account_id)
                .await
                .map(|list| list.iter().map(|p| p.short_name().to_string()).collect())
                .unwrap_or_default(),
        },
        Err(e) => {
            if e.unreachable() {
                g.arm = ArmAccess::Unreachable(e.describe());
            }
            ProjectState::Unreadable {
                id,
                name: name.to_string(),
                error: e.describe(),
            }
        }
    }
}

/// The principal's assignments, the deny assignments and (for the caller) the effective
/// permissions at the account; then, when nothing grants the action, assignments elsewhere.
async fn read_at_account(arm: &ArmClient, rid: &str, resource_tenant: Option<&str>, pid: &str, g: &mut Gathered) {
    let mut cache = RoleCache::default();
    let is_caller = g.principal.is_caller;
    let (raw, denies, effective) = futures::join!(
        assignments_at(arm, rid, pid),
        arm.deny_assignments(rid, Some("atScope()")),
        async {
            if is_caller {
                Some(arm.permissions(rid).await)
            } else {
                None
            }
        }
    );
    if let Err(e) = &raw
        && e.unreachable()
    {
        g.arm = ArmAccess::Unreachable(e.describe());
        return;
    }
    g.denies = Some(denies.map(|list| list.into_iter().map(deny_rule).collect()));
    cache.confirm_from(effective.as_ref());
    g.effective = effective;
    let assignments = match raw {
        Ok(raw) => Ok(with_roles(arm, &raw, &mut cache).await),
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
    let grants_here = assignments.as_ref().is_ok_and(|list| {
        list.iter()
            .any(|a| g.requirement.grants.iter().any(|d| a.reading(d) == RoleReading::Grants))
    });
    if assignments.is_ok() && !grants_here {
        // Resource Graph searched every subscription without counting them.
        let searched = match g.discovery {
            Some(Discovery::ResourceGraph) => usize::MAX,
            _ => g.subscriptions_searched,
        };
        g.elsewhere = assignments_elsewhere(arm, rid, resource_tenant, pid, searched, &mut cache).await;
    }
    g.assignments = Some(assignments);
    g.definition_drift = cache.drift;
}

/// The principal's assignments in the account's subscription (or, when that is not
/// readable, its resource group) and in up to [`MAX_ELSEWHERE_SUBSCRIPTIONS`] others.
async fn assignments_elsewhere(
    arm: &ArmClient,
    rid: &str,
    resource_tenant: Option<&str>,
    pid: &str,
    subscriptions_searched: usize,
    cache: &mut RoleCache,
) -> Vec<AssignedRole> {
    // `rid` is the account or one of its projects.
    let mut subs: Vec<String> = ResourceId::parse(rid)
        .ok()
        .and_then(|a| a.subscription().map(str::to_string))
        .into_iter()
        .collect();
    if subscriptions_searched > 1
        && let Ok(all) = arm.subscriptions().await
    {
        for s in all {
            if !subs.iter().any(|x| x.eq_ignore_ascii_case(&s.subscription_id))
                && resource_tenant.is_none_or(|t| s.tenant_id.as_deref().is_none_or(|st| st.eq_ignore_ascii_case(t)))
            {
                subs.push(s.subscription_id);
            }
        }
    }
    subs.truncate(MAX_ELSEWHERE_SUBSCRIPTIONS);
    let filter = format!("principalId eq '{pid}'");
    let calls: Vec<_> = subs
        .iter()
        .map(|s| (format!("/subscriptions/{s}"), filter.clone()))
        .map(|(scope, filter)| async move { arm.role_assignments(&scope, Some(&filter)).await })
        .collect();
    let mut found: Vec<_> = futures::stream::iter(calls).buffered(4).collect().await;
    // Reading at the subscription needs a role there; the account's resource group (its
    // other accounts) is often readable when the subscription is not.
    if found
        .first()
        .is_some_and(|r| r.as_ref().is_err_and(ArmError::is_forbidden))
        && let Some(rg) = ResourceId::parse(rid).ok().and_then(|id| id.resource_group_id())
    {
        found[0] = arm.role_assignments(&rg.to_string(), Some(&filter)).await;
    }
    let mut raw: Vec<RoleAssignment> = found.into_iter().flat_map(|r| r.unwrap_or_default()).collect();
    let mut seen = std::collections::HashSet::new();
    raw.retain(|a| seen.insert(a.id.to_ascii_lowercase()));
    with_roles(arm, &raw, cache).await
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod discovery_tests;
