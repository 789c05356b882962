//! A connection held for replies (its end already reported) whose peer
//! resets it while the loop's reading is paused — `pause_input()`, or a
//! full pull queue nobody takes from — is closed at once, as when reading
//! is not paused (`held_reset.rs`): its close reports nothing (its end was
//! reported), so it needs no room in the event queue. It stayed open until
//! reading resumed or the hold ran out (for good with `Duration::MAX`): its
//! error event's read was put off by the pause before the held check.
//! Found by a review. One test, the scenarios one after the other, as this
//! process counts its own open descriptors.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tcphub::{DisconnectReason, Event, Framing, TcpServer};

#[test]
fn held_connections_reset_while_reading_is_paused_are_closed() {
    // Callback mode, paused by the application: the reset held client's
    // place among `max_clients` (1) is free for a new one, input still paused.
    let gone = Disconnects::new();
    let connects = Arc::new(AtomicUsize::new(0));
    let seen = connects.clone();
    let server = TcpServer::new(0, 1)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .hold_for_replies(Duration::MAX)
        .on_connect(move |_, _| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .on_message(|_, _, _| {})
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let base = open_fds();
    let peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    peer.shutdown_write();
    assert_eq!(gone.wait_for(id), DisconnectReason::ClosedByPeer);
    assert_eq!(
        open_fds(),
        base + 2,
        "held: its socket (and the peer's) open"
    );
    server.pause_input();
    peer.reset();
    wait_until("the reset held socket to close, input paused", || {
        open_fds() <= base
    });
    assert!(server.input_paused());
    let mut next = Peer::connect(server.local_addr());
    wait_until("a new client admitted in its place", || {
        connects.load(Ordering::SeqCst) == 2
    });
    assert_eq!(gone.all().len(), 1, "one report: {:?}", gone.all());
    server.resume_input();
    next.send_line("hi");
    drop(next);
    server.stop();

    // Pull mode, the queue full (its one place taken by the `Connected`,
    // the `Disconnected` waiting for room) and nobody taking: the held
    // socket's window runs from the take, which never comes.
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .hold_for_replies(Duration::MAX)
        .event_capacity(1)
        .start()
        .unwrap();
    let events = server.events();
    let base = open_fds();
    let peer = Peer::connect(server.local_addr());
    peer.shutdown_write();
    wait_until("the end read", || server.stats().disconnected == 1);
    assert_eq!(
        open_fds(),
        base + 2,
        "held: its socket (and the peer's) open"
    );
    peer.reset();
    wait_until("the reset held socket to close, the queue full", || {
        open_fds() <= base
    });
    // Its events, once taken: the one end, as it was reported.
    let id = match next_event(&events) {
        Event::Connected(c) => c.id,
        e => panic!("{e:?}"),
    };
    match next_event(&events) {
        Event::Disconnected(c, DisconnectReason::ClosedByPeer) if c.id == id => {}
        e => panic!("{e:?}"),
    }
    assert_eq!(server.stats().disconnected, 1, "counted once");
    assert!(
        server.send(id, b"late").is_err(),
        "closed: {:?}",
        server.stats()
    );
    server.stop();
}
