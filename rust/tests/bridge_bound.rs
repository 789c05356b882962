//! Memory stays bounded when the callbacks of one server relay into another
//! server whose loop is busy (a bridge between two ports): the relaying loop
//! stops reading instead of piling messages into the other server's
//! channel. Its own process, to read RSS.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use support::*;
use tcphub::{Framing, ServerHandle, TcpServer};

fn rss_mib() -> u64 {
    rss_kib() / 1024
}

#[test]
fn bridging_into_a_busy_server_does_not_grow_memory() {
    // B: its loop is held in a callback until the end of the test.
    let gate = LoopGate::new();
    let slow = gate.clone();
    let b = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .on_message(move |_, _, m| {
            slow.stays_on(m);
        })
        .start()
        .unwrap();
    // A: relays every message to B's clients.
    let target: Arc<OnceLock<ServerHandle>> = Arc::default();
    let bridge = target.clone();
    let a = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .on_message(move |_, _, m| {
            bridge.get().expect("set before any message").send_all(m);
        })
        .start()
        .unwrap();
    let _ = target.set(b.clone());

    let mut s = TcpStream::connect(b.local_addr()).unwrap();
    wait_clients(&b, 1);
    s.write_all(b"hold\n").unwrap();
    gate.wait_held();
    let mut p = TcpStream::connect(a.local_addr()).unwrap();
    wait_clients(&a, 1);
    p.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    let before = rss_mib();
    let mut line = vec![b'x'; 60_000];
    line.push(b'\n');
    let t = Instant::now();
    let mut sent = 0usize;
    // Without backpressure all of this piles up in B's channel; with it, A's
    // loop stops reading, the socket buffers fill and a write times out.
    while sent < 600 << 20 && t.elapsed() < Duration::from_secs(20) {
        if p.write_all(&line).is_err() {
            break;
        }
        sent += line.len();
    }
    let after = rss_mib();
    gate.go_on();
    drop((p, s));
    a.stop();
    b.stop();
    // B's channel may hold 64 MiB of messages; allow that plus slack.
    assert!(
        after.saturating_sub(before) < 160,
        "RSS grew {} MiB ({before} -> {after}) while {} MiB were sent",
        after.saturating_sub(before),
        sent >> 20
    );
}
