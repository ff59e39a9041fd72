//! What the role check found, as one typed [`RoleOutcome`]: no wording here (that is
//! [`super::findings`]), only the decision, the evidence the report shows, and the
//! [`RoleFacts`] later checks (the probe, `fix`) consume.

use super::findings::describe_scope;
use super::{Gathered, PrincipalInfo, ProjectState, ResourceState};
use crate::azure::arm::ArmError;
use crate::diagnose::data_actions::Requirement;
use crate::diagnose::jwt::human_duration;
use crate::diagnose::rbac::{self, AssignedRole, DenyRule, Evaluation, RoleReading};
use crate::facts::{RoleFacts, RoleOutcomeKind, RoleVerdict};
use serde_json::{Value, json};

/// Whose roles, for which data action, on which account: what every message names.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub principal: PrincipalInfo,
    /// The data action judged: the requirement's first, or the alternative a role grants.
    pub data_action: String,
    /// Everything the call needs, with the sources' certainty.
    pub requirement: Requirement,
    pub token_tenant: Option<String>,
    /// The ARM id the call is authorized at: the account, or the Foundry project of a project
    /// endpoint (empty until found). Fixes name this scope: the narrowest that works.
    pub resource_id: String,
    /// The cloud's ARM endpoint (`https://management.azure.com`), for `az rest` commands.
    pub arm_endpoint: &'static str,
}

/// Why the role assignments at the account could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// 403 AuthorizationFailed (the identity lacks `roleAssignments/read`), not another failure.
    pub forbidden: bool,
    /// ARM's error, described.
    pub error: String,
}

/// Nothing at the account grants the action: the near misses, most useful first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NotGranted {
    /// The right role on another scope (another account, resource group or subscription).
    pub wrong_scope: Vec<AssignedRole>,
    /// Management roles (Owner, Contributor, Reader…) at the account: no data actions.
    pub control_plane: Vec<AssignedRole>,
    /// Roles with data actions, none of which covers this one, and why.
    pub other: Vec<(AssignedRole, RoleReading)>,
    /// Assignments whose role definition could not be read.
    pub unknown_definitions: Vec<AssignedRole>,
    /// `--assignee` was a GUID the doctor took as an object id, and nothing was found for it
    /// anywhere: it may be a client id.
    pub maybe_client_id: bool,
}

impl NotGranted {
    /// The headline, in the order the summary names them.
    pub fn kind(&self) -> RoleOutcomeKind {
        if !self.unknown_definitions.is_empty() {
            RoleOutcomeKind::DefinitionsUnreadable
        } else if !self.wrong_scope.is_empty() {
            RoleOutcomeKind::WrongScope
        } else if !self.control_plane.is_empty() {
            RoleOutcomeKind::ControlPlaneOnly
        } else if !self.other.is_empty() {
            RoleOutcomeKind::WrongDataActions
        } else {
            RoleOutcomeKind::NoRole
        }
    }
}

/// One state of the principal's roles on the account; each renders itself in
/// [`super::findings`].
#[derive(Debug, Clone, PartialEq)]
pub enum RoleOutcome {
    /// No ARM token, or ARM not reachable.
    ArmUnavailable {
        why: String,
    },
    AssigneeUnresolved {
        why: String,
    },
    /// Neither an endpoint nor `--resource-id`: nothing to look for (a skip).
    NoAccountToSearch,
    /// The caller can list no subscription at all: it holds no role in its tenant.
    NoRoleInTenant {
        host: String,
    },
    AccountNotFound {
        host: String,
        subscriptions: usize,
    },
    BadResourceId {
        id: String,
        why: String,
    },
    OtherTenant {
        id: Option<String>,
        tenant: Option<String>,
    },
    /// ARM refused or failed the search for the account.
    SearchRefused {
        error: String,
        classified: bool,
    },
    /// Assignments unreadable, but ARM's effective permissions show the action is not allowed.
    EffectivelyMissing(Unreadable),
    /// Assignments unreadable, but ARM's effective permissions allow the action.
    UnreadableButAllowed(Unreadable),
    /// Assignments unreadable and nothing else settles it.
    Unreadable(Unreadable),
    /// The assignments were not read (no object id to read them for).
    NotRead,
    /// A deny assignment blocks the action (whatever grants it).
    Denied {
        denied_by: Vec<DenyRule>,
        granting: Vec<AssignedRole>,
    },
    NotGranted(NotGranted),
    /// A project endpoint names a project the account does not have (or a name no project
    /// can have).
    ProjectNotFound {
        name: String,
        account: String,
        existing: Vec<String>,
        bad_name: bool,
    },
    /// Nothing grants the action the sources name, but a role grants an unverified
    /// alternative reading (a non-OpenAI model through `/openai/v1`): the live call decides.
    Unverified {
        granting: Vec<AssignedRole>,
        granted_action: String,
    },
    /// Granted, but only recently: the data plane may still answer 401.
    Propagating {
        granting: Vec<AssignedRole>,
        oldest_age_secs: Option<i64>,
        /// Every granting assignment comes through a group (a longer window).
        via_group: bool,
    },
    /// Granted only under ABAC conditions the doctor does not evaluate.
    Conditional {
        granting: Vec<AssignedRole>,
        conditional: Vec<AssignedRole>,
    },
    Granted {
        granting: Vec<AssignedRole>,
        oldest_age_secs: Option<i64>,
        /// Granting assignments that carry a condition (others grant without one).
        conditional: Vec<AssignedRole>,
    },
}

