//! Azure Resource Manager: token validation, subscriptions, resource groups, Cognitive
//! Services accounts and deployments. The Microsoft.Authorization endpoints live in
//! `arm_authz.rs`, Resource Graph in `resource_graph.rs`.
//!
//! Bodies follow fixtures/corpus/arm.json: `{"error":{"code","message"}}`, 401
//! `InvalidAuthenticationTokenTenant` naming both issuers, 401
//! `InvalidAuthenticationTokenAudience` listing the four accepted audiences, 401
//! `AuthenticationFailed` with `WWW-Authenticate`, 403 `AuthorizationFailed`, 400
//! `MissingApiVersionParameter`.

// Handlers return their early answers through `Result<_, Response>`; boxing buys nothing.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{Value, json};

use super::http::{Resp, bearer, json as json_resp, q};
use super::jwt::Invalid;
use super::scenario::{DeploymentKind, PrincipalKind, Subscription};
use super::state::LabState;
use super::util::{
    arm_expiry_time, arm_timestamp, compact_utc, form_pairs, guid, http_date, now_unix, param, stable_guid,
};

pub fn router(state: Arc<LabState>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// The authenticated caller.
pub struct Caller {
    pub oid: String,
    pub tid: String,
    /// How AuthorizationFailed names the client: UPN for users, app id for applications.
    pub display: String,
}

pub fn headers() -> Vec<(&'static str, String)> {
    let id = guid();
    let now = now_unix();
    vec![
        ("cache-control", "no-cache".into()),
        ("pragma", "no-cache".into()),
        ("expires", "-1".into()),
        ("x-ms-request-id", id.clone()),
        ("x-ms-correlation-request-id", id.clone()),
        ("x-ms-routing-request-id", format!("EASTUS:{}:{id}", compact_utc(now))),
        ("x-ms-ratelimit-remaining-subscription-reads", "249".into()),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains".into(),
        ),
        ("x-content-type-options", "nosniff".into()),
        ("x-cache", "CONFIG_NOCACHE".into()),
        ("date", http_date(now)),
    ]
}

pub fn error(status: u16, code: &str, message: &str) -> Resp {
    let body = format!("{{\"error\":{{\"code\":{},\"message\":{}}}}}", q(code), q(message));
    json_resp(status, body, &headers())
}

pub fn ok(v: Value) -> Resp {
    json_resp(200, v.to_string(), &headers())
}

pub fn forbidden(c: &Caller, action: &str, scope: &str) -> Resp {
    error(
        403,
        "AuthorizationFailed",
        &format!(
            "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
            c.display, c.oid
        ),
    )
}

