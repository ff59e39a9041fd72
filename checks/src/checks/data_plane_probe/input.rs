//! What the judge reads besides the outcome: the request, the run, the token's claims, the
//! role check's details, and the names commands need (the account, its resource group).

use super::gather::ProbeRun;
use super::wait::short_duration;
use crate::azure::dataplane::ProbeRequest;
use crate::context::{ProbeKind, RunContext};
use crate::diagnose::jwt::{Claims, JwtError};
use crate::diagnose::rbac::is_guid;
use crate::facts::{Facts, RoleFacts};
use std::time::Duration;

/// Everything the judge looks at.
pub struct Input<'a> {
    pub request: &'a ProbeRequest,
    pub kind: ProbeKind,
    pub deployment: Option<&'a str>,
    pub run: &'a ProbeRun,
    /// The claims of the token that was sent (never the token).
    pub decoded: Result<&'a Claims, &'a JwtError>,
    /// What the role check learned besides its verdict (the principal, the resource's
    /// tenant, the data action), for the wording; the verdict itself is `run.role_verdict`.
    pub roles: Option<&'a RoleFacts>,
    pub resource: ResourceNames,
    pub audience_resource: &'a str,
    /// The surface the call went to (decides the data action and the role to recommend).
    pub surface: &'a crate::surface::Surface,
    pub scope: &'a str,
    pub now: i64,
    pub wait: Duration,
}

impl Input<'_> {
    pub(super) fn what(&self) -> String {
        match (self.kind, self.deployment) {
            (ProbeKind::Chat, Some(d)) => format!("chat completion on `{d}`"),
            (ProbeKind::Responses, Some(d)) => format!("response on `{d}`"),
            (ProbeKind::Embeddings, Some(d)) => format!("embeddings on `{d}`"),
            (ProbeKind::Models, _) => "models list".to_string(),
            _ => "call".to_string(),
        }
    }
    pub(super) fn after_wait(&self) -> String {
        match self.run.waited {
            Some(w) => format!(" after {}", short_duration(w)),
            None => String::new(),
        }
    }
    pub(super) fn principal(&self, from_body: Option<&str>) -> Principal {
        let claims = self.decoded.ok();
        let oid = from_body
            .filter(|p| is_guid(p))
            .map(str::to_string)
            .or_else(|| self.roles.and_then(|r| r.principal_id.clone()))
            .or_else(|| claims.and_then(|c| c.oid.clone()));
        let kind = match claims.and_then(|c| c.idtyp.as_deref()) {
            Some("app") => Some("ServicePrincipal"),
            Some("user") => Some("User"),
            _ if claims.is_some_and(|c| c.upn.is_some() || c.preferred_username.is_some()) => Some("User"),
            _ if claims.is_some_and(|c| c.appid.is_some() || c.azp.is_some())
                && claims.is_some_and(|c| c.upn.is_none()) =>
            {
                Some("ServicePrincipal")
            }
            _ => None,
        };
        Principal {
            describe: claims.map(Claims::principal_summary).unwrap_or_else(|| match &oid {
                Some(o) => format!("principal {o}"),
                None => "the principal".to_string(),
            }),
            oid,
            kind,
        }
    }
}

pub(super) struct Principal {
    pub describe: String,
    pub oid: Option<String>,
    pub kind: Option<&'static str>,
}

impl Principal {
    pub(super) fn short(&self) -> String {
        self.oid
            .clone()
            .map(|o| format!("principal {o}"))
            .unwrap_or_else(|| "the principal".into())
    }
}

/// The account and resource group, for commands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceNames {
    pub resource_id: Option<String>,
    pub account: Option<String>,
    pub resource_group: Option<String>,
}

impl ResourceNames {
    /// From the role check's resource id (else `--resource-id`), the account falling back to
    /// the endpoint's subdomain.
    pub fn find(ctx: &RunContext, facts: &Facts) -> Self {
        let id = facts
            .roles
            .as_ref()
            .and_then(|r| r.resource_id.clone())
            .or_else(|| ctx.target.resource_id.clone());
        let mut names = id.as_deref().map(Self::from_id).unwrap_or_default();
        if names.account.is_none() {
            names.account = facts.endpoint.as_ref().and_then(|e| e.subdomain.clone());
        }
        names.resource_id = id;
        names
    }

    /// `/subscriptions/S/resourceGroups/RG/providers/Microsoft.CognitiveServices/accounts/NAME`.
    pub fn from_id(id: &str) -> Self {
        let parts: Vec<&str> = id.split('/').collect();
        let after = |key: &str| {
            parts
                .windows(2)
                .find(|w| w[0].eq_ignore_ascii_case(key))
                .map(|w| w[1].to_string())
                .filter(|s| !s.is_empty())
        };
        ResourceNames {
            resource_id: Some(id.to_string()),
            account: after("accounts"),
            resource_group: after("resourceGroups"),
        }
    }
    pub(super) fn rg(&self) -> &str {
        self.resource_group.as_deref().unwrap_or("YOUR-RG")
    }
    pub(super) fn name(&self) -> &str {
        self.account.as_deref().unwrap_or("YOUR-RESOURCE")
    }
    pub(super) fn scope(&self) -> String {
        self.resource_id.clone().unwrap_or_else(|| {
            format!(
                "$(az cognitiveservices account show -n {} -g {} --query id -o tsv)",
                self.name(),
                self.rg()
            )
        })
    }
}

/// `Tue, 15 Nov 1994 08:12:31 GMT` → unix seconds.
pub fn parse_http_date(v: &str) -> Option<i64> {
    let t = v.trim();
    let t = t
        .strip_suffix("GMT")
        .or_else(|| t.strip_suffix("UTC"))
        .map(|s| format!("{}+0000", s))
        .unwrap_or_else(|| t.to_string());
    time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc2822)
        .ok()
        .map(|d| d.unix_timestamp())
}
