//! The Azure CLI: where it is, and `az account get-access-token` — run once per doctor run,
//! since it tells tenant, subscription and expiry along with the token.

use super::process::{self, ProcError, ProcOutput};
use crate::context::Environment;
use std::path::PathBuf;
use std::time::Duration;

/// Finds a program on the PATH the environment seam gives (absolute entries only: the SDKs
/// run `az` after `cd /bin`, so a relative PATH entry would not find it anyway).
pub fn locate(env: &dyn Environment, program: &str) -> Option<PathBuf> {
    let path = env.var("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(p: &std::path::Path) -> bool {
    p.is_file()
}

/// `az account get-access-token --scope SCOPE [--tenant T] -o json`.
pub async fn get_access_token(
    az: &std::path::Path,
    scope: &str,
    tenant: Option<&str>,
    limit: Duration,
) -> Result<ProcOutput, ProcError> {
    let mut args = vec!["account", "get-access-token", "--scope", scope, "-o", "json"];
    if let Some(t) = tenant {
        args.extend(["--tenant", t]);
    }
    process::run(az, &args, limit).await
}

/// `azd auth token --output json --no-prompt --scope SCOPE`.
pub async fn azd_token(azd: &std::path::Path, scope: &str, limit: Duration) -> Result<ProcOutput, ProcError> {
    process::run(
        azd,
        &["auth", "token", "--output", "json", "--no-prompt", "--scope", scope],
        limit,
    )
    .await
}
