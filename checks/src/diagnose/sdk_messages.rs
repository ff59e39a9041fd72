//! The messages azure-identity's credentials raise, in all five SDKs (Python, JavaScript, .NET,
//! Java, Go): every row of their TROUBLESHOOTING.md tables (`fixtures/corpus/sdk-troubleshooting.md`).
//!
//! Matched by what stays put across SDKs and versions: the message's fixed prefix (lower-cased,
//! typographic apostrophes folded) and, where a prefix alone is ambiguous ("executable not found
//! on path"), the credential class the SDK names beside it (`AzureCliCredential`,
//! `AzureCLICredential`… compared case-insensitively). Never a lookup of whole rows: the
//! variable parts (tenant ids, subscription names, env values) are never part of a pattern.
//! AADSTS numbers are not matched here: `entra` owns them.

use super::{Diagnosis, Explanation};
use crate::codes::{self, Code};

/// Which tier a rule belongs to. Inside a `DefaultAzureCredential` aggregate every link
/// reports, so a link that is merely *unavailable* (no env vars, no azd) must not outrank
/// the link that really failed: strong rules run before the Azure CLI and managed-identity
/// recognisers, weak ones after them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Tier {
    Strong,
    Weak,
}

struct Rule {
    tier: Tier,
    /// A lower-case fragment the text must also hold when the message alone is ambiguous:
    /// usually the credential class (`azurepowershellcredential`).
    requires: Option<&'static str>,
    /// Lower-case fragments of the message's fixed part; any one matches.
    any: &'static [&'static str],
    code: &'static Code,
    diagnosis: Diagnosis,
    summary: &'static str,
    fix: &'static str,
    commands: &'static [&'static str],
}

