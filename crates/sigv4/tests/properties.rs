//! Property tests: what we presign verifies, any change to a signed component fails
//! for the right reason, header auth round-trips, and the parsers never panic on
//! arbitrary input.
//!
//! Every property runs [`CASES`] cases so `cargo test -p sigv4` stays fast in debug;
//! set `PROPTEST_CASES` to search harder (`PROPTEST_CASES=20000 cargo test -p sigv4
//! --release --test properties`).

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::Config;
use sigv4::canonical::{canonical_query_pairs, push_canonical_uri, push_sorted_query, remove_dot_segments};
use sigv4::encode::{canonicalize_component, decode, encode, encode_into, is_unreserved};
use sigv4::inspect::{PresignFields, split_url};
use sigv4::{
    ALGORITHM, AmzDate, AuthStyle, CredentialProblem, Credentials, EMPTY_SHA256, MAX_EXPIRES, PathMode, Policy, RequestParts,
    SigningKeyCache, SigningParams, UNSIGNED_PAYLOAD, Verified, VerifyError, check_header, check_presigned, presign, sign_headers,
};

const CASES: u32 = 128;

/// `cases` cases, unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> Config {
    let env = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_some() { env } else { Config { cases, ..env } }
}
const METHODS: &[&str] = &["GET", "PUT", "HEAD", "DELETE", "POST", "PATCH"];
const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
const HEX: &[u8] = b"0123456789abcdef";
const REQUIRED: &[&str] = &["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"];

// ---------------------------------------------------------------------------
// Generated requests
// ---------------------------------------------------------------------------

/// One query parameter of the request before presigning, already encoded.
#[derive(Clone, Debug)]
struct Param {
    key: String,
    value: Option<String>,
}

impl Param {
    fn segment(&self) -> String {
        match &self.value {
            Some(v) => format!("{}={v}", self.key),
            None => self.key.clone(),
        }
    }
}

/// A request to presign, its credentials, and the server's clock.
#[derive(Clone, Debug)]
struct Case {
    method: &'static str,
    /// `/bucket/` + the encoded object key.
    path: String,
    params: Vec<Param>,
    host: String,
    /// Signed headers besides `host`, lower-case names.
    extra: Vec<(String, String)>,
    access_key: String,
    secret: String,
    token: Option<String>,
    region: String,
    time: AmzDate,
    expires: u64,
    /// Picks `now` inside the validity window.
    now_seed: u64,
}

impl Case {
    fn query(&self) -> String {
        self.params.iter().map(Param::segment).collect::<Vec<_>>().join("&")
    }

    fn headers(&self) -> Vec<(String, String)> {
        let mut h = vec![("host".to_owned(), self.host.clone())];
        h.extend(self.extra.iter().cloned());
        h
    }

    /// A server time in `[time, time + expires - 1]`, edges included often.
    fn now(&self) -> AmzDate {
        let offset = match self.now_seed % 4 {
            0 => 0,
            1 => self.expires - 1,
            _ => self.now_seed % self.expires,
        };
        self.time.plus(offset as i64)
    }

    /// A server time in `[time, time + expires - 2]`, so that moving `X-Amz-Date`
    /// or `X-Amz-Expires` by one second keeps the URL valid. Needs `expires >= 2`.
    fn now_inner(&self) -> AmzDate {
        self.time.plus((self.now_seed % (self.expires - 1)) as i64)
    }

