//! The pull-mode event queues take memory as events arrive, not their whole
//! capacity up front: a client (pull mode by default) or server used to
//! allocate and touch room for 65,536 events at start — about 3 MiB per
//! client and 5 MiB per server, callback mode included where the queue is
//! never used — and a large `event_capacity` panicked in `start()` /
//! `connect()` ("bounded channel capacity is too large").

mod support;

use support::*;
use tcphub::{Event, Framing, TcpClient, TcpServer};

#[test]
fn a_huge_event_capacity_is_a_bound_not_an_allocation() {
    let server = TcpServer::new(0, 4)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .event_capacity(usize::MAX)
        .start()
        .expect("a large capacity is only a bound");
    let events = server.events();
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .event_capacity(usize::MAX)
        .connect()
        .expect("a large capacity is only a bound");
    client.send(b"hello").unwrap();
    let Event::Connected(c) = next_event(&events) else {
        panic!("expected Connected");
    };
    assert_eq!(next_event(&events), Event::Message(c, b"hello".to_vec()));
    server.send(c.id, b"back").unwrap();
    assert_eq!(client.recv_timeout(TIMEOUT).unwrap(), b"back");
}

#[test]
fn the_event_count_bound_still_holds() {
    const CAP: usize = 4;
    const LINES: usize = 50;
    let server = TcpServer::new(0, 4)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .event_capacity(CAP)
        .start()
        .unwrap();
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    for i in 0..LINES {
        peer.send_line(&format!("line {i}"));
    }
    wait_until("the queue to fill", || {
        let n = events.len();
        assert!(n <= CAP, "{n} events queued, capacity {CAP}");
        n == CAP
    });
    assert!(matches!(next_event(&events), Event::Connected(_)));
    for i in 0..LINES {
        assert!(events.len() <= CAP);
        match next_event(&events) {
            Event::Message(_, m) => assert_eq!(m, format!("line {i}").into_bytes()),
            other => panic!("expected line {i}, got {other:?}"),
        }
    }
}

#[test]
#[cfg(target_os = "linux")]
fn clients_and_servers_do_not_preallocate_their_event_queues() {
    const CLIENTS: usize = 40;
    let before = rss_kib();
    // Callback mode (the queue is never used) and pull mode (the default).
    let server = TcpServer::new(0, CLIENTS + 1)
        .bind(localhost())
        .threads(1)
        .on_message(|_, _, _| {})
        .start()
        .unwrap();
    let clients: Vec<TcpClient> = (0..CLIENTS)
        .map(|_| TcpClient::connect(server.local_addr()).unwrap())
        .collect();
    wait_clients(&server, CLIENTS);
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    // Before: about 3 MiB per client and 5 MiB for the server (~125 MiB).
    assert!(
        grown_mib < 32,
        "one server and {CLIENTS} clients took {grown_mib} MiB"
    );
    drop(clients);
}
