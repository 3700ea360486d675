//! aws-chunked bodies through `linkgate::s3::chunked::ChunkedDecoder`, in all three
//! framings, fed whole, in fuzz-chosen pieces and (for short bodies) a byte at a time.
//! Must never panic, and the split must not change the outcome.
//!
//! Input: `MODE FLAGS VAL_LO VAL_HI XOR NCUTS (CUT_LO CUT_HI)* BODY`.
//!
//! - `MODE % 3` is the framing (signed, signed with trailer, unsigned with trailer);
//!   `MODE / 3 % 6` the `x-amz-trailer` checksum (0: none, else `ChecksumAlgorithm::ALL`).
//! - `FLAGS & 1` clear: BODY is the raw request body. Set: BODY is a *payload*, which
//!   the target encodes correctly itself (chunks cut at the cut points, signatures from
//!   the fixed signer, the right trailing checksum) and which must come back exactly;
//!   then it flips one byte (at `VAL`, by `XOR`) and checks the forgery is caught.
//! - `FLAGS >> 1 & 3` is `x-amz-decoded-content-length` for raw bodies: none, `VAL`,
//!   or the length an undeclared run decoded (then the result must not change).
//! - `FLAGS & 8`: encoded bodies end their size lines with a bare `\n`;
//!   `FLAGS & 16`: encoded bodies leave out the final empty line. Both are leniencies
//!   the decoder promises.
//! - `NCUTS % 8` cut points (little-endian u16, modulo the body length) split the bytes
//!   fed to the decoder.
//!
//! Signed modes use the AWS documentation's example key, date, scope and seed, so the
//! `seed-*` corpus files (signed with them) get past the signature checks.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use linkgate::s3::checksum::ChecksumAlgorithm;
use linkgate::s3::chunked::{ChunkSigner, ChunkedDecoder, ChunkedError, ChunkedEvent, ChunkedMode};
use sigv4::SigningKey;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20130524T000000Z";
const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
/// The seed signature of the AWS example for STREAMING-AWS4-HMAC-SHA256-PAYLOAD.
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const MODES: [ChunkedMode; 3] = [ChunkedMode::Signed, ChunkedMode::SignedWithTrailer, ChunkedMode::UnsignedWithTrailer];
/// Bodies up to this length are also fed one byte at a time.
const BYTEWISE_MAX: usize = 512;

fn signer() -> ChunkSigner {
    ChunkSigner {
        key: SigningKey::derive(SECRET, "20130524", "us-east-1", "s3"),
        amz_date: DATE.to_owned(),
        scope: SCOPE.to_owned(),
        seed: SEED.to_owned(),
    }
}

/// What one complete run produced: the released bytes, then the end or the error.
struct Outcome {
    data: Vec<u8>,
    end: Result<ChunkedEvent, ChunkedError>,
}

impl Outcome {
    /// Equal outcomes: same bytes, and the same `End` or the very same error.
    fn assert_same(&self, other: &Outcome, what: &str) {
        assert_eq!(self.data, other.data, "{what}: different data");
        match (&self.end, &other.end) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}: different End"),
            (Err(a), Err(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{what}: different errors"),
            (a, b) => panic!("{what}: {a:?} vs {b:?}"),
        }
    }
}

/// Feeds `pieces` in order (calling `decode` until it wants more after each one), then
/// `decode_eof` until it is done, checking the decoder's contract along the way.
fn run(mut dec: ChunkedDecoder, pieces: &[&[u8]]) -> Outcome {
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut end: Option<ChunkedEvent> = None;
    let mut absorb = |event: ChunkedEvent, data: &mut Vec<u8>, dec: &ChunkedDecoder| {
        assert!(end.is_none(), "an event after End: {event:?}");
        match event {
            ChunkedEvent::Data(bytes) => {
                assert!(!bytes.is_empty(), "empty Data event");
                data.extend_from_slice(&bytes);
            }
            event @ ChunkedEvent::End { .. } => {
                assert!(dec.is_finished());
                end = Some(event);
            }
        }
        assert_eq!(dec.decoded_so_far(), data.len() as u64);
    };
    let fail = |mut dec: ChunkedDecoder, mut buf: BytesMut, data: Vec<u8>, e: ChunkedError| {
        // After an error the decoder only returns errors (`Truncated` included: see
        // fuzz/README.md, "Findings", 1).
        assert!(!dec.is_finished());
        assert!(dec.decode(&mut buf).is_err(), "decode after {e:?}");
        assert!(dec.decode_eof(&mut buf).is_err(), "decode_eof after {e:?}");
        Outcome { data, end: Err(e) }
    };
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(event)) => absorb(event, &mut data, &dec),
                Ok(None) => break,
                Err(e) => return fail(dec, buf, data, e),
            }
        }
    }
    loop {
        match dec.decode_eof(&mut buf) {
            Ok(Some(event)) => absorb(event, &mut data, &dec),
            Ok(None) => break,
            Err(e) => return fail(dec, buf, data, e),
        }
    }
    // `Ok(None)` from decode_eof means finished, which means End came out.
    assert!(dec.is_finished());
    let end = end.expect("decode_eof finished without an End event");
    match &end {
        ChunkedEvent::End { decoded_len, .. } => assert_eq!(*decoded_len, data.len() as u64),
        ChunkedEvent::Data(_) => unreachable!(),
    }
    Outcome { data, end: Ok(end) }
}

