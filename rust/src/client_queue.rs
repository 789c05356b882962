//! A client's outgoing messages on their way to the socket. `send` appends
//! each small framed message to one shared buffer ([`Posted`]: no
//! allocation and no channel per message; a large one is framed into a
//! buffer of its own, as before, rather than copied twice); the I/O thread
//! takes what was posted each turn as [`Batch`]es — one shared allocation,
//! one queue entry and one `iovec` for up to 64 KiB of small messages —
//! and [`Frames`] remembers where each
//! message ends in the batches queued on the connection, so that what is
//! counted, carried over to a reconnect and cut is still whole messages: a
//! batch written in part resends from the message the write stopped in (not
//! from the batch's start), and a connection given up in the middle of a
//! batch is reset only when that is in the middle of a message.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::client::ClientCore;
use crate::client_loop::ClientCmd;
use crate::connection::Connection;

/// Room each [`Posted`] (the handles' and the I/O thread's spare) keeps
/// once empty: a few hundred small messages' worth, not a flood's (up to
/// the queue bound) for the client's whole life — an idle client keeps at
/// most ~40 KiB of it. A busier turn grows it again: a few reallocations,
/// under 1 % of the instructions per 64-byte message (callgrind, pull
/// 1424 → 1435, callback 470 → 471, against 128 KiB kept).
const BYTES_KEPT: usize = 16 * 1024;
const ENDS_KEPT: usize = 512;
/// Large messages and commands the spare keeps room for (a burst of large
/// messages posted in one turn can be thousands: the queue bound's worth).
const LARGE_KEPT: usize = 256;
const CMDS_KEPT: usize = 16;
/// Batches [`Frames`] keeps room for once its queue is written (as the
/// connection's queue does, `Connection::flush`).
const FRAMES_KEPT: usize = 256;
/// Most bytes of small messages in one batch (below the allocator's
/// `mmap` threshold, so a batch is no system call).
const BATCH_BYTES: usize = 64 * 1024;
/// Framed messages longer than this are posted in their own buffer: a copy
/// into the shared one and again into a batch would cost more than the
/// allocation saved.
pub(crate) const SMALL: usize = 1024;

/// What the client's handles posted for the I/O thread since its last turn;
/// it swaps the whole of it for its own empty one.
#[derive(Debug, Default)]
pub(crate) struct Posted {
    /// Framed messages, back to back.
    pub bytes: Vec<u8>,
    /// Where each message in `bytes` ends, in order.
    pub ends: Vec<usize>,
    /// Large messages, framed in their own buffers, each with where it
    /// goes among the small ones: `bytes.len()` when it was posted.
    pub large: Vec<(usize, Arc<[u8]>)>,
    /// Close and half-close requests, in order.
    pub cmds: Vec<ClientCmd>,
}

impl Posted {
    /// Empties it for reuse, keeping a burst's room.
    pub fn reset(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.large.clear();
        self.cmds.clear();
        if self.bytes.capacity() > BYTES_KEPT {
            self.bytes.shrink_to(BYTES_KEPT);
        }
        if self.ends.capacity() > ENDS_KEPT {
            self.ends.shrink_to(ENDS_KEPT);
        }
        if self.large.capacity() > LARGE_KEPT {
            self.large.shrink_to(LARGE_KEPT);
        }
        if self.cmds.capacity() > CMDS_KEPT {
            self.cmds.shrink_to(CMDS_KEPT);
        }
    }
}

/// Messages taken together from [`Posted`].
#[derive(Debug)]
pub(crate) struct Batch {
    buf: Arc<[u8]>,
    /// Where each message ends in `buf`; empty for a batch of one message
    /// (it ends at `buf.len()`), so that one costs no second allocation.
    ends: Box<[usize]>,
}

