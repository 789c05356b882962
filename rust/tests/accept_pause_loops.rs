//! Pull mode with several loops: the accepting loop (loop 0) stops accepting
//! while too many events wait for room in *any* loop's backlog, not only in
//! its own, and starts again once the application makes room.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::{localhost, next_event, try_wait_until, wait_until, Peer};
use tcphub::{Event, Framing, TcpServer};

/// A full queue, one client held on loop 0, and a churn of clients that
/// each land on loop 1 (it owns the fewest) and are kicked at once: every
/// `Connected` and `Disconnected` waits in loop 1's backlog, none in loop
/// 0's. Loop 0 used to look only at its own backlog, so it accepted every
/// one of them and loop 1's backlog grew without bound (3,000 clients,
/// 6,000 events, against a queue of 4). Now it stops at about a thousand
/// events waiting in all, and every client waiting then is accepted and
/// reported, in order, once the application takes the events.
#[test]
fn a_full_queue_stops_accepting_when_another_loops_backlog_is_long() {
    churn_against_a_full_queue(4);
}

/// As above with a queue longer than the pause limit, so that loop 1
/// moves its whole backlog into the queue at once when room comes: loop
/// 0, with no backlog of its own, must still be woken to accept again (it
/// was woken with loop 1 by the room, looked while loop 1's backlog was
/// still long, and slept).
#[test]
fn the_accepting_loop_is_woken_when_another_loop_empties_its_backlog() {
    churn_against_a_full_queue(4_096);
}

fn churn_against_a_full_queue(capacity: usize) {
    const CLIENTS: usize = 3_000;
    /// Events waiting for room past which the server stops accepting.
    const PAUSE_AT: u64 = 1_024;
    support::raise_fd_limit(3 * CLIENTS as u64 + 200);
    let server = TcpServer::new(0, 10_000)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .event_capacity(capacity)
        // Loop 0 goes back to sleep at once after each look (no polling
        // on into loop 1's drain).
        .busy_poll(Duration::ZERO)
        .start()
        .expect("start");
    let events = server.events();
    let addr = server.local_addr();
    let mut first = Peer::connect(addr);
    let first_id = first.id_on(&server);
    assert!(matches!(next_event(&events), Event::Connected(_)));
    // The queue full; nothing waits in loop 0's backlog.
    first.send(&b"m\n".repeat(capacity));
    wait_until("the queue is full", || events.len() == capacity);

    let mut streams = Vec::with_capacity(CLIENTS);
    let mut kicked = HashSet::new();
    for i in 0..CLIENTS {
        streams.push(std::net::TcpStream::connect(addr).expect("connect"));
        let want = i as u64 + 2;
        if !try_wait_until(Duration::from_secs(2), || server.stats().accepted >= want) {
            break; // no longer accepting
        }
        for c in server.clients() {
            if c.id != first_id && kicked.insert(c.id) {
                server.disconnect(c.id).expect("kick");
            }
        }
        wait_until("the kick is applied", || server.client_count() == 1);
    }
    let accepted = server.stats().accepted;
    assert!(
        accepted <= 1 + PAUSE_AT / 2 + 2,
        "{accepted} clients accepted while 2 events each waited for room"
    );
    assert!(accepted < CLIENTS as u64 + 1, "never stopped accepting");

    // Room comes: every connection is accepted and reported; each kicked
    // one's `Disconnected` follows its `Connected`.
    let mut connected = HashSet::new();
    let mut gone = HashSet::new();
    while connected.len() < streams.len() {
        match next_event(&events) {
            Event::Connected(c) => assert!(connected.insert(c.id)),
            Event::Disconnected(c, _) => {
                assert!(connected.contains(&c.id), "{:?} left before it came", c.id);
                assert!(gone.insert(c.id));
            }
            Event::Message(c, m) => assert_eq!((c.id, m), (first_id, b"m".to_vec())),
        }
    }
    assert_eq!(gone.len(), kicked.len());
    wait_until("every waiting connection is accepted", || {
        server.client_count() == streams.len() - kicked.len() + 1
    });
    drop(streams);
    server.stop();
}
