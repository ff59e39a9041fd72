//! Azure Resource Graph: the account behind an endpoint in one request, whatever the number
//! of subscriptions the identity can see (`POST /providers/Microsoft.ResourceGraph/resources`).
//! Its index can lag a new account by minutes, so zero rows are no proof of absence: the
//! caller falls back to listing accounts per subscription.

use super::arm::{Account, ArmClient, ArmError};
use serde::Deserialize;
use serde_json::{Value, json};

pub const API_VERSION: &str = "2022-10-01";
const PATH: &str = "/providers/Microsoft.ResourceGraph/resources";
/// Rows per page (the service's maximum).
const PAGE_ROWS: u32 = 1000;
/// A host matches a handful of accounts; more pages than this is not an answer about one
/// endpoint, and the loop needs a bound.
const MAX_PAGES: usize = 5;

/// One row: the account, with the subscription and tenant it lives in.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    #[serde(flatten)]
    pub account: Account,
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<Row>,
    #[serde(default, rename = "$skipToken")]
    skip_token: Option<String>,
}

/// Why Resource Graph was not asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAsked(pub String);

/// The query for the accounts whose endpoint (or one of whose endpoints) is on `host`; `None`
/// when the host holds a character that would need quoting in KQL (a real Azure host never
/// does). A `contains` match, not equality: an endpoint may carry a port (a proxy, the lab), and
/// the doctor compares the host and port of each row itself.
pub fn query_for_host(host: &str) -> Option<String> {
    let host = host.to_ascii_lowercase();
    let plain = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    plain.then(|| {
        format!(
            "resources | where type =~ 'microsoft.cognitiveservices/accounts' \
             | where properties.endpoint contains 'https://{host}' or tostring(properties.endpoints) contains '{host}' \
             | project id, name, type, location, kind, tenantId, subscriptionId, resourceGroup, properties"
        )
    })
}

/// The request body for `query`, from `skip_token` on.
pub fn body(query: &str, skip_token: Option<&str>) -> Value {
    let mut options = json!({ "resultFormat": "objectArray", "$top": PAGE_ROWS });
    if let Some(t) = skip_token {
        options["$skipToken"] = json!(t);
    }
    json!({ "query": query, "options": options })
}

/// Every row Resource Graph returns for the accounts on `host`, across the subscriptions the
/// token can read (no `subscriptions` in the body: all of them).
pub async fn accounts_on_host(arm: &ArmClient, host: &str) -> Result<Vec<Row>, QueryError> {
    let query = query_for_host(host)
        .ok_or_else(|| QueryError::NotAsked(NotAsked(format!("the host `{host}` is not a plain DNS name"))))?;
    let mut rows = Vec::new();
    let mut skip_token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page: Page = arm
            .post(PATH, API_VERSION, &body(&query, skip_token.as_deref()))
            .await
            .map_err(QueryError::Arm)?;
        rows.extend(page.data);
        skip_token = page.skip_token.filter(|t| !t.trim().is_empty());
        if skip_token.is_none() {
            return Ok(rows);
        }
    }
    Err(QueryError::TooManyPages(MAX_PAGES))
}

/// Why Resource Graph gave no answer to use.
#[derive(Debug)]
pub enum QueryError {
    NotAsked(NotAsked),
    Arm(ArmError),
    TooManyPages(usize),
}

impl QueryError {
    pub fn describe(&self) -> String {
        match self {
            QueryError::NotAsked(NotAsked(why)) => why.clone(),
            QueryError::Arm(e) => e.describe(),
            QueryError::TooManyPages(n) => format!("more than {n} pages of rows for one host"),
        }
    }
    /// ARM itself could not be reached: a per-subscription scan would not do better.
    pub fn unreachable(&self) -> bool {
        matches!(self, QueryError::Arm(e) if e.unreachable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_the_host_and_only_a_plain_host() {
        let q = query_for_host("Contoso.OpenAI.Azure.com").unwrap();
        assert!(
            q.contains("properties.endpoint contains 'https://contoso.openai.azure.com'"),
            "{q}"
        );
        assert!(
            q.contains("tostring(properties.endpoints) contains 'contoso.openai.azure.com'"),
            "{q}"
        );
        assert!(q.starts_with("resources | where type =~ 'microsoft.cognitiveservices/accounts'"));
        assert_eq!(query_for_host("evil' or 1==1"), None);
        assert_eq!(query_for_host(""), None);
    }

    #[test]
    fn the_body_pages_with_the_skip_token() {
        let first = body("Q", None);
        assert_eq!(first["options"]["resultFormat"], "objectArray");
        assert!(first["options"].get("$skipToken").is_none());
        assert!(first.get("subscriptions").is_none());
        assert_eq!(body("Q", Some("t2"))["options"]["$skipToken"], "t2");
    }

    #[test]
    fn a_row_carries_its_subscription_and_tenant() {
        let page: Page = serde_json::from_value(json!({
            "totalRecords": 1, "count": 1, "$skipToken": "next",
            "data": [{"id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a",
                      "name": "a", "type": "microsoft.cognitiveservices/accounts", "kind": "OpenAI",
                      "subscriptionId": "s1", "tenantId": "t1",
                      "properties": {"endpoint": "https://a.openai.azure.com/"}}]
        }))
        .unwrap();
        assert_eq!(page.skip_token.as_deref(), Some("next"));
        let row = &page.data[0];
        assert_eq!(
            (row.subscription_id.as_deref(), row.tenant_id.as_deref()),
            (Some("s1"), Some("t1"))
        );
        assert_eq!(
            row.account.endpoint_urls(),
            vec!["https://a.openai.azure.com/".to_string()]
        );
    }
}
