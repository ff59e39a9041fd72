//! Fault injection (issue #8): the real doctor against the lab with one service broken the
//! way networks, proxies and services break (`lab serve --fault NAME@SERVICE`). For every
//! fault the check that meets it must end `fail` or `error` with a specific finding code —
//! never a crash — the exit code must be non-zero, and the run must end in bounded time.

mod common;
use common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Generous: the slowest faults (hangs) end at the 4 s request limit under `--timeout 5s`.
const BOUND: Duration = Duration::from_secs(30);

struct Outcome {
    run: Run,
    report: serde_json::Value,
}

/// The doctor (JSON, `--timeout 5s`, plus `extra`) against `scenario` with `lab_flags`.
fn doctor(scenario: &str, lab_flags: &[&str], extra: &[&str]) -> Outcome {
    let lab = Lab::start(scenario, lab_flags);
    let mut c = lab.doctor();
    c.args(["--format", "json"]).stdin(Stdio::null());
    if !extra.contains(&"--timeout") {
        c.args(["--timeout", "5s"]);
    }
    c.args(extra);
    let started = Instant::now();
    let run = run(c);
    let took = started.elapsed();
    assert!(took < BOUND, "{scenario} {lab_flags:?}: took {took:?}");
    let report = json(&run);
    Outcome { run, report }
}

fn summary_of<'a>(o: &'a Outcome, check: &str) -> &'a str {
    o.report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == check))
        .and_then(|c| c["summary"].as_str())
        .unwrap_or("")
}

/// One fault: where it goes, and what the doctor must say.
struct Case<'a> {
    scenario: &'a str,
    /// `NAME@SERVICE`
    fault: &'a str,
    extra: &'a [&'a str],
    /// The check that meets the fault, its status and its finding.
    check: &'a str,
    status: &'a str,
    code: &'a str,
    /// Words the finding's message must contain (what exactly went wrong).
    says: &'a [&'a str],
}

fn expect(case: Case) -> Outcome {
    let o = doctor(case.scenario, &["--fault", case.fault], case.extra);
    let context = || {
        format!(
            "--fault {} on {}: {}\nstderr: {}",
            case.fault, case.scenario, o.report, o.run.stderr
        )
    };
    assert!(!o.run.stderr.contains("panicked"), "{}", context());
    let all = codes(&o.report);
    assert!(!all.iter().any(|c| c.ends_with(":check-crashed")), "{}", context());
    assert_eq!(status_of(&o.report, case.check), case.status, "{}", context());
    let f = finding_in(&o.report, case.check, case.code);
    let message = f["message"].as_str().unwrap_or("");
    for word in case.says {
        assert!(message.contains(word), "{:?} not in {message:?}\n{}", word, context());
    }
    assert_ne!(o.run.code, 0, "{}", context());
    assert!(matches!(o.run.code, 1 | 3), "exit {}: {}", o.run.code, context());
    o
}

const SP: &str = "healthy-service-principal";
const MI: &str = "healthy-managed-identity";
const CLI: &str = "healthy-cli";

// ---- connection faults ----------------------------------------------------------------

#[test]
fn refused_token_endpoint() {
    expect(Case {
        scenario: SP,
        fault: "refused@entra",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-unreachable",
        says: &["Connection refused"],
    });
}

#[test]
fn refused_identity_endpoint() {
    expect(Case {
        scenario: MI,
        fault: "refused@identity",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-unreachable",
        says: &["Connection refused"],
    });
}

#[test]
fn refused_data_plane() {
    let o = expect(Case {
        scenario: SP,
        fault: "refused@aoai",
        extra: &[],
        check: "data-plane-probe",
        status: "fail",
        code: "probe-unreachable",
        says: &["refused"],
    });
    finding_in(&o.report, "endpoint", "endpoint-unreachable");
}

#[test]
fn refused_arm_warns_and_fails_under_strict() {
    // The app does not need ARM, so an unreachable ARM is a warning of role-assignment;
    // --strict makes it fail the run.
    let o = doctor(SP, &["--fault", "refused@arm"], &["--strict"]);
    assert_eq!(status_of(&o.report, "role-assignment"), "warn", "{}", o.report);
    let f = finding_in(&o.report, "role-assignment", "role-arm-unreachable");
    assert!(f["message"].as_str().unwrap().contains("Connection refused"), "{f}");
    assert_eq!(status_of(&o.report, "data-plane-probe"), "pass");
    assert_eq!(o.run.code, 1, "{}", o.report);
}

