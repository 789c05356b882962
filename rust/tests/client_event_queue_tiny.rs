//! A client's pull-mode event queue stays bounded in memory with many tiny
//! messages and a large `event_capacity` (see `event_queue_tiny` for the
//! server).
//!
//! Alone in its own file (so its own process): it reads the process's RSS.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, Framing, TcpClient, EVENT_QUEUE_BYTES};

/// One-byte lines written at most: 64 MiB, more than the reader's queue
/// admits (about a hundred bytes a line) and the kernel's socket buffers
/// take together. The writer stops at the stall long before on most
/// hosts; 4 Mi lines (8 MiB) was not that bound on the CI host, whose
/// loopback lets a fast reader's receive buffer grow to 32 MB (tcp_rmem)
/// beside the writer's 4 MB.
const MESSAGES: usize = 32 << 20;

#[test]
fn a_client_s_event_queue_of_tiny_messages_is_bounded_in_memory() {
    // The byte bound plus as much again for everything else. Counting only
    // each message's byte, 4 Mi messages took ~200-300 MiB.
    let bound_mib = (2 * EVENT_QUEUE_BYTES as u64) >> 20;
    let listener = TcpListener::bind(SocketAddr::new(localhost(), 0)).unwrap();
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::lines())
        .event_capacity(usize::MAX)
        .connect()
        .unwrap();
    let (stream, _) = listener.accept().unwrap();
    let before = rss_kib();
    let sent = flood_one_byte_lines(
        stream.try_clone().unwrap(),
        MESSAGES,
        Duration::from_secs(1),
    );
    let grown = rss_kib().saturating_sub(before) >> 10;
    eprintln!("client: {sent} one-byte lines written before it stopped reading; RSS +{grown} MiB");
    assert!(
        grown < bound_mib,
        "RSS grew {grown} MiB (bound {bound_mib})"
    );
    assert!(sent < MESSAGES, "the client never stopped reading");
    for _ in 0..1000 {
        match client.next_event(TIMEOUT).unwrap() {
            ClientEvent::Message(m) => assert_eq!(m, b"x"),
            other => panic!("expected a message, got {other:?}"),
        }
    }
    drop(stream);
    client.close();
}
