//! Where the doctor runs: CI steps (annotations, step summary, JUnit, several outputs in one
//! run), support tickets (redaction), shells (completions) and repository config files.

mod common;
use common::*;
use std::path::Path;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// A failing doctor run that needs no lab: a regional endpoint, endpoint check only.
fn failing(home: &Path) -> std::process::Command {
    let mut c = doctor(home);
    c.args([
        "--endpoint",
        "https://eastus.api.cognitive.microsoft.com",
        "--only",
        "endpoint",
    ]);
    c
}

#[test]
fn github_actions_gets_annotations_and_a_step_summary() {
    let home = tmp();
    let summary = home.path().join("summary.md");
    std::fs::write(&summary, "previous step\n").unwrap();
    let lab = Lab::start("bad-secret", &[]);
    let mut c = lab.doctor();
    c.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["--format", "json"]);
    let r = run(c);
    assert_eq!(r.code, 1);
    json(&r); // stdout is still pure JSON
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("::error title=aoai-doctor aadsts-7000215::"))
        .unwrap_or_else(|| panic!("no annotation in:\n{}", r.stderr));
    assert!(line.contains("token: "), "{line}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("previous step\n"), "appended, not replaced");
    assert!(
        md.contains("| ❌ fail | `token` |") && md.contains("aadsts-7000215"),
        "{md}"
    );

    let mut c = lab.doctor();
    c.env("GITHUB_ACTIONS", "true").args(["--ci-annotations", "never"]);
    assert!(!run(c).stderr.contains("::error"));
}

#[test]
fn azure_pipelines_gets_logging_commands() {
    let home = tmp();
    let mut c = failing(home.path());
    c.env("TF_BUILD", "True");
    let r = run(c);
    assert!(
        r.stderr
            .contains("##vso[task.logissue type=error;code=endpoint-regional]endpoint: "),
        "{}",
        r.stderr
    );
}

#[test]
fn several_outputs_in_one_run_and_junit_validates() {
    let home = tmp();
    let (j, x, m, m2) = (
        home.path().join("r.json"),
        home.path().join("j.xml"),
        home.path().join("s.md"),
        home.path().join("t.md"),
    );
    let lab = Lab::start("bad-secret", &[]);
    let mut c = lab.doctor();
    c.args(["--format", "table", "--wait-for-propagation", "0"])
        .arg("--output-json")
        .arg(&j)
        .arg("--output-junit")
        .arg(&x)
        .arg("--output-markdown")
        .arg(&m)
        .arg("--report")
        .arg(format!("markdown={}", m2.display()));
    let r = run(c);
    assert!(
        r.stdout.contains("┌") && r.stdout.contains("FAIL"),
        "the table on stdout:\n{}",
        r.stdout
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&j).unwrap()).unwrap();
    assert_eq!(report["verdict"], "fail");
    let xml = std::fs::read_to_string(&x).unwrap();
    assert!(xml.contains("<testcase") && xml.contains("<failure"), "{xml}");
    assert_eq!(
        std::fs::read_to_string(&m).unwrap(),
        std::fs::read_to_string(&m2).unwrap()
    );

    let xsd = format!("{}/fixtures/junit/junit.xsd", env!("CARGO_MANIFEST_DIR"));
    match std::process::Command::new("xmllint")
        .args(["--noout", "--schema", &xsd])
        .arg(&x)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "xmllint: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: xmllint is not installed (scripts/test installs it)")
        }
        Err(e) => panic!("xmllint is required in CI: {e}"),
    }
}

