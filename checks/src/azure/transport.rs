//! The transport handed to `azure_identity`: our one reqwest client (roots, proxy, limits),
//! optionally sending every request to another base (how the IMDS credential, whose address
//! is hard-coded, reaches the `AZURE_POD_IDENTITY_AUTHORITY_HOST` override), and recording
//! the last raw response — the SDK drops status and body of a non-JSON error, and the
//! doctor needs both to explain it — or why there was none (the SDK's error keeps only
//! "failed to execute request", not "connection refused" or "unknown issuer").
//!
//! A body is read up to [`MAX_READ`]: a token answer is a few KiB, so a bigger one (a proxy
//! streaming a download, a misconfigured gateway) fails the request instead of being
//! collected.

use super::http;
use azure_core::error::ErrorKind;
use azure_core::http::{AsyncRawResponse, HttpClient, Request, Url};
use futures::StreamExt as _;
use std::sync::{Arc, Mutex};

/// One raw answer, as the service sent it (body capped).
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body was longer than [`MAX_READ`]; reading stopped there.
    pub too_large: bool,
}

/// Why the last request got no (complete) answer.
#[derive(Debug, Clone)]
pub struct TransportFailure {
    pub kind: http::Failure,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
enum Last {
    #[default]
    Nothing,
    Answer(Captured),
    Failed(TransportFailure),
}

#[derive(Debug, Clone)]
pub struct CapturingTransport {
    inner: reqwest::Client,
    redirect_to: Option<Url>,
    last: Arc<Mutex<Last>>,
}

/// At most this much of a body is kept as text for findings.
const MAX_BODY: usize = 256 * 1024;
/// At most this much of a body is read at all.
pub const MAX_READ: usize = 1024 * 1024;

impl CapturingTransport {
    pub fn new(inner: reqwest::Client, redirect_to: Option<Url>) -> Self {
        CapturingTransport {
            inner,
            redirect_to,
            last: Arc::new(Mutex::new(Last::Nothing)),
        }
    }
    /// The last response seen, if the last request got one.
    pub fn last(&self) -> Option<Captured> {
        match self.last.lock().ok()?.clone() {
            Last::Answer(c) => Some(c),
            _ => None,
        }
    }
    /// Why the last request failed without an answer, if it did.
    pub fn last_failure(&self) -> Option<TransportFailure> {
        match self.last.lock().ok()?.clone() {
            Last::Failed(f) => Some(f),
            _ => None,
        }
    }
    fn record(&self, l: Last) {
        if let Ok(mut last) = self.last.lock() {
            *last = l;
        }
    }
}

/// Which service a credential's request goes to: a managed-identity endpoint (IMDS, App
/// Service, Arc, Cloud Shell) or Microsoft Entra ID.
fn service_of(request: &Request, redirected: bool) -> http::Service {
    let path = request.url().path().to_ascii_lowercase();
    if redirected || path.starts_with("/metadata/identity") || path.contains("msi") {
        http::Service::ManagedIdentity
    } else {
        http::Service::Entra
    }
}

/// Classifies an SDK transport error by the reqwest error inside it, if any.
fn failure_of(e: &azure_core::Error, what: &str) -> TransportFailure {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<reqwest::Error>() {
            let (kind, message) = http::classify(r);
            return TransportFailure {
                kind,
                message: format!("{what}{message}"),
            };
        }
        cur = err.source();
    }
    let message = http::error_chain(e);
    let kind = if message.to_ascii_lowercase().contains("timed out") {
        http::Failure::Timeout
    } else {
        http::Failure::Other
    };
    TransportFailure {
        kind,
        message: format!("{what}{message}"),
    }
}

#[async_trait::async_trait]
impl HttpClient for CapturingTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let mut req = request.clone();
        if let Some(base) = &self.redirect_to {
            let url = req.url_mut();
            let _ = url.set_scheme(base.scheme());
            let _ = url.set_host(base.host_str());
            let _ = url.set_port(base.port_or_known_default());
        }
        http::count(service_of(&req, self.redirect_to.is_some()));
        let response = match self.inner.execute_request(&req).await {
            Ok(r) => r,
            Err(e) => {
                self.record(Last::Failed(failure_of(&e, "")));
                return Err(e);
            }
        };
        let (status, headers, mut body) = response.deconstruct();
        let mut bytes = Vec::new();
        let mut too_large = false;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => {
                    bytes.extend_from_slice(&c);
                    if bytes.len() > MAX_READ {
                        too_large = true;
                        break;
                    }
                }
                Err(e) => {
                    let mut f = failure_of(&e, "");
                    // Headers came, the body did not: the connection dropped in between.
                    if matches!(f.kind, http::Failure::Other | http::Failure::Reset) {
                        f.kind = http::Failure::Reset;
                    }
                    f.message = format!(
                        "the connection closed in the middle of the answer (HTTP {}, {} bytes of the body read): {}",
                        u16::from(status),
                        bytes.len(),
                        f.message
                    );
                    self.record(Last::Failed(f));
                    return Err(e);
                }
            }
        }
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_BODY)]).into_owned();
        let captured = Captured {
            status: u16::from(status),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.as_str().to_string()))
                .collect(),
            body: text,
            too_large,
        };
        self.record(Last::Answer(captured));
        if too_large {
            return Err(azure_core::Error::with_message(
                ErrorKind::Io,
                format!(
                    "the response body is larger than {} KiB; the doctor stopped reading it",
                    MAX_READ / 1024
                ),
            ));
        }
        Ok(AsyncRawResponse::from_bytes(status, headers, bytes))
    }
}
