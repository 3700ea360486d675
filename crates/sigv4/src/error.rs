//! Why a request failed verification, with what an S3 error response needs.
//!
//! Every variant maps to S3's status, `<Code>` and exact `<Message>` (see
//! `shared/reference/presigned-url-facts.md`), so the HTTP layer renders errors
//! without knowing SigV4, and tests can pin AWS's wording in one place.

use std::fmt;

use crate::time::AmzDate;

/// Which of the two SigV4 carriers the request used; wording differs between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthStyle {
    /// `X-Amz-*` query parameters (a presigned URL).
    Query,
    /// The `Authorization` header.
    Header,
}

/// What is wrong with the credential scope (`AKID/date/region/service/aws4_request`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialProblem {
    /// Not five `/`-separated parts, or an invalid date.
    Malformed,
    /// The scope names another region.
    WrongRegion {
        /// Region in the request.
        got: String,
        /// Region this endpoint serves.
        expected: String,
    },
    /// The scope names another service.
    WrongService {
        /// Service in the request.
        got: String,
        /// Service this endpoint serves.
        expected: String,
    },
    /// The terminal is not `aws4_request`.
    WrongTerminal {
        /// Terminal in the request.
        got: String,
    },
    /// The scope date is not the day of `X-Amz-Date`.
    DateMismatch {
        /// `yyyymmdd` from the scope.
        scope_date: String,
        /// `yyyymmdd` from `X-Amz-Date`.
        amz_date: String,
    },
}

/// A typed verification failure, in S3's check order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// Both a presigned query and an `Authorization` header were sent.
    BothAuthMechanisms,
    /// One of the six required `X-Amz-*` query parameters is missing or repeated.
    MissingQueryParameters,
    /// `X-Amz-Algorithm` (or the header's scheme) is not `AWS4-HMAC-SHA256`.
    UnsupportedAlgorithm(AuthStyle),
    /// `X-Amz-Date` is not `yyyyMMddTHHmmssZ`.
    MalformedDate,
    /// Header auth without a usable `x-amz-date` or `Date` header.
    MissingDate,
    /// `X-Amz-Expires` is not a number.
    ExpiresNotNumber,
    /// `X-Amz-Expires` is negative.
    ExpiresNegative,
    /// `X-Amz-Expires` is over 604800.
    ExpiresTooLarge,
    /// A presigned URL dated in the future (beyond the tolerated skew).
    NotYetValid {
        /// The URL's `X-Amz-Date`.
        signed_at: AmzDate,
        /// When the URL would expire.
        expires_at: AmzDate,
        /// The server's clock.
        server_time: AmzDate,
    },
    /// A presigned URL past `X-Amz-Date + X-Amz-Expires`.
    Expired {
        /// `X-Amz-Expires` as sent.
        expires_in: u64,
        /// When it expired.
        expires_at: AmzDate,
        /// The server's clock.
        server_time: AmzDate,
    },
    /// Header auth with a date more than the allowed skew from the server's clock.
    RequestTimeTooSkewed {
        /// The request's date.
        request_time: AmzDate,
        /// The server's clock.
        server_time: AmzDate,
        /// The allowed skew in milliseconds.
        max_skew_ms: u64,
    },
    /// The `Authorization` header is not `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    MalformedAuthorization,
    /// The credential scope is wrong.
    Credential(AuthStyle, CredentialProblem),
    /// `host`, `content-md5` or `x-amz-*` headers present but not signed.
    HeadersNotSigned(Vec<String>),
    /// Header auth to S3 without `x-amz-content-sha256`.
    MissingContentSha256,
    /// The access key is not known (or not active).
    UnknownAccessKey(String),
    /// The signature does not match; carries what S3 shows to help debugging.
    SignatureMismatch {
        /// The access key that was claimed.
        access_key: String,
        /// What the server signed.
        string_to_sign: String,
        /// What the server canonicalised.
        canonical_request: String,
        /// What the client sent.
        signature_provided: String,
    },
}