async fn dispatch(State(st): State<Arc<LabState>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Resp {
    let path = uri.path().to_string();
    let r = handle(&st, &method, &path, uri.query().unwrap_or_default(), &headers, &body);
    st.log("arm", format!("{method} {path} -> {}", r.status().as_u16()));
    r
}

fn handle(st: &LabState, method: &Method, path: &str, raw_query: &str, h: &HeaderMap, body: &[u8]) -> Resp {
    let query = form_pairs(raw_query.as_bytes());
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let sub_in_path = match segs.as_slice() {
        [s, id, ..] if s.eq_ignore_ascii_case("subscriptions") => Some(*id),
        _ => None,
    };
    let caller = match authenticate(st, h, sub_in_path) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(api_version) = param(&query, "api-version") else {
        // arm-400-missing-api-version
        return error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    if let Some(r) = sub_in_path.and_then(|sid| refuse_subscription(st, sid, &caller.tid)) {
        return r;
    }
    if let Some(i) = find_ci(path, "/providers/Microsoft.Authorization/") {
        let scope = if i == 0 { "/" } else { &path[..i] };
        let rest = &path[i + "/providers/Microsoft.Authorization/".len()..];
        return super::arm_authz::handle(st, &caller, method, scope, rest, &query, api_version, path, body);
    }
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    match (method.as_str(), l.as_slice()) {
        ("GET", ["subscriptions"]) => list_subscriptions(st, &caller),
        ("GET", ["subscriptions", _]) => get_subscription(st, &caller, segs[1]),
        (
            "GET",
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.cognitiveservices",
                "accounts",
            ],
        ) => list_accounts(st, &caller, &format!("/subscriptions/{}", segs[1]), None),
        ("GET", ["subscriptions", _, "resourcegroups", _]) => get_resource_group(st, &caller, segs[1], segs[3]),
        (
            "GET",
            [
                "subscriptions",
                _,
                "resourcegroups",
                _,
                "providers",
                "microsoft.cognitiveservices",
                "accounts",
            ],
        ) => list_accounts(
            st,
            &caller,
            &format!("/subscriptions/{}/resourceGroups/{}", segs[1], segs[3]),
            Some(segs[3]),
        ),
        (
            _,
            [
                "subscriptions",
                _,
                "resourcegroups",
                _,
                "providers",
                "microsoft.cognitiveservices",
                "accounts",
                _,
                rest @ ..,
            ],
        ) => account_routes(st, &caller, method, segs[1], segs[3], segs[7], rest, path),
        ("POST", ["providers", "microsoft.resourcegraph", "resources"]) => {
            super::resource_graph::resources(st, &caller, body)
        }
        _ => error(
            404,
            "InvalidResourceType",
            &format!("The resource type could not be found in the namespace for api version '{api_version}'."),
        ),
    }
}

/// ARM's answer when the subscription in the path is unknown or belongs to another tenant
/// than the caller's token; `None` when the caller may go on.
fn refuse_subscription(st: &LabState, sid: &str, caller_tid: &str) -> Option<Resp> {
    let Some(sub) = find_subscription(st, sid) else {
        return Some(error(
            404,
            "SubscriptionNotFound",
            &format!("The subscription '{sid}' could not be found."),
        ));
    };
    let owner = st.tenant_id_of(&sub.tenant);
    if !owner.eq_ignore_ascii_case(caller_tid) {
        // arm-401-wrong-tenant-evolved-sts-wording
        return Some(error(
            401,
            "InvalidAuthenticationTokenTenant",
            &format!(
                "The 'EvolvedSecurityTokenService' access token is from the wrong issuer 'https://sts.windows.net/{}/'. It must match the tenant 'https://sts.windows.net/{owner}/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/{owner}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.",
                caller_tid
            ),
        ));
    }
    None
}

/// Byte index of `needle` in `hay`, ASCII case-insensitively (last occurrence).
fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.to_ascii_lowercase().rfind(&needle.to_ascii_lowercase())
}

/// ARM accepts v1 and v2 tokens from its tenant's issuer for these audiences only.
const ARM_AUDIENCES: &[&str] = &[
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
];

fn authenticate(st: &LabState, h: &HeaderMap, sub: Option<&str>) -> Result<Caller, Resp> {
    let Some(token) = bearer(h) else {
        // arm-401-no-token-www-authenticate: with a subscription in the path ARM names its tenant.
        let tenant = sub
            .and_then(|s| find_subscription(st, s))
            .map(|s| st.tenant_id_of(&s.tenant).to_string())
            .unwrap_or_default();
        let mut r = error(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        );
        if let Ok(v) = format!(
            "Bearer authorization_uri=\"https://login.windows.net/{tenant}\", error=\"invalid_token\", error_description=\"The authentication failed because of missing 'Authorization' header.\""
        )
        .parse()
        {
            r.headers_mut().insert("www-authenticate", v);
        }
        return Err(r);
    };
    let claims = match st.signer.verify(token) {
        Ok(c) => c,
        Err(Invalid::Malformed) => {
            return Err(error(401, "InvalidAuthenticationToken", "The access token is invalid."));
        }
        Err(Invalid::BadSignature) => {
            return Err(error(
                401,
                "InvalidAuthenticationToken",
                "The access token has been tampered with or signed with an unknown key.",
            ));
        }
    };
    let s = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let aud = s("aud");
    if !ARM_AUDIENCES.contains(&aud.as_str()) {
        // arm-401-wrong-audience
        return Err(error(
            401,
            "InvalidAuthenticationTokenAudience",
            &format!(
                "The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."
            ),
        ));
    }
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let now = now_unix();
    if exp + 300 < now {
        return Err(error(
            401,
            "ExpiredAuthenticationToken",
            &format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                arm_expiry_time(exp),
                arm_expiry_time(now)
            ),
        ));
    }
    let oid = s("oid").to_ascii_lowercase();
    let display = match st.principal_by_oid(&oid) {
        Some((_, p)) if p.kind == PrincipalKind::User => p.upn.clone().unwrap_or_else(|| oid.clone()),
        _ => {
            let app = s("appid");
            if app.is_empty() { oid.clone() } else { app }
        }
    };
    Ok(Caller {
        oid,
        tid: s("tid"),
        display,
    })
}

fn subscription_json(st: &LabState, s: &super::scenario::Subscription) -> Value {
    json!({
        "id": format!("/subscriptions/{}", s.id),
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "tags": {},
        "subscriptionId": s.id,
        "tenantId": st.tenant_id_of(&s.tenant),
        "displayName": s.name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off"
        }
    })
}

