//! A full pull-mode event queue: the I/O thread stops reading and sleeps
//! until the application takes events — it neither polls for room (it woke
//! ~500 times a second before) nor loses or reorders anything when reading
//! resumes. Server and client alike.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, Event, Framing, TcpClient, TcpServer};

/// Lines each test sends: ~300 times the queue's capacity.
const LINES: usize = 30_000;
/// The queue's capacity in events.
const CAPACITY: usize = 100;
/// How long the stalled thread is watched.
const WATCH: Duration = Duration::from_secs(1);
/// Most wakeups allowed while watched: a few stray ones, not a poll.
const MAX_WAKEUPS: u64 = 50;

/// Taken by each test: the wakeups are counted by thread name across the
/// whole process, and another test's busy loop of that name would count
/// too (thousands in [`WATCH`] wherever the test harness ran all three at
/// once: on a machine of 3 CPUs or more, not on one of 2).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// Voluntary context switches (times it went to sleep) so far of this
/// process' threads named `name`.
fn sleeps_of(name: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let dir = task.expect("task entry").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("voluntary_ctxt_switches:") {
                total += v.trim().parse::<u64>().expect("a count");
            }
        }
    }
    total
}

fn line(i: usize) -> String {
    format!("line {i:06}")
}

/// Writes `LINES` numbered lines to `peer` (blocking under back-pressure).
fn flood(mut peer: TcpStream) -> std::thread::JoinHandle<TcpStream> {
    std::thread::spawn(move || {
        let all: String = (0..LINES).map(|i| line(i) + "\n").collect();
        peer.write_all(all.as_bytes()).expect("write lines");
        peer
    })
}

/// Counts how often thread `name` went to sleep during [`WATCH`].
fn wakeups_while_watched(name: &str) -> u64 {
    let before = sleeps_of(name);
    std::thread::sleep(WATCH); // the measuring window, not a wait for an event
    sleeps_of(name) - before
}

#[test]
fn a_server_stalled_on_a_full_queue_sleeps_and_then_delivers_everything() {
    let _alone = one_at_a_time();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(1)
        .event_capacity(CAPACITY)
        .start()
        .expect("start");
    let events = server.events();
    let peer = TcpStream::connect(server.local_addr()).expect("connect");
    let writer = flood(peer);
    wait_until("the event queue to fill", || events.len() >= CAPACITY);
    let wakeups = wakeups_while_watched("tcphub-io-0");
    assert!(
        wakeups < MAX_WAKEUPS,
        "the stalled loop woke {wakeups} times in {WATCH:?}"
    );
    let mut next = 0;
    while next < LINES {
        match events.recv_timeout(TIMEOUT).expect("an event") {
            Event::Message(_, m) => {
                assert_eq!(String::from_utf8_lossy(&m), line(next));
                next += 1;
            }
            Event::Connected(_) => {}
            other => panic!("unexpected {other:?} after {next} lines"),
        }
    }
    drop(writer.join().expect("writer"));
}

#[test]
fn a_client_stalled_on_a_full_queue_sleeps_and_then_delivers_everything() {
    let _alone = one_at_a_time();
    let listener = std::net::TcpListener::bind((localhost(), 0)).expect("bind");
    let client = TcpClient::builder(listener.local_addr().expect("addr"))
        .framing(Framing::lines())
        .event_capacity(CAPACITY)
        .connect()
        .expect("connect");
    let (peer, _) = listener.accept().expect("accept");
    // All of it (360 KB) must fit the socket buffers, whatever size the
    // kernel would give them (the default send buffer is 16 KiB, and the
    // client's receive buffer does not grow while it does not read).
    socket2::SockRef::from(&peer)
        .set_send_buffer_size(1 << 20)
        .expect("SO_SNDBUF");
    let writer = flood(peer);
    // All of it fits the socket buffers; what the client read in the
    // meantime fills its queue at once.
    wait_until("the flood to be written", || writer.is_finished());
    wait_until("an event to take", || client.wait_ready(Duration::ZERO));
    let wakeups = wakeups_while_watched("tcphub-client");
    assert!(
        wakeups < MAX_WAKEUPS,
        "the stalled client thread woke {wakeups} times in {WATCH:?}"
    );
    let mut next = 0;
    while next < LINES {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::Message(m) => {
                assert_eq!(String::from_utf8_lossy(&m), line(next));
                next += 1;
            }
            other => panic!("unexpected {other:?} after {next} lines"),
        }
    }
    drop(writer.join().expect("writer"));
}

/// Many senders on two loops filling a tiny queue that a consumer empties
/// in uneven batches: every stall ends with a wakeup (a lost one hangs
/// here until the bounded wait fails), and each client's lines arrive in
/// order.
#[test]
fn two_loops_and_a_tiny_queue_never_miss_a_wakeup() {
    let _alone = one_at_a_time();
    const CLIENTS: usize = 40;
    const PER_CLIENT: usize = 2_000;
    for capacity in [1, 2, 3, 7] {
        let server = TcpServer::new(0, 100)
            .bind(localhost())
            .framing(Framing::lines())
            .threads(2)
            .event_capacity(capacity)
            .start()
            .expect("start");
        let events = server.events();
        let writers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let mut peer = TcpStream::connect(server.local_addr()).expect("connect");
                std::thread::spawn(move || {
                    let all: String = (0..PER_CLIENT).map(|i| line(i) + "\n").collect();
                    peer.write_all(all.as_bytes()).expect("write lines");
                    peer
                })
            })
            .collect();
        let mut next: std::collections::HashMap<tcphub::ClientId, usize> = Default::default();
        let mut got = 0;
        let mut batch = Vec::new();
        let mut turn = 0usize;
        while got < CLIENTS * PER_CLIENT {
            turn += 1;
            batch.clear();
            let max = 1 + turn % 5;
            let n = events
                .recv_batch(&mut batch, max, TIMEOUT)
                .unwrap_or_else(|e| panic!("capacity {capacity}: {e} after {got} lines"));
            assert!(
                n > 0,
                "capacity {capacity}: no event for {TIMEOUT:?} after {got} lines (a lost wakeup)"
            );
            for ev in batch.drain(..) {
                if let Event::Message(c, m) = ev {
                    let n = next.entry(c.id).or_default();
                    assert_eq!(String::from_utf8_lossy(&m), line(*n), "client {c}");
                    *n += 1;
                    got += 1;
                }
            }
        }
        for w in writers {
            drop(w.join().expect("writer"));
        }
        server.stop();
    }
}
