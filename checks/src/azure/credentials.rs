//! Getting a token the way the app would, one credential at a time. Client secret, workload
//! identity and the App Service managed-identity endpoint go through `azure_identity` 1.x
//! (the real SDK code path) over our transport; IMDS is called directly because the SDK
//! hard-codes its address and retries for ~100 s before giving up.

use super::process::ProcError;
use super::transport::{Captured, CapturingTransport};
use super::{az, http, imds};
use crate::chain::MiSource;
use crate::context::RunContext;
use crate::facts::{CredentialConfig, TokenInfo};
use crate::secret::Secret;
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use std::sync::Arc;
use std::time::Duration;

/// Why no token came back.
#[derive(Debug, Clone)]
pub enum AcquireFailure {
    /// The service answered with an error (status, headers, body as sent; the body of an Entra
    /// or managed-identity error holds no secret).
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// No answer: DNS, connect, TLS, reset.
    Transport {
        kind: http::Failure,
        message: String,
    },
    TimedOut(Duration),
    /// The credential could not even be set up (missing file, bad authority…).
    Setup(String),
    /// A 2xx whose body is not a token.
    NotAToken {
        status: u16,
        body_excerpt: String,
    },
    /// A developer tool (`az`) failed; its stderr names the reason.
    Cli {
        stderr: String,
        exit_code: Option<i32>,
    },
}

impl AcquireFailure {
    pub fn describe(&self) -> String {
        match self {
            AcquireFailure::Http { status, .. } => format!("HTTP {status}"),
            AcquireFailure::Transport { message, .. } => message.clone(),
            AcquireFailure::TimedOut(d) => format!("no answer within {}", crate::diagnose::duration::time_limit(*d)),
            AcquireFailure::Setup(m) => m.clone(),
            AcquireFailure::NotAToken { status, .. } => format!("HTTP {status} but the body is not a token"),
            AcquireFailure::Cli { stderr, .. } => {
                crate::diagnose::redact::redact(stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("az failed"))
            }
        }
    }
}

pub type Acquired = Result<TokenInfo, AcquireFailure>;

/// The authority host the SDK credentials use (`AZURE_AUTHORITY_HOST` or the cloud's).
fn authority(ctx: &RunContext) -> String {
    ctx.endpoints.authority_host.as_str().trim_end_matches('/').to_string()
}

fn client_options(authority: String, transport: &CapturingTransport) -> ClientOptions {
    let mut custom = azure_core::cloud::CustomConfiguration::default();
    custom.authority_host = authority;
    ClientOptions {
        transport: Some(Transport::new(Arc::new(transport.clone()))),
        // A doctor wants the first failure, fast.
        retry: RetryOptions::none(),
        cloud: Some(Arc::new(azure_core::cloud::CloudConfiguration::from(custom))),
        ..Default::default()
    }
}

/// One HTTP exchange's limit: the client's, but short of the check's own, so a service that
/// never answers is reported by the check (token-timed-out) and not cut off by the runner.
pub fn http_limit(ctx: &RunContext) -> Duration {
    ctx.timeouts.http.min(ctx.timeouts.check.mul_f64(0.8))
}

/// A 2xx that did not give a token: what a finding can show of its body.
fn not_a_token(c: &Captured) -> AcquireFailure {
    let body_excerpt = if c.too_large {
        format!(
            "a body larger than {} KiB (the doctor stopped reading), starting: {}",
            super::transport::MAX_READ / 1024,
            c.body.chars().take(80).collect::<String>()
        )
    } else if c.body.trim().is_empty() {
        "an empty body".to_string()
    } else {
        c.body.chars().take(200).collect()
    };
    AcquireFailure::NotAToken {
        status: c.status,
        body_excerpt,
    }
}

/// Runs an SDK credential with a time limit and turns its error into what was on the wire.
async fn drive(
    credential: azure_core::Result<Arc<dyn TokenCredential>>,
    transport: &CapturingTransport,
    scope: &str,
    source: &str,
    limit: Duration,
) -> Acquired {
    let credential = credential.map_err(|e| AcquireFailure::Setup(http::error_chain(&e)))?;
    let got = tokio::time::timeout(limit, credential.get_token(&[scope], None)).await;
    match got {
        Err(_) => Err(AcquireFailure::TimedOut(limit)),
        // The SDK fills a missing access_token with an empty string.
        Ok(Ok(token)) if token.token.secret().trim().is_empty() => Err(match transport.last() {
            Some(c) => not_a_token(&c),
            None => AcquireFailure::NotAToken {
                status: 200,
                body_excerpt: "an answer without access_token".into(),
            },
        }),
        Ok(Ok(token)) => Ok(TokenInfo {
            token: Secret::new(token.token.secret().to_string()),
            expires_on: Some(token.expires_on.unix_timestamp()),
            source: source.to_string(),
        }),
        Ok(Err(e)) => Err(match (transport.last(), transport.last_failure()) {
            (Some(c), _) if c.too_large => not_a_token(&c),
            (
                Some(Captured {
                    status, headers, body, ..
                }),
                _,
            ) if !(200..300).contains(&status) => AcquireFailure::Http { status, headers, body },
            (Some(c), _) => not_a_token(&c),
            (None, Some(f)) if f.kind == http::Failure::Timeout => AcquireFailure::TimedOut(limit),
            (None, Some(f)) => AcquireFailure::Transport {
                kind: f.kind,
                message: f.message,
            },
            (None, None) => transport_failure(&e),
        }),
    }
}

