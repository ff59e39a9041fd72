//! Golden reports: every scenario's JSON and table report, normalised, equal to
//! `tests/golden/NAME.json` and `tests/golden/NAME.txt`, so a change of any wording, code,
//! status or order shows up as a diff in review.
//!
//! Regenerate (after an intended change; review `git diff tests/golden`):
//!     UPDATE_GOLDEN=1 cargo test --test scenarios golden
//!
//! What changes from run to run is replaced by a placeholder: timings (`duration_ms`, token
//! lifetimes), dates, loopback ports, temporary paths and every GUID that is not part of the
//! scenario world (request ids, trace ids, role assignment names): those are numbered in order
//! of appearance (`<id-1>`), so the report's structure stays visible. The table is the
//! `--report table=FILE` of the same run: report files have no colour and a fixed width (110).

use crate::run::{self, ScenarioRun};
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

/// JSON keys whose values are clocks or timings.
const VOLATILE_KEYS: &[&str] = &[
    "duration_ms",
    "elapsed_ms",
    "started_at",
    "exp",
    "iat",
    "nbf",
    "expires_on",
    "token_expires_in_s",
];

static GUID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b").unwrap());

/// (pattern, replacement) applied to every report's text, in order.
static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // Temporary directories of the lab and of the test (`/tmp/aoai-doctor-lab-AbC123/ca.pem`).
        (r"/tmp/[A-Za-z0-9._-]+", "<tmp>"),
        (r"(127\.0\.0\.1|localhost|\[::1\]):\d+", "$1:<port>"),
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?",
            "<time>",
        ),
        // Token lifetimes, which the lab varies as Entra does ("expires in 1h 7m", "valid for 59m 59s").
        (
            r"\b(expires in|valid for|expired) \d+[hms]( \d+[ms])?\b",
            "$1 <lifetime>",
        ),
        // How long the probe waited for a propagating role (about --wait-for-propagation).
        (r"\bwaiting \d+(\.\d+)?s\b", "waiting <seconds>"),
        // How long that wait took: the lab's delay plus the probe's pacing, whose tenths vary
        // with the machine's load ("after 5.0s of waiting", "it took 5.1s").
        (r"\b(answered HTTP \d+ after|it took) \d+(\.\d+)?s\b", "$1 <seconds>"),
        (r"\b\d+ ?ms\b", "<n> ms"),
        // A role assignment made as the lab starts is "0s" or "1s" old by the time it is read.
        (r"\bassigned \d+s ago\b", "assigned <seconds> ago"),
        (r#""age": "\d+s""#, r#""age": "<seconds>""#),
    ]
    .into_iter()
    .map(|(p, r)| (Regex::new(p).unwrap(), r))
    .collect()
});

