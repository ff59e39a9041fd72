//! The lab: a built-in emulator of the four services the doctor talks to — Entra ID,
//! managed identity (App Service endpoint and IMDS), Azure Resource Manager and the Azure
//! OpenAI data plane — plus an Azure CLI stand-in, all on 127.0.0.1, driven by a scenario
//! file (`fixtures/scenarios/*.toml`). Real SDKs cannot tell it from Azure: HTTPS with a
//! throw-away CA, RS256 tokens with a JWKS, and the services' captured bodies and headers.
//!
//! It never imports the doctor's checks: it answers from its scenario state, so a test that
//! passes proves the doctor understood Azure, not itself.

pub mod arm;
pub mod arm_authz;
pub mod arm_foundry;
pub mod arm_write;
pub mod az;
pub mod az_files;
pub mod cli;
pub mod dataplane;
pub mod dataplane_routes;
pub mod demo;
pub mod entra;
pub mod faults;
pub mod http;
pub mod jwt;
pub mod kql;
pub mod latency;
pub mod managed_identity;
pub mod proxy;
pub mod rbac;
pub mod resource_graph;
pub mod responses;
pub mod scenario;
pub mod scenario_files;
pub mod serve;
pub mod state;
pub mod stats;
pub mod tls;
pub mod tokens;
pub mod util;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use serde_json::json;
use tokio::task::JoinHandle;

pub use cli::{run_demo, run_lab};
pub use scenario::{Scenario, scenario, scenarios};

use faults::{Fault, Service};
use scenario::{AppCredential, HostKind};
use state::{LabState, Urls};
use util::now_unix;

/// How to run the doctor against a lab: its arguments (without a subcommand or output
/// format) and its complete environment.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// Knobs that are not part of a scenario.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The program the `az` shim runs as `PROGRAM lab az …`; defaults to this executable.
    pub az_program: Option<PathBuf>,
    /// Log one line per request to stderr (never tokens, secrets or query strings).
    pub log: bool,
    /// Append every request, connection and `az` call to this file (`stats.rs`).
    pub stats_file: Option<PathBuf>,
    /// Give clients the public host names (`NAME.openai.azure.com`, `login.microsoftonline.com`,
    /// `management.azure.com`) and `HTTPS_PROXY` pointing at the lab's CONNECT proxy
    /// (`proxy.rs`), instead of the loopback URLs.
    pub real_names: bool,
}

pub struct Lab {
    state: Arc<LabState>,
    dir: tempfile::TempDir,
    ca_file: PathBuf,
    shim_dir: PathBuf,
    config_dir: PathBuf,
    federated_token_file: Option<PathBuf>,
    handles: Vec<Handle<SocketAddr>>,
    tasks: Vec<JoinHandle<()>>,
}

pub async fn start_with(scenario: &Scenario, options: Options) -> Result<Lab> {
    sweep_stale_dirs();
    let dir = owned_tempdir("aoai-doctor-lab-")?;
    let tls = tls::generate()?;
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &tls.ca_pem).context("writing the lab CA")?;

    let faults = faults::table(&scenario.faults)?;
    let (mut listeners, urls) = bind_listeners(scenario, &faults, options.real_names)?;
    let mut state = LabState::new(scenario.clone(), urls, options.log)?;
    state.stats = Arc::new(stats::Stats::new(options.stats_file.as_deref())?);
    let state = Arc::new(state);

    let program = match options.az_program {
        Some(p) => p,
        None => pin_program(dir.path())?,
    };
    let files = az_files::write(dir.path(), &state, &program, &ca_file)?;
    std::fs::create_dir_all(dir.path().join("home"))?;

    let mut tasks = vec![];
    let federated_token_file = if scenario.app.credential == AppCredential::WorkloadIdentity {
        Some(start_projected_token(dir.path(), &state, &mut tasks)?)
    } else {
        None
    };

    let certs = ServerCerts::load(tls, &faults).await?;
    if let Some((listener, routes)) = listeners.proxy()? {
        tasks.push(proxy::serve(listener, routes, options.log)?);
    }
    let mut handles = vec![];
    for (service, listener, router) in listeners.into_services(&state) {
        let fault = faults.get(&service).copied();
        if let Some(f) = fault.filter(|f| f.is_connection()) {
            tasks.push(faults::serve_connection_fault(listener, f, service, state.clone())?);
            continue;
        }
        let handle = Handle::new();
        tasks.push(serve_service(
            scenario,
            &state,
            &certs,
            (service, fault),
            listener,
            router,
            &handle,
        )?);
        handles.push(handle);
    }

    Ok(Lab {
        state,
        dir,
        ca_file,
        shim_dir: files.shim_dir,
        config_dir: files.config_dir,
        federated_token_file,
        handles,
        tasks,
    })
}

