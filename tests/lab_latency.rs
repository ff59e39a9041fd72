//! The lab's latency model (lab/src/latency.rs) charges what a far-away Azure charges — a
//! round trip per connect, per TLS handshake and per request, model time per completion, the
//! `az` time — and `--stats FILE` records every connection, request and az call. Only lower
//! bounds on time are asserted (a busy machine adds time, never removes it); counts are exact.
//! Runs `aoai-doctor lab serve` (loopback only); run through ../shared/sandbox.

mod lab_harness;

use std::time::{Duration, Instant};

use lab_harness::{BIN, LabProc, chat_body, json};
use serde_json::Value;

const COGNITIVE: &str = "https://cognitiveservices.azure.com";

fn events(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn of<'a>(ev: &'a [Value], kind: &str, svc: &str) -> Vec<&'a Value> {
    ev.iter().filter(|e| e["ev"] == kind && e["svc"] == svc).collect()
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[tokio::test]
async fn a_new_connection_costs_connect_and_tls_a_reused_one_only_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.jsonl");
    let lab = LabProc::start(
        "healthy-cli",
        &["--latency", "arm=100ms", "--stats", stats.to_str().unwrap()],
    );
    let token = lab.az_token("https://management.azure.com");
    let c = lab.client();
    let url = format!("{}/subscriptions?api-version=2022-12-01", lab.arm());
    let t = Instant::now();
    let first = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    first.bytes().await.unwrap();
    let cold = t.elapsed();
    let t = Instant::now();
    let second = c.get(&url).bearer_auth(&token).send().await.unwrap();
    second.bytes().await.unwrap();
    let warm = t.elapsed();
    // connect + TLS handshake + request, then the request alone on the kept-alive connection.
    assert!(ms(cold) >= 300, "first request {cold:?}");
    assert!(ms(warm) >= 100, "second request {warm:?}");

    let ev = events(&stats);
    let conns = of(&ev, "connection", "arm");
    let reqs = of(&ev, "request", "arm");
    assert_eq!(conns.len(), 1, "{ev:?}");
    assert_eq!(reqs.len(), 2, "{ev:?}");
    let ready_after = conns[0]["ready"].as_f64().unwrap() - conns[0]["start"].as_f64().unwrap();
    assert!(ready_after >= 199.0, "connection ready after {ready_after} ms");
    assert!(reqs.iter().all(|r| r["conn"] == conns[0]["conn"]));
    assert!(reqs.iter().all(|r| r["path"] == "/subscriptions" && r["status"] == 200));
    // Entra was reached by the az stand-in (no latency there), counted all the same.
    assert!(!of(&ev, "request", "entra").is_empty());
}

#[tokio::test]
async fn a_completion_waits_for_the_model_a_refusal_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.jsonl");
    let lab = LabProc::start(
        "healthy-cli",
        &[
            "--latency",
            "dataplane=20ms",
            "--model-time",
            "400ms",
            "--stats",
            stats.to_str().unwrap(),
        ],
    );
    let token = lab.az_token(COGNITIVE);
    let url = format!(
        "{}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
        lab.endpoint()
    );
    let c = lab.client();
    let t = Instant::now();
    let (status, _, body, _) = json(
        c.post(&url)
            .bearer_auth(&token)
            .json(&chat_body())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(ms(t.elapsed()) >= 460, "{:?}", t.elapsed());
    let (status, _, _, _) = json(c.post(&url).json(&chat_body()).send().await.unwrap()).await;
    assert_eq!(status, 401);

    let ev = events(&stats);
    let reqs = of(&ev, "request", "dataplane");
    assert_eq!(reqs.len(), 2, "{ev:?}");
    let took = |r: &Value| r["end"].as_f64().unwrap() - r["start"].as_f64().unwrap();
    assert!(took(reqs[0]) >= 419.0, "{}", reqs[0]);
    // The refusal is answered after the round trip, without the model's time.
    assert!(took(reqs[1]) >= 19.0 && took(reqs[1]) < 400.0, "{}", reqs[1]);
    assert_eq!(of(&ev, "connection", "dataplane").len(), 1);
}

#[tokio::test]
async fn az_takes_its_time_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.jsonl");
    let scenario = dir.path().join("slow-az.toml");
    // The same model from a scenario file's [latency] table.
    std::fs::write(
        &scenario,
        "description = 'slow az'\nexpected_verdict = 'pass'\n[latency]\naz = '600ms'\nmi = '5ms'\n",
    )
    .unwrap();
    let lab = LabProc::start(scenario.to_str().unwrap(), &["--stats", stats.to_str().unwrap()]);
    let t = Instant::now();
    lab.az_token(COGNITIVE);
    assert!(ms(t.elapsed()) >= 600, "{:?}", t.elapsed());
    let t = Instant::now();
    assert_eq!(lab.az(&["version"]).status.code(), Some(0));
    assert!(ms(t.elapsed()) >= 600, "every invocation: {:?}", t.elapsed());

    let ev = events(&stats);
    let az = of(&ev, "az", "az");
    assert_eq!(az.len(), 2, "{ev:?}");
    assert_eq!(az[0]["args"], "account get-access-token");
    assert_eq!(az[0]["exit"], 0);
    assert!(az[0]["end"].as_f64().unwrap() - az[0]["start"].as_f64().unwrap() >= 599.0);
    let text = std::fs::read_to_string(&stats).unwrap();
    assert!(!text.contains("eyJ"), "no token in the stats file");
}

#[test]
fn bad_latency_specs_are_refused_with_a_reason() {
    for (args, want) in [
        (vec!["--latency", "graph=10ms"], "unknown service 'graph'"),
        (vec!["--latency", "arm=soon"], "arm=soon"),
        (vec!["--subscriptions", "0"], "--subscriptions 0"),
    ] {
        let out = std::process::Command::new(BIN)
            .args(["lab", "serve", "--ttl", "5s"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bad.toml");
    std::fs::write(
        &scenario,
        "description = 'x'\nexpected_verdict = 'pass'\n[latency]\narm = 'slow'\n",
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["lab", "serve", "--ttl", "5s", "--scenario"])
        .arg(&scenario)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("slow"));
}