const RULES: &[Rule] = &[
    Rule {
        tier: Tier::Strong,
        requires: None,
        any: &["must contain the following parameter: 'client_assertion' or 'client_secret'"],
        code: &codes::AADSTS_7000218,
        diagnosis: Diagnosis::InvalidClientCredentials,
        summary: "The token request carried no client secret or assertion (AADSTS7000218), though the app is confidential.",
        fix: "Provide AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH (or use a managed / workload identity); \
              a public-client flow needs 'Allow public client flows' on the app registration.",
        commands: &["az ad app credential reset --id <client-id> --append --display-name aoai-doctor"],
    },
    Rule {
        tier: Tier::Strong,
        requires: None,
        any: &["no service connection found with identifier"],
        code: &codes::PIPELINES_SERVICE_CONNECTION,
        diagnosis: Diagnosis::WorkloadIdentityMisconfigured,
        summary: "AzurePipelinesCredential names a service connection that does not exist (or this pipeline may not use it).",
        fix: "Pass the service connection's id (not its name) from Project settings → Service connections, and \
              authorise the pipeline to use it.",
        commands: &[],
    },
    Rule {
        tier: Tier::Strong,
        requires: None,
        any: &[
            "oidc token not found in response",
            "oidctoken field not detected",
            "response from oidc endpoint",
        ],
        code: &codes::PIPELINES_OIDC_FAILED,
        diagnosis: Diagnosis::WorkloadIdentityMisconfigured,
        summary: "The Azure Pipelines OIDC endpoint did not issue a token to AzurePipelinesCredential.",
        fix: "Pass $(System.AccessToken) as the credential's system_access_token and map SYSTEM_ACCESSTOKEN \
              into the task's env; the message inside the response names any other cause (e.g. an api-version).",
        commands: &[],
    },
    Rule {
        tier: Tier::Strong,
        requires: None,
        any: &["system_oidcrequesturi"],
        code: &codes::PIPELINES_NOT_IN_PIPELINE,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "AzurePipelinesCredential runs outside an Azure Pipelines task (SYSTEM_OIDCREQUESTURI is not set).",
        fix: "Use AzurePipelinesCredential only inside a pipeline task (AzureCLI@2 or a script task with the \
              service connection); locally use az login or another credential.",
        commands: &[],
    },
    Rule {
        tier: Tier::Strong,
        requires: None,
        any: &["not configured to acquire tokens for tenant"],
        code: &codes::CREDENTIAL_TENANT_NOT_ALLOWED,
        diagnosis: Diagnosis::WrongTenant,
        summary: "The service asked for a token from another tenant than the one the credential is configured for.",
        fix: "Set the credential's tenant to the resource's tenant, or allow it explicitly \
              (additionally_allowed_tenants / AZURE_ADDITIONALLY_ALLOWED_TENANTS; \"*\" allows any).",
        commands: &["az account show --query tenantId -o tsv"],
    },
    Rule {
        tier: Tier::Strong,
        requires: None,
        any: &[
            "request to the authority host was invalid",
            "endpoints_resolution_error",
            "could not resolve endpoints",
            "openid_config_error",
        ],
        code: &codes::AUTHORITY_UNRESOLVED,
        diagnosis: Diagnosis::WrongTenant,
        summary: "The identity library could not use the tenant's authority (its .well-known/openid-configuration).",
        fix: "Check the tenant id (a GUID or verified domain) and AZURE_AUTHORITY_HOST (the right cloud), and \
              that login.microsoftonline.com is reachable through any proxy.",
        commands: &["az cloud show --query endpoints.activeDirectory -o tsv"],
    },
    Rule {
        tier: Tier::Strong,
        requires: None,
        any: &["failed due to a gateway error"],
        code: &codes::MI_GATEWAY_ERROR,
        diagnosis: Diagnosis::MiUnavailable,
        summary: "The managed-identity endpoint answered with a gateway error (502/504).",
        fix: "A transient fault of the host's identity service: retry with back-off; if it persists, restart \
              the VM or redeploy the app and check Azure status for the region.",
        commands: &[],
    },
    Rule {
        tier: Tier::Strong,
        requires: None,
        any: &[
            "provide either a pem certificate",
            "contain a pem-encoded certificate",
            "contain a pem encoded certificate",
            "password protection for pem encoded certificates",
        ],
        code: &codes::CLIENT_CERTIFICATE_INVALID,
        diagnosis: Diagnosis::InvalidClientCredentials,
        summary: "The client certificate could not be loaded (not a PEM certificate, none given, or a password-protected PEM).",
        fix: "Point AZURE_CLIENT_CERTIFICATE_PATH at a PEM (or PFX) file holding the certificate AND its private \
              key, unencrypted for PEM (use a PFX with AZURE_CLIENT_CERTIFICATE_PASSWORD for a password).",
        commands: &["openssl x509 -in <certificate.pem> -noout -subject -enddate"],
    },
    Rule {
        tier: Tier::Strong,
        requires: None,
        any: &[
            "failed to acquire token using broker",
            "teamid is missing",
            "redirecturi is not matching unsigned format",
        ],
        code: &codes::BROKER_FAILED,
        diagnosis: Diagnosis::AppMisconfigured,
        summary: "Brokered authentication (WAM on Windows, the macOS broker) failed for this app.",
        fix: "Install the broker package (azure-identity-broker / @azure/identity-broker / Azure.Identity.Broker), \
              register the broker redirect URI on the app registration, and on macOS sign the app or use the \
              unsigned redirect URI format.",
        commands: &[],
    },
    Rule {
        tier: Tier::Strong,
        requires: None,
        any: &["err_dlopen_failed", "cannot open shared object file"],
        code: &codes::NATIVE_MODULE_FAILED,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "A native module of an identity plug-in failed to load (ERR_DLOPEN_FAILED).",
        fix: "Install the system libraries the plug-in needs (libsecret / libsecret-1-dev on Linux for \
              @azure/identity-vscode and -broker), or use another credential (az login).",
        commands: &[],
    },
    Rule {
        tier: Tier::Strong,
        requires: None,
        any: &["persistent storage isn't available", "undefined: accessor.", "(-25308)"],
        code: &codes::TOKEN_CACHE_UNAVAILABLE,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "Persistent token caching is unavailable (the macOS keychain wants user interaction, or the build disabled cgo).",
        fix: "Build with CGO_ENABLED=1 on macOS, and run where the keychain can be unlocked (not over SSH \
              without a session), or use an in-memory cache.",
        commands: &[],
    },
    Rule {
        tier: Tier::Strong,
        requires: Some("subscription"),
        any: &["contains invalid characters"],
        code: &codes::CLI_SUBSCRIPTION_INVALID,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "The subscription given to AzureCliCredential is not accepted: it contains invalid characters.",
        fix: "Pass the subscription's id (a GUID), not its display name.",
        commands: &["az account list --query \"[].{name:name, id:id}\" -o table"],
    },
    Rule {
        tier: Tier::Strong,
        requires: Some("environment"),
        any: &[
            "invalid environment variable name",
            "configurationenvironmentvariablename",
            "not set or is empty",
            "not set or empty",
        ],
        code: &codes::CHAIN_REQUIRED_ENV_MISSING,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "A variable DefaultAzureCredential was told to require is unset, empty or not a valid name.",
        fix: "Set the named variable (e.g. AZURE_TOKEN_CREDENTIALS) in the app's environment, or pass a valid \
              variable name (letters, digits and underscores) to the credential.",
        commands: &[],
    },
    Rule {
        tier: Tier::Strong,
        requires: None,
        any: &["azure_token_credentials", "at least one credential is required"],
        code: &codes::CHAIN_SELECTION_INVALID,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "AZURE_TOKEN_CREDENTIALS holds a value this SDK rejects (or excludes the one credential it selects).",
        fix: "Set AZURE_TOKEN_CREDENTIALS to dev, prod or one credential name this SDK version knows (e.g. \
              AzureCliCredential, ManagedIdentityCredential), or unset it; do not also exclude that credential.",
        commands: &[],
    },
    Rule {
        tier: Tier::Weak,
        requires: None,
        any: &[
            "workload options are not fully configured",
            "no client id/tenant id/token file specified",
        ],
        code: &codes::WI_NOT_CONFIGURED,
        diagnosis: Diagnosis::WorkloadIdentityMisconfigured,
        summary: "WorkloadIdentityCredential is not configured: client id, tenant id or federated token file is missing.",
        fix: "On AKS label the pod `azure.workload.identity/use: \"true\"` and annotate its service account with \
              azure.workload.identity/client-id so the webhook injects AZURE_CLIENT_ID, AZURE_TENANT_ID and \
              AZURE_FEDERATED_TOKEN_FILE; elsewhere set all three.",
        commands: &["kubectl describe pod <pod> -n <namespace> | grep AZURE_"],
    },
    Rule {
        tier: Tier::Weak,
        requires: Some("azuredeveloperclicredential"),
        any: &["not found on path", "not installed", "could not be found"],
        code: &codes::AZD_NOT_INSTALLED,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "The Azure Developer CLI (`azd`) is not installed or not on PATH.",
        fix: "Install azd (https://aka.ms/azd-install) or use another credential (az login).",
        commands: &["azd version"],
    },
    Rule {
        tier: Tier::Weak,
        requires: None,
        any: &[
            "azure developer cli could not be found",
            "azure developer cli not installed",
            "azure developer cli not found",
        ],
        code: &codes::AZD_NOT_INSTALLED,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "The Azure Developer CLI (`azd`) is not installed or not on PATH.",
        fix: "Install azd (https://aka.ms/azd-install) or use another credential (az login).",
        commands: &["azd version"],
    },
    Rule {
        tier: Tier::Weak,
        requires: None,
        any: &["azd auth login", "azd login"],
        code: &codes::AZD_NOT_LOGGED_IN,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "The Azure Developer CLI has no signed-in account.",
        fix: "Sign in with azd (`azd auth status` shows who is signed in on azd >= 1.23.0).",
        commands: &["azd auth login"],
    },
    Rule {
        tier: Tier::Weak,
        requires: Some("azurepowershellcredential"),
        any: &["executable not found on path", "not installed"],
        code: &codes::POWERSHELL_NOT_INSTALLED,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "PowerShell (`pwsh`) is not installed or not on PATH, so AzurePowerShellCredential is unavailable.",
        fix: "Install PowerShell 7 and the Az module, or use another credential (az login).",
        commands: &["pwsh -Version"],
    },
    Rule {
        tier: Tier::Weak,
        requires: None,
        any: &["powershell isn't installed", "powershell is not installed"],
        code: &codes::POWERSHELL_NOT_INSTALLED,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "PowerShell (`pwsh`) is not installed or not on PATH, so AzurePowerShellCredential is unavailable.",
        fix: "Install PowerShell 7 and the Az module, or use another credential (az login).",
        commands: &["pwsh -Version"],
    },
    Rule {
        tier: Tier::Weak,
        requires: None,
        any: &["az.account module", "az.accounts module"],
        code: &codes::POWERSHELL_AZ_MODULE_MISSING,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "PowerShell lacks the Az.Accounts module (>= 2.2.0) that AzurePowerShellCredential needs.",
        fix: "Install the Az module for the user the app runs as.",
        commands: &["pwsh -Command \"Install-Module -Name Az -Scope CurrentUser -Repository PSGallery -Force\""],
    },
    Rule {
        tier: Tier::Weak,
        requires: None,
        any: &["connect-azaccount"],
        code: &codes::POWERSHELL_NOT_LOGGED_IN,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "Azure PowerShell has no signed-in account.",
        fix: "Sign in with Connect-AzAccount as the user the app runs as.",
        commands: &["pwsh -Command Connect-AzAccount"],
    },
    Rule {
        tier: Tier::Weak,
        requires: None,
        any: &[
            "failed to read vs code credentials",
            "authenticate via azure tools plugin",
            "visual studio code authentication is not available",
            "visualstudiocodecredential requires",
            "failed to read credentials",
            "authenticate via azure service authentication",
            "intellij authentication not available",
        ],
        code: &codes::IDE_CREDENTIAL_UNAVAILABLE,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "The IDE credential (Visual Studio, VS Code or IntelliJ) has no usable sign-in here.",
        fix: "Sign in in the IDE (VS Code: the Azure Resources extension; Visual Studio: Tools → Options → Azure \
              Service Authentication); newer SDKs need the broker package for VS Code. Or use az login.",
        commands: &[],
    },
    Rule {
        tier: Tier::Weak,
        requires: None,
        any: &["interaction required", "interaction_required", "interactionrequired"],
        code: &codes::INTERACTION_REQUIRED,
        diagnosis: Diagnosis::TokenExpired,
        summary: "The cached sign-in cannot be used silently (MFA, consent or an expired session).",
        fix: "Sign in again interactively in the tool the credential reads (VS Code, Visual Studio, az login).",
        commands: &[],
    },
    Rule {
        tier: Tier::Weak,
        requires: None,
        any: &["adfs tenant not supported", "adfs is not supported"],
        code: &codes::ADFS_NOT_SUPPORTED,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "The credential does not support an AD FS tenant.",
        fix: "Use another credential (az login, a service principal or managed identity).",
        commands: &[],
    },
    Rule {
        tier: Tier::Weak,
        requires: Some("workloadidentitycredential"),
        any: &["authentication unavailable", "not fully configured"],
        code: &codes::WI_NOT_CONFIGURED,
        diagnosis: Diagnosis::WorkloadIdentityMisconfigured,
        summary: "WorkloadIdentityCredential is not configured: client id, tenant id or federated token file is missing.",
        fix: "Set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE (on AKS: label the pod \
              azure.workload.identity/use: \"true\" and annotate its service account).",
        commands: &["kubectl describe pod <pod> -n <namespace> | grep AZURE_"],
    },
    Rule {
        tier: Tier::Weak,
        requires: None,
        any: &[
            "environment variables aren't fully configured",
            "environment variables are not fully configured",
            "incomplete environment variable configuration",
        ],
        code: &codes::CHAIN_ENV_INCOMPLETE,
        diagnosis: Diagnosis::CredentialUnavailable,
        summary: "EnvironmentCredential is unavailable: AZURE_TENANT_ID, AZURE_CLIENT_ID and a secret or certificate are not all set.",
        fix: "Set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH), \
              or unset them all so the chain moves on cleanly.",
        commands: &[],
    },
];

