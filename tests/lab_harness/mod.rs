//! Shared by the lab's integration tests: run `aoai-doctor lab serve` as a subprocess, wait
//! for its ready line, read its env file, and talk to it over loopback trusting its CA.
//! The child is always stopped (SIGTERM, then SIGKILL) when the handle drops.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_aoai-doctor");

pub struct LabProc {
    child: Child,
    dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
    /// The env file as written (its comments carry the doctor's command line).
    pub env_text: String,
    pub ready: String,
}

impl LabProc {
    /// Start `lab serve --scenario NAME` (plus `extra` arguments) with a 60 s TTL.
    pub fn start(scenario: &str, extra: &[&str]) -> LabProc {
        Self::spawn(scenario, extra, false)
    }

    /// The same with the lab's stderr (its `--log` lines, when asked for) kept in a file
    /// that [`LabProc::log`] reads, for tests whose proof is what the lab saw.
    pub fn start_logged(scenario: &str, extra: &[&str]) -> LabProc {
        Self::spawn(scenario, extra, true)
    }

    fn spawn(scenario: &str, extra: &[&str], logged: bool) -> LabProc {
        let dir = tempfile::tempdir().expect("tempdir");
        let env_file = dir.path().join("lab.env");
        let stderr = if logged {
            Stdio::from(std::fs::File::create(dir.path().join("lab.log")).expect("log file"))
        } else {
            Stdio::inherit()
        };
        let mut child = Command::new(BIN)
            .args(["lab", "serve", "--scenario", scenario, "--ttl", "60s", "--env-file"])
            .arg(&env_file)
            .args(extra)
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawning aoai-doctor lab serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("lab ready:") {
                    let _ = tx.send(line);
                }
            }
        });
        let ready = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("lab serve --scenario {scenario} printed no ready line within 30 s");
            }
        };
        let env_text = std::fs::read_to_string(&env_file).expect("env file");
        LabProc {
            child,
            dir,
            env: parse_env(&env_text),
            env_text,
            ready,
        }
    }

    /// The lab's stderr so far (only after [`LabProc::start_logged`]).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("lab.log")).expect("lab log (start_logged)")
    }

    pub fn var(&self, k: &str) -> &str {
        self.env
            .get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{k} not in the lab's env file"))
    }

    pub fn endpoint(&self) -> String {
        self.var("AZURE_OPENAI_ENDPOINT").trim_end_matches('/').to_string()
    }

    pub fn arm(&self) -> String {
        self.var("AOAI_DOCTOR_ARM_ENDPOINT").trim_end_matches('/').to_string()
    }

    pub fn authority(&self) -> String {
        self.var("AZURE_AUTHORITY_HOST").trim_end_matches('/').to_string()
    }

    /// An HTTPS client that trusts only the lab's CA.
    pub fn client(&self) -> reqwest::Client {
        let pem = std::fs::read(self.var("SSL_CERT_FILE")).expect("CA file");
        reqwest::Client::builder()
            .tls_certs_only(reqwest::Certificate::from_pem_bundle(&pem).expect("PEM"))
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client")
    }

    /// Run the lab's `az` shim with the lab's environment.
    pub fn az(&self, args: &[&str]) -> Output {
        let path = self.var("PATH").to_string();
        let shim = path.split(':').next().unwrap_or_default();
        Command::new(PathBuf::from(shim).join("az"))
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .output()
            .expect("running the az shim")
    }

    /// `az account get-access-token --resource R`'s accessToken.
    pub fn az_token(&self, resource: &str) -> String {
        let out = self.az(&["account", "get-access-token", "--resource", resource, "-o", "json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "az failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("az JSON");
        v["accessToken"].as_str().expect("accessToken").to_string()
    }
}

impl Drop for LabProc {
    fn drop(&mut self) {
        // SIGTERM lets the lab remove its temporary directory; SIGKILL if it does not stop.
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `export K='V'` lines; `export PATH='X':"$PATH"` becomes `X:/usr/bin:/bin`.
pub fn parse_env(text: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("export ") else {
            continue;
        };
        let Some((k, v)) = rest.split_once('=') else { continue };
        let (v, path_suffix) = match v.strip_suffix(":\"$PATH\"") {
            Some(v) => (v, true),
            None => (v, false),
        };
        let mut value = unquote(v);
        if path_suffix {
            value.push_str(":/usr/bin:/bin");
        }
        m.insert(k.to_string(), value);
    }
    m
}

fn unquote(v: &str) -> String {
    // Single-quoted with '\'' for embedded quotes, as the lab writes them.
    v.trim_matches('\'').replace(r"'\''", "'")
}

pub async fn json(r: reqwest::Response) -> (u16, reqwest::header::HeaderMap, serde_json::Value, String) {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, headers, v, text)
}

/// POST an `application/x-www-form-urlencoded` body.
pub fn post_form<K: AsRef<str>, V: AsRef<str>>(
    c: &reqwest::Client,
    url: &str,
    pairs: &[(K, V)],
) -> reqwest::RequestBuilder {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
        .finish();
    c.post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
}

/// `url?k=v&…` with percent-encoding.
pub fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish();
    format!("{url}?{q}")
}

pub fn chat_body() -> serde_json::Value {
    serde_json::json!({"messages": [{"role": "user", "content": "ping"}], "max_completion_tokens": 16})
}
