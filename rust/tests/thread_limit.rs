//! `TcpServer::start` and `TcpClient::connect` when a thread cannot be
//! spawned: an error, no panic, and nothing left behind — the loops that did
//! start are stopped and joined, every socket is closed.
//!
//! A thread cannot be spawned when its stack cannot be mapped: the tests
//! lower this process's `RLIMIT_AS` to a little over what it maps now
//! (`RLIMIT_NPROC` would be simpler, but root is exempt from it). Alone in
//! its own file (so its own process): no other test may run while the limit
//! is low, and the two here take turns (`ONE_AT_A_TIME`).

mod support;

use std::sync::{Mutex, MutexGuard};

use support::*;
use tcphub::{Error, Framing, TcpClient, TcpServer};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

const MIB: u64 = 1 << 20;

/// Virtual memory of this process (`VmSize`), in bytes.
fn vm_size() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize in /proc/self/status");
    kib * 1024
}

/// Limits this process's address space to what it maps now plus `room`.
fn limit_address_space_to_current_plus(room: u64) -> SoftLimit {
    SoftLimit::set(libc::RLIMIT_AS, vm_size() + room)
}

/// Threads that take every stack glibc keeps cached from threads that have
/// ended (up to 40 MiB), so a new thread must map a fresh one; they end
/// when this is dropped.
///
/// `new` returns once every one of them runs and waits, having allocated
/// what a waiting thread keeps (its wait context, the registration of its
/// thread-local destructors, a malloc arena). Else, on a loaded machine,
/// some had not run yet when the test lowered the limit: they then made
/// their first allocations under it, as did the loop or client thread
/// while glibc still had arenas to make (one per thread, up to 8 per core;
/// a new one reserves 64 MiB, which does not fit), and the process aborted
/// ("memory allocation of 512 bytes failed", "failed to register TLS
/// destructor").
struct StackCacheEmptied(
    Vec<std::thread::JoinHandle<()>>,
    Vec<std::sync::mpsc::Sender<()>>,
);

impl StackCacheEmptied {
    fn new() -> StackCacheEmptied {
        const THREADS: usize = 32;
        let (mut threads, mut releases) = (Vec::new(), Vec::new());
        let (ready, started) = std::sync::mpsc::channel::<()>();
        for _ in 0..THREADS {
            let (release, wait) = std::sync::mpsc::channel::<()>();
            let ready = ready.clone();
            threads.push(std::thread::spawn(move || {
                // A first wait, bounded, allocates what the last one needs.
                let _ = wait.recv_timeout(std::time::Duration::from_millis(1));
                let _ = ready.send(());
                let _ = wait.recv();
            }));
            releases.push(release);
        }
        for _ in 0..THREADS {
            started
                .recv_timeout(TIMEOUT)
                .expect("a stack-cache thread did not start");
        }
        StackCacheEmptied(threads, releases)
    }
}

impl Drop for StackCacheEmptied {
    fn drop(&mut self) {
        self.1.clear();
        for t in self.0.drain(..) {
            let _ = t.join();
        }
    }
}

/// Whether the failure is the one we caused: a thread that could not start.
fn is_spawn_failure(e: &Error) -> bool {
    matches!(e, Error::Io { context, .. } if context.contains("spawning"))
}

#[test]
fn start_without_room_for_every_loop_thread_fails_and_stops_the_loops_it_started() {
    let _turn = one_at_a_time();
    // One start and stop first, for what the process creates once.
    TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .start()
        .unwrap()
        .stop();
    let _cache = StackCacheEmptied::new();
    let (fds0, threads0) = (open_fds(), thread_count());

    // Room for about one 2 MiB thread stack (and the heap that loop needs),
    // not for sixteen.
    let limit = limit_address_space_to_current_plus(3 * MIB);
    let started = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(16)
        .framing(Framing::lines())
        .start();
    drop(limit);
    let err = started.expect_err("16 loop threads in 3 MiB of address space");
    assert!(is_spawn_failure(&err), "{err:?}");
    assert!(
        err.to_string().contains("spawning an event loop thread"),
        "{err}"
    );

    // The loops that did start were stopped and joined; the listener and
    // every poller are closed.
    // (At most: a descriptor of an earlier test's client may have been
    // closed since `fds0` was taken; a leak only adds.)
    // (A thread joined a moment ago may still be listed in /proc: the
    // kernel wakes the joiner before it reaps the thread. A leak stays.)
    assert!(
        try_wait_until(TIMEOUT, || thread_count() <= threads0),
        "threads left running: {} (was {threads0})",
        thread_count()
    );
    let settled = try_wait_until(TIMEOUT, || open_fds() <= fds0);
    assert!(settled, "{} descriptors open, was {fds0}", open_fds());

    // And the process can start a server afterwards.
    let server = echo_server(Framing::lines());
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("after");
    assert_eq!(peer.read_line(), "after");
    server.stop();
}

#[test]
fn connect_without_room_for_the_client_thread_fails_and_closes_the_connection() {
    let _turn = one_at_a_time();
    let server = echo_server(Framing::lines());
    let first = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .connect()
        .unwrap();
    first.close();
    wait_clients(&server, 0);
    let _cache = StackCacheEmptied::new();
    let (fds0, threads0) = (open_fds(), thread_count());

    let limit = limit_address_space_to_current_plus(MIB);
    let connected = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .connect();
    drop(limit);
    let err = connected.expect_err("a client thread in 1 MiB of address space");
    assert!(is_spawn_failure(&err), "{err:?}");
    assert!(
        err.to_string().contains("spawning the client thread"),
        "{err}"
    );

    // (`threads0` may count the first client's thread, joined just before
    // and not yet gone from /proc: at most, as above.)
    assert!(
        try_wait_until(TIMEOUT, || thread_count() <= threads0),
        "threads left running: {} (was {threads0})",
        thread_count()
    );
    // The connection it made is closed: the server sees it leave (and
    // closes its end just after, hence the bounded wait).
    wait_clients(&server, 0);
    let settled = try_wait_until(TIMEOUT, || open_fds() <= fds0);
    assert!(settled, "{} descriptors open, was {fds0}", open_fds());
    server.stop();
}
