//! `aoai-doctor fix` against the lab: the real binary writes through the lab's ARM (which
//! checks the caller's right to write, conditions and principals as ARM does) and waits for
//! the lab's data plane to see the new assignment after its propagation delay.
//! Run through ../shared/sandbox like every test that starts servers.

mod common;

use common::{Lab, Run, codes, json, run, status_of};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `aoai-doctor fix ARGS…` pointed at the lab, no terminal (stdin is null).
fn fix(lab: &Lab, extra: &[&str]) -> Run {
    let mut c = lab.doctor();
    // `doctor()` already holds the lab's target arguments; `fix` must come first.
    let target: Vec<String> = c.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut cmd = Command::new(common::BIN);
    cmd.env_clear();
    for (k, v) in c.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.arg("fix").args(extra).args(target).stdin(Stdio::null());
    c = cmd;
    run(c)
}

/// One call to the lab's ARM with a token from the lab's own `az`: (status, JSON body).
fn arm(lab: &Lab, method: &str, path_and_query: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let var = |k: &str| {
        lab.var(k)
            .unwrap_or_else(|| panic!("{k} not in the lab env"))
            .to_string()
    };
    let out = Command::new(PathBuf::from(var("PATH")).join("az"))
        .env_clear()
        .envs(lab.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args([
            "account",
            "get-access-token",
            "--resource",
            "https://management.azure.com/",
            "-o",
            "json",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("the lab's az");
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).expect("az JSON");
    let token = token["accessToken"].as_str().expect("accessToken").to_string();
    let pem = std::fs::read(var("SSL_CERT_FILE")).expect("the lab's CA");
    let url = format!(
        "{}{path_and_query}",
        var("AOAI_DOCTOR_ARM_ENDPOINT").trim_end_matches('/')
    );
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
            .no_proxy()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .unwrap();
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = client.request(method, url).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    })
}

/// The role assignments `fix` created (its description says so) at exactly `scope`.
fn assignments(lab: &Lab, scope: &str) -> Vec<serde_json::Value> {
    let (_, body) = arm(
        lab,
        "GET",
        &format!("{scope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()"),
        None,
    );
    body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .filter(|a| {
            a["properties"]["scope"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(scope))
        })
        .filter(|a| {
            a["properties"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("aoai-doctor"))
        })
        .cloned()
        .collect()
}

fn account_id(report: &serde_json::Value) -> String {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == "fix"))
        .and_then(|c| c["evidence"]["plan"]["scope"].as_str())
        .expect("the fix row names the plan's scope")
        .to_string()
}