/// The lab's loopback listeners, bound before the state exists (it needs their URLs).
struct Listeners {
    entra: TcpListener,
    arm: TcpListener,
    aoai: TcpListener,
    mi: TcpListener,
    /// Only on hosts that have IMDS, or when a fault is put on it.
    imds: Option<TcpListener>,
    /// The CONNECT proxy's, under real names.
    proxy: Option<TcpListener>,
}

impl Listeners {
    /// The proxy's listener and where it routes each public name, under real names.
    fn proxy(&mut self) -> Result<Option<(TcpListener, proxy::Routes)>> {
        let Some(listener) = self.proxy.take() else {
            return Ok(None);
        };
        let routes = proxy::Routes {
            data_plane: self.aoai.local_addr()?,
            entra: self.entra.local_addr()?,
            arm: self.arm.local_addr()?,
        };
        Ok(Some((listener, routes)))
    }

    /// Each listener with the service it stands for and that service's router.
    fn into_services(self, state: &Arc<LabState>) -> Vec<(Service, TcpListener, Router)> {
        let mut services = vec![
            (Service::Entra, self.entra, entra::router(state.clone())),
            (Service::Arm, self.arm, arm::router(state.clone())),
            (Service::Aoai, self.aoai, dataplane::router(state.clone())),
            (Service::Identity, self.mi, managed_identity::router(state.clone())),
        ];
        if let Some(l) = self.imds {
            services.push((Service::Imds, l, managed_identity::router(state.clone())));
        }
        services
    }
}

/// A listener on 127.0.0.1 (an ephemeral port), non-blocking for tokio: every service's and
/// the proxy's.
pub(crate) fn bind_loopback() -> Result<TcpListener> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Binds every service's listener (and the proxy's, under real names) and says where each
/// one answers.
fn bind_listeners(
    scenario: &Scenario,
    faults: &BTreeMap<Service, Fault>,
    real_names: bool,
) -> Result<(Listeners, Urls)> {
    let (entra_l, arm_l, aoai_l, mi_l) = (bind_loopback()?, bind_loopback()?, bind_loopback()?, bind_loopback()?);
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port());
    let mi = format!("http://127.0.0.1:{}", port(&mi_l)?);
    // IMDS gets its own listener (so a fault can hit it and not the identity endpoint) on
    // hosts that have one, or when a fault is put on it.
    let imds_l = if scenario.host.kind.has_imds() || faults.contains_key(&Service::Imds) {
        Some(bind_loopback()?)
    } else {
        None
    };
    let imds = match &imds_l {
        Some(l) => format!("http://127.0.0.1:{}", port(l)?),
        None => {
            // Nothing answers on the IMDS address off Azure: a port that refuses connections.
            let refused = bind_loopback()?;
            let p = port(&refused)?;
            drop(refused);
            format!("http://127.0.0.1:{p}")
        }
    };
    let local = state::LocalUrls {
        entra: format!("https://127.0.0.1:{}", port(&entra_l)?),
        arm: format!("https://127.0.0.1:{}", port(&arm_l)?),
        aoai: format!("https://127.0.0.1:{}", port(&aoai_l)?),
    };
    let proxy_l = if real_names {
        Some(bind_loopback().context("binding the lab's proxy")?)
    } else {
        None
    };
    let urls = match &proxy_l {
        Some(l) => Urls::real_names(scenario, local, mi, imds, format!("http://127.0.0.1:{}", port(l)?)),
        None => Urls::loopback(local, mi, imds),
    };
    let listeners = Listeners {
        entra: entra_l,
        arm: arm_l,
        aoai: aoai_l,
        mi: mi_l,
        imds: imds_l,
        proxy: proxy_l,
    };
    Ok((listeners, urls))
}

