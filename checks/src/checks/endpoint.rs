//! `endpoint`: is the endpoint a custom-subdomain URL that accepts Entra ID tokens, which
//! surface does it address (resource root, v1 base URL, Foundry project, model inference, agent
//! application: see [`crate::surface`]), and can we reach it (DNS, then TLS)?

use super::Check;
use super::Outcome;
use crate::azure::reachability::{self, Reachability, Resolution, RootAnswer};
use crate::azure::{http, net};
use crate::codes;
use crate::context::{Cloud, RunContext};
use crate::facts::{EndpointFacts, Fact, Facts};
use crate::model::{Finding, Judgement, Status};
use crate::surface::{self, Surface};
use async_trait::async_trait;
use serde_json::json;
use url::Url;

pub struct EndpointCheck;

#[async_trait]
impl Check for EndpointCheck {
    fn id(&self) -> &'static str {
        "endpoint"
    }
    fn title(&self) -> &'static str {
        "Endpoint accepts Entra ID tokens"
    }
    fn provides(&self) -> &'static [Fact] {
        &[Fact::Endpoint]
    }
    async fn run(&self, ctx: &RunContext, _facts: &Facts) -> Outcome {
        let Some(url) = &ctx.target.endpoint else {
            return Outcome::new(missing());
        };
        let mut shape = judge_shape(url, ctx.target.cloud);
        shape.source = ctx.target.endpoint_source.clone();
        // The plain OpenAI client on /openai/v1 sends no api-version; neither does the probe.
        shape.api_version_ignored =
            shape.surface.as_ref().is_some_and(Surface::is_v1) && ctx.env.var_set("OPENAI_API_VERSION").is_some();
        if !shape.reachable_worth_checking() {
            return Outcome::new(judge(url, &shape, None));
        }
        // Shorter than the check's own limit, so a hanging endpoint is reported as such.
        let limit = ctx.timeouts.http.min(ctx.timeouts.check.mul_f64(0.8));
        let reach = reachability::reach(
            &ctx.http,
            &shape.base,
            &shape.host,
            &ctx.resolves,
            crate::azure::proxy::route(&shape.base, ctx.env.as_ref()),
            ctx.timeouts.dns,
            limit,
        )
        .await;
        let judgement = judge(url, &shape, Some(&reach));
        let facts = Facts {
            endpoint: (judgement.status != Status::Fail).then(|| shape.facts()),
            ..Default::default()
        };
        Outcome::with_facts(judgement, facts)
    }
}

fn missing() -> Judgement {
    Judgement::new(Status::Fail, "no endpoint given").finding(
        Finding::error(&codes::ENDPOINT_MISSING, "No Azure OpenAI endpoint was given.")
            .fix("Pass the endpoint the app is configured with (--endpoint: AzureOpenAI's azure_endpoint, OpenAI's base_url, AIProjectClient's endpoint), or set AZURE_OPENAI_ENDPOINT, OPENAI_BASE_URL or AZURE_AI_PROJECT_ENDPOINT / PROJECT_ENDPOINT.")
            .command("aoai-doctor --endpoint https://YOUR-RESOURCE.openai.azure.com/")
            .command("az cognitiveservices account show -n YOUR-RESOURCE -g YOUR-RG --query properties.endpoint -o tsv"),
    )
}

