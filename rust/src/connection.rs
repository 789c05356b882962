//! One client connection as its event loop sees it: the socket, the
//! decoder holding any partial incoming frame, and the bounded outbound
//! queue of shared, already-framed buffers that `flush` writes with one gathering `sendmsg` (`MSG_NOSIGNAL`).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read};
use std::sync::Arc;
use std::time::Instant;

use mio::net::TcpStream;

use crate::event::{Client, DisconnectReason};
use crate::framing::{Decoder, Framing};

/// Most buffers handed to one `sendmsg` call.
const MAX_IOV: usize = 64;

/// What a read attempt found.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    /// `n` bytes are in the buffer.
    Data(usize),
    /// Nothing more to read now.
    WouldBlock,
    /// The peer closed its sending side.
    Eof,
    /// The connection failed.
    Failed(DisconnectReason),
}

/// Result of offering a frame to the outbound queue.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    /// Queued; the caller should schedule a flush if `needs_flush`.
    Yes { needs_flush: bool },
    /// The queue bound would be exceeded; the frame is handed back.
    Full(Arc<[u8]>),
}

/// Memory a queued frame takes beyond its bytes (queue slot, shared
/// allocation header, allocator overhead), counted against the queue and
/// channel bounds so that many tiny frames cannot exceed them several times
/// over.
pub(crate) const ENTRY_OVERHEAD: usize = 48;

#[derive(Debug)]
pub(crate) struct Connection {
    pub stream: TcpStream,
    pub client: Client,
    pub decoder: Decoder,
    /// Framed messages waiting to be written, oldest first, each buffer
    /// with the count of messages it holds (a gathered or coalesced run
    /// holds several; counted for `Stats::unwritten`); shared with every
    /// other recipient of the same broadcast.
    out: VecDeque<(Arc<[u8]>, u64)>,
    /// Bytes of `out[0]` already written.
    out_off: usize,
    /// Bytes waiting in `out` (minus `out_off`): the bound applies to this.
    out_bytes: usize,
    /// `out[0]` was taken alone into an empty queue past the bound (an
    /// oversize message): until it is written, what follows it meets the
    /// bound by itself (see [`enqueue_msgs`](Connection::enqueue_msgs)).
    oversize_head: bool,
    /// False after a write hit `WouldBlock`, until the next writable event.
    pub writable: bool,
    /// Already on the loop's flush list this round.
    pub flush_scheduled: bool,
    /// Already on the loop's read-again list.
    pub read_scheduled: bool,
    /// Last time bytes arrived (idle timeout). (On a server, in its loop's
    /// timer clock, which stands still while reading is paused:
    /// `event_loop/clock.rs`.)
    pub last_active: Instant,
    /// When the first byte of the frame the decoder is holding arrived
    /// (frame timeout; in the same clock as `last_active`); `None` between
    /// frames.
    pub frame_started: Option<Instant>,
    /// Set when the connection is to end once its queue is written (peer
    /// EOF, kick, oversize frame, idle): the reason to report and the
    /// deadline after which it closes anyway. No more reading meanwhile.
    pub closing: Option<(DisconnectReason, Instant)>,
    /// Pull mode: the peer finished sending (end-of-stream) and its
    /// `Disconnected` is reported, but the connection stays open for the
    /// replies the application makes to its last messages, until released
    /// or its deadline (kept by the loop: `EventLoop::held`). No more
    /// reading, no idle or frame timeout meanwhile. (A flag here, so a
    /// connection costs no more memory than before.)
    pub held: bool,
    /// The application paused this client's input
    /// (`ServerHandle::pause_client`): not read, no idle or frame timeout,
    /// until `resume_client` (or a write finds it gone).
    pub paused: bool,
    /// A write found the connection gone, with this error: nothing more is
    /// queued or written, and what the peer sent before the end is read
    /// and delivered (now, or once paused reading resumes), then it is
    /// closed for that error (`EventLoop::close_for_write_error`). (An
    /// `ErrorKind`, one byte, not a `DisconnectReason`: it costs no memory.)
    pub write_failed: Option<io::ErrorKind>,
    /// Bytes were written since the last look found nothing of ours left
    /// unacknowledged (keepalive's vanished-peer watch, `vanish.rs`, looks
    /// only at these).
    pub unconfirmed: bool,
}

impl Connection {
    pub fn new(stream: TcpStream, client: Client, decoder: Decoder, now: Instant) -> Connection {
        Connection {
            stream,
            client,
            decoder,
            out: VecDeque::new(),
            out_off: 0,
            out_bytes: 0,
            oversize_head: false,
            writable: true,
            flush_scheduled: false,
            read_scheduled: false,
            last_active: now,
            frame_started: None,
            closing: None,
            held: false,
            paused: false,
            write_failed: None,
            unconfirmed: false,
        }
    }

    pub fn queued_bytes(&self) -> usize {
        self.out_bytes
    }

    /// Frames in the queue (a partly written one included).
    pub fn queued_frames(&self) -> usize {
        self.out.len()
    }

    /// Bytes of the first queued buffer already written.
    pub fn written_of_first(&self) -> usize {
        self.out_off
    }

