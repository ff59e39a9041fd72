//! ARM for Microsoft Foundry: what an AIServices account adds to its JSON and its projects
//! (`…/accounts/{a}/projects[/{p}]`, child resources with their own system identity).
//!
//! Shapes from `az cognitiveservices account project show` output published in public
//! repositories (name `account/project`, `kind` AIServices, `properties.endpoints` with
//! "AI Foundry API" = `https://{a}.services.ai.azure.com/api/projects/{p}`, `isDefault`),
//! and the account's `properties.endpoints` keys as `az cognitiveservices account show`
//! prints them for AIServices accounts ("AI Foundry API", "OpenAI Language Model Instance
//! API", "Azure AI Model Inference API", ...).
//!
//! The account's `properties.endpoint` is the lab's own URL on loopback (what the doctor is
//! pointed at) and `https://{a}.cognitiveservices.azure.com/` under real names, as Azure
//! reports it for AIServices (`LabState::account_endpoint`); the endpoints map always carries
//! the public host names a real account has, so a client given any of them finds the account.

use serde_json::{Value, json};

use super::arm::{error, ok};
use super::http::Resp;
use super::state::LabState;
use super::util::{arm_timestamp, stable_guid};

/// The account's public host names (`https://{name}.{suffix}/`).
pub fn public_endpoints(name: &str) -> (String, String, String) {
    let n = name.to_ascii_lowercase();
    (
        format!("https://{n}.services.ai.azure.com/"),
        format!("https://{n}.openai.azure.com/"),
        format!("https://{n}.cognitiveservices.azure.com/"),
    )
}

/// Foundry properties on the main account's JSON: the endpoints map with the three hosts,
/// project management on, its projects.
pub fn add_foundry_properties(st: &LabState, v: &mut Value) {
    let s = &st.scenario;
    let (foundry, openai, cognitive) = public_endpoints(&s.account.name);
    let Some(props) = v.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    props.insert(
        "endpoints".into(),
        json!({
            "AI Foundry API": foundry,
            "Azure AI Model Inference API": foundry,
            "OpenAI Language Model Instance API": openai,
            "OpenAI Dall-E API": openai,
            "OpenAI Whisper API": openai,
            "OpenAI Realtime API": openai,
            "OpenAI Model Scaleset API": openai,
            "Content Safety": cognitive,
            "Speech Services Speech to Text": cognitive,
            "Token Service API": cognitive,
        }),
    );
    props.insert("allowProjectManagement".into(), json!(true));
    props.insert(
        "associatedProjects".into(),
        json!(s.projects.keys().collect::<Vec<_>>()),
    );
    if let Some(first) = s.projects.keys().next() {
        props.insert("defaultProject".into(), json!(first));
    }
    v["identity"] = json!({
        "type": "SystemAssigned",
        "principalId": stable_guid(&format!("{}|identity", s.account.name)),
        "tenantId": st.account_tenant_id(),
    });
}

fn project_json(st: &LabState, account_id: &str, name: &str) -> Value {
    let s = &st.scenario;
    let p = &s.projects[name];
    let (foundry, _, _) = public_endpoints(&s.account.name);
    let id = format!("{account_id}/projects/{name}");
    let created = arm_timestamp(st.started_unix - 100 * 86400);
    let by = "alice@contoso.onmicrosoft.com";
    json!({
        "id": id,
        "name": format!("{}/{name}", s.account.name),
        "type": "Microsoft.CognitiveServices/accounts/projects",
        "kind": "AIServices",
        "location": s.account.location,
        "etag": format!("\"{}\"", stable_guid(&id)),
        "identity": {
            "type": "SystemAssigned",
            "principalId": stable_guid(&format!("{id}|identity")),
            "tenantId": st.account_tenant_id(),
            "userAssignedIdentities": null
        },
        "properties": {
            "description": if p.description.is_empty() { Value::Null } else { json!(p.description) },
            "displayName": p.display_name,
            "endpoints": {"AI Foundry API": format!("{foundry}api/projects/{name}")},
            "internalId": stable_guid(&format!("{id}|internal")).replace('-', ""),
            "isDefault": s.projects.keys().next().is_some_and(|f| f == name),
            "provisioningState": "Succeeded"
        },
        "systemData": {"createdAt": created, "createdBy": by, "createdByType": "User", "lastModifiedAt": created, "lastModifiedBy": by, "lastModifiedByType": "User"},
        "tags": {}
    })
}

/// `GET …/accounts/{a}/projects` and `…/projects/{p}` (the caller already passed
/// `accounts/projects/read` at the account).
pub fn projects(
    st: &LabState,
    account_id: &str,
    main: bool,
    (account, rg): (&str, &str),
    project: Option<&str>,
) -> Resp {
    let s = &st.scenario;
    let names: Vec<&String> = if main && s.is_foundry() {
        s.projects.keys().collect()
    } else {
        vec![]
    };
    match project {
        None => ok(json!({"value": names.iter().map(|n| project_json(st, account_id, n)).collect::<Vec<_>>()})),
        Some(p) => match names.iter().find(|n| n.eq_ignore_ascii_case(p)) {
            Some(n) => ok(project_json(st, account_id, n)),
            None => error(
                404,
                "ResourceNotFound",
                &format!(
                    "The Resource 'Microsoft.CognitiveServices/accounts/{account}/projects/{p}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
                ),
            ),
        },
    }
}