impl Batch {
    /// The messages in `posted`, in order, as batches handed to `emit`:
    /// small ones copied together (up to [`BATCH_BYTES`] a batch), each
    /// large one in its own buffer. Takes the large ones out of `posted`.
    pub fn take_posted(posted: &mut Posted, mut emit: impl FnMut(Batch)) {
        let (bytes, ends) = (&posted.bytes, &posted.ends);
        // The next small message to emit: its index and where it starts.
        let (mut next, mut start) = (0, 0);
        let mut small_until = |pos: usize, emit: &mut dyn FnMut(Batch)| {
            while next < ends.len() && ends[next] <= pos {
                let first = next;
                next += 1;
                while next < ends.len() && ends[next] <= pos && ends[next] - start <= BATCH_BYTES {
                    next += 1;
                }
                let buf = Arc::from(&bytes[start..ends[next - 1]]);
                let rel = if next - first > 1 {
                    ends[first..next].iter().map(|&e| e - start).collect()
                } else {
                    Box::default()
                };
                emit(Batch { buf, ends: rel });
                start = ends[next - 1];
            }
        };
        for (pos, buf) in posted.large.drain(..) {
            small_until(pos, &mut emit);
            emit(Batch {
                buf,
                ends: Box::default(),
            });
        }
        small_until(usize::MAX, &mut emit);
    }

    /// Messages in it.
    pub fn messages(&self) -> usize {
        count(&self.ends)
    }

    /// Bytes in it.
    pub fn len(&self) -> usize {
        self.buf.len()
    }
}

fn count(ends: &[usize]) -> usize {
    ends.len().max(1)
}

/// Messages ending at or before `off` in a batch of `len` bytes.
fn whole_before(ends: &[usize], len: usize, off: usize) -> usize {
    if ends.is_empty() {
        usize::from(off >= len)
    } else {
        ends.partition_point(|&e| e <= off)
    }
}

/// Where the messages end in the batches queued on the connection (one
/// entry for each of its queue's entries, oldest first).
#[derive(Debug, Default)]
pub(crate) struct Frames {
    ends: VecDeque<(usize, Box<[usize]>)>,
    /// Messages of the first batch already written whole (and counted).
    done_in_first: usize,
}

impl Frames {
    /// Queues `batch` on `conn`.
    pub fn push(&mut self, conn: &mut Connection, batch: Batch) {
        if batch.buf.is_empty() {
            // (Not posted: `send` drops an empty message.) The connection
            // would not queue it, and `ends` must match its queue.
            return;
        }
        self.ends.push_back((batch.buf.len(), batch.ends));
        conn.enqueue(batch.buf, usize::MAX);
    }

    /// Puts batches carried over from an earlier connection in front of
    /// `conn`'s queue.
    pub fn restore(&mut self, conn: &mut Connection, batches: VecDeque<Batch>) {
        let mut bufs = VecDeque::with_capacity(batches.len());
        for (i, b) in batches.into_iter().enumerate() {
            self.ends.insert(i, (b.buf.len(), b.ends));
            bufs.push_back(b.buf);
        }
        conn.restore_unsent(bufs);
    }

    /// After `conn`'s queue, which held `entries_before` batches, was
    /// written to: how many messages were written whole since last asked.
    pub fn written(&mut self, conn: &Connection, entries_before: usize) -> usize {
        let mut n = 0;
        for _ in conn.queued_frames()..entries_before {
            if let Some((_, ends)) = self.ends.pop_front() {
                n += count(&ends) - self.done_in_first;
            }
            self.done_in_first = 0;
        }
        if let Some((len, ends)) = self.ends.front() {
            let whole = whole_before(ends, *len, conn.written_of_first());
            n += whole - self.done_in_first;
            self.done_in_first = whole;
        } else {
            self.shrink();
        }
        n
    }

    /// All written or taken: a burst's room is kept, not a flood's.
    fn shrink(&mut self) {
        if self.ends.capacity() > FRAMES_KEPT {
            self.ends.shrink_to(FRAMES_KEPT);
        }
    }

    /// Whether `conn`'s queue stops in the middle of a message: a FIN now
    /// would end the server's stream after a message's start.
    pub fn cut(&self, conn: &Connection) -> bool {
        let off = conn.written_of_first();
        match self.ends.front() {
            Some((_, ends)) if off > 0 => ends.binary_search(&off).is_err(),
            _ => false,
        }
    }

    /// Takes what `conn` has not written, as batches to carry over, the
    /// first starting with the message the writes stopped in (written
    /// again whole; the messages before it were written). Also returns how
    /// many bytes of that message had been written.
    pub fn take(&mut self, conn: &mut Connection) -> (VecDeque<Batch>, usize) {
        let (bufs, off) = conn.take_unsent();
        let mut batches: VecDeque<Batch> = bufs
            .into_iter()
            .zip(self.ends.drain(..))
            .map(|(buf, (_, ends))| Batch { buf, ends })
            .collect();
        self.shrink();
        self.done_in_first = 0;
        let mut cut_written = off;
        if let Some(first) = batches.front_mut() {
            // The start of the message the writes stopped in.
            let start = match first.ends.partition_point(|&e| e <= off) {
                0 => 0,
                i => first.ends[i - 1],
            };
            if start > 0 {
                let rest: Vec<usize> = first.ends[first.ends.partition_point(|&e| e <= start)..]
                    .iter()
                    .map(|&e| e - start)
                    .collect();
                first.ends = if rest.len() > 1 {
                    rest.into_boxed_slice()
                } else {
                    Box::default()
                };
                first.buf = Arc::from(&first.buf[start..]);
            }
            cut_written = off - start;
        }
        (batches, cut_written)
    }
}

