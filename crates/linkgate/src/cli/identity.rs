//! `linkgate user|key|policy|role`: users, access keys, policies and roles, managed
//! through the admin API (`/-/api/v1/…`) of a running `linkgate serve`.
//!
//! Each command becomes a [`Call`] (the request and how to show its answer) in a
//! plain function, [`UserCommand::plan`] and friends; [`render`] turns the
//! server's JSON into the short text people read. Only the `run_*` functions
//! talk to the network (through [`AdminClient`]).

use std::io::Read as _;

use clap::builder::NonEmptyStringValueParser;
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{Map, Value, json};

use super::admin::{AdminClient, AdminOptions, ApiRequest, api_path};
use super::{CliError, human_duration};

/// A command that names one user or role.
#[derive(Debug, Args)]
pub struct Named {
    /// The user's or role's name.
    #[arg(value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    /// Server, credentials, output.
    #[command(flatten)]
    pub opts: AdminOptions,
}

/// `linkgate user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (it may do nothing until it has a policy).
    Create {
        /// User name (IAM rules: letters, digits and +=,.@_-, up to 64).
        #[arg(value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
        name: String,
        /// Server, credentials, output.
        #[command(flatten)]
        opts: AdminOptions,
    },
    /// List users.
    List {
        /// Server, credentials, output.
        #[command(flatten)]
        opts: AdminOptions,
    },
    /// Show a user and the names of its policies.
    Show(Named),
    /// Delete a user with its access keys, policies and sessions.
    Delete(Named),
}

/// `linkgate key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an access key for a user (at most two per user) and print its secret, once.
    Create {
        /// The user who will own the key.
        #[arg(value_name = "USER", value_parser = NonEmptyStringValueParser::new())]
        user: String,
        /// Server, credentials, output.
        #[command(flatten)]
        opts: AdminOptions,
    },
    /// List a user's access keys.
    List {
        /// User name.
        #[arg(value_name = "USER", value_parser = NonEmptyStringValueParser::new())]
        user: String,
        /// Server, credentials, output.
        #[command(flatten)]
        opts: AdminOptions,
    },
    /// Deactivate an access key: it authenticates nothing until activated again.
    Deactivate {
        /// Access key id (AKIA…).
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
        /// Server, credentials, output.
        #[command(flatten)]
        opts: AdminOptions,
    },
    /// Activate an access key again.
    Activate {
        /// Access key id (AKIA…).
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
        /// Server, credentials, output.
        #[command(flatten)]
        opts: AdminOptions,
    },
    /// Delete an access key for good.
    Delete {
        /// Access key id (AKIA…).
        #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
        id: String,
        /// Server, credentials, output.
        #[command(flatten)]
        opts: AdminOptions,
    },
}

/// `linkgate policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Attach (or replace) an IAM-style JSON policy on a user or a role.
    Set(PolicySetArgs),
    /// Show a user's policies.
    Show {
        /// User name.
        #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
        user: String,
        /// Server, credentials, output.
        #[command(flatten)]
        opts: AdminOptions,
    },
    /// Remove a user's policy.
    Delete {
        /// User name.
        #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
        user: String,
        /// Policy name (the server uses "default" when none is given).
        #[arg(long, value_name = "POLICY", value_parser = NonEmptyStringValueParser::new())]
        name: Option<String>,
        /// Server, credentials, output.
        #[command(flatten)]
        opts: AdminOptions,
    },
}

/// Arguments of `linkgate policy set`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["user", "role"])))]
pub struct PolicySetArgs {
    /// Attach to this user.
    #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub user: Option<String>,
    /// Attach to this role.
    #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub role: Option<String>,
    /// Policy name (the server uses "default" when none is given).
    #[arg(long, value_name = "POLICY", value_parser = NonEmptyStringValueParser::new())]
    pub name: Option<String>,
    /// The policy document (JSON), or - for standard input.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Server, credentials, output.
    #[command(flatten)]
    pub opts: AdminOptions,
}

