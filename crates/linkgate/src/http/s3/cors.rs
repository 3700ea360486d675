//! Bucket CORS: configuration, preflight, and headers on actual responses.
//!
//! Preflight (`OPTIONS`) is answered without SigV4 — browsers cannot sign it — and
//! actual responses, errors included, carry the CORS headers, so a browser shows
//! the real S3 error instead of an opaque CORS failure.

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use super::body::read_small;
use super::{S3Call, S3Result, empty, xml_response};
use crate::http::AppState;
use crate::s3::error::S3Error;
use crate::s3::operation::Target;
use crate::s3::requests::{CorsRule, parse_cors as parse_config, render_cors as render_config};

/// `*` matches any run of characters, once; case-insensitive when asked.
fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (p, v) =
        if ignore_case { (pattern.to_ascii_lowercase(), value.to_ascii_lowercase()) } else { (pattern.to_owned(), value.to_owned()) };
    match p.split_once('*') {
        None => p == v,
        Some((pre, post)) => v.len() >= pre.len() + post.len() && v.starts_with(pre) && v.ends_with(post),
    }
}

/// The first rule allowing this origin, method and request headers.
pub(crate) fn matching_rule<'a>(rules: &'a [CorsRule], origin: &str, method: &str, req_headers: &[&str]) -> Option<&'a CorsRule> {
    rules.iter().find(|r| {
        r.origins.iter().any(|o| wildcard(o, origin, false))
            && r.methods.iter().any(|m| m == method)
            && req_headers.iter().all(|h| r.headers.iter().any(|a| wildcard(a, h, true)))
    })
}

async fn bucket_rules(state: &AppState, bucket: &str) -> Result<Option<Vec<CorsRule>>, S3Error> {
    let info = state.objects.bucket(bucket).await?;
    match info.cors_xml {
        None => Ok(None),
        Some(xml) => Ok(Some(parse_config(xml.as_bytes())?)),
    }
}

fn set(r: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// Answers a preflight request.
pub(crate) async fn preflight(state: &AppState, target: &Target, parts: &Parts) -> S3Result {
    let get = |n: header::HeaderName| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let (Target::Bucket(bucket) | Target::Object { bucket, .. }) = target else {
        return Err(S3Error::new("BadRequest", 400, "Insufficient information. Origin request header needed."));
    };
    let (Some(origin), Some(method)) = (get(header::ORIGIN), get(header::ACCESS_CONTROL_REQUEST_METHOD)) else {
        return Err(S3Error::new("BadRequest", 400, "Insufficient information. Origin request header needed."));
    };
    let requested: Vec<&str> = get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .map(|h| h.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let Some(rules) = bucket_rules(state, bucket).await? else {
        return Err(S3Error::new("AccessForbidden", 403, "CORSResponse: CORS is not enabled for this bucket.")
            .with("Method", method)
            .with("ResourceType", "OBJECT"));
    };
    let Some(rule) = matching_rule(&rules, origin, method, &requested) else {
        return Err(S3Error::new(
            "AccessForbidden",
            403,
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        )
        .with("Method", method)
        .with("ResourceType", "OBJECT"));
    };
    let mut r = empty(StatusCode::OK);
    apply_rule(&mut r, rule, origin);
    set(&mut r, header::ACCESS_CONTROL_ALLOW_METHODS, &rule.methods.join(", "));
    if !requested.is_empty() {
        set(&mut r, header::ACCESS_CONTROL_ALLOW_HEADERS, &requested.join(", "));
    }
    if let Some(age) = rule.max_age {
        set(&mut r, header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
    }
    set(&mut r, header::VARY, "Origin, Access-Control-Request-Headers, Access-Control-Request-Method");
    Ok(r)
}

fn apply_rule(r: &mut Response, rule: &CorsRule, origin: &str) {
    if rule.origins.iter().any(|o| o == "*") {
        set(r, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    } else {
        set(r, header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        set(r, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    if !rule.expose.is_empty() {
        set(r, header::ACCESS_CONTROL_EXPOSE_HEADERS, &rule.expose.join(", "));
    }
}

/// Adds CORS headers to an actual response (success or error) when a rule allows it.
pub(crate) async fn decorate(state: &AppState, bucket: &str, parts: &Parts, response: &mut Response) {
    let Some(origin) = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return };
    let Ok(Some(rules)) = bucket_rules(state, bucket).await else { return };
    let method = if parts.method == Method::HEAD { "HEAD" } else { parts.method.as_str() };
    if let Some(rule) = matching_rule(&rules, origin, method, &[]) {
        apply_rule(response, rule, origin);
        response.headers_mut().append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// PutBucketCors.
pub(crate) async fn put_bucket_cors(call: &S3Call<'_>, bucket: &str, body: Body) -> S3Result {
    let doc = read_small(call, body, 64 * 1024).await?;
    let rules = parse_config(&doc)?;
    call.state.objects.set_cors(bucket, Some(&render_config(&rules))).await?;
    Ok(empty(StatusCode::OK))
}

/// GetBucketCors.
pub(crate) async fn get_bucket_cors(call: &S3Call<'_>, bucket: &str) -> S3Result {
    match bucket_rules(call.state, bucket).await? {
        Some(rules) => Ok(xml_response(render_config(&rules))),
        None => Err(S3Error::new("NoSuchCORSConfiguration", 404, "The CORS configuration does not exist").with("BucketName", bucket)),
    }
}

/// DeleteBucketCors.
pub(crate) async fn delete_bucket_cors(call: &S3Call<'_>, bucket: &str) -> S3Result {
    call.state.objects.set_cors(bucket, None).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &[u8] = br#"<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin>
<AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>Content-*</AllowedHeader>
<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>"#;

    #[test]
    fn rules_match_origins_methods_and_headers() {
        let rules = parse_config(DOC).unwrap();
        assert!(matching_rule(&rules, "https://app.example.com", "PUT", &["content-type"]).is_some());
        assert!(matching_rule(&rules, "https://app.example.com", "DELETE", &[]).is_none());
        assert!(matching_rule(&rules, "https://evil.com", "GET", &[]).is_none());
        assert!(matching_rule(&rules, "https://app.example.com", "PUT", &["x-amz-date"]).is_none());
        let again = parse_config(render_config(&rules).as_bytes()).unwrap();
        assert_eq!(again, rules);
    }

    #[test]
    fn invalid_configs_are_refused() {
        assert_eq!(parse_config(b"<CORSConfiguration/>").unwrap_err().code, "MalformedXML");
        let bad = br#"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>"#;
        assert_eq!(parse_config(bad).unwrap_err().code, "InvalidRequest");
    }
}
