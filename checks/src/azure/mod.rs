//! The only code that does I/O: the shared HTTP client, DNS and reachability probes, and
//! (as the identity checks land) the `az` process, credentials, ARM and the data plane.
//! Nothing here knows a check.

pub mod http;
pub mod net;
