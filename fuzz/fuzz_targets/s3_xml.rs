//! Request-body XML: `linkgate::s3::xml::parse` on arbitrary bytes, then what the
//! handlers read out of the tree (CompleteMultipartUpload, DeleteObjects, bucket CORS),
//! the STS response reader of `linkgate … --refresh`, and the writer's escaping.
//! Must never panic.
//!
//! Properties:
//! - a parsed tree is at most 17 elements deep (16 open elements and an empty one);
//! - a tree with plain names, written back with `XmlWriter`, parses to the same tree;
//! - `escape_into(text)` inside an element parses back to exactly `text`;
//! - a CORS configuration, rendered as PutBucketCors stores it, parses back to the
//!   same rules (GetBucketCors and every preflight read the stored rendering).
//!
//! The CompleteMultipartUpload, DeleteObjects and CORS readers live in
//! `crates/linkgate/src/http/s3/{multipart,bucket,cors}.rs` as crate-private handler
//! code; the functions below mirror them (as of commit 85128dc) on top of the real
//! `xml::parse`. Keep them in step, or better, move those readers into `linkgate::s3`
//! so this target can call them.

#![no_main]

use libfuzzer_sys::fuzz_target;
use linkgate::cli::refresh::parse_assume_role;
use linkgate::s3::xml::{self, Element, XmlWriter, escape_into};

/// A name the writer can emit as-is.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

fn depth(e: &Element) -> usize {
    1 + e.children.iter().map(depth).max().unwrap_or(0)
}

fn all_names_plain(e: &Element) -> bool {
    plain_name(&e.name) && e.children.iter().all(all_names_plain)
}

/// Text first, then the children: what `parse` makes of it is the same element.
fn write(w: &mut XmlWriter, e: &Element) {
    w.open(&e.name);
    w.text(&e.text);
    for c in &e.children {
        write(w, c);
    }
    w.close(&e.name);
}

/// Mirror of `http::s3::multipart::complete`'s reading of the body.
fn complete_multipart(root: &Element) -> Option<Vec<(u32, String)>> {
    if root.name != "CompleteMultipartUpload" {
        return None;
    }
    let mut requested = Vec::new();
    for p in root.children_named("Part") {
        let number = p.child_text("PartNumber").and_then(|n| n.trim().parse::<u32>().ok())?;
        let etag = p.child_text("ETag").map(|e| e.trim().trim_matches('"').to_owned())?;
        requested.push((number, etag));
    }
    if requested.is_empty() {
        return None;
    }
    let _in_order = requested.windows(2).all(|w| w[0].0 < w[1].0);
    Some(requested)
}

/// Mirror of `http::s3::bucket::delete_objects`'s reading of the body.
fn delete_objects(root: &Element) -> Option<(bool, Vec<String>)> {
    if root.name != "Delete" {
        return None;
    }
    let quiet = root.child_text("Quiet").is_some_and(|q| q.trim().eq_ignore_ascii_case("true"));
    let keys: Vec<String> = root.children_named("Object").filter_map(|o| o.child_text("Key").map(str::to_owned)).collect();
    if keys.is_empty() || keys.len() > 1000 || keys.len() != root.children_named("Object").count() {
        return None;
    }
    Some((quiet, keys))
}

/// Mirror of `http::s3::cors::CorsRule`.
#[derive(Debug, PartialEq, Eq)]
struct CorsRule {
    id: Option<String>,
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    expose: Vec<String>,
    max_age: Option<u64>,
}

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/// Mirror of `http::s3::cors::parse_config` (`Err` stands for its S3 errors).
fn cors_parse(doc: &[u8]) -> Result<Vec<CorsRule>, &'static str> {
    let root = xml::parse(doc).filter(|r| r.name == "CORSConfiguration").ok_or("MalformedXML")?;
    let mut rules = Vec::new();
    for r in root.children_named("CORSRule") {
        let texts = |name: &str| r.children_named(name).map(|e| e.text.trim().to_owned()).collect::<Vec<_>>();
        let rule = CorsRule {
            id: r.child_text("ID").map(|s| s.trim().to_owned()),
            origins: texts("AllowedOrigin"),
            methods: texts("AllowedMethod"),
            headers: texts("AllowedHeader"),
            expose: texts("ExposeHeader"),
            max_age: r.child_text("MaxAgeSeconds").and_then(|m| m.trim().parse().ok()),
        };
        if rule.origins.is_empty() || rule.methods.is_empty() {
            return Err("MalformedXML");
        }
        if rule.methods.iter().any(|m| !METHODS.contains(&m.as_str())) {
            return Err("InvalidRequest");
        }
        if rule.origins.iter().chain(rule.headers.iter()).any(|o| o.matches('*').count() > 1) {
            return Err("InvalidRequest");
        }
        rules.push(rule);
    }
    if rules.is_empty() || rules.len() > 100 {
        return Err("MalformedXML");
    }
    Ok(rules)
}

/// Mirror of `http::s3::cors::render_config`.
fn cors_render(rules: &[CorsRule]) -> String {
    let mut w = XmlWriter::document();
    w.open_root("CORSConfiguration");
    for r in rules {
        w.open("CORSRule");
        if let Some(id) = &r.id {
            w.element("ID", id);
        }
        for (tag, list) in
            [("AllowedHeader", &r.headers), ("AllowedMethod", &r.methods), ("AllowedOrigin", &r.origins), ("ExposeHeader", &r.expose)]
        {
            for v in list {
                w.element(tag, v);
            }
        }
        if let Some(m) = r.max_age {
            w.element("MaxAgeSeconds", &m.to_string());
        }
        w.close("CORSRule");
    }
    w.close("CORSConfiguration");
    w.finish()
}

fuzz_target!(|data: &[u8]| {
    if let Some(root) = xml::parse(data) {
        assert!(depth(&root) <= 17, "a tree {} deep", depth(&root));
        let _ = complete_multipart(&root);
        let _ = delete_objects(&root);
        if all_names_plain(&root) {
            let mut w = XmlWriter::document();
            write(&mut w, &root);
            let doc = w.finish();
            assert_eq!(xml::parse(doc.as_bytes()).as_ref(), Some(&root), "rewritten as {doc:?}");
        }
    }
    if let Ok(rules) = cors_parse(data) {
        let stored = cors_render(&rules);
        assert_eq!(cors_parse(stored.as_bytes()), Ok(rules), "stored as {stored:?}");
    }

    let text = String::from_utf8_lossy(data);
    let _ = parse_assume_role(200, &text);

    // The writer's escaping survives the reader, whatever the text.
    let mut doc = String::from("<a>");
    escape_into(&mut doc, &text);
    doc.push_str("</a>");
    let parsed = xml::parse(doc.as_bytes());
    assert_eq!(parsed.as_ref().map(|e| e.text.as_str()), Some(&*text), "escaped as {doc:?}");
    let mut w = XmlWriter::document();
    w.open_root("R");
    w.element("K", &text);
    w.close("R");
    let doc = w.finish();
    let parsed = xml::parse(doc.as_bytes());
    assert_eq!(parsed.as_ref().and_then(|r| r.child_text("K")), Some(&*text), "written as {doc:?}");
});
