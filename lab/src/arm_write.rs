//! ARM `PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{name}` (api-version
//! 2022-04-01) with ARM's own checks, in ARM's order: the name must be a GUID, the body must
//! name a role definition and a principal, the caller needs
//! `Microsoft.Authorization/roleAssignments/write` at the scope (a role's ABAC condition — the
//! Foundry Account Owner / Project Manager `GuidEquals` lists — limits which roles it may
//! assign), the role definition must exist, the principal must exist in the directory, and an
//! identical assignment under another name is a 409 `RoleAssignmentExists`. A new assignment
//! is visible to ARM at once and to the data plane only after the scenario's propagation delay
//! (`LabState::effective`). Wording: the public ARM error reference
//! (learn.microsoft.com/azure/role-based-access-control/troubleshooting).

// Early answers travel as `Result<_, Response>`, as in arm.rs; boxing buys nothing.
#![allow(clippy::result_large_err)]

use serde_json::Value;

use super::arm::{Caller, error, forbidden};
use super::arm_authz::assignment_json;
use super::http::{Resp, json as json_resp};
use super::rbac::{Assignment, Rbac, permits};
use super::scenario::{PrincipalKind, WriteAnswer, is_guid};
use super::state::LabState;
use super::util::now_unix;

pub const WRITE: &str = "Microsoft.Authorization/roleAssignments/write";

/// `rest` is what follows `/providers/Microsoft.Authorization/`.
pub fn handle(st: &LabState, c: &Caller, scope: &str, rest: &str, body: &[u8]) -> Resp {
    let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let [kind, name] = parts.as_slice() else {
        return error(
            405,
            "MethodNotAllowed",
            "The requested resource does not support http method 'PUT'.",
        );
    };
    if !kind.eq_ignore_ascii_case("roleAssignments") {
        return error(
            405,
            "MethodNotAllowed",
            "The requested resource does not support http method 'PUT'.",
        );
    }
    if !is_guid(name) {
        return error(
            400,
            "InvalidRoleAssignmentId",
            &format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."),
        );
    }
    if let Some(r) = scripted_answer(st.scenario.arm.role_assignment_write) {
        return r;
    }
    let request = match parse_body(body) {
        Ok(r) => r,
        Err(msg) => return error(400, "InvalidRoleAssignmentRequest", &msg),
    };
    let rbac = st.rbac();
    let role_guid = request
        .role_definition_id
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let principal_id = request.principal_id.to_ascii_lowercase();
    let actual_type = match refusal(
        st,
        &rbac,
        c,
        scope,
        name,
        &role_guid,
        &principal_id,
        request.principal_type.as_deref(),
    ) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let same = |a: &&Assignment| {
        a.scope.eq_ignore_ascii_case(scope) && a.principal_id == principal_id && a.role_id == role_guid
    };
    if let Some(existing) = rbac.assignments.iter().find(same) {
        if existing.name.eq_ignore_ascii_case(name) {
            // A PUT of what is already there changes nothing: ARM answers 201 with it again.
            return json_resp(201, assignment_json(st, existing).to_string(), &super::arm::headers());
        }
        return error(
            409,
            "RoleAssignmentExists",
            &format!(
                "The role assignment already exists. The ID of the existing role assignment is {}.",
                existing.name.replace('-', "")
            ),
        );
    }
    if rbac
        .assignments
        .iter()
        .any(|a| a.name.eq_ignore_ascii_case(name) && a.scope.eq_ignore_ascii_case(scope))
    {
        return error(
            409,
            "RoleAssignmentUpdateNotPermitted",
            "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
        );
    }
    let created = Assignment {
        name: name.to_ascii_lowercase(),
        principal_id,
        principal_type: actual_type,
        role_id: role_guid,
        scope: scope.to_string(),
        created_on: now_unix(),
        age_seconds: 0,
        condition: None,
        description: request.description,
        created_at: Some(std::time::Instant::now()),
    };
    let body = assignment_json(st, &created).to_string();
    st.log("arm", format!("created role assignment {name} at {scope}"));
    st.add_assignment(created);
    json_resp(201, body, &super::arm::headers())
}

/// The scenario's stand-in answers for what the lab cannot produce by itself.
fn scripted_answer(answer: WriteAnswer) -> Option<Resp> {
    let mut headers = super::arm::headers();
    let (status, code, message) = match answer {
        WriteAnswer::Normal => return None,
        WriteAnswer::Throttled => {
            headers.push(("retry-after", "1".into()));
            (
                429,
                "TooManyRequests",
                "The request is being throttled as the limit has been reached for operation type - Write_ObservationWindow_00:05:00. For more information, see - https://aka.ms/srpthrottlinglimits",
            )
        }
        WriteAnswer::MfaRequired => {
            // A Conditional Access policy on the write: the token lacks the MFA claim.
            headers.push((
                "www-authenticate",
                "Bearer authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", error=\"invalid_token\", error_description=\"User is required to perform multi-factor authentication.\", claims=\"eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlcyI6WyJwMSJdfX19\"".into(),
            ));
            (
                401,
                "InvalidAuthenticationToken",
                "The access token is missing the multi-factor authentication claim required by a Conditional Access policy for this operation.",
            )
        }
        WriteAnswer::RoleDefinitionMissing => (
            404,
            "RoleDefinitionDoesNotExist",
            "The specified role definition does not exist.",
        ),
        WriteAnswer::Unavailable => (
            503,
            "ServiceUnavailable",
            "The service is currently unavailable. Please try again later.",
        ),
    };
    let body = format!(
        "{{\"error\":{{\"code\":{},\"message\":{}}}}}",
        super::http::q(code),
        super::http::q(message)
    );
    Some(json_resp(status, body, &headers))
}

