//! Discovery against a fake ARM on loopback: Resource Graph first, the per-subscription scan
//! when it refuses or finds nothing.

use super::*;
use crate::checks::role_assignment::{Gathered, ResourceState};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ENDPOINT: &str = "https://contoso-aoai.openai.azure.com/";

/// What the fake ARM answers for a method and path (query left out).
type Route = dyn Fn(&str, &str) -> (u16, String) + Send + Sync;

/// Serves `route` on loopback, one request per connection; returns the base URL and the
/// requests seen (`METHOD path`).
async fn fake_arm(route: Arc<Route>) -> (url::Url, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (route, log) = (route.clone(), log.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // The head, then as much body as content-length says.
                loop {
                    let Ok(n) = s.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&buf).to_string();
                let mut first = text.lines().next().unwrap_or_default().split(' ');
                let method = first.next().unwrap_or_default().to_string();
                let path = first
                    .next()
                    .unwrap_or_default()
                    .split('?')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                log.lock().unwrap().push(format!("{method} {path}"));
                let (status, body) = route(&method, &path);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (base, seen)
}

fn account_json(sub: &str) -> serde_json::Value {
    serde_json::json!({
        "id": format!("/subscriptions/{sub}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai"),
        "name": "contoso-aoai", "kind": "OpenAI", "location": "eastus",
        "properties": {"endpoint": ENDPOINT, "customSubDomainName": "contoso-aoai"}
    })
}

fn sub_id(i: usize) -> String {
    format!("00000000-0000-0000-0000-{i:012}")
}

/// `subs` subscriptions listed 100 to a page (with `nextLink`), the account in the last one;
/// Resource Graph answers `graph`.
fn many_subscriptions(subs: usize, graph: (u16, String), base: Arc<Mutex<Option<url::Url>>>) -> Arc<Route> {
    Arc::new(move |method: &str, path: &str| {
        let lower = path.to_ascii_lowercase();
        if method == "POST" && lower == "/providers/microsoft.resourcegraph/resources" {
            return graph.clone();
        }
        if let Some(page) = lower
            .strip_prefix("/subscriptions")
            .filter(|p| p.is_empty() || p.starts_with("/page"))
        {
            let n: usize = page.trim_start_matches("/page").parse().unwrap_or(0);
            let ids: Vec<_> = (n * 100..((n + 1) * 100).min(subs))
                .map(|i| serde_json::json!({"subscriptionId": sub_id(i), "tenantId": "t1"}))
                .collect();
            let mut body = serde_json::json!({ "value": ids });
            if (n + 1) * 100 < subs {
                let b = base.lock().unwrap().clone().unwrap();
                body["nextLink"] = serde_json::json!(format!("{b}subscriptions/page{}?api-version=2022-12-01", n + 1));
            }
            return (200, body.to_string());
        }
        if lower.ends_with("/providers/microsoft.cognitiveservices/accounts") {
            let last = sub_id(subs - 1);
            let value = if lower.contains(&last) {
                vec![account_json(&last)]
            } else {
                vec![]
            };
            return (200, serde_json::json!({ "value": value }).to_string());
        }
        (404, r#"{"error":{"code":"NotFound","message":"no route"}}"#.into())
    })
}

async fn discover(subs: usize, graph: (u16, String)) -> (Gathered, Vec<String>) {
    let slot = Arc::new(Mutex::new(None));
    let (base, seen) = fake_arm(many_subscriptions(subs, graph, slot.clone())).await;
    *slot.lock().unwrap() = Some(base.clone());
    let ctx = crate::checks::test_support::context_with(Default::default(), Some(ENDPOINT));
    let arm = ArmClient::with(
        reqwest::Client::builder().no_proxy().build().unwrap(),
        base,
        crate::secret::Secret::new("t"),
        std::time::Duration::from_secs(5),
    );
    let mut g = Gathered {
        token_tenant: Some("t1".into()),
        ..Default::default()
    };
    find_by_endpoint(&ctx, &Facts::default(), &arm, &mut g).await;
    let seen = seen.lock().unwrap().clone();
    (g, seen)
}

fn found_in(g: &Gathered) -> Option<String> {
    match &g.resource {
        ResourceState::Found { account, .. } => Some(account.id.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn resource_graph_finds_the_account_in_one_request() {
    let mut row = account_json(&sub_id(41));
    row["subscriptionId"] = serde_json::json!(sub_id(41));
    row["tenantId"] = serde_json::json!("t1");
    let rows = serde_json::json!({"totalRecords": 1, "count": 1, "data": [row]});
    let (g, seen) = discover(500, (200, rows.to_string())).await;
    assert_eq!(found_in(&g).unwrap(), account_json(&sub_id(41))["id"]);
    assert_eq!(seen, vec!["POST /providers/Microsoft.ResourceGraph/resources"]);
    assert_eq!(g.discovery, Some(Discovery::ResourceGraph));
    assert!(discovery_finding(&g).is_none(), "the fast way is not worth a finding");
}

#[tokio::test]
async fn a_refused_resource_graph_falls_back_to_every_subscription_without_a_cap() {
    let refused = r#"{"error":{"code":"AuthorizationFailed","message":"no"}}"#.to_string();
    let (g, seen) = discover(250, (403, refused)).await;
    // The account lives in the 250th subscription: past any cap of 200.
    assert_eq!(found_in(&g).unwrap(), account_json(&sub_id(249))["id"]);
    let pages = seen
        .iter()
        .filter(|s| s.starts_with("GET /subscriptions") && !s.contains("/providers/"))
        .count();
    let scans = seen.iter().filter(|s| s.contains("/accounts")).count();
    assert_eq!((pages, scans), (3, 250), "{seen:?}");
    let Some(Discovery::SubscriptionScan { subscriptions, why }) = &g.discovery else {
        panic!("{:?}", g.discovery)
    };
    assert_eq!(*subscriptions, 250);
    assert!(why.contains("403") || why.contains("AuthorizationFailed"), "{why}");
    let f = discovery_finding(&g).expect("an info finding");
    assert_eq!(f.code.id, "role-discovery-scan");
    assert!(f.message.contains("250 subscriptions searched"), "{}", f.message);
}

#[tokio::test]
async fn zero_rows_from_resource_graph_fall_back_too() {
    let none = serde_json::json!({"totalRecords": 0, "count": 0, "data": []}).to_string();
    let (g, _) = discover(3, (200, none)).await;
    assert_eq!(found_in(&g).unwrap(), account_json(&sub_id(2))["id"]);
    let Some(Discovery::SubscriptionScan { why, .. }) = &g.discovery else {
        panic!("{:?}", g.discovery)
    };
    assert!(why.contains("index can lag"), "{why}");
}

#[test]
fn a_bundled_built_in_decides_and_a_changed_live_definition_is_reported() {
    let guid = crate::diagnose::rbac::roles::OPENAI_USER;
    let bundled = crate::diagnose::rbac::builtin_role(guid).expect("bundled");
    let mut live = bundled.clone();
    live.source = "arm";
    // The same data actions: the live copy (ARM's name and source) is kept, nothing to say.
    let (role, drift) = decide(guid, Some(bundled.clone()), Some(live.clone()));
    assert_eq!((role.map(|r| r.source), drift), (Some("arm"), None));
    // ARM dropped one data action and added another: the bundled copy decides, both listed.
    live.permissions[0].data_actions = vec!["Microsoft.CognitiveServices/accounts/OpenAI/new/action".into()];
    let (role, drift) = decide(guid, Some(bundled.clone()), Some(live));
    assert_eq!(role.unwrap().source, bundled.source);
    let drift = drift.expect("a drift");
    assert_eq!(
        drift.only_live,
        vec!["microsoft.cognitiveservices/accounts/openai/new/action"]
    );
    assert!(!drift.only_bundled.is_empty());
    let g = Gathered {
        definition_drift: vec![drift],
        ..Default::default()
    };
    let f = drift_findings(&g);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].code.id, "role-definition-changed");
    assert!(f[0].message.contains("openai/new/action"), "{}", f[0].message);
    // Without a live answer the bundled copy stands alone; an unknown role is ARM's.
    assert_eq!(
        decide(guid, Some(bundled.clone()), None).0.unwrap().source,
        bundled.source
    );
    assert!(decide("00000000-0000-0000-0000-00000000beef", None, None).0.is_none());
}
