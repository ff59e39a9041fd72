//! One call to the Azure OpenAI data plane with a bearer token: the smallest request of the
//! kind `--probe` asks for, a time limit on the whole exchange (connect, headers and body), a
//! bounded body read, and everything a judge needs captured — status, headers, body, the
//! request ids — or why there was no answer.

use super::http;
use crate::context::ProbeKind;
use crate::secret::Secret;
use crate::surface::Surface;
use std::time::Duration;
use url::Url;

/// At most this much of a body is kept; an error body is a few hundred bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// The request the probe makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRequest {
    pub method: &'static str,
    pub url: Url,
    /// JSON body (POST only).
    pub body: Option<String>,
}

impl ProbeRequest {
    /// `POST /openai/deployments/gpt-4o-mini/chat/completions?api-version=…` without the host.
    pub fn describe(&self) -> String {
        let query = self.url.query().map(|q| format!("?{q}")).unwrap_or_default();
        format!("{} {}{query}", self.method, self.url.path())
    }
}

/// The smallest `max_output_tokens` the Responses API takes (it refuses less than 16).
pub const MIN_OUTPUT_TOKENS: u32 = 16;

/// The smallest request of each kind on the endpoint's surface. `call_base` is
/// [`Surface::call_base`]: the root for the classic route, `…/openai/v1` for the v1 API and
/// projects, `…/models` for model inference. `api_version` empty = none is sent. `None` for
/// [`ProbeKind::None`], or when the kind needs a deployment and there is none, or the base is
/// not a URL we can extend.
pub fn request(
    call_base: &Url,
    surface: &Surface,
    kind: ProbeKind,
    deployment: Option<&str>,
    api_version: &str,
) -> Option<ProbeRequest> {
    let deployment = deployment.map(str::trim).filter(|d| !d.is_empty());
    let (method, url, body, versioned) = match surface {
        Surface::ResourceRoot if kind != ProbeKind::Responses => classic(call_base, kind, deployment)?,
        // The Responses API on a resource root: the v1 route Microsoft now leads with.
        Surface::ResourceRoot => {
            let v1 = join(call_base, &["openai", "v1"])?;
            let (m, u, b, _) = routed(&v1, kind, deployment)?;
            (m, u, b, false)
        }
        // The model-inference route lists nothing; its cheapest read is the model's info.
        Surface::ModelInference if kind == ProbeKind::Models => ("GET", join(call_base, &["info"])?, None, true),
        Surface::AgentApplication { .. } => {
            let body = r#"{"input":"ping","store":false}"#.to_string();
            ("POST", join(call_base, &["responses"])?, Some(body), true)
        }
        _ => routed(call_base, kind, deployment)?,
    };
    let mut url = url;
    if versioned && !api_version.trim().is_empty() {
        url.query_pairs_mut().append_pair("api-version", api_version.trim());
    }
    Some(ProbeRequest { method, url, body })
}

