//! The real SDKs in today's documented shape cannot tell the lab from Azure either: the plain
//! `OpenAI` client (Python `openai`, JS `openai`) with `base_url …/openai/v1/` and an
//! azure-identity bearer-token provider for `https://ai.azure.com/.default` as the API key,
//! against the resource's v1 routes and a Foundry project's `{project}/openai/v1` (what
//! azure-ai-projects 2.x `get_openai_client()` builds): healthy → 200 for chat and Responses,
//! a missing role → the service's 401 PermissionDenied naming the data action. In each case
//! the doctor, given the same endpoint and scope as the app, agrees with it: its probe passes
//! exactly when the SDK's call does, and its verdict is pass for a healthy setup, fail for a
//! missing role.
//!
//! Needs the virtualenv (with azure-ai-projects) and node_modules made by
//! `scripts/setup-real-sdk.sh` (outside the sandbox). Without them a test FAILS, naming what is
//! missing; only `AOAI_DOCTOR_SKIP_REAL_SDK=1` skips them, listed as `ignored, SKIPPED by …`
//! (tests/real_sdk_harness). Run through ../shared/sandbox like every test that starts servers.

mod lab_harness;
mod real_sdk_harness;

use lab_harness::LabProc;
use real_sdk_harness::{SKIP_HINT, node, node_script, prepared, run_script};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Run `program script MODE SURFACE API` against a lab; the script's one JSON line.
fn call(program: &Path, script: &Path, lab: &LabProc, args: [&str; 3]) -> serde_json::Value {
    run_script(program, script, lab, &args)
}

fn assert_denied(r: &serde_json::Value, action: &str, what: &str) {
    assert_eq!(r["status"], 401, "{what}: {r}");
    assert_eq!(r["body"]["code"], "PermissionDenied", "{what}: {r}");
    let msg = r["body"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains(action), "{what}: the 401 names {action}: {msg}");
    assert!(r["apim_request_id"].is_string(), "{what}: {r}");
}

/// The doctor's JSON report for the app's shape: the same base URL (as `--endpoint`), the
/// same scope, the same API as its probe.
fn doctor(lab: &LabProc, surface: &str, api: &str) -> serde_json::Value {
    let endpoint = match surface {
        "resource" => format!("{}/openai/v1/", lab.endpoint()),
        _ => lab.var("AZURE_AI_PROJECT_ENDPOINT").to_string(),
    };
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(lab_harness::BIN);
    cmd.env_clear()
        .envs(lab.env.iter())
        .env("HOME", home.path())
        .args([
            "--endpoint",
            &endpoint,
            "--probe",
            api,
            "--scope",
            "https://ai.azure.com/.default",
        ])
        .args(["--container", "no", "--wait-for-propagation", "0", "--format", "json"])
        .stdin(Stdio::null());
    let out = real_sdk_harness::output_within(&mut cmd, real_sdk_harness::SCRIPT_LIMIT);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "doctor: no JSON report\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn status<'a>(report: &'a serde_json::Value, id: &str) -> &'a str {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("<absent>")
}

/// The doctor agrees with the SDK's outcome `sdk`: its probe passes exactly when the app's
/// call did, and its verdict is pass / fail accordingly. `role_check_modern`: whether the
/// verdict may also rest on the role check (`false` for a healthy project: reading Foundry
/// roles on projects in ARM is the role check's part of issue 14, judged apart).
fn assert_doctor_agrees(report: &serde_json::Value, sdk: &serde_json::Value, what: &str, role_check_modern: bool) {
    let ok = sdk["ok"] == true;
    let probe = status(report, "data-plane-probe");
    assert_eq!(
        probe == "pass",
        ok,
        "{what}: SDK ok={ok} but the probe says {probe}: {report}"
    );
    if !ok {
        assert_eq!(report["verdict"], "fail", "{what}: {report}");
        return;
    }
    if role_check_modern {
        assert_eq!(report["verdict"], "pass", "{what}: {report}");
    } else {
        for id in ["endpoint", "token", "token-claims", "data-plane-probe"] {
            assert_eq!(status(report, id), "pass", "{what}: {id}: {report}");
        }
    }
}

