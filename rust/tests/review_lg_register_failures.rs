//! Review lg: a new connection the event loop cannot register with epoll
//! (`ENOSPC`: the user's `fs.epoll.max_user_watches` used up; `ENOMEM`) is
//! dropped, and that was logged as a warning per connection: server-wide
//! trouble, as an accept out of descriptors is, that a connect storm turned
//! into a warning per connection. Now the first of a run is a warning,
//! then one line at most every 10 s with the count; each connection is
//! still named at debug.
//!
//! No test can exhaust epoll watches without touching the whole machine,
//! so this binary interposes `epoll_ctl` (failing `EPOLL_CTL_ADD` while
//! told to). Alone in its own file: the interposer is the whole process's,
//! and so is the logger.

mod support;

use std::ffi::c_int;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use support::*;
use tcphub::{Framing, TcpServer};

/// Whether `EPOLL_CTL_ADD` fails (with `ENOSPC`).
static FAIL_ADD: AtomicBool = AtomicBool::new(false);

/// The epoll_ctl the whole process calls (mio's included).
///
/// # Safety
///
/// As epoll_ctl(2).
#[no_mangle]
pub unsafe extern "C" fn epoll_ctl(
    epfd: c_int,
    op: c_int,
    fd: c_int,
    event: *mut libc::epoll_event,
) -> c_int {
    type EpollCtl = unsafe extern "C" fn(c_int, c_int, c_int, *mut libc::epoll_event) -> c_int;
    if op == libc::EPOLL_CTL_ADD && FAIL_ADD.load(Ordering::SeqCst) {
        // SAFETY: this thread's errno.
        unsafe { *libc::__errno_location() = libc::ENOSPC };
        return -1;
    }
    // SAFETY: dlsym with a NUL-terminated name; RTLD_NEXT finds libc's.
    let f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"epoll_ctl".as_ptr()) };
    assert!(!f.is_null());
    // SAFETY: libc's epoll_ctl has this signature; the caller's arguments.
    unsafe {
        let real: EpollCtl = std::mem::transmute(f);
        real(epfd, op, fd, event)
    }
}

#[test]
fn review_lg_connections_that_cannot_be_registered_are_one_warning_per_run() {
    const STORM: usize = 200;
    capture_log(log::LevelFilter::Debug);
    let server = TcpServer::new(0, 1000)
        .bind(localhost())
        .threads(1)
        .busy_poll(std::time::Duration::ZERO)
        .framing(Framing::lines())
        .on_message(|srv, c, msg| {
            let _ = srv.send(c.id, msg);
        })
        .start()
        .unwrap();
    let addr = server.local_addr();
    FAIL_ADD.store(true, Ordering::SeqCst);
    for _ in 0..STORM {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        // Dropped by the server: EOF (or a reset).
        let mut buf = [0u8; 16];
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
    }
    FAIL_ADD.store(false, Ordering::SeqCst);
    let warned = logged(log::Level::Warn, "cannot register");
    let each = logged(log::Level::Debug, "cannot register");
    // Registered again: served.
    let mut p = Peer::connect(addr);
    p.send_line("back");
    assert_eq!(p.read_line(), "back");
    server.stop();
    assert_eq!(
        warned.len(),
        1,
        "{} warnings for {STORM} connections: {:#?}",
        warned.len(),
        &warned[..warned.len().min(3)]
    );
    assert!(
        warned[0].contains("No space left") || warned[0].contains("space"),
        "{warned:?}"
    );
    // Each one still there at debug, naming the connection.
    assert!(each.len() >= STORM - 1, "{} at debug", each.len());
    assert!(each.iter().all(|l| l.contains("127.0.0.1:")), "{each:#?}");
}
