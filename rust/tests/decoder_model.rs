//! The fuzz targets (`fuzz/src/targets.rs`) as property tests: each decoder,
//! fed arbitrary bytes in arbitrary reads, must agree with the whole-stream
//! reference model (`fuzz/src/model.rs`) and stay within its memory bound.
//! `cargo fuzz` and `scripts/fuzz.sh` run the same functions for longer.

#[allow(dead_code)]
#[path = "../../fuzz/src/model.rs"]
mod model;
#[path = "../../fuzz/src/targets.rs"]
mod targets;

use proptest::prelude::*;

/// Bytes biased towards what the framings look at: newlines, carriage
/// returns, zero and 0xFF (length headers).
fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => any::<u8>(),
            2 => Just(b'\n'),
            1 => Just(b'\r'),
            1 => Just(0u8),
            1 => Just(0xFFu8),
        ],
        0..500,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn lines_decoder_matches_the_model(data in stream()) {
        targets::lines(&data);
    }

    #[test]
    fn length_prefixed_decoder_matches_the_model(data in stream()) {
        targets::length_prefixed(&data);
    }

    #[test]
    fn raw_decoder_passes_reads_through(data in stream()) {
        targets::raw(&data);
    }

    #[test]
    fn encode_then_decode_round_trips(data in prop::collection::vec(any::<u8>(), 0..700)) {
        targets::roundtrip(&data);
    }

    /// Valid length-prefixed streams whose lengths sit at the limit, one
    /// under and one over.
    #[test]
    fn length_prefixed_at_the_limit(max in 0usize..40,
                                    lens in prop::collection::vec(0usize..3, 0..12),
                                    cut in any::<u16>()) {
        let mut data = vec![max as u8, cut as u8, (cut >> 8) as u8];
        for l in lens {
            let len = (max + l).saturating_sub(1);
            data.extend_from_slice(&(len as u32).to_be_bytes());
            data.extend(std::iter::repeat_n(b'x', len));
        }
        targets::length_prefixed(&data);
    }
}

#[test]
fn model_agrees_on_hand_picked_streams() {
    use model::{decode, Outcome, Tail};
    use tcphub::Framing;
    let lines = Framing::Lines { max_len: 3 };
    assert_eq!(
        decode(lines, b"abc\r\nab"),
        Outcome::Ok {
            messages: vec![b"abc".to_vec()],
            tail: Tail::LastLine(b"ab".to_vec())
        }
    );
    assert_eq!(
        decode(lines, b"abcd"),
        Outcome::TooLarge { messages: vec![] }
    );
    let lp = Framing::LengthPrefixed { max_len: 3 };
    assert_eq!(
        decode(lp, &[0, 0, 0, 0, 0, 0, 0, 2, b'x']),
        Outcome::Ok {
            messages: vec![vec![]],
            tail: Tail::Truncated(5)
        }
    );
    assert_eq!(
        decode(lp, &[0, 0, 0, 4]),
        Outcome::TooLarge { messages: vec![] }
    );
}