    fn credentials(&self) -> Credentials<'_> {
        Credentials { access_key_id: &self.access_key, secret_access_key: &self.secret, session_token: self.token.as_deref() }
    }

    /// Presigns for S3 and returns the final query (original query first).
    fn presign_s3(&self) -> String {
        self.presign(PathMode::AsSent, "s3", UNSIGNED_PAYLOAD)
    }

    fn presign(&self, path_mode: PathMode, service: &str, payload_hash: &str) -> String {
        let headers = self.headers();
        let h = refs(&headers);
        let query = self.query();
        let req = RequestParts { method: self.method, path: &self.path, query: &query, headers: &h };
        let params =
            SigningParams { credentials: self.credentials(), region: &self.region, service, time: self.time, path_mode, payload_hash };
        let presigned = presign(&req, &params, self.expires, &SigningKeyCache::default());
        assert!(presigned.query.starts_with(&query));
        assert!(presigned.query.ends_with(&format!("X-Amz-Signature={}", presigned.parts.signature)));
        presigned.query
    }

    fn s3_policy(&self, now: AmzDate) -> Policy<'_> {
        Policy::s3(&self.region, now)
    }

    /// Verifies a presigned request with the case's method, path and headers.
    fn verify(&self, query: &str, policy: &Policy<'_>) -> Result<Verified, VerifyError> {
        verify_presigned(self.method, &self.path, query, &self.headers(), policy, &self.secret)
    }

    fn scope(&self, service: &str) -> String {
        format!("{}/{}/{service}/aws4_request", self.time.scope_date(), self.region)
    }
}

fn refs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
}

fn verify_presigned(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    policy: &Policy<'_>,
    secret: &str,
) -> Result<Verified, VerifyError> {
    let h = refs(headers);
    let req = RequestParts { method, path, query, headers: &h };
    check_presigned(&req, policy)?.verify(secret, &SigningKeyCache::default())
}

/// Object keys: arbitrary Unicode (controls included), and keys full of `/`, `.`
/// and spaces, which exercise path handling.
fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "\\PC{0,24}", "[a-z0-9/._~ %+-]{0,24}"]
}

fn arb_param() -> impl Strategy<Value = Param> {
    ("\\PC{0,12}", prop::option::weighted(0.85, "\\PC{0,12}"))
        .prop_filter("presign parameters are added by the signer", |(k, _)| !k.starts_with("X-Amz-"))
        .prop_map(|(k, v)| Param { key: encode(&k, false), value: v.map(|v| encode(&v, false)) })
}

/// An extra signed header: `[a-z-]{1,10}` (never `host`), printable ASCII value.
fn arb_header() -> impl Strategy<Value = (String, String)> {
    ("[a-z-]{1,10}", "[ -~]{0,24}").prop_filter("host is added separately", |(n, _)| n != "host")
}

fn arb_time() -> impl Strategy<Value = AmzDate> {
    // 2000-01-01 .. 2100-01-01, plus the instants right around midnight.
    prop_oneof![
        3 => (946_684_800i64..4_102_444_800).prop_map(AmzDate::from_unix),
        1 => (10_957i64..47_482, -2i64..=2).prop_map(|(day, s)| AmzDate::from_unix(day * 86_400 + s)),
    ]
}

/// `X-Amz-Expires` in `min..=604800`, edges included often.
fn arb_expires(min: u64) -> impl Strategy<Value = u64> {
    prop_oneof![Just(min), Just(min + 1), Just(MAX_EXPIRES), min..=MAX_EXPIRES, min..3_600]
}

prop_compose! {
    fn arb_case_with(min_params: usize, min_expires: u64)(
        method in prop::sample::select(METHODS),
        key in arb_key(),
        params in prop::collection::vec(arb_param(), min_params..5),
        host in "[a-z0-9][a-z0-9.-]{0,30}(:[0-9]{1,5})?",
        extra in prop::collection::vec(arb_header(), 0..4),
        access_key in "(AKIA|ASIA)[A-Z0-9]{12,16}",
        secret in "\\PC{0,40}",
        token in prop::option::of("\\PC{1,64}"),
        region in "[a-z]{2}-[a-z]{4,9}-[1-9]",
        time in arb_time(),
        expires in arb_expires(min_expires),
        now_seed in any::<u64>(),
    ) -> Case {
        Case {
            method,
            path: format!("/bucket/{}", encode(&key, true)),
            params,
            host,
            extra,
            access_key,
            secret,
            token,
            region,
            time,
            expires,
            now_seed,
        }
    }
}

fn arb_case() -> impl Strategy<Value = Case> {
    arb_case_with(0, 1)
}

// ---------------------------------------------------------------------------
// Query surgery
// ---------------------------------------------------------------------------

