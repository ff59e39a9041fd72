//! The wording of every [`RoleOutcome`]: messages, summaries, fixes, and the exact `az`,
//! Bicep and Terraform commands. A pure conversion; nothing here decides a verdict.

use super::PrincipalInfo;
use super::outcome::{Assessment, NotGranted, RoleOutcome, Subject, Unreadable};
use crate::azure::arm::{PROJECTS_API, ResourceId};
use crate::codes;
use crate::diagnose::data_actions::{self, BuiltinDataRole, Certainty, OPENAI_USER};
use crate::diagnose::jwt::human_duration;
use crate::diagnose::rbac::{self, AssignedRole, DenyRule, RoleReading};
use crate::model::{Finding, Judgement, Status};

/// What one outcome says: the status, the summary line and the findings.
type Rendered = (Status, String, Vec<Finding>);

/// The check's result for an assessment.
pub fn judgement(a: &Assessment) -> Judgement {
    let (mut status, summary, mut findings) = render(&a.subject, &a.outcome);
    if let Some(allowed) = a.effective_disagrees {
        findings.push(effective_disagreement(&a.subject, allowed));
        status = Judgement::status_from(&findings);
    }
    Judgement::new(status, summary)
        .with_findings(findings)
        .evidence(a.evidence.clone())
}

/// One outcome in words.
pub fn render(s: &Subject, outcome: &RoleOutcome) -> Rendered {
    match outcome {
        RoleOutcome::ArmUnavailable { why } => arm_unavailable(s, why),
        RoleOutcome::AssigneeUnresolved { why } => assignee_unresolved(why),
        RoleOutcome::NoAccountToSearch => (
            Status::Skip,
            "skipped: needs a usable endpoint (`endpoint`) or --resource-id to find the account".into(),
            vec![],
        ),
        RoleOutcome::NoRoleInTenant { host } => no_role_in_tenant(s, host),
        RoleOutcome::AccountNotFound { host, subscriptions } => account_not_found(s, host, *subscriptions),
        RoleOutcome::BadResourceId { id, why } => bad_resource_id(id, why),
        RoleOutcome::OtherTenant { id, tenant } => other_tenant(s, id.as_deref(), tenant.as_deref()),
        RoleOutcome::SearchRefused { error, classified } => search_refused(error, *classified),
        RoleOutcome::EffectivelyMissing(u) => effectively_missing(s, u),
        RoleOutcome::UnreadableButAllowed(u) => unreadable_but_allowed(s, u),
        RoleOutcome::Unreadable(u) => unreadable(s, u),
        RoleOutcome::NotRead => (Status::Warn, "role assignments not read".into(), vec![]),
        RoleOutcome::Denied { denied_by, granting } => denied(s, denied_by, granting),
        RoleOutcome::NotGranted(n) => not_granted(s, n),
        RoleOutcome::ProjectNotFound {
            name,
            account,
            existing,
            bad_name,
        } => project_not_found(s, name, account, existing, *bad_name),
        RoleOutcome::Unverified {
            granting,
            granted_action,
        } => unverified(s, granting, granted_action),
        RoleOutcome::Propagating {
            granting,
            oldest_age_secs,
            via_group,
        } => propagating(s, granting, *oldest_age_secs, *via_group),
        RoleOutcome::Conditional { granting, conditional } => conditional_grant(s, granting, conditional),
        RoleOutcome::Granted {
            granting,
            oldest_age_secs,
            conditional,
        } => granted(s, granting, *oldest_age_secs, conditional),
    }
}

/// Text that ends a sentence: no doubled full stop when it already has one.
fn end(text: &str) -> &str {
    text.trim_end().trim_end_matches('.')
}

/// `deployments/chat/completions/action` for an OpenAI action (as reports always said),
/// `AIServices/agents/write` / `MaaS/chat/completions/action` for the others.
fn short_action(action: &str) -> &str {
    action
        .strip_prefix("Microsoft.CognitiveServices/accounts/OpenAI/")
        .unwrap_or_else(|| data_actions::short_action(action))
}

