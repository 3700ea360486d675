//! [`MetaStore`] conformance: buckets, objects (lookups, conditional writes,
//! listings in UTF-8 byte order) and multipart uploads, including which blobs each
//! write declares garbage — the object service deletes exactly those, so naming a
//! live blob loses data and missing a dead one leaks it.
//!
//! Reads are interleaved with writes throughout, so a caching implementation
//! ([`linkgate::store::cached::CachedMeta`]) is caught serving a stale row.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::join_all;
use linkgate::store::meta::{
    BucketInfo, Completion, DeleteBucket, Lookup, MetaStore, ObjectMeta, PartInfo, PutPart, UploadInfo, WriteCondition, WriteOutcome,
};

use super::sorted;

/// Runs every check, in order, on a fresh, empty store.
pub async fn run(store: Arc<dyn MetaStore>) {
    let s = store.as_ref();
    check_buckets(s).await;
    check_object_round_trip(s).await;
    check_conditional_writes(s).await;
    check_delete_object(s).await;
    check_delete_bucket_refuses_objects_discards_uploads(s).await;
    check_listing(s).await;
    check_multipart(s).await;
    check_list_uploads(s).await;
    check_referenced_blobs(s).await;
    check_racing_writes(&store).await;
    check_no_stale_read_after_a_racing_write(&store).await;
    s.ping().await.expect("ping");
}

/// A plain object in `bucket` at `key`, its bytes in blob `blob`.
fn object(bucket: &str, key: &str, blob: &str) -> ObjectMeta {
    ObjectMeta {
        bucket: bucket.into(),
        key: key.into(),
        blob_id: blob.into(),
        size: 3,
        etag: format!("\"etag-{blob}\""),
        last_modified_ms: 1_700_000_000_000,
        ..ObjectMeta::default()
    }
}

async fn found(s: &dyn MetaStore, bucket: &str, key: &str) -> ObjectMeta {
    match s.object(bucket, key).await.expect("object") {
        Lookup::Found(m) => m,
        other => panic!("{bucket}/{key}: expected an object, got {other:?}"),
    }
}

async fn put(s: &dyn MetaStore, meta: &ObjectMeta) {
    let out = s.put_object(meta, &WriteCondition::None).await.expect("put_object");
    assert!(matches!(out, WriteOutcome::Written { .. }), "{}/{}: {out:?}", meta.bucket, meta.key);
}

fn written(replaced: Option<&str>) -> WriteOutcome {
    WriteOutcome::Written { replaced_blob: replaced.map(str::to_owned) }
}

/// Creating (once), reading, listing by name, CORS, deleting buckets.
pub async fn check_buckets(s: &dyn MetaStore) {
    assert_eq!(s.list_buckets().await.unwrap(), [], "a fresh store has no buckets");
    assert!(s.create_bucket("beta", 10).await.unwrap());
    assert!(!s.create_bucket("beta", 20).await.unwrap(), "a second create reports the bucket existed");
    assert_eq!(
        s.bucket("beta").await.unwrap(),
        Some(BucketInfo { name: "beta".into(), created_ms: 10, cors_xml: None }),
        "the first creation's time is kept"
    );
    assert!(s.create_bucket("alpha", 11).await.unwrap());
    assert!(s.create_bucket("gamma", 12).await.unwrap());
    let names = |v: Vec<BucketInfo>| v.into_iter().map(|b| b.name).collect::<Vec<_>>();
    assert_eq!(names(s.list_buckets().await.unwrap()), ["alpha", "beta", "gamma"], "listed by name");
    assert_eq!(s.bucket("nope").await.unwrap(), None);

    let cors = "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>";
    assert!(s.set_cors("alpha", Some(cors)).await.unwrap());
    assert_eq!(s.bucket("alpha").await.unwrap().unwrap().cors_xml.as_deref(), Some(cors));
    assert_eq!(s.list_buckets().await.unwrap()[0].cors_xml.as_deref(), Some(cors), "listings carry CORS too");
    assert!(s.set_cors("alpha", None).await.unwrap());
    assert_eq!(s.bucket("alpha").await.unwrap().unwrap().cors_xml, None, "CORS cleared");
    assert!(!s.set_cors("nope", Some(cors)).await.unwrap(), "no such bucket");
    assert_eq!(s.bucket("nope").await.unwrap(), None, "set_cors does not create buckets");

    assert_eq!(s.delete_bucket("nope").await.unwrap(), DeleteBucket::NotFound);
    assert_eq!(s.delete_bucket("gamma").await.unwrap(), DeleteBucket::Deleted(vec![]));
    assert_eq!(s.bucket("gamma").await.unwrap(), None);
    assert_eq!(s.delete_bucket("gamma").await.unwrap(), DeleteBucket::NotFound, "already gone");
    assert_eq!(names(s.list_buckets().await.unwrap()), ["alpha", "beta"]);
    assert!(s.create_bucket("gamma", 30).await.unwrap(), "a deleted bucket's name can be used again");
    assert_eq!(s.bucket("gamma").await.unwrap().unwrap().created_ms, 30);
    for b in ["alpha", "beta", "gamma"] {
        assert_eq!(s.delete_bucket(b).await.unwrap(), DeleteBucket::Deleted(vec![]));
    }
}

