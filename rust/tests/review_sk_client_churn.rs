//! `TcpClient` churn leaves nothing behind (review sk): rounds of clients
//! (callbacks or pull, with and without reconnecting) that exchange
//! messages and end every way there is — `close()`, `close_timeout`,
//! dropped without a close, closed while the server floods them (the
//! lingering close), kicked by the server (and redialled, when
//! reconnecting) — bring the process's descriptors and threads back to
//! their baseline after every round, and the heap to a level that does not
//! grow from round to round.
//!
//! Alone in its own file: it counts process-wide descriptors, threads and
//! heap bytes.

mod counting_alloc;
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{localhost, open_fds, thread_count, try_wait_until, Rng, TIMEOUT};
use tcphub::{Framing, Reconnect, ServerHandle, TcpClient, TcpServer};

const ROUNDS: usize = 20;
const PER_ROUND: usize = 50;

/// Echoes; "kick" disconnects the sender; "flood" sends it 2 MiB.
fn server() -> ServerHandle {
    TcpServer::new(0, 1000)
        .bind(localhost())
        .threads(2)
        .framing(Framing::length_prefixed())
        .linger(Duration::from_millis(300))
        .on_message(|srv, c, msg| match msg {
            b"kick" => drop(srv.disconnect(c.id)),
            b"flood" => {
                let big = vec![1u8; 64 * 1024];
                for _ in 0..32 {
                    let _ = srv.send(c.id, &big);
                }
            }
            _ => drop(srv.send(c.id, msg)),
        })
        .start()
        .expect("start")
}

fn one_client(server: &ServerHandle, rng: &mut Rng, got: &Arc<AtomicU64>) {
    let reconnect = rng.below(2) == 0;
    let callbacks = rng.below(2) == 0;
    let mut b = TcpClient::builder(server.local_addr())
        .framing(Framing::length_prefixed())
        .linger(Duration::from_millis(300));
    if reconnect {
        b = b.reconnect(Reconnect {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(50),
            max_attempts: Some(100),
        });
    }
    if callbacks {
        let got = got.clone();
        b = b.on_message(move |_, _| {
            got.fetch_add(1, Ordering::Relaxed);
        });
    }
    let client = b.connect().expect("connect");
    client.send(b"hello").expect("send");
    if !callbacks {
        assert_eq!(client.recv_timeout(TIMEOUT).expect("echo"), b"hello");
    }
    match rng.below(6) {
        0 => client.close(),
        1 => while !client.close_timeout(Duration::from_millis(5)) {},
        2 => drop(client),
        3 => {
            // Closed while the server is still sending to it.
            client.send(b"flood").expect("send");
            client.close();
        }
        4 => {
            // Kicked; redials when reconnecting, then closed.
            let before = server.stats().accepted;
            client.send(b"kick").expect("send");
            if reconnect {
                assert!(
                    try_wait_until(TIMEOUT, || server.stats().accepted > before),
                    "no redial after the kick"
                );
                let _ = client.send(b"again");
            }
            client.close();
        }
        _ => {
            client.send(b"kick").expect("send");
            drop(client);
        }
    }
}

#[test]
fn client_churn_returns_fds_threads_and_heap_to_their_level_every_round() {
    if !std::path::Path::new("/proc/self/fd").exists() {
        eprintln!("skipped: no /proc/self/fd on this system");
        return;
    }
    let server = server();
    let got = Arc::new(AtomicU64::new(0));
    let mut rng = Rng::new(0x5c1e);
    // Warm-up: whatever the process creates once exists now.
    one_client(&server, &mut Rng::new(1), &got);
    assert!(try_wait_until(TIMEOUT, || server.client_count() == 0));
    let (fd0, th0) = (open_fds(), thread_count());
    let mut heaps = Vec::new();
    for round in 0..ROUNDS {
        for _ in 0..PER_ROUND {
            one_client(&server, &mut rng, &got);
        }
        // (A client's end is counted just after it leaves the registry.)
        let settled = try_wait_until(TIMEOUT, || {
            let s = server.stats();
            server.client_count() == 0
                && s.accepted == s.disconnected
                && open_fds() == fd0
                && thread_count() == th0
        });
        assert!(
            settled,
            "round {round}: {} clients, {} fds (was {fd0}), {} threads (was {th0})",
            server.client_count(),
            open_fds(),
            thread_count()
        );
        heaps.push(counting_alloc::live_kib());
    }
    let s = server.stats();
    eprintln!(
        "client churn: {} connections, heap after each round (KiB): {:?}",
        s.accepted,
        heaps.iter().map(|h| h.round()).collect::<Vec<_>>()
    );
    assert_eq!(s.accepted, s.disconnected, "{s:?}");
    // What a round leaves is bounded, not accumulated: the second half of
    // the rounds ends where the first half did (within 512 KiB).
    let first = heaps[..ROUNDS / 2].iter().copied().fold(0.0f64, f64::max);
    let last = heaps[ROUNDS / 2..].iter().copied().fold(0.0f64, f64::max);
    assert!(last < first + 512.0, "heap after rounds grew: {heaps:?}");
    server.stop();
}