#[test]
fn junit_of_every_status_validates() {
    // A run with pass, fail and skip: the endpoint fails, the later checks skip.
    let home = tmp();
    let x = home.path().join("j.xml");
    let mut c = doctor(home.path());
    c.args([
        "--endpoint",
        "https://eastus.api.cognitive.microsoft.com",
        "--format",
        "junit",
        "-o",
    ])
    .arg(&x);
    run(c);
    let xml = std::fs::read_to_string(&x).unwrap();
    assert!(xml.contains("<failure") && xml.contains("<skipped"), "{xml}");
    let xsd = format!("{}/fixtures/junit/junit.xsd", env!("CARGO_MANIFEST_DIR"));
    if let Ok(out) = std::process::Command::new("xmllint")
        .args(["--noout", "--schema", &xsd])
        .arg(&x)
        .output()
    {
        assert!(
            out.status.success(),
            "xmllint: {}\n{xml}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every JWT-shaped string (header.payload…): no output may contain one.
fn contains_jwt(s: &str) -> bool {
    s.match_indices("eyJ").any(|(i, _)| {
        let rest = &s[i..];
        let part: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
            .collect();
        part.matches('.').count() >= 2 && part.len() > 60
    })
}

#[test]
fn redaction_in_every_scenario_and_format() {
    let scenarios: Vec<String> = std::fs::read_dir(format!("{}/fixtures/scenarios", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml") && !n.starts_with('_'))
        .map(|n| n.trim_end_matches(".toml").to_string())
        .collect();
    assert!(scenarios.len() >= 15, "{scenarios:?}");
    // Values from fixtures/scenarios/_base.toml that must never appear.
    let secret = "Xq8Q~lab.LabSecretValue-0123456789abcdEFgh";
    let api_key = "8f3c2a1b9d4e4f6a8b7c5d3e1f2a4b6c";
    let upn = "alice@contoso.onmicrosoft.com";
    let mut failures = Vec::new();
    for s in &scenarios {
        let lab = Lab::start(s, &[]);
        let home = tmp();
        let files = ["r.json", "j.xml", "m.md"].map(|f| home.path().join(f));
        let mut c = lab.doctor();
        c.args([
            "--redact",
            "--format",
            "table",
            "-vv",
            "--wait-for-propagation",
            "0",
            "--timeout",
            "5s",
        ])
        .arg("--output-json")
        .arg(&files[0])
        .arg("--output-junit")
        .arg(&files[1])
        .arg("--output-markdown")
        .arg(&files[2]);
        let r = run(c);
        let mut outputs = vec![("stdout", r.stdout.clone()), ("stderr", r.stderr.clone())];
        for f in &files {
            outputs.push(("file", std::fs::read_to_string(f).unwrap_or_default()));
        }
        for (name, text) in outputs {
            for (what, needle) in [("client secret", secret), ("api key", api_key), ("upn", upn)] {
                if text.contains(needle) {
                    failures.push(format!("{s}: {name} contains the {what}"));
                }
            }
            if contains_jwt(&text) {
                failures.push(format!("{s}: {name} contains a token"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn without_redact_the_upn_is_shown_for_the_user() {
    let lab = Lab::start("healthy-cli", &[]);
    let mut c = lab.doctor();
    c.args(["--format", "json", "--only", "azure-cli"]);
    let r = run(c);
    assert!(r.stdout.contains("alice@contoso.onmicrosoft.com"));
    assert!(!contains_jwt(&r.stdout));
}

#[test]
fn bash_completion_installs_and_completes() {
    let home = tmp();
    let mut c = doctor(home.path());
    c.args(["completions", "bash"]);
    let r = run(c);
    assert_eq!(r.code, 0);
    let script = home.path().join("aoai-doctor.bash");
    std::fs::write(&script, &r.stdout).unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(aoai-doctor --cred); COMP_CWORD=1; COMP_LINE='aoai-doctor --cred'; COMP_POINT=${{#COMP_LINE}}; _aoai__doctor aoai-doctor --cred aoai-doctor; echo \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &probe])
        .output()
        .expect("bash");
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        words.split_whitespace().any(|w| w == "--credential"),
        "completions: {words} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = doctor(home.path());
    c.arg("man");
    let r = run(c);
    assert!(
        r.stdout.contains(".TH aoai-doctor"),
        "{}",
        &r.stdout[..r.stdout.len().min(200)]
    );
}

#[test]
fn config_file_is_below_env_and_flags_and_rejects_unknown_keys() {
    let dir = tmp();
    std::fs::write(
        dir.path().join("aoai-doctor.toml"),
        "# pinned for the repo\nendpoint = \"https://eastus.api.cognitive.microsoft.com\"\nonly = [\"endpoint\"]\n",
    )
    .unwrap();
    let json_of = |c: &mut std::process::Command| {
        c.current_dir(dir.path()).args(["--format", "json"]);
        let r = run(std::mem::replace(c, std::process::Command::new("true")));
        (
            r.code,
            serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap_or_default(),
            r.stderr,
        )
    };
    let (code, r, _) = json_of(&mut doctor(dir.path()));
    assert_eq!(code, 1);
    assert_eq!(codes(&r), vec!["endpoint:endpoint-regional"]);
    // The environment beats the file…
    let mut c = doctor(dir.path());
    c.env("AZURE_OPENAI_ENDPOINT", "http://127.0.0.1:9/");
    let (_, r, _) = json_of(&mut c);
    assert_eq!(r["target"]["endpoint"], "http://127.0.0.1:9/");
    // …and a flag beats the environment.
    let mut c = doctor(dir.path());
    c.env("AZURE_OPENAI_ENDPOINT", "http://127.0.0.1:9/")
        .args(["--endpoint", "https://westus.api.cognitive.microsoft.com"]);
    let (_, r, _) = json_of(&mut c);
    assert_eq!(r["target"]["endpoint"], "https://westus.api.cognitive.microsoft.com/");

    std::fs::write(
        dir.path().join("aoai-doctor.toml"),
        "endpoint = \"https://x.openai.azure.com\"\n\nendpont = \"typo\"\n",
    )
    .unwrap();
    let (code, _, stderr) = json_of(&mut doctor(dir.path()));
    assert_eq!(code, 2);
    assert!(stderr.contains("line 3") && stderr.contains("endpont"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
