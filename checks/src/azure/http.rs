//! The one HTTP client every call goes through, so roots, proxies, name overrides and time
//! limits are decided in one place.

use crate::context::{Resolves, Timeouts};

/// Builds the shared client. `extra_roots_pem` (from `--ca-cert`) is added to the platform
/// roots, which on Linux come from `SSL_CERT_FILE`/`SSL_CERT_DIR` when those are set.
pub fn client(extra_roots_pem: Option<&[u8]>, resolves: &Resolves, t: &Timeouts) -> Result<reqwest::Client, String> {
    build(builder(extra_roots_pem, resolves, t)?.timeout(t.http))
}

/// The shared client's twin with a [`Preconnect`](super::preconnect::Preconnect) layer in
/// front of its connector (the ARM client: its connection opens before its first request).
pub fn client_with(
    extra_roots_pem: Option<&[u8]>,
    resolves: &Resolves,
    t: &Timeouts,
    preconnect: super::preconnect::Preconnect,
) -> Result<reqwest::Client, String> {
    build(
        builder(extra_roots_pem, resolves, t)?
            .timeout(t.http)
            .connector_layer(preconnect),
    )
}

/// A client that never uses a proxy, for IMDS: proxy variables would otherwise apply to
/// 169.254.169.254 too, and a proxy answering for IMDS is a classic false positive. Each
/// request sets its own limit (the probe's is short), which bounds the connect as well.
pub fn no_proxy_client(
    extra_roots_pem: Option<&[u8]>,
    resolves: &Resolves,
    t: &Timeouts,
) -> Result<reqwest::Client, String> {
    build(builder(extra_roots_pem, resolves, t)?.no_proxy())
}

fn build(b: reqwest::ClientBuilder) -> Result<reqwest::Client, String> {
    b.build()
        .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)))
}

fn builder(
    extra_roots_pem: Option<&[u8]>,
    resolves: &Resolves,
    t: &Timeouts,
) -> Result<reqwest::ClientBuilder, String> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(t.connect)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("aoai-doctor/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = extra_roots_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("the CA file is not PEM: {e}"))?;
        if certs.is_empty() {
            return Err("the CA file holds no certificate".into());
        }
        b = b.tls_certs_merge(certs);
    }
    for (host, addr) in resolves {
        // Port 0: keep the port of the URL.
        b = b.resolve(host, std::net::SocketAddr::new(*addr, 0));
    }
    Ok(b)
}

/// Every message in an error's source chain, joined: the useful part ("invalid peer
/// certificate: UnknownIssuer") is usually three levels down.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// Why a request failed, in the words a finding needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    Refused,
    Reset,
    Dns,
    TlsUntrusted,
    TlsNameMismatch,
    TlsOther,
    Other,
}

/// Classifies a reqwest error by its kind and source chain.
pub fn classify(e: &reqwest::Error) -> (Failure, String) {
    let chain = error_chain(e);
    (classify_text(&chain, e.is_timeout()), chain)
}

/// Classifies an error chain's text: reqwest's, or the SDK's wrapping of it (the SDK keeps
/// only the text, so both kinds of error go through the same words).
pub fn classify_text(chain: &str, timed_out: bool) -> Failure {
    let lower = chain.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&["unknownissuer", "unknown issuer", "self-signed"]) {
        Failure::TlsUntrusted
    } else if has(&["notvalidforname", "not valid for name"]) {
        Failure::TlsNameMismatch
    } else if has(&["certificate", "tls", "handshake"]) {
        Failure::TlsOther
    } else if timed_out || has(&["timed out"]) {
        Failure::Timeout
    } else if has(&["dns", "lookup", "name or service not known"]) {
        Failure::Dns
    } else if has(&["refused"]) {
        Failure::Refused
    } else if has(&["reset", "broken pipe", "closed"]) {
        Failure::Reset
    } else {
        Failure::Other
    }
}

