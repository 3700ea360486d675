//! `linkgate share FILE`: upload a file and hand out a link to it in one step.
//!
//! Creates the bucket when missing (S3 CreateBucket), uploads the file with one
//! PutObject streamed from disk (SigV4, `UNSIGNED-PAYLOAD`), creates a broker link
//! through the admin API, and prints its URL (and a QR code on a terminal).
//!
//! The pure parts ([`default_key`], [`object_path`], [`sign_upload`],
//! [`render_qr`], [`check_size`], [`link_body`]) are plain functions tested
//! without a server.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use clap::Args;
use clap::builder::{NonEmptyStringValueParser, PossibleValuesParser};
use futures_util::StreamExt as _;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use sigv4::encode::encode;
use sigv4::{AmzDate, PathMode, SigningKeyCache, UNSIGNED_PAYLOAD};

use super::admin::{
    AdminClient, AdminOptions, ApiResponse, Endpoint, Route, SignedRequest, Signer, SigningTarget, path_segment, problem_message,
    resolve_endpoint, resolve_region, sign_body, sign_parts, transport_message,
};
use super::links::{DELIVERIES, check_password, create_link, read_password_stdin};
use super::{CliError, human_duration};
use crate::credentials::{self, AwsCredentials, ProcessEnvironment};

/// The largest object one PutObject may carry (as in S3): 5 GiB.
pub const MAX_SINGLE_UPLOAD: u64 = 5 << 30;
/// Files larger than this show a progress line (on a terminal).
pub const PROGRESS_THRESHOLD: u64 = 8 << 20;

/// Arguments of `linkgate share`.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The file to share.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Bucket to upload to (created if missing).
    #[arg(long, value_name = "BUCKET", default_value = "shared", value_parser = NonEmptyStringValueParser::new())]
    pub bucket: String,
    /// Object key (default: a random 8-hex-digit folder and the file's name).
    #[arg(long, value_name = "KEY", value_parser = NonEmptyStringValueParser::new())]
    pub key: Option<String>,
    /// Lifetime of the link in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub expires_in: u64,
    /// How many times the link may be used.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_uses: Option<u64>,
    /// File name offered to the browser (default: the file's name).
    #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub filename: Option<String>,
    /// stream: linkgate sends the bytes (default); redirect: a 302 to a short-lived presigned URL.
    #[arg(long, value_name = "HOW", value_parser = PossibleValuesParser::new(DELIVERIES))]
    pub delivery: Option<String>,
    /// Protect the link with a password, read from the first line of standard input
    /// (e.g. `printf '%s\n' "$PW" | linkgate share FILE --password-stdin`). There is
    /// deliberately no flag that takes the password itself: it would show in `ps` and
    /// in shell history.
    #[arg(long)]
    pub password_stdin: bool,
    /// Do not print a QR code of the URL.
    #[arg(long)]
    pub no_qr: bool,
    /// Server, credentials, output.
    #[command(flatten)]
    pub opts: AdminOptions,
}

/// The file's own name (last path component), for the key and the download name.
pub fn file_name(path: &Path) -> Result<String, CliError> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| CliError::usage(format!("{} does not name a file", path.display())))
}

/// `<random>/<name>`: a fresh folder per share, so equal file names do not collide.
pub fn default_key(random_hex: &str, name: &str) -> String {
    format!("{random_hex}/{name}")
}

/// Refuses what one PutObject cannot carry.
pub fn check_size(path: &Path, size: u64) -> Result<(), CliError> {
    if size > MAX_SINGLE_UPLOAD {
        return Err(CliError::usage(format!(
            "{} is {:.1} GiB: one upload may carry at most 5 GiB; split the file (or compress it) and share the parts",
            path.display(),
            size as f64 / f64::from(1u32 << 30)
        )));
    }
    Ok(())
}

/// `/bucket/key` as sent and signed (S3 path style; `/` in the key kept).
pub fn object_path(bucket: &str, key: &str) -> String {
    format!("/{}/{}", path_segment(bucket), encode(key, true))
}

/// The JSON body of `POST /-/api/v1/links` for the uploaded object `key` (whose
/// file is called `name`), with the password `--password-stdin` read.
pub fn link_body(args: &ShareArgs, key: &str, name: &str, password: Option<&str>) -> Result<Value, CliError> {
    let mut body = json!({"bucket": args.bucket, "key": key, "method": "GET", "expires_in": args.expires_in,
                          "filename": args.filename.as_deref().unwrap_or(name)});
    if let Some(n) = args.max_uses {
        body["max_uses"] = json!(n);
    }
    if let Some(d) = &args.delivery {
        body["delivery"] = json!(d);
    }
    match (password, args.password_stdin) {
        (Some(p), _) => {
            check_password(p)?;
            body["password"] = json!(p);
        }
        (None, true) => return Err(CliError::usage("--password-stdin: no password was read")),
        (None, false) => {}
    }
    Ok(body)
}

