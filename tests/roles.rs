//! The `role-assignment` check against the lab: the real binary, a cleared environment,
//! loopback only. The lab answers ARM from its scenario's RBAC state; these tests prove the
//! doctor reads assignments, definitions, deny assignments and effective permissions the way
//! Azure serves them.

mod common;
use common::*;

const SUB: &str = "6a1f4e2b-9d3c-4b8a-8e7f-2c5d1a9b0e63";
const ACCOUNT: &str = "/subscriptions/6a1f4e2b-9d3c-4b8a-8e7f-2c5d1a9b0e63/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai";
const ALICE: &str = "0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70";
const CHAT_APP_MI: &str = "4c6e8a0b-2d4f-4b6c-8e0a-1c3e5a7b9d24";
const CHAT_APP_MI_CLIENT_ID: &str = "8b2d4f6a-1c3e-4a5b-9d7f-0e2c4a6b8d13";
const CHAT_APP_SITE: &str = "/subscriptions/6a1f4e2b-9d3c-4b8a-8e7f-2c5d1a9b0e63/resourcegroups/rg-chat-app/providers/Microsoft.Web/sites/chat-app";
const ID_CHAT: &str = "2e4a6c8e-0b1d-4f3a-9c5e-7a9b1d3f5e86";
const ID_CHAT_RESOURCE: &str = "/subscriptions/6a1f4e2b-9d3c-4b8a-8e7f-2c5d1a9b0e63/resourcegroups/rg-identity/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-chat";
const CONTOSO: &str = "3f2b8a6e-5c1d-4e7f-9a0b-6d4c2e1f8a35";

/// Runs the doctor against a scenario: the role check and what it needs (the endpoint, and the
/// CLI and environment checks the credential chain consults), without the live probe.
fn roles(scenario: &str, extra: &[&str]) -> serde_json::Value {
    roles_with(scenario, extra, |_| vec![])
}

/// [`roles`], with variables the test sets over the lab's (given the lab's environment).
fn roles_with(
    scenario: &str,
    extra: &[&str],
    overrides: impl Fn(&[(String, String)]) -> Vec<(String, String)>,
) -> serde_json::Value {
    let lab = Lab::start(scenario, &[]);
    // The lab's suggested arguments, minus any the test overrides.
    let overridden = |a: &str| a.starts_with("--") && extra.contains(&a);
    let mut args = lab.args.iter();
    let mut kept = vec![];
    while let Some(a) = args.next() {
        if overridden(a) {
            args.next();
        } else {
            kept.push(a.clone());
        }
    }
    let mut c = std::process::Command::new(BIN);
    c.env_clear()
        .env("AOAI_DOCTOR_COLOR", "never")
        .envs(lab.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(overrides(&lab.env));
    let home = tempfile::tempdir().expect("tempdir");
    c.env("HOME", home.path());
    c.args(kept)
        .args([
            "--format",
            "json",
            "--only",
            "endpoint,environment,azure-cli,role-assignment",
        ])
        .args(extra);
    let r = run(c);
    let report = json(&r);
    // The exit code follows the verdict exactly (README's exit-code table).
    let expected_code = match report["verdict"].as_str() {
        Some("pass" | "warn") => 0,
        Some("fail") => 1,
        other => panic!("{scenario} {extra:?}: verdict {other:?}: {}", r.stderr),
    };
    assert_eq!(r.code, expected_code, "exit for {scenario} {extra:?}: {}", r.stderr);
    report
}

fn role_check(report: &serde_json::Value) -> &serde_json::Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == "role-assignment"))
        .unwrap_or_else(|| panic!("no role-assignment check in {report}"))
}

