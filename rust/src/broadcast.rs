//! Coalescing of broadcasts: consecutive `send_all` frames waiting in a
//! loop's command queue are joined into one shared buffer before they are
//! queued per client (and so are consecutive `send_many` frames to the
//! same clients).
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

use crate::event::ClientId;
use crate::framing::concat;
use crate::shared::{Audience, Command};

/// Largest batch built (bytes); also capped at half the queue bound so a
/// batch normally fits into a queue that already holds something.
pub(crate) const BATCH_MAX: usize = 64 * 1024;

/// One or more framed messages, back to back in one shared buffer: what a
/// `Command::Broadcast` or `Command::Send` carries. Small messages are
/// gathered into such runs (`gather.rs`); a large one, or one sent from
/// another server's loop or a client's I/O thread, is posted alone.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    /// The framed messages, back to back.
    pub joined: Arc<[u8]>,
    /// Where each message ends in `joined` when there are several; `None`
    /// for a single message.
    pub ends: Option<Box<[u32]>>,
}

impl Run {
    /// A single framed message.
    pub fn one(frame: Arc<[u8]>) -> Run {
        Run {
            joined: frame,
            ends: None,
        }
    }

    /// Messages held.
    pub fn messages(&self) -> usize {
        self.ends.as_ref().map_or(1, |e| e.len())
    }
}

/// Broadcast frames joined for the same recipients.
#[derive(Debug)]
pub(crate) struct Batch {
    /// All the frames, back to back.
    pub joined: Arc<[u8]>,
    /// Where each frame ends in `joined` (for a client that cannot take them
    /// all at once); empty when the batch is a single frame.
    pub ends: Vec<u32>,
}

impl Batch {
    /// Messages in the batch.
    pub fn messages(&self) -> u64 {
        self.ends.len().max(1) as u64
    }

    /// The frames one by one, each in a buffer of its own (copied: only for
    /// a client whose queue cannot take the whole batch).
    pub fn parts(&self) -> Vec<Arc<[u8]>> {
        if self.ends.is_empty() {
            return vec![self.joined.clone()];
        }
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let part = Arc::from(&self.joined[start..end as usize]);
                start = end as usize;
                part
            })
            .collect()
    }
}

/// Builds a batch from `first` (broadcasts to `audience`) and the
/// broadcasts to the same audience directly behind it in `work`, up to
/// `cap` bytes; those are removed from `work`. `ends` is a reusable, empty
/// vector. A lone run is passed on as it is, not copied.
pub(crate) fn coalesce(
    first: Run,
    audience: Audience,
    work: &mut VecDeque<Command>,
    cap: usize,
    ends: Vec<u32>,
) -> Batch {
    let same = |cmd: &Command| matches!(cmd, Command::Broadcast(_, a) if *a == audience);
    coalesce_with(first, work, cap, ends, same)
}

/// As [`coalesce`], for `send_many`: `first` (for the clients `ids`) and
/// the `SendMany`s to the same clients directly behind it — a publisher's
/// burst to one topic's subscribers.
pub(crate) fn coalesce_many(
    first: Run,
    ids: &[ClientId],
    work: &mut VecDeque<Command>,
    cap: usize,
    ends: Vec<u32>,
) -> Batch {
    let same = |cmd: &Command| matches!(cmd, Command::SendMany(_, i) if **i == *ids);
    coalesce_with(first, work, cap, ends, same)
}

