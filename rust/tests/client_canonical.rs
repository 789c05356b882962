//! A client's addresses as it reports them are canonical, as the server
//! reports its clients': dialling an IPv4-mapped IPv6 address
//! (`[::ffff:127.0.0.1]:PORT`) gives `127.0.0.1` for the peer, the local
//! address and the `Reconnected` event, before and after a reconnect.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::{localhost, TIMEOUT};
use tcphub::{ClientEvent, Event, Events, Framing, Reconnect, TcpClient, TcpServer};

/// The next `Connected` client on `events`, skipping other events.
fn next_connected(events: &Events) -> tcphub::Client {
    loop {
        match events.recv_timeout(TIMEOUT).expect("server event in time") {
            Event::Connected(c) => return c,
            _ => continue,
        }
    }
}

#[test]
fn a_client_dialling_an_ipv4_mapped_address_reports_plain_ipv4() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .start()
        .expect("start server");
    let events = server.events();
    let port = server.local_addr().port();
    let mapped: SocketAddr = format!("[::ffff:127.0.0.1]:{port}").parse().unwrap();
    let policy = Reconnect {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
        max_attempts: Some(100),
    };
    let client = match TcpClient::builder(mapped)
        .framing(Framing::lines())
        .reconnect(policy)
        .connect()
    {
        Ok(c) => c,
        Err(e) => {
            // A machine without IPv6 cannot dial a mapped address at all.
            eprintln!("skipped: cannot dial {mapped} here ({e})");
            return;
        }
    };
    let peer = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(client.peer_addr(), peer);
    let seen = next_connected(&events);
    assert!(seen.addr.is_ipv4(), "the server canonicalises: {seen:?}");
    assert_eq!(client.local_addr(), seen.addr);
    let shown = format!("{client:?}");
    assert!(!shown.contains("::ffff:"), "{shown}");

    // Reconnected (after the server drops it) reports the same way.
    server.disconnect(seen.id).expect("disconnect the client");
    let local = loop {
        match client.next_event(TIMEOUT).expect("client event in time") {
            ClientEvent::Reconnected { local_addr, .. } => break local_addr,
            _ => continue,
        }
    };
    let again = next_connected(&events);
    assert_eq!(local, again.addr);
    assert_eq!(client.local_addr(), again.addr);
    assert_eq!(client.peer_addr(), peer);
    client.close();
}

/// A server bound to an IPv4-mapped address (`parse_bind_ip` takes
/// `::ffff:127.0.0.1`) reports its address canonical too, as it reports
/// its clients and as a client reports its server: `local_addr()` gave
/// `[::ffff:127.0.0.1]:PORT`, while the client dialling it said its peer
/// was `127.0.0.1:PORT` (the pattern `client.peer_addr() ==
/// server.local_addr()` failed).
#[test]
fn a_server_bound_to_an_ipv4_mapped_address_reports_plain_ipv4() {
    let mapped = tcphub::parse_bind_ip("::ffff:127.0.0.1").expect("a bind address");
    let server = match TcpServer::new(0, 10)
        .bind(mapped)
        .framing(Framing::lines())
        .start()
    {
        Ok(s) => s,
        Err(e) => {
            // A machine without IPv6 cannot bind a mapped address at all.
            eprintln!("skipped: cannot bind {mapped} here ({e})");
            return;
        }
    };
    let addr = server.local_addr();
    assert_eq!(addr.ip(), localhost(), "{addr}");
    assert!(!format!("{server:?}").contains("::ffff:"), "{server:?}");
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .connect()
        .expect("connect to the reported address");
    assert_eq!(client.peer_addr(), server.local_addr());
    let seen = next_connected(&server.events());
    assert_eq!(client.local_addr(), seen.addr);
    server.stop();
}
