//! `max_clients_per_ip`: one address may have that many clients at a time;
//! a connection past it is refused (its notice, then end-of-stream) and
//! counted in `rejected_per_ip`; its place comes back when a client of that
//! address leaves; other addresses are not affected.

mod support;

use std::net::IpAddr;

use support::{expect_end, localhost, next_event, wait_until, Peer};
use tcphub::{DisconnectReason, Error, Event, Framing, TcpServer};

const NOTICE: &str = "too many connections from your address";

fn server(per_ip: usize) -> tcphub::ServerHandle {
    TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::lines())
        .max_clients_per_ip(per_ip)
        .per_ip_full_message(NOTICE)
        .full_message("server full")
        .start()
        .unwrap()
}

fn other_loopback() -> IpAddr {
    "127.0.0.2".parse().unwrap()
}

#[test]
fn a_connection_past_the_limit_is_refused_with_its_notice_and_its_place_comes_back() {
    let server = server(2);
    let events = server.events();
    let mut a = Peer::connect(server.local_addr());
    let Event::Connected(ca) = next_event(&events) else {
        panic!("no Connected");
    };
    let _b = Peer::connect(server.local_addr());
    assert!(matches!(next_event(&events), Event::Connected(_)));
    let mut refused = Peer::connect(server.local_addr());
    assert_eq!(refused.read_line(), NOTICE);
    refused.expect_eof();
    let stats = server.stats();
    assert_eq!((stats.rejected_per_ip, stats.rejected), (1, 0));
    assert_eq!(server.client_count(), 2);
    // One leaves: its place is free again.
    a.shutdown_write();
    expect_end(&events, ca.id, DisconnectReason::ClosedByPeer);
    a.expect_eof();
    let mut again = Peer::connect(server.local_addr());
    assert!(matches!(next_event(&events), Event::Connected(_)));
    server.send_all(b"welcome");
    assert_eq!(again.read_line(), "welcome");
    assert_eq!(server.stats().rejected_per_ip, 1);
}

#[test]
fn other_addresses_are_not_limited_by_one_at_its_limit() {
    let server = server(1);
    let events = server.events();
    let mut first = Peer::connect_from(localhost(), server.local_addr());
    assert!(matches!(next_event(&events), Event::Connected(_)));
    let mut other = Peer::connect_from(other_loopback(), server.local_addr());
    match next_event(&events) {
        Event::Connected(c) => assert_eq!(c.addr.ip(), other_loopback()),
        ev => panic!("{ev:?}"),
    }
    let mut refused = Peer::connect_from(localhost(), server.local_addr());
    assert_eq!(refused.read_line(), NOTICE);
    refused.expect_eof();
    server.send_all(b"both");
    assert_eq!(first.read_line(), "both");
    assert_eq!(other.read_line(), "both");
    assert_eq!(server.stats().rejected_per_ip, 1);
}

#[test]
fn a_storm_from_one_address_leaves_the_others_their_places() {
    // 40 connections from one address at a limit of 3: 37 refused; the
    // server (max 10) still has room for another address.
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .max_clients_per_ip(3)
        .on_message(|_, _, _| {})
        .start()
        .unwrap();
    let storm: Vec<Peer> = (0..40)
        .map(|_| Peer::connect(server.local_addr()))
        .collect();
    wait_until("the storm refused", || {
        server.stats().rejected_per_ip == 37 && server.client_count() == 3
    });
    let mut other = Peer::connect_from(other_loopback(), server.local_addr());
    wait_until("the other address admitted", || server.client_count() == 4);
    server.send_all(b"hi");
    assert_eq!(other.read_line(), "hi");
    // All gone: the count per address is given back to the last.
    drop(storm);
    wait_until("the storm's clients gone", || server.client_count() == 1);
    let again: Vec<Peer> = (0..3).map(|_| Peer::connect(server.local_addr())).collect();
    wait_until("three admitted again", || server.client_count() == 4);
    assert_eq!(server.stats().rejected_per_ip, 37);
    drop(again);
}

#[test]
fn the_server_full_refusal_comes_first_and_is_counted_apart() {
    let server = TcpServer::new(0, 1)
        .bind(localhost())
        .framing(Framing::lines())
        .max_clients_per_ip(1)
        .per_ip_full_message(NOTICE)
        .full_message("server full")
        .on_message(|_, _, _| {})
        .start()
        .unwrap();
    let _first = Peer::connect(server.local_addr());
    wait_until("the first admitted", || server.client_count() == 1);
    let mut full = Peer::connect_from(other_loopback(), server.local_addr());
    assert_eq!(full.read_line(), "server full");
    let mut same = Peer::connect(server.local_addr());
    assert_eq!(same.read_line(), "server full", "full before per address");
    let stats = server.stats();
    assert_eq!((stats.rejected, stats.rejected_per_ip), (2, 0));
}

#[test]
fn zero_per_ip_is_refused_and_a_notice_the_framing_cannot_carry_too() {
    match TcpServer::new(0, 10).max_clients_per_ip(0).validate() {
        Err(Error::InvalidConfig(m)) => assert!(m.contains("max_clients_per_ip"), "{m}"),
        other => panic!("{other:?}"),
    }
    let two_lines = TcpServer::new(0, 10)
        .framing(Framing::lines())
        .per_ip_full_message("two\nlines")
        .validate();
    match two_lines {
        Err(Error::InvalidConfig(m)) => assert!(m.starts_with("per_ip_full_message: "), "{m}"),
        other => panic!("{other:?}"),
    }
}
