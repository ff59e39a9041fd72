//! The inputs, beyond the lab scenarios, that make the doctor produce the rest of the
//! catalogue. Each is one real run of the binary; what it produces is collected, not asserted
//! here (except the token guard of `probe-insecure-http`, which must hold on the wire).

use crate::codes_exercised::{Produced, canned_server, http_answer, lab_doctor, lab_run, offline_run};
use crate::common::{BIN, Lab};
use crate::run::run_limited;
use std::process::Command;
#[path = "inputs_fix.rs"]
mod inputs_fix;

pub type Input = Box<dyn FnOnce() -> Produced + Send>;
/// Variables set for one run.
type Env = Vec<(&'static str, &'static str)>;

/// The tenant and object id of the lab's world (`fixtures/scenarios/_base.toml`).
const CONTOSO: &str = "3f2b8a6e-5c1d-4e7f-9a0b-6d4c2e1f8a35";
const FABRIKAM: &str = "9c7e1d42-8b3a-4f65-a2d0-1e5f7c9b3a84";
const SP: &str = "healthy-service-principal";
const MI: &str = "healthy-managed-identity";
const CLI: &str = "healthy-cli";

fn boxed(f: impl FnOnce() -> Produced + Send + 'static) -> Input {
    Box::new(f)
}

pub fn all(catalogue: &[String]) -> Vec<Input> {
    let mut v = vec![];
    v.extend(aadsts_inputs(catalogue));
    v.extend(offline_inputs());
    v.extend(lab_inputs());
    v.extend(endpoint_inputs());
    v.extend(foundry_role_inputs());
    v.extend(token_inputs());
    v.extend(canned_probe_inputs());
    v.extend(explain_inputs());
    v.extend(inputs_fix::all());
    v.push(boxed(insecure_http_sends_no_token));
    v.push(boxed(role_with_condition));
    v.push(boxed(a_crashing_check_takes_nothing_else_down));
    v.push(boxed(imds_impostor_on_a_vm));
    v.push(boxed(a_limit_no_check_can_meet));
    v.push(boxed(imds_impostor_in_a_container));
    v
}

/// One run per AADSTS code of the catalogue: the lab's Entra refuses the service
/// principal's token request with that number (`lab serve --fault aadsts-N@entra`).
fn aadsts_inputs(catalogue: &[String]) -> Vec<Input> {
    let numbers: Vec<String> = catalogue
        .iter()
        .filter_map(|c| c.strip_prefix("aadsts-").map(str::to_string))
        .collect();
    assert!(
        numbers.len() >= 10,
        "only {} AADSTS codes in the catalogue",
        numbers.len()
    );
    numbers
        .into_iter()
        .map(|n| {
            boxed(move || {
                let fault = format!("aadsts-{n}@entra");
                let p = lab_run(SP, &["--fault", &fault], &[], &[]);
                assert!(p.codes.contains(&format!("aadsts-{n}")), "{}: {:?}", p.label, p.codes);
                p
            })
        })
        .collect()
}