/// `linkgate role …`.
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role that the named users may assume (STS AssumeRole).
    Create(RoleCreateArgs),
    /// List roles.
    List {
        /// Server, credentials, output.
        #[command(flatten)]
        opts: AdminOptions,
    },
    /// Show a role: who may assume it, for how long, its policies.
    Show(Named),
    /// Delete a role; its sessions stop working.
    Delete(Named),
    /// Revoke every session issued for a role so far (new ones still work).
    RevokeSessions(Named),
}

/// Arguments of `linkgate role create`.
#[derive(Debug, Args)]
pub struct RoleCreateArgs {
    /// Role name.
    #[arg(value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub name: String,
    /// A user allowed to assume the role (repeat for several; * for any user).
    #[arg(long = "trust", value_name = "USER", required = true, value_parser = NonEmptyStringValueParser::new())]
    pub trusted_users: Vec<String>,
    /// Longest session, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub max_session_duration: u64,
    /// The role's policy document (JSON file, or - for standard input).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<String>,
    /// Server, credentials, output.
    #[command(flatten)]
    pub opts: AdminOptions,
}

/// A command as the server sees it, and how its answer is shown.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The request.
    pub request: ApiRequest,
    /// How to show the answer when `--json` is not given.
    pub view: View,
}

/// The human rendering of an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum View {
    /// A fixed message; the answer's body (often empty) is not shown.
    Done(String),
    /// The user just created.
    UserCreated,
    /// `{"users": […]}`.
    Users,
    /// One user.
    User,
    /// A new key with its secret.
    KeyCreated,
    /// `{"keys": […]}` of the named user.
    Keys(String),
    /// A policy stored on `owner` ("user NAME" or "role NAME"); the answer names it.
    PolicySet {
        /// "user NAME" or "role NAME".
        owner: String,
        /// The name asked for, if any (the server picks a default otherwise).
        name: Option<String>,
    },
    /// The policies of the named user.
    Policies(String),
    /// The role just created.
    RoleCreated,
    /// `{"roles": […]}`.
    Roles,
    /// One role.
    Role,
    /// `{"role", "revoked_before"}`.
    SessionsRevoked,
}

impl View {
    /// Whether rendering needs the body as JSON (a [`View::Done`] does not).
    fn needs_body(&self) -> bool {
        !matches!(self, Self::Done(_))
    }
}

fn call(request: ApiRequest, view: View) -> Call {
    Call { request, view }
}

impl UserCommand {
    /// The shared options.
    pub fn options(&self) -> &AdminOptions {
        match self {
            Self::Create { opts, .. } | Self::List { opts } | Self::Show(Named { opts, .. }) | Self::Delete(Named { opts, .. }) => opts,
        }
    }

    /// The request and view.
    pub fn plan(&self) -> Call {
        match self {
            Self::Create { name, .. } => {
                call(ApiRequest::new("POST", api_path(&["users"])).with_body(json!({ "name": name })), View::UserCreated)
            }
            Self::List { .. } => call(ApiRequest::new("GET", api_path(&["users"])), View::Users),
            Self::Show(Named { name, .. }) => call(ApiRequest::new("GET", api_path(&["users", name])), View::User),
            Self::Delete(Named { name, .. }) => {
                call(ApiRequest::new("DELETE", api_path(&["users", name])), View::Done(format!("Deleted user {name}.")))
            }
        }
    }
}

impl KeyCommand {
    /// The shared options.
    pub fn options(&self) -> &AdminOptions {
        match self {
            Self::Create { opts, .. }
            | Self::List { opts, .. }
            | Self::Deactivate { opts, .. }
            | Self::Activate { opts, .. }
            | Self::Delete { opts, .. } => opts,
        }
    }

