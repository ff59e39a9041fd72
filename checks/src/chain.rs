//! A model of `DefaultAzureCredential` per SDK (as each SDK documents it): the order of its links, what
//! makes each link available from the environment, how `AZURE_TOKEN_CREDENTIALS` narrows it,
//! and which failures fall through. Pure: everything comes through the environment seam.

use crate::context::{CredentialChoice, Environment, Sdk};
use std::path::PathBuf;

/// A link of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    Environment,
    WorkloadIdentity,
    ManagedIdentity,
    VisualStudio,
    VisualStudioCode,
    IntelliJ,
    AzureCli,
    AzurePowerShell,
    AzureDeveloperCli,
}

impl Link {
    /// Our stable id (as `--credential` spells it).
    pub fn id(self) -> &'static str {
        match self {
            Link::Environment => "environment",
            Link::WorkloadIdentity => "workload-identity",
            Link::ManagedIdentity => "managed-identity",
            Link::VisualStudio => "visual-studio",
            Link::VisualStudioCode => "visual-studio-code",
            Link::IntelliJ => "intellij",
            Link::AzureCli => "azure-cli",
            Link::AzurePowerShell => "azure-powershell",
            Link::AzureDeveloperCli => "azure-developer-cli",
        }
    }
    /// The class name the SDK uses (Go spells the CLIs in capitals).
    pub fn class(self, sdk: Sdk) -> &'static str {
        match (self, sdk) {
            (Link::Environment, _) => "EnvironmentCredential",
            (Link::WorkloadIdentity, _) => "WorkloadIdentityCredential",
            (Link::ManagedIdentity, _) => "ManagedIdentityCredential",
            (Link::VisualStudio, _) => "VisualStudioCredential",
            (Link::VisualStudioCode, _) => "VisualStudioCodeCredential",
            (Link::IntelliJ, _) => "IntelliJCredential",
            (Link::AzureCli, Sdk::Go) => "AzureCLICredential",
            (Link::AzureCli, _) => "AzureCliCredential",
            (Link::AzurePowerShell, _) => "AzurePowerShellCredential",
            (Link::AzureDeveloperCli, Sdk::Go) => "AzureDeveloperCLICredential",
            (Link::AzureDeveloperCli, _) => "AzureDeveloperCliCredential",
        }
    }
    /// Links the doctor can examine; IDE sign-ins it only names.
    pub fn examined(self) -> bool {
        matches!(
            self,
            Link::Environment
                | Link::WorkloadIdentity
                | Link::ManagedIdentity
                | Link::AzureCli
                | Link::AzureDeveloperCli
        )
    }
    pub fn is_prod(self) -> bool {
        matches!(self, Link::Environment | Link::WorkloadIdentity | Link::ManagedIdentity)
    }
    pub fn from_choice(c: CredentialChoice) -> Option<Link> {
        match c {
            CredentialChoice::Auto => None,
            CredentialChoice::Environment => Some(Link::Environment),
            CredentialChoice::WorkloadIdentity => Some(Link::WorkloadIdentity),
            CredentialChoice::ManagedIdentity => Some(Link::ManagedIdentity),
            CredentialChoice::AzureCli => Some(Link::AzureCli),
            CredentialChoice::AzureDeveloperCli => Some(Link::AzureDeveloperCli),
        }
    }
}

/// The default chain of each SDK, in order (interactive links excluded by
/// default are left out).
pub fn order(sdk: Sdk) -> Vec<Link> {
    use Link::*;
    match sdk {
        Sdk::Python => vec![
            Environment,
            WorkloadIdentity,
            ManagedIdentity,
            VisualStudioCode,
            AzureCli,
            AzurePowerShell,
            AzureDeveloperCli,
        ],
        Sdk::Js => vec![
            Environment,
            WorkloadIdentity,
            ManagedIdentity,
            VisualStudioCode,
            AzureCli,
            AzurePowerShell,
            AzureDeveloperCli,
        ],
        Sdk::Dotnet => vec![
            Environment,
            WorkloadIdentity,
            ManagedIdentity,
            VisualStudio,
            VisualStudioCode,
            AzureCli,
            AzurePowerShell,
            AzureDeveloperCli,
        ],
        Sdk::Java => vec![
            Environment,
            WorkloadIdentity,
            ManagedIdentity,
            IntelliJ,
            VisualStudioCode,
            AzureCli,
            AzurePowerShell,
            AzureDeveloperCli,
        ],
        Sdk::Go => vec![
            Environment,
            WorkloadIdentity,
            ManagedIdentity,
            AzureCli,
            AzureDeveloperCli,
        ],
    }
}

