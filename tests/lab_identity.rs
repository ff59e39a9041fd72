//! The lab's Entra ID, managed identity endpoints and `az` stand-in answer like the real
//! ones. Runs `aoai-doctor lab serve` (loopback only); run in a loopback-only network namespace (scripts/test).

mod lab_harness;

use lab_harness::{LabProc, json, post_form};

const COGNITIVE: &str = "https://cognitiveservices.azure.com";

async fn client_credentials(lab: &LabProc, tenant: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let url = format!("{}/{tenant}/oauth2/v2.0/token", lab.authority());
    let r = post_form(&lab.client(), &url, form).send().await.unwrap();
    let (status, _, body, _) = json(r).await;
    (status, body)
}

#[tokio::test]
async fn entra_client_secret_flow_and_its_errors() {
    let lab = LabProc::start("healthy-service-principal", &[]);
    let (tenant, client, secret) = (
        lab.var("AZURE_TENANT_ID"),
        lab.var("AZURE_CLIENT_ID"),
        lab.var("AZURE_CLIENT_SECRET"),
    );
    let scope = "https://cognitiveservices.azure.com/.default";
    let ok = [
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("client_secret", secret),
        ("scope", scope),
    ];
    let (status, body) = client_credentials(&lab, tenant, &ok).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 3000);

    let code = |b: &serde_json::Value| b["error_codes"][0].as_i64().unwrap();
    let bad = [
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("client_secret", "d2f4b6a8-0c1e-4a3b-8d5f-7e9a1c3b5d07"),
        ("scope", scope),
    ];
    let (status, body) = client_credentials(&lab, tenant, &bad).await;
    assert_eq!(
        (status, code(&body), body["error"].as_str().unwrap()),
        (401, 7000215, "invalid_client")
    );
    let desc = body["error_description"].as_str().unwrap();
    assert!(
        desc.starts_with("AADSTS7000215: Invalid client secret provided."),
        "{desc}"
    );
    for k in ["trace_id", "correlation_id", "timestamp", "error_uri"] {
        assert!(body[k].is_string(), "{k}");
    }

    let wrong_scope = [
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("client_secret", secret),
        ("scope", "https://contoso-aoai.openai.azure.com/.default"),
    ];
    let (status, body) = client_credentials(&lab, tenant, &wrong_scope).await;
    assert_eq!((status, code(&body)), (400, 500011));
    let no_scope = [
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("client_secret", secret),
    ];
    let (status, body) = client_credentials(&lab, tenant, &no_scope).await;
    assert_eq!(
        (status, code(&body), body["error"].as_str().unwrap()),
        (400, 70011, "invalid_scope")
    );
    let unknown_app = [
        ("grant_type", "client_credentials"),
        ("client_id", "11111111-2222-4333-8444-555555555555"),
        ("client_secret", secret),
        ("scope", scope),
    ];
    let (status, body) = client_credentials(&lab, tenant, &unknown_app).await;
    assert_eq!((status, code(&body)), (400, 700016));
    let (status, body) = client_credentials(&lab, "tenant_id", &ok).await;
    assert_eq!((status, code(&body)), (400, 90002));

    // MSAL with instance discovery disabled reads this document first.
    let r = lab
        .client()
        .get(format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            lab.authority()
        ))
        .send()
        .await
        .unwrap();
    let (status, _, doc, _) = json(r).await;
    assert_eq!(status, 200);
    assert_eq!(
        doc["token_endpoint"],
        format!("{}/{tenant}/oauth2/v2.0/token", lab.authority())
    );
    let keys = lab
        .client()
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let (_, _, jwks, _) = json(keys).await;
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
}

#[tokio::test]
async fn expired_secret_is_aadsts7000222() {
    let lab = LabProc::start("expired-secret", &[]);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", lab.var("AZURE_CLIENT_ID")),
        ("client_secret", lab.var("AZURE_CLIENT_SECRET")),
        ("scope", "https://cognitiveservices.azure.com/.default"),
    ];
    let (status, body) = client_credentials(&lab, lab.var("AZURE_TENANT_ID"), &form).await;
    assert_eq!((status, body["error_codes"][0].as_i64()), (401, Some(7000222)));
}

#[tokio::test]
async fn workload_identity_exchange_and_a_wrong_subject() {
    let good = LabProc::start("healthy-workload-identity", &[]);
    let assertion = std::fs::read_to_string(good.var("AZURE_FEDERATED_TOKEN_FILE")).unwrap();
    let form = |a: &str| {
        vec![
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_id".into(), good.var("AZURE_CLIENT_ID").into()),
            (
                "client_assertion_type".into(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            ("client_assertion".into(), a.to_string()),
            ("scope".into(), "https://cognitiveservices.azure.com/.default".into()),
        ]
    };
    let url = format!("{}/{}/oauth2/v2.0/token", good.authority(), good.var("AZURE_TENANT_ID"));
    let r = post_form(&good.client(), &url, &form(&assertion)).send().await.unwrap();
    let (status, _, body, _) = json(r).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let chat = good
        .client()
        .post(format!(
            "{}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
            good.endpoint()
        ))
        .bearer_auth(token)
        .json(&lab_harness::chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status().as_u16(), 200);

    let bad = LabProc::start("workload-identity-bad-subject", &[]);
    let assertion = std::fs::read_to_string(bad.var("AZURE_FEDERATED_TOKEN_FILE")).unwrap();
    let url = format!("{}/{}/oauth2/v2.0/token", bad.authority(), bad.var("AZURE_TENANT_ID"));
    let r = post_form(&bad.client(), &url, &form(&assertion)).send().await.unwrap();
    let (status, _, body, _) = json(r).await;
    assert_eq!((status, body["error_codes"][0].as_i64()), (400, Some(70021)));
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Assertion Subject: 'system:serviceaccount:default:default'")
    );
}

#[tokio::test]
async fn app_service_identity_endpoint() {
    let lab = LabProc::start("healthy-managed-identity", &[]);
    let url = format!(
        "{}?api-version=2019-08-01&resource={COGNITIVE}",
        lab.var("IDENTITY_ENDPOINT")
    );
    let r = lab
        .client()
        .get(&url)
        .header("X-IDENTITY-HEADER", lab.var("IDENTITY_HEADER"))
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = json(r).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["expires_on"].is_string(),
        "App Service sends expires_on as an epoch string"
    );
    assert!(body["access_token"].is_string());
    let r = lab.client().get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "no X-IDENTITY-HEADER");
}

