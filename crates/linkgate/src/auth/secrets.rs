//! Secrets at rest: the master key, sealed (encrypted) secret access keys, and
//! random tokens that the store keeps only as hashes.
//!
//! The SPEC requires that a copy of the database yields nothing usable: secret
//! access keys are sealed under a master key kept outside the database
//! (`LINKGATE_MASTER_KEY` or `<data_dir>/master.key`, mode 0600), and link and
//! session tokens are stored as SHA-256 hashes only. Sealing is XChaCha20-Poly1305
//! with a random 192-bit nonce (no nonce bookkeeping, no reuse risk) and the row's
//! identity as associated data, so a sealed secret cannot be copied to another row.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead as _, Payload};
use chacha20poly1305::{KeyInit as _, XChaCha20Poly1305, XNonce};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// File name of the generated master key inside the data dir.
const KEY_FILE: &str = "master.key";
/// Prefix of the sealed format; a future format gets a new prefix, so old rows
/// stay readable.
const SEALED_PREFIX: &str = "v1:";
/// XChaCha20-Poly1305 nonce length.
const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
const TAG_LEN: usize = 16;

/// The key that encrypts secrets at rest. Without it the sealed secret access
/// keys in the database are useless, which is the point: keep it out of backups
/// of the database.
///
/// `Debug` prints no key material, and the key is wiped from memory on drop (the
/// cipher state that holds it zeroizes itself).
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Where the master key came from, so `serve` can tell the operator once (and
/// warn them to back up a freshly generated key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `LINKGATE_MASTER_KEY`.
    Environment,
    /// Read from `<data_dir>/master.key`.
    File,
    /// Generated now and written to `<data_dir>/master.key` with mode 0600.
    Generated,
}

/// Why loading the master key or opening a sealed secret failed. Messages are one
/// readable line and never contain key or secret material.
#[derive(Debug)]
pub enum SecretsError {
    /// `LINKGATE_MASTER_KEY` or the key file does not hold a 32-byte key, so
    /// startup must stop rather than seal secrets under a key nobody chose.
    InvalidMasterKey {
        /// `LINKGATE_MASTER_KEY` or the key file's path.
        origin: String,
        /// Length of the rejected value, to help spot truncation (not secret).
        len: usize,
    },
    /// The key file's mode lets group or others read it: refusing it makes a
    /// leaked key a visible startup error instead of a silent exposure.
    InsecureKeyFile {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading, creating or syncing the key file failed.
    Io {
        /// What was being done ("read", "create", ...).
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A stored value is not in the sealed format (corrupt row, or never sealed).
    Malformed(&'static str),
    /// Authentication failed: another master key, another context (row), or the
    /// ciphertext was altered. Deliberately not more specific.
    Decrypt,
}

impl std::fmt::Display for SecretsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidMasterKey { origin, len } => {
                write!(f, "{origin} is not a valid master key: expected 64 hex characters or the base64 of 32 bytes (got {len} characters)")
            }
            Self::InsecureKeyFile { path, mode } => write!(
                f,
                "{} has mode {:03o}, which lets group or others read the master key; run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ),
            Self::Io { action, path, source } => write!(f, "cannot {action} {}: {source}", path.display()),
            Self::Malformed(reason) => write!(f, "sealed secret is malformed: {reason}"),
            Self::Decrypt => f.write_str("sealed secret failed authentication (wrong master key, wrong row, or altered data)"),
        }
    }
}

impl std::error::Error for SecretsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl MasterKey {
    /// The master key from `LINKGATE_MASTER_KEY` (`env_value`; 64 hex characters or
    /// base64 of 32 bytes; empty counts as unset), else from `<data_dir>/master.key`
    /// (refused if group or others may read it), else a new random key written
    /// there with mode 0600, created exclusively and synced to disk, since losing
    /// it loses every sealed secret.
    pub fn load_or_create(data_dir: &Path, env_value: Option<String>) -> Result<(Self, MasterKeySource), SecretsError> {
        if let Some(value) = env_value.filter(|v| !v.trim().is_empty()) {
            let parsed = parse_key(&value);
            let len = value.trim().len();
            wipe(&mut value.into_bytes());
            return match parsed {
                Some(bytes) => Ok((Self::from_bytes(bytes), MasterKeySource::Environment)),
                None => Err(SecretsError::InvalidMasterKey { origin: "LINKGATE_MASTER_KEY".to_owned(), len }),
            };
        }
        let path = data_dir.join(KEY_FILE);
        match read_key_file(&path)? {
            Some(key) => Ok((key, MasterKeySource::File)),
            None => match create_key_file(data_dir, &path)? {
                Some(key) => Ok((key, MasterKeySource::Generated)),
                // Another process created it between our read and our create.
                None => match read_key_file(&path)? {
                    Some(key) => Ok((key, MasterKeySource::File)),
                    None => Err(SecretsError::Io { action: "read", path, source: std::io::ErrorKind::NotFound.into() }),
                },
            },
        }
    }

