//! Azure RBAC judged without I/O: does a set of role assignments (with their role
//! definitions), minus deny assignments, grant the data action a call needs on a resource?
//!
//! Semantics (Azure RBAC docs; corpus builtin-roles.json `matching_semantics`):
//! - a permission block grants an action when one of its `dataActions` matches it and none of
//!   the *same block's* `notDataActions` does; a role grants it when any block does;
//! - `*` matches any run of characters (including `/`); matching is case-insensitive;
//! - an assignment applies at its scope and every scope below it (never above);
//! - access is the union over applicable assignments (direct and through groups), minus deny
//!   assignments (which win over any grant);
//! - roles are matched by GUID, never by name (names change: "Azure AI User" became
//!   "Foundry User" with the same GUID).

use crate::context::ProbeKind;
use crate::facts::RoleVerdict;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

// The data actions themselves live in `data_actions.rs` (the one table).
pub use super::data_actions::{
    OPENAI_CHAT as CHAT_COMPLETIONS_ACTION, OPENAI_EMBEDDINGS as EMBEDDINGS_ACTION,
    OPENAI_MODELS_READ as MODELS_READ_ACTION,
};
/// What listing role assignments needs.
pub const ROLE_ASSIGNMENTS_READ: &str = "Microsoft.Authorization/roleAssignments/read";
/// The principal id deny assignments use for "everyone".
pub const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

/// How long a new assignment may take to reach the data plane (Azure documents up to 10
/// minutes), and longer when it reaches the principal through a group.
pub const PROPAGATION_WINDOW_SECS: i64 = 10 * 60;
pub const GROUP_PROPAGATION_WINDOW_SECS: i64 = 30 * 60;

/// The data action the probe's call needs on the classic surface (the full table, by surface
/// and model format, is [`super::data_actions::required_data_actions`]).
pub fn data_action_for(probe: ProbeKind) -> &'static str {
    use super::data_actions::{Call, required_data_actions};
    required_data_actions(&crate::surface::Surface::ResourceRoot, Call::of_probe(probe), None).primary()
}

/// Built-in role GUIDs the doctor names in its advice.
pub mod roles {
    pub const OPENAI_USER: &str = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd";
    pub const OPENAI_CONTRIBUTOR: &str = "a001fd3d-188f-4b5d-821b-7da978bf7442";
    pub const COGNITIVE_SERVICES_USER: &str = "a97b65f3-24c7-4388-baec-2e87135dc908";
    pub const COGNITIVE_SERVICES_CONTRIBUTOR: &str = "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68";
    /// Foundry User, formerly Azure AI User (same GUID).
    pub const AZURE_AI_USER: &str = "53ca6127-db72-4b80-b1b0-d745d6d5456d";
    pub const FOUNDRY_USER: &str = AZURE_AI_USER;
    /// Foundry Account Owner, formerly Azure AI Account Owner: management only, no data actions.
    pub const FOUNDRY_ACCOUNT_OWNER: &str = "e47c6f54-e4a2-4754-9501-8e0985b135e1";
    /// Foundry Owner, formerly Azure AI Owner.
    pub const FOUNDRY_OWNER: &str = "c883944f-8b7b-4483-af10-35834be79c4a";
    /// Foundry Project Manager, formerly Azure AI Project Manager.
    pub const FOUNDRY_PROJECT_MANAGER: &str = "eadc314b-1a2d-4efa-be10-5d325db5065e";
    pub const AZURE_AI_DEVELOPER: &str = "64702f94-c441-49e6-a78b-ef80e0188fee";
    pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
    pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
    pub const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
    pub const RBAC_ADMINISTRATOR: &str = "f58310d9-a9f6-439a-9e8d-f62e7b41a168";
    pub const USER_ACCESS_ADMINISTRATOR: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
    /// The display names of the roles the doctor recommends.
    pub const OPENAI_USER_NAME: &str = "Cognitive Services OpenAI User";
    pub const AZURE_AI_USER_NAME: &str = "Azure AI User";
}

/// One permission block of a role definition (or of a deny assignment, or of the caller's
/// effective permissions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_version: Option<String>,
}

