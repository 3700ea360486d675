//! Percent-encoding exactly as SigV4 wants it.
//!
//! SigV4 keeps only the RFC 3986 unreserved set (`A-Z a-z 0-9 - . _ ~`) and writes
//! every other byte as `%XX` with upper-case hex. Paths additionally keep `/`.
//! Getting this byte-exact is what makes a signature match, so every encoder in the
//! crate goes through these functions.

use std::borrow::Cow;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Bytes that SigV4 never escapes: the RFC 3986 unreserved set.
const fn unreserved_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_' || b == b'~';
        i += 1;
    }
    table
}

static UNRESERVED: [bool; 256] = unreserved_table();

/// True for the bytes SigV4 leaves as they are.
#[inline]
pub fn is_unreserved(b: u8) -> bool {
    UNRESERVED[b as usize]
}

/// Appends `input` to `out`, escaping everything but unreserved bytes (and `/` when
/// `keep_slash`, as object keys in paths need).
pub fn encode_into(out: &mut String, input: &[u8], keep_slash: bool) {
    // Fast path: most keys and values need no escaping at all.
    let mut start = 0;
    for (i, &b) in input.iter().enumerate() {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            continue;
        }
        push_ascii(out, &input[start..i]);
        out.push('%');
        out.push(HEX_UPPER[(b >> 4) as usize] as char);
        out.push(HEX_UPPER[(b & 0xf) as usize] as char);
        start = i + 1;
    }
    push_ascii(out, &input[start..]);
}

/// Encodes `input` into a new string (see [`encode_into`]).
pub fn encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 2);
    encode_into(&mut out, input.as_bytes(), keep_slash);
    out
}

#[inline]
fn push_ascii(out: &mut String, bytes: &[u8]) {
    // Only unreserved ASCII (and '/') reaches here, so this is valid UTF-8.
    out.push_str(std::str::from_utf8(bytes).unwrap_or_default());
}

/// Index of the first `needle` in `hay`: eight bytes per step (SWAR), which beats
/// a byte loop on the 20–100-byte strings that queries are made of.
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(needle);
    let mut chunks = hay.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        // A zero byte of `x` is a match. The lowest flagged byte is always a true
        // match (false flags can only appear above a true one).
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&b| b == needle).map(|p| offset + p)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes. A `%` not followed by two hex digits is kept literally,
/// as servers and signers do, so decoding never fails. `+` is *not* a space:
/// SigV4 treats the query as RFC 3986, not as an HTML form.
pub fn decode(input: &str) -> Cow<'_, [u8]> {
    let bytes = input.as_bytes();
    if find_byte(bytes, b'%').is_none() {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(p) = find_byte(&bytes[i..], b'%') {
        // Copy the run before the `%` in one go.
        let at = i + p;
        out.extend_from_slice(&bytes[i..at]);
        if at + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex_value(bytes[at + 1]), hex_value(bytes[at + 2]))
        {
            out.push(hi << 4 | lo);
            i = at + 3;
        } else {
            out.push(b'%');
            i = at + 1;
        }
    }
    out.extend_from_slice(&bytes[i..]);
    Cow::Owned(out)
}

/// Re-encodes an already-encoded URI component into SigV4's canonical form: decode
/// `%XX`, then encode again. Components that are already canonical (the common case)
/// are borrowed, not copied.
pub fn canonicalize_component(raw: &str) -> Cow<'_, str> {
    if is_canonical(raw.as_bytes()) {
        return Cow::Borrowed(raw);
    }
    let decoded = decode(raw);
    let mut out = String::with_capacity(raw.len() + 8);
    encode_into(&mut out, &decoded, false);
    Cow::Owned(out)
}

/// True when `raw` is exactly what [`encode`] would produce for its decoding.
fn is_canonical(raw: &[u8]) -> bool {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if is_unreserved(b) {
            i += 1;
        } else if b == b'%' && i + 2 < raw.len() {
            let (h, l) = (raw[i + 1], raw[i + 2]);
            let upper_hex = |c: u8| c.is_ascii_digit() || (b'A'..=b'F').contains(&c);
            if !upper_hex(h) || !upper_hex(l) {
                return false;
            }
            // An escape of an unreserved byte would be decoded and written plainly.
            let value = (hex_value(h).unwrap_or(0) << 4) | hex_value(l).unwrap_or(0);
            if is_unreserved(value) {
                return false;
            }
            i += 3;
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_aws() {
        assert_eq!(encode("a b+c/d~e", false), "a%20b%2Bc%2Fd~e");
        assert_eq!(encode("a b+c/d~e", true), "a%20b%2Bc/d~e");
        assert_eq!(encode("ሴ", false), "%E1%88%B4");
    }

    #[test]
    fn find_byte_finds_the_first_match() {
        let hay: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for len in 0..hay.len() {
            for needle in [b'a', b'h', b'i', b'p', b'z', b'&', 0, 0x80, 0xff] {
                let mut h = hay[..len].to_vec();
                assert_eq!(find_byte(&h, needle), h.iter().position(|&b| b == needle), "{len} {needle}");
                for at in 0..len {
                    h[at] = needle;
                    assert_eq!(find_byte(&h, needle), h.iter().position(|&b| b == needle), "{len} {needle} {at}");
                }
            }
        }
        // Bytes just above and below the needle must not be confused with it.
        assert_eq!(find_byte(&[0x25, 0x24, 0x26, 0x25, 0x01, 0x00, 0xff, 0x26, 0x25], 0x26), Some(2));
        assert_eq!(find_byte(&[0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00], 0x00), Some(8));
    }

    #[test]
    fn decode_keeps_broken_escapes() {
        assert_eq!(&*decode("a%2"), b"a%2");
        assert_eq!(&*decode("%zz%41"), b"%zzA");
        assert_eq!(&*decode("100%"), b"100%");
        assert_eq!(&*decode("a+b"), b"a+b");
        assert_eq!(&*decode("%%41"), b"%A");
        assert_eq!(&*decode("x%2Fy%2fz%"), b"x/y/z%");
        assert_eq!(&*decode("%E1%88%B4!"), "ሴ!".as_bytes());
    }

    #[test]
    fn canonicalize_normalises_hex_case_and_needless_escapes() {
        assert_eq!(canonicalize_component("a%2fb"), "a%2Fb");
        assert_eq!(canonicalize_component("%41b"), "Ab");
        assert_eq!(canonicalize_component("a/b"), "a%2Fb");
        assert!(matches!(canonicalize_component("a%2Fb"), Cow::Borrowed(_)));
        assert_eq!(canonicalize_component("100%"), "100%25");
    }
}
