//! How a byte stream is cut into messages: [`Framing`], its encoder
//! ([`Framing::encode`]) and the incremental [`Decoder`].
//!
//! The decoder follows the classic shape: look for a complete frame in what
//! has arrived, hand it out, advance; only a *partial* frame is ever copied
//! into per-connection memory, so a connection that has only ever received
//! whole frames in whole reads holds no buffer at all; one that had a frame
//! split across reads keeps at most 4 KiB of that buffer's room (a larger
//! one is shrunk back once the frame is out).

use std::mem::MaybeUninit;
use std::sync::Arc;

mod decoder;

pub use decoder::{Decoder, FrameError};

/// Default `max_len` for [`Framing::Lines`]: 64 KiB.
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::Framing::lines().max_len(), Some(tcphub::DEFAULT_MAX_LINE));
/// assert_eq!(tcphub::DEFAULT_MAX_LINE, 64 * 1024);
/// ```
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;
/// Default `max_len` for [`Framing::LengthPrefixed`]: 8 MiB.
///
/// # Examples
///
/// ```
/// assert_eq!(tcphub::Framing::length_prefixed().max_len(), Some(tcphub::DEFAULT_MAX_FRAME));
/// assert_eq!(tcphub::DEFAULT_MAX_FRAME, 8 * 1024 * 1024);
/// ```
pub const DEFAULT_MAX_FRAME: usize = 8 * 1024 * 1024;

/// Why [`Framing::Lines`] refuses a message holding `\n` ([`crate::Error::InvalidMessage`]).
const NEWLINE_IN_LINE: &str =
    "message contains a newline, which Lines framing cannot carry: use length-prefixed framing";

/// Why [`Framing::Lines`] refuses a message whose one `\n` ends it: a line
/// written with its end, which the framing adds itself.
const NEWLINE_AT_END: &str =
    "message ends with a newline: Lines framing adds the \\n itself, so send the line without it";

/// How messages are delimited on the wire.
///
/// # Examples
///
/// ```
/// use tcphub::Framing;
///
/// assert_eq!(Framing::lines().encode(b"hi").unwrap().as_ref(), b"hi\n");
/// assert_eq!(
///     Framing::length_prefixed().encode(b"hi").unwrap().as_ref(),
///     &[0, 0, 0, 2, b'h', b'i']
/// );
/// assert_eq!(Framing::Raw.encode(b"hi").unwrap().as_ref(), b"hi");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Framing {
    /// No framing: each read's bytes are one message, and sends write bytes as-is
    /// (the socket tutorial's behaviour; message boundaries are not preserved by TCP).
    /// An empty message is nothing on the wire: the server's sends take it
    /// (`Ok`, the same errors for a client not connected) and queue
    /// nothing, so it is not counted in `Stats::msgs_out`.
    #[default]
    Raw,
    /// Newline-delimited: a message ends at `\n`, a trailing `\r` is stripped;
    /// sending appends `\n` to the message. A message containing `\n` is
    /// refused by every send with
    /// [`Error::InvalidMessage`](crate::Error::InvalidMessage) (it would
    /// arrive as several lines), before anything is queued. A `\r` is sent
    /// as it is, so a message ending in `\r` arrives without that one `\r`
    /// (it is not refused: every line received, e.g. `abc\r` from
    /// `abc\r\r\n`, can be relayed). Use `LengthPrefixed` for binary or
    /// multi-line messages. A line longer than `max_len` bytes
    /// (excluding the terminator) disconnects the sender with
    /// `FrameTooLarge`. A last line without its `\n` at the peer's clean
    /// end of stream is a message too, and the end is
    /// [`ClosedByPeer`](crate::DisconnectReason::ClosedByPeer).
    Lines {
        /// Longest accepted line, in bytes.
        max_len: usize,
    },
    /// A 4-byte big-endian length, then that many payload bytes (the wire format
    /// of tokio-util's `LengthDelimitedCodec` default). A header announcing more
    /// than `max_len` disconnects the sender before anything is allocated, and
    /// a frame's buffer grows with the bytes that arrive, not with its header.
    LengthPrefixed {
        /// Largest accepted payload, in bytes.
        max_len: usize,
    },
}

impl Framing {
    /// `Lines` with the default limit of 64 KiB.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tcphub::Framing::lines(), tcphub::Framing::Lines { max_len: 64 * 1024 });
    /// ```
    pub fn lines() -> Framing {
        Framing::Lines {
            max_len: DEFAULT_MAX_LINE,
        }
    }