/// ARM's checks before a write, in its order; the principal's type when all pass.
#[allow(clippy::too_many_arguments)]
fn refusal(
    st: &LabState,
    rbac: &Rbac,
    c: &Caller,
    scope: &str,
    name: &str,
    role_guid: &str,
    principal_id: &str,
    principal_type: Option<&str>,
) -> Result<&'static str, Resp> {
    let full_id = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments/{name}",
        scope.trim_end_matches('/')
    );
    if !may_assign(rbac, &c.oid, scope, role_guid) {
        return Err(forbidden(c, WRITE, &full_id));
    }
    if !is_guid(role_guid) || rbac.role(role_guid).is_none() {
        return Err(error(
            404,
            "RoleDefinitionDoesNotExist",
            &format!("The specified role definition with ID '{role_guid}' does not exist."),
        ));
    }
    let Some((_, principal)) = st.principal_by_oid(principal_id) else {
        return Err(error(
            400,
            "PrincipalNotFound",
            &format!(
                "Principal {} does not exist in the directory {}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
                principal_id.replace('-', ""),
                st.account_tenant_id()
            ),
        ));
    };
    let actual_type = principal_type_of(principal.kind);
    if let Some(t) = principal_type
        && !t.eq_ignore_ascii_case(actual_type)
    {
        return Err(error(
            400,
            "UnmatchedPrincipalType",
            &format!(
                "The PrincipalId '{}' has type '{actual_type}' , which is different from specified PrincipalType '{t}'.",
                principal_id.replace('-', "")
            ),
        ));
    }
    Ok(actual_type)
}

struct PutRequest {
    role_definition_id: String,
    principal_id: String,
    principal_type: Option<String>,
    description: Option<String>,
}

fn parse_body(body: &[u8]) -> Result<PutRequest, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("The request content is not valid JSON: {e}"))?;
    let p = &v["properties"];
    let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(PutRequest {
        role_definition_id: text("roleDefinitionId").ok_or("The roleDefinitionId property is required.")?,
        principal_id: text("principalId").ok_or("The principalId property is required.")?,
        principal_type: text("principalType"),
        description: text("description"),
    })
}

/// The caller may write an assignment of `role_guid` at `scope`: some role it holds there
/// grants the write (minus notActions and deny assignments) and that block's condition, if
/// any, lets this role through.
pub fn may_assign(rbac: &Rbac, oid: &str, scope: &str, role_guid: &str) -> bool {
    rbac.action_allowed(oid, scope, WRITE)
        && rbac
            .applicable(oid, scope)
            .filter_map(|a| rbac.role(&a.role_id))
            .flat_map(|r| r.permissions.iter())
            .any(|p| permits(p, WRITE, false) && condition_allows(p.condition.as_deref(), role_guid))
}

/// Evaluates the one condition shape built-in roles put on `roleAssignments/write`:
/// `(!(ActionMatches{'…/roleAssignments/write'})) OR (@Request[…RoleDefinitionId]
/// ForAnyOfAnyValues:GuidEquals{a,b})`. Anything else is refused (fail closed).
pub fn condition_allows(condition: Option<&str>, role_guid: &str) -> bool {
    let Some(c) = condition.map(str::trim).filter(|c| !c.is_empty()) else {
        return true;
    };
    let lower = c.to_ascii_lowercase();
    let Some(at) = lower.find("actionmatches{'microsoft.authorization/roleassignments/write'}") else {
        // The condition does not mention writes: it does not limit them.
        return true;
    };
    let after = &lower[at..];
    let Some(open) = after.find("guidequals{") else {
        return false;
    };
    let list = &after[open + "guidequals{".len()..];
    let Some(close) = list.find('}') else {
        return false;
    };
    list[..close]
        .split(',')
        .any(|g| g.trim().eq_ignore_ascii_case(role_guid))
}

fn principal_type_of(k: PrincipalKind) -> &'static str {
    match k {
        PrincipalKind::User => "User",
        PrincipalKind::Group => "Group",
        PrincipalKind::ServicePrincipal | PrincipalKind::ManagedIdentity => "ServicePrincipal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOUNDRY_ACCOUNT_OWNER: &str = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{53ca6127-db72-4b80-b1b0-d745d6d5456d})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{53ca6127-db72-4b80-b1b0-d745d6d5456d}))";

    #[test]
    fn a_guid_equals_condition_lets_only_its_roles_through() {
        assert!(condition_allows(None, "anything"));
        assert!(condition_allows(
            Some(FOUNDRY_ACCOUNT_OWNER),
            "53ca6127-db72-4b80-b1b0-d745d6d5456d"
        ));
        // Cognitive Services OpenAI User is not on Foundry Account Owner's list.
        assert!(!condition_allows(
            Some(FOUNDRY_ACCOUNT_OWNER),
            "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
        ));
        assert!(!condition_allows(
            Some("(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}) something else"),
            "53ca6127-db72-4b80-b1b0-d745d6d5456d"
        ));
    }
}
