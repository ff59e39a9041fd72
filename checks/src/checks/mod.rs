//! One file per check. A check never calls another check: shared facts go through the
//! runner, shared I/O through `crate::azure`.

use crate::context::RunContext;
use crate::facts::{Fact, Facts};
use crate::model::Judgement;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

pub mod azure_cli;
pub mod container_credentials;
pub mod credential_chain;
pub mod data_plane_probe;
pub mod endpoint;
pub mod environment;
pub mod role_assignment;
pub mod token;
pub mod token_claims;

/// What a check returns: its judgement and the facts it learned.
#[derive(Debug)]
pub struct Outcome {
    pub judgement: Judgement,
    pub facts: Facts,
}

impl Outcome {
    pub fn new(judgement: Judgement) -> Self {
        Outcome {
            judgement,
            facts: Facts::default(),
        }
    }
    pub fn with_facts(judgement: Judgement, facts: Facts) -> Self {
        Outcome { judgement, facts }
    }
}

/// One question the doctor answers. `run` gathers through `crate::azure` and hands what it
/// saw to a pure judge.
#[async_trait]
pub trait Check: Send + Sync {
    /// Stable kebab-case id, used by `--only`/`--skip` and in every output.
    fn id(&self) -> &'static str;
    /// Short title for people.
    fn title(&self) -> &'static str;
    /// Facts it learns and hands to later checks (the runner derives each fact's producer
    /// from these).
    fn provides(&self) -> &'static [Fact] {
        &[]
    }
    /// Facts that must exist before it runs; missing ones make it `skip`.
    fn needs(&self) -> &'static [Fact] {
        &[]
    }
    /// Facts it uses when they exist: it waits for their checks when those run, but is not
    /// skipped when they are missing.
    fn after(&self) -> &'static [Fact] {
        &[]
    }
    /// Facts it awaits on some paths only (`Facts::await_fact`), while their checks run beside
    /// it: `--only` brings those checks along, but the runner does not hold this one back.
    fn awaits(&self) -> &'static [Fact] {
        &[]
    }
    /// Its time limit; the probe asks for more while it waits for role propagation.
    fn timeout(&self, ctx: &RunContext) -> Duration {
        ctx.timeouts.check
    }
    async fn run(&self, ctx: &RunContext, facts: &Facts) -> Outcome;
}

/// Every check, in report order.
pub fn all() -> Vec<Arc<dyn Check>> {
    vec![
        Arc::new(endpoint::EndpointCheck),
        Arc::new(environment::EnvironmentCheck),
        Arc::new(azure_cli::AzureCliCheck),
        Arc::new(credential_chain::CredentialChainCheck),
        Arc::new(token::TokenCheck),
        Arc::new(token_claims::TokenClaimsCheck),
        Arc::new(container_credentials::ContainerCredentialsCheck),
        Arc::new(role_assignment::RoleAssignmentCheck),
        Arc::new(data_plane_probe::DataPlaneProbeCheck),
    ]
}

/// The id of the check that provides `fact`, among every check.
pub fn producer_of(fact: Fact) -> Option<&'static str> {
    all().iter().find(|c| c.provides().contains(&fact)).map(|c| c.id())
}

/// `fact.producer()`: the check that provides it, derived from the checks' `provides()`.
pub trait ProducedBy {
    fn producer(self) -> &'static str;
}

impl ProducedBy for Fact {
    fn producer(self) -> &'static str {
        producer_of(self).unwrap_or("no check")
    }
}

/// The ids of every check, in report order (for `--only`/`--skip` validation and `--help`).
pub fn ids() -> Vec<&'static str> {
    all().iter().map(|c| c.id()).collect()
}

