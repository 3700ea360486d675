//! `linkgate links create|list|show|revoke`: broker links (`/l/{token}`) managed
//! through the admin API (`/-/api/v1/links…`) of a running `linkgate serve`.
//!
//! Requests are built and answers rendered by plain functions ([`create_body`],
//! [`LinksCommand::plan`], [`links_table`], [`render_link`]) so tests check them
//! without a server; only [`run`] talks to the network.

use clap::builder::{NonEmptyStringValueParser, PossibleValuesParser};
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{Map, Value, json};

use super::admin::{AdminClient, AdminOptions, ApiRequest, api_path};
use super::{CliError, parse_time};

/// The states a link can be in, as the server names them.
pub const STATES: [&str; 5] = ["active", "expired", "exhausted", "revoked", "not-yet-valid"];

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
    /// Create a link to an object; its URL (with the token) is printed once.
    Create(LinksCreateArgs),
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
pub struct LinksCreateArgs {
    /// The object: s3://BUCKET/KEY.
    #[arg(value_name = "S3_URI", value_parser = parse_s3_uri)]
    pub target: S3Uri,
    /// GET: a download link; PUT: an upload link.
    #[arg(long, value_name = "METHOD", default_value = "GET", ignore_case = true, value_parser = PossibleValuesParser::new(["GET", "PUT"]))]
    pub method: String,
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

/// The JSON body of `POST /-/api/v1/links` for `links create`.
pub fn create_body(args: &LinksCreateArgs) -> Result<Value, CliError> {
    let mut body = Map::new();
    body.insert("bucket".into(), json!(args.target.bucket));
    body.insert("key".into(), json!(args.target.key));
    body.insert("method".into(), json!(args.method.to_ascii_uppercase()));
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

    /// The request and how to show its answer.
    pub fn plan(&self) -> Result<(ApiRequest, View), CliError> {
        Ok(match self {
            Self::Create(args) => (ApiRequest::new("POST", api_path(&["links"])).with_body(create_body(args)?), View::Created),
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
    let (request, view) = cmd.plan()?;
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

/// `s3://bucket/key`, with ` (PUT)` for upload links.
fn target(link: &Value) -> String {
    let uri = match (text(link, "bucket"), text(link, "key")) {
        (Some(b), Some(k)) => format!("s3://{b}/{k}"),
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
        format!("Method:      {}", or_dash(text(link, "method"))),
        format!("Issuer:      {}", or_dash(text(link, "issuer"))),
        format!("Created:     {}", or_dash(text(link, "created_at"))),
    ];
    if let Some(t) = text(link, "not_before") {
        lines.push(format!("Not before:  {t}"));
    }
    lines.push(format!("Expires:     {}", or_dash(text(link, "expires_at"))));
    lines.push(format!("Uses:        {}", uses(link)));
    if let Some(ips) = link.get("allowed_ips").and_then(Value::as_array).filter(|a| !a.is_empty()) {
        let ips: Vec<&str> = ips.iter().filter_map(Value::as_str).collect();
        lines.push(format!("Allowed IPs: {}", ips.join(", ")));
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
        let body = create_body(&args).unwrap();
        assert_eq!(
            body,
            json!({"bucket": "bkt", "key": "r.pdf", "method": "PUT", "expires_at": "2026-12-01T00:00:00Z",
                   "not_before": "2026-11-30T00:00:00Z", "max_uses": 3, "allowed_ips": ["10.0.0.0/8", "::1/128"],
                   "filename": "R.pdf", "group": "q3"})
        );
        let LinksCommand::Create(args) = parse(&["create", "s3://b/k", "--expires-in", "60"]).unwrap() else { panic!() };
        assert_eq!(create_body(&args).unwrap(), json!({"bucket": "b", "key": "k", "method": "GET", "expires_in": 60}));
        let LinksCommand::Create(args) = parse(&["create", "s3://b/k", "--expires-at", "tomorrow"]).unwrap() else { panic!() };
        assert_eq!(create_body(&args).unwrap_err().exit_code, 2);
    }

    #[test]
    fn exclusive_and_bad_flags_are_refused() {
        let err = parse(&["create", "s3://b/k", "--expires-in", "60", "--expires-at", "2026-12-01T00:00:00Z"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(parse(&["create", "s3://b/k", "--method", "DELETE"]).is_err());
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
        let (req, view) = parse(&["list", "--group", "q 3", "--state", "not-yet-valid"]).unwrap().plan().unwrap();
        assert_eq!((req.method, req.path.as_str(), req.query.as_str()), ("GET", "/-/api/v1/links", "group=q%203&state=not-yet-valid"));
        assert_eq!(view, View::Table);
        let (req, view) = parse(&["show", "lk_1"]).unwrap().plan().unwrap();
        assert_eq!((req.method, req.path.as_str(), view), ("GET", "/-/api/v1/links/lk_1", View::Detail));
        let (req, view) = parse(&["revoke", "lk_1"]).unwrap().plan().unwrap();
        assert_eq!((req.method, req.path.as_str(), view), ("DELETE", "/-/api/v1/links/lk_1", View::RevokedOne));
        let (req, view) = parse(&["revoke", "--bucket", "b", "--prefix", "p/"]).unwrap().plan().unwrap();
        assert_eq!((req.method, req.path.as_str(), view), ("POST", "/-/api/v1/links:revoke", View::RevokedMany));
        assert_eq!(req.body, Some(json!({"bucket": "b", "prefix": "p/"})));
        let (req, _) = parse(&["revoke", "--issuer", "root"]).unwrap().plan().unwrap();
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
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