/// What the call needs, in a sentence: one action, or the alternatives the sources leave
/// open ("AIServices/agents/write or AIServices/responses/write (which one … is unverified)").
fn needed(s: &Subject) -> String {
    let req = &s.requirement;
    if req.certainty == Certainty::EitherUnverified && req.grants.len() > 1 {
        let all: Vec<&str> = req.grants.iter().map(|a| short_action(a)).collect();
        format!(
            "{} (which one the service checks is unverified; either is enough)",
            all.join(" or ")
        )
    } else {
        short_action(&s.data_action).to_string()
    }
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

/// Where an ARM scope sits, in words ("the account", "resource group rg-ai", …).
pub(super) fn describe_scope(scope: &str, resource: &str) -> String {
    let is_project = |id: &str| {
        ResourceId::parse(id)
            .ok()
            .is_some_and(|r| r.is_type("Microsoft.CognitiveServices/accounts/projects"))
    };
    if scope
        .trim_end_matches('/')
        .eq_ignore_ascii_case(resource.trim_end_matches('/'))
    {
        return if is_project(resource) {
            "the project".to_string()
        } else {
            "the account".to_string()
        };
    }
    if is_project(resource)
        && ResourceId::parse(resource)
            .ok()
            .and_then(|r| r.parent())
            .is_some_and(|parent| parent.to_string().eq_ignore_ascii_case(scope.trim_end_matches('/')))
    {
        return "the project's account".to_string();
    }
    if scope.trim().trim_matches('/').is_empty() {
        return "the root scope (/)".to_string();
    }
    let Ok(id) = ResourceId::parse(scope) else {
        // Not an ARM id: name its last segment.
        let last = scope.trim_end_matches('/').rsplit('/').next().unwrap_or(scope);
        return format!("resource {last}");
    };
    let name = id.name().unwrap_or_default();
    match &id {
        ResourceId::Root => "the root scope (/)".to_string(),
        ResourceId::Subscription { id } => format!("subscription {id}"),
        ResourceId::ResourceGroup { name, .. } => format!("resource group {name}"),
        _ if id.is_type("Microsoft.Management/managementGroups") => format!("management group {name}"),
        _ if id.is_type("Microsoft.CognitiveServices/accounts/projects") => format!("project {name}"),
        _ if id.last_type().is_some_and(|t| t.eq_ignore_ascii_case("accounts")) => format!("account {name}"),
        _ => format!("resource {name}"),
    }
}

/// `Role on the account`, `Role on resource group rg`, …
fn describe(a: &AssignedRole, rid: &str) -> String {
    format!("{} on {}", a.role_name(), describe_scope(&a.scope, rid))
}

fn list(assignments: &[AssignedRole], rid: &str) -> String {
    assignments
        .iter()
        .map(|a| describe(a, rid))
        .collect::<Vec<_>>()
        .join(", ")
}

/// [`list`] for a message: a renamed role with its former name ("Foundry User (formerly Azure
/// AI User) on the project"), so a reader who knows the old name finds it once.
fn full_list(assignments: &[AssignedRole], rid: &str) -> String {
    assignments
        .iter()
        .map(|a| format!("{} on {}", a.display_name(), describe_scope(&a.scope, rid)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The role to grant: the smallest built-in that grants what the call needs (the table shared
/// with the probe and `explain`), Cognitive Services OpenAI User when the table has none.
fn recommended(s: &Subject) -> &'static BuiltinDataRole {
    s.requirement.smallest_role().unwrap_or(&OPENAI_USER)
}

/// "the project" or "the account": where the fix assigns the role.
fn scope_word(s: &Subject) -> &'static str {
    let project = ResourceId::parse(&s.resource_id)
        .ok()
        .is_some_and(|r| r.is_type("Microsoft.CognitiveServices/accounts/projects"));
    if project { "the project" } else { "the account" }
}

/// The exact fix: `az`, plus Bicep and Terraform in the text, for the smallest built-in role
/// (named by its GUID's 2026 name) at the narrowest scope that works (the project for a
/// project endpoint, else the account).
fn grant_fix(f: Finding, s: &Subject, scope: &str, lead: &str) -> Finding {
    let p = &s.principal;
    let oid = p.object_id.clone().unwrap_or_else(|| "<object-id>".into());
    let kind = principal_type_arg(p);
    let role = recommended(s);
    let (name, guid, at) = (role.name, role.guid, scope_word(s));
    let bicep_scope = at.trim_start_matches("the ");
    let why = if role.guid == OPENAI_USER.guid {
        String::new()
    } else {
        format!(
            " — the smallest built-in role granting {}; it {}",
            short_action(&s.data_action),
            role.why
        )
    };
    let text = format!(
        "{lead}Assign \"{}\" (role id {guid}) to the principal on {at}{why}; it takes up to 10 minutes to reach the data plane. \
         Bicep: resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {{ name: guid({bicep_scope}.id, '{oid}', '{guid}'), scope: {bicep_scope}, properties: {{ roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '{guid}'), principalId: '{oid}', principalType: '{kind}' }} }}. \
         Terraform: resource \"azurerm_role_assignment\" \"aoai\" {{ scope = \"{scope}\" role_definition_name = \"{name}\" principal_id = \"{oid}\" }}",
        role.display_name(),
    );
    f.fix(text).command(format!(
        "az role assignment create --assignee-object-id {oid} --assignee-principal-type {kind} --role \"{name}\" --scope {scope}"
    ))
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

/// `az rest --method get` on an Authorization sub-resource of the account, in the user's cloud.
fn az_rest_get(s: &Subject, what: &str) -> String {
    format!(
        "az rest --method get --url \"{}{}/providers/Microsoft.Authorization/{what}?api-version=2022-04-01\"",
        s.arm_endpoint, s.resource_id
    )
}

fn arm_unavailable(s: &Subject, why: &str) -> Rendered {
    let host = url::Url::parse(s.arm_endpoint)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| s.arm_endpoint.to_string());
    let f = Finding::warning(&codes::ROLE_ARM_UNREACHABLE, format!("Roles could not be checked: {}.", end(why)))
        .fix(format!("The app itself does not need ARM; the doctor does, to read role assignments. Allow {host} through the proxy/firewall (or pass --arm-endpoint), or run the doctor where ARM is reachable; the data-plane probe still tests the call itself."))
        .command("az role assignment list --all --assignee <object-id> --include-inherited --include-groups -o table");
    (
        Status::Warn,
        "roles not checked: Azure Resource Manager unavailable".into(),
        vec![f],
    )
}

fn assignee_unresolved(why: &str) -> Rendered {
    let f = Finding::warning(&codes::ROLE_ASSIGNEE_UNRESOLVED, format!("--assignee could not be resolved: {}.", end(why)))
        .fix("Pass the principal's object id. For a managed identity: its principalId; for an app registration: the object id of its service principal (not the application's client id).")
        .command("az identity show --ids <managed-identity-resource-id> --query principalId -o tsv")
        .command("az ad sp show --id <client-id> --query id -o tsv");
    (
        Status::Warn,
        "--assignee not resolved: roles not checked".into(),
        vec![f],
    )
}

fn no_role_in_tenant(s: &Subject, host: &str) -> Rendered {
    let p = &s.principal;
    let tenant = s.token_tenant.as_deref().unwrap_or("?");
    let f = grant_fix(
        Finding::error(
            &codes::ROLE_MISSING,
            format!(
                "{} holds no role at all in tenant {tenant}: ARM lists no subscription for it, so it has no role on the account at {host} (unless that account lives in another tenant, which the app's tokens would not fit either).",
                who(p)
            ),
        ),
        s,
        "<account-resource-id>",
        "Find the account's resource id (az cognitiveservices account list --query \"[].{id:id, endpoint:properties.endpoint}\" -o table, as someone who can see it), then: ",
    );
    (
        Status::Fail,
        format!("{} holds no role in tenant {tenant}", short_who(p)),
        vec![f],
    )
}

fn account_not_found(s: &Subject, host: &str, subscriptions: usize) -> Rendered {
    let f = Finding::warning(
        &codes::ROLE_RESOURCE_NOT_FOUND,
        format!(
            "No Cognitive Services account with the endpoint {host} is readable in the {subscriptions} subscription(s) {} can list: it may lack read access on the account (a data-only role cannot read it), or the account is in another tenant or subscription.",
            who(&s.principal)
        ),
    )
    .fix("Pass the account's ARM id so the doctor can check roles on it directly (it is on the account's Overview → JSON View, or from az).")
    .command("az cognitiveservices account list --query \"[].{id:id, endpoint:properties.endpoint}\" -o table")
    .command("aoai-doctor --resource-id /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.CognitiveServices/accounts/<name>");
    (
        Status::Warn,
        format!("account for {host} not found in readable subscriptions"),
        vec![f],
    )
}

fn bad_resource_id(id: &str, why: &str) -> Rendered {
    let f = Finding::error(
        &codes::ROLE_RESOURCE_NOT_FOUND,
        format!("--resource-id {id} is not usable: {}.", end(why)),
    )
    .fix("Pass the account's exact ARM id.")
    .command("az cognitiveservices account show -n <name> -g <resource-group> --query id -o tsv");
    (Status::Fail, "--resource-id not found".into(), vec![f])
}

fn other_tenant(s: &Subject, id: Option<&str>, tenant: Option<&str>) -> Rendered {
    let t = tenant.unwrap_or("<resource-tenant-id>");
    let f = Finding::error(
        &codes::ROLE_RESOURCE_OTHER_TENANT,
        format!(
            "The account {} lives in tenant {t}, but the token comes from tenant {}: roles there cannot be read, and the data plane rejects tokens from another tenant.",
            id.unwrap_or(""),
            s.token_tenant.as_deref().unwrap_or("?")
        ),
    )
    .fix(format!("Get tokens from the account's tenant: sign in to it, or set AZURE_TENANT_ID={t} for a service principal (a guest user must be invited into that tenant)."))
    .command(format!("az login --tenant {t}"));
    (Status::Fail, format!("account is in another tenant ({t})"), vec![f])
}

fn search_refused(error: &str, classified: bool) -> Rendered {
    let f = Finding::warning(
        &codes::ROLE_ARM_UNREACHABLE,
        format!("ARM refused the search for the account: {}.", end(error)),
    )
    .fix(if classified {
        "See the ARM error; pass --resource-id to skip the search."
    } else {
        "Pass --resource-id to skip the search."
    });
    (
        Status::Warn,
        "roles not checked: ARM refused the search".into(),
        vec![f],
    )
}

/// Why the assignments could not be read, as a clause.
fn unreadable_clause(s: &Subject, u: &Unreadable) -> String {
    let p = &s.principal;
    if u.forbidden {
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
        format!("ARM failed the role-assignment read ({})", u.error)
    }
}

fn effectively_missing(s: &Subject, u: &Unreadable) -> Rendered {
    let (p, action) = (&s.principal, s.data_action.as_str());
    let f = grant_fix(
        Finding::error(
            &codes::ROLE_MISSING,
            format!(
                "{} has no permission for {} on the account: ARM's effective permissions for it contain no matching data action.",
                who(p),
                short_action(action)
            ),
        ),
        s,
        &s.resource_id,
        "",
    );
    let info = Finding::info(
        &codes::ROLE_READ_FORBIDDEN,
        format!(
            "{}; the effective-permissions answer decided instead.",
            unreadable_clause(s, u)
        ),
    );
    (
        Status::Fail,
        format!("{} lacks {} on the account", short_who(p), short_action(action)),
        vec![f, info],
    )
}

fn unreadable_but_allowed(s: &Subject, u: &Unreadable) -> Rendered {
    let f = read_forbidden_fix(
        Finding::warning(
            &codes::ROLE_READ_FORBIDDEN,
            format!(
                "{}. ARM's effective permissions do include {}, but which assignment grants it, and since when, cannot be read.",
                unreadable_clause(s, u),
                short_action(&s.data_action)
            ),
        ),
        &s.principal,
        &s.resource_id,
    );
    (
        Status::Warn,
        "role assignments unreadable (effective permissions allow the call)".into(),
        vec![f],
    )
}

fn unreadable(s: &Subject, u: &Unreadable) -> Rendered {
    let code = if u.forbidden {
        &codes::ROLE_READ_FORBIDDEN
    } else {
        &codes::ROLE_ARM_UNREACHABLE
    };
    let f = read_forbidden_fix(
        Finding::warning(code, format!("{}.", end(&unreadable_clause(s, u)))),
        &s.principal,
        &s.resource_id,
    );
    (
        Status::Warn,
        "role assignments unreadable: roles not verified".into(),
        vec![f],
    )
}

fn denied(s: &Subject, denied_by: &[DenyRule], granting: &[AssignedRole]) -> Rendered {
    let rid = s.resource_id.as_str();
    let d: Vec<String> = denied_by
        .iter()
        .map(|d| format!("\"{}\" at {}", d.name, describe_scope(&d.scope, rid)))
        .collect();
    let granted = if granting.is_empty() {
        String::new()
    } else {
        format!(" although {} grants it", list(granting, rid))
    };
    let f = Finding::error(
        &codes::ROLE_DENIED,
        format!("A deny assignment blocks {} for {}{granted}: {}. Deny assignments win over every role.", short_action(&s.data_action), who(&s.principal), d.join(", ")),
    )
    .fix("Deny assignments are created by Azure itself (managed applications, deployment stacks, Blueprints), not by role assignments: remove or change the deny setting where it comes from, exclude this principal from it, or use an account outside its scope.")
    .command(az_rest_get(s, "denyAssignments"));
    let findings = vec![f];
    (
        Judgement::status_from(&findings),
        format!("denied by {}", d.join(", ")),
        findings,
    )
}

/// Nothing grants the action: the near misses, the most likely intent first (the right role
/// on the wrong scope), then management roles, then custom roles without the action.
fn not_granted(s: &Subject, n: &NotGranted) -> Rendered {
    let (p, action, rid) = (&s.principal, s.data_action.as_str(), s.resource_id.as_str());
    let mut findings = vec![];
    if !n.wrong_scope.is_empty() {
        let found: Vec<String> = n
            .wrong_scope
            .iter()
            .map(|a| format!("{} on {} ({})", a.role_name(), describe_scope(&a.scope, rid), a.scope))
            .collect();
        let f = Finding::error(
            &codes::ROLE_WRONG_SCOPE,
            format!(
                "{} holds the right role on the wrong scope: {}. It is needed on {} ({rid}) or a parent{}.",
                who(p),
                found.join("; "),
                if scope_word(s) == "the project" {
                    "this project"
                } else {
                    "this account"
                },
                if scope_word(s) == "the project" {
                    " (its account, resource group or subscription)"
                } else {
                    " (its resource group or subscription)"
                }
            ),
        );
        findings.push(grant_fix(f, s, rid, "The role grants nothing outside its scope. "));
    }
    if !n.control_plane.is_empty() {
        let f = Finding::error(
            &codes::ROLE_CONTROL_PLANE_ONLY,
            format!(
                "{} holds {} — management roles with no data actions, so they do not allow {} (Owner and Contributor manage the account but cannot call its models with Entra ID). The data plane answers 401 PermissionDenied.",
                who(p),
                full_list(&n.control_plane, rid),
                needed(s)
            ),
        );
        findings.push(if findings.is_empty() {
            grant_fix(f, s, rid, "")
        } else {
            f.fix("Keep them for management if needed; the data action comes from the role above.")
        });
    }
    for (a, reading) in &n.other {
        let f = other_data_actions(s, a, reading);
        let builtin = a.role.as_ref().is_some_and(|r| r.builtin);
        let lead = if builtin {
            format!("{} is built in and cannot be changed. ", a.role_name())
        } else {
            format!("Add {action} to the custom role's dataActions (and out of its notDataActions), or: ")
        };
        findings.push(if findings.is_empty() {
            grant_fix(f, s, rid, &lead)
        } else if builtin {
            f.fix(format!("Assign \"{}\".", recommended(s).name))
        } else {
            f.fix(format!(
                "Add {action} to the role's dataActions (and out of its notDataActions), or assign \"{}\".",
                recommended(s).name
            ))
        });
    }
    if !n.unknown_definitions.is_empty() && findings.is_empty() {
        let f = Finding::warning(
            &codes::ROLE_READ_FORBIDDEN,
            format!(
                "The definitions of {} could not be read (Microsoft.Authorization/roleDefinitions/read), so whether they allow {} is unknown.",
                list(&n.unknown_definitions, rid),
                short_action(action)
            ),
        );
        findings.push(read_forbidden_fix(f, p, rid));
    }
    if findings.is_empty() {
        findings.extend(no_role(s, n.maybe_client_id));
    }
    (Judgement::status_from(&findings), not_granted_summary(s, n), findings)
}

/// A role with data actions that do not cover the call.
fn other_data_actions(s: &Subject, a: &AssignedRole, reading: &RoleReading) -> Finding {
    let action = s.data_action.as_str();
    let why = match reading {
        RoleReading::Excluded { allowed_by, removed_by } => {
            format!("its dataActions include {allowed_by}, but its notDataActions remove {removed_by}")
        }
        RoleReading::OtherDataActions { .. } if a.role.as_ref().is_some_and(|r| r.builtin) => {
            format!("its data actions cover only {}", families(a).join(", "))
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
    Finding::error(
        &codes::ROLE_MISSING,
        format!(
            "{} holds {} on {}, which does not allow {}: {why}.",
            who(&s.principal),
            a.display_name(),
            describe_scope(&a.scope, &s.resource_id),
            needed(s)
        ),
    )
}

/// The data-action families a role covers (`OpenAI/*`, `MaaS/*`…): a built-in role's
/// near miss in a few words, not its sixteen actions.
fn families(a: &AssignedRole) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    let actions = a
        .role
        .iter()
        .flat_map(|r| r.permissions.iter())
        .flat_map(|p| p.data_actions.iter());
    for d in actions {
        let short = data_actions::short_action(d);
        let family = match short.split_once('/') {
            Some((f, _)) => format!("{f}/*"),
            None => short.to_string(),
        };
        if !out.contains(&family) {
            out.push(family);
        }
    }
    out
}

/// No role at the account at all (and, for a GUID that found nothing anywhere, the hint that
/// it may be a client id).
fn no_role(s: &Subject, maybe_client_id: bool) -> Vec<Finding> {
    let p = &s.principal;
    let f = Finding::error(
        &codes::ROLE_MISSING,
        format!(
            "{} holds no role on {} — none at its scope, inherited from {}, or through a group — so {} is not allowed and the data plane answers 401 PermissionDenied.",
            who(p),
            scope_word(s),
            if scope_word(s) == "the project" {
                "its account, resource group or subscription"
            } else {
                "its resource group or subscription"
            },
            needed(s)
        ),
    );
    let mut findings = vec![grant_fix(f, s, &s.resource_id, "")];
    if maybe_client_id {
        findings.push(
            Finding::warning(
                &codes::ROLE_ASSIGNEE_UNRESOLVED,
                format!("{} has no role assignment anywhere the doctor can read. If it is an application (client) id rather than an object id, the doctor cannot resolve it without Microsoft Graph.", p.object_id.as_deref().unwrap_or("")),
            )
            .fix("Pass the service principal's object id.")
            .command(format!("az ad sp show --id {} --query id -o tsv", p.object_id.as_deref().unwrap_or("<client-id>"))),
        );
    }
    findings
}

fn not_granted_summary(s: &Subject, n: &NotGranted) -> String {
    let (action, rid) = (short_action(&s.data_action), s.resource_id.as_str());
    if !n.unknown_definitions.is_empty() {
        format!(
            "could not tell whether {} allows {action}",
            list(&n.unknown_definitions, rid)
        )
    } else if !n.wrong_scope.is_empty() {
        format!(
            "the right role on the wrong scope ({}), not on this account",
            n.wrong_scope
                .iter()
                .map(|a| describe_scope(&a.scope, rid))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else if !n.control_plane.is_empty() {
        format!(
            "only management roles ({}): no data action",
            list(&n.control_plane, rid)
        )
    } else if !n.other.is_empty() {
        let other: Vec<AssignedRole> = n.other.iter().map(|(a, _)| a.clone()).collect();
        format!("{} does not allow {action}", list(&other, rid))
    } else {
        format!("{} holds no role on the account", short_who(&s.principal))
    }
}

/// The project a project endpoint names is not in ARM: every call to it fails, whatever the
/// roles.
fn project_not_found(s: &Subject, name: &str, account: &str, existing: &[String], bad_name: bool) -> Rendered {
    let acct = ResourceId::parse(account)
        .ok()
        .and_then(|r| r.name().map(str::to_string))
        .unwrap_or_else(|| account.to_string());
    let known = if existing.is_empty() {
        "ARM lists no project on it, or they could not be listed".to_string()
    } else {
        format!("its projects: {}", existing.join(", "))
    };
    let message = if bad_name {
        format!(
            "The endpoint's project name `{name}` is not a name a Foundry project can have, so no project (and no role on it) can be checked."
        )
    } else {
        format!(
            "The endpoint names the Foundry project {name}, but account {acct} has no such project in ARM ({known}): calls to it fail whatever the roles."
        )
    };
    let f = Finding::error(&codes::ROLE_PROJECT_NOT_FOUND, message)
        .fix("Use the project endpoint from the project's overview page in the Foundry portal (https://<account>.services.ai.azure.com/api/projects/<project>), or create the project.")
        .command(format!(
            "az rest --method get --url \"{}{}/projects?api-version={PROJECTS_API}\"",
            s.arm_endpoint,
            account.trim_end_matches('/')
        ));
    (
        Status::Fail,
        format!("project {name} not found on account {acct}"),
        vec![f],
    )
}

/// Only an unverified alternative reading is granted (a non-OpenAI model through
/// `/openai/v1`): a warning; the probe's live answer decides.
fn unverified(s: &Subject, granting: &[AssignedRole], granted_action: &str) -> Rendered {
    let rid = s.resource_id.as_str();
    let f = Finding::warning(
        &codes::ROLE_DATA_ACTION_UNVERIFIED,
        format!(
            "{} holds {}, which grants {} but not {}: {}. The data-plane probe's answer decides.",
            who(&s.principal),
            full_list(granting, rid),
            short_action(granted_action),
            short_action(&s.data_action),
            s.requirement.note
        ),
    );
    let f = grant_fix(f, s, rid, "If the call answers 401 PermissionDenied: ");
    let format = s.requirement.model_format.as_deref().unwrap_or("non-OpenAI");
    (
        Status::Warn,
        format!(
            "{} grants {} only; whether a {format} model needs {} here is unverified",
            list(granting, rid),
            short_action(granted_action),
            short_action(&s.data_action)
        ),
        vec![f],
    )
}

fn propagating(s: &Subject, granting: &[AssignedRole], oldest_age_secs: Option<i64>, via_group: bool) -> Rendered {
    let granting = list(granting, &s.resource_id);
    let age = oldest_age_secs.map(human_duration).unwrap_or_else(|| "moments".into());
    let window = if via_group {
        "30 minutes (it comes through a group)"
    } else {
        "10 minutes"
    };
    let f = Finding::warning(
        &codes::ROLE_PROPAGATING,
        format!("{} holds {granting}, assigned {age} ago: assigned, probably still propagating — the data plane may answer 401 for up to {window}.", who(&s.principal)),
    )
    .fix("Wait and retry; nothing else to change. A new sign-in (fresh token) helps once it has propagated.")
    .command("aoai-doctor --wait-for-propagation 10m");
    (
        Status::Warn,
        format!("{granting} assigned {age} ago: probably still propagating"),
        vec![f],
    )
}

fn conditional_grant(s: &Subject, granting: &[AssignedRole], conditional: &[AssignedRole]) -> Rendered {
    let (rid, pid) = (
        s.resource_id.as_str(),
        s.principal.object_id.as_deref().unwrap_or_default(),
    );
    let granting = list(granting, rid);
    let c: Vec<String> = conditional
        .iter()
        .map(|a| {
            format!(
                "{} ({})",
                describe(a, rid),
                a.condition.as_deref().unwrap_or("condition in the role definition")
            )
        })
        .collect();
    let f = Finding::warning(
        &codes::ROLE_CONDITION,
        format!("{} holds {granting}, but only with an ABAC condition the doctor does not evaluate: {}.", who(&s.principal), c.join("; ")),
    )
    .fix("Check that the condition allows this call (the portal shows it under Access control (IAM) → Role assignments → Condition), or assign the role without a condition.")
    .command(format!("az role assignment list --scope {rid} --assignee {pid} --include-inherited --query \"[].{{role:roleDefinitionName, condition:condition}}\""));
    (Status::Warn, format!("{granting}, with an ABAC condition"), vec![f])
}

fn granted(
    s: &Subject,
    granting: &[AssignedRole],
    oldest_age_secs: Option<i64>,
    conditional: &[AssignedRole],
) -> Rendered {
    let rid = s.resource_id.as_str();
    let age = oldest_age_secs
        .map(|a| format!(", assigned {} ago", human_duration(a)))
        .unwrap_or_default();
    let summary = format!(
        "{} holds {}{age}: allows {}",
        short_who(&s.principal),
        list(granting, rid),
        short_action(&s.data_action)
    );
    let mut findings = vec![];
    if !conditional.is_empty() {
        findings.push(Finding::info(
            &codes::ROLE_CONDITION,
            format!(
                "Some granting assignments carry an ABAC condition: {}.",
                list(conditional, rid)
            ),
        ));
    }
    (Judgement::status_from(&findings), summary, findings)
}

/// ARM's effective permissions, as it computes them, disagree with the assignments read.
fn effective_disagreement(s: &Subject, allowed: bool) -> Finding {
    let assigned = !allowed;
    Finding::warning(
        &codes::ROLE_EFFECTIVE_PERMISSIONS_DISAGREE,
        format!(
            "ARM's effective permissions say {} is {}, but the role assignments the doctor read {}.",
            short_action(&s.data_action),
            if allowed { "allowed" } else { "not allowed" },
            if assigned { "grant it" } else { "do not grant it (an assignment it cannot see, e.g. through a group assignedTo() does not expand, or a classic administrator?)" }
        ),
    )
    .fix("Check the account's Access control (IAM) → Check access for this principal.")
    .command(az_rest_get(s, "permissions"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::rbac::roles;
    use proptest::prelude::*;

    const ACCOUNT: &str =
        "/subscriptions/s1/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai";

    #[test]
    fn scopes_in_words() {
        assert_eq!(
            describe_scope("/subscriptions/s1/resourceGroups/rg-ai", ACCOUNT),
            "resource group rg-ai"
        );
        assert_eq!(describe_scope(ACCOUNT, ACCOUNT), "the account");
        assert_eq!(describe_scope(&format!("{ACCOUNT}/"), ACCOUNT), "the account");
        assert_eq!(describe_scope("/subscriptions/s2", ACCOUNT), "subscription s2");
        assert_eq!(describe_scope("/", ACCOUNT), "the root scope (/)");
        assert_eq!(
            describe_scope("/providers/Microsoft.Management/managementGroups/mg-corp", ACCOUNT),
            "management group mg-corp"
        );
        assert_eq!(
            describe_scope(&format!("{ACCOUNT}-eus2"), ACCOUNT),
            "account contoso-aoai-eus2"
        );
        assert_eq!(
            describe_scope(&format!("{ACCOUNT}/projects/chat"), ACCOUNT),
            "project chat"
        );
        // Judged at a project: the project itself, its account, another project.
        let project = format!("{ACCOUNT}/projects/chat");
        assert_eq!(describe_scope(&project, &project), "the project");
        assert_eq!(describe_scope(ACCOUNT, &project), "the project's account");
        assert_eq!(
            describe_scope(&format!("{ACCOUNT}/projects/other"), &project),
            "project other"
        );
        assert_eq!(
            describe_scope("/subscriptions/s1/resourceGroups/rg-ai", &project),
            "resource group rg-ai"
        );
        assert_eq!(describe_scope("not/an/id", ACCOUNT), "resource id");
    }

    const ALICE: &str = "0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70";

    fn subject(arm_endpoint: &'static str) -> Subject {
        Subject {
            principal: PrincipalInfo {
                object_id: Some(ALICE.into()),
                kind: Some("User".into()),
                is_caller: true,
                display: Some("alice@contoso.com".into()),
                ..Default::default()
            },
            data_action: rbac::CHAT_COMPLETIONS_ACTION.into(),
            requirement: Default::default(),
            token_tenant: Some("t1".into()),
            resource_id: ACCOUNT.into(),
            arm_endpoint,
        }
    }

    fn role(role_id: &str, scope: &str) -> AssignedRole {
        AssignedRole {
            id: format!("{scope}/providers/Microsoft.Authorization/roleAssignments/x"),
            scope: scope.into(),
            principal_id: ALICE.into(),
            principal_type: Some("User".into()),
            role_id: role_id.into(),
            role: rbac::builtin_role(role_id),
            condition: None,
            created_on: None,
        }
    }

    /// Status, codes and all the text of one rendered outcome.
    fn rendered(s: &Subject, o: &RoleOutcome) -> (Status, Vec<&'static str>, String, String) {
        let (status, summary, findings) = render(s, o);
        let codes = findings.iter().map(|f| f.code.id).collect();
        let text = findings
            .iter()
            .map(|f| {
                format!(
                    "{} | {} | {}",
                    f.message,
                    f.remediation.text,
                    f.remediation.commands.join(" | ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        (status, codes, summary, text)
    }

    const PUBLIC: &str = "https://management.azure.com";
    const GOV: &str = "https://management.usgovcloudapi.net";

    #[test]
    fn arm_unavailable_names_the_clouds_arm_host() {
        let o = RoleOutcome::ArmUnavailable {
            why: "no route.".into(),
        };
        let (st, codes, summary, text) = rendered(&subject(PUBLIC), &o);
        assert_eq!((st, codes), (Status::Warn, vec!["role-arm-unreachable"]));
        assert!(summary.contains("Azure Resource Manager unavailable"), "{summary}");
        assert!(
            text.contains("no route.") && !text.contains("no route..") && text.contains("Allow management.azure.com"),
            "{text}"
        );
        let (_, _, _, text) = rendered(&subject(GOV), &o);
        assert!(
            text.contains("Allow management.usgovcloudapi.net") && !text.contains("azure.com"),
            "{text}"
        );
    }

    #[test]
    fn assignee_unresolved_and_search_outcomes() {
        let s = subject(PUBLIC);
        let (st, codes, _, text) = rendered(&s, &RoleOutcome::AssigneeUnresolved { why: "bad".into() });
        assert_eq!((st, codes), (Status::Warn, vec!["role-assignee-unresolved"]));
        assert!(text.contains("az identity show"), "{text}");
        let (st, codes, summary, _) = rendered(&s, &RoleOutcome::NoRoleInTenant { host: "h".into() });
        assert_eq!((st, codes), (Status::Fail, vec!["role-missing"]));
        assert_eq!(summary, "alice@contoso.com holds no role in tenant t1");
        let o = RoleOutcome::AccountNotFound {
            host: "h".into(),
            subscriptions: 3,
        };
        let (st, codes, _, text) = rendered(&s, &o);
        assert_eq!((st, codes), (Status::Warn, vec!["role-resource-not-found"]));
        assert!(
            text.contains("in the 3 subscription(s)") && text.contains("--resource-id"),
            "{text}"
        );
        let o = RoleOutcome::BadResourceId {
            id: "/x".into(),
            why: "nope".into(),
        };
        assert_eq!(rendered(&s, &o).0, Status::Fail);
        let o = RoleOutcome::OtherTenant {
            id: Some(ACCOUNT.into()),
            tenant: Some("t2".into()),
        };
        let (st, codes, _, text) = rendered(&s, &o);
        assert_eq!((st, codes), (Status::Fail, vec!["role-resource-other-tenant"]));
        assert!(
            text.contains("az login --tenant t2") && text.contains("from tenant t1"),
            "{text}"
        );
        let o = RoleOutcome::SearchRefused {
            error: "HTTP 500".into(),
            classified: false,
        };
        let (st, codes, _, text) = rendered(&s, &o);
        assert_eq!((st, codes), (Status::Warn, vec!["role-arm-unreachable"]));
        assert!(
            text.contains("Pass --resource-id") && !text.contains("See the ARM error"),
            "{text}"
        );
        let (st, _, summary, _) = rendered(&s, &RoleOutcome::NoAccountToSearch);
        assert!(st == Status::Skip && summary.starts_with("skipped"), "{summary}");
    }

    #[test]
    fn unreadable_assignments_three_ways() {
        let s = subject(PUBLIC);
        let u = Unreadable {
            forbidden: true,
            error: "HTTP 403".into(),
        };
        let (st, codes, _, text) = rendered(&s, &RoleOutcome::EffectivelyMissing(u.clone()));
        assert_eq!((st, codes), (Status::Fail, vec!["role-missing", "role-read-forbidden"]));
        assert!(text.contains("effective-permissions answer decided"), "{text}");
        let (st, codes, _, _) = rendered(&s, &RoleOutcome::UnreadableButAllowed(u.clone()));
        assert_eq!((st, codes), (Status::Warn, vec!["role-read-forbidden"]));
        let (st, codes, _, text) = rendered(&s, &RoleOutcome::Unreadable(u));
        assert_eq!((st, codes), (Status::Warn, vec!["role-read-forbidden"]));
        assert!(text.contains("--role Reader --scope"), "{text}");
        let other = Unreadable {
            forbidden: false,
            error: "HTTP 500".into(),
        };
        let (_, codes, _, text) = rendered(&s, &RoleOutcome::Unreadable(other));
        assert_eq!(codes, vec!["role-arm-unreachable"]);
        assert!(
            text.contains("ARM failed the role-assignment read (HTTP 500)"),
            "{text}"
        );
        assert_eq!(rendered(&s, &RoleOutcome::NotRead).0, Status::Warn);
    }

    #[test]
    fn denied_names_the_deny_assignment_with_the_clouds_url() {
        let deny = DenyRule {
            id: "d".into(),
            name: "stack-deny".into(),
            scope: "/subscriptions/s1".into(),
            permissions: vec![],
            principals: vec![],
            excluded: vec![],
            do_not_apply_to_child_scopes: false,
        };
        let o = RoleOutcome::Denied {
            denied_by: vec![deny],
            granting: vec![role(roles::OPENAI_USER, ACCOUNT)],
        };
        let (st, codes, summary, text) = rendered(&subject(GOV), &o);
        assert_eq!((st, codes), (Status::Fail, vec!["role-denied"]));
        assert_eq!(summary, "denied by \"stack-deny\" at subscription s1");
        assert!(
            text.contains("although Cognitive Services OpenAI User on the account grants it"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "az rest --method get --url \"{GOV}{ACCOUNT}/providers/Microsoft.Authorization/denyAssignments"
            )),
            "{text}"
        );
    }

    #[test]
    fn not_granted_leads_with_the_likeliest_intent() {
        let s = subject(PUBLIC);
        let owner = role(roles::OWNER, "/subscriptions/s1");
        let wrong = role(roles::OPENAI_USER, &format!("{ACCOUNT}-eus2"));
        let n = NotGranted {
            wrong_scope: vec![wrong],
            control_plane: vec![owner.clone()],
            ..Default::default()
        };
        let (st, codes, summary, text) = rendered(&s, &RoleOutcome::NotGranted(n.clone()));
        assert_eq!(
            (st, codes),
            (Status::Fail, vec!["role-wrong-scope", "role-control-plane-only"])
        );
        assert!(summary.contains("wrong scope (account contoso-aoai-eus2)"), "{summary}");
        assert!(text.contains("the data action comes from the role above"), "{text}");
        assert_eq!(n.kind(), crate::facts::RoleOutcomeKind::WrongScope);

        let n = NotGranted {
            control_plane: vec![owner],
            ..Default::default()
        };
        let (_, codes, summary, text) = rendered(&s, &RoleOutcome::NotGranted(n));
        assert_eq!(codes, vec!["role-control-plane-only"]);
        assert_eq!(
            summary,
            "only management roles (Owner on subscription s1): no data action"
        );
        assert!(
            text.contains("az role assignment create") && text.contains("azurerm_role_assignment"),
            "{text}"
        );

        let reading = RoleReading::OtherDataActions {
            data_actions: vec!["Microsoft.X/read".into()],
        };
        let n = NotGranted {
            other: vec![(role("custom", ACCOUNT), reading)],
            ..Default::default()
        };
        let (_, codes, _, text) = rendered(&s, &RoleOutcome::NotGranted(n));
        assert_eq!(codes, vec!["role-missing"]);
        assert!(
            text.contains("its data actions (Microsoft.X/read) do not cover")
                && text.contains("custom role's dataActions"),
            "{text}"
        );

        let n = NotGranted {
            unknown_definitions: vec![role("custom", ACCOUNT)],
            ..Default::default()
        };
        let (st, codes, summary, _) = rendered(&s, &RoleOutcome::NotGranted(n));
        assert_eq!((st, codes), (Status::Warn, vec!["role-read-forbidden"]));
        assert!(summary.starts_with("could not tell whether"), "{summary}");

        let n = NotGranted {
            maybe_client_id: true,
            ..Default::default()
        };
        let (_, codes, summary, text) = rendered(&s, &RoleOutcome::NotGranted(n));
        assert_eq!(codes, vec!["role-missing", "role-assignee-unresolved"]);
        assert_eq!(summary, "alice@contoso.com holds no role on the account");
        assert!(text.contains(&format!("az ad sp show --id {ALICE}")), "{text}");
    }

    #[test]
    fn granted_propagating_and_conditional() {
        let s = subject(PUBLIC);
        let user = role(roles::OPENAI_USER, ACCOUNT);
        let o = RoleOutcome::Granted {
            granting: vec![user.clone()],
            oldest_age_secs: Some(86_400),
            conditional: vec![],
        };
        let (st, codes, summary, _) = rendered(&s, &o);
        assert_eq!((st, codes.len()), (Status::Pass, 0));
        assert_eq!(
            summary,
            "alice@contoso.com holds Cognitive Services OpenAI User on the account, assigned 1d 0h ago: allows deployments/chat/completions/action"
        );
        let o = RoleOutcome::Granted {
            granting: vec![user.clone()],
            oldest_age_secs: None,
            conditional: vec![user.clone()],
        };
        assert_eq!(rendered(&s, &o).1, vec!["role-condition"]);
        let o = RoleOutcome::Propagating {
            granting: vec![user.clone()],
            oldest_age_secs: Some(60),
            via_group: true,
        };
        let (st, codes, _, text) = rendered(&s, &o);
        assert_eq!((st, codes), (Status::Warn, vec!["role-propagating"]));
        assert!(
            text.contains("assigned 1m 0s ago") && text.contains("30 minutes (it comes through a group)"),
            "{text}"
        );
        let mut conditioned = user.clone();
        conditioned.condition = Some("@Resource[x] == 'y'".into());
        let o = RoleOutcome::Conditional {
            granting: vec![conditioned.clone()],
            conditional: vec![conditioned],
        };
        let (st, codes, _, text) = rendered(&s, &o);
        assert_eq!((st, codes), (Status::Warn, vec!["role-condition"]));
        assert!(text.contains("@Resource[x] == 'y'"), "{text}");
    }

    #[test]
    fn effective_disagreement_uses_the_clouds_arm_endpoint() {
        let f = effective_disagreement(&subject(GOV), true);
        assert_eq!(f.code.id, "role-effective-permissions-disagree");
        assert!(
            f.message
                .contains("is allowed, but the role assignments the doctor read do not grant it"),
            "{}",
            f.message
        );
        assert!(
            f.remediation.commands[0]
                .contains(&format!("{GOV}{ACCOUNT}/providers/Microsoft.Authorization/permissions"))
        );
    }

    proptest! {
        #[test]
        fn describing_never_panics(p in "\\PC{0,40}", a in "\\PC{0,60}") {
            let _ = describe_scope(&p, &a);
        }
    }
}