/// Writes the workload-identity token file and keeps rewriting it; returns its path.
fn start_projected_token(dir: &Path, state: &Arc<LabState>, tasks: &mut Vec<JoinHandle<()>>) -> Result<PathBuf> {
    let path = dir.join("workload-identity").join("azure-identity-token");
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    write_projected_token(state, &path)?;
    // kubelet rotates the projected token; so does the lab, well before it expires.
    let (st, p) = (state.clone(), path.clone());
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(30 * 60)).await;
            let _ = write_projected_token(&st, &p);
        }
    }));
    Ok(path)
}

/// The lab's TLS certificate, and the untrusted one when a fault serves it.
struct ServerCerts {
    trusted: RustlsConfig,
    untrusted: Option<RustlsConfig>,
}

impl ServerCerts {
    async fn load(tls: tls::LabTls, faults: &BTreeMap<Service, Fault>) -> Result<Self> {
        let trusted = RustlsConfig::from_pem(tls.cert_pem.into_bytes(), tls.key_pem.into_bytes())
            .await
            .context("loading the lab's TLS certificate")?;
        let untrusted = if faults.values().any(|f| *f == Fault::UntrustedCert) {
            let (cert, key) = faults::untrusted_pems()?;
            Some(
                RustlsConfig::from_pem(cert.into_bytes(), key.into_bytes())
                    .await
                    .context("loading the untrusted certificate")?,
            )
        } else {
            None
        };
        Ok(ServerCerts { trusted, untrusted })
    }

    /// What `service` serves: nothing for plain HTTP, the untrusted certificate under that fault.
    fn for_service(&self, service: Service, fault: Option<Fault>) -> Option<RustlsConfig> {
        match (service.is_tls(), fault, &self.untrusted) {
            (false, _, _) => None,
            (true, Some(Fault::UntrustedCert), Some(u)) => Some(u.clone()),
            (true, _, _) => Some(self.trusted.clone()),
        }
    }
}

/// Serves one service on its listener, behind its fault (if any) and the scenario's latency.
fn serve_service(
    scenario: &Scenario,
    state: &Arc<LabState>,
    certs: &ServerCerts,
    (service, fault): (Service, Option<Fault>),
    listener: TcpListener,
    router: Router,
    handle: &Handle<SocketAddr>,
) -> Result<JoinHandle<()>> {
    let router: Router = match fault {
        Some(f) if f != Fault::UntrustedCert => faults::wrap(router, f, service, state.clone()),
        _ => router,
    };
    let model = &scenario.latency;
    let router = latency::layer(router, service, model.clone(), state.stats.clone());
    // Counts the connection and charges its round trips (it also sets TCP_NODELAY).
    let accept = latency::LatencyAcceptor::new(service, model, state.stats.clone());
    let task = match certs.for_service(service, fault) {
        Some(tls) => {
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls).acceptor(accept);
            let server = axum_server::from_tcp(listener)?
                .acceptor(acceptor)
                .handle(handle.clone());
            tokio::spawn(async move {
                let _ = server.serve(router.into_make_service()).await;
            })
        }
        None => {
            let server = axum_server::from_tcp(listener)?.acceptor(accept).handle(handle.clone());
            tokio::spawn(async move {
                let _ = server.serve(router.into_make_service()).await;
            })
        }
    };
    Ok(task)
}

