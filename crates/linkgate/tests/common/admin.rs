//! Setup through the admin API as root: users with keys and policies, links, and
//! reading the JSON it answers.

use serde_json::{Value, json};

use super::{ROOT, Resp, TestServer, api};

/// The bytes of `bkt/report.pdf` on a [`TestServer::with_report`] server.
pub const REPORT: &[u8] = b"0123456789";

/// The JSON body of a response (panics with the status and text if it is not JSON).
pub fn json_of(r: &Resp) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", r.status, r.text()))
}

/// Asserts `status` and returns the JSON body.
#[track_caller]
pub fn json_with(r: &Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    json_of(r)
}

/// Asserts an RFC 9457 problem with `status`; returns its JSON.
#[track_caller]
pub fn assert_problem(r: &Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "status; body: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"), "content-type; body: {}", r.text());
    json_of(r)
}

/// Creates user `name` (with the inline policy `policy`, if any) and one access
/// key; returns (access key id, secret).
pub async fn user_with_key(s: &TestServer, name: &str, policy: Option<&str>) -> (String, String) {
    json_with(&api(s, ROOT, "POST", "/-/api/v1/users", Some(json!({"name": name}))).await, 201);
    if let Some(p) = policy {
        json_with(&api(s, ROOT, "PUT", &format!("/-/api/v1/users/{name}/policy"), Some(json!({"document": p}))).await, 200);
    }
    let k = json_with(&api(s, ROOT, "POST", &format!("/-/api/v1/users/{name}/keys"), None).await, 201);
    (k["access_key_id"].as_str().unwrap().to_owned(), k["secret_access_key"].as_str().unwrap().to_owned())
}

/// Creates a link from `spec`; returns its JSON (with the token and URL).
pub async fn create_link(s: &TestServer, spec: Value) -> Value {
    json_with(&api(s, ROOT, "POST", "/-/api/v1/links", Some(spec)).await, 201)
}

/// A link's id.
pub fn link_id(link: &Value) -> &str {
    link["id"].as_str().unwrap()
}

/// A link's URL.
pub fn link_url(link: &Value) -> &str {
    link["url"].as_str().unwrap()
}

/// A link's path and query (`/l/TOKEN`), for raw requests.
pub fn link_path(link: &Value) -> String {
    let url = link_url(link);
    url[url.find("/l/").unwrap()..].to_owned()
}

/// The link as the admin API shows it now (state, uses, audit trail).
pub async fn show_link(s: &TestServer, link: &Value) -> Value {
    json_with(&api(s, ROOT, "GET", &format!("/-/api/v1/links/{}", link_id(link)), None).await, 200)
}

/// The outcomes of a shown link's audit rows, oldest first.
pub fn outcomes(shown: &Value) -> Vec<String> {
    shown["audit"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap().to_owned()).collect()
}
