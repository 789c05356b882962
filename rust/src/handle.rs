//! [`ServerHandle`]: the running server, shared by the application, the
//! callbacks and the bindings. Every call turns into a [`Command`] posted to
//! the event loop that owns the client(s) (see `shared.rs`).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::broadcast::Run;
use crate::error::{ClientRef, Error, Result};
use crate::event::{Client, ClientId, Events};
use crate::framing::Framing;
use crate::shared::{Audience, Command, Core, StopGuard};
use crate::stats::{self, Stats};

mod input;
mod send_many;

/// A running server. Cheap to clone, `Send + Sync`; every method may be
/// called from any thread, including from inside a callback.
///
/// Dropping the last handle the application holds stops the server, as
/// [`stop`](ServerHandle::stop) does. A clone made inside a callback is one
/// such handle too: while it lives, dropping the others does not stop the
/// server, and when it is the last one and is dropped in the callback, the
/// stop begins there without waiting for the loops (as `stop()` called in a
/// callback does), and nobody waits for them. Call `stop()` before dropping
/// your handle to be sure the server has stopped.
///
/// # Examples
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use tcphub::{Framing, TcpServer};
///
/// let server = TcpServer::new(0, 10)
///     .bind("127.0.0.1".parse()?)
///     .framing(Framing::lines())
///     .on_message(|srv, _c, msg| { srv.send_all(msg); })
///     .start()?;
/// let mut a = std::net::TcpStream::connect(server.local_addr())?;
/// a.write_all(b"hello\n")?;
/// let mut line = String::new();
/// BufReader::new(a).read_line(&mut line)?;
/// assert_eq!(line, "hello\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping the last handle stops the server"]
pub struct ServerHandle {
    pub(crate) core: Arc<Core>,
    /// Present on handles the application owns: the last one dropped stops
    /// the server. The loops' own handle has none, so it never keeps the
    /// server alive by itself.
    pub(crate) guard: Option<Arc<StopGuard>>,
    /// Only on the handle a loop passes to its callbacks (not on clones):
    /// the client whose `on_message` is running there.
    pub(crate) speaker: Option<Speaker>,
}

/// The client whose `on_message` is running on a loop, so that a reply to
/// it (`send`, an echo's or a chat's common case) finds its loop without
/// the registry's shard lock: a client belongs to one loop for its whole
/// life, and during its callback it is listed (a kick it makes is applied
/// after the callback). Kept on the loop's own handle rather than in a
/// thread-local, which costs a `__tls_get_addr` call per access in
/// libtcphub (a shared library).
#[derive(Debug)]
pub(crate) struct Speaker {
    /// The loop.
    idx: usize,
    /// The client's id while its `on_message` runs, else 0 (no client).
    id: std::sync::atomic::AtomicU64,
}

impl Speaker {
    pub(crate) fn new(idx: usize) -> Speaker {
        Speaker {
            idx,
            id: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Marks client `id` as speaking (0: nobody). Written and read by the
    /// loop's thread (its callbacks), so no ordering is needed.
    #[inline]
    pub(crate) fn set(&self, id: ClientId) {
        self.id.store(id, std::sync::atomic::Ordering::Relaxed);
    }

    /// The loop of client `id` if it is the one speaking.
    #[inline]
    fn loop_of(&self, id: ClientId) -> Option<usize> {
        (self.id.load(std::sync::atomic::Ordering::Relaxed) == id).then_some(self.idx)
    }
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.core.local_addr)
            .field("running", &self.is_running())
            .finish()
    }
}

impl Clone for ServerHandle {
    fn clone(&self) -> ServerHandle {
        let guard = match &self.guard {
            Some(g) => Some(g.clone()),
            None => self.core.user_token.get().and_then(|w| w.upgrade()),
        };
        ServerHandle {
            core: self.core.clone(),
            guard,
            speaker: None,
        }
    }
}

