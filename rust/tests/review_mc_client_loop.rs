//! Review mc (mutation testing of `client_loop.rs`, the client's I/O
//! thread): behaviour that a mutant of the loop changed and no earlier test
//! noticed.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use support::*;
use tcphub::{ClientEvent, DisconnectReason, Framing, Reconnect, TcpClient};

/// The last attempt `max_attempts` allows is a real one: a connection lost
/// at once counts as a failed attempt, and with one attempt left the
/// client redials — and what it then sends is accepted and delivered.
/// (Mutants of `lost`'s "is this the last one" test, `next > max` made
/// `next >= max` or `next == max`, ended `send` for good before that
/// redial: it still connected, and every `send` on it was refused.)
#[test]
fn review_mc_the_last_allowed_redial_can_send() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .reconnect(Reconnect {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(50),
            max_attempts: Some(1),
        })
        .connect()
        .unwrap();
    let (first, _) = l.accept().unwrap();
    drop(first); // at once: a failed attempt, the one allowed is left
    assert!(matches!(
        next_control_at(&client).0,
        ClientEvent::Disconnected(_)
    ));
    assert!(matches!(
        next_control_at(&client).0,
        ClientEvent::Reconnecting { attempt: 1, .. }
    ));
    let (second, _) = l.accept().unwrap();
    assert!(matches!(
        next_control_at(&client).0,
        ClientEvent::Reconnected { attempt: 1, .. }
    ));
    client
        .send(b"on the last attempt")
        .expect("the last allowed connection accepts sends");
    second
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut line = String::new();
    BufReader::new(&second).read_line(&mut line).unwrap();
    assert_eq!(line, "on the last attempt\n");
    client.close();
}

/// Each client draws its own jitter: clients one server restart dropped do
/// not redial in lockstep. (A mutant of the seed, `seed & 1` for `seed | 1`,
/// left each client's generator at 0 — no jitter, which
/// `review_mu2_reconnect_delays_are_jittered` sees only then — or at 1: the
/// same delays for every client. Of three clients two share one of those.)
#[test]
fn review_mc_clients_draw_different_reconnect_delays() {
    let server = echo_server(Framing::lines());
    let addr: SocketAddr = server.local_addr();
    let cap = Duration::from_millis(10);
    let attempts = 4u32;
    let clients: Vec<TcpClient> = (0..3)
        .map(|_| {
            let c = TcpClient::builder(addr)
                .framing(Framing::lines())
                .reconnect(Reconnect {
                    initial: cap,
                    max: cap,
                    max_attempts: Some(attempts),
                })
                .connect()
                .unwrap();
            c.send(b"hi").unwrap();
            assert_eq!(c.recv_timeout(TIMEOUT).unwrap(), b"hi");
            c
        })
        .collect();
    server.stop();
    let _held = hold_port(addr); // every redial is refused
    let mut all = Vec::new();
    for c in &clients {
        assert_eq!(
            next_control_at(c).0,
            ClientEvent::Disconnected(DisconnectReason::ClosedByPeer)
        );
        let mut delays = Vec::new();
        for n in 1..=attempts {
            let ev = next_control_at(c).0;
            let ClientEvent::Reconnecting { attempt, delay } = ev else {
                panic!("attempt {n}: {ev:?}");
            };
            assert_eq!(attempt, n);
            delays.push(delay);
        }
        assert!(
            delays.iter().any(|d| *d != delays[0]),
            "no jitter: {delays:?}"
        );
        all.push(delays);
    }
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b, "two clients drew the same delays");
        }
    }
    for c in clients {
        c.close();
    }
}

/// A client of `listener` (length-prefixed, 4 MiB of queue) that goes on
/// writing after the server's end (`write_after_server_eof`), for `linger`.
fn writing_after_eof(listener: &TcpListener, linger: Duration) -> TcpClient {
    TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::length_prefixed())
        .max_queue_bytes(4 << 20)
        .write_after_server_eof(true)
        .linger(linger)
        .connect()
        .unwrap()
}

