//! The lab's Azure OpenAI data plane answers with Azure's real statuses, bodies and headers.
//! Runs `aoai-doctor lab serve` (loopback only); run in a loopback-only network namespace (scripts/test).

mod lab_harness;

use lab_harness::{LabProc, chat_body, json};
use std::time::Duration;

const API: &str = "api-version=2024-10-21";

fn chat_url(lab: &LabProc, deployment: &str) -> String {
    format!(
        "{}/openai/deployments/{deployment}/chat/completions?{API}",
        lab.endpoint()
    )
}

#[tokio::test]
async fn healthy_token_gets_a_chat_completion_with_azure_headers() {
    let lab = LabProc::start("healthy-cli", &[]);
    let token = lab.az_token("https://cognitiveservices.azure.com");
    let r = lab
        .client()
        .post(chat_url(&lab, "gpt-4o-mini"))
        .bearer_auth(&token)
        .header("x-ms-client-request-id", "5b0e8c4e-0000-4000-8000-000000000001")
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    let (status, h, body, _) = json(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
    for k in ["apim-request-id", "x-request-id", "x-ms-region", "x-ms-deployment-name"] {
        assert!(h.contains_key(k), "missing header {k}");
    }
    assert_eq!(h["x-ms-client-request-id"], "5b0e8c4e-0000-4000-8000-000000000001");
    assert_eq!(h["x-ms-region"], "East US");

    // Other routes of the same deployment set.
    let models = lab
        .client()
        .get(format!("{}/openai/models?{API}", lab.endpoint()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = json(models).await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "list");
    let emb = lab
        .client()
        .post(format!(
            "{}/openai/deployments/text-embedding-3-small/embeddings?{API}",
            lab.endpoint()
        ))
        .bearer_auth(&token)
        .json(&serde_json::json!({"input": "hello", "dimensions": 8}))
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = json(emb).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 8);
    // A missing api-version is a 404, not a 400.
    let r = lab
        .client()
        .post(format!(
            "{}/openai/deployments/gpt-4o-mini/chat/completions",
            lab.endpoint()
        ))
        .bearer_auth(&token)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    let (status, _, _, text) = json(r).await;
    assert_eq!(
        (status, text.as_str()),
        (
            404,
            "{\"error\":{\"code\":\"404\",\"message\": \"Resource not found\"}}"
        )
    );
}

#[tokio::test]
async fn missing_role_is_401_permission_denied() {
    let lab = LabProc::start("missing-role", &[]);
    let token = lab.az_token("https://cognitiveservices.azure.com");
    let r = lab
        .client()
        .post(chat_url(&lab, "gpt-4o-mini"))
        .bearer_auth(&token)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = json(r).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "PermissionDenied");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("lacks the required data action `Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action`"), "{msg}");
}

#[tokio::test]
async fn wrong_audience_and_garbage_tokens_are_401() {
    let lab = LabProc::start("healthy-cli", &[]);
    let arm_token = lab.az_token("https://management.azure.com");
    let expected = "{ \"statusCode\": 401, \"message\": \"Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.\" }";
    for token in [arm_token.as_str(), "not-a-jwt", "8f3c2a1b9d4e4f6a8b7c5d3e1f2a4b6c"] {
        let r = lab
            .client()
            .post(chat_url(&lab, "gpt-4o-mini"))
            .bearer_auth(token)
            .json(&chat_body())
            .send()
            .await
            .unwrap();
        let (status, _, _, text) = json(r).await;
        assert_eq!((status, text.as_str()), (401, expected));
    }
    // No credentials at all.
    let r = lab
        .client()
        .post(chat_url(&lab, "gpt-4o-mini"))
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = json(r).await;
    assert_eq!(status, 401);
    assert!(body["message"].as_str().unwrap().contains("missing subscription key"));
}

