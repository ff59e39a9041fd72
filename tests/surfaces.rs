//! Today's surfaces through the real binary against the lab: the endpoint exactly as the app is
//! configured with it (v1 base URL, Foundry project endpoint, from the flag or the variables
//! the SDKs and samples read), the scope that follows the surface, the probe's URL per surface
//! (`--probe responses` included), and `aoai-doctor token --endpoint`. Run through
//! ../shared/sandbox (loopback only).

mod common;

use base64::Engine as _;
use common::{Lab, codes, doctor, json, run, status_of};
use serde_json::Value;
use std::process::Command;

/// The lab's doctor command without its `--endpoint` pair and without AZURE_OPENAI_ENDPOINT:
/// the test decides where the endpoint comes from.
fn without_endpoint(lab: &Lab) -> (Command, String) {
    let mut c = Command::new(common::BIN);
    c.env_clear().env("AOAI_DOCTOR_COLOR", "never");
    let mut root = String::new();
    for (k, v) in &lab.env {
        if k == "AZURE_OPENAI_ENDPOINT" {
            root = v.trim_end_matches('/').to_string();
        } else {
            c.env(k, v);
        }
    }
    let mut args = lab.args.iter();
    while let Some(a) = args.next() {
        if a == "--endpoint" {
            args.next();
        } else {
            c.arg(a);
        }
    }
    c.args(["--format", "json"]);
    (c, root)
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id}"))
}

#[test]
fn the_v1_base_url_from_openai_base_url_passes_and_ignores_openai_api_version() {
    let lab = Lab::start("healthy-v1", &[]);
    let (mut c, root) = without_endpoint(&lab);
    c.env("OPENAI_BASE_URL", format!("{root}/openai/v1/"))
        .env("OPENAI_API_VERSION", "2024-10-21");
    let r = json(&run(c));
    assert_eq!(r["verdict"], "pass", "{:?}", codes(&r));
    assert_eq!(r["target"]["endpoint_source"], "OPENAI_BASE_URL");
    let endpoint = check(&r, "endpoint");
    assert_eq!(endpoint["evidence"]["surface"], "v1");
    assert_eq!(
        endpoint["evidence"]["openai_api_version"],
        "ignored: the v1 API takes no api-version"
    );
    assert!(
        endpoint["summary"]
            .as_str()
            .unwrap()
            .ends_with("v1 base URL, reachable (from OPENAI_BASE_URL)"),
        "{}",
        endpoint["summary"]
    );
    // The plain OpenAI client sends no api-version: neither does the probe.
    let probe = check(&r, "data-plane-probe");
    assert_eq!(probe["evidence"]["request"], "POST /openai/v1/chat/completions");
}

#[test]
fn the_endpoint_variables_are_read_in_the_sdks_order() {
    let lab = Lab::start("healthy-v1", &[]);
    let (mut c, root) = without_endpoint(&lab);
    c.env("AZURE_OPENAI_ENDPOINT", format!("{root}/"))
        .env("OPENAI_BASE_URL", format!("{root}/openai/v1/"))
        .env("PROJECT_ENDPOINT", format!("{root}/api/projects/nope"))
        .args(["--only", "endpoint"]);
    let r = json(&run(c));
    assert_eq!(r["target"]["endpoint_source"], "AZURE_OPENAI_ENDPOINT");
    assert_eq!(check(&r, "endpoint")["evidence"]["surface"], "resource-root");
    // The flag wins over every variable.
    let (mut c, root) = without_endpoint(&lab);
    c.env("OPENAI_BASE_URL", format!("{root}/openai/v1/")).args([
        "--endpoint",
        &format!("{root}/"),
        "--only",
        "endpoint",
    ]);
    let r = json(&run(c));
    assert_eq!(r["target"]["endpoint_source"], "--endpoint");
    // Nothing set: endpoint-missing names every variable it looked at.
    let (mut c, _) = without_endpoint(&lab);
    c.args(["--only", "endpoint"]);
    let r = json(&run(c));
    let fix = r["checks"][0]["findings"][0]["remediation"]["text"]
        .as_str()
        .unwrap_or("");
    assert!(
        fix.contains("OPENAI_BASE_URL") && fix.contains("AZURE_AI_PROJECT_ENDPOINT"),
        "{fix}"
    );
}

#[test]
fn a_project_endpoint_from_the_foundry_variable_gets_an_ai_azure_com_token_and_a_200() {
    let lab = Lab::start("healthy-foundry-project", &[]);
    let (mut c, root) = without_endpoint(&lab);
    c.env("AZURE_AI_PROJECT_ENDPOINT", format!("{root}/api/projects/chat-proj"));
    let r = json(&run(c));
    assert_eq!(r["target"]["scope"], "https://ai.azure.com/.default");
    for id in ["endpoint", "token", "token-claims", "data-plane-probe"] {
        assert_eq!(status_of(&r, id), "pass", "{id}: {:?}", codes(&r));
    }
    assert_eq!(
        check(&r, "data-plane-probe")["evidence"]["request"],
        "POST /api/projects/chat-proj/openai/v1/chat/completions"
    );
    assert!(
        !codes(&r)
            .iter()
            .any(|c| c.starts_with("endpoint:") || c.contains("audience"))
    );
}

