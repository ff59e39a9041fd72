//! Can this machine reach a host: DNS (honouring `--resolve`), then one HTTPS request to its
//! root — any HTTP answer proves DNS, TCP and TLS.

use super::http::{self, Failure};
use super::net;
use crate::context::Resolves;
use std::net::IpAddr;
use std::time::Duration;
use url::Url;

/// What the root of the host answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootAnswer {
    /// Some HTTP status: the host is reachable.
    Status(u16),
    /// No HTTP answer: why, and the error chain in words.
    Failed { kind: Failure, chain: String },
}

/// What DNS and the HTTPS request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachability {
    /// The addresses, or the resolver's words.
    pub dns: Result<Vec<IpAddr>, String>,
    /// `None` when DNS failed, so no request was made.
    pub root: Option<RootAnswer>,
}

/// Resolves `host` within `dns_limit`, then sends `GET base` within `http_limit`.
pub async fn reach(
    client: &reqwest::Client,
    base: &Url,
    host: &str,
    resolves: &Resolves,
    dns_limit: Duration,
    http_limit: Duration,
) -> Reachability {
    let port = base.port_or_known_default().unwrap_or(443);
    let dns = net::resolve(host, port, resolves, dns_limit).await;
    if dns.is_err() {
        return Reachability { dns, root: None };
    }
    super::http::count(super::http::Service::DataPlane);
    let root = match client.get(base.clone()).timeout(http_limit).send().await {
        Ok(resp) => RootAnswer::Status(resp.status().as_u16()),
        Err(e) => {
            let (kind, chain) = http::classify(&e);
            RootAnswer::Failed { kind, chain }
        }
    };
    Reachability { dns, root: Some(root) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_is_a_failure_not_a_status() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let limit = Duration::from_secs(5);
        let r = reach(&client, &base, "127.0.0.1", &vec![], limit, limit).await;
        assert_eq!(r.dns, Ok(vec!["127.0.0.1".parse::<IpAddr>().unwrap()]));
        assert!(
            matches!(
                r.root,
                Some(RootAnswer::Failed {
                    kind: Failure::Refused,
                    ..
                })
            ),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn any_http_answer_is_reachable() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            }
        });
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let limit = Duration::from_secs(5);
        let r = reach(&client, &base, "127.0.0.1", &vec![], limit, limit).await;
        assert_eq!(r.root, Some(RootAnswer::Status(404)));
    }
}