/// The N-1 empty subscriptions `[arm] subscriptions = N` asks for, beside the account's, in
/// its tenant; stable ids, so two runs see the same world.
pub fn extra_subscriptions(s: &super::scenario::Scenario) -> Vec<Subscription> {
    let wanted = s.arm.subscriptions.unwrap_or(0);
    let tenant = s.account_subscription().tenant.clone();
    (1..wanted)
        .map(|i| Subscription {
            id: stable_guid(&format!("extra-subscription-{i}")),
            name: format!("Empty subscription {i:04}"),
            tenant: tenant.clone(),
        })
        .collect()
}

/// A subscription by id: the scenario's or an extra one.
pub fn find_subscription<'a>(st: &'a LabState, id: &str) -> Option<&'a Subscription> {
    st.scenario
        .subscriptions
        .values()
        .chain(&st.extra_subscriptions)
        .find(|s| s.id.eq_ignore_ascii_case(id))
}

/// Can the caller see this subscription at all? The extra ones are open to every caller of
/// their tenant (they stand for subscriptions where it holds some role).
pub fn can_see_subscription(st: &LabState, c: &Caller, s: &Subscription) -> bool {
    st.tenant_id_of(&s.tenant).eq_ignore_ascii_case(&c.tid)
        && (is_extra(st, &s.id) || st.rbac().has_any_access(&c.oid, &format!("/subscriptions/{}", s.id)))
}

fn is_extra(st: &LabState, id: &str) -> bool {
    st.extra_subscriptions.iter().any(|x| x.id.eq_ignore_ascii_case(id))
}

/// Every subscription the caller sees, the account's last (the worst case for a doctor that
/// searches them in order).
pub fn visible_subscriptions<'a>(st: &'a LabState, c: &Caller) -> Vec<&'a Subscription> {
    let account_sub = &st.scenario.account_subscription().id;
    st.extra_subscriptions
        .iter()
        .chain(st.scenario.subscriptions.values().filter(|s| s.id != *account_sub))
        .chain(std::iter::once(st.scenario.account_subscription()))
        .filter(|s| can_see_subscription(st, c, s))
        .collect()
}

fn list_subscriptions(st: &LabState, c: &Caller) -> Resp {
    let subs: Vec<Value> = visible_subscriptions(st, c)
        .into_iter()
        .map(|s| subscription_json(st, s))
        .collect();
    let n = subs.len();
    ok(json!({"value": subs, "count": {"type": "Total", "value": n}}))
}

fn get_subscription(st: &LabState, c: &Caller, sid: &str) -> Resp {
    let Some(s) = find_subscription(st, sid) else {
        return error(
            404,
            "SubscriptionNotFound",
            &format!("The subscription '{sid}' could not be found."),
        );
    };
    let scope = format!("/subscriptions/{}", s.id);
    if !can_see_subscription(st, c, s) {
        return forbidden(c, "Microsoft.Resources/subscriptions/read", &scope);
    }
    ok(subscription_json(st, s))
}

fn get_resource_group(st: &LabState, c: &Caller, sid: &str, rg: &str) -> Resp {
    let scope = format!("/subscriptions/{sid}/resourceGroups/{rg}");
    if !st
        .rbac()
        .action_allowed(&c.oid, &scope, "Microsoft.Resources/subscriptions/resourceGroups/read")
    {
        return forbidden(c, "Microsoft.Resources/subscriptions/resourceGroups/read", &scope);
    }
    let known = accounts(st)
        .into_iter()
        .find(|a| a.sub_id.eq_ignore_ascii_case(sid) && a.rg.eq_ignore_ascii_case(rg));
    match known {
        None => error(
            404,
            "ResourceGroupNotFound",
            &format!("Resource group '{rg}' could not be found."),
        ),
        Some(a) => ok(json!({
            "id": format!("/subscriptions/{}/resourceGroups/{}", a.sub_id, a.rg),
            "name": a.rg, "type": "Microsoft.Resources/resourceGroups", "location": a.location,
            "properties": {"provisioningState": "Succeeded"}
        })),
    }
}

/// The lab's account and the scenario's other accounts, flattened.
pub(crate) struct AccountRef {
    pub name: String,
    pub sub_id: String,
    pub rg: String,
    pub location: String,
    pub main: bool,
}

impl AccountRef {
    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.CognitiveServices/accounts/{}",
            self.sub_id, self.rg, self.name
        )
    }
}

