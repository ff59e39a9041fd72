//! Every finding code in the catalogue (`aoai-doctor codes`, not a hand-written list) must come
//! out of at least one real run of the binary here: the lab scenarios (shared with the other
//! tests of this binary), the lab with a fault or an option, a canned data-plane answer, an
//! `az` that fails with each AADSTS number of the catalogue, or the `token` subcommand. A new
//! code that no input produces fails `every_finding_code_is_produced`, naming it.

use crate::common::{BIN, Lab, doctor};
use crate::run::{self, DoctorRun, bounded, codes_in, run_limited};
use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::inputs;

/// Codes the binary cannot be made to produce today, each with the reason. The test fails if
/// one of them is produced (then it belongs in the inputs) or leaves the catalogue.
const NO_INPUT_YET: &[(&str, &str)] = &[];

/// What one input produced.
pub struct Produced {
    pub label: String,
    pub codes: Vec<String>,
}

impl Produced {
    pub fn from_json(run: &DoctorRun) -> Produced {
        Produced {
            label: run.label.clone(),
            codes: codes_in(&run.json()),
        }
    }
}

/// The catalogue, as the binary prints it: one `code  description` line per code.
fn catalogue() -> Vec<String> {
    let out = Command::new(BIN).arg("codes").output().expect("aoai-doctor codes");
    assert!(out.status.success(), "aoai-doctor codes failed");
    let codes: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(codes.len() > 50, "only {} codes listed", codes.len());
    codes
}

/// The lab's suggested doctor, minus the flags in `drop` (each with its value).
pub fn lab_doctor(lab: &Lab, drop: &[&str]) -> (Command, tempfile::TempDir) {
    let home = tempfile::tempdir().expect("tempdir");
    let mut c = Command::new(BIN);
    // A time limit by variable, so an input's own --timeout wins.
    c.env_clear()
        .env("HOME", home.path())
        .env("AOAI_DOCTOR_COLOR", "never")
        .env("AOAI_DOCTOR_TIMEOUT", "5s");
    for (k, v) in &lab.env {
        c.env(k, v);
    }
    let mut args = lab.args.iter();
    while let Some(a) = args.next() {
        if drop.contains(&a.as_str()) {
            args.next();
        } else {
            c.arg(a);
        }
    }
    c.args(["--format", "json"]);
    (c, home)
}

/// The doctor against `scenario` (a name or a .toml path) with lab flags, extra arguments
/// and extra environment.
pub fn lab_run(scenario: &str, flags: &[&str], args: &[&str], env: &[(&str, &str)]) -> Produced {
    let lab = Lab::start(scenario, flags);
    let overridden: Vec<&str> = args.iter().copied().filter(|a| a.starts_with("--")).collect();
    let (mut c, _home) = lab_doctor(&lab, &overridden);
    c.args(args);
    for (k, v) in env {
        // An empty value removes the lab's variable.
        if v.is_empty() {
            c.env_remove(k);
        } else {
            c.env(k, v);
        }
    }
    Produced::from_json(&run_limited(&format!("{scenario} {flags:?} {args:?} {env:?}"), c))
}

/// The doctor with no lab: every Azure endpoint on a closed loopback port.
pub fn offline_run(args: &[&str], env: &[(&str, &str)]) -> Produced {
    let home = tempfile::tempdir().expect("tempdir");
    let mut c = doctor(home.path());
    c.args(["--format", "json", "--timeout", "5s"])
        .args(args)
        .envs(env.iter().copied());
    Produced::from_json(&run_limited(&format!("offline {args:?} {env:?}"), c))
}

/// An HTTP/1.1 server on 127.0.0.1 that answers every request with `answer`, recording the
/// requests it read (head and body).
pub fn canned_server(answer: String) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut s in l.incoming().map_while(Result::ok) {
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            // Recorded as it arrives, so a test reading the log right after the client exits
            // sees everything the client sent.
            let entry = {
                let mut log = log.lock().unwrap();
                log.push(String::new());
                log.len() - 1
            };
            let mut buf = [0u8; 16 * 1024];
            // Until the client pauses: enough for a head and the probe's small body.
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                log.lock().unwrap()[entry].push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            let _ = s.write_all(answer.as_bytes());
        }
    });
    (format!("127.0.0.1:{port}"), seen)
}

pub fn http_answer(status: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra_headers}connection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn every_finding_code_is_produced() {
    let catalogue = catalogue();
    // Every input runs even when another fails, so one failure message names them all.
    let outcomes = bounded(inputs::all(&catalogue), |input| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(input)).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
    });
    let (extra, failed): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(Result::is_ok);
    let failed: Vec<String> = failed.into_iter().filter_map(Result::err).collect();
    assert!(
        failed.is_empty(),
        "{} inputs failed:\n{}",
        failed.len(),
        failed.join("\n---\n")
    );
    let extra: Vec<Produced> = extra.into_iter().filter_map(Result::ok).collect();
    let mut produced: BTreeSet<String> = BTreeSet::new();
    for s in run::scenarios() {
        produced.extend(codes_in(&s.report));
    }
    for p in &extra {
        eprintln!("{}: {:?}", p.label, p.codes);
        produced.extend(p.codes.iter().cloned());
    }
    let unknown: Vec<&String> = produced.iter().filter(|c| !catalogue.contains(c)).collect();
    assert!(unknown.is_empty(), "codes not in the catalogue: {unknown:?}");
    for (code, why) in NO_INPUT_YET {
        assert!(
            catalogue.iter().any(|c| c == code),
            "{code} is no longer in the catalogue: drop it from NO_INPUT_YET"
        );
        assert!(
            !produced.contains(*code),
            "{code} is produced now: drop it from NO_INPUT_YET ({why})"
        );
    }
    let missing: Vec<&String> = catalogue
        .iter()
        .filter(|c| !produced.contains(*c) && !NO_INPUT_YET.iter().any(|(x, _)| x == c))
        .collect();
    assert!(
        missing.is_empty(),
        "{} catalogue codes no run produced (add an input in tests/scenarios/inputs.rs, \
         or remove a dead code from the catalogue and the README): {missing:?}",
        missing.len()
    );
}
