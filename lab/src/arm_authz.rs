//! ARM `Microsoft.Authorization` (api-version 2022-04-01): role assignments with `$filter`
//! (`atScope()`, `assignedTo('{id}')` with transitive groups, `principalId eq '{id}'`
//! without) and nextLink paging, role definitions, deny assignments and the caller's
//! effective permissions; role-assignment PUTs go to `arm_write.rs`. Shapes: corpus arm.json
//! arm-200-role-assignments-list-for-scope-spec and azure-apis.json.

use axum::http::Method;
use serde_json::{Value, json};

use super::arm::{Caller, error, forbidden, ok};
use super::http::Resp;
use super::rbac::{Assignment, Permission, RoleDefinition, scope_covers};
use super::state::LabState;
use super::util::{arm_timestamp, param};

#[allow(clippy::too_many_arguments)]
pub fn handle(
    st: &LabState,
    c: &Caller,
    method: &Method,
    scope: &str,
    rest: &str,
    query: &[(String, String)],
    api_version: &str,
    path: &str,
    body: &[u8],
) -> Resp {
    if method == Method::PUT {
        return super::arm_write::handle(st, c, scope, rest, body);
    }
    if method != Method::GET {
        return error(
            405,
            "MethodNotAllowed",
            &format!("The requested resource does not support http method '{method}'."),
        );
    }
    let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let kind = parts.first().map(|p| p.to_ascii_lowercase()).unwrap_or_default();
    match (kind.as_str(), parts.get(1)) {
        ("roleassignments", None) => list_assignments(st, c, scope, query, api_version, path),
        ("roleassignments", Some(name)) => get_assignment(st, c, scope, name),
        ("roledefinitions", None) => list_definitions(st, scope, query),
        ("roledefinitions", Some(id)) => match st.rbac().role(id) {
            Some(r) if super::scenario::is_guid(id) => ok(definition_json(st, r, scope)),
            _ => error(
                404,
                "RoleDefinitionDoesNotExist",
                "The specified role definition with ID '{id}' does not exist."
                    .replace("{id}", id)
                    .as_str(),
            ),
        },
        ("permissions", None) => permissions(st, c, scope),
        ("denyassignments", None) => list_denies(st, c, scope, query),
        _ => error(
            404,
            "InvalidResourceType",
            &format!(
                "The resource type '{kind}' could not be found in the namespace 'Microsoft.Authorization' for api version '{api_version}'."
            ),
        ),
    }
}

/// A parsed role assignment `$filter`.
#[derive(Debug, Default, PartialEq)]
pub struct Filter {
    pub at_scope: bool,
    pub assigned_to: Option<String>,
    pub principal_id: Option<String>,
}

pub fn parse_filter(f: &str) -> Result<Filter, String> {
    let mut out = Filter::default();
    let lower = f.to_ascii_lowercase();
    let mut terms = vec![];
    let mut rest = lower.as_str();
    let mut orig = f;
    while let Some(i) = rest.find(" and ") {
        terms.push(orig[..i].trim());
        rest = &rest[i + 5..];
        orig = &orig[i + 5..];
    }
    terms.push(orig.trim());
    for t in terms {
        let tl = t.to_ascii_lowercase();
        let quoted = |t: &str| -> Option<String> {
            let a = t.find('\'')?;
            let b = t.rfind('\'')?;
            (b > a).then(|| t[a + 1..b].to_ascii_lowercase())
        };
        if tl == "atscope()" {
            out.at_scope = true;
        } else if tl.starts_with("assignedto(") && tl.ends_with(')') {
            out.assigned_to = Some(quoted(t).ok_or_else(|| t.to_string())?);
        } else if tl.starts_with("principalid eq ") {
            out.principal_id = Some(quoted(t).ok_or_else(|| t.to_string())?);
        } else {
            return Err(t.to_string());
        }
    }
    Ok(out)
}

fn role_definition_id(scope: &str, role_id: &str) -> String {
    // Live responses use the subscription-prefixed form under a subscription
    // (arm-200-az-role-assignment-list-flattened); the spec example the tenant-level one.
    let mut segs = scope.split('/').filter(|s| !s.is_empty());
    match (segs.next(), segs.next()) {
        (Some(s), Some(id)) if s.eq_ignore_ascii_case("subscriptions") => {
            format!("/subscriptions/{id}/providers/Microsoft.Authorization/roleDefinitions/{role_id}")
        }
        _ => format!("/providers/Microsoft.Authorization/roleDefinitions/{role_id}"),
    }
}