/// A temporary directory that records its owner's pid, so a later lab can remove it if
/// its owner was killed before it could clean up (SIGKILL leaves no chance to).
pub fn owned_tempdir(prefix: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .context("creating the lab's temporary directory")?;
    std::fs::write(dir.path().join("owner.pid"), std::process::id().to_string())?;
    Ok(dir)
}

/// Remove lab and demo directories whose owning process is gone.
fn sweep_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !(name.starts_with("aoai-doctor-lab-") || name.starts_with("aoai-doctor-demo-")) {
            continue;
        }
        let pid: Option<i32> = std::fs::read_to_string(e.path().join("owner.pid"))
            .ok()
            .and_then(|p| p.trim().parse().ok());
        let alive = match pid {
            // SAFETY: signal 0 only checks that the process exists.
            Some(p) => {
                let r = unsafe { libc::kill(p, 0) };
                r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
            }
            // Directories from before owner.pid existed: stale once an hour old.
            None => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < Duration::from_secs(3600)),
        };
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// This executable, pinned for the `az` shim (and the demo's doctor runs): a rebuild
/// (`cargo build` replaces target/debug/aoai-doctor) must not pull the program out from under
/// a running lab. A hard link keeps the original file alive; if it was already replaced,
/// the running image is copied from /proc/self/exe.
pub fn pin_program(dir: &Path) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let pinned = dir.join("aoai-doctor");
    if exe.exists() {
        return Ok(if std::fs::hard_link(&exe, &pinned).is_ok() {
            pinned
        } else {
            exe
        });
    }
    std::fs::copy("/proc/self/exe", &pinned).context("copying the running executable")?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&pinned, std::fs::Permissions::from_mode(0o755))?;
    Ok(pinned)
}

/// The service-account token kubelet projects into a workload-identity pod.
fn write_projected_token(st: &LabState, path: &Path) -> Result<()> {
    let app = &st.scenario.app;
    let fic = app
        .principal
        .as_deref()
        .and_then(|h| st.scenario.principals.get(h))
        .and_then(|p| p.federated_credentials.first());
    let issuer = app
        .federated_issuer
        .clone()
        .or_else(|| fic.map(|f| f.issuer.clone()))
        .unwrap_or_default();
    let subject = app
        .federated_subject
        .clone()
        .or_else(|| fic.map(|f| f.subject.clone()))
        .unwrap_or_else(|| "system:serviceaccount:default:default".into());
    let audience = app
        .federated_audience
        .clone()
        .or_else(|| fic.map(|f| f.audience.clone()))
        .unwrap_or_else(|| "api://AzureADTokenExchange".into());
    let mut parts = subject.split(':').skip(2);
    let (ns, sa) = (parts.next().unwrap_or("default"), parts.next().unwrap_or("default"));
    let now = now_unix();
    let claims = json!({
        "aud": [audience],
        "exp": now + 3600,
        "iat": now,
        "iss": issuer,
        "jti": util::guid(),
        "kubernetes.io": {
            "namespace": ns,
            "node": {"name": "aks-nodepool1-12345678-vmss000000", "uid": util::stable_guid("node")},
            "pod": {"name": format!("{sa}-7d9f8c6b5-x2k4q"), "uid": util::stable_guid("pod")},
            "serviceaccount": {"name": sa, "uid": util::stable_guid(&subject)}
        },
        "nbf": now,
        "sub": subject,
    });
    let token = st.signer.sign(&claims)?;
    std::fs::write(path, token).with_context(|| format!("writing {}", path.display()))
}

impl Lab {
    pub fn scenario(&self) -> &Scenario {
        &self.state.scenario
    }

    pub fn urls(&self) -> &Urls {
        &self.state.urls
    }

