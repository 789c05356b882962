//! Reference decoders: the plainest correct reading of each framing, over the
//! whole stream at once. The fuzz targets and the property tests compare
//! `tcphub::Decoder` — incremental, zero-copy, fed in arbitrary chunks —
//! against these.

use tcphub::Framing;

/// What a framing makes of a whole byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every complete frame was valid: the messages, then what is left at EOF.
    Ok {
        /// The messages, in order.
        messages: Vec<Vec<u8>>,
        /// The unfinished frame at the end of the stream.
        tail: Tail,
    },
    /// A frame over `max_len`: the messages before it, then the error.
    TooLarge {
        /// The messages emitted before the oversize frame.
        messages: Vec<Vec<u8>>,
    },
}

/// The end of a stream that decoded without error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// Nothing unfinished: a clean end.
    Clean,
    /// Lines: an unterminated last line, still a message (trailing `\r` stripped).
    LastLine(Vec<u8>),
    /// Length-prefixed: a truncated frame of this many bytes (header included).
    Truncated(usize),
}

/// Decodes `stream` as a whole. For [`Framing::Raw`] the message boundaries
/// depend on how the bytes arrive, so the model is one message holding
/// everything (compare concatenations).
pub fn decode(framing: Framing, stream: &[u8]) -> Outcome {
    match framing {
        Framing::Raw => Outcome::Ok {
            messages: if stream.is_empty() {
                vec![]
            } else {
                vec![stream.to_vec()]
            },
            tail: Tail::Clean,
        },
        Framing::Lines { max_len } => lines(stream, max_len),
        Framing::LengthPrefixed { max_len } => length_prefixed(stream, max_len),
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn lines(stream: &[u8], max_len: usize) -> Outcome {
    let mut messages = Vec::new();
    let mut parts: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
    // `split` always yields one more part than there are newlines: the tail.
    let rest = parts.pop().unwrap_or_default();
    for line in parts {
        let line = strip_cr(line);
        if line.len() > max_len {
            return Outcome::TooLarge { messages };
        }
        messages.push(line.to_vec());
    }
    // An unterminated line is refused as soon as it cannot fit any more:
    // longer than max_len, unless the one extra byte is a '\r' a "\r\n" strips.
    let fits = rest.len() <= max_len
        || (Some(rest.len()) == max_len.checked_add(1) && rest.ends_with(b"\r"));
    if !fits {
        return Outcome::TooLarge { messages };
    }
    let tail = if rest.is_empty() {
        Tail::Clean
    } else {
        Tail::LastLine(strip_cr(rest).to_vec())
    };
    Outcome::Ok { messages, tail }
}

fn length_prefixed(stream: &[u8], max_len: usize) -> Outcome {
    let mut messages = Vec::new();
    let mut rest = stream;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len > max_len {
            return Outcome::TooLarge { messages };
        }
        if rest.len() - 4 < len {
            break;
        }
        messages.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
    }
    let tail = if rest.is_empty() {
        Tail::Clean
    } else {
        Tail::Truncated(rest.len())
    };
    Outcome::Ok { messages, tail }
}
