//! The fuzz targets' bodies: each takes arbitrary bytes, derives a framing
//! limit and a way of cutting the stream into reads from the first bytes,
//! feeds the rest to `tcphub::Decoder`, and panics if the decoder disagrees
//! with the reference model ([`super::model`]) or breaks one of its bounds.
//!
//! `cargo fuzz` (libFuzzer, nightly), the stable harness (`fuzz_stable`) and
//! the property tests in `rust/tests/decoder_model.rs` all call these.

use tcphub::{Decoder, FrameError, Framing};

use super::model::{self, Outcome, Tail};

/// `Framing::Lines` with a limit and read sizes taken from the input.
pub fn lines(data: &[u8]) {
    let (max_len, cuts, stream) = split_input(data);
    check(Framing::Lines { max_len }, stream, &chunks(stream, cuts));
}

/// `Framing::LengthPrefixed` with a limit and read sizes taken from the input.
pub fn length_prefixed(data: &[u8]) {
    let (max_len, cuts, stream) = split_input(data);
    check(
        Framing::LengthPrefixed { max_len },
        stream,
        &chunks(stream, cuts),
    );
}

/// `Framing::Raw`: every non-empty read is one message, nothing is held.
pub fn raw(data: &[u8]) {
    let (_, cuts, stream) = split_input(data);
    let reads = chunks(stream, cuts);
    let mut d = Decoder::new(Framing::Raw);
    let mut got = Vec::new();
    for r in &reads {
        let mut n = 0;
        d.decode(r, |m| {
            assert!(!m.is_empty(), "raw emitted an empty message");
            assert_eq!(m, *r, "raw message is not the read");
            got.extend_from_slice(m);
            n += 1;
        })
        .expect("raw never fails");
        assert_eq!(n, usize::from(!r.is_empty()));
        assert_eq!(d.buffered(), 0);
    }
    assert_eq!(got, stream);
    assert_eq!(d.finish(), Ok(None));
}

/// Encoding then decoding gives the messages back, in every framing, however
/// the encoded stream is cut. Messages are carved out of the input.
pub fn roundtrip(data: &[u8]) {
    let (_, cuts, rest) = split_input(data);
    // Carve messages: a length byte, then that many bytes.
    let mut msgs: Vec<Vec<u8>> = Vec::new();
    let mut r = rest;
    while let Some((&n, tail)) = r.split_first() {
        let n = (n as usize).min(tail.len());
        msgs.push(tail[..n].to_vec());
        r = &tail[n..];
    }
    for framing in [
        Framing::LengthPrefixed { max_len: 255 },
        Framing::Lines { max_len: 255 },
    ] {
        // Lines cannot carry a '\n', and a trailing '\r' is stripped on the way in.
        let msgs: Vec<Vec<u8>> = match framing {
            Framing::Lines { .. } => msgs
                .iter()
                .map(|m| {
                    let mut m: Vec<u8> = m.iter().copied().filter(|&b| b != b'\n').collect();
                    while m.last() == Some(&b'\r') {
                        m.pop();
                    }
                    m
                })
                .collect(),
            _ => msgs.clone(),
        };
        let mut stream = Vec::new();
        for m in &msgs {
            stream.extend_from_slice(&framing.encode(m).expect("within max_len"));
        }
        let mut d = Decoder::new(framing);
        let mut got = Vec::new();
        for c in chunks(&stream, cuts) {
            d.decode(c, |m| got.push(m.to_vec())).expect("valid stream");
        }
        assert_eq!(d.finish(), Ok(None), "{framing:?}: nothing left over");
        assert_eq!(got, msgs, "{framing:?}: round trip");
    }
}

/// The decoder against the model, for one framing and one way of cutting.
pub fn check(framing: Framing, stream: &[u8], reads: &[&[u8]]) {
    let max = framing.max_len().expect("a framing with a limit");
    let mut d = Decoder::new(framing);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut failed = None;
    for r in reads {
        let res = d.decode(r, |m| {
            assert!(m.len() <= max, "{framing:?}: emitted {} bytes", m.len());
            got.push(m.to_vec());
        });
        if let Err(e) = res {
            failed = Some(e);
            break;
        }
        // What a connection holds between reads is bounded by the limit.
        let bound = match framing {
            Framing::Lines { .. } => max.saturating_add(1),
            _ => max.saturating_add(4),
        };
        assert!(
            d.buffered() <= bound,
            "{framing:?}: holds {} bytes",
            d.buffered()
        );
    }
    match (model::decode(framing, stream), failed) {
        (Outcome::TooLarge { messages }, Some(e)) => {
            assert_eq!(e, FrameError::TooLarge { max });
            assert_eq!(got, messages, "{framing:?}: messages before the error");
        }
        (Outcome::Ok { messages, tail }, None) => {
            assert_eq!(got, messages, "{framing:?}: messages");
            let end = d.finish();
            match (tail, end) {
                (Tail::Clean, Ok(None)) => {}
                (Tail::LastLine(l), Ok(Some(last))) => assert_eq!(last, l),
                (Tail::Truncated(n), Err(held)) => assert_eq!(held, n),
                (t, e) => panic!("{framing:?}: model ends with {t:?}, decoder with {e:?}"),
            }
            assert_eq!(d.buffered(), 0, "finish leaves nothing behind");
        }
        (m, e) => panic!("{framing:?}: model says {m:?}, decoder error {e:?}"),
    }
}

/// Reads the fuzz input's header: byte 0 picks `max_len`, bytes 1..3 seed
/// the read sizes; the rest is the stream.
fn split_input(data: &[u8]) -> (usize, u16, &[u8]) {
    let max_len = match data.first().copied().unwrap_or(16) {
        255 => usize::MAX,
        254 => u32::MAX as usize,
        253 => 64 * 1024,
        b => b as usize % 48, // small limits reach every boundary often
    };
    let cuts = match data.get(1..3) {
        Some(c) => u16::from_le_bytes([c[0], c[1]]),
        None => 0,
    };
    (max_len, cuts, data.get(3..).unwrap_or_default())
}

/// Cuts `stream` into reads whose sizes follow from `seed`: one byte at a
/// time, all at once, or pseudo-random sizes.
fn chunks(stream: &[u8], seed: u16) -> Vec<&[u8]> {
    match seed % 4 {
        0 => vec![stream],
        1 => stream.chunks(1).collect(),
        _ => {
            let mut out = Vec::new();
            let mut x = u32::from(seed) | 1;
            let mut rest = stream;
            while !rest.is_empty() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let n = (x as usize % 13 + 1).min(rest.len());
                out.push(&rest[..n]);
                rest = &rest[n..];
            }
            out
        }
    }
}