fn get_param<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query.split('&').find_map(|seg| seg.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

fn set_param(query: &str, key: &str, value: &str) -> String {
    let out: Vec<String> = query
        .split('&')
        .map(|seg| match seg.split_once('=') {
            Some((k, _)) if k == key => format!("{k}={value}"),
            _ => seg.to_owned(),
        })
        .collect();
    out.join("&")
}

fn remove_param(query: &str, key: &str) -> String {
    query.split('&').filter(|seg| seg.split_once('=').map_or(*seg, |(k, _)| k) != key).collect::<Vec<_>>().join("&")
}

/// Replaces the original (pre-presign) part of a presigned query.
fn replace_original(presigned: &str, original: &str, replacement: &str) -> String {
    let suffix = &presigned[original.len()..];
    let suffix = suffix.strip_prefix('&').unwrap_or(suffix);
    if replacement.is_empty() { suffix.to_owned() } else { format!("{replacement}&{suffix}") }
}

fn credential(access_key: &str, date: &str, region: &str, service: &str) -> String {
    encode(&format!("{access_key}/{date}/{region}/{service}/aws4_request"), false)
}

fn is_mismatch(r: &Result<Verified, VerifyError>) -> bool {
    matches!(r, Err(VerifyError::SignatureMismatch { .. }))
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn presigned_s3_urls_verify(case in arb_case()) {
        let query = case.presign_s3();
        let now = case.now();
        let v = case.verify(&query, &case.s3_policy(now));
        let v = match v {
            Ok(v) => v,
            Err(e) => return Err(TestCaseError::fail(format!("{e:?}"))),
        };
        prop_assert_eq!(v.style, AuthStyle::Query);
        prop_assert_eq!(&v.access_key, &case.access_key);
        prop_assert_eq!(&v.session_token, &case.token);
        prop_assert_eq!(v.signed_at, case.time);
        prop_assert_eq!(v.expires_at, Some(case.time.plus(case.expires as i64)));
        prop_assert_eq!(&v.scope, &case.scope("s3"));
        prop_assert_eq!(v.payload_hash.as_str(), UNSIGNED_PAYLOAD);
        prop_assert_eq!(Some(v.signature.as_str()), get_param(&query, "X-Amz-Signature"));

        // The lenient reader sees the same fields.
        let f = PresignFields::from_query(&query);
        prop_assert_eq!(f.algorithm.as_deref(), Some(ALGORITHM));
        prop_assert_eq!(f.credential.clone(), Some(format!("{}/{}", case.access_key, case.scope("s3"))));
        prop_assert_eq!(f.signed_at(), Some(case.time));
        prop_assert_eq!(f.expires, Some(case.expires.to_string()));
        prop_assert_eq!(f.security_token, case.token.clone());
        prop_assert!(f.repeated.is_empty());
        prop_assert_eq!(f.other.len(), case.params.iter().filter(|p| !p.segment().is_empty()).count());
    }

    #[test]
    fn presigned_other_service_urls_verify(case in arb_case(), normalize in any::<bool>()) {
        let path_mode = PathMode::EncodeAgain { normalize };
        let query = case.presign(path_mode, "execute-api", EMPTY_SHA256);
        let policy = Policy {
            region: &case.region,
            service: "execute-api",
            path_mode,
            now: case.now(),
            future_tolerance_secs: 900,
            max_skew_secs: 900,
            payload_hash: Some(EMPTY_SHA256),
        };
        let v = case.verify(&query, &policy);
        prop_assert!(v.is_ok(), "{:?}", v);
        let v = v.unwrap();
        prop_assert_eq!(&v.scope, &case.scope("execute-api"));
        prop_assert_eq!(v.payload_hash.as_str(), EMPTY_SHA256);
    }

    #[test]
    fn header_auth_round_trips(
        case in arb_case(),
        skew in -900i64..=900,
        payload in prop_oneof![Just(UNSIGNED_PAYLOAD.to_owned()), Just(EMPTY_SHA256.to_owned()), "[0-9a-f]{64}"],
        token in prop::option::of("[!-~]{1,40}"),
    ) {
        let (headers, query) = header_signed(&case, &payload, token.as_deref());
        let v = verify_header(&case, &query, &headers, case.time.plus(skew), &case.secret);
        prop_assert!(v.is_ok(), "{:?}", v);
        let v = v.unwrap();
        prop_assert_eq!(v.style, AuthStyle::Header);
        prop_assert_eq!(&v.access_key, &case.access_key);
        prop_assert_eq!(v.session_token.as_deref(), token.as_deref());
        prop_assert_eq!(&v.payload_hash, &payload);
        prop_assert_eq!(v.expires_at, None);
    }

    #[test]
    fn header_auth_rejects_skew(case in arb_case(), skew in 901i64..10_000_000, later in any::<bool>()) {
        let (headers, query) = header_signed(&case, UNSIGNED_PAYLOAD, None);
        let now = case.time.plus(if later { skew } else { -skew });
        let r = verify_header(&case, &query, &headers, now, &case.secret);
        prop_assert!(matches!(r, Err(VerifyError::RequestTimeTooSkewed { .. })), "{:?}", r);
    }

    #[test]
    fn header_auth_rejects_tampering(case in arb_case(), which in 0usize..3, seed in any::<usize>()) {
        let (mut headers, query) = header_signed(&case, UNSIGNED_PAYLOAD, None);
        let (mut method, mut secret) = (case.method, case.secret.clone());
        match which {
            0 => method = other_method(case.method, seed),
            1 => secret.push('x'),
            _ => {
                // Any signed header but x-amz-date (that would be MissingDate) gets one
                // more byte; authorization is last and is not signed.
                let signed: Vec<usize> = (0..headers.len() - 1).filter(|&i| headers[i].0 != "x-amz-date").collect();
                let i = signed[seed % signed.len()];
                headers[i].1.push('x');
            }
        }
        let tampered = Case { method, ..case.clone() };
        let r = verify_header(&tampered, &query, &headers, case.time, &secret);
        prop_assert!(is_mismatch(&r), "{:?}", r);
    }
}

/// Signs `case` for header auth (S3 path rules) and returns its headers, with
/// `authorization` last, and its query.
fn header_signed(case: &Case, payload: &str, token: Option<&str>) -> (Vec<(String, String)>, String) {
    let mut headers = vec![
        ("host".to_owned(), case.host.clone()),
        ("x-amz-date".to_owned(), case.time.amz_format()),
        ("x-amz-content-sha256".to_owned(), payload.to_owned()),
    ];
    headers.extend(case.extra.iter().filter(|(n, _)| n != "date" && n != "x-amz-date").cloned());
    if let Some(t) = token {
        headers.push(("x-amz-security-token".to_owned(), t.to_owned()));
    }
    let query = case.query();
    let h = refs(&headers);
    let req = RequestParts { method: case.method, path: &case.path, query: &query, headers: &h };
    let params = SigningParams {
        credentials: Credentials { session_token: token, ..case.credentials() },
        region: &case.region,
        service: "s3",
        time: case.time,
        path_mode: PathMode::AsSent,
        payload_hash: payload,
    };
    let signed = sign_headers(&req, &params, &SigningKeyCache::default());
    headers.push(("authorization".to_owned(), signed.authorization));
    (headers, query)
}

fn verify_header(case: &Case, query: &str, headers: &[(String, String)], now: AmzDate, secret: &str) -> Result<Verified, VerifyError> {
    let h = refs(headers);
    let req = RequestParts { method: case.method, path: &case.path, query, headers: &h };
    check_header(&req, &Policy::s3(&case.region, now))?.verify(secret, &SigningKeyCache::default())
}

fn other_method(method: &str, seed: usize) -> &'static str {
    let others: Vec<&'static str> = METHODS.iter().copied().filter(|m| *m != method).collect();
    others[seed % others.len()]
}

