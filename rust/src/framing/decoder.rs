//! The incremental [`Decoder`]: bytes in as they arrive, whole messages out
//! (for [`Framing::Lines`] and [`Framing::LengthPrefixed`]; [`Framing::Raw`]
//! hands out each read as it came). See the parent module for why only a
//! partial frame is ever copied.

use super::Framing;

/// Why the decoder refused the stream.
///
/// # Examples
///
/// ```
/// use tcphub::{Decoder, Framing, FrameError};
/// let mut d = Decoder::new(Framing::Lines { max_len: 3 });
/// assert_eq!(d.decode(b"abcdef", |_| {}), Err(FrameError::TooLarge { max: 3 }));
/// assert_eq!(
///     FrameError::TooLarge { max: 3 }.to_string(),
///     "frame exceeds the framing's limit of 3 bytes"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A frame exceeds the framing's `max_len`.
    #[error("frame exceeds the framing's limit of {max} bytes")]
    TooLarge {
        /// The limit that was exceeded.
        max: usize,
    },
}

/// Incremental decoder: feed it the bytes as they arrive, get whole messages out.
///
/// Frames that lie entirely inside one [`decode`](Decoder::decode) call are
/// handed out as slices of the input, without copying. Only the tail of an
/// unfinished frame is kept.
///
/// # Examples
///
/// ```
/// use tcphub::{Decoder, Framing};
///
/// let mut d = Decoder::new(Framing::lines());
/// let mut got = Vec::new();
/// d.decode(b"hel", |m| got.push(m.to_vec())).unwrap();
/// d.decode(b"lo\r\nworld\n", |m| got.push(m.to_vec())).unwrap();
/// assert_eq!(got, vec![b"hello".to_vec(), b"world".to_vec()]);
/// ```
#[derive(Debug)]
pub struct Decoder {
    framing: Framing,
    /// Bytes of an unfinished frame (for length-prefixed: header included).
    /// Empty between frames so idle connections cost nothing.
    pending: Vec<u8>,
}

impl Decoder {
    /// A decoder for `framing`, holding no partial frame.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = tcphub::Decoder::new(tcphub::Framing::Raw);
    /// assert_eq!(d.buffered(), 0);
    /// ```
    pub fn new(framing: Framing) -> Decoder {
        Decoder {
            framing,
            pending: Vec::new(),
        }
    }

