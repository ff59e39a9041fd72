//! The identity checks against the lab: the real binary, a cleared environment, loopback only.

mod common;
use common::*;

/// Runs the doctor on a lab scenario with the identity checks only.
fn identity(scenario: &str, extra: &[&str]) -> serde_json::Value {
    let lab = Lab::start(scenario, &[]);
    let mut c = lab.doctor();
    c.args([
        "--format",
        "json",
        "--only",
        "azure-cli,credential-chain,token,token-claims",
    ])
    .args(extra);
    let r = run(c);
    json(&r)
}

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report}"))
}

fn has(report: &serde_json::Value, code: &str) -> bool {
    codes(report).iter().any(|c| c.ends_with(&format!(":{code}")))
}

#[test]
fn healthy_cli_gets_a_token_with_the_right_claims() {
    let r = identity("healthy-cli", &[]);
    for id in ["azure-cli", "credential-chain", "token", "token-claims"] {
        assert_eq!(status_of(&r, id), "pass", "{id}: {}", check(&r, id));
    }
    assert!(
        check(&r, "credential-chain")["summary"]
            .as_str()
            .unwrap()
            .contains("AzureCliCredential")
    );
    assert_eq!(
        check(&r, "token-claims")["evidence"]["aud"],
        "https://cognitiveservices.azure.com"
    );
    assert_eq!(r["identity"]["principal_type"], "user");
}

#[test]
fn not_logged_in_warns_on_the_cli_and_fails_the_chain() {
    let r = identity("not-logged-in", &[]);
    assert_eq!(status_of(&r, "azure-cli"), "warn");
    assert!(has(&r, "cli-not-logged-in"));
    assert_eq!(status_of(&r, "credential-chain"), "fail");
    assert!(has(&r, "chain-no-credential"));
    assert_eq!(status_of(&r, "token"), "skip");
    assert_eq!(r["verdict"], "fail");
}

#[test]
fn forced_cli_credential_fails_the_cli_check_itself() {
    let r = identity("not-logged-in", &["--credential", "azure-cli"]);
    assert_eq!(status_of(&r, "azure-cli"), "fail");
}

#[test]
fn expired_refresh_token_and_conditional_access() {
    assert!(has(&identity("refresh-token-expired", &[]), "cli-login-expired"));
    assert!(has(&identity("conditional-access", &[]), "cli-conditional-access"));
}

#[test]
fn a_hanging_az_is_an_error_in_bounded_time() {
    let started = std::time::Instant::now();
    let r = identity("cli-hangs", &["--timeout", "3s"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(status_of(&r, "azure-cli"), "error");
    assert!(has(&r, "cli-timed-out"));
}

#[test]
fn the_deadline_stops_the_whole_run_and_still_reports() {
    let started = std::time::Instant::now();
    let r = identity("cli-hangs", &["--timeout", "60s", "--deadline", "2s"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(status_of(&r, "azure-cli"), "error");
    assert!(has(&r, "run-stopped"), "{:?}", codes(&r));
    assert_eq!(r["verdict"], "error");
}

#[test]
fn app_service_managed_identity() {
    let r = identity("healthy-managed-identity", &[]);
    assert_eq!(status_of(&r, "token"), "pass", "{}", check(&r, "token"));
    assert!(
        check(&r, "credential-chain")["summary"]
            .as_str()
            .unwrap()
            .contains("ManagedIdentityCredential")
    );
    assert!(has(&r, "cli-not-used"), "az is missing but not needed on App Service");
    assert_eq!(status_of(&r, "azure-cli"), "pass");
    assert!(r["identity"]["object_id"].is_string());
}

#[test]
fn user_assigned_managed_identity_and_an_unknown_client_id() {
    let r = identity("mi-user-assigned", &[]);
    assert_eq!(status_of(&r, "token"), "pass", "{}", check(&r, "token"));
    let r = identity("mi-unknown-client-id", &[]);
    assert!(has(&r, "token-mi-identity-not-found"), "{:?}", codes(&r));
    assert_eq!(r["verdict"], "fail");
}

#[test]
fn workload_identity_good_and_with_a_bad_subject() {
    let r = identity("healthy-workload-identity", &[]);
    assert_eq!(status_of(&r, "token"), "pass", "{}", check(&r, "token"));
    let r = identity("workload-identity-bad-subject", &[]);
    assert_eq!(status_of(&r, "token"), "fail");
    assert!(has(&r, "aadsts-70021"), "{:?}", codes(&r));
}

#[test]
fn service_principal_good_bad_and_expired_secret() {
    assert_eq!(status_of(&identity("healthy-service-principal", &[]), "token"), "pass");
    let bad = identity("bad-secret", &[]);
    assert!(has(&bad, "aadsts-7000215"));
    assert!(
        check(&bad, "token")["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("stops at EnvironmentCredential")
    );
    assert!(has(&identity("expired-secret", &[]), "aadsts-7000222"));
}

#[test]
fn wrong_scope_is_explained_even_when_entra_grants_it() {
    let r = identity("wrong-scope", &[]);
    assert!(has(&r, "token-scope-wrong-resource"));
    assert!(has(&r, "claims-wrong-audience"));
}

#[test]
fn the_chain_mirrors_each_sdk_and_token_credentials() {
    // A complete service principal in the environment comes first in every SDK.
    for sdk in ["python", "js", "dotnet", "java", "go"] {
        let r = identity("healthy-service-principal", &["--sdk", sdk]);
        assert!(
            check(&r, "credential-chain")["summary"]
                .as_str()
                .unwrap()
                .contains("EnvironmentCredential"),
            "{sdk}"
        );
    }
    // `dev` skips the production links, so the CLI (missing here) is all that is left.
    let lab = Lab::start("healthy-service-principal", &[]);
    let mut c = lab.doctor();
    c.env("AZURE_TOKEN_CREDENTIALS", "dev")
        .args(["--format", "json", "--only", "credential-chain"]);
    let r = json(&run(c));
    assert_eq!(status_of(&r, "credential-chain"), "fail");
    // An invalid value fails at construction, naming the valid ones.
    let mut c = lab.doctor();
    c.env("AZURE_TOKEN_CREDENTIALS", "AzureCLI")
        .args(["--format", "json", "--only", "credential-chain"]);
    let r = json(&run(c));
    assert!(has(&r, "chain-selection-invalid"));
}

#[test]
fn no_output_format_contains_the_token() {
    let lab = Lab::start("healthy-cli", &[]);
    // The token the lab's az hands out, fetched the way an app would.
    let out = std::process::Command::new(lab.var("PATH").unwrap().split(':').next().unwrap().to_string() + "/az")
        .env_clear()
        .envs(lab.env.iter().cloned())
        .args([
            "account",
            "get-access-token",
            "--scope",
            "https://cognitiveservices.azure.com/.default",
            "-o",
            "json",
        ])
        .output()
        .expect("run the lab's az");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("az JSON");
    let token = v["accessToken"].as_str().unwrap().to_string();
    let signature = token.rsplit('.').next().unwrap().to_string();
    assert!(token.len() > 100 && signature.len() > 20);
    for format in ["json", "table"] {
        let mut c = lab.doctor();
        c.args(["--format", format, "-vv"]);
        let r = run(c);
        for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            assert!(!text.contains(&token), "{format} {name} contains the token");
            assert!(
                !text.contains(&signature),
                "{format} {name} contains the token's signature"
            );
        }
    }
}
