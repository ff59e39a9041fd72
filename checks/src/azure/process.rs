//! Running `az` / `azd` with a time limit. A hanging `az` (it waits for an interactive login)
//! must not hang the doctor: on timeout the whole process group is killed, because killing
//! only the direct child leaves `az`'s Python grandchild running.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// What a finished process said. Output is capped: garbage in, bounded memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcOutput {
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcError {
    /// The program could not be started (not found, not executable).
    Spawn(String),
    /// It did not finish in time and was killed.
    TimedOut(Duration),
}

/// In a user's words: `could not be started: …` or `no answer within 10s (stopped)`.
impl std::fmt::Display for ProcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProcError::Spawn(why) => write!(f, "could not be started: {why}"),
            ProcError::TimedOut(d) => write!(
                f,
                "no answer within {} (stopped)",
                crate::diagnose::duration::time_limit(*d)
            ),
        }
    }
}

const MAX_OUTPUT: u64 = 1 << 20;

/// Runs `program args…` with stdin closed, in its own process group, for at most `limit`.
pub async fn run(program: &Path, args: &[&str], limit: Duration) -> Result<ProcOutput, ProcError> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| ProcError::Spawn(format!("{}: {e}", program.display())))?;
    let pid = child.id();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let work = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = async {
            if let Some(s) = stdout.as_mut() {
                let _ = s.take(MAX_OUTPUT).read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = s.take(MAX_OUTPUT).read_to_end(&mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = child.wait().await;
        (status, out, err)
    };
    match tokio::time::timeout(limit, work).await {
        Ok((status, out, err)) => Ok(ProcOutput {
            exit_code: status.ok().and_then(|s| s.code()),
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
        }),
        Err(_) => {
            kill_group(pid);
            Err(ProcError::TimedOut(limit))
        }
    }
}

#[cfg(unix)]
fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a negative pid signals the process group we created above.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: Option<u32>) {}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn script(dir: &Path, body: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("fake");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[tokio::test]
    async fn captures_output_and_exit_code() {
        let d = tempfile_dir();
        let p = script(&d, "echo out; echo err >&2; exit 3");
        let o = run(&p, &[], Duration::from_secs(10)).await.unwrap();
        assert_eq!((o.exit_code, o.stdout.trim(), o.stderr.trim()), (Some(3), "out", "err"));
    }

    #[tokio::test]
    async fn a_hanging_grandchild_is_killed_with_its_group() {
        let d = tempfile_dir();
        let marker = d.join("pid");
        // The shell starts a grandchild that would outlive a plain kill of the shell.
        let p = script(&d, &format!("sleep 300 & echo $! > {}; wait", marker.display()));
        let r = run(&p, &[], Duration::from_millis(500)).await;
        assert_eq!(r, Err(ProcError::TimedOut(Duration::from_millis(500))));
        let pid: i32 = std::fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
        // Give the kernel a moment, then the grandchild must be gone (or a zombie).
        std::thread::sleep(Duration::from_millis(200));
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let alive = state.split_whitespace().nth(2).is_some_and(|s| s != "Z");
        assert!(!alive, "grandchild {pid} still running: {state}");
    }

    #[tokio::test]
    async fn missing_program_is_a_spawn_error() {
        let r = run(Path::new("/nonexistent/az"), &[], Duration::from_secs(1)).await;
        assert!(matches!(r, Err(ProcError::Spawn(_))));
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("aoai-doctor-proc-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
    fn rand_suffix() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }
}