fn transport_failure(e: &azure_core::Error) -> AcquireFailure {
    let message = http::error_chain(e);
    match http::classify_text(&message, false) {
        // The SDK refuses a non-https authority before sending anything.
        http::Failure::Other
            if ["https scheme", "authority"]
                .iter()
                .any(|w| message.to_ascii_lowercase().contains(w)) =>
        {
            AcquireFailure::Setup(message)
        }
        kind => AcquireFailure::Transport { kind, message },
    }
}

/// `EnvironmentCredential` with a client secret (ClientSecretCredential).
pub async fn client_secret(ctx: &RunContext, tenant: &str, client_id: &str, secret: &Secret, scope: &str) -> Acquired {
    let transport = CapturingTransport::new(ctx.http.clone(), None);
    let options = azure_identity::ClientSecretCredentialOptions {
        client_options: client_options(authority(ctx), &transport),
    };
    let credential = azure_identity::ClientSecretCredential::new(
        tenant,
        client_id.to_string(),
        secret.expose().to_string().into(),
        Some(options),
    )
    .map(|c| c as Arc<dyn TokenCredential>);
    drive(
        credential,
        &transport,
        scope,
        "EnvironmentCredential (client secret)",
        http_limit(ctx),
    )
    .await
}

/// `WorkloadIdentityCredential`: the federated token file exchanged at Entra.
pub async fn workload_identity(
    ctx: &RunContext,
    tenant: &str,
    client_id: &str,
    token_file: &std::path::Path,
    scope: &str,
) -> Acquired {
    let transport = CapturingTransport::new(ctx.http.clone(), None);
    let options = azure_identity::WorkloadIdentityCredentialOptions {
        credential_options: azure_identity::ClientAssertionCredentialOptions {
            client_options: client_options(authority(ctx), &transport),
        },
        tenant_id: Some(tenant.to_string()),
        client_id: Some(client_id.to_string()),
        token_file_path: Some(token_file.to_path_buf()),
    };
    let credential =
        azure_identity::WorkloadIdentityCredential::new(Some(options)).map(|c| c as Arc<dyn TokenCredential>);
    drive(
        credential,
        &transport,
        scope,
        "WorkloadIdentityCredential",
        http_limit(ctx),
    )
    .await
}

/// `ManagedIdentityCredential` on App Service / Functions / Container Apps
/// (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`, read by the SDK from the process environment).
pub async fn app_service_managed_identity(ctx: &RunContext, client_id: Option<&str>, scope: &str) -> Acquired {
    app_service_call(ctx, client_id, scope).await
}

/// The App Service token request with everything it needs owned, so it can run on a task of
/// its own (the ARM token beside the data-plane one).
fn app_service_call(
    ctx: &RunContext,
    client_id: Option<&str>,
    scope: &str,
) -> impl std::future::Future<Output = Acquired> + Send + 'static {
    let (http, authority, limit) = (ctx.http.clone(), authority(ctx), http_limit(ctx));
    let (client_id, scope) = (client_id.map(str::to_string), scope.to_string());
    async move {
        let transport = CapturingTransport::new(http, None);
        let options = azure_identity::ManagedIdentityCredentialOptions {
            user_assigned_id: client_id.map(azure_identity::UserAssignedId::ClientId),
            client_options: client_options(authority, &transport),
        };
        let credential =
            azure_identity::ManagedIdentityCredential::new(Some(options)).map(|c| c as Arc<dyn TokenCredential>);
        let source = "ManagedIdentityCredential (App Service endpoint)";
        drive(credential, &transport, &scope, source, limit).await
    }
}

/// A managed-identity token request for `scope` — the App Service endpoint through the SDK,
/// or IMDS (VM, VMSS, AKS node, ACI) directly — with everything it needs owned, so it can run
/// on a task of its own; `None` for a source the doctor does not examine.
pub fn managed_identity_call(
    ctx: &RunContext,
    source: MiSource,
    client_id: Option<&str>,
    scope: &str,
) -> Option<futures::future::BoxFuture<'static, Acquired>> {
    use futures::FutureExt as _;
    match source {
        MiSource::AppService => Some(app_service_call(ctx, client_id, scope).boxed()),
        MiSource::Imds => Some(imds::token_call(ctx, client_id, scope).boxed()),
        _ => None,
    }
}

