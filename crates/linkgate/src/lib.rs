//! linkgate: a self-hosted gateway for signed, expiring, limited links.
//!
//! Layout:
//! - [`cli`]: the `linkgate` command line (presign, explain, …).
//! - [`credentials`]: reads AWS credentials the way the AWS CLI does.

pub mod cli;
pub mod credentials;
