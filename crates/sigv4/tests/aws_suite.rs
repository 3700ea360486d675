//! The official AWS SigV4 test suite (aws-c-auth `v4`), byte for byte.
//!
//! For each case, both signing styles are checked: the canonical request, string to
//! sign and signature must equal the files exactly, the `Authorization` header must
//! equal the signed request's, and the presigned query must carry the same
//! parameters as the suite's signed request. (The suite lists `X-Amz-SignedHeaders`
//! before `X-Amz-Expires`; we write botocore's order, pinned byte for byte by the
//! botocore vectors, so here the query is compared as a set.) Finally our verifier
//! must accept the suite's own presigned request.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};
use sigv4::{AmzDate, Credentials, PathMode, Policy, RequestParts, SigningKeyCache, SigningParams};

struct Case {
    name: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    ctx: serde_json::Value,
}

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

fn parse_request(name: &str, dir: &Path) -> Case {
    let raw = read(dir, "request.txt");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let mut lines = head.split('\n');
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let (target, _version) = rest.rsplit_once(' ').unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().unwrap();
            last.1.push('\n');
            last.1.push_str(line);
        } else {
            let (n, v) = line.split_once(':').unwrap();
            headers.push((n.to_owned(), v.to_owned()));
        }
    }
    let ctx: serde_json::Value = serde_json::from_str(&read(dir, "context.json")).unwrap();
    Case {
        name: name.to_owned(),
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
        ctx,
    }
}

fn cases() -> Vec<(Case, std::path::PathBuf)> {
    let root = common::vectors_dir().join("aws-sig-v4-test-suite");
    let mut out = Vec::new();
    for entry in fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if dir.is_dir() {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            out.push((parse_request(&name, &dir), dir));
        }
    }
    out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    assert_eq!(out.len(), 38, "the suite has 38 cases");
    out
}

fn str_field<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

#[test]
fn every_case_signs_byte_for_byte() {
    let cache = SigningKeyCache::default();
    let mut checked = 0;
    for (case, dir) in cases() {
        let ctx = &case.ctx;
        let ak = str_field(ctx, &["credentials", "access_key_id"]).unwrap();
        let sk = str_field(ctx, &["credentials", "secret_access_key"]).unwrap();
        let token = str_field(ctx, &["credentials", "token"]);
        let omit_token = ctx.get("omit_session_token").and_then(|v| v.as_bool()).unwrap_or(false);
        let sign_body = ctx["sign_body"].as_bool().unwrap();
        let normalize = ctx["normalize"].as_bool().unwrap();
        let expires = ctx["expiration_in_seconds"].as_u64().unwrap();
        let time = AmzDate::parse_rfc3339(str_field(ctx, &["timestamp"]).unwrap()).unwrap();
        let region = str_field(ctx, &["region"]).unwrap();
        let service = str_field(ctx, &["service"]).unwrap();
        let payload = sigv4::hex::encode(&Sha256::digest(&case.body));
        let params = SigningParams {
            credentials: Credentials { access_key_id: ak, secret_access_key: sk, session_token: token },
            region,
            service,
            time,
            path_mode: PathMode::EncodeAgain { normalize },
            payload_hash: &payload,
        };

        // Header signing: the signer adds X-Amz-Date, the token and the body hash.
        let amz_date = time.amz_format();
        let mut headers: Vec<(&str, &str)> = case.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        headers.push(("X-Amz-Date", &amz_date));
        if let (Some(t), false) = (token, omit_token) {
            headers.push(("X-Amz-Security-Token", t));
        }
        if sign_body {
            headers.push(("X-Amz-Content-SHA256", &payload));
        }
        let req = RequestParts { method: &case.method, path: &case.path, query: &case.query, headers: &headers };
        let signed = sigv4::sign_headers(&req, &params, &cache);
        let n = &case.name;
        assert_eq!(signed.parts.canonical_request, read(&dir, "header-canonical-request.txt"), "{n}: header canonical request");
        assert_eq!(signed.parts.string_to_sign, read(&dir, "header-string-to-sign.txt"), "{n}: header string to sign");
        assert_eq!(signed.parts.signature, read(&dir, "header-signature.txt"), "{n}: header signature");
        let expected_auth =
            read(&dir, "header-signed-request.txt").lines().find_map(|l| l.strip_prefix("Authorization:").map(str::to_owned)).unwrap();
        assert_eq!(signed.authorization, expected_auth, "{n}: Authorization header");

        // Query signing (presign).
        let headers: Vec<(&str, &str)> = case.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let req = RequestParts { method: &case.method, path: &case.path, query: &case.query, headers: &headers };
        let presigned = sigv4::sign::presign_with(&req, &params, expires, &cache, !omit_token);
        assert_eq!(presigned.parts.canonical_request, read(&dir, "query-canonical-request.txt"), "{n}: query canonical request");
        assert_eq!(presigned.parts.string_to_sign, read(&dir, "query-string-to-sign.txt"), "{n}: query string to sign");
        assert_eq!(presigned.parts.signature, read(&dir, "query-signature.txt"), "{n}: query signature");
        let suite_signed = read(&dir, "query-signed-request.txt");
        let target = suite_signed.lines().next().unwrap().split_once(' ').unwrap().1.rsplit_once(' ').unwrap().0;
        let suite_query = target.split_once('?').unwrap().1;
        let mut ours: Vec<&str> = presigned.query.split('&').collect();
        let mut theirs: Vec<&str> = suite_query.split('&').collect();
        ours.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(ours, theirs, "{n}: presigned query parameters");

        // Our verifier accepts the suite's own presigned request.
        if !omit_token {
            let policy = Policy {
                region,
                service,
                path_mode: PathMode::EncodeAgain { normalize },
                now: time.plus(1),
                future_tolerance_secs: 900,
                max_skew_secs: 900,
                payload_hash: Some(&payload),
            };
            let req = RequestParts { method: &case.method, path: &case.path, query: suite_query, headers: &headers };
            let pending = sigv4::check_presigned(&req, &policy).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(pending.access_key(), ak);
            pending.verify(sk, &cache).unwrap_or_else(|e| panic!("{n}: {e:?}"));
        }
        checked += 1;
    }
    assert_eq!(checked, 38);
}
