//! The engine and the checks of `aoai-doctor`.
//!
//! A check = *gather* (I/O through [`azure`]) + *judge* (pure functions in [`diagnose`] and in
//! each check file). The [`runner`] orders them, passes [`facts`] between them and isolates
//! panics and timeouts. Nothing in this crate knows the screen: it produces a [`model::Report`].

pub mod azure;
pub mod chain;
pub mod checks;
pub mod codes;
pub mod context;
pub mod diagnose;
pub mod facts;
pub mod fix;
pub mod model;
pub mod reconcile;
pub mod runner;
pub mod secret;
pub mod surface;

pub use context::{RunContext, Target};
pub use model::{CheckResult, Finding, Report, Status};
