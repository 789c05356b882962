//! A connection held for replies (`hold_for_replies`) whose peer resets it
//! is closed at once, not at the end of its window: a held socket's error
//! event was ignored (its reads skipped), so the descriptor stayed open for
//! the whole window — for good with `Duration::MAX` — found by a review.
//! One test per scenario, run one after the other in this process, which
//! counts its own open descriptors.

mod support;

use std::time::Duration;

use support::*;
use tcphub::{DisconnectReason, Event, Framing, TcpServer};

#[test]
fn held_connections_are_closed_when_their_peer_resets() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .hold_for_replies(Duration::MAX)
        .on_message(|_, _, _| {})
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let base = open_fds();

    // A half-closed client that resets while held; nothing written to it.
    let peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    peer.shutdown_write();
    assert_eq!(gone.wait_for(id), DisconnectReason::ClosedByPeer);
    assert_eq!(
        open_fds(),
        base + 2,
        "held: its socket (and the peer.s) open"
    );
    peer.reset();
    wait_until("the reset held socket to close", || open_fds() <= base);

    // A client that closed both sides: one answer, which it resets.
    let peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    drop(peer);
    assert_eq!(gone.wait_for(id), DisconnectReason::ClosedByPeer);
    server.send(id, b"answer").unwrap(); // taken by the kernel; a reset comes back
    wait_until("the held socket to close after the reset", || {
        open_fds() <= base
    });
    assert_eq!(gone.all().len(), 2, "one report each: {:?}", gone.all());
    server.stop();

    // Pull mode: the window runs from the take, however late.
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .hold_for_replies(Duration::from_millis(300))
        .start()
        .unwrap();
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("q");
    peer.shutdown_write();
    // The end is read (the client is held) well before it is taken.
    wait_until("the end read", || server.stats().disconnected == 1);
    std::thread::sleep(Duration::from_millis(600));
    let id = match next_event(&events) {
        Event::Connected(c) => c.id,
        e => panic!("{e:?}"),
    };
    assert!(matches!(next_event(&events), Event::Message(..)));
    assert!(matches!(next_event(&events), Event::Disconnected(..)));
    server.send(id, b"answer").expect("held from the take");
    assert_eq!(peer.read_line(), "answer");
    peer.expect_eof(); // the window from the take ends it
    server.stop();
}