/// Posting, by the client's handles (`TcpClient::send`, `close`,
/// `shutdown_write`).
impl ClientCore {
    /// Posts a close or half-close request.
    pub fn post(&self, cmd: ClientCmd) {
        self.posted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .cmds
            .push(cmd);
        self.wake();
    }

    /// Posts `msg` (checked already): framed onto the shared buffer, or,
    /// a large one, as `large`, framed in a buffer of its own.
    pub fn post_message(&self, msg: &[u8], large: Option<Arc<[u8]>>) {
        {
            let mut posted = self.posted.lock().unwrap_or_else(|p| p.into_inner());
            match large {
                Some(frame) => {
                    let at = posted.bytes.len();
                    self.drain.accepted(frame.len());
                    posted.large.push((at, frame));
                }
                None => {
                    let at = posted.bytes.len();
                    self.config.framing.encode_into(msg, &mut posted.bytes);
                    let end = posted.bytes.len();
                    // Counted here, under the lock: in the order written.
                    self.drain.accepted(end - at);
                    posted.ends.push(end);
                }
            }
        }
        self.wake();
    }

    /// Wakes the I/O thread for what was just posted.
    fn wake(&self) {
        // The I/O thread clears `notified` before it takes the list, so a
        // command pushed after that take sees it clear (or set by a sender
        // whose wakeup comes later). Loaded first: while the I/O thread is
        // awake, a send does not write the shared flag.
        if !self.notified.load(Ordering::Acquire) && !self.notified.swap(true, Ordering::AcqRel) {
            let _ = self.waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(msgs: &[&[u8]]) -> Batch {
        let mut p = Posted::default();
        for m in msgs {
            p.bytes.extend_from_slice(m);
            p.ends.push(p.bytes.len());
        }
        let mut out = Vec::new();
        Batch::take_posted(&mut p, |b| out.push(b));
        assert_eq!(out.len(), 1);
        out.pop().expect("one batch")
    }

    /// A non-blocking connection to a loopback peer (returned: it reads
    /// only when the test makes it).
    fn connection() -> (Connection, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, addr) = l.accept().unwrap();
        s.set_nonblocking(true).unwrap();
        let conn = Connection::new(
            mio::net::TcpStream::from_std(s),
            crate::event::Client { id: 0, addr },
            crate::framing::Decoder::new(crate::framing::Framing::length_prefixed()),
            std::time::Instant::now(),
        );
        (conn, peer)
    }

    /// ~24 MB of length-prefixed messages of 1 to 300 bytes, posted.
    fn many_frames() -> Posted {
        let framing = crate::framing::Framing::length_prefixed();
        let mut posted = Posted::default();
        for i in 0..150_000usize {
            framing.encode_into(&vec![i as u8; 1 + i % 300], &mut posted.bytes);
            posted.ends.push(posted.bytes.len());
        }
        posted
    }

    #[test]
    fn counts_and_cuts_follow_the_messages_inside_a_batch() {
        let b = batch(&[b"aaaa", b"bb", b"cccccc"]);
        assert_eq!(b.messages(), 3);
        assert_eq!(whole_before(&b.ends, b.len(), 0), 0);
        assert_eq!(whole_before(&b.ends, b.len(), 4), 1);
        assert_eq!(whole_before(&b.ends, b.len(), 5), 1);
        assert_eq!(whole_before(&b.ends, b.len(), 6), 2);
        let one = batch(&[b"only"]);
        assert_eq!(one.messages(), 1);
        assert_eq!(whole_before(&one.ends, one.len(), 3), 0);
        assert_eq!(whole_before(&one.ends, one.len(), 4), 1);
    }

    /// A connection whose peer does not read stops the writes somewhere
    /// inside a batch: what was written whole is counted, and what is taken
    /// to carry over starts with the message the writes stopped in — none
    /// lost, none written twice.
    #[test]
    fn a_batch_written_in_part_is_carried_over_from_the_message_cut() {
        let (mut conn, _peer) = connection();
        // More than loopback buffers take from a peer not reading.
        let mut posted = many_frames();
        let (all, ends) = (posted.bytes.clone(), posted.ends.clone());
        let mut frames = Frames::default();
        Batch::take_posted(&mut posted, |b| frames.push(&mut conn, b));
        let entries = conn.queued_frames();
        let written = conn.flush().expect("writes until the socket is full");
        assert!(written > 0 && written < all.len(), "{written}");
        let whole = frames.written(&conn, entries);
        assert_eq!(whole, ends.partition_point(|&e| e <= written));
        assert_eq!(frames.cut(&conn), ends.binary_search(&written).is_err());
        let (batches, cut_written) = frames.take(&mut conn);
        let start = written - cut_written;
        assert!(start == 0 || ends.binary_search(&start).is_ok());
        assert_eq!(whole, ends.partition_point(|&e| e <= start));
        let resent: Vec<u8> = batches.iter().flat_map(|b| b.buf.iter().copied()).collect();
        assert_eq!(resent, all[start..]);
        let carried: usize = batches.iter().map(Batch::messages).sum();
        assert_eq!(whole + carried, ends.len());
        // Review mu3: and each carried message ends where it did, less the
        // start (ends shifted the other way passed the counts above: a
        // second cut inside the carried batch would then be taken for a
        // message's end, or resend from the wrong place).
        let framed: Vec<Vec<u8>> = ends
            .iter()
            .scan(0, |at, &end| {
                let m = all[*at..end].to_vec();
                *at = end;
                Some(m)
            })
            .collect();
        let batches = Vec::from(batches);
        for b in &batches {
            assert!(
                b.ends.iter().all(|&e| e <= b.len()),
                "an end past its batch"
            );
        }
        assert_eq!(messages_of(&batches), framed[whole..]);
    }

    /// Splits `batches` into their messages, checking each batch's shape:
    /// a batch of several small messages holds at most `BATCH_BYTES`.
    fn messages_of(batches: &[Batch]) -> Vec<Vec<u8>> {
        let mut msgs = Vec::new();
        for b in batches {
            if b.ends.is_empty() {
                msgs.push(b.buf.to_vec());
                continue;
            }
            assert!(b.len() <= BATCH_BYTES, "a batch of {} bytes", b.len());
            assert_eq!(b.messages(), b.ends.len());
            let mut start = 0;
            for &end in b.ends.iter() {
                msgs.push(b.buf[start..end].to_vec());
                start = end;
            }
            assert_eq!(start, b.len(), "bytes after the last message");
        }
        msgs
    }

    /// Large messages (each in a buffer of its own) posted among small
    /// ones come out in the order posted — before them, between them,
    /// two in a row, first and last — and the small ones in between are
    /// batched, none over `BATCH_BYTES`. The test above posts small ones
    /// only, so a large message put before or after its neighbours went
    /// unnoticed.
    #[test]
    fn review_mu3_large_messages_keep_their_place_among_small_ones() {
        let mut p = Posted::default();
        let mut sent: Vec<Vec<u8>> = Vec::new();
        for i in 0..600usize {
            let large = i == 0 || i % 50 == 7 || i % 50 == 8 || i == 599;
            if large {
                let m = vec![b'L'; SMALL + 1 + i];
                p.large.push((p.bytes.len(), Arc::from(&m[..])));
                sent.push(m);
            } else {
                let m = vec![(i % 251) as u8; 1 + (i * 37) % SMALL];
                p.bytes.extend_from_slice(&m);
                p.ends.push(p.bytes.len());
                sent.push(m);
            }
        }
        let mut batches = Vec::new();
        Batch::take_posted(&mut p, |b| batches.push(b));
        assert!(p.large.is_empty(), "the large ones are taken out");
        assert_eq!(messages_of(&batches), sent);
        // Small ones between two large ones go together as far as
        // BATCH_BYTES lets them: a run is cut only where the next one
        // would not fit.
        for w in batches.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let small = |x: &Batch| x.ends.len() > 1 || x.len() <= SMALL;
            if small(a) && small(b) {
                let first_of_b = b.ends.first().copied().unwrap_or(b.len());
                assert!(
                    a.len() + first_of_b > BATCH_BYTES,
                    "a batch of {} bytes left out a next message of {first_of_b}",
                    a.len()
                );
            }
        }
    }

