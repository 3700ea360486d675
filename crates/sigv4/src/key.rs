//! Signing-key derivation and its cache.
//!
//! A SigV4 signing key is four chained HMACs over (secret, date, region, service).
//! It changes once a day per scope, so a server that verifies thousands of requests a
//! second should derive it once and reuse it: that alone removes four of the five
//! HMACs on the hot path.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The derived per-day, per-scope key. Its bytes never leave the crate except
/// through [`SigningKey::as_bytes`], used for streaming-chunk signatures.
#[derive(Clone)]
pub struct SigningKey {
    mac: HmacSha256,
}

impl SigningKey {
    /// Derives `HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`.
    pub fn derive(secret: &str, scope_date: &str, region: &str, service: &str) -> Self {
        let mut k_secret = Vec::with_capacity(4 + secret.len());
        k_secret.extend_from_slice(b"AWS4");
        k_secret.extend_from_slice(secret.as_bytes());
        let k_date = hmac(&k_secret, scope_date.as_bytes());
        let k_region = hmac(&k_date, region.as_bytes());
        let k_service = hmac(&k_region, service.as_bytes());
        let k_signing = hmac(&k_service, b"aws4_request");
        Self::from_bytes(&k_signing)
    }

    /// Wraps raw key bytes (for tests and for callers that store derived keys).
    pub fn from_bytes(key: &[u8; 32]) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        Self { mac }
    }

    /// HMAC-SHA256 of `data` under this key: the raw signature bytes.
    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The signature of `data` as the 64 lower-case hex characters SigV4 sends.
    pub fn sign_hex(&self, data: &[u8]) -> String {
        crate::hex::encode(&self.sign(data))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Caches derived signing keys keyed by (secret, date, region, service).
///
/// Bounded: when it holds `capacity` entries it is cleared, which costs one
/// re-derivation per live scope and keeps memory flat without an LRU's bookkeeping.
/// The secret is part of the key, so rotating a secret can never serve a stale key.
pub struct SigningKeyCache {
    /// Keyed by `secret\ndate\nregion\nservice\n` as bytes.
    entries: RwLock<HashMap<Box<[u8]>, SigningKey>>,
    capacity: usize,
}

impl SigningKeyCache {
    /// A cache that holds at most `capacity` derived keys.
    pub fn new(capacity: usize) -> Self {
        Self { entries: RwLock::new(HashMap::new()), capacity: capacity.max(1) }
    }

    /// The signing key for this scope, derived at most once per cache generation.
    pub fn get(&self, secret: &str, scope_date: &str, region: &str, service: &str) -> SigningKey {
        // The lookup key is built on the stack when it fits (it nearly always does), so
        // a hit allocates nothing.
        let parts = [secret, scope_date, region, service];
        let len = parts.iter().map(|p| p.len() + 1).sum::<usize>();
        let mut stack = [0u8; 256];
        let mut heap = Vec::new();
        let buf: &mut [u8] = if len <= stack.len() {
            &mut stack[..len]
        } else {
            heap.resize(len, 0);
            &mut heap
        };
        let mut at = 0;
        for part in parts {
            buf[at..at + part.len()].copy_from_slice(part.as_bytes());
            buf[at + part.len()] = b'\n';
            at += part.len() + 1;
        }
        let id: &[u8] = buf;
        if let Ok(map) = self.entries.read()
            && let Some(key) = map.get(id)
        {
            return key.clone();
        }
        let key = SigningKey::derive(secret, scope_date, region, service);
        if let Ok(mut map) = self.entries.write() {
            if map.len() >= self.capacity {
                map.clear();
            }
            map.insert(id.into(), key.clone());
        }
        key
    }

    /// Number of cached keys (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.read().map(|m| m.len()).unwrap_or(0)
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyCache").field("len", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_documented_example_key() {
        // AWS documentation example: secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
        // 20120215/us-east-1/iam.
        let key = SigningKey::derive("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
        let expected = "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d";
        let probe = key.sign_hex(b"");
        let direct = SigningKey::from_bytes(&crate::hex::decode_32(expected).unwrap()).sign_hex(b"");
        assert_eq!(probe, direct);
    }

    #[test]
    fn cache_returns_same_key_and_is_bounded() {
        let cache = SigningKeyCache::new(2);
        let a = cache.get("s", "20200101", "r", "s3").sign(b"x");
        assert_eq!(cache.get("s", "20200101", "r", "s3").sign(b"x"), a);
        assert_eq!(cache.len(), 1);
        cache.get("s", "20200102", "r", "s3");
        cache.get("s", "20200103", "r", "s3");
        assert!(cache.len() <= 2);
        assert_ne!(cache.get("t", "20200101", "r", "s3").sign(b"x"), a);
    }

    #[test]
    fn cache_handles_ids_longer_than_the_stack_buffer() {
        let cache = SigningKeyCache::new(8);
        let long = "k".repeat(300);
        let direct = SigningKey::derive(&long, "20200101", "us-east-1", "s3").sign(b"x");
        assert_eq!(cache.get(&long, "20200101", "us-east-1", "s3").sign(b"x"), direct);
        assert_eq!(cache.get(&long, "20200101", "us-east-1", "s3").sign(b"x"), direct);
        assert_eq!(cache.len(), 1);
        // The separator keeps differently split parts apart.
        assert_ne!(cache.get("ab", "c", "r", "s").sign(b"x"), cache.get("a", "bc", "r", "s").sign(b"x"));
    }
}