impl RoleOutcome {
    /// The small, public summary of the outcome.
    pub fn kind(&self) -> RoleOutcomeKind {
        use RoleOutcomeKind as K;
        match self {
            RoleOutcome::ArmUnavailable { .. } => K::ArmUnavailable,
            RoleOutcome::AssigneeUnresolved { .. } => K::AssigneeUnresolved,
            RoleOutcome::NoAccountToSearch => K::NoAccountToSearch,
            RoleOutcome::NoRoleInTenant { .. } => K::NoRoleInTenant,
            RoleOutcome::AccountNotFound { .. } => K::AccountNotFound,
            RoleOutcome::BadResourceId { .. } => K::BadResourceId,
            RoleOutcome::OtherTenant { .. } => K::OtherTenant,
            RoleOutcome::SearchRefused { .. } => K::SearchRefused,
            RoleOutcome::EffectivelyMissing(_) => K::EffectivelyMissing,
            RoleOutcome::UnreadableButAllowed(_) | RoleOutcome::Unreadable(_) => K::AssignmentsUnreadable,
            RoleOutcome::NotRead => K::NotRead,
            RoleOutcome::Denied { .. } => K::Denied,
            RoleOutcome::NotGranted(n) => n.kind(),
            RoleOutcome::ProjectNotFound { .. } => K::ProjectNotFound,
            RoleOutcome::Unverified { .. } => K::Unverified,
            RoleOutcome::Propagating { .. } => K::Propagating,
            RoleOutcome::Conditional { .. } => K::Conditional,
            RoleOutcome::Granted { .. } => K::Granted,
        }
    }
}

/// The outcome, what it is about, and what the report and later checks get.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub subject: Subject,
    pub outcome: RoleOutcome,
    /// ARM's effective permissions contradict the assignments read: what they say (allowed?).
    pub effective_disagrees: Option<bool>,
    pub evidence: Value,
    /// `None` when the check had nothing to look for (a skip).
    pub fact: Option<RoleFacts>,
}

/// The pure assessment of what was gathered.
pub fn assess(g: &Gathered, now: i64) -> Assessment {
    let p = &g.principal;
    let req = &g.requirement;
    let evidence = json!({
        "data_action": req.primary(),
        "requirement": {
            "surface": req.surface, "call": req.call, "model_format": req.model_format,
            "granted_by_any_of": req.grants, "unverified_alternatives": req.unverified_alternatives,
            "certainty": req.certainty, "note": req.note, "model_format_unread": g.model_format_unread,
        },
        "principal": {
            "object_id": p.object_id, "type": p.kind, "is_caller": p.is_caller, "display": p.display,
            "assignee": p.given, "resolved_by": p.how,
        },
        "token_tenant": g.token_tenant,
        "subscriptions_searched": g.subscriptions_searched,
    });
    let mut a = Assessment {
        subject: Subject {
            principal: p.clone(),
            data_action: req.primary().to_string(),
            requirement: req.clone(),
            token_tenant: g.token_tenant.clone(),
            resource_id: String::new(),
            arm_endpoint: g.arm_endpoint(),
        },
        outcome: RoleOutcome::NotRead,
        effective_disagrees: None,
        evidence,
        fact: None,
    };
    let mut newest_grant_age_secs = None;
    let mut resource_tenant = None;
    a.outcome = match before_the_account(g, &mut a.evidence) {
        Err(outcome) => {
            if let RoleOutcome::OtherTenant { id, tenant } = &outcome {
                a.subject.resource_id = id.clone().unwrap_or_default();
                resource_tenant = tenant.clone();
            }
            outcome
        }
        Ok((account_id, tenant)) => {
            resource_tenant = tenant;
            match in_the_project(g, &account_id, &mut a.evidence) {
                Err(outcome) => {
                    a.subject.resource_id = account_id;
                    outcome
                }
                Ok(scope) => {
                    a.subject.resource_id = scope;
                    at_the_account(g, now, &mut a, &mut newest_grant_age_secs)
                }
            }
        }
    };
    if a.outcome != RoleOutcome::NoAccountToSearch {
        let kind = a.outcome.kind();
        a.fact = Some(RoleFacts {
            verdict: kind.verdict(),
            outcome: kind,
            resource_id: Some(a.subject.resource_id.clone()).filter(|r| !r.is_empty()),
            resource_tenant,
            principal_id: p.object_id.clone(),
            data_action: a.subject.data_action.clone(),
            newest_grant_age_secs,
        });
    }
    a
}

