//! `data-plane-probe` end to end: the real binary against the lab (`lab serve`), and against
//! tiny misbehaving servers on 127.0.0.1 (connection reset, hang, an HTML proxy page).

mod common;
use common::*;
use std::io::{BufRead as _, Read as _, Write as _};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report}"))
}

fn probe(report: &serde_json::Value) -> &serde_json::Value {
    check(report, "data-plane-probe")
}

fn finding<'a>(report: &'a serde_json::Value, code: &str) -> &'a serde_json::Value {
    finding_in(report, "data-plane-probe", code)
}

/// The whole doctor against a scenario, as the lab suggests running it, plus `extra`.
fn doctor_on(lab: &Lab, extra: &[&str]) -> (Run, serde_json::Value) {
    let mut c = lab.doctor();
    c.args(["--format", "json"]).args(extra).stdin(Stdio::null());
    let r = run(c);
    let report = json(&r);
    (r, report)
}

fn scenario(name: &str, extra: &[&str]) -> (Run, serde_json::Value) {
    let lab = Lab::start(name, &[]);
    doctor_on(&lab, extra)
}

#[test]
fn healthy_scenarios_pass_with_a_real_chat_completion() {
    for name in ["healthy-cli", "healthy-managed-identity"] {
        let (r, report) = scenario(name, &[]);
        assert_eq!(
            status_of(&report, "data-plane-probe"),
            "pass",
            "{name}: {}",
            probe(&report)
        );
        assert_eq!(r.code, 0, "{name}: {}", report);
        let p = probe(&report);
        assert!(p["summary"].as_str().unwrap().contains("answered HTTP 200"), "{p}");
        assert_eq!(p["evidence"]["status"], 200);
        assert!(
            p["evidence"]["request"]
                .as_str()
                .unwrap()
                .starts_with("POST /openai/deployments/gpt-4o-mini/chat/completions?api-version=")
        );
        assert!(p["evidence"]["apim-request-id"].is_string(), "{p}");
    }
}

#[test]
fn a_missing_role_fails_at_once_with_the_assignment_command() {
    let started = Instant::now();
    // The default --wait-for-propagation is 10m: a plainly missing role must not wait.
    let (r, report) = scenario("missing-role", &[]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(r.code, 1);
    assert_eq!(status_of(&report, "data-plane-probe"), "fail");
    let f = finding(&report, "probe-permission-denied");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("deployments/chat/completions/action"),
        "{f}"
    );
    let cmds = commands(f);
    assert!(
        cmds.contains("az role assignment create --assignee-object-id 0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70"),
        "{cmds}"
    );
    assert!(cmds.contains("--assignee-principal-type User"), "{cmds}");
    assert_eq!(probe(&report)["evidence"]["attempts"], 1);
    assert!(!r.stderr.contains("next attempt"), "{}", r.stderr);
}

