//! A limit on the clients one IP address may have connected at a time
//! ([`TcpServer::max_clients_per_ip`]) and the notice to a connection
//! refused at it ([`TcpServer::per_ip_full_message`]): one host must not
//! take all of `max_clients`. Enforced at accept (`event_loop/accept.rs`,
//! counted in `Core::per_ip`).

use std::sync::Arc;

use super::TcpServer;

impl TcpServer {
    /// At most `n` clients from one IP address at a time (default: no
    /// limit but `max_clients`). A connection past it is accepted and
    /// closed at once, as one past `max_clients` is, after the
    /// [`per_ip_full_message`](TcpServer::per_ip_full_message) if set, and
    /// counted in [`Stats::rejected_per_ip`](crate::Stats::rejected_per_ip).
    /// A client's place is given back when its connection is closed, as
    /// its place among `max_clients` is (a client held open for replies
    /// after its [`Disconnected`](crate::Event::Disconnected) keeps it
    /// until then). So one host cannot take all of `max_clients` — a
    /// defence for a server open to the internet, with
    /// [`idle_timeout`](TcpServer::idle_timeout) and
    /// [`frame_timeout`](TcpServer::frame_timeout).
    ///
    /// Addresses count whole: an IPv4 client on a dual-stack listener
    /// (`::ffff:a.b.c.d`) as its IPv4 address, an IPv6 one by all 128 bits
    /// (a host given a /64 has many); clients behind one NAT or proxy share
    /// an address, and its limit.
    ///
    /// When the server is full as well, `max_clients` decides: the
    /// connection gets the [`full_message`](TcpServer::full_message) and
    /// counts in [`Stats::rejected`](crate::Stats::rejected), not here.
    ///
    /// # Errors
    ///
    /// [`start`](TcpServer::start) (and [`validate`](TcpServer::validate))
    /// fail with [`Error::InvalidConfig`](crate::Error::InvalidConfig) for
    /// `n` = 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use tcphub::{Framing, TcpServer};
    ///
    /// let server = TcpServer::new(0, 100)
    ///     .bind("127.0.0.1".parse()?)
    ///     .framing(Framing::lines())
    ///     .max_clients_per_ip(1)
    ///     .per_ip_full_message("one connection per address")
    ///     .start()?;
    /// let first = tcphub::TcpClient::connect(server.local_addr())?;
    /// while server.client_count() < 1 {
    ///     std::thread::yield_now();
    /// }
    /// let mut second = std::net::TcpStream::connect(server.local_addr())?;
    /// let mut notice = String::new();
    /// second.read_to_string(&mut notice)?; // the notice, then end-of-stream
    /// assert_eq!(notice, "one connection per address\n");
    /// assert_eq!(server.stats().rejected_per_ip, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_clients_per_ip(mut self, n: usize) -> TcpServer {
        self.config.max_clients_per_ip = Some(n);
        self
    }

    /// A message written, framed, to each connection refused at
    /// [`max_clients_per_ip`](TcpServer::max_clients_per_ip) before it is
    /// closed (default: none); otherwise as
    /// [`full_message`](TcpServer::full_message), the notice for one
    /// refused at `max_clients`, with its limits.
    ///
    /// # Examples
    ///
    /// See [`max_clients_per_ip`](TcpServer::max_clients_per_ip).
    pub fn per_ip_full_message(mut self, msg: impl AsRef<[u8]>) -> TcpServer {
        self.config.per_ip_full_message = Some(Arc::from(msg.as_ref()));
        self
    }
}
