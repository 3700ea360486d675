//! A request's query string as S3 reads it: split, percent-decoded, in order.

/// Decoded query parameters, in order.
#[derive(Clone, Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Splits a raw query on `&` and `=` and percent-decodes each side (invalid
    /// UTF-8 becomes U+FFFD); empty segments are skipped, order is kept.
    pub fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|seg| {
                let (k, v) = seg.split_once('=').unwrap_or((seg, ""));
                (decode(k), decode(v))
            })
            .collect();
        Self(pairs)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Whether the query has no parameters at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every (name, value), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Percent-decodes one side of a pair, copying once (invalid UTF-8 becomes U+FFFD).
fn decode(s: &str) -> String {
    match sigv4::encode::decode(s) {
        std::borrow::Cow::Borrowed(_) => s.to_owned(),
        std::borrow::Cow::Owned(bytes) => String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::Query;

    #[test]
    fn decodes_each_side_and_keeps_order() {
        let q = Query::parse("b=2&&a=x%2Fy&uploads&c=%FFz&a=again");
        let pairs: Vec<_> = q.iter().collect();
        assert_eq!(pairs, [("b", "2"), ("a", "x/y"), ("uploads", ""), ("c", "\u{FFFD}z"), ("a", "again")]);
        assert_eq!(q.get("a"), Some("x/y"));
        assert!(q.has("uploads"));
        assert!(!q.has("upload"));
        assert!(Query::parse("&&").is_empty());
    }
}