/// Signs a PutObject of `size` bytes whose body is not hashed (`UNSIGNED-PAYLOAD`).
pub fn sign_upload(signer: &Signer<'_>, path: &str, size: u64) -> SignedRequest {
    let target = SigningTarget {
        service: "s3",
        path_mode: PathMode::AsSent,
        content_type: Some("application/octet-stream"),
        content_sha256_header: true,
    };
    let extra = vec![("content-length".to_owned(), size.to_string())];
    sign_parts(signer, &target, Route { method: "PUT", path, query: "" }, UNSIGNED_PAYLOAD, extra)
}

/// A QR code of `data` drawn with Unicode half blocks, two modules per character
/// cell vertically, with a quiet zone. Light modules are drawn (`█`), dark ones
/// left blank, which reads right on the usual light-on-dark terminal.
pub fn render_qr(data: &str) -> Result<String, CliError> {
    const QUIET: usize = 2;
    let code = qrcode::QrCode::new(data.as_bytes()).map_err(|e| CliError::failure(format!("cannot make a QR code of the URL: {e}")))?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET;
    let light = |x: usize, y: usize| -> bool {
        if x < QUIET || y < QUIET || x >= width + QUIET || y >= width + QUIET {
            return true;
        }
        colors[(y - QUIET) * width + (x - QUIET)] == qrcode::Color::Light
    };
    let mut out = String::new();
    for row in (0..size).step_by(2) {
        for x in 0..size {
            let top = light(x, row);
            let bottom = row + 1 >= size || light(x, row + 1);
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

/// Runs `linkgate share`.
pub fn run(args: &ShareArgs) -> Result<(), CliError> {
    let name = file_name(&args.file)?;
    let meta = std::fs::metadata(&args.file).map_err(|e| CliError::usage(format!("cannot read {}: {e}", args.file.display())))?;
    if !meta.is_file() {
        return Err(CliError::usage(format!("{} is not a regular file", args.file.display())));
    }
    let size = meta.len();
    check_size(&args.file, size)?;
    let key = args.key.clone().unwrap_or_else(|| default_key(&crate::ids::random_hex(4), &name));
    // Read before anything is uploaded, so a missing password costs no upload.
    let password = if args.password_stdin { Some(read_password_stdin()?) } else { None };
    let body = link_body(args, &key, &name, password.as_deref())?;

    let env = ProcessEnvironment;
    let endpoint = resolve_endpoint(args.opts.endpoint_url.as_deref(), &env)?;
    let region = resolve_region(args.opts.region.as_deref(), &env, args.opts.profile.as_deref());
    let creds = credentials::load(&env, args.opts.profile.as_deref()).map_err(|e| CliError::failure(e.to_string()))?;
    let client = AdminClient::new(endpoint.clone(), region.clone(), creds.clone())?;
    let cache = SigningKeyCache::new(1);

    ensure_bucket(&client, &creds, &cache, &args.bucket)?;
    let signer = Signer { endpoint: &endpoint, region: &region, creds: &creds, time: AmzDate::now(), cache: &cache };
    let signed = sign_upload(&signer, &object_path(&args.bucket, &key), size);
    let progress = size > PROGRESS_THRESHOLD && std::io::stderr().is_terminal();
    upload(&endpoint, signed, &args.file, size, progress)?;

    let link = create_link(&client, body)?;
    let url = link.get("url").and_then(Value::as_str).unwrap_or_default().to_owned();

    if args.opts.json {
        let out = json!({"url": url, "link": link, "bucket": args.bucket, "key": key, "size": size});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        let uses = args.max_uses.map_or_else(String::new, |n| format!(", {n} use{}", if n == 1 { "" } else { "s" }));
        let guarded = if password.is_some() { ", with a password" } else { "" };
        eprintln!(
            "Uploaded {name} ({size} bytes) to s3://{}/{key}; the link works for {}{uses}{guarded}.",
            args.bucket,
            human_duration(i64::try_from(args.expires_in).unwrap_or(i64::MAX))
        );
        eprintln!("The URL is shown only this once: linkgate keeps only a hash of its token.");
        println!("{url}");
        if !args.no_qr && std::io::stdout().is_terminal() {
            println!("\n{}", render_qr(&url)?);
        }
    }
    Ok(())
}

/// Creates `bucket`, accepting one that already exists and is ours.
fn ensure_bucket(client: &AdminClient, creds: &AwsCredentials, cache: &SigningKeyCache, bucket: &str) -> Result<(), CliError> {
    let target = SigningTarget { service: "s3", path_mode: PathMode::AsSent, content_type: None, content_sha256_header: true };
    let path = format!("/{}", path_segment(bucket));
    let signer = Signer { endpoint: &client.endpoint, region: &client.region, creds, time: AmzDate::now(), cache };
    let signed = sign_body(&signer, &target, Route { method: "PUT", path: &path, query: "" }, Vec::new());
    let resp = client.send(signed)?;
    if resp.is_success() || (resp.status == 409 && String::from_utf8_lossy(&resp.body).contains("<Code>BucketAlreadyOwnedByYou</Code>")) {
        return Ok(());
    }
    Err(CliError::failure(format!("cannot create bucket {bucket}: {}", problem_message(&resp))))
}

/// Streams `file` as the body of `signed` and checks the answer.
fn upload(endpoint: &Endpoint, signed: SignedRequest, file: &Path, size: u64, progress: bool) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the I/O runtime: {e}")))?;
    let url = format!("http://{}{}", endpoint.authority, signed.path_and_query);
    let display = endpoint.display.clone();
    let label = file.display().to_string();
    let result = runtime.block_on(async {
        let f = tokio::fs::File::open(file).await.map_err(|e| CliError::usage(format!("cannot open {label}: {e}")))?;
        let mut sent: u64 = 0;
        let mut shown: Option<u64> = None;
        let stream = tokio_util::io::ReaderStream::with_capacity(f, 256 << 10).map(move |chunk| {
            let chunk = chunk?;
            if progress {
                sent += chunk.len() as u64;
                let pct = sent.saturating_mul(100) / size.max(1);
                if shown != Some(pct) {
                    shown = Some(pct);
                    eprint!("\rUploading {label}: {pct:3}%");
                }
            }
            Ok::<_, std::io::Error>(Frame::data(chunk))
        });
        let body: BoxBody<Bytes, std::io::Error> = BodyExt::boxed(StreamBody::new(stream));
        let mut builder = hyper::Request::builder().method("PUT").uri(&url);
        for (n, v) in &signed.headers {
            builder = builder.header(n.as_str(), v.as_str());
        }
        let request = builder.body(body).map_err(|e| CliError::usage(format!("cannot build a request for {url}: {e}")))?;
        let client: Client<HttpConnector, BoxBody<Bytes, std::io::Error>> = Client::builder(TokioExecutor::new()).build_http();
        let resp = client.request(request).await.map_err(|e| CliError::failure(transport_message(&display, &e)))?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, 1 << 20)
            .collect()
            .await
            .map_err(|e| CliError::failure(format!("reading the answer from {display}: {e}")))?
            .to_bytes();
        let content_type = parts.headers.get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok::<_, CliError>(ApiResponse { status: parts.status.as_u16(), content_type, body: body.to_vec() })
    });
    if progress {
        eprintln!();
    }
    let resp = result?;
    if resp.is_success() {
        Ok(())
    } else {
        Err(CliError::failure(format!("uploading {} failed: {}", file.display(), problem_message(&resp))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::admin::parse_endpoint;
    use crate::cli::{Command, parse_from};

    fn parse(args: &[&str]) -> Result<ShareArgs, clap::Error> {
        let mut argv = vec!["linkgate", "share"];
        argv.extend_from_slice(args);
        match parse_from(argv)?.command {
            Command::Share(a) => Ok(*a),
            other => panic!("not share: {other:?}"),
        }
    }

    #[test]
    fn defaults_and_flags_parse() {
        let a = parse(&["./dir/report.pdf"]).unwrap();
        assert_eq!((a.bucket.as_str(), a.key, a.expires_in, a.max_uses, a.no_qr), ("shared", None, 86_400, None, false));
        let a =
            parse(&["f", "--bucket", "b", "--key", "k/x", "--expires-in", "60", "--max-uses", "1", "--filename", "F", "--no-qr", "--json"])
                .unwrap();
        assert_eq!((a.bucket.as_str(), a.key.as_deref(), a.expires_in, a.max_uses), ("b", Some("k/x"), 60, Some(1)));
        assert!(a.no_qr && a.opts.json);
        assert!(parse(&["f", "--max-uses", "0"]).is_err());
        assert!(parse(&["f", "--expires-in", "0"]).is_err());
        assert!(parse(&[]).is_err());
        assert!(parse(&["f", "--delivery", "teleport"]).is_err());
        assert_eq!(parse(&["f", "--password", "pw"]).unwrap_err().kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn link_bodies() {
        let a = parse(&["dir/r.pdf"]).unwrap();
        assert_eq!(
            link_body(&a, "0a1b2c3d/r.pdf", "r.pdf", None).unwrap(),
            json!({"bucket": "shared", "key": "0a1b2c3d/r.pdf", "method": "GET", "expires_in": 86_400, "filename": "r.pdf"})
        );
        let a = parse(&["r.pdf", "--filename", "R.pdf", "--max-uses", "2", "--delivery", "redirect", "--password-stdin"]).unwrap();
        assert!(a.password_stdin);
        assert_eq!(
            link_body(&a, "k", "r.pdf", Some("pw")).unwrap(),
            json!({"bucket": "shared", "key": "k", "method": "GET", "expires_in": 86_400, "filename": "R.pdf",
                   "max_uses": 2, "delivery": "redirect", "password": "pw"})
        );
        assert_eq!(link_body(&a, "k", "r.pdf", None).unwrap_err().exit_code, 2);
        let err = link_body(&a, "k", "r.pdf", Some("")).unwrap_err();
        assert!(err.exit_code == 2 && err.message.contains("no password"), "{err}");
    }

    #[test]
    fn keys_and_paths() {
        assert_eq!(file_name(Path::new("/tmp/a b.txt")).unwrap(), "a b.txt");
        assert!(file_name(Path::new("/")).is_err());
        assert_eq!(default_key("0a1b2c3d", "a b.txt"), "0a1b2c3d/a b.txt");
        assert_eq!(crate::ids::random_hex(4).len(), 8);
        assert_eq!(object_path("shared", "0a1b2c3d/a b+c.txt"), "/shared/0a1b2c3d/a%20b%2Bc.txt");
    }

    #[test]
    fn sizes_over_5_gib_are_refused() {
        assert!(check_size(Path::new("f"), MAX_SINGLE_UPLOAD).is_ok());
        let err = check_size(Path::new("big.iso"), MAX_SINGLE_UPLOAD + 1).unwrap_err();
        assert_eq!(err.exit_code, 2);
        assert!(err.message.contains("at most 5 GiB"), "{err}");
    }

    #[test]
    fn uploads_are_signed_unsigned_payload() {
        let ep = parse_endpoint("http://127.0.0.1:8420/gw").unwrap();
        let creds = AwsCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
            expires_at: None,
            source: "test".into(),
        };
        let time = AmzDate::parse("20261122T150000Z").unwrap();
        let cache = SigningKeyCache::new(1);
        let signed = sign_upload(&Signer { endpoint: &ep, region: "us-east-1", creds: &creds, time, cache: &cache }, "/b/k", 42);
        assert_eq!(signed.path_and_query, "/gw/b/k");
        assert_eq!(signed.header("x-amz-content-sha256"), Some("UNSIGNED-PAYLOAD"));
        assert_eq!(signed.header("content-length"), Some("42"));
        let headers: Vec<(&str, &str)> = signed.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let parts = sigv4::RequestParts { method: "PUT", path: "/gw/b/k", query: "", headers: &headers };
        let pending = sigv4::check_header(&parts, &sigv4::Policy::s3("us-east-1", time.plus(30))).unwrap();
        let v = pending.verify("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &SigningKeyCache::new(1)).unwrap();
        assert_eq!(v.payload_hash, "UNSIGNED-PAYLOAD");
    }

    #[test]
    fn qr_codes_are_square_and_not_empty() {
        let qr = render_qr("http://127.0.0.1:8420/l/abcdefghijklmnopqrstuvwxyz0123456789").unwrap();
        let lines: Vec<&str> = qr.lines().collect();
        assert!(!lines.is_empty());
        let width = lines[0].chars().count();
        assert!(width >= 21 + 4, "{width}");
        assert!(lines.iter().all(|l| l.chars().count() == width), "ragged:\n{qr}");
        // Two modules per line: the drawing is as tall as it is wide.
        assert_eq!(lines.len(), width.div_ceil(2));
        // Both colours appear, and the quiet zone (first line) is all light.
        assert!(qr.contains(' ') || qr.contains('▀') || qr.contains('▄'));
        assert!(lines[0].chars().all(|c| c == '█'));
        assert_ne!(render_qr("a").unwrap(), render_qr("b").unwrap());
    }
}