/// `NoBucket` vs `NoKey` vs `Found`, and every field of an object read back as written.
pub async fn check_object_round_trip(s: &dyn MetaStore) {
    assert_eq!(s.object("rt", "k").await.unwrap(), Lookup::NoBucket);
    assert_eq!(s.put_object(&object("rt", "k", "b0"), &WriteCondition::None).await.unwrap(), WriteOutcome::NoBucket);
    assert_eq!(
        s.put_object(&object("rt", "k", "b0"), &WriteCondition::EtagMatches("*".into())).await.unwrap(),
        WriteOutcome::NoBucket,
        "a missing bucket is reported whatever the condition"
    );
    assert_eq!(s.bucket("rt").await.unwrap(), None, "writing into a missing bucket does not create it");

    assert!(s.create_bucket("rt", 1).await.unwrap());
    assert_eq!(s.object("rt", "k").await.unwrap(), Lookup::NoKey);
    assert_eq!(s.object("rt", "K").await.unwrap(), Lookup::NoKey, "keys are case-sensitive");

    let full = ObjectMeta {
        bucket: "rt".into(),
        key: "dir/ü €\u{1}\t%_*😀.txt".into(),
        blob_id: "blob-full".into(),
        size: 5 * 1024 * 1024 * 1024 * 1024,
        etag: "\"0123456789abcdef0123456789abcdef-3\"".into(),
        last_modified_ms: 1_712_345_678_901,
        content_type: Some("text/plain; charset=utf-8".into()),
        headers: vec![
            ("content-encoding".into(), "gzip".into()),
            ("x-amz-meta-zeta".into(), "last, listed first".into()),
            ("x-amz-meta-ünï".into(), "välue \"quoted\"".into()),
            ("cache-control".into(), "no-cache".into()),
        ],
        checksum: Some(("x-amz-checksum-crc32".into(), "AAAAAA==".into())),
        parts_count: Some(3),
        part_sizes: vec![2 << 40, 2 << 40, 1 << 40],
    };
    assert_eq!(s.put_object(&full, &WriteCondition::None).await.unwrap(), written(None));
    assert_eq!(s.object("rt", &full.key).await.unwrap(), Lookup::Found(full.clone()), "every field, headers in order");
    assert_eq!(s.object("rt", &full.key).await.unwrap(), Lookup::Found(full.clone()), "and again (a cached read)");

    let plain = object("rt", "plain", "blob-plain");
    put(s, &plain).await;
    assert_eq!(found(s, "rt", "plain").await, plain, "no optional fields");

    let long_key = "k".repeat(1014) + "€/é😀"; // 1024 bytes
    assert_eq!(long_key.len(), 1024);
    let long = object("rt", &long_key, "blob-long");
    put(s, &long).await;
    assert_eq!(found(s, "rt", &long_key).await, long, "a 1024-byte key");

    assert!(s.create_bucket("rt2", 1).await.unwrap());
    assert_eq!(s.object("rt2", "plain").await.unwrap(), Lookup::NoKey, "objects belong to their bucket");
}

