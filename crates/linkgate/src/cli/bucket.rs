//! `linkgate bucket ls|mb|rb|cors`: buckets through the S3 API of a running
//! server, signed like every other CLI call (credentials as the AWS CLI reads
//! them), so a user needs no second tool for the basics.
//!
//! What goes on the wire is built by plain functions ([`delete_body`],
//! [`cors_xml`], [`parse_bucket_list`], [`parse_key_page`]) that tests check
//! without a server.

use std::io::Read as _;

use base64::Engine as _;
use clap::{Args, Subcommand};
use md5::{Digest as _, Md5};
use serde_json::{Value, json};
use sha2::Sha256;
use sigv4::{AmzDate, PathMode};

use super::CliError;
use super::admin::{AdminClient, AdminOptions, ApiResponse, Route, Signer, SigningTarget, path_segment, sign_parts};
use crate::s3::xml::{self, XmlWriter};

/// Keys deleted per DeleteObjects call (S3's maximum).
const DELETE_BATCH: usize = 1000;

/// `linkgate bucket …`.
#[derive(Debug, Subcommand)]
pub enum BucketCommand {
    /// List buckets.
    Ls(BucketLsArgs),
    /// Make a bucket.
    Mb(BucketNameArgs),
    /// Remove a bucket (with --force, every object in it first).
    Rb(BucketRbArgs),
    /// Show, set or remove a bucket's CORS rules.
    #[command(subcommand)]
    Cors(CorsCommand),
}

/// Arguments of `linkgate bucket ls`.
#[derive(Debug, Args)]
pub struct BucketLsArgs {
    /// Server, credentials, output.
    #[command(flatten)]
    pub opts: AdminOptions,
}

/// A bucket name and the common options.
#[derive(Debug, Args)]
pub struct BucketNameArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    /// Server, credentials, output.
    #[command(flatten)]
    pub opts: AdminOptions,
}

/// Arguments of `linkgate bucket rb`.
#[derive(Debug, Args)]
pub struct BucketRbArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    /// Delete every object in the bucket first (pending multipart uploads go with the bucket).
    #[arg(long)]
    pub force: bool,
    /// Server, credentials, output.
    #[command(flatten)]
    pub opts: AdminOptions,
}

/// `linkgate bucket cors …`.
#[derive(Debug, Subcommand)]
pub enum CorsCommand {
    /// Print the bucket's CORS configuration (S3 XML).
    Get(BucketNameArgs),
    /// Set the bucket's CORS rules from FILE (- for standard input): S3's
    /// CORSConfiguration XML, or the AWS CLI's JSON ({"CORSRules": [...]}).
    Set(CorsSetArgs),
    /// Remove the bucket's CORS rules.
    Delete(BucketNameArgs),
}

/// Arguments of `linkgate bucket cors set`.
#[derive(Debug, Args)]
pub struct CorsSetArgs {
    /// The bucket.
    #[arg(value_name = "BUCKET")]
    pub bucket: String,
    /// The rules, XML or JSON; - reads standard input.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Server, credentials, output.
    #[command(flatten)]
    pub opts: AdminOptions,
}

/// Runs a `linkgate bucket` command.
pub fn run(cmd: &BucketCommand) -> Result<(), CliError> {
    match cmd {
        BucketCommand::Ls(a) => {
            let s3 = S3Client::new(&a.opts)?;
            let buckets = parse_bucket_list(&s3.ok("GET", "/", "", Vec::new())?.body)?;
            if a.opts.json {
                let list: Vec<Value> = buckets.iter().map(|(name, created)| json!({"name": name, "created": created})).collect();
                println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
            } else {
                for (name, created) in buckets {
                    println!("{}  {name}", created.replace('T', " ").trim_end_matches('Z').split('.').next().unwrap_or(""));
                }
            }
            Ok(())
        }
        BucketCommand::Mb(a) => {
            let s3 = S3Client::new(&a.opts)?;
            s3.ok("PUT", &bucket_path(&a.bucket), "", Vec::new())?;
            eprintln!("make_bucket: {}", a.bucket);
            Ok(())
        }
        BucketCommand::Rb(a) => {
            let s3 = S3Client::new(&a.opts)?;
            let path = bucket_path(&a.bucket);
            if a.force {
                let deleted = empty_bucket(&s3, &path)?;
                if deleted > 0 {
                    eprintln!("deleted {deleted} object{} from {}", if deleted == 1 { "" } else { "s" }, a.bucket);
                }
            }
            s3.ok("DELETE", &path, "", Vec::new())?;
            eprintln!("remove_bucket: {}", a.bucket);
            Ok(())
        }
        BucketCommand::Cors(CorsCommand::Get(a)) => {
            let s3 = S3Client::new(&a.opts)?;
            let resp = s3.ok("GET", &bucket_path(&a.bucket), "cors", Vec::new())?;
            println!("{}", String::from_utf8_lossy(&resp.body).trim());
            Ok(())
        }
        BucketCommand::Cors(CorsCommand::Set(a)) => {
            let text = read_file_or_stdin(&a.file)?;
            let body = cors_xml(&text)?;
            let s3 = S3Client::new(&a.opts)?;
            s3.ok("PUT", &bucket_path(&a.bucket), "cors", body.into_bytes())?;
            eprintln!("set the CORS rules of {}", a.bucket);
            Ok(())
        }
        BucketCommand::Cors(CorsCommand::Delete(a)) => {
            let s3 = S3Client::new(&a.opts)?;
            s3.ok("DELETE", &bucket_path(&a.bucket), "cors", Vec::new())?;
            eprintln!("removed the CORS rules of {}", a.bucket);
            Ok(())
        }
    }
}