/// The message of a `DefaultAzureCredential` / `ChainedTokenCredential` that got no token
/// from any link: the last resort, after every link's own message had its chance.
const CHAIN_AGGREGATE: Rule = Rule {
    tier: Tier::Weak,
    requires: None,
    any: &[
        "failed to retrieve a token from the included credentials",
        "defaultazurecredential failed to acquire a token",
        "defaultazurecredential: failed to acquire a token",
    ],
    code: &codes::CHAIN_NO_CREDENTIAL,
    diagnosis: Diagnosis::CredentialUnavailable,
    summary: "DefaultAzureCredential got no token from any of its credentials.",
    fix: "Read each attempted credential's line in the full message: make one of them work here (az login \
          locally; a managed or workload identity, or a service principal, in the cloud). Run `aoai-doctor` \
          for the chain as this machine sees it.",
    commands: &["az login"],
};

/// Lower-cases and folds typographic apostrophes, so "hasn’t" matches "hasn't".
pub(crate) fn normalise(text: &str) -> String {
    text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'")
}

fn explanation(rule: &Rule) -> Explanation {
    Explanation::new(rule.diagnosis, rule.summary, rule.fix)
        .with_commands(rule.commands.iter().copied())
        .with_code(rule.code)
}

fn matches(rule: &Rule, t: &str) -> bool {
    rule.requires.is_none_or(|c| t.contains(c)) && rule.any.iter().any(|f| t.contains(f))
}