/// `If-None-Match: *`, `If-Match` (quoted, unquoted, weak, lists, `*`) and what a
/// write reports as replaced.
pub async fn check_conditional_writes(s: &dyn MetaStore) {
    assert!(s.create_bucket("cond", 1).await.unwrap());
    let v = |n: u32| object("cond", "k", &format!("v{n}"));

    assert_eq!(s.put_object(&v(1), &WriteCondition::EtagMatches("\"etag-v1\"".into())).await.unwrap(), WriteOutcome::ConditionFailed);
    assert_eq!(s.put_object(&v(1), &WriteCondition::EtagMatches("*".into())).await.unwrap(), WriteOutcome::ConditionFailed);
    assert_eq!(s.object("cond", "k").await.unwrap(), Lookup::NoKey, "a failed condition writes nothing");
    assert_eq!(s.put_object(&v(1), &WriteCondition::NotExists).await.unwrap(), written(None));
    assert_eq!(found(s, "cond", "k").await.blob_id, "v1");
    assert_eq!(s.put_object(&v(2), &WriteCondition::NotExists).await.unwrap(), WriteOutcome::ConditionFailed);
    assert_eq!(found(s, "cond", "k").await, v(1), "the failed write changed nothing");

    assert_eq!(s.put_object(&v(2), &WriteCondition::EtagMatches("\"etag-v2\"".into())).await.unwrap(), WriteOutcome::ConditionFailed);
    assert_eq!(s.put_object(&v(2), &WriteCondition::EtagMatches("etag-v".into())).await.unwrap(), WriteOutcome::ConditionFailed);
    assert_eq!(found(s, "cond", "k").await, v(1));
    assert_eq!(s.put_object(&v(2), &WriteCondition::EtagMatches("\"etag-v1\"".into())).await.unwrap(), written(Some("v1")));
    assert_eq!(s.put_object(&v(3), &WriteCondition::EtagMatches("etag-v2".into())).await.unwrap(), written(Some("v2")), "unquoted");
    assert_eq!(s.put_object(&v(4), &WriteCondition::EtagMatches("W/\"etag-v3\"".into())).await.unwrap(), written(Some("v3")), "weak");
    assert_eq!(
        s.put_object(&v(5), &WriteCondition::EtagMatches("\"other\", \"etag-v4\"".into())).await.unwrap(),
        written(Some("v4")),
        "a list of ETags"
    );
    assert_eq!(s.put_object(&v(6), &WriteCondition::EtagMatches("*".into())).await.unwrap(), written(Some("v5")), "* on an object");
    assert_eq!(s.put_object(&v(7), &WriteCondition::None).await.unwrap(), written(Some("v6")));
    assert_eq!(found(s, "cond", "k").await, v(7));

    // Rewriting the metadata over the same blob: the blob is still live, not garbage.
    let same_blob = ObjectMeta { content_type: Some("image/png".into()), ..v(7) };
    assert_eq!(s.put_object(&same_blob, &WriteCondition::None).await.unwrap(), written(None), "the same blob is not garbage");
    assert_eq!(found(s, "cond", "k").await, same_blob);
}

/// Deleting an object returns its blob once.
pub async fn check_delete_object(s: &dyn MetaStore) {
    assert!(s.create_bucket("del", 1).await.unwrap());
    assert_eq!(s.delete_object("del", "k").await.unwrap(), None, "no such key");
    assert_eq!(s.delete_object("del-nope", "k").await.unwrap(), None, "no such bucket");
    put(s, &object("del", "k", "del-1")).await;
    put(s, &object("del", "k2", "del-2")).await;
    assert_eq!(found(s, "del", "k").await.blob_id, "del-1"); // fills a cache, if any
    assert_eq!(s.delete_object("del", "k").await.unwrap(), Some("del-1".into()));
    assert_eq!(s.object("del", "k").await.unwrap(), Lookup::NoKey);
    assert_eq!(s.delete_object("del", "k").await.unwrap(), None, "already deleted");
    assert_eq!(found(s, "del", "k2").await.blob_id, "del-2", "other keys untouched");
    put(s, &object("del", "k", "del-3")).await;
    assert_eq!(found(s, "del", "k").await.blob_id, "del-3", "a key can be written again");
}

