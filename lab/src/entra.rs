//! Microsoft Entra ID: the v2.0 (and v1) token endpoint, OIDC discovery, instance
//! discovery and the tenant's signing keys.
//!
//! Error bodies follow the captured ones in fixtures/corpus/entra-token.json (ids in the
//! comments): `error`, `error_description` starting with `AADSTSnnn:` and ending with the
//! trace/correlation/timestamp sentence, `error_codes`, `timestamp`, `trace_id`,
//! `correlation_id`, `error_uri`. The lab uses the current one-line form (Trace ID inline,
//! as in entra-400-aadsts700016-app-not-found, 2026).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::http::{Resp, json as json_resp, q};
use super::jwt::decode_unverified;
use super::scenario::{CliState, PrincipalKind, Tenant};
use super::state::LabState;
use super::tokens::{AZURE_CLI_APP_ID, ClientAuth, Minted, known_resource, mint, resource_of_scope};
use super::util::{entra_iso, entra_timestamp, form_pairs, guid, now_unix, param};

pub fn router(state: Arc<LabState>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token_v2).get(post_only))
        .route("/{tenant}/oauth2/token", post(token_v1).get(post_only))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(oidc_v2))
        .route("/{tenant}/.well-known/openid-configuration", get(oidc_v1))
        .route("/{tenant}/discovery/instance", get(instance_discovery))
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/{tenant}/discovery/keys", get(jwks))
        .fallback(not_found)
        .with_state(state)
}

/// An Entra error: HTTP status, OAuth `error`, AADSTS number and text.
pub struct Aadsts {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub text: String,
    pub suberror: Option<&'static str>,
    pub claims: Option<String>,
}

impl Aadsts {
    pub fn new(status: u16, error: &'static str, code: u32, text: impl Into<String>) -> Self {
        Aadsts {
            status,
            error,
            code,
            text: text.into(),
            suberror: None,
            claims: None,
        }
    }

    /// The `error_description` and the ids that go with it.
    pub fn describe(&self) -> (String, String, String, String) {
        let (trace, corr, ts) = (guid(), guid(), entra_timestamp(now_unix()));
        let desc = format!(
            "AADSTS{}: {} Trace ID: {trace} Correlation ID: {corr} Timestamp: {ts}",
            self.code, self.text
        );
        (desc, trace, corr, ts)
    }

    pub fn body(&self) -> (String, String) {
        let (desc, trace, corr, ts) = self.describe();
        let mut b = format!(
            "{{\"error\":{},\"error_description\":{},\"error_codes\":[{}],\"timestamp\":{},\"trace_id\":{},\"correlation_id\":{}",
            q(self.error),
            q(&desc),
            self.code,
            q(&ts),
            q(&trace),
            q(&corr)
        );
        if let Some(s) = self.suberror {
            b.push_str(&format!(",\"suberror\":{}", q(s)));
        }
        if let Some(c) = &self.claims {
            b.push_str(&format!(",\"claims\":{}", q(c)));
        }
        b.push_str(&format!(
            ",\"error_uri\":\"https://login.microsoftonline.com/error?code={}\"}}",
            self.code
        ));
        (b, trace)
    }

    pub fn response(&self) -> Resp {
        let (body, trace) = self.body();
        json_resp(self.status, body, &headers(&trace))
    }
}

/// Headers of a token endpoint answer (entra-400-aadsts70043-token-endpoint-headers);
/// `x-ms-request-id` equals the trace id.
fn headers(trace: &str) -> Vec<(&'static str, String)> {
    vec![
        ("cache-control", "no-store, no-cache".into()),
        ("pragma", "no-cache".into()),
        ("expires", "-1".into()),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains".into(),
        ),
        ("x-content-type-options", "nosniff".into()),
        ("p3p", "CP=\"DSP CUR OTPi IND OTRi ONL FIN\"".into()),
        ("x-ms-request-id", trace.to_string()),
        ("x-ms-ests-server", "2.1.21874.6 - EUS ProdSlices".into()),
        ("x-xss-protection", "0".into()),
    ]
}

