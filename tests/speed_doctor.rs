//! Speed where Azure is far away, the doctor's side: discovery in one Resource Graph request,
//! the requests each check makes (JSON and `-v`), and the probe beside the role check. Runs
//! the real binary against `aoai-doctor lab serve` on loopback.

mod common;
use common::*;

fn report(scenario: &str, extra: &[&str]) -> (serde_json::Value, Run) {
    let lab = Lab::start(scenario, &[]);
    let mut c = lab.doctor();
    c.args(["--format", "json", "--wait-for-propagation", "0", "--timeout", "10s"])
        .args(extra);
    let r = run(c);
    (json(&r), r)
}

fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

fn requests(c: &serde_json::Value, service: &str) -> u64 {
    c["requests"][service].as_u64().unwrap_or(0)
}

#[test]
fn a_healthy_run_finds_the_account_through_resource_graph_and_counts_its_requests() {
    let (r, run) = report("healthy-managed-identity", &[]);
    assert_eq!(r["verdict"], "pass", "{}", run.stdout);
    let roles = check(&r, "role-assignment");
    assert!(
        !codes(&r).iter().any(|c| c.ends_with("role-discovery-scan")),
        "Resource Graph answered: no fallback scan"
    );
    // One Resource Graph query, then the assignments, deny assignments and effective
    // permissions read together: four. The assigned built-in role's live definition is not
    // read, since the effective permissions show it unchanged. A per-subscription scan would
    // add the subscription list and an account list per subscription.
    assert_eq!(requests(roles, "arm"), 4, "{roles}");
    assert_eq!(requests(check(&r, "data-plane-probe"), "dataplane"), 1);
    // The run's totals are the sum of the checks'.
    for service in ["entra", "mi", "arm", "dataplane"] {
        let sum: u64 = r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| requests(c, service))
            .sum();
        assert_eq!(r["requests"][service].as_u64().unwrap_or(0), sum, "{service}");
    }
    assert!(r["requests"]["mi"].as_u64().unwrap_or(0) >= 1);
}

#[test]
fn an_account_the_identity_cannot_list_is_searched_subscription_by_subscription_and_said_so() {
    let (r, _) = report("arm-read-forbidden", &[]);
    let f = finding_in(&r, "role-assignment", "role-discovery-scan");
    assert_eq!(f["severity"], "info");
    assert!(f["message"].as_str().unwrap().contains("subscription searched"), "{f}");
}

#[test]
fn resource_id_skips_discovery() {
    let lab = Lab::start("healthy-managed-identity", &[]);
    let json_run = |extra: &[&str]| {
        let mut c = lab.doctor();
        c.args(["--format", "json", "--wait-for-propagation", "0"]).args(extra);
        json(&run(c))
    };
    let found = json_run(&[]);
    let id = check(&found, "role-assignment")["evidence"]["account"]["id"]
        .as_str()
        .expect("the account's id in the role check's evidence")
        .to_string();
    let with_id = json_run(&["--resource-id", &id]);
    let roles = check(&with_id, "role-assignment");
    assert_eq!(roles["status"], "pass", "{roles}");
    // The subscription and the account are read instead of the query (5 = 2 + the same 3
    // reads as with discovery's 1 + 3): Resource Graph would make it 6.
    assert_eq!(requests(roles, "arm"), 5, "{roles}");
    assert_eq!(requests(check(&found, "role-assignment"), "arm"), 4);
}

#[test]
fn verbose_shows_each_checks_time_and_requests_in_order() {
    let lab = Lab::start("healthy-managed-identity", &[]);
    let mut c = lab.doctor();
    c.args(["--format", "json", "--wait-for-propagation", "0", "-v"]);
    let r = run(c);
    let lines: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("aoai-doctor: ")).collect();
    let role = lines
        .iter()
        .find(|l| l.starts_with("aoai-doctor: role-assignment: pass in "))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    assert!(role.contains("requests: arm "), "{role}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("aoai-doctor: environment: pass in ") && l.ends_with("no requests")),
        "{}",
        r.stderr
    );
    // The run's total comes last, after every check's line.
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("aoai-doctor: run: ") && last.contains("requests: "),
        "{last}"
    );
}

#[test]
fn the_probe_alone_still_brings_its_inputs_and_the_role_check_it_may_await() {
    let (r, run) = report("healthy-managed-identity", &["--only", "data-plane-probe"]);
    let ids: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(ids.contains(&"token") && ids.contains(&"role-assignment"), "{ids:?}");
    assert_eq!(check(&r, "data-plane-probe")["status"], "pass", "{}", run.stdout);
}
