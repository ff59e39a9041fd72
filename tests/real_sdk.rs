//! The real Python SDKs (azure-identity + openai) cannot tell the lab from Azure: through
//! DefaultAzureCredential → the lab's `az`, a client secret, the App Service managed identity
//! endpoint and workload identity they get tokens and a chat completion, and a principal
//! without a role gets the service's 401 PermissionDenied.
//!
//! The same for the JavaScript SDKs (@azure/identity + openai on Node).
//!
//! Needs the virtualenv and node_modules made by `scripts/setup-real-sdk.sh` (outside the
//! sandbox: it downloads packages; `scripts/test` runs it). Without them a test FAILS, naming
//! what is missing; `AOAI_DOCTOR_SKIP_REAL_SDK=1` (at build and run time) skips both tests
//! explicitly, and they are then listed as `ignored, SKIPPED by AOAI_DOCTOR_SKIP_REAL_SDK=1`
//! (build.rs turns the variable into a cfg). Run through ../shared/sandbox like every test
//! that starts servers.

mod lab_harness;
mod real_sdk_harness;

use lab_harness::LabProc;
use real_sdk_harness::{node, node_script, prepared, run_script};
use std::path::{Path, PathBuf};

/// Both SDKs: four ways to a completion, a missing role, an unknown managed identity.
fn exercise(program: &Path, script: &Path, default_mode: &str) {
    for (scenario, mode) in [
        ("healthy-cli", default_mode),
        ("healthy-service-principal", "service-principal"),
        ("healthy-managed-identity", "managed-identity"),
        ("healthy-workload-identity", "workload-identity"),
    ] {
        let lab = LabProc::start(scenario, &[]);
        let r = run_script(program, script, &lab, &[mode]);
        assert_eq!(r["ok"], true, "{scenario} with {mode}: {r}");
        assert!(r["content"].as_str().is_some_and(|c| !c.is_empty()), "{r}");
    }
    let lab = LabProc::start("missing-role", &[]);
    let r = run_script(program, script, &lab, &["cli"]);
    assert_eq!(r["status"], 401, "{r}");
    assert_eq!(r["body"]["code"], "PermissionDenied", "{r}");
    assert!(r["apim_request_id"].is_string(), "{r}");
    let lab = LabProc::start("mi-unknown-client-id", &[]);
    let r = run_script(program, script, &lab, &["managed-identity"]);
    assert_eq!(r["ok"], false, "{r}");
    assert!(
        r["message"].as_str().unwrap_or_default().contains("Identity not found"),
        "{r}"
    );
}

#[test]
#[cfg_attr(
    skip_real_sdk,
    ignore = "SKIPPED by AOAI_DOCTOR_SKIP_REAL_SDK=1: the real Python SDKs are not run against the lab"
)]
fn real_python_sdks_against_the_lab() {
    let python = prepared("target/real-sdk-venv/bin/python");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/real_sdk/chat.py");
    // Python's DefaultAzureCredential walks to AzureCliCredential, i.e. the lab's az.
    exercise(&python, &script, "default");
}

#[test]
#[cfg_attr(
    skip_real_sdk,
    ignore = "SKIPPED by AOAI_DOCTOR_SKIP_REAL_SDK=1: the real JavaScript SDKs are not run against the lab"
)]
fn real_javascript_sdks_against_the_lab() {
    let node = node();
    let script = node_script("chat.mjs");
    // JS DefaultAzureCredential would first wait out IMDS retries (AZURE_POD_IDENTITY_AUTHORITY_HOST
    // makes it skip its probe), so the CLI path is taken directly.
    exercise(&node, &script, "cli");
}