#[tokio::test]
async fn api_key_with_local_auth_disabled_is_403() {
    let lab = LabProc::start("key-auth-only", &[]);
    let key = lab.var("AZURE_OPENAI_API_KEY").to_string();
    let r = lab
        .client()
        .post(chat_url(&lab, "gpt-4o-mini"))
        .header("api-key", key)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    let (status, _, _, text) = json(r).await;
    assert_eq!(status, 403);
    assert_eq!(
        text,
        "{\"error\":{\"code\":\"AuthenticationTypeDisabled\",\"message\": \"Key based authentication is disabled for this resource.\"}}"
    );
}

#[tokio::test]
async fn unknown_deployment_is_404_deployment_not_found() {
    let lab = LabProc::start("deployment-not-found", &[]);
    let token = lab.az_token("https://cognitiveservices.azure.com");
    let r = lab
        .client()
        .post(chat_url(&lab, lab.var("AZURE_OPENAI_DEPLOYMENT")))
        .bearer_auth(&token)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    let (status, _, body, text) = json(r).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "DeploymentNotFound");
    // 198 bytes, the Content-Length recorded in aoai-404-deployment-not-found-headers.
    assert_eq!(text.len(), 198);
}

#[tokio::test]
async fn firewall_is_403_with_policy_id() {
    let lab = LabProc::start("network-blocked", &[]);
    let r = lab
        .client()
        .post(chat_url(&lab, "gpt-4o-mini"))
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    let (status, h, body, _) = json(r).await;
    assert_eq!(status, 403);
    assert_eq!(h["policy-id"], "ThrowExceptionDueToTrafficDenied");
    assert_eq!(
        body["error"]["message"],
        "Access denied due to Virtual Network/Firewall rules."
    );
}

#[tokio::test]
async fn a_new_role_is_401_until_it_propagates() {
    let lab = LabProc::start("propagating-role", &["--propagation-delay", "2s"]);
    let token = lab.az_token("https://cognitiveservices.azure.com");
    let call = || {
        lab.client()
            .post(chat_url(&lab, "gpt-4o-mini"))
            .bearer_auth(&token)
            .json(&chat_body())
            .send()
    };
    let (status, _, body, _) = json(call().await.unwrap()).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "PermissionDenied");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, _, body, _) = json(call().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn token_from_another_tenant_is_400() {
    let lab = LabProc::start("wrong-tenant", &[]);
    let token = lab.az_token("https://cognitiveservices.azure.com");
    let r = lab
        .client()
        .post(chat_url(&lab, "gpt-4o-mini"))
        .bearer_auth(&token)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = json(r).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["code"],
        "Tenant provided in token does not match resource token"
    );
    // With --tenant the guest gets a token for the resource's tenant, and it works.
    let out = lab.az(&[
        "account",
        "get-access-token",
        "--resource",
        "https://cognitiveservices.azure.com",
        "--tenant",
        "contoso.onmicrosoft.com",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("subscription").is_none(), "--tenant drops the subscription field");
    let r = lab
        .client()
        .post(chat_url(&lab, "gpt-4o-mini"))
        .bearer_auth(v["accessToken"].as_str().unwrap())
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn reasoning_models_reject_max_tokens() {
    let lab = LabProc::start("reasoning-model", &[]);
    let token = lab.az_token("https://cognitiveservices.azure.com");
    let body = serde_json::json!({"messages": [{"role": "user", "content": "ping"}], "max_tokens": 5});
    let r = lab
        .client()
        .post(chat_url(&lab, "o3-mini"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = json(r).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "unsupported_parameter");
    assert_eq!(body["error"]["param"], "max_tokens");
    let r = lab
        .client()
        .post(chat_url(&lab, "o3-mini"))
        .bearer_auth(&token)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn rate_limit_is_429_with_retry_after() {
    let lab = LabProc::start("rate-limited", &[]);
    let token = lab.az_token("https://cognitiveservices.azure.com");
    let r = lab
        .client()
        .post(chat_url(&lab, "gpt-4o-mini"))
        .bearer_auth(&token)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    let (status, h, body, _) = json(r).await;
    assert_eq!(status, 429);
    assert_eq!(h["retry-after"], "60");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeded token rate limit")
    );
}
