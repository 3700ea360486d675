//! Lower-case hex, the only hex SigV4 uses for hashes and signatures.

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Encodes bytes as lower-case hex.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push(&mut out, bytes);
    out
}

/// Appends lower-case hex of `bytes` to `out`.
pub fn push(out: &mut String, bytes: &[u8]) {
    // Through a stack buffer, 32 input bytes at a time: one `push_str` per chunk
    // instead of a capacity check per character.
    for chunk in bytes.chunks(32) {
        let mut buf = [0u8; 64];
        for (pair, &b) in buf.chunks_exact_mut(2).zip(chunk) {
            pair[0] = HEX_LOWER[(b >> 4) as usize];
            pair[1] = HEX_LOWER[(b & 0xf) as usize];
        }
        // Only hex digits were written, so this is ASCII.
        out.push_str(std::str::from_utf8(&buf[..chunk.len() * 2]).unwrap_or_default());
    }
}

/// Decodes exactly 64 hex characters (either case) into 32 bytes.
pub fn decode_32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi << 4 | lo) as u8;
    }
    Some(out)
}

/// True when `s` is 64 lower-case hex characters, the shape of a SigV4 signature.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_decodes() {
        let bytes: Vec<u8> = (0..=255u8).chain(0..70).collect();
        let hex = encode(&bytes);
        let slow: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, slow);
        assert_eq!(encode(&[]), "");
        let mut s = String::from("x");
        push(&mut s, &[0xab, 0x01]);
        assert_eq!(s, "xab01");
        assert_eq!(decode_32(&hex[..64]).map(|b| b.to_vec()), Some(bytes[..32].to_vec()));
        assert!(is_sha256_hex(&hex[..64]));
    }
}
