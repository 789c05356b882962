//! Review: a ReadyFd (server pull events) dropped in a forked child takes the
//! event queue's lock (`Receiver::unwatch`) without looking at the fork
//! first; a lock held by a parent's thread at the fork is held for good in
//! the child, which then hangs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Forks; the child drops `ready` and `_exit`s. Whether it hung (killed
/// after 3 s).
fn child_hangs(ready: tcphub::ReadyFd) -> bool {
    // SAFETY: the child only drops the ReadyFd and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        drop(ready);
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(0) };
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut status = 0;
    loop {
        // SAFETY: our own child, without blocking.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            drop(ready);
            return false;
        }
        if Instant::now() > deadline {
            // SAFETY: our own child, stuck.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            drop(ready);
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_ready_fd_dropped_in_a_forked_child_does_not_hang() {
    let server = tcphub::TcpServer::new(0, 10)
        .bind("127.0.0.1".parse().unwrap())
        .start()
        .unwrap();
    let events = server.events();
    // Another thread of the parent looks at the queue now and then (as a
    // monitoring thread reading `len()` / `pending_events` does).
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
    let mut hung = 0;
    for _ in 0..60 {
        let ready = events.ready_fd().unwrap();
        if child_hangs(ready) {
            hung += 1;
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    looker.join().unwrap();
    assert_eq!(hung, 0, "a forked child hung dropping its ReadyFd");
}

/// Forks; the child makes a ReadyFd from `events` (`Receiver::watch`, the
/// queue's lock) and `_exit`s. Whether it hung (killed after 3 s).
fn child_hangs_making_one(events: &tcphub::Events) -> bool {
    // SAFETY: the child only makes and drops a ReadyFd and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ready = events.ready_fd();
        std::hint::black_box(&ready);
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(0) };
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut status = 0;
    loop {
        // SAFETY: our own child, without blocking.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            return false;
        }
        if Instant::now() > deadline {
            // SAFETY: our own child, stuck.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_ready_fd_made_in_a_forked_child_does_not_hang() {
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
    let mut hung = false;
    for _ in 0..60 {
        if child_hangs_making_one(&events) {
            hung = true;
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    looker.join().unwrap();
    assert!(!hung, "a forked child hung making a ReadyFd");
}