impl Permission {
    /// This block grants the data action.
    pub fn grants_data(&self, action: &str) -> bool {
        self.matching_data_action(action).is_some() && self.excluding_data_action(action).is_none()
    }
    /// This block grants the control-plane action.
    pub fn grants_action(&self, action: &str) -> bool {
        self.actions.iter().any(|p| pattern_matches(p, action))
            && !self.not_actions.iter().any(|p| pattern_matches(p, action))
    }
    /// The `dataActions` pattern that matches the action, if any.
    pub fn matching_data_action(&self, action: &str) -> Option<&str> {
        self.data_actions
            .iter()
            .find(|p| pattern_matches(p, action))
            .map(String::as_str)
    }
    /// The `notDataActions` pattern that removes the action, if any.
    pub fn excluding_data_action(&self, action: &str) -> Option<&str> {
        self.not_data_actions
            .iter()
            .find(|p| pattern_matches(p, action))
            .map(String::as_str)
    }
}

/// Some block grants the data action.
pub fn grants_data(blocks: &[Permission], action: &str) -> bool {
    blocks.iter().any(|b| b.grants_data(action))
}

/// Some block grants the control-plane action.
pub fn grants_action(blocks: &[Permission], action: &str) -> bool {
    blocks.iter().any(|b| b.grants_action(action))
}