#[test]
fn refused_imds_means_no_managed_identity() {
    let dir = tempfile::tempdir().unwrap();
    expect(Case {
        scenario: &vm_scenario(dir.path(), ""),
        fault: "refused@imds",
        extra: &[],
        check: "credential-chain",
        status: "fail",
        code: "chain-no-credential",
        says: &["no IMDS endpoint answered"],
    });
}

#[test]
fn hanging_token_endpoint_is_a_token_timeout_not_a_runner_timeout() {
    expect(Case {
        scenario: SP,
        fault: "hang@entra",
        extra: &[],
        check: "token",
        status: "error",
        code: "token-timed-out",
        says: &["no answer within 4s"],
    });
}

#[test]
fn hanging_identity_endpoint() {
    expect(Case {
        scenario: MI,
        fault: "hang@identity",
        extra: &[],
        check: "token",
        status: "error",
        code: "token-timed-out",
        says: &["no answer within"],
    });
}

#[test]
fn hanging_data_plane() {
    // --timeout 8s: the endpoint check's TLS connect gives up at 5 s, inside its limit.
    let o = doctor(SP, &["--fault", "hang@aoai"], &["--timeout", "8s"]);
    assert_eq!(status_of(&o.report, "data-plane-probe"), "error", "{}", o.report);
    finding_in(&o.report, "data-plane-probe", "probe-timed-out");
    assert_eq!(status_of(&o.report, "endpoint"), "fail", "{}", o.report);
    finding_in(&o.report, "endpoint", "endpoint-unreachable");
    assert_ne!(o.run.code, 0);
}

#[test]
fn hanging_arm_is_reported_within_the_check() {
    let o = doctor(SP, &["--fault", "hang@arm"], &["--strict"]);
    assert_eq!(status_of(&o.report, "role-assignment"), "warn", "{}", o.report);
    let f = finding_in(&o.report, "role-assignment", "role-arm-unreachable");
    assert!(f["message"].as_str().unwrap().contains("no answer within"), "{f}");
    assert_eq!(o.run.code, 1);
}

#[test]
fn hanging_imds_is_unavailable_after_the_probe() {
    let dir = tempfile::tempdir().unwrap();
    expect(Case {
        scenario: &vm_scenario(dir.path(), ""),
        fault: "hang@imds",
        extra: &[],
        check: "credential-chain",
        status: "fail",
        code: "chain-no-credential",
        says: &["no IMDS endpoint answered"],
    });
}

#[test]
fn garbage_instead_of_tls_at_entra() {
    expect(Case {
        scenario: SP,
        fault: "garbage@entra",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-unreachable",
        says: &["corrupt message"],
    });
}

#[test]
fn garbage_instead_of_tls_at_the_data_plane() {
    let o = expect(Case {
        scenario: SP,
        fault: "garbage@aoai",
        extra: &[],
        check: "endpoint",
        status: "fail",
        code: "endpoint-unreachable",
        says: &["corrupt message"],
    });
    finding_in(&o.report, "data-plane-probe", "probe-unreachable");
}

#[test]
fn garbage_instead_of_http_at_the_identity_endpoint() {
    expect(Case {
        scenario: MI,
        fault: "garbage@identity",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-unreachable",
        says: &["could not reach its token endpoint"],
    });
}

#[test]
fn untrusted_certificate_at_the_data_plane() {
    let o = expect(Case {
        scenario: SP,
        fault: "untrusted-cert@aoai",
        extra: &[],
        check: "endpoint",
        status: "fail",
        code: "endpoint-tls-untrusted",
        says: &["UnknownIssuer"],
    });
    let f = finding_in(&o.report, "data-plane-probe", "probe-unreachable");
    assert!(f["message"].as_str().unwrap().contains("not trusted"), "{f}");
}

#[test]
fn untrusted_certificate_at_entra() {
    expect(Case {
        scenario: SP,
        fault: "untrusted-cert@entra",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-unreachable",
        says: &["UnknownIssuer"],
    });
}

#[test]
fn reset_mid_body_at_entra() {
    expect(Case {
        scenario: SP,
        fault: "reset-mid-body@entra",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-unreachable",
        says: &["closed in the middle of the answer (HTTP 200"],
    });
}

#[test]
fn reset_mid_body_at_the_identity_endpoint() {
    expect(Case {
        scenario: MI,
        fault: "reset-mid-body@identity",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-unreachable",
        says: &["closed in the middle of the answer"],
    });
}

#[test]
fn reset_mid_body_at_the_data_plane() {
    expect(Case {
        scenario: SP,
        fault: "reset-mid-body@aoai",
        extra: &[],
        check: "data-plane-probe",
        status: "fail",
        code: "probe-unreachable",
        says: &["error decoding response body"],
    });
}