type Parts = (&'static str, Url, Option<String>, bool);

/// `/openai/deployments/{d}/…?api-version=` on the resource root: unchanged since 2023.
fn classic(base: &Url, kind: ProbeKind, deployment: Option<&str>) -> Option<Parts> {
    // Whatever path the base carries is replaced: the classic route hangs off the root.
    let root = &crate::surface::resource_root(base);
    Some(match kind {
        ProbeKind::None | ProbeKind::Responses => return None,
        ProbeKind::Chat => (
            "POST",
            join(root, &["openai", "deployments", deployment?, "chat", "completions"])?,
            Some(r#"{"messages":[{"role":"user","content":"ping"}],"max_tokens":1}"#.to_string()),
            true,
        ),
        ProbeKind::Embeddings => (
            "POST",
            join(root, &["openai", "deployments", deployment?, "embeddings"])?,
            Some(r#"{"input":"ping"}"#.to_string()),
            true,
        ),
        ProbeKind::Models => ("GET", join(root, &["openai", "models"])?, None, true),
    })
}

/// `{base}/chat/completions` and friends with `model` = the deployment (the v1 API, projects,
/// model inference). Versioned only where the surface takes an api-version at all.
fn routed(base: &Url, kind: ProbeKind, deployment: Option<&str>) -> Option<Parts> {
    let model = |d: &str| serde_json::Value::String(d.to_string()).to_string();
    Some(match kind {
        ProbeKind::None => return None,
        ProbeKind::Chat => (
            "POST",
            join(base, &["chat", "completions"])?,
            Some(format!(
                r#"{{"model":{},"messages":[{{"role":"user","content":"ping"}}],"max_tokens":1}}"#,
                model(deployment?)
            )),
            true,
        ),
        ProbeKind::Responses => (
            "POST",
            join(base, &["responses"])?,
            Some(format!(
                r#"{{"model":{},"input":"ping","max_output_tokens":{MIN_OUTPUT_TOKENS},"store":false}}"#,
                model(deployment?)
            )),
            true,
        ),
        ProbeKind::Embeddings => (
            "POST",
            join(base, &["embeddings"])?,
            Some(format!(r#"{{"model":{},"input":"ping"}}"#, model(deployment?))),
            true,
        ),
        ProbeKind::Models => ("GET", join(base, &["models"])?, None, true),
    })
}

/// `base` with `segments` appended to its path (no query, no fragment).
fn join(base: &Url, segments: &[&str]) -> Option<Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut().ok()?.pop_if_empty().extend(segments);
    Some(url)
}

/// The deployments list of the data plane (`GET /openai/deployments`, an older api-version
/// that still serves it), to name the deployments that do exist after a 404.
pub fn deployments_request(base: &Url) -> Option<ProbeRequest> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut().ok()?.clear().extend(["openai", "deployments"]);
    url.query_pairs_mut().append_pair("api-version", "2022-12-01");
    Some(ProbeRequest {
        method: "GET",
        url,
        body: None,
    })
}

/// A deployment the data plane listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub name: String,
    /// The model behind it, when the list says.
    pub model: Option<String>,
}

/// `{"data":[{"id":"gpt-4o-mini","model":"gpt-4o-mini"},…]}` → at most 50 deployments.
pub fn parse_deployments(body: &str) -> Option<Vec<Deployment>> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let list = v
        .get("data")?
        .as_array()?
        .iter()
        .filter_map(|d| {
            Some(Deployment {
                name: d.get("id")?.as_str()?.to_string(),
                model: d.get("model").and_then(|m| m.as_str()).map(str::to_string),
            })
        })
        .take(50)
        .collect();
    Some(list)
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// At most [`MAX_BODY`] bytes, lossily decoded.
    pub body: String,
    pub truncated: bool,
    pub elapsed: Duration,
}

impl ProbeResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The ids a support ticket needs (`apim-request-id`, `x-request-id`, `x-ms-client-request-id`).
    pub fn request_ids(&self) -> serde_json::Map<String, serde_json::Value> {
        [
            "apim-request-id",
            "x-request-id",
            "x-ms-client-request-id",
            "x-ms-request-id",
        ]
        .iter()
        .filter_map(|h| {
            self.header(h)
                .map(|v| (h.to_string(), serde_json::Value::String(v.to_string())))
        })
        .collect()
    }
    /// A body that is an HTML page (by content type or by its first bytes).
    pub fn is_html(&self) -> bool {
        crate::diagnose::html::is_html(self.header("content-type"), &self.body)
    }
}

/// Why there is no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    /// No complete answer within the limit (the server accepted and then hung, or stalled
    /// sending the body).
    TimedOut(Duration),
    /// Refused, reset, DNS, TLS, or not HTTP at all.
    Transport { kind: http::Failure, message: String },
    /// The request could not even be built.
    Setup(String),
}

