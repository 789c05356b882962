//! [`ReadyFd`]: a file descriptor that becomes readable when pull-mode
//! events wait to be taken, for waiting on them in another event loop
//! (asyncio's `add_reader`, tokio's `AsyncFd`, `poll(2)`, GLib, libuv)
//! instead of in a thread blocked in `recv`. The Python bindings' `async`
//! methods wait on one.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::client_core::ClientCore;
use crate::queue::Notifier;

/// What a [`ReadyFd`] watches: a server's [`Events`](crate::Events) or a
/// client's event queue, each with the checks its own waits make first.
pub(crate) trait Watched: Send + Sync {
    /// `true` when something can be taken now (or nothing ever will: the
    /// end, a forked child), without arming; else arms `note` and answers
    /// `false`. The queue's own look is [`Receiver::arm`](crate::queue::Receiver::arm).
    fn ready_or_arm(&self, note: &Arc<Notifier>) -> bool;
    /// Stops watching (the `ReadyFd` is dropped).
    fn unwatch(&self, note: &Arc<Notifier>);
}

/// A file descriptor that becomes readable when a server's pull-mode
/// events ([`Events::ready_fd`](crate::Events::ready_fd)) or a client's
/// ([`TcpClient::ready_fd`](crate::TcpClient::ready_fd)) can be taken, so
/// another event loop can wait for them: asyncio's `add_reader`, tokio's
/// `AsyncFd`, `poll(2)`, GLib or libuv — no thread blocked in `recv` per
/// server or client.
///
/// Before each wait call [`arm`](ReadyFd::arm): it answers `false` when
/// something can be taken now (take it with `try_recv` and the like, then
/// arm again once they find nothing), and `true` when the wait may begin:
/// the descriptor then becomes readable at the next event, or when no
/// event can come any more (the server stopped, the client closed for
/// good: the takes then answer so). It is level-triggered until the next
/// `arm`, which reads what made it readable; nothing else needs to read
/// it. Readiness may be spurious (another consumer took the event
/// first): after a wakeup, take what there is and arm again. Each
/// `ReadyFd` is its own descriptor (an `eventfd` on Linux; elsewhere two, a socket pair), closed when
/// it is dropped; any number can watch one queue, each armed by its own
/// consumer.
///
/// # Examples
///
/// Waiting with `poll(2)`:
///
/// ```
/// use std::os::fd::AsRawFd;
/// use tcphub::{Event, TcpClient, TcpServer};
///
/// let server = TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
/// let events = server.events();
/// let ready = events.ready_fd()?;
/// let _client = TcpClient::connect(server.local_addr())?;
/// let event = loop {
///     if let Some(ev) = events.try_recv() {
///         break ev;
///     }
///     if ready.arm() {
///         let mut pfd = libc::pollfd { fd: ready.as_raw_fd(), events: libc::POLLIN, revents: 0 };
///         // SAFETY: one valid pollfd.
///         unsafe { libc::poll(&mut pfd, 1, 10_000) };
///     }
/// };
/// assert!(matches!(event, Event::Connected(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// With tokio, register it with an `AsyncFd` and clear tokio's readiness
/// after each wakeup (the next `arm` reads the descriptor; tokio would
/// otherwise go on reporting it readable). Take with a zero timeout, which
/// tells the end (`NotRunning`) apart from nothing to take yet: after a
/// stop `arm` answers `false` for good, and a loop on `try_recv` alone
/// would spin.
///
/// ```
/// # use std::time::Duration;
/// # let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
/// # let events = server.events();
/// # let other = server.clone();
/// # let peer = std::thread::spawn(move || -> tcphub::Result<()> {
/// #     tcphub::TcpClient::connect(other.local_addr())?.close();
/// #     other.stop();
/// #     Ok(())
/// # });
/// # let mut seen = Vec::new();
/// # let mut handle = |ev| seen.push(ev);
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
/// # rt.block_on(async {
/// // SAFETY: the ReadyFd keeps its descriptor open while the AsyncFd holds it.
/// let ready = unsafe { tokio::io::unix::AsyncFd::register(events.ready_fd()?) }?;
/// loop {
///     match events.recv_timeout(Duration::ZERO) {
///         Ok(ev) => handle(ev),
///         Err(tcphub::Error::Timeout) => {
///             if ready.get_ref().arm() {
///                 ready.readable().await?.clear_ready();
///             }
///         }
///         Err(_) => break, // stopped, every event taken
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # peer.join().unwrap()?;
/// # assert!(matches!(seen[..], [tcphub::Event::Connected(_), tcphub::Event::Disconnected(..)]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReadyFd {
    note: Arc<Notifier>,
    watched: Box<dyn Watched>,
    /// Where the descriptor was made: in a child forked since, it is the
    /// parent's too (one open eventfd), and reading it there would take
    /// the parent's wakeup (see `fork.rs`).
    origin: crate::fork::Origin,
}

