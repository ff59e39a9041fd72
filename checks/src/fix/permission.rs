//! May the caller create the planned assignment? From its effective permissions at the scope
//! (`GET {scope}/providers/Microsoft.Authorization/permissions`): some block must grant
//! `Microsoft.Authorization/roleAssignments/write` (its own notActions do not remove it —
//! Contributor's `Microsoft.Authorization/*/Write` does), and when that block carries a
//! condition — Foundry Account Owner and Foundry Project Manager limit which roles they may
//! assign with `@Request[…RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{…}` — the planned
//! role must be on its list. Deny assignments are not in this answer; the write itself
//! still reports them (403).

use crate::diagnose::rbac::Permission;
use serde::Serialize;

pub const ROLE_ASSIGNMENTS_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "access", rename_all = "kebab-case")]
pub enum WriteAccess {
    /// Some block grants the write with no condition, or one that allows this role.
    Allowed,
    /// No block grants the write (or every one that could removes it with notActions).
    NoWrite,
    /// The write is granted only under conditions that do not allow this role; `allowed`
    /// lists the role GUIDs they do allow.
    ConditionForbids { allowed: Vec<String> },
}

pub fn write_access(blocks: &[Permission], role_guid: &str) -> WriteAccess {
    let granting: Vec<&Permission> = blocks
        .iter()
        .filter(|b| b.grants_action(ROLE_ASSIGNMENTS_WRITE))
        .collect();
    if granting.is_empty() {
        return WriteAccess::NoWrite;
    }
    let mut allowed = Vec::new();
    for b in granting {
        match write_condition_roles(b.condition.as_deref()) {
            None => return WriteAccess::Allowed,
            Some(list) if list.iter().any(|g| g.eq_ignore_ascii_case(role_guid)) => return WriteAccess::Allowed,
            Some(list) => allowed.extend(list),
        }
    }
    allowed.sort();
    allowed.dedup();
    WriteAccess::ConditionForbids { allowed }
}

/// The role GUIDs a condition lets `roleAssignments/write` assign; `None` when the condition
/// does not limit writes (or there is none). A condition on writes the doctor cannot read
/// allows nothing (`Some(vec![])`): it is not guessed open.
pub fn write_condition_roles(condition: Option<&str>) -> Option<Vec<String>> {
    let c = condition.map(str::trim).filter(|c| !c.is_empty())?;
    let lower = c.to_ascii_lowercase();
    let at = lower.find("actionmatches{'microsoft.authorization/roleassignments/write'}")?;
    let after = &lower[at..];
    let Some(open) = after.find("guidequals{") else {
        return Some(vec![]);
    };
    let list = &after[open + "guidequals{".len()..];
    let Some(close) = list.find('}') else {
        return Some(vec![]);
    };
    Some(
        list[..close]
            .split(',')
            .map(|g| g.trim().to_string())
            .filter(|g| !g.is_empty())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::rbac::{builtin_role, roles};

    const FOUNDRY_USER: &str = "53ca6127-db72-4b80-b1b0-d745d6d5456d";

    fn block(actions: &[&str], not_actions: &[&str], condition: Option<&str>) -> Permission {
        Permission {
            actions: actions.iter().map(|s| s.to_string()).collect(),
            not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
            condition: condition.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn owner_may_and_contributor_may_not() {
        let owner = builtin_role(roles::OWNER).unwrap().permissions;
        assert_eq!(write_access(&owner, roles::OPENAI_USER), WriteAccess::Allowed);
        let contributor = builtin_role(roles::CONTRIBUTOR).unwrap().permissions;
        assert_eq!(write_access(&contributor, roles::OPENAI_USER), WriteAccess::NoWrite);
        assert_eq!(write_access(&[], roles::OPENAI_USER), WriteAccess::NoWrite);
    }

    #[test]
    fn a_guid_equals_condition_limits_the_roles() {
        let cond = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{53ca6127-db72-4b80-b1b0-d745d6d5456d})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{53ca6127-db72-4b80-b1b0-d745d6d5456d}))";
        let foundry_account_owner = [block(
            &[ROLE_ASSIGNMENTS_WRITE, "Microsoft.CognitiveServices/*"],
            &[],
            Some(cond),
        )];
        assert_eq!(write_access(&foundry_account_owner, FOUNDRY_USER), WriteAccess::Allowed);
        assert_eq!(
            write_access(&foundry_account_owner, roles::OPENAI_USER),
            WriteAccess::ConditionForbids {
                allowed: vec![FOUNDRY_USER.into()]
            }
        );
        // Another block without a condition lifts the limit.
        let both = [foundry_account_owner[0].clone(), block(&["*"], &[], None)];
        assert_eq!(write_access(&both, roles::OPENAI_USER), WriteAccess::Allowed);
        // A condition on writes the doctor cannot read allows nothing.
        let odd = [block(
            &["*"],
            &[],
            Some("ActionMatches{'Microsoft.Authorization/roleAssignments/write'} AND x"),
        )];
        assert_eq!(
            write_access(&odd, FOUNDRY_USER),
            WriteAccess::ConditionForbids { allowed: vec![] }
        );
    }
}
