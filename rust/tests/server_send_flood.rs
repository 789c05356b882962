//! An application thread sending far faster than its client reads: the
//! server's memory stays bounded by the loop's channel backpressure (64 MiB
//! of messages, each counting its bookkeeping) and the client's
//! `max_queue_bytes`, with the messages that do not fit dropped.
//!
//! Alone in its own file (so its own process): it reads the process's RSS.

mod support;

use std::time::Instant;

use support::*;
use tcphub::{Framing, Overflow, TcpServer};

#[test]
fn sending_far_faster_than_a_client_reads_keeps_memory_bounded() {
    // One byte each ("x\n" on the wire): 300 MiB with bookkeeping. 12 MB
    // on the wire, well over what the queue (4 MiB) and the kernel's send
    // buffer (up to 4 MiB on loopback) hold together however the loop
    // batches them; 3,000,000 (6 MB) fitted, all of it, in most runs on a
    // loaded machine.
    const SENDS: usize = 6_000_000;
    let server = TcpServer::new(0, 4)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .overflow(Overflow::DropMessage)
        .on_message(|_, _, _| {})
        .start()
        .unwrap();
    let peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    wait_clients(&server, 1);
    let id = peer.id_on(&server);
    // Its server side's send buffer is small: left to the kernel, it may
    // start at tcp_wmem's default, which a host may set to 16 MiB, and all
    // that is sent fit there (the client's queue never filled).
    set_send_buffer_of_accepted(server.local_addr(), peer.addr(), 64 * 1024);
    let before = rss_kib();
    let (mut peak, t) = (before, Instant::now());
    for i in 0..SENDS {
        server.send(id, b"x").unwrap();
        if i % 100_000 == 0 {
            peak = peak.max(rss_kib());
        }
    }
    peak = peak.max(rss_kib());
    let grown = (peak - before) >> 10;
    let stats = server.stats();
    eprintln!(
        "server send flood: {SENDS} sends in {:?}, {} dropped; peak RSS +{grown} MiB",
        t.elapsed(),
        stats.dropped
    );
    // 64 MiB of channel, 4 MiB of queue, as much again for the rest.
    assert!(grown < 160, "RSS grew {grown} MiB");
    assert!(stats.dropped > 0, "the client's queue never filled");
    server.stop();
}
