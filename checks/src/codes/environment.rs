//! Codes of the `environment` check.
use super::{codes, docs};

codes! {
    list = ENVIRONMENT_CODES;
    ENV_API_KEY_PRESENT = ("env-api-key-present", docs::MANAGED_IDENTITY_AOAI,
        "An API key variable (AZURE_OPENAI_API_KEY / OPENAI_API_KEY) is set; several SDKs prefer a key when one is present, bypassing Entra ID.");
    ENV_CONTAINER = ("env-container", docs::DEFAULT_CREDENTIAL,
        "Running inside a container: a developer's `az login` is not there; a service principal, workload or managed identity must be passed in.");
    ENV_PROXY = ("env-proxy", docs::README,
        "An HTTP(S) proxy is configured; Entra, ARM and the endpoint are reached through it unless NO_PROXY excludes them.");
    ENV_AZURE_HOST = ("env-azure-host", docs::DEFAULT_CREDENTIAL,
        "The environment variables reveal an Azure host (App Service, Container Apps, AKS workload identity, Arc, Cloud Shell).");
}
