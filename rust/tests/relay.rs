//! Broadcast relay, addressed sends (`send_to`, `send`) and panicking callbacks.

mod support;

use std::net::SocketAddr;

use support::{localhost, relay_server, wait_clients, wait_until, Disconnects, Peer};
use tcphub::{ClientRef, Error, Framing, TcpServer};

/// Connects `n` clients and waits until the server has registered all of them
/// (a `send_all` only reaches clients registered when it is called).
fn connect_all(server: &tcphub::ServerHandle, n: usize) -> Vec<Peer> {
    let peers: Vec<Peer> = (0..n).map(|_| Peer::connect(server.local_addr())).collect();
    wait_clients(server, n);
    peers
}

#[test]
fn lines_relay_reaches_all_three_clients() {
    let server = relay_server(Framing::lines());
    let mut peers = connect_all(&server, 3);

    // Each client speaks in turn; every client (the speaker included) hears
    // every message, in order.
    for round in 0..3 {
        for speaker in 0..3 {
            let msg = format!("round {round} from {speaker}");
            peers[speaker].send_line(&msg);
            for (i, p) in peers.iter_mut().enumerate() {
                assert_eq!(p.read_line(), msg, "client {i}");
            }
        }
    }
    // A burst from one client arrives intact and in order everywhere.
    let burst: String = (0..100).map(|i| format!("burst {i}\n")).collect();
    peers[1].send(burst.as_bytes());
    for p in &mut peers {
        for i in 0..100 {
            assert_eq!(p.read_line(), format!("burst {i}"));
        }
    }
    let stats = server.stats();
    assert_eq!(stats.clients, 3);
    assert_eq!(stats.accepted, 3);
    assert_eq!(stats.msgs_in, 9 + 100);
    server.stop();
}

#[test]
fn length_prefixed_relay_reaches_all_three_clients() {
    let server = relay_server(Framing::length_prefixed());
    let mut peers = connect_all(&server, 3);

    let messages: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        Vec::new(),                         // empty frame
        b"line\nbreaks\r\ninside".to_vec(), // no special meaning here
        (0..=255u8).collect(),              // binary
        vec![0xAB; 200_000],                // spans many reads
    ];
    for (k, m) in messages.iter().enumerate() {
        peers[k % 3].send_frame(m);
        for (i, p) in peers.iter_mut().enumerate() {
            assert_eq!(&p.read_frame(), m, "client {i}, message {k}");
        }
    }
    server.stop();
}

#[test]
fn raw_relay_reaches_all_three_clients() {
    let server = relay_server(Framing::Raw);
    let mut peers = connect_all(&server, 3);

    // Raw framing does not keep message boundaries, so compare byte streams:
    // wait for each message to arrive everywhere before sending the next.
    for k in 0..5 {
        let msg = format!("raw message {k}");
        peers[k % 3].send(msg.as_bytes());
        for (i, p) in peers.iter_mut().enumerate() {
            assert_eq!(p.read_exact(msg.len()), msg.as_bytes(), "client {i}");
        }
    }
    server.stop();
}