    /// A master key from raw bytes (tests, or a key held in an external KMS).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut bytes = bytes;
        let cipher = XChaCha20Poly1305::new(&bytes.into());
        wipe(&mut bytes);
        Self { cipher }
    }

    /// Encrypts `plaintext` for storage: `"v1:" + base64(nonce || ciphertext || tag)`
    /// with a fresh random 192-bit nonce, so equal secrets seal differently.
    /// `context` (e.g. the access key id) is authenticated but not stored: [`open`]
    /// must be given the same context, so a sealed value moved to another row fails.
    ///
    /// Panics only for a plaintext over 256 GiB, which no caller can hold.
    ///
    /// [`open`]: MasterKey::open
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        crate::ids::fill(&mut nonce);
        let ciphertext = match self.cipher.encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad: context }) {
            Ok(c) => c,
            Err(_) => unreachable!("XChaCha20-Poly1305 refuses only messages over 256 GiB"),
        };
        let mut raw = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ciphertext);
        let mut out = String::with_capacity(SEALED_PREFIX.len() + raw.len().div_ceil(3) * 4);
        out.push_str(SEALED_PREFIX);
        STANDARD.encode_string(&raw, &mut out);
        out
    }

    /// Decrypts a value made by [`seal`](MasterKey::seal) with the same `context`.
    /// Fails with [`SecretsError::Decrypt`] for another key, another context or any
    /// alteration, and with [`SecretsError::Malformed`] if it is not a sealed value.
    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let body = sealed.strip_prefix(SEALED_PREFIX).ok_or(SecretsError::Malformed("unknown format (expected a \"v1:\" prefix)"))?;
        let raw = STANDARD.decode(body).map_err(|_| SecretsError::Malformed("not valid base64"))?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(SecretsError::Malformed("too short"));
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let mut nonce_arr = [0u8; NONCE_LEN];
        nonce_arr.copy_from_slice(nonce);
        self.cipher.decrypt(&XNonce::from(nonce_arr), Payload { msg: ciphertext, aad: context }).map_err(|_| SecretsError::Decrypt)
    }
}

/// 64 hex characters, or standard/url-safe base64 (padding optional) of 32 bytes.
fn parse_key(value: &str) -> Option<[u8; 32]> {
    let value = value.trim();
    if let Some(bytes) = sigv4::hex::decode_32(value) {
        return Some(bytes);
    }
    let normalized: String = value
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let mut decoded = STANDARD_NO_PAD.decode(normalized.as_bytes()).ok();
    wipe(&mut normalized.into_bytes());
    let out = decoded.as_deref().and_then(|d| <[u8; 32]>::try_from(d).ok());
    if let Some(d) = decoded.as_mut() {
        wipe(d);
    }
    out
}

