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

use lab_harness::LabProc;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SKIP_HINT: &str = "run `sh scripts/setup-real-sdk.sh` (needs the package registry), or set \
     AOAI_DOCTOR_SKIP_REAL_SDK=1 to skip the real-SDK tests (they are then reported as ignored)";

/// A file `scripts/setup-real-sdk.sh` prepares under the repository, or a failing test.
fn prepared(relative: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    assert!(p.exists(), "{} is missing: {SKIP_HINT}", p.display());
    p
}

/// Where node is installed: PATH first, then the usual places a PATH may miss (system and
/// /usr/local installs, nvm, /opt tarballs, Homebrew).
fn node() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    candidates.extend(["/usr/local/bin", "/usr/bin", "/bin", "/opt/homebrew/bin"].map(PathBuf::from));
    let nvm = std::env::var_os("NVM_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".nvm")));
    let versioned = |dir: PathBuf, bin: &str| -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join(bin))
            .collect();
        found.sort();
        found.reverse(); // newest version first
        found
    };
    if let Some(nvm) = nvm {
        candidates.extend(versioned(nvm.join("versions/node"), "bin"));
    }
    candidates.extend(versioned(PathBuf::from("/opt"), "bin"));
    candidates
        .into_iter()
        .map(|d| d.join("node"))
        .find(|n| n.is_file())
        .unwrap_or_else(|| {
            panic!("node is not installed (looked on PATH, /usr/local/bin, /usr/bin, ~/.nvm, /opt): {SKIP_HINT}")
        })
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
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
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
    let modules = prepared("target/real-sdk-node/node_modules");
    for package in ["@azure/identity", "openai"] {
        assert!(
            modules.join(package).is_dir(),
            "{package} is not in {}: {SKIP_HINT}",
            modules.display()
        );
    }
    // Node resolves packages from the script's directory, so the script runs from there.
    let script = modules.parent().expect("node_modules has a parent").join("chat.mjs");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/real_sdk/chat.mjs"),
        &script,
    )
    .expect("copy chat.mjs next to node_modules");
    // JS DefaultAzureCredential would first wait out IMDS retries (AZURE_POD_IDENTITY_AUTHORITY_HOST
    // makes it skip its probe), so the CLI path is taken directly.
    exercise(&node, &script, "cli");
}