    /// Adds a framed buffer unless that would take the queue past `limit`
    /// (one message is always accepted into an empty queue, so a message
    /// larger than the limit can still be delivered to a reader that keeps
    /// up; while it is being written, the messages after it meet the limit
    /// by themselves — counted with it, any message sent during its write
    /// would cut a reader that is reading it; so the queue holds at most
    /// that one message plus the limit).
    pub fn enqueue(&mut self, buf: Arc<[u8]>, limit: usize) -> Queued {
        self.enqueue_msgs(buf, 1, limit)
    }

    /// [`enqueue`](Connection::enqueue) for a buffer holding `msgs` framed
    /// messages (a gathered or coalesced run): taken only if every one of
    /// them would have been taken queued singly, each with its own
    /// bookkeeping (the first one alone into an empty queue is not enough:
    /// the caller then offers them one by one).
    pub fn enqueue_msgs(&mut self, buf: Arc<[u8]>, msgs: u64, limit: usize) -> Queued {
        if buf.is_empty() {
            return Queued::Yes { needs_flush: false };
        }
        // Against the limit, each queued frame also counts the memory it
        // takes beyond its bytes, so a queue of tiny frames is bounded too;
        // an oversize message being written does not count (see above).
        let (exempt_bytes, exempt_entries) = match self.out.front() {
            Some((head, _)) if self.oversize_head => (head.len() - self.out_off, 1),
            _ => (0, 0),
        };
        let entries = (self.out.len() - exempt_entries).saturating_add(msgs as usize);
        let cost = (self.out_bytes - exempt_bytes + buf.len())
            .saturating_add(entries.saturating_mul(ENTRY_OVERHEAD));
        if (self.out_bytes > 0 || msgs > 1) && cost > limit {
            return Queued::Full(buf);
        }
        if self.out_bytes == 0 && cost > limit {
            self.oversize_head = true; // alone, into an empty queue
        }
        self.out_bytes += buf.len();
        self.out.push_back((buf, msgs));
        let needs_flush = self.writable && !self.flush_scheduled;
        if needs_flush {
            self.flush_scheduled = true;
        }
        Queued::Yes { needs_flush }
    }

    /// Takes the unwritten frames out (a partly written first frame comes out
    /// whole), e.g. to carry them over to a new connection after a reconnect.
    /// Also returns how many bytes of the first frame had been written.
    pub fn take_unsent(&mut self) -> (VecDeque<Arc<[u8]>>, usize) {
        let off = std::mem::take(&mut self.out_off);
        self.out_bytes = 0;
        self.oversize_head = false;
        self.flush_scheduled = false;
        let out = std::mem::take(&mut self.out);
        (out.into_iter().map(|(buf, _)| buf).collect(), off)
    }

    /// Puts frames carried over from an earlier connection in front of the queue.
    pub fn restore_unsent(&mut self, frames: VecDeque<Arc<[u8]>>) {
        self.out_bytes += frames.iter().map(|f| f.len()).sum::<usize>();
        self.oversize_head = false; // everything counts again
                                    // (One message each: the client side counts its own, per batch.)
        let mut frames: VecDeque<(Arc<[u8]>, u64)> = frames.into_iter().map(|f| (f, 1)).collect();
        frames.append(&mut self.out);
        self.out = frames;
    }