/// `DeleteBucket::NotEmpty` while the bucket holds objects; pending uploads are
/// discarded with it.
pub async fn check_delete_bucket_refuses_objects_discards_uploads(s: &dyn MetaStore) {
    assert!(s.create_bucket("full", 1).await.unwrap());
    put(s, &object("full", "k", "full-1")).await;
    assert_eq!(found(s, "full", "k").await.blob_id, "full-1");
    assert_eq!(s.delete_bucket("full").await.unwrap(), DeleteBucket::NotEmpty);
    assert!(s.bucket("full").await.unwrap().is_some(), "still there");
    assert_eq!(found(s, "full", "k").await.blob_id, "full-1", "its object too");
    assert_eq!(s.delete_object("full", "k").await.unwrap(), Some("full-1".into()));
    assert_eq!(s.delete_bucket("full").await.unwrap(), DeleteBucket::Deleted(vec![]));
    assert_eq!(s.object("full", "k").await.unwrap(), Lookup::NoBucket);

    // Uploads still pending are discarded with the bucket; their parts are garbage.
    assert!(s.create_bucket("busy", 1).await.unwrap());
    assert!(s.create_upload(&upload("busy-u", "busy", "k")).await.unwrap());
    assert!(s.create_upload(&upload("busy-v", "busy", "other")).await.unwrap());
    assert_eq!(s.put_part("busy-u", &part(1, "busy-p1")).await.unwrap(), recorded(None));
    assert_eq!(s.put_part("busy-u", &part(2, "busy-p2")).await.unwrap(), recorded(None));
    put(s, &object("busy", "k", "busy-obj")).await;
    assert_eq!(s.delete_bucket("busy").await.unwrap(), DeleteBucket::NotEmpty, "an object keeps the bucket");
    assert!(s.upload("busy-u").await.unwrap().is_some(), "and its uploads");
    assert_eq!(s.delete_object("busy", "k").await.unwrap(), Some("busy-obj".into()));
    let DeleteBucket::Deleted(garbage) = s.delete_bucket("busy").await.unwrap() else { panic!("only uploads were left") };
    assert_eq!(sorted(&garbage), ["busy-p1", "busy-p2"]);
    assert_eq!(s.upload("busy-u").await.unwrap(), None);
    assert_eq!(s.upload("busy-v").await.unwrap(), None);
    assert_eq!(s.parts("busy-u").await.unwrap(), []);
    assert!(s.create_bucket("busy", 2).await.unwrap());
    assert_eq!(s.list_uploads("busy", "", ("", ""), 10).await.unwrap(), [], "a recreated bucket has no uploads");

    // A bucket whose object was read (and perhaps cached) before the bucket went away.
    assert!(s.create_bucket("gone", 1).await.unwrap());
    put(s, &object("gone", "k", "gone-1")).await;
    assert_eq!(found(s, "gone", "k").await.blob_id, "gone-1");
    assert_eq!(s.delete_object("gone", "k").await.unwrap(), Some("gone-1".into()));
    assert_eq!(s.delete_bucket("gone").await.unwrap(), DeleteBucket::Deleted(vec![]));
    assert_eq!(s.object("gone", "k").await.unwrap(), Lookup::NoBucket);
    assert!(s.create_bucket("gone", 2).await.unwrap());
    assert_eq!(s.object("gone", "k").await.unwrap(), Lookup::NoKey, "a recreated bucket starts empty");
}

/// Listing: UTF-8 byte order (not UTF-16, not case-folded), literal prefixes (no
/// LIKE wildcards), `after` exclusive, `limit`, and pagination.
pub async fn check_listing(s: &dyn MetaStore) {
    assert!(s.create_bucket("list", 1).await.unwrap());
    assert!(s.create_bucket("list-other", 1).await.unwrap());
    let keys = [
        "a/1",
        "a/2",
        "a0",
        "b",
        "é",
        "Z",
        "A",
        "20%/x",
        "2024/y",
        "a_b",
        "ab",
        "a%c",
        "\u{1}x",
        "\u{7f}",
        "~",
        "😀",
        "\u{ff61}",
        "\u{e000}",
        "é/deeper",
        "b ",
    ];
    for k in keys {
        put(s, &object("list", k, &format!("blob-{k}"))).await;
    }
    put(s, &object("list-other", "a/1", "elsewhere")).await;
    // Rust's `str` order is byte order, i.e. UTF-8 order: U+FF61 (EF BD A1) sorts
    // before U+1F600 (F0 9F 98 80), the reverse of UTF-16 order.
    let all = sorted(&keys.map(str::to_owned));
    let list = |prefix: &'static str, after: &'static str, limit: usize| async move {
        let v = s.list_objects("list", prefix, after, limit).await.expect("list_objects");
        assert!(v.iter().all(|m| m.bucket == "list"), "only the bucket's own objects");
        v.into_iter().map(|m| m.key).collect::<Vec<_>>()
    };
    assert_eq!(list("", "", 1000).await, all);
    let listed = s.list_objects("list", "", "", 1000).await.unwrap();
    assert_eq!(listed[0], object("list", &all[0], &format!("blob-{}", all[0])), "listings carry full metadata");
    assert_eq!(list("a/", "", 100).await, ["a/1", "a/2"]);
    assert_eq!(list("a", "a/1", 100).await, ["a/2", "a0", "a_b", "ab"], "after is exclusive");
    assert_eq!(list("", "a0", 2).await, ["a_b", "ab"], "after plus limit");
    assert_eq!(list("b", "a", 100).await, ["b", "b "], "an after before the prefix does not hide it");
    assert_eq!(list("a", "b", 100).await, Vec::<String>::new(), "an after beyond the prefix's keys");
    assert_eq!(list("20%", "", 100).await, ["20%/x"], "% is literal");
    assert_eq!(list("a_", "", 100).await, ["a_b"], "_ is literal");
    assert_eq!(list("a%", "", 100).await, ["a%c"]);
    assert_eq!(list("A", "", 100).await, ["A"], "prefixes are case-sensitive");
    assert_eq!(list("é", "", 100).await, ["é", "é/deeper"]);
    assert_eq!(list("\u{1}", "", 100).await, ["\u{1}x"]);
    assert_eq!(list("\u{ff61}", "", 100).await, ["\u{ff61}"]);
    assert_eq!(list("nothing", "", 100).await, Vec::<String>::new());
    assert_eq!(list("", "", 0).await, Vec::<String>::new(), "limit 0 lists nothing");
    assert_eq!(s.list_objects("list-nope", "", "", 10).await.unwrap(), [], "a missing bucket lists nothing");

    // Page through with `after` = the last key of the previous page.
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let page = s.list_objects("list", "", &after, 3).await.unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = last.key.clone();
        paged.extend(page.into_iter().map(|m| m.key));
    }
    assert_eq!(paged, all, "pagination");

    // Listings see writes and deletes at once.
    assert_eq!(s.delete_object("list", "a/2").await.unwrap(), Some("blob-a/2".into()));
    put(s, &object("list", "a/3", "blob-a/3")).await;
    assert_eq!(list("a/", "", 100).await, ["a/1", "a/3"]);
}

