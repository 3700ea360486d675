//! IAM-style identity policies: parsed once when stored, judged at every request.
//!
//! linkgate understands the subset of the IAM policy language that its users need
//! (SPEC "B. STS and identities"):
//!
//! - `{"Version": "2012-10-17", "Id": …, "Statement": {…} | [{…}, …]}`; `Version` may
//!   also be `"2008-10-17"` or absent.
//! - Statements with `Sid`, `Effect` (`Allow` | `Deny`), `Action` or `NotAction`,
//!   `Resource` or `NotResource` (each a string or an array of strings), and an
//!   optional `Condition` with `IpAddress` / `NotIpAddress` on `aws:SourceIp`.
//! - Actions match case-insensitively, resources (ARNs) case-sensitively; both take
//!   the `*` (any run of characters, also none) and `?` (one character) wildcards.
//!
//! Evaluation follows IAM: an explicit `Deny` in any document wins; otherwise any
//! matching `Allow` allows; otherwise the request is implicitly denied. The root
//! identity is not judged by policies at all: callers skip [`evaluate`] for it.
//!
//! Parsing is strict and fails closed: anything linkgate does not understand (an
//! unknown field, condition operator or condition key, a `Principal`, a policy
//! variable) is an error rather than being ignored, because ignoring part of a
//! `Deny` or of a condition would grant more than the author wrote. Evaluation does
//! not allocate.

use std::fmt;
use std::net::IpAddr;

use crate::json_tree::Json;

/// `s3:GetObject`: read an object (GET/HEAD), and create links that read one.
pub const S3_GET_OBJECT: &str = "s3:GetObject";
/// `s3:PutObject`: write an object (PUT, POST upload, multipart), and create upload links.
pub const S3_PUT_OBJECT: &str = "s3:PutObject";
/// `s3:DeleteObject`: delete an object.
pub const S3_DELETE_OBJECT: &str = "s3:DeleteObject";
/// `s3:ListBucket`: list a bucket's keys; judged against the bucket ARN ([`s3_bucket_arn`]).
pub const S3_LIST_BUCKET: &str = "s3:ListBucket";
/// `s3:*`: every S3 action. A pattern for policy authors; requests never carry it.
pub const S3_ALL: &str = "s3:*";
/// `linkgate:CreateLink`: create a broker link; judged against the target's ARN.
pub const LINKGATE_CREATE_LINK: &str = "linkgate:CreateLink";
/// `linkgate:RevokeLink`: revoke a broker link; judged against the target's ARN.
pub const LINKGATE_REVOKE_LINK: &str = "linkgate:RevokeLink";
/// `linkgate:*`: every linkgate action. A pattern for policy authors; requests never carry it.
pub const LINKGATE_ALL: &str = "linkgate:*";

/// The ARN an object request is judged against: `arn:aws:s3:::BUCKET/KEY`, so that
/// policies written for AWS (`arn:aws:s3:::bucket/prefix*`) work unchanged.
pub fn s3_object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

/// The ARN a bucket-level request (ListBucket) is judged against: `arn:aws:s3:::BUCKET`.
pub fn s3_bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// Why a policy document was rejected, in words a policy author can act on (the
/// admin and IAM APIs return it as the `MalformedPolicyDocument` message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// What is wrong, and where (`Statement 2: …`, or `Statement "Sid": …`).
    pub message: String,
}

impl PolicyError {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

/// One request to judge: what is done, to what, from where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessRequest<'a> {
    /// The action, e.g. [`S3_GET_OBJECT`] (`service:Name`, matched case-insensitively).
    pub action: &'a str,
    /// The resource ARN, e.g. from [`s3_object_arn`] (matched case-sensitively).
    pub resource: &'a str,
    /// The client's address, for `aws:SourceIp` (IPv4-mapped IPv6 counts as IPv4).
    pub source_ip: IpAddr,
}

/// The outcome of [`evaluate`]; IAM distinguishes the two denials, and so do audit
/// logs and `linkgate explain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Some statement allows the request and none denies it.
    Allow,
    /// A `Deny` statement matches: nothing else can allow the request.
    ExplicitDeny,
    /// No statement allows the request.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// A parsed identity policy (a user's or a role's), ready to be judged many times.
#[derive(Clone, Debug)]
pub struct PolicyDocument {
    text: Box<str>,
    statements: Box<[Statement]>,
}

impl PolicyDocument {
    /// Parses and validates a policy document; every error names what to fix.
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        let root: Json = serde_json::from_str(json).map_err(|e| PolicyError::new(format!("Syntax errors in policy: {e}")))?;
        let Json::Obj(fields) = &root else {
            return Err(PolicyError::new(format!("Policy document must be a JSON object, not {}", root.kind())));
        };
        check_fields(fields, "")?;
        let (mut version, mut statement) = (None, None);
        for (name, value) in fields {
            match name.as_str() {
                "Version" => version = Some(value),
                "Id" => {
                    if !matches!(value, Json::Str(_)) {
                        return Err(PolicyError::new(format!("Id must be a string, not {}", value.kind())));
                    }
                }
                "Statement" => statement = Some(value),
                other => return Err(PolicyError::new(format!("Unknown field {other}"))),
            }
        }
        let variables = match version {
            None => false,
            Some(Json::Str(v)) if v == "2012-10-17" => true,
            Some(Json::Str(v)) if v == "2008-10-17" => false,
            Some(Json::Str(v)) => {
                return Err(PolicyError::new(format!("Unsupported Version {v}: use \"2012-10-17\"")));
            }
            Some(other) => return Err(PolicyError::new(format!("Version must be a string, not {}", other.kind()))),
        };
        let statements: &[Json] = match statement {
            None => return Err(PolicyError::new("Statement is required")),
            Some(Json::Arr(items)) => items,
            Some(one @ Json::Obj(_)) => std::slice::from_ref(one),
            Some(other) => {
                return Err(PolicyError::new(format!("Statement must be an object or an array of objects, not {}", other.kind())));
            }
        };
        if statements.is_empty() {
            return Err(PolicyError::new("Statement must not be empty"));
        }
        let mut parsed = Vec::with_capacity(statements.len());
        let mut sids: Vec<&str> = Vec::new();
        for (index, value) in statements.iter().enumerate() {
            let (statement, sid) = parse_statement(value, index + 1, variables)?;
            if let Some(sid) = sid.filter(|s| !s.is_empty()) {
                if sids.contains(&sid) {
                    return Err(PolicyError::new(format!("Duplicate Sid \"{sid}\": statement ids must be unique within a policy")));
                }
                sids.push(sid);
            }
            parsed.push(statement);
        }
        Ok(Self { text: json.into(), statements: parsed.into_boxed_slice() })
    }

    /// The document exactly as submitted: what is stored, and what GetUserPolicy /
    /// GetRolePolicy and the admin API hand back (authors recognise their own text).
    pub fn as_json(&self) -> &str {
        &self.text
    }
}

