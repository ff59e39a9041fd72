//! The chain's judge, without I/O: every probe answer is given.

use super::judge::{self, ChainEnv, ChainInput, ImdsAnswer, ProbeRequest, Probes, Verdict};
use crate::azure::credentials::{AcquireFailure, AzdAnswer};
use crate::chain::Link;
use crate::context::{FakeEnvironment, Sdk};
use crate::facts::{CliState, CredentialConfig, TokenInfo};
use crate::model::Status;
use crate::secret::Secret;

const SCOPE: &str = "https://cognitiveservices.azure.com/.default";

fn token(source: &str) -> TokenInfo {
    TokenInfo {
        token: Secret::new("t"),
        expires_on: None,
        source: source.into(),
    }
}

fn logged_in_cli() -> CliState {
    CliState {
        installed: true,
        logged_in: true,
        user: Some("dev@contoso.com".into()),
        token: Some(token("AzureCliCredential")),
        ..Default::default()
    }
}

/// The world outside, as the probes would find it.
struct World {
    env: FakeEnvironment,
    cli: Option<CliState>,
    imds: ImdsAnswer,
    azd: AzdAnswer,
    workload_token: Result<TokenInfo, AcquireFailure>,
}

impl World {
    fn bare() -> Self {
        World {
            env: FakeEnvironment::new(),
            cli: None,
            imds: ImdsAnswer::Absent("connection refused".into()),
            azd: AzdAnswer::NotInstalled,
            workload_token: Ok(token("WorkloadIdentityCredential")),
        }
    }
    fn var(mut self, k: &str, v: &str) -> Self {
        self.env = self.env.var(k, v);
        self
    }
}

/// Judges as the check does: answer each probe the judge asks for, at most once each.
fn settle(world: &World, sdk: Sdk, forced: Option<Link>) -> (Verdict, Vec<ProbeRequest>) {
    let env = ChainEnv::read(&world.env);
    let mut probes = Probes::default();
    let mut asked = Vec::new();
    loop {
        let input = ChainInput {
            sdk,
            forced,
            env: &env,
            cli: world.cli.as_ref(),
            in_container: false,
            scope: SCOPE,
            imds_url: "http://169.254.169.254/",
            probes: &probes,
        };
        match judge::judge(&input) {
            Ok(v) => return (v, asked),
            Err(request) => {
                assert!(!asked.contains(&request), "asked twice for {request:?}");
                asked.push(request.clone());
                match request {
                    ProbeRequest::Imds { .. } => probes.imds = Some(world.imds.clone()),
                    ProbeRequest::Azd => probes.azd = Some(world.azd.clone()),
                    ProbeRequest::WorkloadToken { .. } => probes.workload_token = Some(world.workload_token.clone()),
                    ProbeRequest::AppServiceToken { .. } => {
                        probes.app_service_token = Some(world.workload_token.clone())
                    }
                }
            }
        }
    }
}

fn codes(v: &Verdict) -> Vec<&'static str> {
    v.judgement.findings.iter().map(|f| f.code.id).collect()
}

