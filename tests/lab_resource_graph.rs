//! The lab's Azure Resource Graph runs the query it is sent: the type and host filters of
//! the KQL subset (lab/src/kql.rs), only over what the caller can read, paged with
//! `$skipToken`; and `--subscriptions N` adds empty subscriptions, the account's listed
//! last. Runs `aoai-doctor lab serve` (loopback only); run through ../shared/sandbox.

mod lab_harness;

use lab_harness::{LabProc, json};
use serde_json::{Value, json};

const MGMT: &str = "https://management.azure.com";
const ACCOUNTS: &str = "/providers/Microsoft.CognitiveServices/accounts/";

/// healthy-cli where alice is also Reader of the subscription: she reads both of its
/// accounts (contoso-aoai, the lab's, and contoso-aoai-eus2), and a Fabrikam one she cannot.
const READER_SCENARIO: &str = r#"
description = "alice reads every account of the dev subscription"
expected_verdict = "pass"

[other_accounts.fabrikam-aoai]
subscription = "fabrikam-sandbox"
resource_group = "rg-fab"
location = "westus"

[[role_assignments]]
principal = "alice"
role = "Cognitive Services OpenAI User"
scope = "account"

[[role_assignments]]
principal = "alice"
role = "Reader"
scope = "subscription"
"#;

fn start_reader(extra: &[&str]) -> (LabProc, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reader.toml");
    std::fs::write(&path, READER_SCENARIO).unwrap();
    (LabProc::start(path.to_str().unwrap(), extra), dir)
}

/// The host query the doctor sends: the type, then the endpoint's host against
/// `properties.endpoint` and `properties.endpoints`.
fn host_query(host: &str) -> String {
    format!(
        "resources | where type =~ 'microsoft.cognitiveservices/accounts' | where properties.endpoint =~ 'https://{host}/' or tostring(properties.endpoints) contains '//{host}/'"
    )
}

async fn graph(lab: &LabProc, token: &str, body: Value) -> (u16, Value) {
    let url = format!(
        "{}/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01",
        lab.arm()
    );
    let r = lab
        .client()
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, _, v, _) = json(r).await;
    (status, v)
}