/// What `azd auth token` answered.
#[derive(Debug, Clone)]
pub enum AzdAnswer {
    NotInstalled,
    Token(TokenInfo),
    /// It exited 0 but printed no token.
    NoToken,
    /// It failed; its stderr says why.
    Failed {
        stderr: String,
        exit_code: Option<i32>,
    },
    /// It could not be started or did not finish in time.
    DidNotAnswer(ProcError),
}

/// `azd auth token --scope SCOPE`, with the subprocess time limit.
pub async fn azure_developer_cli(ctx: &RunContext, scope: &str) -> AzdAnswer {
    let Some(path) = az::locate(ctx.env.as_ref(), "azd") else {
        return AzdAnswer::NotInstalled;
    };
    match az::azd_token(&path, scope, ctx.timeouts.subprocess).await {
        Ok(out) if out.exit_code == Some(0) => match az::parse_azd_token(&out.stdout) {
            Ok(t) => AzdAnswer::Token(t),
            Err(_) => AzdAnswer::NoToken,
        },
        Ok(out) => AzdAnswer::Failed {
            stderr: out.stderr,
            exit_code: out.exit_code,
        },
        Err(e) => AzdAnswer::DidNotAnswer(e),
    }
}

impl From<ProcError> for AcquireFailure {
    fn from(e: ProcError) -> Self {
        match e {
            ProcError::TimedOut(d) => AcquireFailure::TimedOut(d),
            ProcError::Spawn(why) => AcquireFailure::Setup(why),
        }
    }
}

/// Gets a token for `scope` with the credential the chain chose, configured as the chain
/// read it (nothing here reads the environment's configuration again): the token check uses
/// the data-plane scope, the role check the ARM scope.
pub async fn acquire(ctx: &RunContext, config: &CredentialConfig, scope: &str) -> Acquired {
    match config {
        CredentialConfig::ClientSecret {
            tenant,
            client_id,
            secret,
        } => client_secret(ctx, tenant, client_id, secret, scope).await,
        CredentialConfig::Certificate { .. } => Err(AcquireFailure::Setup(
            "client certificates are not tested by the doctor".into(),
        )),
        CredentialConfig::UsernamePassword { .. } => Err(AcquireFailure::Setup(
            "username/password sign-in is not tested by the doctor".into(),
        )),
        CredentialConfig::WorkloadIdentity {
            tenant,
            client_id,
            token_file,
        } => {
            match ctx.env.read_to_string(token_file) {
                Some(t) if !t.trim().is_empty() => {}
                Some(_) => {
                    return Err(AcquireFailure::Setup(format!(
                        "the federated token file {} is empty",
                        token_file.display()
                    )));
                }
                None => {
                    return Err(AcquireFailure::Setup(format!(
                        "the federated token file {} cannot be read",
                        token_file.display()
                    )));
                }
            }
            workload_identity(ctx, tenant, client_id, token_file, scope).await
        }
        // The call may be under way already (the ARM token starts beside the data-plane one).
        CredentialConfig::ManagedIdentity { source, client_id } => {
            match ctx
                .early
                .managed_identity_token(ctx, *source, client_id.as_deref(), scope)
            {
                Some(call) => call.await,
                None => Err(AcquireFailure::Setup(format!(
                    "the {} managed-identity source is not examined by the doctor",
                    source.name()
                ))),
            }
        }
        CredentialConfig::AzureCli => azure_cli(ctx, scope).await,
        CredentialConfig::AzureDeveloperCli => {
            az::azd_access_token(ctx.env.as_ref(), scope, ctx.timeouts.subprocess).await
        }
        CredentialConfig::NotExamined => Err(AcquireFailure::Setup(
            "no token can be obtained from a link the doctor does not examine".into(),
        )),
    }
}

/// `az account get-access-token --scope SCOPE`.
async fn azure_cli(ctx: &RunContext, scope: &str) -> Acquired {
    let Some(path) = az::locate(ctx.env.as_ref(), "az") else {
        return Err(AcquireFailure::Setup("az is not on PATH".into()));
    };
    // The call may be under way already (the ARM token starts beside the data-plane one).
    match ctx.az_tokens.get(&path, scope, ctx.timeouts.subprocess).await {
        Err(e) => Err(e.into()),
        Ok(out) if out.exit_code == Some(0) => match crate::diagnose::cli::parse_get_access_token(&out.stdout) {
            Ok(t) => Ok(TokenInfo {
                expires_on: t.expires_on,
                token: Secret::new(t.access_token),
                source: "AzureCliCredential".into(),
            }),
            Err(e) => Err(AcquireFailure::NotAToken {
                status: 0,
                body_excerpt: e.to_string(),
            }),
        },
        // The CLI's stderr carries the AADSTS text; keep it for the classifier.
        Ok(out) => Err(AcquireFailure::Cli {
            stderr: out.stderr,
            exit_code: out.exit_code,
        }),
    }
}
