//! `aoai-doctor lab serve`: run one scenario's lab until Ctrl-C, SIGTERM or `--ttl`, after
//! writing the environment a client needs and a ready line.

use std::io::Write as _;

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};

use super::cli::ServeArgs;
use super::{Options, faults, scenario, start_with};

/// The first words of the line `lab serve` prints once it accepts connections.
pub const READY: &str = "lab ready:";

pub async fn serve(a: ServeArgs) -> Result<i32> {
    let mut s = scenario::load(&a.scenario)?;
    if let Some(d) = a.propagation_delay {
        s.data_plane.propagation_delay_seconds = d.as_secs();
    }
    let mut switched = std::collections::BTreeSet::new();
    for spec in &a.faults {
        let (service, fault) = faults::parse_switch(spec, &s).with_context(|| format!("--fault {spec}"))?;
        if !switched.insert(service) {
            anyhow::bail!(
                "--fault {spec}: {} already has a fault (one per service)",
                service.name()
            );
        }
        s.faults.retain(|k, _| !k.eq_ignore_ascii_case(service.name()));
        s.faults.insert(service.name().to_string(), fault.name());
    }
    super::latency::apply_serve_args(&mut s, a.latency.as_deref(), a.model_time, a.subscriptions)?;
    let lab = start_with(
        &s,
        Options {
            log: a.log,
            stats_file: a.stats.clone(),
            real_names: a.real_names,
            ..Options::default()
        },
    )
    .await?;
    let env = lab.env_file();
    let mut out = std::io::stdout().lock();
    match &a.env_file {
        Some(p) => {
            std::fs::write(p, &env).with_context(|| format!("writing {}", p.display()))?;
        }
        None => writeln!(out, "{env}")?,
    }
    let u = lab.urls();
    writeln!(
        out,
        "{READY} scenario={} entra={}/ arm={}/ aoai={}/ identity={} imds={} ca={}{}{}{}",
        lab.scenario().name,
        u.entra,
        u.arm,
        u.aoai,
        u.app_service_endpoint(),
        u.imds,
        lab.ca_file().display(),
        u.proxy.as_ref().map(|p| format!(" proxy={p}")).unwrap_or_default(),
        a.env_file
            .as_ref()
            .map(|p| format!(" env-file={}", p.display()))
            .unwrap_or_default(),
        lab.scenario()
            .faults
            .iter()
            .map(|(svc, f)| format!(" fault={f}@{svc}"))
            .collect::<String>()
    )?;
    out.flush()?;
    drop(out);

    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let ttl = async {
        match a.ttl {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let why = tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = term.recv() => "terminated",
        _ = ttl => "ttl reached",
    };
    let stats = lab.stats().summary();
    lab.shutdown().await;
    eprintln!("lab stopped ({why}); {stats}");
    Ok(0)
}