/// Both SDKs: the resource's v1 routes and a project's, healthy and without the role.
fn exercise(program: &Path, script: &Path, mode: &str) {
    for (scenario, surface) in [("healthy-v1", "resource"), ("healthy-foundry-project", "project")] {
        let lab = LabProc::start(scenario, &[]);
        for api in ["chat", "responses"] {
            let r = call(program, script, &lab, [mode, surface, api]);
            assert_eq!(r["ok"], true, "{scenario} {surface} {api}: {r}");
            assert!(r["content"].as_str().is_some_and(|c| !c.is_empty()), "{r}");
            let what = format!("{scenario} {surface} {api}");
            assert_doctor_agrees(&doctor(&lab, surface, api), &r, &what, surface == "resource");
        }
        if surface == "project" {
            // Foundry User on the project does not reach the account's own v1 path.
            let r = call(program, script, &lab, [mode, "resource", "chat"]);
            assert_denied(
                &r,
                "OpenAI/deployments/chat/completions/action",
                "project role on the resource path",
            );
            assert_doctor_agrees(
                &doctor(&lab, "resource", "chat"),
                &r,
                "project role, resource path",
                true,
            );
        }
    }
    let lab = LabProc::start("foundry-project-openai-user", &[]);
    let r = call(program, script, &lab, [mode, "project", "responses"]);
    assert_denied(&r, "AIServices/agents/write", "OpenAI User on a project");
    assert_doctor_agrees(
        &doctor(&lab, "project", "responses"),
        &r,
        "OpenAI User on a project",
        true,
    );
    let lab = LabProc::start("missing-role", &[]);
    let r = call(program, script, &lab, [mode, "resource", "responses"]);
    assert_denied(&r, "OpenAI/responses/write", "no role, v1 Responses");
    assert_doctor_agrees(
        &doctor(&lab, "resource", "responses"),
        &r,
        "no role, v1 Responses",
        true,
    );
}

#[test]
#[cfg_attr(
    skip_real_sdk,
    ignore = "SKIPPED by AOAI_DOCTOR_SKIP_REAL_SDK=1: the real Python openai client is not run against the lab"
)]
fn real_python_openai_client_on_v1_and_projects() {
    let python = prepared("target/real-sdk-venv/bin/python");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/real_sdk/v1.py");
    // DefaultAzureCredential walks to AzureCliCredential, i.e. the lab's az, for ai.azure.com.
    exercise(&python, &script, "default");
}

/// The real azure-ai-projects 2.x `AIProjectClient(endpoint).get_openai_client()` (base URL
/// and `ai.azure.com` scope built by the SDK itself) against a lab project: healthy → 200, only
/// Cognitive Services OpenAI User → 401 PermissionDenied; the doctor, given the project
/// endpoint and its default scope, agrees.
#[test]
#[cfg_attr(
    skip_real_sdk,
    ignore = "SKIPPED by AOAI_DOCTOR_SKIP_REAL_SDK=1: the real azure-ai-projects client is not run against the lab"
)]
fn real_azure_ai_projects_get_openai_client() {
    let python = prepared("target/real-sdk-venv/bin/python");
    let installed = Command::new(&python)
        .args(["-c", "import azure.ai.projects"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "azure-ai-projects is not in target/real-sdk-venv: {SKIP_HINT}"
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/real_sdk/v1.py");
    let lab = LabProc::start("healthy-foundry-project", &[]);
    for api in ["chat", "responses"] {
        let r = call(&python, &script, &lab, ["default", "project-sdk", api]);
        assert_eq!(r["ok"], true, "get_openai_client {api}: {r}");
        assert_doctor_agrees(&doctor(&lab, "project", api), &r, "azure-ai-projects healthy", false);
    }
    let lab = LabProc::start("foundry-project-openai-user", &[]);
    let r = call(&python, &script, &lab, ["default", "project-sdk", "responses"]);
    assert_denied(&r, "AIServices/agents/write", "azure-ai-projects, OpenAI User only");
    assert_doctor_agrees(
        &doctor(&lab, "project", "responses"),
        &r,
        "azure-ai-projects denied",
        true,
    );
}

#[test]
#[cfg_attr(
    skip_real_sdk,
    ignore = "SKIPPED by AOAI_DOCTOR_SKIP_REAL_SDK=1: the real JavaScript openai client is not run against the lab"
)]
fn real_javascript_openai_client_on_v1_and_projects() {
    let node = node();
    let script = node_script("v1.mjs");
    exercise(&node, &script, "cli");
}
