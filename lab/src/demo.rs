//! `aoai-doctor demo`: for each scenario, start a lab in-process and run the doctor against
//! it — once — as a subprocess of this same binary with exactly the scenario's environment
//! (the doctor and the Azure SDK read the process environment), then compare its verdict with
//! the scenario's expectation.
//!
//! Without a scenario name it prints one screen: a line per scenario (expected and actual
//! verdict, the key finding, the time). With names it shows each report in full, the doctor
//! writing straight to this terminal so its progress (the propagation spinner, or one line
//! per attempt) appears live and before the report, as in a real run.
//!
//! The doctor is given the real host names (`NAME.openai.azure.com`,
//! `login.microsoftonline.com`, `management.azure.com`) and `HTTPS_PROXY` pointing at the
//! lab's CONNECT proxy, which routes them to the lab and refuses every other host, so a
//! report reads like one from Azure and no lab token can leave the machine (`--loopback`
//! gives it the loopback URLs instead).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::StreamExt as _;
use serde_json::{Value, json};

use super::cli::{DemoArgs, DemoColor, DemoFormat};
use super::scenario::Verdict;
use super::{Invocation, Options, Scenario, scenario, scenarios, start_with};

/// A doctor run that takes longer than this is killed (with its `az` children).
const DOCTOR_TIMEOUT: Duration = Duration::from_secs(180);
/// Labs (and doctors) running at once in the summary. A run is mostly waiting (on loopback
/// answers, `az` subprocesses, a propagating role, a hanging `az`) with about 0.1 s of CPU,
/// so several share two cores; all of them at once would starve the endpoint check's
/// reachability limit on a busy machine and turn verdicts into `endpoint-unreachable`.
const PARALLEL: usize = 8;
/// The scenario the summary's last line offers as an example.
const EXAMPLE: &str = "missing-role";

struct Outcome {
    name: String,
    expected: String,
    actual: String,
    missing_codes: Vec<String>,
    /// The most severe finding's code (the first one among equals), if any.
    key_code: Option<String>,
    elapsed: Duration,
    /// Why there is no verdict (the lab or the doctor did not run), if so.
    problem: Option<String>,
}

impl Outcome {
    fn new(s: &Scenario) -> Self {
        Outcome {
            name: s.name.clone(),
            expected: s.expected_verdict.as_str().to_string(),
            actual: Verdict::Error.as_str().into(),
            missing_codes: vec![],
            key_code: None,
            elapsed: Duration::ZERO,
            problem: None,
        }
    }

    fn matched(&self) -> bool {
        self.expected == self.actual && self.missing_codes.is_empty()
    }

    /// Fill verdict, codes and key finding from the doctor's JSON report (or, without one,
    /// from its exit code, which cannot tell pass from warn).
    fn judge(&mut self, s: &Scenario, report: Option<&Value>, exit_code: i32) {
        self.actual = match report.and_then(|r| r.get("verdict")).and_then(Value::as_str) {
            Some(v) => v.to_string(),
            None => match exit_code {
                0 => Verdict::Pass.as_str().into(),
                1 => Verdict::Fail.as_str().into(),
                _ => Verdict::Error.as_str().into(),
            },
        };
        let findings = findings(report);
        let codes: Vec<&str> = findings.iter().map(|(code, _)| code.as_str()).collect();
        self.missing_codes = s
            .expected_codes
            .iter()
            .filter(|c| !codes.contains(&c.as_str()))
            .cloned()
            .collect();
        // The demo's own HTTPS_PROXY (the lab's proxy) is in every report; it is not the story.
        self.key_code = findings
            .iter()
            .filter(|(code, _)| code != "env-proxy")
            .enumerate()
            .max_by_key(|(i, (_, rank))| (*rank, std::cmp::Reverse(*i)))
            .map(|(_, (code, _))| code.clone());
    }

    fn to_json(&self) -> Value {
        json!({
            "scenario": self.name,
            "expected": self.expected,
            "actual": self.actual,
            "matched": self.matched(),
            "key_code": self.key_code,
            "missing_codes": self.missing_codes,
            "seconds": (self.elapsed.as_secs_f64() * 10.0).round() / 10.0,
            "problem": self.problem,
        })
    }
}