/// `Ok(None)` when the file does not exist; an error when it is unreadable,
/// readable by group/others, or does not hold a key.
fn read_key_file(path: &Path) -> Result<Option<MasterKey>, SecretsError> {
    let io_err = |action: &'static str| move |source| SecretsError::Io { action, path: path.to_owned(), source };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open")(e)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // Checked on the open handle, so the file judged is the file read.
        let mode = file.metadata().map_err(io_err("inspect"))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(SecretsError::InsecureKeyFile { path: path.to_owned(), mode });
        }
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io_err("read"))?;
    let parsed = parse_key(&text);
    let len = text.trim().len();
    wipe(&mut text.into_bytes());
    match parsed {
        Some(bytes) => Ok(Some(MasterKey::from_bytes(bytes))),
        None => Err(SecretsError::InvalidMasterKey { origin: path.display().to_string(), len }),
    }
}

/// Generates a key and writes it as hex (so it can be copied into
/// `LINKGATE_MASTER_KEY`) to a new file with mode 0600. `Ok(None)` when the file
/// already exists (another process won the race).
fn create_key_file(data_dir: &Path, path: &Path) -> Result<Option<MasterKey>, SecretsError> {
    let io_err = |action: &'static str| move |source| SecretsError::Io { action, path: path.to_owned(), source };
    std::fs::create_dir_all(data_dir).map_err(|source| SecretsError::Io {
        action: "create directory",
        path: data_dir.to_owned(),
        source,
    })?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(io_err("create")(e)),
    };
    let mut bytes = [0u8; 32];
    crate::ids::fill(&mut bytes);
    let mut text = sigv4::hex::encode(&bytes);
    text.push('\n');
    let written = file.write_all(text.as_bytes()).and_then(|()| file.sync_all());
    wipe(&mut text.into_bytes());
    let key = MasterKey::from_bytes(bytes);
    wipe(&mut bytes);
    if let Err(e) = written {
        // Do not leave a truncated key behind for the next start to trip on.
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(io_err("write")(e));
    }
    // Make the new directory entry durable too (best effort: not every file
    // system supports syncing a directory).
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(data_dir) {
        let _ = dir.sync_all();
    }
    Ok(Some(key))
}

/// Overwrites a buffer that held key material. Best effort: safe Rust cannot
/// promise the store survives optimisation, `black_box` makes that very likely.
fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(buf);
}

