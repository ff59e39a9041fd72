//! The proxy's routes and refusals, and the proxy itself on 127.0.0.1: a client gets
//! through to the right loopback listener only for an emulated host on port 443, and
//! everything else is answered and closed without a connection onward.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn fixed_routes() -> Routes {
    Routes {
        data_plane: addr(1001),
        entra: addr(1002),
        arm: addr(1003),
    }
}

#[test]
fn the_emulated_hosts_route_to_their_services() {
    let r = fixed_routes();
    for host in [
        "contoso-aoai.openai.azure.com:443",
        "Contoso-AOAI.OpenAI.Azure.com:443",
        "contoso-aoai.openai.azure.com.:443",
        "contoso.cognitiveservices.azure.com:443",
        "contoso.services.ai.azure.com:443",
    ] {
        assert_eq!(r.route(host), Ok(addr(1001)), "{host}");
    }
    assert_eq!(r.route("login.microsoftonline.com:443"), Ok(addr(1002)));
    assert_eq!(r.route("management.azure.com:443"), Ok(addr(1003)));
}

#[test]
fn other_hosts_and_ports_are_forbidden() {
    let r = fixed_routes();
    for target in [
        "example.com:443",
        "openai.azure.com:443",
        ".openai.azure.com:443",
        "a.b.openai.azure.com:443",
        "contoso.openai.azure.com.evil.example:443",
        "evil-openai.azure.com:443",
        "login.microsoftonline.com.evil.example:443",
        "graph.microsoft.com:443",
        "169.254.169.254:443",
        "127.0.0.1:443",
        "[::1]:443",
        "login.microsoftonline.com:80",
        "contoso.openai.azure.com:8443",
    ] {
        let refusal = r.route(target).expect_err(target);
        assert_eq!(refusal.status, 403, "{target}: {refusal:?}");
    }
    assert!(
        r.route("example.com:443")
            .unwrap_err()
            .reason
            .contains("never connects anywhere else")
    );
}

#[test]
fn a_target_without_a_port_is_a_bad_request() {
    let r = fixed_routes();
    for target in [
        "login.microsoftonline.com",
        "management.azure.com:",
        "management.azure.com:https",
    ] {
        assert_eq!(r.route(target).unwrap_err().status, 400, "{target}");
    }
}

#[test]
fn only_a_connect_request_line_is_accepted() {
    let ok = parse_connect(b"CONNECT login.microsoftonline.com:443 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(ok.as_deref(), Ok("login.microsoftonline.com:443"));
    assert!(parse_connect(b"CONNECT a:443 HTTP/1.0\r\n\r\n").is_ok());
    for bad in [
        &b"GET http://login.microsoftonline.com/ HTTP/1.1\r\n\r\n"[..],
        b"CONNECT a:443\r\n\r\n",
        b"CONNECT  a:443 HTTP/1.1\r\n\r\n",
        b"CONNECT a:443 HTTP/2 extra\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    ] {
        let r = parse_connect(bad).expect_err(&String::from_utf8_lossy(bad));
        assert_eq!(r.status, 400);
    }
    assert!(
        parse_connect(b"GET / HTTP/1.1\r\n\r\n")
            .unwrap_err()
            .reason
            .contains("only CONNECT")
    );
}

/// A loopback listener that echoes what it reads and counts the connections it accepted.
async fn echo_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let a = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    (a, accepted)
}

struct Running {
    proxy: SocketAddr,
    accepted: [Arc<AtomicUsize>; 3],
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn onward(&self) -> usize {
        self.accepted.iter().map(|c| c.load(Ordering::SeqCst)).sum()
    }
}

async fn start(header_timeout: Duration) -> Running {
    let (data_plane, a) = echo_server().await;
    let (entra, b) = echo_server().await;
    let (arm, c) = echo_server().await;
    let l = crate::bind_loopback().unwrap();
    let proxy = l.local_addr().unwrap();
    let routes = Routes { data_plane, entra, arm };
    let task = serve_with(l, routes, false, header_timeout).unwrap();
    Running {
        proxy,
        accepted: [a, b, c],
        task,
    }
}

