//! For unit tests: an HTTP/1.1 server on 127.0.0.1 that counts what really arrives
//! (connections, bytes, request heads), shared by the HTTP client's and the preconnect's tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Default)]
pub struct Seen {
    pub connections: AtomicUsize,
    pub bytes: AtomicUsize,
    pub requests: AtomicUsize,
    /// The first line of the last request head (its target shows absolute-form via a proxy).
    pub last_line: Mutex<String>,
}

/// A keep-alive HTTP/1.1 server answering `{}` to every request head; also answers as a
/// plain-HTTP proxy does (absolute-form targets).
pub async fn server() -> (String, Arc<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let counts = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counts.connections.fetch_add(1, Ordering::SeqCst);
            let counts = counts.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut pending = Vec::new();
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    counts.bytes.fetch_add(n, Ordering::SeqCst);
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&pending[..end]).to_string();
                        pending.drain(..end + 4);
                        *counts.last_line.lock().unwrap() = head.lines().next().unwrap_or_default().into();
                        counts.requests.fetch_add(1, Ordering::SeqCst);
                        let reply = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                        if s.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (base, seen)
}