/// With `write_after_server_eof(true)`, a server that ended its side and
/// reads nothing more gets the linger time for the client's queue, no
/// more: then the client ends the connection as timed out, counting what
/// it dropped. (Mutants of `end_after_peer_done`'s deadline — never
/// reached, or reached at once — and `timeout` forgetting that deadline
/// passed every test: the client waited for that server for ever.)
#[test]
fn review_mc_after_the_server_s_end_its_queue_gets_the_linger_time() {
    let listener = listener_with_rcvbuf(64 * 1024);
    let linger = Duration::from_millis(300);
    let client = writing_after_eof(&listener, linger);
    let (server, _) = listener.accept().unwrap(); // never reads
    set_send_buffer_of(client.local_addr(), 16 * 1024);
    let msg = vec![b'q'; 64 * 1024];
    for _ in 0..32 {
        client.send(&msg).unwrap(); // 2 MiB: far more than the socket buffers take
    }
    let started = Instant::now();
    server.shutdown(Shutdown::Write).unwrap(); // EOF to the client
    assert_eq!(
        next_control_at(&client).0,
        ClientEvent::Disconnected(DisconnectReason::Io(std::io::ErrorKind::TimedOut))
    );
    assert!(
        started.elapsed() >= linger,
        "ended {:?} after the server's end, before the linger time",
        started.elapsed()
    );
    assert_eq!(next_control_at(&client).0, ClientEvent::Closed);
    assert!(client.unsent() > 0, "what was dropped is counted");
    drop(server);
}

/// With `write_after_server_eof(true)`, a server that ended its side and
/// then reset the connection (it read part of the queue and gave up) ends
/// the client at its next write, for that reset — not after the linger
/// time as timed out. (A mutant of `found_gone`'s first test,
/// `peer_done || input_off` made `&&`, took the reset for one whose unread
/// input is still to come, and the client, whose reading had stopped at
/// the server's end, waited out the linger time.)
#[test]
fn review_mc_a_reset_after_the_server_s_end_ends_the_flush_at_once() {
    let listener = listener_with_rcvbuf(64 * 1024);
    let client = writing_after_eof(&listener, Duration::from_secs(60));
    let (mut server, _) = listener.accept().unwrap();
    set_send_buffer_of(client.local_addr(), 16 * 1024);
    let msg = vec![b'q'; 64 * 1024];
    for _ in 0..32 {
        client.send(&msg).unwrap(); // 2 MiB: far more than the socket buffers take
    }
    server.shutdown(Shutdown::Write).unwrap(); // EOF to the client
                                               // Part of the queue is read (the client flushes on after the end)...
    server.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < 512 * 1024 {
        got += std::io::Read::read(&mut server, &mut buf).unwrap();
    }
    reset(server); // ... then the server gives up
    let started = Instant::now();
    let ev = next_control_at(&client).0;
    assert_eq!(
        ev,
        ClientEvent::Disconnected(DisconnectReason::Reset),
        "ended for the reset"
    );
    assert!(started.elapsed() < TIMEOUT);
    assert_eq!(next_control_at(&client).0, ClientEvent::Closed);
    assert!(client.unsent() > 0, "what was dropped is counted");
}

/// A redial whose SYNs go unanswered (the server's accept backlog is
/// full) is given up at `connect_timeout`, and the next attempt follows.
/// (A mutant of `ClientLoop::timeout` that forgot the dial's deadline
/// passed every test: the I/O thread slept until the kernel gave up its
/// SYN retries, about two minutes.)
#[test]
fn review_mc_an_unanswered_redial_ends_at_the_connect_timeout() {
    use socket2::{Domain, Socket, Type};
    let lst = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    lst.bind(&SocketAddr::from((localhost(), 0)).into())
        .unwrap();
    lst.listen(0).unwrap();
    let addr = lst.local_addr().unwrap().as_socket().unwrap();
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .connect_timeout(Duration::from_millis(300))
        .reconnect(Reconnect {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(10),
            max_attempts: Some(2),
        })
        .connect()
        .unwrap();
    let (first, _) = lst.accept().unwrap();
    let _fill = fill_backlog(&lst); // the redials' SYNs are dropped
    drop(first);
    assert!(matches!(
        next_control_at(&client).0,
        ClientEvent::Disconnected(_)
    ));
    assert!(matches!(
        next_control_at(&client).0,
        ClientEvent::Reconnecting { attempt: 1, .. }
    ));
    // (`next_control_at` waits 20 s at most.)
    assert!(matches!(
        next_control_at(&client).0,
        ClientEvent::Reconnecting { attempt: 2, .. }
    ));
    assert_eq!(next_control_at(&client).0, ClientEvent::Closed);
    assert_eq!(
        client.disconnect_reason(),
        Some(DisconnectReason::ReconnectGaveUp { attempts: 2 })
    );
}