    /// Requests and connections so far, per service.
    pub fn stats(&self) -> &stats::Stats {
        &self.state.stats
    }

    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// Only the shim directory: a real `az` installed on this machine must never answer for
    /// the lab (the shim itself runs the doctor's binary by its absolute path).
    fn path_env(&self) -> String {
        self.shim_dir.display().to_string()
    }

    /// The doctor's arguments and environment for this lab.
    pub fn invocation(&self) -> Invocation {
        let s = &self.state.scenario;
        let u = &self.state.urls;
        let mut args = vec![
            "--endpoint".to_string(),
            // The app's configured endpoint: the resource root, or a v1 base URL, a project
            // endpoint, the model-inference route (scenario `doctor.endpoint_path`).
            format!("{}/{}", u.aoai, s.doctor.endpoint_path.trim_start_matches('/')),
            "--deployment".to_string(),
            s.doctor.deployment.clone(),
            "--ca-cert".to_string(),
            self.ca_file.display().to_string(),
            "--arm-endpoint".to_string(),
            format!("{}/", u.arm),
        ];
        // Decide container detection from the scenario, not from the machine the demo runs on.
        if !s.doctor.args.iter().any(|a| a.starts_with("--container")) {
            let inside = matches!(
                s.host.kind,
                HostKind::Container | HostKind::ContainerApps | HostKind::Aks
            );
            args.push("--container".into());
            args.push(if inside { "yes" } else { "no" }.into());
        }
        args.extend(s.doctor.args.iter().cloned());
        let mut env = vec![("PATH".to_string(), self.path_env())];
        env.push(("HOME".into(), self.dir.path().join("home").display().to_string()));
        env.extend(self.client_env());
        Invocation { args, env }
    }

