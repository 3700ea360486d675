//! Reads AWS credentials and profile settings the way the AWS CLI (botocore) does.
//!
//! `linkgate presign` must sign with the same identity `aws s3 presign` would use,
//! otherwise a link that "works on my machine" is signed by someone else. So this
//! module follows botocore's rules rather than inventing its own:
//!
//! - **Profile name**: `--profile`, else `AWS_DEFAULT_PROFILE`, else `AWS_PROFILE`
//!   (botocore checks them in that order), else `default`. A profile chosen by flag
//!   or environment variable must exist; the implicit `default` need not.
//! - **Environment keys**: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (with
//!   `AWS_SESSION_TOKEN` / `AWS_SECURITY_TOKEN` and `AWS_CREDENTIAL_EXPIRATION`)
//!   win over every file, unless `--profile` was given: an explicit flag removes
//!   the environment from the chain, `AWS_PROFILE` does not.
//! - **Files**: the credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default
//!   `~/.aws/credentials`, sections `[name]`) and the config file
//!   (`AWS_CONFIG_FILE`, default `~/.aws/config`, sections `[profile name]` and
//!   `[default]`). For settings the two are merged, the credentials file winning.
//! - **Chain inside a profile** (botocore's provider order): `role_arn` (assume
//!   role), web identity, IAM Identity Center (SSO), static keys in the
//!   credentials file, `credential_process`, static keys in the config file.
//!   linkgate only signs with static keys for now, so the dynamic mechanisms are
//!   reported as [`CredentialsError::RequiresRefresh`] instead of being skipped:
//!   skipping them would silently pick a different identity than the AWS CLI.
//!
//! The INI dialect is Python's `configparser` as botocore configures it: `#` and
//! `;` comments, `=` or `:` between key and value, case-insensitive keys, indented
//! continuation lines (a key with an empty value followed by indented
//! `key = value` lines is a nested sub-section such as `s3 =`), and a `[DEFAULT]`
//! section inherited by all others. Additionally ` #` / ` ;` after whitespace
//! starts an inline comment.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where environment variables and the home directory come from.
///
/// Injectable so that tests (and embedders) never touch the real process
/// environment or the user's real `~/.aws` directory.
pub trait Environment {
    /// The value of environment variable `name`, or `None` if it is unset or not UTF-8.
    fn var(&self, name: &str) -> Option<String>;
    /// The user's home directory, used for `~` and the default `~/.aws/...` paths.
    fn home_dir(&self) -> Option<PathBuf>;
}

/// The real process environment: `std::env` variables, home from `HOME` or `USERPROFILE`.
///
/// This is what the CLI uses; tests use their own [`Environment`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn home_dir(&self) -> Option<PathBuf> {
        ["HOME", "USERPROFILE"].iter().filter_map(|name| self.var(name)).find(|v| !v.is_empty()).map(PathBuf::from)
    }
}

/// A resolved set of AWS credentials, ready to sign with.
///
/// The `Debug` output redacts the secret key and session token so that
/// credentials can be logged (e.g. with `--verbose`) without leaking them.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    /// The access key id (`AKIA…` / `ASIA…`); not secret, it names the key.
    pub access_key_id: String,
    /// The secret access key used to derive signing keys.
    pub secret_access_key: String,
    /// The session token of temporary credentials; it must be sent with every request.
    pub session_token: Option<String>,
    /// Unix seconds when temporary credentials stop working, if known.
    ///
    /// A presigned URL stops working at this instant even if `X-Amz-Expires` says later.
    pub expires_at: Option<i64>,
    /// Human-readable origin, e.g. "environment", "profile default in /root/.aws/credentials".
    pub source: String,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
            .field("source", &self.source)
            .finish()
    }
}

/// The settings of one profile, merged from the config file and the credentials file.
///
/// The CLI needs the region, the endpoint and (later) the role to assume. Secret
/// values (`aws_secret_access_key`, `aws_session_token`, `aws_security_token`)
/// are deliberately left out; use [`load`] for credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileSettings {
    /// The profile's name, e.g. `default`.
    pub name: String,
    /// The files the profile was found in (config file first); empty when the
    /// implicit `default` profile does not exist anywhere.
    pub found_in: Vec<String>,
    /// `region`: the region to sign for unless `AWS_REGION` / `AWS_DEFAULT_REGION` say otherwise.
    pub region: Option<String>,
    /// `endpoint_url`: a custom endpoint (MinIO, LocalStack, …) instead of AWS.
    pub endpoint_url: Option<String>,
    /// `role_arn`: the role this profile assumes.
    pub role_arn: Option<String>,
    /// `source_profile`: the profile whose credentials assume `role_arn`.
    pub source_profile: Option<String>,
    /// `credential_source`: `Environment`, `Ec2InstanceMetadata` or `EcsContainer`, for `role_arn`.
    pub credential_source: Option<String>,
    /// `external_id`: passed to `AssumeRole`.
    pub external_id: Option<String>,
    /// `mfa_serial`: the MFA device `AssumeRole` needs a code for.
    pub mfa_serial: Option<String>,
    /// `role_session_name`: the session name for `AssumeRole`.
    pub role_session_name: Option<String>,
    /// `duration_seconds`: requested lifetime of assumed-role credentials (`None` if absent or not a number).
    pub duration_seconds: Option<u64>,
    /// Every plain (non-nested, non-secret) setting of the profile, keys lower-cased,
    /// including the ones above; for settings without a dedicated field.
    pub values: BTreeMap<String, String>,
    /// Nested sub-sections such as `s3 =` followed by indented `addressing_style = path`.
    pub subsections: BTreeMap<String, BTreeMap<String, String>>,
}

/// Why credentials or profile settings could not be resolved.
///
/// `Display` gives a one-line message suitable for the CLI's `error:` output.
#[derive(Debug)]
pub enum CredentialsError {
    /// Nothing provided credentials for `profile`.
    NotFound {
        /// The profile that was searched.
        profile: String,
        /// What was consulted, in order: `"environment variables"` (only when
        /// consulted), then the credentials file, then the config file.
        looked_in: Vec<String>,
    },
    /// A profile chosen by `--profile`, `AWS_PROFILE` or `AWS_DEFAULT_PROFILE` is in neither file.
    ProfileNotFound(String),
    /// The profile has one of the two static keys but not the other.
    Incomplete {
        /// The incomplete profile.
        profile: String,
        /// The missing key, e.g. `aws_secret_access_key`.
        missing: &'static str,
    },
    /// `AWS_ACCESS_KEY_ID` is set but the named variable (`AWS_SECRET_ACCESS_KEY`) is not.
    IncompleteEnvironment {
        /// The missing environment variable.
        missing: &'static str,
    },
    /// The AWS CLI would obtain this profile's credentials dynamically (assume
    /// role, web identity, SSO, `credential_process`), which linkgate cannot do yet.
    RequiresRefresh {
        /// The profile.
        profile: String,
        /// How the AWS CLI would get the credentials, e.g. `assuming a role (role_arn)`.
        mechanism: &'static str,
    },
    /// `AWS_CREDENTIAL_EXPIRATION` (or a similar field) is not a timestamp.
    InvalidExpiration {
        /// Where the value came from, e.g. `AWS_CREDENTIAL_EXPIRATION`.
        origin: String,
        /// The unparsable value.
        value: String,
    },
    /// A config or credentials file is not valid INI (botocore refuses it too).
    Parse {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong; never contains the line's text, which may hold a secret.
        message: String,
    },
    /// A config or credentials file exists but cannot be read.
    Io(String, io::Error),
}