    /// One batch of many messages written over many flushes, a reader
    /// taking what arrives: after each flush `written` has counted exactly
    /// the messages written whole so far — those of the batch written by
    /// an earlier flush (`done_in_first`) not again, when a later one
    /// writes more of it or the rest. The test above flushes once, so a
    /// second count of a batch's first messages went unnoticed; in the
    /// client it is `queued_messages`, the count behind the queue's bound.
    #[test]
    fn review_mu3_a_batch_written_over_many_flushes_counts_each_message_once() {
        use std::io::Read;
        let (mut conn, mut peer) = connection();
        // In one batch (`Frames` takes any): more than loopback buffers
        // take at once, so the first flush stops inside it.
        let posted = many_frames();
        let total = posted.bytes.len();
        let ends = posted.ends.clone();
        let mut frames = Frames::default();
        let batch = Batch {
            buf: Arc::from(&posted.bytes[..]),
            ends: posted.ends.clone().into_boxed_slice(),
        };
        frames.push(&mut conn, batch);
        let first = conn.flush().expect("writes until the socket is full");
        assert!(first > 0 && first < total, "{first} of {total}");
        let (mut written, mut counted) = (first, frames.written(&conn, 1));
        assert_eq!(counted, ends.partition_point(|&e| e <= written));
        let mut buf = vec![0; 1 << 16];
        let mut got = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        // A few rounds of room for 256 KiB more: each flush writes part
        // of the batch again, after messages of it were counted.
        for _ in 0..3 {
            let want = got + (256 << 10);
            while got < want {
                let n = peer.read(&mut buf).expect("read");
                assert!(n > 0, "ended early");
                got += n;
            }
            let mut n = 0;
            while n == 0 {
                assert!(std::time::Instant::now() < deadline, "no room");
                n = conn.flush().expect("flush");
                std::thread::yield_now();
            }
            written += n;
            assert!(written < total, "written whole already");
            counted += frames.written(&conn, 1);
            assert_eq!(
                counted,
                ends.partition_point(|&e| e <= written),
                "after {written} bytes"
            );
        }
        let reader = std::thread::spawn(move || {
            while got < total {
                let n = peer.read(&mut buf).expect("read");
                assert!(n > 0, "ended early");
                got += n;
            }
        });
        while conn.queued_frames() > 0 {
            assert!(std::time::Instant::now() < deadline, "not written");
            let entries = conn.queued_frames();
            let n = conn.flush().expect("flush");
            if n == 0 {
                std::thread::yield_now();
                continue;
            }
            written += n;
            counted += frames.written(&conn, entries);
            assert_eq!(
                counted,
                ends.partition_point(|&e| e <= written),
                "after {written} bytes"
            );
        }
        assert_eq!((written, counted), (total, ends.len()));
        reader.join().expect("reader");
    }

