//! The embedded scenario files. Adding a scenario = one TOML file plus one line here.

macro_rules! scenario_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../fixtures/scenarios/", $name, ".toml")))),*]
    };
}

/// `(name, toml)` in the order `lab scenarios` and `demo` list them.
pub const SCENARIO_FILES: &[(&str, &str)] = scenario_files![
    "healthy-cli",
    "healthy-managed-identity",
    "healthy-workload-identity",
    "healthy-service-principal",
    "not-logged-in",
    "wrong-scope",
    "scope-is-endpoint-url",
    "missing-role",
    "contributor-only",
    "owner-at-subscription",
    "propagating-role",
    "role-propagates",
    "permissions-cache-lag",
    "builtin-role-changed",
    "wrong-tenant",
    "container-without-credentials",
    "deployment-not-found",
    "network-blocked",
    "public-access-disabled",
    "key-auth-only",
    "api-key-leftover",
    "expired-secret",
    "bad-secret",
    "refresh-token-expired",
    "conditional-access",
    "cli-hangs",
    "mi-user-assigned",
    "mi-unknown-client-id",
    "mi-multiple-user-assigned",
    "workload-identity-bad-subject",
    "rate-limited",
    "reasoning-model",
    "role-via-group",
    "role-inherited-from-rg",
    "role-on-other-account",
    "custom-role-with-data-action",
    "custom-role-not-data-actions",
    "deny-assignment",
    "arm-read-forbidden",
    "assignee-mi-lacks-role",
    "healthy-v1",
    "healthy-ai-scope",
    "healthy-foundry-project",
    "foundry-project-openai-user",
    "foundry-project-cognitiveservices-token",
    "foundry-maas-openai-user",
    "foundry-account-owner-only",
    "v1-dated-api-version",
];
