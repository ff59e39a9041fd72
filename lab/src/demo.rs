//! `aoai-doctor demo`: for each scenario, start a lab in-process and run the doctor against
//! it as a subprocess of this same binary with exactly the scenario's environment (the
//! doctor and the Azure SDK read the process environment), then compare its verdict with
//! the scenario's expectation.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt as _;
use serde_json::Value;

use super::cli::{DemoArgs, DemoColor, DemoFormat};
use super::{Invocation, Options, Scenario, scenario, scenarios, start_with};

/// A doctor run that takes longer than this is killed (with its `az` children).
const DOCTOR_TIMEOUT: Duration = Duration::from_secs(180);
/// Labs (and doctors) running at once.
const PARALLEL: usize = 4;

struct Outcome {
    name: String,
    expected: String,
    actual: String,
    missing_codes: Vec<String>,
    report: String,
}

impl Outcome {
    fn matched(&self) -> bool {
        self.expected == self.actual && self.missing_codes.is_empty()
    }
}

pub async fn run(args: DemoArgs) -> Result<i32> {
    let list: Vec<Scenario> = if args.scenario == "all" {
        scenarios()
    } else {
        args.scenario
            .split(',')
            .map(|n| scenario::load(n.trim()))
            .collect::<Result<_>>()?
    };
    // One pinned copy of this program for every lab's `az` shim and every doctor run, so a
    // rebuild in the middle of a demo cannot break the scenarios that run after it.
    let pin_dir = super::owned_tempdir("aoai-doctor-demo-")?;
    let exe = super::pin_program(pin_dir.path())?;
    let color = match args.color {
        DemoColor::Auto if std::io::stdout().is_terminal() => DemoColor::Always,
        DemoColor::Auto => DemoColor::Never,
        c => c,
    };
    let outcomes: Vec<Outcome> = futures::stream::iter(list.iter().map(|s| run_one(&exe, s, args.format, color)))
        .buffered(PARALLEL)
        .collect()
        .await;
    let all_ok = outcomes.iter().all(Outcome::matched);
    match print(&outcomes, list.len() > 1, args.format) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    Ok(if all_ok { 0 } else { 1 })
}

fn print(outcomes: &[Outcome], summary: bool, format: DemoFormat) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if summary {
        let w = outcomes.iter().map(|o| o.name.len()).max().unwrap_or(0);
        writeln!(out, "{:w$}  {:8}  {:8}", "scenario", "expected", "actual")?;
        for o in outcomes {
            let mark = if o.matched() { "✓" } else { "✗" };
            let codes = if o.missing_codes.is_empty() {
                String::new()
            } else {
                format!("  missing codes: {}", o.missing_codes.join(", "))
            };
            writeln!(out, "{:w$}  {:8}  {:8}  {mark}{codes}", o.name, o.expected, o.actual)?;
        }
        let n = outcomes.iter().filter(|o| o.matched()).count();
        writeln!(
            out,
            "\n{n} of {} scenarios matched their expected verdict\n",
            outcomes.len()
        )?;
    }
    for o in outcomes {
        if summary && format == DemoFormat::Table {
            writeln!(out, "── {} ──", o.name)?;
        }
        writeln!(out, "{}", o.report.trim_end())?;
        if summary {
            writeln!(out)?;
        }
    }
    out.flush()
}

async fn run_one(exe: &Path, s: &Scenario, format: DemoFormat, color: DemoColor) -> Outcome {
    let mut o = Outcome {
        name: s.name.clone(),
        expected: s.expected_verdict.as_str().to_string(),
        actual: "error".into(),
        missing_codes: vec![],
        report: String::new(),
    };
    let options = Options {
        az_program: Some(exe.to_path_buf()),
        ..Options::default()
    };
    let lab = match start_with(s, options).await {
        Ok(l) => l,
        Err(e) => {
            o.report = format!("the lab did not start: {e:#}");
            return o;
        }
    };
    let inv = lab.invocation();
    match doctor(exe, &inv, &["--format", "json"]).await {
        Err(e) => o.report = format!("the doctor did not run: {e:#}"),
        Ok((code, stdout, stderr)) => {
            let report: Option<Value> = serde_json::from_str(&stdout).ok();
            o.actual = match report.as_ref().and_then(|r| r.get("verdict")).and_then(Value::as_str) {
                Some(v) => v.to_string(),
                // Without a JSON report, the exit code is all there is (0 cannot tell pass
                // from warn).
                None => match code {
                    0 => "pass".into(),
                    1 => "fail".into(),
                    _ => "error".into(),
                },
            };
            let codes: Vec<String> = report
                .as_ref()
                .and_then(|r| r.get("checks"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|c| c.get("findings").and_then(Value::as_array).cloned().unwrap_or_default())
                .filter_map(|f| f.get("code").and_then(Value::as_str).map(str::to_string))
                .collect();
            o.missing_codes = s
                .expected_codes
                .iter()
                .filter(|c| !codes.contains(c))
                .cloned()
                .collect();
            o.report = if format == DemoFormat::Json || report.is_none() {
                if report.is_none() {
                    format!("{stdout}{stderr}")
                } else {
                    stdout
                }
            } else {
                match doctor(exe, &inv, &["--format", "table", "--color", color.as_str()]).await {
                    Ok((_, out, err)) => format!("{out}{err}"),
                    Err(e) => format!("the doctor did not run: {e:#}"),
                }
            };
        }
    }
    lab.shutdown().await;
    o
}

/// Run the doctor with exactly the invocation's environment; (exit code, stdout, stderr).
async fn doctor(exe: &Path, inv: &Invocation, extra: &[&str]) -> Result<(i32, String, String)> {
    let mut cmd = tokio::process::Command::new(PathBuf::from(exe));
    cmd.args(&inv.args)
        .args(extra)
        .env_clear()
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so a timeout also kills a hanging `az` it started.
        .process_group(0);
    let child = cmd.spawn().context("starting the doctor")?;
    let pid = child.id();
    match tokio::time::timeout(DOCTOR_TIMEOUT, child.wait_with_output()).await {
        Ok(out) => {
            let out = out?;
            Ok((
                out.status.code().unwrap_or(3),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ))
        }
        Err(_) => {
            if let Some(pid) = pid {
                // SAFETY: signalling the process group this function created.
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
            }
            anyhow::bail!("the doctor did not finish within {}s", DOCTOR_TIMEOUT.as_secs())
        }
    }
}