#[test]
fn owner_at_the_subscription_gets_one_assignment_on_the_account_and_a_working_call() {
    let lab = Lab::start("owner-at-subscription", &["--propagation-delay", "3s"]);
    let r = fix(
        &lab,
        &["--yes", "--format", "json", "--wait-for-propagation", "60s", "-v"],
    );
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let report = json(&r);
    assert_eq!(report["schema_version"], 1);
    fix_row_counts_its_own_requests(&report, &r.stderr);
    assert_eq!(status_of(&report, "data-plane-probe"), "pass", "{}", r.stdout);
    assert!(
        codes(&report).contains(&"fix:fix-applied".to_string()),
        "{:?}",
        codes(&report)
    );
    let changes = report["changes"].as_array().expect("changes recorded");
    assert_eq!(changes.len(), 1, "{changes:?}");
    let change = &changes[0];
    let scope = account_id(&report);
    assert!(
        scope.ends_with("/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai"),
        "{scope}"
    );
    assert!(!scope.contains("/projects/"));
    assert_eq!(change["scope"], scope.as_str());
    assert_eq!(change["role"], "Cognitive Services OpenAI User");
    assert_eq!(change["principal_type"], "User");
    assert!(
        change["undo_command"]
            .as_str()
            .unwrap()
            .starts_with("az role assignment delete --ids")
    );
    assert!(change["time"].as_str().is_some_and(|t| t.contains('T')), "{change}");
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/report.schema.json")).expect("committed schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "the fix report does not match the committed schema: {errors:?}"
    );
    // It waited: the first live call after the write could not pass within a 3 s delay.
    assert!(r.stderr.contains("waiting for the role to propagate"), "{}", r.stderr);

    // Exactly one new assignment, on the account itself, not the RG or the subscription.
    let at_account = assignments(&lab, &scope);
    assert_eq!(at_account.len(), 1, "{at_account:?}");
    assert_eq!(at_account[0]["id"], change["assignment_id"]);
    assert!(
        at_account[0]["properties"]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("aoai-doctor")
    );

    // A re-run changes nothing: the same name, no second assignment, still exit 0.
    let again = fix(&lab, &["--yes", "--format", "json", "--wait-for-propagation", "30s"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let again_report = json(&again);
    assert!(again_report.get("changes").is_none(), "{}", again.stdout);
    assert!(
        codes(&again_report).contains(&"fix:fix-nothing-to-do".to_string())
            || codes(&again_report).contains(&"fix:fix-already-done".to_string())
    );
    let after = assignments(&lab, &scope);
    assert_eq!(after.len(), 1, "{after:?}");

    // And the real Python app now gets its completion.
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/real-sdk-venv/bin/python");
    if !python.exists() {
        assert!(std::env::var_os("CI").is_none(), "{} is missing", python.display());
        eprintln!("\n!!!!!!!! SKIPPED the real Python app: run scripts/setup-real-sdk.sh !!!!!!!!\n");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(&python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/real_sdk/chat.py"))
        .arg("default")
        .env_clear()
        .envs(lab.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("HOME", home.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| panic!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(line["ok"], true, "{line}");
}

/// The fix row counts its own calls as the runner counts a check's: the permissions read and
/// the PUT (the ARM token comes from the lab's `az`, a subprocess, not a request), in its
/// `requests`, in the run's total and in its `-v` line.
fn fix_row_counts_its_own_requests(report: &serde_json::Value, stderr: &str) {
    let checks = report["checks"].as_array().expect("checks");
    let row = checks.iter().find(|c| c["id"] == "fix").expect("a fix row");
    assert_eq!(row["requests"], serde_json::json!({"arm": 2}), "{row}");
    for service in ["arm", "entra", "mi", "dataplane"] {
        let sum: u64 = checks
            .iter()
            .map(|c| c["requests"][service].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(report["requests"][service].as_u64().unwrap_or(0), sum, "{service}");
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("aoai-doctor: fix: pass in ") && l.ends_with("; requests: arm 2")),
        "{stderr}"
    );
}

#[test]
fn a_contributor_gets_no_write_and_the_owners_command() {
    let lab = Lab::start("contributor-only", &["--propagation-delay", "1s"]);
    let r = fix(&lab, &["--yes", "--format", "json", "--wait-for-propagation", "5s"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let report = json(&r);
    assert!(
        codes(&report).contains(&"fix:fix-not-permitted".to_string()),
        "{:?}",
        codes(&report)
    );
    assert!(report.get("changes").is_none());
    let scope = account_id(&report);
    // What an owner runs: az with object id, principal type and scope; Bicep; Terraform.
    assert!(
        r.stderr.contains("az role assignment create --assignee-object-id"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--assignee-principal-type User"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("--scope \"{scope}\"")), "{}", r.stderr);
    assert!(
        r.stderr.contains("Microsoft.Authorization/roleAssignments@2022-04-01"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("azurerm_role_assignment"), "{}", r.stderr);
    assert!(r.stderr.contains("Privileged Identity Management"), "{}", r.stderr);
    let granted = assignments(&lab, &scope);
    assert!(granted.is_empty(), "nothing may be written: {granted:?}");
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let lab = Lab::start("owner-at-subscription", &["--propagation-delay", "1s"]);
    let r = fix(&lab, &["--dry-run"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("the plan as JSON");
    assert_eq!(plan["written"], false);
    assert_eq!(plan["caller_may_write"], true, "{plan}");
    assert_eq!(
        plan["plan"]["role_definition_guid"],
        "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
    );
    assert_eq!(plan["request"]["method"], "PUT");
    assert_eq!(plan["request"]["body"]["properties"]["principalType"], "User");
    let scope = plan["plan"]["scope"].as_str().unwrap().to_string();
    assert!(
        scope.contains("/providers/Microsoft.CognitiveServices/accounts/"),
        "{scope}"
    );
    assert!(assignments(&lab, &scope).is_empty());
    // The same plan every time: the name is derived, not random.
    let again: serde_json::Value = serde_json::from_str(&fix(&lab, &["--dry-run"]).stdout).unwrap();
    assert_eq!(again["plan"]["assignment_name"], plan["plan"]["assignment_name"]);

    // No terminal and no --yes: the plan, exit 1, nothing written.
    let r = fix(&lab, &[]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("plans ONE role assignment"), "{}", r.stdout);
    assert!(assignments(&lab, &scope).is_empty());
}

#[test]
fn an_unknown_assignee_is_principal_not_found_and_an_untyped_one_is_not_guessed() {
    let lab = Lab::start("owner-at-subscription", &["--propagation-delay", "1s"]);
    let ghost = "0f0f0f0f-1111-2222-3333-444444444444";
    let r = fix(
        &lab,
        &[
            "--yes",
            "--format",
            "json",
            "--assignee",
            ghost,
            "--wait-for-propagation",
            "0",
        ],
    );
    let report = json(&r);
    assert_ne!(r.code, 0, "{}", r.stdout);
    let found = codes(&report);
    assert!(found.contains(&"fix:fix-cannot-plan".to_string()), "{found:?}");
    assert!(report.get("changes").is_none());

    let r = fix(
        &lab,
        &[
            "--yes",
            "--format",
            "json",
            "--assignee",
            ghost,
            "--assignee-type",
            "service-principal",
            "--wait-for-propagation",
            "0",
        ],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let report = json(&r);
    assert!(
        codes(&report).contains(&"fix:fix-principal-not-found".to_string()),
        "{:?}",
        codes(&report)
    );
    assert!(report.get("changes").is_none());
}

/// `fix` with the lab's target arguments, `--endpoint` replaced by `endpoint`.
fn fix_at(lab: &Lab, endpoint: &str, extra: &[&str]) -> Run {
    let c = lab.doctor();
    let mut target: Vec<String> = c.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    if let Some(i) = target.iter().position(|a| a == "--endpoint") {
        target[i + 1] = endpoint.to_string();
    }
    let mut cmd = Command::new(common::BIN);
    cmd.env_clear();
    for (k, v) in c.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.arg("fix").args(extra).args(target).stdin(Stdio::null());
    run(cmd)
}

#[test]
fn a_foundry_account_owner_may_assign_foundry_user_but_not_openai_user() {
    let lab = Lab::start("foundry-account-owner-only", &["--propagation-delay", "2s"]);
    // On the account's OpenAI path the plan is Cognitive Services OpenAI User, which the
    // role's GuidEquals condition does not allow: nothing written, the owner's command printed.
    let bare = lab.var("AZURE_OPENAI_ENDPOINT").expect("endpoint").to_string();
    let r = fix_at(
        &lab,
        &bare,
        &["--yes", "--format", "json", "--wait-for-propagation", "0"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let report = json(&r);
    assert!(
        codes(&report).contains(&"fix:fix-condition-forbids".to_string()),
        "{:?}",
        codes(&report)
    );
    assert!(
        r.stderr.contains("only under a condition that allows Foundry User"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("--role 5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"),
        "{}",
        r.stderr
    );
    let scope = account_id(&report);
    let written = assignments(&lab, &scope);
    assert!(written.is_empty(), "{written:?}");

    // Through the project endpoint the plan is Foundry User, which the condition allows.
    let r = fix(&lab, &["--yes", "--format", "json", "--wait-for-propagation", "60s"]);
    let report = json(&r);
    assert!(
        codes(&report).contains(&"fix:fix-applied".to_string()),
        "{:?}\n{}",
        codes(&report),
        r.stderr
    );
    assert_eq!(report["changes"][0]["role"], "Foundry User (formerly Azure AI User)");
    assert_eq!(status_of(&report, "data-plane-probe"), "pass", "{}", r.stderr);
    assert_eq!(assignments(&lab, &account_id(&report)).len(), 1);
    // A project endpoint is a surface the doctor knows: nothing else is wrong, the run passes.
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn a_deny_assignment_is_explained_not_worked_around() {
    let lab = Lab::start("deny-assignment", &["--propagation-delay", "1s"]);
    let r = fix(&lab, &["--yes", "--format", "json", "--wait-for-propagation", "0"]);
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = json(&r);
    let found = codes(&report);
    assert!(!found.contains(&"fix:fix-applied".to_string()), "{found:?}");
    assert!(report.get("changes").is_none());
    assert!(found.contains(&"fix:fix-deny-assignment".to_string()), "{found:?}");
}

/// owner-at-subscription, with ARM answering role-assignment writes as `answer`.
fn owner_with_write_answer(answer: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/owner-at-subscription.toml"),
    )
    .unwrap();
    let path = dir.path().join(format!("owner-{answer}.toml"));
    std::fs::write(&path, format!("{base}\n[arm]\nrole_assignment_write = \"{answer}\"\n")).unwrap();
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

#[test]
fn throttling_and_a_claims_challenge_on_the_write_end_in_findings_not_retries_without_end() {
    for (answer, code) in [
        ("throttled", "fix:fix-throttled"),
        ("mfa-required", "fix:fix-claims-challenge"),
    ] {
        let (_dir, scenario) = owner_with_write_answer(answer);
        let lab = Lab::start(&scenario, &["--propagation-delay", "1s"]);
        let started = std::time::Instant::now();
        let r = fix(&lab, &["--yes", "--format", "json", "--wait-for-propagation", "5s"]);
        assert_eq!(r.code, 1, "{answer}: {}\n{}", r.stdout, r.stderr);
        let report = json(&r);
        assert!(
            codes(&report).contains(&code.to_string()),
            "{answer}: {:?}",
            codes(&report)
        );
        assert!(report.get("changes").is_none(), "{answer}");
        // Bounded: three attempts with Retry-After: 1, not an endless loop.
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{answer}");
        let fix_row = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "fix")
            .unwrap();
        assert!(
            fix_row.to_string().contains("az role assignment create"),
            "{answer}: the manual command is there: {fix_row}"
        );
    }
}

#[test]
fn for_an_assignee_the_assignment_is_read_back_and_the_report_says_the_data_plane_was_not_tested_as_it() {
    let lab = Lab::start("owner-at-subscription", &["--propagation-delay", "1s"]);
    let chat_api = "e1a7c3b5-4d2f-4e8a-b6c9-0d3f5a7e1c28";
    let r = fix(
        &lab,
        &[
            "--yes",
            "--format",
            "json",
            "--assignee",
            chat_api,
            "--assignee-type",
            "service-principal",
            "--wait-for-propagation",
            "0",
        ],
    );
    let report = json(&r);
    let found = codes(&report);
    assert!(
        found.contains(&"fix:fix-applied".to_string()),
        "{found:?}\n{}",
        r.stderr
    );
    assert!(found.contains(&"fix:fix-data-plane-untested".to_string()), "{found:?}");
    let change = &report["changes"][0];
    assert_eq!(change["principal_id"], chat_api);
    assert_eq!(change["principal_type"], "ServicePrincipal");
    let scope = account_id(&report);
    let written = assignments(&lab, &scope);
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["properties"]["principalId"], chat_api);
    // Its own calls: the permissions read, the PUT and the read-back.
    let row = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "fix")
        .unwrap();
    assert_eq!(row["requests"], serde_json::json!({"arm": 3}), "{row}");
    // The live call ran as alice, who still has no data role: not a pass, so not exit 0.
    assert_ne!(r.code, 0);
}

#[test]
fn the_labs_arm_answers_role_assignment_puts_as_arm_does_and_fix_then_writes_nothing() {
    let lab = Lab::start("owner-at-subscription", &["--propagation-delay", "1s"]);
    let plan: serde_json::Value = serde_json::from_str(&fix(&lab, &["--dry-run"]).stdout).expect("plan JSON");
    let path = format!(
        "{}?api-version=2022-04-01",
        plan["plan"]["assignment_id"].as_str().unwrap()
    );
    let body = plan["request"]["body"].clone();
    // The planned PUT, twice: created, then the same again (idempotent), one assignment.
    assert_eq!(arm(&lab, "PUT", &path, Some(body.clone())).0, 201);
    assert_eq!(arm(&lab, "PUT", &path, Some(body.clone())).0, 201);
    let scope = plan["plan"]["scope"].as_str().unwrap();
    assert_eq!(assignments(&lab, scope).len(), 1);
    // The same role for the same principal under another name: 409 RoleAssignmentExists.
    let other = format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/11111111-2222-4333-8444-555555555555?api-version=2022-04-01"
    );
    let (status, err) = arm(&lab, "PUT", &other, Some(body.clone()));
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("RoleAssignmentExists")),
        "{err}"
    );
    // An unknown role definition: 404 RoleDefinitionDoesNotExist.
    let mut unknown = body.clone();
    unknown["properties"]["roleDefinitionId"] = serde_json::json!(
        "/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/99999999-9999-4999-8999-999999999999"
    );
    let (status, err) = arm(&lab, "PUT", &other, Some(unknown));
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("RoleDefinitionDoesNotExist")),
        "{err}"
    );

    // fix now finds the role (propagating) and writes nothing more.
    let r = fix(&lab, &["--yes", "--format", "json", "--wait-for-propagation", "30s"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(json(&r).get("changes").is_none());
    assert_eq!(assignments(&lab, scope).len(), 1);
}

#[test]
fn a_contributors_put_is_refused_by_the_labs_arm() {
    let lab = Lab::start("contributor-only", &["--propagation-delay", "1s"]);
    let plan: serde_json::Value = serde_json::from_str(&fix(&lab, &["--dry-run"]).stdout).expect("plan JSON");
    let path = format!(
        "{}?api-version=2022-04-01",
        plan["plan"]["assignment_id"].as_str().unwrap()
    );
    // --dry-run already says the write would be refused (a read of the effective permissions).
    assert_eq!(plan["caller_may_write"], false, "{plan}");
    assert_eq!(plan["write_access"]["access"], "no-write", "{plan}");
    let (status, err) = arm(&lab, "PUT", &path, Some(plan["request"]["body"].clone()));
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("AuthorizationFailed")),
        "{err}"
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Microsoft.Authorization/roleAssignments/write")
    );
}