/// Case-insensitive match of an RBAC action pattern, where `*` matches any run of characters
/// (including none and including `/`). Linear-time, never panics, whatever the input.
pub fn pattern_matches(pattern: &str, action: &str) -> bool {
    let p: Vec<char> = pattern.trim().chars().flat_map(char::to_lowercase).collect();
    let a: Vec<char> = action.trim().chars().flat_map(char::to_lowercase).collect();
    let (mut pi, mut ai) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ai < a.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ai));
            pi += 1;
        } else if pi < p.len() && p[pi] == a[ai] {
            pi += 1;
            ai += 1;
        } else if let Some((sp, sa)) = star {
            pi = sp + 1;
            ai = sa + 1;
            star = Some((sp, sa + 1));
        } else {
            return false;
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// `outer` is `inner` or one of its ancestors (ARM ids are case-insensitive paths; `/` is the
/// root of everything).
pub fn scope_covers(outer: &str, inner: &str) -> bool {
    let o = outer.trim().trim_end_matches('/').to_ascii_lowercase();
    let i = inner.trim().trim_end_matches('/').to_ascii_lowercase();
    o.is_empty() || i == o || i.starts_with(&format!("{o}/"))
}

/// The GUID at the end of a role definition id (`/subscriptions/…/roleDefinitions/{guid}`),
/// lowercased.
pub fn role_guid(role_definition_id: &str) -> String {
    role_definition_id
        .trim()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Looks like an Entra object id / client id.
pub fn is_guid(s: &str) -> bool {
    let s = s.trim();
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// A role definition as the judge needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleDef {
    /// GUID, lowercased.
    pub id: String,
    pub name: String,
    pub builtin: bool,
    pub permissions: Vec<Permission>,
    /// Where it came from: `arm` (fetched live) or `offline` (the bundled built-in copy).
    pub source: &'static str,
}

impl RoleDef {
    pub fn grants_data(&self, action: &str) -> bool {
        grants_data(&self.permissions, action)
    }
    /// No data action at all: a management (control-plane) role such as Owner or Reader.
    pub fn control_plane_only(&self) -> bool {
        self.permissions.iter().all(|p| p.data_actions.is_empty())
    }
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
    /// Former names (the 2025–2026 "Azure AI …" → "Foundry …" rename), newest first.
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    permissions: Vec<Permission>,
}

/// The bundled built-ins with their former names.
static BUILTIN: LazyLock<Vec<(RoleDef, Option<String>)>> = LazyLock::new(|| {
    let text = include_str!("../../../fixtures/roles/builtin-roles.json");
    serde_json::from_str::<BuiltinFile>(text)
        .map(|f| {
            f.roles
                .into_iter()
                .chain(f.related_roles)
                .map(|r| {
                    let def = RoleDef {
                        id: r.name.to_ascii_lowercase(),
                        name: r.role_name,
                        builtin: true,
                        permissions: r.permissions,
                        source: "offline",
                    };
                    (def, r.aliases.into_iter().next())
                })
                .collect()
        })
        .unwrap_or_default()
});

/// A built-in role's 2026 name and its former name, by GUID (names change, GUIDs do not).
pub fn builtin_names(guid: &str) -> Option<(String, Option<String>)> {
    let guid = role_guid(guid);
    BUILTIN
        .iter()
        .find(|(r, _)| r.id == guid)
        .map(|(r, former)| (r.name.clone(), former.clone()))
}

/// "Foundry User (formerly Azure AI User)" for a renamed built-in; its name otherwise.
pub fn builtin_display_name(guid: &str) -> Option<String> {
    builtin_names(guid).map(|(name, former)| match former {
        Some(old) => format!("{name} (formerly {old})"),
        None => name,
    })
}

/// The bundled copy of a built-in role (fixtures/roles/builtin-roles.json): only a fallback
/// when the live definition cannot be read.
pub fn builtin_role(guid: &str) -> Option<RoleDef> {
    let guid = role_guid(guid);
    BUILTIN.iter().find(|(r, _)| r.id == guid).map(|(r, _)| r.clone())
}

/// The name of a well-known built-in role, for messages.
pub fn builtin_name(guid: &str) -> Option<String> {
    builtin_role(guid).map(|r| r.name).or_else(|| {
        let g = role_guid(guid);
        [
            (roles::RBAC_ADMINISTRATOR, "Role Based Access Control Administrator"),
            (roles::USER_ACCESS_ADMINISTRATOR, "User Access Administrator"),
        ]
        .iter()
        .find(|(id, _)| *id == g)
        .map(|(_, n)| n.to_string())
    })
}

/// One role assignment with what is known about its role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssignedRole {
    /// The assignment's ARM id.
    pub id: String,
    pub scope: String,
    pub principal_id: String,
    /// `User`, `Group`, `ServicePrincipal`, `ForeignGroup`, when ARM said.
    pub principal_type: Option<String>,
    /// The role definition's GUID (lowercased).
    pub role_id: String,
    /// `None` when the definition could not be read live nor found offline.
    pub role: Option<RoleDef>,
    pub condition: Option<String>,
    /// Unix seconds.
    pub created_on: Option<i64>,
}

impl AssignedRole {
    /// The role's name: a built-in's 2026 name by GUID (whatever name ARM sent: a cloud may
    /// still call Foundry User "Azure AI User"), else the definition's name, else the GUID.
    pub fn role_name(&self) -> String {
        builtin_names(&self.role_id)
            .map(|(name, _)| name)
            .filter(|_| self.role.as_ref().is_none_or(|r| r.builtin))
            .or_else(|| self.role.as_ref().map(|r| r.name.clone()))
            .or_else(|| builtin_name(&self.role_id))
            .unwrap_or_else(|| self.role_id.clone())
    }
    /// [`Self::role_name`] with a renamed built-in's former name: "Foundry User (formerly
    /// Azure AI User)".
    pub fn display_name(&self) -> String {
        match builtin_names(&self.role_id) {
            Some((_, Some(old))) if self.role.as_ref().is_none_or(|r| r.builtin) => {
                format!("{} (formerly {old})", self.role_name())
            }
            _ => self.role_name(),
        }
    }
    pub fn via_group(&self, principal_id: &str) -> bool {
        !self.principal_id.eq_ignore_ascii_case(principal_id)
            || self
                .principal_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("group"))
    }
    /// How this assignment's role reads against the action.
    pub fn reading(&self, action: &str) -> RoleReading {
        let Some(role) = &self.role else {
            return RoleReading::DefinitionUnknown;
        };
        if role.grants_data(action) {
            return RoleReading::Grants;
        }
        if role.control_plane_only() {
            return RoleReading::ControlPlaneOnly;
        }
        for p in &role.permissions {
            if let (Some(allow), Some(deny)) = (p.matching_data_action(action), p.excluding_data_action(action)) {
                return RoleReading::Excluded {
                    allowed_by: allow.to_string(),
                    removed_by: deny.to_string(),
                };
            }
        }
        RoleReading::OtherDataActions {
            data_actions: role
                .permissions
                .iter()
                .flat_map(|p| p.data_actions.iter().cloned())
                .take(6)
                .collect(),
        }
    }
}

/// What one assigned role says about the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reading", rename_all = "kebab-case")]
pub enum RoleReading {
    Grants,
    /// No data actions at all (Owner, Contributor, Reader, Cognitive Services Contributor…).
    ControlPlaneOnly,
    /// A `dataActions` pattern matches, but the same block's `notDataActions` removes it.
    Excluded {
        allowed_by: String,
        removed_by: String,
    },
    /// Data actions for something else.
    OtherDataActions {
        data_actions: Vec<String>,
    },
    DefinitionUnknown,
}

