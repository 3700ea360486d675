//! Browser uploads (S3 `POST Object`): the form, its signature, the signed POST
//! policy and the answer S3 gives on success. Pure: no I/O, no clock.
//!
//! A browser form carries the object key, a base64 JSON policy (expiration plus
//! conditions every other field must meet), a signature over that base64 text and
//! finally the `file` part. S3 checks, in this order, and so should the handler:
//!
//! 1. the body is `multipart/form-data` ([`PostError::not_multipart`],
//!    [`PostError::malformed_form`]);
//! 2. the fields before `file` are collected into a [`PostForm`], at most
//!    [`MAX_PRE_FILE_BYTES`] of them ([`PostError::fields_too_large`]); fields after
//!    `file` are ignored; no `file` part is [`PostError::file_count`];
//! 3. `${filename}` is expanded ([`PostForm::expand_filename`]) and the key must be
//!    there ([`PostForm::object_key`]);
//! 4. [`parse_auth`]: required fields, algorithm, `x-amz-date`, credential scope;
//!    a form without any signature field is anonymous and denied;
//! 5. the access key is looked up (store; [`PostError::invalid_access_key_id`]);
//! 6. [`verify_signature`] over the policy text *as received*, before decoding it;
//! 7. [`parse_policy`], then [`check_policy`]: expiration, each condition, then the
//!    rule that every field is covered by a condition;
//! 8. the file is streamed; once more than [`Policy::length_range`]'s maximum has
//!    arrived the handler stops ([`PostError::entity_too_large`]); at the end
//!    [`check_length`] checks the actual size;
//! 9. [`success_response`] builds the 303 redirect, or the 200/201/204 answer.
//!
//! Messages are S3's where they were observed on the wire (LocalStack's recordings
//! against S3, issue-tracker captures); the rest follow the same pattern. Sources:
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>,
//! `sigv4-HTTPPOSTForms`, `RESTObjectPOST`, and `shared/reference/presigned-url-facts.md`.

use std::borrow::Cow;
use std::fmt;

use crate::json_tree::Json;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sigv4::{AmzDate, SigningKeyCache};
use subtle::ConstantTimeEq;

use super::error::S3Error;

/// S3 refuses a form whose fields before `file` exceed 20 KiB
/// (`MaxPostPreDataLengthExceeded`); bounding them keeps a hostile form from making
/// us buffer without limit before the policy is even checked.
pub const MAX_PRE_FILE_BYTES: usize = 20 * 1024;

/// The name of the part that carries the object's bytes; S3 recognises the file by
/// this name (case-insensitively), not by the presence of a `filename` parameter.
pub const FILE_FIELD: &str = "file";

/// The literal S3 replaces with the uploaded file's name in every form field.
pub const FILENAME_VARIABLE: &str = "${filename}";

const SIGV4_ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Fields the coverage rule exempts: the policy and signature envelope, the file,
/// and (SigV2) the access key. `x-ignore-*` fields are exempt too.
const EXEMPT_FIELDS: [&str; 5] = ["policy", "x-amz-signature", "signature", "awsaccesskeyid", FILE_FIELD];

/// Fields whose conditions S3 documents as exact-match only: a `starts-with` on them
/// fails rather than widening what the signer meant.
const EXACT_ONLY_FIELDS: [&str; 6] =
    ["bucket", "success_action_status", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-security-token"];

/// True when a multipart part named `name` is the file; the handler stops collecting
/// fields there (S3 ignores every field after it).
pub fn is_file_field(name: &str) -> bool {
    name.eq_ignore_ascii_case(FILE_FIELD)
}

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/// A POST upload failure with what S3's error response needs, so the handler renders
/// it without knowing the policy language (see [`S3Error`]'s `From` impl).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostError {
    /// HTTP status.
    pub status: u16,
    /// S3's `<Code>`.
    pub code: &'static str,
    /// S3's `<Message>`.
    pub message: String,
    /// Extra elements after `<Message>` (`ArgumentName`, `ProposedSize`, …), in order.
    pub details: Vec<(&'static str, String)>,
}

impl PostError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: Vec::new() }
    }

    fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    /// 403 `AccessDenied` "Access Denied": a form without signature fields is
    /// anonymous, and linkgate has no publicly writable buckets.
    pub fn access_denied() -> Self {
        Self::new(403, "AccessDenied", "Access Denied")
    }

    /// 412 `PreconditionFailed`, as S3 answers a POST whose body is not
    /// `multipart/form-data`.
    pub fn not_multipart() -> Self {
        Self::new(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
            .with("Condition", "Bucket POST must be of the enclosure-type multipart/form-data")
    }

    /// 400 `MalformedPOSTRequest`: the multipart body cannot be parsed (no boundary,
    /// truncated part…).
    pub fn malformed_form() -> Self {
        Self::new(400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.")
    }

    /// 400 `MaxPostPreDataLengthExceeded`: the fields before `file` exceed `max`
    /// bytes (`limits.max_form_fields_bytes`, S3's [`MAX_PRE_FILE_BYTES`] by
    /// default). S3's message, typos included.
    pub fn fields_too_large(max: usize) -> Self {
        Self::new(400, "MaxPostPreDataLengthExceeded", "Your POST request fields preceeding the upload file was too large.")
            .with("MaxPostPreDataLengthBytes", max.to_string())
    }

    /// 400 `InvalidArgument`: the form held `count` file parts instead of one.
    pub fn file_count(count: usize) -> Self {
        Self::new(400, "InvalidArgument", "POST requires exactly one file upload per request.")
            .with("ArgumentName", FILE_FIELD)
            .with("ArgumentValue", count.to_string())
    }

    /// 400 `InvalidArgument` naming a required field that is absent (or was sent
    /// after `file`, where S3 no longer looks).
    pub fn missing_field(name: &str) -> Self {
        Self::new(
            400,
            "InvalidArgument",
            format!("Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."),
        )
        .with("ArgumentName", name)
        .with("ArgumentValue", "")
    }

    /// 403 `InvalidAccessKeyId`: the form's access key is unknown or inactive.
    pub fn invalid_access_key_id(access_key: &str) -> Self {
        Self::new(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
            .with("AWSAccessKeyId", access_key)
    }

    /// 400 `EntityTooLarge`: the file is above the policy's `content-length-range`.
    /// The handler calls it directly when it stops reading early.
    pub fn entity_too_large(proposed: u64, max: u64) -> Self {
        Self::new(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
            .with("ProposedSize", proposed.to_string())
            .with("MaxSizeAllowed", max.to_string())
    }

    /// 400 `EntityTooSmall`: the file is below the policy's `content-length-range`.
    pub fn entity_too_small(proposed: u64, min: u64) -> Self {
        Self::new(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
            .with("ProposedSize", proposed.to_string())
            .with("MinSizeAllowed", min.to_string())
    }

    fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> Self {
        Self::new(400, "InvalidArgument", message).with("ArgumentName", name).with("ArgumentValue", value)
    }

    fn invalid_policy(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidPolicyDocument", message)
    }

    fn invalid_json() -> Self {
        Self::invalid_policy("Invalid Policy: Invalid JSON.")
    }

    fn policy_denied(message: impl Into<String>) -> Self {
        Self::new(403, "AccessDenied", message)
    }

    fn condition_failed(rendered: &str) -> Self {
        Self::policy_denied(format!("Invalid according to Policy: Policy Condition failed: {rendered}"))
    }

    fn signature_mismatch(access_key: &str, policy_b64: &str, provided: &str) -> Self {
        Self::new(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with("AWSAccessKeyId", access_key)
        .with("StringToSign", policy_b64)
        .with("SignatureProvided", provided)
        .with("StringToSignBytes", spaced_hex(policy_b64.as_bytes()))
    }
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for PostError {}

impl From<PostError> for S3Error {
    fn from(e: PostError) -> Self {
        let mut err = S3Error::new(e.code, e.status, e.message);
        err.details = e.details;
        err
    }
}

fn spaced_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xf) as usize] as char);
    }
    s
}

// ---------------------------------------------------------------------------------
// The form
// ---------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
struct Field {
    /// As sent, for messages.
    name: String,
    /// Lower-cased, for matching: S3 field names are case-insensitive.
    lower: String,
    value: String,
}

/// The form fields that precede the `file` part, in order, names as sent.
///
/// Names match case-insensitively. A name sent more than once reads as its values
/// joined with `,`, which is how S3 documents repeated fields for policy matching,
/// so every check (and the key actually used) sees the same value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostForm {
    fields: Vec<Field>,
}

impl PostForm {
    /// An empty form, to [`push`](Self::push) fields into as the multipart parser
    /// yields them.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a field (not the file part).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let lower = name.to_ascii_lowercase();
        self.fields.push(Field { name, lower, value: value.into() });
    }

    /// The field's value (case-insensitive name; repeated fields joined with `,`),
    /// or `None` when absent.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut found = self.fields.iter().filter(|f| f.lower.eq_ignore_ascii_case(name));
        let first = found.next()?;
        let Some(second) = found.next() else {
            return Some(Cow::Borrowed(&first.value));
        };
        let mut joined = format!("{},{}", first.value, second.value);
        for more in found {
            joined.push(',');
            joined.push_str(&more.value);
        }
        Some(Cow::Owned(joined))
    }

    /// True when the form has a field of that name (case-insensitive).
    pub fn contains(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f.lower.eq_ignore_ascii_case(name))
    }

    /// The fields as (name as sent, value), in order, repeats included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|f| (f.name.as_str(), f.value.as_str()))
    }

    /// Number of fields, repeats included.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when no field was sent.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Replaces `${filename}` in every field with the uploaded file's name, as S3
    /// does before it checks the policy ("all condition matching should be against
    /// the expanded form fields").
    ///
    /// `filename` is the file part's `filename` parameter: only the text after the
    /// last `/` or `\` is used (browsers may send a path). When the part has no
    /// `filename` parameter at all (`None`) S3 leaves `${filename}` literally, and so
    /// do we. The policy and signature fields are never touched: they are signed
    /// bytes.
    pub fn expand_filename(&mut self, filename: Option<&str>) {
        let Some(filename) = filename else { return };
        let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
        for field in &mut self.fields {
            if matches!(field.lower.as_str(), "policy" | "x-amz-signature" | "signature") {
                continue;
            }
            if field.value.contains(FILENAME_VARIABLE) {
                field.value = field.value.replace(FILENAME_VARIABLE, base);
            }
        }
    }

    /// The object key (after [`expand_filename`](Self::expand_filename)): 400
    /// `InvalidArgument` naming `key` when it is absent or empty, S3's answer when a
    /// form forgets it or sends it after `file`.
    pub fn object_key(&self) -> Result<String, PostError> {
        match self.get("key") {
            Some(key) if !key.is_empty() => Ok(key.into_owned()),
            _ => Err(PostError::missing_field("key")),
        }
    }

    /// The fields that are PutObject headers in form clothing, as lower-case
    /// (header name, value) pairs in form order: `Content-Type`, `Cache-Control`,
    /// `Content-Disposition`, `Content-Encoding`, `Content-Language`, `Expires`,
    /// `Content-MD5`, `x-amz-meta-*`, `x-amz-checksum-*`, `x-amz-storage-class`,
    /// `x-amz-website-redirect-location`, `x-amz-server-side-encryption*`,
    /// `x-amz-object-lock-*`, and `acl` as `x-amz-acl`. Lets the handler reuse
    /// PutObject's header handling instead of knowing the form.
    pub fn object_headers(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for field in &self.fields {
            let lower = field.lower.as_str();
            let header = match lower {
                "acl" => "x-amz-acl",
                "content-type"
                | "cache-control"
                | "content-disposition"
                | "content-encoding"
                | "content-language"
                | "expires"
                | "content-md5"
                | "x-amz-storage-class"
                | "x-amz-website-redirect-location" => lower,
                _ if lower.starts_with("x-amz-meta-")
                    || lower.starts_with("x-amz-checksum-")
                    || lower.starts_with("x-amz-server-side-encryption")
                    || lower.starts_with("x-amz-object-lock-") =>
                {
                    lower
                }
                _ => continue,
            };
            if out.iter().any(|(h, _)| h == header) {
                continue;
            }
            if let Some(value) = self.get(lower) {
                out.push((header.to_owned(), value.into_owned()));
            }
        }
        out
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for PostForm {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut form = Self::new();
        for (name, value) in iter {
            form.push(name, value);
        }
        form
    }
}