/// What `AZURE_TOKEN_CREDENTIALS` does to the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Unset (or blank where the SDK ignores blank): the whole chain.
    All,
    /// `dev`, `prod` or one credential's name.
    Narrowed { links: Vec<Link>, value: String },
    /// A value the SDK rejects: DefaultAzureCredential fails at construction.
    Invalid { value: String, valid: Vec<String> },
}

/// Applies `AZURE_TOKEN_CREDENTIALS` the way `sdk` does.
pub fn select(sdk: Sdk, value: Option<&str>) -> Selection {
    let Some(raw) = value else { return Selection::All };
    // Go does not trim, and an empty but set variable is an error there.
    let v = if sdk == Sdk::Go {
        raw.to_string()
    } else {
        raw.trim().to_string()
    };
    if v.is_empty() {
        return if sdk == Sdk::Go {
            Selection::Invalid {
                value: raw.to_string(),
                valid: valid_values(sdk),
            }
        } else {
            Selection::All
        };
    }
    let full = order(sdk);
    let dev_prod_matches = |word: &str| {
        if sdk == Sdk::Go {
            v == word
        } else {
            v.eq_ignore_ascii_case(word)
        }
    };
    if dev_prod_matches("prod") {
        return Selection::Narrowed {
            links: full.into_iter().filter(|l| l.is_prod()).collect(),
            value: v,
        };
    }
    if dev_prod_matches("dev") {
        return Selection::Narrowed {
            links: full.into_iter().filter(|l| !l.is_prod()).collect(),
            value: v,
        };
    }
    let named: Vec<Link> = full
        .into_iter()
        .filter(|l| l.class(sdk).eq_ignore_ascii_case(&v))
        .collect();
    if named.is_empty() {
        Selection::Invalid {
            value: v,
            valid: valid_values(sdk),
        }
    } else {
        Selection::Narrowed { links: named, value: v }
    }
}

fn valid_values(sdk: Sdk) -> Vec<String> {
    let mut v = vec!["dev".to_string(), "prod".to_string()];
    v.extend(order(sdk).iter().map(|l| l.class(sdk).to_string()));
    v
}

/// How `EnvironmentCredential` is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvConfig {
    Secret {
        tenant: String,
        client_id: String,
    },
    Certificate {
        tenant: String,
        client_id: String,
        path: PathBuf,
    },
    UsernamePassword {
        client_id: String,
        username: String,
    },
    /// Some variables set, not a complete set: the link is unavailable.
    Incomplete {
        set: Vec<&'static str>,
        missing: Vec<&'static str>,
    },
    None,
}

pub fn environment_config(env: &dyn Environment) -> EnvConfig {
    let get = |k: &str| env.var_set(k);
    let (tenant, client) = (get("AZURE_TENANT_ID"), get("AZURE_CLIENT_ID"));
    if let (Some(t), Some(c)) = (&tenant, &client) {
        if get("AZURE_CLIENT_SECRET").is_some() {
            return EnvConfig::Secret {
                tenant: t.clone(),
                client_id: c.clone(),
            };
        }
        if let Some(p) = get("AZURE_CLIENT_CERTIFICATE_PATH") {
            return EnvConfig::Certificate {
                tenant: t.clone(),
                client_id: c.clone(),
                path: PathBuf::from(p),
            };
        }
    }
    if let (Some(c), Some(u), Some(_)) = (&client, get("AZURE_USERNAME"), get("AZURE_PASSWORD")) {
        return EnvConfig::UsernamePassword {
            client_id: c.clone(),
            username: u,
        };
    }
    let vars = [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
    ];
    let set: Vec<&'static str> = vars.iter().copied().filter(|k| get(k).is_some()).collect();
    // AZURE_CLIENT_ID alone is normal (it selects a user-assigned managed identity), and with
    // AZURE_TENANT_ID it is what workload identity uses: only a secret/cert without the rest
    // is a half-configured service principal.
    let has_credential = set.contains(&"AZURE_CLIENT_SECRET") || set.contains(&"AZURE_CLIENT_CERTIFICATE_PATH");
    if has_credential {
        let missing = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID"]
            .into_iter()
            .filter(|k| get(k).is_none())
            .collect();
        return EnvConfig::Incomplete { set, missing };
    }
    EnvConfig::None
}

