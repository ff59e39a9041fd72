//! `aoai-doctor fix` against the lab, once per situation its codes describe (the same
//! situations tests/fix.rs asserts on): what each run produces is collected by the codes
//! test. Waits are bounded by short propagation delays and `--wait-for-propagation`.

use crate::codes_exercised::Produced;
use crate::common::{BIN, Lab};
use crate::inputs::Input;
use crate::run::{DoctorRun, run_limited};
use std::process::{Command, Stdio};

/// owner-at-subscription with a short propagation delay: the caller may write the assignment.
const OWNER: &str = "owner-at-subscription";
const FAST: &[&str] = &["--propagation-delay", "1s"];
/// A principal of the lab's directory other than the caller (`fixtures/scenarios/_base.toml`).
const CHAT_API: &str = "e1a7c3b5-4d2f-4e8a-b6c9-0d3f5a7e1c28";
/// An object id no directory of the lab holds.
const GHOST: &str = "0f0f0f0f-1111-2222-3333-444444444444";
const JSON_NO_WAIT: &[&str] = &["--yes", "--format", "json", "--wait-for-propagation", "0"];

fn boxed(f: impl FnOnce() -> Produced + Send + 'static) -> Input {
    Box::new(f)
}

pub fn all() -> Vec<Input> {
    let simple: Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)> = vec![
        // A role is already granted: nothing to write.
        ("healthy-cli", vec![], JSON_NO_WAIT.to_vec()),
        // Contributor: no roleAssignments/write; a user may be Owner only through PIM.
        ("contributor-only", FAST.to_vec(), JSON_NO_WAIT.to_vec()),
        ("deny-assignment", FAST.to_vec(), JSON_NO_WAIT.to_vec()),
        (OWNER, FAST.to_vec(), [JSON_NO_WAIT, &["--assignee", GHOST]].concat()),
        (
            OWNER,
            FAST.to_vec(),
            [
                JSON_NO_WAIT,
                &["--assignee", GHOST, "--assignee-type", "service-principal"],
            ]
            .concat(),
        ),
        (
            OWNER,
            FAST.to_vec(),
            [
                JSON_NO_WAIT,
                &["--assignee", CHAT_API, "--assignee-type", "service-principal"],
            ]
            .concat(),
        ),
        // Assigned moments ago, 10 minutes to propagate, 1 s of patience: not done yet.
        (
            "propagating-role",
            vec![],
            vec!["--yes", "--format", "json", "--wait-for-propagation", "1s"],
        ),
        // The role gets written and propagates, but the deployment the app names does not
        // exist: the live call still fails, for another reason.
        (
            OWNER,
            FAST.to_vec(),
            vec![
                "--yes",
                "--format",
                "json",
                "--wait-for-propagation",
                "10s",
                "--deployment",
                "no-such-deployment",
            ],
        ),
    ];
    let mut v: Vec<Input> = simple
        .into_iter()
        .map(|(scenario, flags, extra)| {
            boxed(move || {
                let lab = Lab::start(scenario, &flags);
                fix_produced(&lab, scenario, &extra, None)
            })
        })
        .collect();
    for answer in ["throttled", "mfa-required", "role-definition-missing", "unavailable"] {
        v.push(boxed(move || {
            let toml = format!("[arm]\nrole_assignment_write = \"{answer}\"\n");
            let (_dir, scenario) = owner_with(answer, &toml);
            let lab = Lab::start(&scenario, FAST);
            fix_produced(&lab, answer, JSON_NO_WAIT, None)
        }));
    }
    v.push(boxed(apply_then_rerun));
    v.push(boxed(foundry_owner_on_the_openai_path));
    v.push(boxed(a_deny_on_role_assignment_writes));
    v.push(boxed(the_planned_name_is_taken));
    v.push(boxed(answered_no_on_a_terminal));
    v
}

/// `aoai-doctor fix EXTRA… TARGET…` against `lab` (`fix` must come first), `--endpoint`
/// replaced by `endpoint` when given.
fn fix_command(lab: &Lab, extra: &[&str], endpoint: Option<&str>) -> (Command, tempfile::TempDir) {
    let home = tempfile::tempdir().expect("tempdir");
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("HOME", home.path())
        .env("AOAI_DOCTOR_COLOR", "never")
        .env("AOAI_DOCTOR_TIMEOUT", "5s");
    for (k, v) in &lab.env {
        c.env(k, v);
    }
    let mut target = lab.args.clone();
    // An explicit option wins over the lab's (e.g. --deployment).
    for (i, a) in lab.args.iter().enumerate().rev() {
        if a.starts_with("--") && extra.contains(&a.as_str()) && i + 1 < target.len() {
            target.drain(i..i + 2);
        }
    }
    if let (Some(e), Some(i)) = (endpoint, target.iter().position(|a| a == "--endpoint")) {
        target[i + 1] = e.to_string();
    }
    c.arg("fix").args(extra).args(target);
    (c, home)
}

fn fix_run(lab: &Lab, label: &str, extra: &[&str], endpoint: Option<&str>) -> DoctorRun {
    let (c, _home) = fix_command(lab, extra, endpoint);
    run_limited(&format!("fix {label} {extra:?}"), c)
}

