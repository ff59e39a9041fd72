//! `aoai-doctor explain` and `aoai-doctor token` as a user runs them: offline, from a file or
//! standard input, JSON or text, never printing a token.

mod common;
use common::*;
use std::io::Write;
use std::process::Stdio;

fn with_stdin(mut c: std::process::Command, input: &str) -> Run {
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn corpus(family: &str) -> Vec<serde_json::Value> {
    let path = format!("{}/fixtures/corpus/{family}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn case(family: &str, id: &str) -> serde_json::Value {
    corpus(family)
        .into_iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id}"))
}

fn explain_case(c: &serde_json::Value) -> serde_json::Value {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = doctor(home.path());
    cmd.args(["explain", "--format", "json"]);
    let text = if c["kind"] == "http" {
        if let Some(s) = c["status"].as_u64() {
            cmd.args(["--status", &s.to_string()]);
        }
        for (k, v) in c["headers"].as_object().into_iter().flatten() {
            cmd.args(["-H", &format!("{k}: {}", v.as_str().unwrap_or(""))]);
        }
        c["body"].as_str().unwrap_or("").to_string()
    } else {
        format!(
            "{}\n{}",
            c["stderr"].as_str().unwrap_or(""),
            c["stdout"].as_str().unwrap_or("")
        )
    };
    let r = with_stdin(cmd, &text);
    json(&r)
}

#[test]
fn explain_names_the_diagnosis_of_real_errors() {
    for (family, id, want) in [
        (
            "entra-token",
            "entra-401-aadsts7000215-invalid-client-secret",
            "invalid-client-credentials",
        ),
        (
            "entra-token",
            "entra-400-aadsts70021-no-federated-identity-record",
            "workload-identity-misconfigured",
        ),
        ("azure-cli", "cli-not-logged-in", "not-logged-in"),
        (
            "azure-cli",
            "cli-aadsts53003-ca-blocked-codespace",
            "mfa-or-conditional-access",
        ),
        (
            "managed-identity",
            "mi-imds-400-identity-not-found",
            "mi-identity-not-found",
        ),
        (
            "aoai-dataplane",
            "aoai-401-permissiondenied-principal-no-access-cli-identity",
            "role-missing-or-propagating",
        ),
        (
            "aoai-dataplane",
            "aoai-403-authtype-disabled-chat-app",
            "key-auth-disabled",
        ),
        (
            "arm",
            "arm-403-authorizationfailed-list-at-resource-group",
            "arm-read-forbidden",
        ),
    ] {
        let r = explain_case(&case(family, id));
        assert_eq!(r["diagnosis"], want, "{id}: {r}");
        assert!(
            !r["findings"][0]["remediation"]["text"].as_str().unwrap().is_empty(),
            "{id}: a fix"
        );
    }
}

#[test]
fn explain_says_unknown_instead_of_guessing() {
    let home = tempfile::tempdir().unwrap();
    let mut c = doctor(home.path());
    c.args(["explain"]);
    let r = with_stdin(c, "something went wrong, please try again\n");
    assert_eq!(r.code, 1);
    assert!(r.stdout.starts_with("diagnosis: unknown"), "{}", r.stdout);
}

#[test]
fn token_subcommand_prints_claims_never_the_token() {
    use base64::Engine;
    let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let payload = r#"{"aud":"https://management.azure.com/","tid":"t","oid":"o","idtyp":"user","upn":"ann@contoso.com","exp":1000}"#;
    let token = format!(
        "{}.{}.{}",
        b(br#"{"alg":"RS256"}"#),
        b(payload.as_bytes()),
        b(b"the-signature-bytes")
    );
    let home = tempfile::tempdir().unwrap();
    for format in ["table", "json"] {
        let mut c = doctor(home.path());
        c.args(["token", "--format", format]);
        let r = with_stdin(c, &format!("Bearer {token}\n"));
        assert_eq!(r.code, 1, "wrong audience and expired: {}", r.stdout);
        assert!(
            r.stdout.contains("claims-wrong-audience") && r.stdout.contains("claims-expired"),
            "{}",
            r.stdout
        );
        assert!(r.stdout.contains("ann@contoso.com"));
        assert!(!r.stdout.contains(&token) && !r.stdout.contains(&b(b"the-signature-bytes")));
    }
    let mut c = doctor(home.path());
    c.args(["token"]);
    let r = with_stdin(c, "0123456789abcdef0123456789abcdef");
    assert!(r.stdout.contains("claims-not-a-jwt"), "{}", r.stdout);
}
