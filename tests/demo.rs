//! `aoai-doctor demo`: the summary fits one screen and every scenario gets its expected
//! verdict; one scenario's report shows the doctor's progress live, before the report.

mod common;

use std::process::{Command, Stdio};

use common::BIN;

fn demo(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    // Nothing of this machine's environment: the lab gives the doctor all it needs.
    c.arg("demo").args(args).env_clear().stdin(Stdio::null());
    c
}

#[test]
fn the_summary_is_one_line_per_scenario_and_every_scenario_matches() {
    let out = demo(&[]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = {
        let list = Command::new(BIN).args(["lab", "scenarios"]).output().unwrap();
        String::from_utf8_lossy(&list.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    };
    assert!(names.len() > 30, "{names:?}");
    // A header, one line per scenario, a blank line and two closing lines.
    assert!(
        text.lines().count() <= names.len() + 4,
        "more than one line per scenario:\n{text}"
    );
    assert!(!text.contains('┌'), "a full report in the summary:\n{text}");
    for name in &names {
        let row = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("no row for {name}:\n{text}"));
        assert!(row.contains('✓'), "{row}");
        assert!(row.trim_end().ends_with('s'), "no time in {row}");
    }
    assert!(text.contains("role-missing"), "key finding of missing-role:\n{text}");
    assert!(text.contains("aoai-doctor demo SCENARIO"), "{text}");
}

#[test]
fn role_propagates_shows_each_attempt_before_the_report_and_then_works() {
    // Stdout and stderr into one file, as on a terminal: the order is what a user sees.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    let file = std::fs::File::create(&path).unwrap();
    let status = demo(&["role-propagates"])
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(status.code(), Some(0), "{text}");
    let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"));
    let waiting = at("aoai-doctor: data-plane-probe: 401 PermissionDenied, role still propagating; next attempt in");
    let answered = at("aoai-doctor: data-plane-probe: answered HTTP 200 after");
    let table = at("┌");
    let waited = at("info[probe-propagation-waited]");
    let verdict = at("✓ role-propagates: pass, as the scenario expects");
    assert!(
        waiting < answered && answered < table && table < waited && waited < verdict,
        "out of order:\n{text}"
    );
}

#[test]
fn a_scenario_can_be_named_by_flag_and_an_unknown_one_is_a_usage_error() {
    let out = demo(&["--scenario", "healthy-cli", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "pass");
    let out = demo(&["no-such-scenario"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scenario 'no-such-scenario'"));
}

/// Where `text` names a loopback host or a host with an explicit port, with some context.
/// (The lab's IMDS stand-in stays on loopback, since clients never send IMDS through a
/// proxy, but the doctor's reports do not repeat its URL.)
fn loopback_or_port(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let context = |at: usize| text[at.saturating_sub(60)..(at + 60).min(text.len())].to_string();
    for needle in ["127.0.0.1", "localhost", "[::1]", "::1]"] {
        for (at, _) in text.match_indices(needle) {
            found.push(context(at));
        }
    }
    // Any URL with an explicit port (`https://host:PORT/`).
    for (at, _) in text.match_indices("://") {
        let authority: String = text[at + 3..]
            .chars()
            .take_while(|c| !matches!(c, '/' | ' ' | '"' | ')' | '\'' | '\n' | '\\'))
            .collect();
        let port = authority.rsplit_once(':').map(|(_, p)| p);
        if port.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
            found.push(context(at));
        }
    }
    found
}

#[test]
fn one_report_shows_the_real_host_names_and_no_loopback_address() {
    let out = demo(&["missing-role", "--color", "never"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("contoso-aoai.openai.azure.com"), "{text}");
    assert!(text.contains("✓ missing-role: fail, as the scenario expects"), "{text}");
    let found = loopback_or_port(&text);
    assert!(found.is_empty(), "loopback or a port in the report: {found:#?}\n{text}");

    let out = demo(&["missing-role", "--format", "json"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(report["verdict"], "fail");
    let endpoint = report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == "endpoint"))
        .map(|c| c["evidence"]["endpoint"].clone());
    assert_eq!(
        endpoint,
        Some(serde_json::json!("https://contoso-aoai.openai.azure.com/")),
        "{text}"
    );
    let found = loopback_or_port(&text);
    assert!(found.is_empty(), "loopback or a port in the JSON report: {found:#?}");
    // The check itself catches what it must: the lab's loopback mode shows its ports.
    let out = demo(&["missing-role", "--format", "json", "--loopback"])
        .output()
        .unwrap();
    assert!(!loopback_or_port(&String::from_utf8_lossy(&out.stdout)).is_empty());
}

/// Every scenario's report, in both formats: no loopback address or port anywhere (item 2 of
/// issue 17: the lab answers by the real names, and the reports do not repeat the lab's
/// loopback stand-ins for IMDS either).
#[test]
fn no_scenario_report_shows_a_loopback_address() {
    let names = common::scenario_names();
    assert!(names.len() >= 40, "{names:?}");
    let all = names.join(",");
    for format in ["table", "json"] {
        let out = demo(&[&all, "--format", format, "--color", "never"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if format == "json" {
            // One report per scenario (the headers naming them go to stderr).
            assert_eq!(text.matches("\"schema_version\"").count(), names.len(), "{text}");
        } else {
            for name in &names {
                assert!(text.contains(name.as_str()), "{format}: no report for {name}");
            }
        }
        let found = loopback_or_port(&text);
        assert!(found.is_empty(), "{format}: loopback or a port in a report: {found:#?}");
    }
}

#[test]
fn a_foundry_project_report_names_the_services_ai_host() {
    let out = demo(&["healthy-foundry-project", "--format", "json"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("https://contoso-foundry.services.ai.azure.com/api/projects/chat-proj"),
        "{text}"
    );
    let found = loopback_or_port(&text);
    assert!(found.is_empty(), "loopback or a port in the JSON report: {found:#?}");
}

/// `lab serve --real-names`: an unmodified client with the env file reaches the lab by the
/// real names, and the lab's proxy refuses any host it does not emulate.
#[test]
fn lab_serve_real_names_serves_the_doctor_and_refuses_other_hosts() {
    use std::io::{Read as _, Write as _};
    let lab = common::Lab::start("healthy-cli", &["--real-names"]);
    assert_eq!(
        lab.var("AZURE_OPENAI_ENDPOINT"),
        Some("https://contoso-aoai.openai.azure.com/")
    );
    let proxy = lab.var("HTTPS_PROXY").expect("HTTPS_PROXY in the env file").to_string();
    assert_eq!(lab.var("https_proxy"), Some(proxy.as_str()));
    let out = lab.doctor().args(["--format", "json"]).output().unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["verdict"], "pass", "{report:#}");

    let addr = proxy.trim_start_matches("http://");
    let ask = |request: &str| {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = vec![0u8; 4096];
        let n = s.read(&mut answer).unwrap_or(0);
        String::from_utf8_lossy(&answer[..n]).into_owned()
    };
    let refused = ask("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    assert!(refused.starts_with("HTTP/1.1 403 Forbidden"), "{refused}");
    assert!(refused.contains("not a host the lab emulates"), "{refused}");
    let routed = ask("CONNECT contoso-aoai.openai.azure.com:443 HTTP/1.1\r\n\r\n");
    assert!(routed.starts_with("HTTP/1.1 200 Connection established"), "{routed}");
}