/// Every finding of the report in check order: (code, severity rank; error highest).
fn findings(report: Option<&Value>) -> Vec<(String, u8)> {
    report
        .and_then(|r| r.get("checks"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|c| c.get("findings").and_then(Value::as_array).cloned().unwrap_or_default())
        .filter_map(|f| {
            let code = f.get("code").and_then(Value::as_str)?.to_string();
            let rank = match f.get("severity").and_then(Value::as_str) {
                Some("error") => 3,
                Some("warning") => 2,
                Some("info") => 1,
                _ => 0,
            };
            Some((code, rank))
        })
        .collect()
}

pub async fn run(args: DemoArgs) -> Result<i32> {
    let chosen = args.chosen();
    let list: Vec<Scenario> = if chosen == "all" {
        scenarios()
    } else {
        match chosen
            .split(',')
            .map(|n| scenario::load(n.trim()))
            .collect::<Result<_>>()
        {
            Ok(list) => list,
            Err(e) => {
                // A name that is not a scenario is a usage error (exit 2), like a bad flag.
                eprintln!("aoai-doctor: error: {e:#}");
                return Ok(2);
            }
        }
    };
    // One pinned copy of this program for every lab's `az` shim and every doctor run, so a
    // rebuild in the middle of a demo cannot break the scenarios that run after it.
    let pin_dir = super::owned_tempdir("aoai-doctor-demo-")?;
    let exe = super::pin_program(pin_dir.path())?;
    let all_ok = if chosen == "all" {
        summary(&exe, &list, args.format, !args.loopback).await?
    } else {
        let color = match args.color {
            DemoColor::Auto if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() => {
                DemoColor::Always
            }
            DemoColor::Auto => DemoColor::Never,
            c => c,
        };
        let mut all_ok = true;
        for s in &list {
            all_ok &= show_one(&exe, s, (args.format, color), pin_dir.path(), !args.loopback).await?;
        }
        all_ok
    };
    Ok(if all_ok { 0 } else { 1 })
}

/// Every scenario, a few at a time, the ones that wait first; then one line each in the
/// listing's order. True when all matched.
async fn summary(exe: &Path, list: &[Scenario], format: DemoFormat, real_names: bool) -> Result<bool> {
    let started = Instant::now();
    let mut order: Vec<usize> = (0..list.len()).collect();
    // Stable: waiting scenarios first, the rest in listing order.
    order.sort_by_key(|&i| !waits(&list[i]));
    // Each scenario is a task of its own, so starting a lab (key generation) on one worker
    // does not hold up the doctors the others are waiting on.
    let tasks = order.into_iter().map(|i| {
        let (exe, s) = (exe.to_path_buf(), list[i].clone());
        async move {
            let fallback = Outcome::new(&s);
            let o = tokio::spawn(async move { summarize_one(&exe, &s, real_names).await })
                .await
                .unwrap_or_else(|e| Outcome {
                    problem: Some(format!("the scenario's task failed: {e}")),
                    ..fallback
                });
            (i, o)
        }
    });
    let mut done: Vec<(usize, Outcome)> = futures::stream::iter(tasks).buffer_unordered(PARALLEL).collect().await;
    done.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<Outcome> = done.into_iter().map(|(_, o)| o).collect();
    match print_summary(&outcomes, format, started.elapsed()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    Ok(outcomes.iter().all(Outcome::matched))
}

/// Does this scenario spend its time waiting (a role propagating, a hanging `az`, a fault)?
fn waits(s: &Scenario) -> bool {
    s.data_plane.propagation_delay_seconds > 0 || s.cli.state == scenario::CliState::Hang || !s.faults.is_empty()
}

fn print_summary(outcomes: &[Outcome], format: DemoFormat, took: Duration) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if format == DemoFormat::Json {
        let all: Vec<Value> = outcomes.iter().map(Outcome::to_json).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&all).unwrap_or_default())?;
        return out.flush();
    }
    let width = outcomes.iter().map(|o| o.name.len()).max().unwrap_or(0);
    writeln!(
        out,
        "{:width$}  {:8}  {:8}     {:32}  time",
        "scenario", "expected", "actual", "key finding"
    )?;
    for o in outcomes {
        writeln!(out, "{}", row(o, width))?;
    }
    let matched = outcomes.iter().filter(|o| o.matched()).count();
    writeln!(
        out,
        "\n{matched} of {} scenarios matched their expected verdict in {:.1}s.\n\
         One report in full: aoai-doctor demo SCENARIO (e.g. aoai-doctor demo {EXAMPLE}); \
         what each scenario sets up: aoai-doctor lab scenarios",
        outcomes.len(),
        took.as_secs_f64()
    )?;
    out.flush()
}

fn row(o: &Outcome, width: usize) -> String {
    let mark = if o.matched() { "✓" } else { "✗" };
    let mut note = String::new();
    if !o.missing_codes.is_empty() {
        note = format!("  missing codes: {}", o.missing_codes.join(", "));
    }
    if let Some(p) = &o.problem {
        note.push_str(&format!("  {}", p.lines().next().unwrap_or_default()));
    }
    format!(
        "{:width$}  {:8}  {:8}  {mark}  {:32}  {:4.1}s{note}",
        o.name,
        o.expected,
        o.actual,
        o.key_code.as_deref().unwrap_or("—"),
        o.elapsed.as_secs_f64()
    )
}

