//! The catalogue of finding codes. Every finding the doctor can print has a stable kebab-case
//! code here with a one-line description and a docs link; the README's table is checked against
//! [`all`] by a test, and codes never change meaning once published.
//!
//! One file per area keeps additions local; `all()` stitches the areas together.

mod authorization;
mod container;
mod credentials;
mod endpoint;
mod entra;
mod environment;
mod explain;
mod fix;
mod identity;
mod probe;
mod runner;

pub use authorization::*;
pub use container::*;
pub use credentials::*;
pub use endpoint::*;
pub use entra::*;
pub use environment::*;
pub use explain::*;
pub use fix::*;
pub use identity::*;
pub use probe::*;
pub use runner::*;

/// A diagnosis the doctor can make.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Code {
    /// Stable kebab-case id, shown in every output format.
    pub id: &'static str,
    /// One line: what the code means.
    pub description: &'static str,
    /// Where to read more (Microsoft Learn or the README).
    pub docs_url: &'static str,
}

/// Declares codes as `pub const NAME: Code` plus the area's list of them.
macro_rules! codes {
    (list = $list:ident; $( $(#[$meta:meta])* $name:ident = ($id:literal, $docs:expr, $desc:literal); )*) => {
        $( $(#[$meta])* pub const $name: $crate::codes::Code =
            $crate::codes::Code { id: $id, description: $desc, docs_url: $docs }; )*
        pub const $list: &[&$crate::codes::Code] = &[$(&$name),*];
    };
}
pub(crate) use codes;

/// Every code of every area, in catalogue order.
pub fn all() -> Vec<&'static Code> {
    [
        ENDPOINT_CODES,
        ENVIRONMENT_CODES,
        IDENTITY_CODES,
        AUTHORIZATION_CODES,
        CONTAINER_CODES,
        PROBE_CODES,
        FIX_CODES,
        ENTRA_CODES,
        CREDENTIAL_CODES,
        RUNNER_CODES,
        EXPLAIN_CODES,
    ]
    .concat()
}

/// Looks a code up by its id.
pub fn find(id: &str) -> Option<&'static Code> {
    all().into_iter().find(|c| c.id == id)
}

/// Docs pages used by several codes.
pub mod docs {
    pub const CUSTOM_SUBDOMAIN: &str =
        "https://learn.microsoft.com/azure/ai-services/cognitive-services-custom-subdomains";
    pub const MANAGED_IDENTITY_AOAI: &str =
        "https://learn.microsoft.com/azure/ai-services/openai/how-to/managed-identity";
    pub const RBAC_AOAI: &str = "https://learn.microsoft.com/azure/ai-services/openai/how-to/role-based-access-control";
    pub const PRIVATE_ENDPOINT: &str =
        "https://learn.microsoft.com/azure/ai-services/cognitive-services-virtual-networks";
    pub const DEFAULT_CREDENTIAL: &str =
        "https://learn.microsoft.com/azure/developer/python/sdk/authentication/credential-chains";
    /// This project's own README (no public site yet): the code table and its explanations.
    pub const README: &str = "README.md#finding-codes";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_kebab_case_and_described() {
        let mut seen = HashSet::new();
        for c in all() {
            assert!(seen.insert(c.id), "duplicate code {}", c.id);
            assert!(
                !c.id.is_empty()
                    && c.id
                        .chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
                    && !c.id.starts_with('-')
                    && !c.id.ends_with('-')
                    && !c.id.contains("--"),
                "code {} is not kebab-case",
                c.id
            );
            assert!(c.description.len() > 10, "code {} needs a real description", c.id);
            assert!(
                !c.description.contains('\n'),
                "code {} description must be one line",
                c.id
            );
            assert!(
                c.docs_url.starts_with("https://learn.microsoft.com/") || c.docs_url == docs::README,
                "code {} needs a docs link",
                c.id
            );
        }
    }
}

#[cfg(test)]
mod readme_tests {
    /// The README's code table (between the `codes:start`/`codes:end` markers) lists exactly
    /// the catalogue, in order, with the same descriptions.
    #[test]
    fn readme_lists_every_code() {
        let readme = include_str!("../../../README.md");
        let table = readme
            .split("<!-- codes:start -->")
            .nth(1)
            .and_then(|s| s.split("<!-- codes:end -->").next())
            .expect("README has the codes markers");
        let rows: Vec<(String, String)> = table
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells[1].trim_matches('`').to_string(), cells[2].to_string())
            })
            .collect();
        let expected: Vec<(String, String)> = super::all()
            .iter()
            .map(|c| (c.id.to_string(), c.description.replace('|', "\\|")))
            .collect();
        if rows != expected {
            let table: String = expected.iter().map(|(id, d)| format!("| `{id}` | {d} |\n")).collect();
            panic!("README code table is out of date; replace it with:\n| code | meaning |\n|---|---|\n{table}");
        }
    }
}