    /// Bytes of an unfinished frame currently held.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut d = tcphub::Decoder::new(tcphub::Framing::length_prefixed());
    /// d.decode(&[0, 0, 0, 5, b'a'], |_| {}).unwrap();
    /// assert_eq!(d.buffered(), 5);
    /// ```
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }

    /// Feeds `input`, calling `emit` once per complete message, in order.
    ///
    /// # Errors
    ///
    /// [`FrameError::TooLarge`] as soon as a frame is known to exceed
    /// `max_len` (from a length header, or a line that has grown past it);
    /// the messages before it have been emitted. The decoder must not be used
    /// after an error.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut d = tcphub::Decoder::new(tcphub::Framing::length_prefixed());
    /// let mut n = 0;
    /// d.decode(&[0, 0, 0, 1, b'x', 0, 0, 0, 0], |_| n += 1).unwrap();
    /// assert_eq!(n, 2); // "x" and an empty frame
    /// ```
    pub fn decode<F: FnMut(&[u8])>(&mut self, input: &[u8], mut emit: F) -> Result<(), FrameError> {
        self.decode_while(input, |m| {
            emit(m);
            true
        })
        .map(drop)
    }

    /// As [`decode`](Decoder::decode), but stops after a message for which
    /// `emit` returns `false`: returns how many bytes of `input` were taken
    /// (all of them unless it stopped). The rest is for a later call.
    pub(crate) fn decode_while<F: FnMut(&[u8]) -> bool>(
        &mut self,
        input: &[u8],
        emit: F,
    ) -> Result<usize, FrameError> {
        match self.framing {
            Framing::Raw => {
                let mut emit = emit;
                if !input.is_empty() {
                    emit(input);
                }
                Ok(input.len())
            }
            Framing::Lines { max_len } => self.decode_lines(input, max_len, emit),
            Framing::LengthPrefixed { max_len } => self.decode_len(input, max_len, emit),
        }
    }

    /// Called at end of stream: returns the unfinished frame, if any, as it
    /// should be reported. For `Lines` an unterminated last line is a message
    /// (`Ok(Some(line))`); for `LengthPrefixed` a truncated frame is an error
    /// (`Err(bytes_held)`).
    ///
    /// # Errors
    ///
    /// `Err` with the number of bytes held when a length-prefixed frame was
    /// cut short by the end of stream (its prefix included).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut d = tcphub::Decoder::new(tcphub::Framing::lines());
    /// d.decode(b"last words", |_| {}).unwrap();
    /// assert_eq!(d.finish(), Ok(Some(b"last words".to_vec())));
    ///
    /// let mut d = tcphub::Decoder::new(tcphub::Framing::length_prefixed());
    /// d.decode(&[0, 0, 0, 5, b'a', b'b'], |_| {}).unwrap(); // 2 of 5 bytes
    /// assert_eq!(d.finish(), Err(6));
    /// ```
    pub fn finish(&mut self) -> Result<Option<Vec<u8>>, usize> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let pending = std::mem::take(&mut self.pending);
        match self.framing {
            Framing::Lines { .. } => {
                let mut line = pending;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Ok(Some(line))
            }
            _ => Err(pending.len()),
        }
    }

    fn decode_lines<F: FnMut(&[u8]) -> bool>(
        &mut self,
        mut input: &[u8],
        max_len: usize,
        mut emit: F,
    ) -> Result<usize, FrameError> {
        let all = input.len();
        // Finish the line already in progress.
        if !self.pending.is_empty() {
            match memchr(b'\n', input) {
                None => {
                    let len = self.pending.len() + input.len();
                    let last = input.last().or(self.pending.last());
                    if !line_fits(len, last, max_len) {
                        return Err(FrameError::TooLarge { max: max_len });
                    }
                    extend_bounded(&mut self.pending, input, max_len.saturating_add(1));
                    return Ok(all);
                }
                Some(i) => {
                    if self.pending.len() + i > max_len.saturating_add(1) {
                        return Err(FrameError::TooLarge { max: max_len });
                    }
                    extend_bounded(&mut self.pending, &input[..i], max_len.saturating_add(1));
                    input = &input[i + 1..];
                    let line = strip_cr(&self.pending);
                    if line.len() > max_len {
                        return Err(FrameError::TooLarge { max: max_len });
                    }
                    let more = emit(line);
                    self.pending.clear();
                    self.pending.shrink_to(DEFAULT_KEEP);
                    if !more {
                        return Ok(all - input.len());
                    }
                }
            }
        }
        // Whole lines straight out of the input.
        while let Some(i) = memchr(b'\n', input) {
            let line = strip_cr(&input[..i]);
            if line.len() > max_len {
                return Err(FrameError::TooLarge { max: max_len });
            }
            let more = emit(line);
            input = &input[i + 1..];
            if !more {
                return Ok(all - input.len());
            }
        }
        if !line_fits(input.len(), input.last(), max_len) {
            return Err(FrameError::TooLarge { max: max_len });
        }
        extend_bounded(&mut self.pending, input, max_len.saturating_add(1));
        Ok(all)
    }

    fn decode_len<F: FnMut(&[u8]) -> bool>(
        &mut self,
        mut input: &[u8],
        max_len: usize,
        mut emit: F,
    ) -> Result<usize, FrameError> {
        let all = input.len();
        if !self.pending.is_empty() {
            // Complete the header first.
            if self.pending.len() < 4 {
                let need = 4 - self.pending.len();
                let take = need.min(input.len());
                self.pending.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.pending.len() < 4 {
                    return Ok(all);
                }
                let len = header(&self.pending);
                if len > max_len {
                    return Err(FrameError::TooLarge { max: max_len });
                }
                self.pending.reserve_exact(len.min(PREALLOC_MAX));
            }
            let len = header(&self.pending);
            let have = self.pending.len() - 4;
            let take = (len - have).min(input.len());
            extend_bounded(&mut self.pending, &input[..take], 4 + len);
            input = &input[take..];
            if self.pending.len() - 4 < len {
                return Ok(all);
            }
            let more = emit(&self.pending[4..]);
            self.pending.clear();
            self.pending.shrink_to(DEFAULT_KEEP);
            if !more {
                return Ok(all - input.len());
            }
        }
        loop {
            if input.len() < 4 {
                self.pending.extend_from_slice(input);
                return Ok(all);
            }
            let len = header(input);
            if len > max_len {
                return Err(FrameError::TooLarge { max: max_len });
            }
            if input.len() - 4 < len {
                self.pending.reserve_exact((4 + len).min(PREALLOC_MAX));
                extend_bounded(&mut self.pending, input, 4 + len);
                return Ok(all);
            }
            let more = emit(&input[4..4 + len]);
            input = &input[4 + len..];
            if !more {
                return Ok(all - input.len());
            }
        }
    }
}