/// Runs with no lab: shapes of endpoints and environments judged before any token.
fn offline_inputs() -> Vec<Input> {
    let runs: Vec<(Vec<&'static str>, Env)> = vec![
        (vec![], vec![]),
        (
            vec![
                "--endpoint",
                "https://eastus.api.cognitive.microsoft.com",
                "--resolve",
                "eastus.api.cognitive.microsoft.com:127.0.0.1",
            ],
            vec![],
        ),
        (
            vec![
                "--endpoint",
                "https://api.openai.com/v1",
                "--resolve",
                "api.openai.com:127.0.0.1",
            ],
            vec![],
        ),
        (
            vec![
                "--endpoint",
                "https://gateway.contoso.example",
                "--resolve",
                "gateway.contoso.example:127.0.0.1",
            ],
            vec![],
        ),
        (
            vec![
                "--endpoint",
                "https://contoso.openai.azure.com/openai/deployments/x",
                "--cloud",
                "AzureUSGovernment",
                "--resolve",
                "contoso.openai.azure.com:127.0.0.1",
            ],
            vec![],
        ),
        (vec!["--endpoint", "https://nonexistent.invalid"], vec![]),
        // A private endpoint's address: the connection goes to the (closed, loopback) proxy.
        (
            vec![
                "--endpoint",
                "https://contoso-aoai.openai.azure.com",
                "--resolve",
                "contoso-aoai.openai.azure.com:10.1.2.3",
            ],
            vec![
                ("HTTPS_PROXY", "http://127.0.0.1:9"),
                ("AZURE_TOKEN_CREDENTIALS", "nonsense"),
            ],
        ),
        (
            vec![],
            vec![
                ("AZURE_CLIENT_ID", "c5d3a1f7-2e8b-4d6c-9f0a-7b1e3c5d8a92"),
                ("AZURE_USERNAME", "bob@contoso.com"),
                ("AZURE_PASSWORD", "p"),
            ],
        ),
        (
            vec![],
            vec![
                ("AZURE_TENANT_ID", CONTOSO),
                ("AZURE_CLIENT_ID", "c5d3a1f7-2e8b-4d6c-9f0a-7b1e3c5d8a92"),
                ("AZURE_CLIENT_CERTIFICATE_PATH", "/nonexistent/cert.pem"),
            ],
        ),
        (
            vec!["--container", "yes"],
            vec![
                ("AZURE_TENANT_ID", CONTOSO),
                ("AZURE_CLIENT_ID", "c5d3a1f7-2e8b-4d6c-9f0a-7b1e3c5d8a92"),
                ("AZURE_FEDERATED_TOKEN_FILE", "/nonexistent/token"),
            ],
        ),
        // Azure Arc / Service Fabric / Cloud Shell style managed identity sources.
        (
            vec![],
            vec![
                ("IDENTITY_ENDPOINT", "http://127.0.0.1:9/metadata/identity/oauth2/token"),
                ("IMDS_ENDPOINT", "http://127.0.0.1:9"),
            ],
        ),
        (vec![], vec![("MSI_ENDPOINT", "http://127.0.0.1:9/oauth2/token")]),
    ];
    runs.into_iter()
        .map(|(args, env)| boxed(move || offline_run(&args, &env)))
        .collect()
}

/// The lab with a fault, an option or a changed environment.
fn lab_inputs() -> Vec<Input> {
    type Case = (
        &'static str,
        Vec<&'static str>,
        Vec<&'static str>,
        Vec<(&'static str, &'static str)>,
    );
    let cases: Vec<Case> = vec![
        (SP, vec!["--fault", "refused@entra"], vec![], vec![]),
        (SP, vec!["--fault", "hang@entra"], vec![], vec![]),
        (SP, vec!["--fault", "http-500@entra"], vec![], vec![]),
        (SP, vec!["--fault", "not-a-token@entra"], vec![], vec![]),
        (SP, vec!["--fault", "bogus-exp@entra"], vec![], vec![]),
        (SP, vec!["--fault", "refused@aoai"], vec![], vec![]),
        (SP, vec!["--fault", "hang@aoai"], vec![], vec![]),
        (SP, vec!["--fault", "http-502@aoai"], vec![], vec![]),
        (SP, vec!["--fault", "html-200@aoai"], vec![], vec![]),
        (SP, vec!["--fault", "untrusted-cert@aoai"], vec![], vec![]),
        (SP, vec!["--fault", "refused@arm"], vec![], vec![]),
        (
            CLI,
            vec!["--fault", "garbage@az"],
            vec!["--credential", "azure-cli"],
            vec![],
        ),
        (MI, vec!["--fault", "http-503@identity"], vec![], vec![]),
        (SP, vec![], vec!["--container", "yes"], vec![("AZURE_TENANT_ID", "")]),
        (
            CLI,
            vec![],
            vec!["--expect-principal", "11111111-2222-4333-8444-555555555555"],
            vec![],
        ),
        (CLI, vec![], vec!["--assignee", "not-a-principal"], vec![]),
        (
            SP,
            vec![],
            vec!["--scope", "https://cognitiveservices.azure.com"],
            vec![],
        ),
        (
            CLI,
            vec![],
            vec![],
            vec![("AZURE_CLIENT_ID", "c5d3a1f7-2e8b-4d6c-9f0a-7b1e3c5d8a92")],
        ),
        (
            CLI,
            vec![],
            vec![],
            vec![
                ("AZURE_TENANT_ID", CONTOSO),
                ("AZURE_CLIENT_ID", "c5d3a1f7-2e8b-4d6c-9f0a-7b1e3c5d8a92"),
                ("AZURE_CLIENT_SECRET", "Xq8Q~lab.LabSecretValue-0123456789abcdEFgh"),
            ],
        ),
        ("workload-identity-bad-subject", vec![], vec!["--sdk", "js"], vec![]),
        ("propagating-role", vec!["--propagation-delay", "2s"], vec![], vec![]),
        (
            "healthy-workload-identity",
            vec![],
            vec![],
            vec![("AZURE_FEDERATED_TOKEN_FILE", "/nonexistent/token")],
        ),
        (
            "cli-hangs",
            vec![],
            vec!["--timeout", "60s", "--deadline", "2s"],
            vec![],
        ),
        (
            "arm-read-forbidden",
            vec![],
            vec![
                "--resource-id",
                "/subscriptions/6a1f4e2b-9d3c-4b8a-8e7f-2c5d1a9b0e63/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai",
            ],
            vec![],
        ),
        (
            "wrong-tenant",
            vec![],
            vec![
                "--resource-id",
                "/subscriptions/6a1f4e2b-9d3c-4b8a-8e7f-2c5d1a9b0e63/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai",
            ],
            vec![],
        ),
    ];
    cases
        .into_iter()
        .map(|(s, flags, args, env)| boxed(move || lab_run(s, &flags, &args, &env)))
        .collect()
}