/// Judges `req` against every document of an identity: an explicit `Deny` anywhere
/// wins; otherwise any matching `Allow` allows; otherwise [`Decision::ImplicitDeny`]
/// (so an identity without policies may do nothing). Does not allocate.
pub fn evaluate<'p>(policies: impl IntoIterator<Item = &'p PolicyDocument>, req: &AccessRequest<'_>) -> Decision {
    let source_ip = req.source_ip.to_canonical();
    let mut allowed = false;
    for document in policies {
        for statement in &document.statements {
            // Once allowed, only a Deny can change the outcome.
            if allowed && statement.effect == Effect::Allow {
                continue;
            }
            if statement.applies(req.action, req.resource, source_ip) {
                match statement.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
    }
    if allowed { Decision::Allow } else { Decision::ImplicitDeny }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Debug)]
struct Statement {
    effect: Effect,
    actions: Patterns,
    resources: Patterns,
    /// All must hold (IAM: conditions under different operators or keys are ANDed).
    conditions: Box<[IpCondition]>,
}

impl Statement {
    fn applies(&self, action: &str, resource: &str, source_ip: IpAddr) -> bool {
        self.actions.matches(action, true) && self.resources.matches(resource, false) && self.conditions.iter().all(|c| c.holds(source_ip))
    }
}

/// `Action` / `Resource` (any pattern matches) or `NotAction` / `NotResource` (none does).
#[derive(Clone, Debug)]
struct Patterns {
    negated: bool,
    patterns: Box<[Box<str>]>,
}

impl Patterns {
    fn matches(&self, text: &str, fold_case: bool) -> bool {
        self.patterns.iter().any(|p| wildcard_match(p, text, fold_case)) != self.negated
    }
}

/// `IpAddress` (the source is in one of the ranges) or `NotIpAddress` (in none).
#[derive(Clone, Debug)]
struct IpCondition {
    negated: bool,
    ranges: Box<[Cidr]>,
}

impl IpCondition {
    /// `source_ip` is canonical: an IPv4-mapped IPv6 address arrives as IPv4.
    fn holds(&self, source_ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(source_ip)) != self.negated
    }
}

/// An address range, parsed strictly (no leading zeros in the prefix length, none
/// in IPv4 octets) and matched with `ipnet`. Shared with broker links
/// (`allowed_ips`), so both judge addresses the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr(ipnet::IpNet);

impl Cidr {
    /// `ADDR/LEN` or a bare `ADDR` (a single host), IPv4 or IPv6.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (addr, len) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (text, None),
        };
        // The standard parser refuses leading zeros in octets (`010.0.0.1` is
        // octal to some tools and decimal to others: ambiguous, so refused).
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            // Digits only, no leading zero: `u8::from_str` would take `+8` and `08`.
            Some(len)
                if (len == "0" || !len.starts_with('0')) && (1..=3).contains(&len.len()) && len.bytes().all(|b| b.is_ascii_digit()) =>
            {
                len.parse().ok()?
            }
            Some(_) => return None,
        };
        ipnet::IpNet::new(addr, len).ok().map(|net| Cidr(net.trunc()))
    }

    /// `ip` is canonical; an IPv4 source also matches IPv6 ranges over `::ffff:0:0/96`.
    pub(crate) fn contains(self, ip: IpAddr) -> bool {
        match (self.0, ip) {
            (ipnet::IpNet::V6(net), IpAddr::V4(v4)) => net.contains(&v4.to_ipv6_mapped()),
            (net, ip) => net.contains(&ip),
        }
    }
}

