//! Which data-plane route a request is, on which surface, and what it needs: the token
//! audiences the surface accepts and the data action RBAC checks.
//!
//! Surfaces (fixtures/roles/README.md and issue 14 summarise the sources):
//! - resource-level paths on `*.openai.azure.com` / `*.cognitiveservices.azure.com` /
//!   `*.services.ai.azure.com`: classic `/openai/deployments/{d}/…?api-version=` and the v1
//!   `/openai/v1/…` routes (no api-version; `model` = the deployment). They accept tokens for
//!   `https://cognitiveservices.azure.com` and `https://ai.azure.com` (Learn troubleshoot-errors
//!   and api-version-lifecycle docs, 2026; a 200 observed with both on `/openai/v1/responses`).
//! - Foundry project routes `/api/projects/{p}/openai/v1/…` (AIServices accounts only): only
//!   `https://ai.azure.com` ("All endpoints require OAuth2Auth (scopes:
//!   https://ai.azure.com/.default)", Foundry REST reference; microsoft/agent-framework#7201).
//! - the model-inference route `/models/chat/completions` (non-OpenAI models, "MaaS").
//!
//! Data actions: classic chat → `OpenAI/deployments/chat/completions/action` (live 401s);
//! v1 Responses → `OpenAI/responses/write` (live 401s); v1 chat → assumed the classic chat
//! action (no live string found); `/models` chat with a non-OpenAI model →
//! `MaaS/chat/completions/action` (live 401); project `…/openai/*` → observed
//! `AIServices/agents/write` (microsoft-foundry/foundry-samples#692), documented
//! `AIServices/responses/*` (hosted-agent-permissions.md): the lab grants on either.

use serde_json::Value;

pub const CHAT: &str = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action";
pub const COMPLETIONS: &str = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/completions/action";
pub const EMBEDDINGS: &str = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action";
pub const RESPONSES: &str = "Microsoft.CognitiveServices/accounts/OpenAI/responses/write";
pub const MODELS_READ: &str = "Microsoft.CognitiveServices/accounts/OpenAI/models/read";
pub const MAAS_CHAT: &str = "Microsoft.CognitiveServices/accounts/MaaS/chat/completions/action";
pub const MAAS_EMBEDDINGS: &str = "Microsoft.CognitiveServices/accounts/MaaS/embeddings/action";
pub const AGENTS_WRITE: &str = "Microsoft.CognitiveServices/accounts/AIServices/agents/write";
pub const AGENTS_READ: &str = "Microsoft.CognitiveServices/accounts/AIServices/agents/read";
pub const AI_RESPONSES_WRITE: &str = "Microsoft.CognitiveServices/accounts/AIServices/responses/write";
pub const AI_RESPONSES_READ: &str = "Microsoft.CognitiveServices/accounts/AIServices/responses/read";

