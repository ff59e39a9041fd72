//! An endpoint that carries a secret (URL credentials, a key in the query string) is refused
//! before any network call, with exit 2 and a message that does not repeat the secret —
//! whether it comes from the flag, the environment or the config file.

mod common;
use common::*;
use std::net::TcpListener;

const SECRET: &str = "hunter2-s3cr3t";

/// A loopback listener that counts the connections the doctor would make to it.
fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let addr = l.local_addr().unwrap().to_string();
    (l, addr)
}

fn nobody_connected(l: &TcpListener) -> bool {
    matches!(l.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

fn assert_refused(r: &Run, what: &str) {
    assert_eq!(r.code, 2, "{what}: stdout {} stderr {}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty(), "{what}: no report: {}", r.stdout);
    assert!(
        !r.stderr.contains(SECRET),
        "{what}: the secret is repeated: {}",
        r.stderr
    );
    assert!(r.stderr.contains("refusing"), "{what}: {}", r.stderr);
}

#[test]
fn credentials_in_the_endpoint_are_refused_from_flag_environment_and_config() {
    let (l, addr) = listener();
    let endpoint = format!("http://user:{SECRET}@{addr}/");
    let home = tempfile::tempdir().unwrap();

    let mut flag = doctor(home.path());
    flag.args(["--endpoint", &endpoint, "--format", "json"]);
    assert_refused(&run(flag), "flag");

    let mut env = doctor(home.path());
    env.env("AZURE_OPENAI_ENDPOINT", &endpoint).args(["--format", "json"]);
    assert_refused(&run(env), "environment");

    let config = home.path().join("aoai-doctor.toml");
    std::fs::write(&config, format!("endpoint = \"{endpoint}\"\n")).unwrap();
    let mut file = doctor(home.path());
    file.arg("--config").arg(&config).args(["--format", "json"]);
    assert_refused(&run(file), "config file");

    assert!(nobody_connected(&l), "a connection was made before the refusal");
}

#[test]
fn a_secret_in_the_query_string_is_refused_by_name() {
    let (l, addr) = listener();
    let home = tempfile::tempdir().unwrap();
    for param in ["api-key", "sig", "code"] {
        let endpoint = format!("http://{addr}/?{param}={SECRET}");
        let mut c = doctor(home.path());
        c.args(["--endpoint", &endpoint, "--format", "junit"]);
        let r = run(c);
        assert_refused(&r, param);
        assert!(r.stderr.contains(&format!("`{param}=…`")), "{param}: {}", r.stderr);
    }
    // The ARM endpoint gets a bearer token: the same rule.
    let mut c = doctor(home.path());
    c.env("AOAI_DOCTOR_ARM_ENDPOINT", format!("http://u:{SECRET}@{addr}/"))
        .args(["--endpoint", &format!("http://{addr}/"), "--format", "markdown"]);
    assert_refused(&run(c), "arm endpoint");
    assert!(nobody_connected(&l), "a connection was made before the refusal");
}

#[test]
fn an_ordinary_endpoint_with_an_api_version_is_still_accepted() {
    let home = tempfile::tempdir().unwrap();
    let mut c = doctor(home.path());
    c.args([
        "--endpoint",
        &format!("https://{CLOSED}/?api-version=2024-10-21"),
        "--only",
        "environment",
        "--format",
        "json",
    ]);
    let r = run(c);
    assert_ne!(r.code, 2, "{}", r.stderr);
    json(&r);
}
