//! A client that sent a burst — 64 MiB queued for a server that read it
//! only later — holds no memory for it once everything is written: the
//! send path keeps a burst's room (`client_queue.rs`), not a flood's.
//!
//! Alone in its own file (so its own process): it counts the heap bytes
//! live in the whole process with a counting global allocator.

mod counting_alloc;
mod support;

use std::io::Read;
use std::net::TcpListener;

use support::*;
use tcphub::{Framing, TcpClient};

#[test]
fn after_a_burst_an_idle_client_keeps_no_flood_sized_bookkeeping() {
    const BURST: usize = 64 << 20;
    let framing = Framing::Lines { max_len: 1 << 20 };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(framing)
        .max_queue_bytes(2 * BURST)
        .connect()
        .unwrap();
    let (mut server, _) = listener.accept().unwrap();
    server.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = vec![0; 1 << 20];
    let mut read_bytes = |want: usize| {
        let mut got = 0;
        while got < want {
            let n = server.read(&mut buf).expect("read");
            assert!(n > 0, "the client went away");
            got += n;
        }
        assert_eq!(got, want);
    };
    // Once, for what the process allocates once (and each path's room).
    for len in [10, 2000] {
        client.send(&vec![b'w'; len]).unwrap();
        read_bytes(len + 1);
    }
    wait_until("the warm-up written", || client.queued_bytes() == 0);
    let before = counting_alloc::live_kib();
    // Large messages (a buffer of their own each) and small ones
    // (batched), all queued before the server reads any.
    let (large, small) = (vec![b'l'; 1100], vec![b's'; 100]);
    let mut sent = 0;
    while sent < BURST {
        let m = if (sent / 1101) % 4 == 0 {
            &small
        } else {
            &large
        };
        client.send(m).unwrap();
        sent += m.len() + 1;
    }
    read_bytes(sent);
    wait_until("the burst written", || client.queued_bytes() == 0);
    // (What was written is freed just after the count drops.)
    let mut kept = 0.0;
    try_wait_until(std::time::Duration::from_secs(5), || {
        kept = counting_alloc::live_kib() - before;
        kept < 128.0
    });
    assert!(
        kept < 128.0,
        "{kept:.0} KiB still allocated after a burst of 64 MiB was written"
    );
    client.close();
}
