//! A limit on the clients one IP address may have connected at a time
//! ([`TcpServer::max_clients_per_ip`]) and the notice to a connection
//! refused at it ([`TcpServer::per_ip_full_message`]): one host must not
//! take all of `max_clients`. Enforced at accept (`event_loop/accept.rs`,
//! counted in `Core::per_ip`).

use std::net::{IpAddr, Ipv6Addr};
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
    /// unless [`per_ip_ipv6_prefix`](TcpServer::per_ip_ipv6_prefix) says
    /// otherwise (a host given a /64 has many addresses); clients behind one
    /// NAT or proxy share an address, and its limit.
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
    /// # Errors
    ///
    /// [`start`](TcpServer::start) (and [`validate`](TcpServer::validate))
    /// fail with [`Error::InvalidConfig`](crate::Error::InvalidConfig) for
    /// a message over [`MAX_FULL_MESSAGE`](crate::MAX_FULL_MESSAGE) bytes
    /// framed, or one the framing refuses (a `\n` under
    /// [`Framing::Lines`](crate::Framing::Lines)).
    ///
    /// # Examples
    ///
    /// (The notice as a refused connection reads it: see
    /// [`max_clients_per_ip`](TcpServer::max_clients_per_ip).)
    ///
    /// ```
    /// use tcphub::{Error, Framing, TcpServer, MAX_FULL_MESSAGE};
    ///
    /// let server = || {
    ///     TcpServer::new(0, 100)
    ///         .bind("127.0.0.1".parse().unwrap())
    ///         .framing(Framing::lines())
    ///         .max_clients_per_ip(4)
    /// };
    /// assert!(server().per_ip_full_message("too many from your address").validate().is_ok());
    /// let long = vec![b'x'; MAX_FULL_MESSAGE];
    /// assert!(matches!(
    ///     server().per_ip_full_message(long).validate(), // with its '\n', one byte over
    ///     Err(Error::InvalidConfig(_))
    /// ));
    /// assert!(matches!(
    ///     server().per_ip_full_message("two\nlines").validate(),
    ///     Err(Error::InvalidConfig(_))
    /// ));
    /// ```
    pub fn per_ip_full_message(mut self, msg: impl AsRef<[u8]>) -> TcpServer {
        self.config.per_ip_full_message = Some(Arc::from(msg.as_ref()));
        self
    }

    /// Counts IPv6 clients for
    /// [`max_clients_per_ip`](TcpServer::max_clients_per_ip) by network:
    /// those whose addresses share their first `bits` bits share one limit
    /// (default 128: each address on its own). An IPv6 host is commonly
    /// given a whole /64 and can connect from as many addresses as it
    /// likes within it, so a per-address limit alone does not hold it back;
    /// `per_ip_ipv6_prefix(64)` counts such a host once. IPv4 clients (also
    /// those seen as `::ffff:a.b.c.d` on a dual-stack listener) are always
    /// counted by their whole address. Without `max_clients_per_ip` this
    /// changes nothing. The log lines of refusals name the network
    /// (`2001:db8:1:2::/64`).
    ///
    /// # Errors
    ///
    /// [`start`](TcpServer::start) (and [`validate`](TcpServer::validate))
    /// fail with [`Error::InvalidConfig`](crate::Error::InvalidConfig) for
    /// `bits` of 0 (every IPv6 client one "address") or over 128.
    ///
    /// # Examples
    ///
    /// ```
    /// use tcphub::TcpServer;
    ///
    /// // At most 4 connections from one IPv4 address or one IPv6 /64.
    /// let server = TcpServer::new(0, 1000)
    ///     .bind("::1".parse()?)
    ///     .max_clients_per_ip(4)
    ///     .per_ip_ipv6_prefix(64)
    ///     .start()?;
    /// # drop(server);
    /// assert!(TcpServer::new(0, 10).per_ip_ipv6_prefix(0).validate().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn per_ip_ipv6_prefix(mut self, bits: u8) -> TcpServer {
        self.config.per_ip_ipv6_prefix = bits;
        self
    }
}

/// What a client at `ip` counts as for `max_clients_per_ip`: its IPv4
/// address, or its IPv6 address with all but the first `v6_prefix` bits
/// cleared (the address itself at 128). `ip` is canonical already (an
/// IPv4-mapped address is its IPv4 one; see `addr::canonical`).
pub(crate) fn per_ip_network(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6_prefix < 128 => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(v6_prefix))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
        _ => ip,
    }
}

/// The source a client at `ip` is counted as, for log lines: its address,
/// or its IPv6 network (`2001:db8::/64`) with `v6_prefix` under 128.
pub(crate) fn per_ip_source(ip: IpAddr, v6_prefix: u8) -> String {
    match per_ip_network(ip, v6_prefix) {
        IpAddr::V6(net) if v6_prefix < 128 => format!("{net}/{v6_prefix}"),
        _ => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_count_by_their_network() {
        let a = ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
        let b = ip("2001:db8:1:2::7");
        let other = ip("2001:db8:1:3::7");
        assert_eq!(per_ip_network(a, 128), a);
        assert_ne!(per_ip_network(a, 128), per_ip_network(b, 128));
        assert_eq!(per_ip_network(a, 64), ip("2001:db8:1:2::"));
        assert_eq!(per_ip_network(a, 64), per_ip_network(b, 64));
        assert_ne!(per_ip_network(a, 64), per_ip_network(other, 64));
        assert_eq!(per_ip_network(a, 63), per_ip_network(other, 63));
        assert_eq!(per_ip_network(a, 1), ip("::"));
        assert_eq!(
            per_ip_network(a, 127),
            ip("2001:db8:1:2:aaaa:bbbb:cccc:dddc")
        );
        // IPv4 counts whole, whatever the IPv6 prefix.
        assert_eq!(per_ip_network(ip("10.1.2.3"), 8), ip("10.1.2.3"));
        assert_eq!(per_ip_source(a, 64), "2001:db8:1:2::/64");
        assert_eq!(per_ip_source(a, 128), "2001:db8:1:2:aaaa:bbbb:cccc:dddd");
        assert_eq!(per_ip_source(ip("10.1.2.3"), 64), "10.1.2.3");
    }
}
