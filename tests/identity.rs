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

/// Every access token the lab's `az` handed out while `c` ran, read from a wrapper that sits
/// in front of the lab's shim. The lab mints a fresh token per call, so only these are the
/// tokens the doctor held (and, for a passing probe, sent).
fn tokens_handed_to(lab: &Lab, c: &mut std::process::Command, scratch: &std::path::Path) -> Run {
    let shim = std::path::Path::new(lab.var("PATH").expect("the lab's PATH")).join("az");
    let bin = scratch.join("bin");
    std::fs::create_dir_all(&bin).expect("wrapper dir");
    let log = scratch.join("az-stdout.log");
    // Only shell builtins: the doctor's PATH holds nothing but this directory.
    let script = format!(
        "#!/bin/sh\nout=$('{}' \"$@\")\nrc=$?\nprintf '%s\\n' \"$out\" >> '{}'\nprintf '%s\\n' \"$out\"\nexit $rc\n",
        shim.display(),
        log.display()
    );
    let wrapper = bin.join("az");
    std::fs::write(&wrapper, script).expect("write the az wrapper");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    c.env("PATH", &bin);
    run(std::mem::replace(c, std::process::Command::new("true")))
}

/// The `accessToken` values in the az wrapper's log (one JSON document per call).
fn access_tokens(log: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).expect("the az wrapper's log: the doctor never ran az");
    text.split("accessToken\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').nth(1).map(str::to_string))
        .collect()
}

#[test]
fn no_output_format_contains_the_token() {
    let lab = Lab::start("healthy-cli", &[]);
    for format in ["json", "table", "junit", "markdown"] {
        let scratch = tempfile::tempdir().expect("tempdir");
        let mut c = lab.doctor();
        c.args(["--format", format, "-vv"]);
        let r = tokens_handed_to(&lab, &mut c, scratch.path());
        // A passing run: the probe sent the token and the lab accepted it.
        assert_eq!(r.code, 0, "{format}: exit {}\n{}\n{}", r.code, r.stdout, r.stderr);
        assert!(!r.stdout.trim().is_empty(), "{format}: nothing rendered");
        let tokens = access_tokens(&scratch.path().join("az-stdout.log"));
        assert!(
            tokens.iter().any(|t| t.split('.').count() == 3 && t.len() > 100),
            "{format}: the doctor got no token from az: {tokens:?}"
        );
        for token in &tokens {
            let parts: Vec<&str> = token.split('.').collect();
            let (payload, signature) = (parts[1], parts[2]);
            assert!(payload.len() > 20 && signature.len() > 20, "{token}");
            for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
                for (what, needle) in [
                    ("token", token.as_str()),
                    ("payload", payload),
                    ("signature", signature),
                ] {
                    assert!(!text.contains(needle), "{format} {name} contains the token's {what}");
                }
            }
        }
    }
}
