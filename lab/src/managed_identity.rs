//! Managed identity endpoints on plain HTTP (as on Azure, where they are host-local):
//! - App Service / Functions / Container Apps: `GET $IDENTITY_ENDPOINT?api-version=2019-08-01&resource=…`
//!   with `X-IDENTITY-HEADER`; answers `expires_on` as an epoch string
//!   (corpus managed-identity.json mi-appservice-2019-08-01-200), errors in Kestrel's
//!   camelCase shape (mi-appservice-400-unable-to-load-identity).
//! - IMDS: `GET /metadata/identity/oauth2/token` with `Metadata: true`; every number is a
//!   string (mi-imds-200-real-2025), errors are OAuth-style (mi-imds-400-identity-not-found).

// Handlers return their early answers through `Result<_, Response>`; boxing buys nothing.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::json;

use super::entra::Aadsts;
use super::http::{Resp, header, json as json_resp, q};
use super::scenario::{MiType, Principal};
use super::state::LabState;
use super::tokens::{ClientAuth, known_resource, mint};
use super::util::{form_pairs, guid, http_date, now_unix, param};

pub fn router(state: Arc<LabState>) -> Router {
    Router::new()
        .route("/msi/token", get(app_service))
        .route("/metadata/identity/oauth2/token", get(imds))
        // msal-node (JavaScript) asks for the IMDS path with a trailing slash; IMDS answers it.
        .route("/msi/token/", get(app_service))
        .route("/metadata/identity/oauth2/token/", get(imds))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(State(st): State<Arc<LabState>>, uri: axum::http::Uri) -> Resp {
    st.log("managed-identity", format!("GET {} -> 404", uri.path()));
    super::http::respond(404, "", String::new(), &[])
}

/// IMDS answers carry `Server: IMDS/<version>` (mi-imds-400-identity-not-found-with-headers).
fn imds_headers() -> Vec<(&'static str, String)> {
    vec![
        ("server", "IMDS/150.870.65.1544".into()),
        ("date", http_date(now_unix())),
    ]
}

fn imds_error(error: &str, description: &str) -> Resp {
    let body = format!("{{\"error\":{},\"error_description\":{}}}", q(error), q(description));
    json_resp(400, body, &imds_headers())
}

fn kestrel_error(status: u16, message: &str) -> Resp {
    let body = format!(
        "{{\"statusCode\":{status},\"message\":{},\"correlationId\":{}}}",
        q(message),
        q(&guid())
    );
    json_resp(
        status,
        body,
        &[
            ("server", "Kestrel".into()),
            ("x-correlation-id", guid()),
            ("date", http_date(now_unix())),
        ],
    )
}

/// Which attached identity a request names (client id, object id or resource id), or the
/// default one when it names none.
enum Pick<'a> {
    Found(&'a Principal),
    NotFound,
    /// Several user-assigned identities and none named.
    NoDefault,
}

fn pick<'a>(st: &'a LabState, query: &[(String, String)]) -> Pick<'a> {
    let attached: Vec<&Principal> = st
        .scenario
        .host
        .managed_identities
        .iter()
        .filter_map(|h| st.scenario.principals.get(h))
        .collect();
    let eq = |a: Option<&String>, b: &str| a.is_some_and(|a| a.eq_ignore_ascii_case(b));
    for (k, v) in query {
        let hit = match k.as_str() {
            "client_id" => attached.iter().find(|p| eq(p.app_id.as_ref(), v)),
            "object_id" | "principal_id" => attached.iter().find(|p| p.object_id.eq_ignore_ascii_case(v)),
            "msi_res_id" | "mi_res_id" => attached.iter().find(|p| eq(p.resource_id.as_ref(), v)),
            _ => continue,
        };
        return hit.map_or(Pick::NotFound, |p| Pick::Found(p));
    }
    if let Some(p) = attached.iter().find(|p| p.mi_type == Some(MiType::System)) {
        return Pick::Found(p);
    }
    let user: Vec<&&Principal> = attached.iter().filter(|p| p.mi_type == Some(MiType::User)).collect();
    match user.as_slice() {
        [one] => Pick::Found(one),
        [] => Pick::NotFound,
        _ => Pick::NoDefault,
    }
}

