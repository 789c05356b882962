//! Linux's `accept` reports a network error already pending on the new
//! connection (`EPROTO`, `ENETDOWN`, `EHOSTUNREACH`, … — accept(2), "Error
//! handling") as `accept`'s own error, having taken the connection off
//! the backlog. That one connection is lost; the listener is fine, and the man
//! page says to treat these errors like `EAGAIN` and accept again, as the
//! loop does for `ECONNABORTED` — not to pause accepting as for `EMFILE`.
//!
//! No test can make the kernel fail an accept that way, so this binary
//! interposes `accept4` (failing the accept it is told to, with the error it
//! is told to, after closing the connection accepted) and `epoll_wait`
//! (counting the calls). Alone in its own file: the interposers are the
//! whole process's. The server has one loop and no busy polling, so each
//! `epoll_wait` is a turn of that loop.

mod support;

use std::ffi::{c_int, CStr};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use support::*;
use tcphub::{Framing, TcpServer};

/// Accepts still to fail (each then takes `ERRNO`).
static FAIL: AtomicUsize = AtomicUsize::new(0);
static ERRNO: AtomicI32 = AtomicI32::new(0);
/// Calls to `epoll_wait` so far.
static TURNS: AtomicUsize = AtomicUsize::new(0);
/// The turn an accept failed in, then the turn of each accept after it.
static SEEN: Mutex<(Option<usize>, Vec<usize>)> = Mutex::new((None, Vec::new()));

/// The C library's own `name`.
fn next_symbol(name: &CStr) -> *mut libc::c_void {
    // SAFETY: dlsym with a NUL-terminated name; RTLD_NEXT finds libc's.
    let f = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) };
    assert!(!f.is_null(), "{name:?} not found");
    f
}

/// The accept4 the whole process calls (mio's included).
///
/// # Safety
///
/// As accept4(2).
#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
    flags: c_int,
) -> c_int {
    type Accept4 =
        unsafe extern "C" fn(c_int, *mut libc::sockaddr, *mut libc::socklen_t, c_int) -> c_int;
    // SAFETY: libc's accept4 has this signature.
    let real: Accept4 = unsafe { std::mem::transmute(next_symbol(c"accept4")) };
    // SAFETY: the caller's arguments, passed on.
    let r = unsafe { real(fd, addr, len, flags) };
    if r < 0 {
        return r;
    }
    let turn = TURNS.load(Ordering::SeqCst);
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if FAIL
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        seen.0 = Some(turn);
        // SAFETY: r is the descriptor just accepted, ours to close; errno
        // is this thread's.
        unsafe {
            libc::close(r);
            *libc::__errno_location() = ERRNO.load(Ordering::SeqCst);
        }
        return -1;
    }
    if seen.0.is_some() {
        seen.1.push(turn);
    }
    r
}

/// The epoll_wait the whole process calls: counted.
///
/// # Safety
///
/// As epoll_wait(2).
#[no_mangle]
pub unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
) -> c_int {
    type EpollWait = unsafe extern "C" fn(c_int, *mut libc::epoll_event, c_int, c_int) -> c_int;
    // SAFETY: libc's epoll_wait has this signature.
    let real: EpollWait = unsafe { std::mem::transmute(next_symbol(c"epoll_wait")) };
    TURNS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the caller's arguments, passed on.
    unsafe { real(epfd, events, max, timeout) }
}

#[test]
fn a_network_error_pending_on_a_new_connection_does_not_pause_accepting() {
    const WAITING: usize = 8;
    for errno in [
        libc::EPROTO,
        libc::ENETDOWN,
        libc::EHOSTUNREACH,
        libc::ENETUNREACH,
    ] {
        // A client's "hold" keeps the only loop in its callback while the
        // others connect: they all wait in the backlog, and its next turn
        // accepts them.
        let (release, held) = mpsc::channel::<()>();
        let held = Mutex::new(held);
        let holding = Arc::new(AtomicBool::new(false));
        let in_callback = holding.clone();
        let server = TcpServer::new(0, 100)
            .bind(localhost())
            .threads(1)
            .busy_poll(Duration::ZERO)
            .framing(Framing::lines())
            .on_message(move |_, _, _| {
                in_callback.store(true, Ordering::SeqCst);
                let _ = held.lock().unwrap().recv_timeout(TIMEOUT);
            })
            .start()
            .unwrap();
        let mut holder = Peer::connect(server.local_addr());
        wait_clients(&server, 1);
        holder.send_line("hold");
        wait_until("the loop held in its callback", || {
            holding.load(Ordering::SeqCst)
        });
        *SEEN.lock().unwrap() = (None, Vec::new());
        ERRNO.store(errno, Ordering::SeqCst);
        FAIL.store(1, Ordering::SeqCst);
        // connect() returns once the handshake is done: each waits in the backlog.
        let lost = TcpStream::connect(server.local_addr()).unwrap();
        let waiting: Vec<TcpStream> = (0..WAITING)
            .map(|_| TcpStream::connect(server.local_addr()).unwrap())
            .collect();
        release.send(()).unwrap();
        wait_clients(&server, 1 + WAITING);
        let (failed_in, accepted_in) = SEEN.lock().unwrap().clone();
        let failed_in = failed_in.expect("the first accept failed");
        assert_eq!(accepted_in.len(), WAITING);
        // Before: each such error paused accepting for 50 ms (the EMFILE
        // retry), the rest of the backlog waiting for the next turns.
        assert!(
            accepted_in.iter().all(|&t| t == failed_in),
            "errno {errno}: failed in turn {failed_in}, the rest accepted in turns {accepted_in:?}"
        );
        assert_eq!(server.client_count(), 1 + WAITING);
        drop((lost, waiting));
        server.stop();
    }
}