impl ReadyFd {
    /// Watches `watched` with a new descriptor.
    pub(crate) fn new(watched: Box<dyn Watched>, note: Arc<Notifier>) -> ReadyFd {
        ReadyFd {
            note,
            watched,
            origin: crate::fork::Origin::here(),
        }
    }

    /// Readies the descriptor for a wait: `true` when nothing can be taken
    /// now, and the descriptor becomes readable at the next event (or the
    /// end); `false` when something can be taken now (or the queue has
    /// ended), and it is not armed. Either way what made the descriptor
    /// readable before is read, so it is readable again only for what
    /// comes after this call — except in a child forked since the
    /// descriptor was made, where it is the parent's descriptor too: there
    /// it answers `false` and reads nothing. Takes nothing. For a server it also counts
    /// as asking for more events, as a wait does (see
    /// [`Events::wait_ready`](crate::Events::wait_ready)).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// let events = server.events();
    /// let ready = events.ready_fd()?;
    /// assert!(ready.arm()); // nothing to take: armed
    /// server.stop();
    /// assert!(!ready.arm()); // stopped: the takes answer at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "false means something can be taken now: do not wait"]
    pub fn arm(&self) -> bool {
        if self.origin.forked() {
            // Made before this process was forked: the descriptor is the
            // parent's too, and its count the parent's wakeup. Nothing can
            // be waited for here anyway (the takes answer at once).
            return false;
        }
        self.note.drain();
        !self.watched.ready_or_arm(&self.note)
    }
}

/// A new notifier, as the crate's error.
pub(crate) fn notifier() -> crate::Result<Arc<Notifier>> {
    Notifier::new()
        .map(Arc::new)
        .map_err(|source| crate::Error::Io {
            context: "making a readiness descriptor",
            source,
        })
}

/// A client's event queue, as its own waits look at it.
pub(crate) struct ClientWatch(pub(crate) Arc<ClientCore>);

impl Watched for ClientWatch {
    fn ready_or_arm(&self, note: &Arc<Notifier>) -> bool {
        if self.0.closed_seen.load(Ordering::Acquire) || self.0.origin.forked() {
            return true; // the next call answers NotRunning at once
        }
        !self.0.events_rx.arm(note)
    }

    fn unwatch(&self, note: &Arc<Notifier>) {
        if self.0.origin.forked() {
            return; // the queue's lock may be held for good here (`fork.rs`)
        }
        self.0.events_rx.unwatch(note);
    }
}

impl AsFd for ReadyFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.note.read.as_fd()
    }
}

impl AsRawFd for ReadyFd {
    fn as_raw_fd(&self) -> RawFd {
        self.note.read.as_raw_fd()
    }
}

impl fmt::Debug for ReadyFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadyFd")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl Drop for ReadyFd {
    fn drop(&mut self) {
        self.watched.unwatch(&self.note);
    }
}
