//! IMDS, called directly: the availability probe the SDKs make inside a credential chain
//! (about 1 s, no `Metadata` header), and the token request. Never through a proxy — proxy
//! variables would otherwise apply to 169.254.169.254 too.

use super::credentials::{AcquireFailure, Acquired};
use super::http;
use crate::context::RunContext;
use crate::facts::TokenInfo;
use crate::secret::Secret;

/// What answered at the IMDS address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Nothing answered (not on Azure, or the network is unreachable): unavailable.
    Absent(String),
    /// Something answered like IMDS does to a request without `Metadata: true`.
    Imds { status: u16 },
    /// Something else answered: Docker Desktop's 403 "unreachable network", a proxy's 400/HTML.
    NotImds { status: u16, excerpt: String },
}

fn token_url(ctx: &RunContext, resource: &str, client_id: Option<&str>) -> Option<reqwest::Url> {
    let mut url = ctx.endpoints.imds.join("/metadata/identity/oauth2/token").ok()?;
    url.query_pairs_mut()
        .append_pair("api-version", "2018-02-01")
        .append_pair("resource", resource);
    if let Some(id) = client_id {
        url.query_pairs_mut().append_pair("client_id", id);
    }
    Some(url)
}

/// `https://cognitiveservices.azure.com/.default` → `https://cognitiveservices.azure.com`.
pub fn resource_of(scope: &str) -> &str {
    scope.strip_suffix("/.default").unwrap_or(scope)
}

/// The run's one IMDS client (each request sets its own limit), so the probe and the token
/// requests share a connection.
fn client(ctx: &RunContext) -> Result<reqwest::Client, String> {
    if let Some(c) = ctx.imds_http.get() {
        return Ok(c.clone());
    }
    let built = http::no_proxy_client(ctx.extra_roots_pem.as_deref(), &ctx.resolves, &ctx.timeouts)?;
    Ok(ctx.imds_http.get_or_init(|| built).clone())
}

/// The chain's probe: one short request without the `Metadata` header.
pub async fn probe(ctx: &RunContext, scope: &str) -> Probe {
    let limit = ctx.timeouts.imds_probe;
    let (Some(url), Ok(client)) = (token_url(ctx, resource_of(scope), None), client(ctx)) else {
        return Probe::Absent("the IMDS address is not a valid URL".into());
    };
    http::count(http::Service::ManagedIdentity);
    match client.get(url).timeout(limit).send().await {
        // Without the URL: it is the configured address plus a query, noise in every report.
        Err(e) => Probe::Absent(http::classify(&e.without_url()).1),
        Ok(resp) => {
            let status = resp.status().as_u16();
            let read = read_capped(resp).await;
            if let Some((_, why)) = read.cut {
                return Probe::Absent(format!(
                    "the connection closed in the middle of the answer (HTTP {status}, {} bytes read): {why}",
                    read.body.len()
                ));
            }
            let body = read.body;
            // Real IMDS answers 400 with a JSON error naming the missing Metadata header.
            let imds_like =
                status == 400 && body.trim_start().starts_with('{') && body.to_ascii_lowercase().contains("metadata");
            if imds_like {
                Probe::Imds { status }
            } else {
                Probe::NotImds {
                    status,
                    excerpt: body.chars().take(160).collect(),
                }
            }
        }
    }
}

/// The token request, with `Metadata: true`.
pub async fn token(ctx: &RunContext, client_id: Option<&str>, scope: &str) -> Acquired {
    token_call(ctx, client_id, scope).await
}

/// The token request with everything it needs owned, so it can run on a task of its own (the
/// ARM token beside the data-plane one).
pub fn token_call(
    ctx: &RunContext,
    client_id: Option<&str>,
    scope: &str,
) -> impl std::future::Future<Output = Acquired> + Send + 'static {
    let limit = super::credentials::http_limit(ctx);
    let url = token_url(ctx, resource_of(scope), client_id)
        .ok_or_else(|| AcquireFailure::Setup("the IMDS address is not a valid URL".into()));
    let client = client(ctx).map_err(AcquireFailure::Setup);
    async move { fetch_token(client?, url?, limit).await }
}

async fn fetch_token(client: reqwest::Client, url: reqwest::Url, limit: std::time::Duration) -> Acquired {
    let exchange = async {
        http::count(http::Service::ManagedIdentity);
        let resp = client.get(url).header("Metadata", "true").timeout(limit).send().await?;
        let status = resp.status().as_u16();
        Ok::<_, reqwest::Error>((status, read_capped(resp).await))
    };
    let (status, read) = match tokio::time::timeout(limit, exchange).await {
        Err(_) => return Err(AcquireFailure::TimedOut(limit)),
        Ok(Ok(r)) => r,
        Ok(Err(e)) if e.is_timeout() => return Err(AcquireFailure::TimedOut(limit)),
        Ok(Err(e)) => {
            let (kind, message) = http::classify(&e.without_url());
            return Err(AcquireFailure::Transport { kind, message });
        }
    };
    let Read {
        headers,
        body,
        too_large,
        cut,
    } = read;
    if let Some((kind, message)) = cut {
        if kind == http::Failure::Timeout {
            return Err(AcquireFailure::TimedOut(limit));
        }
        let message = format!(
            "the connection closed in the middle of the answer (HTTP {status}, {} bytes of the body read): {message}",
            body.len()
        );
        return Err(AcquireFailure::Transport {
            kind: http::Failure::Reset,
            message,
        });
    }
    if !(200..300).contains(&status) {
        return Err(AcquireFailure::Http { status, headers, body });
    }
    if too_large {
        let start: String = body.chars().take(80).collect();
        return Err(AcquireFailure::NotAToken {
            status,
            body_excerpt: format!(
                "a body larger than {} KiB (the doctor stopped reading), starting: {start}",
                MAX_BODY / 1024
            ),
        });
    }
    let parsed: Option<serde_json::Value> = serde_json::from_str(&body).ok();
    let token = parsed
        .as_ref()
        .and_then(|v| v.get("access_token"))
        .and_then(|t| t.as_str());
    match token {
        Some(t) if !t.trim().is_empty() => Ok(TokenInfo {
            token: Secret::new(t),
            // IMDS sends numbers as strings.
            expires_on: parsed
                .as_ref()
                .and_then(|v| v.get("expires_on"))
                .and_then(|e| e.as_i64().or_else(|| e.as_str().and_then(|s| s.trim().parse().ok()))),
            source: "ManagedIdentityCredential (IMDS)".into(),
        }),
        _ => Err(AcquireFailure::NotAToken {
            status,
            body_excerpt: body.chars().take(200).collect(),
        }),
    }
}

/// At most this much of a body is read.
const MAX_BODY: usize = 256 * 1024;

/// An answer read with a cap: headers, at most [`MAX_BODY`] bytes of body, whether there was
/// more, and why the body stopped early if the connection failed.
pub struct Read {
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub too_large: bool,
    pub cut: Option<(http::Failure, String)>,
}

pub async fn read_capped(resp: reqwest::Response) -> Read {
    let headers = http::headers_of(&resp);
    match http::read_capped(resp, MAX_BODY).await {
        Ok((body, too_large)) => Read {
            headers,
            body,
            too_large,
            cut: None,
        },
        Err(e) => Read {
            headers,
            body: String::new(),
            too_large: false,
            cut: Some(http::classify(&e.without_url())),
        },
    }
}