/// The role check's finding codes, in order.
fn role_codes(report: &serde_json::Value) -> Vec<String> {
    role_check(report)["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn finding<'a>(report: &'a serde_json::Value, code: &str) -> &'a serde_json::Value {
    role_check(report)["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["code"] == code))
        .unwrap_or_else(|| panic!("no {code} in {}", role_check(report)))
}

fn grant_command(oid: &str, kind: &str) -> String {
    format!(
        "az role assignment create --assignee-object-id {oid} --assignee-principal-type {kind} --role \"Cognitive Services OpenAI User\" --scope {ACCOUNT}"
    )
}

#[test]
fn healthy_cli_is_granted_and_shows_the_account() {
    let r = roles("healthy-cli", &[]);
    let c = role_check(&r);
    assert_eq!(c["status"], "pass", "{c}");
    assert!(role_codes(&r).is_empty(), "{c}");
    let e = &c["evidence"];
    assert_eq!(e["account"]["id"], ACCOUNT);
    assert_eq!(e["account"]["kind"], "OpenAI");
    assert_eq!(e["account"]["disableLocalAuth"], true);
    assert_eq!(e["account"]["publicNetworkAccess"], "Enabled");
    assert_eq!(e["account"]["networkAcls"]["defaultAction"], "Allow");
    assert_eq!(e["account_found_by"], "endpoint");
    assert_eq!(e["principal"]["object_id"], ALICE);
    assert_eq!(e["role_assignments"][0]["role"], "Cognitive Services OpenAI User");
    assert_eq!(
        e["role_assignments"][0]["role_source"], "offline",
        "the bundled built-in, confirmed by the effective permissions read beside the assignments: no live read"
    );
    assert_eq!(e["effective_permissions"]["grants"], true);
    assert!(
        c["summary"]
            .as_str()
            .unwrap()
            .contains("Cognitive Services OpenAI User"),
        "{c}"
    );
}

#[test]
fn management_roles_carry_no_data_actions() {
    for (scenario, role, scope) in [
        ("contributor-only", "Contributor", "resource group rg-ai"),
        (
            "owner-at-subscription",
            "Owner",
            "subscription 6a1f4e2b-9d3c-4b8a-8e7f-2c5d1a9b0e63",
        ),
    ] {
        let r = roles(scenario, &[]);
        assert_eq!(
            status_of(&r, "role-assignment"),
            "fail",
            "{scenario}: {}",
            role_check(&r)
        );
        assert_eq!(role_codes(&r), vec!["role-control-plane-only"], "{scenario}");
        let f = finding(&r, "role-control-plane-only");
        assert!(
            f["message"].as_str().unwrap().contains(&format!("{role} on {scope}")),
            "{f}"
        );
        assert_eq!(f["remediation"]["commands"][0], grant_command(ALICE, "User"));
        let text = f["remediation"]["text"].as_str().unwrap();
        assert!(
            text.contains("Microsoft.Authorization/roleAssignments@2022-04-01"),
            "Bicep: {text}"
        );
        assert!(text.contains("azurerm_role_assignment"), "Terraform: {text}");
        assert_eq!(r["verdict"], "fail");
    }
}

#[test]
fn no_role_at_all_is_missing_with_or_without_the_resource_id() {
    // Nothing visible in the tenant: the caller holds no role anywhere in it.
    let r = roles("missing-role", &[]);
    assert_eq!(status_of(&r, "role-assignment"), "fail");
    // Resource Graph shows nothing to a caller without a role, so the search fell back to
    // the subscription scan, and says so (info).
    assert_eq!(role_codes(&r), vec!["role-missing", "role-discovery-scan"]);
    // With the id, the assignment read is forbidden, but the caller's effective permissions
    // settle it: no data action.
    let r = roles("missing-role", &["--resource-id", ACCOUNT]);
    assert_eq!(status_of(&r, "role-assignment"), "fail", "{}", role_check(&r));
    assert_eq!(role_codes(&r), vec!["role-missing", "role-read-forbidden"]);
    assert_eq!(
        finding(&r, "role-missing")["remediation"]["commands"][0],
        grant_command(ALICE, "User")
    );
    assert_eq!(role_check(&r)["evidence"]["effective_permissions"]["grants"], false);
}

#[test]
fn the_right_role_on_another_account_is_the_wrong_scope() {
    let r = roles("role-on-other-account", &[]);
    assert_eq!(status_of(&r, "role-assignment"), "fail");
    assert_eq!(role_codes(&r), vec!["role-wrong-scope", "role-control-plane-only"]);
    let m = finding(&r, "role-wrong-scope")["message"].as_str().unwrap().to_string();
    assert!(m.contains("accounts/contoso-aoai-eus2") && m.contains(ACCOUNT), "{m}");
    assert_eq!(
        finding(&r, "role-wrong-scope")["remediation"]["commands"][0],
        grant_command(ALICE, "User")
    );
}

#[test]
fn inherited_and_group_assignments_count_across_pages() {
    // Both scenarios serve one assignment per page: the doctor must follow nextLink.
    let r = roles("role-via-group", &[]);
    assert_eq!(status_of(&r, "role-assignment"), "pass", "{}", role_check(&r));
    let list = role_check(&r)["evidence"]["role_assignments"]
        .as_array()
        .unwrap()
        .clone();
    assert!(list.len() >= 2, "{list:?}");
    assert!(
        list.iter()
            .any(|a| a["principal_type"] == "Group" && a["reading"]["reading"] == "grants"),
        "{list:?}"
    );
    let r = roles("role-inherited-from-rg", &[]);
    assert_eq!(status_of(&r, "role-assignment"), "pass", "{}", role_check(&r));
    assert_eq!(
        role_check(&r)["evidence"]["role_assignments"][0]["where"],
        "resource group rg-ai"
    );
}

#[test]
fn custom_roles_are_judged_by_their_data_actions() {
    let r = roles("custom-role-with-data-action", &[]);
    assert_eq!(status_of(&r, "role-assignment"), "pass", "{}", role_check(&r));
    let r = roles("custom-role-not-data-actions", &[]);
    assert_eq!(status_of(&r, "role-assignment"), "fail");
    assert_eq!(role_codes(&r), vec!["role-missing"]);
    let m = finding(&r, "role-missing")["message"].as_str().unwrap().to_string();
    assert!(
        m.contains("AOAI Everything But Chat") && m.contains("notDataActions"),
        "{m}"
    );
    // The same role allows embeddings: the verdict follows the probe's data action.
    let r = roles("custom-role-not-data-actions", &["--probe", "embeddings"]);
    assert_eq!(status_of(&r, "role-assignment"), "pass", "{}", role_check(&r));
    assert_eq!(
        role_check(&r)["evidence"]["data_action"],
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action"
    );
}

#[test]
fn a_deny_assignment_wins_over_the_role() {
    let r = roles("deny-assignment", &[]);
    assert_eq!(status_of(&r, "role-assignment"), "fail", "{}", role_check(&r));
    assert_eq!(role_codes(&r), vec!["role-denied"]);
    let m = finding(&r, "role-denied")["message"].as_str().unwrap().to_string();
    assert!(
        m.contains("Deny OpenAI inference (platform guardrail)") && m.contains("resource group rg-ai"),
        "{m}"
    );
}

#[test]
fn a_fresh_assignment_is_probably_still_propagating() {
    let r = roles("propagating-role", &[]);
    assert_eq!(status_of(&r, "role-assignment"), "warn", "{}", role_check(&r));
    assert_eq!(role_codes(&r), vec!["role-propagating"]);
    assert!(
        finding(&r, "role-propagating")["message"]
            .as_str()
            .unwrap()
            .contains("probably still propagating")
    );
}

#[test]
fn cannot_verify_is_not_missing() {
    // A data-only identity cannot read the account, so the endpoint search finds nothing.
    let r = roles("arm-read-forbidden", &[]);
    assert_eq!(status_of(&r, "role-assignment"), "warn", "{}", role_check(&r));
    assert_eq!(role_codes(&r), vec!["role-resource-not-found", "role-discovery-scan"]);
    // Given the id: the role-assignment read is forbidden (a warning naming the role needed),
    // while its effective permissions show the call is allowed.
    let r = roles("arm-read-forbidden", &["--resource-id", ACCOUNT]);
    assert_eq!(status_of(&r, "role-assignment"), "warn", "{}", role_check(&r));
    assert_eq!(role_codes(&r), vec!["role-read-forbidden"]);
    let f = finding(&r, "role-read-forbidden");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("Microsoft.Authorization/roleAssignments/read"),
        "{f}"
    );
    assert!(
        f["remediation"]["text"]
            .as_str()
            .unwrap()
            .contains("Role Based Access Control Administrator"),
        "{f}"
    );
    assert_eq!(role_check(&r)["evidence"]["principal"]["object_id"], CHAT_APP_MI);
    assert_eq!(r["verdict"], "warn");
}

#[test]
fn assignee_by_object_id_client_id_and_resource_id() {
    // The app runs as the App Service's system-assigned identity, which only holds Reader.
    let r = roles("assignee-mi-lacks-role", &[]);
    assert_eq!(role_codes(&r), vec!["role-control-plane-only"]);
    assert_eq!(
        finding(&r, "role-control-plane-only")["remediation"]["commands"][0],
        grant_command(CHAT_APP_MI, "ServicePrincipal")
    );
    // The same identity named by its resource id or its client id.
    for assignee in [CHAT_APP_SITE, CHAT_APP_MI_CLIENT_ID] {
        let r = roles("assignee-mi-lacks-role", &["--assignee", assignee]);
        assert_eq!(role_codes(&r), vec!["role-control-plane-only"], "{assignee}");
        assert_eq!(
            role_check(&r)["evidence"]["principal"]["object_id"],
            CHAT_APP_MI,
            "{assignee}"
        );
    }
    // The user-assigned identity holds the role (read with the caller's ARM token).
    let r = roles("assignee-mi-lacks-role", &["--assignee", ID_CHAT]);
    assert_eq!(status_of(&r, "role-assignment"), "pass", "{}", role_check(&r));
    assert_eq!(role_check(&r)["evidence"]["principal"]["is_caller"], false);
    // By its resource id the doctor asks ARM for its principalId. The lab does not serve
    // Microsoft.ManagedIdentity (404 InvalidResourceType), so the doctor must say it could not
    // resolve the assignee: a warning, never a verdict about the wrong principal.
    let r = roles("assignee-mi-lacks-role", &["--assignee", ID_CHAT_RESOURCE]);
    assert_eq!(status_of(&r, "role-assignment"), "warn", "{}", role_check(&r));
    assert_eq!(role_codes(&r), vec!["role-assignee-unresolved"]);
    let message = finding(&r, "role-assignee-unresolved")["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("HTTP 404 InvalidResourceType"), "{message}");
    assert!(
        role_check(&r)["evidence"]["principal"]["object_id"].is_null(),
        "{}",
        role_check(&r)
    );
    // An unknown GUID: nothing anywhere, and a hint that it may be a client id.
    let r = roles("healthy-cli", &["--assignee", "11111111-2222-4333-8444-555555555555"]);
    assert_eq!(role_codes(&r), vec!["role-missing", "role-assignee-unresolved"]);
}

#[test]
fn an_account_in_another_tenant_is_named() {
    let r = roles("wrong-tenant", &["--resource-id", ACCOUNT]);
    assert_eq!(status_of(&r, "role-assignment"), "fail", "{}", role_check(&r));
    assert_eq!(role_codes(&r), vec!["role-resource-other-tenant"]);
    let f = finding(&r, "role-resource-other-tenant");
    assert_eq!(f["remediation"]["commands"][0], format!("az login --tenant {CONTOSO}"));
}

#[test]
fn an_unreachable_arm_warns_in_bounded_time() {
    let started = std::time::Instant::now();
    let r = roles("healthy-cli", &["--arm-endpoint", "https://127.0.0.1:9/"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(status_of(&r, "role-assignment"), "warn", "{}", role_check(&r));
    assert_eq!(role_codes(&r), vec!["role-arm-unreachable"]);
    // A resource id that is not an account's is refused before any lookup.
    let r = roles(
        "healthy-cli",
        &["--resource-id", &format!("/subscriptions/{SUB}/resourceGroups/rg-ai")],
    );
    assert_eq!(role_codes(&r), vec!["role-resource-not-found"]);
    assert_eq!(status_of(&r, "role-assignment"), "fail");
}

/// The Azure Developer CLI as the credential: the role check gets its ARM token from
/// `azd auth token --scope <arm>/.default` (here an `azd` that asks the lab's `az` shim and
/// answers in azd's shape), not `role-arm-unreachable`.
#[cfg(unix)]
#[test]
fn the_azure_developer_cli_reads_roles_with_its_own_arm_token() {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().expect("tempdir");
    let sed = ["/usr/bin/sed", "/bin/sed"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("sed");
    let r = roles_with("healthy-cli", &[], |env| {
        let shim_dir = &env.iter().find(|(k, _)| k == "PATH").expect("PATH").1;
        let az = std::path::Path::new(shim_dir).join("az");
        let script = format!(
            "#!/bin/sh\n# azd auth token --output json --no-prompt --scope SCOPE\n\
             for a in \"$@\"; do scope=\"$a\"; done\n\
             echo \"$@\" >> \"${{0%/*}}/calls\"\n\
             '{}' account get-access-token --scope \"$scope\" -o json | '{sed}' 's/\"accessToken\"/\"token\"/'\n",
            az.display()
        );
        let azd = bin.path().join("azd");
        std::fs::write(&azd, script).expect("write azd");
        std::fs::set_permissions(&azd, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        // Only azd on the PATH: the chain must pick it (no az).
        vec![("PATH".to_string(), bin.path().display().to_string())]
    });
    let c = role_check(&r);
    assert_eq!(c["status"], "pass", "{c}");
    assert!(role_codes(&r).is_empty(), "{c}");
    assert_eq!(c["evidence"]["account"]["id"], ACCOUNT);
    let calls = std::fs::read_to_string(bin.path().join("calls"))
        .unwrap_or_else(|_| panic!("azd was not called: {}", r["identity"]));
    assert!(
        calls.contains("auth token --output json --no-prompt --scope https://management.azure.com/.default"),
        "{calls}"
    );
}
