//! Codes of the `container-credentials` check: which credential can work inside a container.
use super::{codes, docs};

const WI_DOCS: &str = "https://learn.microsoft.com/azure/aks/workload-identity-overview";
const MI_DOCS: &str = "https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/overview";
const SP_DOCS: &str =
    "https://learn.microsoft.com/azure/developer/python/sdk/authentication/local-development-service-principal";

codes! {
    list = CONTAINER_CODES;
    CONTAINER_NO_CREDENTIAL = ("container-no-credential", SP_DOCS,
        "Inside the container no credential can work: no service principal variables, no workload identity, no managed identity, no `az` login.");
    CONTAINER_CLI_UNAVAILABLE = ("container-cli-unavailable", docs::DEFAULT_CREDENTIAL,
        "The host's `az login` is not visible in the container: the image has no `az`, or no logged-in ~/.azure is mounted.");
    CONTAINER_ENV_INCOMPLETE = ("container-env-incomplete", SP_DOCS,
        "Only part of the service principal reached the container (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET); pass all three.");
    CONTAINER_FEDERATED_TOKEN = ("container-federated-token", WI_DOCS,
        "The workload identity token file (AZURE_FEDERATED_TOKEN_FILE) is missing, unreadable, not a JWT or expired.");
    CONTAINER_IMDS_IMPOSTOR = ("container-imds-impostor", MI_DOCS,
        "Something that is not Azure IMDS answers at 169.254.169.254 (Docker Desktop, a proxy): there is no managed identity here.");
}
