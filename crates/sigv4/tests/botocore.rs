//! The 300 botocore presign vectors (`shared/vectors/botocore-presign.json`), byte for
//! byte: full URL, canonical request, string to sign and signature.
//!
//! For S3 cases we sign botocore's unsigned request (the URL it built from bucket,
//! key and parameters). For execute-api cases botocore first rewrites the request —
//! `parse_qs` of the URL's query, then `params`, then body fields moved into the
//! query — and `botocore_prepare` below reproduces that client-side step, so that
//! what reaches our signer is what reached botocore's.

#![allow(clippy::unwrap_used)]

mod common;

use serde_json::Value;
use sigv4::encode::{decode, encode};
use sigv4::inspect::split_url;
use sigv4::{AmzDate, Credentials, EMPTY_SHA256, PathMode, Policy, RequestParts, SigningKeyCache, SigningParams, UNSIGNED_PAYLOAD};

fn load() -> Vec<Value> {
    let path = common::vectors_dir().join("botocore-presign.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap().clone();
    assert_eq!(cases.len(), 300);
    cases
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|a| a.iter().map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned())).collect())
        .unwrap_or_default()
}

/// Python's `unquote_plus` as used by `parse_qs`: `+` is a space, bad escapes stay.
fn unquote_plus(s: &str) -> String {
    String::from_utf8_lossy(&decode(&s.replace('+', " "))).into_owned()
}

/// An insertion-ordered multi-dict with Python `dict` update semantics.
#[derive(Default)]
struct QueryDict(Vec<(String, Vec<String>)>);

impl QueryDict {
    fn set(&mut self, k: String, v: Vec<String>) {
        match self.0.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => self.0.push((k, v)),
        }
    }

    fn encode(&self) -> String {
        let mut parts = Vec::new();
        for (k, vs) in &self.0 {
            for v in vs {
                parts.push(format!("{}={}", encode(k, false), encode(v, false)));
            }
        }
        parts.join("&")
    }
}

/// botocore's request preparation for `SigV4QueryAuth` (see vectors/README.md §5).
fn botocore_prepare(input: &Value) -> (String, String) {
    let url = input["url"].as_str().unwrap();
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut dict = QueryDict::default();
    for seg in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = seg.split_once('=').unwrap_or((seg, ""));
        let k = unquote_plus(k);
        if !dict.0.iter().any(|(key, _)| *key == k) {
            dict.0.push((k, vec![unquote_plus(v)]));
        }
    }
    if let Some(params) = input["params"].as_array() {
        for p in params {
            let k = p[0].as_str().unwrap().to_owned();
            let v = match &p[1] {
                Value::Array(list) => list.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
                other => vec![other.as_str().unwrap().to_owned()],
            };
            dict.set(k, v);
        }
    }
    if let Some(form) = input["body"].get("form") {
        for (k, v) in pairs(form) {
            dict.set(k, vec![v]);
        }
    }
    if let Some(json) = input["body"].get("json") {
        let obj: Value = serde_json::from_str(json.as_str().unwrap()).unwrap();
        for (k, v) in obj.as_object().unwrap() {
            dict.set(k.clone(), vec![v.as_str().unwrap().to_owned()]);
        }
    }
    (base.to_owned(), dict.encode())
}

/// Headers botocore never signs.
const UNSIGNED_HEADERS: &[&str] = &["expect", "user-agent", "x-amzn-trace-id", "connection", "transfer-encoding"];

#[test]
fn every_case_matches_botocore() {
    let cache = SigningKeyCache::default();
    let mut counts = (0, 0);
    for case in load() {
        let id = case["id"].as_str().unwrap();
        let input = &case["input"];
        let expected = &case["expected"];
        let is_s3 = case["kind"] == "s3";
        let (base, query) = if is_s3 {
            let url = case["unsigned_request"]["url"].as_str().unwrap();
            let (b, q) = url.split_once('?').unwrap_or((url, ""));
            (b.to_owned(), q.to_owned())
        } else {
            botocore_prepare(input)
        };
        let parts = split_url(&base).unwrap();
        let host = parts.host_header();
        let raw_headers = pairs(&case["unsigned_request"]["headers"]);
        let mut headers: Vec<(&str, &str)> = vec![("host", &host)];
        for (n, v) in &raw_headers {
            let lower = n.to_ascii_lowercase();
            if UNSIGNED_HEADERS.contains(&lower.as_str()) {
                continue;
            }
            if lower == "content-type" && v == "application/x-www-form-urlencoded; charset=utf-8" {
                continue;
            }
            headers.push((n, v));
        }
        let req = RequestParts { method: input["method"].as_str().unwrap(), path: parts.path, query: &query, headers: &headers };
        let time = AmzDate::parse_rfc3339(input["signing_time"].as_str().unwrap()).unwrap();
        let region = input["region"].as_str().unwrap();
        let service = input["service"].as_str().unwrap();
        let (path_mode, payload) =
            if is_s3 { (PathMode::AsSent, UNSIGNED_PAYLOAD) } else { (PathMode::EncodeAgain { normalize: true }, EMPTY_SHA256) };
        let credentials = Credentials {
            access_key_id: input["access_key"].as_str().unwrap(),
            secret_access_key: input["secret_key"].as_str().unwrap(),
            session_token: input["session_token"].as_str(),
        };
        let params = SigningParams { credentials, region, service, time, path_mode, payload_hash: payload };
        let expires = input["expires"].as_u64().unwrap();
        let presigned = sigv4::presign(&req, &params, expires, &cache);
        let url = format!("{base}?{}", presigned.query);
        assert_eq!(presigned.parts.canonical_request, expected["canonical_request"].as_str().unwrap(), "{id}: canonical request");
        assert_eq!(presigned.parts.string_to_sign, expected["string_to_sign"].as_str().unwrap(), "{id}: string to sign");
        assert_eq!(presigned.parts.signature, expected["signature"].as_str().unwrap(), "{id}: signature");
        assert_eq!(url, expected["url"].as_str().unwrap(), "{id}: url");

        // And the verifier accepts botocore's URL, sent with the headers it signed.
        let expected_url = expected["url"].as_str().unwrap();
        let sent = split_url(expected_url).unwrap();
        let policy = Policy {
            region,
            service,
            path_mode,
            now: time,
            future_tolerance_secs: 900,
            max_skew_secs: 900,
            payload_hash: (!is_s3).then_some(EMPTY_SHA256),
        };
        let req = RequestParts { query: sent.query, path: sent.path, ..req };
        let pending = sigv4::check_presigned(&req, &policy).unwrap_or_else(|e| panic!("{id}: {e}"));
        pending.verify(credentials.secret_access_key, &cache).unwrap_or_else(|e| panic!("{id}: {e:?}"));
        if is_s3 { counts.0 += 1 } else { counts.1 += 1 }
    }
    assert_eq!(counts, (230, 70));
}
