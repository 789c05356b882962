//! Coalescing of broadcasts: consecutive `send_all` frames waiting in a
//! loop's command queue are joined into one shared buffer before they are
//! queued per client.
//!
//! A relay reads a burst of messages from one sender and calls `send_all`
//! for each. Queued one by one, every message costs one queue entry per
//! client and every client's gathering `sendmsg` takes many small buffers. Joined,
//! the burst costs one entry per client and goes out as one contiguous
//! write. Recipients, bytes and order are exactly those of the single
//! sends; a client whose queue cannot take the whole batch is offered its
//! messages one at a time, so the overflow policy sees the same messages it
//! would have seen without coalescing.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::framing::concat;
use crate::shared::{Audience, Command};

/// Largest batch built (bytes); also capped at half the queue bound so a
/// batch normally fits into a queue that already holds something.
pub(crate) const BATCH_MAX: usize = 64 * 1024;

/// Broadcast frames joined for the same recipients.
#[derive(Debug)]
pub(crate) struct Batch {
    /// All the frames, back to back.
    pub joined: Arc<[u8]>,
    /// The frames one by one (for a client that cannot take them all at
    /// once); empty when the batch is a single frame.
    pub parts: Vec<Arc<[u8]>>,
}

impl Batch {
    /// Messages in the batch.
    pub fn messages(&self) -> u64 {
        self.parts.len().max(1) as u64
    }
}

/// Builds a batch from `first` (a broadcast to `audience`) and the
/// broadcasts to the same audience directly behind it in `work`, up to
/// `cap` bytes; those are removed from `work`. `parts` is a reusable,
/// empty vector.
pub(crate) fn coalesce(
    first: Arc<[u8]>,
    audience: Audience,
    work: &mut VecDeque<Command>,
    cap: usize,
    mut parts: Vec<Arc<[u8]>>,
) -> Batch {
    debug_assert!(parts.is_empty());
    let mut total = first.len();
    let joins = |cmd: Option<&Command>, total: usize| matches!(cmd, Some(Command::Broadcast(f, a)) if *a == audience && total + f.len() <= cap);
    if !joins(work.front(), total) {
        return Batch {
            joined: first,
            parts,
        };
    }
    parts.push(first);
    while joins(work.front(), total) {
        if let Some(Command::Broadcast(f, _)) = work.pop_front() {
            total += f.len();
            parts.push(f);
        }
    }
    Batch {
        joined: concat(&parts),
        parts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(b: &[u8]) -> Arc<[u8]> {
        Arc::from(b)
    }

    fn below(below: u64) -> Audience {
        Audience { below, except: 0 }
    }

    #[test]
    fn joins_a_run_with_the_same_bound_and_stops_at_anything_else() {
        let mut work = VecDeque::from(vec![
            Command::Broadcast(frame(b"bb"), below(7)),
            Command::Broadcast(frame(b"ccc"), below(7)),
            Command::Broadcast(frame(b"dd"), below(8)), // a client joined in between
            Command::Broadcast(frame(b"ee"), below(8)),
        ]);
        let b = coalesce(frame(b"a"), below(7), &mut work, BATCH_MAX, Vec::new());
        assert_eq!(&b.joined[..], b"abbccc");
        assert_eq!(b.messages(), 3);
        assert_eq!(work.len(), 2);
        let Some(Command::Broadcast(f, a)) = work.pop_front() else {
            panic!("the next run must stay queued");
        };
        assert_eq!(a, below(8));
        let b = coalesce(f, a, &mut work, BATCH_MAX, Vec::new());
        assert_eq!(&b.joined[..], b"ddee");
        assert!(work.is_empty());
    }

    #[test]
    fn a_single_frame_is_not_copied() {
        let f = frame(b"only");
        let mut work = VecDeque::from(vec![
            Command::Kick(3),
            Command::Broadcast(frame(b"x"), below(1)),
        ]);
        let b = coalesce(f.clone(), below(1), &mut work, BATCH_MAX, Vec::new());
        assert!(Arc::ptr_eq(&b.joined, &f));
        assert_eq!(b.messages(), 1);
        assert_eq!(work.len(), 2);
    }

    #[test]
    fn respects_the_byte_cap() {
        let mut work: VecDeque<Command> = (0..10)
            .map(|_| Command::Broadcast(frame(&[1; 10]), below(1)))
            .collect();
        let b = coalesce(frame(&[1; 10]), below(1), &mut work, 35, Vec::new());
        assert_eq!(b.joined.len(), 30);
        assert_eq!(b.messages(), 3);
        assert_eq!(work.len(), 8);
    }

    #[test]
    fn a_different_exception_ends_the_run() {
        // A relay's `send_all_except(sender, ..)`: one sender's run joins,
        // the next sender's messages go to a different audience.
        let from = |except| Audience { below: 9, except };
        let mut work = VecDeque::from(vec![
            Command::Broadcast(frame(b"b"), from(3)),
            Command::Broadcast(frame(b"c"), from(4)),
        ]);
        let b = coalesce(frame(b"a"), from(3), &mut work, BATCH_MAX, Vec::new());
        assert_eq!(&b.joined[..], b"ab");
        assert_eq!(work.len(), 1);
        assert!(from(4).has(3) && !from(4).has(4) && !from(4).has(9));
    }
}
