//! S3 errors: code, status, message, extra elements, rendered as S3's XML.

use std::fmt;

use sigv4::VerifyError;

use super::xml::XmlWriter;

/// `x-amz-request-id`, on every S3 answer: a constant, so inserting it does not
/// parse the name again on every response (a `&'static str` key is checked each
/// time). Here, in the protocol layer, because the connection layer answers S3
/// errors too (a request head too large).
pub(crate) const X_AMZ_REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-amz-request-id");
/// `x-amz-id-2` (S3's extended request id; ours is the request id again).
pub(crate) const X_AMZ_ID_2: axum::http::HeaderName = axum::http::HeaderName::from_static("x-amz-id-2");

/// An S3 error response. Small to return, complete to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Error {
    /// `<Code>`, e.g. `NoSuchKey`.
    pub code: &'static str,
    /// HTTP status.
    pub status: u16,
    /// `<Message>`, AWS's wording where known.
    pub message: String,
    /// Extra elements after `<Message>` (`<Key>`, `<BucketName>`, `<ServerTime>`…).
    pub details: Vec<(&'static str, String)>,
    /// Extra response headers (e.g. `Content-Range` for `InvalidRange`).
    pub headers: Vec<(&'static str, String)>,
}

impl S3Error {
    /// An error with no extra elements.
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        Self { code, status, message: message.into(), details: Vec::new(), headers: Vec::new() }
    }

    /// Adds an extra XML element.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// `AccessDenied` 403.
    pub fn access_denied() -> Self {
        Self::new("AccessDenied", 403, "Access Denied")
    }

    /// `NoSuchBucket` 404.
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new("NoSuchBucket", 404, "The specified bucket does not exist").with("BucketName", bucket)
    }

    /// `NoSuchKey` 404.
    pub fn no_such_key(key: &str) -> Self {
        Self::new("NoSuchKey", 404, "The specified key does not exist.").with("Key", key)
    }

    /// `NoSuchUpload` 404.
    pub fn no_such_upload(upload_id: &str) -> Self {
        Self::new(
            "NoSuchUpload",
            404,
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
        .with("UploadId", upload_id)
    }

    /// `IncompleteBody` 400: the body ended before the announced length.
    pub fn incomplete_body() -> Self {
        Self::new("IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header")
    }

    /// `InvalidArgument` 400.
    pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> Self {
        Self::new("InvalidArgument", 400, message).with("ArgumentName", name).with("ArgumentValue", value)
    }

    /// `InvalidRequest` 400.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new("InvalidRequest", 400, message)
    }

    /// `InvalidPart` 400: a part of a CompleteMultipartUpload list that is not
    /// stored as named.
    pub fn invalid_part(upload_id: &str, part_number: u32) -> Self {
        Self::new(
            "InvalidPart",
            400,
            "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
        )
        .with("UploadId", upload_id)
        .with("PartNumber", part_number.to_string())
    }

    /// `MalformedXML` 400.
    pub fn malformed_xml() -> Self {
        Self::new("MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema")
    }

    /// `PreconditionFailed` 412.
    pub fn precondition_failed(condition: &str) -> Self {
        Self::new("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold").with("Condition", condition)
    }

    /// `NotImplemented` 501.
    pub fn not_implemented() -> Self {
        Self::new("NotImplemented", 501, "A header you provided implies functionality that is not implemented")
    }

    /// `InternalError` 500: details go to the log, never to the client.
    pub fn internal() -> Self {
        Self::new("InternalError", 500, "We encountered an internal error. Please try again.")
    }

    /// `ServiceUnavailable` 503 with `Retry-After`: the store cannot answer (or the
    /// disk is full), so we fail closed and ask the client to come back.
    pub fn unavailable() -> Self {
        Self::new("ServiceUnavailable", 503, "Please reduce your request rate.").with_header("retry-after", "1")
    }

    /// `SlowDown` 503 with `Retry-After`: a server-wide budget is spent.
    pub fn slow_down() -> Self {
        Self::new("SlowDown", 503, "Please reduce your request rate.").with_header("retry-after", "1")
    }

    /// `RequestTimeout` 400: the client stopped sending the body it announced.
    pub fn request_timeout() -> Self {
        Self::new(
            "RequestTimeout",
            400,
            "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
        )
    }

    /// `OperationAborted` 409: a concurrent change won.
    pub fn conflict() -> Self {
        Self::new(
            "OperationAborted",
            409,
            "A conflicting conditional operation is currently in progress against this resource. Please try again.",
        )
    }

    /// `KeyTooLongError` 400.
    pub fn key_too_long() -> Self {
        Self::new("KeyTooLongError", 400, "Your key is too long").with("MaxSizeAllowed", "1024")
    }

    /// The XML body, with `<Resource>` and `<RequestId>`.
    pub fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let mut w = XmlWriter::document();
        w.open("Error");
        w.element("Code", self.code);
        w.element("Message", &self.message);
        for (name, value) in &self.details {
            w.element(name, value);
        }
        w.element("Resource", resource);
        w.element("RequestId", request_id);
        w.element("HostId", request_id);
        w.close("Error");
        w.finish()
    }
}

impl From<VerifyError> for S3Error {
    fn from(e: VerifyError) -> Self {
        let status = e.http_status();
        let mut err = Self::new(e.s3_code(), status, e.message());
        err.details = e.s3_details();
        err
    }
}

/// A storage failure as S3 answers it, by kind: unavailable is 503 with
/// `Retry-After` (fail closed), a lost race is 409, damaged data is 500. The cause
/// is logged here; the client never sees it.
impl From<crate::store::StoreError> for S3Error {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreErrorKind;
        match e.kind() {
            StoreErrorKind::Unavailable => {
                tracing::error!(error = %e, "store unavailable");
                Self::unavailable()
            }
            StoreErrorKind::Conflict => {
                tracing::warn!(error = %e, "store conflict");
                Self::conflict()
            }
            StoreErrorKind::Corrupt => {
                tracing::error!(error = %e, "stored data is damaged");
                Self::internal()
            }
        }
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for S3Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_s3_xml() {
        let xml = S3Error::no_such_key("a&b").to_xml("/bkt/a&b", "REQ1");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>\
             <Key>a&amp;b</Key><Resource>/bkt/a&amp;b</Resource><RequestId>REQ1</RequestId><HostId>REQ1</HostId></Error>"
        );
    }

    #[test]
    fn verify_errors_keep_their_details() {
        let e = S3Error::from(VerifyError::UnknownAccessKey("AKIAX".into()));
        assert_eq!((e.code, e.status), ("InvalidAccessKeyId", 403));
        assert_eq!(e.details, vec![("AWSAccessKeyId", "AKIAX".to_owned())]);
    }
}