fn upload(id: &str, bucket: &str, key: &str) -> UploadInfo {
    UploadInfo {
        upload_id: id.into(),
        bucket: bucket.into(),
        key: key.into(),
        initiated_ms: 1_700_000_000_000,
        template: ObjectMeta { bucket: bucket.into(), key: key.into(), ..ObjectMeta::default() },
        full_object_checksum: false,
    }
}

fn part(n: u32, blob: &str) -> PartInfo {
    PartInfo {
        part_number: n,
        blob_id: blob.into(),
        size: 5 << 20,
        etag: format!("\"etag-{blob}\""),
        last_modified_ms: 1_000 + i64::from(n),
        checksum: None,
    }
}

fn recorded(replaced: Option<&str>) -> PutPart {
    PutPart::Recorded { replaced_blob: replaced.map(str::to_owned) }
}

/// Uploads and parts round trip; completion and abort return exactly the garbage
/// blobs, never the new object's.
pub async fn check_multipart(s: &dyn MetaStore) {
    assert!(!s.create_upload(&upload("mp-nob", "mp-nope", "k")).await.unwrap(), "no such bucket");
    assert_eq!(s.upload("mp-nob").await.unwrap(), None);
    assert!(s.create_bucket("mp", 1).await.unwrap());

    // The template as the port describes it: no blob, size or etag; the checksum names only the algorithm.
    let mut u1 = upload("mp-u1", "mp", "k/ü");
    u1.template.content_type = Some("video/mp4".into());
    u1.template.headers = vec![("x-amz-meta-b".into(), "2".into()), ("content-disposition".into(), "attachment".into())];
    u1.template.checksum = Some(("x-amz-checksum-sha256".into(), String::new()));
    assert!(s.create_upload(&u1).await.unwrap());
    assert_eq!(s.upload("mp-u1").await.unwrap(), Some(u1.clone()));
    assert_eq!(s.upload("mp-nope").await.unwrap(), None);
    assert_eq!(s.parts("mp-u1").await.unwrap(), [], "no parts yet");
    assert_eq!(s.parts("mp-nope").await.unwrap(), [], "an unknown upload has no parts");

    let mut p3 = part(3, "mp-p3");
    p3.checksum = Some(("x-amz-checksum-sha256".into(), "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=".into()));
    p3.size = 17;
    assert_eq!(s.put_part("mp-u1", &p3).await.unwrap(), recorded(None));
    assert_eq!(s.put_part("mp-u1", &part(1, "mp-p1")).await.unwrap(), recorded(None));
    assert_eq!(s.put_part("mp-u1", &part(2, "mp-p2")).await.unwrap(), recorded(None));
    assert_eq!(s.parts("mp-u1").await.unwrap(), [part(1, "mp-p1"), part(2, "mp-p2"), p3.clone()], "by number, every field");
    assert_eq!(s.put_part("mp-u1", &part(1, "mp-p1b")).await.unwrap(), recorded(Some("mp-p1")), "a replaced part is garbage");
    assert_eq!(s.put_part("mp-u1", &part(1, "mp-p1b")).await.unwrap(), recorded(None), "the same blob again is not garbage");
    assert_eq!(s.parts("mp-u1").await.unwrap(), [part(1, "mp-p1b"), part(2, "mp-p2"), p3.clone()]);
    assert_eq!(s.put_part("mp-nope", &part(1, "x")).await.unwrap(), PutPart::NoUpload);

    // The checksum type is kept with the upload.
    let mut full = upload("mp-full", "mp", "k/full");
    full.template.checksum = Some(("x-amz-checksum-crc64nvme".into(), String::new()));
    full.full_object_checksum = true;
    assert!(s.create_upload(&full).await.unwrap());
    assert_eq!(s.upload("mp-full").await.unwrap(), Some(full), "a full-object checksum upload");
    assert!(s.abort_upload("mp-full").await.unwrap().is_some());

    // Another upload of the same key is independent of this one.
    assert!(s.create_upload(&upload("mp-u2", "mp", "k/ü")).await.unwrap());
    assert_eq!(s.put_part("mp-u2", &part(1, "mp-u2-p1")).await.unwrap(), recorded(None));

    // Completing over an existing object: the parts and the old object's blob are garbage.
    put(s, &object("mp", "k/ü", "mp-old")).await;
    assert_eq!(found(s, "mp", "k/ü").await.blob_id, "mp-old");
    let done = ObjectMeta {
        blob_id: "mp-final".into(),
        parts_count: Some(3),
        part_sizes: vec![5 << 20, 5 << 20, 17],
        content_type: Some("video/mp4".into()),
        ..object("mp", "k/ü", "x")
    };
    // A condition the object at the key fails changes nothing.
    assert_eq!(s.complete_upload("mp-u1", &done, &WriteCondition::NotExists).await.unwrap(), Completion::ConditionFailed);
    let wrong = WriteCondition::EtagMatches("\"not-it\"".into());
    assert_eq!(s.complete_upload("mp-u1", &done, &wrong).await.unwrap(), Completion::ConditionFailed);
    assert_eq!(found(s, "mp", "k/ü").await.blob_id, "mp-old");
    assert!(s.upload("mp-u1").await.unwrap().is_some(), "the upload is kept");
    let old_etag = found(s, "mp", "k/ü").await.etag;
    let Completion::Completed(garbage) = s.complete_upload("mp-u1", &done, &WriteCondition::EtagMatches(old_etag)).await.unwrap() else {
        panic!("the upload exists and the condition holds")
    };
    assert_eq!(sorted(&garbage), ["mp-old", "mp-p1b", "mp-p2", "mp-p3"]);
    assert_eq!(found(s, "mp", "k/ü").await, done);
    assert_eq!(s.upload("mp-u1").await.unwrap(), None, "the upload is forgotten");
    assert_eq!(s.parts("mp-u1").await.unwrap(), [], "with its parts");
    assert_eq!(s.complete_upload("mp-u1", &done, &WriteCondition::None).await.unwrap(), Completion::NoUpload, "already completed");
    assert_eq!(s.abort_upload("mp-u1").await.unwrap(), None);
    assert_eq!(s.put_part("mp-u1", &part(4, "late")).await.unwrap(), PutPart::NoUpload);
    assert_eq!(s.parts("mp-u2").await.unwrap(), [part(1, "mp-u2-p1")], "the other upload is untouched");

    // A completion whose object is one of its parts' blobs (a store that can reuse
    // it): that blob is live; the replaced object's blob is garbage.
    let reused = ObjectMeta { blob_id: "mp-u2-p1".into(), parts_count: Some(1), ..object("mp", "k/ü", "x") };
    assert_eq!(
        s.complete_upload("mp-u2", &reused, &WriteCondition::None).await.unwrap(),
        Completion::Completed(vec!["mp-final".to_owned()])
    );
    assert_eq!(found(s, "mp", "k/ü").await, reused);

    // A completion that makes a new key replaces nothing.
    assert!(s.create_upload(&upload("mp-u3", "mp", "fresh")).await.unwrap());
    assert_eq!(s.put_part("mp-u3", &part(1, "mp-u3-p1")).await.unwrap(), recorded(None));
    let fresh = object("mp", "fresh", "mp-u3-obj");
    assert_eq!(
        s.complete_upload("mp-u3", &fresh, &WriteCondition::NotExists).await.unwrap(),
        Completion::Completed(vec!["mp-u3-p1".to_owned()])
    );
    assert_eq!(found(s, "mp", "fresh").await, fresh);

    // Abort: the parts are garbage, the object is untouched.
    assert!(s.create_upload(&upload("mp-u4", "mp", "k/ü")).await.unwrap());
    for (n, b) in [(1, "mp-u4-a"), (2, "mp-u4-b")] {
        assert_eq!(s.put_part("mp-u4", &part(n, b)).await.unwrap(), recorded(None));
    }
    assert_eq!(sorted(&s.abort_upload("mp-u4").await.unwrap().expect("the upload exists")), ["mp-u4-a", "mp-u4-b"]);
    assert_eq!(s.upload("mp-u4").await.unwrap(), None);
    assert_eq!(s.parts("mp-u4").await.unwrap(), []);
    assert_eq!(s.abort_upload("mp-u4").await.unwrap(), None, "already aborted");
    assert_eq!(
        s.complete_upload("mp-u4", &object("mp", "k/ü", "never"), &WriteCondition::None).await.unwrap(),
        Completion::NoUpload,
        "an aborted upload cannot complete"
    );
    assert_eq!(found(s, "mp", "k/ü").await, reused, "abort leaves the object alone");
}