/// The lab's own endpoint, renamed or without a deployment.
fn endpoint_inputs() -> Vec<Input> {
    let mut v: Vec<Input> = vec![];
    // A name the lab's certificate does not carry: the TLS handshake fails on the name.
    v.push(boxed(|| {
        let lab = Lab::start(SP, &[]);
        let port = lab
            .var("AZURE_OPENAI_ENDPOINT")
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        let (mut c, _home) = lab_doctor(&lab, &["--endpoint"]);
        // Not an Azure name: the lab's certificate carries those (for its proxy, lab/src/tls.rs).
        c.args(["--endpoint", &format!("https://aoai-gateway.contoso.com:{port}/")])
            .args(["--resolve", "aoai-gateway.contoso.com:127.0.0.1"]);
        Produced::from_json(&run_limited("endpoint with another host name", c))
    }));
    // No deployment: the live chat call is not made.
    v.push(boxed(|| {
        let lab = Lab::start(CLI, &[]);
        let (mut c, _home) = lab_doctor(&lab, &["--deployment"]);
        c.env_remove("AZURE_OPENAI_DEPLOYMENT");
        Produced::from_json(&run_limited("no deployment", c))
    }));
    v
}

/// A Foundry scenario with another path after the lab's endpoint: a project the account does
/// not have (`role-project-not-found`), a DeepSeek model through `/openai/v1` with only OpenAI
/// User (`role-data-action-unverified`).
fn foundry_role_inputs() -> Vec<Input> {
    [
        ("healthy-foundry-project", "api/projects/no-such-project"),
        ("foundry-maas-openai-user", "openai/v1/"),
    ]
    .into_iter()
    .map(|(scenario, path)| {
        boxed(move || {
            let lab = Lab::start(scenario, &[]);
            let root = lab
                .var("AZURE_OPENAI_ENDPOINT")
                .unwrap()
                .trim_end_matches('/')
                .to_string();
            let (mut c, _home) = lab_doctor(&lab, &["--endpoint"]);
            c.args(["--endpoint", &format!("{root}/{path}")]);
            Produced::from_json(&run_limited(&format!("{scenario} at /{path}"), c))
        })
    })
    .collect()
}

/// `aoai-doctor token` on tokens whose claims are each wrong in one way.
fn token_inputs() -> Vec<Input> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let aud = "https://cognitiveservices.azure.com";
    let tokens: Vec<(String, Vec<&'static str>)> = vec![
        (
            jwt(
                serde_json::json!({"aud": aud, "tid": CONTOSO, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}),
            ),
            vec![],
        ),
        (
            jwt(serde_json::json!({"aud": aud, "tid": CONTOSO, "iat": now, "nbf": now + 3600, "exp": now + 7200})),
            vec![],
        ),
        (jwt(serde_json::json!({"aud": aud, "tid": CONTOSO, "iat": now})), vec![]),
        (
            jwt(serde_json::json!({"aud": aud, "tid": CONTOSO, "iat": now, "exp": 99_999_999_999_999_i64})),
            vec![],
        ),
        (
            jwt(
                serde_json::json!({"aud": "https://management.azure.com", "tid": CONTOSO, "iat": now, "exp": now + 3600}),
            ),
            vec![],
        ),
        (
            jwt(serde_json::json!({"aud": aud, "tid": FABRIKAM, "iat": now, "exp": now + 3600})),
            vec!["--tenant", CONTOSO],
        ),
        ("8f3c2a1b9d4e4f6a8b7c5d3e1f2a4b6c".to_string(), vec![]),
    ];
    tokens
        .into_iter()
        .map(|(token, args)| boxed(move || token_run(&token, &args)))
        .collect()
}

