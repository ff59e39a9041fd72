//! Running the real binary for these tests: every lab scenario once (shared by the pin, the
//! golden and the codes tests), any other doctor invocation with a time limit, and a bound on
//! how many labs and doctors run at once (the machine may have only 2 cores).

use crate::common::{BIN, Lab};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

/// No doctor run may take longer (the slowest scenario, `cli-hangs`, needs ~10 s).
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Labs and doctors running at once, across every test of this binary. The runs mostly wait
/// (an `az` that hangs, a role that propagates), so a few more than the cores is fine.
fn parallel() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 4)
}

pub use crate::common::scenario_names;

/// One doctor run: exit code, output, and the JSON and table reports it wrote.
pub struct DoctorRun {
    pub label: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl DoctorRun {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: stdout is not JSON ({e}); exit {}\nstdout: {}\nstderr: {}",
                self.label, self.code, self.stdout, self.stderr
            )
        })
    }
}

/// A scenario's expectation (from its file) and the one doctor run against its lab.
pub struct ScenarioRun {
    pub name: String,
    pub expected_verdict: String,
    pub expected_codes: Vec<String>,
    pub run: DoctorRun,
    pub report: Value,
    /// The `--report table=FILE` of the same run: no colour and fixed width in files.
    pub table: String,
}

/// Every scenario, run once per test binary (the first test to ask runs them).
pub fn scenarios() -> &'static [ScenarioRun] {
    static RUNS: OnceLock<Vec<ScenarioRun>> = OnceLock::new();
    RUNS.get_or_init(|| bounded(scenario_names(), |name| run_scenario(&name)))
}

fn run_scenario(name: &str) -> ScenarioRun {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/scenarios/{name}.toml"));
    let spec: toml::Value = toml::from_str(&std::fs::read_to_string(&file).expect("scenario file"))
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let expected_verdict = spec
        .get("expected_verdict")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("{name}: no expected_verdict"))
        .to_string();
    let expected_codes = spec
        .get("expected_codes")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let out = tempfile::tempdir().expect("tempdir");
    let table_file = out.path().join("report.txt");
    let lab = Lab::start(name, &[]);
    let mut c = lab.doctor();
    c.args(["--format", "json", "--report"])
        .arg(format!("table={}", table_file.display()));
    let run = run_limited(name, c);
    drop(lab);
    let report = run.json();
    let table = std::fs::read_to_string(&table_file)
        .unwrap_or_else(|e| panic!("{name}: no table report ({e}); stderr: {}", run.stderr));
    ScenarioRun {
        name: name.to_string(),
        expected_verdict,
        expected_codes,
        run,
        report,
        table,
    }
}

/// Runs `c` (stdin closed) and kills it if it outlives [`RUN_LIMIT`].
pub fn run_limited(label: &str, mut c: Command) -> DoctorRun {
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = c.spawn().unwrap_or_else(|e| panic!("{label}: cannot start {BIN}: {e}"));
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(RUN_LIMIT) {
        Ok(out) => out.expect("wait for the doctor"),
        Err(_) => {
            // SAFETY: signalling the child this function started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{label}: the doctor did not finish within {RUN_LIMIT:?}");
        }
    };
    DoctorRun {
        label: label.to_string(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `f` over `items` with at most [`parallel`] at once across the whole binary; results in
/// input order. A panic in one item fails the caller after the others finished.
pub fn bounded<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let queue = Mutex::new(items.into_iter().enumerate().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..parallel() {
            s.spawn(|| {
                loop {
                    let Some((i, item)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let _slot = Slot::take();
                    let r = f(item);
                    results.lock().unwrap().push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// A counting semaphore shared by every test of this binary.
struct Slot;

static SLOTS: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

impl Slot {
    fn take() -> Slot {
        let (busy, freed) = &SLOTS;
        let mut n = busy.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= parallel() {
            n = freed.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (busy, freed) = &SLOTS;
        *busy.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        freed.notify_one();
    }
}

/// Every finding code in a JSON report (`findings[].code` of every check, or of the report
/// itself for `explain` / `token`).
pub fn codes_in(report: &Value) -> Vec<String> {
    let checks = report["checks"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![report.clone()]);
    checks
        .iter()
        .flat_map(|c| c["findings"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f["code"].as_str().map(str::to_string))
        .collect()
}

pub fn manifest_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}
