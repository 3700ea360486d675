//! Hardening regressions: input validation — findings 8 (expiry arithmetic
//! overflow), 11 (object keys with NUL or over 1,024 bytes through links and POST
//! forms), 13b (impossible UTC offsets) and 13c (CIDRs with leading zeros). Each
//! fails on the code before the one-pipeline change (issue #9); what each
//! observed there is in its doc comment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::admin::{assert_problem, create_link, show_link};
use common::sign::post_form;
use common::{ACCESS_KEY, ROOT, SECRET_KEY, TestServer, api, bounded, http, signed};
use serde_json::json;

/// Finding 8 (expiry arithmetic overflows): `expires_in` seconds were multiplied
/// into milliseconds without a check. Fixed: `PATCH /-/api/v1/groups/g` with
/// `"expires_in": 18446744073709551615` is a 400 problem and the group's links stay
/// `active`; `POST /-/api/v1/links` with `"expires_in": 2305843009213697552` is a
/// 400 problem.
///
/// Fails on the code before the one-pipeline change (issue #9): the PATCH is
/// answered 200 `{"shortened": 1}` and wraps the expiry into the past (the link
/// turns `expired`). The link creation overflows `secs * 1000`: in a release build
/// that wraps into a 201 with a one-hour link (the finding); in this debug test
/// build it panics ("attempt to multiply with overflow", admin/links.rs) and the
/// request is answered 503 `store-unavailable`.
#[tokio::test]
async fn expiry_arithmetic_cannot_overflow() {
    bounded(60.0, "finding 8", async {
        let s = TestServer::with_report(|_| {}).await;
        let link = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "group": "g", "expires_in": 3600})).await;

        let patch = api(&s, ROOT, "PATCH", "/-/api/v1/groups/g", Some(json!({"expires_in": u64::MAX}))).await;
        let after_patch = show_link(&s, &link).await;
        let create = api(
            &s,
            ROOT,
            "POST",
            "/-/api/v1/links",
            Some(json!({"bucket": "bkt", "key": "report.pdf", "expires_in": 2_305_843_009_213_697_552_u64})),
        )
        .await;

        let summary = format!(
            "PATCH expires_in=u64::MAX: {} {} (link now {}, expires_at {})\nPOST expires_in=2305843009213697552: {} {}",
            patch.status,
            patch.text(),
            after_patch["state"],
            after_patch["expires_at"],
            create.status,
            create.text()
        );
        assert_eq!(patch.status, 400, "{summary}");
        assert_problem(&patch, 400);
        assert_eq!(after_patch["state"], "active", "{summary}");
        assert_eq!(create.status, 400, "{summary}");
        assert_problem(&create, 400);
    })
    .await;
}

