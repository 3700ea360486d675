//! Services: the rules between the HTTP surfaces and the storage ports.
//!
//! - [`identities`]: who a key is, what it may do, and managing users, keys,
//!   policies, roles and sessions (the admin API, IAM and STS all call it);
//! - [`objects`]: buckets, objects and multipart uploads, keeping metadata rows and
//!   blobs consistent;
//! - [`links`]: broker links, created, revoked and redeemed.
//!
//! Handlers parse a request, call one service, and render its answer; services
//! never see HTTP connections, and only services talk to the stores.

pub mod identities;
pub mod links;
pub mod objects;
