//! Against an IMDS stand-in on 127.0.0.1 that records when each token request arrives and
//! when it is answered.

use super::*;
use crate::azure::az_tokens::AzTokens;
use crate::checks::test_support::context;
use crate::context::Cloud;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// (request line, arrived, answered), per token request.
type Log = Arc<Mutex<Vec<(String, Instant, Instant)>>>;

/// Answers every request with an IMDS token after `delay`, one connection per request.
async fn imds(delay: Duration) -> (url::Url, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let log: Log = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 2048];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let arrived = Instant::now();
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                tokio::time::sleep(delay).await;
                let body = r#"{"access_token":"not-a-real-token","expires_on":"1767229200"}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                seen.lock().unwrap().push((line, arrived, Instant::now()));
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    (base, log)
}

fn imds_config() -> CredentialConfig {
    CredentialConfig::ManagedIdentity {
        source: MiSource::Imds,
        client_id: None,
    }
}

#[tokio::test]
async fn the_arm_token_is_requested_beside_the_data_plane_one_and_once() {
    let (base, log) = imds(Duration::from_millis(300)).await;
    let mut ctx = context();
    ctx.endpoints.imds = base;
    ctx.az_tokens = AzTokens::new(Some(Cloud::AzureCloud.arm_scope()));
    let config = imds_config();
    ctx.early.start_arm_token(&ctx, &config);
    let data = credentials::acquire(&ctx, &config, &Cloud::AzureCloud.default_scope()).await;
    let arm = credentials::acquire(&ctx, &config, &Cloud::AzureCloud.arm_scope()).await;
    assert!(data.is_ok() && arm.is_ok(), "{data:?} {arm:?}");
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2, "two token requests in all: {log:?}");
    let (first, second) = (&log[0], &log[1]);
    assert!(
        second.1 < first.2,
        "the second arrived before the first was answered: {log:?}"
    );
    let resources: Vec<bool> = log.iter().map(|(l, _, _)| l.contains("management.azure.com")).collect();
    assert_eq!(resources.iter().filter(|arm| **arm).count(), 1, "{log:?}");
}

#[tokio::test]
async fn nothing_starts_early_when_no_check_needs_arm() {
    let (base, log) = imds(Duration::ZERO).await;
    let mut ctx = context();
    ctx.endpoints.imds = base;
    ctx.early.start_arm_token(&ctx, &imds_config());
    ctx.early.start_arm_connection(&ctx);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(log.lock().unwrap().is_empty());
    assert!(ctx.early.arm.get().is_none(), "no ARM client was even built");
}

#[tokio::test]
async fn the_arm_connection_opens_without_a_request_and_the_first_arm_call_uses_it() {
    let (base, log) = imds(Duration::ZERO).await;
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // A proxy-free count of connections: a listener in front of the stand-in.
    let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let arm = url::Url::parse(&format!("http://{}/", front.local_addr().unwrap())).unwrap();
    let (count, target) = (connections.clone(), base.socket_addrs(|| None).unwrap()[0]);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = front.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let mut ctx = context();
    ctx.endpoints.arm = arm.clone();
    ctx.http = reqwest::Client::builder().no_proxy().build().unwrap();
    ctx.az_tokens = AzTokens::new(Some(Cloud::AzureCloud.arm_scope()));
    ctx.early.start_arm_connection(&ctx);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(log.lock().unwrap().is_empty(), "no request yet");
    let answer = ctx
        .early
        .arm_client(&ctx)
        .get(arm.join("subscriptions").unwrap())
        .send()
        .await;
    assert_eq!(answer.unwrap().status(), 200);
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the same connection"
    );
    assert_eq!(log.lock().unwrap().len(), 1);
}
