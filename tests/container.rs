//! `container-credentials` end to end: the real binary, planning for (or inside) a container,
//! against the lab or with a cleared environment and loopback-only endpoints.

mod common;
use common::*;
use std::io::{Read as _, Write as _};
use std::process::Stdio;
use std::time::Duration;

fn container(report: &serde_json::Value) -> &serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "container-credentials")
        .unwrap_or_else(|| panic!("no container-credentials in {report}"))
}

fn finding<'a>(report: &'a serde_json::Value, code: &str) -> &'a serde_json::Value {
    finding_in(report, "container-credentials", code)
}

fn on_lab(scenario: &str, extra: &[&str]) -> (Run, serde_json::Value) {
    let lab = Lab::start(scenario, &[]);
    let mut c = lab_doctor(&lab, extra);
    c.args(["--format", "json"]).args(extra);
    let r = run(c);
    let report = json(&r);
    (r, report)
}

/// The doctor as the lab suggests running it, except that a `--container` in `extra`
/// replaces the lab's own container decision.
fn lab_doctor(lab: &Lab, extra: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(BIN);
    let home = tempfile::tempdir().expect("tempdir").keep();
    c.env_clear()
        .env("HOME", home)
        .env("AOAI_DOCTOR_COLOR", "never")
        .stdin(Stdio::null());
    for (k, v) in &lab.env {
        c.env(k, v);
    }
    let replace = extra.contains(&"--container");
    let mut args = lab.args.iter().peekable();
    while let Some(a) = args.next() {
        if replace && a == "--container" {
            if args.peek().is_some_and(|v| !v.starts_with("--")) {
                args.next();
            }
            continue;
        }
        if replace && a.starts_with("--container=") {
            continue;
        }
        c.arg(a);
    }
    c
}

#[test]
fn a_container_without_credentials_fails_with_the_flags_to_pass() {
    let (r, report) = on_lab("container-without-credentials", &[]);
    assert_eq!(r.code, 1);
    assert_eq!(
        status_of(&report, "container-credentials"),
        "fail",
        "{}",
        container(&report)
    );
    let f = finding(&report, "container-no-credential");
    let cmds = commands(f);
    assert!(
        cmds.contains("docker run -e AZURE_TENANT_ID -e AZURE_CLIENT_ID -e AZURE_CLIENT_SECRET"),
        "{cmds}"
    );
    assert!(
        cmds.contains("az containerapp identity assign") && cmds.contains("az webapp identity assign"),
        "{cmds}"
    );
    // Why each credential cannot work, named.
    let m = f["message"].as_str().unwrap();
    assert!(
        m.contains("EnvironmentCredential") && m.contains("ManagedIdentityCredential: nothing answers"),
        "{m}"
    );
    let cli = finding(&report, "container-cli-unavailable");
    assert!(commands(cli).contains("-v \"$HOME/.azure:/root/.azure\""), "{cli}");
    // The probe has no token to send.
    assert_eq!(status_of(&report, "data-plane-probe"), "skip");
}

#[test]
fn a_service_principal_passed_into_the_container_works_end_to_end() {
    let (r, report) = on_lab("healthy-service-principal", &["--container", "yes"]);
    assert_eq!(
        status_of(&report, "container-credentials"),
        "pass",
        "{}",
        container(&report)
    );
    assert!(
        container(&report)["summary"]
            .as_str()
            .unwrap()
            .contains("EnvironmentCredential can work here"),
        "{}",
        container(&report)
    );
    assert_eq!(status_of(&report, "data-plane-probe"), "pass");
    assert_eq!(r.code, 0, "{report}");
    // The secret is never echoed.
    assert!(!r.stdout.contains("LabSecretValue"), "the client secret leaked");
}

#[test]
fn az_logged_in_inside_the_container_works_and_no_container_is_a_pass() {
    let (_, report) = on_lab("healthy-cli", &["--container", "yes"]);
    assert_eq!(
        status_of(&report, "container-credentials"),
        "pass",
        "{}",
        container(&report)
    );
    assert!(
        container(&report)["summary"]
            .as_str()
            .unwrap()
            .contains("AzureCliCredential"),
        "{}",
        container(&report)
    );
    let (_, report) = on_lab("healthy-cli", &["--container", "no"]);
    assert_eq!(status_of(&report, "container-credentials"), "pass");
    assert!(
        container(&report)["summary"]
            .as_str()
            .unwrap()
            .starts_with("not in a container")
    );
}

