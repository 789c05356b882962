//! A client whose own write finds the connection reset while its pull
//! queue is full does not read the dead socket's whole receive buffer into
//! memory: what the server sent before the reset is delivered as the
//! application takes its events, one read's worth at a time, as on a live
//! connection.
//!
//! Before the fix the client read it all at once into the pull queue's
//! backlog, past the queue's bound: a server that filled a large receive
//! buffer with tiny messages and reset made a slow client allocate ~12
//! bytes of event per byte received.
//!
//! Alone in its own file (so its own process): it counts the bytes this
//! process has allocated (`counting_alloc`).

mod counting_alloc;
mod support;

use counting_alloc::live_kib;
use support::*;
use tcphub::{ClientEvent, DisconnectReason};

/// Lines the server sends before it resets: `LINES` of 10 bytes.
const LINES: usize = 300_000;

#[test]
fn a_reset_found_by_a_write_does_not_read_the_whole_receive_buffer_at_once() {
    // A receive buffer that holds all the lines unread (the kernel's
    // autotuning would grow it so for a client that read fast before).
    let body = b"xxxxxxxxx\n".repeat(LINES);
    let client = client_with_unread_input_and_a_reset(&body, Some(8 << 20));

    let before = live_kib();
    client.send(b"one").unwrap(); // its write finds the reset
    wait_until("the client finding the connection gone", || {
        !client.is_connected()
    });
    // Eager, the backlog had grown by ~120 bytes per line (35.7 MB) by then;
    // bounded, by one read's worth at most (64 KiB: 6,554 lines).
    let grew = live_kib() - before;
    assert!(
        grew < 2048.0,
        "{grew:.0} KiB allocated for the dead socket's input"
    );

    // Everything the server sent before the reset is still delivered.
    let mut lines = 0usize;
    let mut why = None;
    loop {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::Message(m) if m == b"xxxxxxxxx" => lines += 1,
            ClientEvent::Message(m) => assert!(m == b"a" || m == b"b", "{m:?}"),
            ClientEvent::Disconnected(r) => why = Some(r),
            ClientEvent::Closed => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(lines, LINES);
    assert!(why.is_some(), "no disconnect reason");
    assert_ne!(why, Some(DisconnectReason::ClosedLocally));
}
