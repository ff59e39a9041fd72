//! What every emulated service shares: the scenario, the RBAC model, the signing key, the
//! lab's own URLs and the few counters that change while it runs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::jwt::Signer;
use super::rbac::{Assignment, Rbac};
use super::scenario::{Principal, PrincipalKind, Scenario, Tenant};
use super::util::{now_unix, random_chars};

/// Base URLs without a trailing slash.
#[derive(Debug, Clone)]
pub struct Urls {
    /// Entra, ARM and the data plane as clients are given them: the loopback listeners, or
    /// under `Options::real_names` the public names the proxy routes (`proxy.rs`).
    pub entra: String,
    pub arm: String,
    pub aoai: String,
    /// Plain-HTTP managed identity listener (App Service `/msi/token`, IMDS path). Loopback
    /// in both modes: real App Service identity endpoints are loopback too, and clients
    /// never send IMDS through a proxy.
    pub mi: String,
    /// What AZURE_POD_IDENTITY_AUTHORITY_HOST points at: `mi` on hosts with IMDS, a refused
    /// port elsewhere.
    pub imds: String,
    /// Where the HTTPS services listen, always loopback: for the lab's own clients (the `az`
    /// stand-in) and the `lab serve` ready line.
    pub local: LocalUrls,
    /// `http://127.0.0.1:PORT` of the CONNECT proxy, under real names.
    pub proxy: Option<String>,
}

/// The HTTPS services' loopback base URLs (`https://127.0.0.1:PORT`).
#[derive(Debug, Clone)]
pub struct LocalUrls {
    pub entra: String,
    pub arm: String,
    pub aoai: String,
}

impl Urls {
    /// Clients are given the loopback listeners themselves.
    pub fn loopback(local: LocalUrls, mi: String, imds: String) -> Self {
        Urls {
            entra: local.entra.clone(),
            arm: local.arm.clone(),
            aoai: local.aoai.clone(),
            mi,
            imds,
            local,
            proxy: None,
        }
    }

    /// Clients are given the public names and reach them through the proxy at `proxy`:
    /// the account's `NAME.services.ai.azure.com` for a Foundry project or the model-inference
    /// route (what the portal shows for those), `NAME.openai.azure.com` otherwise (what
    /// Azure OpenAI apps are configured with, for both account kinds).
    pub fn real_names(scenario: &Scenario, local: LocalUrls, mi: String, imds: String, proxy: String) -> Self {
        let path = scenario.doctor.endpoint_path.trim_start_matches('/');
        let foundry_route = path.starts_with("api/projects/") || path == "models" || path.starts_with("models/");
        let (foundry, openai, _) = super::arm_foundry::public_endpoints(&scenario.account.name);
        let aoai = if foundry_route { foundry } else { openai };
        Urls {
            entra: format!("https://{}", super::proxy::ENTRA_HOST),
            arm: format!("https://{}", super::proxy::ARM_HOST),
            aoai: aoai.trim_end_matches('/').to_string(),
            mi,
            imds,
            local,
            proxy: Some(proxy),
        }
    }

    pub fn app_service_endpoint(&self) -> String {
        format!("{}/msi/token", self.mi)
    }
}

pub struct LabState {
    pub scenario: Scenario,
    /// The RBAC model, swapped whole when ARM creates an assignment (copy on write: readers
    /// hold a snapshot and never a lock).
    rbac: Mutex<Arc<Rbac>>,
    pub signer: Signer,
    pub urls: Urls,
    pub started_unix: i64,
    pub started: Instant,
    /// IDENTITY_HEADER of the App Service identity endpoint.
    pub identity_header: String,
    /// The refresh token the lab's `az` holds for its logged-in user.
    pub refresh_token: String,
    pub log: bool,
    pub counters: Mutex<Counters>,
    /// Requests and connections per service (`stats.rs`); `start_with` replaces it when
    /// `lab serve --stats FILE` asks for an event file.
    pub stats: std::sync::Arc<super::stats::Stats>,
    /// The empty subscriptions `[arm] subscriptions = N` adds (`arm.rs`).
    pub extra_subscriptions: Vec<super::scenario::Subscription>,
}

#[derive(Default)]
pub struct Counters {
    pub data_plane_calls: u32,
    pub rate_limited: u32,
}

impl LabState {
    pub fn new(scenario: Scenario, urls: Urls, log: bool) -> Result<Self> {
        let started_unix = now_unix();
        let rbac = Rbac::build(&scenario, started_unix)?;
        Ok(LabState {
            rbac: Mutex::new(Arc::new(rbac)),
            signer: Signer::generate()?,
            urls,
            started_unix,
            started: Instant::now(),
            identity_header: super::util::guid(),
            // Entra refresh tokens are long opaque strings starting "1.A" / "0.A".
            refresh_token: format!("1.AXkA{}", random_chars(420)),
            log,
            counters: Mutex::new(Counters::default()),
            stats: Default::default(),
            extra_subscriptions: super::arm::extra_subscriptions(&scenario),
            scenario,
        })
    }

