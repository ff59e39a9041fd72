//! Codes of the identity checks: `azure-cli`, `credential-chain`, `token`, `token-claims`.
use super::{codes, docs};

const CLI_DOCS: &str = "https://learn.microsoft.com/cli/azure/authenticate-azure-cli";
const CLAIMS_DOCS: &str = "https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference";
const MI_DOCS: &str =
    "https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token";
const WI_DOCS: &str = "https://learn.microsoft.com/azure/aks/workload-identity-overview";

codes! {
    list = IDENTITY_CODES;
    CLI_NOT_INSTALLED = ("cli-not-installed", CLI_DOCS,
        "The Azure CLI (`az`) is not on PATH, so AzureCliCredential is unavailable.");
    CLI_NOT_LOGGED_IN = ("cli-not-logged-in", CLI_DOCS,
        "The Azure CLI is installed but nobody is logged in (`az login` needed).");
    CLI_LOGIN_EXPIRED = ("cli-login-expired", CLI_DOCS,
        "The Azure CLI login can no longer get tokens: refresh token expired, sign-in frequency or session revoked (CAE).");
    CLI_CONDITIONAL_ACCESS = ("cli-conditional-access", CLI_DOCS,
        "A Conditional Access policy (MFA, compliant device, location, token protection) blocks the CLI's token.");
    CLI_FAILED = ("cli-failed", CLI_DOCS,
        "`az account get-access-token` failed for another reason; the CLI's own message is shown.");
    CLI_TIMED_OUT = ("cli-timed-out", CLI_DOCS,
        "`az` did not answer in time (it hangs when it wants an interactive login) and was stopped.");
    CLI_BAD_OUTPUT = ("cli-bad-output", CLI_DOCS,
        "`az` exited successfully but did not print a token as JSON (garbage or empty output).");
    CLI_NOT_USED = ("cli-not-used", docs::DEFAULT_CREDENTIAL,
        "The Azure CLI has a problem, but the app gets its token from another credential here, so it does not matter.");
    CHAIN_NO_CREDENTIAL = ("chain-no-credential", docs::DEFAULT_CREDENTIAL,
        "No link of DefaultAzureCredential is available here: the app cannot get a token at all.");
    CHAIN_ENV_INCOMPLETE = ("chain-env-incomplete", docs::DEFAULT_CREDENTIAL,
        "Some AZURE_CLIENT_* / AZURE_TENANT_ID variables are set but not a complete set, so EnvironmentCredential is skipped.");
    CHAIN_STOPS_EARLY = ("chain-stops-early", docs::DEFAULT_CREDENTIAL,
        "An earlier link is configured, so the chain stops there on failure: later links (e.g. your az login) are never tried.");
    CHAIN_JS_FALLS_THROUGH = ("chain-js-falls-through", docs::DEFAULT_CREDENTIAL,
        "In JavaScript, a failing workload or managed identity silently falls through to the next link (often a developer's own login).");
    CHAIN_SELECTION_INVALID = ("chain-selection-invalid", docs::DEFAULT_CREDENTIAL,
        "AZURE_TOKEN_CREDENTIALS holds a value this SDK rejects; DefaultAzureCredential fails at construction.");
    CHAIN_IMDS_IMPOSTOR = ("chain-imds-impostor", MI_DOCS,
        "Something other than IMDS answers at the IMDS address (Docker Desktop, a proxy); managed identity is not really there.");
    CHAIN_MI_UNSUPPORTED = ("chain-mi-unsupported", MI_DOCS,
        "The managed-identity source found here (Service Fabric, Azure ML, Cloud Shell, Arc) cannot be examined by the doctor.");
    CHAIN_USERNAME_PASSWORD = ("chain-username-password", docs::DEFAULT_CREDENTIAL,
        "AZURE_USERNAME/AZURE_PASSWORD are set: username/password auth is deprecated and fails under MFA enforcement.");
    CHAIN_CERTIFICATE_NOT_TESTED = ("chain-certificate-not-tested", docs::DEFAULT_CREDENTIAL,
        "A client certificate is configured; the doctor checks the file exists but does not sign in with it.");
    TOKEN_SCOPE_NOT_DEFAULT = ("token-scope-not-default", CLAIMS_DOCS,
        "The scope does not end in /.default; Azure OpenAI tokens are requested as https://cognitiveservices.azure.com/.default.");
    TOKEN_SCOPE_WRONG_RESOURCE = ("token-scope-wrong-resource", CLAIMS_DOCS,
        "The scope is for another resource (ARM, the endpoint URL, openai.azure.com…); the token will be rejected with 401.");
    TOKEN_ENTRA_ERROR = ("token-entra-error", "https://learn.microsoft.com/entra/identity-platform/reference-error-codes",
        "Entra ID refused the token with an AADSTS code the doctor has no specific advice for; the message is shown.");
    TOKEN_MI_IDENTITY_NOT_FOUND = ("token-mi-identity-not-found", MI_DOCS,
        "The managed-identity endpoint has no identity matching the request (none assigned, or the wrong client id).");
    TOKEN_MI_FAILED = ("token-mi-failed", MI_DOCS,
        "The managed-identity endpoint answered with an error the doctor has no specific advice for.");
    TOKEN_WORKLOAD_FILE = ("token-workload-file", WI_DOCS,
        "The federated token file (AZURE_FEDERATED_TOKEN_FILE) is missing, empty or unreadable.");
    TOKEN_UNREACHABLE = ("token-unreachable", docs::README,
        "The token endpoint could not be reached (DNS, connection, TLS or proxy problem).");
    TOKEN_TIMED_OUT = ("token-timed-out", docs::README,
        "The token request did not finish in time.");
    TOKEN_NOT_A_TOKEN = ("token-not-a-token", docs::README,
        "The token endpoint answered success but the body is not a token (a proxy or captive portal answering?).");
    CLAIMS_NOT_A_JWT = ("claims-not-a-jwt", CLAIMS_DOCS,
        "The token is not a JWT (an API key or opaque string sent as a bearer token gets a bare 401).");
    CLAIMS_WRONG_AUDIENCE = ("claims-wrong-audience", CLAIMS_DOCS,
        "The token's audience (aud) is not https://cognitiveservices.azure.com: the classic cause of a 401.");
    CLAIMS_EXPIRED = ("claims-expired", CLAIMS_DOCS,
        "The token has expired (exp is in the past).");
    CLAIMS_NOT_YET_VALID = ("claims-not-yet-valid", CLAIMS_DOCS,
        "The token is not valid yet (nbf is in the future): usually this machine's clock is behind.");
    CLAIMS_CLOCK_SKEW = ("claims-clock-skew", CLAIMS_DOCS,
        "This machine's clock differs from the server's by more than 5 minutes; tokens look expired or not yet valid.");
    CLAIMS_WRONG_TENANT = ("claims-wrong-tenant", CLAIMS_DOCS,
        "The token was issued by another tenant than the resource's: the data plane answers 400, ARM 401.");
    CLAIMS_UNEXPECTED_PRINCIPAL = ("claims-unexpected-principal", CLAIMS_DOCS,
        "The token belongs to another principal than the one the configuration expects (expect_principal).");
    CLAIMS_MISSING_EXPIRY = ("claims-missing-expiry", CLAIMS_DOCS,
        "The token has no exp claim; services reject it.");
    CLAIMS_IMPLAUSIBLE_EXPIRY = ("claims-implausible-expiry", CLAIMS_DOCS,
        "The token's exp claim is no time Entra ID issues (not a number, or days to centuries away): the token was altered or made by something else.");
}
