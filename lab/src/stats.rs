//! What the lab counts: requests and connections per service (`mi`, `entra`, `arm`,
//! `dataplane`) and `az` invocations, for the benchmark (README → Speed).
//!
//! With `lab serve --stats FILE` every event is appended to FILE as one JSON line, at the
//! moment it completes (before the response leaves), so a reader that waits for its client
//! to exit sees every event of that client:
//!
//! ```text
//! {"ev":"connection","svc":"arm","conn":3,"start":1764756000123.456,"ready":1764756000363.5}
//! {"ev":"request","svc":"arm","conn":3,"method":"GET","path":"/subscriptions","status":200,"start":…,"end":…}
//! {"ev":"az","svc":"az","args":"account get-access-token","exit":0,"start":…,"end":…}
//! ```
//!
//! Times are Unix epoch milliseconds. Paths carry no query string; nothing carries a token.
//! `az` lines are written by the stand-in process itself (see `az.rs`). The in-memory
//! totals are printed by `lab serve` when it stops.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axum::http::Request;
use serde_json::{Value, json};

/// The id of the connection a request arrived on (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnId(pub u64);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub requests: u64,
    pub connections: u64,
}

#[derive(Default)]
pub struct Stats {
    path: Option<PathBuf>,
    file: Option<Mutex<File>>,
    counts: Mutex<BTreeMap<&'static str, Count>>,
    next_conn: AtomicU64,
}

/// Milliseconds since the Unix epoch, with microseconds.
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Append one event line to a stats file (the lab's own writes, and the `az` stand-in's).
pub fn append_line(path: &Path, event: &Value) -> std::io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    // One write per line: O_APPEND keeps lines from two processes whole.
    f.write_all(format!("{event}\n").as_bytes())
}

impl Stats {
    /// Counting in memory, and appending events to `path` when given (created or truncated).
    pub fn new(path: Option<&Path>) -> Result<Stats> {
        // Absolute: the `az` stand-in appends to it from its caller's working directory.
        let path = match path {
            Some(p) => Some(std::path::absolute(p).with_context(|| format!("the stats file {}", p.display()))?),
            None => None,
        };
        let path = path.as_deref();
        let file = match path {
            Some(p) => Some(Mutex::new(
                OpenOptions::new()
                    .create(true)
                    .write(true)
                    .truncate(true)
                    .open(p)
                    .and_then(|f| {
                        drop(f);
                        OpenOptions::new().append(true).open(p)
                    })
                    .with_context(|| format!("opening the stats file {}", p.display()))?,
            )),
            None => None,
        };
        Ok(Stats {
            path: path.map(Path::to_path_buf),
            file,
            ..Stats::default()
        })
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn emit(&self, event: Value) {
        if let Some(f) = &self.file
            && let Ok(mut f) = f.lock()
        {
            // A full disk must not take the lab down; the counts stay right in memory.
            let _ = f.write_all(format!("{event}\n").as_bytes());
        }
    }

    fn bump(&self, service: &'static str, f: impl FnOnce(&mut Count)) {
        if let Ok(mut c) = self.counts.lock() {
            f(c.entry(service).or_default());
        }
    }

    /// A new connection accepted at `start`, readable at `ready`; returns its id.
    pub fn connection(&self, service: &'static str, start: f64, ready: f64) -> ConnId {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
        self.bump(service, |c| c.connections += 1);
        self.emit(json!({"ev": "connection", "svc": service, "conn": id, "start": start, "ready": ready}));
        ConnId(id)
    }

    /// A request answered now.
    pub fn request(
        &self,
        service: &'static str,
        conn: Option<ConnId>,
        method: &str,
        path: &str,
        status: u16,
        start: f64,
    ) {
        self.bump(service, |c| c.requests += 1);
        self.emit(json!({
            "ev": "request", "svc": service, "conn": conn.map(|c| c.0),
            "method": method, "path": path, "status": status, "start": start, "end": now_ms(),
        }));
    }

    /// Totals per service so far.
    pub fn counts(&self) -> BTreeMap<&'static str, Count> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// `arm 12 requests/1 connection, …` (what `lab serve` prints when it stops).
    pub fn summary(&self) -> String {
        let counts = self.counts();
        if counts.is_empty() {
            return "no requests".into();
        }
        counts
            .iter()
            .map(|(s, c)| format!("{s} {} requests/{} connections", c.requests, c.connections))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A connection's service, tagging each request with the connection's id.
#[derive(Clone)]
pub struct Tagged<S> {
    inner: S,
    id: ConnId,
}

impl<S> Tagged<S> {
    pub fn new(inner: S, id: ConnId) -> Self {
        Tagged { inner, id }
    }
}

impl<S, B> tower_service::Service<Request<B>> for Tagged<S>
where
    S: tower_service::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        req.extensions_mut().insert(self.id);
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_and_appended_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stats.jsonl");
        std::fs::write(&path, "left over from a previous run\n").unwrap();
        let s = Stats::new(Some(&path)).unwrap();
        let c = s.connection("arm", 1.0, 2.0);
        s.request("arm", Some(c), "GET", "/subscriptions", 200, 3.0);
        s.request("arm", Some(c), "GET", "/subscriptions/x", 404, 4.0);
        append_line(&path, &json!({"ev": "az", "svc": "az"})).unwrap();
        assert_eq!(
            s.counts()["arm"],
            Count {
                requests: 2,
                connections: 1
            }
        );
        let lines: Vec<Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "the old content is gone: {lines:?}");
        assert_eq!(lines[1]["conn"], c.0);
        assert_eq!(lines[2]["status"], 404);
        assert_eq!(lines[3]["ev"], "az");
        assert_eq!(s.summary(), "arm 2 requests/1 connections");
    }
}
