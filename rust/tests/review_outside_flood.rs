//! Review of the outside lanes (`gather.rs`): several application threads
//! flooding clients that do not read, under `Overflow::DropMessage`, while
//! a slow callback holds the only loop up: memory stays bounded (the wait
//! for room still holds with the sends gathered: ~1.4 GiB without it), and
//! once the floods end every send that returned `Ok` is accounted for
//! (queued or dropped) without anything else happening — nothing is left
//! sitting in a lane.
//!
//! Alone in its own file (so its own process): it reads the process's RSS.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tcphub::{ClientId, Framing, Overflow, TcpServer};

#[test]
fn several_application_threads_flooding_stay_bounded_and_counted() {
    const THREADS: usize = 4;
    // Per thread, 64 bytes each: 650 MB in all.
    const SENDS: usize = 2_500_000;
    // One loop, held up for a while by a slow callback while the floods
    // begin: they must wait for room rather than pile up behind it.
    let stalled = Arc::new(AtomicBool::new(false));
    let mark = stalled.clone();
    let server = TcpServer::new(0, 8)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .overflow(Overflow::DropMessage)
        .on_message(move |_, _, _| {
            mark.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(2));
        })
        .start()
        .unwrap();
    let peers: Vec<Peer> = (0..2)
        .map(|_| Peer::connect_with_rcvbuf(server.local_addr(), 4096))
        .collect();
    wait_clients(&server, 2);
    let ids: Vec<ClientId> = peers.iter().map(|p| p.id_on(&server)).collect();
    let mut staller = Peer::connect(server.local_addr());
    wait_clients(&server, 3);
    let before = rss_kib();
    staller.send_line("stall");
    wait_until("the loop is held up", || stalled.load(Ordering::SeqCst));
    let peak = Arc::new(AtomicU64::new(before));
    let oks = Arc::new(AtomicU64::new(0));
    let floods: Vec<_> = (0..THREADS)
        .map(|t| {
            let server = server.clone();
            let ids = ids.clone();
            let (peak, oks) = (peak.clone(), oks.clone());
            std::thread::spawn(move || {
                let msg = [b'x'; 64];
                for i in 0..SENDS {
                    server.send(ids[(i + t) % 2], &msg).unwrap();
                    oks.fetch_add(1, Ordering::Relaxed);
                    if i % 50_000 == 0 {
                        peak.fetch_max(rss_kib(), Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for f in floods {
        f.join().unwrap();
    }
    let peak = peak.load(Ordering::Relaxed).max(rss_kib());
    let grown = (peak - before) >> 10;
    let oks = oks.load(Ordering::Relaxed);
    wait_until("every Ok send queued or dropped", || {
        let s = server.stats();
        s.msgs_out + s.dropped == oks
    });
    let s = server.stats();
    eprintln!(
        "outside flood: {oks} sends, {} queued, {} dropped; peak RSS +{grown} MiB",
        s.msgs_out, s.dropped
    );
    // 64 MiB of backlog counted at most (48 bytes of bookkeeping a
    // message: less in fact), twice over while the loop applies what it has
    // just taken, with the allocator's slack: ~200 MiB here, ~600 MiB before
    // the sends were gathered (one buffer and channel entry each). Without
    // the wait for room, most of the 650 MB would pile up during the stall.
    assert!(grown < 400, "RSS grew {grown} MiB");
    assert!(s.dropped > 0, "the clients' queues never filled");
    assert_eq!(s.undelivered, 0);
    server.stop();
    drop(peers);
}
