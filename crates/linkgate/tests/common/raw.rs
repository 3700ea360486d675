//! HTTP/1.1 over bare TCP, for what a well-behaved client cannot send: requests
//! that stall, trickle or never end, heads over the cap, and requests from a
//! chosen loopback address (to act as several clients).

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::TestServer;

/// An HTTP/1.1 request head: request line, `headers`, then `content-length` if
/// given, and the blank line.
pub fn request_head(method: &str, path_and_query: &str, headers: &[(String, String)], content_length: Option<u64>) -> String {
    let mut head = format!("{method} {path_and_query} HTTP/1.1\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(n) = content_length {
        head.push_str(&format!("content-length: {n}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The text of the first `<name>` element of an XML body.
    pub fn xml(&self, name: &str) -> Option<String> {
        super::xml_element(&self.text(), name)
    }

    /// Status, headers and body, for failure messages.
    pub fn describe(&self) -> String {
        format!("{} {:?} {}", self.status, self.headers, self.text())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads one response: `Ok(None)` if the peer closed before sending a byte.
pub async fn read_response<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<RawResponse>> {
    let mut buf = Vec::new();
    let mut tmp = vec![0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = r.read(&mut tmp).await?;
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("closed mid-head: {:?}", String::from_utf8_lossy(&buf)),
            ));
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned())))
        .collect();
    let mut rest = buf[head_end..].to_vec();
    let get = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let chunked = get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while rest.len() < len {
            let n = r.read(&mut tmp).await?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&tmp[..n]);
        }
        rest.truncate(len);
        rest
    } else if chunked {
        let mut out = Vec::new();
        loop {
            while find(&rest, b"\r\n").is_none() {
                let n = r.read(&mut tmp).await?;
                if n == 0 {
                    return Ok(Some(RawResponse { status, headers, body: out }));
                }
                rest.extend_from_slice(&tmp[..n]);
            }
            let line_end = find(&rest, b"\r\n").unwrap_or(0);
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&rest[..line_end]).split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
            rest.drain(..line_end + 2);
            if size == 0 {
                break;
            }
            while rest.len() < size + 2 {
                let n = r.read(&mut tmp).await?;
                if n == 0 {
                    out.extend_from_slice(&rest);
                    return Ok(Some(RawResponse { status, headers, body: out }));
                }
                rest.extend_from_slice(&tmp[..n]);
            }
            out.extend_from_slice(&rest[..size]);
            rest.drain(..size + 2);
        }
        out
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else {
        // No length: the body runs to the end of the connection.
        loop {
            let n = r.read(&mut tmp).await?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&tmp[..n]);
        }
        rest
    };
    Ok(Some(RawResponse { status, headers, body }))
}

/// What became of a connection the server was expected to end.
#[derive(Debug)]
pub enum Ending {
    /// The server answered (and may also have closed).
    Answered(RawResponse),
    /// Closed (EOF or reset) without an answer.
    Closed(String),
}

/// Reads until the server answers or closes the connection.
pub async fn ending<R: AsyncRead + Unpin>(r: &mut R) -> Ending {
    match read_response(r).await {
        Ok(Some(resp)) => Ending::Answered(resp),
        Ok(None) => Ending::Closed("EOF".into()),
        Err(e) => Ending::Closed(format!("{e}")),
    }
}

/// Connects to `addr`.
pub async fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// One `GET path` sent from `source` (any 127.0.0.0/8 address works on loopback)
/// with `extra_headers` (each ending in CRLF) and `Connection: close`. Returns the
/// status and the raw response.
pub async fn status_from(source: &str, s: &TestServer, path: &str, extra_headers: &str) -> (u16, String) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let mut stream = sock.connect(s.addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n{extra_headers}Connection: close\r\n\r\n", s.addr);
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"));
    (status, text)
}
