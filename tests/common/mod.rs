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
        .env("PATH", "/usr/bin:/bin")
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
            out.push(format!("{}:{}", c["id"].as_str().unwrap_or(""), f["code"].as_str().unwrap_or("")));
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
