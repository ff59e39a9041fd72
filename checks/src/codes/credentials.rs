//! Codes for the messages azure-identity's credentials raise (every row of the five SDKs'
//! TROUBLESHOOTING.md tables; see `fixtures/corpus/sdk-troubleshooting.md`), named by what is
//! stable across SDKs: the credential class and the message's fixed prefix. `explain` emits
//! them; AADSTS numbers have their own codes in `entra.rs`.
use super::{codes, docs};

const MI_DOCS: &str =
    "https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token";
const WI_DOCS: &str = "https://learn.microsoft.com/azure/aks/workload-identity-overview";
const AZD_DOCS: &str = "https://learn.microsoft.com/azure/developer/azure-developer-cli/reference";
const PWSH_DOCS: &str = "https://learn.microsoft.com/powershell/azure/authenticate-azureps";
const CLI_DOCS: &str = "https://learn.microsoft.com/cli/azure/authenticate-azure-cli";
const DEV_ACCOUNTS: &str =
    "https://learn.microsoft.com/azure/developer/python/sdk/authentication/local-development-dev-accounts";
const BROKER_DOCS: &str = "https://learn.microsoft.com/entra/identity-platform/scenario-desktop-acquire-token-wam";
const CERT_DOCS: &str = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials";
const PIPELINES_DOCS: &str = "https://learn.microsoft.com/azure/devops/pipelines/library/connect-to-azure";
const AUTHORITY_DOCS: &str = "https://learn.microsoft.com/entra/identity-platform/authentication-national-cloud";

codes! {
    list = CREDENTIAL_CODES;
    MI_UNAVAILABLE = ("mi-unavailable", MI_DOCS,
        "No managed-identity endpoint answers here (not an Azure host, IMDS blocked or timed out): ManagedIdentityCredential is unavailable.");
    MI_GATEWAY_ERROR = ("mi-gateway-error", MI_DOCS,
        "The managed-identity endpoint answered 502/504 (a gateway error): the host's identity service is unhealthy or overloaded; retry.");
    WI_NOT_CONFIGURED = ("wi-not-configured", WI_DOCS,
        "WorkloadIdentityCredential is not configured: AZURE_CLIENT_ID, AZURE_TENANT_ID or AZURE_FEDERATED_TOKEN_FILE is missing.");
    AZD_NOT_INSTALLED = ("azd-not-installed", AZD_DOCS,
        "The Azure Developer CLI (`azd`) is not on PATH, so AzureDeveloperCliCredential is unavailable.");
    AZD_NOT_LOGGED_IN = ("azd-not-logged-in", AZD_DOCS,
        "The Azure Developer CLI has no signed-in account (`azd auth login` needed).");
    POWERSHELL_NOT_INSTALLED = ("powershell-not-installed", PWSH_DOCS,
        "PowerShell (`pwsh`) is not on PATH, so AzurePowerShellCredential is unavailable.");
    POWERSHELL_AZ_MODULE_MISSING = ("powershell-az-module-missing", PWSH_DOCS,
        "PowerShell lacks the Az.Accounts module (>= 2.2.0) that AzurePowerShellCredential needs.");
    POWERSHELL_NOT_LOGGED_IN = ("powershell-not-logged-in", PWSH_DOCS,
        "Azure PowerShell has no signed-in account (`Connect-AzAccount` needed).");
    CLI_SUBSCRIPTION_INVALID = ("cli-subscription-invalid", CLI_DOCS,
        "The subscription given to AzureCliCredential contains invalid characters: pass the subscription id, not its name.");
    CREDENTIAL_TENANT_NOT_ALLOWED = ("credential-tenant-not-allowed", docs::DEFAULT_CREDENTIAL,
        "The credential may not get tokens for the tenant the service asked for: add it to additionally_allowed_tenants or set the tenant id.");
    IDE_CREDENTIAL_UNAVAILABLE = ("ide-credential-unavailable", DEV_ACCOUNTS,
        "An IDE credential (Visual Studio, VS Code, IntelliJ) has no usable sign-in or lacks its plug-in/broker package.");
    INTERACTION_REQUIRED = ("interaction-required", DEV_ACCOUNTS,
        "The cached sign-in cannot be used silently (MFA, consent or an expired session): sign in again interactively.");
    ADFS_NOT_SUPPORTED = ("adfs-not-supported", DEV_ACCOUNTS,
        "The credential does not support an AD FS tenant; use another credential (az login, a service principal).");
    BROKER_FAILED = ("broker-failed", BROKER_DOCS,
        "Brokered authentication (WAM, the macOS broker) failed: the broker is missing or the app's redirect URI does not match it.");
    NATIVE_MODULE_FAILED = ("native-module-failed", DEV_ACCOUNTS,
        "A native module of an identity plug-in (@azure/identity-broker, -vscode) failed to load (ERR_DLOPEN_FAILED): install its system libraries.");
    CLIENT_CERTIFICATE_INVALID = ("client-certificate-invalid", CERT_DOCS,
        "The client certificate could not be used: not a PEM certificate, neither text nor path given, or a password-protected PEM.");
    CHAIN_REQUIRED_ENV_MISSING = ("chain-required-env-missing", docs::DEFAULT_CREDENTIAL,
        "A variable DefaultAzureCredential was told to require (requiredEnvVars, the credential-selection variable) is unset, empty or not a valid name.");
    AUTHORITY_UNRESOLVED = ("authority-unresolved", AUTHORITY_DOCS,
        "The identity library could not use the tenant's authority (.well-known/openid-configuration): wrong tenant id or authority host, or no network to it.");
    PIPELINES_NOT_IN_PIPELINE = ("pipelines-not-in-pipeline", PIPELINES_DOCS,
        "AzurePipelinesCredential runs outside an Azure Pipelines task (SYSTEM_OIDCREQUESTURI is not set).");
    PIPELINES_SERVICE_CONNECTION = ("pipelines-service-connection", PIPELINES_DOCS,
        "AzurePipelinesCredential names a service connection id that does not exist or this pipeline may not use.");
    PIPELINES_OIDC_FAILED = ("pipelines-oidc-failed", PIPELINES_DOCS,
        "The Azure Pipelines OIDC endpoint gave no token (401, or no oidcToken in the answer): a missing System.AccessToken or an unsupported api-version.");
    TOKEN_CACHE_UNAVAILABLE = ("token-cache-unavailable", DEV_ACCOUNTS,
        "Persistent token caching is unavailable (the macOS keychain wants user interaction, or the build disabled cgo).");
}