/// Pending uploads list by key, then upload id, under a prefix and after a
/// (key, upload id) position.
pub async fn check_list_uploads(s: &dyn MetaStore) {
    assert!(s.create_bucket("lu", 1).await.unwrap());
    assert!(s.create_bucket("lu-other", 1).await.unwrap());
    for (id, key) in [("u3", "a/2"), ("u1", "a/1"), ("u2", "a/1"), ("u4", "b"), ("u0", "a/1")] {
        assert!(s.create_upload(&upload(&format!("lu-{id}"), "lu", key)).await.unwrap());
    }
    assert!(s.create_upload(&upload("lu-x", "lu-other", "a/1")).await.unwrap());
    let ids = |v: Vec<UploadInfo>| v.into_iter().map(|u| format!("{}:{}", u.key, u.upload_id)).collect::<Vec<_>>();
    assert_eq!(ids(s.list_uploads("lu", "", ("", ""), 10).await.unwrap()), ["a/1:lu-u0", "a/1:lu-u1", "a/1:lu-u2", "a/2:lu-u3", "b:lu-u4"]);
    assert_eq!(ids(s.list_uploads("lu", "a/", ("", ""), 2).await.unwrap()), ["a/1:lu-u0", "a/1:lu-u1"]);
    assert_eq!(ids(s.list_uploads("lu", "a/", ("a/1", "lu-u1"), 10).await.unwrap()), ["a/1:lu-u2", "a/2:lu-u3"]);
    assert_eq!(ids(s.list_uploads("lu", "", ("a/1", "\u{10FFFF}"), 10).await.unwrap()), ["a/2:lu-u3", "b:lu-u4"]);
    assert_eq!(ids(s.list_uploads("lu", "c", ("", ""), 10).await.unwrap()), Vec::<String>::new());
    assert_eq!(s.list_uploads("lu", "", ("", ""), 10).await.unwrap()[0], upload("lu-u0", "lu", "a/1"), "every field");
    assert_eq!(ids(s.list_uploads("nope", "", ("", ""), 10).await.unwrap()), Vec::<String>::new());

    // Stale uploads: started strictly before the cutoff, oldest first, any bucket.
    let started = |id: &str, ms| UploadInfo { initiated_ms: ms, ..upload(id, "lu-other", "old") };
    assert!(s.create_upload(&started("lu-older", 1_600_000_000_000)).await.unwrap());
    assert!(s.create_upload(&started("lu-old", 1_650_000_000_000)).await.unwrap());
    let stale = |before, limit| async move { ids(s.stale_uploads(before, limit).await.unwrap()) };
    assert_eq!(stale(1_650_000_000_001, 10).await, ["old:lu-older", "old:lu-old"]);
    assert_eq!(stale(1_650_000_000_000, 10).await, ["old:lu-older"], "strictly before");
    assert_eq!(stale(1_700_000_000_001, 3).await.len(), 3);
    assert_eq!(stale(1_700_000_000_001, 100).await.len(), 8);
}