impl ServerHandle {
    /// The address actually bound (port 0 resolved). An IPv4-mapped IPv6
    /// address (`::ffff:127.0.0.1`) is given as the IPv4 address it stands
    /// for, as clients are reported and as a client reports its server.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert_eq!(s.local_addr().ip().to_string(), "127.0.0.1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.core.local_addr
    }

    /// The framing the server uses.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert_eq!(s.framing(), tcphub::Framing::Raw);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn framing(&self) -> Framing {
        self.core.config.framing
    }

    /// Whether the server is running (started and not stopped).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert!(s.is_running());
    /// s.stop();
    /// assert!(!s.is_running());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_running(&self) -> bool {
        self.core.running.load(Ordering::Acquire) && !self.core.origin.forked()
    }

    /// Queues `msg` for every connected client; returns the number of clients
    /// connected at the call (0 when stopped or when the framing refuses
    /// `msg`, too large or, for `Lines`, holding a `\n` — see
    /// [`try_send_all`](ServerHandle::try_send_all) for the error). A client
    /// already being disconnected, or one whose queue is full
    /// under [`Overflow::DropMessage`](crate::Overflow::DropMessage), is
    /// counted but does not get it. A client held open for replies after
    /// it finished sending (in pull mode, or with
    /// [`hold_for_replies`](crate::TcpServer::hold_for_replies); see
    /// [`Event::Disconnected`](crate::Event::Disconnected)) gets it but is
    /// not counted: it was reported gone. It is held at least until your
    /// next call for events, so a notice you broadcast on its
    /// `Disconnected` reaches it too; leave it out with
    /// [`send_all_except`](ServerHandle::send_all_except).
    ///
    /// The message is framed once and the buffer is shared by all recipients.
    /// Clients accepted after the call do not receive it, whichever loop
    /// takes them in and whenever that loop applies the message — also a
    /// peer whose `connect()` had returned but that still waited in the
    /// listen backlog (see [`send_to`](ServerHandle::send_to)), and the
    /// rest of an accept batch after an `on_connect` that calls `send_all`.
    /// One accepted at about the time of the call, whose event loop had not
    /// yet taken it in (its `on_connect` not yet run), is not counted and
    /// may or may not get it.
    ///
    /// It does not wait for the network. Called from an application thread
    /// it waits only while an event loop is more than 64 MiB of messages
    /// behind (backpressure, e.g. while a slow callback holds that loop up);
    /// called from inside a server callback (of this server or another) it
    /// never waits. (A [`TcpClient`](crate::TcpClient)'s callback is an
    /// application thread here: it may wait, which delays that client.) The same holds for
    /// [`send`](ServerHandle::send) and [`send_to`](ServerHandle::send_to).
    /// So do not send much while holding a lock your callbacks take: a loop
    /// waiting in a callback for that lock falls behind, and the sends wait
    /// for that loop: past 64 MiB, for good (a deadlock).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert_eq!(s.send_all(b"nobody is here"), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_all(&self, msg: &[u8]) -> usize {
        count_or_warn("send_all", self.try_send_all(msg))
    }

    /// Like [`send_all`](ServerHandle::send_all), but says why nothing was sent.
    ///
    /// # Errors
    ///
    /// [`Error::NotRunning`] after `stop()`; [`Error::FrameTooLarge`] when
    /// `msg` exceeds the framing's `max_len`; [`Error::InvalidMessage`] when
    /// it contains `\n` under [`Framing::Lines`] —
    /// both before any client gets it. A `stop()` from another thread
    /// that begins while the message is being handed to the event loops
    /// also gives `NotRunning`, though the clients of the loops it reached
    /// first may still get it (a stop flushes what was queued).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// s.stop();
    /// assert!(matches!(s.try_send_all(b"x"), Err(tcphub::Error::NotRunning)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_send_all(&self, msg: &[u8]) -> Result<usize> {
        self.broadcast(0, msg)
    }

    /// Queues `msg` for every connected client except client `except` —
    /// typically a chat's "everyone but the sender" — and returns how many
    /// clients that was at the call (0 when stopped or when the framing
    /// refuses `msg`; see [`try_send_all_except`](ServerHandle::try_send_all_except)
    /// for the error). Otherwise exactly like
    /// [`send_all`](ServerHandle::send_all): one shared buffer, the clients
    /// connected at the call, the same waiting rules. An `except` that is
    /// not connected excludes nobody. If `except` connects or leaves during
    /// the call (from another thread), the count may be one off; the message
    /// never reaches `except`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tcphub::TcpServer;
    ///
    /// let server = TcpServer::new(0, 10)
    ///     .bind("127.0.0.1".parse()?)
    ///     .on_message(|srv, from, msg| {
    ///         srv.send_all_except(from.id, msg); // relay to the others
    ///     })
    ///     .start()?;
    /// assert_eq!(server.send_all_except(1, b"nobody is here"), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_all_except(&self, except: ClientId, msg: &[u8]) -> usize {
        count_or_warn("send_all_except", self.try_send_all_except(except, msg))
    }

    /// Like [`send_all_except`](ServerHandle::send_all_except), but says why
    /// nothing was sent.
    ///
    /// # Errors
    ///
    /// [`Error::NotRunning`] after `stop()`; [`Error::FrameTooLarge`] when
    /// `msg` exceeds the framing's `max_len`; [`Error::InvalidMessage`] when
    /// it contains `\n` under [`Framing::Lines`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert_eq!(s.try_send_all_except(7, b"x")?, 0);
    /// s.stop();
    /// assert!(matches!(s.try_send_all_except(7, b"x"), Err(tcphub::Error::NotRunning)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_send_all_except(&self, except: ClientId, msg: &[u8]) -> Result<usize> {
        self.broadcast(except, msg)
    }

    /// Frames `msg` once and posts it to every loop for the clients
    /// connected now but `except` (0, never a client's id: nobody); returns
    /// how many that is.
    fn broadcast(&self, except: ClientId, msg: &[u8]) -> Result<usize> {
        self.check_running()?;
        let framed_len = self.core.config.framing.framed_len(msg)?;
        // The count first, then the id bound: every client the count saw was
        // registered by its loop (so that loop takes this message after
        // adopting it) and got its id before that, so it is below `below`
        // and receives the message. The other order could count a client
        // admitted between the two reads, whose id is not below the bound.
        let mut n = self.core.registry.len();
        let below = crate::shared::client_ids_below();
        if except != 0 && self.core.registry.get(except).is_some() {
            n = n.saturating_sub(1);
        }
        if framed_len == 0 {
            return Ok(n); // an empty raw message: nothing to write
        }
        let audience = Audience { below, except };
        // From a callback on one of our loops: gathered (`gather.rs`).
        if let Some(done) = self.core.gather_broadcast(msg, framed_len, audience) {
            return done.map(|()| n);
        }
        let frame = self.core.config.framing.encode(msg)?;
        for idx in 0..self.core.loops.len() {
            let run = Run::one(frame.clone());
            self.core
                .post_message(idx, Command::Broadcast(run, audience))?;
        }
        Ok(n)
    }

    /// Queues `msg` for the client whose remote endpoint is `ip:port`.
    ///
    /// IPv4 clients of a dual-stack (`::`) server are matched by their plain
    /// IPv4 address. The message goes to the client connected from there
    /// when the call looks it up (by id): if that one leaves, it is not
    /// handed to a later client from the same address. Should two connected
    /// clients share the address (a server listening on several addresses,
    /// `0.0.0.0`, reached at two of them from one host's same port; or the
    /// same IPv6 link-local address on two interfaces, which an `IpAddr`
    /// does not tell apart, having no zone), it goes to the one that
    /// connected last; once that one leaves, to the other. To reach one of
    /// them in particular, use its id ([`send`](ServerHandle::send)). A client held open for replies after its leaving was reported
    /// ([`hold_for_replies`](crate::TcpServer::hold_for_replies), or a
    /// pull-mode client's `Disconnected`) counts as connected here until
    /// its connection closes: while the newer one is held, it is the one
    /// reached, though only the older one is listed by
    /// [`clients`](ServerHandle::clients).
    ///
    /// A client is found from its [`on_connect`](crate::TcpServer::on_connect)
    /// (or [`Event::Connected`](crate::Event::Connected)) on, not from the
    /// moment its `connect()` returns: the kernel completes the handshake
    /// before the server's loop accepts the connection, so a `send_to`
    /// right after a peer connected may find no one yet (the same holds
    /// for [`send`](ServerHandle::send) and [`clients`](ServerHandle::clients)).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchClient`] when no client is connected from there,
    /// [`Error::NotRunning`], [`Error::FrameTooLarge`],
    /// [`Error::InvalidMessage`] (a `\n` under `Lines`, as
    /// [`send`](ServerHandle::send)).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// let r = s.send_to("127.0.0.1".parse()?, 1, b"hi");
    /// assert!(matches!(r, Err(tcphub::Error::NoSuchClient(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_to(&self, ip: IpAddr, port: u16, msg: &[u8]) -> Result<()> {
        self.check_running()?;
        let addr = SocketAddr::new(ip.to_canonical(), port);
        let (id, idx) = self
            .core
            .registry
            .by_addr(&addr)
            .ok_or(Error::NoSuchClient(ClientRef::Addr(addr)))?;
        self.post_send(idx, id, msg)
    }

    /// Queues `msg` for client `id`. Messages to one client are written in the
    /// order queued.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchClient`] when `id` is not connected, [`Error::NotRunning`],
    /// [`Error::FrameTooLarge`] when `msg` exceeds the framing's `max_len`,
    /// [`Error::InvalidMessage`] when it contains `\n` under
    /// [`Framing::Lines`] (it would arrive as several
    /// lines).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert!(matches!(
    ///     s.send(42, b"hi"),
    ///     Err(tcphub::Error::NoSuchClient(tcphub::ClientRef::Id(42)))
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send(&self, id: ClientId, msg: &[u8]) -> Result<()> {
        let idx = match self.speaker.as_ref().and_then(|s| s.loop_of(id)) {
            // A reply from the client's own `on_message`: no registry lookup.
            Some(idx) => {
                self.check_running()?;
                idx
            }
            None => self.owner(id)?,
        };
        self.post_send(idx, id, msg)
    }

    /// Frames `msg` for client `id` of loop `idx` and posts it — gathered
    /// instead, from a callback on one of our loops (`gather.rs`).
    fn post_send(&self, idx: usize, id: ClientId, msg: &[u8]) -> Result<()> {
        let framed_len = self.core.config.framing.framed_len(msg)?;
        if framed_len == 0 {
            return Ok(()); // an empty raw message: nothing to write or count
        }
        if let Some(done) = self.core.gather_send(idx, id, msg, framed_len) {
            return done;
        }
        let frame = self.core.config.framing.encode(msg)?;
        self.core
            .post_message(idx, Command::Send(id, Run::one(frame)))
    }

    /// Disconnects client `id`; its disconnect event carries
    /// [`DisconnectReason::Kicked`](crate::DisconnectReason::Kicked). Data
    /// already queued for it is written first (for up to the linger time),
    /// and if the client keeps sending meanwhile its socket stays open for
    /// up to another linger time until it has received that data (closing
    /// under its writes would make the kernel reset the connection and drop
    /// it; each event loop keeps at most min(1024, `max_clients`) sockets
    /// lingering so, and closes one past that at once); nothing queued
    /// after this call is written. Called from a
    /// callback of the client's own event loop (e.g. its `on_message`, on
    /// `/quit`), it also stops its messages at once: what else it sent in
    /// the same read is dropped, not handed to `on_message`. From any other
    /// thread, nothing the client sends after the call returned is handed
    /// out; what its loop had read of it by then may still be. Like a
    /// send, called from an application thread it waits while the client's
    /// loop is more than 64 MiB behind (a kick counts its command's size);
    /// from inside a server callback it never waits.
    ///
    /// It returns before the client is gone: until its loop has acted on
    /// the kick (by its `on_disconnect` or
    /// [`Event::Disconnected`](crate::Event::Disconnected) at the latest),
    /// it may still be listed by [`clients`](ServerHandle::clients), and
    /// `send`, `send_to` and `disconnect` for it may still return `Ok` —
    /// what they queue is not written, and is counted in
    /// [`Stats::undelivered`](crate::Stats::undelivered).
    ///
    /// A client held open for replies after its leaving was reported (pull
    /// mode, see [`Event::Disconnected`](crate::Event::Disconnected); or
    /// [`hold_for_replies`](crate::TcpServer::hold_for_replies)) can still
    /// be disconnected (it returns `Ok`): that ends the hold once what is
    /// queued for it is written, and no second leaving is reported.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchClient`], [`Error::NotRunning`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert!(s.disconnect(1).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn disconnect(&self, id: ClientId) -> Result<()> {
        let idx = self.owner(id)?;
        self.core.post(idx, Command::Kick(id));
        Ok(())
    }

    /// The connected clients, by id.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert!(s.clients().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clients(&self) -> Vec<Client> {
        if self.core.origin.forked() {
            return Vec::new(); // stopped here (see `fork.rs`)
        }
        self.core.registry.all()
    }

    /// The connected client with this id, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert!(s.client(1).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client(&self, id: ClientId) -> Option<Client> {
        if self.core.origin.forked() {
            return None;
        }
        self.core.registry.get(id)
    }

    /// Number of connected clients.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert_eq!(s.client_count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client_count(&self) -> usize {
        if self.core.origin.forked() {
            return 0;
        }
        self.core.registry.len()
    }

    /// The server's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert_eq!(s.stats().msgs_in, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> Stats {
        stats::sum(&self.core.counters, || self.client_count() as u64)
    }

    /// The pull-mode event receiver (see [`Events`]). In callback mode (any
    /// callback set) no events are queued: the receiver is already ended
    /// (`recv` and `try_recv` give `None`), and the calls that return a
    /// `Result` answer [`Error::CallbackMode`].
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// let events = s.events();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn events(&self) -> Events {
        Events {
            rx: self.core.events_rx.clone(),
            leftovers: self.core.leftovers.clone(),
            core: Arc::downgrade(&self.core),
            releases: self.core.releases.clone(),
            load: self.core.event_load.clone(),
            origin: self.core.origin,
            callback_mode: self.core.callbacks.any(),
        }
    }

    /// Stops gracefully: stop accepting, flush queued messages (up to the
    /// linger time), report every remaining client as
    /// [`DisconnectReason::ServerStopped`](crate::DisconnectReason::ServerStopped),
    /// join the I/O threads and release the port. Idempotent. Called from
    /// inside a callback — of this server or of any other — it starts the
    /// stop and returns at once (a thread cannot join itself, and a loop
    /// waiting for another server's loops could deadlock with them); a later
    /// `stop()` or [`wait`](ServerHandle::wait) from another thread, or
    /// dropping the last handle there, waits for the loops. The same holds for
    /// any handle, also one a callback passed to another thread while
    /// `start()` was still spawning the loops: its `stop()` waits for
    /// `start()` to have spawned them all, then joins them.
    ///
    /// Once the stop has begun ([`is_running`](ServerHandle::is_running)
    /// false) the event loops read no more input: sends fail with
    /// [`Error::NotRunning`] from then on, so no message
    /// is handed to `on_message` (or queued for [`events`](ServerHandle::events))
    /// whose reply would be refused — what was read but not handed out yet
    /// is dropped with what the clients send afterwards. Only a callback
    /// already running when another thread stops the server meets the
    /// refusal; a callback that stops the server itself sends its last
    /// words first. (In pull mode the events queued before the stop are
    /// still there to take; replies to them are refused.)
    ///
    /// A connection the kernel had completed but the server had not
    /// accepted yet (still in the listen backlog when the stop began) was
    /// never the server's: the kernel resets it as the listening socket
    /// closes, so that client sees a reset, not an end-of-stream, and no
    /// event is reported for it.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// let addr = s.local_addr();
    /// s.stop();
    /// s.stop();
    /// // the port is free again
    /// let again = tcphub::TcpServer::new(addr.port(), 1).bind(addr.ip()).start()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(&self) {
        self.core.stop();
    }

    /// Starts a graceful stop, like [`stop`](ServerHandle::stop), and waits
    /// at most `timeout` for it to finish (queues flushed or the linger time
    /// over, every `on_disconnect` run, the loops ended); returns whether it
    /// did. If not, the stop goes on: a later `stop()`,
    /// [`wait`](ServerHandle::wait), `stop_timeout` or dropping the last
    /// handle finishes waiting for it. For a caller that must stay
    /// responsive (a binding checking for Ctrl-C between short waits, a
    /// service manager's deadline). On a tcphub I/O thread it does not
    /// wait, as `stop()` does not there: it returns at once whether the
    /// stop had finished (`false` for its own server's, from one of its
    /// callbacks).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// while !s.stop_timeout(Duration::from_millis(50)) {
    ///     // e.g. check for a signal, then wait again
    /// }
    /// assert!(!s.is_running());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop_timeout(&self, timeout: Duration) -> bool {
        self.core.stop_within(timeout)
    }

    /// Starts a graceful stop, like [`stop`](ServerHandle::stop), and returns
    /// at once without waiting for the event loops (a later `stop()`,
    /// [`wait`](ServerHandle::wait) or dropping the last handle waits for
    /// them). For threads that must not block: a binding's callback thread,
    /// a signal-handling thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// s.begin_stop();
    /// assert!(!s.is_running());
    /// s.stop(); // waits for the loops
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn begin_stop(&self) {
        self.core.begin_stop();
    }

    /// Blocks until the server has stopped (by `stop()` on another thread or
    /// inside a callback). Inside a callback of the running server it blocks
    /// that loop — its other clients wait — until another thread stops the
    /// server: use [`wait_timeout`](ServerHandle::wait_timeout) there, if
    /// at all.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// let s2 = s.clone();
    /// std::thread::spawn(move || s2.stop());
    /// s.wait();
    /// assert!(!s.is_running());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) {
        self.wait_timeout(Duration::MAX);
    }

    /// Like [`wait`](ServerHandle::wait), but for at most `timeout`: returns
    /// whether the server has stopped and its loops have ended by then
    /// (`Duration::MAX`: no limit). On a tcphub I/O thread (inside a
    /// callback) it sleeps, holding up that loop, while the server runs, and
    /// the loops cannot end meanwhile: once the server has stopped it
    /// returns at once whether they had ended (`false` inside one of its own
    /// callbacks), as [`stop_timeout`](ServerHandle::stop_timeout) does there.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = tcphub::TcpServer::new(0, 1).bind("127.0.0.1".parse()?).start()?;
    /// assert!(!s.wait_timeout(Duration::from_millis(10))); // still running
    /// s.begin_stop();
    /// assert!(s.wait_timeout(Duration::from_secs(10)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        /// How often the wait looks whether the server still runs (it may
        /// last the server's whole life: no need to look more often).
        const POLL: Duration = Duration::from_millis(20);
        let deadline = crate::shared::deadline_after(timeout);
        while self.is_running() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            std::thread::sleep(left.min(POLL));
        }
        // Stopped: now the loops (the flush, the last callbacks). On a
        // tcphub I/O thread they cannot be waited for (this callback may be
        // one of them): `stop_timeout` answers there without waiting.
        if timeout == Duration::MAX && !crate::shared::on_any_io_thread() {
            self.core.stop(); // joins the loops
            return true;
        }
        self.stop_timeout(deadline.saturating_duration_since(Instant::now()))
    }

    /// The shared state, for the event loops.
    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// The loop owning client `id` of this running server.
    fn owner(&self, id: ClientId) -> Result<usize> {
        self.check_running()?;
        self.core
            .registry
            .loop_of(id)
            .ok_or(Error::NoSuchClient(ClientRef::Id(id)))
    }

    fn check_running(&self) -> Result<()> {
        if self.is_running() {
            Ok(())
        } else {
            Err(Error::NotRunning)
        }
    }
}

/// `send_all`'s answer from `try_send_all`'s: the count, or 0 — with a
/// warning, except for `NotRunning`, which is documented and normal while
/// stopping (e.g. an `on_disconnect` announcing a leave during `stop()`).
fn count_or_warn(what: &str, sent: Result<usize>) -> usize {
    match sent {
        Ok(n) => n,
        Err(Error::NotRunning) => 0,
        Err(e) => {
            log::warn!("tcphub: {what}: {e}");
            0
        }
    }
}
