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

/// A request id in the shape S3 uses (16 upper-case hex characters).
pub fn request_id() -> String {
    random_hex(8).to_ascii_uppercase()
}