    /// The request and view.
    pub fn plan(&self) -> Call {
        let status = |id: &str, status: &str| {
            call(
                ApiRequest::new("PATCH", api_path(&["keys", id])).with_body(json!({ "status": status })),
                View::Done(format!("Access key {id} is now {status}.")),
            )
        };
        match self {
            Self::Create { user, .. } => call(ApiRequest::new("POST", api_path(&["users", user, "keys"])), View::KeyCreated),
            Self::List { user, .. } => call(ApiRequest::new("GET", api_path(&["users", user, "keys"])), View::Keys(user.clone())),
            Self::Deactivate { id, .. } => status(id, "Inactive"),
            Self::Activate { id, .. } => status(id, "Active"),
            Self::Delete { id, .. } => {
                call(ApiRequest::new("DELETE", api_path(&["keys", id])), View::Done(format!("Deleted access key {id}.")))
            }
        }
    }
}

impl PolicyCommand {
    /// The shared options.
    pub fn options(&self) -> &AdminOptions {
        match self {
            Self::Set(args) => &args.opts,
            Self::Show { opts, .. } | Self::Delete { opts, .. } => opts,
        }
    }

    /// The request and view; `read` supplies the document of `policy set` (a path or `-`).
    pub fn plan(&self, read: &dyn Fn(&str) -> Result<String, CliError>) -> Result<Call, CliError> {
        Ok(match self {
            Self::Set(args) => {
                let document = parse_document(&read(&args.file)?, &args.file)?;
                let mut body = Map::new();
                if let Some(n) = &args.name {
                    body.insert("name".into(), Value::String(n.clone()));
                }
                body.insert("document".into(), document);
                let (kind, collection, owner) = match (&args.user, &args.role) {
                    (Some(u), _) => ("user", "users", u),
                    (None, Some(r)) => ("role", "roles", r),
                    (None, None) => return Err(CliError::usage("give --user NAME or --role NAME")),
                };
                call(
                    ApiRequest::new("PUT", api_path(&[collection, owner, "policy"])).with_body(Value::Object(body)),
                    View::PolicySet { owner: format!("{kind} {owner}"), name: args.name.clone() },
                )
            }
            Self::Show { user, .. } => call(ApiRequest::new("GET", api_path(&["users", user, "policy"])), View::Policies(user.clone())),
            Self::Delete { user, name, .. } => {
                let mut req = ApiRequest::new("DELETE", api_path(&["users", user, "policy"]));
                if let Some(n) = name {
                    req = req.with_query("name", n);
                }
                let what = name.as_ref().map_or_else(|| "the default policy".to_owned(), |n| format!("policy {n}"));
                call(req, View::Done(format!("Deleted {what} of user {user}.")))
            }
        })
    }
}

impl RoleCommand {
    /// The shared options.
    pub fn options(&self) -> &AdminOptions {
        match self {
            Self::Create(args) => &args.opts,
            Self::List { opts }
            | Self::Show(Named { opts, .. })
            | Self::Delete(Named { opts, .. })
            | Self::RevokeSessions(Named { opts, .. }) => opts,
        }
    }

    /// The request and view; `read` supplies the `--policy` document (a path or `-`).
    pub fn plan(&self, read: &dyn Fn(&str) -> Result<String, CliError>) -> Result<Call, CliError> {
        Ok(match self {
            Self::Create(args) => {
                let mut body = Map::new();
                body.insert("name".into(), Value::String(args.name.clone()));
                body.insert("trusted_users".into(), json!(args.trusted_users));
                body.insert("max_session_duration".into(), json!(args.max_session_duration));
                if let Some(file) = &args.policy {
                    body.insert("policy".into(), parse_document(&read(file)?, file)?);
                }
                call(ApiRequest::new("POST", api_path(&["roles"])).with_body(Value::Object(body)), View::RoleCreated)
            }
            Self::List { .. } => call(ApiRequest::new("GET", api_path(&["roles"])), View::Roles),
            Self::Show(Named { name, .. }) => call(ApiRequest::new("GET", api_path(&["roles", name])), View::Role),
            Self::Delete(Named { name, .. }) => {
                call(ApiRequest::new("DELETE", api_path(&["roles", name])), View::Done(format!("Deleted role {name}.")))
            }
            Self::RevokeSessions(Named { name, .. }) => {
                call(ApiRequest::new("POST", api_path(&["roles", name, "revoke-sessions"])), View::SessionsRevoked)
            }
        })
    }
}