    /// `LengthPrefixed` with the default limit of 8 MiB.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = tcphub::Framing::length_prefixed();
    /// assert_eq!(f.max_len(), Some(8 * 1024 * 1024));
    /// ```
    pub fn length_prefixed() -> Framing {
        Framing::LengthPrefixed {
            max_len: DEFAULT_MAX_FRAME,
        }
    }

    /// The message size limit, or `None` for [`Framing::Raw`].
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tcphub::Framing::Raw.max_len(), None);
    /// ```
    pub fn max_len(&self) -> Option<usize> {
        match *self {
            Framing::Raw => None,
            Framing::Lines { max_len } | Framing::LengthPrefixed { max_len } => Some(max_len),
        }
    }

    /// Frames `msg` for the wire, once, into a shareable buffer.
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLarge`](crate::Error::FrameTooLarge) when `msg` is longer
    /// than `max_len` (a peer using the same framing would refuse it);
    /// [`Error::InvalidMessage`](crate::Error::InvalidMessage) when `msg`
    /// contains `\n` under [`Framing::Lines`] (it would arrive as several
    /// lines).
    ///
    /// # Examples
    ///
    /// ```
    /// use tcphub::{Error, Framing};
    /// let f = Framing::Lines { max_len: 4 };
    /// assert!(matches!(f.encode(b"too long"), Err(Error::FrameTooLarge { len: 8, max: 4 })));
    /// assert!(matches!(f.encode(b"a\nb"), Err(Error::InvalidMessage { .. })));
    /// assert_eq!(f.encode(b"a\r").unwrap().as_ref(), b"a\r\n"); // a `\r` is sent as it is
    /// ```
    pub fn encode(&self, msg: &[u8]) -> crate::Result<Arc<[u8]>> {
        self.framed_len(msg)?;
        Ok(match self {
            Framing::Raw => Arc::from(msg),
            Framing::Lines { .. } => concat(&[msg, b"\n".as_slice()]),
            Framing::LengthPrefixed { .. } => {
                concat(&[(msg.len() as u32).to_be_bytes().as_slice(), msg])
            }
        })
    }

    /// How long `msg` is once framed: the one check of every send (server
    /// and client, framed by [`encode`](Framing::encode) or
    /// [`encode_into`](Framing::encode_into)).
    ///
    /// # Errors
    ///
    /// [`Error::FrameTooLarge`](crate::Error::FrameTooLarge) and
    /// [`Error::InvalidMessage`](crate::Error::InvalidMessage), as [`encode`](Framing::encode).
    pub(crate) fn framed_len(&self, msg: &[u8]) -> crate::Result<usize> {
        if let Some(max) = self.max_len() {
            let max = if matches!(self, Framing::LengthPrefixed { .. }) {
                max.min(u32::MAX as usize)
            } else {
                max
            };
            if msg.len() > max {
                return Err(crate::Error::FrameTooLarge {
                    len: msg.len(),
                    max,
                });
            }
        }
        // `contains` on bytes is a memchr: cheap enough for every send.
        if matches!(self, Framing::Lines { .. }) && msg.contains(&b'\n') {
            let at_end_only = msg.iter().position(|&b| b == b'\n') == Some(msg.len() - 1);
            return Err(crate::Error::InvalidMessage {
                reason: if at_end_only {
                    NEWLINE_AT_END
                } else {
                    NEWLINE_IN_LINE
                },
            });
        }
        Ok(msg.len()
            + match self {
                Framing::Raw => 0,
                Framing::Lines { .. } => 1,
                Framing::LengthPrefixed { .. } => 4,
            })
    }

    /// Appends `msg` framed to `out` (checked by
    /// [`framed_len`](Framing::framed_len) first: its length, its newlines):
    /// the client's send path, which gathers messages in one buffer.
    pub(crate) fn encode_into(&self, msg: &[u8], out: &mut Vec<u8>) {
        match self {
            Framing::Raw => out.extend_from_slice(msg),
            Framing::Lines { .. } => {
                out.extend_from_slice(msg);
                out.push(b'\n');
            }
            Framing::LengthPrefixed { .. } => {
                out.extend_from_slice(&(msg.len() as u32).to_be_bytes());
                out.extend_from_slice(msg);
            }
        }
    }

    /// How many of the framed messages in `buf` (one queued write buffer:
    /// whole frames, one or a run of them) end past byte `from`, i.e. were
    /// not written in full when the first `from` bytes were. Under `Raw`,
    /// where messages have no boundaries on the wire, the buffer counts as
    /// one (the queue keeps each buffer's count for that case). Off the
    /// hot path: for a partly written first buffer of a closing
    /// connection's queue (`Stats::unwritten`).
    pub(crate) fn messages_after(&self, buf: &[u8], from: usize) -> u64 {
        if from >= buf.len() {
            return 0;
        }
        match self {
            Framing::Raw => 1,
            // Every message ends with the one `\n` it may hold.
            Framing::Lines { .. } => buf[from..].iter().filter(|&&b| b == b'\n').count() as u64,
            Framing::LengthPrefixed { .. } => {
                let (mut at, mut n) = (0usize, 0);
                while let Some(head) = at.checked_add(4).and_then(|end| buf.get(at..end)) {
                    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
                    at = at.saturating_add(4 + len);
                    n += u64::from(at > from);
                }
                n
            }
        }
    }

    /// Checks the configuration: `max_len` must be at least 1.
    pub(crate) fn validate(&self) -> crate::Result<()> {
        match self.max_len() {
            Some(0) => Err(crate::Error::InvalidConfig(
                "framing max_len must be at least 1".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// The parts joined into one shared buffer: one allocation, one copy (going
/// through a `Vec` would allocate and copy twice; this is on the send path).
pub(crate) fn concat<P: AsRef<[u8]>>(parts: &[P]) -> Arc<[u8]> {
    let mut buf = Filling::new(parts.iter().map(|p| p.as_ref().len()).sum());
    for part in parts {
        buf.push(part.as_ref());
    }
    buf.finish()
}

/// A shared buffer of a length known up front, filled in pieces and then
/// frozen: one allocation and one copy, where building a `Vec` and turning
/// it into an `Arc<[u8]>` would allocate and copy twice (and grow the `Vec`
/// along the way).
pub(crate) struct Filling {
    /// The buffer, owned by nobody else until `finish`: `dst` points into it.
    arc: Arc<[MaybeUninit<u8>]>,
    /// Where `arc`'s bytes start, taken once (`Arc::get_mut` checks that
    /// nobody else owns it, an atomic operation per call). Nothing reads
    /// `arc` while it is in use: even its length, through `Deref`, would
    /// make a shared reference to the bytes `dst` writes.
    dst: *mut u8,
    /// `arc`'s length.
    len: usize,
    /// Bytes written so far, from the start.
    at: usize,
}

impl Filling {
    /// An empty buffer for exactly `len` bytes.
    pub fn new(len: usize) -> Filling {
        let mut arc = Arc::<[u8]>::new_uninit_slice(len);
        let dst = Arc::get_mut(&mut arc)
            .expect("a fresh Arc has no other owner")
            .as_mut_ptr()
            .cast::<u8>();
        Filling {
            arc,
            dst,
            len,
            at: 0,
        }
    }

    /// Appends `part` after what is written.
    ///
    /// # Panics
    /// When `part` does not fit in what is left of the length.
    pub fn push(&mut self, part: &[u8]) {
        assert!(part.len() <= self.len - self.at, "part past the end");
        // SAFETY: `dst` points to `arc`'s `len` bytes, which nobody else
        // can reach (`arc` is not shared, nor read, before `finish`); the
        // range `at..at + part.len()` is inside them (checked above); `u8`
        // and `MaybeUninit<u8>` have the same layout; `part` is not in `arc`.
        unsafe {
            std::ptr::copy_nonoverlapping(part.as_ptr(), self.dst.add(self.at), part.len());
        }
        self.at += part.len();
    }

    /// Bytes written so far.
    pub fn written(&self) -> usize {
        self.at
    }

    /// The buffer, shared from now on.
    ///
    /// # Panics
    /// When fewer bytes were written than its length.
    pub fn finish(self) -> Arc<[u8]> {
        assert_eq!(self.at, self.len, "a buffer finished half written");
        // SAFETY: every one of the buffer's bytes was written (above).
        unsafe { self.arc.assume_init() }
    }
}

impl std::fmt::Debug for Filling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filling")
            .field("len", &self.len)
            .field("at", &self.at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn lines_refuses_a_message_holding_a_newline() {
        let f = Framing::Lines { max_len: 16 };
        for msg in [&b"a\nb"[..], b"hi\n", b"\n", b"\nx", b"a\r\nb"] {
            assert!(
                matches!(f.encode(msg), Err(Error::InvalidMessage { .. })),
                "{msg:?}"
            );
            assert!(
                matches!(f.framed_len(msg), Err(Error::InvalidMessage { .. })),
                "{msg:?}"
            );
        }
        let err = f.encode(b"a\nb").unwrap_err();
        assert_eq!(err.code(), 11);
        assert!(
            err.to_string().contains("use length-prefixed framing"),
            "{err}"
        );
        // A line sent with its own end (the C audit's "hello\n"): the
        // advice is to drop the end, not to change the framing.
        let err = f.encode(b"hello\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "message ends with a newline: Lines framing adds the \\n itself, so send the line without it"
        );
        let err = f.encode(b"a\nb\n").unwrap_err();
        assert!(
            err.to_string().contains("use length-prefixed framing"),
            "{err}"
        );
        // Too long is told first (the cheaper check).
        assert!(matches!(
            f.encode(&[b'\n'; 17]),
            Err(Error::FrameTooLarge { len: 17, max: 16 })
        ));
        // A `\r` is not refused, trailing or not: a line received as
        // "abc\r" (from "abc\r\r\n") can be relayed as it is.
        let mut got = Vec::new();
        Decoder::new(f)
            .decode(b"abc\r\r\n", |m| got.push(m.to_vec()))
            .unwrap();
        assert_eq!(got, vec![b"abc\r".to_vec()]);
        assert_eq!(f.encode(&got[0]).unwrap().as_ref(), b"abc\r\n");
        assert_eq!(f.encode(b"\ra\rb").unwrap().as_ref(), b"\ra\rb\n");
        assert_eq!(f.framed_len(b"").unwrap(), 1);
        // The other framings carry any byte.
        for f in [Framing::Raw, Framing::length_prefixed()] {
            assert!(f.encode(b"a\nb\n").is_ok(), "{f:?}");
        }
    }

    #[test]
    fn messages_after_counts_the_frames_not_written_in_full() {
        let run = |f: Framing, msgs: &[&[u8]]| {
            let mut out = Vec::new();
            for m in msgs {
                f.encode_into(m, &mut out);
            }
            out
        };
        let lines = Framing::lines();
        let buf = run(lines, &[b"ab", b"", b"cde"]); // "ab\n\ncde\n"
        let counts: Vec<u64> = (0..=buf.len())
            .map(|i| lines.messages_after(&buf, i))
            .collect();
        assert_eq!(counts, [3, 3, 3, 2, 1, 1, 1, 1, 0]);
        let len = Framing::length_prefixed();
        let buf = run(len, &[b"ab", b"", b"c"]); // 6 + 4 + 5 bytes
        assert_eq!(len.messages_after(&buf, 0), 3);
        assert_eq!(len.messages_after(&buf, 5), 3);
        assert_eq!(len.messages_after(&buf, 6), 2);
        assert_eq!(len.messages_after(&buf, 9), 2);
        assert_eq!(len.messages_after(&buf, 10), 1);
        assert_eq!(len.messages_after(&buf, 14), 1);
        assert_eq!(len.messages_after(&buf, 15), 0);
        assert_eq!(Framing::Raw.messages_after(b"abc", 2), 1);
        assert_eq!(Framing::Raw.messages_after(b"abc", 3), 0);
    }

    #[test]
    fn a_filling_buffer_holds_its_parts_in_order() {
        assert_eq!(&*concat(&[&b"ab"[..], b"", b"cde"]), b"abcde");
        assert!(concat::<&[u8]>(&[]).is_empty());
        let mut buf = Filling::new(4);
        buf.push(b"x");
        assert_eq!(buf.written(), 1);
        buf.push(b"yzw");
        assert_eq!(&*buf.finish(), b"xyzw");
    }

    #[test]
    #[should_panic(expected = "part past the end")]
    fn a_filling_buffer_refuses_a_part_past_its_end() {
        let mut buf = Filling::new(2);
        buf.push(b"a");
        buf.push(b"bc");
    }

    #[test]
    #[should_panic(expected = "half written")]
    fn a_filling_buffer_refuses_to_finish_half_written() {
        let mut buf = Filling::new(2);
        buf.push(b"a");
        let _ = buf.finish();
    }
}
