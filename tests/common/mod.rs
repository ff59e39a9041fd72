//! Shared helpers for the integration tests: the real binary with a cleared environment, so a
//! developer's own Azure login, proxy or variables never leak into a test, and every Azure
//! endpoint pointed at a closed loopback port unless a test points it at the lab.
#![allow(dead_code)]

use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_aoai-doctor");

/// A closed port on loopback: connections are refused at once.
pub const CLOSED: &str = "127.0.0.1:9";

pub fn doctor(home: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        // No system directories: a real `az` installed on this machine must never run in a test.
        .env("PATH", home.join("no-bin"))
        .env("HOME", home)
        .env("AZURE_CONFIG_DIR", home.join(".azure"))
        .env("AZURE_AUTHORITY_HOST", format!("https://{CLOSED}/"))
        .env("AOAI_DOCTOR_ARM_ENDPOINT", format!("https://{CLOSED}/"))
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", format!("http://{CLOSED}"));
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut c: Command) -> Run {
    let out = c.output().expect("run aoai-doctor");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", r.stdout, r.stderr))
}

/// Every finding code in a JSON report, as "check:code".
pub fn codes(report: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in report["checks"].as_array().into_iter().flatten() {
        for f in c["findings"].as_array().into_iter().flatten() {
            out.push(format!(
                "{}:{}",
                c["id"].as_str().unwrap_or(""),
                f["code"].as_str().unwrap_or("")
            ));
        }
    }
    out
}

pub fn status_of<'a>(report: &'a serde_json::Value, id: &str) -> &'a str {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("<absent>")
}

/// A running `aoai-doctor lab serve` for one scenario; killed on drop.
pub struct Lab {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    /// The environment the lab says a client needs (PATH with the `az` shim, CA, endpoints).
    pub env: Vec<(String, String)>,
    /// The doctor arguments the lab suggests (`# run the doctor:` line).
    pub args: Vec<String>,
}

impl Lab {
    /// Starts the lab for `scenario` with extra `lab serve` flags (e.g. `--propagation-delay 2s`).
    pub fn start(scenario: &str, serve_flags: &[&str]) -> Lab {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("tempdir");
        let env_file = dir.path().join("lab.env");
        let mut child = Command::new(BIN)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", dir.path())
            .args(["lab", "serve", "--scenario", scenario, "--ttl", "300s", "--env-file"])
            .arg(&env_file)
            .args(serve_flags)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start lab serve");
        let stdout = child.stdout.take().expect("lab stdout");
        let mut ready = false;
        for line in std::io::BufReader::new(stdout).lines() {
            match line {
                Ok(l) if l.starts_with("lab ready:") => {
                    ready = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if !ready {
            let _ = child.kill();
            panic!("lab serve --scenario {scenario} did not become ready");
        }
        let text = std::fs::read_to_string(&env_file).expect("lab env file");
        let mut env = Vec::new();
        let mut args = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# run the doctor: aoai-doctor ") {
                args = shell_words(rest);
            } else if let Some((k, v)) = line.strip_prefix("export ").and_then(|rest| rest.split_once('=')) {
                let v = if k == "PATH" {
                    // `'<shim>':"$PATH"` → the shim alone: a real `az` on this machine must never answer.
                    shell_words(v.trim_end_matches(":\"$PATH\""))[0].clone()
                } else {
                    shell_words(v).into_iter().next().unwrap_or_default()
                };
                env.push((k.to_string(), v));
            }
        }
        Lab {
            child,
            _dir: dir,
            env,
            args,
        }
    }

    /// The doctor, pointed at this lab exactly as the lab suggests, with a cleared environment.
    pub fn doctor(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env_clear()
            .env("HOME", self._dir.path())
            .env("AOAI_DOCTOR_COLOR", "never");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.args(&self.args);
        c
    }

    pub fn var(&self, k: &str) -> Option<&str> {
        self.env.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }
}

impl Drop for Lab {
    /// SIGTERM first, so the lab removes its temporary directory; SIGKILL if it lingers.
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Splits a line of single-quoted shell words (as the lab writes them).
pub fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut any = false;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\'' => {
                in_quote = !in_quote;
                any = true;
            }
            '\\' if !in_quote => {
                if let Some(next) = chars.next() {
                    cur.push(next);
                }
            }
            c if c.is_whitespace() && !in_quote => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The finding `code` of check `id`, or a panic showing the check.
pub fn finding_in<'a>(report: &'a serde_json::Value, id: &str, code: &str) -> &'a serde_json::Value {
    let check = report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no {id} in {report}"));
    check["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["code"] == code))
        .unwrap_or_else(|| panic!("no {code} in {check}"))
}

/// A finding's remediation commands, one per line.
pub fn commands(f: &serde_json::Value) -> String {
    f["remediation"]["commands"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The scenario files, from the directory (not a hand-written list): `_base.toml` is the shared
/// world, not a scenario.
pub fn scenario_names() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures/scenarios")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".toml").map(str::to_string))
        .filter(|n| !n.starts_with('_'))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "only {} scenarios in {}", names.len(), dir.display());
    names
}
