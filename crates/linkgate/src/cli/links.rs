//! `linkgate links create|list|show|revoke`: broker links (`/l/{token}`) managed
//! through the admin API (`/-/api/v1/links…`) of a running `linkgate serve`.
//!
//! Requests are built and answers rendered by plain functions ([`create_body`],
//! [`LinksCommand::plan`], [`links_table`], [`render_link`], [`read_password`])
//! so tests check them without a server; only [`run`] talks to the network (and
//! reads standard input for `--password-stdin`).

use std::io::{BufRead, IsTerminal as _};

use clap::builder::{NonEmptyStringValueParser, PossibleValuesParser};
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{Map, Value, json};

use super::admin::{AdminClient, AdminOptions, ApiRequest, api_path};
use super::{CliError, parse_time};
use crate::links::model::LinkMethod;

/// Methods an upstream link may name, as the CLI offers them.
const UPSTREAM_METHODS: [&str; 6] = [
    LinkMethod::Get.as_str(),
    LinkMethod::Head.as_str(),
    LinkMethod::Post.as_str(),
    LinkMethod::Put.as_str(),
    LinkMethod::Patch.as_str(),
    LinkMethod::Delete.as_str(),
];
use crate::links::password::MAX_PASSWORD_LEN;

/// The states a link can be in, as the server names them.
pub const STATES: [&str; 5] = ["active", "expired", "exhausted", "revoked", "not-yet-valid"];

/// Methods of a link to an object: download or upload.
pub const OBJECT_METHODS: [&str; 2] = ["GET", "PUT"];

/// How a download link hands out the object.
pub const DELIVERIES: [&str; 2] = ["stream", "redirect"];

/// An `s3://BUCKET/KEY` address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Uri {
    /// Bucket name.
    pub bucket: String,
    /// Object key (never empty; may contain `/`).
    pub key: String,
}

/// Parses `s3://BUCKET/KEY` (the key is everything after the first `/`, as is).
pub fn parse_s3_uri(raw: &str) -> Result<S3Uri, String> {
    let rest = raw
        .strip_prefix("s3://")
        .or_else(|| raw.strip_prefix("S3://"))
        .ok_or_else(|| format!("'{raw}' is not an S3 address: use s3://BUCKET/KEY"))?;
    let (bucket, key) = rest.split_once('/').ok_or_else(|| format!("'{raw}' names no object: use s3://BUCKET/KEY"))?;
    if bucket.is_empty() {
        return Err(format!("'{raw}' names no bucket: use s3://BUCKET/KEY"));
    }
    if key.is_empty() {
        return Err(format!("'{raw}' names no object key: use s3://BUCKET/KEY"));
    }
    Ok(S3Uri { bucket: bucket.to_owned(), key: key.to_owned() })
}

/// `linkgate links …`.
#[derive(Debug, Subcommand)]
pub enum LinksCommand {
    /// Create a link to an object or to an upstream API; its URL (with the token) is printed once.
    Create(Box<LinksCreateArgs>),
    /// List links, optionally by group, issuer or state.
    List(LinksListArgs),
    /// Show a link and its audit trail.
    Show {
        /// Link id.
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
        /// Server, credentials, output.
        #[command(flatten)]
        opts: AdminOptions,
    },
    /// Revoke one link by id, or every link of a group, an issuer, or a bucket (and key prefix).
    Revoke(LinksRevokeArgs),
}