#[test]
fn reset_mid_body_at_arm_is_not_mistaken_for_bad_json() {
    let o = doctor(SP, &["--fault", "reset-mid-body@arm"], &["--strict"]);
    let f = finding_in(&o.report, "role-assignment", "role-arm-unreachable");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("closed in the middle of ARM's answer"),
        "{f}"
    );
    assert_eq!(o.run.code, 1);
}

// ---- 5xx, HTML, truncated and huge answers --------------------------------------------

#[test]
fn entra_500_with_an_aadsts_body() {
    expect(Case {
        scenario: SP,
        fault: "http-500@entra",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-entra-error",
        says: &["HTTP 500", "AADSTS90033"],
    });
}

#[test]
fn entra_502_without_a_body() {
    expect(Case {
        scenario: SP,
        fault: "http-502-empty@entra",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-entra-error",
        says: &["HTTP 502", "without an AADSTS code"],
    });
}

#[test]
fn identity_endpoint_503_with_a_body() {
    expect(Case {
        scenario: MI,
        fault: "http-503@identity",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-mi-failed",
        says: &["HTTP 503"],
    });
}

#[test]
fn data_plane_502_with_a_body_and_503_without() {
    expect(Case {
        scenario: SP,
        fault: "http-502@aoai",
        extra: &[],
        check: "data-plane-probe",
        status: "error",
        code: "probe-server-error",
        says: &["HTTP 502", "Sorry about that"],
    });
    expect(Case {
        scenario: SP,
        fault: "http-503-empty@aoai",
        extra: &[],
        check: "data-plane-probe",
        status: "error",
        code: "probe-server-error",
        says: &["HTTP 503"],
    });
}

#[test]
fn arm_500_without_a_body() {
    let o = doctor(SP, &["--fault", "http-500-empty@arm"], &["--strict"]);
    let f = finding_in(&o.report, "role-assignment", "role-arm-unreachable");
    assert!(f["message"].as_str().unwrap().contains("HTTP 500"), "{f}");
    assert_eq!(o.run.code, 1);
}

#[test]
fn imds_503_is_not_taken_for_imds() {
    let dir = tempfile::tempdir().unwrap();
    expect(Case {
        scenario: &vm_scenario(dir.path(), ""),
        fault: "http-503@imds",
        extra: &[],
        check: "credential-chain",
        status: "fail",
        code: "chain-imds-impostor",
        says: &["HTTP 503"],
    });
}

#[test]
fn html_200_from_a_captive_portal_instead_of_a_token() {
    expect(Case {
        scenario: SP,
        fault: "html-200@entra",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-not-a-token",
        says: &["HTTP 200", "Sign in to continue"],
    });
}

#[test]
fn html_502_from_a_proxy_in_front_of_entra() {
    expect(Case {
        scenario: SP,
        fault: "html-502@entra",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-unreachable",
        says: &["HTTP 502", "\"502 Bad Gateway\"", "proxy"],
    });
}

#[test]
fn html_pages_at_the_data_plane_and_arm() {
    expect(Case {
        scenario: SP,
        fault: "html-200@aoai",
        extra: &[],
        check: "data-plane-probe",
        status: "fail",
        code: "probe-not-azure-openai",
        says: &["Sign in to continue"],
    });
    let o = doctor(SP, &["--fault", "html-502@arm"], &["--strict"]);
    let f = finding_in(&o.report, "role-assignment", "role-arm-unreachable");
    assert!(f["message"].as_str().unwrap().contains("\"502 Bad Gateway\""), "{f}");
    assert_eq!(o.run.code, 1);
}

#[test]
fn html_at_the_imds_address_is_an_impostor() {
    let dir = tempfile::tempdir().unwrap();
    expect(Case {
        scenario: &vm_scenario(dir.path(), ""),
        fault: "html-200@imds",
        extra: &[],
        check: "credential-chain",
        status: "fail",
        code: "chain-imds-impostor",
        says: &["not IMDS"],
    });
}

#[test]
fn truncated_json_from_entra_and_the_identity_endpoint() {
    for (scenario, fault) in [(SP, "truncated-json@entra"), (MI, "truncated-json@identity")] {
        let o = expect(Case {
            scenario,
            fault,
            extra: &[],
            check: "token",
            status: "fail",
            code: "token-not-a-token",
            says: &["HTTP 200", "{\"access_token\":\""],
        });
        // The half token in the excerpt is redacted.
        assert!(o.run.stdout.contains("<redacted"), "{}", o.report);
    }
}

