//! `az account get-access-token` calls started ahead of need, so the two a run makes (the
//! data-plane token and the ARM token) start together instead of one after the other: on a
//! laptop each costs 0.5–1 s. The `azure-cli` check starts the ARM one beside its own; the
//! role check's ARM token then takes the answer already under way.

use super::process::{ProcError, ProcOutput};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

type Answer = Result<ProcOutput, ProcError>;
/// One call under way (or done), awaitable by every check that wants its answer.
type Call = Shared<BoxFuture<'static, Answer>>;

/// The run's `az` token calls under way, by scope.
#[derive(Default)]
pub struct AzTokens {
    /// Start the ARM token early only when a check of this run will want it.
    arm_scope: Option<String>,
    started: Mutex<HashMap<(PathBuf, String), Call>>,
}

impl AzTokens {
    /// `arm_scope`: the ARM scope to fetch early (`None`: no check of this run needs ARM).
    pub fn new(arm_scope: Option<String>) -> Self {
        AzTokens {
            arm_scope,
            started: Mutex::default(),
        }
    }

    /// The ARM scope, when a check of this run needs ARM.
    pub fn arm_scope(&self) -> Option<&str> {
        self.arm_scope.as_deref()
    }

    /// Starts the ARM token call now, on its own task, unless it is under way already or no
    /// check of this run needs it.
    pub fn start_arm(&self, az: &std::path::Path, limit: Duration) {
        if let Some(scope) = self.arm_scope.clone() {
            // Its task runs on its own; the handle is kept for whoever asks.
            drop(self.call(az, &scope, limit));
        }
    }

    /// The answer for `scope`: the call under way if one was started, else a new one.
    pub async fn get(&self, az: &std::path::Path, scope: &str, limit: Duration) -> Answer {
        self.call(az, scope, limit).await
    }

    fn call(&self, az: &std::path::Path, scope: &str, limit: Duration) -> Call {
        let key = (az.to_path_buf(), scope.to_string());
        let mut started = match self.started.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        started
            .entry(key)
            .or_insert_with(|| {
                let (az, scope) = (az.to_path_buf(), scope.to_string());
                // Its own task: it runs while nobody awaits it yet.
                let task = tokio::spawn(async move { super::az::get_access_token(&az, &scope, None, limit).await });
                async move {
                    task.await
                        .unwrap_or_else(|e| Err(ProcError::Spawn(format!("the az call was cancelled: {e}"))))
                }
                .boxed()
                .shared()
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own for one test's fake `az`.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aoai-doctor-az-tokens-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A fake `az` that logs `start SCOPE` and `end SCOPE` around a sleep of `secs`.
    fn fake_az(dir: &std::path::Path, secs: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("az");
        let log = dir.join("calls");
        let script = format!(
            "#!/bin/sh\necho \"start $4\" >> {log}\nsleep {secs}\necho \"end $4\" >> {log}\necho '{{\"accessToken\":\"x\",\"expires_on\":1}}'\n",
            log = log.display()
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn the_arm_call_runs_beside_the_first_and_is_made_once() {
        let dir = scratch("beside");
        let az = fake_az(&dir, "0.3");
        let tokens = AzTokens::new(Some("https://management.azure.com/.default".into()));
        let limit = Duration::from_secs(10);
        tokens.start_arm(&az, limit);
        let data = tokens
            .get(&az, "https://cognitiveservices.azure.com/.default", limit)
            .await;
        let arm = tokens.get(&az, "https://management.azure.com/.default", limit).await;
        assert_eq!(data.unwrap().exit_code, Some(0));
        assert_eq!(arm.unwrap().exit_code, Some(0));
        let calls = std::fs::read_to_string(dir.join("calls")).unwrap();
        let kinds: Vec<&str> = calls.lines().map(|l| l.split(' ').next().unwrap_or_default()).collect();
        // Both started before either ended, and the ARM token was asked for once.
        assert_eq!(kinds, vec!["start", "start", "end", "end"], "{calls}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn without_an_arm_scope_nothing_starts_early() {
        let dir = scratch("none");
        let az = fake_az(&dir, "0");
        AzTokens::new(None).start_arm(&az, Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!dir.join("calls").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
