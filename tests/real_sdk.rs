//! The real Python SDKs (azure-identity + openai) cannot tell the lab from Azure: through
//! DefaultAzureCredential → the lab's `az`, a client secret, the App Service managed identity
//! endpoint and workload identity they get tokens and a chat completion, and a principal
//! without a role gets the service's 401 PermissionDenied.
//!
//! The same for the JavaScript SDKs (@azure/identity + openai on Node).
//!
//! Needs the virtualenv and node_modules made by `scripts/setup-real-sdk.sh` (outside the
//! sandbox: it downloads packages). Without them a test is skipped loudly, unless CI is set.
//! Run in a loopback-only network namespace (scripts/test) like every test that starts servers.

mod lab_harness;

use lab_harness::LabProc;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn prepared(relative: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    if p.exists() {
        return Some(p);
    }
    let msg = format!(
        "{} is missing: run `sh scripts/setup-real-sdk.sh` (needs the package registry)",
        p.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("\n!!!!!!!! SKIPPED: {msg} !!!!!!!!\n");
    None
}

/// Run `program script MODE` against a lab; the script's one JSON line.
fn chat(program: &Path, script: &Path, lab: &LabProc, mode: &str) -> serde_json::Value {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(program)
        .arg(script)
        .arg(mode)
        .env_clear()
        .envs(lab.env.iter())
        .env("HOME", home.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("running python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|_| {
        panic!(
            "{} {mode}: no JSON line\nstdout: {stdout}\nstderr: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Both SDKs: four ways to a completion, a missing role, an unknown managed identity.
fn exercise(program: &Path, script: &Path, default_mode: &str) {
    for (scenario, mode) in [
        ("healthy-cli", default_mode),
        ("healthy-service-principal", "service-principal"),
        ("healthy-managed-identity", "managed-identity"),
        ("healthy-workload-identity", "workload-identity"),
    ] {
        let lab = LabProc::start(scenario, &[]);
        let r = chat(program, script, &lab, mode);
        assert_eq!(r["ok"], true, "{scenario} with {mode}: {r}");
        assert!(r["content"].as_str().is_some_and(|c| !c.is_empty()), "{r}");
    }
    let lab = LabProc::start("missing-role", &[]);
    let r = chat(program, script, &lab, "cli");
    assert_eq!(r["status"], 401, "{r}");
    assert_eq!(r["body"]["code"], "PermissionDenied", "{r}");
    assert!(r["apim_request_id"].is_string(), "{r}");
    let lab = LabProc::start("mi-unknown-client-id", &[]);
    let r = chat(program, script, &lab, "managed-identity");
    assert_eq!(r["ok"], false, "{r}");
    assert!(
        r["message"].as_str().unwrap_or_default().contains("Identity not found"),
        "{r}"
    );
}

#[test]
fn real_python_sdks_against_the_lab() {
    let Some(python) = prepared("target/real-sdk-venv/bin/python") else {
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/real_sdk/chat.py");
    // Python's DefaultAzureCredential walks to AzureCliCredential, i.e. the lab's az.
    exercise(&python, &script, "default");
}

#[test]
fn real_javascript_sdks_against_the_lab() {
    let Some(modules) = prepared("target/real-sdk-node/node_modules") else {
        return;
    };
    // Node resolves packages from the script's directory, so the script runs from there.
    let script = modules.parent().unwrap().join("chat.mjs");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/real_sdk/chat.mjs"),
        &script,
    )
    .unwrap();
    // JS DefaultAzureCredential would first wait out IMDS retries (AZURE_POD_IDENTITY_AUTHORITY_HOST
    // makes it skip its probe), so the CLI path is taken directly.
    exercise(Path::new("node"), &script, "cli");
}