/// A random token of `bytes` bytes from the OS CSPRNG, base64url without padding:
/// 32 bytes (256 bits, 43 characters) for link tokens, more for STS session
/// tokens. URL-safe so it can sit in `/l/{token}` and headers unescaped.
pub fn random_token(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    crate::ids::fill(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(&raw);
    wipe(&mut raw);
    token
}

/// SHA-256 of a token as lower-case hex: what the store keeps instead of the
/// token, so a copy of the database yields no usable link or session. Tokens
/// carry 256 random bits, so an unsalted fast hash is enough.
pub fn token_hash(token: &str) -> String {
    sigv4::hex::encode(&Sha256::digest(token.as_bytes()))
}

/// Constant-time equality, for comparing token hashes and secrets without leaking
/// through timing how many leading characters matched. Lengths are not secret.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A new access key id in AWS's shape, so SDKs and tools that validate it accept
/// it: `AKIA` (long-term) or `ASIA` (temporary, STS) + 16 characters of
/// `[A-Z2-7]`.
pub fn new_access_key_id(temporary: bool) -> String {
    const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut raw = [0u8; 16];
    crate::ids::fill(&mut raw);
    let mut id = String::with_capacity(20);
    id.push_str(if temporary { "ASIA" } else { "AKIA" });
    // 256 is a multiple of 32: no modulo bias.
    id.extend(raw.iter().map(|b| B32[usize::from(b % 32)] as char));
    id
}

/// A new secret access key in AWS's shape: 40 characters of the base64 alphabet
/// (240 random bits), which SDKs and credential files accept as is.
pub fn new_secret_access_key() -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut raw = [0u8; 40];
    crate::ids::fill(&mut raw);
    // 256 is a multiple of 64: no modulo bias.
    let secret = raw.iter().map(|b| B64[usize::from(b % 64)] as char).collect();
    wipe(&mut raw);
    secret
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_bytes([7u8; 32])
    }

    #[test]
    fn seal_open_round_trip() {
        let k = key();
        let sealed = k.seal(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", b"AKIAEXAMPLE");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("wJalr"));
        assert_eq!(k.open(&sealed, b"AKIAEXAMPLE").unwrap(), b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let empty = k.seal(b"", b"");
        assert_eq!(k.open(&empty, b"").unwrap(), b"");
    }

    #[test]
    fn wrong_context_or_key_fails() {
        let k = key();
        let sealed = k.seal(b"secret", b"AKIAONE");
        assert!(matches!(k.open(&sealed, b"AKIATWO"), Err(SecretsError::Decrypt)));
        let other = MasterKey::from_bytes([8u8; 32]);
        assert!(matches!(other.open(&sealed, b"AKIAONE"), Err(SecretsError::Decrypt)));
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let k = key();
        let sealed = k.seal(b"secret", b"ctx");
        let mut raw = STANDARD.decode(&sealed[3..]).unwrap();
        for i in [0, NONCE_LEN, raw.len() - 1] {
            raw[i] ^= 1;
            let bad = format!("v1:{}", STANDARD.encode(&raw));
            assert!(matches!(k.open(&bad, b"ctx"), Err(SecretsError::Decrypt)), "byte {i}");
            raw[i] ^= 1;
        }
        raw.pop();
        let truncated = format!("v1:{}", STANDARD.encode(&raw));
        assert!(matches!(k.open(&truncated, b"ctx"), Err(SecretsError::Decrypt)));
        assert!(matches!(k.open("v2:AAAA", b"ctx"), Err(SecretsError::Malformed(_))));
        assert!(matches!(k.open("v1:not base64!", b"ctx"), Err(SecretsError::Malformed(_))));
        assert!(matches!(k.open("v1:AAAA", b"ctx"), Err(SecretsError::Malformed(_))));
        assert!(matches!(k.open("plaintext-secret", b"ctx"), Err(SecretsError::Malformed(_))));
    }

    #[test]
    fn seals_of_same_plaintext_differ() {
        let k = key();
        let a = k.seal(b"same", b"ctx");
        let b = k.seal(b"same", b"ctx");
        assert_ne!(a, b);
        assert_eq!(k.open(&a, b"ctx").unwrap(), k.open(&b, b"ctx").unwrap());
    }

    #[test]
    fn stored_format_stays_readable() {
        // Made independently (Python `cryptography` ChaCha20Poly1305 over an
        // HChaCha20 subkey, i.e. standard XChaCha20-Poly1305): if this fails, rows
        // sealed by earlier builds would no longer open.
        let k = MasterKey::from_bytes(*b"0123456789abcdef0123456789abcdef");
        let sealed = "v1:ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7XQ3H8t5BKz/hSq+UCWU0E8UJaUNOA5/+m5B3rw==";
        assert_eq!(k.open(sealed, b"AKIAFIXED").unwrap(), b"fixed secret");
    }

    #[test]
    fn debug_hides_key() {
        assert_eq!(format!("{:?}", key()), "MasterKey(..)");
    }

    #[test]
    fn master_key_generated_once_with_mode_0600_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (a, src) = MasterKey::load_or_create(&data, None).unwrap();
        assert_eq!(src, MasterKeySource::Generated);
        let sealed = a.seal(b"s", b"c");
        let (b, src) = MasterKey::load_or_create(&data, Some(String::new())).unwrap();
        assert_eq!(src, MasterKeySource::File);
        assert_eq!(b.open(&sealed, b"c").unwrap(), b"s");
        let text = std::fs::read_to_string(data.join(KEY_FILE)).unwrap();
        assert_eq!(text.trim().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(data.join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The file's hex works as LINKGATE_MASTER_KEY (moving to an env-based setup).
        let (c, src) = MasterKey::load_or_create(&data, Some(text)).unwrap();
        assert_eq!(src, MasterKeySource::Environment);
        assert_eq!(c.open(&sealed, b"c").unwrap(), b"s");
    }

    #[test]
    fn env_hex_and_base64_forms() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: [u8; 32] = core::array::from_fn(|i| (i * 37 + 11) as u8);
        let sealed = MasterKey::from_bytes(bytes).seal(b"s", b"c");
        let forms = [
            sigv4::hex::encode(&bytes),
            sigv4::hex::encode(&bytes).to_uppercase(),
            format!("  {}\n", sigv4::hex::encode(&bytes)),
            STANDARD.encode(bytes),
            STANDARD_NO_PAD.encode(bytes),
            URL_SAFE_NO_PAD.encode(bytes),
        ];
        for form in forms {
            let (k, src) = MasterKey::load_or_create(dir.path(), Some(form.clone())).unwrap();
            assert_eq!(src, MasterKeySource::Environment);
            assert_eq!(k.open(&sealed, b"c").unwrap(), b"s", "{form}");
        }
        // The environment never causes a file to be written.
        assert!(!dir.path().join(KEY_FILE).exists());
    }

    #[test]
    fn bad_env_value_is_a_clear_error_without_the_value() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["hunter2", &"ab".repeat(31), &"zz".repeat(32), &STANDARD.encode([1u8; 31])] {
            let err = MasterKey::load_or_create(dir.path(), Some(bad.to_owned())).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("LINKGATE_MASTER_KEY is not a valid master key"), "{msg}");
            assert!(msg.contains("64 hex characters or the base64 of 32 bytes"), "{msg}");
            assert!(!msg.contains(bad), "{msg}");
            assert!(!msg.contains('\n'));
        }
    }

    #[test]
    fn malformed_key_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::write(&path, "not a key\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let err = MasterKey::load_or_create(dir.path(), None).unwrap_err();
        assert!(matches!(err, SecretsError::InvalidMasterKey { .. }), "{err}");
        assert!(err.to_string().contains("master.key is not a valid master key"), "{err}");
        // Left alone: never overwrite what might be the only copy of a key.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a key\n");
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_key_file_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        MasterKey::load_or_create(dir.path(), None).unwrap();
        let path = dir.path().join(KEY_FILE);
        for mode in [0o644, 0o640, 0o604] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = MasterKey::load_or_create(dir.path(), None).unwrap_err();
            assert!(matches!(err, SecretsError::InsecureKeyFile { .. }), "{err}");
            let msg = err.to_string();
            assert!(msg.contains(&format!("mode {mode:03o}")), "{msg}");
            assert!(msg.contains(&format!("chmod 600 {}", path.display())), "{msg}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(MasterKey::load_or_create(dir.path(), None).unwrap().1, MasterKeySource::File);
    }

    #[test]
    fn token_length_and_alphabet() {
        let t = random_token(32);
        assert_eq!(t.len(), 43);
        assert!(t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{t}");
        assert_ne!(t, random_token(32));
        assert_eq!(random_token(64).len(), 86);
        assert_eq!(URL_SAFE_NO_PAD.decode(&t).unwrap().len(), 32);
    }

    #[test]
    fn token_hash_known_vector() {
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(token_hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq("abc", "abc"));
        assert!(ct_eq("", ""));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "abcd"));
        assert!(!ct_eq("abcd", "abc"));
    }

    #[test]
    fn access_key_shapes() {
        for (temporary, prefix) in [(false, "AKIA"), (true, "ASIA")] {
            let id = new_access_key_id(temporary);
            assert_eq!(id.len(), 20, "{id}");
            assert!(id.starts_with(prefix), "{id}");
            assert!(id[4..].bytes().all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c)), "{id}");
        }
        assert_ne!(new_access_key_id(false), new_access_key_id(false));
        let sk = new_secret_access_key();
        assert_eq!(sk.len(), 40);
        assert!(sk.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/'), "{sk}");
        assert_ne!(sk, new_secret_access_key());
    }
}
