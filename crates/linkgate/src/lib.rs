//! linkgate: a self-hosted gateway for signed, expiring, limited links.
//!
//! Layout, from the edge inwards (`docs/architecture.md` draws it):
//! - [`cli`]: the `linkgate` command line (serve, presign, explain, links, …);
//! - [`app`]: the composition root — builds stores, services and the server;
//!   [`jobs`]: housekeeping on a timer; [`datadir`]: the locked data directory;
//! - [`http`]: the HTTP surfaces (S3, STS/IAM, admin API, links, ops), the
//!   connection layer and the one authentication pipeline;
//! - [`services`]: the rules — identities, objects, links;
//! - [`store`]: storage ports (async traits, typed errors) and their
//!   implementations (SQLite, files, decorators);
//! - [`s3`], [`links`], [`auth`]: protocol formats and domain rules with no state
//!   (S3 wire formats and the operation table; link decisions; IAM policies and
//!   secrets);
//! - [`upstream`]: forwarding to configured upstream APIs;
//! - [`clock`], [`context`], [`config`], [`credentials`], [`ids`]: shared basics.

pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod credentials;
pub mod datadir;
pub mod http;
pub mod ids;
pub mod jobs;
mod json_tree;
pub mod links;
pub mod s3;
pub mod services;
pub mod store;
pub mod upstream;
