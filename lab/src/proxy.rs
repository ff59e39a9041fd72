//! The lab as an HTTPS `CONNECT` proxy on loopback, so clients can be given the real host
//! names (`contoso-aoai.openai.azure.com`, `login.microsoftonline.com`,
//! `management.azure.com`) and still reach the emulated services: a client that honours
//! `HTTPS_PROXY` sends `CONNECT host:443`, the proxy answers `200 Connection established`
//! and splices bytes to that service's loopback port. TLS stays end to end, with the lab's
//! own certificate (`tls.rs` gives it these names).
//!
//! It routes only the hosts the lab emulates, on port 443, and never opens a connection
//! anywhere but the lab's own loopback listeners: `demo` runs on users' machines, outside any
//! sandbox, and a lab token must never reach a real host. Everything else gets a status and a
//! closed connection: 403 (a host or port the lab does not emulate), 400 (not a `CONNECT`,
//! not HTTP), 431 (a header block over [`HEADER_LIMIT`]), 408 (no complete request within
//! [`HEADER_TIMEOUT`]), 502 (the emulated service did not accept the connection).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Host suffixes of the Azure OpenAI / Foundry data plane (one label before each).
pub const DATA_PLANE_SUFFIXES: [&str; 3] = [
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
];
pub const ENTRA_HOST: &str = "login.microsoftonline.com";
pub const ARM_HOST: &str = "management.azure.com";
/// The only port routed: the services are HTTPS on their default port.
const PORT: u16 = 443;
/// The request line and headers together; a real CONNECT is a few hundred bytes.
pub const HEADER_LIMIT: usize = 8 * 1024;
/// From accepting the connection to the end of the header block.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Connecting to the emulated service's loopback port.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

/// Where each emulated service listens on loopback.
#[derive(Debug, Clone, Copy)]
pub struct Routes {
    pub data_plane: SocketAddr,
    pub entra: SocketAddr,
    pub arm: SocketAddr,
}

/// Why a request is not spliced: the status line and a sentence for the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

impl Refusal {
    fn new(status: u16, reason: impl Into<String>) -> Self {
        Refusal {
            status,
            reason: reason.into(),
        }
    }

    fn response(&self) -> String {
        let phrase = match self.status {
            400 => "Bad Request",
            403 => "Forbidden",
            408 => "Request Timeout",
            431 => "Request Header Fields Too Large",
            _ => "Bad Gateway",
        };
        let body = format!("aoai-doctor lab proxy: {}\n", self.reason);
        format!(
            "HTTP/1.1 {} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.status,
            body.len()
        )
    }
}

impl Routes {
    /// The loopback address for a CONNECT target (`host:port`), or why there is none.
    pub fn route(&self, authority: &str) -> Result<SocketAddr, Refusal> {
        let shown = printable(authority);
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| Refusal::new(400, format!("CONNECT needs host:port, got '{shown}'")))?;
        let port: u16 = port
            .parse()
            .map_err(|_| Refusal::new(400, format!("CONNECT needs host:port, got '{shown}'")))?;
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let target = if host == ENTRA_HOST {
            Some(self.entra)
        } else if host == ARM_HOST {
            Some(self.arm)
        } else {
            DATA_PLANE_SUFFIXES
                .iter()
                .filter_map(|s| host.strip_suffix(s))
                .any(is_label)
                .then_some(self.data_plane)
        };
        match target {
            None => Err(Refusal::new(
                403,
                format!(
                    "'{shown}' is not a host the lab emulates, and the lab never connects anywhere else \
                     (it answers for NAME{}, NAME{}, NAME{}, {ENTRA_HOST} and {ARM_HOST}, port {PORT})",
                    DATA_PLANE_SUFFIXES[0], DATA_PLANE_SUFFIXES[1], DATA_PLANE_SUFFIXES[2]
                ),
            )),
            Some(_) if port != PORT => Err(Refusal::new(
                403,
                format!("'{shown}': the lab emulates {host} on port {PORT} only"),
            )),
            Some(addr) => Ok(addr),
        }
    }
}