/// The outcomes decided before the account was found (ARM, `--assignee`, the search), or the
/// found account's id and tenant.
fn before_the_account(g: &Gathered, evidence: &mut Value) -> Result<(String, Option<String>), RoleOutcome> {
    let p = &g.principal;
    if let super::ArmAccess::NoToken(why) | super::ArmAccess::Unreachable(why) = &g.arm {
        evidence["arm"] = json!(why);
        return Err(RoleOutcome::ArmUnavailable { why: why.clone() });
    }
    if let Some(why) = &p.unresolved {
        return Err(RoleOutcome::AssigneeUnresolved { why: why.clone() });
    }
    Err(match &g.resource {
        ResourceState::Found { account, via, tenant } => {
            evidence["account"] = account.evidence();
            evidence["account_found_by"] = json!(via);
            return Ok((account.id.clone(), tenant.clone()));
        }
        ResourceState::NotSearched | ResourceState::NoEndpoint => RoleOutcome::NoAccountToSearch,
        ResourceState::NotFound { host, subscriptions } => {
            evidence["endpoint_host"] = json!(host);
            if *subscriptions == 0 && p.is_caller {
                RoleOutcome::NoRoleInTenant { host: host.clone() }
            } else {
                RoleOutcome::AccountNotFound {
                    host: host.clone(),
                    subscriptions: *subscriptions,
                }
            }
        }
        ResourceState::BadId { id, why } => RoleOutcome::BadResourceId {
            id: id.clone(),
            why: why.clone(),
        },
        ResourceState::OtherTenant { id, tenant } => RoleOutcome::OtherTenant {
            id: id.clone(),
            tenant: tenant.clone(),
        },
        ResourceState::Failed(e) => RoleOutcome::SearchRefused {
            error: e.describe(),
            classified: e.kind().is_some(),
        },
    })
}

/// The scope roles are judged at (the account, or the endpoint's project), or the outcome
/// when the project does not exist.
fn in_the_project(g: &Gathered, account_id: &str, evidence: &mut Value) -> Result<String, RoleOutcome> {
    match &g.project {
        ProjectState::NotAProject => Ok(account_id.to_string()),
        ProjectState::Found { id, name } => {
            evidence["project"] = json!({"id": id, "name": name, "found": true});
            Ok(id.clone())
        }
        ProjectState::Unreadable { id, name, error } => {
            evidence["project"] = json!({"id": id, "name": name, "unreadable": error});
            Ok(id.clone())
        }
        ProjectState::NotFound {
            name,
            account,
            existing,
        } => {
            evidence["project"] = json!({"name": name, "found": false, "account_projects": existing});
            Err(RoleOutcome::ProjectNotFound {
                name: name.clone(),
                account: account.clone(),
                existing: existing.clone(),
                bad_name: false,
            })
        }
        ProjectState::BadName { name } => {
            evidence["project"] = json!({"name": name, "found": false, "valid_name": false});
            Err(RoleOutcome::ProjectNotFound {
                name: name.clone(),
                account: account_id.to_string(),
                existing: vec![],
                bad_name: true,
            })
        }
    }
}

/// The action to judge: the first of the requirement's `grants` that an assignment (or ARM's
/// effective permissions) grants — any of them counts, the sources do not say which the
/// service checks — else the first, which the messages name.
fn judged_action(g: &Gathered, scope: &str) -> String {
    let req = &g.requirement;
    let granted = |action: &str| {
        let by_assignment = matches!(&g.assignments, Some(Ok(list)) if list.iter().any(|x| {
            rbac::scope_covers(&x.scope, scope) && x.reading(action) == RoleReading::Grants
        }));
        let by_effective = matches!(&g.effective, Some(Ok(blocks)) if rbac::grants_data(blocks, action));
        by_assignment || by_effective
    };
    req.grants
        .iter()
        .find(|a| granted(a))
        .unwrap_or(&req.primary())
        .to_string()
}