/// The pure judge: the URL's shape, and what DNS and the HTTPS request found (`None` when
/// the shape alone decides).
pub fn judge(url: &Url, shape: &Shape, reach: Option<&Reachability>) -> Judgement {
    let mut findings = shape.findings.clone();
    let mut evidence = json!({
        "endpoint": url.as_str(),
        "host": shape.host,
        "host_kind": shape.kind.as_str(),
        "subdomain": shape.subdomain,
        "surface": shape.surface.as_ref().map(Surface::id),
        "surface_description": shape.surface.as_ref().map(Surface::describe),
        "endpoint_source": shape.source,
    });
    if shape.api_version_ignored {
        evidence["openai_api_version"] = json!("ignored: the v1 API takes no api-version");
    }
    let Some(reach) = reach else {
        let status = Judgement::status_from(&findings);
        return Judgement::new(status, shape.summary())
            .with_findings(findings)
            .evidence(evidence);
    };
    let (addrs, proxy): (&[std::net::IpAddr], bool) = match &reach.dns {
        Resolution::Addresses(a) => (a, false),
        Resolution::ByProxy { route, here } => {
            // Only the variable's name: its value may carry a password.
            evidence["dns"] = json!({ "by_proxy": route.variable });
            if let Some(here) = here {
                evidence["dns"]["addresses_here"] = json!(here.iter().map(|a| a.to_string()).collect::<Vec<_>>());
            }
            (here.as_deref().unwrap_or_default(), true)
        }
        Resolution::Failed(why) => {
            evidence["dns"] = json!({ "error": why });
            findings.push(dns_failed(shape, why));
            return Judgement::new(Status::Fail, format!("{} does not resolve", shape.host))
                .with_findings(findings)
                .evidence(evidence);
        }
    };
    if !proxy {
        evidence["dns"] = json!({ "addresses": addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>() });
    }
    if let Some(private) = addrs.iter().find(|a| net::is_private(a)) {
        let whose = if proxy {
            " here (the proxy resolves it for the request)"
        } else {
            ""
        };
        findings.push(
            Finding::info(
                &codes::ENDPOINT_PRIVATE_ADDRESS,
                format!("{} resolves{whose} to {private}, a private endpoint address.", shape.host),
            )
            .fix("That works only from inside the virtual network (or over VPN / peering). From elsewhere the public address must be allowed, or run this from inside the network."),
        );
    }
    match &reach.root {
        Some(RootAnswer::Status(status)) => {
            evidence["tls"] = json!({ "ok": shape.base.scheme() == "https", "root_status": status });
        }
        Some(RootAnswer::Failed { kind, chain }) => {
            evidence["connect_error"] = json!(chain);
            let public = !addrs.iter().any(net::is_private);
            findings.push(unreachable(shape, kind, chain, proxy, public));
        }
        None => {}
    }
    let status = Judgement::status_from(&findings);
    let summary = if status == Status::Pass || status == Status::Warn {
        let via = if proxy { " through the proxy" } else { "" };
        format!("{}, reachable{via}{}", shape.named(), shape.from())
    } else {
        findings
            .iter()
            .find(|f| f.severity == crate::model::Severity::Error)
            .map(|f| f.message.clone())
            .unwrap_or_default()
    };
    Judgement::new(status, summary)
        .with_findings(findings)
        .evidence(evidence)
}

/// What kind of host the endpoint names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// `NAME.openai.azure.com` and friends: accepts Entra ID tokens.
    CustomSubdomain,
    /// `REGION.api.cognitive.microsoft.com`: keys only.
    Regional,
    /// `api.openai.com`.
    OpenAi,
    /// 127.0.0.1, ::1, localhost: an emulator, a tunnel or a local gateway.
    Loopback,
    /// Anything else (a gateway such as APIM, a private DNS alias).
    Other,
}

impl HostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HostKind::CustomSubdomain => "custom-subdomain",
            HostKind::Regional => "regional",
            HostKind::OpenAi => "openai",
            HostKind::Loopback => "loopback",
            HostKind::Other => "other",
        }
    }
}

/// The pure part: what the URL's shape says, before any network call.
#[derive(Debug, Clone)]
pub struct Shape {
    pub host: String,
    pub kind: HostKind,
    pub subdomain: Option<String>,
    pub base: Url,
    /// The surface the path addresses; `None` for a path no client is configured with.
    pub surface: Option<Surface>,
    /// Where the endpoint came from (`--endpoint`, `OPENAI_BASE_URL`, …), when known.
    pub source: Option<String>,
    /// The endpoint as given (no credentials), what the surface's call base derives from.
    pub url: Url,
    /// OPENAI_API_VERSION is set but the surface takes no api-version (said in the evidence).
    pub api_version_ignored: bool,
    pub findings: Vec<Finding>,
}