/// Runs `linkgate user …`.
pub fn run_user(cmd: &UserCommand) -> Result<(), CliError> {
    execute(cmd.options(), &cmd.plan())
}

/// Runs `linkgate key …`.
pub fn run_key(cmd: &KeyCommand) -> Result<(), CliError> {
    execute(cmd.options(), &cmd.plan())
}

/// Runs `linkgate policy …`.
pub fn run_policy(cmd: &PolicyCommand) -> Result<(), CliError> {
    execute(cmd.options(), &cmd.plan(&read_source)?)
}

/// Runs `linkgate role …`.
pub fn run_role(cmd: &RoleCommand) -> Result<(), CliError> {
    execute(cmd.options(), &cmd.plan(&read_source)?)
}

fn execute(opts: &AdminOptions, call: &Call) -> Result<(), CliError> {
    let client = AdminClient::from_options(opts)?;
    let resp = client.call(&call.request)?;
    let body = match resp.json() {
        Ok(v) => v,
        Err(e) if opts.json || call.view.needs_body() => return Err(e),
        Err(_) => Value::Null,
    };
    let out = if opts.json { pretty_json(&body) } else { render(&call.view, &body) };
    if !out.is_empty() {
        println!("{out}");
    }
    Ok(())
}

/// Reads a document argument: a file path, or `-` for standard input.
fn read_source(source: &str) -> Result<String, CliError> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| CliError::usage(format!("cannot read standard input: {e}")))?;
        Ok(text)
    } else {
        std::fs::read_to_string(source).map_err(|e| CliError::usage(format!("cannot read {source}: {e}")))
    }
}

/// Checks locally that a policy document is a JSON object, so a typo fails here
/// with its line and column rather than as a vague server error.
pub fn parse_document(text: &str, source: &str) -> Result<Value, CliError> {
    let name = if source == "-" { "standard input" } else { source };
    let value: Value = serde_json::from_str(text).map_err(|e| CliError::usage(format!("{name} is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(CliError::usage(format!(
            "{name} must hold a JSON object (a policy document like {{\"Version\": \"2012-10-17\", \"Statement\": [...]}})"
        )));
    }
    Ok(value)
}

/// The server's JSON as `--json` prints it (nothing for an empty answer).
pub fn pretty_json(body: &Value) -> String {
    if body.is_null() { String::new() } else { serde_json::to_string_pretty(body).unwrap_or_default() }
}

