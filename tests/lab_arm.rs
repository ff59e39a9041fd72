//! The lab's Azure Resource Manager: role assignments with `$filter` and paging, role
//! definitions, accounts, and its 401/403 bodies. Runs `aoai-doctor lab serve` (loopback
//! only); run in a loopback-only network namespace (scripts/test).

mod lab_harness;

use lab_harness::{LabProc, json, with_query};

const MGMT: &str = "https://management.azure.com";

/// The `oid` claim of a lab token: the principal the token was issued to.
fn oid_of(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("the payload is base64url");
    let claims: serde_json::Value = serde_json::from_slice(&bytes).expect("the payload is JSON");
    claims["oid"].as_str().expect("an oid claim").to_string()
}

fn account_id(lab: &LabProc) -> String {
    let out = lab.az(&["account", "show", "--query", "id", "-o", "tsv"]);
    let sub = String::from_utf8_lossy(&out.stdout).trim().to_string();
    format!("/subscriptions/{sub}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai")
}

#[tokio::test]
async fn role_assignments_through_a_group_with_paging() {
    let lab = LabProc::start("role-via-group", &[]);
    let token = lab.az_token(MGMT);
    let oid = oid_of(&token);
    let account = account_id(&lab);
    let list = |filter: String| {
        let url = format!(
            "{}{account}/providers/Microsoft.Authorization/roleAssignments",
            lab.arm()
        );
        lab.client()
            .get(with_query(
                &url,
                &[("api-version", "2022-04-01"), ("$filter", filter.as_str())],
            ))
            .bearer_auth(&token)
            .send()
    };
    // principalId eq does not expand groups; the direct Reader is on the resource group, above.
    let (status, _, body, _) = json(list(format!("atScope() and principalId eq '{oid}'")).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let roles: Vec<&str> = body["value"]
        .as_array()
        .expect("a value array")
        .iter()
        .map(|a| {
            a["properties"]["roleDefinitionId"]
                .as_str()
                .expect("a roleDefinitionId")
        })
        .collect();
    // Exactly the inherited Reader (acdd72a7…): the group's OpenAI User must not show up here.
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert!(roles[0].ends_with("/acdd72a7-3385-48ef-bd42-f606fba81ae7"), "{roles:?}");

    // assignedTo() sees the group's assignment; page_size = 1 makes ARM page with nextLink.
    let (status, _, mut page, _) = json(list(format!("atScope() and assignedTo('{oid}')")).await.unwrap()).await;
    assert_eq!(status, 200);
    let mut all = page["value"].as_array().unwrap().clone();
    while let Some(next) = page["nextLink"].as_str().map(str::to_string) {
        page = json(lab.client().get(next).bearer_auth(&token).send().await.unwrap())
            .await
            .2;
        all.extend(page["value"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|a| {
        a["properties"]["principalType"] == "Group"
            && a["properties"]["roleDefinitionId"]
                .as_str()
                .unwrap()
                .ends_with("5e0bd9bd-7b93-4f28-af87-19fc36ad61bd")
    }));
    assert!(all.iter().all(|a| a["properties"]["createdOn"].is_string()));

    // The role definition, by its tenant-level id.
    let url = format!(
        "{}/providers/Microsoft.Authorization/roleDefinitions/5e0bd9bd-7b93-4f28-af87-19fc36ad61bd?api-version=2022-04-01",
        lab.arm()
    );
    let (status, _, def, _) = json(lab.client().get(url).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(def["properties"]["roleName"], "Cognitive Services OpenAI User");
    assert!(
        def["properties"]["permissions"][0]["dataActions"]
            .as_array()
            .unwrap()
            .len()
            > 5
    );

    // The caller's own effective permissions on the account.
    let url = format!(
        "{}{account}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01",
        lab.arm()
    );
    let (status, _, perms, _) = json(lab.client().get(url).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(
        perms["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| !p["dataActions"].as_array().unwrap().is_empty())
    );

    // The account, with the properties a doctor matches on.
    let url = format!("{}{account}?api-version=2024-10-01", lab.arm());
    let (status, _, acct, _) = json(lab.client().get(url).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(acct["properties"]["endpoint"], lab.var("AZURE_OPENAI_ENDPOINT"));
    assert_eq!(acct["properties"]["disableLocalAuth"], true);
    assert_eq!(acct["properties"]["customSubDomainName"], "contoso-aoai");
    let url = format!("{}{account}/deployments?api-version=2024-10-01", lab.arm());
    let (status, _, deps, _) = json(lab.client().get(url).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(
        deps["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "gpt-4o-mini")
    );
}

#[tokio::test]
async fn arm_401s_and_403s() {
    let lab = LabProc::start("wrong-tenant", &[]);
    let token = lab.az_token(MGMT);
    // The account's subscription lives in the other tenant.
    let sub = "6a1f4e2b-9d3c-4b8a-8e7f-2c5d1a9b0e63";
    let url = format!(
        "{}/subscriptions/{sub}/providers/Microsoft.CognitiveServices/accounts?api-version=2024-10-01",
        lab.arm()
    );
    let (status, _, body, _) = json(lab.client().get(&url).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationTokenTenant"))
    );
    // A data-plane token is the wrong audience for ARM.
    let aoai = lab.az_token("https://cognitiveservices.azure.com");
    let (status, _, body, _) = json(lab.client().get(&url).bearer_auth(&aoai).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationTokenAudience"))
    );
    // No token: AuthenticationFailed naming the subscription's tenant.
    let r = lab.client().get(&url).send().await.unwrap();
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(www.contains("3f2b8a6e-5c1d-4e7f-9a0b-6d4c2e1f8a35"), "{www}");
    assert_eq!(r.status().as_u16(), 401);
    // No api-version.
    let (status, _, body, _) = json(
        lab.client()
            .get(format!("{}/subscriptions", lab.arm()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("MissingApiVersionParameter"))
    );

    let forbidden = LabProc::start("missing-role", &[]);
    let token = forbidden.az_token(MGMT);
    let account = account_id(&forbidden);
    let url = format!(
        "{}{account}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01",
        forbidden.arm()
    );
    let (status, _, body, _) = json(forbidden.client().get(url).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("AuthorizationFailed"))
    );
    let msg = body["error"]["message"].as_str().unwrap();
    let oid = oid_of(&token);
    let expected = format!(
        "The client 'alice@contoso.onmicrosoft.com' with object id '{oid}' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/read' over scope"
    );
    assert!(msg.starts_with(&expected), "{msg}");
}