impl Shape {
    fn reachable_worth_checking(&self) -> bool {
        !matches!(self.kind, HostKind::Regional | HostKind::OpenAi)
            && !self.findings.iter().any(|f| f.code == &codes::ENDPOINT_INSECURE_HTTP)
    }
    fn summary(&self) -> String {
        self.findings
            .iter()
            .find(|f| f.severity == crate::model::Severity::Error)
            .map(|f| f.message.clone())
            .unwrap_or_else(|| format!("{}{}", self.named(), self.from()))
    }
    /// `host (kind)`, and the surface unless it is the classic resource root.
    fn named(&self) -> String {
        match &self.surface {
            None | Some(Surface::ResourceRoot) => format!("{} ({})", self.host, self.kind.as_str()),
            Some(s) => format!("{} ({}), {}", self.host, self.kind.as_str(), s.describe()),
        }
    }
    /// ` (from OPENAI_BASE_URL)` when an environment variable gave the endpoint.
    fn from(&self) -> String {
        match self.source.as_deref() {
            Some(s) if s != "--endpoint" => format!(" (from {s})"),
            _ => String::new(),
        }
    }
    fn facts(&self) -> EndpointFacts {
        let surface = self.surface.clone().unwrap_or(Surface::ResourceRoot);
        EndpointFacts {
            base: self.base.clone(),
            host: self.host.clone(),
            subdomain: self.subdomain.clone(),
            loopback: self.kind == HostKind::Loopback,
            call_base: surface.call_base(&self.url),
            surface,
        }
    }
}

/// Judges the endpoint URL's shape for the given cloud.
pub fn judge_shape(url: &Url, cloud: Cloud) -> Shape {
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let loopback = net::is_loopback(url);
    let base = surface::resource_root(url);
    let mut given = url.clone();
    let _ = given.set_username("");
    let _ = given.set_password(None);
    let surface = Surface::of(url);

    let (kind, subdomain, mut findings) = host_kind(&host, loopback, cloud, &base);
    if url.scheme() == "http" && !loopback {
        findings.push(
            Finding::error(
                &codes::ENDPOINT_INSECURE_HTTP,
                format!("{url} uses plain http://; a bearer token would travel unencrypted."),
            )
            .fix("Use https://.")
            .command(format!(
                "aoai-doctor --endpoint {}",
                url.as_str().replacen("http://", "https://", 1)
            )),
        );
    }
    if surface.is_none() {
        findings.extend(pasted_path(url, &base));
    }
    Shape {
        host,
        kind,
        subdomain,
        base,
        surface,
        source: None,
        url: given,
        api_version_ignored: false,
        findings,
    }
}

/// What kind of host it is, its custom subdomain, and what is wrong with it.
fn host_kind(host: &str, loopback: bool, cloud: Cloud, base: &Url) -> (HostKind, Option<String>, Vec<Finding>) {
    if loopback {
        return (HostKind::Loopback, None, vec![]);
    }
    if host == "api.openai.com" {
        let f = Finding::error(&codes::ENDPOINT_NOT_AZURE_OPENAI, "api.openai.com is OpenAI's own service, not Azure OpenAI; it does not accept Entra ID tokens.")
            .fix("Use your Azure OpenAI resource's endpoint, https://YOUR-RESOURCE.openai.azure.com/ (portal → resource → Keys and Endpoint).")
            .command("az cognitiveservices account list --query \"[?kind=='OpenAI' || kind=='AIServices'].{name:name, endpoint:properties.endpoint}\" -o table");
        return (HostKind::OpenAi, None, vec![f]);
    }
    if let Some(region) = regional_region(host) {
        let f = Finding::error(
            &codes::ENDPOINT_REGIONAL,
            format!("{host} is a regional endpoint ({region}); Entra ID tokens are only accepted on the resource's custom-subdomain endpoint."),
        )
        .fix("Use the endpoint with your resource's custom subdomain. If the resource has none yet, add one (this cannot be undone) and use https://NAME.cognitiveservices.azure.com/.")
        .command("az cognitiveservices account show -n YOUR-RESOURCE -g YOUR-RG --query properties.endpoint -o tsv")
        .command("az cognitiveservices account update -n YOUR-RESOURCE -g YOUR-RG --custom-domain YOUR-RESOURCE");
        return (HostKind::Regional, None, vec![f]);
    }
    if let Some((name, found_cloud)) = custom_subdomain(host) {
        let mut findings = vec![];
        if found_cloud != cloud {
            findings.push(
                Finding::warning(
                    &codes::ENDPOINT_CLOUD_MISMATCH,
                    format!(
                        "{host} belongs to {}, but the doctor targets {}.",
                        found_cloud.name(),
                        cloud.name()
                    ),
                )
                .fix("Pass the matching --cloud so tokens, ARM and scopes come from the right cloud.")
                .command(format!("aoai-doctor --cloud {} --endpoint {base}", found_cloud.name())),
            );
        }
        return (HostKind::CustomSubdomain, Some(name), findings);
    }
    let f = Finding::warning(&codes::ENDPOINT_UNRECOGNIZED_HOST, format!("{host} is not an Azure OpenAI host name."))
        .fix("Fine for a gateway (API Management) or a private DNS alias; the token must still be for https://cognitiveservices.azure.com and the principal needs a role on the resource behind it.");
    (HostKind::Other, None, vec![f])
}