pub(crate) fn accounts(st: &LabState) -> Vec<AccountRef> {
    let s = &st.scenario;
    let mut v = vec![AccountRef {
        name: s.account.name.clone(),
        sub_id: s.account_subscription().id.clone(),
        rg: s.account.resource_group.clone(),
        location: s.account.location.clone(),
        main: true,
    }];
    for (name, a) in &s.other_accounts {
        if let Ok(sub) = s.subscription(&a.subscription) {
            v.push(AccountRef {
                name: name.clone(),
                sub_id: sub.id.clone(),
                rg: a.resource_group.clone(),
                location: a.location.clone(),
                main: false,
            });
        }
    }
    v
}

pub(crate) fn account_json(st: &LabState, a: &AccountRef) -> Value {
    let s = &st.scenario;
    let (endpoint, custom, local_off, public, acls) = if a.main {
        let n = &s.account.network_acls;
        (
            st.account_endpoint(),
            s.account.name.clone(),
            s.account.disable_local_auth,
            s.account.public_network_access.clone(),
            json!({
                "defaultAction": n.default_action,
                "virtualNetworkRules": n.virtual_network_rules.iter().map(|id| json!({"id": id, "state": "Succeeded", "ignoreMissingVnetServiceEndpoint": false})).collect::<Vec<_>>(),
                "ipRules": n.ip_rules.iter().map(|ip| json!({"value": ip})).collect::<Vec<_>>(),
                "bypass": n.bypass,
            }),
        )
    } else {
        (
            format!("https://{}.openai.azure.com/", a.name),
            a.name.clone(),
            true,
            "Enabled".to_string(),
            json!({"defaultAction": "Allow", "virtualNetworkRules": [], "ipRules": []}),
        )
    };
    let created = arm_timestamp(st.started_unix - 200 * 86400);
    let mut v = json!({
        "id": a.id(),
        "name": a.name,
        "type": "Microsoft.CognitiveServices/accounts",
        "etag": format!("\"{}\"", stable_guid(&a.id())),
        "location": a.location,
        "sku": {"name": s.account.sku},
        "kind": s.account.kind,
        "tags": {},
        "identity": {"type": "None"},
        "systemData": {"createdBy": "alice@contoso.onmicrosoft.com", "createdByType": "User", "createdAt": created, "lastModifiedBy": "alice@contoso.onmicrosoft.com", "lastModifiedByType": "User", "lastModifiedAt": created},
        "properties": {
            "endpoint": endpoint,
            "internalId": stable_guid(&a.name).replace('-', ""),
            "dateCreated": created,
            "callRateLimit": {"rules": [{"key": "openai.dalle.post", "renewalPeriod": 1, "count": 30, "matchPatterns": [{"path": "dalle/*", "method": "POST"}]}]},
            "isMigrated": false,
            "networkAcls": acls,
            "privateEndpointConnections": [],
            "publicNetworkAccess": public,
            "capabilities": [{"name": "VirtualNetworks"}, {"name": "CustomerManagedKey"}, {"name": "MaxFineTuneCount", "value": "500"}],
            "customSubDomainName": custom,
            "disableLocalAuth": local_off,
            "endpoints": {
                "OpenAI Language Model Instance API": endpoint,
                "OpenAI Dall-E API": endpoint,
                "OpenAI Whisper API": endpoint,
                "OpenAI Model Scaleset API": endpoint,
                "Token Service API": endpoint,
            },
            "provisioningState": "Succeeded"
        }
    });
    if a.main && s.is_foundry() {
        super::arm_foundry::add_foundry_properties(st, &mut v);
    }
    v
}

fn list_accounts(st: &LabState, c: &Caller, scope: &str, rg: Option<&str>) -> Resp {
    let extra = rg.is_none() && is_extra(st, scope.trim_start_matches("/subscriptions/"));
    if !extra && !st.rbac().has_any_access(&c.oid, scope) {
        return forbidden(c, "Microsoft.CognitiveServices/accounts/read", scope);
    }
    let items: Vec<Value> = accounts(st)
        .iter()
        .filter(|a| super::rbac::scope_covers(scope, &a.id()))
        .filter(|a| rg.is_none_or(|rg| a.rg.eq_ignore_ascii_case(rg)))
        .filter(|a| {
            st.rbac()
                .action_allowed(&c.oid, &a.id(), "Microsoft.CognitiveServices/accounts/read")
        })
        .map(|a| account_json(st, a))
        .collect();
    ok(json!({"value": items}))
}

