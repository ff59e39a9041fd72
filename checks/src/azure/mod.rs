//! The only code that does I/O: the shared HTTP client, DNS and reachability, the `az`
//! process, credentials (SDK and IMDS), and — as the later checks land — ARM and the data
//! plane. Nothing here knows a check.

pub mod arm;
pub mod arm_write;
pub mod az;
pub mod az_tokens;
pub mod credentials;
pub mod dataplane;
pub mod early;
pub mod http;
pub mod imds;
pub mod net;
pub mod preconnect;
pub mod process;
pub mod proxy;
pub mod reachability;
pub mod resource_graph;
#[cfg(test)]
pub mod test_server;
pub mod transport;