    /// Reads once into `buf`.
    pub fn read_into(&mut self, buf: &mut [u8]) -> ReadOutcome {
        loop {
            return match self.stream.read(buf) {
                Ok(0) => ReadOutcome::Eof,
                Ok(n) => ReadOutcome::Data(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ReadOutcome::WouldBlock,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => ReadOutcome::Failed(DisconnectReason::from_io(&e)),
            };
        }
    }

    /// Writes as much of the queue as the socket takes, coalescing up to
    /// [`MAX_IOV`] buffers per `sendmsg`. Returns bytes written.
    ///
    /// # Errors
    ///
    /// The bytes written before the socket failed (they have left the
    /// queue) and the reason to disconnect.
    pub fn flush(&mut self) -> Result<usize, (usize, DisconnectReason)> {
        let mut written = 0;
        while !self.out.is_empty() {
            let n = {
                let mut iov = [IoSlice::new(&[]); MAX_IOV];
                let mut cnt = 0;
                for (i, (b, _)) in self.out.iter().take(MAX_IOV).enumerate() {
                    iov[i] = if i == 0 {
                        IoSlice::new(&b[self.out_off..])
                    } else {
                        IoSlice::new(b)
                    };
                    cnt += 1;
                }
                // sendmsg with MSG_NOSIGNAL, not writev: a write to a peer
                // that reset must fail with EPIPE, not raise SIGPIPE, which
                // kills a C program that links us and keeps the default.
                match socket2::SockRef::from(&self.stream)
                    .send_vectored_with_flags(&iov[..cnt], libc::MSG_NOSIGNAL)
                {
                    Ok(0) => return Err((written, DisconnectReason::Io(io::ErrorKind::WriteZero))),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.writable = false;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err((written, DisconnectReason::from_io(&e))),
                }
            };
            written += n;
            self.unconfirmed = true;
            self.advance(n);
        }
        if self.out.is_empty() && self.out.capacity() > 256 {
            self.out.shrink_to(16);
        }
        Ok(written)
    }

    fn advance(&mut self, mut n: usize) {
        self.out_bytes -= n;
        while n > 0 {
            let front_left = self.out[0].0.len() - self.out_off;
            if n >= front_left {
                n -= front_left;
                self.out.pop_front();
                self.out_off = 0;
                self.oversize_head = false;
            } else {
                self.out_off += n;
                n = 0;
            }
        }
    }

    /// Closes politely (see [`close_politely`]); what the peer is doing.
    pub fn close_gracefully(&mut self, scratch: &mut [u8]) -> PeerInput {
        close_politely(&mut self.stream, scratch)
    }

    /// How many queued messages are not written in full (a partly written
    /// first one included), under `framing`; `notice`, a cut-off notice
    /// that is not a message of the application's, does not count when it
    /// is still queued (last, where `close_after_flush` puts it). Each
    /// buffer counts the messages it was queued with; only a partly
    /// written first one of a framed queue is parsed, for the messages it
    /// has not written whole (a raw one, with no boundaries to find, counts
    /// all of its messages).
    pub fn unwritten_messages(&self, framing: Framing, notice: Option<&Arc<[u8]>>) -> u64 {
        let last = self.out.len().wrapping_sub(1);
        let mut n = 0;
        for (i, (buf, msgs)) in self.out.iter().enumerate() {
            if i == last && notice.is_some_and(|notice| Arc::ptr_eq(buf, notice)) {
                break;
            }
            n += match framing {
                Framing::Raw => *msgs,
                _ if i == 0 && self.out_off > 0 => framing.messages_after(buf, self.out_off),
                _ => *msgs,
            };
        }
        n
    }

    /// Whether the first queued frame is partly written: a FIN now would
    /// end the peer's stream in the middle of a frame, which a lines peer
    /// takes for a last line without its newline (see [`reset_on_close`]).
    pub fn frame_cut(&self) -> bool {
        self.out_off > 0
    }
}

/// The longest keepalive idle time ([`TcpServer::keepalive`](crate::TcpServer::keepalive),
/// [`ClientBuilder::keepalive`](crate::ClientBuilder::keepalive)): what
/// Linux takes for `TCP_KEEPIDLE`, in whole seconds. It refuses more, which
/// left keepalive on with its default idle time, two hours; `start` and
/// `connect` refuse it too.
///
/// # Examples
///
/// ```
/// let too_long = tcphub::TcpServer::new(0, 10)
///     .bind("127.0.0.1".parse()?)
///     .keepalive(tcphub::MAX_KEEPALIVE + std::time::Duration::from_secs(1))
///     .start();
/// assert!(matches!(too_long, Err(tcphub::Error::InvalidConfig(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(MAX_KEEPALIVE_SECS);

/// [`MAX_KEEPALIVE`] in seconds.
const MAX_KEEPALIVE_SECS: u64 = 32_767;

/// `idle` as the kernel takes a keepalive time: whole seconds (rounded up),
/// at least 1 — it refuses 0, which would leave its default, two hours.
/// `InvalidConfig` past [`MAX_KEEPALIVE_SECS`], which it refuses too.
/// (Zero is refused by the callers' checks, with the other settings.)
pub(crate) fn keepalive_secs(
    idle: std::time::Duration,
) -> crate::error::Result<std::time::Duration> {
    let secs = idle
        .as_secs()
        .saturating_add(u64::from(idle.subsec_nanos() > 0))
        .max(1);
    if secs > MAX_KEEPALIVE_SECS {
        return Err(crate::error::Error::InvalidConfig(format!(
            "keepalive must be at most {MAX_KEEPALIVE_SECS} s, not {idle:?}"
        )));
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// Unanswered keepalive probes after which the connection is dropped
/// (`TCP_KEEPCNT`; the kernel's default, `tcp_keepalive_probes`, is 9).
pub(crate) const KEEPALIVE_PROBES: u32 = 3;

/// The time between keepalive probes for an `idle` time (whole seconds,
/// from [`keepalive_secs`]): a third of it, at least a second, in whole
/// seconds as the kernel counts.
pub(crate) fn keepalive_interval(idle: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_secs((idle.as_secs() / 3).max(1))
}

/// Turns on TCP keepalive on `sock`: the first probe after `idle` (from
/// [`keepalive_secs`]) without traffic, then one every third of it (at
/// least a second), and the connection fails with `TimedOut` when
/// [`KEEPALIVE_PROBES`] in a row go unanswered: a peer that vanished
/// without a FIN is found about `2 × idle` after its last traffic (as
/// Redis does it), not `idle + 9 × idle / 3`.
///
/// Keepalive probes only while nothing sent is waiting for the peer's
/// acknowledgement; while something is, the kernel resends it instead, for
/// up to ~15 minutes (`tcp_retries2`): [`crate::vanish`] watches such
/// connections. `TCP_USER_TIMEOUT` would bound that too, but it also cuts
/// a live peer that merely stopped reading (a zero window) for that long —
/// measured: a peer that read nothing for 10 s was cut at a 4 s timeout —
/// so it is not set. Tested in a network namespace:
/// `rust/tests/keepalive_dead_peer.rs`.
pub(crate) fn set_keepalive<S: std::os::fd::AsFd>(
    sock: &S,
    idle: std::time::Duration,
) -> io::Result<()> {
    let ka = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval(keepalive_interval(idle))
        .with_retries(KEEPALIVE_PROBES);
    socket2::SockRef::from(sock).set_tcp_keepalive(&ka)
}

/// Makes closing `stream` reset the connection (`SO_LINGER` 0) instead of
/// ending it with a FIN: for a connection given up with output unwritten
/// (in the middle of a frame, or between two), so the peer learns the
/// stream was cut rather than ended.
pub(crate) fn reset_on_close(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(std::time::Duration::ZERO));
}

/// Ends a connection so the peer sees EOF, not a reset: shut down our side
/// (FIN goes after anything already queued in the kernel), then discard what
/// the peer sent that nobody will read — closing a socket with unread input
/// makes the kernel send RST instead. The caller drops the stream (or, while
/// the peer is still sending, keeps it open a while: `event_loop/lingering.rs`).
pub(crate) fn close_politely(stream: &mut TcpStream, scratch: &mut [u8]) -> PeerInput {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    discard_input(stream, scratch, 8)
}

/// What a connection's peer was found doing by [`discard_input`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerInput {
    /// It ended its side (or the connection failed): nothing more comes.
    Done,
    /// Nothing was waiting.
    Quiet,
    /// It is still sending.
    Sending,
    /// It is still sending, and more may be waiting: the reads stopped at
    /// their budget, not at an empty buffer. With edge-triggered readiness
    /// no event comes for what is left (an end behind it included): read
    /// again without waiting for one.
    More,
}

/// Reads and discards up to `reads` buffers of input.
pub(crate) fn discard_input(stream: &mut TcpStream, scratch: &mut [u8], reads: usize) -> PeerInput {
    let mut found = PeerInput::Quiet;
    for _ in 0..reads {
        match stream.read(scratch) {
            Ok(0) => return PeerInput::Done,
            Ok(_) => found = PeerInput::Sending,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return found,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return PeerInput::Done,
        }
    }
    match found {
        PeerInput::Sending => PeerInput::More,
        found => found,
    }
}

/// Whether data we wrote (on a socket whose sending side is shut down) is
/// still in the kernel, not yet acknowledged by the peer: `SIOCOUTQ` counts
/// it plus one for our FIN until that is acknowledged. Closing the socket
/// while the peer still sends makes the kernel reset the connection and
/// throw that data away.
pub(crate) fn unacknowledged_data(stream: &TcpStream) -> bool {
    outq(stream).is_none_or(|queued| queued > 1)
}

/// `SIOCOUTQ`: bytes of ours in the kernel not yet acknowledged by the peer
/// (sent or not; plus one for a FIN not yet acknowledged); `None` when the
/// kernel could not say.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn outq(stream: &TcpStream) -> Option<libc::c_int> {
    use std::os::fd::AsRawFd;
    outq_fd(stream.as_raw_fd())
}

