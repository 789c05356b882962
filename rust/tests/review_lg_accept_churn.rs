//! A server pinned at its descriptor limit while clients come and go
//! (review lg): each client that leaves frees one descriptor, the next
//! retry accepts one waiting connection, and the one after fails again.
//! That is one run of accept failures, logged once (and again every 10 s),
//! not a warning and an "accepting again" per connection accepted: with
//! churn at the limit that was ~100 warnings a second, one per client
//! (971 in 10 s from `tcphub serve` under `ulimit -n 40`).
//!
//! Own process: it lowers `RLIMIT_NOFILE` and installs its own logger.

mod support;

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Instant;

use support::*;
use tcphub::Framing;

/// The highest descriptor open in this process.
fn highest_fd() -> i32 {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .max()
        .expect("some descriptor")
}

/// Fills every free descriptor number up to the highest open one (and one
/// past it) with duplicates of `of`, and goes on until there are at least
/// `at_least` of them: the next descriptor anything opens would be the
/// last number returned plus one, and each filler closed frees exactly one.
/// (How many free numbers lie below the highest open one depends on what
/// the harness left open: on a densely packed table there are none, so the
/// count cannot come from the holes alone.)
fn fill_fd_table(of: i32, at_least: usize) -> Vec<i32> {
    let top = highest_fd();
    let mut fillers = Vec::new();
    loop {
        // SAFETY: dup of a descriptor we hold open.
        let fd = unsafe { libc::dup(of) };
        assert!(fd >= 0, "dup: {}", std::io::Error::last_os_error());
        fillers.push(fd);
        if fd > top && fillers.len() >= at_least {
            return fillers;
        }
    }
}

fn connect(sock: socket2::Socket, addr: SocketAddr) -> std::net::TcpStream {
    sock.connect(&addr.into())
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    sock.into()
}

#[test]
fn review_lg_accepts_at_the_fd_limit_with_clients_churning_log_one_run() {
    const PENDING: usize = 30;
    const CHURN: usize = 10;
    capture_log(log::LevelFilter::Debug);
    let server = echo_server(Framing::lines());
    let addr = server.local_addr();
    let socks: Vec<_> = (0..PENDING)
        .map(|_| {
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket")
        })
        .collect();
    let devnull = std::fs::File::open("/dev/null").unwrap();
    // One filler freed per client below, and one left so the table stays
    // full until the limit is lifted.
    let mut fillers = fill_fd_table(devnull.as_raw_fd(), CHURN + 1);
    let top = *fillers.last().unwrap();
    // Every number below it is taken: nothing new can be opened.
    let limit = SoftLimit::set(libc::RLIMIT_NOFILE, top as u64 + 1);
    let pending: Vec<_> = socks.into_iter().map(|s| connect(s, addr)).collect();
    wait_until("the accept failure logged", || {
        !logged(log::Level::Warn, "accept failed").is_empty()
    });
    let since = Instant::now();
    // Clients leave one at a time (a descriptor frees up): each time one
    // waiting connection is accepted, and the next accept fails again.
    for i in 1..=CHURN {
        let fd = fillers.pop().unwrap();
        // SAFETY: a duplicate made above, closed once.
        unsafe { libc::close(fd) };
        wait_clients(&server, i);
    }
    let churned = since.elapsed();
    let failed = logged(log::Level::Warn, "accept failed");
    let again = logged(log::Level::Info, "accepting again");
    // Out of descriptors all along (the backlog never emptied): one run.
    // (Its 10 s reminder, "still failing", is another line, not counted.)
    assert_eq!(
        failed.len(),
        1,
        "{CHURN} connections accepted at the limit in {churned:?}: {failed:#?} {again:#?}"
    );
    assert!(again.is_empty(), "{again:#?}");

    // Descriptors free again: the rest of the backlog is served, and the
    // run ends once, when it is empty.
    drop(limit);
    for fd in fillers {
        // SAFETY: as above.
        unsafe { libc::close(fd) };
    }
    wait_clients(&server, PENDING);
    wait_until("the run's end logged", || {
        !logged(log::Level::Info, "accepting again").is_empty()
    });
    assert_eq!(logged(log::Level::Info, "accepting again").len(), 1);
    assert_eq!(logged(log::Level::Warn, "accept failed").len(), 1);
    drop(pending);
    server.stop();
}
