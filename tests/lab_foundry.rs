//! The lab emulates today's Azure OpenAI: the v1 routes (no api-version, `model` = the
//! deployment), tokens for `https://ai.azure.com` as well as cognitiveservices on resource
//! paths, Microsoft Foundry projects (ai.azure.com tokens only, AIServices data actions at
//! the project scope), the `/models` route for non-OpenAI models, and AIServices accounts with
//! projects in ARM. Runs `aoai-doctor lab serve` (loopback only); run through ../shared/sandbox.

mod lab_harness;

use base64::Engine as _;
use lab_harness::{LabProc, chat_body, json, post_form};
use serde_json::{Value, json as j};

const COGNITIVE: &str = "https://cognitiveservices.azure.com";
const AI: &str = "https://ai.azure.com";
const MGMT: &str = "https://management.azure.com";
const ALICE: &str = "0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70";

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

async fn post(lab: &LabProc, path: &str, token: &str, body: &Value) -> (u16, Value, String) {
    let r = lab
        .client()
        .post(format!("{}/{path}", lab.endpoint()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let (status, _, v, text) = json(r).await;
    (status, v, text)
}

fn v1_chat() -> Value {
    j!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ping"}], "max_completion_tokens": 16})
}

#[tokio::test]
async fn v1_chat_responses_embeddings_models_with_either_audience() {
    let lab = LabProc::start("healthy-v1", &[]);
    for resource in [COGNITIVE, AI] {
        let token = lab.az_token(resource);
        assert_eq!(claims(&token)["aud"], resource, "the lab's az mints for {resource}");
        let (status, body, _) = post(&lab, "openai/v1/chat/completions", &token, &v1_chat()).await;
        assert_eq!(status, 200, "{resource}: {body}");
        assert_eq!(body["object"], "chat.completion");
        let req = j!({"model": "gpt-4o-mini", "input": "ping", "store": false, "max_output_tokens": 16});
        let (status, body, _) = post(&lab, "openai/v1/responses", &token, &req).await;
        assert_eq!(status, 200, "{resource}: {body}");
        assert_eq!(body["object"], "response");
        assert_eq!(body["store"], false);
        assert_eq!(body["output"][0]["content"][0]["type"], "output_text");
        let req = j!({"model": "text-embedding-3-small", "input": "ping"});
        let (status, body, _) = post(&lab, "openai/v1/embeddings", &token, &req).await;
        assert_eq!(status, 200, "{resource}: {body}");
        let r = lab
            .client()
            .get(format!("{}/openai/v1/models", lab.endpoint()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let (status, _, body, _) = json(r).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["object"], "list");
    }
    // The classic route takes the ai.azure.com token too (documented; the lab accepts it).
    let token = lab.az_token(AI);
    let url = "openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21";
    let (status, body, _) = post(&lab, url, &token, &chat_body()).await;
    assert_eq!(status, 200, "{body}");
    // Not every audience: ARM's is still refused.
    let (status, _, text) = post(&lab, "openai/v1/chat/completions", &lab.az_token(MGMT), &v1_chat()).await;
    assert_eq!(status, 401, "{text}");
}

#[tokio::test]
async fn responses_validates_what_a_probe_sends() {
    let lab = LabProc::start("healthy-v1", &[]);
    let token = lab.az_token(AI);
    let req = j!({"model": "gpt-4o-mini", "input": "ping", "store": false, "max_output_tokens": 1});
    let (status, body, _) = post(&lab, "openai/v1/responses", &token, &req).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "max_output_tokens");
    let (status, body, _) = post(&lab, "openai/v1/responses", &token, &j!({"model": "gpt-4o-mini"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "input");
}

#[tokio::test]
async fn a_dated_api_version_on_v1_is_a_400() {
    let lab = LabProc::start("v1-dated-api-version", &[]);
    let token = lab.az_token(COGNITIVE);
    let path = "openai/v1/chat/completions?api-version=2024-10-21";
    let (status, body, _) = post(&lab, path, &token, &v1_chat()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "BadRequest");
    assert_eq!(body["error"]["message"], "API version not supported");
    // The undated labels are fine, and so is no api-version at all.
    for path in [
        "openai/v1/chat/completions?api-version=preview",
        "openai/v1/chat/completions",
    ] {
        let (status, body, _) = post(&lab, path, &token, &v1_chat()).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

const PROJECT_CHAT: &str = "api/projects/chat-proj/openai/v1/chat/completions";

#[tokio::test]
async fn project_with_foundry_user_answers_and_refuses_a_cognitiveservices_token() {
    let lab = LabProc::start("healthy-foundry-project", &[]);
    assert!(
        lab.var("AZURE_AI_PROJECT_ENDPOINT")
            .ends_with("/api/projects/chat-proj")
    );
    let (status, body, _) = post(&lab, PROJECT_CHAT, &lab.az_token(AI), &v1_chat()).await;
    assert_eq!(status, 200, "{body}");
    let req = j!({"model": "gpt-4o-mini", "input": "ping", "store": false, "max_output_tokens": 16});
    let (status, body, _) = post(
        &lab,
        "api/projects/chat-proj/openai/v1/responses",
        &lab.az_token(AI),
        &req,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let (status, body, text) = post(&lab, PROJECT_CHAT, &lab.az_token(COGNITIVE), &v1_chat()).await;
    assert_eq!(status, 401, "{text}");
    assert_eq!(body["statusCode"], 401);
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("(https://ai.azure.com)"), "{msg}");

    // The assignment is on the project: it does not count for the account's own paths.
    let (status, body, _) = post(&lab, "openai/v1/chat/completions", &lab.az_token(AI), &v1_chat()).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "PermissionDenied");
    // An unknown project is not found.
    let path = "api/projects/nope/openai/v1/chat/completions";
    let (status, _, text) = post(&lab, path, &lab.az_token(AI), &v1_chat()).await;
    assert_eq!(status, 404, "{text}");
}

#[tokio::test]
async fn project_with_only_openai_user_names_the_data_action() {
    let lab = LabProc::start("foundry-project-openai-user", &[]);
    let token = lab.az_token(AI);
    let (status, body, _) = post(&lab, PROJECT_CHAT, &token, &v1_chat()).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "PermissionDenied");
    assert_eq!(
        body["error"]["message"],
        format!(
            "The principal `{ALICE}` lacks the required data action `Microsoft.CognitiveServices/accounts/AIServices/agents/write` to perform `POST /api/projects/{{projectName}}/openai/*` operation."
        )
    );
    // The same role is enough on the account's own v1 path.
    let (status, body, _) = post(&lab, "openai/v1/chat/completions", &token, &v1_chat()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn foundry_account_owner_alone_has_no_data_actions() {
    let lab = LabProc::start("foundry-account-owner-only", &[]);
    let token = lab.az_token(AI);
    for path in [PROJECT_CHAT, "openai/v1/chat/completions"] {
        let (status, body, _) = post(&lab, path, &token, &v1_chat()).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert_eq!(body["error"]["code"], "PermissionDenied", "{path}");
    }
}

#[tokio::test]
async fn non_openai_model_needs_maas_not_openai_user() {
    let lab = LabProc::start("foundry-maas-openai-user", &[]);
    let token = lab.az_token(COGNITIVE);
    let req = j!({"model": "DeepSeek-R1", "messages": [{"role": "user", "content": "ping"}]});
    let (status, body, _) = post(&lab, "models/chat/completions", &token, &req).await;
    assert_eq!(status, 401, "{body}");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("`Microsoft.CognitiveServices/accounts/MaaS/chat/completions/action`")
            && msg.contains("`POST /models/chat/completions`"),
        "{msg}"
    );
    // The OpenAI model on the same account is fine with the same role.
    let (status, body, _) = post(&lab, "models/chat/completions", &token, &v1_chat()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn tokens_for_ai_azure_com_from_entra_and_managed_identity() {
    let sp = LabProc::start("healthy-service-principal", &[]);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", sp.var("AZURE_CLIENT_ID")),
        ("client_secret", sp.var("AZURE_CLIENT_SECRET")),
        ("scope", "https://ai.azure.com/.default"),
    ];
    let url = format!("{}/{}/oauth2/v2.0/token", sp.authority(), sp.var("AZURE_TENANT_ID"));
    let (status, _, body, _) = json(post_form(&sp.client(), &url, &form).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(claims(token)["aud"], AI);
    let (status, body, _) = post(&sp, "openai/v1/chat/completions", token, &v1_chat()).await;
    assert_eq!(status, 200, "{body}");

    let mi = LabProc::start("healthy-managed-identity", &[]);
    let url = format!("{}?api-version=2019-08-01&resource={AI}", mi.var("IDENTITY_ENDPOINT"));
    let r = mi
        .client()
        .get(&url)
        .header("X-IDENTITY-HEADER", mi.var("IDENTITY_HEADER"))
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = json(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["aud"], AI);
}

async fn arm_get(lab: &LabProc, path: &str) -> (u16, Value) {
    let r = lab
        .client()
        .get(format!("{}{path}?api-version=2025-06-01", lab.arm()))
        .bearer_auth(lab.az_token(MGMT))
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = json(r).await;
    (status, body)
}

#[tokio::test]
async fn arm_serves_an_aiservices_account_with_its_projects_and_model_formats() {
    let lab = LabProc::start("foundry-maas-openai-user", &[]);
    let out = lab.az(&["account", "show", "--query", "id", "-o", "tsv"]);
    let sub = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let account = format!(
        "/subscriptions/{sub}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-foundry"
    );
    let (status, body) = arm_get(&lab, &account).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "AIServices");
    let endpoints = &body["properties"]["endpoints"];
    assert_eq!(
        endpoints["AI Foundry API"],
        "https://contoso-foundry.services.ai.azure.com/"
    );
    assert_eq!(
        endpoints["OpenAI Language Model Instance API"],
        "https://contoso-foundry.openai.azure.com/"
    );
    assert_eq!(
        endpoints["Token Service API"],
        "https://contoso-foundry.cognitiveservices.azure.com/"
    );
    let (status, body) = arm_get(&lab, &format!("{account}/deployments/DeepSeek-R1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["properties"]["model"]["format"], "DeepSeek");
    let (_, body) = arm_get(&lab, &format!("{account}/deployments/gpt-4o-mini")).await;
    assert_eq!(body["properties"]["model"]["format"], "OpenAI");

    // Projects: a scenario with one, readable by a principal whose roles are on the project.
    let lab = LabProc::start("healthy-foundry-project", &[]);
    let (status, body) = arm_get(&lab, &format!("{account}/projects/chat-proj")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "Microsoft.CognitiveServices/accounts/projects");
    assert_eq!(body["name"], "contoso-foundry/chat-proj");
    assert_eq!(
        body["properties"]["endpoints"]["AI Foundry API"],
        "https://contoso-foundry.services.ai.azure.com/api/projects/chat-proj"
    );
    let (status, body) = arm_get(&lab, &format!("{account}/projects")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"].as_array().map(Vec::len), Some(1));
    let (status, body) = arm_get(&lab, &format!("{account}/projects/nope")).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "ResourceNotFound");
    // The project-scoped assignment is listed with its scope.
    let url = format!("{account}/providers/Microsoft.Authorization/roleAssignments");
    let r = lab
        .client()
        .get(format!(
            "{}{url}?api-version=2022-04-01&$filter=assignedTo('{ALICE}')",
            lab.arm()
        ))
        .bearer_auth(lab.az_token(MGMT))
        .send()
        .await
        .unwrap();
    let (status, _, body, _) = json(r).await;
    assert_eq!(status, 200, "{body}");
    let on_project = body["value"].as_array().unwrap().iter().any(|a| {
        a["properties"]["scope"]
            .as_str()
            .is_some_and(|s| s.ends_with("/projects/chat-proj"))
            && a["properties"]["roleDefinitionId"]
                .as_str()
                .is_some_and(|r| r.ends_with("53ca6127-db72-4b80-b1b0-d745d6d5456d"))
    });
    assert!(on_project, "{body}");
}
