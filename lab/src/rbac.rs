//! Azure RBAC as the lab models it: role definitions (built-in from
//! `fixtures/roles/builtin-roles.json`, custom from the scenario), role assignments with
//! their age, group membership, deny assignments, and the evaluation both ARM (actions) and
//! the data plane (dataActions) use.
//!
//! Semantics (Azure docs, corpus builtin-roles.json `matching_semantics`): an action is
//! granted when some permission block matches it in `actions`/`dataActions` and the same
//! block's `notActions`/`notDataActions` do not; `*` matches any run of characters;
//! matching is case-insensitive; access is the union over assignments at the scope or
//! above, through transitive group membership, minus deny assignments. ABAC conditions are
//! carried but not evaluated (no built-in OpenAI role has one on data actions).

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use super::scenario::{PrincipalKind, Scenario, is_guid};
use super::util::stable_guid;

const BUILTIN_ROLES: &str = include_str!("../../fixtures/roles/builtin-roles.json");

#[derive(Debug, Clone)]
pub struct RoleDefinition {
    pub id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub builtin: bool,
    pub description: String,
    pub permissions: Vec<Permission>,
    pub assignable_scopes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
    #[serde(default)]
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
    pub condition: Option<String>,
    pub condition_version: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Assignment {
    pub name: String,
    pub principal_id: String,
    pub principal_type: &'static str,
    pub role_id: String,
    pub scope: String,
    pub created_on: i64,
    pub age_seconds: u64,
    pub condition: Option<String>,
    pub description: Option<String>,
    /// Set for an assignment created through ARM while the lab runs.
    pub created_at: Option<std::time::Instant>,
}

#[derive(Debug, Clone)]
pub struct Deny {
    pub id: String,
    pub name: String,
    pub description: String,
    /// `None`: everyone.
    pub principals: Option<Vec<String>>,
    pub excluded: Vec<String>,
    pub permission: Permission,
    pub scope: String,
}

#[derive(Debug, Clone)]
pub struct Rbac {
    pub roles: Vec<RoleDefinition>,
    pub assignments: Vec<Assignment>,
    pub denies: Vec<Deny>,
    /// group object id -> member object ids (direct).
    groups: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct BuiltinFile {
    roles: Vec<BuiltinRole>,
    #[serde(default)]
    related_roles: Vec<BuiltinRole>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BuiltinRole {
    role_name: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    assignable_scopes: Vec<String>,
    permissions: Vec<Permission>,
    #[serde(default)]
    aliases: Vec<String>,
}

pub fn builtin_roles() -> Result<Vec<RoleDefinition>> {
    let f: BuiltinFile = serde_json::from_str(BUILTIN_ROLES).context("fixtures/roles/builtin-roles.json")?;
    Ok(f.roles
        .into_iter()
        .chain(f.related_roles)
        .map(|r| RoleDefinition {
            id: r.name.to_ascii_lowercase(),
            name: r.role_name,
            aliases: r.aliases,
            builtin: true,
            description: r.description,
            permissions: r.permissions,
            assignable_scopes: r.assignable_scopes,
        })
        .collect())
}

/// The built-in roles (with any data actions the scenario adds to them) and its custom roles.
fn scenario_roles(s: &Scenario) -> Result<Vec<RoleDefinition>> {
    let mut roles = builtin_roles()?;
    for (name, added) in &s.arm.builtin_added_data_actions {
        let role = roles
            .iter_mut()
            .find(|r| r.builtin && r.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| anyhow::anyhow!("arm.builtin_added_data_actions: no built-in role {name}"))?;
        if let Some(p) = role.permissions.first_mut() {
            p.data_actions.extend(added.iter().cloned());
        }
    }
    for c in &s.custom_roles {
        roles.push(RoleDefinition {
            id: c.id.to_ascii_lowercase(),
            name: c.name.clone(),
            aliases: vec![],
            builtin: false,
            description: c.description.clone(),
            permissions: vec![Permission {
                actions: c.actions.clone(),
                not_actions: c.not_actions.clone(),
                data_actions: c.data_actions.clone(),
                not_data_actions: c.not_data_actions.clone(),
                condition: None,
                condition_version: None,
            }],
            assignable_scopes: c.assignable_scopes.iter().map(|x| s.scope(x)).collect::<Result<_>>()?,
        });
    }
    Ok(roles)
}

/// Each group's member object ids, by the group's object id (all lowercase).
fn group_members(s: &Scenario) -> Result<HashMap<String, Vec<String>>> {
    let mut groups = HashMap::new();
    for p in s.principals.values() {
        if p.kind == PrincipalKind::Group {
            let members = p
                .members
                .iter()
                .map(|m| s.principal(m).map(|m| m.object_id.to_ascii_lowercase()))
                .collect::<Result<Vec<_>>>()?;
            groups.insert(p.object_id.to_ascii_lowercase(), members);
        }
    }
    Ok(groups)
}

impl Rbac {
    pub fn build(s: &Scenario, started_unix: i64) -> Result<Rbac> {
        let roles = scenario_roles(s)?;
        let groups = group_members(s)?;
        let mut rbac = Rbac {
            roles,
            assignments: vec![],
            denies: vec![],
            groups,
        };
        rbac.add_assignments(s, started_unix)?;
        rbac.add_denies(s)?;
        Ok(rbac)
    }

    /// The scenario's role assignments, each against a role this RBAC already knows.
    fn add_assignments(&mut self, s: &Scenario, started_unix: i64) -> Result<()> {
        for ra in &s.role_assignments {
            let p = s.principal(&ra.principal)?;
            let role = self
                .role(&ra.role)
                .ok_or_else(|| anyhow!("role_assignments: unknown role '{}'", ra.role))?
                .id
                .clone();
            let scope = s.scope(&ra.scope)?;
            let name = match &ra.name {
                Some(n) if is_guid(n) => n.to_ascii_lowercase(),
                Some(n) => bail!("role_assignments: name '{n}' is not a GUID"),
                None => stable_guid(&format!("{}|{}|{}", p.object_id, role, scope)),
            };
            self.assignments.push(Assignment {
                name,
                principal_id: p.object_id.to_ascii_lowercase(),
                principal_type: principal_type(p.kind),
                role_id: role,
                scope,
                created_on: started_unix - ra.age_seconds as i64,
                age_seconds: ra.age_seconds,
                condition: ra.condition.clone(),
                description: ra.description.clone(),
                created_at: None,
            });
        }
        Ok(())
    }

    /// The scenario's deny assignments ("everyone" stands for every principal).
    fn add_denies(&mut self, s: &Scenario) -> Result<()> {
        for d in &s.deny_assignments {
            let oids = |handles: &[String]| -> Result<Vec<String>> {
                handles
                    .iter()
                    .filter(|h| h.as_str() != "everyone")
                    .map(|h| s.principal(h).map(|p| p.object_id.to_ascii_lowercase()))
                    .collect()
            };
            self.denies.push(Deny {
                id: d.id.to_ascii_lowercase(),
                name: d.name.clone(),
                description: d.description.clone(),
                principals: if d.principals.iter().any(|p| p == "everyone") {
                    None
                } else {
                    Some(oids(&d.principals)?)
                },
                excluded: oids(&d.exclude_principals)?,
                permission: Permission {
                    actions: d.actions.clone(),
                    not_actions: d.not_actions.clone(),
                    data_actions: d.data_actions.clone(),
                    not_data_actions: d.not_data_actions.clone(),
                    condition: None,
                    condition_version: None,
                },
                scope: s.scope(&d.scope)?,
            });
        }
        Ok(())
    }

    /// A role by GUID, name or alias (case-insensitive).
    pub fn role(&self, key: &str) -> Option<&RoleDefinition> {
        let key = key.trim();
        let guid = key.rsplit('/').next().unwrap_or(key);
        self.roles.iter().find(|r| {
            r.id.eq_ignore_ascii_case(guid)
                || r.name.eq_ignore_ascii_case(key)
                || r.aliases.iter().any(|a| a.eq_ignore_ascii_case(key))
        })
    }

    pub fn is_group(&self, oid: &str) -> bool {
        self.groups.contains_key(&oid.to_ascii_lowercase())
    }

    /// The principal itself plus every group it is in, transitively.
    pub fn identities_of(&self, oid: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![oid.to_ascii_lowercase()];
        while let Some(id) = todo.pop() {
            if out.insert(id.clone()) {
                for (g, members) in &self.groups {
                    if members.contains(&id) {
                        todo.push(g.clone());
                    }
                }
            }
        }
        out
    }

    /// Assignments that apply to `oid` (directly or through groups) at `scope` or above.
    pub fn applicable<'a>(&'a self, oid: &str, scope: &'a str) -> impl Iterator<Item = &'a Assignment> + 'a {
        let ids = self.identities_of(oid);
        self.assignments
            .iter()
            .filter(move |a| ids.contains(&a.principal_id) && scope_covers(&a.scope, scope))
    }

    fn denied(&self, oid: &str, scope: &str, action: &str, data: bool) -> bool {
        let ids = self.identities_of(oid);
        self.denies.iter().any(|d| {
            scope_covers(&d.scope, scope)
                && d.principals
                    .as_ref()
                    .is_none_or(|ps| ps.iter().any(|p| ids.contains(p)))
                && !d.excluded.iter().any(|p| ids.contains(p))
                && permits(&d.permission, action, data)
        })
    }

    fn allowed(
        &self,
        oid: &str,
        scope: &str,
        action: &str,
        data: bool,
        effective: &dyn Fn(&Assignment) -> bool,
    ) -> bool {
        let granted = self
            .applicable(oid, scope)
            .filter(|a| effective(a))
            .filter_map(|a| self.role(&a.role_id))
            .any(|r| r.permissions.iter().any(|p| permits(p, action, data)));
        granted && !self.denied(oid, scope, action, data)
    }

    /// Control-plane action (ARM). ARM sees new assignments at once.
    pub fn action_allowed(&self, oid: &str, scope: &str, action: &str) -> bool {
        self.allowed(oid, scope, action, false, &|_| true)
    }

    /// Data action, counting only assignments `effective` says have propagated.
    pub fn data_action_allowed(
        &self,
        oid: &str,
        scope: &str,
        action: &str,
        effective: &dyn Fn(&Assignment) -> bool,
    ) -> bool {
        self.allowed(oid, scope, action, true, effective)
    }

    /// Whether `oid` holds any assignment at, above or below `scope` (how ARM decides which
    /// subscriptions and resources a caller may see at all).
    pub fn has_any_access(&self, oid: &str, scope: &str) -> bool {
        let ids = self.identities_of(oid);
        self.assignments
            .iter()
            .any(|a| ids.contains(&a.principal_id) && (scope_covers(&a.scope, scope) || scope_covers(scope, &a.scope)))
    }
}

fn principal_type(k: PrincipalKind) -> &'static str {
    match k {
        PrincipalKind::User => "User",
        PrincipalKind::Group => "Group",
        PrincipalKind::ServicePrincipal | PrincipalKind::ManagedIdentity => "ServicePrincipal",
    }
}

/// One permission block grants `action` (data or control plane).
pub fn permits(p: &Permission, action: &str, data: bool) -> bool {
    let (allow, deny) = if data {
        (&p.data_actions, &p.not_data_actions)
    } else {
        (&p.actions, &p.not_actions)
    };
    allow.iter().any(|pat| matches(pat, action)) && !deny.iter().any(|pat| matches(pat, action))
}

/// Case-insensitive glob where `*` matches any run of characters (including `/`).
pub fn matches(pattern: &str, action: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let a: Vec<char> = action.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ai, mut star, mut mark) = (0, 0, None, 0);
    while ai < a.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ai;
            pi += 1;
        } else if pi < p.len() && p[pi] == a[ai] {
            pi += 1;
            ai += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ai = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `outer` is `inner` or one of its ancestors (ARM scopes are case-insensitive paths).
pub fn scope_covers(outer: &str, inner: &str) -> bool {
    let o = outer.trim_end_matches('/').to_ascii_lowercase();
    let i = inner.trim_end_matches('/').to_ascii_lowercase();
    o.is_empty() || i == o || i.starts_with(&format!("{o}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT: &str = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action";

    #[test]
    fn glob_matching() {
        assert!(matches("Microsoft.CognitiveServices/*", CHAT));
        assert!(matches("microsoft.cognitiveservices/accounts/openai/*", CHAT));
        assert!(matches("*", CHAT));
        assert!(matches(
            "Microsoft.CognitiveServices/accounts/OpenAI/*/read",
            "Microsoft.CognitiveServices/accounts/OpenAI/models/read"
        ));
        assert!(!matches("Microsoft.CognitiveServices/accounts/OpenAI/*/read", CHAT));
        assert!(!matches("Microsoft.Storage/*", CHAT));
    }

    #[test]
    fn scopes() {
        assert!(scope_covers("/subscriptions/a", "/subscriptions/A/resourceGroups/x"));
        assert!(!scope_covers(
            "/subscriptions/a/resourceGroups/x",
            "/subscriptions/a/resourceGroups/xy"
        ));
        assert!(scope_covers("/", "/subscriptions/a"));
    }

    #[test]
    fn builtin_roles_grant_what_the_docs_say() {
        let roles = builtin_roles().unwrap();
        let by = |n: &str| roles.iter().find(|r| r.name == n).unwrap();
        let grants = |r: &RoleDefinition, a: &str| r.permissions.iter().any(|p| permits(p, a, true));
        assert!(grants(by("Cognitive Services OpenAI User"), CHAT));
        assert!(!grants(
            by("Cognitive Services OpenAI User"),
            "Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read"
        ));
        for r in ["Owner", "Contributor", "Reader", "Cognitive Services Contributor"] {
            assert!(!grants(by(r), CHAT), "{r}");
        }
        assert!(grants(by("Foundry User"), CHAT));
    }

    #[test]
    fn foundry_roles_by_guid_with_their_2026_names() {
        let s = crate::scenario::scenario("healthy-cli").unwrap();
        let rbac = Rbac::build(&s, 0).unwrap();
        let grants = |role: &str, a: &str| {
            let r = rbac.role(role).unwrap_or_else(|| panic!("{role}"));
            r.permissions.iter().any(|p| permits(p, a, true))
        };
        let ai = |leaf: &str| format!("Microsoft.CognitiveServices/accounts/{leaf}");
        // Old names still resolve to the same GUID.
        assert_eq!(rbac.role("Azure AI User").unwrap().name, "Foundry User");
        assert_eq!(
            rbac.role("53ca6127-db72-4b80-b1b0-d745d6d5456d").unwrap().name,
            "Foundry User"
        );
        assert_eq!(
            rbac.role("Azure AI Account Owner").unwrap().name,
            "Foundry Account Owner"
        );
        assert_eq!(
            rbac.role("c883944f-8b7b-4483-af10-35834be79c4a").unwrap().name,
            "Foundry Owner"
        );
        let (responses, agents, maas) = (
            ai("OpenAI/responses/write"),
            ai("AIServices/agents/write"),
            ai("MaaS/chat/completions/action"),
        );
        assert!(grants("Cognitive Services OpenAI User", &responses));
        for role in [
            "Cognitive Services OpenAI User",
            "Azure AI Developer",
            "Foundry Account Owner",
        ] {
            assert!(!grants(role, &agents), "{role}");
        }
        assert!(!grants("Cognitive Services OpenAI User", &maas));
        assert!(grants("Azure AI Developer", &maas));
        for role in [
            "Foundry User",
            "Foundry Owner",
            "Foundry Project Manager",
            "Cognitive Services User",
        ] {
            assert!(
                grants(role, &agents) && grants(role, &maas) && grants(role, CHAT),
                "{role}"
            );
            assert!(
                !grants(
                    role,
                    &ai("AIServices/agents/endpoints/UserIdentityImpersonation/action")
                ),
                "{role}"
            );
        }
        assert!(!grants("Foundry Account Owner", CHAT));
    }

    #[test]
    fn group_membership_and_deny() {
        let s = crate::scenario::scenario("role-via-group").unwrap();
        let rbac = Rbac::build(&s, 1_000_000).unwrap();
        let alice = &s.principals["alice"].object_id;
        assert!(rbac.data_action_allowed(alice, &s.account_id(), CHAT, &|_| true));
        let s = crate::scenario::scenario("deny-assignment").unwrap();
        let rbac = Rbac::build(&s, 1_000_000).unwrap();
        assert!(!rbac.data_action_allowed(alice, &s.account_id(), CHAT, &|_| true));
        let s = crate::scenario::scenario("custom-role-not-data-actions").unwrap();
        let rbac = Rbac::build(&s, 1_000_000).unwrap();
        assert!(!rbac.data_action_allowed(alice, &s.account_id(), CHAT, &|_| true));
        assert!(rbac.data_action_allowed(
            alice,
            &s.account_id(),
            "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action",
            &|_| true
        ));
    }

    #[test]
    fn every_scenario_builds_its_rbac() {
        for s in crate::scenario::scenarios() {
            Rbac::build(&s, 0).unwrap_or_else(|e| panic!("{}: {e:#}", s.name));
        }
    }
}