#[test]
fn a_propagating_role_passes_after_waiting_and_says_how_long() {
    let lab = Lab::start("propagating-role", &["--propagation-delay", "8s"]);
    let started = Instant::now();
    let (r, report) = doctor_on(&lab, &["--wait-for-propagation", "30s"]);
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        status_of(&report, "data-plane-probe"),
        "pass",
        "{}\n{}",
        probe(&report),
        r.stderr
    );
    let p = probe(&report);
    assert!(
        p["summary"].as_str().unwrap().contains("answered HTTP 200")
            && p["summary"].as_str().unwrap().contains(" after "),
        "{p}"
    );
    assert!(p["evidence"]["attempts"].as_u64().unwrap() >= 2, "{p}");
    finding(&report, "probe-propagation-waited");
    // Not a terminal: one plain line per attempt on stderr, then the outcome.
    assert!(
        r.stderr.contains(
            "aoai-doctor: data-plane-probe: 401 PermissionDenied, role still propagating; next attempt in 5s (elapsed"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("aoai-doctor: data-plane-probe: answered HTTP 200 after"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_propagating_role_without_waiting_fails_and_says_how_to_wait() {
    let lab = Lab::start("propagating-role", &[]);
    let (r, report) = doctor_on(&lab, &["--wait-for-propagation", "0"]);
    assert_eq!(r.code, 1);
    let f = finding(&report, "probe-permission-denied");
    assert!(commands(f).contains("--wait-for-propagation"), "{f}");
}

#[test]
fn ctrl_c_while_waiting_prints_the_report_so_far() {
    let lab = Lab::start("propagating-role", &[]);
    let mut c = lab.doctor();
    c.args(["--format", "json", "--wait-for-propagation", "10m"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("doctor");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("a progress line while waiting");
        if line.contains("data-plane-probe") && line.contains("next attempt in") {
            break;
        }
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let out = child.wait_with_output().expect("doctor output");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        started.elapsed()
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report on stdout");
    assert_eq!(status_of(&report, "token"), "pass");
    assert_eq!(status_of(&report, "data-plane-probe"), "error");
    assert!(
        probe(&report)["summary"]
            .as_str()
            .unwrap()
            .contains("interrupted (Ctrl-C)")
    );
    // The exit code still follows the verdict (interrupted checks are errors).
    let expected = match report["verdict"].as_str().unwrap() {
        "fail" => 1,
        "error" => 3,
        other => panic!("an interrupted run cannot be {other}"),
    };
    assert_eq!(out.status.code(), Some(expected));
}

#[test]
fn deployment_not_found_names_the_deployment_and_those_that_exist() {
    let (r, report) = scenario("deployment-not-found", &[]);
    assert_eq!(r.code, 1);
    let f = finding(&report, "probe-deployment-not-found");
    let m = f["message"].as_str().unwrap();
    assert!(m.contains("`gpt-4o`") && m.contains("gpt-4o-mini"), "{m}");
    assert!(
        commands(f).contains("az cognitiveservices account deployment list -g"),
        "{f}"
    );
}

#[test]
fn network_rules_are_named_with_their_policy() {
    for name in ["network-blocked", "public-access-disabled"] {
        let (r, report) = scenario(name, &[]);
        assert_eq!(r.code, 1, "{name}");
        let f = finding(&report, "probe-network-blocked");
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .contains("policy-id: ThrowExceptionDueToTrafficDenied"),
            "{name}: {f}"
        );
    }
    let (_, report) = scenario("public-access-disabled", &[]);
    assert!(
        finding(&report, "probe-network-blocked")["remediation"]["text"]
            .as_str()
            .unwrap()
            .contains("private endpoint")
    );
}

#[test]
fn rate_limited_passes_with_a_warning() {
    let (r, report) = scenario("rate-limited", &[]);
    assert_eq!(status_of(&report, "data-plane-probe"), "warn", "{}", probe(&report));
    assert_eq!(r.code, 0);
    assert_eq!(report["verdict"], "warn");
    assert!(
        finding(&report, "probe-rate-limited")["message"]
            .as_str()
            .unwrap()
            .contains("60 s")
    );
}

#[test]
fn a_reasoning_model_refusing_max_tokens_still_proves_access() {
    let (r, report) = scenario("reasoning-model", &[]);
    assert_eq!(status_of(&report, "data-plane-probe"), "pass", "{}", probe(&report));
    assert_eq!(r.code, 0, "{report}");
    assert!(
        finding(&report, "probe-auth-passed")["message"]
            .as_str()
            .unwrap()
            .contains("max_completion_tokens")
    );
}

#[test]
fn a_token_from_another_tenant_is_named() {
    let (r, report) = scenario("wrong-tenant", &[]);
    assert_eq!(r.code, 1);
    let f = finding(&report, "probe-wrong-tenant");
    // alice's home tenant (Fabrikam) issued the token.
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("9c7e1d42-8b3a-4f65-a2d0-1e5f7c9b3a84"),
        "{f}"
    );
    assert!(commands(f).starts_with("az login --tenant"), "{f}");
}

#[test]
fn key_auth_only_has_no_token_so_the_probe_names_what_is_missing() {
    let (r, report) = scenario("key-auth-only", &[]);
    assert_eq!(r.code, 1);
    assert_eq!(status_of(&report, "data-plane-probe"), "skip");
    assert!(
        probe(&report)["summary"].as_str().unwrap().contains("`token`"),
        "{}",
        probe(&report)
    );
    let all = codes(&report);
    assert!(
        all.contains(&"environment:env-api-key-present".to_string())
            && all.contains(&"credential-chain:chain-no-credential".to_string()),
        "{all:?}"
    );
}

#[test]
fn probe_kinds_models_embeddings_none_and_a_missing_deployment() {
    let lab = Lab::start("healthy-service-principal", &[]);
    let run_with = |args: &[&str], drop_deployment: bool| {
        let mut c = bare_doctor(&lab, drop_deployment);
        c.args(["--format", "json", "--only", "data-plane-probe"]).args(args);
        let r = run(c);
        let report = json(&r);
        (r, report)
    };
    let (_, report) = run_with(&["--probe", "models"], true);
    assert_eq!(status_of(&report, "data-plane-probe"), "pass", "{}", probe(&report));
    assert!(
        probe(&report)["evidence"]["request"]
            .as_str()
            .unwrap()
            .starts_with("GET /openai/models?")
    );
    let (_, report) = run_with(
        &["--probe", "embeddings", "--deployment", "text-embedding-3-small"],
        true,
    );
    assert_eq!(status_of(&report, "data-plane-probe"), "pass", "{}", probe(&report));
    let (_, report) = run_with(&["--probe", "none"], false);
    assert_eq!(status_of(&report, "data-plane-probe"), "skip");
    let (r, report) = run_with(&[], true);
    assert_eq!(status_of(&report, "data-plane-probe"), "warn");
    assert_eq!(r.code, 0);
    let cmds = commands(finding(&report, "probe-no-deployment"));
    assert!(
        cmds.contains("--deployment") && cmds.contains("--probe models"),
        "{cmds}"
    );
    // Chat against an embeddings deployment: refused for the operation, so access is proven.
    let (_, report) = run_with(&["--deployment", "text-embedding-3-small"], true);
    assert_eq!(status_of(&report, "data-plane-probe"), "pass", "{}", probe(&report));
    finding(&report, "probe-auth-passed");
}

/// The doctor with the lab's environment but none of its suggested arguments (so a test can
/// pick its own endpoint and deployment).
fn bare_doctor(lab: &Lab, drop_deployment: bool) -> std::process::Command {
    let mut c = std::process::Command::new(BIN);
    c.env_clear().env("AOAI_DOCTOR_COLOR", "never").stdin(Stdio::null());
    for (k, v) in &lab.env {
        if drop_deployment && k.starts_with("AZURE_OPENAI_DEPLOYMENT") {
            continue;
        }
        c.env(k, v);
    }
    let home = tempfile::tempdir().expect("tempdir").keep();
    c.env("HOME", home);
    c
}

/// A server on 127.0.0.1 that treats every connection with `behave`, recording what it read.
fn fault_server(behave: fn(&mut std::net::TcpStream)) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut s in l.incoming().map_while(Result::ok) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = vec![0u8; 16 * 1024];
            let mut got = Vec::new();
            // Read the head and a small body.
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let len = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if got.len() >= head_end + 4 + len {
                        break;
                    }
                }
            }
            log.lock().unwrap().push(String::from_utf8_lossy(&got).into_owned());
            behave(&mut s);
        }
    });
    (url, seen)
}