impl VerifyError {
    /// HTTP status S3 answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::BothAuthMechanisms
            | Self::MissingQueryParameters
            | Self::UnsupportedAlgorithm(_)
            | Self::MalformedDate
            | Self::ExpiresNotNumber
            | Self::ExpiresNegative
            | Self::ExpiresTooLarge
            | Self::MalformedAuthorization
            | Self::Credential(..)
            | Self::MissingContentSha256 => 400,
            Self::MissingDate
            | Self::NotYetValid { .. }
            | Self::Expired { .. }
            | Self::RequestTimeTooSkewed { .. }
            | Self::HeadersNotSigned(_)
            | Self::UnknownAccessKey(_)
            | Self::SignatureMismatch { .. } => 403,
        }
    }

    /// S3's `<Code>`.
    pub fn s3_code(&self) -> &'static str {
        match self {
            Self::BothAuthMechanisms => "InvalidArgument",
            Self::MissingQueryParameters
            | Self::UnsupportedAlgorithm(AuthStyle::Query)
            | Self::MalformedDate
            | Self::ExpiresNotNumber
            | Self::ExpiresNegative
            | Self::ExpiresTooLarge
            | Self::Credential(AuthStyle::Query, _) => "AuthorizationQueryParametersError",
            Self::UnsupportedAlgorithm(AuthStyle::Header) | Self::MalformedAuthorization | Self::Credential(AuthStyle::Header, _) => {
                "AuthorizationHeaderMalformed"
            }
            Self::MissingDate | Self::NotYetValid { .. } | Self::Expired { .. } | Self::HeadersNotSigned(_) => "AccessDenied",
            Self::RequestTimeTooSkewed { .. } => "RequestTimeTooSkewed",
            Self::MissingContentSha256 => "InvalidRequest",
            Self::UnknownAccessKey(_) => "InvalidAccessKeyId",
            Self::SignatureMismatch { .. } => "SignatureDoesNotMatch",
        }
    }

    /// S3's `<Message>`, word for word where AWS's wording is known.
    pub fn message(&self) -> String {
        match self {
            Self::BothAuthMechanisms => "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified".into(),
            Self::MissingQueryParameters => "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.".into(),
            Self::UnsupportedAlgorithm(AuthStyle::Query) => "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"".into(),
            Self::UnsupportedAlgorithm(AuthStyle::Header) => "The authorization header is malformed; the authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.".into(),
            Self::MalformedDate => "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"".into(),
            Self::MissingDate => "AWS authentication requires a valid Date or x-amz-date header".into(),
            Self::ExpiresNotNumber => "X-Amz-Expires should be a number".into(),
            Self::ExpiresNegative => "X-Amz-Expires must be non-negative".into(),
            Self::ExpiresTooLarge => "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds".into(),
            Self::NotYetValid { .. } => "Request is not yet valid".into(),
            Self::Expired { .. } => "Request has expired".into(),
            Self::RequestTimeTooSkewed { .. } => "The difference between the request time and the current time is too large.".into(),
            Self::MalformedAuthorization => "The authorization header is malformed; the Credential, SignedHeaders and Signature components are required.".into(),
            Self::Credential(style, problem) => credential_message(*style, problem),
            Self::HeadersNotSigned(_) => "There were headers present in the request which were not signed".into(),
            Self::MissingContentSha256 => "Missing required header for this request: x-amz-content-sha256".into(),
            Self::UnknownAccessKey(_) => "The AWS Access Key Id you provided does not exist in our records.".into(),
            Self::SignatureMismatch { .. } => "The request signature we calculated does not match the signature you provided. Check your key and signing method.".into(),
        }
    }

    /// Extra XML elements S3 adds after `<Message>`, as (name, value) pairs.
    pub fn s3_details(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::NotYetValid { signed_at, expires_at, server_time } => vec![
                ("X-Amz-Date", (signed_at.unix() * 1000).to_string()),
                ("Expires", expires_at.rfc3339()),
                ("ServerTime", server_time.rfc3339()),
            ],
            Self::Expired { expires_in, expires_at, server_time } => {
                vec![("X-Amz-Expires", expires_in.to_string()), ("Expires", expires_at.rfc3339()), ("ServerTime", server_time.rfc3339())]
            }
            Self::RequestTimeTooSkewed { request_time, server_time, max_skew_ms } => vec![
                ("RequestTime", request_time.amz_format()),
                ("ServerTime", server_time.rfc3339()),
                ("MaxAllowedSkewMilliseconds", max_skew_ms.to_string()),
            ],
            Self::Credential(_, CredentialProblem::WrongRegion { expected, .. }) => vec![("Region", expected.clone())],
            Self::HeadersNotSigned(names) => vec![("HeadersNotSigned", names.join(", "))],
            Self::UnknownAccessKey(ak) => vec![("AWSAccessKeyId", ak.clone())],
            Self::SignatureMismatch { access_key, string_to_sign, canonical_request, signature_provided } => vec![
                ("AWSAccessKeyId", access_key.clone()),
                ("StringToSign", string_to_sign.clone()),
                ("SignatureProvided", signature_provided.clone()),
                ("StringToSignBytes", spaced_hex(string_to_sign.as_bytes())),
                ("CanonicalRequest", canonical_request.clone()),
                ("CanonicalRequestBytes", spaced_hex(canonical_request.as_bytes())),
            ],
            Self::BothAuthMechanisms => vec![("ArgumentName", "Authorization".into())],
            _ => Vec::new(),
        }
    }
}

fn spaced_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn credential_message(style: AuthStyle, problem: &CredentialProblem) -> String {
    let prefix = match style {
        AuthStyle::Query => "Error parsing the X-Amz-Credential parameter; ",
        AuthStyle::Header => "The authorization header is malformed; ",
    };
    let detail = match problem {
        CredentialProblem::Malformed => match style {
            AuthStyle::Query => "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".".to_owned(),
            AuthStyle::Header => "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".".to_owned(),
        },
        CredentialProblem::WrongRegion { got, expected } => format!("the region '{got}' is wrong; expecting '{expected}'"),
        CredentialProblem::WrongService { got, expected } => {
            format!("incorrect service \"{got}\". This endpoint belongs to \"{expected}\".")
        }
        CredentialProblem::WrongTerminal { got } => format!("incorrect terminal \"{got}\". This endpoint uses \"aws4_request\"."),
        CredentialProblem::DateMismatch { scope_date, amz_date } => {
            return match style {
                AuthStyle::Query => {
                    format!("Invalid credential date \"{scope_date}\". This date is not the same as X-Amz-Date: \"{amz_date}\".")
                }
                AuthStyle::Header => {
                    format!("{prefix}Invalid credential date \"{scope_date}\". This date is not the same as X-Amz-Date: \"{amz_date}\".")
                }
            };
        }
    };
    format!("{prefix}{detail}")
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.s3_code(), self.message())
    }
}

impl std::error::Error for VerifyError {}