// ---------------------------------------------------------------------------------
// Authentication fields
// ---------------------------------------------------------------------------------

/// Who signed the form and how: what the handler needs to look up the secret and
/// what [`verify_signature`] needs to check it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostAuth {
    /// SigV4 fields: `x-amz-algorithm`, `x-amz-credential`, `x-amz-date`,
    /// `x-amz-signature` (hex HMAC-SHA256 of the base64 policy under the scope's
    /// signing key).
    V4 {
        /// The credential's access key id.
        access_key: String,
        /// The credential's `yyyymmdd`.
        scope_date: String,
        /// The credential's region (already checked against ours).
        region: String,
        /// The credential's service (`s3`).
        service: String,
        /// `x-amz-date`.
        amz_date: AmzDate,
        /// `x-amz-signature` as sent.
        signature: String,
        /// The `policy` field as sent: the string that was signed.
        policy_b64: String,
        /// `x-amz-security-token`, for session credentials.
        security_token: Option<String>,
    },
    /// The older SigV2 fields many browser upload libraries still send:
    /// `AWSAccessKeyId` and `signature` (base64 HMAC-SHA1 of the base64 policy
    /// under the secret key).
    V2 {
        /// `AWSAccessKeyId`.
        access_key: String,
        /// `signature` as sent.
        signature: String,
        /// The `policy` field as sent: the string that was signed.
        policy_b64: String,
        /// `x-amz-security-token`, for session credentials.
        security_token: Option<String>,
    },
}

impl PostAuth {
    /// The access key whose secret must be looked up.
    pub fn access_key(&self) -> &str {
        match self {
            Self::V4 { access_key, .. } | Self::V2 { access_key, .. } => access_key,
        }
    }

    /// The base64 policy as sent, to pass to [`parse_policy`] once the signature holds.
    pub fn policy_b64(&self) -> &str {
        match self {
            Self::V4 { policy_b64, .. } | Self::V2 { policy_b64, .. } => policy_b64,
        }
    }

    /// The session token sent with the form, to check against the key's session.
    pub fn security_token(&self) -> Option<&str> {
        match self {
            Self::V4 { security_token, .. } | Self::V2 { security_token, .. } => security_token.as_deref(),
        }
    }
}

/// Reads and checks the signature fields, in S3's order, without any secret: the
/// required fields (the first missing one is named), the algorithm, `x-amz-date`'s
/// format, then the credential scope (shape, access key, date, `region`, service
/// `s3`, terminal, and its date against `x-amz-date`'s day).
///
/// A form with no signature field at all is anonymous: S3 would accept it only on a
/// publicly writable bucket, which linkgate does not have, so it is 403
/// `AccessDenied`.
pub fn parse_auth(form: &PostForm, region: &str) -> Result<PostAuth, PostError> {
    let v4 = ["x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"].iter().any(|n| form.contains(n));
    let v2 = form.contains("awsaccesskeyid") || form.contains("signature");
    let security_token = form.get("x-amz-security-token").map(Cow::into_owned);
    if v4 {
        parse_v4(form, region, security_token)
    } else if v2 {
        let access_key = require(form, "AWSAccessKeyId")?;
        let signature = require(form, "Signature")?;
        let policy_b64 = require(form, "Policy")?;
        Ok(PostAuth::V2 { access_key, signature, policy_b64, security_token })
    } else {
        Err(PostError::access_denied())
    }
}

fn require(form: &PostForm, name: &str) -> Result<String, PostError> {
    form.get(name).map(Cow::into_owned).ok_or_else(|| PostError::missing_field(name))
}

fn parse_v4(form: &PostForm, region: &str, security_token: Option<String>) -> Result<PostAuth, PostError> {
    let algorithm = require(form, "X-Amz-Algorithm")?;
    let credential = require(form, "X-Amz-Credential")?;
    let date = require(form, "X-Amz-Date")?;
    let signature = require(form, "X-Amz-Signature")?;
    let policy_b64 = require(form, "Policy")?;
    if algorithm != SIGV4_ALGORITHM {
        return Err(PostError::invalid_argument(
            format!("X-Amz-Algorithm only supports \"{SIGV4_ALGORITHM}\""),
            "X-Amz-Algorithm",
            &algorithm,
        ));
    }
    let Some(amz_date) = AmzDate::parse(&date) else {
        // S3's wording, typo included.
        return Err(PostError::invalid_argument("X-Amz-Date must be formated via ISO8601 Long format", "X-Amz-Date", &date));
    };
    let bad = |message: String| PostError::invalid_argument(message, "X-Amz-Credential", &credential);
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key, scope_date, scope_region, service, terminal] = parts.as_slice() else {
        return Err(bad("the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".".into()));
    };
    if access_key.is_empty() {
        return Err(bad("a non-empty Access Key (AKID) must be provided in the credential.".into()));
    }
    if scope_date.len() != 8 || AmzDate::parse(&format!("{scope_date}T000000Z")).is_none() {
        return Err(bad(format!(
            "incorrect date format \"{scope_date}\". This date in the credential must be in the format \"yyyyMMdd\"."
        )));
    }
    if *scope_region != region {
        return Err(bad(format!("the region '{scope_region}' is wrong; expecting '{region}'")).with("Region", region));
    }
    if *service != "s3" {
        return Err(bad(format!("incorrect service \"{service}\". This endpoint belongs to \"s3\".")));
    }
    if *terminal != "aws4_request" {
        return Err(bad(format!("incorrect terminal \"{terminal}\". This endpoint uses \"aws4_request\".")));
    }
    if amz_date.scope_date() != *scope_date {
        return Err(bad(format!(
            "Invalid credential date \"{scope_date}\". This date is not the same as X-Amz-Date: \"{}\".",
            amz_date.scope_date()
        )));
    }
    Ok(PostAuth::V4 {
        access_key: (*access_key).to_owned(),
        scope_date: (*scope_date).to_owned(),
        region: (*scope_region).to_owned(),
        service: (*service).to_owned(),
        amz_date,
        signature,
        policy_b64,
        security_token,
    })
}

/// Checks the form's signature over the policy text as received, in constant time:
/// SigV4 is hex HMAC-SHA256 under the scope's signing key (from `cache`), SigV2 is
/// base64 HMAC-SHA1 under the secret itself. A mismatch is 403
/// `SignatureDoesNotMatch` with S3's debugging elements (`StringToSign` is the
/// policy; signatures of other requests are never included).
pub fn verify_signature(auth: &PostAuth, secret: &str, cache: &SigningKeyCache) -> Result<(), PostError> {
    match auth {
        PostAuth::V4 { access_key, scope_date, region, service, signature, policy_b64, .. } => {
            let expected = cache.get(secret, scope_date, region, service).sign(policy_b64.as_bytes());
            let (provided, well_formed) = match sigv4::hex::decode_32(signature) {
                Some(provided) => (provided, true),
                None => ([0; 32], false),
            };
            let valid = well_formed & bool::from(expected.ct_eq(&provided));
            if valid { Ok(()) } else { Err(PostError::signature_mismatch(access_key, policy_b64, signature)) }
        }
        PostAuth::V2 { access_key, signature, policy_b64, .. } => {
            let mismatch = || PostError::signature_mismatch(access_key, policy_b64, signature);
            let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes()).map_err(|_| mismatch())?;
            mac.update(policy_b64.as_bytes());
            let provided = STANDARD_PAD_INDIFFERENT.decode(signature.as_bytes()).map_err(|_| mismatch())?;
            // `verify_slice` compares in constant time.
            mac.verify_slice(&provided).map_err(|_| mismatch())
        }
    }
}

// ---------------------------------------------------------------------------------
// The policy document
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MatchOp {
    Eq,
    StartsWith,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Condition {
    /// `["eq"|"starts-with", "$field", "value"]` or `{"field": "value"}`.
    Match {
        op: MatchOp,
        /// Lower-cased, without the `$`.
        field: String,
        value: String,
        /// As S3 echoes it in "Policy Condition failed".
        rendered: String,
    },
    /// `["content-length-range", min, max]`, inclusive.
    Length { min: u64, max: u64 },
    /// Well-formed but never satisfiable (a field without `$`, a bound that is not a
    /// number): S3 accepts the document and fails the condition with 403.
    Never { rendered: String },
}

/// A decoded POST policy: when it expires and what the form must satisfy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    expiration: i64,
    conditions: Vec<Condition>,
}

impl Policy {
    /// The `expiration` instant, seconds since the epoch (fraction dropped).
    pub fn expiration_unix(&self) -> i64 {
        self.expiration
    }