/// Arguments of `linkgate links create`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("link_target").required(true).args(["target", "upstream"])))]
pub struct LinksCreateArgs {
    /// The object: s3://BUCKET/KEY (or give --upstream instead).
    #[arg(value_name = "S3_URI", value_parser = parse_s3_uri)]
    pub target: Option<S3Uri>,
    /// Link to this upstream API (the name of an [[upstreams]] entry of the server's config) instead of an object.
    #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub upstream: Option<String>,
    /// With --upstream: the path (and query) under the upstream's base URL, starting with / (default: /).
    #[arg(long, value_name = "PATH", requires = "upstream", conflicts_with = "target", value_parser = NonEmptyStringValueParser::new())]
    pub path: Option<String>,
    /// Objects: GET (a download link) or PUT (an upload link). Upstreams: GET, HEAD, POST, PUT, PATCH or DELETE.
    #[arg(long, value_name = "METHOD", default_value = "GET", ignore_case = true, value_parser = PossibleValuesParser::new(UPSTREAM_METHODS))]
    pub method: String,
    /// stream: linkgate sends the bytes (default); redirect: a 302 to a short-lived presigned URL (GET links to objects only).
    #[arg(long, value_name = "HOW", value_parser = PossibleValuesParser::new(DELIVERIES))]
    pub delivery: Option<String>,
    /// Protect the link with a password, read from the first line of standard input
    /// (e.g. `printf '%s\n' "$PW" | linkgate links create … --password-stdin`). There is
    /// deliberately no flag that takes the password itself: it would show in `ps` and
    /// in shell history.
    #[arg(long)]
    pub password_stdin: bool,
    /// Lifetime in seconds (the server's default is one hour).
    #[arg(long, value_name = "SECS", conflicts_with = "expires_at")]
    pub expires_in: Option<u64>,
    /// Expiry time (RFC 3339, e.g. 2026-12-01T00:00:00Z; also yyyyMMddTHHmmssZ or unix seconds).
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<String>,
    /// The link works only from this time on (same forms as --expires-at).
    #[arg(long, value_name = "TIME")]
    pub not_before: Option<String>,
    /// How many times the link may be used.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_uses: Option<u64>,
    /// Accept requests only from this network (CIDR, e.g. 10.0.0.0/8; repeat for several).
    #[arg(long = "allow-ip", value_name = "CIDR")]
    pub allow_ip: Vec<String>,
    /// File name offered to the browser (Content-Disposition).
    #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub filename: Option<String>,
    /// A group name, to list or revoke related links together.
    #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub group: Option<String>,
    /// Server, credentials, output.
    #[command(flatten)]
    pub opts: AdminOptions,
}

/// Arguments of `linkgate links list`.
#[derive(Debug, Args)]
pub struct LinksListArgs {
    /// Only links of this group.
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
    /// Only links issued by this principal (root, a user name, role/NAME…).
    #[arg(long, value_name = "WHO")]
    pub issuer: Option<String>,
    /// Only links in this state.
    #[arg(long, value_name = "STATE", value_parser = PossibleValuesParser::new(STATES))]
    pub state: Option<String>,
    /// Server, credentials, output.
    #[command(flatten)]
    pub opts: AdminOptions,
}

/// Arguments of `linkgate links revoke`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["id", "group", "issuer", "bucket"])))]
pub struct LinksRevokeArgs {
    /// The link's id.
    #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    pub id: Option<String>,
    /// Every link of this group.
    #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub group: Option<String>,
    /// Every link issued by this principal.
    #[arg(long, value_name = "WHO", value_parser = NonEmptyStringValueParser::new())]
    pub issuer: Option<String>,
    /// Every link to an object of this bucket.
    #[arg(long, value_name = "BUCKET", value_parser = NonEmptyStringValueParser::new())]
    pub bucket: Option<String>,
    /// With --bucket: only keys starting with this prefix.
    #[arg(long, value_name = "PREFIX", requires = "bucket")]
    pub prefix: Option<String>,
    /// Server, credentials, output.
    #[command(flatten)]
    pub opts: AdminOptions,
}

/// How an answer is shown without `--json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// A link just created: its URL.
    Created,
    /// `{"links": […]}` as a table.
    Table,
    /// One link with its audit trail.
    Detail,
    /// One link revoked (the answer is empty).
    RevokedOne,
    /// `{"revoked": n}`.
    RevokedMany,
}

/// RFC 3339 text for a time flag (accepts the forms of [`parse_time`]).
fn time_flag(flag: &str, value: &str) -> Result<String, CliError> {
    parse_time(value).map(sigv4::AmzDate::rfc3339).map_err(|e| CliError::usage(format!("--{flag}: {e}")))
}

/// Checks a link password (as the server will): 1 to [`MAX_PASSWORD_LEN`] bytes.
pub fn check_password(password: &str) -> Result<(), CliError> {
    if password.is_empty() {
        return Err(CliError::usage(
            "--password-stdin: standard input held no password (its first line is empty); \
             pipe one in, e.g. printf '%s\\n' \"$PW\" | linkgate … --password-stdin",
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(CliError::usage(format!(
            "--password-stdin: the password is {} bytes; it may be at most {MAX_PASSWORD_LEN}",
            password.len()
        )));
    }
    Ok(())
}

/// The password on the first line of `input` (for `--password-stdin`): the line
/// without its trailing `\n` or `\r\n`, everything else kept as typed. An empty
/// line (or no input), a password over [`MAX_PASSWORD_LEN`] bytes, or one that is
/// not UTF-8 is a usage error.
pub fn read_password(input: impl BufRead) -> Result<String, CliError> {
    let mut line = Vec::new();
    // Never buffer more than a password may be (plus its line end).
    input
        .take(MAX_PASSWORD_LEN as u64 + 2)
        .read_until(b'\n', &mut line)
        .map_err(|e| CliError::usage(format!("--password-stdin: cannot read standard input: {e}")))?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    let password = String::from_utf8(line).map_err(|_| CliError::usage("--password-stdin: the password is not valid UTF-8"))?;
    check_password(&password)?;
    Ok(password)
}

/// Reads the password for `--password-stdin` from this process's standard input
/// (with a prompt on stderr when it is a terminal, where the typing echoes).
pub fn read_password_stdin() -> Result<String, CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Link password (one line; it is shown as you type): ");
    }
    read_password(stdin.lock())
}