/// Every GUID the scenario files and role fixtures define: those are stable and meaningful.
static WORLD_GUIDS: LazyLock<BTreeSet<String>> = LazyLock::new(|| {
    let mut files = vec![run::manifest_path("fixtures/roles/builtin-roles.json")];
    let dir = run::manifest_path("fixtures/scenarios");
    for e in std::fs::read_dir(dir).expect("scenarios").flatten() {
        files.push(e.path());
    }
    files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| {
            GUID.find_iter(&t)
                .map(|m| m.as_str().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .collect()
});

/// Replaces what differs between runs; the same input always gives the same output.
pub fn normalise_text(text: &str) -> String {
    let mut out = text.to_string();
    for (re, with) in RULES.iter() {
        out = re.replace_all(&out, *with).into_owned();
    }
    let mut numbered: HashMap<String, usize> = HashMap::new();
    GUID.replace_all(&out, |c: &regex::Captures| {
        let g = c[0].to_ascii_lowercase();
        if WORLD_GUIDS.contains(&g) {
            return c[0].to_string();
        }
        let n = numbered.len() + 1;
        format!("<id-{}>", numbered.entry(g).or_insert(n))
    })
    .into_owned()
}

fn blank_volatile(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if VOLATILE_KEYS.contains(&k.as_str()) && !x.is_null() {
                    *x = Value::String(format!("<{k}>"));
                } else {
                    blank_volatile(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(blank_volatile),
        _ => {}
    }
}

pub fn normalise_json(report: &Value) -> String {
    let mut v = report.clone();
    blank_volatile(&mut v);
    normalise_text(&(serde_json::to_string_pretty(&v).unwrap() + "\n"))
}

/// The first line where `want` and `got` differ, for the failure message.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let i = (0..w.len().max(g.len())).find(|&i| w.get(i) != g.get(i)).unwrap_or(0);
    format!(
        "line {}:\n  golden: {}\n  now:    {}",
        i + 1,
        w.get(i).unwrap_or(&"<end>"),
        g.get(i).unwrap_or(&"<end>")
    )
}

/// Compares (or with `UPDATE_GOLDEN=1` rewrites) one golden file; a mismatch as text.
fn check(file: &str, got: &str) -> Option<String> {
    let comparable = |text: &str| {
        if file.ends_with(".txt") {
            without_padding(text)
        } else {
            text.to_string()
        }
    };
    let path = run::manifest_path("tests/golden").join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return None;
    }
    match std::fs::read_to_string(&path) {
        Ok(want) if comparable(&want) == comparable(got) => None,
        Ok(want) => Some(format!(
            "{file}: {}",
            first_difference(&comparable(&want), &comparable(got))
        )),
        Err(e) => Some(format!("{file}: no golden file ({e})")),
    }
}

/// The table with each cell's padding collapsed, for comparing: a placeholder's length differs
/// from the value it replaced, and comfy-table pads every row of a column to its widest cell.
/// (The golden file keeps the padding, so it reads as the table does.)
fn without_padding(text: &str) -> String {
    static PADDING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r" {2,}").unwrap());
    static RULE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"([─═])[─═]+").unwrap());
    let mut out = String::new();
    for line in text.lines() {
        let line = if line.starts_with(['│', '┌', '└', '╞', '├']) {
            RULE.replace_all(&PADDING.replace_all(line, " "), "$1").into_owned()
        } else {
            line.to_string()
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn golden_files_for(s: &ScenarioRun) -> Vec<Option<String>> {
    vec![
        check(&format!("{}.json", s.name), &normalise_json(&s.report)),
        check(&format!("{}.txt", s.name), &normalise_text(&s.table)),
    ]
}

#[test]
fn golden_reports() {
    let runs = run::scenarios();
    let mut problems: Vec<String> = runs.iter().flat_map(golden_files_for).flatten().collect();
    // A golden file of a scenario that no longer exists is stale.
    let names: BTreeSet<&str> = runs.iter().map(|s| s.name.as_str()).collect();
    for e in std::fs::read_dir(run::manifest_path("tests/golden"))
        .expect("tests/golden")
        .flatten()
    {
        let f = e.file_name().to_string_lossy().into_owned();
        let stem = f.rsplit_once('.').map_or(f.as_str(), |(s, _)| s);
        if !names.contains(stem) {
            problems.push(format!("{f}: no scenario {stem} (delete the file)"));
        }
    }
    assert!(
        problems.is_empty(),
        "reports differ from tests/golden ({} files); if the change is intended, run\n  \
         UPDATE_GOLDEN=1 cargo test --test scenarios golden\nand review the diff:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn normalisation_keeps_world_ids_and_numbers_the_rest() {
    let world = "0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70"; // alice, from _base.toml
    let text = format!(
        "{world} a1b2c3d4-0000-4000-8000-000000000001 https://127.0.0.1:41051/ \
         a1b2c3d4-0000-4000-8000-000000000001 /tmp/aoai-doctor-lab-n3Bi8r/azure 2026-12-03T09:42:08.0968Z"
    );
    assert_eq!(
        normalise_text(&text),
        format!("{world} <id-1> https://127.0.0.1:<port>/ <id-1> <tmp>/azure <time>")
    );
    // A measured wait is blanked; a limit the scenario sets is not.
    assert_eq!(
        normalise_text("answered HTTP 200 after 5.1s of waiting; it took 5.0s; did not finish within 2.4s"),
        "answered HTTP 200 after <seconds> of waiting; it took <seconds>; did not finish within 2.4s"
    );
}
