//! Where a [`TcpClient`] stands: its connection's addresses, whether it
//! is open or connected, why it ended, and what its queue holds or lost.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use crate::client::TcpClient;
#[cfg(doc)]
use crate::error::Error;
use crate::event::DisconnectReason;

impl TcpClient {
    /// Local address of the current (or last) connection, as the server
    /// lists this client: an IPv4-mapped IPv6 address (a connection to
    /// `[::ffff:127.0.0.1]:PORT`) is given as the IPv4 address.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert!(client.local_addr().ip().is_loopback());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.core.addrs().0
    }

    /// The server's address (of the current or last connection). An
    /// IPv4-mapped IPv6 address is given as the IPv4 address it stands for.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert_eq!(client.peer_addr(), server.local_addr());
    ///
    /// // Dialled as an IPv4-mapped address (where the system has IPv6):
    /// let port = server.local_addr().port();
    /// if let Ok(c) = tcphub::TcpClient::connect(format!("[::ffff:127.0.0.1]:{port}")) {
    ///     assert_eq!(c.peer_addr(), server.local_addr());
    ///     assert!(c.local_addr().is_ipv4());
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peer_addr(&self) -> SocketAddr {
        self.core.addrs().1
    }

    /// Why the most recent connection ended, `None` while none has: a clean
    /// close by the server ([`DisconnectReason::ClosedByPeer`]; when it
    /// ends its side with messages still queued here and reconnecting is
    /// off, those are dropped at once and the connection reset, see
    /// [`unsent`](TcpClient::unsent) —
    /// under [`write_after_server_eof(true)`](crate::ClientBuilder::write_after_server_eof)
    /// they are written first instead, within the linger time, and
    /// `Io(TimedOut)` if they could not be), by this side
    /// ([`DisconnectReason::ClosedLocally`]: `close()` ended the connection
    /// before the server ended its side — a server whose end-of-stream
    /// came first, even while `close()` was still writing the queue, gives
    /// `ClosedByPeer` as above; `Io(TimedOut)` when `close()`
    /// ran out of linger time with messages unsent) or a fault (a reset, a frame
    /// over the framing's limit, a connection closed in the middle of a
    /// frame). Set before the drop is reported, so once
    /// [`recv`](TcpClient::recv) returns `None` it says why. It keeps the
    /// last reason after a reconnect; when reconnecting gives up (after
    /// [`Reconnect::max_attempts`](crate::Reconnect::max_attempts) failed
    /// attempts) it is [`DisconnectReason::ReconnectGaveUp`], the final
    /// reason, rather than the drop before the attempts; likewise a
    /// `close()` between connections whose redial to flush the queued
    /// messages fails gives that dial's error (`Io(ConnectionRefused)`,
    /// say) as the messages are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use tcphub::{DisconnectReason, TcpClient, TcpServer};
    /// let server = TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = TcpClient::connect(server.local_addr())?;
    /// assert_eq!(client.disconnect_reason(), None);
    /// server.stop(); // the client sees EOF
    /// assert_eq!(client.recv(), None);
    /// assert_eq!(client.disconnect_reason(), Some(DisconnectReason::ClosedByPeer));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        // In a forked child whose parent's I/O thread was setting it at the
        // fork: `None` (not known), rather than wait for ever.
        self.core.read_now(&self.core.last_disconnect).flatten()
    }

    /// Why [`send`](TcpClient::send) is refused with
    /// [`Error::NotRunning`] right now, in words for a person (the error
    /// itself cannot tell which cause it is); `None` while
    /// sends are taken. The bindings put it in their errors.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert_eq!(client.send_refusal(), None);
    /// client.shutdown_write()?;
    /// assert!(client.send_refusal().unwrap().contains("shutdown_write()"));
    /// client.close();
    /// assert_eq!(client.send_refusal().as_deref(), Some("the client is closed"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_refusal(&self) -> Option<String> {
        if self.core.origin.forked() {
            return Some("the client was opened before fork(): this process is the child".into());
        }
        if self.is_open() {
            return self.core.write_shut.load(Ordering::Acquire).then(|| {
                "sending was finished by shutdown_write(): the client only receives now".into()
            });
        }
        Some(match self.disconnect_reason() {
            Some(r) if r != DisconnectReason::ClosedLocally => {
                format!("the connection is closed ({r})")
            }
            _ => "the client is closed".into(),
        })
    }

    /// Whether the client is open: not closed and not ended for good (after
    /// [`shutdown_write`](TcpClient::shutdown_write) it stays open to
    /// receive while `send` is refused).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert!(client.is_open());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_open(&self) -> bool {
        self.core.open.load(Ordering::Acquire) && !self.core.origin.forked()
    }

    /// Whether a connection is up right now (false while reconnecting).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert!(client.is_connected());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.core.connected.load(Ordering::Acquire) && !self.core.origin.forked()
    }

    /// Bytes accepted by `send` and not yet written to the socket.
    ///
    /// Against [`ClientBuilder::max_queue_bytes`](crate::ClientBuilder::max_queue_bytes)
    /// each queued message also counts 48 bytes of bookkeeping, so the
    /// bound holds for tiny messages too.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// assert_eq!(client.queued_bytes(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queued_bytes(&self) -> usize {
        if self.core.origin.forked() {
            return 0; // the parent's I/O thread writes it, not this process
        }
        self.core.queued.load(Ordering::Acquire)
    }

    /// Bytes written to the connection that the server's system has not
    /// acknowledged yet: sent but not known to have arrived, or not sent
    /// yet by the system. With [`queued_bytes`](TcpClient::queued_bytes)
    /// (not written yet), what stands between `send` and the server having
    /// it — the server's system, that is; whether the server application
    /// read it only a reply can tell. `None` while no connection is up
    /// (connecting, between reconnects, closed) and where the system does
    /// not say (it does on Linux and Android, through `SIOCOUTQ`).
    ///
    /// Watching it fall tells a slow but steady reader from one that has
    /// stopped: after [`shutdown_write`](TcpClient::shutdown_write), say,
    /// before a [`close`](TcpClient::close) whose linger time would
    /// otherwise run out while the server is still taking the data.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let server = tcphub::TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = tcphub::TcpClient::connect(server.local_addr())?;
    /// client.send(b"hello")?;
    /// client.flush(Duration::from_secs(10))?; // written
    /// // Acknowledged soon after, over loopback.
    /// let deadline = Instant::now() + Duration::from_secs(10);
    /// while client.unacknowledged_bytes().is_some_and(|n| n > 0) && Instant::now() < deadline {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// assert!(matches!(client.unacknowledged_bytes(), Some(0) | None));
    /// client.close();
    /// assert_eq!(client.unacknowledged_bytes(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unacknowledged_bytes(&self) -> Option<usize> {
        if self.core.origin.forked() {
            return None; // the parent's connection
        }
        self.core.socket.unacknowledged()
    }

    /// Messages [`send`](TcpClient::send) accepted that were never written
    /// whole: those still queued when the client ended for good and were
    /// dropped — the connection lost without reconnecting (or reconnecting
    /// gave up), [`close`](TcpClient::close) out of linger time, or the
    /// server's end-of-stream (unless
    /// [`write_after_server_eof(true)`](crate::ClientBuilder::write_after_server_eof)).
    /// 0 while the client is open: what is queued then may still be
    /// written. A message cut off in the middle counts as unsent (the
    /// server gets none of it as a message). Messages written but never
    /// read by the server are not counted: the client cannot see those.
    ///
    /// # Examples
    ///
    /// ```
    /// use tcphub::{Framing, TcpClient, TcpServer};
    ///
    /// let server = TcpServer::new(0, 10).bind("127.0.0.1".parse()?).start()?;
    /// let client = TcpClient::builder(server.local_addr())
    ///     .framing(Framing::lines())
    ///     .connect()?;
    /// client.send(b"hello")?;
    /// client.close(); // flushed within the linger time
    /// assert_eq!(client.unsent(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unsent(&self) -> u64 {
        self.core.unsent.load(Ordering::Acquire)
    }
}
