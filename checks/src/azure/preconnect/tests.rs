//! Against HTTP servers on 127.0.0.1 that count what really arrives: connections, bytes and
//! request heads.

use super::super::test_server::server;
use super::*;
use std::sync::atomic::Ordering;

fn client(layer: &Preconnect, proxy: Option<&str>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .connector_layer(layer.clone());
    b = match proxy {
        Some(p) => b.proxy(reqwest::Proxy::http(p).unwrap()),
        None => b.no_proxy(),
    };
    b.build().unwrap()
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(150)).await;
}

#[tokio::test]
async fn a_warm_up_opens_one_connection_sends_nothing_and_the_next_request_uses_it() {
    let (base, seen) = server().await;
    let layer = Preconnect::new(Duration::from_secs(5));
    let http = client(&layer, None);
    assert!(layer.warm_up(&http, url::Url::parse(&base).unwrap()));
    settle().await;
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    assert_eq!(
        seen.bytes.load(Ordering::SeqCst),
        0,
        "the warm-up must not write a byte"
    );
    assert!(layer.lock().parked.len() == 1);
    for path in ["a", "b"] {
        let body = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "{}");
    }
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        1,
        "the requests took the early connection"
    );
    assert_eq!(seen.requests.load(Ordering::SeqCst), 2);
    assert!(layer.lock().parked.is_empty());
}

#[tokio::test]
async fn another_destination_does_not_take_the_early_connection() {
    let (warm_base, warm) = server().await;
    let (other_base, other) = server().await;
    let layer = Preconnect::new(Duration::from_secs(5));
    let http = client(&layer, None);
    assert!(layer.warm_up(&http, url::Url::parse(&warm_base).unwrap()));
    let body = http
        .get(format!("{other_base}x"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "{}");
    settle().await;
    assert_eq!(other.connections.load(Ordering::SeqCst), 1);
    assert_eq!(other.requests.load(Ordering::SeqCst), 1);
    assert_eq!(warm.connections.load(Ordering::SeqCst), 1);
    assert_eq!(warm.requests.load(Ordering::SeqCst), 0);
    assert_eq!(layer.lock().parked.len(), 1, "still waiting for its own destination");
}

#[tokio::test]
async fn through_a_proxy_the_warm_up_connects_to_the_proxy_and_the_request_goes_through_it() {
    let (proxy, seen) = server().await;
    let layer = Preconnect::new(Duration::from_secs(5));
    let http = client(&layer, Some(&proxy));
    let target = "http://arm.invalid/";
    assert!(layer.warm_up(&http, url::Url::parse(target).unwrap()));
    settle().await;
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    assert_eq!(seen.bytes.load(Ordering::SeqCst), 0);
    let body = http
        .get(format!("{target}subscriptions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "{}");
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.last_line.lock().unwrap(),
        "GET http://arm.invalid/subscriptions HTTP/1.1"
    );
}

#[tokio::test]
async fn a_failed_early_connect_is_the_next_requests_error_and_does_not_hang() {
    // A port nobody listens on: bind, note, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/");
    let layer = Preconnect::new(Duration::from_secs(5));
    let http = client(&layer, None);
    assert!(layer.warm_up(&http, url::Url::parse(&base).unwrap()));
    let got = tokio::time::timeout(Duration::from_secs(5), http.get(&base).send()).await;
    let err = got.expect("no hang").expect_err("nothing listens there");
    assert!(err.is_connect(), "{err:?}");
}

#[tokio::test]
async fn a_connection_left_unused_too_long_is_replaced_by_a_fresh_one() {
    let (base, seen) = server().await;
    let layer = Preconnect::with_max_idle(Duration::from_secs(5), Duration::from_millis(100));
    let http = client(&layer, None);
    assert!(layer.warm_up(&http, url::Url::parse(&base).unwrap()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = http
        .get(format!("{base}late"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "{}");
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2, "the stale one was not used");
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
}
