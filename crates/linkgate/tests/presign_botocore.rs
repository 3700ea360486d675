//! `linkgate presign s3://…` against the 230 botocore S3 presign vectors: the CLI's
//! flags, parsed by clap, must produce botocore's URL byte for byte (endpoint and
//! addressing style, key encoding, query order, signed headers, signature).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use linkgate::cli::Command;
use linkgate::cli::presign::{presign_url, resolve};
use linkgate::credentials::{AwsCredentials, Environment};
use serde_json::Value;
use sigv4::SigningKeyCache;

/// No environment and no home: everything comes from flags.
struct Bare;

impl Environment for Bare {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
    fn home_dir(&self) -> Option<PathBuf> {
        None
    }
}

fn vectors() -> Vec<Value> {
    let dir = std::env::var("LINKGATE_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("botocore-presign.json")).unwrap()).unwrap();
    doc["cases"].as_array().unwrap().iter().filter(|c| c["kind"] == "s3").cloned().collect()
}

/// botocore parameter → CLI flag, for parameters that go into the query.
fn query_flag(param: &str) -> Option<&'static str> {
    Some(match param {
        "ResponseCacheControl" => "--response-cache-control",
        "ResponseContentDisposition" => "--response-content-disposition",
        "ResponseContentEncoding" => "--response-content-encoding",
        "ResponseContentLanguage" => "--response-content-language",
        "ResponseContentType" => "--response-content-type",
        "ResponseExpires" => "--response-expires",
        "VersionId" => "--version-id",
        "PartNumber" => "--part-number",
        "UploadId" => "--upload-id",
        _ => return None,
    })
}

#[test]
fn cli_presign_matches_botocore_for_every_s3_vector() {
    let cache = SigningKeyCache::default();
    let cases = vectors();
    assert_eq!(cases.len(), 230);
    for case in &cases {
        let id = case["id"].as_str().unwrap();
        let input = &case["input"];
        let mut argv: Vec<String> = vec!["linkgate".into(), "presign".into()];
        argv.push(format!("s3://{}/{}", input["bucket"].as_str().unwrap(), input["key"].as_str().unwrap()));
        argv.extend(["--method".into(), input["method"].as_str().unwrap().into()]);
        argv.extend(["--region".into(), input["region"].as_str().unwrap().into()]);
        argv.extend(["--expires-in".into(), input["expires"].to_string()]);
        argv.extend(["--signing-time".into(), input["signing_time"].as_str().unwrap().into()]);
        argv.extend(["--addressing-style".into(), input["addressing_style"].as_str().unwrap().into()]);
        if let Some(e) = input["endpoint_url"].as_str() {
            argv.extend(["--endpoint-url".into(), e.into()]);
        }
        for p in input["params"].as_array().unwrap() {
            let name = p[0].as_str().unwrap();
            if let Some(flag) = query_flag(name) {
                let value = match &p[1] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                argv.extend([flag.into(), value]);
            }
        }
        // Parameters botocore sends as headers are what a user passes with --header.
        for h in case["unsigned_request"]["headers"].as_array().unwrap() {
            argv.extend(["--header".into(), format!("{}: {}", h[0].as_str().unwrap(), h[1].as_str().unwrap())]);
        }
        let cli = linkgate::cli::parse_from(&argv).unwrap_or_else(|e| panic!("{id}: {e}"));
        let Command::Presign(args) = cli.command else { panic!("{id}: not presign") };
        let request = resolve(&args, &Bare).unwrap_or_else(|e| panic!("{id}: {e}"));
        let creds = AwsCredentials {
            access_key_id: input["access_key"].as_str().unwrap().into(),
            secret_access_key: input["secret_key"].as_str().unwrap().into(),
            session_token: input["session_token"].as_str().map(Into::into),
            expires_at: None,
            source: "test".into(),
        };
        let out = presign_url(&request, &creds, &cache).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(out.url, case["expected"]["url"].as_str().unwrap(), "{id}: {argv:?}");
    }
}
