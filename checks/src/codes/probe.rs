//! Codes of the `data-plane-probe` check: what one real call to the data plane answered.
use super::{codes, docs};

const QUOTA_DOCS: &str = "https://learn.microsoft.com/azure/ai-services/openai/how-to/quota";
const API_VERSION_DOCS: &str = "https://learn.microsoft.com/azure/ai-services/openai/api-version-deprecation";
const LOCAL_AUTH_DOCS: &str = "https://learn.microsoft.com/azure/ai-services/disable-local-auth";
const DEPLOY_DOCS: &str = "https://learn.microsoft.com/azure/ai-services/openai/how-to/create-resource";
const TOKEN_DOCS: &str = "https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference";

codes! {
    list = PROBE_CODES;
    PROBE_NO_DEPLOYMENT = ("probe-no-deployment", docs::README,
        "No deployment was given, so the live chat/embeddings call was not made; pass --deployment (or --probe models).");
    PROBE_AUTH_PASSED = ("probe-auth-passed", docs::RBAC_AOAI,
        "The call was refused for its content (e.g. max_tokens on a reasoning model), which proves authentication and the role passed.");
    PROBE_PROPAGATION_WAITED = ("probe-propagation-waited", docs::RBAC_AOAI,
        "The data plane answered 401 PermissionDenied until a new role assignment propagated; it works now.");
    PROBE_PERMISSION_DENIED = ("probe-permission-denied", docs::RBAC_AOAI,
        "401 PermissionDenied: the token is fine but the principal holds no role granting the data action (or a new one has not propagated).");
    PROBE_TOKEN_REJECTED = ("probe-token-rejected", TOKEN_DOCS,
        "401: the data plane rejected the bearer token itself (expired, wrong audience, not a Microsoft Entra token).");
    PROBE_WRONG_TENANT = ("probe-wrong-tenant", TOKEN_DOCS,
        "400: the token was issued by another tenant than the one that owns the resource.");
    PROBE_KEY_AUTH_DISABLED = ("probe-key-auth-disabled", LOCAL_AUTH_DOCS,
        "403 AuthenticationTypeDisabled: an API key was sent to a resource that only accepts Microsoft Entra ID.");
    PROBE_NETWORK_BLOCKED = ("probe-network-blocked", docs::PRIVATE_ENDPOINT,
        "403 from a network rule (firewall, virtual network, public access disabled): this client's network may not reach the resource.");
    PROBE_DEPLOYMENT_NOT_FOUND = ("probe-deployment-not-found", DEPLOY_DOCS,
        "404 DeploymentNotFound: no deployment of that name on this resource (often the model name was used instead).");
    PROBE_API_VERSION_ON_V1 = ("probe-api-version-on-v1", API_VERSION_DOCS,
        "400 about the api-version on an /openai/v1 path: an AzureOpenAI client or a dated api-version was pointed at the v1 API, which takes none.");
    PROBE_PROJECT_AUDIENCE = ("probe-project-audience", TOKEN_DOCS,
        "401 naming https://ai.azure.com as the audience: a Foundry project endpoint needs a token for https://ai.azure.com/.default, not cognitiveservices.");
    PROBE_BAD_PATH = ("probe-bad-path", API_VERSION_DOCS,
        "The URL path or api-version is not accepted (404 Resource not found, or 400 about the api-version).");
    PROBE_RATE_LIMITED = ("probe-rate-limited", QUOTA_DOCS,
        "429: authentication and the role work, but the deployment is rate limited or out of quota.");
    PROBE_NOT_AZURE_OPENAI = ("probe-not-azure-openai", docs::PRIVATE_ENDPOINT,
        "Something other than Azure OpenAI answered (an HTML page from a proxy, captive portal or firewall).");
    PROBE_UNREACHABLE = ("probe-unreachable", docs::PRIVATE_ENDPOINT,
        "The call did not get an HTTP answer: connection refused or reset, DNS or TLS failure.");
    PROBE_TIMED_OUT = ("probe-timed-out", docs::README,
        "The endpoint accepted the connection but did not answer in time.");
    PROBE_SERVER_ERROR = ("probe-server-error", docs::README,
        "The data plane answered with a 5xx: a service-side problem, so access could not be verified.");
    PROBE_UNRECOGNIZED = ("probe-unrecognized", docs::README,
        "The data plane answered with an error the doctor does not recognise; status and message are shown.");
    PROBE_INSECURE_HTTP = ("probe-insecure-http", docs::CUSTOM_SUBDOMAIN,
        "The endpoint is plain http:// on a non-loopback host; the probe does not send a token there.");
}