impl ProbeError {
    pub fn describe(&self) -> String {
        match self {
            ProbeError::TimedOut(d) => format!("no answer within {:.1}s", d.as_secs_f64()),
            ProbeError::Transport { message, .. } => message.clone(),
            ProbeError::Setup(m) => m.clone(),
        }
    }
}

/// Sends `req` with `Authorization: Bearer <token>` through `client`; the whole exchange,
/// body included, ends within `limit`. The token only ever goes into that header.
pub async fn call(
    client: &reqwest::Client,
    req: &ProbeRequest,
    token: &Secret,
    limit: Duration,
) -> Result<ProbeResponse, ProbeError> {
    let started = std::time::Instant::now();
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| ProbeError::Setup(e.to_string()))?;
    let mut builder = client
        .request(method, req.url.clone())
        .bearer_auth(token.expose())
        .header("accept", "application/json")
        .header("x-ms-client-request-id", client_request_id())
        .timeout(limit);
    if let Some(body) = &req.body {
        builder = builder.header("content-type", "application/json").body(body.clone());
    }
    let exchange = async {
        super::http::count(super::http::Service::DataPlane);
        let resp = builder.send().await?;
        let status = resp.status().as_u16();
        let headers = super::http::headers_of(&resp);
        let (body, truncated) = super::http::read_capped(resp, MAX_BODY).await?;
        Ok::<_, reqwest::Error>((status, headers, body, truncated))
    };
    match tokio::time::timeout(limit, exchange).await {
        Err(_) => Err(ProbeError::TimedOut(limit)),
        Ok(Err(e)) => {
            let (kind, message) = http::classify(&e);
            if kind == http::Failure::Timeout {
                Err(ProbeError::TimedOut(limit))
            } else {
                Err(ProbeError::Transport {
                    kind,
                    message: crate::diagnose::redact(&message),
                })
            }
        }
        Ok(Ok((status, headers, body, truncated))) => Ok(ProbeResponse {
            status,
            headers,
            body,
            truncated,
            elapsed: started.elapsed(),
        }),
    }
}