fn probe_against(url: &str) -> (Run, serde_json::Value, Duration) {
    let lab = Lab::start("healthy-service-principal", &[]);
    let mut c = bare_doctor(&lab, false);
    c.args([
        "--format",
        "json",
        "--only",
        "data-plane-probe",
        "--timeout",
        "3s",
        "--endpoint",
        url,
    ]);
    let started = Instant::now();
    let r = run(c);
    let took = started.elapsed();
    let report = json(&r);
    (r, report, took)
}

fn bearer_of(request: &str) -> String {
    request
        .lines()
        .find_map(|l| {
            l.strip_prefix("authorization: Bearer ")
                .or_else(|| l.strip_prefix("Authorization: Bearer "))
        })
        .expect("the probe sent a bearer token")
        .trim()
        .to_string()
}

#[test]
fn a_reset_connection_is_a_clear_finding_and_the_token_is_never_shown() {
    let (url, seen) = fault_server(|s| {
        let _ = s.shutdown(std::net::Shutdown::Both);
    });
    let (r, report, took) = probe_against(&url);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_eq!(status_of(&report, "data-plane-probe"), "fail", "{}", probe(&report));
    let f = finding(&report, "probe-unreachable");
    assert!(f["message"].as_str().unwrap().contains("closed or reset"), "{f}");
    // The request was the smallest chat completion, with the token only in its header.
    // (The endpoint check's reachability GET comes first; it carries no token.)
    let request = seen
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.starts_with("POST"))
        .cloned()
        .expect("the probe's POST");
    assert!(
        request.starts_with("POST /openai/deployments/gpt-4o-mini/chat/completions?api-version="),
        "{request}"
    );
    assert!(request.contains(r#""max_tokens":1"#), "{request}");
    let token = bearer_of(&request);
    assert!(token.len() > 100);
    assert!(
        !r.stdout.contains(&token) && !r.stderr.contains(&token),
        "the token leaked into the output"
    );
}

#[test]
fn a_hanging_endpoint_ends_in_bounded_time_with_a_clear_finding() {
    let (url, _) = fault_server(|_| std::thread::sleep(Duration::from_secs(60)));
    let (r, report, took) = probe_against(&url);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_eq!(status_of(&report, "data-plane-probe"), "error", "{}", probe(&report));
    assert!(
        finding(&report, "probe-timed-out")["message"]
            .as_str()
            .unwrap()
            .contains("no complete answer")
    );
    // The endpoint check meets the same hang first and names it: a failure (exit 1), which
    // outranks the probe's `error`.
    assert_eq!(status_of(&report, "endpoint"), "fail");
    assert!(
        codes(&report).contains(&"endpoint:endpoint-unreachable".to_string()),
        "{:?}",
        codes(&report)
    );
    assert_eq!(r.code, 1);
}

#[test]
fn an_html_proxy_page_is_not_mistaken_for_azure() {
    let (url, _) = fault_server(|s| {
        let body = "<!DOCTYPE html><html><head><title>Web Page Blocked</title></head><body>Access to this site is blocked by your organization's proxy.</body></html>";
        let _ = write!(
            s,
            "HTTP/1.1 403 Forbidden\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    let (r, report, _) = probe_against(&url);
    assert_eq!(r.code, 1);
    let f = finding(&report, "probe-not-azure-openai");
    assert!(f["message"].as_str().unwrap().contains("Web Page Blocked"), "{f}");
}

#[test]
fn garbage_instead_of_http_is_a_finding_not_a_panic() {
    let (url, _) = fault_server(|s| {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n");
    });
    let (r, report, _) = probe_against(&url);
    assert!(
        matches!(status_of(&report, "data-plane-probe"), "fail" | "error"),
        "{}",
        probe(&report)
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    finding(&report, "probe-unreachable");
}