/// Mint for the identity, or pass Entra's AADSTS500011 through for an unknown resource
/// (mi-imds-400-invalid-resource-passthrough).
fn issue(st: &LabState, p: &Principal, resource: &str) -> Result<(String, i64, i64), Resp> {
    let tenant = st
        .scenario
        .tenants
        .get(&p.tenant)
        .map(|t| t.id.clone())
        .unwrap_or_default();
    if !known_resource(resource) {
        let e = Aadsts::new(
            400,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        );
        return Err(json_resp(400, e.body().0, &imds_headers()));
    }
    mint(st, p, &tenant, resource, ClientAuth::ManagedIdentity)
        .map(|m| (m.token, m.iat, m.exp))
        .map_err(|_| imds_error("server_error", "token issuance failed"))
}

async fn imds(State(st): State<Arc<LabState>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    let query = form_pairs(raw.unwrap_or_default().as_bytes());
    let r = imds_inner(&st, &headers, &query);
    st.log(
        "imds",
        format!("GET /metadata/identity/oauth2/token -> {}", r.status().as_u16()),
    );
    r
}

fn imds_inner(st: &LabState, headers: &HeaderMap, query: &[(String, String)]) -> Resp {
    if !header(headers, "metadata").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return imds_error("invalid_request", "Required metadata header not specified");
    }
    if param(query, "api-version").is_none() {
        return imds_error("invalid_request", "Required query variable 'api-version' is missing");
    }
    let Some(resource) = param(query, "resource") else {
        return imds_error("invalid_request", "Required query variable 'resource' is missing");
    };
    let p = match pick(st, query) {
        Pick::Found(p) => p,
        Pick::NotFound => return imds_error("invalid_request", "Identity not found"),
        // Real IMDS text, captured in Hexadite/acs-keyvault-agent#43 (Server: IMDS/150.870.65.512).
        Pick::NoDefault => {
            return imds_error(
                "invalid_request",
                "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
            );
        }
    };
    match issue(st, p, resource) {
        Err(r) => r,
        Ok((token, iat, exp)) => {
            let n = (exp - now_unix()).to_string();
            let body = json!({
                "access_token": token,
                "client_id": p.app_id,
                "expires_in": n,
                "expires_on": exp.to_string(),
                "ext_expires_in": n,
                "not_before": iat.to_string(),
                "resource": resource,
                "token_type": "Bearer",
            });
            json_resp(200, body.to_string(), &imds_headers())
        }
    }
}

async fn app_service(State(st): State<Arc<LabState>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    let query = form_pairs(raw.unwrap_or_default().as_bytes());
    let r = app_service_inner(&st, &headers, &query);
    st.log(
        "identity-endpoint",
        format!("GET /msi/token -> {}", r.status().as_u16()),
    );
    r
}

fn app_service_inner(st: &LabState, headers: &HeaderMap, query: &[(String, String)]) -> Resp {
    if !st.scenario.host.kind.has_identity_endpoint() {
        return super::http::respond(404, "", String::new(), &[]);
    }
    // The shape is the endpoint's (Kestrel, camelCase); the texts of the header and
    // parameter errors were not captured anywhere, so they stay plain.
    if header(headers, "x-identity-header") != Some(st.identity_header.as_str()) {
        return kestrel_error(
            401,
            "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
        );
    }
    match param(query, "api-version") {
        Some("2019-08-01") => {}
        Some(v) => return kestrel_error(400, &format!("The api-version '{v}' is not supported. Use 2019-08-01.")),
        None => return kestrel_error(400, "The api-version parameter is required."),
    }
    let Some(resource) = param(query, "resource") else {
        return kestrel_error(400, "The resource parameter is required.");
    };
    let p = match pick(st, query) {
        Pick::Found(p) => p,
        // mi-appservice-400-unable-to-load-identity: unknown id, or only user-assigned
        // identities and none named.
        _ => return kestrel_error(400, "Unable to load the proper Managed Identity."),
    };
    match issue(st, p, resource) {
        Err(r) => r,
        Ok((token, _, exp)) => {
            let body = json!({
                "access_token": token,
                "expires_on": exp.to_string(),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": p.app_id,
            });
            json_resp(
                200,
                body.to_string(),
                &[("server", "Kestrel".into()), ("date", http_date(now_unix()))],
            )
        }
    }
}