/// A random-looking GUID for `x-ms-client-request-id`, so the call can be found in the
/// service's logs.
fn client_request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let a = h.finish();
    h.write_u64(a);
    let b = h.finish();
    let x = ((a as u128) << 64) | b as u128;
    let s = format!("{x:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &s[0..8],
        &s[8..12],
        &s[13..16],
        &s[17..20],
        &s[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://contoso.openai.azure.com/").unwrap()
    }

    #[test]
    fn requests_are_the_smallest_of_their_kind() {
        let r = request(
            &base(),
            &Surface::ResourceRoot,
            ProbeKind::Chat,
            Some("gpt-4o-mini"),
            "2024-10-21",
        )
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.url.as_str(),
            "https://contoso.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
        );
        let body: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["max_tokens"], 1);
        let r = request(
            &base(),
            &Surface::ResourceRoot,
            ProbeKind::Embeddings,
            Some("emb"),
            "2024-10-21",
        )
        .unwrap();
        assert!(r.url.path().ends_with("/openai/deployments/emb/embeddings"));
        let r = request(&base(), &Surface::ResourceRoot, ProbeKind::Models, None, "2024-10-21").unwrap();
        assert_eq!(r.describe(), "GET /openai/models?api-version=2024-10-21");
        assert!(request(&base(), &Surface::ResourceRoot, ProbeKind::Chat, None, "v").is_none());
        assert!(request(&base(), &Surface::ResourceRoot, ProbeKind::Chat, Some("  "), "v").is_none());
        assert!(request(&base(), &Surface::ResourceRoot, ProbeKind::None, Some("d"), "v").is_none());
    }

    #[test]
    fn a_deployment_name_is_one_escaped_path_segment() {
        let r = request(&base(), &Surface::ResourceRoot, ProbeKind::Chat, Some("a/b?c"), "v").unwrap();
        assert_eq!(r.url.path(), "/openai/deployments/a%2Fb%3Fc/chat/completions");
    }

    #[test]
    fn a_base_with_a_path_or_query_is_replaced_not_appended() {
        let b = Url::parse("https://x.openai.azure.com/openai/deployments/y?api-version=1").unwrap();
        let r = request(&b, &Surface::ResourceRoot, ProbeKind::Models, None, "2").unwrap();
        assert_eq!(r.url.as_str(), "https://x.openai.azure.com/openai/models?api-version=2");
    }

    #[test]
    fn v1_and_project_calls_name_the_model_and_send_no_api_version() {
        let v1 = Url::parse("https://c.openai.azure.com/openai/v1").unwrap();
        let r = request(&v1, &Surface::V1, ProbeKind::Chat, Some("gpt-4o-mini"), "").unwrap();
        assert_eq!(r.url.as_str(), "https://c.openai.azure.com/openai/v1/chat/completions");
        let body: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            (body["model"].as_str(), body["max_tokens"].as_u64()),
            (Some("gpt-4o-mini"), Some(1))
        );
        // An explicit api-version is sent, to reproduce an AzureOpenAI client pointed at v1.
        let r = request(&v1, &Surface::V1, ProbeKind::Chat, Some("d"), "2024-10-21").unwrap();
        assert_eq!(r.describe(), "POST /openai/v1/chat/completions?api-version=2024-10-21");
        let r = request(&v1, &Surface::V1, ProbeKind::Responses, Some("d"), "").unwrap();
        let body: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(r.describe(), "POST /openai/v1/responses");
        assert_eq!(body["store"], false);
        assert_eq!(body["max_output_tokens"], 16);
        let project = Surface::Project { project: "p".into() };
        let project_base = Url::parse("https://c.services.ai.azure.com/api/projects/p/openai/v1").unwrap();
        let r = request(&project_base, &project, ProbeKind::Responses, Some("d"), "").unwrap();
        assert_eq!(r.describe(), "POST /api/projects/p/openai/v1/responses");
        // Responses on a resource root goes to the v1 route, without an api-version.
        let r = request(
            &base(),
            &Surface::ResourceRoot,
            ProbeKind::Responses,
            Some("d"),
            "2024-10-21",
        )
        .unwrap();
        assert_eq!(r.describe(), "POST /openai/v1/responses");
        let models = Url::parse("https://c.services.ai.azure.com/models").unwrap();
        let r = request(
            &models,
            &Surface::ModelInference,
            ProbeKind::Chat,
            Some("DeepSeek-R1"),
            "2024-05-01-preview",
        )
        .unwrap();
        assert_eq!(
            r.describe(),
            "POST /models/chat/completions?api-version=2024-05-01-preview"
        );
    }

    #[test]
    fn deployments_are_read_from_the_list() {
        let list = parse_deployments(
            r#"{"data":[{"id":"gpt-4o-mini","model":"gpt-4o-mini"},{"id":"emb"},{"model":"x"}],"object":"list"}"#,
        )
        .unwrap();
        assert_eq!(
            list,
            vec![
                Deployment {
                    name: "gpt-4o-mini".into(),
                    model: Some("gpt-4o-mini".into())
                },
                Deployment {
                    name: "emb".into(),
                    model: None
                },
            ]
        );
        assert_eq!(parse_deployments(r#"{"data":[]}"#), Some(vec![]));
        assert_eq!(parse_deployments("<html>"), None);
    }

    #[test]
    fn client_request_ids_look_like_guids() {
        let id = client_request_id();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(id.matches('-').count(), 4);
    }

    #[test]
    fn html_is_recognised_by_type_or_first_bytes() {
        let r = |ct: &str, body: &str| ProbeResponse {
            status: 403,
            headers: vec![("Content-Type".into(), ct.into())],
            body: body.into(),
            truncated: false,
            elapsed: Duration::ZERO,
        };
        assert!(r("text/html; charset=utf-8", "x").is_html());
        assert!(r("", "  <!DOCTYPE html><html>").is_html());
        assert!(!r("application/json", "{\"error\":{}}").is_html());
    }
}
