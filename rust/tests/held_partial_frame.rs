//! After `stop_input()` no frame is ever finished: a client's unfinished
//! frame is let go at once, not kept while its connection lives on (held
//! for replies after its half-close, say). From a review: 20 clients each
//! 8 MiB - 1 byte into an 8 MiB frame, then `stop_input()` and their
//! half-closes, held the server at 175 MiB of RSS for the whole hold.

mod support;

use std::time::Duration;
use support::*;
use tcphub::{Event, Framing, TcpServer};

#[test]
fn a_held_client_keeps_no_unfinished_frame_after_stop_input() {
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .hold_for_replies(Duration::from_secs(60))
        .start()
        .unwrap();
    let events = server.events();
    let rss0 = rss_kib();
    let body = vec![7u8; 8 * 1024 * 1024 - 1];
    let mut peers = Vec::new();
    for _ in 0..20 {
        let mut p = Peer::connect(server.local_addr());
        p.send(&(8u32 * 1024 * 1024).to_be_bytes());
        p.send(&body);
        peers.push(p);
    }
    let framed = 4 + body.len() as u64;
    wait_until("all read", || server.stats().bytes_in >= 20 * framed);
    server.stop_input(); // two-phase stop: no more messages
    for p in &peers {
        p.shutdown_write();
    }
    let mut ended = 0;
    while ended < 20 {
        if let Event::Disconnected(..) = events.recv_timeout(TIMEOUT).unwrap() {
            ended += 1;
        }
    }
    // The 20 connections are held for replies (60 s from the take).
    let ok = try_wait_until(Duration::from_secs(2), || rss_kib() < rss0 + 60 * 1024);
    let rss = rss_kib();
    server.stop();
    assert!(
        ok,
        "held clients that left keep their unfinished frames: RSS {rss} KiB (was {rss0} KiB)"
    );
}
