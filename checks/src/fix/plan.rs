//! The one role assignment `fix` would create: the smallest built-in role that grants the data
//! action (the shared table in [`crate::diagnose::data_actions`]; Foundry User for a project
//! endpoint), for the token's principal or `--assignee`, at the narrowest scope — the account,
//! or the project — never the resource group or the subscription. Its name is derived from
//! scope, principal and role, so every run plans (and ARM stores) the same assignment.

use crate::diagnose::data_actions::{BuiltinDataRole, FOUNDRY_USER, SMALLEST_FIRST, smallest_role_for};
use serde::Serialize;

/// Whose assignment it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalChoice {
    /// Object id (lowercase).
    pub object_id: String,
    /// `User`, `ServicePrincipal` or `Group`.
    pub principal_type: String,
    /// The token's own principal (then the live call tests it).
    pub is_caller: bool,
    /// UPN, app id or managed-identity resource id, when known.
    pub display: Option<String>,
}

/// Why no assignment can be planned (nothing is guessed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    NoAccount,
    NoPrincipal(String),
    NoRole(String),
}

impl PlanError {
    pub fn describe(&self) -> String {
        match self {
            PlanError::NoAccount => {
                "the account's resource id is unknown (the role check did not find it); pass --resource-id".into()
            }
            PlanError::NoPrincipal(why) => why.clone(),
            PlanError::NoRole(action) => {
                format!("no built-in data role in the doctor's table grants {action}; fix does not guess a role")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub principal_id: String,
    pub principal_type: String,
    pub principal_is_caller: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_display: Option<String>,
    /// The role's 2026 name (and former name).
    pub role: String,
    pub role_definition_guid: String,
    pub role_definition_id: String,
    /// Why this role: what it grants (and, for Foundry User, what else).
    pub role_reason: String,
    pub data_action: String,
    pub scope: String,
    pub assignment_name: String,
    pub assignment_id: String,
    pub description: String,
}

/// Where the app's calls go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Surface<'a> {
    /// The Foundry project the endpoint names, if any: then Foundry User.
    pub project: Option<&'a str>,
    /// The doctor's live call goes to that project (so an assignment on the project alone
    /// can be verified); otherwise the account is the scope, which covers its projects.
    pub live_call_on_project: bool,
}

/// Plans the assignment.
pub fn plan(
    resource_id: Option<&str>,
    data_action: &str,
    surface: Surface,
    principal: Result<PrincipalChoice, String>,
) -> Result<Plan, PlanError> {
    let project = surface.project;
    let account = resource_id
        .map(|r| r.trim().trim_end_matches('/'))
        .filter(|r| {
            r.to_ascii_lowercase()
                .contains("/providers/microsoft.cognitiveservices/accounts/")
        })
        .ok_or(PlanError::NoAccount)?;
    // The role check names the project's id when the endpoint is a project: the account is
    // its parent.
    let account = match account.to_ascii_lowercase().find("/projects/") {
        Some(i) => &account[..i],
        None => account,
    };
    let subscription = subscription_of(account).ok_or(PlanError::NoAccount)?;
    let principal = principal.map_err(PlanError::NoPrincipal)?;
    let role: &'static BuiltinDataRole = match project {
        Some(_) => &FOUNDRY_USER,
        None => smallest_role_for(data_action).ok_or_else(|| PlanError::NoRole(data_action.to_string()))?,
    };
    // The table is the only source of roles: never Owner, Contributor or anything bigger.
    debug_assert!(SMALLEST_FIRST.iter().any(|r| r.guid == role.guid));
    let scope = match project {
        Some(p) if surface.live_call_on_project => format!("{account}/projects/{p}"),
        _ => account.to_string(),
    };
    let name = assignment_name(&scope, &principal.object_id, role.guid);
    Ok(Plan {
        principal_id: principal.object_id,
        principal_type: principal.principal_type,
        principal_is_caller: principal.is_caller,
        principal_display: principal.display,
        role: role.display_name(),
        role_definition_guid: role.guid.to_string(),
        role_definition_id: format!(
            "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{}",
            role.guid
        ),
        role_reason: format!("{} {}", role.name, role.why),
        data_action: data_action.to_string(),
        assignment_id: format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
        scope,
        assignment_name: name,
        description: "Created by aoai-doctor fix: the data-plane role the app needs for keyless calls".into(),
    })
}

/// `/subscriptions/{id}/…` → `{id}`.
fn subscription_of(resource_id: &str) -> Option<String> {
    let mut segs = resource_id.split('/').filter(|s| !s.is_empty());
    match (segs.next(), segs.next()) {
        (Some(s), Some(id)) if s.eq_ignore_ascii_case("subscriptions") => Some(id.to_string()),
        _ => None,
    }
}

/// A GUID from SHA-256 over scope, principal and role (case-insensitive), shaped as an
/// RFC 9562 version-8 (custom) UUID: the same three always give the same name, so a re-run
/// — even while the first assignment propagates — never creates a second assignment.
pub fn assignment_name(scope: &str, principal_id: &str, role_guid: &str) -> String {
    let seed = format!(
        "aoai-doctor fix|{}|{}|{}",
        scope.trim_end_matches('/').to_ascii_lowercase(),
        principal_id.to_ascii_lowercase(),
        role_guid.to_ascii_lowercase()
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl Plan {
    fn account_name(&self) -> &str {
        let lower = self.scope.to_ascii_lowercase();
        let at = lower.find("/accounts/").map(|i| i + "/accounts/".len()).unwrap_or(0);
        self.scope[at..].split('/').next().unwrap_or_default()
    }
    fn project_name(&self) -> Option<&str> {
        let lower = self.scope.to_ascii_lowercase();
        lower.find("/projects/").map(|i| &self.scope[i + "/projects/".len()..])
    }

    /// What an owner runs (idempotent too: the same `--name`).
    pub fn az_command(&self) -> String {
        format!(
            "az role assignment create --assignee-object-id {} --assignee-principal-type {} --role {} --scope \"{}\" --name {} --description \"{}\"",
            self.principal_id,
            self.principal_type,
            self.role_definition_guid,
            self.scope,
            self.assignment_name,
            self.description
        )
    }

    /// Removes what `fix` created.
    pub fn undo_command(&self) -> String {
        format!("az role assignment delete --ids \"{}\"", self.assignment_id)
    }

    pub fn bicep(&self) -> String {
        let (parent, scope_ref) = match self.project_name() {
            Some(p) => (
                format!(
                    "resource account 'Microsoft.CognitiveServices/accounts@2025-06-01' existing = {{\n  name: '{}'\n}}\n\nresource project 'Microsoft.CognitiveServices/accounts/projects@2025-06-01' existing = {{\n  parent: account\n  name: '{p}'\n}}\n",
                    self.account_name()
                ),
                "project",
            ),
            None => (
                format!(
                    "resource account 'Microsoft.CognitiveServices/accounts@2023-05-01' existing = {{\n  name: '{}'\n}}\n",
                    self.account_name()
                ),
                "account",
            ),
        };
        format!(
            "{parent}\nresource dataRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {{\n  name: '{}'\n  scope: {scope_ref}\n  properties: {{\n    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '{}')\n    principalId: '{}'\n    principalType: '{}'\n    description: '{}'\n  }}\n}}",
            self.assignment_name, self.role_definition_guid, self.principal_id, self.principal_type, self.description
        )
    }

    pub fn terraform(&self) -> String {
        format!(
            "resource \"azurerm_role_assignment\" \"aoai_doctor_fix\" {{\n  name               = \"{}\"\n  scope              = \"{}\"\n  role_definition_id = \"{}\"\n  principal_id       = \"{}\"\n  principal_type     = \"{}\"\n  description        = \"{}\"\n}}",
            self.assignment_name,
            self.scope,
            self.role_definition_id,
            self.principal_id,
            self.principal_type,
            self.description
        )
    }

    /// A short message to forward to someone who may assign roles.
    pub fn message_for_owner(&self) -> String {
        let who = match &self.principal_display {
            Some(d) => format!("{d} ({}, object id {})", self.principal_type, self.principal_id),
            None => format!("the {} with object id {}", self.principal_type, self.principal_id),
        };
        format!(
            "Hello, could you grant {who} the role \"{}\" on {}? It calls Azure OpenAI with Microsoft Entra ID (no keys) and needs the data action {}; {}. It can be done with:\n  {}",
            self.role,
            self.scope,
            self.data_action,
            self.role_reason,
            self.az_command()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/contoso";
    const CHAT: &str = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action";

    fn alice() -> Result<PrincipalChoice, String> {
        Ok(PrincipalChoice {
            object_id: "aaaaaaaa-0000-0000-0000-000000000001".into(),
            principal_type: "User".into(),
            is_caller: true,
            display: Some("alice@contoso.example".into()),
        })
    }

    #[test]
    fn openai_on_the_account_gets_openai_user_on_the_account() {
        let p = plan(Some(ACCOUNT), CHAT, Surface::default(), alice()).unwrap();
        assert_eq!(p.role, "Cognitive Services OpenAI User");
        assert_eq!(p.scope, ACCOUNT);
        assert_eq!(
            p.role_definition_id,
            "/subscriptions/11111111-2222-3333-4444-555555555555/providers/Microsoft.Authorization/roleDefinitions/5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
        );
        assert!(
            p.assignment_id
                .starts_with(&format!("{ACCOUNT}/providers/Microsoft.Authorization/roleAssignments/"))
        );
        assert!(p.az_command().contains("--assignee-principal-type User"));
        assert!(p.bicep().contains("scope: account"));
        assert!(p.terraform().contains(&format!("scope              = \"{ACCOUNT}\"")));
    }

    #[test]
    fn a_project_gets_foundry_user_on_the_project_and_says_what_else_it_grants() {
        let on_project = Surface {
            project: Some("chat-proj"),
            live_call_on_project: true,
        };
        let p = plan(Some(ACCOUNT), CHAT, on_project, alice()).unwrap();
        assert_eq!(p.role_definition_guid, "53ca6127-db72-4b80-b1b0-d745d6d5456d");
        assert_eq!(p.scope, format!("{ACCOUNT}/projects/chat-proj"));
        assert!(p.role_reason.contains("key listing"), "{}", p.role_reason);
        assert!(p.bicep().contains("scope: project"));
        // When the live call goes to the account, the account is the scope it can verify.
        let via_account = Surface {
            project: Some("chat-proj"),
            live_call_on_project: false,
        };
        let p = plan(Some(ACCOUNT), CHAT, via_account, alice()).unwrap();
        assert_eq!(p.role_definition_guid, "53ca6127-db72-4b80-b1b0-d745d6d5456d");
        assert_eq!(p.scope, ACCOUNT);
    }

    #[test]
    fn nothing_is_guessed() {
        assert_eq!(plan(None, CHAT, Surface::default(), alice()), Err(PlanError::NoAccount));
        assert_eq!(
            plan(
                Some("/subscriptions/x/resourceGroups/rg"),
                CHAT,
                Surface::default(),
                alice()
            ),
            Err(PlanError::NoAccount)
        );
        assert!(matches!(
            plan(Some(ACCOUNT), CHAT, Surface::default(), Err("type unknown".into())),
            Err(PlanError::NoPrincipal(_))
        ));
        assert!(matches!(
            plan(
                Some(ACCOUNT),
                "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
                Surface::default(),
                alice()
            ),
            Err(PlanError::NoRole(_))
        ));
    }

    #[test]
    fn the_name_is_the_same_for_the_same_assignment_only() {
        let a = assignment_name(ACCOUNT, "AAAA", "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd");
        assert_eq!(
            a,
            assignment_name(
                &format!("{}/", ACCOUNT.to_uppercase()),
                "aaaa",
                "5E0BD9BD-7b93-4f28-af87-19fc36ad61bd"
            )
        );
        assert_ne!(
            a,
            assignment_name(ACCOUNT, "bbbb", "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd")
        );
        assert_ne!(
            a,
            assignment_name(ACCOUNT, "aaaa", "53ca6127-db72-4b80-b1b0-d745d6d5456d")
        );
        assert!(crate::diagnose::rbac::is_guid(&a), "{a}");
        assert_eq!(&a[14..15], "8");
    }
}