/// The `looked_in` entry for environment variables in [`CredentialsError::NotFound`].
const ENV_LOOKED_IN: &str = "environment variables";

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { profile, looked_in } => {
                let env_consulted = looked_in.iter().any(|s| s == ENV_LOOKED_IN);
                let creds_file = looked_in.iter().find(|s| *s != ENV_LOOKED_IN).map_or("~/.aws/credentials", String::as_str);
                write!(f, "no AWS credentials found for profile \"{profile}\": ")?;
                if env_consulted {
                    f.write_str("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ")?;
                }
                write!(f, "add aws_access_key_id and aws_secret_access_key to [{profile}] in {creds_file}")?;
                if !looked_in.is_empty() {
                    write!(f, " (looked in: {})", looked_in.join(", "))?;
                }
                Ok(())
            }
            Self::ProfileNotFound(profile) => {
                write!(f, "AWS profile \"{profile}\" not found in the AWS config or credentials file")
            }
            Self::Incomplete { profile, missing } => {
                write!(f, "AWS profile \"{profile}\" is incomplete: {missing} is missing")
            }
            Self::IncompleteEnvironment { missing } => {
                write!(f, "incomplete AWS credentials in the environment: AWS_ACCESS_KEY_ID is set but {missing} is not")
            }
            Self::RequiresRefresh { profile, mechanism } => write!(
                f,
                "AWS profile \"{profile}\" gets its credentials by {mechanism}, which linkgate cannot do by itself yet; \
                 linkgate needs --refresh or a profile with static aws_access_key_id and aws_secret_access_key"
            ),
            Self::InvalidExpiration { origin, value } => {
                write!(f, "cannot parse {origin} \"{value}\": expected a time like 2026-11-22T16:00:00Z")
            }
            Self::Parse { path, line, message } => write!(f, "cannot parse {path} line {line}: {message}"),
            Self::Io(path, err) => write!(f, "cannot read {path}: {err}"),
        }
    }
}

impl std::error::Error for CredentialsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(_, err) => Some(err),
            _ => None,
        }
    }
}

/// Resolves credentials as the AWS CLI does. `profile_override` is the --profile flag.
///
/// See the module documentation for the precedence rules.
pub fn load(env: &dyn Environment, profile_override: Option<&str>) -> Result<AwsCredentials, CredentialsError> {
    let selection = Selection::new(env, profile_override);
    let files = SharedFiles::load(env)?;
    // botocore resolves the profile (and fails on a missing explicit one) before
    // any provider runs, even when the environment holds keys.
    let merged = files.merged_profile(&selection)?;

    if profile_override.is_none()
        && let Some(creds) = from_environment(env)?
    {
        return Ok(creds);
    }

    let name = selection.name.as_str();
    let merged = merged.unwrap_or_default();
    if has(&merged, "role_arn") && !has(&merged, "web_identity_token_file") {
        return Err(requires_refresh(name, "assuming a role (role_arn)"));
    }
    let env_web_identity = profile_override.is_none() && non_empty_var(env, "AWS_WEB_IDENTITY_TOKEN_FILE").is_some();
    if has(&merged, "web_identity_token_file") || env_web_identity {
        return Err(requires_refresh(name, "assuming a role with a web identity token (web_identity_token_file)"));
    }
    if has(&merged, "sso_role_name") || has(&merged, "sso_account_id") {
        return Err(requires_refresh(name, "IAM Identity Center / SSO login (sso_role_name, sso_account_id)"));
    }
    if let Some(section) = files.credentials_section(name)
        && let Some(creds) = static_keys(section, name, &files.credentials.display)?
    {
        return Ok(creds);
    }
    if has(&merged, "credential_process") {
        return Err(requires_refresh(name, "running an external command (credential_process)"));
    }
    if let Some(section) = files.config_profile(name)
        && let Some(creds) = static_keys(section, name, &files.config.display)?
    {
        return Ok(creds);
    }

    let mut looked_in = Vec::with_capacity(3);
    if profile_override.is_none() {
        looked_in.push(ENV_LOOKED_IN.to_owned());
    }
    looked_in.push(files.credentials.display.clone());
    looked_in.push(files.config.display.clone());
    Err(CredentialsError::NotFound { profile: selection.name, looked_in })
}

/// Settings of the selected profile from ~/.aws/config (and credentials file), for region / role_arn / endpoint_url.
///
/// The two files are merged as botocore merges them: keys in the credentials
/// file's `[name]` section override the config file's `[profile name]`. A missing
/// implicit `default` profile yields empty settings; a missing explicitly chosen
/// profile is [`CredentialsError::ProfileNotFound`].
pub fn profile_settings(env: &dyn Environment, profile_override: Option<&str>) -> Result<ProfileSettings, CredentialsError> {
    let selection = Selection::new(env, profile_override);
    let files = SharedFiles::load(env)?;
    let merged = files.merged_profile(&selection)?.unwrap_or_default();

    let mut found_in = Vec::new();
    if files.config_profile(&selection.name).is_some() {
        found_in.push(files.config.display.clone());
    }
    if files.credentials_section(&selection.name).is_some() {
        found_in.push(files.credentials.display.clone());
    }

    let text_field = |key: &str| text(&merged, key).map(str::to_owned);
    let mut values = BTreeMap::new();
    let mut subsections = BTreeMap::new();
    for (key, value) in &merged {
        match value {
            IniValue::Text(_) if SECRET_KEYS.contains(&key.as_str()) => {}
            IniValue::Text(v) => {
                values.insert(key.clone(), v.clone());
            }
            IniValue::Nested(map) => {
                subsections.insert(key.clone(), map.clone());
            }
        }
    }
    Ok(ProfileSettings {
        name: selection.name,
        found_in,
        region: text_field("region"),
        endpoint_url: text_field("endpoint_url"),
        role_arn: text_field("role_arn"),
        source_profile: text_field("source_profile"),
        credential_source: text_field("credential_source"),
        external_id: text_field("external_id"),
        mfa_serial: text_field("mfa_serial"),
        role_session_name: text_field("role_session_name"),
        duration_seconds: text(&merged, "duration_seconds").and_then(|v| v.parse().ok()),
        values,
        subsections,
    })
}

/// Region as the CLI resolves it: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region.
///
/// Returns `None` when no region is configured or the profile cannot be read;
/// the caller decides whether that is an error.
pub fn region(env: &dyn Environment, profile_override: Option<&str>) -> Option<String> {
    non_empty_var(env, "AWS_REGION")
        .or_else(|| non_empty_var(env, "AWS_DEFAULT_REGION"))
        .or_else(|| profile_settings(env, profile_override).ok()?.region)
}

