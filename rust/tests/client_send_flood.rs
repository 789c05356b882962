//! A client whose send loop ignores `QueueFull`, to a server that does not
//! read: its memory stays bounded by `max_queue_bytes`.
//!
//! Alone in its own file (so its own process): it reads the process's RSS.

mod support;

use support::*;
use tcphub::{Error, Framing, TcpClient};

#[test]
fn a_send_loop_ignoring_queue_full_keeps_memory_bounded() {
    const SENDS: usize = 3_000_000;
    // Accepted by the kernel, never read; its small receive buffer keeps the
    // kernel from taking all 6 MB (a receive buffer may grow to 32 MB on
    // the CI host's loopback), so that the queue fills.
    let listener = listener_with_rcvbuf(64 * 1024);
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::lines())
        .connect()
        .unwrap();
    // Nor its own send buffer (it may start at tcp_wmem's default, which a
    // host may set to 16 MiB).
    set_send_buffer_of(client.local_addr(), 64 * 1024);
    let before = rss_kib();
    let (mut peak, mut full) = (before, 0usize);
    for i in 0..SENDS {
        match client.send(b"x") {
            Ok(()) => {}
            Err(Error::QueueFull { .. }) => full += 1,
            Err(e) => panic!("send: {e}"),
        }
        if i % 100_000 == 0 {
            peak = peak.max(rss_kib());
        }
    }
    peak = peak.max(rss_kib());
    let grown = (peak - before) >> 10;
    eprintln!(
        "client send flood: {SENDS} sends, {full} refused (QueueFull); peak RSS +{grown} MiB"
    );
    assert!(full > 0, "the queue never filled");
    assert!(grown < 64, "RSS grew {grown} MiB");
    assert!(client.queued_bytes() <= tcphub::DEFAULT_MAX_QUEUE_BYTES);
    client.close_timeout(std::time::Duration::ZERO);
}
