//! The `linkgate` command line.
//!
//! Each subcommand lives in its own module and keeps its logic in plain functions
//! that return data (so tests call them directly); this module only parses
//! arguments, picks credentials, prints and turns errors into exit codes.

pub mod admin;
pub mod bucket;
pub mod explain;
pub mod identity;
pub mod links;
pub mod presign;
pub mod refresh;
pub mod serve;
pub mod share;

use std::fmt;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Signed, expiring, limited links to private objects and APIs.
#[derive(Debug, Parser)]
#[command(name = "linkgate", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a SigV4 presigned URL for an S3 object (s3://BUCKET/KEY) or any SigV4 API (--url).
    Presign(Box<presign::PresignArgs>),
    /// Decode a SigV4 presigned URL and say what it is, when it dies, and whether it verifies.
    Explain(explain::ExplainArgs),
    /// Run the gateway: S3-compatible API with SigV4 verification on embedded storage.
    Serve(serve::ServeArgs),
    /// Manage users (admin API of a running linkgate serve).
    #[command(subcommand)]
    User(identity::UserCommand),
    /// Manage users' access keys: create, list, deactivate, activate, delete.
    #[command(subcommand)]
    Key(identity::KeyCommand),
    /// Attach, show and remove IAM-style JSON policies of users and roles.
    #[command(subcommand)]
    Policy(identity::PolicyCommand),
    /// Manage roles that users may assume through STS.
    #[command(subcommand)]
    Role(identity::RoleCommand),
    /// Create, list, show and revoke links (/l/…) to objects and upstream APIs.
    #[command(subcommand)]
    Links(links::LinksCommand),
    /// Upload a file and print a link to it (and a QR code on a terminal).
    Share(Box<share::ShareArgs>),
    /// List, make and remove buckets, and set their CORS rules (S3 API of a running linkgate serve).
    #[command(subcommand)]
    Bucket(bucket::BucketCommand),
}

/// A failure to report to the person at the terminal.
#[derive(Debug)]
pub struct CliError {
    /// One readable line (or a few) saying what went wrong and what to do.
    pub message: String,
    /// The process exit code: 2 for bad usage, 1 otherwise.
    pub exit_code: u8,
}

impl CliError {
    /// A usage error (bad flag value, bad combination): exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self { message: message.into(), exit_code: 2 }
    }

    /// Any other failure: exit code 1.
    pub fn failure(message: impl Into<String>) -> Self {
        Self { message: message.into(), exit_code: 1 }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Presign(args) => presign::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::User(cmd) => identity::run_user(&cmd),
        Command::Key(cmd) => identity::run_key(&cmd),
        Command::Policy(cmd) => identity::run_policy(&cmd),
        Command::Role(cmd) => identity::run_role(&cmd),
        Command::Links(cmd) => links::run(&cmd),
        Command::Share(args) => share::run(&args),
        Command::Bucket(cmd) => bucket::run(&cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("linkgate: {e}");
            ExitCode::from(e.exit_code)
        }
    }
}

/// Parses the command line, keeping what derive parsing loses: the order of the
/// `presign` query flags (the URL lists them in the order given, as the SDKs do).
pub fn parse_from<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = Cli::command().try_get_matches_from(argv)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if let (Command::Presign(args), Some(sub)) = (&mut cli.command, matches.subcommand_matches("presign")) {
        for id in presign::QUERY_FLAGS {
            if let Some(pos) = sub.index_of(id) {
                args.query_flag_positions.push((id.to_owned(), pos));
            }
        }
    }
    Ok(cli)
}

/// Parses `--signing-time`/`--now` style values: RFC 3339, `yyyyMMddTHHmmssZ`, or unix seconds.
pub fn parse_time(s: &str) -> Result<sigv4::AmzDate, CliError> {
    if let Some(t) = sigv4::AmzDate::parse_rfc3339(s).or_else(|| sigv4::AmzDate::parse(s)) {
        return Ok(t);
    }
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(sigv4::AmzDate::from_unix(secs));
    }
    Err(CliError::usage(format!("invalid time '{s}': use RFC 3339 (2026-11-22T15:00:00Z), 20261122T150000Z, or unix seconds")))
}

/// "2 h 5 min", "3 d 4 h", "42 s": durations as people read them.
pub fn human_duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec} s"),
        (0, 0, _) if sec == 0 => format!("{m} min"),
        (0, 0, _) => format!("{m} min {sec} s"),
        (0, _, 0) => format!("{h} h"),
        (0, _, _) => format!("{h} h {m} min"),
        (_, 0, _) => format!("{d} d"),
        _ => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(42), "42 s");
        assert_eq!(human_duration(3600), "1 h");
        assert_eq!(human_duration(3900), "1 h 5 min");
        assert_eq!(human_duration(604_800), "7 d");
        assert_eq!(human_duration(-90), "1 min 30 s");
    }

    #[test]
    fn times_parse_in_three_forms() {
        let t = parse_time("2015-08-30T12:36:00Z").unwrap();
        assert_eq!(parse_time("20150830T123600Z").unwrap(), t);
        assert_eq!(parse_time("1440938160").unwrap(), t);
        assert_eq!(parse_time("yesterday").unwrap_err().exit_code, 2);
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
