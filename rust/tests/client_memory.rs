//! A `TcpClient` that gets small messages holds a small read buffer. Each
//! client allocated (and, zeroing it, touched) a 64 KiB read buffer at
//! connect and kept it for its whole life: about 67 KiB of heap per client,
//! 64 of them for a buffer that small replies never fill. (The server's
//! loops share one buffer among all their connections.)
//!
//! Alone in its own file (so its own process): it counts the heap bytes
//! live in the whole process with a counting global allocator.

mod counting_alloc;
mod support;

use support::*;
use tcphub::{Framing, TcpClient};

#[test]
fn an_idle_client_does_not_hold_a_64_kib_read_buffer() {
    const CLIENTS: usize = 50;
    let framing = Framing::Lines { max_len: 1 << 20 };
    let server = echo_server(framing);
    let connect = || {
        TcpClient::builder(server.local_addr())
            .framing(framing)
            .connect()
            .unwrap()
    };
    // One first, for what the process and the server allocate once.
    let first = connect();
    first.send(b"warm up").unwrap();
    assert_eq!(first.recv_timeout(TIMEOUT).unwrap(), b"warm up");
    let before = counting_alloc::live_kib();
    let clients: Vec<TcpClient> = (0..CLIENTS).map(|_| connect()).collect();
    for c in &clients {
        c.send(b"hello").unwrap();
    }
    for c in &clients {
        assert_eq!(c.recv_timeout(TIMEOUT).unwrap(), b"hello");
    }
    let per_client = (counting_alloc::live_kib() - before) / CLIENTS as f64;
    assert!(
        per_client < 24.0,
        "{per_client:.1} KiB of heap per idle client (and its server side)"
    );
    // A large message still arrives whole (the buffer grows for it).
    let big = vec![b'y'; 200_000];
    clients[0].send(&big).unwrap();
    assert_eq!(clients[0].recv_timeout(TIMEOUT).unwrap(), big);
}