/// The JSON body of `POST /-/api/v1/links` for `links create`, with the
/// password `--password-stdin` read (`run` reads it; this function stays pure).
pub fn create_body(args: &LinksCreateArgs, password: Option<&str>) -> Result<Value, CliError> {
    let mut body = Map::new();
    let method = args.method.to_ascii_uppercase();
    match (&args.target, &args.upstream) {
        (Some(target), None) => {
            if args.path.is_some() {
                return Err(CliError::usage("--path is for upstream links: give --upstream NAME, or leave out --path"));
            }
            if !OBJECT_METHODS.contains(&method.as_str()) {
                return Err(CliError::usage(format!(
                    "--method {method}: a link to an object is GET (download) or PUT (upload); \
                     {} are for links to an upstream API (--upstream)",
                    UPSTREAM_METHODS.iter().filter(|m| !OBJECT_METHODS.contains(m)).copied().collect::<Vec<_>>().join(", ")
                )));
            }
            body.insert("bucket".into(), json!(target.bucket));
            body.insert("key".into(), json!(target.key));
        }
        (None, Some(upstream)) => {
            if !UPSTREAM_METHODS.contains(&method.as_str()) {
                return Err(CliError::usage(format!(
                    "--method {method}: a link to an upstream API is one of {}",
                    UPSTREAM_METHODS.join(", ")
                )));
            }
            body.insert("upstream".into(), json!(upstream));
            if let Some(path) = &args.path {
                if !path.starts_with('/') {
                    return Err(CliError::usage(format!("--path {path}: the path must start with '/', e.g. /v1/invoices")));
                }
                body.insert("path".into(), json!(path));
            }
        }
        (Some(_), Some(_)) => return Err(CliError::usage("give s3://BUCKET/KEY or --upstream NAME, not both")),
        (None, None) => {
            return Err(CliError::usage(
                "name the link's target: s3://BUCKET/KEY for an object, or --upstream NAME [--path PATH] for an API",
            ));
        }
    }
    if args.delivery.as_deref() == Some("redirect") && (method != "GET" || args.upstream.is_some()) {
        return Err(CliError::usage("--delivery redirect is only for download links to objects (GET on s3://BUCKET/KEY)"));
    }
    body.insert("method".into(), json!(method));
    if let Some(d) = &args.delivery {
        body.insert("delivery".into(), json!(d));
    }
    if args.expires_in.is_some() && args.expires_at.is_some() {
        return Err(CliError::usage("give --expires-in or --expires-at, not both"));
    }
    if let Some(s) = args.expires_in {
        body.insert("expires_in".into(), json!(s));
    }
    if let Some(t) = &args.expires_at {
        body.insert("expires_at".into(), json!(time_flag("expires-at", t)?));
    }
    if let Some(t) = &args.not_before {
        body.insert("not_before".into(), json!(time_flag("not-before", t)?));
    }
    if let Some(n) = args.max_uses {
        body.insert("max_uses".into(), json!(n));
    }
    if !args.allow_ip.is_empty() {
        body.insert("allowed_ips".into(), json!(args.allow_ip));
    }
    if let Some(f) = &args.filename {
        body.insert("filename".into(), json!(f));
    }
    if let Some(g) = &args.group {
        body.insert("group".into(), json!(g));
    }
    match (password, args.password_stdin) {
        (Some(p), _) => {
            check_password(p)?;
            body.insert("password".into(), json!(p));
        }
        (None, true) => return Err(CliError::usage("--password-stdin: no password was read")),
        (None, false) => {}
    }
    Ok(Value::Object(body))
}

impl LinksCommand {
    /// The shared options.
    pub fn options(&self) -> &AdminOptions {
        match self {
            Self::Create(a) => &a.opts,
            Self::List(a) => &a.opts,
            Self::Show { opts, .. } => opts,
            Self::Revoke(a) => &a.opts,
        }
    }

