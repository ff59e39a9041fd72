//! `aoai-doctor explain` as a user runs it on the errors azure-identity prints: rows of the five
//! SDKs' TROUBLESHOOTING.md tables (`fixtures/corpus/sdk-troubleshooting.md`) in the exception
//! text each SDK really prints, and the Foundry-era data-plane answers (a 401 naming the data
//! action, a 401 naming the ai.azure.com audience, an api-version sent to /openai/v1). The real
//! binary, offline, from standard input; each must name its catalogue code and say the fix.

mod common;
use common::*;
use std::io::Write;
use std::process::Stdio;

fn explain_json(text: &str) -> (i32, serde_json::Value) {
    let home = tempfile::tempdir().unwrap();
    let mut c = doctor(home.path());
    c.args(["explain", "--format", "json"]);
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (r.code, json(&r))
}

/// The fixture really holds the row a case quotes (so the cases cannot drift from it).
fn assert_in_fixture(fragment: &str) {
    let fixture = std::fs::read_to_string(format!(
        "{}/fixtures/corpus/sdk-troubleshooting.md",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert!(fixture.contains(fragment), "not a row of the fixture: {fragment}");
}

#[test]
fn explain_names_the_code_of_troubleshooting_rows_in_every_sdk() {
    for (row, exception, code, fix_says) in [
        (
            "Please run 'Connect-AzAccount' to set up account.",
            "azure.identity.CredentialUnavailableError: Please run 'Connect-AzAccount' to set up account.",
            "powershell-not-logged-in",
            "Connect-AzAccount",
        ),
        (
            "WorkloadIdentityCredential authentication unavailable. The workload options are not fully configured",
            "AggregateAuthenticationError: ChainedTokenCredential authentication failed.\nCredentialUnavailableError: WorkloadIdentityCredential authentication unavailable. The workload options are not fully configured.",
            "wi-not-configured",
            "AZURE_FEDERATED_TOKEN_FILE",
        ),
        (
            "AADSTS700027 — Client assertion contains an invalid signature.",
            "Azure.Identity.AuthenticationFailedException: ClientCertificateCredential authentication failed: AADSTS700027: Client assertion contains an invalid signature.",
            "aadsts-700027",
            "certificate",
        ),
        (
            "The current credential is not configured to acquire tokens for tenant <tenant ID>",
            "com.azure.core.exception.ClientAuthenticationException: The current credential is not configured to acquire tokens for tenant 72f988bf-86f1-41af-91ab-2d7cd011db47",
            "credential-tenant-not-allowed",
            "additionally_allowed_tenants",
        ),
        (
            "Azure Developer CLI not found on path",
            "DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tAzureDeveloperCLICredential: Azure Developer CLI not found on path",
            "azd-not-installed",
            "azd",
        ),
        (
            "No service connection found with identifier",
            "CredentialUnavailableError: AzurePipelinesCredential: No service connection found with identifier 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.",
            "pipelines-service-connection",
            "service connection",
        ),
        (
            "The requested identity hasn’t been assigned to this resource.",
            "ManagedIdentityCredential: The requested identity hasn’t been assigned to this resource.",
            "token-mi-identity-not-found",
            "client id",
        ),
    ] {
        assert_in_fixture(row);
        let (exit, r) = explain_json(exception);
        assert_eq!(exit, 0, "{exception}: {r}");
        let f = &r["findings"][0];
        assert_eq!(f["code"], code, "{exception}: {r}");
        assert_eq!(f["severity"], "error");
        let fix = f["remediation"]["text"].as_str().unwrap();
        assert!(fix.contains(fix_says), "{code}: {fix}");
    }
}

#[test]
fn explain_names_the_data_action_and_its_smallest_role() {
    // As reported in https://github.com/microsoft-foundry/foundry-samples/issues/692.
    let text = "openai.AuthenticationError: Error code: 401 - {'error': {'code': 'PermissionDenied', 'message': 'The principal `238d16af-467a-4c66-8f07-2048c59b6c43` lacks the required data action `Microsoft.CognitiveServices/accounts/AIServices/agents/write` to perform `POST /api/projects/{projectName}/openai/*` operation. For instructions on granting the necessary permissions, see https://aka.ms/FoundryPermissions.'}}";
    let (exit, r) = explain_json(text);
    assert_eq!(exit, 0);
    let f = &r["findings"][0];
    assert_eq!(f["code"], "probe-permission-denied", "{r}");
    assert!(
        f["message"].as_str().unwrap().contains("AIServices/agents/write"),
        "{r}"
    );
    let fix = f["remediation"]["text"].as_str().unwrap();
    assert!(
        fix.contains("Foundry User") && fix.contains("53ca6127-db72-4b80-b1b0-d745d6d5456d"),
        "{fix}"
    );
    assert_eq!(
        f["evidence"]["data_action"],
        "Microsoft.CognitiveServices/accounts/AIServices/agents/write"
    );

    let classic = r#"{"error":{"code":"PermissionDenied","message":"The principal `11111111-2222-3333-4444-555555555555` lacks the required data action `Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action` to perform `POST /openai/deployments/{deployment-id}/chat/completions` operation."}}"#;
    let (_, r) = explain_json(classic);
    let fix = r["findings"][0]["remediation"]["text"].as_str().unwrap().to_string();
    assert!(
        fix.contains("Cognitive Services OpenAI User") && fix.contains("5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"),
        "{fix}"
    );
}

#[test]
fn explain_knows_the_project_audience_and_the_v1_api_version() {
    let (_, r) = explain_json(
        r#"{"statusCode":401,"message":"Unauthorized. Access token is missing, invalid, audience is incorrect (https://ai.azure.com), or have expired."}"#,
    );
    let f = &r["findings"][0];
    assert_eq!(f["code"], "probe-project-audience", "{r}");
    assert!(
        f["remediation"]["text"]
            .as_str()
            .unwrap()
            .contains("https://ai.azure.com/.default")
    );

    let (_, r) = explain_json(
        r#"{"error":{"code":"BadRequest","message":"api-version query parameter is not allowed when using /v1 path"}}"#,
    );
    assert_eq!(r["findings"][0]["code"], "probe-api-version-on-v1", "{r}");
}