/// How `WorkloadIdentityCredential` is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadConfig {
    Complete {
        tenant: String,
        client_id: String,
        token_file: PathBuf,
    },
    Missing(Vec<&'static str>),
}

pub fn workload_config(env: &dyn Environment) -> WorkloadConfig {
    let get = |k: &str| env.var_set(k);
    match (
        get("AZURE_TENANT_ID"),
        get("AZURE_CLIENT_ID"),
        get("AZURE_FEDERATED_TOKEN_FILE"),
    ) {
        (Some(t), Some(c), Some(f)) => WorkloadConfig::Complete {
            tenant: t,
            client_id: c,
            token_file: PathBuf::from(f),
        },
        _ => WorkloadConfig::Missing(
            ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"]
                .into_iter()
                .filter(|k| get(k).is_none())
                .collect(),
        ),
    }
}

/// Where managed identity comes from, by the same precedence as the SDKs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MiSource {
    ServiceFabric,
    AppService,
    Arc,
    AzureMl,
    CloudShell,
    Imds,
}

impl MiSource {
    pub fn name(self) -> &'static str {
        match self {
            MiSource::ServiceFabric => "Service Fabric",
            MiSource::AppService => "App Service / Functions / Container Apps endpoint",
            MiSource::Arc => "Azure Arc agent",
            MiSource::AzureMl => "Azure ML endpoint",
            MiSource::CloudShell => "Cloud Shell endpoint",
            MiSource::Imds => "IMDS",
        }
    }
}

pub fn mi_source(env: &dyn Environment) -> MiSource {
    let set = |k: &str| env.var_set(k).is_some();
    if set("IDENTITY_ENDPOINT") && set("IDENTITY_HEADER") && set("IDENTITY_SERVER_THUMBPRINT") {
        MiSource::ServiceFabric
    } else if set("IDENTITY_ENDPOINT") && set("IDENTITY_HEADER") {
        MiSource::AppService
    } else if set("IDENTITY_ENDPOINT") && set("IMDS_ENDPOINT") {
        MiSource::Arc
    } else if set("MSI_ENDPOINT") && set("MSI_SECRET") {
        MiSource::AzureMl
    } else if set("MSI_ENDPOINT") {
        MiSource::CloudShell
    } else {
        MiSource::Imds
    }
}

/// Whether `sdk`'s chain goes on to the next link when `link` fails with a real error (not
/// "unavailable"). Python, .NET, Java and Go stop; JavaScript treats managed-identity and
/// workload-identity failures as unavailable and keeps walking (measured against the real
/// SDKs: tests/real_sdk).
pub fn falls_through_on_failure(sdk: Sdk, link: Link) -> bool {
    match link {
        Link::Environment => false,
        Link::WorkloadIdentity | Link::ManagedIdentity => sdk == Sdk::Js,
        // Developer tools inside DAC turn every failure into "unavailable".
        _ => true,
    }
}