/// The body in one piece, cut at `cuts`, and (when short) byte by byte: all the same.
fn run_all_ways(make: &dyn Fn() -> ChunkedDecoder, body: &[u8], cuts: &[usize]) -> Outcome {
    let whole = run(make(), &[body]);
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.extend([0, body.len()]);
    points.sort_unstable();
    points.dedup();
    let pieces: Vec<&[u8]> = points.windows(2).map(|w| &body[w[0]..w[1]]).collect();
    whole.assert_same(&run(make(), &pieces), "whole vs cut");
    if body.len() <= BYTEWISE_MAX {
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        whole.assert_same(&run(make(), &bytes), "whole vs bytewise");
    }
    whole
}

/// Encodes `chunks` as an SDK would ([`linkgate::s3::chunked::encode`]), with a bare
/// LF after each size line when `bare_lf`.
fn encode(mode: ChunkedMode, s: &ChunkSigner, chunks: &[&[u8]], trailers: &[(&str, &str)], bare_lf: bool, final_line: bool) -> Vec<u8> {
    let eol: &[u8] = if bare_lf { b"\n" } else { b"\r\n" };
    linkgate::s3::chunked::encode(mode, Some(s), chunks, trailers, eol, final_line)
}

fuzz_target!(|input: &[u8]| {
    let [mode, flags, val_lo, val_hi, xor, ncuts, rest @ ..] = input else { return };
    let mode_index = usize::from(*mode);
    let mode = MODES[mode_index % 3];
    let alg = match mode_index / 3 % 6 {
        0 => None,
        i => Some(ChecksumAlgorithm::ALL[i - 1]),
    };
    let val = u16::from_le_bytes([*val_lo, *val_hi]);
    let ncuts = usize::from(*ncuts % 8);
    if rest.len() < 2 * ncuts {
        return;
    }
    let (cut_bytes, body) = rest.split_at(2 * ncuts);
    let cuts: Vec<usize> = cut_bytes.chunks_exact(2).map(|c| usize::from(u16::from_le_bytes([c[0], c[1]]))).collect();
    let s = signer();

    if flags & 1 == 0 {
        // A raw body: whatever happens, it happens the same way for every split.
        let make_with = |len: Option<u64>| move || ChunkedDecoder::new(mode, Some(signer()), alg, len).expect("signer given");
        let free = run_all_ways(&make_with(None), body, &cuts);
        match (flags >> 1) & 3 {
            1 => {
                run_all_ways(&make_with(Some(u64::from(val))), body, &cuts);
            }
            2 | 3 => {
                let declared = run_all_ways(&make_with(Some(free.data.len() as u64)), body, &cuts);
                if free.end.is_ok() {
                    // Declaring the length a body has changes nothing.
                    free.assert_same(&declared, "undeclared vs declared length");
                }
            }
            _ => {}
        }
        return;
    }

    // A payload: encode it correctly, then it must decode to exactly itself.
    let bare_lf = flags & 8 != 0;
    let final_line = flags & 16 == 0;
    let payload = body;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (payload.len() + 1)).collect();
    points.extend([0, payload.len()]);
    points.sort_unstable();
    points.dedup();
    let chunks: Vec<&[u8]> = points.windows(2).map(|w| &payload[w[0]..w[1]]).filter(|c| !c.is_empty()).collect();
    // The Signed framing has no trailer; the others carry the declared checksum.
    let alg = if mode == ChunkedMode::Signed { None } else { alg };
    let value = alg.map(|a| a.compute(payload));
    let trailers: Vec<(&str, &str)> = match (alg, &value) {
        (Some(a), Some(v)) => vec![(a.header_name(), v.as_str())],
        _ => vec![],
    };
    let encoded = encode(mode, &s, &chunks, &trailers, bare_lf, final_line);
    let make = || ChunkedDecoder::new(mode, Some(signer()), alg, Some(payload.len() as u64)).expect("signer given");
    // Split the encoded body somewhere else than at the chunk boundaries.
    let body_cuts: Vec<usize> = cuts.iter().map(|c| c.wrapping_mul(7).wrapping_add(usize::from(val))).collect();
    let out = run_all_ways(&make, &encoded, &body_cuts);
    assert_eq!(out.data, payload);
    let expected_end = ChunkedEvent::End {
        decoded_len: payload.len() as u64,
        trailers: trailers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
        checksum: alg.zip(value.clone()),
    };
    match &out.end {
        Ok(end) => assert_eq!(end, &expected_end),
        Err(e) => panic!("a correct encoding was refused: {e:?}"),
    }

    // One changed byte: when every byte is covered (signatures or a checksum), the
    // body is refused, or (a spelling change that means the same, e.g. a hex digit's
    // case) decodes to the very same payload. Signed chunks never release forged data.
    if *xor != 0 && !encoded.is_empty() {
        let at = usize::from(val) % encoded.len();
        let mut forged = encoded.clone();
        forged[at] ^= *xor;
        let res = run_all_ways(&make, &forged, &body_cuts);
        if mode.signs_chunks() {
            assert!(payload.starts_with(&res.data), "a signed body released forged bytes (byte {at} ^ {xor:#04x})");
        }
        if mode.signs_chunks() || alg.is_some() {
            if res.end.is_ok() {
                assert_eq!(res.data, payload, "byte {at} ^ {xor:#04x} accepted with a different payload");
            }
            if *xor == 1 {
                assert!(res.end.is_err(), "byte {at} ^ 0x01 accepted");
            }
        }
    }
});