/// `/bucket`, encoded as S3 signs it.
fn bucket_path(bucket: &str) -> String {
    format!("/{}", path_segment(bucket))
}

/// Deletes every object of the bucket at `path`, a page at a time; how many.
fn empty_bucket(s3: &S3Client, path: &str) -> Result<usize, CliError> {
    let mut deleted = 0;
    loop {
        // Always the first page: what was on it is gone now.
        let page = parse_key_page(&s3.ok("GET", path, "list-type=2&max-keys=1000", Vec::new())?.body)?;
        if page.is_empty() {
            return Ok(deleted);
        }
        for batch in page.chunks(DELETE_BATCH) {
            let resp = s3.ok("POST", path, "delete", delete_body(batch).into_bytes())?;
            let text = String::from_utf8_lossy(&resp.body);
            if let Some(root) = xml::parse(text.as_bytes())
                && let Some(err) = root.child("Error")
            {
                let key = err.child_text("Key").unwrap_or("");
                let message = err.child_text("Message").unwrap_or("");
                return Err(CliError::failure(format!("cannot delete {key}: {message}")));
            }
            deleted += batch.len();
        }
    }
}

/// The DeleteObjects document for `keys` (quiet: only failures come back).
pub fn delete_body(keys: &[String]) -> String {
    let mut w = XmlWriter::document();
    w.open("Delete");
    w.element("Quiet", "true");
    for key in keys {
        w.open("Object");
        w.element("Key", key);
        w.close("Object");
    }
    w.close("Delete");
    w.finish()
}

/// (name, creation date) of every bucket in a ListAllMyBucketsResult.
pub fn parse_bucket_list(body: &[u8]) -> Result<Vec<(String, String)>, CliError> {
    let root = xml::parse(body).ok_or_else(|| CliError::failure("the server's bucket list is not XML"))?;
    let buckets = root.child("Buckets").map(|b| b.children_named("Bucket").collect::<Vec<_>>()).unwrap_or_default();
    Ok(buckets
        .into_iter()
        .map(|b| (b.child_text("Name").unwrap_or("").to_owned(), b.child_text("CreationDate").unwrap_or("").to_owned()))
        .collect())
}

/// The keys of a ListObjectsV2 page.
pub fn parse_key_page(body: &[u8]) -> Result<Vec<String>, CliError> {
    let root = xml::parse(body).ok_or_else(|| CliError::failure("the server's object list is not XML"))?;
    Ok(root.children_named("Contents").filter_map(|c| c.child_text("Key")).map(str::to_owned).collect())
}

/// CORS rules as S3's XML: `text` as is if it is XML, converted if it is the
/// AWS CLI's JSON (`{"CORSRules": [{"AllowedOrigins": [...], ...}]}`).
pub fn cors_xml(text: &str) -> Result<String, CliError> {
    let text = text.trim();
    if text.starts_with('<') {
        return Ok(text.to_owned());
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| CliError::usage(format!("CORS rules are neither XML nor JSON: {e}")))?;
    let rules = doc.get("CORSRules").and_then(Value::as_array).ok_or_else(|| CliError::usage("CORS JSON needs a \"CORSRules\" list"))?;
    let mut w = XmlWriter::document();
    w.open_root("CORSConfiguration");
    for rule in rules {
        w.open("CORSRule");
        if let Some(id) = rule.get("ID").and_then(Value::as_str) {
            w.element("ID", id);
        }
        for (list, element) in [
            ("AllowedOrigins", "AllowedOrigin"),
            ("AllowedMethods", "AllowedMethod"),
            ("AllowedHeaders", "AllowedHeader"),
            ("ExposeHeaders", "ExposeHeader"),
        ] {
            for v in rule.get(list).and_then(Value::as_array).into_iter().flatten() {
                let v = v.as_str().ok_or_else(|| CliError::usage(format!("{list} must be a list of strings")))?;
                w.element(element, v);
            }
        }
        if let Some(secs) = rule.get("MaxAgeSeconds") {
            let secs = secs.as_u64().ok_or_else(|| CliError::usage("MaxAgeSeconds must be a whole number"))?;
            w.element("MaxAgeSeconds", &secs.to_string());
        }
        w.close("CORSRule");
    }
    w.close("CORSConfiguration");
    Ok(w.finish())
}