    /// The allowed file size `(min, max)` in bytes, inclusive, when the policy has a
    /// `content-length-range` (several intersect). The handler stops reading as soon
    /// as more than `max` bytes arrived instead of storing an oversized upload.
    pub fn length_range(&self) -> Option<(u64, u64)> {
        self.conditions.iter().fold(None, |acc, c| match (acc, c) {
            (None, Condition::Length { min, max }) => Some((*min, *max)),
            (Some((lo, hi)), Condition::Length { min, max }) => Some((lo.max(*min), hi.min(*max))),
            (acc, _) => acc,
        })
    }
}

/// Decodes and validates the policy document (base64 of a JSON object with
/// `expiration` and `conditions`). Structural problems are 400
/// `InvalidPolicyDocument` with S3's "Invalid Policy: …" messages; conditions are
/// only evaluated later by [`check_policy`]. Call it after [`verify_signature`]: S3
/// reports a tampered policy as a signature mismatch, not as a bad document.
pub fn parse_policy(policy_b64: &str) -> Result<Policy, PostError> {
    // Some clients wrap base64 at 76 columns (Ruby's `encode64`); the signature
    // covers the text as sent, but decoding ignores the line breaks.
    let compact: Vec<u8> = policy_b64.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let raw = STANDARD_PAD_INDIFFERENT.decode(&compact).map_err(|_| PostError::invalid_json())?;
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(PostError::invalid_policy("Invalid Policy: Expecting '{' but found End-of-Input"));
    }
    let doc: Json = serde_json::from_slice(&raw).map_err(|_| PostError::invalid_json())?;
    let Json::Obj(members) = doc else {
        return Err(PostError::invalid_json());
    };
    let (mut expiration, mut conditions) = (None, None);
    for (name, value) in members {
        let slot = match name.as_str() {
            "expiration" => &mut expiration,
            "conditions" => &mut conditions,
            other => return Err(PostError::invalid_policy(format!("Invalid Policy: Unexpected: '{}'", other.to_lowercase()))),
        };
        if slot.replace(value).is_some() {
            return Err(PostError::invalid_json());
        }
    }
    let expiration = expiration.ok_or_else(|| PostError::invalid_policy("Invalid Policy: Policy missing expiration."))?;
    let expiration = parse_expiration(&expiration)?;
    let conditions = conditions.ok_or_else(|| PostError::invalid_policy("Invalid Policy: Policy missing conditions."))?;
    let Json::Arr(conditions) = conditions else {
        return Err(PostError::invalid_policy("Invalid Policy: Invalid 'conditions' value: must be a List."));
    };
    let conditions = conditions.into_iter().map(parse_condition).collect::<Result<Vec<_>, _>>()?;
    Ok(Policy { expiration, conditions })
}

/// ISO 8601 UTC with `T` and `Z`, optional fraction: `2015-12-30T12:00:00.000Z`.
/// S3 refuses offsets and a space for the `T`.
fn parse_expiration(value: &Json) -> Result<i64, PostError> {
    let invalid = || {
        let shown = match value {
            Json::Str(s) => s.clone(),
            other => render_json(other),
        };
        PostError::invalid_policy(format!("Invalid Policy: Invalid 'expiration' value: '{shown}'"))
    };
    let Json::Str(s) = value else { return Err(invalid()) };
    let b = s.as_bytes();
    if b.len() < 20 || b[10] != b'T' || !s.ends_with('Z') {
        return Err(invalid());
    }
    AmzDate::parse_rfc3339(s).map(AmzDate::unix).ok_or_else(invalid)
}

fn parse_condition(condition: Json) -> Result<Condition, PostError> {
    match condition {
        Json::Obj(members) => {
            let [(name, value)] = members.as_slice() else {
                return Err(PostError::invalid_policy(
                    "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
                ));
            };
            let value = match value {
                Json::Str(v) => v,
                Json::Null => return Err(PostError::invalid_json()),
                _ => return Err(PostError::invalid_policy("Invalid Policy: Invalid Simple-Condition: value must be a string.")),
            };
            // S3 echoes simple conditions as the equivalent `eq` array.
            let rendered = render_list(&[Json::Str("eq".into()), Json::Str(format!("${name}")), Json::Str(value.clone())]);
            Ok(Condition::Match { op: MatchOp::Eq, field: name.to_ascii_lowercase(), value: value.clone(), rendered })
        }
        Json::Arr(items) => parse_list_condition(&items),
        _ => Err(PostError::invalid_policy("Invalid Policy: Invalid condition test: must be a List or Object.")),
    }
}

fn parse_list_condition(items: &[Json]) -> Result<Condition, PostError> {
    let Some(first) = items.first() else {
        return Err(PostError::invalid_policy("Invalid Policy: Invalid Condition: missing operation identifier."));
    };
    let Json::Str(op_name) = first else { return Err(PostError::invalid_json()) };
    let op = op_name.to_ascii_lowercase();
    if !matches!(op.as_str(), "eq" | "starts-with" | "content-length-range") {
        return Err(PostError::invalid_policy(format!("Invalid Policy: Invalid Condition: unknown operation '{op_name}'.")));
    }
    let [_, a, b] = items else {
        return Err(PostError::invalid_policy(format!("Invalid Policy: Invalid {op_name}: wrong number of arguments.")));
    };
    let rendered = render_list(items);
    if op == "content-length-range" {
        return match (length_bound(a)?, length_bound(b)?) {
            (Some(min), Some(max)) => Ok(Condition::Length { min, max }),
            _ => Ok(Condition::Never { rendered }),
        };
    }
    let (Json::Str(field), Json::Str(value)) = (a, b) else {
        return Err(PostError::invalid_json());
    };
    match field.strip_prefix('$') {
        Some(name) if !name.is_empty() => {
            let op = if op == "eq" { MatchOp::Eq } else { MatchOp::StartsWith };
            Ok(Condition::Match { op, field: name.to_ascii_lowercase(), value: value.clone(), rendered })
        }
        _ => Ok(Condition::Never { rendered }),
    }
}

/// A `content-length-range` bound: an integer, or a string holding one (S3 accepts
/// `"5"`). `Ok(None)` for a string that is no number, which S3 fails as a condition;
/// fractions and other JSON types are refused as S3 refuses them.
fn length_bound(bound: &Json) -> Result<Option<u64>, PostError> {
    let negative = || PostError::invalid_policy("Invalid Policy: Invalid content-length-range: bounds must be non-negative integers.");
    match bound {
        Json::Int(n) => u64::try_from(*n).map(Some).map_err(|_| negative()),
        Json::Str(s) => match s.trim().parse::<i128>() {
            Ok(n) => u64::try_from(n).map(Some).map_err(|_| negative()),
            Err(_) => Ok(None),
        },
        _ => Err(PostError::invalid_json()),
    }
}

/// Checks the policy against the form, in S3's order: expiration, then each
/// condition in the policy's order, then that every field is named by some
/// condition (403 "Extra input fields: …"). `bucket` is the bucket of the URL, which
/// `{"bucket": …}` conditions check (a `bucket` form field must agree too). Call it
/// after [`PostForm::expand_filename`]; sizes are [`check_length`]'s business.
pub fn check_policy(policy: &Policy, form: &PostForm, bucket: &str, now_unix: i64) -> Result<(), PostError> {
    if now_unix > policy.expiration {
        return Err(PostError::policy_denied("Invalid according to Policy: Policy expired."));
    }
    for condition in &policy.conditions {
        check_condition(condition, form, bucket)?;
    }
    let mut extra: Vec<&str> = Vec::new();
    for (i, field) in form.fields.iter().enumerate() {
        let lower = field.lower.as_str();
        let first_of_name = !form.fields[..i].iter().any(|f| f.lower == field.lower);
        let exempt = EXEMPT_FIELDS.contains(&lower) || lower.starts_with("x-ignore-");
        let covered = policy.conditions.iter().any(|c| matches!(c, Condition::Match { field: f, .. } if f == lower));
        if first_of_name && !exempt && !covered {
            extra.push(&field.name);
        }
    }
    if !extra.is_empty() {
        return Err(PostError::policy_denied(format!("Invalid according to Policy: Extra input fields: {}", extra.join(", "))));
    }
    Ok(())
}

fn check_condition(condition: &Condition, form: &PostForm, bucket: &str) -> Result<(), PostError> {
    let (op, field, expected, rendered) = match condition {
        Condition::Length { .. } => return Ok(()),
        Condition::Never { rendered } => return Err(PostError::condition_failed(rendered)),
        Condition::Match { op, field, value, rendered } => (*op, field.as_str(), value.as_str(), rendered.as_str()),
    };
    let holds = |actual: &str| match op {
        MatchOp::Eq => actual == expected,
        // Content-Type values with commas are lists; each must match (documented).
        MatchOp::StartsWith if field == "content-type" => actual.split(',').all(|v| v.trim().starts_with(expected)),
        MatchOp::StartsWith => actual.starts_with(expected),
    };
    let ok = if op == MatchOp::StartsWith && EXACT_ONLY_FIELDS.contains(&field) {
        false
    } else if field == "bucket" {
        holds(bucket) && form.get("bucket").is_none_or(|b| holds(&b))
    } else {
        // A condition on an absent field fails, even `starts-with ""` (observed).
        form.get(field).is_some_and(|v| holds(&v))
    };
    if ok { Ok(()) } else { Err(PostError::condition_failed(rendered)) }
}

