//! Random identifiers from the OS CSPRNG: file ids, upload ids, request ids.

/// `n` random bytes as lower-case hex (2n characters).
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    fill(&mut bytes);
    sigv4::hex::encode(&bytes)
}

/// Fills `buf` from the OS CSPRNG. The OS generator failing is unrecoverable for a
/// security product, so this aborts rather than hand out predictable ids.
pub fn fill(buf: &mut [u8]) {
    if let Err(e) = getrandom::fill(buf) {
        eprintln!("linkgate: the OS random number generator failed: {e}");
        std::process::abort();
    }
}

/// A request id in the shape S3 uses (16 upper-case hex characters): unique, not
/// secret, so a random per-process base plus a counter (no syscall per request).
pub fn request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static BASE: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(|| {
        let mut b = [0u8; 8];
        fill(&mut b);
        u64::from_le_bytes(b)
    });
    let id = base.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // Upper-case hex by hand into one 16-byte buffer: `format!`, or collecting
    // chars, costs more than the rest of the call.
    let mut digits = [0u8; 16];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = b"0123456789ABCDEF"[((id >> ((15 - i) * 4)) & 0xF) as usize];
    }
    std::str::from_utf8(&digits).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_sixteen_upper_hex_digits_and_distinct() {
        let ids: Vec<String> = (0..1000).map(|_| super::request_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)), "{id}");
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
