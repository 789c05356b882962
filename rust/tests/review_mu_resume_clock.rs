//! Review (mu): `resume_client` starts the resumed client's clocks again.
//! A client paused for longer than the idle timeout (or, with a frame
//! begun, the frame timeout), then resumed with nothing to send, is not cut
//! at the next timer check: the pause was the server's doing, not the
//! client's idling or slowness.
//!
//! The existing `pause_client.rs` test of the idle case only checks that
//! an `IdleTimeout` follows the resume, which it also does when the clock
//! is not started again (the client is then cut at once). These fail when
//! `EventLoop::resume_client` does not set `last_active` (idle) or
//! `frame_started` (frame).

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use support::{lines_server, wait_until, CallbackLog, Peer};

/// The timeout under test: what the resumed client must get. (Timer checks
/// come every quarter of it, at most every second.)
const LIMIT: Duration = Duration::from_secs(5);

/// Which clock the test is about.
#[derive(Clone, Copy)]
enum Clock {
    Idle,
    Frame,
}

/// Pauses a client, lets more than [`LIMIT`] pass, resumes it from a
/// callback that then keeps the loop for longer than a timer tick (so the
/// turn that applies the resume also checks the timers), and asserts the
/// client was not cut before a later client's message was handed out, and
/// that it is then served.
fn resumed_client_is_not_cut_at_once(clock: Clock) {
    // What the callbacks saw, in order.
    let log = CallbackLog::default();
    let paused = Arc::new(AtomicU64::new(0));
    let (slept_tx, slept_rx) = mpsc::channel::<()>();
    let slept_tx = Mutex::new(slept_tx);
    let builder = lines_server(10).threads(1);
    let builder = match clock {
        Clock::Idle => builder.idle_timeout(LIMIT),
        Clock::Frame => builder.frame_timeout(LIMIT),
    };
    let server = log
        .attach(builder, {
            let paused = paused.clone();
            move |srv, _, msg| {
                if msg == b"go" {
                    // Applied after this callback, in the same turn as a
                    // timer check: this callback keeps the loop for longer
                    // than a timer tick (time has to pass for a timer to
                    // be due; nothing waits on this for ordering).
                    srv.resume_client(paused.load(Ordering::SeqCst)).unwrap();
                    std::thread::sleep(LIMIT / 4 + Duration::from_millis(250));
                    slept_tx.lock().unwrap().send(()).unwrap();
                }
            }
        })
        .start()
        .unwrap();

    // A: connected, (for the frame clock: a frame begun and read), paused
    // (the pause applied: a send after it came back).
    let mut a = Peer::connect(server.local_addr());
    let a_id = a.id_on(&server);
    paused.store(a_id, Ordering::SeqCst);
    if let Clock::Frame = clock {
        a.send(b"begun");
        wait_until("the frame's start read", || server.stats().bytes_in == 5);
    }
    server.pause_client(a_id).unwrap();
    server.send(a_id, b"sync").unwrap();
    assert_eq!(a.read_line(), "sync");
    // A sends nothing from now on; let more than the limit pass while it
    // is paused (a lower bound on elapsed time, not a sync).
    std::thread::sleep(LIMIT + Duration::from_millis(250));
    assert!(
        !log.any(|l| l.starts_with("gone")),
        "a paused client was cut: {:?}",
        log.lines()
    );

    // B's "go" resumes A from a callback that holds the loop past a tick.
    let mut b = Peer::connect(server.local_addr());
    b.send_line("go");
    slept_rx
        .recv_timeout(support::TIMEOUT)
        .expect("the go callback ran");
    // D connects after that turn: its message is handed out in a later one.
    let mut d = Peer::connect(server.local_addr());
    d.send_line("marker");
    wait_until("the marker handed out", || {
        log.any(|l| l.ends_with(" marker"))
    });
    let seen = log.lines();
    let a_gone = format!("gone {a_id} ");
    let marker = seen.iter().position(|l| l.ends_with(" marker")).unwrap();
    assert!(
        !seen[..marker].iter().any(|l| l.starts_with(&a_gone)),
        "client {a_id} was cut at the first timer check after its resume: {seen:?}"
    );
    // And it is served: what it sends now is handed out.
    a.send_line(" still here");
    let want = match clock {
        Clock::Idle => format!("msg {a_id}  still here"),
        Clock::Frame => format!("msg {a_id} begun still here"),
    };
    wait_until("A's line handed out", || log.has(&want));
    drop((b, d));
    server.stop();
}

#[test]
fn a_resumed_client_gets_a_whole_idle_timeout_from_the_resume() {
    resumed_client_is_not_cut_at_once(Clock::Idle);
}

#[test]
fn a_resumed_clients_unfinished_frame_gets_a_whole_frame_timeout_from_the_resume() {
    resumed_client_is_not_cut_at_once(Clock::Frame);
}