/// Audiences of tokens for `https://cognitiveservices.azure.com` (as requested, or the app id).
const COGNITIVE_SERVICES: &[&str] = &[
    "https://cognitiveservices.azure.com",
    "https://cognitiveservices.azure.com/",
    "7d312290-28c8-473c-a0ed-8e53749b6d6d",
];
/// Audiences of tokens for `https://ai.azure.com` (the app id is Azure Machine Learning
/// Services', which owns the `https://ai.azure.com` identifier URI).
const AI_AZURE: &[&str] = &[
    "https://ai.azure.com",
    "https://ai.azure.com/",
    "18a66f5f-dbdf-4c17-9dd7-1634712a9cbe",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Surface {
    /// `/openai/deployments/{d}/…?api-version=…` and `/openai/responses?api-version=…`.
    Classic,
    /// `/openai/v1/…` on the resource host.
    V1,
    /// `/api/projects/{name}/openai/v1/…`.
    Project(String),
    /// `/models/…` (Azure AI model inference).
    Models,
}

impl Surface {
    /// Routes under `/openai/v1` take no dated api-version.
    pub fn is_v1(&self) -> bool {
        matches!(self, Surface::V1 | Surface::Project(_))
    }

    pub fn accepts_audience(&self, aud: &str) -> bool {
        let any = |set: &[&str]| set.iter().any(|a| a.eq_ignore_ascii_case(aud));
        match self {
            Surface::Project(_) => any(AI_AZURE),
            _ => any(COGNITIVE_SERVICES) || any(AI_AZURE),
        }
    }

    /// The audience the 401 body names.
    pub fn audience_named(&self) -> &'static str {
        match self {
            Surface::Project(_) => "https://ai.azure.com",
            _ => "https://cognitiveservices.azure.com",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OpKind {
    Chat,
    Completions,
    Embeddings,
    Responses,
    Models,
    Deployments,
}

pub struct Op {
    pub kind: OpKind,
    /// From the path (classic routes) or the body's `model` (v1, project and /models routes).
    pub deployment: Option<String>,
    pub surface: Surface,
    /// The templated route PermissionDenied names.
    pub route: &'static str,
    /// The data action a denial names.
    pub data_action: &'static str,
    /// Another data action that grants the call as well (project routes: the documented one).
    pub also_granted_by: Option<&'static str>,
    pub operation: &'static str,
}

impl Op {
    pub fn v1(&self) -> bool {
        self.surface.is_v1()
    }

    /// A non-OpenAI model (the deployment's model format) is billed and authorized as a
    /// Models-as-a-Service call on resource-level routes: OpenAI User "grants only access to
    /// OpenAI models" (Foundry Models troubleshooting include).
    pub fn for_model_format(mut self, format: &str) -> Op {
        if format.eq_ignore_ascii_case("OpenAI") || matches!(self.surface, Surface::Project(_)) {
            return self;
        }
        match self.kind {
            OpKind::Chat => self.data_action = MAAS_CHAT,
            OpKind::Embeddings => self.data_action = MAAS_EMBEDDINGS,
            _ => {}
        }
        self
    }
}

fn op(
    kind: OpKind,
    deployment: Option<String>,
    surface: Surface,
    route: &'static str,
    data_action: &'static str,
    operation: &'static str,
) -> Op {
    Op {
        kind,
        deployment,
        surface,
        route,
        data_action,
        also_granted_by: None,
        operation,
    }
}

/// The route of a request, or `None` (404).
pub fn route(method: &str, path: &str, body: &Value) -> Option<Op> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let model = || body.get("model").and_then(Value::as_str).map(str::to_string);
    match segs.as_slice() {
        ["api", "projects", p, "openai", "v1", rest @ ..] => project_route(method, p, rest, model()),
        ["openai", "v1", rest @ ..] => v1_route(method, rest, model()),
        ["models", rest @ ..] => models_route(method, rest, model()),
        ["openai", rest @ ..] => classic_route(method, rest),
        _ => None,
    }
}

fn classic_route(method: &str, rest: &[&str]) -> Option<Op> {
    let s = Surface::Classic;
    let d = |d: &str| Some(d.to_string());
    Some(match (method, rest) {
        ("POST", ["deployments", dep, "chat", "completions"]) => op(
            OpKind::Chat,
            d(dep),
            s,
            "POST /openai/deployments/{deployment-id}/chat/completions",
            CHAT,
            "ChatCompletions_Create",
        ),
        ("POST", ["deployments", dep, "completions"]) => op(
            OpKind::Completions,
            d(dep),
            s,
            "POST /openai/deployments/{deployment-id}/completions",
            COMPLETIONS,
            "Completions_Create",
        ),
        ("POST", ["deployments", dep, "embeddings"]) => op(
            OpKind::Embeddings,
            d(dep),
            s,
            "POST /openai/deployments/{deployment-id}/embeddings",
            EMBEDDINGS,
            "Embeddings_Create",
        ),
        ("GET", ["models"]) => op(
            OpKind::Models,
            None,
            s,
            "GET /openai/models",
            MODELS_READ,
            "Models_List",
        ),
        ("GET", ["deployments"]) => op(
            OpKind::Deployments,
            None,
            s,
            "GET /openai/deployments",
            "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read",
            "Deployments_List",
        ),
        _ => return None,
    })
}

fn v1_route(method: &str, rest: &[&str], model: Option<String>) -> Option<Op> {
    let s = Surface::V1;
    Some(match (method, rest) {
        ("POST", ["chat", "completions"]) => op(
            OpKind::Chat,
            model,
            s,
            "POST /openai/v1/chat/completions",
            CHAT,
            "ChatCompletions_Create",
        ),
        ("POST", ["responses"]) => op(
            OpKind::Responses,
            model,
            s,
            "POST /openai/v1/responses",
            RESPONSES,
            "Responses_Create",
        ),
        ("POST", ["embeddings"]) => op(
            OpKind::Embeddings,
            model,
            s,
            "POST /openai/v1/embeddings",
            EMBEDDINGS,
            "Embeddings_Create",
        ),
        ("GET", ["models"]) => op(
            OpKind::Models,
            None,
            s,
            "GET /openai/v1/models",
            MODELS_READ,
            "Models_List",
        ),
        _ => return None,
    })
}

/// Everything under a project's `/openai/v1` is one operation to RBAC: `{METHOD}
/// /api/projects/{projectName}/openai/*` (the observed wording).
fn project_route(method: &str, project: &str, rest: &[&str], model: Option<String>) -> Option<Op> {
    let v1 = v1_route(method, rest, model)?;
    let post = method == "POST";
    Some(Op {
        surface: Surface::Project(project.to_string()),
        route: if post {
            "POST /api/projects/{projectName}/openai/*"
        } else {
            "GET /api/projects/{projectName}/openai/*"
        },
        data_action: if post { AGENTS_WRITE } else { AGENTS_READ },
        also_granted_by: Some(if post { AI_RESPONSES_WRITE } else { AI_RESPONSES_READ }),
        ..v1
    })
}

fn models_route(method: &str, rest: &[&str], model: Option<String>) -> Option<Op> {
    let s = Surface::Models;
    Some(match (method, rest) {
        ("POST", ["chat", "completions"]) => op(
            OpKind::Chat,
            model,
            s,
            "POST /models/chat/completions",
            CHAT,
            "ChatCompletions_Create",
        ),
        ("POST", ["embeddings"]) => op(
            OpKind::Embeddings,
            model,
            s,
            "POST /models/embeddings",
            EMBEDDINGS,
            "Embeddings_Create",
        ),
        _ => return None,
    })
}

/// The ARM scope RBAC evaluates a call at: the project for project routes, else the account.
pub fn rbac_scope(account_id: &str, surface: &Surface) -> String {
    match surface {
        Surface::Project(p) => format!("{account_id}/projects/{p}"),
        _ => account_id.to_string(),
    }
}

/// The `api-version` rule of a surface; `Err` is the 400/404 to answer.
pub enum ApiVersionCheck {
    Ok,
    /// Classic routes without an api-version answer 404 Resource not found.
    Missing,
    /// A dated version that the route does not take.
    NotSupported,
}

pub fn check_api_version(surface: &Surface, version: &str) -> ApiVersionCheck {
    match surface {
        Surface::Classic if version.is_empty() => ApiVersionCheck::Missing,
        Surface::Classic if !api_version_supported(version) => ApiVersionCheck::NotSupported,
        // v1 takes none, or the undated `v1`/`preview`/`latest` labels; a dated version
        // (what an AzureOpenAI client adds) is refused: "API version not supported" observed
        // on `/openai/v1` with a dated api-version (zendev-sh/goai#54, 2026-05).
        Surface::V1 | Surface::Project(_)
            if !version.is_empty()
                && !["v1", "preview", "latest"]
                    .iter()
                    .any(|v| v.eq_ignore_ascii_case(version)) =>
        {
            ApiVersionCheck::NotSupported
        }
        _ => ApiVersionCheck::Ok,
    }
}

/// `YYYY-MM-DD` or `YYYY-MM-DD-preview`, not older than the first Azure OpenAI GA version.
pub fn api_version_supported(v: &str) -> bool {
    let date = v.strip_suffix("-preview").unwrap_or(v);
    let b = date.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && date >= "2022-12-01"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_versions() {
        assert!(api_version_supported("2024-10-21"));
        assert!(api_version_supported("2025-04-01-preview"));
        assert!(!api_version_supported("2021-01-01"));
        assert!(!api_version_supported("latest"));
        assert!(matches!(check_api_version(&Surface::V1, ""), ApiVersionCheck::Ok));
        assert!(matches!(
            check_api_version(&Surface::V1, "preview"),
            ApiVersionCheck::Ok
        ));
        assert!(matches!(
            check_api_version(&Surface::V1, "2024-10-21"),
            ApiVersionCheck::NotSupported
        ));
        assert!(matches!(
            check_api_version(&Surface::Classic, ""),
            ApiVersionCheck::Missing
        ));
    }

    #[test]
    fn routes_and_actions() {
        let body = json!({"model": "gpt-4o-mini"});
        let r = route("POST", "/openai/v1/responses", &body).unwrap();
        assert_eq!(
            (r.kind, r.data_action, r.deployment.as_deref()),
            (OpKind::Responses, RESPONSES, Some("gpt-4o-mini"))
        );
        let r = route("POST", "/api/projects/p1/openai/v1/chat/completions", &body).unwrap();
        assert_eq!(r.surface, Surface::Project("p1".into()));
        assert_eq!(r.data_action, AGENTS_WRITE);
        assert_eq!(r.also_granted_by, Some(AI_RESPONSES_WRITE));
        let r = route("POST", "/models/chat/completions", &body)
            .unwrap()
            .for_model_format("DeepSeek");
        assert_eq!(r.data_action, MAAS_CHAT);
        let r = route("POST", "/openai/v1/chat/completions", &body)
            .unwrap()
            .for_model_format("OpenAI");
        assert_eq!(r.data_action, CHAT);
        assert!(route("POST", "/api/projects/p1/agents", &body).is_none());
        assert!(route("GET", "/openai/v1/chat/completions", &body).is_none());
    }

    #[test]
    fn audiences_per_surface() {
        for aud in ["https://cognitiveservices.azure.com", "https://ai.azure.com"] {
            assert!(Surface::V1.accepts_audience(aud));
            assert!(Surface::Classic.accepts_audience(aud));
        }
        let p = Surface::Project("p".into());
        assert!(p.accepts_audience("https://ai.azure.com"));
        assert!(!p.accepts_audience("https://cognitiveservices.azure.com"));
        assert!(!Surface::V1.accepts_audience("https://management.azure.com"));
    }
}
