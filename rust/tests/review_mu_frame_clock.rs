//! Review (mu): the frame timeout runs only while a frame is unfinished. A
//! client whose frame, begun in one read, was finished in a later one, and
//! that then sends nothing, holds no frame: it is never cut for the frame
//! timeout (there is no idle timeout here).
//!
//! No test caught `take_input` keeping the finished frame's clock when a
//! read leaves nothing buffered (`(0, _) => None` made `conn.frame_started`):
//! the frame-timeout tests cut clients that never finish, or stream whole
//! frames. This one fails under that mutation.
//!
//! Nothing here bounds a time from above: a second client's unfinished
//! frame, begun after the first client's, is cut by the frame timeout, and
//! the timer check that cuts it would have cut the first client too (its
//! clock, if still running, started earlier).

mod support;

use std::time::Duration;

use support::{lines_server, wait_until, CallbackLog, Peer};

/// Generous: A's frame must be finished within it (a test machine stalled
/// that long fails the test), and C's unfinished one waits it out.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

#[test]
fn a_frame_finished_in_a_later_read_stops_the_frame_clock() {
    let log = CallbackLog::default();
    let server = log
        .attach(
            lines_server(10).threads(1).frame_timeout(FRAME_TIMEOUT),
            |_, _, _| {},
        )
        .start()
        .unwrap();

    // A: a frame begun in one read, finished in the next.
    let mut a = Peer::connect(server.local_addr());
    let a_id = a.id_on(&server);
    a.send(b"abc");
    wait_until("A's frame begun", || server.stats().bytes_in == 3);
    a.send(b"def\n");
    wait_until("A's frame handed out", || {
        log.has(&format!("msg {a_id} abcdef"))
    });

    // C: a frame begun after that, never finished: cut for the timeout.
    let mut c = Peer::connect(server.local_addr());
    let c_id = c.id_on(&server);
    c.send(b"never finished");
    wait_until("C cut for its unfinished frame", || {
        log.has(&format!("gone {c_id} FrameTimeout"))
    });
    let seen = log.lines();
    assert!(
        !seen.iter().any(|l| l.starts_with(&format!("gone {a_id} "))),
        "client {a_id}, with no frame unfinished, was cut: {seen:?}"
    );
    // A is still served.
    a.send_line("more");
    wait_until("A's next line handed out", || {
        log.has(&format!("msg {a_id} more"))
    });
    drop(c);
    server.stop();
}
