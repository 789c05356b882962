//! Review ma (mutation testing, fifth round: `event_loop/input.rs`): what
//! the loop no longer reads. A kicked client whose output is still being
//! written (for up to the linger time) is not read meanwhile: nothing it
//! sends after `disconnect()` returned is handed out.

mod support;

use std::time::Duration;

use support::{lines_server, set_send_buffer_of_listener, wait_until, CallbackLog, Peer};

#[test]
fn review_ma_a_kicked_client_still_draining_its_output_is_not_read() {
    let log = CallbackLog::default();
    let server = log
        .attach(
            lines_server(10)
                .max_queue_bytes(64 << 20)
                .linger(Duration::from_millis(500)),
            |_, _, _| {},
        )
        .start()
        .unwrap();
    // Small kernel buffers on both ends: most of what is sent stays queued,
    // and the kick's close waits for it (the linger time).
    set_send_buffer_of_listener(server.local_addr(), 64 * 1024);
    let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = peer.id_on(&server);
    peer.send_line("before");
    wait_until("the first line handed out", || {
        log.has(&format!("msg {id} before"))
    });
    let line = "q".repeat(1000);
    for _ in 0..8_000 {
        server.send(id, line.as_bytes()).unwrap();
    }
    wait_until("the sends queued", || server.stats().msgs_out == 8_000);
    server.disconnect(id).unwrap();
    peer.send_line("after");
    wait_until("the kicked client's end", || {
        log.has(&format!("gone {id} Kicked"))
    });
    assert!(
        !log.has(&format!("msg {id} after")),
        "a line sent after the kick was handed out: {:?}",
        log.lines()
    );
}