    /// Emptied for reuse, a `Posted` keeps a burst's room in each of its
    /// lists, not a flood's (`BYTES_KEPT` and the rest): the handles' and
    /// the I/O thread's spare would otherwise hold the largest turn's
    /// lists for the client's life. (`client_burst_memory` sees the bytes
    /// and the large messages' list; a burst of tiny messages — 8 bytes of
    /// `ends` each — or of commands is not one it makes.)
    #[test]
    fn review_mu3_an_emptied_posted_keeps_a_bursts_room_not_a_floods() {
        let mut p = Posted::default();
        let big: Arc<[u8]> = Arc::from(&[0u8; 2000][..]);
        for i in 0..100_000 {
            p.bytes.push(b'x');
            p.ends.push(i + 1);
            p.large.push((i, big.clone()));
            p.cmds.push(ClientCmd::Close);
        }
        p.reset();
        assert!(p.bytes.is_empty() && p.ends.is_empty());
        assert!(p.large.is_empty() && p.cmds.is_empty());
        let room = [
            (p.bytes.capacity(), BYTES_KEPT),
            (p.ends.capacity(), ENDS_KEPT),
            (p.large.capacity(), LARGE_KEPT),
            (p.cmds.capacity(), CMDS_KEPT),
        ];
        for (i, (cap, kept)) in room.into_iter().enumerate() {
            assert!(cap <= kept, "list {i}: {cap} kept, at most {kept} due");
        }
    }
}