/// A path or query pasted into the endpoint (SDKs add `/openai/...` themselves).
fn pasted_path(url: &Url, base: &Url) -> Option<Finding> {
    let path = url.path().trim_end_matches('/');
    if path.is_empty() && url.query().is_none() {
        return None;
    }
    let mut f = Finding::error(
        &codes::ENDPOINT_HAS_PATH,
        format!("The endpoint carries a path ({}); SDKs add /openai/... themselves, so requests would go to the wrong URL and end in 404.", url.path()),
    )
    .fix(format!("Use the bare endpoint {base} and pass the deployment name separately; the plain OpenAI client takes the v1 base URL {base}openai/v1/ and AIProjectClient its project endpoint {base}api/projects/PROJECT."));
    let deployment = deployment_from_path(url.path());
    let mut cmd = format!("aoai-doctor --endpoint {base}");
    if let Some(d) = &deployment {
        cmd.push_str(&format!(" --deployment {d}"));
    }
    f = f.command(cmd);
    if let Some(d) = deployment {
        f = f.command(format!(
            "export AZURE_OPENAI_ENDPOINT={base} AZURE_OPENAI_DEPLOYMENT={d}"
        ));
    }
    Some(f)
}

/// `eastus.api.cognitive.microsoft.com` → `eastus` (and the sovereign variants).
fn regional_region(host: &str) -> Option<&str> {
    [
        ".api.cognitive.microsoft.com",
        ".api.cognitive.microsoft.us",
        ".api.cognitive.azure.cn",
    ]
    .iter()
    .find_map(|suffix| host.strip_suffix(suffix))
    .filter(|r| !r.is_empty() && !r.contains('.'))
}

/// `NAME.openai.azure.com` → (`NAME`, cloud).
fn custom_subdomain(host: &str) -> Option<(String, Cloud)> {
    Cloud::ALL.iter().find_map(|c| {
        c.endpoint_suffixes().iter().find_map(|suffix| {
            host.strip_suffix(suffix)
                .filter(|n| !n.is_empty() && !n.contains('.'))
                .map(|n| (n.to_string(), *c))
        })
    })
}

/// `/openai/deployments/gpt-4o/chat/completions` → `gpt-4o`.
fn deployment_from_path(path: &str) -> Option<String> {
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    while let Some(p) = parts.next() {
        if p == "deployments" {
            return parts.next().map(|d| d.to_string());
        }
    }
    None
}

fn dns_failed(shape: &Shape, why: &str) -> Finding {
    let mut f = Finding::error(
        &codes::ENDPOINT_DNS_FAILED,
        format!("{} does not resolve ({why}).", shape.host),
    );
    f = match &shape.subdomain {
        Some(name) => f
            .fix(format!("Check the resource name `{name}` for a typo and that the resource still exists; behind a proxy or on a VPN, check that DNS works here."))
            .command(format!("az cognitiveservices account list --query \"[?properties.customSubDomainName=='{name}'].{{name:name, endpoint:properties.endpoint}}\" -o table")),
        None => f.fix("Check the host name for a typo, and that DNS works from this machine (proxy, VPN, private DNS zone)."),
    };
    f.command(format!("nslookup {}", shape.host))
}