#[test]
fn truncated_json_from_arm() {
    let o = doctor(SP, &["--fault", "truncated-json@arm"], &["--strict"]);
    let f = finding_in(&o.report, "role-assignment", "role-arm-unreachable");
    assert!(f["message"].as_str().unwrap().contains("EOF while parsing"), "{f}");
    assert_eq!(o.run.code, 1);
}

#[test]
fn a_30_mb_token_answer_is_not_read_to_the_end() {
    let o = expect(Case {
        scenario: SP,
        fault: "huge-body@entra",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-not-a-token",
        says: &["larger than 1024 KiB"],
    });
    // The report quotes a few bytes of it, not megabytes.
    assert!(o.run.stdout.len() < 200_000, "{} bytes", o.run.stdout.len());
}

#[test]
fn a_30_mb_answer_from_the_identity_endpoint_and_arm() {
    expect(Case {
        scenario: MI,
        fault: "huge-body@identity",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-not-a-token",
        says: &["larger than 1024 KiB"],
    });
    let o = doctor(SP, &["--fault", "huge-body@arm"], &["--strict"]);
    let f = finding_in(&o.report, "role-assignment", "role-arm-unreachable");
    assert!(f["message"].as_str().unwrap().contains("larger than 8 MiB"), "{f}");
    assert_eq!(o.run.code, 1);
}

// ---- token faults -----------------------------------------------------------------------

#[test]
fn a_200_that_is_not_a_token() {
    expect(Case {
        scenario: SP,
        fault: "not-a-token@entra",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-not-a-token",
        says: &["Service is healthy"],
    });
}

#[test]
fn a_200_that_is_not_a_token_from_imds() {
    let dir = tempfile::tempdir().unwrap();
    expect(Case {
        scenario: &vm_scenario(dir.path(), ""),
        fault: "not-a-token@imds",
        extra: &[],
        check: "token",
        status: "fail",
        code: "token-not-a-token",
        says: &["ManagedIdentityCredential got HTTP 200"],
    });
}

#[test]
fn an_opaque_token_is_not_a_jwt_and_is_never_shown() {
    for (scenario, fault) in [(SP, "opaque-token@entra"), (MI, "opaque-token@identity")] {
        let o = expect(Case {
            scenario,
            fault,
            extra: &[],
            check: "token-claims",
            status: "fail",
            code: "claims-not-a-jwt",
            says: &["opaque string"],
        });
        assert_eq!(status_of(&o.report, "token"), "pass");
        finding_in(&o.report, "data-plane-probe", "probe-token-rejected");
        assert!(
            !o.run.stdout.contains("lab-opaque-") && !o.run.stderr.contains("lab-opaque-"),
            "the opaque token leaked"
        );
    }
}

#[test]
fn a_jwt_expiring_in_the_year_3_million() {
    for (scenario, fault) in [(SP, "bogus-exp@entra"), (MI, "bogus-exp@identity")] {
        expect(Case {
            scenario,
            fault,
            extra: &[],
            check: "token-claims",
            status: "fail",
            code: "claims-implausible-expiry",
            says: &["99999999999999"],
        });
    }
}

#[test]
fn a_jwt_whose_exp_is_a_word() {
    let dir = tempfile::tempdir().unwrap();
    let o = expect(Case {
        scenario: &vm_scenario(dir.path(), ""),
        fault: "exp-string@imds",
        extra: &[],
        check: "token-claims",
        status: "fail",
        code: "claims-implausible-expiry",
        says: &["\"tomorrow\"", "not a number"],
    });
    assert!(!codes(&o.report).contains(&"token-claims:claims-missing-expiry".to_string()));
}

// ---- az --------------------------------------------------------------------------------

#[test]
fn az_printing_garbage() {
    expect(Case {
        scenario: CLI,
        fault: "garbage@az",
        extra: &["--credential", "azure-cli"],
        check: "azure-cli",
        status: "fail",
        code: "cli-bad-output",
        says: &["not JSON"],
    });
    // Left to DefaultAzureCredential, the chain has nothing else.
    let o = doctor(CLI, &["--fault", "garbage@az"], &[]);
    finding_in(&o.report, "azure-cli", "cli-bad-output");
    assert_eq!(status_of(&o.report, "credential-chain"), "fail", "{}", o.report);
    finding_in(&o.report, "credential-chain", "chain-no-credential");
    assert_eq!(o.run.code, 1);
}

