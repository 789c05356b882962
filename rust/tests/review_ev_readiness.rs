//! Edge-triggered readiness that a pause, a full queue or a held loop
//! takes in between: each socket event the loop handles without acting on
//! it at once must be remembered (a read scheduled, the `writable` flag),
//! or acted on when the state that stopped it changes. With edge-triggered
//! epoll no other event comes for what is already in the socket, so a lost
//! one shows as an end (or a write) that waits forever; every wait here is
//! bounded ([`TIMEOUT`]).

mod support;

use std::sync::{Arc, Mutex};

use support::{
    expect_message, localhost, next_event, wait_until, Disconnects, LoopGate, Peer, TIMEOUT,
};
use tcphub::{ClientId, DisconnectReason, Event, Events, Framing, ServerHandle, TcpServer};

/// A pull-mode lines server with one loop, so commands and sends reach it
/// in the order they were made.
fn server() -> TcpServer {
    TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(1)
}

/// A client connected, and its `Connected` taken.
fn connected(server: &ServerHandle, events: &Events) -> (Peer, tcphub::Client) {
    let peer = Peer::connect(server.local_addr());
    let Event::Connected(c) = next_event(events) else {
        panic!("no Connected");
    };
    (peer, c)
}

/// Waits until the loop has applied everything posted before: a line sent
/// to `peer` comes back through it.
fn settle(server: &ServerHandle, id: ClientId, peer: &mut Peer) {
    server.send(id, b"sync").unwrap();
    assert_eq!(peer.read_line(), "sync");
}

/// The next `n` events are `id`'s lines `lines`, then its end for `why`.
fn expect_lines_then_end(events: &Events, id: ClientId, lines: &[&str], why: DisconnectReason) {
    for want in lines {
        expect_message(events, id, want.as_bytes());
    }
    match next_event(events) {
        Event::Disconnected(c, got) => {
            assert_eq!(c.id, id);
            assert_eq!(got, why);
        }
        other => panic!("waiting for the end: {other:?}"),
    }
}

/// `pause_input()`, then a client resets: its error event finds it not
/// paused and its read waits for the input to resume (scheduled). Paused
/// by `pause_client` meanwhile, it is still closed when the input
/// resumes, without a `resume_client`: the read that was waiting looks at
/// the reset (commit 1063911's path, reached through `pause_input`).
#[test]
fn a_reset_put_off_by_pause_input_ends_a_client_paused_since_at_resume_input() {
    let server = server().start().unwrap();
    let events = server.events();
    let (mut a, ca) = connected(&server, &events);
    let (mut b, cb) = connected(&server, &events);
    server.pause_input();
    a.send_line("one");
    a.send_line("two");
    a.reset();
    // The loop has had the reset's error event by now (on loopback the
    // reset is in the server's socket before `close` returns).
    settle(&server, cb.id, &mut b);
    server.pause_client(ca.id).unwrap();
    settle(&server, cb.id, &mut b);
    server.resume_input();
    expect_lines_then_end(&events, ca.id, &["one", "two"], DisconnectReason::Reset);
    assert_eq!(server.client_count(), 1);
    server.stop();
}

/// A client paused and input paused, its output queued past what the
/// sockets take: each writable edge, which comes while nothing is read,
/// goes on writing it — the peer gets all of it without any resume.
#[test]
fn writable_edges_flush_a_client_while_it_and_the_input_are_paused() {
    const LINES: usize = 64;
    const LEN: usize = 64 * 1024;
    let server = server().max_queue_bytes(16 << 20).start().unwrap();
    let events = server.events();
    let (mut a, ca) = connected(&server, &events);
    server.pause_input();
    server.pause_client(ca.id).unwrap();
    settle(&server, ca.id, &mut a);
    let line = vec![b'x'; LEN - 1];
    for _ in 0..LINES {
        server.send(ca.id, &line).unwrap();
    }
    // 4 MiB: far more than the loopback socket buffers take before the
    // peer reads, so the rest waits for writable edges.
    for i in 0..LINES {
        let got = a.read_line();
        assert_eq!(got.len(), LEN - 1, "line {i}");
    }
    server.resume_input();
    server.stop();
}

/// The lines a [`Held`] server's callbacks recorded, with their clients.
type Lines = Arc<Mutex<Vec<(ClientId, Vec<u8>)>>>;

/// A one-loop lines server whose callbacks: on "hold", block the loop
/// until told to go on; on "pause <id>", pause that client. Records every
/// other line (a "pause" one once the pause is made) and every end.
struct Held {
    server: ServerHandle,
    got: Lines,
    gone: Disconnects,
    gate: LoopGate,
}

impl Held {
    fn start() -> Held {
        let got = Lines::default();
        let gone = Disconnects::new();
        let gate = LoopGate::new();
        let server = {
            let (got, gate) = (got.clone(), gate.clone());
            server()
                .on_message(move |srv, c, m| {
                    if gate.stays_on(m) {
                        // (held until the test goes on)
                    } else if let Some(id) = m.strip_prefix(b"pause ") {
                        let id: ClientId = std::str::from_utf8(id).unwrap().parse().unwrap();
                        srv.pause_client(id).unwrap();
                        got.lock().unwrap().push((c.id, m.to_vec()));
                    } else {
                        got.lock().unwrap().push((c.id, m.to_vec()));
                    }
                })
                .on_disconnect(gone.recorder())
                .start()
                .expect("start")
        };
        Held {
            server,
            got,
            gone,
            gate,
        }
    }