pub fn assignment_json(st: &LabState, a: &Assignment) -> Value {
    let base = if a.scope == "/" { "" } else { a.scope.as_str() };
    let created = arm_timestamp(a.created_on);
    let creator = st
        .scenario
        .principals
        .get("alice")
        .map(|p| p.object_id.clone())
        .unwrap_or_default();
    json!({
        "properties": {
            "roleDefinitionId": role_definition_id(&a.scope, &a.role_id),
            "principalId": a.principal_id,
            "principalType": a.principal_type,
            "scope": a.scope,
            "condition": a.condition,
            "conditionVersion": a.condition.as_ref().map(|_| "2.0"),
            "createdOn": created,
            "updatedOn": created,
            "createdBy": creator,
            "updatedBy": creator,
            "delegatedManagedIdentityResourceId": null,
            "description": a.description,
        },
        "id": format!("{base}/providers/Microsoft.Authorization/roleAssignments/{}", a.name),
        "type": "Microsoft.Authorization/roleAssignments",
        "name": a.name,
    })
}

fn list_assignments(
    st: &LabState,
    c: &Caller,
    scope: &str,
    query: &[(String, String)],
    api_version: &str,
    path: &str,
) -> Resp {
    let auth_scope = format!("{}/providers/Microsoft.Authorization", scope.trim_end_matches('/'));
    if !st
        .rbac()
        .action_allowed(&c.oid, scope, "Microsoft.Authorization/roleAssignments/read")
    {
        // arm-403-authorizationfailed-list-at-resource-group names .../providers/Microsoft.Authorization
        return forbidden(c, "Microsoft.Authorization/roleAssignments/read", &auth_scope);
    }
    let filter_text = param(query, "$filter").unwrap_or_default();
    let filter = if filter_text.trim().is_empty() {
        Filter::default()
    } else {
        match parse_filter(filter_text) {
            Ok(f) => f,
            Err(term) => {
                return error(
                    400,
                    "UnsupportedQuery",
                    &format!(
                        "The filter '{term}' is not supported. Supported filters are either 'atScope()' or 'principalId eq '{{value}}' or assignedTo('{{value}}')'."
                    ),
                );
            }
        }
    };
    if let Some(id) = &filter.assigned_to
        && st.rbac().is_group(id)
    {
        return error(
            400,
            "UnsupportedQuery",
            "The assignedTo filter does not support group object ids; use principalId eq '{value}'.",
        );
    }
    let ids = match (&filter.assigned_to, &filter.principal_id) {
        (Some(x), _) => Some(st.rbac().identities_of(x)),
        (None, Some(p)) => Some(std::iter::once(p.clone()).collect()),
        (None, None) => None,
    };
    let rbac = st.rbac();
    let mut items: Vec<&Assignment> = rbac
        .assignments
        .iter()
        .filter(|a| ids.as_ref().is_none_or(|ids| ids.contains(&a.principal_id)))
        .filter(|a| scope_covers(&a.scope, scope) || (!filter.at_scope && scope_covers(scope, &a.scope)))
        .collect();
    items.sort_by_key(|a| (a.scope.len(), a.created_on));
    page(
        st,
        items.into_iter().map(|a| assignment_json(st, a)).collect(),
        query,
        api_version,
        path,
    )
}

/// `value` with at most `arm.page_size` items and a `nextLink` carrying `$skipToken`.
fn page(st: &LabState, all: Vec<Value>, query: &[(String, String)], api_version: &str, path: &str) -> Resp {
    let size = st.scenario.arm.page_size.max(1);
    let skip: usize = param(query, "$skipToken").and_then(|s| s.parse().ok()).unwrap_or(0);
    let items: Vec<Value> = all.iter().skip(skip).take(size).cloned().collect();
    let mut body = json!({"value": items});
    if skip + size < all.len() {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        next.append_pair("api-version", api_version);
        if let Some(f) = param(query, "$filter") {
            next.append_pair("$filter", f);
        }
        next.append_pair("$skipToken", &(skip + size).to_string());
        body["nextLink"] = json!(format!("{}{path}?{}", st.urls.arm, next.finish()));
    }
    ok(body)
}

fn get_assignment(st: &LabState, c: &Caller, scope: &str, name: &str) -> Resp {
    if !st
        .rbac()
        .action_allowed(&c.oid, scope, "Microsoft.Authorization/roleAssignments/read")
    {
        return forbidden(
            c,
            "Microsoft.Authorization/roleAssignments/read",
            &format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
        );
    }
    match st
        .rbac()
        .assignments
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name) && a.scope.eq_ignore_ascii_case(scope))
    {
        Some(a) => ok(assignment_json(st, a)),
        None => error(
            404,
            "RoleAssignmentNotFound",
            "The role assignment '{name}' is not found."
                .replace("{name}", name)
                .as_str(),
        ),
    }
}

