//! Does an HTTP proxy carry a request to this URL? Decided by the same matcher the HTTP client
//! uses (hyper-util's, curl's rules for `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`…), read from the
//! run's environment, so the endpoint check never second-guesses the client. Behind a proxy
//! the proxy resolves the host, not this machine: resolving it here would report "does not
//! resolve" for a setup that works (corporate networks often have no public DNS at all).

use crate::context::Environment;
use url::Url;

/// The proxy a request to a URL goes through: only the variable's name, because the value
/// may carry a user name and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRoute {
    pub variable: &'static str,
}

const HTTPS_VARS: [&str; 4] = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
const HTTP_VARS: [&str; 4] = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

/// The proxy that carries a request to `url`, or `None` when it goes direct (no proxy set,
/// or `NO_PROXY` excludes the host).
pub fn route(url: &Url, env: &dyn Environment) -> Option<ProxyRoute> {
    let first = |names: &[&str]| names.iter().find_map(|n| env.var_set(n));
    let matcher = hyper_util::client::proxy::matcher::Matcher::builder()
        .https(first(&HTTPS_VARS[..2]).unwrap_or_default())
        .http(first(&HTTP_VARS[..2]).unwrap_or_default())
        .all(first(&HTTPS_VARS[2..]).unwrap_or_default())
        .no(first(&["NO_PROXY", "no_proxy"]).unwrap_or_default())
        .build();
    let uri: http::Uri = url.as_str().parse().ok()?;
    matcher.intercept(&uri)?;
    let names: &[&'static str] = if url.scheme() == "https" {
        &HTTPS_VARS
    } else {
        &HTTP_VARS
    };
    let variable = names.iter().copied().find(|n| env.var_set(n).is_some())?;
    Some(ProxyRoute { variable })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::FakeEnvironment;

    fn url(u: &str) -> Url {
        Url::parse(u).unwrap()
    }

    #[test]
    fn https_proxy_carries_https_and_names_its_variable() {
        let env = FakeEnvironment::default().var("HTTPS_PROXY", "http://user:pw@proxy.corp:3128");
        let r = route(&url("https://contoso.openai.azure.com/"), &env).unwrap();
        assert_eq!(r.variable, "HTTPS_PROXY");
        // Plain http is not carried by HTTPS_PROXY.
        assert_eq!(route(&url("http://127.0.0.1:8080/"), &env), None);
    }

    #[test]
    fn no_proxy_excludes_a_domain_and_its_subdomains() {
        let env = FakeEnvironment::default()
            .var("https_proxy", "http://proxy.corp:3128")
            .var("NO_PROXY", "localhost, .azure.com");
        assert_eq!(route(&url("https://contoso.openai.azure.com/"), &env), None);
        let r = route(&url("https://example.org/"), &env).unwrap();
        assert_eq!(r.variable, "https_proxy");
    }

    #[test]
    fn all_proxy_counts_and_blank_values_do_not() {
        let env = FakeEnvironment::default().var("ALL_PROXY", "http://proxy.corp:3128");
        assert_eq!(
            route(&url("https://a.openai.azure.com/"), &env).unwrap().variable,
            "ALL_PROXY"
        );
        let blank = FakeEnvironment::default().var("HTTPS_PROXY", "  ");
        assert_eq!(route(&url("https://a.openai.azure.com/"), &blank), None);
        assert_eq!(
            route(&url("https://a.openai.azure.com/"), &FakeEnvironment::default()),
            None
        );
    }
}