pub fn tenant_not_found(t: &str) -> Aadsts {
    // entra-400-aadsts90002-tenant-placeholder-not-found
    Aadsts::new(
        400,
        "invalid_tenant",
        90002,
        format!(
            "Tenant '{t}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    )
}

fn missing_param(p: &str) -> Aadsts {
    Aadsts::new(
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{p}'."),
    )
}

fn resource_not_found(resource: &str, tenant: &Tenant) -> Aadsts {
    // entra-400-aadsts500011-resource-not-in-tenant
    Aadsts::new(
        400,
        "invalid_resource",
        500011,
        format!(
            "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
            tenant.id
        ),
    )
}

async fn post_only() -> Resp {
    Aadsts::new(
        400,
        "invalid_request",
        900561,
        "The endpoint only accepts POST, OPTIONS requests. Received a GET request.",
    )
    .response()
}

async fn not_found() -> Resp {
    super::http::respond(404, "text/html; charset=utf-8", String::new(), &[])
}

/// How the request names what it wants a token for.
enum Wanted<'a> {
    /// v2: space-separated scopes.
    Scope(Option<&'a str>),
    /// v1: a resource.
    Resource(Option<&'a str>),
}

async fn token_v2(State(st): State<Arc<LabState>>, Path(tenant): Path<String>, body: Bytes) -> Resp {
    let form = form_pairs(&body);
    let r = token(&st, &tenant, &form, Wanted::Scope(param(&form, "scope")));
    finish(&st, r, false)
}

async fn token_v1(State(st): State<Arc<LabState>>, Path(tenant): Path<String>, body: Bytes) -> Resp {
    let form = form_pairs(&body);
    let r = token(&st, &tenant, &form, Wanted::Resource(param(&form, "resource")));
    finish(&st, r, true)
}

struct Issued {
    minted: Minted,
    resource: String,
    scope: String,
    refresh_token: Option<String>,
}

fn finish(st: &LabState, r: Result<Issued, Aadsts>, v1: bool) -> Resp {
    match r {
        Err(e) => {
            st.log("entra", format!("token -> {} AADSTS{}", e.status, e.code));
            e.response()
        }
        Ok(i) => {
            st.log("entra", "token -> 200");
            let n = i.minted.expires_in();
            let body = if v1 {
                // The v1 endpoint sends numbers as strings.
                json!({
                    "token_type": "Bearer", "expires_in": n.to_string(),
                    "ext_expires_in": n.to_string(), "expires_on": i.minted.exp.to_string(),
                    "not_before": i.minted.iat.to_string(), "resource": i.resource,
                    "access_token": i.minted.token,
                })
            } else {
                let mut b = json!({
                    "token_type": "Bearer", "expires_in": n, "ext_expires_in": n,
                    "access_token": i.minted.token,
                });
                if let Some(rt) = i.refresh_token {
                    b["scope"] = json!(i.scope);
                    b["refresh_token"] = json!(rt);
                    b["foci"] = json!("1");
                }
                b
            };
            json_resp(200, body.to_string(), &headers(&guid()))
        }
    }
}

fn token(st: &LabState, tenant: &str, form: &[(String, String)], wanted: Wanted) -> Result<Issued, Aadsts> {
    let Some((_, t)) = st.tenant_by_id_or_domain(tenant) else {
        return Err(tenant_not_found(tenant));
    };
    let grant = param(form, "grant_type").ok_or_else(|| missing_param("grant_type"))?;
    let client_id = param(form, "client_id").ok_or_else(|| missing_param("client_id"))?;
    match grant {
        "client_credentials" => client_credentials(st, t, client_id, form, wanted),
        "refresh_token" => refresh(st, t, client_id, form, wanted),
        other => Err(Aadsts::new(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

/// The resource a request is for, or the AADSTS error Entra gives for its scope.
fn resource(t: &Tenant, wanted: &Wanted, app_only: bool) -> Result<(String, String), Aadsts> {
    let (resource, scope) = match wanted {
        Wanted::Resource(None) => return Err(missing_param("resource")),
        Wanted::Resource(Some(r)) => (r.to_string(), format!("{r}/.default")),
        Wanted::Scope(None) => {
            // entra-400-aadsts70011-invalid-scope-truncated
            return Err(Aadsts::new(
                400,
                "invalid_scope",
                70011,
                "The provided request must include a 'scope' input parameter.",
            ));
        }
        Wanted::Scope(Some(s)) => {
            let scopes: Vec<&str> = s
                .split_whitespace()
                .filter(|x| !matches!(x.to_ascii_lowercase().as_str(), "openid" | "profile" | "offline_access"))
                .collect();
            let [one] = scopes.as_slice() else {
                return Err(Aadsts::new(
                    400,
                    "invalid_scope",
                    70011,
                    format!(
                        "The provided value for the input parameter 'scope' is not valid. The scope {s} is not valid."
                    ),
                ));
            };
            match resource_of_scope(one) {
                Some(r) => (r, one.to_string()),
                None if app_only => {
                    return Err(Aadsts::new(
                        400,
                        "invalid_scope",
                        1002012,
                        format!(
                            "The provided value for scope {one} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                        ),
                    ));
                }
                // Delegated scopes name a permission of the resource: RESOURCE/permission.
                None => match one.rsplit_once('/') {
                    Some((r, p)) if !r.is_empty() && !p.is_empty() && r.contains("://") => {
                        (r.to_string(), one.to_string())
                    }
                    _ => {
                        return Err(Aadsts::new(
                            400,
                            "invalid_scope",
                            70011,
                            format!(
                                "The provided value for the input parameter 'scope' is not valid. The scope {one} is not valid."
                            ),
                        ));
                    }
                },
            }
        }
    };
    if !known_resource(&resource) {
        return Err(resource_not_found(&resource, t));
    }
    Ok((resource, scope))
}

fn client_credentials(
    st: &LabState,
    t: &Tenant,
    client_id: &str,
    form: &[(String, String)],
    wanted: Wanted,
) -> Result<Issued, Aadsts> {
    let app = st
        .app_by_client_id(client_id)
        .map(|(_, p)| p)
        .filter(|p| st.tenant_id_of(&p.tenant).eq_ignore_ascii_case(&t.id));
    let Some(app) = app else {
        // entra-400-aadsts700016-app-not-found
        return Err(Aadsts::new(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                t.display_name
            ),
        ));
    };
    let auth = if let Some(secret) = param(form, "client_secret") {
        let good = app.kind == PrincipalKind::ServicePrincipal && app.secret.as_deref() == Some(secret);
        if !good {
            // entra-401-aadsts7000215-invalid-client-secret
            return Err(Aadsts::new(
                401,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            ));
        }
        if app.secret_expires_in_days.is_some_and(|d| d < 0) {
            // entra-401-aadsts7000222-client-secret-expired
            return Err(Aadsts::new(
                401,
                "invalid_client",
                7000222,
                format!(
                    "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
                ),
            ));
        }
        ClientAuth::Secret
    } else if let Some(assertion) = param(form, "client_assertion") {
        if param(form, "client_assertion_type") != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
            return Err(missing_param("client_assertion_type"));
        }
        federated(st, app, assertion)?;
        ClientAuth::Assertion
    } else {
        return Err(Aadsts::new(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    let (resource, scope) = resource(t, &wanted, true)?;
    let minted = mint(st, app, &t.id, &resource, auth).map_err(internal)?;
    Ok(Issued {
        minted,
        resource,
        scope,
        refresh_token: None,
    })
}

/// Workload identity federation: the assertion must match one of the app's federated
/// credentials (issuer, subject, audience), be within its lifetime and be signed by the
/// issuer (the lab signs the projected service-account token with its own key, which
/// stands in for the cluster's OIDC keys).
fn federated(st: &LabState, app: &super::scenario::Principal, assertion: &str) -> Result<(), Aadsts> {
    let Some((_, c)) = decode_unverified(assertion) else {
        return Err(Aadsts::new(
            400,
            "invalid_request",
            50027,
            "JWT token is invalid or malformed.",
        ));
    };
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let (iss, sub) = (s("iss"), s("sub"));
    let auds: Vec<String> = match c.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => vec![],
    };
    let matched = app
        .federated_credentials
        .iter()
        .any(|f| f.issuer == iss && f.subject == sub && auds.contains(&f.audience));
    if !matched {
        // entra-400-aadsts70021-no-federated-identity-record
        return Err(Aadsts::new(
            400,
            "invalid_request",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation",
                auds.join(",")
            ),
        ));
    }
    let now = now_unix();
    let num = |k: &str| c.get(k).and_then(Value::as_i64).unwrap_or(0);
    let (nbf, exp) = (num("nbf").max(num("iat")), num("exp"));
    if exp < now || nbf > now + 300 {
        // entra-401-aadsts700024-client-assertion-expired
        return Err(Aadsts::new(
            401,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .",
                entra_iso(now),
                entra_iso(nbf),
                entra_iso(exp)
            ),
        ));
    }
    if st.signer.verify(assertion).is_err() {
        return Err(Aadsts::new(
            401,
            "invalid_client",
            700027,
            "Client assertion failed signature validation.",
        ));
    }
    Ok(())
}

/// What the lab's `az` does with its MSAL cache: redeem the refresh token.
fn refresh(
    st: &LabState,
    t: &Tenant,
    client_id: &str,
    form: &[(String, String)],
    wanted: Wanted,
) -> Result<Issued, Aadsts> {
    let rt = param(form, "refresh_token").ok_or_else(|| missing_param("refresh_token"))?;
    if rt != st.refresh_token || !client_id.eq_ignore_ascii_case(AZURE_CLI_APP_ID) {
        return Err(Aadsts::new(
            400,
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid.",
        ));
    }
    let cli = &st.scenario.cli;
    let user = cli
        .principal
        .as_deref()
        .and_then(|h| st.scenario.principals.get(h))
        .ok_or_else(|| {
            Aadsts::new(
                400,
                "invalid_grant",
                9002313,
                "Invalid request. Request is malformed or invalid.",
            )
        })?;
    match cli.state {
        CliState::RefreshExpired => {
            // entra-400-aadsts700082-refresh-token-inactive
            return Err(Aadsts::new(
                400,
                "invalid_grant",
                700082,
                format!(
                    "The refresh token has expired due to inactivity. The token was issued on {} and was inactive for 90.00:00:00.",
                    entra_iso(st.started_unix - 95 * 86400)
                ),
            ));
        }
        CliState::ConditionalAccess => {
            // cli-aadsts53003-ca-blocked-codespace; the claims challenge names the policy.
            let mut e = Aadsts::new(
                400,
                "invalid_grant",
                53003,
                "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
            );
            e.suberror = Some("message_only");
            e.claims = Some(format!(
                "{{\"access_token\":{{\"capolids\":{{\"essential\":true,\"values\":[\"{}\"]}}}}}}",
                super::util::stable_guid("ca-policy")
            ));
            return Err(e);
        }
        _ => {}
    }
    let member = st.tenant_id_of(&user.tenant).eq_ignore_ascii_case(&t.id)
        || user
            .guest_of
            .iter()
            .any(|g| st.tenant_id_of(g).eq_ignore_ascii_case(&t.id));
    if !member {
        let home = st.tenant_id_of(&user.tenant);
        return Err(Aadsts::new(
            400,
            "invalid_grant",
            50020,
            format!(
                "User account '{}' from identity provider 'https://sts.windows.net/{home}/' does not exist in tenant '{}' and cannot access the application '{AZURE_CLI_APP_ID}'(Microsoft Azure CLI) in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Azure Active Directory user account.",
                user.upn.as_deref().unwrap_or_default(),
                t.display_name
            ),
        ));
    }
    let (resource, scope) = resource(t, &wanted, false)?;
    let minted = mint(st, user, &t.id, &resource, ClientAuth::PublicClient).map_err(internal)?;
    Ok(Issued {
        minted,
        resource,
        scope,
        refresh_token: Some(st.refresh_token.clone()),
    })
}

fn internal(e: anyhow::Error) -> Aadsts {
    Aadsts::new(500, "server_error", 90010, format!("Internal error: {e}"))
}

/// Known tenant, or one of the multi-tenant aliases discovery accepts.
fn discovery_tenant<'a>(st: &'a LabState, tenant: &str) -> Result<Option<&'a Tenant>, Aadsts> {
    if matches!(
        tenant.to_ascii_lowercase().as_str(),
        "common" | "organizations" | "consumers"
    ) {
        return Ok(None);
    }
    st.tenant_by_id_or_domain(tenant)
        .map(|(_, t)| Some(t))
        .ok_or_else(|| tenant_not_found(tenant))
}

fn oidc(st: &LabState, tenant: &str, v2: bool) -> Resp {
    let t = match discovery_tenant(st, tenant) {
        Ok(t) => t,
        Err(e) => return e.response(),
    };
    let tid = t.map(|t| t.id.clone()).unwrap_or_else(|| "{tenantid}".into());
    let path_tid = t.map(|t| t.id.clone()).unwrap_or_else(|| tenant.to_string());
    let h = &st.urls.entra;
    let (v, issuer) = if v2 {
        ("/v2.0", format!("{h}/{tid}/v2.0"))
    } else {
        ("", format!("https://sts.windows.net/{tid}/"))
    };
    let ep = |p: &str| format!("{h}/{path_tid}/oauth2{}/{p}", if v2 { "/v2.0" } else { "" });
    let body = json!({
        "token_endpoint": ep("token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{h}/{path_tid}/discovery{v}/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{h}/oidc/userinfo"),
        "authorization_endpoint": ep("authorize"),
        "device_authorization_endpoint": ep("devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": ep("logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{h}/{path_tid}/kerberos"),
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    });
    json_resp(200, body.to_string(), &headers(&guid()))
}

async fn oidc_v2(State(st): State<Arc<LabState>>, Path(tenant): Path<String>) -> Resp {
    st.log("entra", format!("GET /{tenant}/v2.0/.well-known/openid-configuration"));
    oidc(&st, &tenant, true)
}

async fn oidc_v1(State(st): State<Arc<LabState>>, Path(tenant): Path<String>) -> Resp {
    oidc(&st, &tenant, false)
}

async fn instance_discovery(State(st): State<Arc<LabState>>, Path(tenant): Path<String>) -> Resp {
    let host = st.urls.entra.trim_start_matches("https://").to_string();
    let body = json!({
        "tenant_discovery_endpoint": format!("{}/{tenant}/v2.0/.well-known/openid-configuration", st.urls.entra),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    });
    json_resp(200, body.to_string(), &headers(&guid()))
}

async fn jwks(State(st): State<Arc<LabState>>, Path(tenant): Path<String>) -> Resp {
    match discovery_tenant(&st, &tenant) {
        Err(e) => e.response(),
        Ok(t) => {
            let iss = t.map(|t| format!("{}/{}/v2.0", st.urls.entra, t.id));
            json_resp(200, st.signer.jwks(iss.as_deref()).to_string(), &headers(&guid()))
        }
    }
}