/// [`outq`] of the socket `fd` (which the caller keeps open meanwhile).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn outq_fd(fd: std::os::fd::RawFd) -> Option<libc::c_int> {
    let mut queued: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ on a TCP socket) writes one int to `queued`.
    let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) };
    (r == 0).then_some(queued)
}

/// Whether the peer's FIN has arrived while ours has not been sent (or was
/// sent only after it): the peer ended its side first. `TCP_INFO`'s state
/// is `CLOSE_WAIT` (or `LAST_ACK`). The FIN may sit behind input not read
/// yet, where reading would find it only later. Linux only; elsewhere
/// `false` (not known).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn peer_ended_first(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    // Linux's `include/net/tcp_states.h`.
    const TCP_CLOSE_WAIT: u8 = 8;
    const TCP_LAST_ACK: u8 = 9;
    // SAFETY: all-zero is a valid `tcp_info` (integers only).
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: TCP_INFO writes at most `len` bytes to `info` and sets `len`.
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    r == 0 && len >= 1 && matches!(info.tcpi_state, TCP_CLOSE_WAIT | TCP_LAST_ACK)
}

/// See the Linux one: not known here.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn peer_ended_first(_stream: &TcpStream) -> bool {
    false
}

/// `SIOCOUTQ` is Linux's: elsewhere the kernel does not say (`TIOCOUTQ` is
/// a terminal's there), and a closing connection waits for the peer's end
/// or its linger time instead.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn outq(_stream: &TcpStream) -> Option<libc::c_int> {
    None
}