/// A production link configured by variables alone (no probe needed), if any: the chain
/// will use it before ever reaching the developer tools.
pub fn static_prod_link(env: &dyn Environment) -> Option<Link> {
    if matches!(
        environment_config(env),
        EnvConfig::Secret { .. } | EnvConfig::Certificate { .. } | EnvConfig::UsernamePassword { .. }
    ) {
        return Some(Link::Environment);
    }
    if matches!(workload_config(env), WorkloadConfig::Complete { .. }) {
        return Some(Link::WorkloadIdentity);
    }
    if mi_source(env) != MiSource::Imds {
        return Some(Link::ManagedIdentity);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::FakeEnvironment;

    #[test]
    fn orders_differ_per_sdk() {
        assert_eq!(order(Sdk::Go).len(), 5);
        for sdk in [Sdk::Python, Sdk::Js, Sdk::Dotnet, Sdk::Java, Sdk::Go] {
            let o = order(sdk);
            assert_eq!(
                &o[..3],
                &[Link::Environment, Link::WorkloadIdentity, Link::ManagedIdentity]
            );
            let cli = o.iter().position(|l| *l == Link::AzureCli).unwrap();
            let azd = o.iter().position(|l| *l == Link::AzureDeveloperCli).unwrap();
            assert!(cli < azd);
        }
        assert_eq!(Link::AzureCli.class(Sdk::Go), "AzureCLICredential");
    }

    #[test]
    fn token_credentials_narrowing() {
        assert_eq!(select(Sdk::Python, None), Selection::All);
        assert_eq!(select(Sdk::Python, Some("  ")), Selection::All);
        assert!(matches!(select(Sdk::Go, Some("")), Selection::Invalid { .. }));
        let Selection::Narrowed { links, .. } = select(Sdk::Python, Some(" Prod ")) else {
            panic!()
        };
        assert_eq!(
            links,
            vec![Link::Environment, Link::WorkloadIdentity, Link::ManagedIdentity]
        );
        // Go compares dev/prod case-sensitively.
        assert!(matches!(select(Sdk::Go, Some("Prod")), Selection::Invalid { .. }));
        let Selection::Narrowed { links, .. } = select(Sdk::Js, Some("azureclicredential")) else {
            panic!()
        };
        assert_eq!(links, vec![Link::AzureCli]);
        let Selection::Narrowed { links, .. } = select(Sdk::Go, Some("AzureCLICredential")) else {
            panic!()
        };
        assert_eq!(links, vec![Link::AzureCli]);
        assert!(matches!(
            select(Sdk::Python, Some("AzureCLI")),
            Selection::Invalid { .. }
        ));
        let Selection::Narrowed { links, .. } = select(Sdk::Dotnet, Some("dev")) else {
            panic!()
        };
        assert!(links.contains(&Link::VisualStudio) && !links.contains(&Link::Environment));
    }

    #[test]
    fn environment_configs() {
        let sp = FakeEnvironment::new()
            .var("AZURE_TENANT_ID", "t")
            .var("AZURE_CLIENT_ID", "c")
            .var("AZURE_CLIENT_SECRET", "s");
        assert!(matches!(environment_config(&sp), EnvConfig::Secret { .. }));
        let half = FakeEnvironment::new()
            .var("AZURE_CLIENT_ID", "c")
            .var("AZURE_CLIENT_SECRET", "s");
        assert_eq!(
            environment_config(&half),
            EnvConfig::Incomplete {
                set: vec!["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"],
                missing: vec!["AZURE_TENANT_ID"]
            }
        );
        // Client id alone selects a user-assigned identity: not an incomplete service principal.
        assert_eq!(
            environment_config(&FakeEnvironment::new().var("AZURE_CLIENT_ID", "c")),
            EnvConfig::None
        );
    }

    #[test]
    fn managed_identity_sources_by_precedence() {
        let e = |pairs: &[(&str, &str)]| {
            let mut f = FakeEnvironment::new();
            for (k, v) in pairs {
                f = f.var(k, v);
            }
            mi_source(&f)
        };
        assert_eq!(e(&[]), MiSource::Imds);
        assert_eq!(
            e(&[("IDENTITY_ENDPOINT", "x"), ("IDENTITY_HEADER", "h")]),
            MiSource::AppService
        );
        assert_eq!(
            e(&[
                ("IDENTITY_ENDPOINT", "x"),
                ("IDENTITY_HEADER", "h"),
                ("IDENTITY_SERVER_THUMBPRINT", "t")
            ]),
            MiSource::ServiceFabric
        );
        assert_eq!(e(&[("IDENTITY_ENDPOINT", "x"), ("IMDS_ENDPOINT", "y")]), MiSource::Arc);
        assert_eq!(e(&[("MSI_ENDPOINT", "x"), ("MSI_SECRET", "s")]), MiSource::AzureMl);
        assert_eq!(e(&[("MSI_ENDPOINT", "x")]), MiSource::CloudShell);
        // IDENTITY_ENDPOINT alone: IMDS (Rust/Go); Python would find nothing.
        assert_eq!(e(&[("IDENTITY_ENDPOINT", "x")]), MiSource::Imds);
    }

    #[test]
    fn who_falls_through() {
        assert!(falls_through_on_failure(Sdk::Js, Link::WorkloadIdentity));
        assert!(!falls_through_on_failure(Sdk::Python, Link::WorkloadIdentity));
        assert!(!falls_through_on_failure(Sdk::Js, Link::Environment));
        assert!(falls_through_on_failure(Sdk::Python, Link::AzureCli));
    }
}
