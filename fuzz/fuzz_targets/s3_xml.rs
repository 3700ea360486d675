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
//! The CompleteMultipartUpload, DeleteObjects and CORS readers are the server's own,
//! from `linkgate::s3::requests`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use linkgate::cli::refresh::parse_assume_role;
use linkgate::s3::requests::{MAX_DELETE_KEYS, parse_complete, parse_cors, parse_delete, render_cors};
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

fuzz_target!(|data: &[u8]| {
    if let Some(root) = xml::parse(data) {
        assert!(depth(&root) <= 17, "a tree {} deep", depth(&root));
        if all_names_plain(&root) {
            // The readers see the same document, rewritten.
            let mut w = XmlWriter::document();
            write(&mut w, &root);
            let doc = w.finish();
            assert_eq!(parse_complete(doc.as_bytes()).ok(), parse_complete(data).ok());
            assert_eq!(parse_delete(doc.as_bytes()).ok(), parse_delete(data).ok());
        }
        if all_names_plain(&root) {
            let mut w = XmlWriter::document();
            write(&mut w, &root);
            let doc = w.finish();
            assert_eq!(xml::parse(doc.as_bytes()).as_ref(), Some(&root), "rewritten as {doc:?}");
        }
    }
    if let Ok(parts) = parse_complete(data) {
        assert!(!parts.is_empty() && parts.windows(2).all(|w| w[0].number < w[1].number), "{parts:?}");
        assert!(parts.iter().all(|p| !p.etag.starts_with('"') && !p.etag.ends_with('"')), "{parts:?}");
    }
    if let Ok(delete) = parse_delete(data) {
        assert!((1..=MAX_DELETE_KEYS).contains(&delete.keys.len()));
    }
    if let Ok(rules) = parse_cors(data) {
        let stored = render_cors(&rules);
        assert_eq!(parse_cors(stored.as_bytes()).ok(), Some(rules), "stored as {stored:?}");
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
