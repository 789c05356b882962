//! Review sg: a hub whose stderr is a pipe nobody reads (full at 64 KiB:
//! `subprocess.Popen(stderr=PIPE)` never read, a `2>&1 |` reader that
//! stopped). Its event loops log joins and leaves, and it waited in those
//! log lines: it served no one any more, and a SIGTERM (two, even) did not
//! stop it — it waited in "signal 15: stopping". A line stderr cannot take
//! now is dropped and counted instead.

mod support;

use support::stderr_pipe::PipedHub;
use support::*;

/// Serving goes on with stderr full, and the next line that goes through
/// once it is read says how many were dropped.
#[test]
fn a_full_stderr_does_not_stall_the_hub() {
    let mut hub = PipedHub::start(&["--mode", "echo"]);
    hub.fill();
    // Its join is logged on the event loop: it waited there, the echo never
    // came (the read timed out).
    let mut a = Line::connect(hub.port);
    a.send("still served");
    a.expect("still served");
    let log = hub.drain();
    let mut b = Line::connect(hub.port);
    b.send("and again");
    b.expect("and again");
    let note = wait_line(&log, |l| l.contains("dropped (stderr was full)"));
    assert!(note.contains("tcphub: 1 log line dropped"), "{note}");
    wait_line(&log, |l| {
        l.contains(&format!("client {} connected", b.addr()))
    });
}

/// One SIGTERM stops a hub whose stderr is full, gracefully (exit 0, its
/// clients closed).
#[test]
fn a_full_stderr_does_not_keep_the_hub_from_stopping() {
    let mut hub = PipedHub::start(&["--mode", "echo"]);
    hub.fill();
    let mut a = Line::connect(hub.port);
    // Taken in (its join logged, or dropped) before the stop: not reset
    // in the listen queue.
    a.send("in");
    a.expect("in");
    support::stderr_pipe::signal(hub.child.id(), libc::SIGTERM);
    let status = wait_exit(&mut hub.child, "hub did not exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(a.until_eof(), "");
}