fn read_file_or_stdin(file: &str) -> Result<String, CliError> {
    if file == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| CliError::failure(format!("cannot read standard input: {e}")))?;
        return Ok(s);
    }
    std::fs::read_to_string(file).map_err(|e| CliError::usage(format!("cannot read {file}: {e}")))
}

/// S3 calls of one CLI run.
struct S3Client {
    client: AdminClient,
}

impl S3Client {
    fn new(opts: &AdminOptions) -> Result<Self, CliError> {
        Ok(Self { client: AdminClient::from_options(opts)? })
    }

    /// Signs and sends one S3 request (`Content-MD5` with any body, which S3's
    /// DeleteObjects and PutBucketCors want); a non-2xx answer is an error
    /// naming S3's code and message.
    fn ok(&self, method: &'static str, path: &str, query: &str, body: Vec<u8>) -> Result<ApiResponse, CliError> {
        let target = SigningTarget { service: "s3", path_mode: PathMode::AsSent, content_type: None, content_sha256_header: true };
        let c = &self.client;
        let signer = Signer { endpoint: &c.endpoint, region: &c.region, creds: c.credentials(), time: AmzDate::now(), cache: c.keys() };
        let extra = if body.is_empty() {
            Vec::new()
        } else {
            vec![("content-md5".to_owned(), base64::engine::general_purpose::STANDARD.encode(Md5::digest(&body)))]
        };
        let hash = sigv4::hex::encode(&Sha256::digest(&body));
        let mut signed = sign_parts(&signer, &target, Route { method, path, query }, &hash, extra);
        signed.body = body;
        let resp = c.send(signed)?;
        if resp.is_success() { Ok(resp) } else { Err(CliError::failure(s3_message(&resp))) }
    }
}

/// One line for an S3 error answer: `Code: Message`, or the status.
pub fn s3_message(resp: &ApiResponse) -> String {
    match xml::parse(&resp.body) {
        Some(root) if root.name == "Error" => {
            let code = root.child_text("Code").unwrap_or("Error");
            match root.child_text("Message") {
                Some(m) => format!("{code}: {m}"),
                None => code.to_owned(),
            }
        }
        _ => format!("HTTP {}", resp.status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_bodies_escape_keys() {
        let body = delete_body(&["a&b".to_owned(), "<k>".to_owned()]);
        let root = xml::parse(body.as_bytes()).unwrap();
        let keys: Vec<_> = root.children_named("Object").map(|o| o.child_text("Key").unwrap().to_owned()).collect();
        assert_eq!(keys, ["a&b", "<k>"]);
        assert_eq!(root.child_text("Quiet"), Some("true"));
    }

    #[test]
    fn cors_from_json_or_xml() {
        let xml_in = "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>";
        assert_eq!(cors_xml(xml_in).unwrap(), xml_in);
        let out = cors_xml(r#"{"CORSRules":[{"ID":"web","AllowedOrigins":["https://a.example"],"AllowedMethods":["GET","PUT"],"AllowedHeaders":["*"],"ExposeHeaders":["ETag"],"MaxAgeSeconds":600}]}"#).unwrap();
        let root = xml::parse(out.as_bytes()).unwrap();
        let rule = root.child("CORSRule").unwrap();
        assert_eq!(rule.child_text("ID"), Some("web"));
        assert_eq!(rule.children_named("AllowedMethod").map(|m| m.text.as_str()).collect::<Vec<_>>(), ["GET", "PUT"]);
        assert_eq!(rule.child_text("MaxAgeSeconds"), Some("600"));
        assert_eq!(cors_xml("{}").unwrap_err().exit_code, 2);
        assert_eq!(cors_xml("nonsense").unwrap_err().exit_code, 2);
    }

    #[test]
    fn listings_and_errors_parse() {
        let list = br#"<ListAllMyBucketsResult><Owner><ID>x</ID></Owner><Buckets><Bucket><Name>a</Name><CreationDate>2026-12-06T10:00:00.000Z</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>"#;
        assert_eq!(parse_bucket_list(list).unwrap(), [("a".to_owned(), "2026-12-06T10:00:00.000Z".to_owned())]);
        let page = br#"<ListBucketResult><Contents><Key>k1</Key></Contents><Contents><Key>k2</Key></Contents></ListBucketResult>"#;
        assert_eq!(parse_key_page(page).unwrap(), ["k1", "k2"]);
        let err = ApiResponse {
            status: 409,
            content_type: None,
            body: b"<Error><Code>BucketNotEmpty</Code><Message>The bucket you tried to delete is not empty</Message></Error>".to_vec(),
        };
        assert_eq!(s3_message(&err), "BucketNotEmpty: The bucket you tried to delete is not empty");
    }
}