/// Joins `first` and the runs of the commands behind it in `work` for
/// which `same` holds (each a `Broadcast` or a `SendMany`), up to `cap`
/// bytes.
fn coalesce_with(
    first: Run,
    work: &mut VecDeque<Command>,
    cap: usize,
    mut ends: Vec<u32>,
    same: impl Fn(&Command) -> bool,
) -> Batch {
    debug_assert!(ends.is_empty());
    let mut total = first.joined.len();
    let joins = |cmd: Option<&Command>, total: usize| match cmd {
        Some(c @ (Command::Broadcast(f, _) | Command::SendMany(f, _))) => {
            same(c) && total + f.joined.len() <= cap
        }
        _ => false,
    };
    if !joins(work.front(), total) {
        if let Some(e) = &first.ends {
            ends.extend_from_slice(e);
        }
        return Batch {
            joined: first.joined,
            ends,
        };
    }
    let mut runs = vec![first];
    while joins(work.front(), total) {
        if let Some(Command::Broadcast(f, _) | Command::SendMany(f, _)) = work.pop_front() {
            total += f.joined.len();
            runs.push(f);
        }
    }
    let mut at = 0u32;
    for run in &runs {
        match &run.ends {
            Some(e) => ends.extend(e.iter().map(|&end| at + end)),
            None => ends.push(at + run.joined.len() as u32),
        }
        at += run.joined.len() as u32;
    }
    let parts: Vec<&[u8]> = runs.iter().map(|r| &r.joined[..]).collect();
    Batch {
        joined: concat(&parts),
        ends,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(b: &[u8]) -> Run {
        Run::one(Arc::from(b))
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
        assert_eq!(b.ends, [1, 3, 6]);
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
        assert!(Arc::ptr_eq(&b.joined, &f.joined));
        assert_eq!(b.messages(), 1);
        assert_eq!(b.parts().len(), 1);
        assert_eq!(work.len(), 2);
    }

    #[test]
    fn gathered_runs_keep_their_message_bounds() {
        // Two runs gathered by loops' callbacks, then a single message.
        let run = |bytes: &[u8], ends: &[u32]| Run {
            joined: Arc::from(bytes),
            ends: Some(ends.into()),
        };
        let mut work = VecDeque::from(vec![
            Command::Broadcast(run(b"cdde", &[1, 3, 4]), below(2)),
            Command::Broadcast(frame(b"fff"), below(2)),
        ]);
        let b = coalesce(
            run(b"ab", &[1, 2]),
            below(2),
            &mut work,
            BATCH_MAX,
            Vec::new(),
        );
        assert_eq!(&b.joined[..], b"abcddefff");
        assert_eq!(b.ends, [1, 2, 3, 5, 6, 9]);
        let parts: Vec<Vec<u8>> = b.parts().iter().map(|p| p.to_vec()).collect();
        assert_eq!(parts, [&b"a"[..], b"b", b"c", b"dd", b"e", b"fff"]);
        // A lone gathered run is passed on as it is, bounds included.
        let lone = run(b"xyy", &[1, 3]);
        let b = coalesce(
            lone.clone(),
            below(2),
            &mut VecDeque::new(),
            BATCH_MAX,
            Vec::new(),
        );
        assert!(Arc::ptr_eq(&b.joined, &lone.joined));
        assert_eq!(b.ends, [1, 3]);
        assert_eq!(b.messages(), 2);
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

    /// `send_many`s to the same clients join; a different list, or a
    /// broadcast, ends the batch.
    #[test]
    fn send_many_runs_join_for_the_same_clients_only() {
        let mut work = VecDeque::from(vec![
            Command::SendMany(frame(b"b"), Box::new([1, 4, 9])),
            Command::SendMany(frame(b"cc"), Box::new([1, 4, 9])),
            Command::SendMany(frame(b"d"), Box::new([1, 4])),
            Command::SendMany(frame(b"e"), Box::new([1, 4])),
            Command::Broadcast(frame(b"f"), below(9)),
            Command::SendMany(frame(b"g"), Box::new([1, 4])),
        ]);
        let b = coalesce_many(frame(b"a"), &[1, 4, 9], &mut work, BATCH_MAX, Vec::new());
        assert_eq!(&b.joined[..], b"abcc");
        assert_eq!(b.ends, [1, 2, 4]);
        let Some(Command::SendMany(f, ids)) = work.pop_front() else {
            panic!("the next list's run must stay queued");
        };
        let b = coalesce_many(f, &ids, &mut work, BATCH_MAX, Vec::new());
        assert_eq!(&b.joined[..], b"de");
        assert_eq!(work.len(), 2);
        // A broadcast's batch does not take them either.
        let Some(Command::Broadcast(f, a)) = work.pop_front() else {
            panic!("the broadcast must stay queued");
        };
        let b = coalesce(f, a, &mut work, BATCH_MAX, Vec::new());
        assert_eq!(&b.joined[..], b"f");
        assert_eq!(work.len(), 1);
    }
}