/// [`outq`] of the socket `fd`: not known here.
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
pub(crate) fn outq_fd(_fd: std::os::fd::RawFd) -> Option<libc::c_int> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> (Connection, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, addr) = l.accept().unwrap();
        s.set_nonblocking(true).unwrap();
        let client = Client { id: 1, addr };
        let decoder = Decoder::new(Framing::lines());
        let c = Connection::new(TcpStream::from_std(s), client, decoder, Instant::now());
        (c, peer)
    }

    /// As [`connection`], with 4 KiB socket buffers on both ends: most of
    /// what is written waits in the queue.
    fn connection_with_small_buffers() -> (Connection, std::net::TcpStream) {
        let (c, peer) = connection();
        socket2::SockRef::from(&c.stream)
            .set_send_buffer_size(4096)
            .unwrap();
        socket2::SockRef::from(&peer)
            .set_recv_buffer_size(4096)
            .unwrap();
        (c, peer)
    }

    fn fill(c: &mut Connection, frame: &[u8], limit: usize) -> usize {
        let mut n = 0;
        while let Queued::Yes { .. } = c.enqueue(Arc::from(frame), limit) {
            n += 1;
        }
        n
    }

    #[test]
    fn the_queue_bound_counts_each_frame_s_overhead() {
        let (mut c, _peer) = connection();
        // 1-byte frames: 4096 / (1 + 48) of them, not 4096.
        assert_eq!(fill(&mut c, b"x", 4096), 4096 / (1 + ENTRY_OVERHEAD));
        let (mut c, _peer) = connection();
        // Large frames are hardly affected: 16 of 1000 bytes fit in 17,000.
        assert_eq!(fill(&mut c, &[b'y'; 1000], 17_000), 16);
    }

    /// A C program linking tcphub keeps SIGPIPE's default action (death):
    /// writing to a connection whose sending side is gone must not raise it.
    #[test]
    fn a_write_to_a_dead_connection_fails_without_sigpipe() {
        // SAFETY (all blocks): signal-set and signal-mask calls on a local
        // set, for this thread only. Blocked, SIGPIPE stays pending (even
        // though the test harness ignores it), so sigpending shows whether a
        // write raised it.
        let sigpipe = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGPIPE);
            set
        };
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &sigpipe, std::ptr::null_mut()) };
        let (mut c, _peer) = connection();
        c.stream.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(matches!(
            c.enqueue(Arc::from(&b"late\n"[..]), 4096),
            Queued::Yes { .. }
        ));
        assert!(c.flush().is_err(), "EPIPE");
        let raised = unsafe {
            let mut pending: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut pending);
            libc::sigismember(&pending, libc::SIGPIPE) == 1
        };
        unsafe {
            if raised {
                let zero = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                libc::sigtimedwait(&sigpipe, std::ptr::null_mut(), &zero);
            }
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &sigpipe, std::ptr::null_mut());
        }
        assert!(!raised, "the write raised SIGPIPE");
    }

    #[test]
    fn unwritten_messages_counts_each_frame_of_a_run_and_not_the_notice() {
        let (mut c, _peer) = connection();
        let notice: Arc<[u8]> = Arc::from(&b"idle\n"[..]);
        c.enqueue_msgs(Arc::from(&b"ab\ncd\n"[..]), 2, usize::MAX);
        c.enqueue(Arc::from(&b"ef\n"[..]), usize::MAX);
        c.enqueue(notice.clone(), usize::MAX);
        let lines = Framing::lines();
        assert_eq!(c.unwritten_messages(lines, Some(&notice)), 3);
        assert_eq!(c.unwritten_messages(lines, None), 4);
        // Only that very buffer is the notice, not one with its bytes.
        assert_eq!(
            c.unwritten_messages(lines, Some(&Arc::from(&b"idle\n"[..]))),
            4
        );
        c.out_off = 2; // "ab" written, not its end: still unwritten
        assert_eq!(c.unwritten_messages(lines, Some(&notice)), 3);
        c.out_off = 3;
        assert_eq!(c.unwritten_messages(lines, Some(&notice)), 2);
        // Raw: no boundaries to find; each buffer counts what it was
        // queued with (a run partly written: all of it).
        assert_eq!(c.unwritten_messages(Framing::Raw, None), 2 + 1 + 1);
        // Past the head, the counts carried are taken as they are.
        c.out_off = 0;
        c.out[1].1 = 5;
        assert_eq!(c.unwritten_messages(lines, Some(&notice)), 2 + 5);
    }

    #[test]
    fn one_frame_over_the_bound_still_goes_into_an_empty_queue() {
        let (mut c, _peer) = connection();
        assert_eq!(fill(&mut c, &[b'z'; 10_000], 4096), 1);
        assert_eq!(c.queued_bytes(), 10_000);
    }

    /// An oversize message, alone in an empty queue past the bound, is
    /// exempt from it only while it is being written: once it is gone, the
    /// queue meets the bound as a fresh one does. (Mutation testing, review
    /// mb: without the exemption's end in `advance`, every later head of
    /// the queue was exempt, and the queue held one message more than its
    /// bound for good.)
    #[test]
    fn review_mb_the_oversize_exemption_ends_with_the_oversize_message() {
        let (mut c, mut peer) = connection();
        assert_eq!(fill(&mut c, &[b'z'; 5_000], 4096), 1, "alone: taken");
        let deadline = Instant::now() + std::time::Duration::from_secs(20);
        while c.queued_bytes() > 0 {
            c.flush().expect("written");
            assert!(Instant::now() < deadline, "5 kB not written to loopback");
            c.writable = true;
            std::thread::yield_now();
        }
        let mut got = vec![0u8; 5_000];
        std::io::Read::read_exact(&mut peer, &mut got).expect("read");
        // As many as a fresh queue takes: 3 of 1000 bytes (1048 each with
        // their bookkeeping) in 4096.
        assert_eq!(fill(&mut c, &[b'y'; 1000], 4096), 3);
        let (mut fresh, _peer) = connection();
        assert_eq!(fill(&mut fresh, &[b'y'; 1000], 4096), 3);
    }

    /// A buffer of several messages (a gathered or coalesced run) goes into
    /// an empty queue only if it fits the bound: unlike a single message,
    /// it is not taken alone past it (the caller then offers its messages
    /// one by one). (Mutation testing, review mb: `msgs > 1` turned into
    /// `msgs < 1` passed every test, and a run of any size went into an
    /// empty queue whole.)
    #[test]
    fn review_mb_a_run_of_messages_past_the_bound_is_refused_by_an_empty_queue() {
        let (mut c, _peer) = connection();
        let run: Arc<[u8]> = Arc::from(&[b'r'; 5_000][..]);
        assert!(matches!(c.enqueue_msgs(run, 2, 4096), Queued::Full(_)));
        assert_eq!(c.queued_bytes(), 0);
        let small: Arc<[u8]> = Arc::from(&[b's'; 1_000][..]);
        assert!(matches!(c.enqueue_msgs(small, 2, 4096), Queued::Yes { .. }));
    }

    /// The bound is reached, not passed, by a queue that costs exactly it:
    /// that last message is taken. (Mutation testing, review mb: `cost >
    /// limit` turned into `cost >= limit` passed every test.)
    #[test]
    fn review_mb_a_queue_may_cost_exactly_its_bound() {
        let (mut c, _peer) = connection();
        let exact = 2 * (1000 + ENTRY_OVERHEAD);
        assert_eq!(fill(&mut c, &[b'y'; 1000], exact), 2);
        let (mut c, _peer) = connection();
        assert_eq!(fill(&mut c, &[b'y'; 1000], exact - 1), 1);
    }

    /// A message costing exactly the bound is not oversize: alone it fills
    /// the queue, and the next one is refused. (Mutation testing, review
    /// mb: with `cost > limit` as `>=` in the oversize test it was marked
    /// oversize and exempt, and the queue took a second one: twice its
    /// bound.)
    #[test]
    fn review_mb_a_message_costing_exactly_the_bound_is_not_oversize() {
        let (mut c, _peer) = connection();
        assert_eq!(fill(&mut c, &[b'y'; 1000], 1000 + ENTRY_OVERHEAD), 1);
    }

    /// Frames `0..n` of varying lengths, each line naming its number.
    fn numbered(n: usize) -> Vec<Arc<[u8]>> {
        (0..n)
            .map(|i| Arc::from(format!("{i}:{}\n", "x".repeat(i * 37 % 700)).as_bytes()))
            .collect()
    }

    /// Reads what `peer` has now (not blocking) onto `got`.
    fn read_now(peer: &mut std::net::TcpStream, got: &mut Vec<u8>, most: usize) {
        let mut buf = vec![0u8; most];
        peer.set_nonblocking(true).unwrap();
        match std::io::Read::read(peer, &mut buf) {
            Ok(0) => panic!("unexpected EOF"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
        peer.set_nonblocking(false).unwrap();
    }

    /// A queue longer than one `sendmsg` takes (more than `MAX_IOV`
    /// buffers) and larger than the socket's buffers goes out in many
    /// partial writes, most cutting a frame somewhere: every byte arrives
    /// once, in order; the count `flush` returns is what left the queue;
    /// a flush that stops short leaves `writable` false; a frame is cut
    /// exactly while part of the first one is written. (Mutation testing,
    /// review me.)
    #[test]
    fn review_me_partial_writes_deliver_every_byte_once_in_order() {
        let (mut c, mut peer) = connection_with_small_buffers();
        let frames = numbered(600);
        let want: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
        for f in &frames {
            assert!(matches!(
                c.enqueue(f.clone(), usize::MAX),
                Queued::Yes { .. }
            ));
        }
        assert_eq!(c.queued_frames(), 600);
        assert_eq!(c.queued_bytes(), want.len());
        assert!(!c.frame_cut(), "nothing written yet");
        assert!(!c.unconfirmed);
        let mut got = Vec::new();
        let mut written = 0;
        let mut cuts = 0;
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        while c.queued_bytes() > 0 {
            let before = c.queued_bytes();
            let n = c.flush().expect("loopback write");
            written += n;
            assert_eq!(before - c.queued_bytes(), n, "flush counts what left");
            assert!(n == 0 || c.unconfirmed, "written bytes are unconfirmed");
            let rest = c.out.iter().map(|(b, _)| b.len()).sum::<usize>() - c.out_off;
            assert_eq!(rest, c.queued_bytes(), "the count follows the queue");
            assert_eq!(c.frame_cut(), c.written_of_first() > 0);
            cuts += usize::from(c.frame_cut());
            if c.queued_bytes() > 0 {
                assert!(!c.writable, "stopped short at WouldBlock");
                c.writable = true;
            }
            // A small piece at a time: the next flush takes only a little.
            read_now(&mut peer, &mut got, 1500);
            assert!(Instant::now() < deadline, "the queue was not written");
        }
        assert_eq!(written, want.len());
        assert!(cuts > 0, "some write ended inside a frame");
        assert_eq!(c.queued_frames(), 0);
        assert!(!c.frame_cut());
        peer.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut rest = vec![0u8; want.len() - got.len()];
        std::io::Read::read_exact(&mut peer, &mut rest).expect("the rest");
        got.extend_from_slice(&rest);
        assert!(got == want, "bytes lost, repeated or reordered");
    }

    /// A queue that grew long gives its memory back once written: an idle
    /// connection keeps a small queue, not the largest it ever had.
    /// (Mutation testing, review me: with the capacity test `> 256` as
    /// `== 256` or `< 256`, a queue of 1000 entries kept them all.)
    #[test]
    fn review_me_a_queue_written_out_gives_back_its_memory() {
        let (mut c, mut peer) = connection();
        for _ in 0..1000 {
            c.enqueue(Arc::from(&b"m\n"[..]), usize::MAX);
        }
        assert!(c.out.capacity() >= 1000);
        c.flush().expect("2 kB to loopback");
        assert_eq!(c.queued_bytes(), 0, "2 kB fit in the socket buffer");
        assert!(c.out.capacity() <= 256, "kept {}", c.out.capacity());
        let mut got = vec![0u8; 2000];
        std::io::Read::read_exact(&mut peer, &mut got).unwrap();
    }

    /// What a reconnecting client carries over: `take_unsent` hands back
    /// every frame (a partly written first one whole, with how much of it
    /// was written) and leaves an empty queue that counts nothing;
    /// `restore_unsent` puts them in front of what the new connection
    /// queued meanwhile, counted again. (Mutation testing, review me.)
    #[test]
    fn review_me_unsent_frames_carry_over_whole_and_first() {
        let (mut c, _peer) = connection_with_small_buffers(); // reads nothing
                                                              // A first frame far larger than the socket's buffers: the first
                                                              // write cuts it, and the peer reads nothing.
        let mut frames: Vec<Arc<[u8]>> = vec![Arc::from(vec![b'h'; 4 << 20])];
        frames.extend(numbered(199));
        for f in &frames {
            c.enqueue(f.clone(), usize::MAX);
        }
        let written = c.flush().expect("written");
        assert!(c.frame_cut(), "the 4 MB frame was cut");
        let first_left = c.queued_frames();
        let off = c.written_of_first();
        assert!(off > 0);
        // The oversize exemption and the flush flag do not carry over.
        c.oversize_head = true;
        c.flush_scheduled = true;
        let (taken, taken_off) = c.take_unsent();
        assert_eq!(taken_off, off);
        assert_eq!(taken.len(), first_left);
        let whole: usize = taken.iter().map(|f| f.len()).sum();
        assert_eq!(
            whole - off + written,
            frames.iter().map(|f| f.len()).sum::<usize>()
        );
        assert!(
            Arc::ptr_eq(&taken[0], &frames[200 - first_left]),
            "the cut one, whole"
        );
        assert_eq!(c.queued_bytes(), 0);
        assert_eq!(c.queued_frames(), 0);
        assert_eq!(c.written_of_first(), 0);
        assert!(!c.oversize_head);
        assert!(!c.flush_scheduled);
        // Into a new connection that queued one of its own meanwhile.
        let (mut d, _peer2) = connection();
        let own: Arc<[u8]> = Arc::from(&b"own\n"[..]);
        d.enqueue(own.clone(), usize::MAX);
        d.oversize_head = true;
        d.restore_unsent(taken.clone());
        assert_eq!(d.queued_bytes(), whole + own.len());
        assert_eq!(d.queued_frames(), first_left + 1);
        assert!(
            !d.oversize_head,
            "everything counts against the bound again"
        );
        for (i, f) in taken.iter().enumerate() {
            assert!(
                Arc::ptr_eq(&d.out[i].0, f),
                "carried frame {i} not in its place"
            );
        }
        assert!(Arc::ptr_eq(&d.out[first_left].0, &own), "the new one last");
    }

    /// `discard_input`'s findings, which decide whether a closing
    /// connection lingers and whether it is read again at once: quiet,
    /// still sending (with more left when the budget ran out), ended, or
    /// reset. (Mutation testing, review me.)
    #[test]
    fn review_me_discard_input_tells_what_the_peer_is_doing() {
        use std::io::Write;
        let mut scratch = [0u8; 100];
        let (mut c, mut peer) = connection();
        assert_eq!(
            discard_input(&mut c.stream, &mut scratch, 8),
            PeerInput::Quiet
        );
        peer.write_all(&[b'a'; 50]).unwrap();
        let deadline = Instant::now() + std::time::Duration::from_secs(20);
        let mut found = PeerInput::Quiet;
        while found == PeerInput::Quiet && Instant::now() < deadline {
            std::thread::yield_now();
            found = discard_input(&mut c.stream, &mut scratch, 8);
        }
        assert_eq!(
            found,
            PeerInput::Sending,
            "50 bytes in one read, then nothing"
        );
        assert_eq!(
            discard_input(&mut c.stream, &mut scratch, 8),
            PeerInput::Quiet
        );
        // 2000 bytes: more than 8 reads of 100 take.
        peer.write_all(&[b'b'; 2000]).unwrap();
        let mut seen = 0;
        while seen < 2000 {
            assert!(Instant::now() < deadline, "2000 bytes not seen");
            match c.stream.read(&mut scratch) {
                Ok(n) => seen += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
            if seen > 0 {
                break;
            }
        }
        assert_eq!(
            discard_input(&mut c.stream, &mut scratch, 8),
            PeerInput::More
        );
        peer.shutdown(std::net::Shutdown::Write).unwrap();
        let mut found = PeerInput::More;
        while found != PeerInput::Done {
            assert!(Instant::now() < deadline, "the end not found");
            found = discard_input(&mut c.stream, &mut scratch, 8);
            std::thread::yield_now();
        }
        // A reset is an end too.
        let (mut c, peer) = connection();
        socket2::SockRef::from(&peer)
            .set_linger(Some(std::time::Duration::ZERO))
            .unwrap();
        drop(peer);
        let mut found = PeerInput::Quiet;
        while found != PeerInput::Done {
            assert!(Instant::now() < deadline, "the reset not found: {found:?}");
            found = discard_input(&mut c.stream, &mut scratch, 8);
            std::thread::yield_now();
        }
    }

    /// The kernel's view of a connection: nothing unacknowledged on a
    /// quiet one; what a peer that reads nothing has not taken is; the
    /// peer's FIN first is seen, ours first is not. (Mutation testing,
    /// review me.)
    #[test]
    fn review_me_the_kernel_says_what_is_unacknowledged_and_who_ended_first() {
        let (mut c, peer) = connection();
        let deadline = Instant::now() + std::time::Duration::from_secs(20);
        assert_eq!(outq(&c.stream), Some(0));
        assert!(!unacknowledged_data(&c.stream));
        assert!(!peer_ended_first(&c.stream));
        // Fill the peer's window and our buffer: the rest waits.
        socket2::SockRef::from(&peer)
            .set_recv_buffer_size(4096)
            .unwrap();
        while c.writable {
            c.enqueue(Arc::from(&[b'q'; 8192][..]), usize::MAX);
            c.flush().expect("written");
            assert!(Instant::now() < deadline, "never blocked");
        }
        // Only what the peer's kernel took is acknowledged; much is not.
        assert!(
            outq(&c.stream).is_some_and(|q| q > 1),
            "{:?}",
            outq(&c.stream)
        );
        assert!(unacknowledged_data(&c.stream));
        // The peer ends first: seen.
        peer.shutdown(std::net::Shutdown::Write).unwrap();
        while !peer_ended_first(&c.stream) {
            assert!(Instant::now() < deadline, "the peer's FIN not seen");
            std::thread::yield_now();
        }
        // We end first: not.
        let (d, peer2) = connection();
        d.stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut b = [0u8; 1];
        assert_eq!(std::io::Read::read(&mut &peer2, &mut b).unwrap(), 0);
        peer2.shutdown(std::net::Shutdown::Write).unwrap();
        // Our FIN acknowledged: nothing of ours left.
        while unacknowledged_data(&d.stream) {
            assert!(Instant::now() < deadline, "our FIN never acknowledged");
            std::thread::yield_now();
        }
        assert!(!peer_ended_first(&d.stream), "we ended first");
    }

    /// Keepalive times as the kernel takes them: whole seconds rounded up,
    /// at least one; at most `MAX_KEEPALIVE`; probes a third of the idle
    /// time apart, at least a second. (Mutation testing, review me.)
    #[test]
    fn review_me_keepalive_times_round_up_to_whole_seconds() {
        use std::time::Duration;
        let secs = |ms: u64| keepalive_secs(Duration::from_millis(ms)).unwrap().as_secs();
        assert_eq!(secs(200), 1);
        assert_eq!(secs(1000), 1);
        assert_eq!(secs(1500), 2);
        assert_eq!(secs(2000), 2);
        assert_eq!(
            keepalive_secs(MAX_KEEPALIVE).unwrap(),
            MAX_KEEPALIVE,
            "the most is taken"
        );
        assert!(keepalive_secs(MAX_KEEPALIVE + Duration::from_millis(1)).is_err());
        assert!(keepalive_secs(MAX_KEEPALIVE + Duration::from_secs(1)).is_err());
        let every = |s: u64| keepalive_interval(Duration::from_secs(s)).as_secs();
        assert_eq!(every(1), 1);
        assert_eq!(every(2), 1);
        assert_eq!(every(9), 3);
        assert_eq!(every(10), 3);
        assert_eq!(every(60), 20);
    }

    /// While an oversize message is being written, what follows it meets
    /// the bound by itself, to the byte, as in an empty queue: neither its
    /// bytes nor its bookkeeping count. (Mutation testing, review me: with
    /// the exempt entry added, not taken off, the followers fitting the
    /// bound exactly lost their last one.)
    #[test]
    fn review_me_followers_of_an_oversize_message_meet_the_bound_exactly() {
        let exact = 2 * (1000 + ENTRY_OVERHEAD);
        let (mut c, _peer) = connection();
        assert_eq!(fill(&mut c, &[b'z'; 5_000], exact), 1, "alone: taken");
        assert_eq!(fill(&mut c, &[b'y'; 1000], exact), 2);
        // Part of it written: still only the followers count.
        let (mut c, _peer) = connection();
        assert_eq!(fill(&mut c, &[b'z'; 5_000], exact), 1);
        c.advance(100);
        assert_eq!(fill(&mut c, &[b'y'; 1000], exact), 2);
    }
}