/// Sends `bytes`, then reads until the proxy closes or `limit` passes.
async fn exchange(proxy: SocketAddr, bytes: &[u8], limit: Duration) -> String {
    let mut s = TcpStream::connect(proxy).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_connect_to_an_emulated_host_is_spliced_both_ways() {
    let p = start(HEADER_TIMEOUT).await;
    let mut s = TcpStream::connect(p.proxy).await.unwrap();
    // The first payload bytes ride in the same write as the request: they must not be lost.
    s.write_all(b"CONNECT management.azure.com:443 HTTP/1.1\r\nHost: management.azure.com:443\r\n\r\nhello ")
        .await
        .unwrap();
    s.write_all(b"world").await.unwrap();
    let expected = "HTTP/1.1 200 Connection established\r\n\r\nhello world";
    let mut got = vec![0u8; expected.len()];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&got), expected);
    assert_eq!(
        p.accepted[2].load(Ordering::SeqCst),
        1,
        "ARM's listener got the connection"
    );
    assert_eq!(p.onward(), 1);
    p.task.abort();
}

#[tokio::test]
async fn refusals_answer_close_and_never_connect_onward() {
    let p = start(Duration::from_millis(300)).await;
    let limit = Duration::from_secs(5);
    let cases: [(&[u8], &str); 5] = [
        (b"CONNECT example.com:443 HTTP/1.1\r\n\r\n", "HTTP/1.1 403 Forbidden"),
        (
            b"CONNECT login.microsoftonline.com:80 HTTP/1.1\r\n\r\n",
            "HTTP/1.1 403 Forbidden",
        ),
        (
            b"GET http://login.microsoftonline.com/ HTTP/1.1\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        // Half a request, then silence: the header timeout answers.
        (
            b"CONNECT login.microsoftonline.com:443 HTTP/1.1\r\n",
            "HTTP/1.1 408 Request Timeout",
        ),
    ];
    for (bytes, status) in cases {
        let answer = exchange(p.proxy, bytes, limit).await;
        assert!(
            answer.starts_with(status),
            "{answer:?} for {:?}",
            String::from_utf8_lossy(bytes)
        );
        assert!(answer.contains("aoai-doctor lab proxy:"), "{answer}");
    }
    let mut huge = b"CONNECT login.microsoftonline.com:443 HTTP/1.1\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b"X-Padding: 0123456789abcdef\r\n", 400).flatten());
    huge.extend(b"\r\n");
    let answer = exchange(p.proxy, &huge, limit).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(p.onward(), 0, "a refused request reached a service");
    p.task.abort();
}

#[tokio::test]
async fn a_service_that_is_not_listening_is_a_bad_gateway() {
    let l = crate::bind_loopback().unwrap();
    let proxy = l.local_addr().unwrap();
    let closed = {
        let c = crate::bind_loopback().unwrap();
        c.local_addr().unwrap()
    };
    let routes = Routes {
        data_plane: closed,
        entra: closed,
        arm: closed,
    };
    let task = serve(l, routes, false).unwrap();
    let answer = exchange(
        proxy,
        b"CONNECT contoso.openai.azure.com:443 HTTP/1.1\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 502 Bad Gateway"), "{answer}");
    task.abort();
}

/// A real HTTPS client through the proxy: the lab's certificate must carry the public names,
/// and an unknown host must fail at the proxy.
#[tokio::test]
async fn https_clients_reach_the_lab_by_public_name_and_nothing_else() {
    let tls = crate::tls::generate().unwrap();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(tls.cert_pem.into_bytes(), tls.key_pem.into_bytes())
        .await
        .unwrap();
    let service = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    service.set_nonblocking(true).unwrap();
    let service_addr = service.local_addr().unwrap();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "emulated" }));
    let server = axum_server::from_tcp_rustls(service, config).unwrap();
    let server = tokio::spawn(async move {
        let _ = server.serve(app.into_make_service()).await;
    });
    let l = crate::bind_loopback().unwrap();
    let proxy = l.local_addr().unwrap();
    let routes = Routes {
        data_plane: service_addr,
        entra: service_addr,
        arm: service_addr,
    };
    let task = serve(l, routes, false).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(tls.ca_pem.as_bytes()).unwrap())
        .proxy(reqwest::Proxy::https(format!("http://{proxy}")).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for url in [
        "https://contoso-aoai.openai.azure.com/",
        "https://contoso-aoai.services.ai.azure.com/",
        "https://contoso-aoai.cognitiveservices.azure.com/",
        "https://login.microsoftonline.com/",
        "https://management.azure.com/",
    ] {
        let resp = client.get(url).send().await.unwrap_or_else(|e| panic!("{url}: {e:?}"));
        assert_eq!(resp.text().await.unwrap(), "emulated", "{url}");
    }
    // The proxy refuses the tunnel (its 403 is checked byte for byte above; reqwest only
    // says the tunnel failed).
    let err = client.get("https://example.com/").send().await.unwrap_err();
    assert!(format!("{err:?}").contains("TunnelUnsuccessful"), "{err:?}");
    task.abort();
    server.abort();
}