#[allow(clippy::too_many_arguments)]
fn account_routes(
    st: &LabState,
    c: &Caller,
    method: &Method,
    sid: &str,
    rg: &str,
    name: &str,
    rest: &[&str],
    path: &str,
) -> Resp {
    let scope =
        format!("/subscriptions/{sid}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/{name}");
    let (action, post) = match rest {
        [] => ("Microsoft.CognitiveServices/accounts/read", false),
        [d] if d.eq_ignore_ascii_case("deployments") => {
            ("Microsoft.CognitiveServices/accounts/deployments/read", false)
        }
        [d, _] if d.eq_ignore_ascii_case("deployments") => {
            ("Microsoft.CognitiveServices/accounts/deployments/read", false)
        }
        [k] if k.eq_ignore_ascii_case("listKeys") => ("Microsoft.CognitiveServices/accounts/listKeys/action", true),
        [p] | [p, _] if p.eq_ignore_ascii_case("projects") => {
            ("Microsoft.CognitiveServices/accounts/projects/read", false)
        }
        _ => {
            return error(
                404,
                "InvalidResourceType",
                &format!("The resource type could not be found for '{path}'."),
            );
        }
    };
    if post != (method == Method::POST) {
        return error(
            405,
            "MethodNotAllowed",
            &format!("The requested resource does not support http method '{method}'."),
        );
    }
    // ARM authorizes before it looks the resource up, at the resource's own scope (a
    // project's assignments count for its GET).
    let auth_scope = match rest {
        [p, project] if p.eq_ignore_ascii_case("projects") => format!("{scope}/projects/{project}"),
        _ => scope.clone(),
    };
    if !st.rbac().action_allowed(&c.oid, &auth_scope, action) {
        return forbidden(c, action, &auth_scope);
    }
    let Some(a) = accounts(st).into_iter().find(|a| a.id().eq_ignore_ascii_case(&scope)) else {
        return error(
            404,
            "ResourceNotFound",
            &format!(
                "The Resource 'Microsoft.CognitiveServices/accounts/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        );
    };
    if rest.first().is_some_and(|p| p.eq_ignore_ascii_case("projects")) {
        return super::arm_foundry::projects(st, &a.id(), a.main, (name, rg), rest.get(1).copied());
    }
    match rest {
        [] => ok(account_json(st, &a)),
        [_] if post => ok(json!({"key1": st.scenario.account.api_key, "key2": stable_guid("key2").replace('-', "")})),
        [_] => {
            let items: Vec<Value> = if a.main {
                st.scenario
                    .deployments
                    .keys()
                    .map(|n| deployment_json(st, &a, n))
                    .collect()
            } else {
                vec![]
            };
            ok(json!({"value": items}))
        }
        [_, d] => match st
            .scenario
            .deployments
            .keys()
            .find(|n| n.eq_ignore_ascii_case(d))
            .filter(|_| a.main)
        {
            Some(n) => ok(deployment_json(st, &a, n)),
            None => error(
                404,
                "DeploymentNotFound",
                &format!("The deployment '{d}' was not found for the account '{name}'."),
            ),
        },
        _ => error(404, "InvalidResourceType", "The resource type could not be found."),
    }
}

fn deployment_json(st: &LabState, a: &AccountRef, name: &str) -> Value {
    let Some(d) = st.scenario.deployments.get(name) else {
        return Value::Null;
    };
    let caps = match d.kind {
        DeploymentKind::Chat | DeploymentKind::Reasoning => {
            json!({"chatCompletion": "true", "maxContextToken": "128000", "maxOutputToken": "16384"})
        }
        DeploymentKind::Embeddings => json!({"embeddings": "true", "maxContextToken": "8192"}),
    };
    let created = arm_timestamp(st.started_unix - 30 * 86400);
    json!({
        "id": format!("{}/deployments/{name}", a.id()),
        "type": "Microsoft.CognitiveServices/accounts/deployments",
        "name": name,
        "sku": {"name": "GlobalStandard", "capacity": 50},
        "properties": {
            "model": {"format": d.format, "name": d.model, "version": d.version},
            "versionUpgradeOption": "OnceNewDefaultVersionAvailable",
            "currentCapacity": 50,
            "capabilities": caps,
            "provisioningState": "Succeeded",
            "rateLimits": [{"key": "request", "renewalPeriod": 10, "count": 50}, {"key": "token", "renewalPeriod": 60, "count": 50000}]
        },
        "systemData": {"createdBy": "alice@contoso.onmicrosoft.com", "createdByType": "User", "createdAt": created, "lastModifiedBy": "alice@contoso.onmicrosoft.com", "lastModifiedByType": "User", "lastModifiedAt": created},
        "etag": format!("\"{}\"", stable_guid(name))
    })
}
