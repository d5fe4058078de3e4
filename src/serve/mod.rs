//! `moderate serve`: a long-running HTTP server over the same model as the
//! CLI, speaking Perspective's Comment Analyzer wire format (so a site can
//! point its existing client at it by changing one URL), Coral Talk's
//! signed external moderation phase, and moderate's own batch endpoint.
//!
//! One file per job:
//!
//! | module | job |
//! |---|---|
//! | [`config`] | the configuration and its rules |
//! | [`auth`] | API keys: sources, presentation, constant-time check |
//! | [`attributes`] | Perspective attribute names -> model labels |
//! | [`language`] | which request languages are scored (detection is in [`crate::language`]) |
//! | [`wire`] | Perspective request/response/error JSON |
//! | [`analyze`] | `comments:analyze` |
//! | [`spans`] | sentences and UTF-16 offsets |
//! | [`feedback`] | `comments:suggestscore` -> the store |
//! | [`verdict`] | how a decision confirms or refutes what was flagged |
//! | [`flags`] | what the server flagged, recorded in the store |
//! | [`coral`] | Coral's phase: signatures and decisions |
//! | [`native`] | `/v1/score` and `/v1/model` |
//! | [`pool`] | the scoring worker threads |
//! | [`limits`] | in-flight cap and per-key rate limits |
//! | [`metrics`] | Prometheus metrics |
//! | [`access_log`] | privacy-safe access log |
//! | [`reload`] | the served model and hot reload |
//! | [`app`] | routes, middleware, handlers |
//! | [`server`] | accept loop, signals, graceful shutdown |

pub mod access_log;
pub mod analyze;
pub mod app;
pub mod attributes;
pub mod auth;
pub mod config;
pub mod coral;
pub mod feedback;
pub mod flags;
pub mod language;
pub mod limits;
pub mod metrics;
pub mod native;
pub mod pool;
pub mod reload;
pub mod server;
pub mod spans;
pub mod verdict;
pub mod wire;

pub use config::ServeConfig;
pub use server::run;
