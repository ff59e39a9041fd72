//! The `role-assignment` check on today's Azure OpenAI surfaces, against the lab through the real
//! binary (loopback only; run through ../shared/sandbox): Foundry projects (authorized at the
//! project, which must exist in ARM), the AIServices data actions a project needs, non-OpenAI
//! models on `/models` (MaaS) and through `/openai/v1` (unverified: a warning), roles matched by
//! GUID and named by their 2026 names, and fixes for the smallest role at the narrowest scope.

mod common;
use common::*;
use serde_json::Value;

const FOUNDRY: &str = "/subscriptions/6a1f4e2b-9d3c-4b8a-8e7f-2c5d1a9b0e63/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-foundry";
const FOUNDRY_USER_GUID: &str = "53ca6127-db72-4b80-b1b0-d745d6d5456d";

/// The doctor's role check (and what it needs) on a scenario, with the lab's `--endpoint`
/// replaced by the lab's root + `path` when given.
fn roles(scenario: &str, path: Option<&str>) -> Value {
    let lab = Lab::start(scenario, &[]);
    let mut args: Vec<String> = lab.args.clone();
    if let Some(p) = path {
        let i = args.iter().position(|a| a == "--endpoint").expect("--endpoint");
        let url = url::Url::parse(&args[i + 1]).expect("lab endpoint");
        args[i + 1] = format!("{}{p}", url.join("/").unwrap());
    }
    let home = tempfile::tempdir().expect("tempdir");
    let mut c = std::process::Command::new(BIN);
    c.env_clear()
        .env("AOAI_DOCTOR_COLOR", "never")
        .env("HOME", home.path())
        .envs(lab.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args)
        .args(["--format", "json", "--only", "role-assignment"]);
    json(&run(c))
}

fn role_check(report: &Value) -> &Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == "role-assignment"))
        .unwrap_or_else(|| panic!("no role-assignment check in {report}"))
}

/// Status, finding codes, and all the text the check says.
fn judged(report: &Value) -> (String, Vec<String>, String) {
    let c = role_check(report);
    let codes = c["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f["code"].as_str().unwrap_or("").to_string())
        .collect();
    let text = c["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} | {} | {}",
                f["message"].as_str().unwrap_or(""),
                f["remediation"]["text"].as_str().unwrap_or(""),
                commands(f)
            )
        })
        .chain([c["summary"].as_str().unwrap_or("").to_string()])
        .collect::<Vec<_>>()
        .join("\n");
    (c["status"].as_str().unwrap_or("").to_string(), codes, text)
}

#[test]
fn foundry_user_on_the_project_grants_the_project_endpoint() {
    let r = roles("healthy-foundry-project", None);
    let (status, codes, text) = judged(&r);
    assert_eq!((status.as_str(), codes.len()), ("pass", 0), "{text}");
    assert!(text.contains("Foundry User on the project"), "{text}");
    let ev = &role_check(&r)["evidence"];
    assert_eq!(ev["project"]["id"], format!("{FOUNDRY}/projects/chat-proj"));
    assert!(
        ev["requirement"]["note"].as_str().unwrap().contains("unverified"),
        "{ev}"
    );
}

#[test]
fn a_project_assignment_does_not_count_for_the_accounts_own_routes() {
    // The same world, called on the account's v1 route: the project's Foundry User does not
    // reach it; Reader on the account is all that applies (and Alice may not list assignments
    // at the subscription, so the project's is not seen there either).
    let (status, codes, text) = judged(&roles("healthy-foundry-project", Some("openai/v1/")));
    assert_eq!(
        (status.as_str(), codes),
        ("fail", vec!["role-control-plane-only".to_string()]),
        "{text}"
    );
    assert!(text.contains("Reader on the account"), "{text}");
    assert!(
        text.contains(&format!(
            "--role \"Cognitive Services OpenAI User\" --scope {FOUNDRY}\n"
        )) || text.ends_with(&format!("--role \"Cognitive Services OpenAI User\" --scope {FOUNDRY}")),
        "{text}"
    );
}

#[test]
fn openai_user_alone_on_a_project_names_the_aiservices_action_and_foundry_user() {
    let (status, codes, text) = judged(&roles("foundry-project-openai-user", None));
    assert_eq!(
        (status.as_str(), codes),
        ("fail", vec!["role-missing".to_string()]),
        "{text}"
    );
    for want in [
        "AIServices/agents/write or AIServices/responses/write (which one the service checks is unverified",
        "\"Foundry User (formerly Azure AI User)\"",
        FOUNDRY_USER_GUID,
        "it also grants every other Cognitive Services data action",
        &format!("--role \"Foundry User\" --scope {FOUNDRY}/projects/chat-proj"),
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn foundry_account_owner_only_has_no_data_action() {
    let (status, codes, text) = judged(&roles("foundry-account-owner-only", None));
    assert_eq!(
        (status.as_str(), codes),
        ("fail", vec!["role-control-plane-only".to_string()]),
        "{text}"
    );
    assert!(
        text.contains("Foundry Account Owner (formerly Azure AI Account Owner)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("--role \"Foundry User\" --scope {FOUNDRY}/projects/chat-proj")),
        "{text}"
    );
}

#[test]
fn openai_user_for_a_non_openai_model() {
    // On /models: the MaaS action, a failure.
    let (status, codes, text) = judged(&roles("foundry-maas-openai-user", None));
    assert_eq!(
        (status.as_str(), codes),
        ("fail", vec!["role-missing".to_string()]),
        "{text}"
    );
    assert!(text.contains("MaaS/chat/completions/action"), "{text}");
    assert!(
        text.contains(&format!("--role \"Foundry User\" --scope {FOUNDRY}\n")),
        "{text}"
    );
    // Through /openai/v1: which action the service checks is unverified, a warning only.
    let (status, codes, text) = judged(&roles("foundry-maas-openai-user", Some("openai/v1/")));
    assert_eq!(
        (status.as_str(), codes),
        ("warn", vec!["role-data-action-unverified".to_string()]),
        "{text}"
    );
    assert!(text.contains("unverified") && text.contains("DeepSeek"), "{text}");
}

#[test]
fn a_project_the_account_does_not_have() {
    let (status, codes, text) = judged(&roles("healthy-foundry-project", Some("api/projects/chat-prj")));
    assert_eq!(
        (status.as_str(), codes),
        ("fail", vec!["role-project-not-found".to_string()]),
        "{text}"
    );
    assert!(text.contains("its projects: chat-proj"), "{text}");
}

#[test]
fn classic_roles_keep_their_verdict_and_fix() {
    let (status, _, text) = judged(&roles("missing-role", None));
    assert_eq!(status, "fail", "{text}");
    assert!(text.contains("--role \"Cognitive Services OpenAI User\""), "{text}");
    assert!(!text.contains("Foundry"), "{text}");
}
