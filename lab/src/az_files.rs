//! What the lab writes for the Azure CLI: the `az` shim on PATH, the stand-in's state file,
//! and an `AZURE_CONFIG_DIR` that looks like a real CLI's (azureProfile.json with its UTF-8
//! BOM, msal_token_cache.json), so a doctor that reads those files sees the truth.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::az::{AzState, STATE_ENV, state_name};
use super::scenario::{CliState, PrincipalKind};
use super::state::LabState;
use super::tokens::AZURE_CLI_APP_ID;
use super::util::{now_unix, shell_quote, stable_guid};

pub struct AzFiles {
    /// Goes first on PATH; holds `az` unless the scenario has no CLI.
    pub shim_dir: PathBuf,
    /// AZURE_CONFIG_DIR
    pub config_dir: PathBuf,
}

pub fn write(dir: &Path, st: &LabState, program: &Path, ca_file: &Path) -> Result<AzFiles> {
    let shim_dir = dir.join("bin");
    let config_dir = dir.join("azure");
    let state_dir = dir.join("az");
    for d in [&shim_dir, &config_dir, &state_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let cli = &st.scenario.cli;
    let subs = if matches!(cli.state, CliState::Missing | CliState::NotLoggedIn) {
        vec![]
    } else {
        subscriptions(st)
    };
    let user = cli.principal.as_deref().and_then(|h| st.scenario.principals.get(h));
    let (user_name, user_type, client_id, secret) = match user {
        Some(p) if p.kind == PrincipalKind::ServicePrincipal => (
            p.app_id.clone().unwrap_or_default(),
            "servicePrincipal",
            p.app_id.clone().unwrap_or_default(),
            p.secret.clone().unwrap_or_default(),
        ),
        Some(p) => (
            p.upn.clone().unwrap_or_default(),
            "user",
            AZURE_CLI_APP_ID.to_string(),
            st.refresh_token.clone(),
        ),
        None => (String::new(), "user", AZURE_CLI_APP_ID.to_string(), String::new()),
    };
    let state = AzState {
        state: state_name(cli.state).to_string(),
        // The loopback listener itself: the stand-in never uses a proxy, so under real names
        // it must not look login.microsoftonline.com up.
        authority: st.urls.local.entra.clone(),
        ca_file: ca_file.display().to_string(),
        user_name: user_name.clone(),
        user_type: user_type.to_string(),
        client_id,
        secret,
        subscriptions: subs.clone(),
        fault: super::faults::table(&st.scenario.faults)?
            .get(&super::faults::Service::Az)
            .map(|f| f.name()),
        delay_ms: st.scenario.latency.az.as_millis() as u64,
        stats_file: st.stats.path().map(|p| p.display().to_string()),
    };
    let state_file = state_dir.join("state.json");
    write_private(&state_file, serde_json::to_string_pretty(&state)?.as_bytes())?;

    if cli.state != CliState::Missing {
        let shim = shim_dir.join("az");
        let text = format!(
            "#!/bin/sh\n# Azure CLI {} stand-in written by `aoai-doctor lab serve` (scenario {}).\n{STATE_ENV}={}\nexport {STATE_ENV}\nexec {} lab az \"$@\"\n",
            super::az::CLI_VERSION,
            st.scenario.name,
            shell_quote(&state_file.display().to_string()),
            shell_quote(&program.display().to_string()),
        );
        std::fs::write(&shim, text).with_context(|| format!("writing {}", shim.display()))?;
        set_mode(&shim, 0o755)?;
    }

    // azureProfile.json is written with a UTF-8 BOM by the real CLI (Azure/azure-cli#13980).
    let profile = json!({"installationId": stable_guid("installation"), "subscriptions": subs});
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend(serde_json::to_string_pretty(&profile)?.as_bytes());
    std::fs::write(config_dir.join("azureProfile.json"), bytes)?;
    if !subs.is_empty() && user_type == "user" {
        write_private(
            &config_dir.join("msal_token_cache.json"),
            msal_cache(st, &user_name).to_string().as_bytes(),
        )?;
    }
    std::fs::write(
        config_dir.join("config"),
        "[core]\nfirst_run = no\ncollect_telemetry = no\n",
    )?;
    Ok(AzFiles { shim_dir, config_dir })
}

/// The subscriptions `az login` would have stored for the CLI's principal.
fn subscriptions(st: &LabState) -> Vec<Value> {
    let s = &st.scenario;
    let Some(p) = s.cli.principal.as_deref().and_then(|h| s.principals.get(h)) else {
        return vec![];
    };
    let home = st.tenant_id_of(&p.tenant).to_string();
    let user_type = if p.kind == PrincipalKind::User {
        "user"
    } else {
        "servicePrincipal"
    };
    let name = p.upn.clone().or_else(|| p.app_id.clone()).unwrap_or_default();
    s.subscriptions
        .iter()
        .filter(|(h, sub)| {
            let in_tenant = sub.tenant == p.tenant || p.guest_of.contains(&sub.tenant);
            let default = s.cli.subscription.as_deref() == Some(h.as_str());
            in_tenant
                && (default
                    || st
                        .rbac()
                        .has_any_access(&p.object_id, &format!("/subscriptions/{}", sub.id)))
        })
        .map(|(h, sub)| {
            let t = s.tenants.get(&sub.tenant);
            json!({
                "environmentName": "AzureCloud",
                "homeTenantId": home,
                "id": sub.id,
                "isDefault": s.cli.subscription.as_deref() == Some(h.as_str()),
                "managedByTenants": [],
                "name": sub.name,
                "state": "Enabled",
                "tenantDefaultDomain": t.map(|t| t.domain.clone()),
                "tenantDisplayName": t.map(|t| t.display_name.clone()),
                "tenantId": t.map(|t| t.id.clone()),
                "user": {"name": name, "type": user_type}
            })
        })
        .collect()
}

/// A plausible MSAL cache: one account and its refresh token (a lab-only value).
fn msal_cache(st: &LabState, upn: &str) -> Value {
    let s = &st.scenario;
    let Some(p) = s.cli.principal.as_deref().and_then(|h| s.principals.get(h)) else {
        return json!({});
    };
    let home = st.tenant_id_of(&p.tenant);
    let home_account = format!("{}.{home}", p.object_id);
    let host = st.urls.entra.trim_start_matches("https://");
    json!({
        "Account": {
            format!("{home_account}-{host}-{home}"): {
                "home_account_id": home_account, "environment": host, "realm": home,
                "local_account_id": p.object_id, "username": upn, "authority_type": "MSSTS"
            }
        },
        "RefreshToken": {
            format!("{home_account}-{host}-refreshtoken-{AZURE_CLI_APP_ID}--"): {
                "credential_type": "RefreshToken", "secret": st.refresh_token,
                "home_account_id": home_account, "environment": host,
                "client_id": AZURE_CLI_APP_ID, "target": "", "last_modification_time": now_unix().to_string(),
                "family_id": "1"
            }
        },
        "AccessToken": {}, "IdToken": {}, "AppMetadata": {}
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    set_mode(path, 0o600)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}