/// Parses an expiration timestamp (RFC 3339 / ISO 8601 like "2026-11-22T16:00:00Z", "2026-11-22T16:00:00+00:00", with optional fractional seconds) to unix seconds.
///
/// Also accepted, because credential helpers write them: a space instead of `T`,
/// offsets as `+HH:MM`, `+HHMM` or `+HH`, `UTC`/`GMT`, no zone at all (taken as
/// UTC, which is what AWS always returns), and plain unix seconds. Fractional
/// seconds are dropped.
pub fn parse_expiration(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(secs) = parse_epoch(s) {
        return Some(secs);
    }
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    // Bytes 0..19 are all ASCII (checked above), so 19 is a char boundary.
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix(['.', ',']) {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = frac.get(n..)?;
    }
    let offset = parse_zone(rest.trim_start())?;
    let base = sigv4::AmzDate::from_civil(year, month, day, hour, minute, second)?.unix();
    base.checked_sub(offset)
}

/// Plain unix seconds, optionally with a fraction (`1700000000`, `1700000000.5`).
fn parse_epoch(s: &str) -> Option<i64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    if all_digits(whole) && all_digits(frac) { whole.parse().ok() } else { None }
}

/// Seconds east of UTC for a zone suffix: empty, `Z`, `UTC`, `GMT`, `±HH`, `±HHMM`, `±HH:MM`.
fn parse_zone(z: &str) -> Option<i64> {
    if z.is_empty() || z.eq_ignore_ascii_case("z") || z.eq_ignore_ascii_case("utc") || z.eq_ignore_ascii_case("gmt") {
        return Some(0);
    }
    let (sign, rest) = match z.as_bytes().first()? {
        b'+' => (1, &z.as_bytes()[1..]),
        b'-' => (-1, &z.as_bytes()[1..]),
        _ => return None,
    };
    let (hours, minutes) = match rest {
        [h1, h2] => (digits(&[*h1, *h2])?, 0),
        [h1, h2, m1, m2] | [h1, h2, b':', m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// An unsigned decimal number made only of ASCII digits.
fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0i64, |acc, d| acc.checked_mul(10)?.checked_add(i64::from(d - b'0')))
}

/// Keys whose values never leave this module except inside [`AwsCredentials`].
const SECRET_KEYS: [&str; 3] = ["aws_secret_access_key", "aws_session_token", "aws_security_token"];

/// Keys credential helpers (saml2aws, gimme-aws-creds, aws-azure-login, …) use
/// for the expiry of the temporary keys they write. botocore ignores them.
const EXPIRATION_KEYS: [&str; 4] = ["aws_expiration", "x_security_token_expires", "aws_session_expiration", "expiration"];

/// Credentials from `AWS_ACCESS_KEY_ID` & co, if the access key is set (and only
/// from there: no profile is consulted).
pub fn from_environment(env: &dyn Environment) -> Result<Option<AwsCredentials>, CredentialsError> {
    let Some(access_key_id) = non_empty_var(env, "AWS_ACCESS_KEY_ID") else {
        return Ok(None);
    };
    let Some(secret_access_key) = non_empty_var(env, "AWS_SECRET_ACCESS_KEY") else {
        return Err(CredentialsError::IncompleteEnvironment { missing: "AWS_SECRET_ACCESS_KEY" });
    };
    let session_token = non_empty_var(env, "AWS_SESSION_TOKEN").or_else(|| non_empty_var(env, "AWS_SECURITY_TOKEN"));
    let expires_at =
        match non_empty_var(env, "AWS_CREDENTIAL_EXPIRATION") {
            None => None,
            Some(value) => Some(parse_expiration(&value).ok_or_else(|| CredentialsError::InvalidExpiration {
                origin: "AWS_CREDENTIAL_EXPIRATION".to_owned(),
                value: value.clone(),
            })?),
        };
    Ok(Some(AwsCredentials { access_key_id, secret_access_key, session_token, expires_at, source: "environment".to_owned() }))
}

/// Static keys in one file's section: `Ok(None)` if it has neither key.
///
/// An unparsable expiration field is ignored (botocore ignores these fields
/// altogether, so it must not make linkgate fail where the AWS CLI works).
fn static_keys(section: &IniSection, profile: &str, file: &str) -> Result<Option<AwsCredentials>, CredentialsError> {
    let (access_key_id, secret_access_key) = match (text(section, "aws_access_key_id"), text(section, "aws_secret_access_key")) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(CredentialsError::Incomplete { profile: profile.to_owned(), missing: "aws_secret_access_key" }),
        (None, Some(_)) => return Err(CredentialsError::Incomplete { profile: profile.to_owned(), missing: "aws_access_key_id" }),
        (Some(a), Some(s)) => (a.to_owned(), s.to_owned()),
    };
    let session_token = text(section, "aws_session_token").or_else(|| text(section, "aws_security_token")).map(str::to_owned);
    let expires_at = EXPIRATION_KEYS.iter().find_map(|key| text(section, key).and_then(parse_expiration));
    Ok(Some(AwsCredentials { access_key_id, secret_access_key, session_token, expires_at, source: format!("profile {profile} in {file}") }))
}

fn requires_refresh(profile: &str, mechanism: &'static str) -> CredentialsError {
    CredentialsError::RequiresRefresh { profile: profile.to_owned(), mechanism }
}

/// A variable's value, treating empty as unset.
fn non_empty_var(env: &dyn Environment, name: &str) -> Option<String> {
    env.var(name).filter(|v| !v.is_empty())
}

/// A non-empty plain value of `key` in a section.
fn text<'a>(section: &'a IniSection, key: &str) -> Option<&'a str> {
    match section.get(key) {
        Some(IniValue::Text(v)) if !v.is_empty() => Some(v),
        _ => None,
    }
}

fn has(section: &IniSection, key: &str) -> bool {
    text(section, key).is_some()
}

/// The chosen profile and whether the user chose it (then it must exist).
struct Selection {
    name: String,
    explicit: bool,
}

impl Selection {
    fn new(env: &dyn Environment, profile_override: Option<&str>) -> Self {
        if let Some(name) = profile_override {
            return Self { name: name.to_owned(), explicit: true };
        }
        // botocore: 'profile': (None, ['AWS_DEFAULT_PROFILE', 'AWS_PROFILE'], …)
        match non_empty_var(env, "AWS_DEFAULT_PROFILE").or_else(|| non_empty_var(env, "AWS_PROFILE")) {
            Some(name) => Self { name, explicit: true },
            None => Self { name: "default".to_owned(), explicit: false },
        }
    }
}

/// One shared file: where it is and, if it exists, its contents.
struct SharedFile {
    /// The path as shown to the user.
    display: String,
    ini: Option<Ini>,
}

impl SharedFile {
    fn load(env: &dyn Environment, var: &str, default: &str) -> Result<Self, CredentialsError> {
        let path = match non_empty_var(env, var) {
            Some(p) => Some(PathBuf::from(expand_user(env, &expand_vars(env, &p)))),
            None => env.home_dir().map(|home| home.join(default)),
        };
        let Some(path) = path else {
            return Ok(Self { display: format!("~/{default} (home directory unknown)"), ini: None });
        };
        let display = path.display().to_string();
        let ini = read_ini(&path, &display)?;
        Ok(Self { display, ini })
    }
}

