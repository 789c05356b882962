//! [`ClientCore`], the state a client's handles share with its I/O
//! thread (the queue counts, the posted commands, the pull queue, the
//! last disconnect reason), and [`ClientGuard`], whose drop — the last
//! application handle's — closes the client. `client.rs` holds the public
//! handle, `client_loop.rs` the thread.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::thread::JoinHandle;

use crate::client_builder::{ClientCallbacks, ClientConfig, ClientEvent};
use crate::client_loop::ClientCmd;
use crate::event::DisconnectReason;
use crate::queue::Receiver;

/// State shared by the client handles and its I/O thread.
#[derive(Debug)]
pub(crate) struct ClientCore {
    pub config: ClientConfig,
    pub callbacks: ClientCallbacks,
    /// Messages (framed, back to back) and commands for the I/O thread, in
    /// order; it swaps the whole for its own empty one each turn: one lock
    /// and no allocation per message (see `client_queue.rs`).
    pub posted: Mutex<crate::client_queue::Posted>,
    /// Released by the I/O thread as it ends (`wake.rs`).
    pub waker: Arc<crate::wake::Wake>,
    /// Only the first command after a drain pays for the wakeup.
    pub notified: AtomicBool,
    /// Where the I/O thread runs: in a child forked since, it does not (see
    /// `fork.rs`), and this client acts as closed there.
    pub origin: crate::fork::Origin,
    /// Bytes accepted by `send` and not yet written: the queue bound.
    pub queued: AtomicUsize,
    /// Messages behind `queued`: against the bound each also counts
    /// `ENTRY_OVERHEAD`, the memory it takes beyond its bytes, so a queue of
    /// one-byte messages is bounded too (as on the server).
    pub queued_frames: AtomicUsize,
    /// Messages `send` accepted that were never written whole: those still
    /// queued when the client ended for good (`TcpClient::unsent`).
    pub unsent: std::sync::atomic::AtomicU64,
    /// What `flush` and `send_timeout` wait on: bytes accepted and written
    /// so far, and the wakeup the I/O thread gives them (`client_wait.rs`).
    pub drain: crate::client_wait::Drain,
    /// False once closed (by `close()`, or for good after a drop).
    pub open: AtomicBool,
    /// Set by `shutdown_write()`: `send` refuses from then on, and the I/O
    /// thread shuts the sending side once the queue is written.
    pub write_shut: AtomicBool,
    /// Makes `send`'s check of `write_shut` and its post one step against
    /// `shutdown_write` (read side: senders; write side: the shutdown), so
    /// every message `send` accepted is posted before `ShutdownWrite` (and,
    /// against `close`, before `Close`); and its check of `open` and its
    /// count one step against the I/O thread's end, which resets the count.
    pub send_gate: RwLock<()>,
    /// Whether a connection is up right now.
    pub connected: AtomicBool,
    /// The connection's socket, for a look at what it has not had
    /// acknowledged (`unacknowledged_bytes`), without asking the I/O thread.
    pub socket: SocketProbe,
    /// (local, peer) of the current or last connection. A `RwLock`, and
    /// `last_disconnect` too: application threads only read them, and
    /// readers do not hold one another off — nor, in a forked child, does
    /// a reader of the parent's that held them at the fork (see `fork.rs`).
    pub addrs: RwLock<(SocketAddr, SocketAddr)>,
    /// `addrs` of the first connection, never written again: what a forked
    /// child answers when a thread of the parent held `addrs` at the fork.
    pub first_addrs: (SocketAddr, SocketAddr),
    /// Why the last connection ended (set by the I/O thread before it
    /// reports the drop): the bindings' `recv` only says "no more messages",
    /// and this is how their users learn whether that was a clean close or
    /// a fault (a reset, a frame over the limit).
    pub last_disconnect: RwLock<Option<DisconnectReason>>,
    pub events_rx: Receiver<ClientEvent>,
    /// Events and message bytes in `events_rx` (bounded by
    /// `event_capacity` and [`EVENT_QUEUE_BYTES`](crate::EVENT_QUEUE_BYTES),
    /// as on the server).
    pub event_load: Arc<crate::outbox::QueueLoad>,
    /// Pull-mode events that did not fit in the queue when the I/O thread
    /// ended (e.g. the consumer itself called `close()` without reading):
    /// yielded after the queue, so the final `Disconnected` and `Closed`
    /// are never lost and `close()` never waits for the consumer.
    pub leftovers: Mutex<VecDeque<ClientEvent>>,
    /// A pull consumer has taken `Closed`: later waits end at once.
    pub closed_seen: AtomicBool,
    /// `close()` was called on the client's own I/O thread (from one of
    /// its callbacks): the rest of the read being delivered is dropped.
    pub closed_by_callback: AtomicBool,
    /// The I/O thread, to tell a close from its own callbacks.
    pub io_thread: OnceLock<std::thread::ThreadId>,
    /// The I/O thread, joined by `close()`.
    pub thread: Mutex<Option<JoinHandle<()>>>,
    /// Lets the I/O thread's own handle hand out owning clones.
    pub user_token: OnceLock<Weak<ClientGuard>>,
}

