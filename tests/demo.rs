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