    fn lines_of(&self, id: ClientId) -> Vec<Vec<u8>> {
        let got = self.got.lock().unwrap();
        got.iter()
            .filter(|(c, _)| *c == id)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

/// Waits until everything `peer` sent is in the server's socket
/// (acknowledged by it), so that its readiness is there before the loop
/// looks.
fn arrived(peer: &Peer, server: &ServerHandle) {
    wait_until("the bytes in the server's receive queue", || {
        support::socket_queues(peer.addr(), server.local_addr())
            .is_some_and(|(unacked, _)| unacked == 0)
    });
}

/// While the loop is held, client A asks (in a callback) to pause client
/// B, and then B sends lines and resets. Released, the loop reads A first
/// (its bytes arrived first): B is paused before its error event is
/// handled, which then closes it at once after its lines — no resume.
#[test]
fn a_reset_behind_a_callbacks_pause_of_that_client_in_the_same_turn_ends_it() {
    let held = Held::start();
    let server = &held.server;
    let mut holder = Peer::connect(server.local_addr());
    holder.id_on(server);
    let mut a = Peer::connect(server.local_addr());
    a.id_on(server);
    let mut b = Peer::connect(server.local_addr());
    let idb = b.id_on(server);
    held.gate.hold(&mut holder);
    a.send_line(&format!("pause {idb}"));
    arrived(&a, server);
    b.send_line("one");
    b.send_line("two");
    arrived(&b, server);
    b.reset();
    held.gate.go_on();
    assert_eq!(held.gone.wait_for(idb), DisconnectReason::Reset);
    assert_eq!(held.lines_of(idb), vec![b"one".to_vec(), b"two".to_vec()]);
    server.stop();
}

/// A client whose own callback pauses it on the last line of a read that
/// also brings its end (the event: readable and read-closed together, the
/// loop held meanwhile): the end is seen at the resume.
#[test]
fn an_end_behind_a_clients_own_pause_in_the_same_read_is_seen_at_the_resume() {
    let held = Held::start();
    let server = &held.server;
    let mut holder = Peer::connect(server.local_addr());
    holder.id_on(server);
    let mut b = Peer::connect(server.local_addr());
    let idb = b.id_on(server);
    held.gate.hold(&mut holder);
    b.send_line("first");
    b.send_line(&format!("pause {idb}"));
    b.shutdown_write();
    arrived(&b, server);
    held.gate.go_on();
    // Its pause is made (the resume is posted after it).
    wait_until("b's lines", || held.lines_of(idb).len() == 2);
    server.resume_client(idb).unwrap();
    assert_eq!(held.gone.wait_for(idb), DisconnectReason::ClosedByPeer);
    let pause = format!("pause {idb}").into_bytes();
    assert_eq!(held.lines_of(idb), vec![b"first".to_vec(), pause]);
    server.stop();
}

/// While the loop is held, a client starts sending more than one read
/// budget's worth (8 reads of 64 KiB) and then its end, and a thread pauses
/// it: released, the loop applies the pause before it reads it. At the
/// resume it reads all of it, a budget at a time (a read scheduled for the
/// rest each time), and sees the end, though no other edge need come.
#[test]
fn input_over_the_read_budget_and_its_end_put_off_by_a_pause_are_read_at_the_resume() {
    const LINES: usize = 12;
    let held = Held::start();
    let server = &held.server;
    let mut holder = Peer::connect(server.local_addr());
    let idh = holder.id_on(server);
    let b = Peer::connect(server.local_addr());
    let idb = b.id_on(server);
    held.gate.hold(&mut holder);
    let mut w = b.try_clone_peer();
    let writer = std::thread::spawn(move || {
        let line = "y".repeat(64 * 1024);
        for _ in 0..LINES {
            w.send_line(&line);
        }
        w.shutdown_write();
    });
    server.pause_client(idb).unwrap();
    held.gate.go_on();
    settle(server, idh, &mut holder);
    assert!(held.lines_of(idb).is_empty(), "read while paused");
    server.resume_client(idb).unwrap();
    writer.join().expect("the writer");
    assert_eq!(held.gone.wait_for(idb), DisconnectReason::ClosedByPeer);
    assert_eq!(held.lines_of(idb).len(), LINES);
    drop(b);
    server.stop();
}

/// The client side: its pull queue full (it reads no more), the server's
/// last lines and its reset arrive; the error event, taken while reading
/// waits, is remembered (`read_pending`): as the application takes its
/// events the client reads the rest and sees the reset, with no write or
/// other event of its own.
#[test]
fn a_clients_reset_that_arrives_while_its_queue_is_full_is_seen_as_the_queue_drains() {
    let client = support::client_with_unread_input_and_a_reset(b"c\nd\n", None);
    let mut lines = Vec::new();
    let mut why = None;
    loop {
        match client.next_event(TIMEOUT).expect("an event") {
            tcphub::ClientEvent::Message(m) => lines.push(m),
            tcphub::ClientEvent::Disconnected(r) => why = Some(r),
            tcphub::ClientEvent::Closed => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(lines, [&b"a"[..], b"b", b"c", b"d"]);
    assert_eq!(why, Some(DisconnectReason::Reset));
}