/// The outcome at the found account (or project): assignments, denies and effective permissions.
fn at_the_account(g: &Gathered, now: i64, a: &mut Assessment, newest: &mut Option<i64>) -> RoleOutcome {
    let judged = judged_action(g, &a.subject.resource_id);
    a.subject.data_action = judged.clone();
    a.evidence["data_action_judged"] = json!(judged);
    let action = judged.as_str();
    let rid = a.subject.resource_id.clone();
    let evidence = &mut a.evidence;
    let effective_grants = match &g.effective {
        Some(Ok(blocks)) => {
            let grants = rbac::grants_data(blocks, action);
            evidence["effective_permissions"] = json!({"grants": grants, "blocks": blocks.len()});
            Some(grants)
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
        Some(Ok(list)) => list,
        Some(Err(e)) => return unreadable(e, effective_grants, evidence),
        None => return RoleOutcome::NotRead,
    };
    let pid = g.principal.object_id.clone().unwrap_or_default();
    let e: Evaluation = rbac::evaluate(assignments, denies, &pid, &rid, action, now);
    let shown = |list: &[AssignedRole]| {
        json!(
            list.iter()
                .map(|x| assignment_json(x, &rid, action, now))
                .collect::<Vec<_>>()
        )
    };
    evidence["role_assignments"] = shown(assignments);
    if !g.elsewhere.is_empty() {
        evidence["assignments_elsewhere"] = shown(&g.elsewhere);
    }
    *newest = e.newest_grant_age_secs;
    if let Some(eff) = effective_grants
        && eff == e.granting.is_empty()
    {
        a.effective_disagrees = Some(eff);
    }
    let outcome = read_outcome(g, assignments, denies, &e, &pid, &rid, action);
    debug_assert!(
        matches!(outcome, RoleOutcome::Unverified { .. }) || outcome.kind().verdict() == e.verdict,
        "{outcome:?}"
    );
    outcome
}

fn unreadable(e: &ArmError, effective_grants: Option<bool>, evidence: &mut Value) -> RoleOutcome {
    evidence["role_assignments"] = json!({"unreadable": e.describe()});
    let u = Unreadable {
        forbidden: e.is_forbidden(),
        error: e.describe(),
    };
    match effective_grants {
        Some(false) => RoleOutcome::EffectivelyMissing(u),
        Some(true) => RoleOutcome::UnreadableButAllowed(u),
        None => RoleOutcome::Unreadable(u),
    }
}

/// The outcome once the assignments were read and evaluated.
fn read_outcome(
    g: &Gathered,
    assignments: &[AssignedRole],
    denies: &[DenyRule],
    e: &Evaluation,
    pid: &str,
    rid: &str,
    action: &str,
) -> RoleOutcome {
    let pick = |idx: &[usize]| idx.iter().map(|i| assignments[*i].clone()).collect::<Vec<_>>();
    let granting = pick(&e.granting);
    if !e.denied_by.is_empty() {
        return RoleOutcome::Denied {
            denied_by: e.denied_by.iter().map(|i| denies[*i].clone()).collect(),
            granting,
        };
    }
    if e.granting.is_empty()
        && let Some(outcome) = unverified_alternative(g, assignments, rid)
    {
        return outcome;
    }
    if e.granting.is_empty() {
        let (control, other): (Vec<usize>, Vec<usize>) = e
            .near_misses
            .iter()
            .partition(|i| assignments[**i].reading(action) == RoleReading::ControlPlaneOnly);
        return RoleOutcome::NotGranted(NotGranted {
            wrong_scope: rbac::wrong_scope_grants(&g.elsewhere, rid, action)
                .into_iter()
                .map(|i| g.elsewhere[i].clone())
                .collect(),
            control_plane: pick(&control),
            other: other
                .iter()
                .map(|i| (assignments[*i].clone(), assignments[*i].reading(action)))
                .collect(),
            unknown_definitions: pick(&e.unknown_definitions),
            maybe_client_id: g.principal.maybe_client_id && g.elsewhere.is_empty(),
        });
    }
    match e.verdict {
        RoleVerdict::Propagating => RoleOutcome::Propagating {
            via_group: e.granting.iter().all(|i| assignments[*i].via_group(pid)),
            granting,
            oldest_age_secs: e.oldest_grant_age_secs,
        },
        RoleVerdict::Unknown => RoleOutcome::Conditional {
            granting,
            conditional: pick(&e.conditional),
        },
        _ => RoleOutcome::Granted {
            granting,
            oldest_age_secs: e.oldest_grant_age_secs,
            conditional: pick(&e.conditional),
        },
    }
}

/// A role grants one of the requirement's unverified alternatives (and nothing grants what
/// the sources name): a warning, the live call decides.
fn unverified_alternative(g: &Gathered, assignments: &[AssignedRole], rid: &str) -> Option<RoleOutcome> {
    g.requirement.unverified_alternatives.iter().find_map(|alt| {
        let granting: Vec<AssignedRole> = assignments
            .iter()
            .filter(|x| rbac::scope_covers(&x.scope, rid) && x.reading(alt) == RoleReading::Grants)
            .cloned()
            .collect();
        (!granting.is_empty()).then(|| RoleOutcome::Unverified {
            granting,
            granted_action: alt.to_string(),
        })
    })
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