impl ClientCore {
    /// Records why the connection ended, for
    /// [`TcpClient::disconnect_reason`](crate::TcpClient::disconnect_reason) (the I/O thread, before it reports
    /// the end).
    pub fn set_disconnect_reason(&self, why: DisconnectReason) {
        *self
            .last_disconnect
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    /// What `lock` holds. In a child forked since, without waiting: a
    /// thread of the parent (the I/O thread, setting a reason) may have
    /// held it at the fork, and no thread here ever releases it — `None`
    /// then.
    pub fn read_now<T: Clone>(&self, lock: &RwLock<T>) -> Option<T> {
        read_now(lock, self.origin.forked())
    }

    /// (local, peer) of the current or last connection (see
    /// [`read_now`](ClientCore::read_now): the first connection's in a
    /// forked child that cannot read them).
    pub fn addrs(&self) -> (SocketAddr, SocketAddr) {
        self.read_now(&self.addrs).unwrap_or(self.first_addrs)
    }

    /// Whether `close()` was called (or the client ended for good): the I/O
    /// thread delivers nothing more.
    pub fn closed(&self) -> bool {
        !self.open.load(Ordering::Acquire)
    }

    pub(crate) fn close(&self) {
        self.begin_close();
        // Not on a tcphub I/O thread — its own (it cannot join itself) or any
        // other (two closing each other would deadlock): a later close or
        // drop elsewhere joins it.
        if crate::shared::on_any_io_thread() {
            return;
        }
        if self.origin.forked() {
            crate::shared::forget_threads(&self.thread);
            return;
        }
        crate::shared::join_all(&self.thread, "the client I/O thread");
    }

    /// Marks the client closed and tells its I/O thread (once). Under the
    /// send gate, as `shutdown_write`: a `send` that found the client open
    /// has posted its message before the `Close`, so the close flushes it
    /// rather than end the connection before the I/O thread has taken it.
    fn begin_close(&self) {
        if self.origin.forked() {
            // The I/O thread is the parent's: nothing to tell here.
            self.open.store(false, Ordering::Release);
            return;
        }
        let _gate = self.send_gate.write().unwrap_or_else(|p| p.into_inner());
        if self.open.swap(false, Ordering::AcqRel) {
            if self.io_thread.get() == Some(&std::thread::current().id()) {
                self.closed_by_callback.store(true, Ordering::Release);
            }
            self.post(ClientCmd::Close);
            // `send_timeout` waiting for room: refused now.
            self.drain.notify();
        }
    }

    /// As [`close`](ClientCore::close), but waits at most `limit` for the
    /// I/O thread; whether it has ended (on a tcphub I/O thread, without
    /// waiting: whether it had already).
    pub(crate) fn close_within(&self, limit: std::time::Duration) -> bool {
        self.begin_close();
        if self.origin.forked() {
            crate::shared::forget_threads(&self.thread);
            return true;
        }
        // On a tcphub I/O thread (a callback) it does not wait: whether
        // the I/O thread had already ended (as the server's `stop_within`).
        let limit = if crate::shared::on_any_io_thread() {
            std::time::Duration::ZERO
        } else {
            limit
        };
        crate::shared::wait_finished(limit, || {
            crate::shared::join_if_finished(&self.thread, "the client I/O thread")
        })
    }
}

/// The current connection's socket, as application threads may look at it
/// ([`TcpClient::unacknowledged_bytes`](crate::TcpClient::unacknowledged_bytes)):
/// its descriptor while the I/O thread has the connection up, and whether
/// its sending side is shut (its FIN counts in `SIOCOUTQ` until
/// acknowledged). The I/O thread withdraws it under the write lock before
/// the socket is closed, so a reader holding the read lock never asks a
/// closed — or reused — descriptor.
#[derive(Debug, Default)]
pub(crate) struct SocketProbe {
    #[cfg(unix)]
    current: RwLock<Option<(std::os::fd::RawFd, bool)>>,
}

impl SocketProbe {
    /// A connection is up on `stream` (the I/O thread).
    pub fn publish(&self, stream: &mio::net::TcpStream) {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            *self.current.write().unwrap_or_else(|p| p.into_inner()) =
                Some((stream.as_raw_fd(), false));
        }
        #[cfg(not(unix))]
        let _ = stream;
    }

