//! A ReadyFd (server pull events) made or dropped in a forked child took
//! the event queue's lock (`Receiver::watch` / `unwatch`) without looking
//! at the fork first; a lock held by a parent's thread at the fork is held
//! for good in the child, which then hung.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use support::child::wait_child_or_kill;

/// Forks; the child runs `child` and `_exit`s. Whether it hung (killed
/// after the tests' bounded wait).
fn child_hangs(child: impl FnOnce()) -> bool {
    // SAFETY: the child only runs `child` (no allocation-heavy work) and
    // `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        child();
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(0) };
    }
    wait_child_or_kill(pid).is_none()
}

/// Up to 60 forks while another thread of the parent looks at the queue
/// (as a monitoring thread reading `len()` / `pending_events` does), the
/// child doing `in_child` with the server's events; whether a child hung.
fn any_child_hangs(in_child: impl Fn(&tcphub::Events) -> Box<dyn FnOnce()>) -> bool {
    let server = tcphub::TcpServer::new(0, 10)
        .bind("127.0.0.1".parse().unwrap())
        .start()
        .unwrap();
    let events = server.events();
    let stop = Arc::new(AtomicBool::new(false));
    let looker = {
        let events = events.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::hint::black_box(events.len());
            }
        })
    };
    let hung = (0..60).any(|_| child_hangs(in_child(&events)));
    stop.store(true, Ordering::Relaxed);
    looker.join().unwrap();
    hung
}

#[test]
fn a_ready_fd_dropped_in_a_forked_child_does_not_hang() {
    let hung = any_child_hangs(|events| {
        let ready = events.ready_fd().unwrap();
        Box::new(move || drop(ready))
    });
    assert!(!hung, "a forked child hung dropping its ReadyFd");
}

#[test]
fn a_ready_fd_made_in_a_forked_child_does_not_hang() {
    let hung = any_child_hangs(|events| {
        let events = events.clone();
        Box::new(move || {
            let ready = events.ready_fd();
            std::hint::black_box(&ready);
        })
    });
    assert!(!hung, "a forked child hung making a ReadyFd");
}
