//! Review (mu): a read that `pause_input()` cut short after a whole frame
//! ends that frame's clock. The frame begun after it (the rest of the read,
//! kept for the resume) starts its clock when it is read, at the resume —
//! not when the frame the pause came after was begun.
//!
//! No test caught `take_input` keeping `frame_started` on that path
//! (`Input::Paused`): this one fails under that mutation.
//!
//! Nothing here bounds a time from above but [`FRAME_TIMEOUT`], within
//! which the first steps must run: A begins a frame, then C begins one, a
//! timer tick later A finishes its frame and begins the next in one write,
//! and the callback handed A's frame pauses input. After the resume, C's
//! frame (begun before the pause) is cut for the timeout before A's
//! (begun at the resume) — unless A's clock still ran from its first frame,
//! begun before C's.

mod support;

use std::time::Duration;

use support::{lines_server, wait_until, CallbackLog, Peer};

/// Generous: the steps before the pause must fit in it.
const FRAME_TIMEOUT: Duration = Duration::from_secs(6);

#[test]
fn the_frame_after_a_pause_starts_its_clock_at_the_resume() {
    let log = CallbackLog::default();
    let server = log
        .attach(
            lines_server(10).threads(1).frame_timeout(FRAME_TIMEOUT),
            |srv, _, msg| {
                if msg == b"abc" {
                    srv.pause_input();
                }
            },
        )
        .start()
        .unwrap();

    // A begins a frame; then C begins one.
    let mut a = Peer::connect(server.local_addr());
    let a_id = a.id_on(&server);
    a.send(b"ab");
    wait_until("A's frame begun", || server.stats().bytes_in == 2);
    let mut c = Peer::connect(server.local_addr());
    let c_id = c.id_on(&server);
    c.send(b"zz");
    wait_until("C's frame begun", || server.stats().bytes_in == 4);
    // Well over a timer tick (a quarter of the timeout, at most 1 s)
    // between C's frame's start and the pause (a lower bound on elapsed
    // time, not a sync).
    std::thread::sleep(Duration::from_millis(2500));
    // A finishes its frame and begins the next in one write: the callback
    // handed "abc" pauses input, and "xy" waits for the resume.
    a.send(b"c\nxy");
    wait_until("input paused after A's frame", || {
        log.has(&format!("msg {a_id} abc")) && server.input_paused()
    });
    server.resume_input();
    wait_until("C cut for its unfinished frame", || {
        log.has(&format!("gone {c_id} FrameTimeout"))
    });
    let seen = log.lines();
    let c_gone = seen
        .iter()
        .position(|l| *l == format!("gone {c_id} FrameTimeout"))
        .unwrap();
    assert!(
        !seen[..c_gone]
            .iter()
            .any(|l| l.starts_with(&format!("gone {a_id} "))),
        "A's frame, begun at the resume, was cut before C's, begun before the pause: {seen:?}"
    );
    drop((a, c));
    server.stop();
}