fn walked(v: &Verdict) -> Vec<String> {
    v.judgement.evidence["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| format!("{}={}", l["link"].as_str().unwrap(), l["state"].as_str().unwrap()))
        .collect()
}

/// Python's and JavaScript's default chains walk the same links.
const PYTHON_AND_JS: &[&str] = &[
    "EnvironmentCredential",
    "WorkloadIdentityCredential",
    "ManagedIdentityCredential",
    "VisualStudioCodeCredential",
    "AzureCliCredential",
    "AzurePowerShellCredential",
    "AzureDeveloperCliCredential",
];

#[test]
fn each_sdk_walks_its_own_order_when_nothing_is_available() {
    let expect: [(Sdk, &[&str]); 5] = [
        (Sdk::Python, PYTHON_AND_JS),
        (Sdk::Js, PYTHON_AND_JS),
        (
            Sdk::Dotnet,
            &[
                "EnvironmentCredential",
                "WorkloadIdentityCredential",
                "ManagedIdentityCredential",
                "VisualStudioCredential",
                "VisualStudioCodeCredential",
                "AzureCliCredential",
                "AzurePowerShellCredential",
                "AzureDeveloperCliCredential",
            ],
        ),
        (
            Sdk::Java,
            &[
                "EnvironmentCredential",
                "WorkloadIdentityCredential",
                "ManagedIdentityCredential",
                "IntelliJCredential",
                "VisualStudioCodeCredential",
                "AzureCliCredential",
                "AzurePowerShellCredential",
                "AzureDeveloperCliCredential",
            ],
        ),
        (
            Sdk::Go,
            &[
                "EnvironmentCredential",
                "WorkloadIdentityCredential",
                "ManagedIdentityCredential",
                "AzureCLICredential",
                "AzureDeveloperCLICredential",
            ],
        ),
    ];
    for (sdk, classes) in expect {
        let (v, asked) = settle(&World::bare(), sdk, None);
        let links: Vec<String> = v.judgement.evidence["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["link"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(links, classes, "{sdk:?}");
        assert!(v.chosen.is_none());
        assert_eq!(v.judgement.status, Status::Fail);
        assert_eq!(codes(&v), vec!["chain-no-credential"]);
        // IMDS is asked only because the walk reached managed identity; azd likewise.
        assert_eq!(
            asked,
            vec![ProbeRequest::Imds { client_id: None }, ProbeRequest::Azd],
            "{sdk:?}"
        );
    }
}

#[test]
fn the_first_available_link_wins_and_later_links_are_not_probed() {
    let mut world = World::bare();
    world.cli = Some(logged_in_cli());
    let (v, asked) = settle(&world, Sdk::Python, None);
    let chosen = v.chosen.clone().expect("the CLI is chosen");
    assert_eq!(
        (chosen.link, chosen.config),
        (Link::AzureCli, CredentialConfig::AzureCli)
    );
    assert!(chosen.prefetched.is_some_and(|p| p.is_ok()));
    assert_eq!(v.judgement.summary, "AzureCliCredential (dev@contoso.com) will be used");
    // azd comes after the CLI: never asked.
    assert_eq!(asked, vec![ProbeRequest::Imds { client_id: None }]);
    assert!(walked(&v).ends_with(&["AzureCliCredential=available".to_string()]));
}

#[test]
fn a_half_set_client_group_is_skipped_with_a_warning() {
    let mut world = World::bare()
        .var("AZURE_CLIENT_ID", "c")
        .var("AZURE_CLIENT_SECRET", "s");
    world.cli = Some(logged_in_cli());
    let (v, _) = settle(&world, Sdk::Python, None);
    assert_eq!(codes(&v), vec!["chain-env-incomplete"]);
    assert_eq!(v.judgement.status, Status::Warn);
    assert!(v.judgement.findings[0].message.contains("AZURE_TENANT_ID missing"));
    assert_eq!(v.chosen.as_ref().unwrap().link, Link::AzureCli);
    assert_eq!(walked(&v)[0], "EnvironmentCredential=unavailable");
}

#[test]
fn a_complete_client_group_stops_the_chain_before_the_developers_login() {
    let mut world = World::bare()
        .var("AZURE_TENANT_ID", "t")
        .var("AZURE_CLIENT_ID", "c")
        .var("AZURE_CLIENT_SECRET", "wrong-secret");
    world.cli = Some(logged_in_cli());
    let (v, asked) = settle(&world, Sdk::Python, None);
    assert_eq!(codes(&v), vec!["chain-stops-early"]);
    assert!(
        asked.is_empty(),
        "nothing after EnvironmentCredential is probed: {asked:?}"
    );
    let chosen = v.chosen.unwrap();
    assert_eq!(
        chosen.config,
        CredentialConfig::ClientSecret {
            tenant: "t".into(),
            client_id: "c".into(),
            secret: Secret::new("wrong-secret"),
        }
    );
    // The secret is carried for the token check, never shown.
    assert!(!chosen.detail.to_string().contains("wrong-secret"));
    assert!(!v.judgement.evidence.to_string().contains("wrong-secret"));
    // Forcing the link is the user's choice: nothing to warn about.
    let (v, _) = settle(&world, Sdk::Python, Some(Link::Environment));
    assert!(codes(&v).is_empty());
    // Without an az login there is nothing it hides.
    world.cli = None;
    assert!(codes(&settle(&world, Sdk::Python, None).0).is_empty());
}

#[test]
fn js_falls_through_a_failing_workload_identity_where_python_stops() {
    let mut world = World::bare()
        .var("AZURE_TENANT_ID", "t")
        .var("AZURE_CLIENT_ID", "c")
        .var("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/token");
    world.cli = Some(logged_in_cli());
    world.workload_token = Err(AcquireFailure::Http {
        status: 400,
        headers: vec![],
        body: r#"{"error":"invalid_client","error_description":"AADSTS70021: No matching federated identity record found"}"#.into(),
    });
    let (js, asked) = settle(&world, Sdk::Js, None);
    assert_eq!(codes(&js), vec!["chain-js-falls-through"]);
    assert_eq!(js.chosen.as_ref().unwrap().link, Link::AzureCli);
    assert!(matches!(asked[0], ProbeRequest::WorkloadToken { .. }));
    assert_eq!(walked(&js)[1], "WorkloadIdentityCredential=failed");

    let (py, asked) = settle(&world, Sdk::Python, None);
    let chosen = py.chosen.clone().unwrap();
    assert_eq!(chosen.link, Link::WorkloadIdentity);
    assert!(
        chosen.prefetched.is_none(),
        "Python does not try the token in the chain"
    );
    assert!(asked.is_empty());
    assert_eq!(codes(&py), vec!["chain-stops-early"]);
    // JS with a working federated token stops there too, with the token in hand.
    world.workload_token = Ok(token("WorkloadIdentityCredential"));
    let chosen = settle(&world, Sdk::Js, None).0.chosen.unwrap();
    assert_eq!(chosen.link, Link::WorkloadIdentity);
    assert!(chosen.prefetched.is_some_and(|p| p.is_ok()));
}

#[test]
fn azure_token_credentials_narrows_or_breaks_the_chain() {
    let mut world = World::bare()
        .var("AZURE_TENANT_ID", "t")
        .var("AZURE_CLIENT_ID", "c")
        .var("AZURE_CLIENT_SECRET", "s")
        .var("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential");
    world.cli = Some(logged_in_cli());
    let (v, asked) = settle(&world, Sdk::Python, None);
    assert_eq!(v.chosen.as_ref().unwrap().link, Link::AzureCli);
    assert!(asked.is_empty());
    assert_eq!(v.judgement.evidence["selection"], "narrowed by AzureCliCredential");
    assert_eq!(walked(&v), vec!["AzureCliCredential=available"]);

    let world = world.var("AZURE_TOKEN_CREDENTIALS", "prod");
    let (v, _) = settle(&world, Sdk::Python, None);
    assert_eq!(v.chosen.unwrap().link, Link::Environment);

    let world = world.var("AZURE_TOKEN_CREDENTIALS", "AzureCLI");
    let (v, asked) = settle(&world, Sdk::Python, None);
    assert!(v.chosen.is_none() && asked.is_empty());
    assert_eq!(codes(&v), vec!["chain-selection-invalid"]);
    assert_eq!(v.judgement.status, Status::Fail);
    // `--credential` overrides the variable.
    let (v, _) = settle(&world, Sdk::Python, Some(Link::AzureCli));
    assert_eq!(v.chosen.unwrap().link, Link::AzureCli);
}

#[test]
fn managed_identity_from_imds_carries_its_source_and_client_id() {
    let mut world = World::bare().var("AZURE_CLIENT_ID", "uami");
    world.imds = ImdsAnswer::Token(Ok(token("ManagedIdentityCredential")));
    let (v, asked) = settle(&world, Sdk::Python, None);
    assert_eq!(
        asked,
        vec![ProbeRequest::Imds {
            client_id: Some("uami".into())
        }]
    );
    let chosen = v.chosen.unwrap();
    assert_eq!(
        chosen.config,
        CredentialConfig::ManagedIdentity {
            source: crate::chain::MiSource::Imds,
            client_id: Some("uami".into()),
        }
    );
    assert_eq!(v.judgement.summary, "ManagedIdentityCredential (IMDS) will be used");

    // A user-assigned id IMDS does not know: unavailable (with the finding), except in Go.
    world.imds = ImdsAnswer::Token(Err(AcquireFailure::Http {
        status: 400,
        headers: vec![],
        body: r#"{"error":"invalid_request","error_description":"Identity not found"}"#.into(),
    }));
    let (v, _) = settle(&world, Sdk::Python, None);
    assert!(v.chosen.is_none());
    assert_eq!(codes(&v), vec!["token-mi-identity-not-found", "chain-no-credential"]);
    let (v, _) = settle(&world, Sdk::Go, None);
    assert_eq!(v.chosen.unwrap().link, Link::ManagedIdentity);
}

#[test]
fn azd_answers_are_judged_without_debug_text() {
    let mut world = World::bare();
    world.azd = AzdAnswer::DidNotAnswer(crate::azure::process::ProcError::TimedOut(
        std::time::Duration::from_secs(10),
    ));
    let (v, _) = settle(&world, Sdk::Go, None);
    let last = v.judgement.evidence["links"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["why"], "azd did not answer: no answer within 10s");
    world.azd = AzdAnswer::Token(token("AzureDeveloperCliCredential"));
    let chosen = settle(&world, Sdk::Go, None).0.chosen.unwrap();
    assert_eq!(chosen.config, CredentialConfig::AzureDeveloperCli);
}
