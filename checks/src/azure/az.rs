//! The Azure CLI: where it is, and `az account get-access-token` — run once per doctor run,
//! since it tells tenant, subscription and expiry along with the token.

use super::credentials::{AcquireFailure, Acquired};
use super::process::{self, ProcError, ProcOutput};
use crate::context::Environment;
use crate::facts::TokenInfo;
use crate::secret::Secret;
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

/// A token for `scope` from the Azure Developer CLI (`AzureDeveloperCliCredential`): for the
/// data plane as for ARM (the role check's reads). `azd` is stopped after `limit`.
pub async fn azd_access_token(env: &dyn Environment, scope: &str, limit: Duration) -> Acquired {
    let Some(azd) = locate(env, "azd") else {
        return Err(AcquireFailure::Setup("azd is not on PATH".into()));
    };
    match azd_token(&azd, scope, limit).await {
        Err(ProcError::TimedOut(d)) => Err(AcquireFailure::TimedOut(d)),
        Err(ProcError::Spawn(e)) => Err(AcquireFailure::Setup(e)),
        Ok(out) if out.exit_code == Some(0) => parse_azd_token(&out.stdout),
        // azd's stderr says why (not logged in, AADSTS…); the classifier reads it.
        Ok(out) => Err(AcquireFailure::Cli {
            stderr: out.stderr,
            exit_code: out.exit_code,
        }),
    }
}

/// `azd auth token --output json`: `{"token": "…", "expiresOn": "2026-01-01T00:00:00Z"}`.
pub(crate) fn parse_azd_token(stdout: &str) -> Acquired {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct AzdToken {
        token: String,
        expires_on: Option<String>,
    }
    match serde_json::from_str::<AzdToken>(stdout) {
        Ok(t) if !t.token.trim().is_empty() => Ok(TokenInfo {
            expires_on: t.expires_on.as_deref().and_then(super::arm::parse_timestamp),
            token: Secret::new(t.token),
            source: "AzureDeveloperCliCredential".into(),
        }),
        // Never echo stdout: it may hold a token in a shape we did not expect.
        _ => Err(AcquireFailure::NotAToken {
            status: 0,
            body_excerpt: "azd printed no token".into(),
        }),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::context::FakeEnvironment;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory whose `azd` runs `script_body` after recording its arguments.
    fn fake_azd(script_body: &str) -> (PathBuf, FakeEnvironment) {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "aoai-doctor-azd-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("azd");
        let script = format!("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\n{script_body}\n");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = FakeEnvironment::new().var("PATH", &dir.display().to_string());
        (dir, env)
    }

    #[tokio::test]
    async fn azd_gives_an_arm_token_for_the_scope_asked() {
        let (dir, env) = fake_azd(r#"echo '{"token":"eyJ.fake.arm","expiresOn":"2026-01-01T00:00:00Z"}'"#);
        let scope = "https://management.usgovcloudapi.net/.default";
        let t = azd_access_token(&env, scope, Duration::from_secs(10)).await.unwrap();
        assert_eq!((t.token.expose(), t.expires_on), ("eyJ.fake.arm", Some(1_767_225_600)));
        let args = std::fs::read_to_string(dir.join("args")).unwrap();
        assert!(
            args.contains(&format!("auth token --output json --no-prompt --scope {scope}")),
            "{args}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn azd_failures_are_classified_not_echoed() {
        let mut dirs = vec![];
        let (d, env) = fake_azd("echo 'ERROR: not logged in, run `azd auth login` to login' >&2; exit 1");
        dirs.push(d);
        let e = azd_access_token(&env, "s", Duration::from_secs(10)).await.unwrap_err();
        assert!(e.describe().contains("not logged in"), "{}", e.describe());
        let (d, env) = fake_azd("echo 'secret-looking output'");
        dirs.push(d);
        let e = azd_access_token(&env, "s", Duration::from_secs(10)).await.unwrap_err();
        assert!(!format!("{e:?}").contains("secret-looking"), "{e:?}");
        let (d, env) = fake_azd("sleep 5");
        dirs.push(d);
        let e = azd_access_token(&env, "s", Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(e, AcquireFailure::TimedOut(_)), "{e:?}");
        let e = azd_access_token(&FakeEnvironment::new(), "s", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(e.describe(), "azd is not on PATH");
        dirs.into_iter().for_each(|d| drop(std::fs::remove_dir_all(d)));
    }
}