    /// The request and how to show its answer; `password` is what
    /// `--password-stdin` read (only `create` uses it).
    pub fn plan(&self, password: Option<&str>) -> Result<(ApiRequest, View), CliError> {
        Ok(match self {
            Self::Create(args) => (ApiRequest::new("POST", api_path(&["links"])).with_body(create_body(args, password)?), View::Created),
            Self::List(args) => {
                let mut req = ApiRequest::new("GET", api_path(&["links"]));
                for (name, value) in [("group", &args.group), ("issuer", &args.issuer), ("state", &args.state)] {
                    if let Some(v) = value {
                        req = req.with_query(name, v);
                    }
                }
                (req, View::Table)
            }
            Self::Show { id, .. } => (ApiRequest::new("GET", api_path(&["links", id])), View::Detail),
            Self::Revoke(args) => match &args.id {
                Some(id) => {
                    if args.group.is_some() || args.issuer.is_some() || args.bucket.is_some() {
                        return Err(CliError::usage("give a link id or --group/--issuer/--bucket, not both"));
                    }
                    (ApiRequest::new("DELETE", api_path(&["links", id])), View::RevokedOne)
                }
                None => {
                    let mut body = Map::new();
                    for (name, value) in
                        [("group", &args.group), ("issuer", &args.issuer), ("bucket", &args.bucket), ("prefix", &args.prefix)]
                    {
                        if let Some(v) = value {
                            body.insert(name.into(), json!(v));
                        }
                    }
                    if body.is_empty() {
                        return Err(CliError::usage("give a link id, --group, --issuer or --bucket"));
                    }
                    (ApiRequest::new("POST", format!("{}:revoke", api_path(&["links"]))).with_body(Value::Object(body)), View::RevokedMany)
                }
            },
        })
    }
}

/// Runs `linkgate links …`.
pub fn run(cmd: &LinksCommand) -> Result<(), CliError> {
    let password = match cmd {
        LinksCommand::Create(args) if args.password_stdin => {
            // Check every other flag before waiting on standard input.
            create_body(args, Some("-"))?;
            Some(read_password_stdin()?)
        }
        _ => None,
    };
    let (request, view) = cmd.plan(password.as_deref())?;
    let opts = cmd.options();
    let client = AdminClient::from_options(opts)?;
    let body = client.call(&request)?.json()?;
    let body = if view == View::RevokedOne { json!({ "revoked": 1 }) } else { body };
    if view == View::Created {
        eprintln!("The link's token is shown only this once: linkgate stores only its hash and cannot show the URL again.");
    }
    let out = if opts.json { serde_json::to_string_pretty(&body).unwrap_or_default() } else { render(view, &body) };
    println!("{out}");
    Ok(())
}

/// Creates a link with `body` (the JSON of `POST /-/api/v1/links`) and returns the answer.
pub fn create_link(client: &AdminClient, body: Value) -> Result<Value, CliError> {
    let resp = client.call(&ApiRequest::new("POST", api_path(&["links"])).with_body(body))?;
    let link = resp.json()?;
    if link.get("url").and_then(Value::as_str).is_none() {
        return Err(CliError::failure("the server created a link but sent no URL for it"));
    }
    Ok(link)
}

/// The short text shown for an answer.
pub fn render(view: View, body: &Value) -> String {
    match view {
        View::Created => text(body, "url").unwrap_or_default(),
        View::Table => links_table(body),
        View::Detail => render_link(body),
        View::RevokedOne | View::RevokedMany => {
            let n = body.get("revoked").and_then(Value::as_u64).unwrap_or(0);
            format!("Revoked {n} link{}.", if n == 1 { "" } else { "s" })
        }
    }
}

/// `{"links": […]}` as a table: id, state, uses/max, expiry, target.
pub fn links_table(body: &Value) -> String {
    let links = body.get("links").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    if links.is_empty() {
        return "No links.".into();
    }
    let mut rows: Vec<Vec<String>> = vec![["ID", "STATE", "USES", "EXPIRES", "TARGET"].iter().map(|h| (*h).to_owned()).collect()];
    rows.extend(
        links.iter().map(|l| vec![or_dash(text(l, "id")), or_dash(text(l, "state")), uses(l), or_dash(text(l, "expires_at")), target(l)]),
    );
    table(&rows)
}

/// `3/5`, or `3/-` when the number of uses is not limited.
fn uses(link: &Value) -> String {
    format!("{}/{}", text(link, "uses").unwrap_or_else(|| "0".into()), or_dash(text(link, "max_uses")))
}

