//! Can this machine reach a host: DNS (honouring `--resolve`), then one HTTPS request to its
//! root — any HTTP answer proves DNS, TCP and TLS. Through a proxy the proxy resolves the
//! host, so this machine does not (see `proxy.rs`).

use super::http::{self, Failure};
use super::net;
use super::proxy::ProxyRoute;
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

/// Who turned the host name into addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// This machine did: the addresses.
    Addresses(Vec<IpAddr>),
    /// This machine could not: the resolver's words.
    Failed(String),
    /// A proxy carries the request and resolves the name itself. `here`: what this machine's
    /// own lookup gave while the request ran (a private endpoint shows here), if it was done
    /// in time; it never fails the check.
    ByProxy {
        route: ProxyRoute,
        here: Option<Vec<IpAddr>>,
    },
}

/// What DNS and the HTTPS request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachability {
    pub dns: Resolution,
    /// `None` when DNS failed, so no request was made.
    pub root: Option<RootAnswer>,
}

/// Resolves `host` within `dns_limit`, then sends `GET base` within `http_limit`. When
/// `proxy` carries the request it goes at once, and the local lookup only runs beside it.
pub async fn reach(
    client: &reqwest::Client,
    base: &Url,
    host: &str,
    resolves: &Resolves,
    proxy: Option<ProxyRoute>,
    dns_limit: Duration,
    http_limit: Duration,
) -> Reachability {
    let port = base.port_or_known_default().unwrap_or(443);
    let Some(route) = proxy else {
        return match net::resolve(host, port, resolves, dns_limit).await {
            Ok(addrs) => Reachability {
                dns: Resolution::Addresses(addrs),
                root: Some(get_root(client, base, http_limit).await),
            },
            Err(why) => Reachability {
                dns: Resolution::Failed(why),
                root: None,
            },
        };
    };
    let (owned_host, owned_resolves) = (host.to_string(), resolves.clone());
    let lookup = tokio::spawn(async move { net::resolve(&owned_host, port, &owned_resolves, dns_limit).await });
    let root = get_root(client, base, http_limit).await;
    // Not worth waiting for: a hanging local resolver is common behind proxies.
    let here = if lookup.is_finished() {
        lookup.await.ok().and_then(Result::ok)
    } else {
        lookup.abort();
        None
    };
    Reachability {
        dns: Resolution::ByProxy { route, here },
        root: Some(root),
    }
}

async fn get_root(client: &reqwest::Client, base: &Url, limit: Duration) -> RootAnswer {
    super::http::count(super::http::Service::DataPlane);
    match client.get(base.clone()).timeout(limit).send().await {
        Ok(resp) => RootAnswer::Status(resp.status().as_u16()),
        Err(e) => {
            let (kind, chain) = http::classify(&e);
            RootAnswer::Failed { kind, chain }
        }
    }
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
        let r = reach(&client, &base, "127.0.0.1", &vec![], None, limit, limit).await;
        assert_eq!(
            r.dns,
            Resolution::Addresses(vec!["127.0.0.1".parse::<IpAddr>().unwrap()])
        );
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
        let r = reach(&client, &base, "127.0.0.1", &vec![], None, limit, limit).await;
        assert_eq!(r.root, Some(RootAnswer::Status(404)));
    }

    /// A proxy that answers every request with 404 and hands back the request line it got.
    async fn answering_proxy() -> (std::net::SocketAddr, tokio::sync::oneshot::Receiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 2048];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let _ = tx.send(text.lines().next().unwrap_or_default().to_string());
                let _ = s
                    .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            }
        });
        (addr, rx)
    }

    #[tokio::test]
    async fn through_a_proxy_the_host_is_not_resolved_here() {
        let (addr, request_line) = answering_proxy().await;
        let client = reqwest::Client::builder()
            .proxy(reqwest::Proxy::http(format!("http://{addr}")).unwrap())
            .build()
            .unwrap();
        // `.invalid` never resolves (RFC 6761): a lookup here would fail the check.
        let base = Url::parse("http://contoso.invalid/").unwrap();
        let route = ProxyRoute { variable: "HTTP_PROXY" };
        let limit = Duration::from_secs(5);
        let r = reach(
            &client,
            &base,
            "contoso.invalid",
            &vec![],
            Some(route.clone()),
            limit,
            limit,
        )
        .await;
        // The local lookup of a `.invalid` name fails; that is not a finding.
        assert_eq!(r.dns, Resolution::ByProxy { route, here: None });
        assert_eq!(r.root, Some(RootAnswer::Status(404)));
        assert_eq!(request_line.await.unwrap(), "GET http://contoso.invalid/ HTTP/1.1");
    }
}
