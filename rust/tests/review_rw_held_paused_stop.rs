//! A held connection (its end reported) is looked at before the read
//! pause in `read` (c724915): its reset closes it at once even while the
//! pull queue is full, reporting nothing. A second review's checks around
//! that order: with the queue full, held connections reset and not reset,
//! and a `stop()` on top, every client's end is reported exactly once (the
//! held ones' as their peers' ends, not again as `ServerStopped`), no event
//! is queued past the queue's room while it is full, and the stop finishes.
//! One test: this process counts its own descriptors.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::*;
use tcphub::{ClientId, DisconnectReason, Event, Framing, TcpServer};

#[test]
fn held_connections_reset_while_the_queue_is_full_are_reported_once_through_a_stop() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .hold_for_replies(Duration::MAX)
        .event_capacity(4)
        .start()
        .unwrap();
    let events = server.events();
    let base = open_fds();
    // Two clients finish sending: held, their ends reported (the queue's
    // four places taken: full, nobody takes).
    let a = Peer::connect(server.local_addr());
    let b = Peer::connect(server.local_addr());
    a.shutdown_write();
    b.shutdown_write();
    wait_until("both ends read", || server.stats().disconnected == 2);
    // Whoever comes next waits (its `Connected` finds no room).
    server.pause_input(); // (paused twice over)
                          // One held peer resets: closed at once, nothing more reported.
    a.reset();
    wait_until("the reset held socket closed", || {
        open_fds() <= base + 2 // (b's, and its peer's)
    });
    assert_eq!(server.stats().disconnected, 2, "counted once each");
    // The stop, nobody taking, the queue still full.
    let stopping = {
        let server = server.clone();
        std::thread::spawn(move || server.stop())
    };
    wait_until("the stop to finish", || stopping.is_finished());
    stopping.join().unwrap();
    // Every client connected once and ended once.
    let mut seen: HashMap<ClientId, (usize, Vec<DisconnectReason>)> = HashMap::new();
    while let Some(e) = events.try_recv() {
        match e {
            Event::Connected(cl) => seen.entry(cl.id).or_default().0 += 1,
            Event::Disconnected(cl, why) => seen.entry(cl.id).or_default().1.push(why),
            Event::Message(cl, m) => panic!("a message from {cl:?}: {m:?}"),
        }
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    let mut ends: Vec<DisconnectReason> = seen
        .values()
        .map(|(connects, ends)| {
            assert_eq!(*connects, 1, "{seen:?}");
            assert_eq!(ends.len(), 1, "one end each: {seen:?}");
            ends[0].clone()
        })
        .collect();
    ends.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(
        ends,
        vec![
            DisconnectReason::ClosedByPeer,
            DisconnectReason::ClosedByPeer
        ]
    );
    drop(b);
}
