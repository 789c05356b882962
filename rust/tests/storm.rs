//! A client that never reads while 100 others receive a broadcast storm:
//! only it is cut (`SlowConsumer`), everyone else gets every message in
//! order, and the process's RSS stays under a stated bound (reliability
//! suite, see RELIABILITY.md).
//!
//! Alone in its own file (so its own process): it reads `VmRSS` from
//! `/proc/self/status`, which other tests running in parallel would disturb.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{
    localhost, paced_broadcast, raise_fd_limit, rss_kib, wait_clients, Disconnects, Peer, Storm,
};
use tcphub::{DisconnectReason, Framing, TcpServer, DEFAULT_MAX_QUEUE_BYTES};

const READERS: usize = 100;
const MSG: usize = 4096;
/// The storm stays at most this many messages ahead of the slowest reader,
/// so readers that keep up are never near their queue bound.
const WINDOW: u64 = 32;
/// Messages broadcast after the non-reader was cut.
const AFTER: u64 = 1000;
/// The bound this test states: RSS may grow by at most this much during the
/// storm. The non-reader pins at most `max_queue_bytes` (4 MiB, default) of
/// shared broadcast buffers; readers pin at most `WINDOW` messages.
const RSS_GROWTH_BOUND_KIB: u64 = 64 * 1024;

fn message(seq: u64) -> Vec<u8> {
    let mut m = vec![(seq % 251) as u8; MSG];
    m[..8].copy_from_slice(&seq.to_be_bytes());
    m
}

#[test]
fn non_reader_in_a_broadcast_storm_is_cut_alone_and_memory_stays_bounded() {
    raise_fd_limit(1024);
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 200)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let addr = server.local_addr();
    let readers: Vec<Peer> = (0..READERS).map(|_| Peer::connect(addr)).collect();
    // A small receive buffer: the kernel soaks up kilobytes, not megabytes,
    // before the server's queue for it starts to grow.
    let idle = Peer::connect_with_rcvbuf(addr, 4096);
    wait_clients(&server, READERS + 1);
    let idle_id = idle.id_on(&server);

    let progress: Vec<Arc<AtomicU64>> = (0..READERS).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let threads: Vec<_> = readers
        .into_iter()
        .zip(&progress)
        .map(|(mut p, prog)| {
            let prog = prog.clone();
            std::thread::spawn(move || {
                let mut next = 0u64;
                loop {
                    let m = p.read_frame();
                    if m == b"end" {
                        return (next, p); // still connected
                    }
                    assert_eq!(m, message(next), "reader got message {next} wrong");
                    next += 1;
                    prog.store(next, Ordering::Release);
                }
            })
        })
        .collect();

    let rss0 = rss_kib();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = rss_kib();
            while !done.load(Ordering::Acquire) {
                peak = peak.max(rss_kib());
                std::thread::sleep(Duration::from_millis(5)); // sampling period
            }
            peak.max(rss_kib())
        })
    };
    let pace = Storm {
        progress: &progress,
        window: WINDOW,
        after: AFTER,
        max: 1_000_000,
    };
    let seq = paced_broadcast(&server, pace, message, || gone.reason_of(idle_id).is_some());
    let mut _still_open = Vec::new();
    for (i, t) in threads.into_iter().enumerate() {
        let (got, peer) = t.join().unwrap();
        assert_eq!(got, seq, "reader {i}");
        _still_open.push(peer);
    }
    done.store(true, Ordering::Release);
    let peak = sampler.join().unwrap();

    assert_eq!(gone.wait_for(idle_id), DisconnectReason::SlowConsumer);
    assert_eq!(
        gone.all().len(),
        1,
        "only the non-reader left: {:?}",
        gone.all()
    );
    let stats = server.stats();
    assert_eq!(stats.slow_consumers, 1);
    assert_eq!(stats.clients, READERS as u64);
    let growth = peak.saturating_sub(rss0);
    eprintln!(
        "storm: {seq} x {MSG} B to {READERS} readers ({} MiB written), non-reader cut after \
         {} messages queued; RSS {rss0} KiB -> peak {peak} KiB (+{growth} KiB, bound \
         {RSS_GROWTH_BOUND_KIB} KiB, queue bound {} KiB)",
        stats.bytes_out >> 20,
        seq - AFTER,
        DEFAULT_MAX_QUEUE_BYTES >> 10
    );
    assert!(
        growth < RSS_GROWTH_BOUND_KIB,
        "RSS grew by {growth} KiB during the storm (bound {RSS_GROWTH_BOUND_KIB} KiB)"
    );
    drop(idle);
    server.stop();
}