// ---------------------------------------------------------------------------
// Tampering: every signed component, and the reason S3 gives
// ---------------------------------------------------------------------------

/// Positions of unreserved bytes that are not part of a `%XX` escape: changing one
/// changes the path's meaning (changing an escape's hex case would not).
fn literal_positions(path: &str) -> Vec<usize> {
    let b = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            i += 3;
            continue;
        }
        if is_unreserved(b[i]) {
            out.push(i);
        }
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn tampered_method_fails(case in arb_case(), seed in any::<usize>()) {
        let query = case.presign_s3();
        let tampered = Case { method: other_method(case.method, seed), ..case.clone() };
        let r = tampered.verify(&query, &case.s3_policy(case.now()));
        prop_assert!(is_mismatch(&r), "{:?}", r);
    }

    #[test]
    fn tampered_path_fails(case in arb_case(), pos_seed in any::<usize>(), char_seed in 1usize..UNRESERVED.len()) {
        let query = case.presign_s3();
        let positions = literal_positions(&case.path);
        let pos = positions[pos_seed % positions.len()];
        let old = case.path.as_bytes()[pos];
        let idx = UNRESERVED.iter().position(|&c| c == old).unwrap();
        let new = UNRESERVED[(idx + char_seed) % UNRESERVED.len()];
        let mut path = case.path.clone().into_bytes();
        path[pos] = new;
        let tampered = Case { path: String::from_utf8(path).unwrap(), ..case.clone() };
        let r = tampered.verify(&query, &case.s3_policy(case.now()));
        prop_assert!(is_mismatch(&r), "{} -> {}: {:?}", case.path, tampered.path, r);
    }

    #[test]
    fn tampered_query_parameter_fails(case in arb_case_with(1, 1), seed in any::<usize>(), in_key in any::<bool>()) {
        let query = case.presign_s3();
        let original = case.query();
        let mut params = case.params.clone();
        let i = seed % params.len();
        let p = &mut params[i];
        match (&mut p.value, in_key) {
            (Some(v), false) => v.push('z'),
            (None, false) => p.value = Some("z".into()),
            (_, true) => p.key.push('z'),
        }
        let replacement = params.iter().map(Param::segment).collect::<Vec<_>>().join("&");
        let tampered = replace_original(&query, &original, &replacement);
        let r = case.verify(&tampered, &case.s3_policy(case.now()));
        prop_assert!(is_mismatch(&r), "{} -> {}: {:?}", query, tampered, r);
    }

    #[test]
    fn tampered_signed_header_fails(case in arb_case(), seed in any::<usize>(), append in "[!-~]") {
        let query = case.presign_s3();
        let mut headers = case.headers();
        let i = seed % headers.len();
        headers[i].1.push_str(&append);
        let r = verify_presigned(case.method, &case.path, &query, &headers, &case.s3_policy(case.now()), &case.secret);
        prop_assert!(is_mismatch(&r), "{:?}", r);
    }

    #[test]
    fn tampered_date_fails(case in arb_case_with(0, 2), later in any::<bool>()) {
        let query = case.presign_s3();
        let moved = case.time.plus(if later { 1 } else { -1 });
        let tampered = set_param(&query, "X-Amz-Date", &moved.amz_format());
        let r = case.verify(&tampered, &case.s3_policy(case.now_inner()));
        if moved.scope_date() == case.time.scope_date() {
            prop_assert!(is_mismatch(&r), "{:?}", r);
        } else {
            prop_assert!(matches!(r, Err(VerifyError::Credential(AuthStyle::Query, CredentialProblem::DateMismatch { .. }))), "{:?}", r);
        }
    }

    #[test]
    fn tampered_scope_date_fails(case in arb_case(), days in prop_oneof![-3i64..=-1, 1i64..=3]) {
        let query = case.presign_s3();
        let date = case.time.plus(days * 86_400).scope_date();
        let tampered = set_param(&query, "X-Amz-Credential", &credential(&case.access_key, &date, &case.region, "s3"));
        let r = case.verify(&tampered, &case.s3_policy(case.now()));
        let expected = CredentialProblem::DateMismatch { scope_date: date, amz_date: case.time.scope_date() };
        prop_assert_eq!(r.err(), Some(VerifyError::Credential(AuthStyle::Query, expected)));
    }

    #[test]
    fn tampered_region_fails(case in arb_case(), other in "[a-z]{2}-[a-z]{4,9}-[1-9]") {
        prop_assume!(other != case.region);
        let query = case.presign_s3();
        let date = case.time.scope_date();
        let tampered = set_param(&query, "X-Amz-Credential", &credential(&case.access_key, &date, &other, "s3"));
        let r = case.verify(&tampered, &case.s3_policy(case.now()));
        let expected = CredentialProblem::WrongRegion { got: other, expected: case.region.clone() };
        prop_assert_eq!(r.err(), Some(VerifyError::Credential(AuthStyle::Query, expected)));
    }

    #[test]
    fn tampered_service_fails(case in arb_case(), other in "[a-z0-9-]{1,12}") {
        prop_assume!(other != "s3");
        let query = case.presign_s3();
        let date = case.time.scope_date();
        let tampered = set_param(&query, "X-Amz-Credential", &credential(&case.access_key, &date, &case.region, &other));
        let r = case.verify(&tampered, &case.s3_policy(case.now()));
        let expected = CredentialProblem::WrongService { got: other, expected: "s3".into() };
        prop_assert_eq!(r.err(), Some(VerifyError::Credential(AuthStyle::Query, expected)));
    }

    #[test]
    fn tampered_expires_fails(case in arb_case_with(0, 2)) {
        let query = case.presign_s3();
        let changed = if case.expires < MAX_EXPIRES { case.expires + 1 } else { case.expires - 1 };
        let tampered = set_param(&query, "X-Amz-Expires", &changed.to_string());
        let r = case.verify(&tampered, &case.s3_policy(case.now_inner()));
        prop_assert!(is_mismatch(&r), "{:?}", r);
    }

    #[test]
    fn tampered_signature_fails(case in arb_case(), pos in 0usize..64, delta in 1usize..16) {
        let query = case.presign_s3();
        let mut sig = get_param(&query, "X-Amz-Signature").unwrap().as_bytes().to_vec();
        let idx = HEX.iter().position(|&c| c == sig[pos]).unwrap();
        sig[pos] = HEX[(idx + delta) % 16];
        let tampered = set_param(&query, "X-Amz-Signature", std::str::from_utf8(&sig).unwrap());
        let r = case.verify(&tampered, &case.s3_policy(case.now()));
        prop_assert!(is_mismatch(&r), "{:?}", r);
    }

    #[test]
    fn wrong_secret_fails(case in arb_case(), other in "\\PC{0,40}") {
        prop_assume!(other != case.secret);
        let query = case.presign_s3();
        let r = verify_presigned(case.method, &case.path, &query, &case.headers(), &case.s3_policy(case.now()), &other);
        prop_assert!(is_mismatch(&r), "{:?}", r);
    }

    #[test]
    fn expired_urls_fail(case in arb_case(), late in prop_oneof![Just(0i64), 0i64..100_000_000]) {
        let query = case.presign_s3();
        let now = case.time.plus(case.expires as i64 + late);
        let r = case.verify(&query, &case.s3_policy(now));
        let expected = VerifyError::Expired { expires_in: case.expires, expires_at: case.time.plus(case.expires as i64), server_time: now };
        prop_assert_eq!(r.err(), Some(expected));
    }

    #[test]
    fn future_urls_fail(case in arb_case(), early in prop_oneof![Just(901i64), 901i64..100_000_000]) {
        let query = case.presign_s3();
        let r = case.verify(&query, &case.s3_policy(case.time.plus(-early)));
        prop_assert!(matches!(r, Err(VerifyError::NotYetValid { signed_at, .. }) if signed_at == case.time), "{:?}", r);
        // Within the tolerance it is fine.
        let r = case.verify(&query, &case.s3_policy(case.time.plus(-900)));
        prop_assert!(r.is_ok(), "{:?}", r);
    }

    #[test]
    fn expires_over_a_week_fails(case in arb_case(), expires in prop_oneof![Just(MAX_EXPIRES + 1), MAX_EXPIRES + 1..=i64::MAX as u64]) {
        let query = case.presign_s3();
        let tampered = set_param(&query, "X-Amz-Expires", &expires.to_string());
        let r = case.verify(&tampered, &case.s3_policy(case.now()));
        prop_assert_eq!(r.err(), Some(VerifyError::ExpiresTooLarge));
    }

    #[test]
    fn missing_or_repeated_parameter_fails(case in arb_case(), which in prop::sample::select(REQUIRED), repeat in any::<bool>()) {
        let query = case.presign_s3();
        let tampered = if repeat {
            format!("{query}&{which}={}", get_param(&query, which).unwrap())
        } else {
            remove_param(&query, which)
        };
        let r = case.verify(&tampered, &case.s3_policy(case.now()));
        prop_assert_eq!(r.err(), Some(VerifyError::MissingQueryParameters));
    }

    #[test]
    fn unsigned_amz_header_fails(case in arb_case(), value in "[ -~]{0,16}", name in "[xX]-[aA][mM][zZ]-[fF][oO][oO]") {
        prop_assume!(!case.extra.iter().any(|(n, _)| n == "x-amz-foo"));
        let query = case.presign_s3();
        let mut headers = case.headers();
        headers.push((name, value));
        let r = verify_presigned(case.method, &case.path, &query, &headers, &case.s3_policy(case.now()), &case.secret);
        prop_assert_eq!(r.err(), Some(VerifyError::HeadersNotSigned(vec!["x-amz-foo".into()])));
    }
}