/// Checks the file's actual size against the policy's `content-length-range`
/// (inclusive), once the upload has been read: 400 `EntityTooSmall` or
/// `EntityTooLarge` with `ProposedSize` and the bound.
pub fn check_length(policy: &Policy, size: u64) -> Result<(), PostError> {
    match policy.length_range() {
        Some((min, _)) if size < min => Err(PostError::entity_too_small(size, min)),
        Some((_, max)) if size > max => Err(PostError::entity_too_large(size, max)),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------
// The success answer
// ---------------------------------------------------------------------------------

/// What to answer once the object is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuccessResponse {
    /// 303 for a redirect, else 200, 201 or 204 (`success_action_status`).
    pub status: u16,
    /// The `Location` header: the redirect target for 303, the object's URL otherwise.
    pub location: String,
    /// The `ETag` header, quoted.
    pub etag: String,
    /// For 201 only: the `<PostResponse>` document, sent as `application/xml`.
    pub body: Option<String>,
}

/// Builds the answer S3 gives after a stored upload. With a usable
/// `success_action_redirect` (or the deprecated `redirect`), a 303 to it with
/// `bucket`, `key` and `etag` appended to its query; a URL S3 "cannot interpret"
/// (not absolute http/https, or with control characters) is ignored. Otherwise
/// `success_action_status` `200`, `201` (with a `PostResponse` body) or `204`, the
/// default and the answer to any other value.
///
/// `base_url` is the endpoint the client used (e.g. `http://127.0.0.1:8420`); the
/// object's URL is path-style with the key percent-encoded, `/` included, as S3
/// writes it. `etag` may be given with or without quotes.
pub fn success_response(form: &PostForm, bucket: &str, key: &str, etag: &str, base_url: &str) -> SuccessResponse {
    let etag = format!("\"{}\"", etag.trim_matches('"'));
    let redirect = ["success_action_redirect", "redirect"]
        .iter()
        .find_map(|name| form.get(name).and_then(|url| redirect_url(&url, bucket, key, &etag)));
    if let Some(location) = redirect {
        return SuccessResponse { status: 303, location, etag, body: None };
    }
    let location =
        format!("{}/{}/{}", base_url.trim_end_matches('/'), sigv4::encode::encode(bucket, false), sigv4::encode::encode(key, false));
    let status = match form.get("success_action_status").as_deref() {
        Some("200") => 200,
        Some("201") => 201,
        _ => 204,
    };
    let body = (status == 201).then(|| {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse>");
        for (name, value) in [("Location", location.as_str()), ("Bucket", bucket), ("Key", key), ("ETag", etag.as_str())] {
            xml.push('<');
            xml.push_str(name);
            xml.push('>');
            super::xml::escape_text_into(&mut xml, value);
            xml.push_str("</");
            xml.push_str(name);
            xml.push('>');
        }
        xml.push_str("</PostResponse>");
        xml
    });
    SuccessResponse { status, location, etag, body }
}

/// Appends `text` with non-ASCII percent-escaped (UTF-8): it would not survive as
/// a header value. Everything else is kept as sent.
fn push_non_ascii_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
}

/// The redirect target with `bucket`, `key` and `etag` appended (form-encoded, as S3
/// does), or `None` when the URL is not one S3 would follow.
fn redirect_url(url: &str, bucket: &str, key: &str, etag: &str) -> Option<String> {
    let rest = strip_prefix_ignore_case(url, "https://").or_else(|| strip_prefix_ignore_case(url, "http://"))?;
    if rest.is_empty() || rest.starts_with(['/', '?', '#']) || url.chars().any(char::is_control) {
        return None;
    }
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len() + key.len() + 64);
    push_non_ascii_escaped(&mut out, base);
    match base.find('?') {
        None => out.push('?'),
        Some(_) if base.ends_with(['?', '&']) => {}
        Some(_) => out.push('&'),
    }
    for (i, (name, value)) in [("bucket", bucket), ("key", key), ("etag", etag)].into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        push_form_encoded(&mut out, value);
    }
    if let Some(fragment) = fragment {
        out.push('#');
        push_non_ascii_escaped(&mut out, fragment);
    }
    Some(out)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// `application/x-www-form-urlencoded`: space as `+`, everything but alphanumerics
/// and `*-._` escaped.
fn push_form_encoded(out: &mut String, value: &str) {
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

// ---------------------------------------------------------------------------------
/// A condition as S3 prints it: `["eq", "$Content-Type", "application/pdf"]`.
fn render_list(items: &[Json]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&render_json(item));
    }
    out.push(']');
    out
}

