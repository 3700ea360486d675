//! Arbitrary text through the encoders, the decoder and the path and query
//! canonicalisers, checking the laws they must obey. Must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sigv4::PathMode;
use sigv4::canonical::{canonical_query_pairs, push_canonical_uri, push_sorted_query, remove_dot_segments};
use sigv4::encode::{canonicalize_component, decode, encode, encode_into};

fuzz_target!(|data: &[u8]| {
    // Raw bytes: encoding then decoding gives them back.
    for keep_slash in [false, true] {
        let mut e = String::new();
        encode_into(&mut e, data, keep_slash);
        assert_eq!(&*decode(&e), data);
    }
    let Ok(s) = std::str::from_utf8(data) else { return };

    for keep_slash in [false, true] {
        let e = encode(s, keep_slash);
        assert_eq!(&*decode(&e), s.as_bytes());
    }
    let _ = decode(s);

    // Canonicalising is idempotent and only changes the spelling, not the bytes meant.
    let once = canonicalize_component(s);
    assert_eq!(canonicalize_component(&once), once);
    assert_eq!(decode(&once), decode(s));

    // Paths.
    let normalized = remove_dot_segments(s);
    assert!(!normalized.contains("//"), "{s:?} -> {normalized:?}");
    assert!(normalized.split('/').all(|seg| seg != "." && seg != ".."), "{s:?} -> {normalized:?}");
    for mode in [PathMode::AsSent, PathMode::EncodeAgain { normalize: true }, PathMode::EncodeAgain { normalize: false }] {
        let mut uri = String::new();
        push_canonical_uri(&mut uri, s, mode);
        assert!(!uri.is_empty());
    }

    // Queries: the canonical query is a fixed point.
    let mut pairs = canonical_query_pairs(s);
    let mut out = String::new();
    push_sorted_query(&mut out, &mut pairs);
    let mut again = canonical_query_pairs(&out);
    let mut out2 = String::new();
    push_sorted_query(&mut out2, &mut again);
    assert_eq!(out, out2);
});
