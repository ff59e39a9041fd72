//! What the real-SDK tests share (tests/real_sdk.rs, tests/real_sdk_v1.rs): where
//! `scripts/setup-real-sdk.sh` put the SDKs, where node is, and running one script against a
//! lab. A missing SDK fails the test naming the fix; only `AOAI_DOCTOR_SKIP_REAL_SDK=1` skips
//! (build.rs turns it into the `skip_real_sdk` cfg the tests are ignored under).
#![allow(dead_code)]

use crate::lab_harness::LabProc;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A real SDK's script against the lab finishes in seconds; past this it hangs (killed).
pub const SCRIPT_LIMIT: Duration = Duration::from_secs(120);

/// `cmd`'s output, or a failed test naming it when it runs over `limit` (it is killed).
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    // Readers on their own threads, so a full pipe never stalls the child.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn std::io::Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn std::io::Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} ran over {limit:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

pub const SKIP_HINT: &str = "run `sh scripts/setup-real-sdk.sh` (needs the package registry), or set \
     AOAI_DOCTOR_SKIP_REAL_SDK=1 to skip the real-SDK tests (they are then reported as ignored)";

/// A file `scripts/setup-real-sdk.sh` prepares under the repository, or a failing test.
pub fn prepared(relative: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    assert!(p.exists(), "{} is missing: {SKIP_HINT}", p.display());
    p
}

/// Where node is installed: PATH first, then the usual places a PATH may miss (system and
/// /usr/local installs, nvm, /opt tarballs, Homebrew).
pub fn node() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    candidates.extend(["/usr/local/bin", "/usr/bin", "/bin", "/opt/homebrew/bin"].map(PathBuf::from));
    let nvm = std::env::var_os("NVM_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".nvm")));
    let versioned = |dir: PathBuf, bin: &str| -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join(bin))
            .collect();
        found.sort();
        found.reverse(); // newest version first
        found
    };
    if let Some(nvm) = nvm {
        candidates.extend(versioned(nvm.join("versions/node"), "bin"));
    }
    candidates.extend(versioned(PathBuf::from("/opt"), "bin"));
    candidates
        .into_iter()
        .map(|d| d.join("node"))
        .find(|n| n.is_file())
        .unwrap_or_else(|| {
            panic!("node is not installed (looked on PATH, /usr/local/bin, /usr/bin, ~/.nvm, /opt): {SKIP_HINT}")
        })
}

/// Run `program script ARGS…` against a lab (cleared environment, the lab's variables, a
/// fresh HOME); the script's one JSON line.
pub fn run_script(program: &Path, script: &Path, lab: &LabProc, args: &[&str]) -> serde_json::Value {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(program);
    cmd.arg(script)
        .args(args)
        .env_clear()
        .envs(lab.env.iter())
        .env("HOME", home.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null());
    let out = output_within(&mut cmd, SCRIPT_LIMIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|_| {
        panic!(
            "{} {args:?}: no JSON line\nstdout: {stdout}\nstderr: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Copies `tests/real_sdk/NAME` next to the prepared node_modules (Node resolves packages from
/// the script's directory) and returns the copy's path.
pub fn node_script(name: &str) -> PathBuf {
    let modules = prepared("target/real-sdk-node/node_modules");
    for package in ["@azure/identity", "openai"] {
        assert!(
            modules.join(package).is_dir(),
            "{package} is not in {}: {SKIP_HINT}",
            modules.display()
        );
    }
    let script = modules.parent().expect("node_modules has a parent").join(name);
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/real_sdk")
            .join(name),
        &script,
    )
    .unwrap_or_else(|e| panic!("copy {name} next to node_modules: {e}"));
    script
}