#[tokio::test]
async fn imds_wants_metadata_and_a_known_identity() {
    let lab = LabProc::start("mi-unknown-client-id", &[]);
    let base = format!(
        "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={COGNITIVE}",
        lab.var("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    );
    let r = lab.client().get(&base).send().await.unwrap();
    let (status, h, _, text) = json(r).await;
    assert_eq!(
        (status, text.as_str()),
        (
            400,
            "{\"error\":\"invalid_request\",\"error_description\":\"Required metadata header not specified\"}"
        )
    );
    assert!(h["server"].to_str().unwrap().starts_with("IMDS/"));
    let r = lab
        .client()
        .get(format!("{base}&client_id={}", lab.var("AZURE_CLIENT_ID")))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    let (status, _, _, text) = json(r).await;
    assert_eq!(
        (status, text.as_str()),
        (
            400,
            "{\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}"
        )
    );
    // The attached identity works, and numbers are strings.
    let r = lab.client().get(&base).header("Metadata", "true").send().await.unwrap();
    let (status, _, body, _) = json(r).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["expires_in"].is_string() && body["expires_on"].is_string());

    let several = LabProc::start("mi-multiple-user-assigned", &[]);
    let base = format!(
        "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={COGNITIVE}",
        several.var("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    );
    let r = several
        .client()
        .get(&base)
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = json(r).await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("Multiple user assigned identities exist")
    );
}

#[tokio::test]
async fn imds_refuses_connections_off_azure() {
    let lab = LabProc::start("healthy-cli", &[]);
    let url = format!(
        "{}/metadata/identity/oauth2/token",
        lab.var("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    );
    let e = lab
        .client()
        .get(url)
        .header("Metadata", "true")
        .send()
        .await
        .unwrap_err();
    assert!(e.is_connect(), "{e}");
}

#[test]
fn az_shim_answers_like_the_azure_cli() {
    let lab = LabProc::start("healthy-cli", &[]);
    let out = lab.az(&[
        "account",
        "get-access-token",
        "--output",
        "json",
        "--resource",
        COGNITIVE,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "accessToken",
            "expiresOn",
            "expires_on",
            "subscription",
            "tenant",
            "tokenType"
        ]
    );
    assert!(v["expires_on"].is_i64());
    assert_eq!(
        v["expiresOn"].as_str().unwrap().len(),
        "2023-11-14 15:50:46.000000".len()
    );
    let out = lab.az(&["account", "get-access-token", "--query", "accessToken", "-o", "tsv"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).split('.').count(), 3);
    let show: serde_json::Value = serde_json::from_slice(&lab.az(&["account", "show"]).stdout).unwrap();
    assert_eq!(show["user"]["type"], "user");
    assert_eq!(show["isDefault"], true);
    let ver: serde_json::Value = serde_json::from_slice(&lab.az(&["version"]).stdout).unwrap();
    assert!(ver["azure-cli"].is_string());
    // An unknown resource is Entra's AADSTS500011 with the CLI's recommendation.
    let out = lab.az(&[
        "account",
        "get-access-token",
        "--scope",
        "https://contoso-aoai.openai.azure.com/.default",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.starts_with(
            "ERROR: AADSTS500011: The resource principal named https://contoso-aoai.openai.azure.com was not found"
        ),
        "{err}"
    );

    let logged_out = LabProc::start("not-logged-in", &[]);
    let out = logged_out.az(&["account", "get-access-token", "--resource", COGNITIVE]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR: Please run 'az login' to setup account.\n"
    );
    let out = logged_out.az(&["account", "list"]);
    assert_eq!(
        (out.status.code(), String::from_utf8_lossy(&out.stdout).trim()),
        (Some(0), "[]")
    );

    let expired = LabProc::start("refresh-token-expired", &[]);
    let out = expired.az(&["account", "get-access-token", "--resource", COGNITIVE]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("AADSTS700082: The refresh token has expired due to inactivity.")
    );

    let blocked = LabProc::start("conditional-access", &[]);
    let out = blocked.az(&["account", "get-access-token", "--resource", COGNITIVE]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("AADSTS53003: Access has been blocked by Conditional Access policies.")
    );

    let missing = LabProc::start("container-without-credentials", &[]);
    let shim_dir = missing.var("PATH").split(':').next().unwrap().to_string();
    assert!(
        !std::path::Path::new(&shim_dir).join("az").exists(),
        "no az on PATH in this scenario"
    );
}