/// The checks a run should execute: `only` (plus what they need, transitively) minus `skip`,
/// in report order. Unknown ids are rejected by the CLI before this is called.
pub fn select(only: &[String], skip: &[String]) -> Vec<Arc<dyn Check>> {
    let every = all();
    let mut wanted: Vec<&'static str> = if only.is_empty() {
        every.iter().map(|c| c.id()).collect()
    } else {
        every
            .iter()
            .filter(|c| only.iter().any(|o| o == c.id()))
            .map(|c| c.id())
            .collect()
    };
    // A selected check brings the checks that provide its inputs (and those whose facts it
    // uses when present), so `--only token-claims` still has a token to look at.
    loop {
        let before = wanted.len();
        for c in &every {
            if wanted.contains(&c.id()) {
                for f in c.needs().iter().chain(c.after()).chain(c.awaits()) {
                    let producers = every.iter().filter(|p| p.provides().contains(f));
                    for p in producers {
                        if !wanted.contains(&p.id()) {
                            wanted.push(p.id());
                        }
                    }
                }
            }
        }
        if wanted.len() == before {
            break;
        }
    }
    every
        .into_iter()
        .filter(|c| wanted.contains(&c.id()) && !skip.iter().any(|s| s == c.id()))
        .collect()
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::context::*;
    use std::sync::Arc;

    /// A context whose endpoints are all on loopback ports nobody listens on.
    pub fn context() -> RunContext {
        context_with(FakeEnvironment::new(), None)
    }

    pub fn context_with(env: FakeEnvironment, endpoint: Option<&str>) -> RunContext {
        RunContext {
            target: Target {
                endpoint: endpoint.map(|e| url::Url::parse(e).expect("test endpoint")),
                deployment: Some("gpt-4o-mini".into()),
                endpoint_source: None,
                api_version: "2024-10-21".into(),
                resource_id: None,
                scope: Cloud::AzureCloud.default_scope(),
                cloud: Cloud::AzureCloud,
                credential: CredentialChoice::Auto,
                sdk: Sdk::Python,
                assignee: None,
                container: None,
                probe: ProbeKind::Chat,
                wait_for_propagation: std::time::Duration::ZERO,
                expected_principal: None,
            },
            endpoints: Endpoints {
                authority_host: url::Url::parse("https://127.0.0.1:9/").unwrap(),
                arm: url::Url::parse("https://127.0.0.1:9/").unwrap(),
                imds: url::Url::parse("http://127.0.0.1:9/").unwrap(),
            },
            timeouts: Timeouts::default(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            env: Arc::new(env),
            clock: Arc::new(|| 1_767_225_600),
            resolves: vec![],
            extra_roots_pem: None,
            progress: Arc::new(NoProgress),
            az_tokens: Default::default(),
            early: Default::default(),
            imds_http: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_in_report_order() {
        let ids = ids();
        // A set, not `dedup` (which only drops adjacent repeats of an unsorted list).
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(ids.len(), distinct.len(), "a check id repeats: {ids:?}");
        assert_eq!(ids[0], "endpoint");
    }

    #[test]
    fn every_fact_has_exactly_one_producer_that_comes_before_its_consumers() {
        use crate::facts::Fact::*;
        let every = all();
        for fact in [Endpoint, Environment, CliState, Credential, AccessToken, Claims, Roles] {
            let producers: Vec<_> = every.iter().filter(|c| c.provides().contains(&fact)).collect();
            assert_eq!(producers.len(), 1, "{fact:?}");
            let at = every.iter().position(|c| c.id() == producers[0].id()).unwrap();
            for (i, c) in every.iter().enumerate() {
                if c.needs().contains(&fact) || c.after().contains(&fact) {
                    assert!(
                        at < i,
                        "{} uses {fact:?} before {} provides it",
                        c.id(),
                        producers[0].id()
                    );
                }
            }
        }
        assert_eq!(Roles.producer(), "role-assignment");
        assert_eq!(CliState.producer(), "azure-cli");
    }

    #[test]
    fn select_honours_only_and_skip() {
        let names = |v: Vec<Arc<dyn Check>>| v.iter().map(|c| c.id()).collect::<Vec<_>>();
        assert_eq!(names(select(&["environment".into()], &[])), vec!["environment"]);
        assert!(!names(select(&[], &["environment".into()])).contains(&"environment"));
        // A check brings the checks that provide what it needs.
        assert_eq!(
            names(select(&["token-claims".into()], &[])),
            vec!["environment", "azure-cli", "credential-chain", "token", "token-claims"]
        );
    }
}