/// `s3://bucket/key` or `upstream:NAME/path`, with ` (PUT)` & co for methods other than GET.
fn target(link: &Value) -> String {
    let uri = match (text(link, "bucket"), text(link, "key"), text(link, "upstream")) {
        (Some(b), Some(k), _) => format!("s3://{b}/{k}"),
        (_, _, Some(u)) => format!("upstream:{u}{}", text(link, "path").unwrap_or_else(|| "/".into())),
        _ => "-".into(),
    };
    match text(link, "method") {
        Some(m) if m != "GET" => format!("{uri} ({m})"),
        _ => uri,
    }
}

/// One link in detail, then one line per audit record.
pub fn render_link(link: &Value) -> String {
    let mut lines = vec![
        format!("Link:        {}", or_dash(text(link, "id"))),
        format!("State:       {}", or_dash(text(link, "state"))),
        format!("Target:      {}", target(link)),
    ];
    if let Some(u) = text(link, "upstream") {
        lines.push(format!("Upstream:    {u}"));
        lines.push(format!("Path:        {}", text(link, "path").unwrap_or_else(|| "/".into())));
    }
    lines.extend([
        format!("Method:      {}", or_dash(text(link, "method"))),
        format!("Issuer:      {}", or_dash(text(link, "issuer"))),
        format!("Created:     {}", or_dash(text(link, "created_at"))),
    ]);
    if let Some(t) = text(link, "not_before") {
        lines.push(format!("Not before:  {t}"));
    }
    lines.push(format!("Expires:     {}", or_dash(text(link, "expires_at"))));
    lines.push(format!("Uses:        {}", uses(link)));
    if let Some(ips) = link.get("allowed_ips").and_then(Value::as_array).filter(|a| !a.is_empty()) {
        let ips: Vec<&str> = ips.iter().filter_map(Value::as_str).collect();
        lines.push(format!("Allowed IPs: {}", ips.join(", ")));
    }
    if let Some(d) = text(link, "delivery") {
        lines.push(format!("Delivery:    {d}"));
    }
    if link.get("password").and_then(Value::as_bool) == Some(true) {
        lines.push("Password:    yes".into());
    }
    for (label, key) in [("Filename:    ", "filename"), ("Group:       ", "group"), ("Revoked:     ", "revoked_at")] {
        if let Some(v) = text(link, key) {
            lines.push(format!("{label}{v}"));
        }
    }
    let audit = link.get("audit").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    if audit.is_empty() {
        lines.push("Audit:       no requests yet".into());
    } else {
        lines.push("Audit:".into());
        for a in audit {
            let mut line = format!(
                "  {}  {} {}  {}  {}",
                or_dash(text(a, "at")),
                or_dash(text(a, "method")),
                or_dash(text(a, "status")),
                or_dash(text(a, "outcome")),
                or_dash(text(a, "client_ip")),
            );
            if let Some(b) = a.get("bytes").and_then(Value::as_u64).filter(|b| *b > 0) {
                line.push_str(&format!("  {b} bytes"));
            }
            if let Some(ua) = text(a, "user_agent").filter(|s| !s.is_empty()) {
                line.push_str(&format!("  \"{ua}\""));
            }
            lines.push(line);
        }
    }
    lines.join("\n")
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".into())
}

