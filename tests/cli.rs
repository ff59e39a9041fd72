//! The command line as a user meets it: validation, exit codes, formats, colors.

mod common;
use common::*;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[test]
fn regional_endpoint_fails_with_a_custom_subdomain_finding_and_valid_json() {
    let home = tmp();
    let mut c = doctor(home.path());
    c.args([
        "--endpoint",
        "https://eastus.api.cognitive.microsoft.com",
        "--format",
        "json",
    ]);
    let r = run(c);
    assert_eq!(r.code, 1, "stderr: {}", r.stderr);
    let report = json(&r);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["verdict"], "fail");
    assert_eq!(status_of(&report, "endpoint"), "fail");
    let endpoint = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "endpoint")
        .unwrap();
    let f = &endpoint["findings"][0];
    assert_eq!(f["code"], "endpoint-regional");
    assert!(f["message"].as_str().unwrap().contains("custom-subdomain"));
    assert!(
        f["remediation"]["commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("--custom-domain"))
    );
    assert!(
        f["docs_url"]
            .as_str()
            .unwrap()
            .starts_with("https://learn.microsoft.com/")
    );

    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/report.schema.json")).expect("committed schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "report does not match the committed schema: {errors:?}"
    );
}

#[test]
fn not_a_url_is_one_clear_line_and_exit_2() {
    let home = tmp();
    let mut c = doctor(home.path());
    c.args(["--endpoint", "not-a-url"]);
    let r = run(c);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("--endpoint 'not-a-url' is not a URL"), "{}", r.stderr);
}

#[test]
fn other_invalid_input_exits_2_before_any_check() {
    let home = tmp();
    for (args, needle) in [
        (vec!["--only", "nope"], "unknown check 'nope'"),
        (vec!["--skip", "endpoint,bogus"], "unknown check 'bogus'"),
        (vec!["--timeout", "soon"], "--timeout 'soon' is not a duration"),
        (
            vec!["--arm-endpoint", "management"],
            "--arm-endpoint 'management' is not a URL",
        ),
        (vec!["--resolve", "contoso.openai.azure.com"], "is not HOST:ADDR"),
        (
            vec!["--ca-cert", "/nonexistent/ca.pem"],
            "--ca-cert /nonexistent/ca.pem",
        ),
    ] {
        let mut c = doctor(home.path());
        c.args(["--endpoint", "https://contoso.openai.azure.com"]).args(&args);
        let r = run(c);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{args:?}: {}", r.stderr);
    }
}

#[test]
fn the_endpoint_comes_from_the_environment_too() {
    let home = tmp();
    let mut c = doctor(home.path());
    c.env(
        "AZURE_OPENAI_ENDPOINT",
        "https://westeurope.api.cognitive.microsoft.com/",
    )
    .env("AZURE_OPENAI_DEPLOYMENT_NAME", "gpt-4o")
    .args(["--format", "json", "--only", "endpoint"]);
    let r = run(c);
    let report = json(&r);
    assert_eq!(
        report["target"]["endpoint"],
        "https://westeurope.api.cognitive.microsoft.com/"
    );
    assert_eq!(report["target"]["deployment"], "gpt-4o");
    assert_eq!(codes(&report), vec!["endpoint:endpoint-regional"]);
    assert_eq!(r.code, 1);
}

#[test]
fn piped_table_has_no_ansi_and_color_can_be_forced() {
    let home = tmp();
    let base = |extra: &[&str], envs: &[(&str, &str)]| {
        let mut c = doctor(home.path());
        c.args([
            "--endpoint",
            "https://eastus.api.cognitive.microsoft.com",
            "--only",
            "endpoint",
        ])
        .args(extra);
        for (k, v) in envs {
            c.env(k, v);
        }
        run(c)
    };
    let plain = base(&[], &[]);
    assert_eq!(plain.code, 1);
    assert!(
        !plain.stdout.contains('\x1b'),
        "ANSI in piped output:\n{}",
        plain.stdout
    );
    assert!(plain.stdout.contains("endpoint-regional"));
    assert!(plain.stdout.contains("FAIL"));

    assert!(base(&["--color", "always"], &[]).stdout.contains('\x1b'));
    assert!(base(&[], &[("CLICOLOR_FORCE", "1")]).stdout.contains('\x1b'));
    assert!(
        !base(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")])
            .stdout
            .contains('\x1b')
    );
    assert!(
        !base(&["--color", "never"], &[("CLICOLOR_FORCE", "1")])
            .stdout
            .contains('\x1b')
    );
}

#[test]
fn help_teaches_examples_checks_and_exit_codes() {
    let home = tmp();
    let mut c = doctor(home.path());
    c.arg("--help");
    let r = run(c);
    assert_eq!(r.code, 0);
    for needle in [
        "Examples:",
        "aoai-doctor demo",
        "Exit codes:",
        "AZURE_OPENAI_ENDPOINT",
        "--credential",
    ] {
        assert!(r.stdout.contains(needle), "--help lacks {needle}");
    }
    for id in ["endpoint", "environment"] {
        assert!(r.stdout.contains(id));
    }
}

#[test]
fn output_file_gets_the_report_and_the_log_gets_the_verdict() {
    let home = tmp();
    let out = home.path().join("report.json");
    let mut c = doctor(home.path());
    c.args([
        "--endpoint",
        "https://eastus.api.cognitive.microsoft.com",
        "--format",
        "json",
        "--only",
        "endpoint",
        "-o",
    ])
    .arg(&out);
    let r = run(c);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(report["verdict"], "fail");
    assert!(r.stderr.contains("fail"));
}

#[test]
fn api_key_leftover_warns_and_never_shows_the_key() {
    let home = tmp();
    let key = "5f2b6c1e0d9a4b7c8e3f1a2b3c4d5e6f";
    for format in ["json", "table"] {
        let mut c = doctor(home.path());
        c.env("AZURE_OPENAI_API_KEY", key)
            .args(["--only", "environment", "--format", format, "-vv"]);
        let r = run(c);
        assert_eq!(r.code, 0, "warnings do not fail without --strict: {}", r.stderr);
        assert!(r.stdout.contains("env-api-key-present"));
        assert!(!r.stdout.contains(key) && !r.stderr.contains(key), "the key leaked");
    }
    let mut c = doctor(home.path());
    c.env("AZURE_OPENAI_API_KEY", key)
        .args(["--only", "environment", "--strict"]);
    assert_eq!(run(c).code, 1, "--strict makes warnings fail");
}
