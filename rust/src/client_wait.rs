//! Waiting for a client's queue: [`TcpClient::flush`] until what was
//! queued before the call is written, [`TcpClient::send_timeout`] until
//! the queue has room. Both sleep on one condition variable ([`Drain`])
//! that the I/O thread notifies after it writes, when a queued message is
//! dropped for good, and that `close()`/`shutdown_write()` notify — and only
//! while somebody waits: the I/O thread's cost otherwise is one fence and
//! one load per write.
//!
//! `flush` compares monotonic counters, bytes ever accepted (counted under
//! the lock `send` posts with, so in the order they are written) against
//! bytes ever written, not "the queue is empty": senders on other threads
//! cannot keep it waiting for messages queued after the call.

use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::client::{ClientCore, TcpClient};
use crate::error::{Error, Result};

/// What `flush` and `send_timeout` wait on (one per client, in `ClientCore`).
#[derive(Debug, Default)]
pub(crate) struct Drain {
    /// Bytes `send` ever accepted, counted as they are posted (under
    /// `ClientCore::posted`'s lock: in the order the I/O thread writes them).
    accepted: AtomicU64,
    /// Bytes of those written to the socket. A message written in part when
    /// its connection was lost is written again whole on the next one: its
    /// written part is taken back (`unwritten`). Every message `accepted`
    /// counts ends at a boundary of this stream, so `written >= n` for the
    /// `accepted` value `n` seen at a `flush` means each message before it
    /// was written whole.
    written: AtomicU64,
    /// Set by the I/O thread when it ends sending for good (closed, lost
    /// without reconnect, reconnect gave up): what is still unwritten was
    /// dropped and will never be.
    ended: AtomicBool,
    /// Threads waiting in `flush`/`send_timeout`: the I/O thread takes the
    /// lock and notifies only when there is one.
    waiters: AtomicUsize,
    lock: Mutex<()>,
    cond: Condvar,
}

impl Drain {
    /// A message of `len` bytes was posted. Called only under the posting
    /// lock, which orders the writers: a load and a store, no locked
    /// read-modify-write on the path of every message.
    pub fn accepted(&self, len: usize) {
        let now = self.accepted.load(Ordering::Relaxed) + len as u64;
        self.accepted.store(now, Ordering::Release);
    }

    /// The I/O thread wrote `n` bytes (and made that room in the queue).
    pub fn wrote(&self, n: usize) {
        if n > 0 {
            self.written.fetch_add(n as u64, Ordering::Release);
            self.notify();
        }
    }

    /// `n` bytes counted as written belong to a message that will be
    /// written again whole (its connection was lost part way through it).
    pub fn unwritten(&self, n: usize) {
        if n > 0 {
            self.written.fetch_sub(n as u64, Ordering::Release);
        }
    }

    /// Sending has ended for good: what is not written never will be.
    pub fn end(&self) {
        self.ended.store(true, Ordering::Release);
        self.notify();
    }