/// The short text shown for an answer.
pub fn render(view: &View, body: &Value) -> String {
    match view {
        View::Done(message) => message.clone(),
        View::UserCreated => {
            let name = text(body, "name").unwrap_or_default();
            format!(
                "Created user {name}.\nIt may do nothing yet: attach a policy with `linkgate policy set --user {name} FILE` \
                 and create a key with `linkgate key create {name}`."
            )
        }
        View::Users => {
            let users = items(body, "users");
            if users.is_empty() {
                return "No users.".into();
            }
            let rows = users
                .iter()
                .map(|u| vec![text(u, "name").unwrap_or_default(), or_dash(text(u, "created_at")), list_or_dash(&policy_names(u))]);
            table(&["NAME", "CREATED", "POLICIES"], rows)
        }
        View::User => {
            let mut lines = vec![
                format!("User:     {}", text(body, "name").unwrap_or_default()),
                format!("Created:  {}", or_dash(text(body, "created_at"))),
                format!("Policies: {}", list_or_none(&policy_names(body))),
            ];
            if let Some(keys) = body.get("keys").and_then(Value::as_array) {
                let keys: Vec<String> = keys.iter().map(|k| format!("{} ({})", key_id(k), or_dash(text(k, "status")))).collect();
                lines.push(format!("Keys:     {}", list_or_none(&keys)));
            }
            lines.join("\n")
        }
        View::KeyCreated => {
            let user = text(body, "user").map(|u| format!("User:              {u}\n")).unwrap_or_default();
            format!(
                "Access key id:     {}\nSecret access key: {}\n{user}\nThe secret access key is shown only this once: store it now. \
                 linkgate cannot show it again; if it is lost, create a new key and delete this one.",
                key_id(body),
                text(body, "secret_access_key").unwrap_or_default(),
            )
        }
        View::Keys(user) => {
            let keys = items(body, "keys");
            if keys.is_empty() {
                return format!("User {user} has no access keys.");
            }
            let rows = keys.iter().map(|k| vec![key_id(k), or_dash(text(k, "status")), or_dash(text(k, "created_at"))]);
            table(&["ACCESS KEY ID", "STATUS", "CREATED"], rows)
        }
        View::PolicySet { owner, name } => match text(body, "name").or_else(|| name.clone()) {
            Some(n) => format!("Policy {n} set on {owner}."),
            None => format!("Policy set on {owner}."),
        },
        View::Policies(user) => render_policies(user, body),
        View::RoleCreated => {
            let mut out = format!("Created role {}.", text(body, "name").unwrap_or_default());
            if let Some(arn) = text(body, "arn") {
                out.push_str(&format!("\nARN: {arn}"));
            }
            out
        }
        View::Roles => {
            let roles = items(body, "roles");
            if roles.is_empty() {
                return "No roles.".into();
            }
            let rows = roles.iter().map(|r| {
                vec![
                    text(r, "name").unwrap_or_default(),
                    list_or_dash(&strings(r.get("trusted_users"))),
                    or_dash(r.get("max_session_duration").and_then(Value::as_i64).map(human_duration)),
                    list_or_dash(&policy_names(r)),
                ]
            });
            table(&["NAME", "TRUSTED USERS", "MAX SESSION", "POLICIES"], rows)
        }
        View::Role => {
            let mut lines = vec![format!("Role:                 {}", text(body, "name").unwrap_or_default())];
            if let Some(arn) = text(body, "arn") {
                lines.push(format!("ARN:                  {arn}"));
            }
            lines.push(format!("Created:              {}", or_dash(text(body, "created_at"))));
            lines.push(format!("Trusted users:        {}", list_or_none(&strings(body.get("trusted_users")))));
            if let Some(s) = body.get("max_session_duration").and_then(Value::as_i64) {
                lines.push(format!("Max session duration: {s} s ({})", human_duration(s)));
            }
            lines.push(format!("Policies:             {}", list_or_none(&policy_names(body))));
            if let Some(t) = text(body, "sessions_revoked_before").or_else(|| text(body, "revoked_before")) {
                lines.push(format!("Sessions revoked before: {t}"));
            }
            lines.join("\n")
        }
        View::SessionsRevoked => format!(
            "Revoked the sessions of role {} issued before {}.",
            text(body, "role").unwrap_or_default(),
            or_dash(text(body, "revoked_before"))
        ),
    }
}

/// `{"policies": {name: document}}`, `{"policies": [{name, document}]}` or one
/// `{name, document}`: each policy as its name and indented JSON.
fn render_policies(user: &str, body: &Value) -> String {
    let mut docs: Vec<(String, &Value)> = Vec::new();
    match body.get("policies") {
        Some(Value::Object(map)) => docs.extend(map.iter().map(|(n, d)| (n.clone(), d))),
        Some(Value::Array(list)) => {
            docs.extend(list.iter().map(|p| (text(p, "name").unwrap_or_default(), p.get("document").unwrap_or(p))));
        }
        _ => match body.get("document") {
            Some(d) => docs.push((text(body, "name").unwrap_or_default(), d)),
            None => return pretty_json(body),
        },
    }
    if docs.is_empty() {
        return format!("User {user} has no policies.");
    }
    docs.iter()
        .map(|(name, doc)| {
            // A document may come back as a JSON string: show it as JSON all the same.
            let parsed = doc.as_str().and_then(|s| serde_json::from_str::<Value>(s).ok());
            format!("Policy {name}:\n{}", pretty_json(parsed.as_ref().unwrap_or(doc)))
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn key_id(v: &Value) -> String {
    text(v, "access_key_id").or_else(|| text(v, "id")).unwrap_or_default()
}

fn items<'a>(body: &'a Value, key: &str) -> &'a [Value] {
    body.get(key).or(Some(body)).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).map_or_else(Vec::new, |a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
}

fn policy_names(v: &Value) -> Vec<String> {
    match v.get("policies") {
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        Some(Value::Array(list)) => list.iter().filter_map(|p| p.as_str().map(str::to_owned).or_else(|| text(p, "name"))).collect(),
        _ => Vec::new(),
    }
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "-".into())
}