fn jwt(claims: serde_json::Value) -> String {
    use base64::Engine as _;
    let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.{}",
        b(br#"{"alg":"RS256","typ":"JWT"}"#),
        b(claims.to_string().as_bytes()),
        b(b"signature")
    )
}

fn token_run(token: &str, args: &[&str]) -> Produced {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token.txt");
    std::fs::write(&file, token).unwrap();
    let mut c = Command::new(BIN);
    c.env_clear().args(["token", "--format", "json"]).arg(&file).args(args);
    let run = run_limited("token", c);
    assert!(!run.stdout.contains(token), "the token subcommand printed the token");
    Produced::from_json(&run)
}

/// The probe against a canned data-plane answer on loopback (a gateway, a model that rejects
/// the path, a server whose clock is off): the token comes from the lab.
fn canned_probe_inputs() -> Vec<Input> {
    let chat = r#"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"p"},"finish_reason":"length"}]}"#;
    let answers = vec![
        http_answer(
            "404 Not Found",
            "",
            r#"{"error":{"code":"404","message":"Resource not found"}}"#,
        ),
        http_answer(
            "403 Forbidden",
            "",
            r#"{"error":{"code":"AuthenticationTypeDisabled","message":"Key based authentication is disabled for this resource."}}"#,
        ),
        http_answer(
            "409 Conflict",
            "",
            r#"{"error":{"code":"Conflict","message":"Something the doctor has never seen."}}"#,
        ),
        // A Date header an hour away from this machine's clock.
        http_answer("200 OK", "date: Mon, 01 Jan 2024 00:00:00 GMT\r\n", chat),
    ];
    answers
        .into_iter()
        .map(|a| {
            boxed(move || {
                let (addr, _seen) = canned_server(a);
                let lab = Lab::start(SP, &[]);
                let (mut c, _home) = lab_doctor(&lab, &["--endpoint"]);
                c.args(["--endpoint", &format!("http://{addr}/"), "--only", "data-plane-probe"]);
                Produced::from_json(&run_limited(&format!("canned answer on {addr}"), c))
            })
        })
        .collect()
}

/// A real-looking host on plain http (mapped to a recorder on loopback): the doctor must say
/// so and send no token to it.
fn insecure_http_sends_no_token() -> Produced {
    let (addr, seen) = canned_server(http_answer("200 OK", "", "{}"));
    let port = addr.rsplit(':').next().unwrap();
    let lab = Lab::start(SP, &[]);
    let (mut c, _home) = lab_doctor(&lab, &["--endpoint"]);
    c.args(["--endpoint", &format!("http://contoso-aoai.openai.azure.com:{port}/")])
        .args(["--resolve", "contoso-aoai.openai.azure.com:127.0.0.1"]);
    let run = run_limited("plain http endpoint", c);
    // Let the recorder read what is still in its socket buffers.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let requests = seen.lock().unwrap().clone();
    for r in &requests {
        assert!(
            !r.to_ascii_lowercase().contains("authorization:"),
            // The request line only: the rest would show the token.
            "a request to the plain-http endpoint carried credentials: {}",
            r.lines().next().unwrap_or_default()
        );
    }
    let p = Produced::from_json(&run);
    assert!(p.codes.iter().any(|c| c == "probe-insecure-http"), "{:?}", p.codes);
    p
}

/// A role assignment with an ABAC condition (a scenario written for this test).
fn role_with_condition() -> Produced {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("role-with-condition.toml");
    std::fs::write(
        &file,
        r#"description = "The user's Cognitive Services OpenAI User assignment carries an ABAC condition"
expected_verdict = "warn"

[[role_assignments]]
principal = "alice"
role = "Cognitive Services OpenAI User"
scope = "account"
condition = "@Resource[Microsoft.CognitiveServices/accounts:name] StringEquals 'contoso-aoai'"
"#,
    )
    .unwrap();
    lab_run(&file.display().to_string(), &[], &[], &[])
}

/// A VM whose IMDS address answers 503 from something that is not IMDS.
fn imds_impostor_on_a_vm() -> Produced {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("vm-managed-identity.toml");
    std::fs::write(
        &file,
        r#"description = "VM whose user-assigned identity holds the role"
expected_verdict = "pass"

[host]
kind = "vm"
managed_identities = ["id-chat"]

[cli]
state = "missing"

[[role_assignments]]
principal = "id-chat"
role = "Cognitive Services OpenAI User"
scope = "account"
"#,
    )
    .unwrap();
    lab_run(&file.display().to_string(), &["--fault", "http-503@imds"], &[], &[])
}