fn render_json(value: &Json) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Int(n) => n.to_string(),
        Json::Float(f) => f.to_string(),
        Json::Str(s) => {
            let mut out = String::with_capacity(s.len() + 2);
            push_json_string(&mut out, s);
            out
        }
        Json::Arr(items) => render_list(items),
        Json::Obj(members) => {
            let mut out = String::from("{");
            for (i, (name, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_json_string(&mut out, name);
                out.push_str(": ");
                out.push_str(&render_json(value));
            }
            out.push('}');
            out
        }
    }
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use sigv4::SigningKey;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn unix(amz: &str) -> i64 {
        AmzDate::parse(amz).unwrap().unix()
    }

    fn b64(json: &str) -> String {
        STANDARD.encode(json)
    }

    fn cache() -> SigningKeyCache {
        SigningKeyCache::new(8)
    }

    /// The policy conditions every SigV4 form needs for its own auth fields.
    const AUTH_CONDITIONS: &str = r#"{"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20240501/us-east-1/s3/aws4_request"}, {"x-amz-date": "20240501T120000Z"}"#;
    const NOW: &str = "20240501T121500Z";

    /// A SigV4 form for bucket `bkt` with `conditions` (auth conditions appended),
    /// `fields` before the auth fields, signed with our own signer.
    fn v4_form(conditions: &str, fields: &[(&str, &str)]) -> (PostForm, Policy) {
        let sep = if conditions.is_empty() { "" } else { ", " };
        let json = format!(r#"{{"expiration": "2024-05-01T13:00:00Z", "conditions": [{conditions}{sep}{AUTH_CONDITIONS}]}}"#);
        let policy_b64 = b64(&json);
        let signature = SigningKey::derive(SECRET, "20240501", "us-east-1", "s3").sign_hex(policy_b64.as_bytes());
        let mut form: PostForm = fields.iter().copied().collect();
        form.push("X-Amz-Algorithm", "AWS4-HMAC-SHA256");
        form.push("X-Amz-Credential", format!("{AK}/20240501/us-east-1/s3/aws4_request"));
        form.push("X-Amz-Date", "20240501T120000Z");
        form.push("Policy", policy_b64.clone());
        form.push("X-Amz-Signature", signature);
        let auth = parse_auth(&form, "us-east-1").unwrap();
        verify_signature(&auth, SECRET, &cache()).unwrap();
        (form, parse_policy(&policy_b64).unwrap())
    }

    /// Builds, expands and checks; returns the policy verdict.
    fn check(conditions: &str, fields: &[(&str, &str)]) -> Result<(), PostError> {
        let (form, policy) = v4_form(conditions, fields);
        check_policy(&policy, &form, "bkt", unix(NOW))
    }

    fn failed(rendered: &str) -> Result<(), PostError> {
        Err(PostError::condition_failed(rendered))
    }

    fn policy_error(json: &str) -> PostError {
        parse_policy(&b64(json)).unwrap_err()
    }

    fn with_conditions(conditions: &str) -> String {
        format!(r#"{{"expiration": "2024-05-01T13:00:00Z", "conditions": [{conditions}]}}"#)
    }

    // --- signatures: independent vectors -------------------------------------------

    /// AWS's own example (sigv4-post-example): policy with CRLF line ends, its base64
    /// and signature as the page gives them (recomputed independently in Python).
    const AWS_EXAMPLE_POLICY: &str = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";

    fn aws_example_form() -> PostForm {
        [
            ("key", "user/user1/${filename}"),
            ("acl", "public-read"),
            ("success_action_redirect", "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html"),
            ("Content-Type", "image/jpeg"),
            ("x-amz-meta-uuid", "14365123651274"),
            ("x-amz-server-side-encryption", "AES256"),
            ("X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"),
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Date", "20151229T000000Z"),
            ("x-amz-meta-tag", ""),
            ("Policy", AWS_EXAMPLE_POLICY),
            ("X-Amz-Signature", "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn aws_documentation_example_passes_end_to_end() {
        let mut form = aws_example_form();
        form.expand_filename(Some("C:\\Users\\mary\\photo.jpg"));
        assert_eq!(form.object_key().unwrap(), "user/user1/photo.jpg");
        let auth = parse_auth(&form, "us-east-1").unwrap();
        assert_eq!(auth.access_key(), AK);
        assert_eq!(auth.security_token(), None);
        match &auth {
            PostAuth::V4 { scope_date, region, service, amz_date, .. } => {
                assert_eq!((scope_date.as_str(), region.as_str(), service.as_str()), ("20151229", "us-east-1", "s3"));
                assert_eq!(amz_date.amz_format(), "20151229T000000Z");
            }
            other => panic!("{other:?}"),
        }
        verify_signature(&auth, SECRET, &cache()).unwrap();
        let policy = parse_policy(auth.policy_b64()).unwrap();
        assert_eq!(policy.expiration_unix(), unix("20151230T120000Z"));
        assert_eq!(policy.length_range(), None);
        check_policy(&policy, &form, "sigv4examplebucket", unix("20151229T120000Z")).unwrap();
        check_length(&policy, 123_456_789).unwrap();

        let done = success_response(&form, "sigv4examplebucket", "user/user1/photo.jpg", "39d459dfbc0faabbb5e179358dfb94c3", "http://x");
        assert_eq!(done.status, 303);
        assert_eq!(
            done.location,
            "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html?bucket=sigv4examplebucket&key=user%2Fuser1%2Fphoto.jpg&etag=%2239d459dfbc0faabbb5e179358dfb94c3%22"
        );
        assert_eq!(done.etag, "\"39d459dfbc0faabbb5e179358dfb94c3\"");
        assert_eq!(done.body, None);

        // Same form, other bucket, other region, too late.
        assert_eq!(
            check_policy(&policy, &form, "otherbucket", unix("20151229T120000Z")),
            failed(r#"["eq", "$bucket", "sigv4examplebucket"]"#)
        );
        assert_eq!(parse_auth(&form, "eu-west-1").unwrap_err().message, "the region 'us-east-1' is wrong; expecting 'eu-west-1'");
        assert_eq!(
            check_policy(&policy, &form, "sigv4examplebucket", unix("20151230T120001Z")).unwrap_err().message,
            "Invalid according to Policy: Policy expired."
        );
    }

    #[test]
    fn aws_example_content_type_must_start_with_image() {
        let mut form = aws_example_form();
        form.fields.retain(|f| f.lower != "content-type");
        form.push("content-type", "application/pdf");
        let policy = parse_policy(AWS_EXAMPLE_POLICY).unwrap();
        assert_eq!(
            check_policy(&policy, &form, "sigv4examplebucket", unix("20151229T120000Z")),
            failed(r#"["starts-with", "$Content-Type", "image/"]"#)
        );
    }

    #[test]
    fn botocore_v4_vector_verifies() {
        // botocore generate_presigned_post with the clock at 2015-12-29T00:00:00Z;
        // signature recomputed independently with Python's hmac.
        let policy_b64 = "eyJleHBpcmF0aW9uIjogIjIwMTUtMTItMjlUMDE6MDA6MDBaIiwgImNvbmRpdGlvbnMiOiBbeyJidWNrZXQiOiAic2lndjRleGFtcGxlYnVja2V0In0sIHsia2V5IjogInVzZXIvdXNlcjEvcGhvdG8uanBnIn0sIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwgeyJ4LWFtei1jcmVkZW50aWFsIjogIkFLSUFJT1NGT0ROTjdFWEFNUExFLzIwMTUxMjI5L3VzLWVhc3QtMS9zMy9hd3M0X3JlcXVlc3QifSwgeyJ4LWFtei1kYXRlIjogIjIwMTUxMjI5VDAwMDAwMFoifV19";
        let form: PostForm = [
            ("key", "user/user1/photo.jpg"),
            ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
            ("x-amz-credential", "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"),
            ("x-amz-date", "20151229T000000Z"),
            ("policy", policy_b64),
            ("x-amz-signature", "3364624b39010d9b06f5d9b8c9a18a6e478d261c048159c92f2fd6fa885f14e6"),
        ]
        .into_iter()
        .collect();
        let auth = parse_auth(&form, "us-east-1").unwrap();
        verify_signature(&auth, SECRET, &cache()).unwrap();
        let policy = parse_policy(policy_b64).unwrap();
        check_policy(&policy, &form, "sigv4examplebucket", unix("20151229T005959Z")).unwrap();
        assert!(check_policy(&policy, &form, "sigv4examplebucket", unix("20151229T010001Z")).is_err());
        assert!(verify_signature(&auth, "wrong-secret", &cache()).is_err());
    }

    /// botocore with `signature_version='s3'` (SigV2 POST); the signature was
    /// recomputed with `base64(hmac.new(secret, policy, sha1))` in Python.
    fn botocore_v2_form() -> PostForm {
        [
            ("Content-Type", "text/plain"),
            ("key", "uploads/${filename}"),
            ("AWSAccessKeyId", AK),
            ("policy", "eyJleHBpcmF0aW9uIjogIjIwMjYtMTEtMjJUMTY6NDQ6MjlaIiwgImNvbmRpdGlvbnMiOiBbeyJDb250ZW50LVR5cGUiOiAidGV4dC9wbGFpbiJ9LCBbImNvbnRlbnQtbGVuZ3RoLXJhbmdlIiwgMSwgMTAwXSwgeyJidWNrZXQiOiAiYmt0In0sIFsic3RhcnRzLXdpdGgiLCAiJGtleSIsICJ1cGxvYWRzLyJdXX0="),
            ("signature", "QKD/wfHb+lbrEe7tKMekOOXNiRU="),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn botocore_v2_vector_verifies_and_checks() {
        let mut form = botocore_v2_form();
        form.expand_filename(Some("notes.txt"));
        let auth = parse_auth(&form, "us-east-1").unwrap();
        assert!(matches!(&auth, PostAuth::V2 { access_key, .. } if access_key == AK));
        verify_signature(&auth, SECRET, &cache()).unwrap();
        let policy = parse_policy(auth.policy_b64()).unwrap();
        assert_eq!(policy.length_range(), Some((1, 100)));
        check_policy(&policy, &form, "bkt", unix("20261122T160000Z")).unwrap();
        assert_eq!(form.object_key().unwrap(), "uploads/notes.txt");
        check_length(&policy, 1).unwrap();
        check_length(&policy, 100).unwrap();
        assert_eq!(check_length(&policy, 0).unwrap_err(), PostError::entity_too_small(0, 1));
        let too_large = check_length(&policy, 101).unwrap_err();
        assert_eq!((too_large.status, too_large.code), (400, "EntityTooLarge"));
        assert_eq!(too_large.message, "Your proposed upload exceeds the maximum allowed size");
        assert_eq!(too_large.details, vec![("ProposedSize", "101".to_owned()), ("MaxSizeAllowed", "100".to_owned())]);
    }

    #[test]
    fn v2_signature_matches_python_hmac_sha1() {
        // python3 -c "import hmac,hashlib,base64; print(base64.b64encode(hmac.new(SECRET, b'eyJ4IjogMX0=', hashlib.sha1).digest()))"
        let auth = PostAuth::V2 {
            access_key: AK.into(),
            signature: "g9I+vs/jAudTiFalkUuwDi9ogpg=".into(),
            policy_b64: "eyJ4IjogMX0=".into(),
            security_token: None,
        };
        verify_signature(&auth, SECRET, &cache()).unwrap();
        for bad in ["g9I+vs/jAudTiFalkUuwDi9ogpG=", "g9I+vs/jAudTiFalkUuwDi9ogp", "not base64!", ""] {
            let auth =
                PostAuth::V2 { access_key: AK.into(), signature: bad.into(), policy_b64: "eyJ4IjogMX0=".into(), security_token: None };
            assert_eq!(verify_signature(&auth, SECRET, &cache()).unwrap_err().code, "SignatureDoesNotMatch", "{bad}");
        }
    }

    #[test]
    fn tampered_policy_is_a_signature_mismatch_with_s3_details() {
        let mut form = botocore_v2_form();
        let tampered = &form.get("policy").unwrap()[..40].to_owned();
        form.fields.retain(|f| f.lower != "policy");
        form.push("policy", tampered.clone());
        let err = verify_signature(&parse_auth(&form, "us-east-1").unwrap(), SECRET, &cache()).unwrap_err();
        assert_eq!((err.status, err.code), (403, "SignatureDoesNotMatch"));
        assert_eq!(
            err.message,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        );
        let names: Vec<_> = err.details.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["AWSAccessKeyId", "StringToSign", "SignatureProvided", "StringToSignBytes"]);
        assert_eq!(err.details[1].1, *tampered);
        assert_eq!(err.details[2].1, "QKD/wfHb+lbrEe7tKMekOOXNiRU=");
        assert!(err.details[3].1.starts_with("65 79 4a 6c"));

        // SigV4: one flipped policy character.
        let (form, _) = v4_form(r#"{"bucket": "bkt"}"#, &[]);
        let mut auth = parse_auth(&form, "us-east-1").unwrap();
        if let PostAuth::V4 { policy_b64, .. } = &mut auth {
            policy_b64.replace_range(0..1, "f");
        }
        assert_eq!(verify_signature(&auth, SECRET, &cache()).unwrap_err().code, "SignatureDoesNotMatch");
    }

    #[test]
    fn v4_signature_hex_must_be_well_formed() {
        let (form, _) = v4_form("", &[]);
        let good = form.get("x-amz-signature").unwrap().into_owned();
        for (sig, ok) in
            [(good.to_uppercase(), true), (good[..63].to_owned(), false), (format!("{}g", &good[..63]), false), (String::new(), false)]
        {
            let mut form = form.clone();
            form.fields.retain(|f| f.lower != "x-amz-signature");
            form.push("X-Amz-Signature", sig.clone());
            let result = verify_signature(&parse_auth(&form, "us-east-1").unwrap(), SECRET, &cache());
            assert_eq!(result.is_ok(), ok, "{sig}");
        }
    }

    // --- required fields and credential scope --------------------------------------

    fn without(form: &PostForm, names: &[&str]) -> PostForm {
        let mut form = form.clone();
        form.fields.retain(|f| !names.iter().any(|n| f.lower.eq_ignore_ascii_case(n)));
        form
    }

    fn replaced(form: &PostForm, name: &str, value: &str) -> PostForm {
        let mut form = without(form, &[name]);
        form.push(name, value);
        form
    }

    #[test]
    fn missing_fields_are_named_in_s3_order() {
        let (form, _) = v4_form("", &[("key", "k")]);
        let cases: [(&[&str], &str); 6] = [
            (&["x-amz-signature"], "X-Amz-Signature"),
            (&["x-amz-algorithm", "x-amz-credential"], "X-Amz-Algorithm"),
            (&["x-amz-credential"], "X-Amz-Credential"),
            (&["x-amz-date"], "X-Amz-Date"),
            (&["policy"], "Policy"),
            (&["x-amz-algorithm", "x-amz-credential", "x-amz-date"], "X-Amz-Algorithm"),
        ];
        for (drop, named) in cases {
            let err = parse_auth(&without(&form, drop), "us-east-1").unwrap_err();
            assert_eq!((err.status, err.code), (400, "InvalidArgument"));
            assert_eq!(
                err.message,
                format!("Bucket POST must contain a field named '{named}'.  If it is specified, please check the order of the fields.")
            );
            assert_eq!(err.details, vec![("ArgumentName", named.to_owned()), ("ArgumentValue", String::new())]);
        }
        let v2 = botocore_v2_form();
        assert_eq!(parse_auth(&without(&v2, &["AWSAccessKeyId"]), "us-east-1").unwrap_err(), PostError::missing_field("AWSAccessKeyId"));
        assert_eq!(parse_auth(&without(&v2, &["signature"]), "us-east-1").unwrap_err(), PostError::missing_field("Signature"));
        assert_eq!(parse_auth(&without(&v2, &["policy"]), "us-east-1").unwrap_err(), PostError::missing_field("Policy"));
    }

    #[test]
    fn a_form_without_signature_fields_is_anonymous_and_denied() {
        let form: PostForm = [("key", "k"), ("policy", "e30="), ("x-amz-security-token", "t")].into_iter().collect();
        let err = parse_auth(&form, "us-east-1").unwrap_err();
        assert_eq!((err.status, err.code, err.message.as_str()), (403, "AccessDenied", "Access Denied"));
        assert_eq!(parse_auth(&PostForm::new(), "us-east-1").unwrap_err(), PostError::access_denied());
    }

    #[test]
    fn field_names_are_case_insensitive() {
        let (form, _) = v4_form("", &[]);
        let lower: PostForm = form.iter().map(|(n, v)| (n.to_lowercase(), v.to_owned())).collect();
        let upper: PostForm = form.iter().map(|(n, v)| (n.to_uppercase(), v.to_owned())).collect();
        assert_eq!(parse_auth(&lower, "us-east-1").unwrap(), parse_auth(&form, "us-east-1").unwrap());
        assert_eq!(parse_auth(&upper, "us-east-1").unwrap(), parse_auth(&form, "us-east-1").unwrap());
        let v2: PostForm = botocore_v2_form().iter().map(|(n, v)| (n.to_lowercase(), v.to_owned())).collect();
        verify_signature(&parse_auth(&v2, "us-east-1").unwrap(), SECRET, &cache()).unwrap();
    }

    #[test]
    fn credential_scope_and_date_checks() {
        let (form, _) = v4_form("", &[]);
        let cred = |c: &str| parse_auth(&replaced(&form, "X-Amz-Credential", c), "us-east-1").unwrap_err();
        let cases = [
            ("AK/20240501/us-east-1/s3", "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."),
            (
                "A/K/20240501/us-east-1/s3/aws4_request",
                "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
            ),
            ("/20240501/us-east-1/s3/aws4_request", "a non-empty Access Key (AKID) must be provided in the credential."),
            (
                "AK/2024-5-1/us-east-1/s3/aws4_request",
                "incorrect date format \"2024-5-1\". This date in the credential must be in the format \"yyyyMMdd\".",
            ),
            (
                "AK/20241301/us-east-1/s3/aws4_request",
                "incorrect date format \"20241301\". This date in the credential must be in the format \"yyyyMMdd\".",
            ),
            ("AK/20240501/us-west-2/s3/aws4_request", "the region 'us-west-2' is wrong; expecting 'us-east-1'"),
            ("AK/20240501/us-east-1/sts/aws4_request", "incorrect service \"sts\". This endpoint belongs to \"s3\"."),
            ("AK/20240501/us-east-1/s3/aws4", "incorrect terminal \"aws4\". This endpoint uses \"aws4_request\"."),
            (
                "AK/20240502/us-east-1/s3/aws4_request",
                "Invalid credential date \"20240502\". This date is not the same as X-Amz-Date: \"20240501\".",
            ),
        ];
        for (credential, message) in cases {
            let err = cred(credential);
            assert_eq!((err.status, err.code, err.message.as_str()), (400, "InvalidArgument", message), "{credential}");
            assert_eq!(err.details[..2], [("ArgumentName", "X-Amz-Credential".to_owned()), ("ArgumentValue", credential.to_owned())]);
        }
        assert_eq!(cred("AK/20240501/us-west-2/s3/aws4_request").details[2], ("Region", "us-east-1".to_owned()));

        let err = parse_auth(&replaced(&form, "X-Amz-Algorithm", "AWS4-HMAC-SHA1"), "us-east-1").unwrap_err();
        assert_eq!((err.code, err.message.as_str()), ("InvalidArgument", "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
        let err = parse_auth(&replaced(&form, "X-Amz-Date", "2024-05-01T12:00:00Z"), "us-east-1").unwrap_err();
        assert_eq!((err.code, err.message.as_str()), ("InvalidArgument", "X-Amz-Date must be formated via ISO8601 Long format"));
        assert_eq!(err.details, vec![("ArgumentName", "X-Amz-Date".to_owned()), ("ArgumentValue", "2024-05-01T12:00:00Z".to_owned())]);
    }

    #[test]
    fn security_token_is_exposed() {
        let (form, _) = v4_form(r#"{"x-amz-security-token": "tok"}"#, &[("x-amz-security-token", "tok")]);
        assert_eq!(parse_auth(&form, "us-east-1").unwrap().security_token(), Some("tok"));
        let (form, policy) = v4_form(r#"["starts-with", "$x-amz-security-token", "t"]"#, &[("x-amz-security-token", "tok")]);
        assert_eq!(check_policy(&policy, &form, "bkt", unix(NOW)), failed(r#"["starts-with", "$x-amz-security-token", "t"]"#));
    }

    // --- conditions ----------------------------------------------------------------

    #[test]
    fn eq_conditions_in_both_forms() {
        let fields = [("key", "k"), ("acl", "public-read")];
        check(r#"{"key": "k"}, ["eq", "$acl", "public-read"]"#, &fields).unwrap();
        check(r#"["eq", "$key", "k"], {"acl": "public-read"}"#, &fields).unwrap();
        assert_eq!(check(r#"{"key": "k"}, {"acl": "private"}"#, &fields), failed(r#"["eq", "$acl", "private"]"#));
        assert_eq!(check(r#"["eq", "$key", "K"], {"acl": "public-read"}"#, &fields), failed(r#"["eq", "$key", "K"]"#));
        // The message S3 printed for a failed Content-Type condition, verbatim.
        let err = check(r#"{"key": "k"}, ["eq", "$Content-Type", "application/pdf"]"#, &[("key", "k"), ("Content-Type", "text/plain")])
            .unwrap_err();
        assert_eq!((err.status, err.code), (403, "AccessDenied"));
        assert_eq!(err.message, r#"Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "application/pdf"]"#);
    }

    #[test]
    fn starts_with_conditions() {
        let fields = [("key", "user/eric/a.txt")];
        check(r#"["starts-with", "$key", "user/eric/"]"#, &fields).unwrap();
        check(r#"["starts-with", "$key", ""]"#, &fields).unwrap();
        check(r#"["starts-with", "$key", "user/eric/a.txt"]"#, &fields).unwrap();
        assert_eq!(check(r#"["starts-with", "$key", "user/bob/"]"#, &fields), failed(r#"["starts-with", "$key", "user/bob/"]"#));
        assert_eq!(check(r#"["starts-with", "$key", "USER/"]"#, &fields), failed(r#"["starts-with", "$key", "USER/"]"#));
        // Empty prefix allows anything, even an empty value, but the field must exist.
        check(r#"{"key": "k"}, ["starts-with", "$x-amz-meta-tag", ""]"#, &[("key", "k"), ("x-amz-meta-tag", "")]).unwrap();
        assert_eq!(
            check(r#"{"key": "k"}, ["starts-with", "$Content-Type", ""]"#, &[("key", "k")]),
            failed(r#"["starts-with", "$Content-Type", ""]"#)
        );
        assert_eq!(check(r#"{"key": "k"}, {"acl": ""}"#, &[("key", "k")]), failed(r#"["eq", "$acl", ""]"#));
    }

    #[test]
    fn content_type_lists_must_match_each_entry() {
        let cond = r#"{"key": "k"}, ["starts-with", "$Content-Type", "image/"]"#;
        check(cond, &[("key", "k"), ("Content-Type", "image/jpg,image/png,image/gif")]).unwrap();
        check(cond, &[("key", "k"), ("Content-Type", "image/jpg, image/png")]).unwrap();
        assert_eq!(
            check(cond, &[("key", "k"), ("Content-Type", "image/jpg,text/plain")]),
            failed(r#"["starts-with", "$Content-Type", "image/"]"#)
        );
        // Only Content-Type is a list; other fields are plain strings.
        check(r#"["starts-with", "$key", "a"]"#, &[("key", "a,b")]).unwrap();
        // `eq` compares the whole value.
        assert!(check(r#"{"key": "k"}, {"Content-Type": "image/jpg"}"#, &[("key", "k"), ("Content-Type", "image/jpg,image/jpg")]).is_err());
    }

    #[test]
    fn names_are_case_insensitive_values_are_not() {
        check(
            r#"{"KEY": "k"}, ["StArTs-WiTh", "$CoNtEnT-TyPe", "text/"], ["EQ", "$x-amz-meta-test-2", "v"], {"success_Action_REDIRECT": "http://a/"}"#,
            &[("kEy", "k"), ("content-type", "text/plain"), ("x-amz-meta-TEST-2", "v"), ("Success_Action_Redirect", "http://a/")],
        )
        .unwrap();
        assert_eq!(
            check(r#"{"key": "k"}, {"success_action_redirect": "http://a/"}"#, &[("key", "k"), ("success_action_redirect", "HTTP://a/")]),
            failed(r#"["eq", "$success_action_redirect", "http://a/"]"#)
        );
    }

    #[test]
    fn bucket_condition_checks_the_url_bucket_and_any_bucket_field() {
        check(r#"{"bucket": "bkt"}, {"key": "k"}"#, &[("key", "k")]).unwrap();
        check(r#"{"bucket": "bkt"}, {"key": "k"}"#, &[("key", "k"), ("bucket", "bkt")]).unwrap();
        assert_eq!(check(r#"{"bucket": "other"}, {"key": "k"}"#, &[("key", "k")]), failed(r#"["eq", "$bucket", "other"]"#));
        assert_eq!(
            check(r#"{"bucket": "bkt"}, {"key": "k"}"#, &[("key", "k"), ("bucket", "other")]),
            failed(r#"["eq", "$bucket", "bkt"]"#)
        );
        // A bucket field needs a condition like any other.
        assert_eq!(
            check(r#"{"key": "k"}"#, &[("key", "k"), ("bucket", "bkt")]).unwrap_err().message,
            "Invalid according to Policy: Extra input fields: bucket"
        );
    }

    #[test]
    fn starts_with_is_refused_on_exact_only_fields() {
        for (field, value) in [("bucket", "b"), ("success_action_status", "2"), ("x-amz-algorithm", "AWS4"), ("x-amz-date", "2024")] {
            let cond = format!(r#"{{"key": "k"}}, ["starts-with", "${field}", "{value}"]"#);
            let mut fields = vec![("key", "k")];
            if field == "success_action_status" {
                fields.push(("success_action_status", "201"));
            }
            assert_eq!(check(&cond, &fields), failed(&format!(r#"["starts-with", "${field}", "{value}"]"#)), "{field}");
        }
        // Allowed on the documented starts-with fields and on other x-amz-* (s3-tests relies on it).
        check(
            r#"{"key": "k"}, ["starts-with", "$acl", "public"], ["starts-with", "$x-amz-server-side-encryption", ""], ["starts-with", "$redirect", "https://"]"#,
            &[("key", "k"), ("acl", "public-read"), ("x-amz-server-side-encryption", "AES256"), ("redirect", "https://a/")],
        )
        .unwrap();
    }

    #[test]
    fn conditions_without_dollar_parse_but_always_fail() {
        assert_eq!(
            check(r#"["eq", "success_action_redirect", "http://localhost.test/random"]"#, &[]),
            failed(r#"["eq", "success_action_redirect", "http://localhost.test/random"]"#)
        );
        assert_eq!(check(r#"["starts-with", "$", ""]"#, &[]), failed(r#"["starts-with", "$", ""]"#));
    }

    #[test]
    fn rendering_escapes_like_json() {
        assert_eq!(
            check(
                r#"{"key": "k"}, ["eq", "$Content-Disposition", "filename=\"test.png\""]"#,
                &[("key", "k"), ("Content-Disposition", "x")]
            ),
            failed(r#"["eq", "$Content-Disposition", "filename=\"test.png\""]"#)
        );
        assert_eq!(
            check(r#"{"key": "k"}, {"x-amz-meta-a": "tab\there\\ é"}"#, &[("key", "k"), ("x-amz-meta-a", "x")]),
            failed(r#"["eq", "$x-amz-meta-a", "tab\there\\ é"]"#)
        );
    }

    #[test]
    fn conditions_are_checked_in_policy_order() {
        assert_eq!(check(r#"{"key": "a"}, {"acl": "b"}"#, &[("key", "x"), ("acl", "y")]), failed(r#"["eq", "$key", "a"]"#));
        assert_eq!(check(r#"{"acl": "b"}, {"key": "a"}"#, &[("key", "x"), ("acl", "y")]), failed(r#"["eq", "$acl", "b"]"#));
    }

    #[test]
    fn every_field_needs_a_condition() {
        let err = check(r#"{"key": "k"}"#, &[("key", "k"), ("x-custom", "1")]).unwrap_err();
        assert_eq!((err.status, err.code), (403, "AccessDenied"));
        assert_eq!(err.message, "Invalid according to Policy: Extra input fields: x-custom");
        // Named as sent, each name once, in form order.
        assert_eq!(
            check(r#"{"key": "k"}"#, &[("key", "k"), ("Filename", "a"), ("x-amz-checksum-sha256", "b"), ("filename", "c")])
                .unwrap_err()
                .message,
            "Invalid according to Policy: Extra input fields: Filename, x-amz-checksum-sha256"
        );
        // Exempt: policy and signature fields, x-ignore-*, and the SigV2 pair.
        check(
            r#"{"key": "k"}"#,
            &[("key", "k"), ("x-ignore-tracker", "1"), ("X-Ignore-Other", "2"), ("AWSAccessKeyId", "AK"), ("Signature", "s")],
        )
        .unwrap();
        // The SigV4 auth fields themselves must be covered (v4_form adds their conditions).
        let json = with_conditions(r#"{"key": "k"}"#);
        let (form, _) = v4_form("", &[("key", "k")]);
        assert_eq!(
            check_policy(&parse_policy(&b64(&json)).unwrap(), &form, "bkt", unix(NOW)).unwrap_err().message,
            "Invalid according to Policy: Extra input fields: X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date"
        );
    }

    #[test]
    fn repeated_fields_join_with_commas() {
        check(
            r#"{"x-amz-meta-tag": "Ninja,Stallman"}, {"key": "k"}"#,
            &[("key", "k"), ("x-amz-meta-tag", "Ninja"), ("X-Amz-Meta-Tag", "Stallman")],
        )
        .unwrap();
        let form: PostForm = [("a", "1"), ("b", "2"), ("A", "3")].into_iter().collect();
        assert_eq!(form.get("a").as_deref(), Some("1,3"));
        assert_eq!(form.get("B").as_deref(), Some("2"));
        assert_eq!(form.get("c"), None);
        assert_eq!(form.len(), 3);
        assert!(form.contains("A") && !form.is_empty() && PostForm::new().is_empty());
    }

    #[test]
    fn expiration_is_checked_first_and_inclusively() {
        let (form, policy) = v4_form(r#"{"key": "nope"}"#, &[("key", "k")]);
        assert_eq!(policy.expiration_unix(), unix("20240501T130000Z"));
        check_policy(&policy, &PostForm::new(), "bkt", unix("20240501T130000Z")).unwrap_err();
        let expired = check_policy(&policy, &form, "bkt", unix("20240501T130001Z")).unwrap_err();
        assert_eq!((expired.status, expired.code), (403, "AccessDenied"));
        assert_eq!(expired.message, "Invalid according to Policy: Policy expired.");
        assert_eq!(check_policy(&policy, &form, "bkt", unix("20240501T130000Z")), failed(r#"["eq", "$key", "nope"]"#));
    }

    #[test]
    fn expiration_formats() {
        let at = |exp: &str| parse_policy(&b64(&format!(r#"{{"expiration": "{exp}", "conditions": []}}"#))).map(|p| p.expiration_unix());
        assert_eq!(at("2007-12-01T12:00:00.000Z").unwrap(), unix("20071201T120000Z"));
        assert_eq!(at("2007-12-01T12:00:00Z").unwrap(), unix("20071201T120000Z"));
        assert_eq!(at("2007-12-01T12:00:00.123456Z").unwrap(), unix("20071201T120000Z"));
        for bad in ["2011-09-13T07:52:58+02:00", "2015-10-17 03:15:59 UTC", "2015-10-17 03:15:59Z", "2015-02-30T00:00:00Z", "tomorrow", ""]
        {
            let err = at(bad).unwrap_err();
            assert_eq!((err.status, err.code), (400, "InvalidPolicyDocument"));
            assert_eq!(err.message, format!("Invalid Policy: Invalid 'expiration' value: '{bad}'"));
        }
        assert_eq!(policy_error(r#"{"expiration": 12, "conditions": []}"#).message, "Invalid Policy: Invalid 'expiration' value: '12'");
    }

    // --- the policy document -------------------------------------------------------

    #[test]
    fn malformed_documents() {
        let json_err = "Invalid Policy: Invalid JSON.";
        let bad = |b64: &str| parse_policy(b64).unwrap_err();
        assert_eq!((bad("%%%").status, bad("%%%").code, bad("%%%").message.as_str()), (400, "InvalidPolicyDocument", json_err));
        assert_eq!(bad(&b64("{not json")).message, json_err);
        assert_eq!(bad(&b64(r#"["expiration"]"#)).message, json_err);
        assert_eq!(bad(&STANDARD.encode([0xff, 0xfe, b'{'])).message, json_err);
        assert_eq!(bad("").message, "Invalid Policy: Expecting '{' but found End-of-Input");
        assert_eq!(bad(&b64("  \n")).message, "Invalid Policy: Expecting '{' but found End-of-Input");
        let cases = [
            (r#"{"conditions": []}"#, "Invalid Policy: Policy missing expiration."),
            (r#"{"expiration": "2024-05-01T13:00:00Z"}"#, "Invalid Policy: Policy missing conditions."),
            (r#"{"EXPIRATION": "2024-05-01T13:00:00Z", "conditions": []}"#, "Invalid Policy: Unexpected: 'expiration'"),
            (r#"{"Statement": [], "expiration": "2024-05-01T13:00:00Z", "conditions": []}"#, "Invalid Policy: Unexpected: 'statement'"),
            (r#"{"expiration": "2024-05-01T13:00:00Z", "conditions": {}}"#, "Invalid Policy: Invalid 'conditions' value: must be a List."),
            (r#"{"expiration": "2024-05-01T13:00:00Z", "conditions": [], "conditions": []}"#, json_err),
            (&with_conditions("123"), "Invalid Policy: Invalid condition test: must be a List or Object."),
            (&with_conditions(r#""eq""#), "Invalid Policy: Invalid condition test: must be a List or Object."),
            (
                &with_conditions("{}"),
                "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
            ),
            (
                &with_conditions(r#"{"bucket": "b", "acl": "private"}"#),
                "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
            ),
            (
                &with_conditions(r#"{"acl": "a", "acl": "b"}"#),
                "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
            ),
            (&with_conditions(r#"{"Content-Length": 6199034}"#), "Invalid Policy: Invalid Simple-Condition: value must be a string."),
            (&with_conditions(r#"{"success_action_redirect": null}"#), json_err),
            (&with_conditions("[]"), "Invalid Policy: Invalid Condition: missing operation identifier."),
            (&with_conditions(r#"[1, "$key", "k"]"#), json_err),
            (&with_conditions(r#"["contains", "$key", "k"]"#), "Invalid Policy: Invalid Condition: unknown operation 'contains'."),
            (&with_conditions(r#"["eq", "$key"]"#), "Invalid Policy: Invalid eq: wrong number of arguments."),
            (&with_conditions(r#"["Starts-With", "$key", "a", "b"]"#), "Invalid Policy: Invalid Starts-With: wrong number of arguments."),
            (
                &with_conditions(r#"["content-length-range", 0]"#),
                "Invalid Policy: Invalid content-length-range: wrong number of arguments.",
            ),
            (&with_conditions(r#"["eq", false, "k"]"#), json_err),
            (&with_conditions(r#"["eq", "$key", 12]"#), json_err),
            (&with_conditions(r#"["content-length-range", 0, 512.0]"#), json_err),
            (&with_conditions(r#"["content-length-range", 12, false]"#), json_err),
            (
                &with_conditions(r#"["content-length-range", -1, 0]"#),
                "Invalid Policy: Invalid content-length-range: bounds must be non-negative integers.",
            ),
            (
                &with_conditions(r#"["content-length-range", "0", "-5"]"#),
                "Invalid Policy: Invalid content-length-range: bounds must be non-negative integers.",
            ),
            (&with_conditions(r#"["content-length-range", 0, 1e400]"#), json_err),
        ];
        for (json, message) in cases {
            let err = policy_error(json);
            assert_eq!((err.status, err.code, err.message.as_str()), (400, "InvalidPolicyDocument", message), "{json}");
        }
    }

    #[test]
    fn base64_with_line_breaks_or_without_padding_decodes() {
        let json = with_conditions(r#"["content-length-range", 0, 10]"#);
        let encoded = b64(&json);
        let wrapped: String = encoded.as_bytes().chunks(20).map(|c| format!("{}\n", std::str::from_utf8(c).unwrap())).collect();
        assert_eq!(parse_policy(&wrapped).unwrap(), parse_policy(&encoded).unwrap());
        assert_eq!(parse_policy(encoded.trim_end_matches('=')).unwrap(), parse_policy(&encoded).unwrap());
    }

    #[test]
    fn content_length_range() {
        let policy = parse_policy(&b64(&with_conditions(r#"["content-length-range", 5, 10]"#))).unwrap();
        assert_eq!(policy.length_range(), Some((5, 10)));
        for ok in [5, 7, 10] {
            check_length(&policy, ok).unwrap();
        }
        let small = check_length(&policy, 1).unwrap_err();
        assert_eq!((small.status, small.code), (400, "EntityTooSmall"));
        assert_eq!(small.message, "Your proposed upload is smaller than the minimum allowed size");
        assert_eq!(small.details, vec![("ProposedSize", "1".to_owned()), ("MinSizeAllowed", "5".to_owned())]);
        assert_eq!(check_length(&policy, 12).unwrap_err(), PostError::entity_too_large(12, 10));

        // Bounds as strings are numbers too.
        let policy = parse_policy(&b64(&with_conditions(r#"["content-length-range", "5", "10"]"#))).unwrap();
        assert_eq!(policy.length_range(), Some((5, 10)));
        // Several ranges intersect.
        let policy =
            parse_policy(&b64(&with_conditions(r#"["content-length-range", 0, 100], ["CONTENT-LENGTH-RANGE", 10, 1000]"#))).unwrap();
        assert_eq!(policy.length_range(), Some((10, 100)));
        // No range: anything goes.
        let policy = parse_policy(&b64(&with_conditions(""))).unwrap();
        assert_eq!(policy.length_range(), None);
        check_length(&policy, u64::MAX).unwrap();
        // A range never covers a field, and does not fail check_policy.
        check(r#"["content-length-range", 1, 2], {"key": "k"}"#, &[("key", "k")]).unwrap();
        assert_eq!(
            check(r#"{"key": "k"}"#, &[("key", "k"), ("content-length-range", "1")]).unwrap_err().message,
            "Invalid according to Policy: Extra input fields: content-length-range"
        );
    }

    #[test]
    fn non_numeric_range_bounds_fail_as_conditions() {
        assert_eq!(check(r#"["content-length-range", "test", "10"]"#, &[]), failed(r#"["content-length-range", "test", "10"]"#));
        assert_eq!(check(r#"["content-length-range", 0, "ten"]"#, &[]), failed(r#"["content-length-range", 0, "ten"]"#));
    }

    // --- ${filename} and the key ----------------------------------------------------

    #[test]
    fn filename_expansion() {
        let form: PostForm = [
            ("key", "user/${filename}"),
            ("Content-Disposition", "attachment; filename=\"${filename}\""),
            ("policy", "${filename}"),
            ("x-amz-signature", "${filename}"),
            ("signature", "${filename}"),
        ]
        .into_iter()
        .collect();
        let expanded = |name: Option<&str>| {
            let mut f = form.clone();
            f.expand_filename(name);
            f
        };
        let f = expanded(Some("a b.txt"));
        assert_eq!(f.object_key().unwrap(), "user/a b.txt");
        assert_eq!(f.get("content-disposition").as_deref(), Some("attachment; filename=\"a b.txt\""));
        for signed in ["policy", "x-amz-signature", "signature"] {
            assert_eq!(f.get(signed).as_deref(), Some("${filename}"));
        }
        assert_eq!(expanded(Some("C:\\Program Files\\dir\\file.txt")).object_key().unwrap(), "user/file.txt");
        assert_eq!(expanded(Some("/home/u/x.png")).object_key().unwrap(), "user/x.png");
        assert_eq!(expanded(Some("")).object_key().unwrap(), "user/");
        // No filename parameter at all: S3 keeps the variable literally.
        assert_eq!(expanded(None).object_key().unwrap(), "user/${filename}");
        // The policy sees the expanded key.
        check(r#"["starts-with", "$key", "user/"], {"key": "user/photo.jpg"}"#, &[("key", "user/photo.jpg")]).unwrap();
    }

    #[test]
    fn key_is_required() {
        for form in [PostForm::new(), [("key", "")].into_iter().collect::<PostForm>()] {
            let err = form.object_key().unwrap_err();
            assert_eq!((err.status, err.code), (400, "InvalidArgument"));
            assert_eq!(
                err.message,
                "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."
            );
            assert_eq!(err.details, vec![("ArgumentName", "key".to_owned()), ("ArgumentValue", String::new())]);
        }
        let mut form: PostForm = [("KEY", "${filename}")].into_iter().collect();
        form.expand_filename(Some(""));
        assert!(form.object_key().is_err());
    }

    #[test]
    fn file_field_detection() {
        assert!(is_file_field("file") && is_file_field("File") && !is_file_field("files") && !is_file_field("filename"));
    }

    // --- success answers -------------------------------------------------------------

    fn answer(fields: &[(&str, &str)], key: &str) -> SuccessResponse {
        let form: PostForm = fields.iter().copied().collect();
        success_response(&form, "bkt", key, "\"d41d8cd98f00b204e9800998ecf8427e\"", "http://127.0.0.1:8420/")
    }

    #[test]
    fn status_answers() {
        let default = answer(&[], "a/b c.txt");
        assert_eq!(default.status, 204);
        assert_eq!(default.location, "http://127.0.0.1:8420/bkt/a%2Fb%20c.txt");
        assert_eq!(default.etag, "\"d41d8cd98f00b204e9800998ecf8427e\"");
        assert_eq!(default.body, None);
        assert_eq!(answer(&[("success_action_status", "200")], "k").status, 200);
        assert_eq!(answer(&[("success_action_status", "204")], "k").status, 204);
        for other in ["404", "", " 201", "abc"] {
            assert_eq!(answer(&[("success_action_status", other)], "k"), default_for("k"), "{other}");
        }
        let created = answer(&[("Success_Action_Status", "201")], "prefix/président & <co>.jpg");
        assert_eq!(created.status, 201);
        assert_eq!(
            created.body.as_deref(),
            Some(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse>\
                 <Location>http://127.0.0.1:8420/bkt/prefix%2Fpr%C3%A9sident%20%26%20%3Cco%3E.jpg</Location>\
                 <Bucket>bkt</Bucket><Key>prefix/président &amp; &lt;co&gt;.jpg</Key>\
                 <ETag>\"d41d8cd98f00b204e9800998ecf8427e\"</ETag></PostResponse>"
            )
        );
        // An unquoted ETag is quoted.
        let form = PostForm::new();
        assert_eq!(success_response(&form, "bkt", "k", "abc", "http://h").etag, "\"abc\"");
    }

    fn default_for(key: &str) -> SuccessResponse {
        answer(&[], key)
    }

    #[test]
    fn redirect_answers() {
        let r = answer(&[("success_action_redirect", "https://example.com/done"), ("success_action_status", "201")], "dir/my file.txt");
        assert_eq!(r.status, 303);
        assert_eq!(r.body, None);
        assert_eq!(r.location, "https://example.com/done?bucket=bkt&key=dir%2Fmy+file.txt&etag=%22d41d8cd98f00b204e9800998ecf8427e%22");
        // Non-ASCII in a fragment is escaped like the rest: Location must be a valid header value.
        let r = answer(&[("success_action_redirect", "https://h.test/#é")], "k");
        assert!(r.location.ends_with("#%C3%A9"), "{}", r.location);
        assert!(axum::http::HeaderValue::from_str(&r.location).is_ok());
        // A key with a carriage return keeps it (as &#13;) in the 201 body.
        let created = answer(&[("success_action_status", "201")], "a\rb");
        assert!(created.body.as_deref().unwrap().contains("<Key>a&#13;b</Key>"), "{:?}", created.body);
        // An existing query is kept and extended; a fragment stays last.
        let r = answer(&[("success_action_redirect", "http://a.test/x?md5=1&u=a b#top")], "k");
        assert_eq!(r.location, "http://a.test/x?md5=1&u=a b&bucket=bkt&key=k&etag=%22d41d8cd98f00b204e9800998ecf8427e%22#top");
        let r = answer(&[("success_action_redirect", "HTTP://a.test/x?")], "k");
        assert_eq!(r.location, "HTTP://a.test/x?bucket=bkt&key=k&etag=%22d41d8cd98f00b204e9800998ecf8427e%22");
        // Non-ASCII in the target is escaped so it survives as a header.
        let r = answer(&[("redirect", "https://a.test/é")], "k");
        assert_eq!(r.location, "https://a.test/%C3%A9?bucket=bkt&key=k&etag=%22d41d8cd98f00b204e9800998ecf8427e%22");
        // The deprecated `redirect` is second choice.
        let r = answer(&[("redirect", "https://old.test/"), ("success_action_redirect", "https://new.test/")], "k");
        assert!(r.location.starts_with("https://new.test/?bucket="));
        // URLs S3 cannot interpret are ignored (relative, other schemes, header injection).
        for bad in [
            "/wrong/redirect/relative",
            "ftp://a.test/",
            "https://",
            "http:///x",
            "javascript:alert(1)",
            "https://a.test/\r\nSet-Cookie: x=1",
        ] {
            assert_eq!(answer(&[("success_action_redirect", bad)], "k"), default_for("k"), "{bad}");
        }
        let r = answer(&[("success_action_redirect", "nope"), ("redirect", "https://fallback.test/")], "k");
        assert_eq!(r.status, 303);
        assert!(r.location.starts_with("https://fallback.test/?"));
    }

    // --- form helpers and error plumbing -------------------------------------------

    #[test]
    fn object_headers_are_the_put_object_fields() {
        let form: PostForm = [
            ("key", "k"),
            ("Content-Type", "text/plain"),
            ("acl", "public-read"),
            ("x-amz-meta-Tag", "a"),
            ("X-AMZ-META-TAG", "b"),
            ("x-amz-checksum-sha256", "c2hh"),
            ("success_action_status", "201"),
            ("Expires", "Thu, 01 Dec 1994 16:00:00 GMT"),
            ("x-amz-server-side-encryption", "AES256"),
            ("tagging", "<Tagging/>"),
            ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ]
        .into_iter()
        .collect();
        let headers = form.object_headers();
        let expected = [
            ("content-type", "text/plain"),
            ("x-amz-acl", "public-read"),
            ("x-amz-meta-tag", "a,b"),
            ("x-amz-checksum-sha256", "c2hh"),
            ("expires", "Thu, 01 Dec 1994 16:00:00 GMT"),
            ("x-amz-server-side-encryption", "AES256"),
        ];
        assert_eq!(headers, expected.map(|(h, v)| (h.to_owned(), v.to_owned())));
    }

    #[test]
    fn transport_errors_match_s3() {
        let e = PostError::not_multipart();
        assert_eq!((e.status, e.code), (412, "PreconditionFailed"));
        assert_eq!(e.details, vec![("Condition", "Bucket POST must be of the enclosure-type multipart/form-data".to_owned())]);
        assert_eq!(PostError::malformed_form().code, "MalformedPOSTRequest");
        let e = PostError::fields_too_large(MAX_PRE_FILE_BYTES);
        assert_eq!((e.status, e.code), (400, "MaxPostPreDataLengthExceeded"));
        assert_eq!(e.details, vec![("MaxPostPreDataLengthBytes", "20480".to_owned())]);
        let e = PostError::file_count(0);
        assert_eq!(e.message, "POST requires exactly one file upload per request.");
        assert_eq!(e.details, vec![("ArgumentName", "file".to_owned()), ("ArgumentValue", "0".to_owned())]);
        let e = PostError::invalid_access_key_id("AKIAX");
        assert_eq!((e.status, e.code), (403, "InvalidAccessKeyId"));
        assert_eq!(e.to_string(), "InvalidAccessKeyId (403): The AWS Access Key Id you provided does not exist in our records.");
    }

    #[test]
    fn converts_to_s3_error() {
        let e = S3Error::from(PostError::entity_too_large(12, 10));
        assert_eq!((e.code, e.status), ("EntityTooLarge", 400));
        assert_eq!(e.message, "Your proposed upload exceeds the maximum allowed size");
        assert_eq!(e.details, vec![("ProposedSize", "12".to_owned()), ("MaxSizeAllowed", "10".to_owned())]);
        assert!(e.headers.is_empty());
    }
}
