//! Presign and verify throughput: this crate against the AWS SDK's `aws-sigv4` 1.6.4.
//!
//! One criterion group, `sigv4`, with one input for every function: a GET of
//! `https://bench.s3.amazonaws.com/dir/object-0001.bin` (virtual-hosted style, only
//! `host` signed, `UNSIGNED-PAYLOAD`, us-east-1, s3, expires 3600 s, the AWS
//! documentation's example credentials). Every presign iteration reads the clock and
//! returns the full URL as a `String`.
//!
//! - `ours/presign`: [`sigv4::presign`] with a [`SigningKeyCache`] created once, plus
//!   formatting the URL.
//! - `aws-sigv4/presign`: `http_request::sign` with `SignatureLocation::QueryParams`,
//!   then `apply_to_request_http1x` on an `http::Request` and `uri().to_string()`
//!   (the setup of row 1b in the team's perf anchors).
//! - `ours/verify`: [`sigv4::check_presigned`] then `PendingAuth::verify` of a URL
//!   presigned once up front.
//!
//! Before measuring, the setup asserts that both signers produce the same URL for the
//! same fixed instant (so they do the same work) and that the verified URL is accepted.
//!
//! Run with `cargo bench -p sigv4 --bench presign`.

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode, sign as aws_sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sigv4::{AmzDate, Credentials, PathMode, Policy, RequestParts, SigningKeyCache, SigningParams, UNSIGNED_PAYLOAD};

const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const HOST: &str = "bench.s3.amazonaws.com";
const PATH: &str = "/dir/object-0001.bin";
const URL: &str = "https://bench.s3.amazonaws.com/dir/object-0001.bin";
const REGION: &str = "us-east-1";
const SERVICE: &str = "s3";
const EXPIRES: u64 = 3600;
const HEADERS: &[(&str, &str)] = &[("host", HOST)];
/// 2026-11-22T12:00:00Z: the instant of the equivalence check.
const FIXED_UNIX: u64 = 1_795_348_800;

fn request() -> RequestParts<'static> {
    RequestParts { method: "GET", path: PATH, query: "", headers: HEADERS }
}

fn ours_presign(time: AmzDate, cache: &SigningKeyCache) -> String {
    let params = SigningParams {
        credentials: Credentials { access_key_id: ACCESS_KEY, secret_access_key: SECRET, session_token: None },
        region: REGION,
        service: SERVICE,
        time,
        path_mode: PathMode::AsSent,
        payload_hash: UNSIGNED_PAYLOAD,
    };
    let presigned = sigv4::presign(&request(), &params, EXPIRES, cache);
    format!("{URL}?{}", presigned.query)
}

fn aws_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(EXPIRES));
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings
}

fn aws_presign(time: SystemTime, identity: &Identity, settings: &SigningSettings) -> String {
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(REGION)
        .name(SERVICE)
        .time(time)
        .settings(settings.clone())
        .build()
        .expect("signing params")
        .into();
    let signable = SignableRequest::new("GET", URL, std::iter::empty(), SignableBody::UnsignedPayload).expect("signable request");
    let (instructions, _signature) = aws_sign(signable, &params).expect("aws-sigv4 sign").into_parts();
    let mut req = http::Request::builder().method("GET").uri(URL).body(()).expect("http request");
    instructions.apply_to_request_http1x(&mut req);
    req.uri().to_string()
}

/// The query of a presigned URL (after `?`).
fn query_of(url: &str) -> &str {
    url.split_once('?').map_or("", |(_, q)| q)
}

fn signature_of(url: &str) -> &str {
    query_of(url).split('&').find_map(|kv| kv.strip_prefix("X-Amz-Signature=")).unwrap_or("")
}

fn bench(c: &mut Criterion) {
    let cache = SigningKeyCache::default();
    let identity = AwsCredentials::new(ACCESS_KEY, SECRET, None, None, "bench").into();
    let settings = aws_settings();

    // Same instant, same work: both signers must produce the same signature (and here
    // the very same URL, parameter order included).
    let fixed = UNIX_EPOCH + Duration::from_secs(FIXED_UNIX);
    let ours_fixed = ours_presign(AmzDate::from_system_time(fixed), &cache);
    let aws_fixed = aws_presign(fixed, &identity, &settings);
    assert_eq!(signature_of(&ours_fixed), signature_of(&aws_fixed), "signatures differ:\n ours {ours_fixed}\n aws  {aws_fixed}");
    assert_eq!(signature_of(&ours_fixed).len(), 64);
    assert_eq!(ours_fixed, aws_fixed, "URLs differ");

    // The URL to verify: presigned now, so it is valid for the whole run.
    let now = AmzDate::now();
    let url = ours_presign(now, &cache);
    let verify_query = query_of(&url).to_owned();
    let verify_req = RequestParts { method: "GET", path: PATH, query: &verify_query, headers: HEADERS };
    let policy = Policy::s3(REGION, now);
    let verified = sigv4::check_presigned(&verify_req, &policy).expect("checks").verify(SECRET, &cache).expect("signature");
    assert_eq!(verified.access_key, ACCESS_KEY);

    let mut group = c.benchmark_group("sigv4");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ours/presign", |b| b.iter(|| ours_presign(AmzDate::now(), black_box(&cache))));
    group.bench_function("aws-sigv4/presign", |b| b.iter(|| aws_presign(SystemTime::now(), black_box(&identity), black_box(&settings))));
    group.bench_function("ours/verify", |b| {
        b.iter(|| {
            let pending = sigv4::check_presigned(black_box(&verify_req), black_box(&policy)).expect("checks");
            pending.verify(black_box(SECRET), &cache).expect("signature")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