/// In a container, what Docker Desktop's proxy answers for 169.254.169.254.
fn imds_impostor_in_a_container() -> Produced {
    let body = "connecting to 169.254.169.254:80: dial tcp 169.254.169.254:80: connect: host is unreachable";
    let answer = format!(
        "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let (addr, _seen) = canned_server(answer);
    let imds = format!("http://{addr}");
    offline_run(
        &["--container", "yes", "--only", "container-credentials"],
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds.as_str())],
    )
}

/// `--timeout 1ms`: the runner stops checks at their limit (`check-timed-out`). Each check's
/// own request limits are shorter, so which timer fires first is a race; a few runs settle it.
fn a_limit_no_check_can_meet() -> Produced {
    let mut all = vec![];
    for _ in 0..5 {
        let p = lab_run(CLI, &[], &["--timeout", "1ms"], &[]);
        let done = p.codes.iter().any(|c| c == "check-timed-out");
        all.extend(p.codes);
        if done {
            break;
        }
    }
    Produced {
        label: "--timeout 1ms".into(),
        codes: all,
    }
}

/// `explain` over every row of the five azure-identity TROUBLESHOOTING.md tables
/// (fixtures/corpus/sdk-troubleshooting.md), each row under its section's heading as an SDK
/// prints it, plus the answers only today's surfaces give and the two ends (ok, unknown).
fn explain_inputs() -> Vec<Input> {
    let fixture = std::fs::read_to_string(crate::run::manifest_path("fixtures/corpus/sdk-troubleshooting.md"))
        .expect("fixtures/corpus/sdk-troubleshooting.md");
    let mut texts = vec![];
    let mut section = String::new();
    for line in fixture.lines() {
        if let Some(h) = line.strip_prefix("### ") {
            section = h.replace('`', "");
        } else if let Some((n, row)) = line.split_once(". ")
            && !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit())
        {
            texts.push((None, format!("{section}\n{}", row.replace('`', ""))));
        }
    }
    assert!(texts.len() >= 100, "only {} troubleshooting rows parsed", texts.len());
    texts.extend([
        (Some("400"), r#"POST https://contoso.openai.azure.com/openai/v1/chat/completions?api-version=2024-10-21
{"error":{"code":"BadRequest","message":"api-version query parameter is not allowed when using /v1 path"}}"#.to_string()),
        (Some("401"), r#"{"statusCode":401,"message":"Unauthorized. Access token is missing, invalid, audience is incorrect (https://ai.azure.com), or have expired."}"#.to_string()),
        (Some("200"), r#"{"id":"chatcmpl-1","object":"chat.completion","choices":[]}"#.to_string()),
        (None, "the printer is on fire".to_string()),
        (None, "ManagedIdentityCredential: No managed identity endpoint found.".to_string()),
    ]);
    texts
        .into_iter()
        .map(|(status, text)| boxed(move || explain_run(status, &text)))
        .collect()
}

fn explain_run(status: Option<&str>, text: &str) -> Produced {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("error.txt");
    std::fs::write(&file, text).unwrap();
    let mut c = Command::new(BIN);
    c.env_clear().args(["explain", "--format", "json"]);
    if let Some(s) = status {
        c.args(["--status", s]);
    }
    c.arg(&file);
    Produced::from_json(&run_limited("explain", c))
}

/// A check that panics (debug builds only: `AOAI_DOCTOR_DEBUG_CRASH_CHECK`) is `error` with
/// `check-crashed`, and the run goes on: the live call still passes.
fn a_crashing_check_takes_nothing_else_down() -> Produced {
    let lab = Lab::start(CLI, &[]);
    let (mut c, _home) = lab_doctor(&lab, &[]);
    c.env("AOAI_DOCTOR_DEBUG_CRASH_CHECK", "environment");
    let run = run_limited("a crashing environment check", c);
    let report = run.json();
    let status = |id: &str| {
        report["checks"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["id"] == id))
            .map(|c| c["status"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(status("environment").as_deref(), Some("error"), "{report}");
    assert_eq!(status("data-plane-probe").as_deref(), Some("pass"), "{report}");
    assert_eq!(status("role-assignment").as_deref(), Some("pass"), "{report}");
    Produced::from_json(&run)
}