/// One DNS label: what a custom subdomain (an account name) can be.
fn is_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// At most 80 printable ASCII characters of something a client sent, for a message.
fn printable(s: &str) -> String {
    s.chars()
        .take(80)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

/// Accepts connections (on a listener from `crate::bind_loopback`) until the returned task is
/// aborted; aborting it also ends every
/// connection it spliced (they live in its `JoinSet`).
pub fn serve(
    listener: std::net::TcpListener,
    routes: Routes,
    log: bool,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    serve_with(listener, routes, log, HEADER_TIMEOUT)
}

/// [`serve`] with another header timeout (the tests' is short).
fn serve_with(
    listener: std::net::TcpListener,
    routes: Routes,
    log: bool,
    header_timeout: Duration,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::from_std(listener)?;
    Ok(tokio::spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((sock, _)) = listener.accept().await {
            while connections.try_join_next().is_some() {}
            connections.spawn(handle(sock, routes, log, header_timeout));
        }
    }))
}

/// One client connection: read the CONNECT, then splice or refuse.
async fn handle(mut client: TcpStream, routes: Routes, log: bool, header_timeout: Duration) {
    let _ = client.set_nodelay(true);
    let (authority, early) = match tokio::time::timeout(header_timeout, read_connect(&mut client)).await {
        Ok(Ok(r)) => r,
        Ok(Err(refusal)) => return refuse(client, &refusal, log).await,
        Err(_) => {
            let r = Refusal::new(
                408,
                format!(
                    "no complete CONNECT request within {:.1}s",
                    header_timeout.as_secs_f64()
                ),
            );
            return refuse(client, &r, log).await;
        }
    };
    let addr = match routes.route(&authority) {
        Ok(a) => a,
        Err(refusal) => return refuse(client, &refusal, log).await,
    };
    let upstream = match tokio::time::timeout(UPSTREAM_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        _ => {
            let r = Refusal::new(
                502,
                format!(
                    "the lab's service for {} did not accept the connection",
                    printable(&authority)
                ),
            );
            return refuse(client, &r, log).await;
        }
    };
    if log {
        eprintln!("[lab proxy] CONNECT {} → {addr}", printable(&authority));
    }
    splice(client, upstream, &early).await;
}

async fn refuse(mut client: TcpStream, refusal: &Refusal, log: bool) {
    if log {
        eprintln!("[lab proxy] refused ({}): {}", refusal.status, refusal.reason);
    }
    let _ = client.write_all(refusal.response().as_bytes()).await;
    let _ = client.shutdown().await;
}

/// `200 Connection established`, then bytes both ways until either side closes. `early`:
/// what the client sent after its header block before it saw the 200.
async fn splice(mut client: TcpStream, mut upstream: TcpStream, early: &[u8]) {
    let _ = upstream.set_nodelay(true);
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    if !early.is_empty() && upstream.write_all(early).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// Reads one header block and returns the CONNECT target and any bytes after the block.
async fn read_connect(client: &mut TcpStream) -> Result<(String, Vec<u8>), Refusal> {
    let too_large = || Refusal::new(431, format!("the request's header block is over {HEADER_LIMIT} bytes"));
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let end = loop {
        if let Some(i) = find_end(&buf) {
            break i;
        }
        if buf.len() > HEADER_LIMIT {
            return Err(too_large());
        }
        let n = client
            .read(&mut chunk)
            .await
            .map_err(|e| Refusal::new(400, format!("reading the request failed: {e}")))?;
        if n == 0 {
            return Err(Refusal::new(400, "the connection closed before a complete request"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if end > HEADER_LIMIT {
        return Err(too_large());
    }
    let authority = parse_connect(&buf[..end])?;
    Ok((authority, buf[end..].to_vec()))
}

/// The index just past the blank line ending the header block.
fn find_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// `CONNECT host:port HTTP/1.x` → `host:port`; anything else is refused.
pub fn parse_connect(head: &[u8]) -> Result<String, Refusal> {
    let text = std::str::from_utf8(head).map_err(|_| Refusal::new(400, "the request is not HTTP (not even text)"))?;
    let line = text.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    let well_formed = parts.next().is_none() && version.is_some_and(|v| v == "HTTP/1.1" || v == "HTTP/1.0");
    match (method, target) {
        (Some("CONNECT"), Some(t)) if well_formed && !t.is_empty() => Ok(t.to_string()),
        (Some(m), _) if well_formed && m != "CONNECT" => Err(Refusal::new(
            400,
            format!(
                "this is an HTTPS proxy for the lab's emulated Azure hosts: it takes only CONNECT, not {}",
                printable(m)
            ),
        )),
        _ => Err(Refusal::new(
            400,
            format!("not an HTTP/1.1 CONNECT request: '{}'", printable(line)),
        )),
    }
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