    /// The environment any client needs (the doctor, the real SDKs, a user's app), except
    /// PATH and HOME.
    pub fn client_env(&self) -> Vec<(String, String)> {
        let s = &self.state.scenario;
        let u = &self.state.urls;
        let ca = self.ca_file.display().to_string();
        let mut env: Vec<(String, String)> = vec![
            ("AZURE_CONFIG_DIR".into(), self.config_dir.display().to_string()),
            ("SSL_CERT_FILE".into(), ca.clone()),
            ("REQUESTS_CA_BUNDLE".into(), ca.clone()),
            ("NODE_EXTRA_CA_CERTS".into(), ca),
            ("AZURE_AUTHORITY_HOST".into(), format!("{}/", u.entra)),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST".into(), u.imds.clone()),
        ];
        let mut set = |k: &str, v: String| env.push((k.to_string(), v));
        if let Some(p) = &u.proxy {
            // The public names are reached through the lab's proxy; managed identity stays
            // plain-HTTP loopback, which clients never send through an HTTPS proxy.
            set("HTTPS_PROXY", p.clone());
        }
        match s.host.kind {
            HostKind::AppService => {
                set("WEBSITE_SITE_NAME", "chat-app".into());
                set("WEBSITE_RESOURCE_GROUP", "rg-chat-app".into());
                set("WEBSITE_INSTANCE_ID", util::stable_guid("instance").replace('-', ""));
            }
            HostKind::ContainerApps => {
                set("CONTAINER_APP_NAME", "chat-app".into());
                set("CONTAINER_APP_REVISION", "chat-app--7q1x2d3".into());
            }
            HostKind::Aks => {
                set("KUBERNETES_SERVICE_HOST", "10.0.0.1".into());
                set("KUBERNETES_SERVICE_PORT", "443".into());
            }
            HostKind::Ci => set("CI", "true".into()),
            _ => {}
        }
        if s.host.kind.has_identity_endpoint() {
            set("IDENTITY_ENDPOINT", u.app_service_endpoint());
            set("IDENTITY_HEADER", self.state.identity_header.clone());
        }
        let principal = s.app.principal.as_deref().and_then(|h| s.principals.get(h));
        let tenant = s
            .app
            .tenant
            .as_deref()
            .map(|t| s.tenants.get(t).map_or_else(|| t.to_string(), |x| x.id.clone()))
            .or_else(|| principal.map(|p| self.state.tenant_id_of(&p.tenant).to_string()));
        let client_id = s.app.client_id.clone().or_else(|| {
            principal
                .filter(|_| s.app.credential != AppCredential::None)
                .and_then(|p| p.app_id.clone())
        });
        match s.app.credential {
            AppCredential::None => {}
            AppCredential::ServicePrincipal => {
                let secret = s
                    .app
                    .secret
                    .clone()
                    .or_else(|| principal.and_then(|p| p.secret.clone()));
                set("AZURE_TENANT_ID", tenant.clone().unwrap_or_default());
                set("AZURE_CLIENT_SECRET", secret.unwrap_or_default());
            }
            AppCredential::WorkloadIdentity => {
                set("AZURE_TENANT_ID", tenant.clone().unwrap_or_default());
                if let Some(f) = &self.federated_token_file {
                    set("AZURE_FEDERATED_TOKEN_FILE", f.display().to_string());
                }
            }
        }
        if let Some(c) = client_id {
            set("AZURE_CLIENT_ID", c);
        }
        for (k, v) in &s.doctor.env {
            env.retain(|(ek, _)| ek != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }

    /// `export` lines for a shell (the env file of `lab serve`).
    pub fn env_file(&self) -> String {
        let s = &self.state.scenario;
        let u = &self.state.urls;
        let q = util::shell_quote;
        let mut out = format!(
            "# aoai-doctor lab: scenario {} — {}\n# expected verdict: {}\n",
            s.name,
            s.description,
            s.expected_verdict.as_str()
        );
        let inv = self.invocation();
        out.push_str(&format!(
            "# run the doctor: aoai-doctor {}\n",
            inv.args.iter().map(|a| q(a)).collect::<Vec<_>>().join(" ")
        ));
        let mut lines = vec![
            ("AZURE_OPENAI_ENDPOINT".to_string(), format!("{}/", u.aoai)),
            ("AZURE_OPENAI_DEPLOYMENT".into(), s.doctor.deployment.clone()),
            ("OPENAI_API_VERSION".into(), "2025-04-01-preview".into()),
            ("AOAI_DOCTOR_ARM_ENDPOINT".into(), format!("{}/", u.arm)),
            ("AOAI_DOCTOR_CA_CERT".into(), self.ca_file.display().to_string()),
        ];
        // What the Foundry samples read: the first project's endpoint.
        if let Some(p) = s.projects.keys().next() {
            lines.push((
                "AZURE_AI_PROJECT_ENDPOINT".into(),
                format!("{}/api/projects/{p}", u.aoai),
            ));
        }
        lines.extend(self.client_env());
        if let Some(p) = &u.proxy {
            // Lower case too: curl and Python's urllib prefer it when both are set, and a
            // corporate proxy in a user's shell must not take the lab's names. Other proxy
            // settings go: NO_PROXY could send a lab name (and a lab token) to the real host.
            out.push_str("unset NO_PROXY no_proxy ALL_PROXY all_proxy HTTP_PROXY http_proxy\n");
            lines.push(("https_proxy".into(), p.clone()));
        }
        for (k, v) in lines {
            out.push_str(&format!("export {k}={}\n", q(&v)));
        }
        // Prepend, do not replace, a user's PATH (the doctor's own run in `demo` uses the
        // shim directory alone).
        out.push_str(&format!(
            "export PATH={}:\"$PATH\"\n",
            q(&self.shim_dir.display().to_string())
        ));
        out
    }

    /// Stop every server and remove the temporary directory.
    pub async fn shutdown(self) {
        for h in &self.handles {
            h.graceful_shutdown(Some(Duration::from_millis(300)));
        }
        for t in self.tasks {
            t.abort();
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        drop(self.dir);
    }
}
