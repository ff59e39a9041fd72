//! DNS resolution and reachability of a host, with time limits.

use crate::context::Resolves;
use std::net::IpAddr;
use std::time::Duration;

/// Resolves `host` (honouring `--resolve` overrides); `Err` carries the resolver's words.
pub async fn resolve(host: &str, port: u16, resolves: &Resolves, limit: Duration) -> Result<Vec<IpAddr>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let overridden: Vec<IpAddr> = resolves
        .iter()
        .filter(|(h, _)| h.eq_ignore_ascii_case(host))
        .map(|(_, a)| *a)
        .collect();
    if !overridden.is_empty() {
        return Ok(overridden);
    }
    match tokio::time::timeout(limit, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(addrs)) => {
            let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            ips.dedup();
            if ips.is_empty() {
                Err("no addresses".into())
            } else {
                Ok(ips)
            }
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer within {}",
            crate::diagnose::duration::time_limit(limit)
        )),
    }
}

/// 127.0.0.1, ::1 or localhost: an emulator, a tunnel or a local gateway, where plain
/// http:// is acceptable.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Private (RFC 1918), carrier-grade NAT, or unique-local IPv6: a private endpoint's address.
pub fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses() {
        for a in ["10.0.0.4", "172.16.5.4", "192.168.1.1", "100.64.0.1", "fd00::1"] {
            assert!(is_private(&a.parse().unwrap()), "{a}");
        }
        for a in ["20.42.1.1", "127.0.0.1", "172.32.0.1", "2001:db8::1"] {
            assert!(!is_private(&a.parse().unwrap()), "{a}");
        }
    }

    #[tokio::test]
    async fn overrides_and_literals_need_no_dns() {
        let r = vec![("x.openai.azure.com".to_string(), "127.0.0.1".parse().unwrap())];
        let got = resolve("X.openai.azure.com", 443, &r, Duration::from_millis(10))
            .await
            .unwrap();
        assert_eq!(got, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(
            resolve("[::1]", 443, &[].to_vec(), Duration::from_millis(10))
                .await
                .unwrap()
                .len(),
            1
        );
    }
}
