//! linkgate: a self-hosted gateway for signed, expiring, limited links.
//!
//! Layout:
//! - [`auth`]: identities and access keys.
//! - [`http`]: the server (S3 API, ops endpoints).
//! - [`objects`]: object bytes as files named by random ids.
//! - [`cli`]: the `linkgate` command line (presign, explain, …).
//! - [`credentials`]: reads AWS credentials the way the AWS CLI does.
//! - [`config`]: `linkgate.toml` + `LINKGATE_*` overrides.
//! - [`ids`]: random identifiers.
//! - [`links`]: broker links (`/l/{token}`): ids, tokens, state and redemption decisions.
//! - [`store`]: metadata (buckets, objects, uploads) behind a trait; SQLite embedded.
//! - [`s3`]: S3 wire formats (aws-chunked, checksums, POST policy, XML, errors).

pub mod auth;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod http;
pub mod ids;
mod json_tree;
pub mod links;
pub mod objects;
pub mod s3;
pub mod store;