async fn summarize_one(exe: &Path, s: &Scenario, real_names: bool) -> Outcome {
    let mut o = Outcome::new(s);
    let lab = match lab_for(exe, s, real_names).await {
        Ok(l) => l,
        Err(e) => {
            o.problem = Some(format!("the lab did not start: {e:#}"));
            return o;
        }
    };
    let started = Instant::now();
    let mut cmd = doctor_command(exe, &lab.invocation());
    cmd.args(["--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match run_doctor(cmd).await {
        Err(e) => o.problem = Some(format!("the doctor did not run: {e:#}")),
        Ok(out) => {
            let report: Option<Value> = serde_json::from_slice(&out.stdout).ok();
            o.judge(s, report.as_ref(), out.status.code().unwrap_or(3));
            if report.is_none() {
                o.problem = Some(String::from_utf8_lossy(&out.stderr).trim().to_string());
            }
        }
    }
    o.elapsed = started.elapsed();
    lab.shutdown().await;
    o
}

/// One scenario in full: the doctor writes its progress and report straight to this
/// process's stdout and stderr, and its JSON report to a file for the comparison. True when
/// the verdict matched.
async fn show_one(
    exe: &Path,
    s: &Scenario,
    (format, color): (DemoFormat, DemoColor),
    tmp: &Path,
    real_names: bool,
) -> Result<bool> {
    let table = format == DemoFormat::Table;
    if table {
        println!("── {} — {} ──", s.name, s.description);
        if real_names {
            // Explains the report's `env-proxy` finding, and that nothing leaves the machine.
            println!("   (the lab answers by Azure's host names through its proxy on loopback, set in HTTPS_PROXY)");
        }
    }
    let mut o = Outcome::new(s);
    let lab = lab_for(exe, s, real_names).await.context("the lab did not start")?;
    let json_file = tmp.join(format!("{}.json", s.name));
    let _ = std::fs::remove_file(&json_file);
    let mut cmd = doctor_command(exe, &lab.invocation());
    match format {
        DemoFormat::Table => cmd.args(["--format", "table", "--color", color.as_str()]),
        DemoFormat::Json => cmd.args(["--format", "json"]),
    };
    cmd.arg("--output-json").arg(&json_file);
    if let Ok(term) = std::env::var("TERM") {
        // Lets the spinner and colours match this terminal; nothing Azure reads.
        cmd.env("TERM", term);
    }
    cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    let started = Instant::now();
    let result = run_doctor(cmd).await;
    o.elapsed = started.elapsed();
    lab.shutdown().await;
    let status = result?.status;
    let report: Option<Value> = std::fs::read(&json_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    o.judge(s, report.as_ref(), status.code().unwrap_or(3));
    let line = verdict_line(&o);
    if table {
        println!("{line}\n");
    } else if !o.matched() {
        eprintln!("{line}");
    }
    Ok(o.matched())
}

fn verdict_line(o: &Outcome) -> String {
    let took = format!("{:.1}s", o.elapsed.as_secs_f64());
    if o.matched() {
        format!("✓ {}: {}, as the scenario expects ({took})", o.name, o.actual)
    } else if o.missing_codes.is_empty() {
        format!(
            "✗ {}: {}, but the scenario expects {} ({took})",
            o.name, o.actual, o.expected
        )
    } else {
        format!(
            "✗ {}: {} (expected {}), missing codes: {} ({took})",
            o.name,
            o.actual,
            o.expected,
            o.missing_codes.join(", ")
        )
    }
}

/// The scenario's lab; `real_names`: the doctor is given the public host names and the
/// lab's proxy (`proxy.rs`), so its report reads like one from Azure.
async fn lab_for(exe: &Path, s: &Scenario, real_names: bool) -> Result<super::Lab> {
    let options = Options {
        az_program: Some(exe.to_path_buf()),
        real_names,
        ..Options::default()
    };
    start_with(s, options).await
}

/// The doctor with exactly the invocation's environment.
fn doctor_command(exe: &Path, inv: &Invocation) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(PathBuf::from(exe));
    cmd.args(&inv.args)
        .env_clear()
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        // Its own process group, so a timeout also kills a hanging `az` it started.
        .process_group(0);
    cmd
}

/// Run it to the end, or kill it (and its process group) after [`DOCTOR_TIMEOUT`].
async fn run_doctor(mut cmd: tokio::process::Command) -> Result<std::process::Output> {
    let child = cmd.spawn().context("starting the doctor")?;
    let pid = child.id();
    match tokio::time::timeout(DOCTOR_TIMEOUT, child.wait_with_output()).await {
        Ok(out) => Ok(out?),
        Err(_) => {
            if let Some(pid) = pid {
                // SAFETY: signalling the process group this function created.
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
            }
            anyhow::bail!("the doctor did not finish within {}s", DOCTOR_TIMEOUT.as_secs())
        }
    }
}