/// A deny assignment as the judge needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DenyRule {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub permissions: Vec<Permission>,
    /// Principal ids it applies to ([`EVERYONE`] for everyone).
    pub principals: Vec<String>,
    pub excluded: Vec<String>,
    pub do_not_apply_to_child_scopes: bool,
}

impl DenyRule {
    /// Applies to one of `identities` (the principal and its known groups) on `resource`.
    pub fn applies(&self, identities: &[String], resource: &str) -> bool {
        let in_scope = if self.do_not_apply_to_child_scopes {
            self.scope
                .trim_end_matches('/')
                .eq_ignore_ascii_case(resource.trim_end_matches('/'))
        } else {
            scope_covers(&self.scope, resource)
        };
        let has = |list: &[String]| {
            list.iter()
                .any(|p| identities.iter().any(|i| i.eq_ignore_ascii_case(p)))
        };
        in_scope && (self.principals.iter().any(|p| p == EVERYONE) || has(&self.principals)) && !has(&self.excluded)
    }
    pub fn denies_data(&self, action: &str) -> bool {
        grants_data(&self.permissions, action)
    }
}

/// The judgement on RBAC for one principal, resource and data action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub verdict: RoleVerdict,
    /// Indices (into the assignments) of those whose role grants the action at the resource.
    pub granting: Vec<usize>,
    /// Indices of applicable assignments whose role does not grant it.
    pub near_misses: Vec<usize>,
    /// Indices of granting assignments that carry an ABAC condition (on the assignment or in
    /// the granting block); conditions are not evaluated.
    pub conditional: Vec<usize>,
    /// Indices (into the deny rules) of deny assignments that block the action.
    pub denied_by: Vec<usize>,
    /// Age of the youngest granting assignment.
    pub newest_grant_age_secs: Option<i64>,
    /// Age of the oldest granting assignment (the one that becomes effective first).
    pub oldest_grant_age_secs: Option<i64>,
    /// Applicable assignments whose role definition is unknown.
    pub unknown_definitions: Vec<usize>,
}

/// Judges assignments (already listed for the principal at the resource, inherited and via
/// groups) and deny assignments against `action`. `principal_id` is the principal itself;
/// group ids it belongs to are learned from the assignments' principals.
pub fn evaluate(
    assignments: &[AssignedRole],
    denies: &[DenyRule],
    principal_id: &str,
    resource: &str,
    action: &str,
    now: i64,
) -> Evaluation {
    let applicable: Vec<usize> = (0..assignments.len())
        .filter(|i| scope_covers(&assignments[*i].scope, resource))
        .collect();
    let mut granting = vec![];
    let mut near_misses = vec![];
    let mut unknown_definitions = vec![];
    let mut conditional = vec![];
    for &i in &applicable {
        let a = &assignments[i];
        match a.reading(action) {
            RoleReading::Grants => {
                granting.push(i);
                let block_condition = a.role.as_ref().is_some_and(|r| {
                    r.permissions
                        .iter()
                        .any(|p| p.grants_data(action) && p.condition.is_some())
                });
                if a.condition.as_deref().is_some_and(|c| !c.trim().is_empty()) || block_condition {
                    conditional.push(i);
                }
            }
            RoleReading::DefinitionUnknown => unknown_definitions.push(i),
            _ => near_misses.push(i),
        }
    }
    let mut identities = vec![principal_id.to_ascii_lowercase()];
    for &i in &applicable {
        let p = assignments[i].principal_id.to_ascii_lowercase();
        if !identities.contains(&p) {
            identities.push(p);
        }
    }
    let denied_by: Vec<usize> = (0..denies.len())
        .filter(|d| denies[*d].applies(&identities, resource) && denies[*d].denies_data(action))
        .collect();

    let age = |i: &usize| assignments[*i].created_on.map(|c| (now - c).max(0));
    let newest = granting.iter().filter_map(age).min();
    let oldest = granting.iter().filter_map(age).max();
    let effective = |i: &usize| {
        let a = &assignments[*i];
        let window = if a.via_group(principal_id) {
            GROUP_PROPAGATION_WINDOW_SECS
        } else {
            PROPAGATION_WINDOW_SECS
        };
        // An assignment without a creation time is taken as old: ARM omits it only on old ones.
        age(i).is_none_or(|x| x >= window)
    };
    let verdict = if !denied_by.is_empty() {
        RoleVerdict::Missing
    } else if granting.is_empty() {
        if unknown_definitions.is_empty() {
            RoleVerdict::Missing
        } else {
            RoleVerdict::Unknown
        }
    } else if granting.iter().all(|i| conditional.contains(i)) {
        RoleVerdict::Unknown
    } else if granting.iter().filter(|i| !conditional.contains(i)).any(effective) {
        RoleVerdict::Granted
    } else {
        RoleVerdict::Propagating
    };
    Evaluation {
        verdict,
        granting,
        near_misses,
        conditional,
        denied_by,
        newest_grant_age_secs: newest,
        oldest_grant_age_secs: oldest,
        unknown_definitions,
    }
}