#[test]
fn send_all_except_reaches_everyone_but_the_sender() {
    // Two loops, so the sender shares its loop with one listener and not
    // with the others; bursts from every client interleave, so runs of
    // broadcasts for different audiences meet in the loops' queues.
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .on_message(|srv, from, msg| {
            srv.send_all_except(from.id, msg);
        })
        .start()
        .expect("start");
    let mut peers = connect_all(&server, 4);
    const N: usize = 50;
    for (s, p) in peers.iter_mut().enumerate() {
        let burst: String = (0..N).map(|i| format!("{s} {i}\n")).collect();
        p.send(burst.as_bytes());
    }
    for (me, p) in peers.iter_mut().enumerate() {
        let mut next = [0usize; 4];
        for _ in 0..3 * N {
            let line = p.read_line();
            let (s, i) = line.split_once(' ').expect("'speaker index'");
            let (s, i): (usize, usize) = (s.parse().unwrap(), i.parse().unwrap());
            assert_ne!(s, me, "client {me} got its own message {line:?}");
            assert_eq!(i, next[s], "client {me}: from {s} out of order");
            next[s] += 1;
        }
    }
    // Every message was queued for exactly the three others.
    wait_until("600 messages queued", || {
        server.stats().msgs_out >= 4 * N as u64 * 3
    });
    assert_eq!(server.stats().msgs_out, 4 * N as u64 * 3);

    // The count is the clients it went to; an id nobody has excludes nobody.
    let first = peers[0].id_on(&server);
    assert_eq!(server.send_all_except(first, b"not for 0"), 3);
    assert_eq!(server.send_all_except(u64::MAX, b"for all"), 4);
    for (i, p) in peers.iter_mut().enumerate() {
        if i != 0 {
            assert_eq!(p.read_line(), "not for 0");
        }
        assert_eq!(p.read_line(), "for all", "client {i}");
    }
    assert!(matches!(
        server.try_send_all_except(first, &vec![b'x'; 100_000]),
        Err(Error::FrameTooLarge { .. })
    ));
    server.stop();
    assert!(matches!(
        server.try_send_all_except(first, b"late"),
        Err(Error::NotRunning)
    ));
}

/// A chat that kicks on `/quit` relayed the lines the client had sent
/// behind it in the same write: the rest of that read still went to
/// `on_message` (up to 8 × 64 KiB) before the kick was applied.
#[test]
fn a_client_kicked_by_its_own_on_message_gets_no_more_messages_through() {
    let gone = Disconnects::new();
    let record = gone.clone();
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(1)
        .on_message(|srv, from, msg| {
            if msg == b"/quit" {
                srv.disconnect(from.id).expect("kick");
            } else {
                srv.send_all(msg);
            }
        })
        .on_disconnect(move |_s, c, why| record.record(c, why))
        .start()
        .expect("start");
    let mut peers = connect_all(&server, 2);
    let quitter = peers[0].id_on(&server);
    peers[0].send(b"before\n/quit\nspam after quit\nmore spam\n");
    assert_eq!(gone.wait_for(quitter), tcphub::DisconnectReason::Kicked);
    // The other client's next lines: "before", then its own marker — no spam.
    peers[1].send_line("marker");
    assert_eq!(peers[1].read_line(), "before");
    assert_eq!(peers[1].read_line(), "marker");
    assert_eq!(peers[0].read_line(), "before");
    peers[0].expect_eof();
    server.stop();
}

#[test]
fn send_to_reaches_only_the_addressed_client() {
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::lines())
        .start()
        .unwrap();
    let mut peers = connect_all(&server, 3);
    let target = peers[1].addr();

    server
        .send_to(target.ip(), target.port(), b"for you only")
        .unwrap();
    assert_eq!(server.send_all(b"marker"), 3);

    assert_eq!(peers[1].read_line(), "for you only");
    assert_eq!(peers[1].read_line(), "marker");
    // The others' first bytes are the marker: the private message never reached them.
    assert_eq!(peers[0].read_line(), "marker");
    assert_eq!(peers[2].read_line(), "marker");
    server.stop();
}

#[test]
fn send_by_id_reaches_only_that_client() {
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::lines())
        .start()
        .unwrap();
    let mut peers = connect_all(&server, 3);
    let id = peers[2].id_on(&server);
    assert_eq!(server.client(id).map(|c| c.addr), Some(peers[2].addr()));

    server.send(id, b"direct").unwrap();
    server.send_all(b"marker");
    assert_eq!(peers[2].read_line(), "direct");
    assert_eq!(peers[2].read_line(), "marker");
    assert_eq!(peers[0].read_line(), "marker");
    assert_eq!(peers[1].read_line(), "marker");
    server.stop();
}

