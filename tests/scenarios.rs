//! Every lab scenario, through the real binary, once: `lab serve --scenario NAME` and the
//! doctor pointed at it (`--format json --report table=FILE`). Three tests share those runs
//! (one test binary, so each scenario's lab and doctor run only once):
//! - `every_scenario_meets_its_expectation`: the scenario file's `expected_verdict`, every
//!   `expected_codes` entry, and the exit code that verdict implies — the contract `demo` shows;
//! - `golden_reports` (scenarios/golden.rs): each run's JSON and table report equal
//!   `tests/golden/NAME.json` / `.txt` once timings, ports, dates, temp paths and per-run ids
//!   are normalised. Regenerate after an intended output change with
//!   `UPDATE_GOLDEN=1 cargo test --test scenarios golden` and review the diff;
//! - `every_finding_code_is_produced` (scenarios/codes_exercised.rs): every code in the
//!   catalogue comes out of at least one real run here (scenarios, faults, inputs).

#[path = "scenarios/codes_exercised.rs"]
mod codes_exercised;
mod common;
#[path = "scenarios/golden.rs"]
mod golden;
#[path = "scenarios/inputs.rs"]
mod inputs;
#[path = "scenarios/run.rs"]
mod run;

/// The exit code a verdict implies without `--strict` (README "Exit codes").
fn exit_code_of(verdict: &str) -> i32 {
    match verdict {
        "pass" | "warn" => 0,
        "fail" => 1,
        "error" => 3,
        other => panic!("unknown verdict {other:?}"),
    }
}

#[test]
fn every_scenario_meets_its_expectation() {
    let runs = run::scenarios();
    assert_eq!(runs.len(), run::scenario_names().len());
    let mut wrong = Vec::new();
    for s in runs {
        let verdict = s.report["verdict"].as_str().unwrap_or("<none>");
        let codes = run::codes_in(&s.report);
        let missing: Vec<&String> = s.expected_codes.iter().filter(|c| !codes.contains(c)).collect();
        let want_exit = exit_code_of(&s.expected_verdict);
        if verdict != s.expected_verdict || !missing.is_empty() || s.run.code != want_exit {
            wrong.push(format!(
                "{}: verdict {verdict} (expected {}), exit {} (expected {want_exit}), missing codes {missing:?}, got {codes:?}",
                s.name, s.expected_verdict, s.run.code
            ));
        }
        // The report must be a real one: every check ran or said why not.
        let checks = s.report["checks"].as_array().map_or(0, Vec::len);
        assert!(checks >= 9, "{}: only {checks} checks in the report", s.name);
    }
    assert!(
        wrong.is_empty(),
        "scenarios that miss their expectation:\n{}",
        wrong.join("\n")
    );
}