fn unreachable(shape: &Shape, kind: &http::Failure, chain: &str, proxy: bool, public: bool) -> Finding {
    use http::Failure::*;
    let host = &shape.host;
    match kind {
        TlsUntrusted => Finding::error(
            &codes::ENDPOINT_TLS_UNTRUSTED,
            format!("The TLS certificate presented for {host} is not trusted ({chain})."),
        )
        .fix("A proxy or security appliance is probably inspecting TLS. Get its root CA from your IT team and pass it; the SDKs need it too (REQUESTS_CA_BUNDLE for azure-identity, SSL_CERT_FILE for openai, NODE_EXTRA_CA_CERTS for Node).")
        .command("aoai-doctor --ca-cert /path/to/corporate-root-ca.pem")
        .command("export SSL_CERT_FILE=/path/to/corporate-root-ca.pem REQUESTS_CA_BUNDLE=/path/to/corporate-root-ca.pem"),
        TlsNameMismatch | TlsOther => Finding::error(
            &codes::ENDPOINT_TLS_FAILED,
            format!("The TLS handshake with {host} failed ({chain})."),
        )
        .fix("The certificate does not match the host, or something between you and Azure speaks TLS badly (a proxy, a captive portal). Check the URL and your proxy settings."),
        _ => {
            let mut text = String::from(match kind {
                Timeout => "The connection timed out",
                Refused => "The connection was refused",
                Reset => "The connection was reset",
                _ => "The connection failed",
            });
            text.push_str(&format!(" ({chain})."));
            let mut fix = String::new();
            if proxy {
                fix.push_str("An HTTPS proxy is configured: check that it allows this host, or exclude it with NO_PROXY. ");
            }
            if public {
                fix.push_str("If the resource allows only selected networks or private endpoints, this machine is outside them: add its address to the resource's firewall, or run from inside the virtual network.");
            } else {
                fix.push_str("The host resolves to a private endpoint: connect from inside its virtual network (or VPN) and check NSG / firewall rules.");
            }
            Finding::error(&codes::ENDPOINT_UNREACHABLE, format!("{host}: {text}"))
                .fix(fix)
                .command("az cognitiveservices account show -n YOUR-RESOURCE -g YOUR-RG --query \"{publicNetworkAccess:properties.publicNetworkAccess, networkAcls:properties.networkAcls}\"")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(u: &str) -> Shape {
        judge_shape(&Url::parse(u).unwrap(), Cloud::AzureCloud)
    }
    fn codes_of(s: &Shape) -> Vec<&'static str> {
        s.findings.iter().map(|f| f.code.id).collect()
    }

    #[test]
    fn custom_subdomains_pass_in_every_cloud_form() {
        for u in [
            "https://contoso.openai.azure.com/",
            "https://contoso.cognitiveservices.azure.com",
            "https://contoso.services.ai.azure.com/",
            "https://CONTOSO.openai.azure.com./",
        ] {
            let s = shape(u);
            assert_eq!(s.kind, HostKind::CustomSubdomain, "{u}");
            assert!(s.findings.is_empty(), "{u}: {:?}", codes_of(&s));
            assert_eq!(s.subdomain.as_deref(), Some("contoso"));
        }
        let gov = shape("https://contoso.openai.azure.us/");
        assert_eq!(codes_of(&gov), vec!["endpoint-cloud-mismatch"]);
        let gov_ok = judge_shape(
            &Url::parse("https://contoso.openai.azure.us/").unwrap(),
            Cloud::AzureUsGovernment,
        );
        assert!(gov_ok.findings.is_empty());
    }

    #[test]
    fn regional_endpoint_fails_with_custom_domain_fix() {
        let s = shape("https://eastus.api.cognitive.microsoft.com/");
        assert_eq!(s.kind, HostKind::Regional);
        assert_eq!(codes_of(&s), vec!["endpoint-regional"]);
        let f = &s.findings[0];
        assert!(f.message.contains("eastus"));
        assert!(f.remediation.commands.iter().any(|c| c.contains("--custom-domain")));
        assert!(!s.reachable_worth_checking());
    }

    #[test]
    fn pasted_path_is_flagged_with_the_value_to_use() {
        let s =
            shape("https://contoso.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21");
        assert_eq!(codes_of(&s), vec!["endpoint-has-path"]);
        let cmds = &s.findings[0].remediation.commands;
        assert!(
            cmds[0].contains("--endpoint https://contoso.openai.azure.com/ --deployment gpt-4o"),
            "{cmds:?}"
        );
    }

    #[test]
    fn todays_surfaces_are_named_not_pasted_paths() {
        for (u, id) in [
            ("https://contoso.openai.azure.com/openai/v1/", "v1"),
            ("https://contoso.openai.azure.com/openai/v1", "v1"),
            (
                "https://contoso.services.ai.azure.com/api/projects/chat-proj",
                "project",
            ),
            (
                "https://contoso.services.ai.azure.com/api/projects/p/openai/v1",
                "project-v1",
            ),
            ("https://contoso.services.ai.azure.com/models", "model-inference"),
            (
                "https://contoso.services.ai.azure.com/api/projects/p/applications/a/protocols/openai",
                "agent-application",
            ),
        ] {
            let s = shape(u);
            assert!(s.findings.is_empty(), "{u}: {:?}", codes_of(&s));
            assert_eq!(s.surface.as_ref().map(Surface::id), Some(id), "{u}");
            assert_eq!(s.facts().surface.id(), id);
        }
        let s = shape("https://contoso.services.ai.azure.com/api/projects/chat-proj/");
        assert_eq!(
            s.facts().call_base.as_str(),
            "https://contoso.services.ai.azure.com/api/projects/chat-proj/openai/v1"
        );
        let url = Url::parse("https://contoso.openai.azure.com/openai/v1/").unwrap();
        let j = judge(&url, &s_with_source(&url, "OPENAI_BASE_URL"), None);
        assert_eq!(
            j.summary,
            "contoso.openai.azure.com (custom-subdomain), v1 base URL (from OPENAI_BASE_URL)"
        );
        assert_eq!(j.evidence["endpoint_source"], "OPENAI_BASE_URL");
        // A path no client is configured with is still pasted by mistake.
        assert_eq!(
            codes_of(&shape("https://contoso.openai.azure.com/openai/v1/chat/completions")),
            vec!["endpoint-has-path"]
        );
    }

    fn s_with_source(url: &Url, source: &str) -> Shape {
        let mut s = judge_shape(url, Cloud::AzureCloud);
        s.source = Some(source.into());
        s
    }

    #[test]
    fn plain_http_fails_unless_loopback() {
        assert_eq!(
            codes_of(&shape("http://contoso.openai.azure.com/")),
            vec!["endpoint-insecure-http"]
        );
        let local = shape("http://127.0.0.1:8080/");
        assert_eq!(local.kind, HostKind::Loopback);
        assert!(local.findings.is_empty());
        assert_eq!(shape("http://localhost:1/").kind, HostKind::Loopback);
        assert_eq!(shape("https://[::1]:1/").kind, HostKind::Loopback);
    }

    #[test]
    fn other_hosts() {
        assert_eq!(
            codes_of(&shape("https://api.openai.com/v1")),
            vec!["endpoint-not-azure-openai", "endpoint-has-path"]
        );
        assert_eq!(
            codes_of(&shape("https://my-apim.azure-api.net/")),
            vec!["endpoint-unrecognized-host"]
        );
        // A dotted "subdomain" is not a resource name.
        assert_eq!(shape("https://a.b.openai.azure.com/").kind, HostKind::Other);
    }
    fn reach(dns: Result<Vec<&str>, &str>, root: Option<RootAnswer>) -> Reachability {
        Reachability {
            dns: match dns {
                Ok(a) => Resolution::Addresses(a.iter().map(|ip| ip.parse().unwrap()).collect()),
                Err(why) => Resolution::Failed(why.to_string()),
            },
            root,
        }
    }

    fn proxied(root: RootAnswer, here: Option<&str>) -> Reachability {
        Reachability {
            dns: Resolution::ByProxy {
                route: crate::azure::proxy::ProxyRoute {
                    variable: "HTTPS_PROXY",
                },
                here: here.map(|ip| vec![ip.parse().unwrap()]),
            },
            root: Some(root),
        }
    }

    fn judged(u: &str, r: &Reachability) -> Judgement {
        let url = Url::parse(u).unwrap();
        judge(&url, &judge_shape(&url, Cloud::AzureCloud), Some(r))
    }

    #[test]
    fn through_a_proxy_the_name_is_the_proxys_to_resolve() {
        let j = judged(
            "https://contoso.openai.azure.com/",
            &proxied(RootAnswer::Status(404), None),
        );
        assert_eq!(j.status, Status::Pass);
        assert_eq!(
            j.summary,
            "contoso.openai.azure.com (custom-subdomain), reachable through the proxy"
        );
        assert_eq!(j.evidence["dns"]["by_proxy"], "HTTPS_PROXY");
        assert!(j.findings.is_empty(), "{:?}", j.findings);
        // A private endpoint seen by the local lookup is still worth saying.
        let private = proxied(RootAnswer::Status(404), Some("10.1.2.3"));
        let j = judged("https://contoso.openai.azure.com/", &private);
        assert_eq!(
            (j.status, j.findings[0].code.id),
            (Status::Pass, "endpoint-private-address")
        );
        assert!(
            j.findings[0]
                .message
                .contains("resolves here (the proxy resolves it for the request) to 10.1.2.3")
        );
        let refused = proxied(
            RootAnswer::Failed {
                kind: http::Failure::Refused,
                chain: "proxy refused".into(),
            },
            None,
        );
        let j = judged("https://contoso.openai.azure.com/", &refused);
        assert_eq!(
            (j.status, j.findings[0].code.id),
            (Status::Fail, "endpoint-unreachable")
        );
        assert!(
            j.findings[0]
                .remediation
                .text
                .starts_with("An HTTPS proxy is configured")
        );
    }

    #[test]
    fn a_reachable_endpoint_passes_and_a_private_address_is_noted() {
        let ok = reach(Ok(vec!["20.42.1.1"]), Some(RootAnswer::Status(404)));
        let j = judged("https://contoso.openai.azure.com/", &ok);
        assert_eq!(j.status, Status::Pass);
        assert_eq!(j.summary, "contoso.openai.azure.com (custom-subdomain), reachable");
        assert_eq!(j.evidence["tls"]["root_status"], 404);
        let private = reach(Ok(vec!["10.0.0.4"]), Some(RootAnswer::Status(401)));
        let j = judged("https://contoso.openai.azure.com/", &private);
        let codes: Vec<_> = j.findings.iter().map(|f| f.code.id).collect();
        assert_eq!((j.status, codes), (Status::Pass, vec!["endpoint-private-address"]));
    }

    #[test]
    fn dns_and_connection_failures_fail_with_their_fix() {
        let j = judged("https://typo.openai.azure.com/", &reach(Err("no such host"), None));
        assert_eq!((j.status, j.findings[0].code.id), (Status::Fail, "endpoint-dns-failed"));
        assert_eq!(j.summary, "typo.openai.azure.com does not resolve");
        assert!(
            j.findings[0]
                .remediation
                .commands
                .iter()
                .any(|c| c.contains("customSubDomainName=='typo'"))
        );
        let refused = |ip| {
            reach(
                Ok(vec![ip]),
                Some(RootAnswer::Failed {
                    kind: http::Failure::Refused,
                    chain: "connection refused".into(),
                }),
            )
        };
        let j = judged("https://contoso.openai.azure.com/", &refused("20.42.1.1"));
        assert_eq!(
            (j.status, j.findings[0].code.id),
            (Status::Fail, "endpoint-unreachable")
        );
        assert_eq!(
            j.summary,
            "contoso.openai.azure.com: The connection was refused (connection refused)."
        );
        let fix = &j.findings[0].remediation.text;
        assert!(
            !fix.contains("proxy") && fix.contains("firewall"),
            "no proxy carries it, so no proxy advice: {fix}"
        );
        let j = judged("https://contoso.openai.azure.com/", &refused("10.0.0.4"));
        let fix = &j.findings.last().unwrap().remediation.text;
        assert!(fix.starts_with("The host resolves to a private endpoint"), "{fix}");
        let untrusted = reach(
            Ok(vec!["20.42.1.1"]),
            Some(RootAnswer::Failed {
                kind: http::Failure::TlsUntrusted,
                chain: "unknown issuer".into(),
            }),
        );
        let j = judged("https://contoso.openai.azure.com/", &untrusted);
        assert_eq!(j.findings[0].code.id, "endpoint-tls-untrusted");
    }

    #[test]
    fn the_shape_alone_decides_when_no_call_is_worth_making() {
        let url = Url::parse("https://eastus.api.cognitive.microsoft.com/").unwrap();
        let j = judge(&url, &judge_shape(&url, Cloud::AzureCloud), None);
        assert_eq!((j.status, j.findings[0].code.id), (Status::Fail, "endpoint-regional"));
        assert!(j.evidence.get("dns").is_none());
        assert_eq!(missing().findings[0].code.id, "endpoint-missing");
    }
}