    /// A snapshot of the RBAC model.
    pub fn rbac(&self) -> Arc<Rbac> {
        self.rbac.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds an assignment ARM just created (`arm_write.rs`); the data plane sees it only after
    /// the propagation delay.
    pub fn add_assignment(&self, a: Assignment) {
        let mut cell = self.rbac.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = Rbac::clone(&cell);
        next.assignments.push(a);
        *cell = Arc::new(next);
    }

    /// Has this assignment reached the data plane? A scenario's was created `age` seconds
    /// before the lab started, one made while the lab runs at `created_at`; either needs
    /// `propagation_delay_seconds` in total.
    pub fn effective(&self, a: &Assignment) -> bool {
        let delay = self.scenario.data_plane.propagation_delay_seconds;
        match a.created_at {
            Some(at) => at.elapsed() >= Duration::from_secs(delay),
            None => self.started.elapsed() >= Duration::from_secs(delay.saturating_sub(a.age_seconds)),
        }
    }

    pub fn tenant_by_id_or_domain(&self, key: &str) -> Option<(&str, &Tenant)> {
        self.scenario
            .tenants
            .iter()
            .find(|(_, t)| t.id.eq_ignore_ascii_case(key) || t.domain.eq_ignore_ascii_case(key))
            .map(|(h, t)| (h.as_str(), t))
    }

    pub fn tenant_id_of(&self, handle: &str) -> &str {
        self.scenario
            .tenants
            .get(handle)
            .map(|t| t.id.as_str())
            .unwrap_or_default()
    }

    pub fn principal_by_oid(&self, oid: &str) -> Option<(&str, &Principal)> {
        self.scenario
            .principals
            .iter()
            .find(|(_, p)| p.object_id.eq_ignore_ascii_case(oid))
            .map(|(h, p)| (h.as_str(), p))
    }

    /// Applications (service principals, managed identities) by client id.
    pub fn app_by_client_id(&self, client_id: &str) -> Option<(&str, &Principal)> {
        self.scenario
            .principals
            .iter()
            .find(|(_, p)| {
                matches!(p.kind, PrincipalKind::ServicePrincipal | PrincipalKind::ManagedIdentity)
                    && p.app_id.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(client_id))
            })
            .map(|(h, p)| (h.as_str(), p))
    }

    pub fn account_tenant_id(&self) -> &str {
        &self.scenario.account_tenant().id
    }

    /// The account's data-plane URL as ARM reports it in `properties.endpoint`: the lab's own
    /// URL on loopback; under real names what Azure reports for the account's kind
    /// (`NAME.cognitiveservices.azure.com` for AIServices, `NAME.openai.azure.com` for OpenAI).
    pub fn account_endpoint(&self) -> String {
        if self.urls.proxy.is_none() {
            return format!("{}/", self.urls.aoai);
        }
        let (_, openai, cognitive) = super::arm_foundry::public_endpoints(&self.scenario.account.name);
        if self.scenario.is_foundry() { cognitive } else { openai }
    }

    pub fn log(&self, service: &str, line: impl std::fmt::Display) {
        if self.log {
            eprintln!("[lab {service}] {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalUrls {
        LocalUrls {
            entra: "https://127.0.0.1:1".into(),
            arm: "https://127.0.0.1:2".into(),
            aoai: "https://127.0.0.1:3".into(),
        }
    }

    fn urls(name: &str) -> Urls {
        let s = crate::scenario::load(name).unwrap();
        Urls::real_names(
            &s,
            local(),
            "http://127.0.0.1:4".into(),
            "http://127.0.0.1:5".into(),
            "http://127.0.0.1:6".into(),
        )
    }

    #[test]
    fn real_names_follow_the_route_the_app_is_configured_with() {
        let u = urls("healthy-cli");
        assert_eq!(u.aoai, "https://contoso-aoai.openai.azure.com");
        assert_eq!(u.entra, "https://login.microsoftonline.com");
        assert_eq!(u.arm, "https://management.azure.com");
        // The lab's own clients and the proxy's routes keep the loopback listeners.
        assert_eq!(u.local.entra, "https://127.0.0.1:1");
        assert_eq!(u.proxy.as_deref(), Some("http://127.0.0.1:6"));
        assert_eq!(
            urls("healthy-foundry-project").aoai,
            "https://contoso-foundry.services.ai.azure.com"
        );
        assert!(
            urls("foundry-maas-openai-user")
                .aoai
                .ends_with(".services.ai.azure.com")
        );
        assert!(urls("healthy-v1").aoai.ends_with(".openai.azure.com"));
    }

    #[test]
    fn arm_reports_the_endpoint_azure_reports_for_the_account_kind() {
        let endpoint = |name: &str, real: bool| {
            let s = crate::scenario::load(name).unwrap();
            let u = if real {
                urls(name)
            } else {
                Urls::loopback(local(), String::new(), String::new())
            };
            LabState::new(s, u, false).unwrap().account_endpoint()
        };
        assert_eq!(endpoint("healthy-cli", true), "https://contoso-aoai.openai.azure.com/");
        assert_eq!(
            endpoint("healthy-foundry-project", true),
            "https://contoso-foundry.cognitiveservices.azure.com/"
        );
        assert_eq!(endpoint("healthy-cli", false), "https://127.0.0.1:3/");
    }
}
