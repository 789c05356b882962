//! How often a closing client's I/O thread wakes while its flush cannot
//! proceed. In a file of its own: it finds the I/O thread by its name
//! among the process's threads, which another test's client would confuse.
#![cfg(target_os = "linux")]

mod support;

use std::time::{Duration, Instant};

use support::*;
use tcphub::TcpClient;

/// A `close()` whose flush cannot proceed (the server does not read) waits
/// for the socket to become writable or the linger deadline; its I/O thread
/// woke every 50 ms meanwhile (about 20 times a second), for nothing.
#[test]
fn a_lingering_close_sleeps_until_writable_or_the_deadline() {
    // Its accepted socket has a small receive buffer: the 32 MiB do not
    // all fit the kernel's buffers (on the CI host's loopback a receive
    // buffer may grow to 32 MB).
    let l = listener_with_rcvbuf(64 * 1024);
    let client = TcpClient::builder(l.local_addr().unwrap())
        .linger(Duration::from_secs(120))
        .max_queue_bytes(64 << 20)
        .connect()
        .unwrap();
    // The thread names itself once it runs.
    let tid = &the_thread_named("tcphub-client");
    let (peer, _) = l.accept().unwrap(); // never reads: the flush stalls
    let big = vec![b'x'; 1 << 20];
    for _ in 0..32 {
        client.send(&big).expect("queued");
    }
    assert!(!client.close_timeout(Duration::ZERO), "the close lingers");
    // Until the flush has stalled: the kernel's buffers are full.
    let mut last = client.queued_bytes();
    wait_until("the flush to stall", || {
        std::thread::sleep(Duration::from_millis(100));
        let now = client.queued_bytes();
        let stalled = now > 0 && now == last;
        last = now;
        stalled
    });
    let window = Duration::from_secs(2);
    let (before, start) = (voluntary_switches(tid), Instant::now());
    while start.elapsed() < window {
        std::thread::sleep(window - start.elapsed());
    }
    let woke = voluntary_switches(tid) - before;
    assert!(client.queued_bytes() > 0, "still stalled");
    drop(peer); // the flush fails now: the close can end
    assert!(client.close_timeout(TIMEOUT), "the close ended");
    // A thread sleeping until an event or the deadline (120 s away) does
    // not wake at all; a few wakeups are allowed for whatever else the
    // machine does. Polling every 50 ms made about 40.
    assert!(
        woke <= 5,
        "the closing I/O thread woke {woke} times in {window:?}"
    );
}