/// Most that a length header alone makes the decoder allocate: a bigger frame's
/// buffer grows with the bytes that actually arrive, so a peer cannot make the
/// server reserve `max_len` bytes per connection by sending 4 bytes.
const PREALLOC_MAX: usize = 64 * 1024;

/// A partial-frame buffer larger than this is released after its frame completes,
/// so one big message does not pin memory on a long-lived connection.
const DEFAULT_KEEP: usize = 4096;

/// Appends `bytes` to a partial frame's buffer, growing it by doubling as
/// `Vec` does, but never past `bound` (the largest the frame can be), so
/// a frame that arrives in pieces holds at most its own size, not twice it.
fn extend_bounded(buf: &mut Vec<u8>, bytes: &[u8], bound: usize) {
    let need = buf.len() + bytes.len();
    if need > buf.capacity() {
        let target = buf
            .capacity()
            .saturating_mul(2)
            .clamp(need, bound.max(need));
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(bytes);
}

fn header(b: &[u8]) -> usize {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
}

/// Whether an unterminated line of `len` bytes ending in `last` can still
/// become a line of at most `max_len` bytes: it may be one byte longer only
/// if that byte is a `\r` that the terminator will strip. (Anything longer is refused now rather than at its
/// newline, and [`Decoder::finish`] never hands out an oversize last line.)
fn line_fits(len: usize, last: Option<&u8>, max_len: usize) -> bool {
    len <= max_len || (Some(len) == max_len.checked_add(1) && last == Some(&b'\r'))
}

fn strip_cr(line: &[u8]) -> &[u8] {
    match line.last() {
        Some(b'\r') => &line[..line.len() - 1],
        _ => line,
    }
}

/// Position of the first `needle` in `hay` (word-at-a-time scan).
fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let rep = LO * needle as u64;
    let mut i = 0;
    while i + 8 <= hay.len() {
        let w = u64::from_le_bytes(hay[i..i + 8].try_into().expect("8-byte slice"));
        let x = w ^ rep;
        if (x.wrapping_sub(LO) & !x & HI) != 0 {
            break;
        }
        i += 8;
    }
    hay[i..].iter().position(|&b| b == needle).map(|p| p + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(framing: Framing, chunks: &[&[u8]]) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut d = Decoder::new(framing);
        let mut out = Vec::new();
        for c in chunks {
            d.decode(c, |m| out.push(m.to_vec()))?;
        }
        Ok(out)
    }

    /// Decodes `chunks` stopping after every message and feeding the rest
    /// again (as the read path does when input is paused mid-read).
    fn decode_stopping(framing: Framing, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut d = Decoder::new(framing);
        let mut out = Vec::new();
        for c in chunks {
            let mut rest: &[u8] = c;
            loop {
                let before = out.len();
                let took = d
                    .decode_while(rest, |m| {
                        out.push(m.to_vec());
                        false
                    })
                    .unwrap();
                assert!(out.len() <= before + 1, "went on after a stop");
                rest = &rest[took..];
                if rest.is_empty() {
                    break;
                }
                assert_eq!(out.len(), before + 1, "stopped without a message");
            }
        }
        out
    }

    #[test]
    fn memchr_finds_first() {
        for len in 0..40 {
            for pos in 0..len {
                let mut v = vec![b'a'; len];
                v[pos] = b'\n';
                if pos + 1 < len {
                    v[len - 1] = b'\n';
                }
                assert_eq!(memchr(b'\n', &v), Some(pos));
            }
            assert_eq!(memchr(b'\n', &vec![0x8a; len]), None);
        }
    }

    #[test]
    fn lines_strip_cr_and_keep_empty() {
        let got = decode_all(Framing::lines(), &[b"a\r\n\nb\n"]).unwrap();
        assert_eq!(got, vec![b"a".to_vec(), b"".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn lines_too_long_without_newline() {
        let f = Framing::Lines { max_len: 10 };
        assert!(decode_all(f, &[b"0123456789", b"0123"]).is_err());
        assert!(decode_all(f, &[b"0123456789\r\n"]).is_ok());
        assert!(decode_all(f, &[b"0123456789", b"\r", b"\n"]).is_ok());
        assert!(decode_all(f, &[b"01234567890\n"]).is_err());
    }

    #[test]
    fn unterminated_last_line_over_max_is_refused_not_emitted_at_eof() {
        // Regression: max_len + 1 bytes without a newline used to be held, and
        // `finish` then handed the oversize line out as the last message.
        let mut d = Decoder::new(Framing::Lines { max_len: 3 });
        assert_eq!(
            d.decode(b"abcd", |_| {}),
            Err(FrameError::TooLarge { max: 3 })
        );
        let mut d = Decoder::new(Framing::Lines { max_len: 3 });
        d.decode(b"ab", |_| {}).unwrap();
        assert_eq!(
            d.decode(b"cd", |_| {}),
            Err(FrameError::TooLarge { max: 3 })
        );
        // One byte over is fine while it is the '\r' of a "\r\n".
        let mut d = Decoder::new(Framing::Lines { max_len: 3 });
        d.decode(b"ab", |_| {}).unwrap();
        d.decode(b"c\r", |_| {}).unwrap();
        assert_eq!(d.finish(), Ok(Some(b"abc".to_vec())));
    }

    #[test]
    fn lines_without_a_practical_limit_do_not_overflow() {
        // Regression: `max_len + 1` overflowed for usize::MAX (a panic in
        // debug builds, every continued line "too large" in release).
        let f = Framing::Lines {
            max_len: usize::MAX,
        };
        assert_eq!(
            decode_all(f, &[b"a long ", b"line\n"]).unwrap(),
            vec![b"a long line".to_vec()]
        );
    }

    #[test]
    fn a_partial_frame_s_buffer_never_grows_past_the_largest_frame_allowed() {
        // A frame arriving in small pieces grew its buffer by doubling: up
        // to ~2x `max_len` (a line) or ~2x the announced length per
        // connection, past the bound the documentation gives.
        let max = 100_000;
        let mut d = Decoder::new(Framing::Lines { max_len: max });
        let line = vec![b'x'; max];
        for c in line.chunks(1000) {
            d.decode(c, |_| {}).unwrap();
            assert!(d.pending.capacity() <= max + 1, "{}", d.pending.capacity());
        }
        d.decode(b"\r", |_| {}).unwrap();
        assert!(d.pending.capacity() <= max + 1, "{}", d.pending.capacity());
        let mut n = 0;
        d.decode(b"\n", |m| {
            assert_eq!(m.len(), max);
            n += 1;
        })
        .unwrap();
        assert_eq!(n, 1);

        let len = 200_000;
        let f = Framing::LengthPrefixed { max_len: 1 << 20 };
        let frame = f.encode(&vec![7u8; len]).unwrap();
        let mut d = Decoder::new(f);
        let mut got = 0;
        for c in frame.chunks(1000) {
            d.decode(c, |m| got = m.len()).unwrap();
            assert!(d.pending.capacity() <= len + 4, "{}", d.pending.capacity());
        }
        assert_eq!(got, len);
    }

    /// Review mt: the bound above holds for frames of every size, not only
    /// for those past what a header alone reserves: a header reserves no
    /// more than its frame (4 + len bytes), and a first read bringing more
    /// of a frame than that reservation grows the buffer to the frame's
    /// size, not past it.
    #[test]
    fn review_mt_a_partial_length_prefixed_frame_never_holds_more_than_itself() {
        let f = Framing::LengthPrefixed { max_len: 1 << 20 };
        for (len, first) in [(1usize, 4usize), (100, 5), (1_000, 10), (100_000, 70_000)] {
            let frame = f.encode(&vec![7u8; len]).unwrap();
            let mut d = Decoder::new(f);
            let mut got = Vec::new();
            d.decode(&frame[..first], |m| got.push(m.len())).unwrap();
            assert!(
                d.pending.capacity() <= len + 4,
                "{len}: {}",
                d.pending.capacity()
            );
            for c in frame[first..].chunks(999) {
                d.decode(c, |m| got.push(m.len())).unwrap();
                assert!(
                    d.pending.capacity() <= len + 4,
                    "{len}: {}",
                    d.pending.capacity()
                );
            }
            assert_eq!(got, [len]);
        }
    }

    #[test]
    fn length_header_over_max_is_refused_before_payload() {
        let f = Framing::LengthPrefixed { max_len: 100 };
        assert_eq!(
            decode_all(f, &[&[0xff, 0xff], &[0xff, 0xff]]),
            Err(FrameError::TooLarge { max: 100 })
        );
        assert!(decode_all(f, &[&[0, 0, 0, 101]]).is_err());
        assert!(decode_all(f, &[&[0, 0, 0, 100]]).is_ok());
    }

    #[test]
    fn a_length_header_alone_does_not_allocate_the_announced_length() {
        // Regression (found by cargo fuzz): a header announcing 4 GiB - 1
        // under a u32::MAX limit reserved 4 GiB + 4 bytes at once.
        let f = Framing::LengthPrefixed {
            max_len: u32::MAX as usize,
        };
        let mut d = Decoder::new(f);
        d.decode(&[0xFF, 0xFF, 0xFF, 0xFE, 1], |_| {}).unwrap();
        assert_eq!(d.buffered(), 5);
        assert!(
            d.pending.capacity() <= PREALLOC_MAX + 4,
            "{}",
            d.pending.capacity()
        );
        // The same when the header arrives in pieces.
        let mut d = Decoder::new(f);
        d.decode(&[0xFF, 0xFF], |_| {}).unwrap();
        d.decode(&[0xFF, 0xFE, 1], |_| {}).unwrap();
        assert!(
            d.pending.capacity() <= PREALLOC_MAX + 4,
            "{}",
            d.pending.capacity()
        );
        // A big frame still arrives whole, its buffer growing as it comes.
        let mut d = Decoder::new(Framing::LengthPrefixed { max_len: 1 << 20 });
        let frame = f.encode(&vec![7u8; 1 << 20]).unwrap();
        let mut got = Vec::new();
        for c in frame.chunks(10_000) {
            d.decode(c, |m| got.push(m.len())).unwrap();
        }
        assert_eq!(got, vec![1 << 20]);
    }

    #[test]
    fn finish_reports_truncation() {
        let mut d = Decoder::new(Framing::length_prefixed());
        d.decode(&[0, 0, 0, 9, 1, 2], |_| {}).unwrap();
        assert_eq!(d.finish(), Err(6));
        let mut d = Decoder::new(Framing::length_prefixed());
        assert_eq!(d.finish(), Ok(None));
    }

    fn encode_all(f: Framing, msgs: &[Vec<u8>]) -> Vec<u8> {
        msgs.iter()
            .flat_map(|m| f.encode(m).unwrap().to_vec())
            .collect()
    }

    fn split(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.sort_unstable();
        let mut out = Vec::new();
        let mut last = 0;
        for c in cuts {
            out.push(stream[last..c].to_vec());
            last = c;
        }
        out.push(stream[last..].to_vec());
        out
    }

    proptest! {
        #[test]
        fn length_prefixed_any_split(msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20),
                                     cuts in prop::collection::vec(any::<usize>(), 0..30)) {
            let f = Framing::LengthPrefixed { max_len: 300 };
            let stream = encode_all(f, &msgs);
            let chunks = split(&stream, &cuts);
            let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
            prop_assert_eq!(decode_all(f, &refs).unwrap(), msgs.clone());
            prop_assert_eq!(decode_stopping(f, &refs), msgs.clone());
            // One byte at a time gives the same messages.
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            prop_assert_eq!(decode_all(f, &bytes).unwrap(), msgs);
        }

        #[test]
        fn lines_any_split(msgs in prop::collection::vec(prop::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n' && *b != b'\r'), 0..200), 0..20),
                           cuts in prop::collection::vec(any::<usize>(), 0..30)) {
            let f = Framing::Lines { max_len: 200 };
            let stream = encode_all(f, &msgs);
            let chunks = split(&stream, &cuts);
            let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
            prop_assert_eq!(decode_all(f, &refs).unwrap(), msgs.clone());
            prop_assert_eq!(decode_stopping(f, &refs), msgs.clone());
            let bytes: Vec<&[u8]> = stream.chunks(1).collect();
            prop_assert_eq!(decode_all(f, &bytes).unwrap(), msgs);
        }

        #[test]
        fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..2000),
                                cuts in prop::collection::vec(any::<usize>(), 0..10)) {
            for f in [Framing::Raw, Framing::Lines { max_len: 64 }, Framing::LengthPrefixed { max_len: 64 }] {
                let chunks = split(&data, &cuts);
                let mut d = Decoder::new(f);
                let mut total = 0usize;
                for c in &chunks {
                    if d.decode(c, |m| { assert!(m.len() <= 64 || f == Framing::Raw); total += m.len(); }).is_err() {
                        break;
                    }
                }
                prop_assert!(d.buffered() <= 64 + 5, "{:?} buffered {}", f, d.buffered());
            }
        }
    }
}