#[test]
fn probe_responses_on_v1_and_on_a_project() {
    for (scenario, request) in [
        ("healthy-v1", "POST /openai/v1/responses"),
        (
            "healthy-foundry-project",
            "POST /api/projects/chat-proj/openai/v1/responses",
        ),
    ] {
        let lab = Lab::start(scenario, &[]);
        let mut c = lab.doctor();
        c.args(["--probe", "responses", "--format", "json"]);
        let r = json(&run(c));
        let probe = check(&r, "data-plane-probe");
        assert_eq!(probe["status"], "pass", "{scenario}: {probe}");
        assert_eq!(probe["evidence"]["request"], request, "{scenario}");
        assert_eq!(probe["evidence"]["probe"], "responses");
    }
}

#[test]
fn a_project_call_denied_for_the_role_blames_the_role_with_the_foundry_role() {
    let lab = Lab::start("foundry-project-openai-user", &[]);
    let mut c = lab.doctor();
    c.args(["--format", "json"]);
    let r = json(&run(c));
    assert_eq!(r["verdict"], "fail");
    let all = codes(&r);
    assert!(
        all.contains(&"data-plane-probe:probe-permission-denied".to_string()),
        "{all:?}"
    );
    // Not the endpoint, not the audience.
    assert!(
        !all.iter()
            .any(|c| c.starts_with("endpoint:") || c.starts_with("token") || c.contains("audience")),
        "{all:?}"
    );
    let f = common::finding_in(&r, "data-plane-probe", "probe-permission-denied");
    let message = f["message"].as_str().unwrap();
    assert!(message.contains("AIServices/agents/write"), "{message}");
    let cmds = common::commands(f);
    assert!(
        cmds.contains("53ca6127-db72-4b80-b1b0-d745d6d5456d") && cmds.contains("/projects/chat-proj"),
        "{cmds}"
    );
}

fn jwt(payload: Value) -> String {
    let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.{}",
        b(br#"{"alg":"RS256","typ":"JWT"}"#),
        b(payload.to_string().as_bytes()),
        b(b"sig")
    )
}

#[test]
fn the_token_subcommand_judges_against_the_endpoint_given() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = |aud: &str| {
        let path = dir.path().join(format!("{}.jwt", aud.len()));
        std::fs::write(
            &path,
            jwt(serde_json::json!({"aud": aud, "exp": now + 3600, "iat": now})),
        )
        .unwrap();
        path
    };
    let project = "https://contoso.services.ai.azure.com/api/projects/p";
    let judged = |aud: &str, endpoint: Option<&str>| {
        let mut c = doctor(home.path());
        c.arg("token").arg(token(aud)).args(["--format", "json"]);
        if let Some(e) = endpoint {
            c.args(["--endpoint", e]);
        }
        let r = run(c);
        (r.code, json(&r))
    };
    let (code, r) = judged("https://cognitiveservices.azure.com", Some(project));
    assert_eq!(code, 1, "{r}");
    assert_eq!(r["findings"][0]["code"], "claims-wrong-audience");
    assert_eq!(judged("https://ai.azure.com", Some(project)).0, 0);
    // A resource root takes both; the classic route's ai.azure.com is marked unverified.
    assert_eq!(judged("https://cognitiveservices.azure.com", None).0, 0);
    let (code, r) = judged("https://ai.azure.com", None);
    assert_eq!(code, 0, "{r}");
    assert!(r["audience_note"].as_str().unwrap().starts_with("unverified"), "{r}");
    let (code, r) = judged("https://ai.azure.com", Some("https://c.openai.azure.com/openai/v1/"));
    assert_eq!((code, r["audience_note"].is_null()), (0, true), "{r}");
}

#[test]
fn only_paths_no_client_uses_fail_as_pasted() {
    let home = tempfile::tempdir().unwrap();
    let shape = |endpoint: &str| {
        let mut c = doctor(home.path());
        c.args(["--endpoint", endpoint, "--only", "endpoint", "--format", "json"]);
        let r = json(&run(c));
        let surface = r["checks"][0]["evidence"]["surface"].clone();
        (codes(&r).contains(&"endpoint:endpoint-has-path".to_string()), surface)
    };
    let pasted = shape("https://contoso.openai.azure.com/openai/deployments/gpt-4o/chat/completions");
    assert_eq!(pasted, (true, Value::Null));
    for (endpoint, surface) in [
        ("https://contoso.openai.azure.com/openai/v1", "v1"),
        ("https://contoso.services.ai.azure.com/api/projects/_project", "project"),
        (
            "https://contoso.services.ai.azure.com/api/projects/p/openai/v1/",
            "project-v1",
        ),
        ("https://contoso.services.ai.azure.com/models", "model-inference"),
        (
            "https://contoso.services.ai.azure.com/api/projects/p/applications/bot/protocols/openai",
            "agent-application",
        ),
    ] {
        assert_eq!(shape(endpoint), (false, Value::String(surface.into())), "{endpoint}");
    }
}
