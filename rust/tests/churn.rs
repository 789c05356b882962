//! 10,000 connect/disconnect cycles leave open fds and threads at their
//! baseline (reliability suite, see RELIABILITY.md).
//!
//! Alone in its own file (so its own process): it counts `/proc/self/fd` and
//! `/proc/self/task`, which other tests running in parallel would disturb.

mod support;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use support::{
    localhost, open_fds, raise_fd_limit, thread_count, try_wait_until, wait_until, Peer, TIMEOUT,
};
use tcphub::{DisconnectReason, Framing, TcpServer};

const CYCLES: usize = 10_000;
/// Connections open at once in each round.
const BATCH: usize = 100;

#[test]
fn ten_thousand_connect_disconnect_cycles_return_fds_and_threads_to_baseline() {
    if !std::path::Path::new("/proc/self/fd").exists() {
        eprintln!("skipped: no /proc/self/fd on this system");
        return;
    }
    raise_fd_limit(4 * BATCH as u64 + 1024);
    let (fd_before, th_before) = (open_fds(), thread_count());
    let reasons: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let r = reasons.clone();
    let server = TcpServer::new(0, 2 * BATCH)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .on_message(|srv, c, msg| {
            let _ = srv.send(c.id, msg); // the sender may be gone already
        })
        .on_disconnect(move |_s, _c, why| {
            let slot = match why {
                DisconnectReason::ClosedByPeer => 0,
                DisconnectReason::Reset => 1,
                DisconnectReason::Io(_) => 2,
                _ => 3,
            };
            r[slot].fetch_add(1, Ordering::Relaxed);
        })
        .start()
        .unwrap();
    let addr = server.local_addr();
    // Warm-up: whatever the process creates once (and keeps) exists now.
    let mut p = Peer::connect(addr);
    p.send_line("warm-up");
    assert_eq!(p.read_line(), "warm-up");
    drop(p);
    wait_until("warm-up client gone", || server.stats().disconnected == 1);
    let (fd0, th0) = (open_fds(), thread_count());

    // Four ways to leave, in turn: close right away, close after an
    // exchange, RST (SO_LINGER 0), and a write then close without reading
    // the reply (the kernel turns that close into an RST too, because the
    // reply sits unread in the receive buffer: about half end as resets).
    for round in 0..CYCLES / BATCH {
        let mut peers: Vec<Peer> = (0..BATCH).map(|_| Peer::connect(addr)).collect();
        for (i, p) in peers.iter_mut().enumerate() {
            if i % 4 == 1 {
                p.send_line(&format!("{round}/{i}"));
                assert_eq!(p.read_line(), format!("{round}/{i}"));
            } else if i % 4 == 3 {
                let _ = p.stream.write_all(b"no time for the answer\n");
            }
        }
        for (i, p) in peers.into_iter().enumerate() {
            if i % 4 == 2 {
                p.reset();
            } else {
                drop(p);
            }
        }
    }
    let total = CYCLES as u64 + 1;
    wait_until("every connection accepted and ended", || {
        let s = server.stats();
        s.accepted == total && s.disconnected == total
    });
    let stats = server.stats();
    assert_eq!(stats.clients, 0);
    assert_eq!(stats.rejected, 0);
    let settled = try_wait_until(TIMEOUT, || open_fds() == fd0 && thread_count() == th0);
    assert!(
        settled,
        "after {CYCLES} cycles: {} fds (was {fd0}), {} threads (was {th0})",
        open_fds(),
        thread_count()
    );
    let by_reason: Vec<u64> = reasons.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    eprintln!(
        "churn: {CYCLES} cycles, fds {fd0} -> {}, threads {th0} -> {}; \
         closed by peer {}, reset {}, i/o {}, other {}",
        open_fds(),
        thread_count(),
        by_reason[0],
        by_reason[1],
        by_reason[2],
        by_reason[3]
    );
    assert_eq!(by_reason[3], 0, "only peer-side endings were expected");
    assert_eq!(by_reason.iter().sum::<u64>(), total);

    // And once stopped and dropped, the server's own fds (listener, epoll,
    // and the wakers' eventfds, which live as long as a handle does) and
    // threads are gone too.
    server.stop();
    drop(server);
    let settled = try_wait_until(TIMEOUT, || {
        open_fds() == fd_before && thread_count() == th_before
    });
    assert!(
        settled,
        "after stop: {} fds (was {fd_before}), {} threads (was {th_before})",
        open_fds(),
        thread_count()
    );
}
