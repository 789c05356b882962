//! Start/stop cycles leak neither file descriptors nor threads.
//!
//! Alone in its own file (so its own process): it counts the entries of
//! `/proc/self/fd` and `/proc/self/task`, which other tests running in
//! parallel would disturb.

mod support;

use support::{localhost, try_wait_until, wait_clients, Peer, TIMEOUT};
use tcphub::{Framing, TcpServer};

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .count()
}

fn fds() -> usize {
    count("/proc/self/fd")
}

fn threads() -> usize {
    count("/proc/self/task")
}

/// One full cycle: start, two clients exchange messages, stop.
fn cycle(i: usize) {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .on_message(|srv, _c, msg| {
            srv.send_all(msg);
        })
        .start()
        .unwrap();
    let mut a = Peer::connect(server.local_addr());
    let mut b = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    a.send_line(&format!("cycle {i}"));
    assert_eq!(a.read_line(), format!("cycle {i}"));
    assert_eq!(b.read_line(), format!("cycle {i}"));
    // Alternate who closes first: the client, or the server at stop.
    if i & 1 == 0 {
        drop(a);
        wait_clients(&server, 1);
    }
    server.stop();
    b.expect_eof();
}

#[test]
fn start_stop_cycles_leak_no_fds_or_threads() {
    if !std::path::Path::new("/proc/self/fd").exists() {
        eprintln!("skipped: no /proc/self/fd on this system");
        return;
    }
    // tcphub keeps no thread between servers: the count before any is the
    // one to come back to. (Not the count after the warm-up: a loop thread
    // joined a moment before may still be listed — the kernel drops it
    // from /proc just after the join returns — and the count would then
    // never settle back to it: "2 threads (was 3)".)
    let th0 = threads();
    // One warm-up cycle for anything the process creates once and keeps.
    cycle(0);
    let fd0 = fds();

    for i in 1..=20 {
        cycle(i);
    }
    // Closed sockets and joined threads are gone at once in principle; allow
    // the counts a bounded time to settle anyway.
    let settled = try_wait_until(TIMEOUT, || fds() == fd0 && threads() == th0);
    assert!(
        settled,
        "after 20 start/stop cycles: {} fds (was {fd0}), {} threads (was {th0})",
        fds(),
        threads()
    );
}