/// Left-aligned columns, two spaces apart, no trailing blanks; the first row is the header.
fn table(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        widths.resize(widths.len().max(row.len()), 0);
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (cell, w) in row.iter().zip(&widths) {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', w.saturating_sub(cell.chars().count()) + 2));
            }
            line.trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command, parse_from};

    fn parse(args: &[&str]) -> Result<LinksCommand, clap::Error> {
        let mut argv = vec!["linkgate", "links"];
        argv.extend_from_slice(args);
        match parse_from(argv)?.command {
            Command::Links(cmd) => Ok(cmd),
            other => panic!("not a links command: {other:?}"),
        }
    }

    #[test]
    fn s3_uris_parse() {
        assert_eq!(parse_s3_uri("s3://bkt/a/b c.txt").unwrap(), S3Uri { bucket: "bkt".into(), key: "a/b c.txt".into() });
        assert_eq!(parse_s3_uri("s3://bkt/dir/").unwrap().key, "dir/");
        assert!(parse_s3_uri("s3://bkt").unwrap_err().contains("names no object"));
        assert!(parse_s3_uri("s3://bkt/").unwrap_err().contains("no object key"));
        assert!(parse_s3_uri("s3:///key").unwrap_err().contains("no bucket"));
        assert!(parse_s3_uri("bkt/key").unwrap_err().contains("not an S3 address"));
        assert!(parse_s3_uri("http://bkt/key").is_err());
    }

    #[test]
    fn create_builds_the_body() {
        let LinksCommand::Create(args) = parse(&[
            "create",
            "s3://bkt/r.pdf",
            "--method",
            "put",
            "--expires-at",
            "20261201T000000Z",
            "--not-before",
            "2026-11-30T00:00:00Z",
            "--max-uses",
            "3",
            "--allow-ip",
            "10.0.0.0/8",
            "--allow-ip",
            "::1/128",
            "--filename",
            "R.pdf",
            "--group",
            "q3",
        ])
        .unwrap() else {
            panic!()
        };
        let body = create_body(&args, None).unwrap();
        assert_eq!(
            body,
            json!({"bucket": "bkt", "key": "r.pdf", "method": "PUT", "expires_at": "2026-12-01T00:00:00Z",
                   "not_before": "2026-11-30T00:00:00Z", "max_uses": 3, "allowed_ips": ["10.0.0.0/8", "::1/128"],
                   "filename": "R.pdf", "group": "q3"})
        );
        let LinksCommand::Create(args) = parse(&["create", "s3://b/k", "--expires-in", "60"]).unwrap() else { panic!() };
        assert_eq!(create_body(&args, None).unwrap(), json!({"bucket": "b", "key": "k", "method": "GET", "expires_in": 60}));
        let LinksCommand::Create(args) = parse(&["create", "s3://b/k", "--expires-at", "tomorrow"]).unwrap() else { panic!() };
        assert_eq!(create_body(&args, None).unwrap_err().exit_code, 2);
    }

    fn create_args(args: &[&str]) -> LinksCreateArgs {
        let mut argv = vec!["create"];
        argv.extend_from_slice(args);
        match parse(&argv).unwrap() {
            LinksCommand::Create(a) => *a,
            other => panic!("not create: {other:?}"),
        }
    }

    #[track_caller]
    fn usage_error(args: &LinksCreateArgs, password: Option<&str>) -> String {
        let err = create_body(args, password).unwrap_err();
        assert_eq!(err.exit_code, 2, "{err}");
        err.message
    }

    #[test]
    fn delivery_and_password_go_in_the_body() {
        let args = create_args(&["s3://b/k", "--delivery", "redirect", "--password-stdin"]);
        assert!(args.password_stdin);
        assert_eq!(
            create_body(&args, Some(" s3cret pass ")).unwrap(),
            json!({"bucket": "b", "key": "k", "method": "GET", "delivery": "redirect", "password": " s3cret pass "})
        );
        // The password is only ever what run() read from stdin.
        assert!(usage_error(&args, None).contains("no password was read"));
        assert!(usage_error(&args, Some("")).contains("no password"));
        assert!(usage_error(&args, Some(&"x".repeat(MAX_PASSWORD_LEN + 1))).contains("at most 1024"));
        assert!(create_body(&args, Some(&"x".repeat(MAX_PASSWORD_LEN))).is_ok());
        let stream = create_args(&["s3://b/k", "--delivery", "stream", "--method", "PUT"]);
        assert_eq!(create_body(&stream, None).unwrap(), json!({"bucket": "b", "key": "k", "method": "PUT", "delivery": "stream"}));
        // Redirect is for downloads of objects only.
        let put = create_args(&["s3://b/k", "--delivery", "redirect", "--method", "put"]);
        assert!(usage_error(&put, None).contains("--delivery redirect is only for download links"));
        let up = create_args(&["--upstream", "api", "--delivery", "redirect"]);
        assert!(usage_error(&up, None).contains("--delivery redirect"));
        assert!(parse(&["create", "s3://b/k", "--delivery", "teleport"]).is_err());
        // No flag takes the password itself.
        assert_eq!(parse(&["create", "s3://b/k", "--password", "pw"]).unwrap_err().kind(), clap::error::ErrorKind::UnknownArgument);
        assert!(parse(&["create", "s3://b/k", "--password-stdin=pw"]).is_err());
    }

    #[test]
    fn upstream_targets() {
        let args = create_args(&["--upstream", "billing", "--path", "/v1/invoices?id=7", "--method", "delete", "--max-uses", "1"]);
        assert_eq!(
            create_body(&args, None).unwrap(),
            json!({"upstream": "billing", "path": "/v1/invoices?id=7", "method": "DELETE", "max_uses": 1})
        );
        // The path defaults to the server's "/".
        let args = create_args(&["--upstream", "billing"]);
        assert_eq!(create_body(&args, Some("pw")).unwrap(), json!({"upstream": "billing", "method": "GET", "password": "pw"}));
        for m in UPSTREAM_METHODS {
            assert!(create_body(&create_args(&["--upstream", "u", "--method", m]), None).is_ok(), "{m}");
        }
        let args = create_args(&["--upstream", "u", "--path", "v1"]);
        assert!(usage_error(&args, None).contains("must start with '/'"));
        // Object links stay GET or PUT: the other methods are for upstreams.
        for m in ["HEAD", "post", "PATCH", "DELETE"] {
            let msg = usage_error(&create_args(&["s3://b/k", "--method", m]), None);
            assert!(msg.contains("GET (download) or PUT (upload)") && msg.contains("--upstream"), "{msg}");
        }
        assert!(parse(&["create", "--upstream", "u", "--method", "OPTIONS"]).is_err());
    }

    #[test]
    fn exactly_one_target() {
        use clap::error::ErrorKind;
        assert_eq!(parse(&["create"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(parse(&["create", "--max-uses", "1"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(parse(&["create", "s3://b/k", "--upstream", "u"]).unwrap_err().kind(), ErrorKind::ArgumentConflict);
        assert_eq!(parse(&["create", "s3://b/k", "--path", "/x"]).unwrap_err().kind(), ErrorKind::ArgumentConflict);
        assert_eq!(parse(&["create", "--path", "/x"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        assert!(parse(&["create", "--upstream", ""]).is_err());
        // create_body says so too when handed arguments clap did not check.
        let mut args = create_args(&["s3://b/k"]);
        args.upstream = Some("u".into());
        assert!(usage_error(&args, None).contains("not both"));
        args.target = None;
        args.upstream = None;
        assert!(usage_error(&args, None).contains("s3://BUCKET/KEY for an object, or --upstream NAME"));
        let mut args = create_args(&["s3://b/k"]);
        args.path = Some("/x".into());
        assert!(usage_error(&args, None).contains("--path is for upstream links"));
    }

    #[test]
    fn passwords_are_the_first_line_of_stdin() {
        use std::io::Cursor;
        let read = |input: &[u8]| read_password(Cursor::new(input.to_vec()));
        assert_eq!(read(b"secret\n").unwrap(), "secret");
        assert_eq!(read(b"secret\r\nsecond line\n").unwrap(), "secret");
        assert_eq!(read(b"no newline").unwrap(), "no newline");
        assert_eq!(read(b"  spaces kept \t\n").unwrap(), "  spaces kept \t");
        assert_eq!(read("pässwörd\n".as_bytes()).unwrap(), "pässwörd");
        for empty in [&b""[..], b"\n", b"\r\n", b"\nsecond\n"] {
            let err = read(empty).unwrap_err();
            assert_eq!(err.exit_code, 2);
            assert!(err.message.contains("standard input held no password"), "{err}");
        }
        let max = "p".repeat(MAX_PASSWORD_LEN);
        assert_eq!(read(format!("{max}\r\n").as_bytes()).unwrap(), max);
        let err = read(format!("{max}x\n").as_bytes()).unwrap_err();
        assert!(err.exit_code == 2 && err.message.contains("at most 1024"), "{err}");
        // A huge line is not read whole, and still refused as too long.
        assert!(read(&vec![b'a'; 1 << 20]).unwrap_err().message.contains("at most 1024"));
        assert!(read(b"\xff\xfe\n").unwrap_err().message.contains("not valid UTF-8"));
    }

    #[test]
    fn exclusive_and_bad_flags_are_refused() {
        let err = parse(&["create", "s3://b/k", "--expires-in", "60", "--expires-at", "2026-12-01T00:00:00Z"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(parse(&["create", "s3://b/k", "--method", "TRACE"]).is_err());
        assert!(parse(&["create", "s3://b/k", "--max-uses", "0"]).is_err());
        assert!(parse(&["create", "b/k"]).is_err());
        assert!(parse(&["list", "--state", "dead"]).is_err());
        assert_eq!(parse(&["revoke"]).unwrap_err().kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert_eq!(parse(&["revoke", "abc", "--group", "g"]).unwrap_err().kind(), clap::error::ErrorKind::ArgumentConflict);
        assert_eq!(parse(&["revoke", "--group", "g", "--issuer", "i"]).unwrap_err().kind(), clap::error::ErrorKind::ArgumentConflict);
        assert_eq!(parse(&["revoke", "--prefix", "p/"]).unwrap_err().kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn requests_are_planned() {
        let (req, view) = parse(&["list", "--group", "q 3", "--state", "not-yet-valid"]).unwrap().plan(None).unwrap();
        assert_eq!((req.method, req.path.as_str(), req.query.as_str()), ("GET", "/-/api/v1/links", "group=q%203&state=not-yet-valid"));
        assert_eq!(view, View::Table);
        let (req, view) = parse(&["show", "lk_1"]).unwrap().plan(None).unwrap();
        assert_eq!((req.method, req.path.as_str(), view), ("GET", "/-/api/v1/links/lk_1", View::Detail));
        let (req, view) = parse(&["revoke", "lk_1"]).unwrap().plan(None).unwrap();
        assert_eq!((req.method, req.path.as_str(), view), ("DELETE", "/-/api/v1/links/lk_1", View::RevokedOne));
        let (req, view) = parse(&["revoke", "--bucket", "b", "--prefix", "p/"]).unwrap().plan(None).unwrap();
        assert_eq!((req.method, req.path.as_str(), view), ("POST", "/-/api/v1/links:revoke", View::RevokedMany));
        assert_eq!(req.body, Some(json!({"bucket": "b", "prefix": "p/"})));
        let (req, _) = parse(&["revoke", "--issuer", "root"]).unwrap().plan(None).unwrap();
        assert_eq!(req.body, Some(json!({"issuer": "root"})));
    }

    #[test]
    fn tables_align() {
        let body = json!({"links": [
            {"id": "lk_a", "state": "active", "uses": 0, "max_uses": 1, "expires_at": "2026-12-01T00:00:00Z", "bucket": "b", "key": "k", "method": "GET"},
            {"id": "lk_longer", "state": "exhausted", "uses": 12, "max_uses": null, "expires_at": "2026-12-02T00:00:00Z", "bucket": "b", "key": "up/x", "method": "PUT"},
        ]});
        assert_eq!(
            links_table(&body),
            "ID         STATE      USES  EXPIRES               TARGET\n\
             lk_a       active     0/1   2026-12-01T00:00:00Z  s3://b/k\n\
             lk_longer  exhausted  12/-  2026-12-02T00:00:00Z  s3://b/up/x (PUT)"
        );
        assert_eq!(links_table(&json!({"links": []})), "No links.");
        assert_eq!(render(View::RevokedMany, &json!({"revoked": 3})), "Revoked 3 links.");
        assert_eq!(render(View::RevokedOne, &json!({"revoked": 1})), "Revoked 1 link.");
    }

    #[test]
    fn details_show_the_audit() {
        let link = json!({"id": "lk_a", "state": "exhausted", "bucket": "b", "key": "k", "method": "GET", "issuer": "root",
            "created_at": "2026-11-01T00:00:00Z", "expires_at": "2026-12-01T00:00:00Z", "uses": 1, "max_uses": 1,
            "allowed_ips": ["10.0.0.0/8"], "filename": "K.txt", "group": null, "revoked_at": null,
            "audit": [{"at": "2026-11-01T00:00:05Z", "client_ip": "10.1.2.3", "user_agent": "curl/8", "method": "GET", "status": 200, "outcome": "granted", "bytes": 10}]});
        let out = render_link(&link);
        assert!(out.contains("Target:      s3://b/k"), "{out}");
        assert!(out.contains("Allowed IPs: 10.0.0.0/8"), "{out}");
        assert!(!out.contains("Group:"), "{out}");
        assert!(out.ends_with("Audit:\n  2026-11-01T00:00:05Z  GET 200  granted  10.1.2.3  10 bytes  \"curl/8\""), "{out}");
        assert!(render_link(&json!({"id": "x"})).contains("no requests yet"));
        assert!(!out.contains("Password:") && !out.contains("Upstream:"), "{out}");
    }

    #[test]
    fn details_show_password_delivery_and_upstream() {
        let link = json!({"id": "lk_u", "state": "active", "bucket": null, "key": null, "upstream": "billing", "path": "/v1/x",
            "method": "POST", "delivery": "stream", "password": true, "uses": 0, "max_uses": null});
        let out = render_link(&link);
        assert!(out.contains("Target:      upstream:billing/v1/x (POST)"), "{out}");
        assert!(out.contains("Upstream:    billing\nPath:        /v1/x\nMethod:      POST"), "{out}");
        assert!(out.contains("Delivery:    stream"), "{out}");
        assert!(out.contains("Password:    yes"), "{out}");
        let out = render_link(&json!({"id": "lk_o", "bucket": "b", "key": "k", "password": false, "delivery": "redirect"}));
        assert!(!out.contains("Password:") && out.contains("Delivery:    redirect"), "{out}");
        let table = links_table(&json!({"links": [link]}));
        assert!(table.lines().nth(1).unwrap().ends_with("upstream:billing/v1/x (POST)"), "{table}");
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
