//! A pull-mode application that took a client's request and is still
//! working on it (it has not called for events since) slows the idle and
//! frame clocks, as a slow callback holding its loop's turn does: the
//! client waits for the answer, it is not idle. They run for an eighth of
//! the hold (50 ms at least), so an application that takes an event and
//! never calls for more still has its clients timed out, eight times
//! later; once it calls for events again, they run at full speed.

mod support;

use std::time::{Duration, Instant};

use support::*;
use tcphub::{DisconnectReason, Event, ServerHandle};

/// A one-loop lines server in pull mode with an `idle` timeout.
fn server(idle: Duration) -> ServerHandle {
    lines_server(4)
        .threads(1)
        .idle_timeout(idle)
        .start()
        .expect("start")
}

/// The handler's work on a request: well over the idle timeout.
const WORK: Duration = Duration::from_secs(3);

#[test]
fn a_request_handled_longer_than_the_idle_timeout_is_answered() {
    let server = server(Duration::from_secs(1));
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    let id = match next_event(&events) {
        Event::Connected(c) => c.id,
        other => panic!("{other:?} instead of the connect"),
    };
    peer.send_line("job");
    expect_message(&events, id, b"job");
    std::thread::sleep(WORK); // working on it: no call for events meanwhile
    server.send(id, b"done").expect("the client is still there");
    assert_eq!(peer.read_line(), "done");
    // Back for events: the clock runs again, and the client, idle now, is
    // cut.
    let answered = Instant::now();
    expect_end(&events, id, DisconnectReason::IdleTimeout);
    peer.expect_eof();
    assert!(
        answered.elapsed() < Duration::from_secs(8),
        "cut {:?} after the answer, with a 1 s idle timeout",
        answered.elapsed()
    );
}

#[test]
fn an_application_that_keeps_calling_for_events_lets_the_clock_run() {
    // Taking events in a loop (each one handled at once) is no hold: an
    // idle client is cut on time (not eight times later, as in a hold)
    // while another keeps the events coming.
    let server = server(Duration::from_secs(1));
    let events = server.events();
    let idle = Peer::connect(server.local_addr());
    let idle_id = idle.id_on(&server);
    let mut busy = Peer::connect(server.local_addr());
    let start = Instant::now();
    let mut cut = None;
    while start.elapsed() < Duration::from_secs(12) && cut.is_none() {
        busy.send_line("tick");
        if let Ok(Event::Disconnected(c, why)) = events.recv_timeout(Duration::from_millis(20)) {
            if c.id == idle_id {
                cut = Some((why, start.elapsed()));
            }
        }
    }
    let (why, after) = cut.expect("the idle client was not cut within 12 s");
    assert_eq!(why, DisconnectReason::IdleTimeout, "after {after:?}");
    assert!(
        after < Duration::from_secs(5),
        "cut after {after:?}, with a 1 s idle timeout: as if the events taken were held"
    );
    drop(idle);
}

#[test]
fn an_application_that_stops_calling_for_events_still_has_idle_clients_cut() {
    let idle = Duration::from_millis(500);
    let server = server(idle);
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    let start = Instant::now();
    let id = match next_event(&events) {
        Event::Connected(c) => c.id,
        other => panic!("{other:?} instead of the connect"),
    };
    // No call for events from here: the connect is held for good.
    peer.expect_eof();
    let after = start.elapsed();
    assert!(
        after >= 2 * idle,
        "cut after {after:?}: the hold did not slow the clock"
    );
    expect_end(&events, id, DisconnectReason::IdleTimeout);
}