/// Which candidate blobs some object or part still points at.
pub async fn check_referenced_blobs(s: &dyn MetaStore) {
    assert!(s.create_bucket("refs", 1).await.unwrap());
    put(s, &object("refs", "obj", "ref-obj")).await;
    put(s, &object("refs", "gone", "ref-deleted")).await;
    assert_eq!(s.delete_object("refs", "gone").await.unwrap(), Some("ref-deleted".into()));
    assert!(s.create_upload(&upload("refs-u", "refs", "k")).await.unwrap());
    assert_eq!(s.put_part("refs-u", &part(1, "ref-part")).await.unwrap(), recorded(None));
    assert_eq!(s.put_part("refs-u", &part(2, "ref-replaced")).await.unwrap(), recorded(None));
    assert_eq!(s.put_part("refs-u", &part(2, "ref-part2")).await.unwrap(), recorded(Some("ref-replaced")));

    let candidates: Vec<String> =
        ["ref-obj", "ref-deleted", "ref-part", "ref-part2", "ref-replaced", "ref-never"].map(str::to_owned).into();
    let want = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<HashSet<_>>();
    assert_eq!(s.referenced_blobs(&candidates).await.unwrap(), want(&["ref-obj", "ref-part", "ref-part2"]));
    assert_eq!(s.referenced_blobs(&[]).await.unwrap(), want(&[]));

    assert_eq!(
        s.complete_upload("refs-u", &object("refs", "k", "ref-done"), &WriteCondition::None).await.unwrap(),
        Completion::Completed(vec!["ref-part".to_owned(), "ref-part2".to_owned()])
    );
    let after: Vec<String> = ["ref-obj", "ref-part", "ref-part2", "ref-done"].map(str::to_owned).into();
    assert_eq!(s.referenced_blobs(&after).await.unwrap(), want(&["ref-obj", "ref-done"]), "completed parts are no longer referenced");
}

