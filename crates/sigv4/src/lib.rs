//! AWS Signature Version 4, exactly as S3 and the AWS SDKs do it.
//!
//! This crate is linkgate's heart and is kept pure: no I/O, no async, no global
//! state. It canonicalises requests, derives and caches signing keys, presigns URLs,
//! signs `Authorization` headers, and verifies both — returning typed reasons in the
//! order S3 checks them, carrying what an S3 error body needs.
//!
//! Layout:
//! - [`encode`]: SigV4's percent-encoding (unreserved set, upper-case hex).
//! - [`time`]: `X-Amz-Date` parsing and formatting.
//! - [`canonical`]: the lines of the canonical request (path, query, headers).
//! - [`key`]: signing-key derivation and a bounded cache.
//! - [`sign`]: presigning and header signing.
//! - [`verify`]: the two-step verifier (checks, then signature with the secret).
//! - [`error`]: typed failures mapped to S3 codes, statuses and messages.
//! - [`inspect`]: reading a presigned URL's parameters for people (`explain`).

pub mod canonical;
pub mod encode;
pub mod error;
pub mod hex;
pub mod inspect;
pub mod key;
pub mod sign;
pub mod time;
pub mod verify;

pub use canonical::PathMode;
pub use error::{AuthStyle, CredentialProblem, VerifyError};
pub use key::{SigningKey, SigningKeyCache};
pub use sign::{
    ALGORITHM, Credentials, EMPTY_SHA256, HeaderSignature, MAX_EXPIRES, Presigned, RequestParts, SignatureParts, SigningParams,
    UNSIGNED_PAYLOAD, presign, sign_headers,
};
pub use time::AmzDate;
pub use verify::{PendingAuth, Policy, Verified, check_header, check_presigned, is_presigned};