fn fix_produced(lab: &Lab, label: &str, extra: &[&str], endpoint: Option<&str>) -> Produced {
    Produced::from_json(&fix_run(lab, label, extra, endpoint))
}

/// owner-at-subscription plus `extra` TOML, written to a temporary scenario file.
fn owner_with(name: &str, extra: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = std::fs::read_to_string(crate::run::manifest_path(
        "fixtures/scenarios/owner-at-subscription.toml",
    ))
    .expect("owner-at-subscription.toml");
    let path = dir.path().join(format!("owner-{name}.toml"));
    std::fs::write(&path, format!("{base}\n{extra}")).unwrap();
    let path = path.to_string_lossy().into_owned();
    (dir, path)
}

/// The plan `fix --dry-run` prints for `lab`.
fn dry_run_plan(lab: &Lab) -> serde_json::Value {
    let run = fix_run(lab, "dry-run", &["--dry-run"], None);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("--dry-run is not JSON ({e}): {}", run.stdout))
}

/// Written and live (planned, applied), then the same again: nothing more to write.
fn apply_then_rerun() -> Produced {
    let lab = Lab::start(OWNER, FAST);
    let extra = ["--yes", "--format", "json", "--wait-for-propagation", "10s"];
    let mut p = fix_produced(&lab, "apply", &extra, None);
    p.codes.extend(fix_produced(&lab, "re-run", &extra, None).codes);
    p
}

/// Foundry Account Owner on the account's OpenAI path: its condition forbids OpenAI User.
fn foundry_owner_on_the_openai_path() -> Produced {
    let lab = Lab::start("foundry-account-owner-only", FAST);
    let bare = lab.var("AZURE_OPENAI_ENDPOINT").expect("endpoint").to_string();
    fix_produced(
        &lab,
        "foundry-account-owner-only at the account",
        JSON_NO_WAIT,
        Some(&bare),
    )
}

/// Owner, but a deny assignment on role-assignment writes: the effective permissions (which
/// do not subtract deny assignments) allow the write, and ARM refuses the PUT.
fn a_deny_on_role_assignment_writes() -> Produced {
    let (_dir, scenario) = owner_with(
        "deny-writes",
        r#"[[deny_assignments]]
id = "4b6d8f0a-2c4e-4a6b-8d0f-1a3c5e7b9d24"
name = "No role assignments in rg-ai (deployment stack)"
description = "Created by a deployment stack with denySettingsMode denyWriteAndDelete"
principals = ["everyone"]
actions = ["Microsoft.Authorization/roleAssignments/write"]
scope = "resource-group"
"#,
    );
    let lab = Lab::start(&scenario, FAST);
    fix_produced(&lab, "deny on roleAssignments/write", JSON_NO_WAIT, None)
}

/// An assignment of another role already carries the name fix derives: ARM answers 409
/// RoleAssignmentUpdateNotPermitted.
fn the_planned_name_is_taken() -> Produced {
    let name = {
        let lab = Lab::start(OWNER, FAST);
        let plan = dry_run_plan(&lab);
        plan["plan"]["assignment_name"]
            .as_str()
            .unwrap_or_else(|| panic!("no assignment_name: {plan}"))
            .to_string()
    };
    let (_dir, scenario) = owner_with(
        "name-taken",
        &format!(
            "[[role_assignments]]\nprincipal = \"alice\"\nrole = \"Reader\"\nscope = \"account\"\nname = \"{name}\"\n"
        ),
    );
    let lab = Lab::start(&scenario, FAST);
    fix_produced(&lab, "planned name taken", JSON_NO_WAIT, None)
}

/// On a terminal (a pseudo-terminal on stdin and stderr) the user answers "n".
fn answered_no_on_a_terminal() -> Produced {
    use std::io::{Read as _, Write as _};
    use std::os::fd::{FromRawFd as _, OwnedFd};
    let lab = Lab::start(OWNER, FAST);
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two new descriptors, owned below.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned only here.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut terminal = std::fs::File::from(master);
    // The answer waits in the terminal's line buffer until fix asks.
    terminal.write_all(b"n\n").unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        // Ends with EIO once the child (the last holder of the other side) exits.
        let _ = terminal.read_to_end(&mut seen);
        String::from_utf8_lossy(&seen).into_owned()
    });
    let (mut c, _home) = fix_command(&lab, &["--format", "json", "--wait-for-propagation", "0"], None);
    c.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .stdout(Stdio::piped());
    let child = c.spawn().expect("aoai-doctor fix");
    drop(c);
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(std::time::Duration::from_secs(120)) {
        Ok(out) => out.expect("wait for fix"),
        Err(_) => {
            // SAFETY: signalling the child this function started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("fix on a terminal did not finish");
        }
    };
    let stderr = reader.join().unwrap_or_default();
    assert!(stderr.contains("Create this role assignment?"), "not asked: {stderr}");
    Produced::from_json(&DoctorRun {
        label: "fix answered no on a terminal".into(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    })
}