/// Recognises a credential message of the given tier.
pub(crate) fn recognise(text: &str, tier: Tier) -> Option<Explanation> {
    let t = normalise(text);
    RULES
        .iter()
        .filter(|r| r.tier == tier)
        .find(|r| matches(r, &t))
        .map(explanation)
}

/// Recognises the credential chain's own "no credential worked" message.
pub(crate) fn recognise_chain_aggregate(text: &str) -> Option<Explanation> {
    matches(&CHAIN_AGGREGATE, &normalise(text)).then(|| explanation(&CHAIN_AGGREGATE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_prefix_needs_its_credential() {
        assert!(recognise("executable not found on path", Tier::Weak).is_none());
        let ex = recognise("AzurePowerShellCredential: executable not found on path", Tier::Weak).unwrap();
        assert_eq!(ex.code, Some("powershell-not-installed"));
        let ex = recognise(
            "AzureDeveloperCLICredential: Azure Developer CLI not found on path",
            Tier::Weak,
        )
        .unwrap();
        assert_eq!(ex.code, Some("azd-not-installed"));
    }

    #[test]
    fn typographic_apostrophes_and_case_fold() {
        let ex = recognise("ENVIRONMENT VARIABLES AREN’T FULLY CONFIGURED", Tier::Weak).unwrap();
        assert_eq!(ex.code, Some("chain-env-incomplete"));
    }

    #[test]
    fn echoed_values_are_redacted_and_not_needed() {
        let ex = recognise(
            "Invalid value for AZURE_TOKEN_CREDENTIALS = eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2ln. Valid values are 'prod' or 'dev'.",
            Tier::Strong,
        )
        .unwrap();
        assert_eq!(ex.code, Some("chain-selection-invalid"));
        assert!(!serde_json::to_string(&ex).unwrap().contains("eyJhbGci"));
    }

    #[test]
    fn every_rule_code_is_in_the_catalogue() {
        for r in RULES.iter().chain([&CHAIN_AGGREGATE]) {
            assert!(codes::find(r.code.id).is_some(), "{}", r.code.id);
            assert!(!r.summary.contains('\n') && !r.fix.is_empty());
        }
    }

    #[test]
    fn the_aggregate_is_only_a_last_resort() {
        let t = "DefaultAzureCredential failed to retrieve a token from the included credentials.\n\
                 Attempted credentials:\n\tAzureDeveloperCliCredential: Azure Developer CLI could not be found.";
        assert_eq!(recognise(t, Tier::Weak).unwrap().code, Some("azd-not-installed"));
        assert_eq!(recognise_chain_aggregate(t).unwrap().code, Some("chain-no-credential"));
        assert!(recognise_chain_aggregate("something else").is_none());
    }
}
