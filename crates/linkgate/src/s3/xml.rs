//! Small XML: a writer for S3's responses and a tree reader for its request bodies.
//!
//! S3's documents are flat and few, so a string writer with escaping and a tiny
//! element tree (built with quick-xml) are all we need — and keep handlers short.

use quick_xml::Reader;
use quick_xml::events::Event;

/// The S3 namespace every response root carries.
pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Writes XML into a string, escaping text.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// Starts a document with the XML declaration.
    pub fn document() -> Self {
        Self { out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") }
    }

    /// `<name>`.
    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name a="v" …>`, values escaped (an ACL's `Grantee` carries `xsi:type`).
    pub fn open_with(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (a, v) in attrs {
            self.out.push(' ');
            self.out.push_str(a);
            self.out.push_str("=\"");
            escape_into(&mut self.out, v);
            self.out.push('"');
        }
        self.out.push('>');
    }

    /// `<name xmlns="…S3…">`: a response root.
    pub fn open_root(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns=\"");
        self.out.push_str(S3_NS);
        self.out.push_str("\">");
    }

    /// `</name>`.
    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name>text</name>`, escaped.
    pub fn element(&mut self, name: &str, text: &str) {
        self.open(name);
        escape_into(&mut self.out, text);
        self.close(name);
    }

    /// Escaped text inside the current element.
    pub fn text(&mut self, text: &str) {
        escape_into(&mut self.out, text);
    }

    /// The document.
    pub fn finish(self) -> String {
        self.out
    }
}

/// Escapes `&`, `<`, `>`, `"`, `'` and control characters XML 1.0 cannot hold as-is.
pub fn escape_into(out: &mut String, text: &str) {
    escape(out, text, true);
}

/// [`escape_into`] for element text, leaving quotes as they are (S3 writes
/// `<ETag>"…"</ETag>`, and byte-for-byte matters to some clients).
pub fn escape_text_into(out: &mut String, text: &str) {
    escape(out, text, false);
}

fn escape(out: &mut String, text: &str, quotes: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            '\'' if quotes => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 => out.push_str(&format!("&#{};", c as u32)),
            c => out.push(c),
        }
    }
}

/// An element of a parsed request body: name (without namespace prefix), text and children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name.
    pub name: String,
    /// Concatenated text content (unescaped).
    pub text: String,
    /// Child elements in order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// Most nesting any S3 request document needs; deeper input is refused.
const MAX_DEPTH: usize = 16;

/// Parses a whole document into its root element. `None` for anything malformed.
pub fn parse(body: &[u8]) -> Option<Element> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH || root.is_some() {
                    return None;
                }
                let name = start.local_name().as_ref().to_owned();
                stack.push(Element { name, ..Element::default() });
            }
            Event::Empty(start) => {
                if root.is_some() {
                    return None;
                }
                let name = start.local_name().as_ref().to_owned();
                let el = Element { name, ..Element::default() };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop()?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c);
                }
            }
            Event::GeneralRef(r) => {
                let top = stack.last_mut()?;
                let name: &str = &r;
                let resolved = match name {
                    "amp" => "&".to_owned(),
                    "lt" => "<".to_owned(),
                    "gt" => ">".to_owned(),
                    "quot" => "\"".to_owned(),
                    "apos" => "'".to_owned(),
                    n if n.starts_with("#x") => char::from_u32(u32::from_str_radix(&n[2..], 16).ok()?)?.to_string(),
                    n if n.starts_with('#') => char::from_u32(n[1..].parse().ok()?)?.to_string(),
                    _ => return None,
                };
                top.text.push_str(&resolved);
            }
            Event::Eof => break,
            Event::DocType(_) => return None,
            _ => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return None;
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_complete_multipart_upload() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Part><PartNumber>1</PartNumber><ETag>"a&amp;b"</ETag></Part>
  <Part><ETag>&quot;c&quot;</ETag><PartNumber>2</PartNumber></Part>
</CompleteMultipartUpload>"#;
        let root = parse(body).unwrap();
        assert_eq!(root.name, "CompleteMultipartUpload");
        let parts: Vec<_> = root
            .children_named("Part")
            .map(|p| (p.child_text("PartNumber").unwrap().trim().to_owned(), p.child_text("ETag").unwrap().to_owned()))
            .collect();
        assert_eq!(parts, vec![("1".into(), "\"a&b\"".into()), ("2".into(), "\"c\"".into())]);
    }

    #[test]
    fn refuses_malformed_and_doctype() {
        assert!(parse(b"<a><b></a>").is_none());
        assert!(parse(b"<a>").is_none());
        assert!(parse(b"<!DOCTYPE x [<!ENTITY e \"x\">]><a>&e;</a>").is_none());
        assert!(parse(b"").is_none());
    }

    #[test]
    fn writer_escapes() {
        let mut w = XmlWriter::document();
        w.open_root("R");
        w.element("K", "a<b>&\"'\u{1}");
        w.close("R");
        assert!(w.finish().ends_with("<R xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><K>a&lt;b&gt;&amp;&quot;&apos;&#1;</K></R>"));
    }
}
