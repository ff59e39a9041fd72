//! Codes of the `endpoint` check.
use super::{codes, docs};

codes! {
    list = ENDPOINT_CODES;
    ENDPOINT_MISSING = ("endpoint-missing", docs::README,
        "No endpoint was given (--endpoint or AZURE_OPENAI_ENDPOINT), so the endpoint, role and probe checks cannot run.");
    ENDPOINT_REGIONAL = ("endpoint-regional", docs::CUSTOM_SUBDOMAIN,
        "The endpoint is a regional URL (REGION.api.cognitive.microsoft.com); Entra ID tokens are only accepted on a custom-subdomain endpoint.");
    ENDPOINT_NOT_AZURE_OPENAI = ("endpoint-not-azure-openai", docs::CUSTOM_SUBDOMAIN,
        "The endpoint is api.openai.com (OpenAI, not Azure OpenAI); Entra ID tokens do not work there.");
    ENDPOINT_UNRECOGNIZED_HOST = ("endpoint-unrecognized-host", docs::CUSTOM_SUBDOMAIN,
        "The host is not an Azure OpenAI / AI Services host; fine for a gateway (APIM) or an alias, but the token must still suit the resource behind it.");
    ENDPOINT_CLOUD_MISMATCH = ("endpoint-cloud-mismatch", docs::CUSTOM_SUBDOMAIN,
        "The endpoint belongs to another Azure cloud than --cloud; tokens and ARM calls would go to the wrong cloud.");
    ENDPOINT_HAS_PATH = ("endpoint-has-path", docs::CUSTOM_SUBDOMAIN,
        "The endpoint carries a path (e.g. /openai/deployments/...); SDKs append their own path, so calls end in 404.");
    ENDPOINT_INSECURE_HTTP = ("endpoint-insecure-http", docs::CUSTOM_SUBDOMAIN,
        "The endpoint uses plain http://; a bearer token must only travel over HTTPS.");
    ENDPOINT_DNS_FAILED = ("endpoint-dns-failed", docs::CUSTOM_SUBDOMAIN,
        "The endpoint's host name does not resolve: a typo in the resource name, a deleted resource, or a DNS/proxy problem.");
    ENDPOINT_PRIVATE_ADDRESS = ("endpoint-private-address", docs::PRIVATE_ENDPOINT,
        "The host resolves to a private address (a private endpoint); it is reachable only from inside the virtual network or over VPN.");
    ENDPOINT_UNREACHABLE = ("endpoint-unreachable", docs::PRIVATE_ENDPOINT,
        "No connection to the endpoint (refused, timed out or reset): firewall, proxy, or a private endpoint seen from outside its network.");
    ENDPOINT_TLS_UNTRUSTED = ("endpoint-tls-untrusted", docs::README,
        "The endpoint's TLS certificate is not trusted: usually a proxy inspecting TLS; pass its CA with --ca-cert or SSL_CERT_FILE.");
    ENDPOINT_TLS_FAILED = ("endpoint-tls-failed", docs::README,
        "The TLS handshake with the endpoint failed for another reason (name mismatch, protocol error).");
}
