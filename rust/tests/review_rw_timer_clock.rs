//! The idle and frame timeouts' clock stands still while reading is paused
//! (`event_loop/clock.rs`, 154bcb6). A second review's checks of the
//! orders of calls its arithmetic (`since - paused`, `real - paused`) must
//! survive: a loop paused before its first client, clients adopted and
//! resumed (`resume_client`) while the pause lasts, and many pauses back
//! to back posted from another thread — none panics its loop, none cuts
//! a client while paused, and the clock keeps running once reading
//! resumes (an idle client is still cut, a sending one is not).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tcphub::{DisconnectReason, Framing, ServerHandle, TcpServer};

const IDLE: Duration = Duration::from_millis(300);

fn server(gone: &Disconnects) -> ServerHandle {
    TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .idle_timeout(IDLE)
        .frame_timeout(IDLE / 2)
        .on_message(|srv, c, msg| {
            let _ = srv.send(c.id, msg);
        })
        .on_disconnect(gone.recorder())
        .start()
        .unwrap()
}

/// Paused before any client came, a client adopted and another resumed
/// during the pause: neither is cut while it lasts (three idle timeouts
/// long), both are once it ends, and the loop still serves.
#[test]
fn clients_stamped_during_a_pause_from_the_loops_start_time_out_after_it() {
    let gone = Disconnects::new();
    let server = server(&gone);
    server.pause_input();
    // (The loop notes the pause at its next turn: a connect wakes it.)
    let mut a = Peer::connect(server.local_addr());
    let a_id = a.id_on(&server);
    let b = Peer::connect(server.local_addr());
    let b_id = b.id_on(&server);
    server.pause_client(b_id).unwrap();
    a.send(b"half a line"); // a frame started, unread while paused
    std::thread::sleep(IDLE);
    server.resume_client(b_id).unwrap(); // stamped while the clock stands
    std::thread::sleep(IDLE * 2);
    assert_eq!(gone.all(), vec![], "cut while reading was paused");
    server.resume_input();
    assert_eq!(gone.wait_for(b_id), DisconnectReason::IdleTimeout);
    // The half line is read at the resume: its frame's clock (shorter
    // than the idle one) runs from
    // then, and runs out first.
    assert_eq!(gone.wait_for(a_id), DisconnectReason::FrameTimeout);
    let mut c = Peer::connect(server.local_addr());
    c.send_line("still here");
    assert_eq!(c.read_line(), "still here");
    drop(a);
    server.stop();
}

/// Pauses and resumes back to back from another thread, thousands of
/// them, while one client keeps sending and another says nothing: the
/// loop survives them, the quiet client is cut for idleness in the end,
/// the sending one never.
#[test]
fn many_pauses_from_another_thread_leave_the_clock_running() {
    let gone = Disconnects::new();
    let server = server(&gone);
    let mut busy = Peer::connect(server.local_addr());
    let busy_id = busy.id_on(&server);
    let quiet = Peer::connect(server.local_addr());
    let quiet_id = quiet.id_on(&server);
    let done = Arc::new(AtomicBool::new(false));
    let toggler = {
        let (server, done) = (server.clone(), done.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !done.load(Ordering::Acquire) {
                server.pause_input();
                if n.is_multiple_of(7) {
                    std::thread::yield_now();
                }
                server.resume_input();
                n += 1;
            }
            server.resume_input();
        })
    };
    // The busy client is served through the pauses (each echo within the
    // idle time of the last, on a loaded machine too: it sends again at
    // once) until the quiet one is cut.
    let mut i = 0;
    wait_until("the quiet client cut for idleness", || {
        busy.send_line(&format!("m{i}"));
        assert_eq!(busy.read_line(), format!("m{i}"));
        i += 1;
        gone.reason_of(quiet_id).is_some()
    });
    done.store(true, Ordering::Release);
    toggler.join().unwrap();
    assert_eq!(gone.wait_for(quiet_id), DisconnectReason::IdleTimeout);
    assert_eq!(gone.reason_of(busy_id), None, "the busy client was cut");
    busy.send_line("after");
    assert_eq!(busy.read_line(), "after");
    server.stop();
}
