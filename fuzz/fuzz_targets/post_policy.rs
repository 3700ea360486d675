//! Browser-upload (S3 POST Object) forms and policies through
//! `linkgate::s3::post_policy`. Must never panic.
//!
//! Input: `POLICY \0 FORM` (split on the first NUL; no NUL: all policy, no form).
//! POLICY is handed to `parse_policy` both as sent (raw text, usually not base64) and
//! base64-encoded (the real shape), also wrapped at 76 columns and without padding.
//! FORM is lines of `name=value` (a line without `=` is a field with an empty value);
//! the target adds the base64 policy as the `Policy` field. Both FORM and a small fixed
//! SigV4 form go through `expand_filename`, `object_key`, `object_headers`,
//! `parse_auth` (+ `verify_signature`), `check_policy`, `check_length` and
//! `success_response`.
//!
//! Properties:
//! - wrapping and padding do not change what the policy decodes to;
//! - a policy is not expired at its expiration instant and is one second later;
//! - `check_length` accepts exactly the sizes inside `length_range`;
//! - `success_response`'s `Location` is a valid header value, its status one of
//!   200/201/204/303, and a 201 body is XML whose `Key` reads back as the key.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use libfuzzer_sys::fuzz_target;
use linkgate::s3::error::S3Error;
use linkgate::s3::post_policy::{
    Policy, PostForm, check_length, check_policy, parse_auth, parse_policy, success_response, verify_signature,
};
use linkgate::s3::xml;
use sigv4::SigningKeyCache;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const BUCKET: &str = "bkt";

/// What an HTTP header value may hold (`http::HeaderValue::from_str`): visible ASCII,
/// space and tab.
fn header_safe(value: &str) -> bool {
    value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// Everything the handler does with a form once the policy decoded (or not).
fn exercise(mut form: PostForm, policy: Option<&Policy>, cache: &SigningKeyCache) {
    form.expand_filename(Some("C:\\Users\\me\\ph oto.png"));
    let _ = form.object_headers();
    let _ = (form.len(), form.is_empty(), form.iter().count(), form.contains("key"), form.get("x-amz-meta-tag"));
    if let Ok(auth) = parse_auth(&form, "us-east-1") {
        let _ = (auth.access_key(), auth.policy_b64(), auth.security_token());
        if let Err(e) = verify_signature(&auth, SECRET, cache) {
            let _ = S3Error::from(e);
        }
    }

    if let Some(policy) = policy {
        let expiration = policy.expiration_unix();
        if let Err(e) = check_policy(policy, &form, BUCKET, expiration) {
            assert!(!e.message.contains("Policy expired"), "expired at its own expiration instant");
            let _ = S3Error::from(e);
        }
        if let Some(later) = expiration.checked_add(1) {
            let e = check_policy(policy, &form, BUCKET, later).expect_err("not expired a second after expiration");
            assert_eq!((e.status, e.code, e.message.as_str()), (403, "AccessDenied", "Invalid according to Policy: Policy expired."));
        }
    }

    let key = form.object_key().unwrap_or_else(|_| "k".to_owned());
    let answer = success_response(&form, BUCKET, &key, "\"9b2cf535f27731c974343645a3985328\"", "http://127.0.0.1:8420");
    assert!(matches!(answer.status, 200 | 201 | 204 | 303), "status {}", answer.status);
    // The whole Location, fragment included (fuzz/README.md, "Findings", 3).
    assert!(header_safe(&answer.location), "Location {:?} is not a header value", answer.location);
    assert!(!answer.location.chars().any(char::is_control), "Location {:?}", answer.location);
    assert!(header_safe(&answer.etag), "ETag {:?}", answer.etag);
    assert_eq!(answer.body.is_some(), answer.status == 201);
    if let Some(body) = &answer.body {
        let root = xml::parse(body.as_bytes()).unwrap_or_else(|| panic!("PostResponse is not XML: {body:?}"));
        // Control characters included (fuzz/README.md, "Findings", 2).
        assert_eq!(root.child_text("Key"), Some(key.as_str()), "PostResponse {body:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let (policy, form_text) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };

    // Raw text: rarely base64, but it goes through the same decoding.
    let _ = parse_policy(&String::from_utf8_lossy(policy));

    let b64 = STANDARD.encode(policy);
    let parsed = parse_policy(&b64);
    // Some clients wrap base64 lines (MIME-style, 76 columns); the document is the same.
    let wrapped: String =
        b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).expect("base64 is ASCII")).collect::<Vec<_>>().join("\r\n");
    assert_eq!(parse_policy(&wrapped), parsed, "wrapped at 76 columns");
    assert_eq!(parse_policy(&STANDARD_NO_PAD.encode(policy)), parsed, "without padding");

    let policy = parsed.as_ref().ok();
    if let Some(policy) = policy {
        // check_length accepts exactly what length_range allows.
        let range = policy.length_range();
        let mut sizes = vec![0, 1, 1024, u64::MAX];
        if let Some((min, max)) = range {
            sizes.extend([min, max, min.saturating_sub(1), max.saturating_add(1)]);
        }
        for size in sizes {
            let inside = range.is_none_or(|(min, max)| min <= size && size <= max);
            assert_eq!(check_length(policy, size).is_ok(), inside, "size {size}, range {range:?}");
        }
    }

    let cache = SigningKeyCache::new(2);
    let fixed: PostForm = [
        ("key", "uploads/${filename}"),
        ("Content-Type", "image/png"),
        ("x-amz-meta-tag", "a"),
        ("success_action_status", "201"),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20240501/us-east-1/s3/aws4_request"),
        ("X-Amz-Date", "20240501T120000Z"),
        ("Policy", b64.as_str()),
        ("X-Amz-Signature", "0000000000000000000000000000000000000000000000000000000000000000"),
    ]
    .into_iter()
    .collect();
    exercise(fixed, policy, &cache);

    if let Some(form_text) = form_text {
        let form_text = String::from_utf8_lossy(form_text);
        let mut form = PostForm::new();
        for line in form_text.split('\n') {
            let (name, value) = line.split_once('=').unwrap_or((line, ""));
            form.push(name, value);
        }
        form.push("Policy", b64.as_str());
        exercise(form, policy, &cache);
    }
});
