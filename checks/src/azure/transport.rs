//! The transport handed to `azure_identity`: our one reqwest client (roots, proxy, limits),
//! optionally sending every request to another base (how the IMDS credential, whose address
//! is hard-coded, reaches the `AZURE_POD_IDENTITY_AUTHORITY_HOST` override), and recording
//! the last raw response — the SDK drops status and body of a non-JSON error, and the
//! doctor needs both to explain it.

use azure_core::http::{AsyncRawResponse, HttpClient, Request, Url};
use std::sync::{Arc, Mutex};

/// One raw answer, as the service sent it (body capped).
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct CapturingTransport {
    inner: reqwest::Client,
    redirect_to: Option<Url>,
    last: Arc<Mutex<Option<Captured>>>,
}

const MAX_BODY: usize = 256 * 1024;

impl CapturingTransport {
    pub fn new(inner: reqwest::Client, redirect_to: Option<Url>) -> Self {
        CapturingTransport { inner, redirect_to, last: Arc::new(Mutex::new(None)) }
    }
    /// The last response seen, if any request got one.
    pub fn last(&self) -> Option<Captured> {
        self.last.lock().ok().and_then(|l| l.clone())
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
        let response = self.inner.execute_request(&req).await?;
        let (status, headers, body) = response.deconstruct();
        let bytes = body.collect().await?;
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_BODY)]).into_owned();
        let captured = Captured {
            status: u16::from(status),
            headers: headers.iter().map(|(k, v)| (k.as_str().to_string(), v.as_str().to_string())).collect(),
            body: text,
        };
        if let Ok(mut last) = self.last.lock() {
            *last = Some(captured);
        }
        Ok(AsyncRawResponse::from_bytes(status, headers, bytes))
    }
}