// ---------------------------------------------------------------------------
// Encoding and parsing
// ---------------------------------------------------------------------------

/// Strings rich in what the parsers look for: escapes (good and broken), separators
/// and the presign parameter names.
fn arb_query_ish() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        4 => "[&=%/;.0-9A-Fa-f_~+ -]",
        2 => "%[0-9A-Fa-fgG]{0,2}",
        1 => "X-Amz-(Algorithm|Credential|Date|Expires|SignedHeaders|Signature|Security-Token|Content-Sha256)=",
        1 => "AWS4-HMAC-SHA256|aws4_request|[0-9]{8}(T[0-9]{6}Z)?|s3|us-east-1|host",
        1 => "\\PC",
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(atom, 0..40).prop_map(|v| v.concat())
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), arb_query_ish()]
}

proptest! {
    #![proptest_config(config(CASES * 2))]

    #[test]
    fn decode_inverts_encode(s in any::<String>(), keep_slash in any::<bool>()) {
        let e = encode(&s, keep_slash);
        prop_assert!(e.bytes().all(|b| is_unreserved(b) || b == b'%' || (keep_slash && b == b'/')), "{}", e);
        prop_assert_eq!(&*decode(&e), s.as_bytes());
    }

    #[test]
    fn decode_inverts_encode_into_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64), keep_slash in any::<bool>()) {
        let mut e = String::new();
        encode_into(&mut e, &bytes, keep_slash);
        prop_assert_eq!(&*decode(&e), &bytes[..]);
        let mut canonical = String::new();
        encode_into(&mut canonical, &bytes, false);
        prop_assert_eq!(&*canonicalize_component(&e), canonical.as_str());
    }

    #[test]
    fn canonicalize_component_is_idempotent(s in arb_text()) {
        let once = canonicalize_component(&s);
        let twice = canonicalize_component(&once);
        prop_assert_eq!(&*twice, &*once);
        prop_assert!(matches!(twice, std::borrow::Cow::Borrowed(_)));
        // It only normalises the spelling: the bytes meant are unchanged.
        prop_assert_eq!(&*decode(&once), &*decode(&s));
    }

    #[test]
    fn encoded_components_are_already_canonical(s in any::<String>()) {
        let e = encode(&s, false);
        prop_assert!(matches!(canonicalize_component(&e), std::borrow::Cow::Borrowed(c) if c == e));
    }

    #[test]
    fn query_pairs_never_panic_and_are_canonical(q in arb_text()) {
        let mut pairs = canonical_query_pairs(&q);
        for (k, v) in &pairs {
            prop_assert_eq!(&*canonicalize_component(k), &**k);
            prop_assert_eq!(&*canonicalize_component(v), &**v);
            prop_assert!(k != "X-Amz-Signature");
        }
        let mut out = String::new();
        push_sorted_query(&mut out, &mut pairs);
        // The canonical query is a fixed point.
        let mut again = canonical_query_pairs(&out);
        let mut out2 = String::new();
        push_sorted_query(&mut out2, &mut again);
        prop_assert_eq!(out2, out);
    }

    #[test]
    fn dot_segments_are_removed(p in "(/|\\.|\\.\\.|[a-z%]{1,3}){0,12}") {
        let n = remove_dot_segments(&p);
        prop_assert!(!n.contains("//"), "{} -> {}", p, n);
        prop_assert!(n.split('/').all(|s| s != "." && s != ".."), "{} -> {}", p, n);
        if p.starts_with('/') {
            prop_assert!(n.starts_with('/'), "{} -> {}", p, n);
        }
        let mut uri = String::new();
        push_canonical_uri(&mut uri, &p, PathMode::EncodeAgain { normalize: true });
        prop_assert!(uri.starts_with('/') || !p.starts_with('/'));
    }

    #[test]
    fn canonical_uri_never_panics(p in arb_text()) {
        for mode in [PathMode::AsSent, PathMode::EncodeAgain { normalize: true }, PathMode::EncodeAgain { normalize: false }] {
            let mut uri = String::new();
            push_canonical_uri(&mut uri, &p, mode);
            prop_assert!(!uri.is_empty());
        }
    }

    #[test]
    fn split_url_never_panics(s in arb_text(), scheme in "(https?|s3|[a-z]{1,5})://") {
        for url in [s.clone(), format!("{scheme}{s}")] {
            if let Some(u) = split_url(&url) {
                prop_assert!(!u.authority.is_empty());
                prop_assert!(!u.authority.contains(['/', '?', '#']));
                prop_assert!(u.path.starts_with('/'), "{:?}", u);
                prop_assert!(!u.query.contains('#'));
                let _ = u.host_header();
            }
        }
    }

    #[test]
    fn presign_fields_never_panic(q in arb_text()) {
        let f = PresignFields::from_query(&q);
        let _ = (f.scope(), f.signed_at());
    }

    #[test]
    fn check_presigned_never_panics(
        method in "[A-Z]{0,7}",
        path in arb_text(),
        query in arb_text(),
        headers in prop::collection::vec((prop_oneof!["[a-zA-Z-]{1,12}", Just("Authorization".to_owned())], arb_text()), 0..4),
    ) {
        let policy = Policy::s3("us-east-1", AmzDate::from_unix(1_440_938_160));
        let _ = verify_presigned(&method, &path, &query, &headers, &policy, "secret");
        let h = refs(&headers);
        let req = RequestParts { method: &method, path: &path, query: &query, headers: &h };
        if let Ok(p) = check_header(&req, &policy) {
            let _ = p.verify("secret", &SigningKeyCache::default());
        }
    }

    #[test]
    fn mutated_presigned_urls_never_panic(
        case in arb_case(),
        edits in prop::collection::vec((any::<usize>(), 0u8..3, arb_query_ish()), 1..6),
    ) {
        // Start from a valid URL and damage it: insertions, deletions, replacements.
        let mut query: Vec<char> = case.presign_s3().chars().collect();
        for (at, op, text) in edits {
            let at = at % (query.len() + 1);
            match op {
                0 => drop(query.splice(at..at, text.chars())),
                1 => drop(query.drain(at..(at + text.len()).min(query.len()))),
                _ => drop(query.splice(at..(at + 1).min(query.len()), text.chars())),
            }
        }
        let query: String = query.into_iter().collect();
        let r = case.verify(&query, &case.s3_policy(case.now()));
        if let Ok(v) = r {
            prop_assert_eq!(v.access_key, case.access_key.clone());
        }
    }
}