#[test]
fn unknown_address_and_unknown_id_are_errors() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::lines())
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let mut stay = Peer::connect(server.local_addr());
    let leave = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let stay_addr = stay.addr();

    // An address nobody connected from (the server's own listening address).
    let nobody: SocketAddr = server.local_addr();
    match server.send_to(nobody.ip(), nobody.port(), b"x") {
        Err(Error::NoSuchClient(ClientRef::Addr(a))) => assert_eq!(a, nobody),
        other => panic!("send_to an unknown address: {other:?}"),
    }
    // Same port as a real client but another ip.
    match server.send_to("127.0.0.2".parse().unwrap(), stay_addr.port(), b"x") {
        Err(Error::NoSuchClient(ClientRef::Addr(_))) => {}
        other => panic!("send_to a wrong ip: {other:?}"),
    }
    match server.send(999_999, b"x") {
        Err(Error::NoSuchClient(ClientRef::Id(999_999))) => {}
        other => panic!("send to an unknown id: {other:?}"),
    }

    // A client that left: both its address and its id are unknown afterwards.
    let leave_addr = leave.addr();
    let leave_id = leave.id_on(&server);
    drop(leave);
    gone.wait_for(leave_id);
    match server.send_to(leave_addr.ip(), leave_addr.port(), b"x") {
        Err(Error::NoSuchClient(ClientRef::Addr(a))) => assert_eq!(a, leave_addr),
        other => panic!("send_to a departed client: {other:?}"),
    }
    match server.send(leave_id, b"x") {
        Err(Error::NoSuchClient(ClientRef::Id(id))) => assert_eq!(id, leave_id),
        other => panic!("send to a departed client: {other:?}"),
    }
    match server.disconnect(leave_id) {
        Err(Error::NoSuchClient(ClientRef::Id(id))) => assert_eq!(id, leave_id),
        other => panic!("disconnect a departed client: {other:?}"),
    }

    // None of the failed sends reached the remaining client.
    server.send_all(b"marker");
    assert_eq!(stay.read_line(), "marker");

    // After stop every send reports NotRunning.
    server.stop();
    assert!(matches!(
        server.send_to(stay_addr.ip(), stay_addr.port(), b"x"),
        Err(Error::NotRunning)
    ));
    assert!(matches!(server.send(1, b"x"), Err(Error::NotRunning)));
    assert!(matches!(server.try_send_all(b"x"), Err(Error::NotRunning)));
    assert_eq!(server.send_all(b"x"), 0);
}

#[test]
fn panicking_on_message_does_not_kill_the_server() {
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message(|srv, _c, msg| {
            if msg == b"boom" {
                panic!("deliberate panic in on_message (expected by the test)");
            }
            srv.send_all(msg);
        })
        .start()
        .unwrap();
    let mut a = Peer::connect(server.local_addr());
    let mut b = Peer::connect(server.local_addr());
    wait_clients(&server, 2);

    a.send_line("before");
    assert_eq!(a.read_line(), "before");
    assert_eq!(b.read_line(), "before");

    a.send_line("boom");
    // Same connection, right after the panic.
    a.send_line("after");
    assert_eq!(a.read_line(), "after");
    assert_eq!(b.read_line(), "after");
    // The other client too.
    b.send_line("from b");
    assert_eq!(a.read_line(), "from b");
    assert_eq!(b.read_line(), "from b");

    // A panic in the middle of a batch of frames read at once: the frames
    // after it are still delivered.
    a.send(b"one\nboom\ntwo\n");
    for p in [&mut a, &mut b] {
        assert_eq!(p.read_line(), "one");
        assert_eq!(p.read_line(), "two");
    }

    wait_until("callback panics counted", || {
        server.stats().callback_panics >= 2
    });
    assert_eq!(server.stats().callback_panics, 2);
    assert_eq!(server.client_count(), 2);
    assert!(server.is_running());
    server.stop();
}