/// Finding 11: upload links and POST forms stored keys containing NUL or longer
/// than 1,024 bytes, which the S3 API then cannot name (so the object cannot be
/// deleted, and neither can its bucket). Fixed: creating a link with such a key is
/// a 400 problem; a POST form with key `a\0b` is 400 (S3 XML, `InvalidArgument` or
/// `InvalidURI`), with a 1,025-byte key 400 `KeyTooLongError`; and the bucket can
/// be deleted afterwards.
///
/// Fails on the code before the one-pipeline change (issue #9): both links are
/// created (201); the POST form with `a\0b` is accepted (204) and stores an object
/// that DeleteObject cannot address, so DeleteBucket answers 409
/// `BucketNotEmpty`. (The 1,025-byte form key was already refused.)
#[tokio::test]
async fn keys_with_nul_or_over_1024_bytes_are_refused_everywhere() {
    bounded(60.0, "finding 11", async {
        let s = TestServer::start().await;
        let c = s.plain_client();
        c.create_bucket().bucket("inbox").send().await.unwrap();

        let long_key = "k".repeat(1025);
        let mut link_answers = Vec::new();
        for key in ["a\u{0}b", long_key.as_str()] {
            for method in ["PUT", "GET"] {
                let r = api(&s, ROOT, "POST", "/-/api/v1/links", Some(json!({"bucket": "inbox", "key": key, "method": method}))).await;
                link_answers.push((key.len(), method, r));
            }
        }

        let mut form_answers = Vec::new();
        for key in [b"a\0b".to_vec(), long_key.clone().into_bytes()] {
            let (ct, body) = post_form(&s, "inbox", &key, b"form upload", ACCESS_KEY, SECRET_KEY);
            let r = http("POST", &format!("{}/inbox", s.endpoint), &[("content-type", ct.as_str())], body).await;
            form_answers.push((key.len(), r));
        }

        let listed = c.list_objects_v2().bucket("inbox").send().await.unwrap();
        let stored: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(|k| format!("{k:?}"))).collect();
        let delete_bucket = signed(&s, ROOT, "DELETE", "/inbox", b"", &[]).await;

        let summary = format!(
            "links: {:?}\nforms: {:?}\nstored keys: {stored:?}\nDeleteBucket: {} {}",
            link_answers.iter().map(|(len, m, r)| format!("{m} key of {len} bytes → {}", r.status)).collect::<Vec<_>>(),
            form_answers.iter().map(|(len, r)| format!("key of {len} bytes → {} {}", r.status, r.text())).collect::<Vec<_>>(),
            delete_bucket.status,
            delete_bucket.text()
        );
        for (_, _, r) in &link_answers {
            assert_eq!(r.status, 400, "{summary}");
            assert_problem(r, 400);
        }
        let (_, nul) = &form_answers[0];
        assert_eq!(nul.status, 400, "{summary}");
        assert_eq!(nul.header("content-type"), Some("application/xml"), "{summary}");
        let code = nul.xml("Code").unwrap_or_default();
        assert!(code == "InvalidArgument" || code == "InvalidURI", "{summary}");
        form_answers[1].1.assert_error(400, "KeyTooLongError", None);
        assert!(stored.is_empty(), "{summary}");
        assert_eq!(delete_bucket.status, 204, "{summary}");
    })
    .await;
}

/// Finding 13b: RFC 3339 times with impossible UTC offsets (`+99:99`) were
/// accepted. Fixed: a link with `"expires_at": "2030-01-01T00:00:00+99:99"` is a
/// 400 problem (`links.max_expires_in` is raised to ten years here so that the
/// offset is the only fault; the same time with `+01:00` is accepted).
///
/// Fails on the code before the one-pipeline change (issue #9): the link is
/// created (201), expiring 99 h 99 min before the time written.
#[tokio::test]
async fn an_impossible_utc_offset_is_refused() {
    bounded(30.0, "finding 13b", async {
        let s = TestServer::with_report(|c| c.links.max_expires_in = 10 * 365 * 86_400).await;
        let fine = api(
            &s,
            ROOT,
            "POST",
            "/-/api/v1/links",
            Some(json!({"bucket": "bkt", "key": "report.pdf", "expires_at": "2030-01-01T00:00:00+01:00"})),
        )
        .await;
        assert_eq!(fine.status, 201, "a valid offset: {}", fine.text());
        let bad = "2030-01-01T00:00:00+99:99";
        let r = api(&s, ROOT, "POST", "/-/api/v1/links", Some(json!({"bucket": "bkt", "key": "report.pdf", "expires_at": bad}))).await;
        assert_eq!(r.status, 400, "expires_at {bad}: {} {}", r.status, r.text());
        assert_problem(&r, 400);
    })
    .await;
}

/// Finding 13c: CIDRs with leading zeros (`1.2.3.4/08`) were accepted. Fixed:
/// `"allowed_ips": ["1.2.3.4/08"]` is a 400 problem.
///
/// Fails on the code before the one-pipeline change (issue #9): the link is
/// created (201).
#[tokio::test]
async fn a_cidr_with_a_leading_zero_prefix_is_refused() {
    bounded(30.0, "finding 13c", async {
        let s = TestServer::with_report(|_| {}).await;
        let r =
            api(&s, ROOT, "POST", "/-/api/v1/links", Some(json!({"bucket": "bkt", "key": "report.pdf", "allowed_ips": ["1.2.3.4/08"]})))
                .await;
        assert_eq!(r.status, 400, "allowed_ips [\"1.2.3.4/08\"]: {} {}", r.status, r.text());
        assert_problem(&r, 400);
    })
    .await;
}
