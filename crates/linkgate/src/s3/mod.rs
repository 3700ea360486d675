//! The S3 protocol: wire formats and decisions that need no server state.
//!
//! Each file is one wire artefact: aws-chunked bodies, checksums, POST policies,
//! XML documents, errors. Handlers in `http::s3` glue them to the stores.

pub mod checksum;
pub mod chunked;
pub mod copy;
pub mod error;
pub mod operation;
pub mod post_policy;
pub mod query;
pub mod read;
pub mod requests;
pub mod sigv2;
pub mod upload;
pub mod xml;
