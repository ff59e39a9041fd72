//! The engine side of `aoai-doctor fix`: from the role check's facts to one least-privilege
//! role assignment ([`plan`]), whether the caller may write it ([`permission`]), and the
//! commands an owner runs when it may not. The PUT itself is [`crate::azure::arm_write`].

pub mod permission;
pub mod plan;

pub use permission::{WriteAccess, write_access};
pub use plan::{Plan, PlanError, PrincipalChoice, Surface, assignment_name, plan};