#[test]
fn az_exiting_0_with_empty_output() {
    expect(Case {
        scenario: CLI,
        fault: "empty@az",
        extra: &["--credential", "azure-cli"],
        check: "azure-cli",
        status: "fail",
        code: "cli-bad-output",
        says: &["printed nothing"],
    });
}

#[test]
fn az_never_exiting() {
    expect(Case {
        scenario: CLI,
        fault: "hang@az",
        extra: &["--credential", "azure-cli"],
        check: "azure-cli",
        status: "error",
        code: "cli-timed-out",
        says: &["did not finish within 4s"],
    });
}

// ---- DNS: no lab needed ----------------------------------------------------------------

#[test]
fn an_endpoint_that_does_not_resolve() {
    let lab = Lab::start(SP, &[]);
    // The lab's arguments, with its endpoint swapped for one that does not resolve.
    let mut args = lab.args.clone();
    if let Some(i) = args.iter().position(|a| a == "--endpoint") {
        args[i + 1] = "https://nonexistent.invalid/".into();
    }
    let home = tempfile::tempdir().unwrap();
    let mut c = std::process::Command::new(BIN);
    c.env_clear().env("HOME", home.path()).envs(lab.env.iter().cloned());
    c.args(&args)
        .args(["--format", "json", "--timeout", "5s"])
        .stdin(Stdio::null());
    let started = Instant::now();
    let r = run(c);
    assert!(started.elapsed() < BOUND);
    let report = json(&r);
    assert_eq!(status_of(&report, "endpoint"), "fail", "{report}");
    finding_in(&report, "endpoint", "endpoint-dns-failed");
    assert!(!r.stderr.contains("panicked"));
    assert_eq!(r.code, 1);
}

#[test]
fn an_authority_host_that_does_not_resolve() {
    let lab = Lab::start(SP, &[]);
    let mut c = lab.doctor();
    c.env("AZURE_AUTHORITY_HOST", "https://login.nonexistent.invalid/")
        .args(["--format", "json", "--timeout", "5s"])
        .stdin(Stdio::null());
    let r = run(c);
    let report = json(&r);
    assert_eq!(status_of(&report, "token"), "fail", "{report}");
    finding_in(&report, "token", "token-unreachable");
    assert_eq!(r.code, 1);
}

// ---- the switch itself -----------------------------------------------------------------

/// A VM with a user-assigned identity that holds the role (IMDS answers), plus `extra` TOML.
fn vm_scenario(dir: &std::path::Path, extra: &str) -> String {
    let path = dir.join("vm-managed-identity.toml");
    let text = format!(
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
{extra}"#
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn the_vm_scenario_is_healthy_without_a_fault() {
    let dir = tempfile::tempdir().unwrap();
    let o = doctor(&vm_scenario(dir.path(), ""), &[], &[]);
    assert_eq!(status_of(&o.report, "token"), "pass", "{}", o.report);
    assert!(summary_of(&o, "credential-chain").contains("IMDS"), "{}", o.report);
    assert_eq!(status_of(&o.report, "data-plane-probe"), "pass", "{}", o.report);
}

#[test]
fn a_scenario_can_carry_its_faults_and_a_flag_overrides_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sp-entra-503.toml");
    std::fs::write(
        &path,
        "description = \"service principal, Entra answers 503\"\nexpected_verdict = \"fail\"\n\n[cli]\nstate = \"missing\"\n\n[host]\nkind = \"ci\"\n\n[app]\ncredential = \"service-principal\"\nprincipal = \"chat-api\"\n\n[faults]\nentra = \"http-503\"\n",
    )
    .unwrap();
    let scenario = path.display().to_string();
    let o = doctor(&scenario, &[], &[]);
    let f = finding_in(&o.report, "token", "token-entra-error");
    assert!(f["message"].as_str().unwrap().contains("HTTP 503"), "{f}");
    // Without @SERVICE the flag goes to where the token comes from: Entra here.
    let o = doctor(&scenario, &["--fault", "refused"], &[]);
    finding_in(&o.report, "token", "token-unreachable");
}

#[test]
fn lab_serve_rejects_unknown_and_misplaced_faults() {
    for (spec, says) in [
        ("sneeze@entra", "reset-mid-body"),
        ("hang@moon", "entra, arm, aoai, imds, identity, az"),
        ("opaque-token@arm", "token answers"),
        ("untrusted-cert@imds", "needs TLS"),
        ("huge-body@az", "az faults"),
    ] {
        let out = std::process::Command::new(BIN)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .args(["lab", "serve", "--ttl", "5s", "--fault", spec])
            .output()
            .expect("lab serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{spec} was accepted");
        assert!(stderr.contains(says), "{spec}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
