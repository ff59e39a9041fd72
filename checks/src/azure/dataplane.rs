//! One call to the Azure OpenAI data plane with a bearer token: the smallest request of the
//! kind `--probe` asks for, a time limit on the whole exchange (connect, headers and body), a
//! bounded body read, and everything a judge needs captured — status, headers, body, the
//! request ids — or why there was no answer.

use super::http;
use crate::context::ProbeKind;
use crate::secret::Secret;
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

/// The smallest request of each kind. `None` for [`ProbeKind::None`], or when the kind needs a
/// deployment and there is none, or the base is not a URL we can extend.
pub fn request(base: &Url, kind: ProbeKind, deployment: Option<&str>, api_version: &str) -> Option<ProbeRequest> {
    let deployment_path = |suffix: &str| -> Option<Url> {
        let d = deployment.map(str::trim).filter(|d| !d.is_empty())?;
        let mut url = base.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.path_segments_mut()
            .ok()?
            .clear()
            .extend(["openai", "deployments", d])
            .extend(suffix.split('/'));
        Some(url)
    };
    let (method, mut url, body) = match kind {
        ProbeKind::None => return None,
        ProbeKind::Chat => (
            "POST",
            deployment_path("chat/completions")?,
            Some(r#"{"messages":[{"role":"user","content":"ping"}],"max_tokens":1}"#.to_string()),
        ),
        ProbeKind::Embeddings => (
            "POST",
            deployment_path("embeddings")?,
            Some(r#"{"input":"ping"}"#.to_string()),
        ),
        ProbeKind::Models => {
            let mut url = base.clone();
            url.set_query(None);
            url.set_fragment(None);
            url.path_segments_mut().ok()?.clear().extend(["openai", "models"]);
            ("GET", url, None)
        }
    };
    url.query_pairs_mut().append_pair("api-version", api_version);
    Some(ProbeRequest { method, url, body })
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
        let r = request(&base(), ProbeKind::Chat, Some("gpt-4o-mini"), "2024-10-21").unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.url.as_str(),
            "https://contoso.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
        );
        let body: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["max_tokens"], 1);
        let r = request(&base(), ProbeKind::Embeddings, Some("emb"), "2024-10-21").unwrap();
        assert!(r.url.path().ends_with("/openai/deployments/emb/embeddings"));
        let r = request(&base(), ProbeKind::Models, None, "2024-10-21").unwrap();
        assert_eq!(r.describe(), "GET /openai/models?api-version=2024-10-21");
        assert!(request(&base(), ProbeKind::Chat, None, "v").is_none());
        assert!(request(&base(), ProbeKind::Chat, Some("  "), "v").is_none());
        assert!(request(&base(), ProbeKind::None, Some("d"), "v").is_none());
    }

    #[test]
    fn a_deployment_name_is_one_escaped_path_segment() {
        let r = request(&base(), ProbeKind::Chat, Some("a/b?c"), "v").unwrap();
        assert_eq!(r.url.path(), "/openai/deployments/a%2Fb%3Fc/chat/completions");
    }

    #[test]
    fn a_base_with_a_path_or_query_is_replaced_not_appended() {
        let b = Url::parse("https://x.openai.azure.com/openai/deployments/y?api-version=1").unwrap();
        let r = request(&b, ProbeKind::Models, None, "2").unwrap();
        assert_eq!(r.url.as_str(), "https://x.openai.azure.com/openai/models?api-version=2");
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
