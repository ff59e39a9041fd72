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

/// The rows of a README table under `## {section}`: cells split on `|` (`\|` kept as text).
fn readme_table(section: &str) -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    let body = readme
        .split(&format!("\n## {section}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("README has no `## {section}`"));
    let body = body.split("\n## ").next().unwrap_or_default();
    body.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("|---"))
        .skip(1) // the header row
        .map(|l| {
            l.replace(r"\|", "/")
                .split('|')
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The `code` spans of a README cell.
fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// The flags a README cell names: `--output-json/-junit/-markdown FILE` is three of them.
fn flags_in(cell: &str) -> Vec<String> {
    let mut flags = Vec::new();
    for span in code_spans(cell) {
        let word = span.split_whitespace().next().unwrap_or_default();
        let mut parts = word.split('/');
        let first = parts.next().unwrap_or_default();
        if !first.starts_with('-') {
            continue;
        }
        flags.push(first.to_string());
        // `--output-json/-junit`: the suffix replaces the first flag's last word.
        let stem = first.rsplit_once('-').map_or(first, |(stem, _)| stem);
        flags.extend(parts.map(|suffix| format!("{stem}{suffix}")));
    }
    flags
}

/// `--help`'s option blocks, keyed by every spelling of the option (`-o`, `--output`).
fn help_blocks(help: &str) -> std::collections::HashMap<String, String> {
    let mut blocks = std::collections::HashMap::new();
    let mut current: Vec<String> = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if (2..=6).contains(&indent) && t.starts_with('-') {
            current = t
                .split([' ', ','])
                .filter(|w| w.starts_with('-'))
                .map(|w| w.trim_end_matches("...").to_string())
                .collect();
        } else if indent < 2 && !t.is_empty() {
            current.clear();
        }
        for key in &current {
            let block: &mut String = blocks.entry(key.clone()).or_default();
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks
}

#[test]
fn help_teaches_examples_checks_and_exit_codes() {
    let home = tmp();
    let mut c = doctor(home.path());
    c.arg("--help");
    let r = run(c);
    assert_eq!(r.code, 0);
    for needle in ["Examples:", "aoai-doctor demo", "Exit codes:"] {
        assert!(r.stdout.contains(needle), "--help lacks {needle}");
    }
    // Every option of README's options table is in --help, with the variables README names
    // for it in that option's own help.
    let blocks = help_blocks(&r.stdout);
    let rows = readme_table("Options");
    assert!(rows.len() >= 25, "README's options table: {rows:?}");
    let mut flags_seen = 0;
    for row in &rows {
        let flags = flags_in(&row[1]);
        flags_seen += flags.len();
        let mut text = String::new();
        for flag in &flags {
            let block = blocks
                .get(flag)
                .unwrap_or_else(|| panic!("README documents {flag}, --help does not have it"));
            text.push_str(block);
        }
        if flags.is_empty() {
            continue; // (IMDS): a variable the SDKs read, not an option of the doctor
        }
        for var in code_spans(&row[2]) {
            assert!(text.contains(var), "--help for {flags:?} does not name {var}:\n{text}");
        }
    }
    assert!(flags_seen >= 33, "{flags_seen} flags parsed from README");
    // The checks, in README's order, as the help lists them.
    let ids: Vec<String> = readme_table("Checks")
        .iter()
        .map(|row| row[1].trim_matches('`').to_string())
        .collect();
    assert_eq!(ids.len(), 9, "{ids:?}");
    let listed = r
        .stdout
        .split("Checks (in order): ")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("--help lists the checks")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(listed, ids.join(", "));
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
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("the report file")).expect("JSON");
    assert_eq!(report["verdict"], "fail");
    assert_eq!(codes(&report), vec!["endpoint:endpoint-regional"]);
    assert_eq!(
        r.stderr,
        format!("aoai-doctor: fail (report written to {})\n", out.display())
    );
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