/// A response's headers as (name, value) pairs; values that are not UTF-8 are kept lossily.
pub fn headers_of(resp: &reqwest::Response) -> Vec<(String, String)> {
    resp.headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// At most `max` bytes of the body, and whether there was more (garbage in, bounded memory);
/// an error when the connection fails before the body is complete.
pub async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<(String, bool), reqwest::Error> {
    let mut body = Vec::new();
    let mut too_large = false;
    while let Some(chunk) = resp.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > max {
            body.truncate(max);
            too_large = true;
            break;
        }
    }
    Ok((String::from_utf8_lossy(&body).into_owned(), too_large))
}

/// The services a run talks to, as the report counts its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Microsoft Entra ID (token requests to the authority host).
    Entra,
    /// The managed-identity endpoint (IMDS, or the App Service / container identity endpoint).
    ManagedIdentity,
    /// Azure Resource Manager, Resource Graph included.
    Arm,
    /// The Azure OpenAI / Foundry endpoint.
    DataPlane,
}

impl Service {
    const ALL: [Service; 4] = [
        Service::Entra,
        Service::ManagedIdentity,
        Service::Arm,
        Service::DataPlane,
    ];
    /// The key in the report's `requests` maps.
    pub fn key(self) -> &'static str {
        match self {
            Service::Entra => "entra",
            Service::ManagedIdentity => "mi",
            Service::Arm => "arm",
            Service::DataPlane => "dataplane",
        }
    }
}

/// Requests sent, per service: a check's, while it runs (see [`counting`]).
#[derive(Debug, Default)]
pub struct RequestCounts([std::sync::atomic::AtomicU32; 4]);

impl RequestCounts {
    fn add(&self, s: Service) {
        self.0[s as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    /// The services that got at least one request, by their report key.
    pub fn snapshot(&self) -> std::collections::BTreeMap<String, u32> {
        Service::ALL
            .iter()
            .map(|s| {
                (
                    s.key().to_string(),
                    self.0[*s as usize].load(std::sync::atomic::Ordering::Relaxed),
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

tokio::task_local! {
    /// The running check's counts; set by the runner around each check.
    static CHECK_REQUESTS: std::sync::Arc<RequestCounts>;
}

/// Runs `work` (one check) with `counts` collecting every request it sends.
pub async fn counting<F: std::future::Future>(counts: std::sync::Arc<RequestCounts>, work: F) -> F::Output {
    CHECK_REQUESTS.scope(counts, work).await
}

/// The running check's counts, for work it starts on a task of its own (which the task-local
/// does not follow), so that work's requests are still counted for the check that started it.
pub fn current_counts() -> Option<std::sync::Arc<RequestCounts>> {
    CHECK_REQUESTS.try_with(|c| c.clone()).ok()
}

/// Counts one request about to be sent to `service`, for the check that sends it. Outside a
/// check (a unit test calling the I/O directly) nothing is counted.
pub fn count(service: Service) {
    let _ = CHECK_REQUESTS.try_with(|c| c.add(service));
}

#[cfg(test)]
mod tests {
    use super::super::test_server::server;
    use super::*;
    use std::sync::atomic::Ordering;

    #[tokio::test]
    async fn the_shared_client_reuses_one_connection_per_host() {
        let (base, seen) = server().await;
        let client = client(None, &vec![], &Timeouts::default()).unwrap();
        for path in ["a", "b", "c"] {
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.text().await.unwrap(), "{}");
        }
        // A clone (what every check and the SDK transport hold) shares the pool.
        let again = client.clone();
        again
            .get(format!("{base}d"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
        assert_eq!(seen.requests.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn requests_are_counted_per_service_for_the_running_check_only() {
        let counts = std::sync::Arc::new(RequestCounts::default());
        counting(counts.clone(), async {
            count(Service::Arm);
            count(Service::Arm);
            count(Service::ManagedIdentity);
        })
        .await;
        count(Service::DataPlane); // outside any check: not counted
        let seen: Vec<(String, u32)> = counts.snapshot().into_iter().collect();
        assert_eq!(seen, vec![("arm".to_string(), 2), ("mi".to_string(), 1)]);
    }
}
