//! The notices the server itself sends to a client it cuts off for a
//! timeout ([`TcpServer::idle_timeout_message`],
//! [`TcpServer::frame_timeout_message`]) or for an oversize frame
//! ([`TcpServer::frame_too_large_message`]), so the peer learns why instead
//! of seeing a bare end-of-stream. (The notice for connections refused at
//! `max_clients` is [`TcpServer::full_message`].)

use std::sync::Arc;

use super::TcpServer;

impl TcpServer {
    /// A message sent, framed like every other message, to each client cut
    /// off by the [`idle_timeout`](TcpServer::idle_timeout), before its
    /// connection is closed (default: none, the client sees only the
    /// end-of-stream). It is queued after whatever was already queued for
    /// the client, which gets the [`linger`](TcpServer::linger) time to
    /// take it all; it is queued even when the client's queue is full (it
    /// is at most [`MAX_FULL_MESSAGE`](crate::MAX_FULL_MESSAGE) bytes framed)
    /// and is not counted in [`Stats`](crate::Stats)' `msgs_out` (its bytes,
    /// once written, are in `bytes_out`, with everything written to clients).
    /// A client still sending when it is cut off gets it too: what it sends
    /// is read and discarded until the notice is acknowledged (as for a
    /// kicked client; see [`linger`](TcpServer::linger)), and only its
    /// writes after that fail.
    ///
    /// [`start`](TcpServer::start) refuses, as
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig), a message the
    /// framing cannot carry (a `\n` under [`Framing::Lines`](crate::Framing::Lines))
    /// or longer than `MAX_FULL_MESSAGE` framed. The application's
    /// [`Event::Disconnected`](crate::Event::Disconnected) still says
    /// [`IdleTimeout`](crate::DisconnectReason::IdleTimeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// use tcphub::{Framing, TcpServer};
    ///
    /// let server = TcpServer::new(0, 10)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .idle_timeout(Duration::from_millis(200))
    ///     .idle_timeout_message("disconnected: idle for too long")
    ///     .start()?;
    /// let mut sock = std::net::TcpStream::connect(server.local_addr())?;
    /// let mut notice = String::new();
    /// sock.read_to_string(&mut notice)?; // the notice, then end-of-stream
    /// assert_eq!(notice, "disconnected: idle for too long\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn idle_timeout_message(mut self, msg: impl AsRef<[u8]>) -> TcpServer {
        self.config.idle_message = Some(Arc::from(msg.as_ref()));
        self
    }

    /// A message sent to each client cut off by the
    /// [`frame_timeout`](TcpServer::frame_timeout) (a frame begun and not
    /// finished in time), before its connection is closed; otherwise as
    /// [`idle_timeout_message`](TcpServer::idle_timeout_message). The
    /// client's unfinished frame is dropped, as without the notice.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// use tcphub::{Framing, TcpServer};
    ///
    /// let server = TcpServer::new(0, 10)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .frame_timeout(Duration::from_millis(200))
    ///     .frame_timeout_message("disconnected: line not finished in time")
    ///     .start()?;
    /// let mut sock = std::net::TcpStream::connect(server.local_addr())?;
    /// sock.write_all(b"a line that never ends")?;
    /// let mut notice = String::new();
    /// sock.read_to_string(&mut notice)?;
    /// assert_eq!(notice, "disconnected: line not finished in time\n");
    /// assert_eq!(server.stats().frame_timeouts, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn frame_timeout_message(mut self, msg: impl AsRef<[u8]>) -> TcpServer {
        self.config.frame_timeout_message = Some(Arc::from(msg.as_ref()));
        self
    }

    /// A message sent to each client cut off for a frame over the
    /// framing's `max_len` ([`DisconnectReason::FrameTooLarge`](crate::DisconnectReason::FrameTooLarge)),
    /// before its connection is closed; otherwise as
    /// [`idle_timeout_message`](TcpServer::idle_timeout_message): what the
    /// client sent before the oversize frame was handed on, what it sends
    /// after is read and discarded until the notice is acknowledged. A peer
    /// that speaks another framing (a text line read as a length header)
    /// learns that it was cut off rather than seeing a bare end-of-stream,
    /// though it may not decode the notice. The notice itself is a message
    /// of the framing: at most `max_len` bytes. Under
    /// [`Framing::Raw`](crate::Framing::Raw) no frame is too large: it is
    /// never sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use tcphub::{Framing, TcpServer};
    ///
    /// let server = TcpServer::new(0, 10)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::Lines { max_len: 64 })
    ///     .frame_too_large_message("disconnected: a line over 64 bytes")
    ///     .start()?;
    /// let mut sock = std::net::TcpStream::connect(server.local_addr())?;
    /// sock.write_all(&[b'x'; 100])?;
    /// let mut notice = String::new();
    /// sock.read_to_string(&mut notice)?; // the notice, then end-of-stream
    /// assert_eq!(notice, "disconnected: a line over 64 bytes\n");
    /// assert_eq!(server.stats().frame_too_large, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn frame_too_large_message(mut self, msg: impl AsRef<[u8]>) -> TcpServer {
        self.config.frame_too_large_message = Some(Arc::from(msg.as_ref()));
        self
    }
}
