//! IAM identity policies: `linkgate::auth::policy::PolicyDocument::parse` on arbitrary
//! text, and `evaluate` of what parses against fixed requests. Must never panic.
//!
//! Input: `POLICY \0 ACTION \n RESOURCE` (split on the first NUL, then the first
//! newline; both parts read as UTF-8 with replacement characters). ACTION and RESOURCE
//! are a further request to judge, and the words of a policy the target builds itself.
//!
//! Properties:
//! - a parsed document keeps its text (`as_json`);
//! - no document means implicit deny; judging a document twice, or in another order
//!   next to "allow everything", changes nothing; "deny everything" always wins;
//! - IAM wildcards: the pattern `P` matches the text `P` (whatever `*` and `?` it
//!   holds), `prefix*` matches, one `?` per character matches and does not match a
//!   longer text, and actions match ASCII-case-insensitively.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use linkgate::auth::policy::{
    AccessRequest, Decision, LINKGATE_CREATE_LINK, PolicyDocument, S3_GET_OBJECT, S3_LIST_BUCKET, S3_PUT_OBJECT, evaluate, s3_bucket_arn,
    s3_object_arn,
};

const ALLOW_ALL: &str = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#;
const DENY_ALL: &str = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}"#;

/// A one-statement Allow policy, without policy variables (Version 2008-10-17), so any
/// ARN-shaped resource text is accepted as it is.
fn allow(action: &str, resource: &str) -> PolicyDocument {
    let doc = serde_json::json!({
        "Version": "2008-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
    });
    let text = doc.to_string();
    PolicyDocument::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn decide(doc: &PolicyDocument, action: &str, resource: &str) -> Decision {
    evaluate([doc], &AccessRequest { action, resource, source_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)) })
}

fuzz_target!(|data: &[u8]| {
    let (policy, tail) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let policy = String::from_utf8_lossy(policy);
    let tail = String::from_utf8_lossy(tail);
    let (action, resource) = tail.split_once('\n').unwrap_or((&tail, ""));

    let allow_all = PolicyDocument::parse(ALLOW_ALL).expect("allow-all parses");
    let deny_all = PolicyDocument::parse(DENY_ALL).expect("deny-all parses");

    if let Ok(doc) = PolicyDocument::parse(&policy) {
        assert_eq!(doc.as_json(), &*policy);
        let object = s3_object_arn("bucket", "photos/ü 2024.jpg");
        let bucket = s3_bucket_arn("bucket");
        let ips = [
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            IpAddr::V6(Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped()),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        ];
        let requests = [
            (S3_GET_OBJECT, object.as_str()),
            (S3_PUT_OBJECT, object.as_str()),
            ("S3:getobject", object.as_str()),
            (S3_LIST_BUCKET, bucket.as_str()),
            (LINKGATE_CREATE_LINK, object.as_str()),
            ("", ""),
            (action, resource),
        ];
        for (action, resource) in requests {
            for source_ip in ips {
                let req = AccessRequest { action, resource, source_ip };
                let d = evaluate([&doc], &req);
                assert_eq!(evaluate(std::iter::empty(), &req), Decision::ImplicitDeny);
                assert_eq!(evaluate([&doc, &doc], &req), d);
                let with_allow = if d == Decision::ExplicitDeny { Decision::ExplicitDeny } else { Decision::Allow };
                assert_eq!(evaluate([&doc, &allow_all], &req), with_allow);
                assert_eq!(evaluate([&allow_all, &doc], &req), with_allow);
                assert_eq!(evaluate([&allow_all, &doc, &deny_all], &req), Decision::ExplicitDeny);
                assert_eq!(d.is_allowed(), d == Decision::Allow);
            }
        }
    }

    // Wildcards, on a policy built from the tail's words.
    let action = format!("svc:{action}");
    let resource = format!("arn:{resource}");
    let doc = allow(&action, &resource);
    assert_eq!(decide(&doc, &action, &resource), Decision::Allow, "a pattern matches itself");
    assert_eq!(decide(&doc, &action.to_ascii_uppercase(), &resource), Decision::Allow, "actions ignore ASCII case");
    let questions: String = resource.chars().enumerate().map(|(i, c)| if i < 4 { c } else { '?' }).collect();
    let doc = allow(&action, &questions);
    assert_eq!(decide(&doc, &action, &resource), Decision::Allow, "one ? per character");
    assert_eq!(decide(&doc, &action, &format!("{resource}x")), Decision::ImplicitDeny, "? is exactly one character");
    let half = resource.char_indices().map(|(i, _)| i).filter(|&i| i >= 4).nth(resource.chars().count().saturating_sub(4) / 2);
    let prefix = format!("{}*", &resource[..half.unwrap_or(resource.len())]);
    let doc = allow(&action, &prefix);
    assert_eq!(decide(&doc, &action, &resource), Decision::Allow, "prefix* matches");
    assert_eq!(decide(&doc, &action, &format!("{resource}/more")), Decision::Allow, "prefix* matches longer");
});
