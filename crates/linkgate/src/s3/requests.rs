//! Small XML request bodies, read into what the handlers act on: DeleteObjects,
//! CompleteMultipartUpload, bucket CORS. Pure (no I/O), so the fuzzer and unit
//! tests reach exactly what the server runs.

use super::checksum::ChecksumAlgorithm;
use super::error::S3Error;
use super::xml::{self, XmlWriter};

/// Most keys one DeleteObjects request may name (S3: 1000).
pub const MAX_DELETE_KEYS: usize = 1000;

/// A DeleteObjects (`POST ?delete`) body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteRequest {
    /// `<Quiet>true</Quiet>`: report only errors.
    pub quiet: bool,
    /// The keys, in order.
    pub keys: Vec<String>,
}

/// Reads a `<Delete>` document: 1 to [`MAX_DELETE_KEYS`] `<Object>`s, each with a
/// `<Key>`; anything else is `MalformedXML`, as S3 answers.
pub fn parse_delete(doc: &[u8]) -> Result<DeleteRequest, S3Error> {
    let root = xml::parse(doc).filter(|r| r.name == "Delete").ok_or_else(S3Error::malformed_xml)?;
    let quiet = root.child_text("Quiet").is_some_and(|q| q.trim().eq_ignore_ascii_case("true"));
    let keys: Vec<String> = root.children_named("Object").filter_map(|o| o.child_text("Key").map(str::to_owned)).collect();
    if keys.is_empty() || keys.len() > MAX_DELETE_KEYS || keys.len() != root.children_named("Object").count() {
        return Err(S3Error::malformed_xml());
    }
    Ok(DeleteRequest { quiet, keys })
}

/// One `<Part>` of a CompleteMultipartUpload body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedPart {
    /// The part number.
    pub number: u32,
    /// Its ETag, without quotes.
    pub etag: String,
    /// Its checksum as the client has it (`<ChecksumCRC32>` and the like), which
    /// must be the stored one.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

/// Reads a `<CompleteMultipartUpload>` document, parts in the order given: at
/// least one, numbers strictly ascending (`InvalidPartOrder` otherwise), each
/// with a number and an ETag (`MalformedXML`).
pub fn parse_complete(doc: &[u8]) -> Result<Vec<CompletedPart>, S3Error> {
    let root = xml::parse(doc).filter(|r| r.name == "CompleteMultipartUpload").ok_or_else(S3Error::malformed_xml)?;
    let mut requested = Vec::new();
    for p in root.children_named("Part") {
        let number = p.child_text("PartNumber").and_then(|n| n.trim().parse::<u32>().ok()).ok_or_else(S3Error::malformed_xml)?;
        let etag = p.child_text("ETag").map(|e| e.trim().trim_matches('"').to_owned()).ok_or_else(S3Error::malformed_xml)?;
        let checksum = ChecksumAlgorithm::ALL
            .into_iter()
            .find_map(|a| p.child_text(&format!("Checksum{}", a.algorithm_name())).map(|v| (a, v.trim().to_owned())));
        requested.push(CompletedPart { number, etag, checksum });
    }
    if requested.is_empty() {
        return Err(S3Error::malformed_xml());
    }
    if requested.windows(2).any(|w| w[0].number >= w[1].number) {
        return Err(S3Error::new(
            "InvalidPartOrder",
            400,
            "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
        ));
    }
    Ok(requested)
}

/// One `<CORSRule>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorsRule {
    /// `<ID>`.
    pub id: Option<String>,
    /// `<AllowedOrigin>`s (at most one `*` each).
    pub origins: Vec<String>,
    /// `<AllowedMethod>`s: GET, PUT, POST, DELETE, HEAD.
    pub methods: Vec<String>,
    /// `<AllowedHeader>`s (at most one `*` each).
    pub headers: Vec<String>,
    /// `<ExposeHeader>`s.
    pub expose: Vec<String>,
    /// `<MaxAgeSeconds>`.
    pub max_age: Option<u64>,
}

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/// Parses and validates a `CORSConfiguration` document (PutBucketCors).
pub fn parse_cors(doc: &[u8]) -> Result<Vec<CorsRule>, S3Error> {
    let root = xml::parse(doc).filter(|r| r.name == "CORSConfiguration").ok_or_else(S3Error::malformed_xml)?;
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
            return Err(S3Error::malformed_xml());
        }
        if let Some(bad) = rule.methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
            return Err(S3Error::invalid_request(format!("Found unsupported HTTP method in CORS config. Unsupported method is {bad}")));
        }
        if rule.origins.iter().chain(rule.headers.iter()).any(|o| o.matches('*').count() > 1) {
            return Err(S3Error::invalid_request("AllowedOrigin and AllowedHeader can have at most one * wildcard"));
        }
        rules.push(rule);
    }
    if rules.is_empty() || rules.len() > 100 {
        return Err(S3Error::malformed_xml());
    }
    Ok(rules)
}

/// The stored (and GetBucketCors) form of `rules`; [`parse_cors`] reads it back
/// to the same rules.
pub fn render_cors(rules: &[CorsRule]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_bodies() {
        let d = parse_delete(b"<Delete><Quiet>TRUE</Quiet><Object><Key>a</Key></Object><Object><Key>b/c</Key></Object></Delete>").unwrap();
        assert_eq!(d, DeleteRequest { quiet: true, keys: vec!["a".into(), "b/c".into()] });
        for bad in [&b"<Delete></Delete>"[..], b"<Delete><Object></Object></Delete>", b"<Other/>", b"not xml"] {
            assert_eq!(parse_delete(bad).unwrap_err().code, "MalformedXML");
        }
        let many = format!("<Delete>{}</Delete>", "<Object><Key>k</Key></Object>".repeat(MAX_DELETE_KEYS + 1));
        assert_eq!(parse_delete(many.as_bytes()).unwrap_err().code, "MalformedXML");
    }

    #[test]
    fn complete_bodies() {
        let doc = br#"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part>
<Part><PartNumber> 3 </PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>"#;
        let parts: Vec<_> = parse_complete(doc).unwrap().into_iter().map(|p| (p.number, p.etag, p.checksum)).collect();
        assert_eq!(parts, [(1, "a".to_owned(), None), (3, "b".to_owned(), None)]);
        let with_crc = br#"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag><ChecksumCRC32> AAAAAA== </ChecksumCRC32></Part></CompleteMultipartUpload>"#;
        assert_eq!(parse_complete(with_crc).unwrap()[0].checksum, Some((ChecksumAlgorithm::Crc32, "AAAAAA==".to_owned())));
        let unordered = b"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part><Part><PartNumber>2</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>";
        assert_eq!(parse_complete(unordered).unwrap_err().code, "InvalidPartOrder");
        for bad in [&b"<CompleteMultipartUpload/>"[..], b"<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>"] {
            assert_eq!(parse_complete(bad).unwrap_err().code, "MalformedXML");
        }
    }
}