#[test]
fn half_a_service_principal_is_named_in_the_container() {
    let lab = Lab::start("healthy-service-principal", &[]);
    let mut c = lab_doctor(&lab, &["--container"]);
    c.env_remove("AZURE_TENANT_ID")
        .args(["--format", "json", "--container", "yes"]);
    let r = run(c);
    let report = json(&r);
    assert_eq!(
        status_of(&report, "container-credentials"),
        "fail",
        "{}",
        container(&report)
    );
    assert!(
        finding(&report, "container-env-incomplete")["message"]
            .as_str()
            .unwrap()
            .contains("AZURE_TENANT_ID did not")
    );
}

/// The doctor with only the container check (and the environment it needs), no lab.
fn container_only(home: &std::path::Path) -> std::process::Command {
    let mut c = doctor(home);
    c.args([
        "--format",
        "json",
        "--only",
        "container-credentials",
        "--container",
        "yes",
        "--timeout",
        "5s",
    ])
    .stdin(Stdio::null());
    c
}

fn jwt_with_exp(exp: i64) -> String {
    use base64::Engine;
    let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let payload = serde_json::json!({"exp": exp, "iss": "https://oidc.example/", "sub": "system:serviceaccount:ai:chat", "aud": ["api://AzureADTokenExchange"]});
    format!(
        "{}.{}.{}",
        b(br#"{"alg":"RS256"}"#),
        b(payload.to_string().as_bytes()),
        b(b"signature")
    )
}

#[test]
fn an_expired_federated_token_file_is_found_without_showing_it() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("azure-identity-token");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token = jwt_with_exp(now - 7200);
    std::fs::write(&file, &token).unwrap();
    let mut c = container_only(home.path());
    c.env("AZURE_TENANT_ID", "3f2b8a6e-5c1d-4e7f-9a0b-6d4c2e1f8a35")
        .env("AZURE_CLIENT_ID", "c5d3a1f7-2e8b-4d6c-9f0a-7b1e3c5d8a92")
        .env("AZURE_FEDERATED_TOKEN_FILE", &file);
    let r = run(c);
    let report = json(&r);
    assert_eq!(
        status_of(&report, "container-credentials"),
        "fail",
        "{}",
        container(&report)
    );
    let f = finding(&report, "container-federated-token");
    assert!(f["message"].as_str().unwrap().contains("expired 2h"), "{f}");
    assert!(!r.stdout.contains(&token) && !r.stderr.contains(&token));
    // A fresh file works.
    std::fs::write(&file, jwt_with_exp(now + 3600)).unwrap();
    let mut c = container_only(home.path());
    c.env("AZURE_TENANT_ID", "t")
        .env("AZURE_CLIENT_ID", "c")
        .env("AZURE_FEDERATED_TOKEN_FILE", &file);
    let report = json(&run(c));
    assert_eq!(
        status_of(&report, "container-credentials"),
        "pass",
        "{}",
        container(&report)
    );
}

#[test]
fn docker_desktop_answering_for_imds_is_called_out() {
    // What Docker Desktop's proxy answers for 169.254.169.254 from inside a container.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().map_while(Result::ok) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "connecting to 169.254.169.254:80: connecting to 169.254.169.254:80: dial tcp 169.254.169.254:80: connect: host is unreachable";
            let _ = write!(
                s,
                "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let home = tempfile::tempdir().unwrap();
    let mut c = container_only(home.path());
    c.env("AZURE_POD_IDENTITY_AUTHORITY_HOST", format!("http://{addr}"));
    let r = run(c);
    let report = json(&r);
    assert_eq!(r.code, 1);
    let f = finding(&report, "container-imds-impostor");
    assert!(f["message"].as_str().unwrap().contains("HTTP 403"), "{f}");
    finding(&report, "container-no-credential");
}