    /// Shuts the sending side of `stream`, the published connection (the
    /// I/O thread). Under the write lock, so no reader sees its FIN queued
    /// in `SIOCOUTQ` but not yet known to be there; marked only if the
    /// shutdown took (else no FIN is queued).
    pub fn shut_write(&self, stream: &mio::net::TcpStream) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
            stream.shutdown(std::net::Shutdown::Write)?;
            if let Some((_, shut)) = current.as_mut() {
                *shut = true;
            }
            Ok(())
        }
        #[cfg(not(unix))]
        stream.shutdown(std::net::Shutdown::Write)
    }

    /// The connection is about to be closed (the I/O thread): no look at
    /// its descriptor after this returns.
    pub fn withdraw(&self) {
        #[cfg(unix)]
        {
            *self.current.write().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// Bytes written to the current connection that its peer has not
    /// acknowledged yet; `None` with no connection up, or where the system
    /// does not say.
    pub fn unacknowledged(&self) -> Option<usize> {
        #[cfg(unix)]
        {
            let current = self.current.read().unwrap_or_else(|p| p.into_inner());
            let (fd, shut) = (*current)?;
            let queued = crate::connection::outq_fd(fd)?;
            // The FIN, once queued, counts one until acknowledged.
            Some((queued.max(0) as usize).saturating_sub(usize::from(shut)))
        }
        #[cfg(not(unix))]
        None
    }
}

/// [`ClientCore::read_now`]: waits for `lock` unless `forked`, where a
/// lock held at the fork is never released (`None` then).
fn read_now<T: Clone>(lock: &RwLock<T>, forked: bool) -> Option<T> {
    if !forked {
        return Some(lock.read().unwrap_or_else(|p| p.into_inner()).clone());
    }
    match lock.try_read() {
        Ok(held) => Some(held.clone()),
        Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner().clone()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

#[derive(Debug)]
pub(crate) struct ClientGuard {
    pub(crate) core: Arc<ClientCore>,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.core.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In a forked child, a lock a thread of the parent held at the fork
    /// (here: a write guard held on this very thread, which no read can
    /// wait out) gives `None` at once; a free one gives its value.
    #[test]
    fn a_forked_child_does_not_wait_for_a_lock_held_at_the_fork() {
        let lock = RwLock::new(7);
        assert_eq!(read_now(&lock, true), Some(7));
        let held = lock.write().unwrap();
        assert_eq!(read_now(&lock, true), None);
        drop(held);
        assert_eq!(read_now(&lock, false), Some(7));
    }
}