/// Conditional writes and bucket creation are atomic under concurrency: of many
/// racing writers, exactly one wins.
pub async fn check_racing_writes(store: &Arc<dyn MetaStore>) {
    const RACERS: usize = 32;
    let creates = join_all((0..RACERS).map(|i| {
        let s = store.clone();
        tokio::spawn(async move { s.create_bucket("race", i64::try_from(i).unwrap()).await.unwrap() })
    }))
    .await;
    assert_eq!(creates.into_iter().map(Result::unwrap).filter(|c| *c).count(), 1, "one create_bucket wins");

    let race = |cond: WriteCondition, tag: &'static str| {
        join_all((0..RACERS).map(|i| {
            let (s, cond) = (store.clone(), cond.clone());
            tokio::spawn(async move {
                let meta = object("race", "k", &format!("{tag}-{i}"));
                (meta.blob_id.clone(), s.put_object(&meta, &cond).await.unwrap())
            })
        }))
    };
    let outcomes: Vec<(String, WriteOutcome)> = race(WriteCondition::NotExists, "new").await.into_iter().map(Result::unwrap).collect();
    let winners: Vec<&String> = outcomes.iter().filter(|(_, o)| *o == written(None)).map(|(b, _)| b).collect();
    assert_eq!(winners.len(), 1, "one If-None-Match: * wins: {outcomes:?}");
    assert!(outcomes.iter().all(|(_, o)| *o == written(None) || *o == WriteOutcome::ConditionFailed));
    let first = winners[0].clone();
    assert_eq!(found(store.as_ref(), "race", "k").await.blob_id, first);

    let cond = WriteCondition::EtagMatches(format!("\"etag-{first}\""));
    let outcomes: Vec<(String, WriteOutcome)> = race(cond, "next").await.into_iter().map(Result::unwrap).collect();
    let winners: Vec<&String> = outcomes.iter().filter(|(_, o)| matches!(o, WriteOutcome::Written { .. })).map(|(b, _)| b).collect();
    assert_eq!(winners.len(), 1, "one If-Match on the same ETag wins: {outcomes:?}");
    assert_eq!(outcomes.iter().filter(|(_, o)| *o == written(Some(&first))).count(), 1, "and it replaced the first blob");
    assert_eq!(found(store.as_ref(), "race", "k").await.blob_id, *winners[0]);
}

/// A lookup racing a write may see the old row or the new one; once the write has
/// returned, every lookup sees it (no cache keeps what the racing lookup read).
pub async fn check_no_stale_read_after_a_racing_write(store: &Arc<dyn MetaStore>) {
    assert!(store.create_bucket("stale", 1).await.unwrap());
    put(store.as_ref(), &object("stale", "k", "stale-0")).await;
    for i in 1..=50 {
        let next = object("stale", "k", &format!("stale-{i}"));
        let (s, r) = (store.clone(), store.clone());
        let w = next.clone();
        let writer = tokio::spawn(async move { s.put_object(&w, &WriteCondition::None).await.unwrap() });
        let reader = tokio::spawn(async move { r.object("stale", "k").await.unwrap() });
        let (written_now, raced) = (writer.await.unwrap(), reader.await.unwrap());
        assert_eq!(written_now, written(Some(&format!("stale-{}", i - 1))), "round {i}");
        assert!(
            matches!(&raced, Lookup::Found(m) if m.blob_id == next.blob_id || m.blob_id == format!("stale-{}", i - 1)),
            "round {i}: {raced:?}"
        );
        assert_eq!(found(store.as_ref(), "stale", "k").await, next, "round {i}: the write is seen once it returned");
    }
    let (s, r) = (store.clone(), store.clone());
    let deleter = tokio::spawn(async move { s.delete_object("stale", "k").await.unwrap() });
    let reader = tokio::spawn(async move { r.object("stale", "k").await.unwrap() });
    assert_eq!(deleter.await.unwrap(), Some("stale-50".into()));
    reader.await.unwrap();
    assert_eq!(store.object("stale", "k").await.unwrap(), Lookup::NoKey, "the delete is seen once it returned");
}
