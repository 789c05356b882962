//! Pull mode: while the application takes no events and the queue is full,
//! the accepting loop (loop 0) stops accepting once too many events wait
//! for room — in any loop's backlog, not only in its own — and starts
//! again once the application makes room.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use support::{localhost, next_event, try_wait_until, wait_until, Peer};
use tcphub::{ClientId, Event, Events, Framing, ServerHandle, TcpServer};

/// Events waiting for room past which the server stops accepting.
const PAUSE_AT: u64 = 1_024;

/// A pull-mode server of `threads` loops whose queue holds `capacity`
/// events, filled by the messages of its first client (on loop 0), whose
/// id it returns with it; nothing waits in a backlog yet.
fn server_with_a_full_queue(
    threads: usize,
    capacity: usize,
) -> (ServerHandle, Events, Peer, ClientId) {
    let server = TcpServer::new(0, 10_000)
        .bind(localhost())
        .threads(threads)
        .framing(Framing::lines())
        .event_capacity(capacity)
        // Loop 0 goes back to sleep at once after each look (no polling
        // on into another loop's drain).
        .busy_poll(Duration::ZERO)
        .start()
        .expect("start");
    let events = server.events();
    let mut first = Peer::connect(server.local_addr());
    let first_id = first.id_on(&server);
    assert!(matches!(next_event(&events), Event::Connected(_)));
    first.send(&b"m\n".repeat(capacity));
    wait_until("the queue is full", || events.len() == capacity);
    (server, events, first, first_id)
}

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
    support::raise_fd_limit(3 * CLIENTS as u64 + 200);
    let (server, events, _first, first_id) = server_with_a_full_queue(2, capacity);
    let addr = server.local_addr();

    let mut streams = Vec::with_capacity(CLIENTS);
    let mut kicked = HashSet::new();
    for i in 0..CLIENTS {
        streams.push(std::net::TcpStream::connect(addr).expect("connect"));
        let want = i as u64 + 2;
        if !try_wait_until(Duration::from_secs(2), || server.stats().accepted >= want) {
            break; // no longer accepting
        }
        // Counted as accepted by loop 0, the client is listed once loop 1
        // has taken it over: kick it as soon as it is, and wait until it
        // has left.
        wait_until("the new client is kicked and gone", || {
            for c in server.clients() {
                if c.id != first_id && kicked.insert(c.id) {
                    server.disconnect(c.id).expect("kick");
                }
            }
            kicked.len() == i + 1 && server.client_count() == 1
        });
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

/// Pull mode: while the application takes no events and the queue is
/// full, new connections are accepted only until a thousand or so events
/// wait for room (then they wait in the listen backlog, as input waits in
/// the sockets), so their `Connected` events do not pile up without bound.
/// They did: every connection was accepted and its `Connected` (and, once
/// the application or a kick thread disconnected it, its `Disconnected`)
/// waited in the loop's backlog — 4,800 clients and 9,600 events in 4 s
/// against a queue of 16 with a thread kicking whoever connected.
#[test]
fn pull_mode_a_full_event_queue_stops_accepting_until_there_is_room() {
    // Past the pause, the rest wait in the listen backlog, which the
    // host's somaxconn caps (128 on older kernels): no more of them than
    // it holds, or a connect below waits out its SYN retries and fails.
    let waiting_n = 1_500.min(PAUSE_AT as usize + support::somaxconn());
    support::raise_fd_limit(3 * waiting_n as u64 + 200);
    let (server, events, mut first, first_id) = server_with_a_full_queue(1, 4);
    let addr = server.local_addr();
    // One more message waiting: the loop is stalled.
    first.send(b"m\n");
    let waiting: Vec<std::net::TcpStream> = (0..waiting_n)
        .map(|_| std::net::TcpStream::connect(addr).expect("connect"))
        .collect();
    // Two turns of the loop after every connection above was made: the
    // marker a command queues is counted when the loop applies it.
    for round in 1..=2u64 {
        server.send(first_id, b"marker").expect("marker");
        wait_until("the loop applies the marker", || {
            server.stats().msgs_out == round
        });
    }
    let accepted = server.stats().accepted;
    assert!(
        accepted <= 1 + PAUSE_AT + 1,
        "{accepted} clients accepted while their events could not be queued"
    );
    // Room comes: every waiting connection is accepted and reported.
    let mut connected = 0;
    while connected < waiting_n {
        match next_event(&events) {
            Event::Connected(_) => connected += 1,
            Event::Message(c, m) => assert_eq!((c.id, m), (first_id, b"m".to_vec())),
            e @ Event::Disconnected(..) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(server.client_count(), waiting_n + 1);
    drop(waiting);
    server.stop();
}
