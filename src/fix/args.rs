//! `aoai-doctor fix`'s own options; the target options are the doctor's ([`RunArgs`]).

use crate::cli::RunArgs;
use clap::{Args, ValueEnum};

#[derive(Args, Debug, Clone)]
pub struct FixArgs {
    /// Apply the plan without asking.
    #[arg(long, short = 'y', conflicts_with = "dry_run")]
    pub yes: bool,

    /// Print the plan as JSON and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// The principal type of --assignee, needed when it is an object id the doctor cannot resolve.
    #[arg(long, value_enum, value_name = "TYPE")]
    pub assignee_type: Option<AssigneeType>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeType {
    User,
    ServicePrincipal,
    Group,
}

impl AssigneeType {
    /// As ARM spells `principalType`.
    pub fn arm_name(self) -> &'static str {
        match self {
            AssigneeType::User => "User",
            AssigneeType::ServicePrincipal => "ServicePrincipal",
            AssigneeType::Group => "Group",
        }
    }
}