/// IAM wildcard matching over the whole text: `*` matches any run of characters
/// (also none), `?` exactly one character; everything else literally, ASCII
/// case-insensitively if `fold_case`. Linear backtracking to the last `*`: O(len²)
/// at worst, no allocation.
fn wildcard_match(pattern: &str, text: &str, fold_case: bool) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    // After a `*`: where the pattern resumes, and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    // Invariant: `t` is always on a character boundary when the pattern is at `*`,
    // `?`, or the start of a literal character (a literal character's bytes only
    // match the same character's bytes, and `?` / backtracking step whole characters).
    while t < text.len() {
        if let Some(&c) = pattern.get(p) {
            match c {
                b'*' => {
                    star = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += utf8_len(text[t]);
                    continue;
                }
                c if c == text[t] || (fold_case && c.eq_ignore_ascii_case(&text[t])) => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        // Mismatch: let the last `*` swallow one more character, or fail.
        let Some((resume, tried)) = star else { return false };
        let next = tried + utf8_len(text[tried]);
        star = Some((resume, next));
        p = resume;
        t = next;
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The length of the UTF-8 character starting with `lead`.
fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Parses one statement; returns it with its `Sid` (for the uniqueness check).
fn parse_statement(value: &Json, index: usize, variables: bool) -> Result<(Statement, Option<&str>), PolicyError> {
    let Json::Obj(fields) = value else {
        return Err(PolicyError::new(format!("Statement {index}: must be an object, not {}", value.kind())));
    };
    let sid = match fields.iter().find(|(name, _)| name == "Sid") {
        None => None,
        Some((_, Json::Str(sid))) => Some(sid.as_str()),
        Some((_, other)) => return Err(PolicyError::new(format!("Statement {index}: Sid must be a string, not {}", other.kind()))),
    };
    let context = match sid {
        Some(sid) if !sid.is_empty() => format!("Statement \"{sid}\""),
        _ => format!("Statement {index}"),
    };
    let fail = |message: String| PolicyError::new(format!("{context}: {message}"));
    check_fields(fields, &format!("{context}: ")).map_err(|e| PolicyError::new(e.message))?;

    let (mut effect, mut action, mut not_action, mut resource, mut not_resource, mut condition) = (None, None, None, None, None, None);
    for (name, value) in fields {
        match name.as_str() {
            "Sid" => {}
            "Effect" => effect = Some(value),
            "Action" => action = Some(value),
            "NotAction" => not_action = Some(value),
            "Resource" => resource = Some(value),
            "NotResource" => not_resource = Some(value),
            "Condition" => condition = Some(value),
            "Principal" | "NotPrincipal" => {
                return Err(fail(format!(
                    "Policy document should not specify a principal ({name}): identity policies apply to their user or role"
                )));
            }
            other => return Err(fail(format!("Unknown field {other}"))),
        }
    }

    let effect = match effect {
        None => return Err(fail("Effect is required".into())),
        Some(Json::Str(e)) if e == "Allow" => Effect::Allow,
        Some(Json::Str(e)) if e == "Deny" => Effect::Deny,
        Some(Json::Str(e)) => return Err(fail(format!("Effect must be Allow or Deny, not \"{e}\""))),
        Some(other) => return Err(fail(format!("Effect must be Allow or Deny, not {}", other.kind()))),
    };

    let actions = match (action, not_action) {
        (Some(_), Some(_)) => return Err(fail("Action and NotAction cannot both be given".into())),
        (None, None) => return Err(fail("Action is required (Action or NotAction)".into())),
        (Some(v), None) => Patterns { negated: false, patterns: strings(v, "Action").map_err(&fail)? },
        (None, Some(v)) => Patterns { negated: true, patterns: strings(v, "NotAction").map_err(&fail)? },
    };
    for pattern in &actions.patterns {
        let vendor = pattern.split_once(':').map(|(vendor, _)| vendor);
        if &**pattern != "*" && vendor.is_none_or(str::is_empty) {
            return Err(fail(format!("Action \"{pattern}\" must be \"*\" or service:action, e.g. s3:GetObject")));
        }
    }

    let resources = match (resource, not_resource) {
        (Some(_), Some(_)) => return Err(fail("Resource and NotResource cannot both be given".into())),
        (None, None) => return Err(fail("Resource is required (Resource or NotResource)".into())),
        (Some(v), None) => Patterns { negated: false, patterns: strings(v, "Resource").map_err(&fail)? },
        (None, Some(v)) => Patterns { negated: true, patterns: strings(v, "NotResource").map_err(&fail)? },
    };
    for pattern in &resources.patterns {
        if &**pattern != "*" && !pattern.starts_with("arn:") {
            return Err(fail(format!("Resource \"{pattern}\" must be in ARN format or \"*\"")));
        }
        // Version 2012-10-17 substitutes `${…}`; taking it literally would make a
        // Deny match nothing, so refuse rather than guess.
        if variables && pattern.contains("${") {
            return Err(fail(format!("Resource \"{pattern}\": policy variables (${{…}}) are not supported")));
        }
    }

    let conditions = match condition {
        None => Box::default(),
        Some(value) => parse_conditions(value).map_err(&fail)?,
    };
    Ok((Statement { effect, actions, resources, conditions }, sid))
}

/// `{"IpAddress": {"aws:SourceIp": "cidr" | ["cidr", …]}, "NotIpAddress": {…}}`.
/// Operators are case-sensitive, keys case-insensitive, as in IAM.
fn parse_conditions(value: &Json) -> Result<Box<[IpCondition]>, String> {
    let Json::Obj(operators) = value else {
        return Err(format!("Condition must be an object, not {}", value.kind()));
    };
    check_fields(operators, "Condition: ").map_err(|e| e.message)?;
    let mut conditions = Vec::new();
    for (operator, block) in operators {
        let negated = match operator.as_str() {
            "IpAddress" => false,
            "NotIpAddress" => true,
            other => {
                return Err(format!("Unsupported condition operator {other}: only IpAddress and NotIpAddress are supported"));
            }
        };
        let Json::Obj(keys) = block else {
            return Err(format!("Condition {operator} must be an object, not {}", block.kind()));
        };
        if keys.is_empty() {
            return Err(format!("Condition {operator} must name a key (aws:SourceIp)"));
        }
        check_fields(keys, &format!("Condition {operator}: ")).map_err(|e| e.message)?;
        for (key, values) in keys {
            if !key.eq_ignore_ascii_case("aws:SourceIp") {
                return Err(format!("Unsupported condition key {key} for {operator}: only aws:SourceIp is supported"));
            }
            let ranges = strings(values, key)?
                .iter()
                .map(|text| Cidr::parse(text).ok_or_else(|| format!("Invalid CIDR {text} in aws:SourceIp")))
                .collect::<Result<Box<[Cidr]>, String>>()?;
            conditions.push(IpCondition { negated, ranges });
        }
    }
    Ok(conditions.into_boxed_slice())
}

/// A string or a non-empty array of strings.
fn strings(value: &Json, what: &str) -> Result<Box<[Box<str>]>, String> {
    match value {
        Json::Str(s) => Ok(Box::new([s.as_str().into()])),
        Json::Arr(items) if items.is_empty() => Err(format!("{what} must not be an empty array")),
        Json::Arr(items) => items
            .iter()
            .map(|item| match item {
                Json::Str(s) => Ok(s.as_str().into()),
                other => Err(format!("{what} must be a string or an array of strings, not an array holding {}", other.kind())),
            })
            .collect(),
        other => Err(format!("{what} must be a string or an array of strings, not {}", other.kind())),
    }
}

/// Rejects a field given twice: JSON parsers disagree on which one counts, so a
/// duplicate `Effect` or condition is ambiguous.
fn check_fields(fields: &[(String, Json)], prefix: &str) -> Result<(), PolicyError> {
    for (i, (name, _)) in fields.iter().enumerate() {
        if fields[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(PolicyError::new(format!("{prefix}Duplicate field {name}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    fn doc(json: &str) -> PolicyDocument {
        match PolicyDocument::parse(json) {
            Ok(d) => d,
            Err(e) => panic!("{json}: {e}"),
        }
    }

    fn err(json: &str) -> String {
        match PolicyDocument::parse(json) {
            Ok(_) => panic!("accepted: {json}"),
            Err(e) => e.message,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn judge(docs: &[&PolicyDocument], action: &str, resource: &str, source_ip: &str) -> Decision {
        evaluate(docs.iter().copied(), &AccessRequest { action, resource, source_ip: ip(source_ip) })
    }

    /// One-statement policy with the given effect, action, resource (JSON values).
    fn one(effect: &str, action: &str, resource: &str) -> PolicyDocument {
        doc(&format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Action":{action},"Resource":{resource}}}]}}"#))
    }

    fn with_condition(condition: &str) -> PolicyDocument {
        doc(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{condition}}}}}"#
        ))
    }

    const OBJ: &str = "arn:aws:s3:::photos/2024/a.jpg";
    const V4: &str = "192.0.2.10";

    #[test]
    fn helpers_and_constants() {
        assert_eq!(s3_object_arn("photos", "2024/a.jpg"), OBJ);
        assert_eq!(s3_bucket_arn("photos"), "arn:aws:s3:::photos");
        let all = [
            S3_GET_OBJECT,
            S3_PUT_OBJECT,
            S3_DELETE_OBJECT,
            S3_LIST_BUCKET,
            S3_ALL,
            LINKGATE_CREATE_LINK,
            LINKGATE_REVOKE_LINK,
            LINKGATE_ALL,
        ];
        let wildcard = one("Allow", r#"["s3:*","linkgate:*"]"#, r#""*""#);
        for action in all {
            assert_eq!(judge(&[&wildcard], action, OBJ, V4), Decision::Allow, "{action}");
        }
        assert!(Decision::Allow.is_allowed());
        assert!(!Decision::ExplicitDeny.is_allowed());
        assert!(!Decision::ImplicitDeny.is_allowed());
    }

    #[test]
    fn allow_and_implicit_deny() {
        let read = one("Allow", r#""s3:GetObject""#, r#""arn:aws:s3:::photos/*""#);
        assert_eq!(judge(&[&read], S3_GET_OBJECT, OBJ, V4), Decision::Allow);
        assert_eq!(judge(&[&read], S3_PUT_OBJECT, OBJ, V4), Decision::ImplicitDeny);
        assert_eq!(judge(&[&read], S3_GET_OBJECT, "arn:aws:s3:::other/a.jpg", V4), Decision::ImplicitDeny);
        // No policies at all: nothing is allowed.
        assert_eq!(judge(&[], S3_GET_OBJECT, OBJ, V4), Decision::ImplicitDeny);
    }

    #[test]
    fn deny_beats_allow_across_documents() {
        let allow = one("Allow", r#""s3:*""#, r#""*""#);
        let deny = one("Deny", r#""s3:DeleteObject""#, r#""arn:aws:s3:::photos/*""#);
        for order in [[&allow, &deny], [&deny, &allow]] {
            assert_eq!(judge(&order, S3_DELETE_OBJECT, OBJ, V4), Decision::ExplicitDeny);
            assert_eq!(judge(&order, S3_GET_OBJECT, OBJ, V4), Decision::Allow);
            assert_eq!(judge(&order, S3_DELETE_OBJECT, "arn:aws:s3:::other/x", V4), Decision::Allow);
        }
        // Within one document too, whatever the statement order.
        let both = doc(r#"{"Statement":[
            {"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::photos/private/*"},
            {"Effect":"Allow","Action":"*","Resource":"*"}]}"#);
        assert_eq!(judge(&[&both], S3_GET_OBJECT, "arn:aws:s3:::photos/private/k", V4), Decision::ExplicitDeny);
        assert_eq!(judge(&[&both], S3_GET_OBJECT, OBJ, V4), Decision::Allow);
        // A deny that does not match leaves an implicit deny.
        assert_eq!(judge(&[&deny], S3_GET_OBJECT, OBJ, V4), Decision::ImplicitDeny);
    }

    #[test]
    fn action_wildcards_and_case() {
        let cases = [
            (r#""s3:GetObject""#, S3_GET_OBJECT, true),
            (r#""S3:GETOBJECT""#, S3_GET_OBJECT, true),
            (r#""s3:getobject""#, "S3:GetObject", true),
            (r#""s3:Get*""#, S3_GET_OBJECT, true),
            (r#""s3:Get*""#, S3_PUT_OBJECT, false),
            (r#""s3:*Object""#, S3_DELETE_OBJECT, true),
            (r#""s3:*Object""#, S3_LIST_BUCKET, false),
            (r#""s3:?etObject""#, S3_GET_OBJECT, true),
            (r#""s3:?etObject""#, S3_PUT_OBJECT, false),
            (r#""s3:??tObject""#, S3_PUT_OBJECT, true),
            (r#""s3:*""#, S3_LIST_BUCKET, true),
            (r#""s3:*""#, LINKGATE_CREATE_LINK, false),
            (r#""linkgate:*""#, LINKGATE_REVOKE_LINK, true),
            (r#""linkgate:*Link""#, LINKGATE_CREATE_LINK, true),
            (r#""*""#, LINKGATE_CREATE_LINK, true),
            (r#""*:*""#, S3_GET_OBJECT, true),
            (r#""s3:GetObjec""#, S3_GET_OBJECT, false),
            (r#""s3:GetObjectX""#, S3_GET_OBJECT, false),
            // Unknown services and actions are accepted (as IAM does) but match nothing of ours.
            (r#""ec2:*""#, S3_GET_OBJECT, false),
            (r#""s3:GetObjectVersion""#, S3_GET_OBJECT, false),
            (r#"["ec2:RunInstances","s3:PutObject"]"#, S3_PUT_OBJECT, true),
        ];
        for (action, requested, expected) in cases {
            let d = one("Allow", action, r#""*""#);
            assert_eq!(judge(&[&d], requested, OBJ, V4).is_allowed(), expected, "{action} vs {requested}");
        }
    }

    #[test]
    fn resource_wildcards_are_case_sensitive() {
        let cases = [
            (r#""*""#, OBJ, true),
            (r#""*""#, "arn:aws:s3:::photos", true),
            (r#""arn:aws:s3:::photos/2024/a.jpg""#, OBJ, true),
            (r#""arn:aws:s3:::photos/2024/A.jpg""#, OBJ, false),
            (r#""arn:aws:s3:::Photos/*""#, OBJ, false),
            (r#""arn:aws:s3:::photos/*""#, OBJ, true),
            (r#""arn:aws:s3:::photos/2024*""#, OBJ, true),
            (r#""arn:aws:s3:::photos/2023*""#, OBJ, false),
            (r#""arn:aws:s3:::photos/*/a.jpg""#, OBJ, true),
            (r#""arn:aws:s3:::photos/*.jpg""#, OBJ, true),
            (r#""arn:aws:s3:::photos/*.png""#, OBJ, false),
            (r#""arn:aws:s3:::photos/202?/a.jpg""#, OBJ, true),
            (r#""arn:aws:s3:::photos/20?/a.jpg""#, OBJ, false),
            (r#""arn:aws:s3:::photo?/*""#, OBJ, true),
            (r#""arn:aws:s3:::*/2024/*""#, OBJ, true),
            (r#""arn:aws:s3:::photos""#, OBJ, false),
            // The bucket ARN (ListBucket) is not under bucket/*.
            (r#""arn:aws:s3:::photos/*""#, "arn:aws:s3:::photos", false),
            (r#""arn:aws:s3:::photos""#, "arn:aws:s3:::photos", true),
            (r#""arn:aws:s3:::photos*""#, "arn:aws:s3:::photos", true),
            (r#""arn:aws:s3:::photos*""#, "arn:aws:s3:::photos-backup/x", true),
            (r#"["arn:aws:s3:::a/*","arn:aws:s3:::photos/*"]"#, OBJ, true),
        ];
        for (resource, requested, expected) in cases {
            let d = one("Allow", r#""s3:*""#, resource);
            assert_eq!(judge(&[&d], S3_GET_OBJECT, requested, V4).is_allowed(), expected, "{resource} vs {requested}");
        }
    }

    #[test]
    fn question_mark_is_one_character_not_one_byte() {
        let d = one("Allow", r#""s3:GetObject""#, r#""arn:aws:s3:::b/caf?.txt""#);
        assert_eq!(judge(&[&d], S3_GET_OBJECT, &s3_object_arn("b", "café.txt"), V4), Decision::Allow);
        assert_eq!(judge(&[&d], S3_GET_OBJECT, &s3_object_arn("b", "caf€.txt"), V4), Decision::Allow);
        assert_eq!(judge(&[&d], S3_GET_OBJECT, &s3_object_arn("b", "caf😀.txt"), V4), Decision::Allow);
        assert_eq!(judge(&[&d], S3_GET_OBJECT, &s3_object_arn("b", "caf.txt"), V4), Decision::ImplicitDeny);
        assert_eq!(judge(&[&d], S3_GET_OBJECT, &s3_object_arn("b", "cafée.txt"), V4), Decision::ImplicitDeny);
        let d = one("Allow", r#""s3:GetObject""#, r#""arn:aws:s3:::b/*é""#);
        assert_eq!(judge(&[&d], S3_GET_OBJECT, &s3_object_arn("b", "ééé"), V4), Decision::Allow);
        assert_eq!(judge(&[&d], S3_GET_OBJECT, &s3_object_arn("b", "éèe"), V4), Decision::ImplicitDeny);
        // Case folding is ASCII only: non-ASCII letters are compared as they are.
        assert!(wildcard_match("É", "É", true));
        assert!(!wildcard_match("É", "é", true));
    }

    #[test]
    fn not_action_and_not_resource() {
        let all_but_delete = doc(r#"{"Statement":{"Effect":"Allow","NotAction":["s3:Delete*","linkgate:*"],"Resource":"*"}}"#);
        assert_eq!(judge(&[&all_but_delete], S3_GET_OBJECT, OBJ, V4), Decision::Allow);
        assert_eq!(judge(&[&all_but_delete], S3_DELETE_OBJECT, OBJ, V4), Decision::ImplicitDeny);
        assert_eq!(judge(&[&all_but_delete], LINKGATE_CREATE_LINK, OBJ, V4), Decision::ImplicitDeny);

        let outside_public =
            doc(r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::photos/private/*"}}"#);
        assert_eq!(judge(&[&outside_public], S3_GET_OBJECT, OBJ, V4), Decision::Allow);
        assert_eq!(judge(&[&outside_public], S3_GET_OBJECT, "arn:aws:s3:::photos/private/x", V4), Decision::ImplicitDeny);

        // Deny everything but reads: a guard rail on top of a broad allow.
        let allow = one("Allow", r#""*""#, r#""*""#);
        let deny_writes = doc(r#"{"Statement":{"Effect":"Deny","NotAction":"s3:GetObject","Resource":"*"}}"#);
        assert_eq!(judge(&[&allow, &deny_writes], S3_GET_OBJECT, OBJ, V4), Decision::Allow);
        assert_eq!(judge(&[&allow, &deny_writes], S3_PUT_OBJECT, OBJ, V4), Decision::ExplicitDeny);

        let deny_outside_home =
            doc(r#"{"Statement":{"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::home/alice/*","arn:aws:s3:::home"]}}"#);
        assert_eq!(judge(&[&allow, &deny_outside_home], S3_PUT_OBJECT, "arn:aws:s3:::home/alice/x", V4), Decision::Allow);
        assert_eq!(judge(&[&allow, &deny_outside_home], S3_LIST_BUCKET, "arn:aws:s3:::home", V4), Decision::Allow);
        assert_eq!(judge(&[&allow, &deny_outside_home], S3_PUT_OBJECT, "arn:aws:s3:::home/bob/x", V4), Decision::ExplicitDeny);
    }

    #[test]
    fn ip_address_conditions() {
        let v4 = with_condition(r#"{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#);
        assert_eq!(judge(&[&v4], S3_GET_OBJECT, OBJ, "192.0.2.200"), Decision::Allow);
        assert_eq!(judge(&[&v4], S3_GET_OBJECT, OBJ, "192.0.3.1"), Decision::ImplicitDeny);
        assert_eq!(judge(&[&v4], S3_GET_OBJECT, OBJ, "2001:db8::1"), Decision::ImplicitDeny);

        let v6 = with_condition(r#"{"IpAddress":{"aws:SourceIp":"2001:db8:abcd::/48"}}"#);
        assert_eq!(judge(&[&v6], S3_GET_OBJECT, OBJ, "2001:db8:abcd:12::5"), Decision::Allow);
        assert_eq!(judge(&[&v6], S3_GET_OBJECT, OBJ, "2001:db8:abce::5"), Decision::ImplicitDeny);
        assert_eq!(judge(&[&v6], S3_GET_OBJECT, OBJ, V4), Decision::ImplicitDeny);

        let list = with_condition(r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32","198.51.100.7"]}}"#);
        for allowed in ["10.1.2.3", "2001:db8::9", "198.51.100.7"] {
            assert_eq!(judge(&[&list], S3_GET_OBJECT, OBJ, allowed), Decision::Allow, "{allowed}");
        }
        for denied in ["11.0.0.1", "2001:db9::1", "198.51.100.8"] {
            assert_eq!(judge(&[&list], S3_GET_OBJECT, OBJ, denied), Decision::ImplicitDeny, "{denied}");
        }

        // A bare address is a single host; host bits in a CIDR are ignored.
        let bare6 = with_condition(r#"{"IpAddress":{"aws:SourceIp":"2001:db8::7"}}"#);
        assert_eq!(judge(&[&bare6], S3_GET_OBJECT, OBJ, "2001:db8::7"), Decision::Allow);
        assert_eq!(judge(&[&bare6], S3_GET_OBJECT, OBJ, "2001:db8::8"), Decision::ImplicitDeny);
        let host_bits = with_condition(r#"{"IpAddress":{"aws:SourceIp":"192.0.2.77/24"}}"#);
        assert_eq!(judge(&[&host_bits], S3_GET_OBJECT, OBJ, "192.0.2.1"), Decision::Allow);

        // /0 matches the whole family, /32 and /128 one host.
        let zero = with_condition(r#"{"IpAddress":{"aws:SourceIp":["0.0.0.0/0","::/0"]}}"#);
        assert_eq!(judge(&[&zero], S3_GET_OBJECT, OBJ, "255.255.255.255"), Decision::Allow);
        assert_eq!(judge(&[&zero], S3_GET_OBJECT, OBJ, "ffff::1"), Decision::Allow);
        let hosts = with_condition(r#"{"IpAddress":{"aws:SourceIp":["192.0.2.10/32","2001:db8::1/128"]}}"#);
        assert_eq!(judge(&[&hosts], S3_GET_OBJECT, OBJ, "192.0.2.10"), Decision::Allow);
        assert_eq!(judge(&[&hosts], S3_GET_OBJECT, OBJ, "192.0.2.11"), Decision::ImplicitDeny);
        assert_eq!(judge(&[&hosts], S3_GET_OBJECT, OBJ, "2001:db8::1"), Decision::Allow);

        // Condition keys are case-insensitive.
        let upper = with_condition(r#"{"IpAddress":{"AWS:SOURCEIP":"192.0.2.0/24"}}"#);
        assert_eq!(judge(&[&upper], S3_GET_OBJECT, OBJ, V4), Decision::Allow);
    }

    #[test]
    fn not_ip_address_conditions() {
        let outside = with_condition(r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","fd00::/8"]}}"#);
        assert_eq!(judge(&[&outside], S3_GET_OBJECT, OBJ, "10.9.9.9"), Decision::ImplicitDeny);
        assert_eq!(judge(&[&outside], S3_GET_OBJECT, OBJ, "fd12::1"), Decision::ImplicitDeny);
        assert_eq!(judge(&[&outside], S3_GET_OBJECT, OBJ, V4), Decision::Allow);
        assert_eq!(judge(&[&outside], S3_GET_OBJECT, OBJ, "2001:db8::1"), Decision::Allow);

        // The classic guard: deny everything from outside the office.
        let allow = one("Allow", r#""*""#, r#""*""#);
        let office = doc(
            r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}}"#,
        );
        assert_eq!(judge(&[&allow, &office], S3_GET_OBJECT, OBJ, "203.0.113.9"), Decision::Allow);
        assert_eq!(judge(&[&allow, &office], S3_GET_OBJECT, OBJ, V4), Decision::ExplicitDeny);

        // Operators are ANDed: inside 10/8 but not in 10.1/16.
        let both = with_condition(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"NotIpAddress":{"aws:SourceIp":"10.1.0.0/16"}}"#);
        assert_eq!(judge(&[&both], S3_GET_OBJECT, OBJ, "10.2.0.1"), Decision::Allow);
        assert_eq!(judge(&[&both], S3_GET_OBJECT, OBJ, "10.1.0.1"), Decision::ImplicitDeny);
        assert_eq!(judge(&[&both], S3_GET_OBJECT, OBJ, "11.0.0.1"), Decision::ImplicitDeny);

        // Keys differing only in case are both kept, and ANDed.
        let twice = with_condition(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8","AWS:SourceIP":"10.1.0.0/16"}}"#);
        assert_eq!(judge(&[&twice], S3_GET_OBJECT, OBJ, "10.1.0.1"), Decision::Allow);
        assert_eq!(judge(&[&twice], S3_GET_OBJECT, OBJ, "10.2.0.1"), Decision::ImplicitDeny);

        // An empty Condition object is no condition.
        let empty = with_condition("{}");
        assert_eq!(judge(&[&empty], S3_GET_OBJECT, OBJ, V4), Decision::Allow);
    }

    #[test]
    fn ipv4_mapped_ipv6_sources() {
        let v4 = with_condition(r#"{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#);
        assert_eq!(judge(&[&v4], S3_GET_OBJECT, OBJ, "::ffff:192.0.2.5"), Decision::Allow);
        assert_eq!(judge(&[&v4], S3_GET_OBJECT, OBJ, "::ffff:192.0.3.5"), Decision::ImplicitDeny);
        let not_v4 = with_condition(r#"{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#);
        assert_eq!(judge(&[&not_v4], S3_GET_OBJECT, OBJ, "::ffff:192.0.2.5"), Decision::ImplicitDeny);
        // A range written in mapped form covers plain IPv4 sources too.
        let mapped = with_condition(r#"{"IpAddress":{"aws:SourceIp":"::ffff:192.0.2.0/120"}}"#);
        assert_eq!(judge(&[&mapped], S3_GET_OBJECT, OBJ, "192.0.2.5"), Decision::Allow);
        assert_eq!(judge(&[&mapped], S3_GET_OBJECT, OBJ, "::ffff:192.0.2.5"), Decision::Allow);
        assert_eq!(judge(&[&mapped], S3_GET_OBJECT, OBJ, "192.0.3.5"), Decision::ImplicitDeny);
        // The IPv4-compatible form (::a.b.c.d) is not IPv4.
        assert_eq!(judge(&[&v4], S3_GET_OBJECT, OBJ, "::192.0.2.5"), Decision::ImplicitDeny);
    }

    #[test]
    fn accepted_shapes() {
        for json in [
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            r#"{"Version":"2012-10-17","Id":"p1","Statement":[{"Sid":"A","Effect":"Allow","Action":["*"],"Resource":["*"]},{"Sid":"B","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
            // Policy variables are literal text before 2012-10-17.
            r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${x}"}}"#,
            r#"{"Statement":[{"Sid":"","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"","Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ] {
            doc(json);
        }
        let text = "{ \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"} }\n";
        assert_eq!(doc(text).as_json(), text);
    }

    #[test]
    fn parse_errors() {
        let st = |body: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{body}]}}"#);
        let cond = |c: &str| st(&format!(r#"{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{c}}}"#));
        let cases: Vec<(String, &str)> = vec![
            ("{".into(), "Syntax errors in policy"),
            (r#"{"Statement":[]} x"#.into(), "Syntax errors in policy"),
            ("[]".into(), "Policy document must be a JSON object, not an array"),
            (r#"{"Version":"2012-10-17"}"#.into(), "Statement is required"),
            (r#"{"Statement":[]}"#.into(), "Statement must not be empty"),
            (r#"{"Statement":"x"}"#.into(), "Statement must be an object or an array of objects, not a string"),
            (r#"{"Statement":[1]}"#.into(), "Statement 1: must be an object, not a number"),
            (r#"{"Version":"2020-01-01","Statement":{}}"#.into(), "Unsupported Version 2020-01-01"),
            (r#"{"Version":1,"Statement":{}}"#.into(), "Version must be a string, not a number"),
            (r#"{"Id":true,"Statement":{}}"#.into(), "Id must be a string, not a boolean"),
            (r#"{"Foo":1,"Statement":{}}"#.into(), "Unknown field Foo"),
            (r#"{"Statement":{},"Statement":{}}"#.into(), "Duplicate field Statement"),
            (st(r#"{"Effect":"Alow","Action":"*","Resource":"*"}"#), "Statement 1: Effect must be Allow or Deny, not \"Alow\""),
            (st(r#"{"Effect":"allow","Action":"*","Resource":"*"}"#), "Effect must be Allow or Deny"),
            (st(r#"{"Effect":null,"Action":"*","Resource":"*"}"#), "Effect must be Allow or Deny, not null"),
            (st(r#"{"Action":"*","Resource":"*"}"#), "Statement 1: Effect is required"),
            (st(r#"{"Sid":"Read","Effect":"Allow","Resource":"*"}"#), "Statement \"Read\": Action is required"),
            (st(r#"{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}"#), "Action and NotAction cannot both be given"),
            (st(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#), "Action must not be an empty array"),
            (st(r#"{"Effect":"Allow","Action":[1],"Resource":"*"}"#), "Action must be a string or an array of strings"),
            (st(r#"{"Effect":"Allow","Action":{},"Resource":"*"}"#), "Action must be a string or an array of strings, not an object"),
            (st(r#"{"Effect":"Allow","Action":"GetObject","Resource":"*"}"#), "Action \"GetObject\" must be \"*\" or service:action"),
            (st(r#"{"Effect":"Allow","Action":":GetObject","Resource":"*"}"#), "must be \"*\" or service:action"),
            (st(r#"{"Effect":"Allow","Action":"*"}"#), "Statement 1: Resource is required"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}"#), "Resource and NotResource cannot both be given"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":"photos/*"}"#), "Resource \"photos/*\" must be in ARN format or \"*\""),
            (st(r#"{"Effect":"Allow","Action":"*","NotResource":[]}"#), "NotResource must not be an empty array"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::home/${aws:username}/*"}"#), "policy variables"),
            (st(r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#), "Policy document should not specify a principal"),
            (st(r#"{"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"*","Resource":"*"}"#), "should not specify a principal"),
            (st(r#"{"Effect":"Allow","Action":"*","Resource":"*","Foo":1}"#), "Statement 1: Unknown field Foo"),
            (st(r#"{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}"#), "Statement 1: Duplicate field Effect"),
            (st(r#"{"Sid":5,"Effect":"Allow","Action":"*","Resource":"*"}"#), "Statement 1: Sid must be a string"),
            (
                st(r#"{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}"#),
                "Duplicate Sid \"A\"",
            ),
            (
                st(r#"{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Allw","Action":"*","Resource":"*"}"#),
                "Statement 2: Effect must be Allow or Deny",
            ),
            (cond(r#"[]"#), "Condition must be an object, not an array"),
            (cond(r#"{"StringEquals":{"aws:username":"a"}}"#), "Unsupported condition operator StringEquals"),
            (cond(r#"{"ipaddress":{"aws:SourceIp":"10.0.0.0/8"}}"#), "Unsupported condition operator ipaddress"),
            (cond(r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#), "Unsupported condition operator IpAddressIfExists"),
            (cond(r#"{"IpAddress":{"aws:SourceVpc":"vpc-1"}}"#), "Unsupported condition key aws:SourceVpc for IpAddress"),
            (cond(r#"{"IpAddress":{}}"#), "Condition IpAddress must name a key"),
            (cond(r#"{"IpAddress":"10.0.0.0/8"}"#), "Condition IpAddress must be an object, not a string"),
            (cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"IpAddress":{"aws:SourceIp":"11.0.0.0/8"}}"#), "Duplicate field IpAddress"),
            (cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8","aws:SourceIp":"11.0.0.0/8"}}"#), "Duplicate field aws:SourceIp"),
            (cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#), "Invalid CIDR 10.0.0.0/33 in aws:SourceIp"),
            (cond(r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/129"]}}"#), "Invalid CIDR 2001:db8::/129 in aws:SourceIp"),
            (cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0/8"}}"#), "Invalid CIDR 10.0.0/8"),
            (cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/+8"}}"#), "Invalid CIDR 10.0.0.0/+8"),
            (cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/"}}"#), "Invalid CIDR 10.0.0.0/"),
            (cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8/8"}}"#), "Invalid CIDR 10.0.0.0/8/8"),
            (cond(r#"{"IpAddress":{"aws:SourceIp":" 10.0.0.0/8"}}"#), "Invalid CIDR  10.0.0.0/8"),
            (cond(r#"{"IpAddress":{"aws:SourceIp":"fe80::1%eth0"}}"#), "Invalid CIDR fe80::1%eth0"),
            (cond(r#"{"IpAddress":{"aws:SourceIp":""}}"#), "Invalid CIDR  in aws:SourceIp"),
            (cond(r#"{"IpAddress":{"aws:SourceIp":[]}}"#), "aws:SourceIp must not be an empty array"),
            (cond(r#"{"IpAddress":{"aws:SourceIp":10}}"#), "aws:SourceIp must be a string or an array of strings, not a number"),
        ];
        for (json, expected) in cases {
            let message = err(&json);
            assert!(message.contains(expected), "{json}\n  gave:     {message}\n  expected: {expected}");
        }
        let e = PolicyDocument::parse(r#"{"Foo":1}"#).unwrap_err();
        assert_eq!(e.to_string(), "Unknown field Foo");
    }

    #[test]
    fn cidr_parsing() {
        let net = |s: &str| Some(Cidr(s.parse::<ipnet::IpNet>().unwrap()));
        assert_eq!(Cidr::parse("10.0.0.0/8"), net("10.0.0.0/8"));
        assert_eq!(Cidr::parse("10.1.2.3/8"), net("10.0.0.0/8"), "host bits are cleared");
        assert_eq!(Cidr::parse("10.1.2.3"), net("10.1.2.3/32"));
        assert_eq!(Cidr::parse("0.0.0.0/0"), net("0.0.0.0/0"));
        assert_eq!(Cidr::parse("::/0"), net("::/0"));
        assert_eq!(Cidr::parse("::1"), net("::1/128"));
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/008",
            "1.2.3.4/08",
            "010.0.0.1/8",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "x",
            "10.0.0.0/ 8",
            "/8",
            "10.0.0.0/",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
        assert!(Cidr::parse("::ffff:192.0.2.0/120").unwrap().contains("192.0.2.7".parse().unwrap()));
        assert!(!Cidr::parse("10.0.0.0/8").unwrap().contains("2001:db8::1".parse().unwrap()));
    }

    /// The matcher the real one must agree with: plain recursion over characters.
    fn reference_match(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|i| reference_match(rest, &text[i..])),
            Some(('?', rest)) => !text.is_empty() && reference_match(rest, &text[1..]),
            Some((c, rest)) => text.first() == Some(c) && reference_match(rest, &text[1..]),
        }
    }

    /// 64 cases unless `PROPTEST_CASES` asks for more.
    fn config() -> ProptestConfig {
        let env = ProptestConfig::default();
        if std::env::var_os("PROPTEST_CASES").is_some() { env } else { ProptestConfig { cases: 64, ..env } }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn literal_pattern_is_string_equality(pattern in "[^*?]{0,20}", text in "[^*?]{0,20}") {
            prop_assert!(wildcard_match(&pattern, &pattern, false));
            prop_assert_eq!(wildcard_match(&pattern, &text, false), pattern == text);
        }

        #[test]
        fn literal_pattern_folded_is_ascii_case_insensitive_equality(pattern in "[a-zA-Z:0-9é]{0,12}", text in "[a-zA-Z:0-9é]{0,12}") {
            prop_assert_eq!(wildcard_match(&pattern, &text, true), pattern.eq_ignore_ascii_case(&text));
            prop_assert!(wildcard_match(&pattern.to_ascii_uppercase(), &pattern.to_ascii_lowercase(), true));
        }

        #[test]
        fn star_matches_everything(text in any::<String>(), fold_case in any::<bool>()) {
            prop_assert!(wildcard_match("*", &text, fold_case));
            prop_assert!(wildcard_match("**", &text, fold_case));
        }

        #[test]
        fn question_marks_count_characters(text in any::<String>()) {
            let n = text.chars().count();
            prop_assert!(wildcard_match(&"?".repeat(n), &text, false));
            prop_assert!(!wildcard_match(&"?".repeat(n + 1), &text, false));
            if n > 0 {
                prop_assert!(!wildcard_match(&"?".repeat(n - 1), &text, false));
            }
        }

        #[test]
        fn agrees_with_reference(pattern in "[ab€*?]{0,10}", text in "[ab€]{0,12}") {
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();
            prop_assert_eq!(wildcard_match(&pattern, &text, false), reference_match(&p, &t));
        }

        #[test]
        fn parse_never_panics(json in any::<String>()) {
            let _ = PolicyDocument::parse(&json);
        }
    }
}