fn permission_json(p: &Permission) -> Value {
    let mut v = json!({
        "actions": p.actions, "notActions": p.not_actions,
        "dataActions": p.data_actions, "notDataActions": p.not_data_actions,
    });
    if let Some(c) = &p.condition {
        v["condition"] = json!(c);
        v["conditionVersion"] = json!(p.condition_version);
    }
    v
}

fn definition_json(st: &LabState, r: &RoleDefinition, scope: &str) -> Value {
    let created = arm_timestamp(st.started_unix - 400 * 86400);
    json!({
        "properties": {
            "roleName": r.name,
            "type": if r.builtin { "BuiltInRole" } else { "CustomRole" },
            "description": r.description,
            "assignableScopes": r.assignable_scopes,
            "permissions": r.permissions.iter().map(permission_json).collect::<Vec<_>>(),
            "createdOn": created,
            "updatedOn": created,
            "createdBy": null,
            "updatedBy": null,
        },
        "id": role_definition_id(scope, &r.id),
        "type": "Microsoft.Authorization/roleDefinitions",
        "name": r.id,
    })
}

fn list_definitions(st: &LabState, scope: &str, query: &[(String, String)]) -> Resp {
    let f = param(query, "$filter").unwrap_or_default();
    let quoted = f
        .find('\'')
        .and_then(|a| f.rfind('\'').filter(|b| *b > a).map(|b| &f[a + 1..b]));
    let fl = f.to_ascii_lowercase();
    let items: Vec<Value> = st
        .rbac()
        .roles
        .iter()
        .filter(
            |r| match (fl.starts_with("rolename eq"), fl.starts_with("type eq"), quoted) {
                (true, _, Some(n)) => r.name.eq_ignore_ascii_case(n),
                (_, true, Some(t)) => (t.eq_ignore_ascii_case("BuiltInRole")) == r.builtin,
                _ => true,
            },
        )
        .map(|r| definition_json(st, r, scope))
        .collect();
    ok(json!({"value": items}))
}

fn permissions(st: &LabState, c: &Caller, scope: &str) -> Resp {
    let lag = st.scenario.arm.permissions_lag_seconds;
    let rbac = st.rbac();
    let blocks: Vec<Value> = rbac
        .applicable(&c.oid, scope)
        .filter(|a| a.age_seconds >= lag)
        .filter_map(|a| rbac.role(&a.role_id))
        .flat_map(|r| r.permissions.iter().map(permission_json))
        .collect();
    ok(json!({"value": blocks}))
}

fn list_denies(st: &LabState, c: &Caller, scope: &str, query: &[(String, String)]) -> Resp {
    if !st
        .rbac()
        .action_allowed(&c.oid, scope, "Microsoft.Authorization/denyAssignments/read")
    {
        return forbidden(
            c,
            "Microsoft.Authorization/denyAssignments/read",
            &format!("{scope}/providers/Microsoft.Authorization"),
        );
    }
    let at_scope = param(query, "$filter").is_some_and(|f| f.to_ascii_lowercase().contains("atscope()"));
    let everyone = json!([{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}]);
    let items: Vec<Value> = st.rbac()
        .denies
        .iter()
        .filter(|d| scope_covers(&d.scope, scope) || (!at_scope && scope_covers(scope, &d.scope)))
        .map(|d| {
            let principals = match &d.principals {
                None => everyone.clone(),
                Some(ps) => json!(ps.iter().map(|p| json!({"id": p, "type": principal_type(st, p)})).collect::<Vec<_>>()),
            };
            json!({
                "properties": {
                    "denyAssignmentName": d.name,
                    "description": d.description,
                    "permissions": [permission_json(&d.permission)],
                    "scope": d.scope,
                    "doNotApplyToChildScopes": false,
                    "principals": principals,
                    "excludePrincipals": d.excluded.iter().map(|p| json!({"id": p, "type": principal_type(st, p)})).collect::<Vec<_>>(),
                    "isSystemProtected": true,
                },
                "id": format!("{}/providers/Microsoft.Authorization/denyAssignments/{}", d.scope, d.id),
                "type": "Microsoft.Authorization/denyAssignments",
                "name": d.id,
            })
        })
        .collect();
    ok(json!({"value": items}))
}

fn principal_type(st: &LabState, oid: &str) -> &'static str {
    use super::scenario::PrincipalKind::*;
    match st.principal_by_oid(oid).map(|(_, p)| p.kind) {
        Some(User) => "User",
        Some(Group) => "Group",
        _ => "ServicePrincipal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(
            parse_filter("atScope() and assignedTo('ABC')").unwrap(),
            Filter {
                at_scope: true,
                assigned_to: Some("abc".into()),
                principal_id: None
            }
        );
        assert_eq!(
            parse_filter("principalId eq 'x'").unwrap().principal_id.as_deref(),
            Some("x")
        );
        assert!(parse_filter("roleName eq 'x'").is_err());
    }
}