/// Assignments found elsewhere (another account, resource group or subscription) whose role
/// grants the action but whose scope does not cover the resource: the "right role, wrong
/// scope" near miss. Returns indices.
pub fn wrong_scope_grants(elsewhere: &[AssignedRole], resource: &str, action: &str) -> Vec<usize> {
    (0..elsewhere.len())
        .filter(|i| {
            let a = &elsewhere[*i];
            !scope_covers(&a.scope, resource) && a.reading(action) == RoleReading::Grants
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ACCOUNT: &str =
        "/subscriptions/s1/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai";
    const NOW: i64 = 1_767_225_600;

    fn block(data: &[&str], not: &[&str]) -> Permission {
        Permission {
            data_actions: data.iter().map(|s| s.to_string()).collect(),
            not_data_actions: not.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn assigned(role: &str, scope: &str, principal: &str, age: i64) -> AssignedRole {
        AssignedRole {
            id: format!("{scope}/providers/Microsoft.Authorization/roleAssignments/x"),
            scope: scope.into(),
            principal_id: principal.into(),
            principal_type: Some("User".into()),
            role_id: role.into(),
            role: builtin_role(role),
            condition: None,
            created_on: Some(NOW - age),
        }
    }

    #[test]
    fn wildcards() {
        let chat = CHAT_COMPLETIONS_ACTION;
        assert!(pattern_matches("*", chat));
        assert!(pattern_matches("Microsoft.CognitiveServices/*", chat));
        assert!(pattern_matches("Microsoft.CognitiveServices/accounts/OpenAI/*", chat));
        assert!(pattern_matches(
            "microsoft.cognitiveservices/ACCOUNTS/openai/deployments/CHAT/completions/action",
            chat
        ));
        assert!(pattern_matches("Microsoft.CognitiveServices/*/action", chat));
        assert!(pattern_matches(
            "Microsoft.CognitiveServices/accounts/OpenAI/*/read",
            MODELS_READ_ACTION
        ));
        assert!(!pattern_matches(
            "Microsoft.CognitiveServices/accounts/OpenAI/*/read",
            chat
        ));
        assert!(!pattern_matches("Microsoft.Storage/*", chat));
        assert!(!pattern_matches(
            "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat",
            chat
        ));
        assert!(!pattern_matches("", chat));
        assert!(pattern_matches("", ""));
        assert!(pattern_matches("**", ""));
        assert!(pattern_matches("a*b*c", "aXXbYYc"));
        assert!(!pattern_matches("a*b*c", "aXXbYY"));
        // A prefix is not a match without a wildcard.
        assert!(!pattern_matches("Microsoft.CognitiveServices", chat));
    }

    #[test]
    fn not_data_actions_remove_within_the_same_block_only() {
        let everything_but_chat = block(
            &["Microsoft.CognitiveServices/accounts/OpenAI/*"],
            &[CHAT_COMPLETIONS_ACTION],
        );
        assert!(!everything_but_chat.grants_data(CHAT_COMPLETIONS_ACTION));
        assert!(everything_but_chat.grants_data(EMBEDDINGS_ACTION));
        // Case does not matter for the exclusion either.
        let lower = block(&["*"], &[&CHAT_COMPLETIONS_ACTION.to_ascii_lowercase()]);
        assert!(!lower.grants_data(CHAT_COMPLETIONS_ACTION));
        // A second block granting the action wins: exclusions are per block.
        let blocks = vec![everything_but_chat.clone(), block(&[CHAT_COMPLETIONS_ACTION], &[])];
        assert!(grants_data(&blocks, CHAT_COMPLETIONS_ACTION));
        assert!(!grants_data(&[everything_but_chat], CHAT_COMPLETIONS_ACTION));
        assert!(!grants_data(&[], CHAT_COMPLETIONS_ACTION));
        // Control-plane actions never count as data actions.
        let owner = Permission {
            actions: vec!["*".into()],
            ..Default::default()
        };
        assert!(!owner.grants_data(CHAT_COMPLETIONS_ACTION));
        assert!(owner.grants_action(ROLE_ASSIGNMENTS_READ));
    }

    #[test]
    fn builtin_roles_by_guid() {
        for (guid, grants) in [
            (roles::OPENAI_USER, true),
            (roles::OPENAI_CONTRIBUTOR, true),
            (roles::COGNITIVE_SERVICES_USER, true),
            (roles::AZURE_AI_USER, true),
            (roles::OWNER, false),
            (roles::CONTRIBUTOR, false),
            (roles::READER, false),
            (roles::COGNITIVE_SERVICES_CONTRIBUTOR, false),
        ] {
            let r = builtin_role(guid).unwrap_or_else(|| panic!("{guid} bundled"));
            assert_eq!(r.grants_data(CHAT_COMPLETIONS_ACTION), grants, "{}", r.name);
            assert_eq!(r.control_plane_only(), !grants, "{}", r.name);
        }
        // OpenAI User cannot read stored completions (its notDataActions).
        let user = builtin_role(roles::OPENAI_USER).unwrap();
        assert!(!user.grants_data("Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read"));
        assert!(user.grants_data(EMBEDDINGS_ACTION) && user.grants_data(MODELS_READ_ACTION));
        assert_eq!(
            role_guid(
                "/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/5E0BD9BD-7b93-4f28-af87-19fc36ad61bd"
            ),
            roles::OPENAI_USER
        );
        assert!(
            builtin_role("/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-0000-0000-000000000001")
                .is_none()
        );
    }

    #[test]
    fn foundry_roles_by_guid_with_both_names() {
        for (guid, name, former, chat, agents) in [
            (roles::FOUNDRY_USER, "Foundry User", Some("Azure AI User"), true, true),
            (
                roles::FOUNDRY_ACCOUNT_OWNER,
                "Foundry Account Owner",
                Some("Azure AI Account Owner"),
                false,
                false,
            ),
            (
                roles::FOUNDRY_OWNER,
                "Foundry Owner",
                Some("Azure AI Owner"),
                true,
                true,
            ),
            (
                roles::FOUNDRY_PROJECT_MANAGER,
                "Foundry Project Manager",
                Some("Azure AI Project Manager"),
                true,
                true,
            ),
            (roles::AZURE_AI_DEVELOPER, "Azure AI Developer", None, true, false),
            (
                roles::COGNITIVE_SERVICES_USER,
                "Cognitive Services User",
                None,
                true,
                true,
            ),
            (roles::OPENAI_USER, "Cognitive Services OpenAI User", None, true, false),
            (
                roles::OPENAI_CONTRIBUTOR,
                "Cognitive Services OpenAI Contributor",
                None,
                true,
                false,
            ),
            (roles::OWNER, "Owner", None, false, false),
            (roles::CONTRIBUTOR, "Contributor", None, false, false),
            (roles::READER, "Reader", None, false, false),
        ] {
            let (n, f) = builtin_names(guid).unwrap_or_else(|| panic!("{guid} bundled"));
            assert_eq!((n.as_str(), f.as_deref()), (name, former), "{guid}");
            let r = builtin_role(guid).unwrap();
            assert_eq!(r.grants_data(CHAT_COMPLETIONS_ACTION), chat, "{name}");
            assert_eq!(
                r.grants_data("Microsoft.CognitiveServices/accounts/AIServices/agents/write"),
                agents,
                "{name}"
            );
        }
        assert!(builtin_role(roles::FOUNDRY_ACCOUNT_OWNER).unwrap().control_plane_only());
        assert_eq!(
            builtin_display_name(roles::AZURE_AI_USER).as_deref(),
            Some("Foundry User (formerly Azure AI User)")
        );
        // A live definition under the old name is still named by its GUID's 2026 name.
        let mut a = assigned(roles::AZURE_AI_USER, ACCOUNT, "a", 1);
        a.role.as_mut().unwrap().name = "Azure AI User".into();
        a.role.as_mut().unwrap().source = "arm";
        assert_eq!(a.role_name(), "Foundry User");
        assert_eq!(a.display_name(), "Foundry User (formerly Azure AI User)");
    }

    #[test]
    fn scopes_cover_downwards_only() {
        assert!(scope_covers("/subscriptions/S1", ACCOUNT));
        assert!(scope_covers("/subscriptions/s1/resourceGroups/RG-AI", ACCOUNT));
        assert!(scope_covers("/", ACCOUNT));
        assert!(scope_covers(ACCOUNT, &format!("{ACCOUNT}/")));
        assert!(!scope_covers(&format!("{ACCOUNT}/projects/p"), ACCOUNT));
        assert!(!scope_covers("/subscriptions/s1/resourceGroups/rg", ACCOUNT));
        assert!(!scope_covers(&format!("{ACCOUNT}-eus2"), ACCOUNT));
    }

    #[test]
    fn verdicts() {
        let alice = "a11ce000-0000-0000-0000-000000000001";
        let rg = "/subscriptions/s1/resourceGroups/rg-ai";
        // Inherited from the resource group, old: granted.
        let e = evaluate(
            &[assigned(roles::OPENAI_USER, rg, alice, 86400)],
            &[],
            alice,
            ACCOUNT,
            CHAT_COMPLETIONS_ACTION,
            NOW,
        );
        assert_eq!((e.verdict, e.granting.clone()), (RoleVerdict::Granted, vec![0]));
        // Owner of the subscription: missing, a near miss.
        let e = evaluate(
            &[assigned(roles::OWNER, "/subscriptions/s1", alice, 86400)],
            &[],
            alice,
            ACCOUNT,
            CHAT_COMPLETIONS_ACTION,
            NOW,
        );
        assert_eq!((e.verdict, e.near_misses.clone()), (RoleVerdict::Missing, vec![0]));
        // One minute old: propagating; with an old one beside it: granted.
        let young = assigned(roles::OPENAI_USER, ACCOUNT, alice, 60);
        let e = evaluate(
            std::slice::from_ref(&young),
            &[],
            alice,
            ACCOUNT,
            CHAT_COMPLETIONS_ACTION,
            NOW,
        );
        assert_eq!(
            (e.verdict, e.newest_grant_age_secs),
            (RoleVerdict::Propagating, Some(60))
        );
        let e = evaluate(
            &[young.clone(), assigned(roles::OPENAI_USER, rg, alice, 86400)],
            &[],
            alice,
            ACCOUNT,
            CHAT_COMPLETIONS_ACTION,
            NOW,
        );
        assert_eq!((e.verdict, e.newest_grant_age_secs), (RoleVerdict::Granted, Some(60)));
        // Through a group, 15 minutes is still inside the group window.
        let mut group = assigned(roles::OPENAI_USER, ACCOUNT, "9f000000-0000-0000-0000-00000000000g", 900);
        group.principal_type = Some("Group".into());
        assert_eq!(
            evaluate(&[group], &[], alice, ACCOUNT, CHAT_COMPLETIONS_ACTION, NOW).verdict,
            RoleVerdict::Propagating
        );
        // The right role on another account grants nothing here.
        let other = assigned(roles::OPENAI_USER, &format!("{ACCOUNT}-eus2"), alice, 86400);
        let e = evaluate(
            std::slice::from_ref(&other),
            &[],
            alice,
            ACCOUNT,
            CHAT_COMPLETIONS_ACTION,
            NOW,
        );
        assert_eq!(e.verdict, RoleVerdict::Missing);
        assert_eq!(wrong_scope_grants(&[other], ACCOUNT, CHAT_COMPLETIONS_ACTION), vec![0]);
        // An unknown definition is not "missing".
        let mut unknown = assigned(roles::OPENAI_USER, ACCOUNT, alice, 86400);
        unknown.role = None;
        assert_eq!(
            evaluate(&[unknown], &[], alice, ACCOUNT, CHAT_COMPLETIONS_ACTION, NOW).verdict,
            RoleVerdict::Unknown
        );
        // A condition on the only grant: cannot tell.
        let mut cond = assigned(roles::OPENAI_USER, ACCOUNT, alice, 86400);
        cond.condition = Some("@Resource[x] StringEquals 'y'".into());
        let e = evaluate(&[cond], &[], alice, ACCOUNT, CHAT_COMPLETIONS_ACTION, NOW);
        assert_eq!((e.verdict, e.conditional.clone()), (RoleVerdict::Unknown, vec![0]));
    }

    #[test]
    fn deny_assignments_win() {
        let alice = "a11ce000-0000-0000-0000-000000000001";
        let grant = [assigned(roles::OPENAI_USER, ACCOUNT, alice, 86400)];
        let deny = |principals: &[&str], excluded: &[&str]| DenyRule {
            id: "d".into(),
            name: "platform guardrail".into(),
            scope: "/subscriptions/s1/resourceGroups/rg-ai".into(),
            permissions: vec![block(&["Microsoft.CognitiveServices/accounts/OpenAI/*"], &[])],
            principals: principals.iter().map(|s| s.to_string()).collect(),
            excluded: excluded.iter().map(|s| s.to_string()).collect(),
            do_not_apply_to_child_scopes: false,
        };
        let e = evaluate(
            &grant,
            &[deny(&[EVERYONE], &[])],
            alice,
            ACCOUNT,
            CHAT_COMPLETIONS_ACTION,
            NOW,
        );
        assert_eq!((e.verdict, e.denied_by.clone()), (RoleVerdict::Missing, vec![0]));
        assert_eq!(
            evaluate(
                &grant,
                &[deny(&[EVERYONE], &[alice])],
                alice,
                ACCOUNT,
                CHAT_COMPLETIONS_ACTION,
                NOW
            )
            .verdict,
            RoleVerdict::Granted
        );
        assert_eq!(
            evaluate(
                &grant,
                &[deny(&["someone-else"], &[])],
                alice,
                ACCOUNT,
                CHAT_COMPLETIONS_ACTION,
                NOW
            )
            .verdict,
            RoleVerdict::Granted
        );
        let mut only_rg = deny(&[EVERYONE], &[]);
        only_rg.do_not_apply_to_child_scopes = true;
        assert_eq!(
            evaluate(&grant, &[only_rg], alice, ACCOUNT, CHAT_COMPLETIONS_ACTION, NOW).verdict,
            RoleVerdict::Granted
        );
    }

    #[test]
    fn readings_explain_near_misses() {
        let alice = "a";
        let mut custom = assigned(roles::OPENAI_USER, ACCOUNT, alice, 1);
        custom.role = Some(RoleDef {
            id: "c".into(),
            name: "AOAI Everything But Chat".into(),
            builtin: false,
            permissions: vec![block(
                &["Microsoft.CognitiveServices/accounts/OpenAI/*"],
                &[CHAT_COMPLETIONS_ACTION],
            )],
            source: "arm",
        });
        assert_eq!(
            custom.reading(CHAT_COMPLETIONS_ACTION),
            RoleReading::Excluded {
                allowed_by: "Microsoft.CognitiveServices/accounts/OpenAI/*".into(),
                removed_by: CHAT_COMPLETIONS_ACTION.into()
            }
        );
        assert_eq!(
            assigned(roles::READER, ACCOUNT, alice, 1).reading(CHAT_COMPLETIONS_ACTION),
            RoleReading::ControlPlaneOnly
        );
        assert_eq!(data_action_for(ProbeKind::Embeddings), EMBEDDINGS_ACTION);
        assert!(is_guid("5e0bd9bd-7b93-4f28-af87-19fc36ad61bd") && !is_guid("5e0bd9bd7b934f28af8719fc36ad61bd"));
    }

    proptest! {
        #[test]
        fn matching_never_panics(p in "\\PC{0,40}", a in "\\PC{0,60}") {
            let _ = pattern_matches(&p, &a);
            let _ = scope_covers(&p, &a);
            // Any text is its own pattern and its own scope.
            prop_assert!(pattern_matches(&p, &p), "{:?}", p);
            prop_assert!(scope_covers(&p, &p), "{:?}", p);
            let _ = role_guid(&p);
        }

        #[test]
        fn a_pattern_matches_itself_and_star_matches_all(a in "[A-Za-z./*]{0,40}") {
            prop_assert!(pattern_matches("*", &a));
            let literal = a.replace('*', "");
            prop_assert!(pattern_matches(&literal, &literal.to_ascii_uppercase()));
            let (pattern, longer) = (format!("{literal}*"), format!("{literal}/x"));
            prop_assert!(pattern_matches(&pattern, &longer));
        }

        #[test]
        fn wildcard_patterns_with_stars_match_what_they_cover(prefix in "[a-z/]{0,10}", mid in "[a-z/]{0,10}", suffix in "[a-z/]{0,10}") {
            let action = format!("{prefix}{mid}{suffix}");
            let pattern = format!("{prefix}*{suffix}");
            prop_assert!(pattern_matches(&pattern, &action));
        }
    }
}
