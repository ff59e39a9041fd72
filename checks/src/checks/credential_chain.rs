//! `credential-chain`: which link of `DefaultAzureCredential` (of the SDK named by `--sdk`)
//! would the app use here, and why is each earlier link unavailable? Only *unavailable* falls
//! through: a configured link that fails stops the chain (except where JS keeps walking).
//!
//! The check reads the environment once, runs the probes the judge asks for (IMDS, `azd`,
//! JS's token attempts) and hands everything to the pure judge in [`judge`].

use super::{Check, Outcome};
use crate::azure::{credentials, imds};
use crate::chain::Link;
use crate::context::RunContext;
use crate::facts::{Fact, Facts};
use crate::model::{Judgement, Status};
use async_trait::async_trait;

pub mod judge;
#[cfg(test)]
mod tests;

use judge::{ChainEnv, ChainInput, ImdsAnswer, ProbeRequest, Probes};

pub struct CredentialChainCheck;

#[async_trait]
impl Check for CredentialChainCheck {
    fn id(&self) -> &'static str {
        "credential-chain"
    }
    fn title(&self) -> &'static str {
        "DefaultAzureCredential's choice"
    }
    fn provides(&self) -> &'static [Fact] {
        &[Fact::Credential]
    }
    fn after(&self) -> &'static [Fact] {
        &[Fact::CliState, Fact::Environment]
    }
    async fn run(&self, ctx: &RunContext, facts: &Facts) -> Outcome {
        // ARM is a region away: its connection opens while the chain and the tokens are at
        // work (no request is sent; nothing opens when no check of this run needs ARM).
        ctx.early.start_arm_connection(ctx);
        let env = ChainEnv::read(ctx.env.as_ref());
        let imds_url = ctx.endpoints.imds.to_string();
        let mut probes = Probes::default();
        // Each round answers one probe the judge asked for; there are four kinds, each asked
        // at most once, so the loop ends.
        loop {
            let input = ChainInput {
                sdk: ctx.target.sdk,
                forced: Link::from_choice(ctx.target.credential),
                env: &env,
                cli: facts.cli.as_ref(),
                in_container: facts.environment.as_ref().is_some_and(|e| e.in_container()),
                scope: &ctx.target.scope,
                imds_url: &imds_url,
                probes: &probes,
            };
            match judge::judge(&input) {
                Ok(verdict) => {
                    let learned = Facts {
                        credential: verdict.chosen,
                        ..Default::default()
                    };
                    return Outcome::with_facts(verdict.judgement, learned);
                }
                Err(request) => {
                    if !answer(ctx, request, &mut probes).await {
                        let why = "the chain's judge asked for the same probe twice (a bug in aoai-doctor)";
                        return Outcome::new(Judgement::new(Status::Error, why));
                    }
                }
            }
        }
    }
}

/// Runs the probe the judge asked for; false if it had been answered already (a judge bug).
async fn answer(ctx: &RunContext, request: ProbeRequest, probes: &mut Probes) -> bool {
    let scope = &ctx.target.scope;
    match request {
        ProbeRequest::WorkloadToken {
            tenant,
            client_id,
            token_file,
        } if probes.workload_token.is_none() => {
            let got = credentials::workload_identity(ctx, &tenant, &client_id, &token_file, scope).await;
            probes.workload_token = Some(got);
        }
        ProbeRequest::AppServiceToken { client_id } if probes.app_service_token.is_none() => {
            let got = credentials::app_service_managed_identity(ctx, client_id.as_deref(), scope).await;
            probes.app_service_token = Some(got);
        }
        ProbeRequest::Imds { client_id } if probes.imds.is_none() => {
            probes.imds = Some(match imds::probe(ctx, scope).await {
                imds::Probe::Absent(why) => ImdsAnswer::Absent(why),
                imds::Probe::NotImds { status, excerpt } => ImdsAnswer::NotImds { status, excerpt },
                imds::Probe::Imds { .. } => ImdsAnswer::Token(imds::token(ctx, client_id.as_deref(), scope).await),
            });
        }
        ProbeRequest::Azd if probes.azd.is_none() => {
            probes.azd = Some(credentials::azure_developer_cli(ctx, scope).await);
        }
        _ => return false,
    }
    true
}