    /// Wakes the waiters, if any, after a change they may be waiting for
    /// (room in the queue, bytes written, the client closed).
    pub fn notify(&self) {
        // Against the waiter's increment and check (`wait_until`): either
        // it sees the change, or this sees it waiting and, taking the lock
        // it holds until it sleeps, wakes it.
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) > 0 {
            drop(self.lock.lock().unwrap_or_else(|p| p.into_inner()));
            self.cond.notify_all();
        }
    }

    /// Sleeps until `done()` or `deadline`; whether `done()` held.
    fn wait_until(&self, deadline: Instant, done: impl Fn() -> bool) -> bool {
        if done() {
            return true;
        }
        self.waiters.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let held = loop {
            if done() {
                break true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            guard = self
                .cond
                .wait_timeout(guard, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        drop(guard);
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        held
    }
}

/// The messages a flush waits for: those queued before the mark was taken
/// with [`TcpClient::flush_mark`] (for [`TcpClient::flush_to`]).
///
/// # Examples
///
/// ```
/// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
/// let client = tcphub::TcpClient::connect(server.local_addr())?;
/// let before = client.flush_mark();
/// client.send(b"hello")?;
/// assert_ne!(client.flush_mark(), before);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlushMark(u64);

impl FlushMark {
    /// The mark as a number (the bytes the client had accepted for sending
    /// when it was taken), for bindings that hand marks out as numbers:
    /// the C API's `tcphub_client_flush_mark`.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// let mark = client.flush_mark();
    /// assert_eq!(tcphub::FlushMark::from_bits(mark.to_bits()), mark);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// The mark [`to_bits`](FlushMark::to_bits) gave as a number. Any
    /// number is a mark; one that was never taken from this client means
    /// nothing useful to its [`flush_to`](TcpClient::flush_to) (0: nothing
    /// to wait for).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// client.flush_to(tcphub::FlushMark::from_bits(0), std::time::Duration::ZERO)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_bits(bits: u64) -> FlushMark {
        FlushMark(bits)
    }
}

impl ClientCore {
    /// Whether the queue, holding `queued` bytes in `frames` messages, has
    /// no room for one more of `len` bytes: each message also counts
    /// `ENTRY_OVERHEAD`; an empty queue takes any message (see `send`).
    pub(crate) fn over_limit(&self, queued: usize, frames: usize, len: usize) -> bool {
        let overhead = (frames + 1).saturating_mul(crate::connection::ENTRY_OVERHEAD);
        queued > 0 && (queued + len).saturating_add(overhead) > self.config.max_queue_bytes
    }
}

impl TcpClient {
    /// Waits up to `timeout` until every message queued before the call
    /// has been written to the socket — handed to the kernel, not yet
    /// acknowledged by the server (for that, see [`close`](TcpClient::close),
    /// which waits for the acknowledgement within the linger time).
    /// Returns at once when nothing is queued. Messages that other threads
    /// send meanwhile are not waited for. With a reconnect policy the wait
    /// goes on while the client is between connections: the messages are
    /// written once it has reconnected (those a lost connection had taken
    /// already may be lost with it, as always).
    ///
    /// Called on a tcphub I/O thread — from a callback of this client,
    /// another client or any server — it does not wait (the thread that
    /// writes may be the one running the callback, or waiting for it): it
    /// answers as with a zero timeout, `Ok` only when nothing is left to
    /// write.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when the time ran out (or, on an I/O thread, at
    /// once) with messages still unwritten; [`Error::NotRunning`] when
    /// they never will be: the client was closed (a `close()` flushes
    /// within the linger time, and the wait goes on meanwhile) or its
    /// connection ended for good (no reconnect, or reconnecting gave up)
    /// with them unwritten, and at once in a process forked since the
    /// client was made.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tcphub::{Framing, TcpClient, TcpServer};
    ///
    /// let server = TcpServer::new(0, 10)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .start()?;
    /// let client = TcpClient::builder(server.local_addr()).framing(Framing::lines()).connect()?;
    /// for i in 0..100 {
    ///     client.send(format!("line {i}").as_bytes())?;
    /// }
    /// client.flush(Duration::from_secs(10))?; // all 100 are with the kernel
    /// assert_eq!(client.queued_bytes(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.flush_to(self.flush_mark(), timeout)
    }

    /// Where [`flush`](TcpClient::flush) called now would wait for: every
    /// message queued so far written. With
    /// [`flush_to`](TcpClient::flush_to), a caller that must stay
    /// responsive (e.g. a binding checking for Ctrl-C between short waits)
    /// waits for the same messages across several short waits, not for
    /// what other threads queue between them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// client.send(b"hello")?;
    /// let mark = client.flush_mark();
    /// while let Err(tcphub::Error::Timeout) = client.flush_to(mark, Duration::from_millis(100)) {
    ///     // check for an interruption here
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush_mark(&self) -> FlushMark {
        FlushMark(self.core.drain.accepted.load(Ordering::Acquire))
    }

    /// As [`flush`](TcpClient::flush), for the messages queued before
    /// `mark` was taken ([`flush_mark`](TcpClient::flush_mark)) — of this
    /// client: a mark of another client means nothing here.
    ///
    /// # Errors
    ///
    /// As [`flush`](TcpClient::flush).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// let mark = client.flush_mark();
    /// client.flush_to(mark, Duration::ZERO)?; // nothing was queued
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush_to(&self, mark: FlushMark, timeout: Duration) -> Result<()> {
        if self.core.origin.forked() {
            return Err(Error::NotRunning); // the parent's I/O thread writes it
        }
        let drain = &self.core.drain;
        let target = mark.0;
        let written = || drain.written.load(Ordering::Acquire) >= target;
        let ended = || drain.ended.load(Ordering::Acquire);
        if !crate::shared::on_any_io_thread() {
            let deadline = crate::shared::deadline_after(timeout);
            drain.wait_until(deadline, || written() || ended());
        }
        if written() {
            Ok(())
        } else if ended() {
            Err(Error::NotRunning)
        } else {
            Err(Error::Timeout)
        }
    }

    /// Sends as [`send`](TcpClient::send) does, but when the queue has no
    /// room waits up to `timeout` for the I/O thread to make some, instead
    /// of failing at once. A message larger than
    /// [`max_queue_bytes`](crate::ClientBuilder::max_queue_bytes) by itself
    /// is taken, as by `send`, only into an empty queue: this waits for the
    /// queue to empty. A zero `timeout` is `send`.
    ///
    /// Called on a tcphub I/O thread (from any client's or server's
    /// callback) it does not wait, as [`flush`](TcpClient::flush) does not:
    /// it is `send`.
    ///
    /// # Errors
    ///
    /// [`Error::QueueFull`] when there was no room in time;
    /// [`Error::FrameTooLarge`], [`Error::InvalidMessage`] and
    /// [`Error::NotRunning`] as `send`, at
    /// once — and `NotRunning` also when the client is closed or ends for
    /// good during the wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tcphub::{Framing, TcpClient, TcpServer};
    ///
    /// let server = TcpServer::new(0, 10)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .start()?;
    /// let client = TcpClient::builder(server.local_addr())
    ///     .framing(Framing::lines())
    ///     .max_queue_bytes(4096)
    ///     .connect()?;
    /// let line = vec![b'x'; 1000];
    /// for _ in 0..1000 {
    ///     // `send` would fail with QueueFull now and then: this waits instead.
    ///     client.send_timeout(&line, Duration::from_secs(10))?;
    /// }
    /// client.close();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_timeout(&self, msg: &[u8], timeout: Duration) -> Result<()> {
        let deadline = crate::shared::deadline_after(timeout);
        let core = &self.core;
        loop {
            let full = match self.send(msg) {
                Err(e @ Error::QueueFull { .. }) => e,
                done => return done,
            };
            if timeout.is_zero() || crate::shared::on_any_io_thread() {
                return Err(full);
            }
            // `send` framed it: this cannot fail now.
            let len = core.config.framing.framed_len(msg)?;
            let room = || {
                let queued = core.queued.load(Ordering::Acquire);
                let frames = core.queued_frames.load(Ordering::Acquire);
                !core.over_limit(queued, frames, len)
                    || !self.is_open()
                    || core.write_shut.load(Ordering::Acquire)
            };
            if !core.drain.wait_until(deadline, room) {
                return self.send(msg); // the last chance: QueueFull, or room just made
            }
        }
    }
}
