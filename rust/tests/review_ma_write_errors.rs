//! Review ma (mutation testing, fifth round: `event_loop/input.rs` and
//! `event_loop/output.rs`): a write that finds the connection gone while
//! the server stops closes it at once, for the write's error — not left
//! for the stop's end and reported as stopped by the server.

mod support;

use std::time::Duration;

use support::{lingering_server, set_send_buffer_of_listener, wait_until, Peer};
use tcphub::DisconnectReason;

/// A client that reads nothing, with far more queued for it than the
/// kernel's buffers take, resets while `stop()` is flushing to it (the
/// linger time far off): its end is its reset, and the stop does not wait
/// out the linger time for it.
#[test]
fn review_ma_a_client_reset_while_the_stop_flushes_to_it_is_reported_as_its_reset() {
    let linger = Duration::from_secs(60);
    let (server, gone) = lingering_server(linger);
    // Small kernel buffers on both ends: most of what is sent stays queued.
    set_send_buffer_of_listener(server.local_addr(), 64 * 1024);
    let peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = peer.id_on(&server);
    let line = "q".repeat(1000);
    for _ in 0..8_000 {
        server.send(id, line.as_bytes()).unwrap();
    }
    wait_until("the sends queued", || server.stats().msgs_out == 8_000);
    server.begin_stop();
    peer.reset();
    assert_eq!(gone.wait_for(id), DisconnectReason::Reset);
    assert!(
        server.wait_timeout(linger / 2),
        "the stop waited for a client that was gone"
    );
}