/// Reads and parses a file; a missing file (or a directory) is `None`, as in botocore.
fn read_ini(path: &std::path::Path, display: &str) -> Result<Option<Ini>, CredentialsError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Ok(None),
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => return Ok(None),
        Err(e) => return Err(CredentialsError::Io(display.to_owned(), e)),
    }
    let text = std::fs::read_to_string(path).map_err(|e| CredentialsError::Io(display.to_owned(), e))?;
    Ini::parse(&text).map(Some).map_err(|(line, message)| CredentialsError::Parse { path: display.to_owned(), line, message })
}

/// `os.path.expandvars`: `$NAME` and `${NAME}` are replaced when set, left alone otherwise.
fn expand_vars(env: &dyn Environment, s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..end], end)
        };
        match env.var(name).filter(|_| !name.is_empty()) {
            Some(value) => {
                out.push_str(&value);
                rest = &after[consumed..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `os.path.expanduser` for the current user: a leading `~` becomes the home directory.
fn expand_user(env: &dyn Environment, s: &str) -> String {
    let Some(rest) = s.strip_prefix('~') else { return s.to_owned() };
    if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('\\')) {
        return s.to_owned(); // `~user/...`: not supported, left as is
    }
    match env.home_dir() {
        Some(home) => format!("{}{rest}", home.display()),
        None => s.to_owned(),
    }
}

/// The credentials file and the config file.
struct SharedFiles {
    credentials: SharedFile,
    config: SharedFile,
}

impl SharedFiles {
    fn load(env: &dyn Environment) -> Result<Self, CredentialsError> {
        Ok(Self {
            credentials: SharedFile::load(env, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials")?,
            config: SharedFile::load(env, "AWS_CONFIG_FILE", ".aws/config")?,
        })
    }

    /// The credentials file's section named exactly `name` (no `profile ` prefix there).
    fn credentials_section(&self, name: &str) -> Option<&IniSection> {
        self.credentials.ini.as_ref()?.sections.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// The config file's `[profile name]` (or `[default]`), as botocore's
    /// `build_profile_map` finds it: the last matching section wins.
    fn config_profile(&self, name: &str) -> Option<&IniSection> {
        let ini = self.config.ini.as_ref()?;
        ini.sections.iter().rev().find(|(section, _)| config_profile_name(section).as_deref() == Some(name)).map(|(_, s)| s)
    }

    /// Config profile updated with the credentials file section; `None` if in
    /// neither, which is an error only for an explicitly chosen profile.
    fn merged_profile(&self, selection: &Selection) -> Result<Option<IniSection>, CredentialsError> {
        let config = self.config_profile(&selection.name);
        let creds = self.credentials_section(&selection.name);
        if config.is_none() && creds.is_none() {
            return if selection.explicit { Err(CredentialsError::ProfileNotFound(selection.name.clone())) } else { Ok(None) };
        }
        let mut merged = config.cloned().unwrap_or_default();
        if let Some(creds) = creds {
            merged.extend(creds.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Ok(Some(merged))
    }
}

/// The profile a config-file section defines: `profile NAME` (shell-quoted, as
/// botocore splits it with `shlex`) or `default`; other sections are not profiles.
fn config_profile_name(section: &str) -> Option<String> {
    if section.starts_with("profile") {
        let mut parts = shlex_split(section)?;
        return if parts.len() == 2 { parts.pop() } else { None };
    }
    (section == "default").then(|| section.to_owned())
}

/// POSIX `shlex.split` without comments; `None` on an unterminated quote or escape.
fn shlex_split(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        ch => word.push(ch),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            ch @ ('"' | '\\') => word.push(ch),
                            ch => {
                                word.push('\\');
                                word.push(ch);
                            }
                        },
                        ch => word.push(ch),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            ch => {
                in_word = true;
                word.push(ch);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// A value in an INI section.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IniValue {
    /// A plain value (continuation lines joined with `\n`).
    Text(String),
    /// A key with an empty value followed by indented `key = value` lines.
    Nested(BTreeMap<String, String>),
}

/// Lower-cased key → value.
type IniSection = BTreeMap<String, IniValue>;

/// A parsed file: sections in file order (names are unique; `DEFAULT` is folded in).
#[derive(Debug, Default)]
struct Ini {
    sections: Vec<(String, IniSection)>,
}

/// Raw option lines before joining: (lower-cased key, value lines).
type RawOptions = Vec<(String, Vec<String>)>;

impl Ini {
    /// Parses like Python's `RawConfigParser` (strict), plus inline comments.
    /// Errors are (1-based line, message).
    fn parse(text: &str) -> Result<Self, (usize, String)> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut defaults: RawOptions = Vec::new();
        let mut sections: Vec<(String, RawOptions)> = Vec::new();
        // `None`: before the first header; `Some(None)`: `[DEFAULT]`; `Some(Some(i))`: sections[i].
        let mut current: Option<Option<usize>> = None;
        let mut option: Option<usize> = None;
        let mut indent_level = 0;

        for (index, raw) in text.lines().enumerate() {
            let lineno = index + 1;
            let trimmed = raw.trim_start();
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            let value = strip_inline_comment(raw).trim();
            let options = match current {
                None => None,
                Some(None) => Some(&mut defaults),
                Some(Some(i)) => sections.get_mut(i).map(|(_, opts)| opts),
            };
            if value.is_empty() {
                // Blank lines belong to a multi-line value until a less indented line.
                if let (Some(options), Some(o)) = (options, option)
                    && let Some((_, lines)) = options.get_mut(o)
                {
                    lines.push(String::new());
                }
                continue;
            }
            let indent = raw.chars().take_while(|c| c.is_whitespace()).count();
            if let (Some(options), Some(o)) = (options, option)
                && indent > indent_level
                && let Some((_, lines)) = options.get_mut(o)
            {
                lines.push(value.to_owned());
                continue;
            }
            indent_level = indent;

            if let Some(header) = section_header(value) {
                option = None;
                if header == "DEFAULT" {
                    current = Some(None);
                } else if sections.iter().any(|(name, _)| name == header) {
                    return Err((lineno, format!("section [{header}] appears more than once")));
                } else {
                    sections.push((header.to_owned(), Vec::new()));
                    current = Some(Some(sections.len() - 1));
                }
                continue;
            }
            let options = match current {
                None => return Err((lineno, "setting before the first [section] header".to_owned())),
                Some(None) => &mut defaults,
                Some(Some(i)) => match sections.get_mut(i) {
                    Some((_, opts)) => opts,
                    None => return Err((lineno, "internal error: lost section".to_owned())),
                },
            };
            let Some(delimiter) = value.find(['=', ':']) else {
                return Err((lineno, "expected `key = value`".to_owned()));
            };
            let key = value[..delimiter].trim_end().to_lowercase();
            if key.is_empty() {
                return Err((lineno, "missing key before `=`".to_owned()));
            }
            if options.iter().any(|(k, _)| *k == key) {
                return Err((lineno, format!("key {key} appears more than once in the same section")));
            }
            options.push((key, vec![value[delimiter + 1..].trim().to_owned()]));
            option = Some(options.len() - 1);
        }

        let finish = |options: RawOptions| -> IniSection {
            options
                .into_iter()
                .map(|(key, lines)| {
                    let joined = lines.join("\n");
                    let joined = joined.trim_end();
                    let value = match joined.strip_prefix('\n') {
                        Some(nested) => IniValue::Nested(parse_nested(nested)),
                        None => IniValue::Text(joined.to_owned()),
                    };
                    (key, value)
                })
                .collect()
        };
        let defaults = finish(defaults);
        let sections = sections
            .into_iter()
            .map(|(name, options)| {
                let mut section = finish(options);
                for (key, value) in &defaults {
                    section.entry(key.clone()).or_insert_with(|| value.clone());
                }
                (name, section)
            })
            .collect();
        Ok(Self { sections })
    }
}

/// `[name]` → `name` (up to the last `]`, as configparser's greedy regex does).
fn section_header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix('[')?;
    let end = inner.rfind(']')?;
    let name = &inner[..end];
    (!name.is_empty()).then_some(name)
}

/// Cuts a `#` or `;` comment that follows whitespace.
fn strip_inline_comment(line: &str) -> &str {
    let mut prev_space = false;
    for (i, c) in line.char_indices() {
        if (c == '#' || c == ';') && prev_space {
            return &line[..i];
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// The indented `key = value` lines of a nested sub-section; lines without `=` are skipped.
fn parse_nested(block: &str) -> BTreeMap<String, String> {
    block
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A temporary home directory, removed on drop.
    struct TempHome(PathBuf);

    impl TempHome {
        fn new() -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("linkgate-credentials-test-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join(".aws")).unwrap();
            Self(dir)
        }

        fn write(&self, relative: &str, contents: &str) -> PathBuf {
            let path = self.0.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, contents).unwrap();
            path
        }

        fn credentials(&self, contents: &str) -> PathBuf {
            self.write(".aws/credentials", contents)
        }

        fn config(&self, contents: &str) -> PathBuf {
            self.write(".aws/config", contents)
        }
    }

    impl Drop for TempHome {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    struct FakeEnv {
        vars: HashMap<String, String>,
        home: Option<PathBuf>,
    }

    impl FakeEnv {
        fn new(home: &TempHome) -> Self {
            Self { vars: HashMap::new(), home: Some(home.0.clone()) }
        }

        fn set(mut self, name: &str, value: &str) -> Self {
            self.vars.insert(name.to_owned(), value.to_owned());
            self
        }

        fn with_env_keys(self) -> Self {
            self.set("AWS_ACCESS_KEY_ID", "AKIAENV").set("AWS_SECRET_ACCESS_KEY", "env-secret")
        }
    }

    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).cloned()
        }

        fn home_dir(&self) -> Option<PathBuf> {
            self.home.clone()
        }
    }

    const DEFAULT_CREDS: &str = "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = default-secret\n";

    fn creds_path(home: &TempHome) -> String {
        home.0.join(".aws/credentials").display().to_string()
    }

    fn config_path(home: &TempHome) -> String {
        home.0.join(".aws/config").display().to_string()
    }

    #[test]
    fn environment_keys_win_over_default_profile() {
        let home = TempHome::new();
        home.credentials(DEFAULT_CREDS);
        let creds = load(&FakeEnv::new(&home).with_env_keys(), None).unwrap();
        assert_eq!(creds.access_key_id, "AKIAENV");
        assert_eq!(creds.secret_access_key, "env-secret");
        assert_eq!(creds.session_token, None);
        assert_eq!(creds.expires_at, None);
        assert_eq!(creds.source, "environment");
    }

    #[test]
    fn environment_session_token_and_expiration() {
        let home = TempHome::new();
        let env = FakeEnv::new(&home)
            .with_env_keys()
            .set("AWS_SESSION_TOKEN", "tok")
            .set("AWS_SECURITY_TOKEN", "legacy")
            .set("AWS_CREDENTIAL_EXPIRATION", "2026-11-22T16:00:00Z");
        let creds = load(&env, None).unwrap();
        assert_eq!(creds.session_token.as_deref(), Some("tok"));
        assert_eq!(creds.expires_at, Some(1_795_363_200));

        let env = FakeEnv::new(&home).with_env_keys().set("AWS_SECURITY_TOKEN", "legacy");
        assert_eq!(load(&env, None).unwrap().session_token.as_deref(), Some("legacy"));
    }

    #[test]
    fn environment_bad_expiration_is_an_error() {
        let home = TempHome::new();
        let env = FakeEnv::new(&home).with_env_keys().set("AWS_CREDENTIAL_EXPIRATION", "tomorrow");
        let err = load(&env, None).unwrap_err();
        assert!(matches!(err, CredentialsError::InvalidExpiration { .. }), "{err:?}");
        assert!(err.to_string().contains("AWS_CREDENTIAL_EXPIRATION \"tomorrow\""), "{err}");
    }

    #[test]
    fn environment_access_key_without_secret_is_an_error() {
        let home = TempHome::new();
        home.credentials(DEFAULT_CREDS);
        let env = FakeEnv::new(&home).set("AWS_ACCESS_KEY_ID", "AKIAENV");
        let err = load(&env, None).unwrap_err();
        assert!(matches!(err, CredentialsError::IncompleteEnvironment { missing: "AWS_SECRET_ACCESS_KEY" }), "{err:?}");
        assert!(err.to_string().contains("AWS_SECRET_ACCESS_KEY"));

        // A secret alone is ignored, as botocore does.
        let env = FakeEnv::new(&home).set("AWS_SECRET_ACCESS_KEY", "x").set("AWS_ACCESS_KEY_ID", "");
        assert_eq!(load(&env, None).unwrap().access_key_id, "AKIADEFAULT");
    }

    #[test]
    fn explicit_profile_ignores_environment_keys() {
        let home = TempHome::new();
        home.credentials(&format!("{DEFAULT_CREDS}[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = work-secret\n"));
        let env = FakeEnv::new(&home).with_env_keys();
        let creds = load(&env, Some("work")).unwrap();
        assert_eq!(creds.access_key_id, "AKIAWORK");
        assert_eq!(creds.source, format!("profile work in {}", creds_path(&home)));
        assert_eq!(load(&env, Some("default")).unwrap().access_key_id, "AKIADEFAULT");
    }

    #[test]
    fn aws_profile_selects_profile_but_not_over_environment_keys() {
        let home = TempHome::new();
        home.credentials(&format!("{DEFAULT_CREDS}[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = work-secret\n"));
        let env = FakeEnv::new(&home).set("AWS_PROFILE", "work");
        assert_eq!(load(&env, None).unwrap().access_key_id, "AKIAWORK");
        let env = FakeEnv::new(&home).set("AWS_PROFILE", "work").with_env_keys();
        assert_eq!(load(&env, None).unwrap().access_key_id, "AKIAENV");
        // --profile beats AWS_PROFILE.
        let env = FakeEnv::new(&home).set("AWS_PROFILE", "work");
        assert_eq!(load(&env, Some("default")).unwrap().access_key_id, "AKIADEFAULT");
    }

    #[test]
    fn aws_default_profile_is_checked_before_aws_profile_like_botocore() {
        let home = TempHome::new();
        home.credentials(
            "[a]\naws_access_key_id = AKIAA\naws_secret_access_key = a\n[b]\naws_access_key_id = AKIAB\naws_secret_access_key = b\n",
        );
        let env = FakeEnv::new(&home).set("AWS_PROFILE", "a").set("AWS_DEFAULT_PROFILE", "b");
        assert_eq!(load(&env, None).unwrap().access_key_id, "AKIAB");
        let env = FakeEnv::new(&home).set("AWS_DEFAULT_PROFILE", "a");
        assert_eq!(load(&env, None).unwrap().access_key_id, "AKIAA");
        // Empty counts as unset.
        let env = FakeEnv::new(&home).set("AWS_PROFILE", "a").set("AWS_DEFAULT_PROFILE", "");
        assert_eq!(load(&env, None).unwrap().access_key_id, "AKIAA");
    }

    #[test]
    fn credentials_file_beats_config_file() {
        let home = TempHome::new();
        home.credentials(DEFAULT_CREDS);
        home.config("[default]\naws_access_key_id = AKIACONFIG\naws_secret_access_key = config-secret\nregion = eu-west-1\n");
        let creds = load(&FakeEnv::new(&home), None).unwrap();
        assert_eq!(creds.access_key_id, "AKIADEFAULT");
        assert_eq!(creds.source, format!("profile default in {}", creds_path(&home)));

        // Keys only in the config file are used when the credentials file has none.
        home.credentials("[default]\nregion = us-east-2\n");
        let creds = load(&FakeEnv::new(&home), None).unwrap();
        assert_eq!(creds.access_key_id, "AKIACONFIG");
        assert_eq!(creds.source, format!("profile default in {}", config_path(&home)));
        // ... and the credentials file's settings override the config file's.
        assert_eq!(region(&FakeEnv::new(&home), None).as_deref(), Some("us-east-2"));
    }

    #[test]
    fn config_needs_profile_prefix_and_credentials_must_not_have_it() {
        let home = TempHome::new();
        home.config(
            "[x]\naws_access_key_id = AKIANOTAPROFILE\naws_secret_access_key = s\n\
             [profile y]\naws_access_key_id = AKIAY\naws_secret_access_key = s\n\
             [profile \"with space\"]\naws_access_key_id = AKIASPACE\naws_secret_access_key = s\n",
        );
        home.credentials("[profile z]\naws_access_key_id = AKIANOTZ\naws_secret_access_key = s\n");
        let env = FakeEnv::new(&home);
        assert!(matches!(load(&env, Some("x")), Err(CredentialsError::ProfileNotFound(p)) if p == "x"));
        assert_eq!(load(&env, Some("y")).unwrap().access_key_id, "AKIAY");
        assert_eq!(load(&env, Some("with space")).unwrap().access_key_id, "AKIASPACE");
        assert!(matches!(load(&env, Some("z")), Err(CredentialsError::ProfileNotFound(_))));
        assert_eq!(load(&env, Some("profile z")).unwrap().access_key_id, "AKIANOTZ");
    }

    #[test]
    fn config_accepts_profile_default() {
        let home = TempHome::new();
        home.config("[profile default]\naws_access_key_id = AKIAPD\naws_secret_access_key = s\nregion = ap-south-1\n");
        let env = FakeEnv::new(&home);
        assert_eq!(load(&env, None).unwrap().access_key_id, "AKIAPD");
        assert_eq!(region(&env, None).as_deref(), Some("ap-south-1"));
    }

    #[test]
    fn comments_are_ignored() {
        let home = TempHome::new();
        home.credentials(
            "# leading comment\n; another\n[default] # trailing header comment\n\
             \x20 # indented comment\n\
             aws_access_key_id = AKIACOMMENT ; inline\n\
             aws_secret_access_key = abc#def;ghi   # inline after spaces\n\
             aws_session_token=tok\t# after a tab\n",
        );
        let creds = load(&FakeEnv::new(&home), None).unwrap();
        assert_eq!(creds.access_key_id, "AKIACOMMENT");
        assert_eq!(creds.secret_access_key, "abc#def;ghi");
        assert_eq!(creds.session_token.as_deref(), Some("tok"));
    }

    #[test]
    fn nested_sections_are_skipped() {
        let home = TempHome::new();
        home.config(
            "[default]\nregion = us-west-2\ns3 =\n  endpoint_url = http://nested.invalid\n\n  addressing_style = path\n\
             endpoint_url = http://top.invalid\n\
             [profile other]\nregion = eu-north-1\n",
        );
        let env = FakeEnv::new(&home);
        let settings = profile_settings(&env, None).unwrap();
        assert_eq!(settings.region.as_deref(), Some("us-west-2"));
        assert_eq!(settings.endpoint_url.as_deref(), Some("http://top.invalid"));
        let s3 = &settings.subsections["s3"];
        assert_eq!(s3["addressing_style"], "path");
        assert_eq!(s3["endpoint_url"], "http://nested.invalid");
        assert!(!settings.values.contains_key("s3"));
        assert_eq!(region(&env, Some("other")).as_deref(), Some("eu-north-1"));
    }

    #[test]
    fn keys_are_case_insensitive_and_colon_works() {
        let home = TempHome::new();
        home.credentials("[default]\nAWS_Access_Key_ID: AKIACASE\nAWS_SECRET_ACCESS_KEY=  s  \n");
        let creds = load(&FakeEnv::new(&home), None).unwrap();
        assert_eq!(creds.access_key_id, "AKIACASE");
        assert_eq!(creds.secret_access_key, "s");
    }

    #[test]
    fn file_session_token_and_expiration_fields() {
        let home = TempHome::new();
        home.credentials(
            "[a]\naws_access_key_id = ASIAA\naws_secret_access_key = s\naws_session_token = tok-a\n\
             aws_expiration = 2026-11-22T16:00:00.000Z\n\
             [b]\naws_access_key_id = ASIAB\naws_secret_access_key = s\naws_security_token = tok-b\n\
             x_security_token_expires = 2026-11-22T17:00:00+01:00\n\
             [c]\naws_access_key_id = ASIAC\naws_secret_access_key = s\nexpiration = 2026-11-22T16:00:00+00:00\n\
             [d]\naws_access_key_id = ASIAD\naws_secret_access_key = s\nexpiration = not a time\n",
        );
        let env = FakeEnv::new(&home);
        let a = load(&env, Some("a")).unwrap();
        assert_eq!((a.session_token.as_deref(), a.expires_at), (Some("tok-a"), Some(1_795_363_200)));
        let b = load(&env, Some("b")).unwrap();
        assert_eq!((b.session_token.as_deref(), b.expires_at), (Some("tok-b"), Some(1_795_363_200)));
        assert_eq!(load(&env, Some("c")).unwrap().expires_at, Some(1_795_363_200));
        // botocore ignores these fields, so a bad one must not break loading.
        assert_eq!(load(&env, Some("d")).unwrap().expires_at, None);
    }

    #[test]
    fn missing_profile_errors() {
        let home = TempHome::new();
        home.credentials(DEFAULT_CREDS);
        let err = load(&FakeEnv::new(&home), Some("nope")).unwrap_err();
        assert_eq!(err.to_string(), "AWS profile \"nope\" not found in the AWS config or credentials file");

        // botocore fails on a missing AWS_PROFILE even when the environment has keys.
        let env = FakeEnv::new(&home).with_env_keys().set("AWS_PROFILE", "nope");
        assert!(matches!(load(&env, None), Err(CredentialsError::ProfileNotFound(p)) if p == "nope"));
        assert!(matches!(profile_settings(&env, None), Err(CredentialsError::ProfileNotFound(_))));
        assert_eq!(region(&env, None), None);

        // An explicit `--profile default` must exist too.
        let empty = TempHome::new();
        assert!(matches!(load(&FakeEnv::new(&empty), Some("default")), Err(CredentialsError::ProfileNotFound(_))));
    }

    #[test]
    fn no_credentials_at_all() {
        let home = TempHome::new();
        let err = load(&FakeEnv::new(&home), None).unwrap_err();
        let CredentialsError::NotFound { profile, looked_in } = &err else { panic!("{err:?}") };
        assert_eq!(profile, "default");
        assert_eq!(looked_in, &vec![ENV_LOOKED_IN.to_owned(), creds_path(&home), config_path(&home)]);
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "no AWS credentials found for profile \"default\": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                 or add aws_access_key_id and aws_secret_access_key to [default] in {}",
                creds_path(&home)
            )),
            "{msg}"
        );
        assert!(!msg.contains('\n'));

        // A profile that exists but has no keys; --profile does not mention the environment.
        home.config("[profile bare]\nregion = us-east-1\n");
        let err = load(&FakeEnv::new(&home), Some("bare")).unwrap_err();
        assert!(!err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");
        assert!(err.to_string().contains("[bare]"), "{err}");

        // Unknown home directory.
        let env = FakeEnv { vars: HashMap::new(), home: None };
        assert!(load(&env, None).unwrap_err().to_string().contains("home directory unknown"));
    }

    #[test]
    fn incomplete_profile() {
        let home = TempHome::new();
        home.credentials("[default]\naws_access_key_id = AKIA\n[other]\naws_secret_access_key = s\n");
        let err = load(&FakeEnv::new(&home), None).unwrap_err();
        assert!(matches!(&err, CredentialsError::Incomplete { profile, missing: "aws_secret_access_key" } if profile == "default"));
        assert_eq!(err.to_string(), "AWS profile \"default\" is incomplete: aws_secret_access_key is missing");
        let err = load(&FakeEnv::new(&home), Some("other")).unwrap_err();
        assert!(matches!(err, CredentialsError::Incomplete { missing: "aws_access_key_id", .. }));
    }

    #[test]
    fn role_profiles_need_refresh() {
        let home = TempHome::new();
        home.credentials(DEFAULT_CREDS);
        home.config(
            "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/Admin\nsource_profile = default\n\
             duration_seconds = 3600\nregion = eu-central-1\n\
             [profile both]\nrole_arn = arn:aws:iam::123456789012:role/Admin\n\
             aws_access_key_id = AKIABOTH\naws_secret_access_key = s\n\
             [profile chained]\nsource_profile = default\naws_access_key_id = AKIACHAIN\naws_secret_access_key = s\n",
        );
        let env = FakeEnv::new(&home);
        let err = load(&env, Some("admin")).unwrap_err();
        assert!(matches!(&err, CredentialsError::RequiresRefresh { profile, .. } if profile == "admin"), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("role_arn") && msg.contains("--refresh") && msg.contains("static"), "{msg}");
        // role_arn wins over static keys in the same profile, as in botocore.
        assert!(matches!(load(&env, Some("both")), Err(CredentialsError::RequiresRefresh { .. })));
        // source_profile without role_arn means nothing.
        assert_eq!(load(&env, Some("chained")).unwrap().access_key_id, "AKIACHAIN");

        let settings = profile_settings(&env, Some("admin")).unwrap();
        assert_eq!(settings.name, "admin");
        assert_eq!(settings.role_arn.as_deref(), Some("arn:aws:iam::123456789012:role/Admin"));
        assert_eq!(settings.source_profile.as_deref(), Some("default"));
        assert_eq!(settings.duration_seconds, Some(3600));
        assert_eq!(settings.region.as_deref(), Some("eu-central-1"));
        assert_eq!(settings.found_in, vec![config_path(&home)]);
    }

    #[test]
    fn other_dynamic_sources_need_refresh_in_botocore_order() {
        let home = TempHome::new();
        home.credentials("[proc]\naws_access_key_id = AKIAPROC\naws_secret_access_key = s\n");
        home.config(
            "[profile proc]\ncredential_process = /bin/creds\n\
             [profile proc2]\ncredential_process = /bin/creds\naws_access_key_id = AKIA2\naws_secret_access_key = s\n\
             [profile sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\n\
             [profile web]\nweb_identity_token_file = /tmp/token\nrole_arn = arn:aws:iam::1:role/W\n",
        );
        let env = FakeEnv::new(&home);
        // Credentials-file keys come before credential_process …
        assert_eq!(load(&env, Some("proc")).unwrap().access_key_id, "AKIAPROC");
        // … which comes before config-file keys.
        assert!(matches!(load(&env, Some("proc2")), Err(CredentialsError::RequiresRefresh { .. })));
        assert!(load(&env, Some("sso")).unwrap_err().to_string().contains("SSO"));
        assert!(load(&env, Some("web")).unwrap_err().to_string().contains("web_identity_token_file"));

        // AWS_WEB_IDENTITY_TOKEN_FILE applies unless --profile is given.
        let env = FakeEnv::new(&home).set("AWS_WEB_IDENTITY_TOKEN_FILE", "/tmp/token").set("AWS_PROFILE", "proc");
        assert!(matches!(load(&env, None), Err(CredentialsError::RequiresRefresh { .. })));
        assert_eq!(load(&env, Some("proc")).unwrap().access_key_id, "AKIAPROC");
    }

    #[test]
    fn file_locations_from_environment_with_tilde_and_vars() {
        let home = TempHome::new();
        home.write("elsewhere/creds", "[default]\naws_access_key_id = AKIAELSEWHERE\naws_secret_access_key = s\n");
        home.write("elsewhere/conf", "[default]\nregion = sa-east-1\n");
        home.credentials(DEFAULT_CREDS);
        let env = FakeEnv::new(&home)
            .set("AWS_SHARED_CREDENTIALS_FILE", "~/elsewhere/creds")
            .set("DIR", "elsewhere")
            .set("AWS_CONFIG_FILE", "~/${DIR}/conf");
        let creds = load(&env, None).unwrap();
        assert_eq!(creds.access_key_id, "AKIAELSEWHERE");
        assert_eq!(creds.source, format!("profile default in {}", home.0.join("elsewhere/creds").display()));
        assert_eq!(region(&env, None).as_deref(), Some("sa-east-1"));
    }

    #[test]
    fn region_precedence() {
        let home = TempHome::new();
        home.config("[default]\nregion = from-profile\n[profile other]\nregion = from-other\n");
        let env = FakeEnv::new(&home);
        assert_eq!(region(&env, None).as_deref(), Some("from-profile"));
        assert_eq!(region(&env, Some("other")).as_deref(), Some("from-other"));
        let env = FakeEnv::new(&home).set("AWS_DEFAULT_REGION", "from-default-region");
        assert_eq!(region(&env, None).as_deref(), Some("from-default-region"));
        let env = env.set("AWS_REGION", "from-region");
        assert_eq!(region(&env, Some("other")).as_deref(), Some("from-region"));
        let env = FakeEnv::new(&home).set("AWS_REGION", "");
        assert_eq!(region(&env, None).as_deref(), Some("from-profile"));
        assert_eq!(region(&FakeEnv::new(&TempHome::new()), None), None);
    }

    #[test]
    fn profile_settings_hide_secrets_and_merge_files() {
        let home = TempHome::new();
        home.config("[default]\nregion = us-east-1\nendpoint_url = http://localhost:9000\nCustom_Thing = 1\n");
        home.credentials("[default]\naws_access_key_id = AKIA\naws_secret_access_key = s3cr3t\naws_session_token = t0k\n");
        let settings = profile_settings(&FakeEnv::new(&home), None).unwrap();
        assert_eq!(settings.endpoint_url.as_deref(), Some("http://localhost:9000"));
        assert_eq!(settings.values.get("custom_thing").map(String::as_str), Some("1"));
        assert_eq!(settings.found_in, vec![config_path(&home), creds_path(&home)]);
        let debug = format!("{settings:?}");
        assert!(!debug.contains("s3cr3t") && !debug.contains("t0k"), "{debug}");

        let missing = profile_settings(&FakeEnv::new(&TempHome::new()), None).unwrap();
        assert_eq!(missing, ProfileSettings { name: "default".to_owned(), ..ProfileSettings::default() });
    }

    #[test]
    fn default_section_is_inherited() {
        let home = TempHome::new();
        home.config("[DEFAULT]\nregion = inherited\n[profile a]\n[profile b]\nregion = own\n");
        let env = FakeEnv::new(&home);
        assert_eq!(region(&env, Some("a")).as_deref(), Some("inherited"));
        assert_eq!(region(&env, Some("b")).as_deref(), Some("own"));
        // DEFAULT is not itself a profile.
        assert!(matches!(profile_settings(&env, Some("DEFAULT")), Err(CredentialsError::ProfileNotFound(_))));
    }

    #[test]
    fn crlf_bom_and_indented_keys() {
        let home = TempHome::new();
        home.credentials("\u{feff}[default]\r\n  aws_access_key_id = AKIACRLF\r\n  aws_secret_access_key = s\r\n");
        let creds = load(&FakeEnv::new(&home), None).unwrap();
        assert_eq!((creds.access_key_id.as_str(), creds.secret_access_key.as_str()), ("AKIACRLF", "s"));
    }

    #[test]
    fn malformed_files_are_reported_with_line_numbers() {
        let cases = [
            ("aws_access_key_id = AKIA\n", 1, "before the first [section]"),
            ("[default]\naws_secret_access_key s3cr3t\n", 2, "expected `key = value`"),
            ("[default]\nregion = a\n[default]\n", 3, "appears more than once"),
            ("[default]\nregion = a\nREGION = b\n", 3, "appears more than once"),
            ("[default]\n= value\n", 2, "missing key"),
        ];
        for (text, line, needle) in cases {
            let home = TempHome::new();
            let path = home.credentials(text);
            let err = load(&FakeEnv::new(&home), None).unwrap_err();
            let CredentialsError::Parse { line: got, .. } = &err else { panic!("{text:?}: {err:?}") };
            assert_eq!(*got, line, "{text:?}");
            let msg = err.to_string();
            assert!(msg.contains(needle) && msg.contains(&path.display().to_string()), "{msg}");
            assert!(!msg.contains("s3cr3t"), "{msg}");
        }
    }

    #[test]
    fn directory_instead_of_file_is_ignored() {
        let home = TempHome::new();
        std::fs::create_dir_all(home.0.join(".aws/credentials")).unwrap();
        home.config("[default]\naws_access_key_id = AKIACFG\naws_secret_access_key = s\n");
        assert_eq!(load(&FakeEnv::new(&home), None).unwrap().access_key_id, "AKIACFG");
    }

    #[test]
    fn parse_expiration_variants() {
        let t = Some(1_795_363_200); // 2026-11-22T16:00:00Z
        for s in [
            "2026-11-22T16:00:00Z",
            "2026-11-22t16:00:00z",
            "2026-11-22T16:00:00+00:00",
            "2026-11-22T16:00:00-00:00",
            "2026-11-22T16:00:00.123Z",
            "2026-11-22T16:00:00.123456789+00:00",
            "2026-11-22T17:30:00+01:30",
            "2026-11-22T11:00:00-0500",
            "2026-11-22T18:00:00+02",
            "2026-11-22 16:00:00",
            "2026-11-22 16:00:00 UTC",
            "2026-11-22T16:00:00",
            "  2026-11-22T16:00:00Z\n",
            "1795363200",
            "1795363200.75",
        ] {
            assert_eq!(parse_expiration(s), t, "{s}");
        }
        for s in [
            "",
            "tomorrow",
            "2026-11-22",
            "2026-11-22T16:00Z",
            "2026-02-30T16:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T16:00:00.Z",
            "2026-11-22T16:00:00+1:00",
            "2026-11-22T16:00:00+24:00",
            "2026-11-22T16:00:00Zjunk",
            "-5",
            "2026-11-22T16:00:00\u{e9}",
            "2026-11-2\u{e9}T16:00:00Z",
        ] {
            assert_eq!(parse_expiration(s), None, "{s:?}");
        }
    }

    #[test]
    fn debug_does_not_leak_secrets() {
        let creds = AwsCredentials {
            access_key_id: "AKIAVISIBLE".to_owned(),
            secret_access_key: "very-secret".to_owned(),
            session_token: Some("session-secret".to_owned()),
            expires_at: Some(1),
            source: "environment".to_owned(),
        };
        let debug = format!("{creds:?} {creds:#?}");
        assert!(debug.contains("AKIAVISIBLE") && debug.contains("environment"), "{debug}");
        assert!(!debug.contains("very-secret") && !debug.contains("session-secret"), "{debug}");
    }

    #[test]
    fn shlex_split_matches_python() {
        assert_eq!(shlex_split("profile  foo").unwrap(), ["profile", "foo"]);
        assert_eq!(shlex_split("profile 'a b'").unwrap(), ["profile", "a b"]);
        assert_eq!(shlex_split(r#"profile "a\"b""#).unwrap(), ["profile", "a\"b"]);
        assert_eq!(shlex_split("profile ''").unwrap(), ["profile", ""]);
        assert_eq!(shlex_split("profile 'open"), None);
        assert_eq!(config_profile_name("profile"), None);
        assert_eq!(config_profile_name("profile a b"), None);
        assert_eq!(config_profile_name("default").as_deref(), Some("default"));
        assert_eq!(config_profile_name("preview"), None);
    }

    #[test]
    fn expand_vars_leaves_unknown_alone() {
        let home = TempHome::new();
        let env = FakeEnv::new(&home).set("A", "x");
        assert_eq!(expand_vars(&env, "$A/${A}/$B/${B}/$/${"), "x/x/$B/${B}/$/${");
        assert_eq!(expand_user(&env, "~"), home.0.display().to_string());
        assert_eq!(expand_user(&env, "~bob/x"), "~bob/x");
    }
}