/// `shutdown_write` with more queued than the socket buffers take: the
/// whole queue goes out first, then the FIN. (A mutant of
/// `shut_write_when_flushed` that shut whatever was queued passed every
/// test — they half-closed after messages the kernel took at once: the
/// server read what the kernel held, then the end, and the rest was lost
/// to a broken pipe.)
#[test]
fn review_mc_shutdown_write_sends_the_whole_queue_before_the_fin() {
    let listener = listener_with_rcvbuf(64 * 1024);
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::length_prefixed())
        .max_queue_bytes(4 << 20)
        .connect()
        .unwrap();
    let (mut server, _) = listener.accept().unwrap(); // reads only later
    set_send_buffer_of(client.local_addr(), 16 * 1024);
    let msg = vec![b'q'; 64 * 1024];
    let n = 32;
    for _ in 0..n {
        client.send(&msg).unwrap(); // 2 MiB: far more than the socket buffers take
    }
    assert!(client.queued_bytes() > 0);
    client.shutdown_write().unwrap();
    server.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut server, &mut got).unwrap();
    assert_eq!(got.len(), n * (4 + msg.len()), "bytes before the FIN");
    assert_eq!(got, lp_frame(&msg).repeat(n));
    drop(server); // the server's end is the end now
    assert_eq!(
        next_control_at(&client).0,
        ClientEvent::Disconnected(DisconnectReason::ClosedByPeer)
    );
    assert_eq!(client.unsent(), 0);
}

/// A write that finds the connection reset makes the client not connected
/// at once, while what the server sent before the reset still waits for
/// room in the pull queue (its `Disconnected` follows it). (A mutant that
/// left out `found_gone`'s `connected` store passed every test:
/// `is_connected()` said true for a dead connection until the application
/// had taken all of its input.)
#[test]
fn review_mc_a_connection_found_reset_is_not_connected_before_its_input_is_taken() {
    let client = client_with_unread_input_and_a_reset(b"server full\n", None);
    assert!(client.is_connected(), "the reset is not seen yet");
    client.send(b"one").unwrap(); // its write finds the reset
    wait_until("the client not connected", || !client.is_connected());
    let mut msgs = Vec::new();
    loop {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::Message(m) => msgs.push(m),
            ClientEvent::Disconnected(r) => assert_eq!(r, DisconnectReason::Reset),
            ClientEvent::Closed => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        msgs,
        vec![b"a".to_vec(), b"b".to_vec(), b"server full".to_vec()]
    );
}

/// Between connections `unacknowledged_bytes()` is `None`: the lost
/// connection's descriptor is withdrawn before it is closed, so the number
/// is never asked of whatever socket reuses it. (A mutant that left out
/// `lost`'s withdraw passed every test: the answer came from another
/// socket of the process.)
#[test]
fn review_mc_no_unacknowledged_bytes_between_connections() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .reconnect(Reconnect {
            initial: Duration::from_secs(60),
            max: Duration::from_secs(60),
            max_attempts: None,
        })
        .connect()
        .unwrap();
    let (first, _) = l.accept().unwrap();
    assert!(
        client.unacknowledged_bytes().is_some(),
        "up: the kernel says"
    );
    drop(first);
    assert!(matches!(
        next_control_at(&client).0,
        ClientEvent::Disconnected(_)
    ));
    // Its socket is closed now: new ones take the lowest free descriptors.
    let _others: Vec<std::net::TcpStream> = (0..8)
        .map(|_| std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap())
        .collect();
    assert!(matches!(
        next_control_at(&client).0,
        ClientEvent::Reconnecting { attempt: 1, .. }
    ));
    assert_eq!(client.unacknowledged_bytes(), None);
    client.close();
}