fn list_or_dash(v: &[String]) -> String {
    if v.is_empty() { "-".into() } else { v.join(", ") }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

/// Left-aligned columns, two spaces apart, no trailing blanks.
fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut all: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    all.extend(rows);
    let mut widths = vec![0; header.len()];
    for row in &all {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    all.iter()
        .map(|row| {
            let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            line.join("  ").trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command, parse_from};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        parse_from(std::iter::once("linkgate").chain(args.iter().copied()))
    }

    fn no_files(path: &str) -> Result<String, CliError> {
        Err(CliError::usage(format!("unexpected read of {path}")))
    }

    const POLICY: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;

    fn doc(path: &str) -> Result<String, CliError> {
        match path {
            "p.json" | "-" => Ok(POLICY.into()),
            "bad.json" => Ok("{\"Version\": \"2012-10-17\",\n \"Statement\": [}".into()),
            "list.json" => Ok("[1]".into()),
            other => Err(CliError::usage(format!("cannot read {other}"))),
        }
    }

    #[test]
    fn user_commands_parse_and_plan() {
        let Command::User(cmd) = parse(&["user", "create", "a+b@c", "--json", "--endpoint-url", "http://h:1"]).unwrap().command else {
            panic!("not user")
        };
        assert!(cmd.options().json);
        assert_eq!(cmd.options().endpoint_url.as_deref(), Some("http://h:1"));
        let c = cmd.plan();
        assert_eq!((c.request.method, c.request.path.as_str()), ("POST", "/-/api/v1/users"));
        assert_eq!(c.request.body, Some(json!({"name": "a+b@c"})));
        let Command::User(cmd) = parse(&["user", "delete", "a/b", "--profile", "p", "--region", "eu-west-1"]).unwrap().command else {
            panic!("not user")
        };
        assert_eq!(cmd.options().profile.as_deref(), Some("p"));
        assert_eq!(cmd.options().region.as_deref(), Some("eu-west-1"));
        let c = cmd.plan();
        assert_eq!((c.request.method, c.request.path.as_str(), c.request.body.is_none()), ("DELETE", "/-/api/v1/users/a%2Fb", true));
        assert!(parse(&["user", "create", ""]).is_err());
        assert!(parse(&["user", "show"]).is_err());
        assert!(parse(&["user", "list", "extra"]).is_err());
    }

    #[test]
    fn key_commands_parse_and_plan() {
        let plan = |args: &[&str]| match parse(args).unwrap().command {
            Command::Key(cmd) => cmd.plan(),
            _ => panic!("not key"),
        };
        let c = plan(&["key", "create", "alice"]);
        assert_eq!((c.request.method, c.request.path.as_str(), &c.view), ("POST", "/-/api/v1/users/alice/keys", &View::KeyCreated));
        assert_eq!(plan(&["key", "list", "a lice"]).request.path, "/-/api/v1/users/a%20lice/keys");
        let c = plan(&["key", "deactivate", "AKIA123"]);
        assert_eq!((c.request.method, c.request.path.as_str()), ("PATCH", "/-/api/v1/keys/AKIA123"));
        assert_eq!(c.request.body, Some(json!({"status": "Inactive"})));
        assert_eq!(plan(&["key", "activate", "AKIA123"]).request.body, Some(json!({"status": "Active"})));
        assert_eq!(plan(&["key", "delete", "AKIA123"]).request.method, "DELETE");
    }

    #[test]
    fn policy_commands_read_validate_and_plan() {
        let plan = |args: &[&str]| match parse(args).unwrap().command {
            Command::Policy(cmd) => cmd.plan(&doc),
            _ => panic!("not policy"),
        };
        let c = plan(&["policy", "set", "--user", "alice", "p.json"]).unwrap();
        assert_eq!((c.request.method, c.request.path.as_str()), ("PUT", "/-/api/v1/users/alice/policy"));
        let expected: Value = serde_json::from_str(POLICY).unwrap();
        assert_eq!(c.request.body, Some(json!({ "document": expected })));
        let c = plan(&["policy", "set", "--role", "r.w", "--name", "ro", "-"]).unwrap();
        assert_eq!(c.request.path, "/-/api/v1/roles/r.w/policy");
        assert_eq!(c.request.body, Some(json!({ "name": "ro", "document": expected })));
        assert_eq!(c.view, View::PolicySet { owner: "role r.w".into(), name: Some("ro".into()) });

        let bad = plan(&["policy", "set", "--user", "a", "bad.json"]).unwrap_err();
        assert_eq!(bad.exit_code, 2);
        assert!(bad.message.starts_with("bad.json is not valid JSON: ") && bad.message.contains("line 2"), "{bad}");
        assert!(plan(&["policy", "set", "--user", "a", "list.json"]).unwrap_err().message.contains("must hold a JSON object"));
        assert!(plan(&["policy", "set", "--user", "a", "missing.json"]).is_err());
        assert!(parse(&["policy", "set", "p.json"]).is_err(), "--user or --role is required");
        assert!(parse(&["policy", "set", "--user", "a", "--role", "r", "p.json"]).is_err(), "not both");

        let c = plan(&["policy", "show", "--user", "alice"]).unwrap();
        assert_eq!((c.request.method, c.request.path.as_str()), ("GET", "/-/api/v1/users/alice/policy"));
        let c = plan(&["policy", "delete", "--user", "alice", "--name", "read only"]).unwrap();
        assert_eq!(
            (c.request.method, c.request.path.as_str(), c.request.query.as_str()),
            ("DELETE", "/-/api/v1/users/alice/policy", "name=read%20only")
        );
        assert_eq!(plan(&["policy", "delete", "--user", "alice"]).unwrap().request.query, "");
    }

    #[test]
    fn role_commands_parse_and_plan() {
        let plan = |args: &[&str]| match parse(args).unwrap().command {
            Command::Role(cmd) => cmd.plan(&doc),
            _ => panic!("not role"),
        };
        let c = plan(&["role", "create", "deploy", "--trust", "alice", "--trust", "bob"]).unwrap();
        assert_eq!(c.request.body, Some(json!({"name": "deploy", "trusted_users": ["alice", "bob"], "max_session_duration": 3600})));
        let c = plan(&["role", "create", "deploy", "--trust", "alice", "--max-session-duration", "7200", "--policy", "p.json"]).unwrap();
        let body = c.request.body.unwrap();
        assert_eq!(body["max_session_duration"], 7200);
        assert_eq!(body["policy"]["Version"], "2012-10-17");
        assert!(parse(&["role", "create", "deploy"]).is_err(), "--trust is required");
        assert!(parse(&["role", "create", "deploy", "--trust", "a", "--max-session-duration", "-1"]).is_err());
        let c = plan(&["role", "revoke-sessions", "deploy"]).unwrap();
        assert_eq!((c.request.method, c.request.path.as_str()), ("POST", "/-/api/v1/roles/deploy/revoke-sessions"));
        assert_eq!(plan(&["role", "show", "x"]).unwrap().request.path, "/-/api/v1/roles/x");
        assert_eq!(plan(&["role", "delete", "x"]).unwrap().request.method, "DELETE");
        assert_eq!(plan(&["role", "list"]).unwrap().request.path, "/-/api/v1/roles");
        let Command::Role(cmd) = parse(&["role", "list"]).unwrap().command else { panic!("not role") };
        assert!(cmd.plan(&no_files).is_ok(), "list reads no file");
    }

    #[test]
    fn answers_render_briefly() {
        let key = json!({"access_key_id": "AKIAX", "secret_access_key": "s3cr3t", "status": "Active", "created_at": "2026-11-22T15:00:00Z", "user": "alice"});
        let out = render(&View::KeyCreated, &key);
        assert!(out.contains("Access key id:     AKIAX\nSecret access key: s3cr3t\nUser:              alice\n"), "{out}");
        assert!(out.contains("shown only this once"), "{out}");

        let keys = json!({"keys": [{"access_key_id": "AKIAX", "status": "Active", "created_at": "2026-11-22T15:00:00Z"}, {"access_key_id": "AKIAYY", "status": "Inactive", "created_at": "2026-11-22T16:00:00Z"}]});
        assert_eq!(
            render(&View::Keys("alice".into()), &keys),
            "ACCESS KEY ID  STATUS    CREATED\nAKIAX          Active    2026-11-22T15:00:00Z\nAKIAYY         Inactive  2026-11-22T16:00:00Z"
        );
        assert_eq!(render(&View::Keys("alice".into()), &json!({"keys": []})), "User alice has no access keys.");

        let users = json!({"users": [{"name": "alice", "created_at": "t1", "policies": {"ro": {}, "rw": {}}}, {"name": "bob", "created_at": "t2", "policies": {}}]});
        assert_eq!(render(&View::Users, &users), "NAME   CREATED  POLICIES\nalice  t1       ro, rw\nbob    t2       -");
        assert_eq!(render(&View::Users, &json!({"users": []})), "No users.");
        assert_eq!(
            render(&View::User, &json!({"name": "bob", "created_at": "t2", "policies": {}})),
            "User:     bob\nCreated:  t2\nPolicies: none"
        );
        assert!(render(&View::UserCreated, &json!({"name": "bob", "created_at": "t", "policies": {}})).starts_with("Created user bob."));

        let policies = json!({"policies": {"ro": {"Version": "2012-10-17"}}});
        assert_eq!(render(&View::Policies("a".into()), &policies), "Policy ro:\n{\n  \"Version\": \"2012-10-17\"\n}");
        assert_eq!(render(&View::Policies("a".into()), &json!({"policies": {}})), "User a has no policies.");
        let one = json!({"name": "ro", "document": "{\"Version\":\"2012-10-17\"}"});
        assert_eq!(render(&View::Policies("a".into()), &one), "Policy ro:\n{\n  \"Version\": \"2012-10-17\"\n}");

        let role = json!({"name": "deploy", "arn": "arn:aws:iam::1:role/deploy", "trusted_users": ["alice"], "max_session_duration": 3600, "policies": {}, "created_at": "t", "sessions_revoked_before": null});
        let out = render(&View::Role, &role);
        assert!(out.starts_with("Role:                 deploy\nARN:                  arn:aws:iam::1:role/deploy\n"), "{out}");
        assert!(!out.contains("revoked"), "{out}");
        assert!(out.contains("Trusted users:        alice\nMax session duration: 3600 s (1 h)\nPolicies:             none"), "{out}");
        assert_eq!(
            render(&View::Roles, &json!({"roles": [role]})),
            "NAME    TRUSTED USERS  MAX SESSION  POLICIES\ndeploy  alice          1 h          -"
        );
        let revoked = json!({"role": "deploy", "revoked_before": "2026-11-22T15:00:00Z"});
        assert_eq!(render(&View::SessionsRevoked, &revoked), "Revoked the sessions of role deploy issued before 2026-11-22T15:00:00Z.");
        assert_eq!(render(&View::Done("Deleted user a.".into()), &Value::Null), "Deleted user a.");
        let set = View::PolicySet { owner: "user a".into(), name: None };
        assert_eq!(render(&set, &json!({"user": "a", "name": "default", "document": {}})), "Policy default set on user a.");
        assert_eq!(render(&set, &Value::Null), "Policy set on user a.");
        assert_eq!(pretty_json(&Value::Null), "");
    }
}
