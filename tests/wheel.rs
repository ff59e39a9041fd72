//! `pip install aoai-doctor`: the wheel maturin builds (pyproject.toml, `bindings = "bin"`)
//! installs the native binary as the `aoai-doctor` command. `scripts/test` builds the wheel
//! with the registry (into target/wheels); this test installs it offline into a fresh virtual
//! environment and runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const SKIP: &str = "AOAI_DOCTOR_SKIP_WHEEL";

/// The wheels directory scripts/test builds into (the shared target directory).
fn wheels_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("wheels")
}

/// This version's wheel, if built.
fn wheel() -> Option<PathBuf> {
    let prefix = format!("aoai_doctor-{VERSION}-");
    std::fs::read_dir(wheels_dir())
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
        })
}

/// Run with a time limit (pip and venv must not hang a test run); killed when it is reached.
fn run(mut cmd: Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what} did not finish within {limit:?}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// A command with nothing of this machine's environment but a plain PATH and a scratch HOME
/// (no pip configuration, index or proxy can leak in).
fn clean(program: impl AsRef<std::ffi::OsStr>, home: &Path) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_NO_INDEX", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
    c
}

fn ok(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_wheel_installs_the_native_binary_as_the_aoai_doctor_command() {
    let Some(wheel) = wheel() else {
        if std::env::var(SKIP).as_deref() == Ok("1") {
            eprintln!("skipped: no wheel in {} and {SKIP}=1", wheels_dir().display());
            return;
        }
        panic!(
            "no aoai_doctor-{VERSION}-*.whl in {}: scripts/test builds it (maturin build --profile dev \
             --out target/wheels); set {SKIP}=1 to skip this test",
            wheels_dir().display()
        );
    };
    let home = tempfile::tempdir().unwrap();
    let venv = home.path().join("venv");
    let mut c = clean("python3", home.path());
    c.args(["-m", "venv"]).arg(&venv);
    ok(&run(c, Duration::from_secs(120)), "python3 -m venv");

    let mut c = clean(venv.join("bin/python"), home.path());
    c.args(["-m", "pip", "install", "--no-index", "--no-deps", "--quiet"])
        .arg(&wheel);
    ok(&run(c, Duration::from_secs(120)), "pip install --no-index");

    let exe = venv.join("bin/aoai-doctor");
    let head = std::fs::read(&exe).unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
    assert!(
        head.starts_with(b"\x7fELF") || head.starts_with(&[0xcf, 0xfa, 0xed, 0xfe]),
        "{} is not a native executable (a Python entry-point script?)",
        exe.display()
    );

    let mut c = clean(&exe, home.path());
    c.arg("--version");
    let version = ok(&run(c, Duration::from_secs(30)), "aoai-doctor --version");
    assert_eq!(version.trim(), format!("aoai-doctor {VERSION}"));

    let mut c = clean(&exe, home.path());
    c.args(["demo", "healthy-cli", "--color", "never"]);
    let report = ok(&run(c, Duration::from_secs(120)), "aoai-doctor demo healthy-cli");
    assert!(
        report.contains("✓ healthy-cli: pass, as the scenario expects"),
        "{report}"
    );
}