/// A client closed while its connection was up is not connected any more.
/// (A mutant that left out `finish`'s `connected` store passed every test:
/// `is_connected()` said true after `close()` had returned.)
#[test]
fn review_mc_a_closed_client_is_not_connected() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .connect()
        .unwrap();
    let (server, _) = l.accept().unwrap();
    assert!(client.is_connected());
    client.close(); // nothing unacknowledged: no linger
    assert!(!client.is_open());
    assert!(!client.is_connected(), "closed, still connected");
    drop(server);
}

/// What the server sends after `close()` was called is not delivered,
/// though the client reads on while its close flushes (to see the
/// server's end). (A mutant that left out `read`'s `dispatch.cut` update
/// passed every test: a message that arrived during the close's flush was
/// handed out after `close()` had returned.)
#[test]
fn review_mc_nothing_sent_after_close_is_delivered() {
    let listener = listener_with_rcvbuf(64 * 1024);
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::lines())
        .max_queue_bytes(4 << 20)
        .linger(Duration::from_secs(20))
        .connect()
        .unwrap();
    let (mut server, _) = listener.accept().unwrap(); // reads only later
    set_send_buffer_of(client.local_addr(), 16 * 1024);
    let filler = vec![b'x'; 60_000];
    for _ in 0..32 {
        client.send(&filler).unwrap(); // far more than the socket buffers take
    }
    std::io::Write::write_all(&mut server, b"before\n").unwrap();
    assert_eq!(client.recv_timeout(TIMEOUT).unwrap(), b"before");
    assert!(!client.close_timeout(Duration::ZERO), "the close lingers");
    std::io::Write::write_all(&mut server, b"after close\n").unwrap();
    // The server reads it all: the flush ends, then the close.
    server.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while got < 32 * (filler.len() + 1) {
        got += std::io::Read::read(&mut server, &mut buf).unwrap();
    }
    assert!(client.close_timeout(TIMEOUT), "the close ended");
    let mut events = Vec::new();
    while let Ok(ev) = client.next_event(Duration::ZERO) {
        events.push(ev);
    }
    assert!(
        !events.iter().any(|e| matches!(e, ClientEvent::Message(_))),
        "delivered after close(): {events:?}"
    );
}

/// A server the keepalive watch finds vanished is closed with a reset, not
/// a FIN, as the server's watch does (`review_mu5_vanish`): after a FIN our
/// kernel keeps the closed socket in FIN_WAIT1, resending to nobody for
/// minutes. (The client's `reset_on_close` in `check_vanished` could be
/// left out with every test passing.) In a network namespace of its own
/// (root), as `keepalive_dead_peer.rs`.
#[test]
fn review_mc_a_vanished_server_is_reset_not_left_resending() {
    if !support::netns::own_network() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .keepalive(Duration::from_secs(1))
        .connect()
        .unwrap();
    let (_accepted, _) = listener.accept().unwrap();
    let (local, server) = (
        client.local_addr().port(),
        listener.local_addr().unwrap().port(),
    );
    let state = || support::netns::tcp_row(local, server).map(|row| row[3].clone());
    assert_eq!(state().as_deref(), Some("01"), "established");
    support::netns::set_loopback(false);
    client.send(b"hello, is anyone there?").unwrap();
    assert_eq!(
        next_control_at(&client).0,
        ClientEvent::Disconnected(DisconnectReason::Io(std::io::ErrorKind::TimedOut))
    );
    let released = try_wait_until(Duration::from_secs(5), || state().is_none());
    assert!(
        released,
        "the closed connection is still in the kernel, state {:?}: ended with a FIN, not a reset",
        state()
    );
}
