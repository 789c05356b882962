//! The idle timeout against input the server holds on a client's behalf.
//! A message read while the pull queue is full waits in the loop's backlog,
//! and the loop stops reading: the client's request is held by the server,
//! not by the client. The idle clock must not run meanwhile — as it does not
//! for input a pause left stashed, which counts as arriving when it is
//! decoded — or a request/response client whose request waited there longer
//! than the idle timeout is cut as idle at the first timer check after the
//! queue has room again, before the application could even answer it.

mod support;

use std::time::{Duration, Instant};

use support::*;
use tcphub::{DisconnectReason, Event, Framing, TcpServer};

/// (Long enough that the test's own steps after the pause — taking the
/// request, half a timeout of work, the answer — fit in the rest with a
/// margin of seconds on a loaded machine.)
const IDLE: Duration = Duration::from_secs(4);

#[test]
fn a_request_held_in_the_backlog_of_a_full_queue_does_not_make_its_client_idle() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::length_prefixed())
        .event_capacity(2)
        .idle_timeout(IDLE)
        .start()
        .unwrap();
    let events = server.events();
    let addr = server.local_addr();
    let mut x = Peer::connect(addr);
    let x_id = match next_event(&events) {
        Event::Connected(c) => c.id,
        other => panic!("expected X's Connected, got {other:?}"),
    };
    let mut b = Peer::connect(addr);
    let b_id = match next_event(&events) {
        Event::Connected(c) => c.id,
        other => panic!("expected B's Connected, got {other:?}"),
    };
    // B's two messages fill the queue (capacity 2)...
    b.send_frame(b"b1");
    b.send_frame(b"b2");
    wait_until("B's messages fill the queue", || events.len() == 2);
    // ...so X's request, read and decoded, waits in the loop's backlog, and
    // the loop stops reading.
    x.send_frame(b"req");
    wait_until("the loop decoded X's request", || {
        server.stats().msgs_in >= 3
    });
    // The application is busy for one and a half idle timeouts before it
    // takes events again (the scenario, not a wait for something to happen).
    std::thread::sleep(IDLE * 3 / 2);
    // Taking one event makes room: X's request moves into the queue and the
    // loop reads again.
    let resumed = Instant::now();
    let mut got_req = false;
    let mut x_cut = None;
    while !got_req && x_cut.is_none() && resumed.elapsed() < TIMEOUT {
        match events.recv_timeout(Duration::from_millis(50)) {
            Ok(Event::Message(c, m)) if c.id == x_id => {
                assert_eq!(m, b"req");
                got_req = true;
            }
            Ok(Event::Disconnected(c, why)) if c.id == x_id => x_cut = Some(why),
            Ok(Event::Message(c, _)) | Ok(Event::Disconnected(c, _)) if c.id == b_id => {}
            Ok(other) => panic!("unexpected event {other:?}"),
            Err(_) => {}
        }
    }
    assert!(got_req || x_cut.is_some(), "X's request or its end");
    if got_req {
        // The work takes half the idle timeout; then the answer goes out,
        // and X, answered, sends its next request at once.
        std::thread::sleep(IDLE / 2);
        if server.send(x_id, b"resp").is_ok() {
            let mut reader = x.try_clone_peer();
            reader
                .stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut byte = [0u8; 1];
            // (An EOF or a reset here: X was cut meanwhile.)
            if reader
                .stream
                .peek(&mut byte)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                let resp = reader.read_frame();
                assert_eq!(resp, b"resp");
                x.send_frame(b"next");
            }
        }
        while x_cut.is_none() && resumed.elapsed() < TIMEOUT {
            match events.recv_timeout(Duration::from_millis(50)) {
                Ok(Event::Message(c, m)) if c.id == x_id => {
                    assert_eq!(m, b"next");
                    break;
                }
                Ok(Event::Disconnected(c, why)) if c.id == x_id => x_cut = Some(why),
                _ => {}
            }
        }
    }
    server.stop();
    assert_eq!(
        x_cut,
        None,
        "X, whose request the server held for the pause, was cut (IdleTimeout: {})",
        matches!(x_cut, Some(DisconnectReason::IdleTimeout))
    );
}