fn names(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data array: {v}"))
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

fn lab_host(lab: &LabProc) -> String {
    lab.endpoint().trim_start_matches("https://").to_string()
}

#[tokio::test]
async fn the_host_filter_finds_exactly_the_account_behind_an_endpoint() {
    let (lab, _dir) = start_reader(&[]);
    let token = lab.az_token(MGMT);

    let (status, v) = graph(&lab, &token, json!({"query": host_query(&lab_host(&lab))})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(names(&v), ["contoso-aoai"], "{v}");
    assert_eq!(v["totalRecords"], 1);
    assert_eq!(v["count"], 1);
    assert_eq!(v["resultTruncated"], "false");
    assert!(v.get("$skipToken").is_none(), "{v}");
    let row = &v["data"][0];
    assert_eq!(row["type"], "microsoft.cognitiveservices/accounts");
    assert_eq!(row["location"], "eastus");
    assert_eq!(row["resourceGroup"], "rg-ai");
    assert_eq!(row["subscriptionId"], "6a1f4e2b-9d3c-4b8a-8e7f-2c5d1a9b0e63");
    assert!(
        row["id"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{ACCOUNTS}contoso-aoai"))
    );
    assert_eq!(row["properties"]["endpoint"], format!("{}/", lab.endpoint()));

    // The other account of the subscription, by its host in `properties.endpoints` only.
    let q = "resources | where type =~ 'microsoft.cognitiveservices/accounts' | where tostring(properties.endpoints) contains 'CONTOSO-AOAI-EUS2.openai.azure.com'";
    let (_, v) = graph(&lab, &token, json!({"query": q})).await;
    assert_eq!(names(&v), ["contoso-aoai-eus2"], "{v}");

    // A host that matches nothing: zero rows, not every account.
    let (status, v) = graph(&lab, &token, json!({"query": host_query("nobody.openai.azure.com")})).await;
    assert_eq!(status, 200);
    assert_eq!(v["totalRecords"], 0);
    assert_eq!(v["count"], 0);
    assert_eq!(v["data"], json!([]));

    // The type filter is applied too.
    let (_, v) = graph(
        &lab,
        &token,
        json!({"query": "resources | where type =~ 'microsoft.web/sites'"}),
    )
    .await;
    assert_eq!(v["totalRecords"], 0, "{v}");
}

#[tokio::test]
async fn only_what_the_caller_can_read_in_the_subscriptions_it_names() {
    let (lab, _dir) = start_reader(&[]);
    let token = lab.az_token(MGMT);
    let all = json!({"query": "resources | where type =~ 'microsoft.cognitiveservices/accounts'"});
    let (_, v) = graph(&lab, &token, all.clone()).await;
    // fabrikam-aoai is in another tenant's subscription: not in this caller's scope.
    let mut got = names(&v);
    got.sort();
    assert_eq!(got, ["contoso-aoai", "contoso-aoai-eus2"], "{v}");

    let mut only_fabrikam = all.clone();
    only_fabrikam["subscriptions"] = json!(["b4e8d2a1-7c6f-4e3b-9a5d-0f1c8e2b7d46"]);
    assert_eq!(graph(&lab, &token, only_fabrikam).await.1["totalRecords"], 0);

    // healthy-cli: alice holds a role on the lab's account only.
    let narrow = LabProc::start("healthy-cli", &[]);
    let token = narrow.az_token(MGMT);
    let (_, v) = graph(&narrow, &token, all).await;
    assert_eq!(names(&v), ["contoso-aoai"], "{v}");
}

#[tokio::test]
async fn pages_with_top_skip_and_skip_token() {
    let (lab, _dir) = start_reader(&[]);
    let token = lab.az_token(MGMT);
    let q = "resources | where type =~ 'microsoft.cognitiveservices/accounts'";
    let (status, first) = graph(&lab, &token, json!({"query": q, "options": {"$top": 1}})).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["totalRecords"], 2);
    assert_eq!(first["count"], 1);
    let skip_token = first["$skipToken"].as_str().expect("a $skipToken while rows remain");
    let (_, second) = graph(
        &lab,
        &token,
        json!({"query": q, "options": {"$top": 1, "$skipToken": skip_token}}),
    )
    .await;
    assert_eq!(second["count"], 1);
    assert!(second.get("$skipToken").is_none(), "{second}");
    let mut both = [names(&first), names(&second)].concat();
    both.sort();
    assert_eq!(both, ["contoso-aoai", "contoso-aoai-eus2"]);

    let (_, skipped) = graph(&lab, &token, json!({"query": q, "options": {"$skip": 1}})).await;
    assert_eq!(names(&skipped), names(&second));
    let (_, taken) = graph(&lab, &token, json!({"query": format!("{q} | take 1")})).await;
    assert_eq!(taken["totalRecords"], 1);

    let (status, v) = graph(&lab, &token, json!({"query": q, "options": {"$top": 1001}})).await;
    assert_eq!(status, 400, "{v}");
}

#[tokio::test]
async fn a_query_outside_the_subset_is_refused_not_ignored() {
    let lab = LabProc::start("healthy-cli", &[]);
    let token = lab.az_token(MGMT);
    let (status, v) = graph(&lab, &token, json!({"query": "resources | summarize count() by type"})).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["code"], "BadRequest");
    assert_eq!(v["error"]["details"][0]["code"], "InvalidQuery");
    let (status, _) = graph(&lab, &token, json!({"subscriptions": []})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn many_subscriptions_the_account_s_last_and_one_graph_request_finds_it() {
    let lab = LabProc::start("healthy-cli", &["--subscriptions", "500"]);
    let token = lab.az_token(MGMT);
    let c = lab.client();
    let get = |path: String| {
        c.get(format!("{}{path}?api-version=2022-12-01", lab.arm()))
            .bearer_auth(&token)
            .send()
    };
    let (status, _, subs, _) = json(get("/subscriptions".into()).await.unwrap()).await;
    assert_eq!(status, 200);
    let subs = subs["value"].as_array().unwrap();
    assert_eq!(subs.len(), 500);
    let ids: std::collections::BTreeSet<&str> = subs.iter().map(|s| s["subscriptionId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 500, "ids are distinct");
    assert_eq!(subs[499]["subscriptionId"], "6a1f4e2b-9d3c-4b8a-8e7f-2c5d1a9b0e63");

    // An extra subscription is readable and empty.
    let extra = subs[0]["subscriptionId"].as_str().unwrap();
    let (status, _, v, _) = json(
        get(format!("/subscriptions/{extra}{ACCOUNTS}")
            .trim_end_matches('/')
            .to_string())
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["value"], json!([]));
    let (status, _, _, _) = json(get(format!("/subscriptions/{extra}")).await.unwrap()).await;
    assert_eq!(status, 200);

    let (_, v) = graph(&lab, &token, json!({"query": host_query(&lab_host(&lab))})).await;
    assert_eq!(names(&v), ["contoso-aoai"], "{v}");
}
