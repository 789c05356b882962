//! A stopped server and a closed client hold no file descriptor, however
//! long the application keeps the handle: each I/O thread's waker (an
//! `eventfd`) is closed as the thread ends (`wake.rs`). Before, a Python
//! program that kept its closed clients in a list held one descriptor per
//! client, and a stopped server one per event loop.
//!
//! One test in its own process, so that no other test opens descriptors
//! while it counts them.

#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use support::*;
use tcphub::{Framing, TcpClient, TcpServer};

/// The process's open descriptors.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// Waits (bounded) until the process has `n` descriptors open again.
fn wait_fds(what: &str, n: usize) {
    let back = try_wait_until(TIMEOUT, || open_fds() == n);
    assert!(back, "{what}: {} descriptors open, {n} before", open_fds());
}

#[test]
fn stopped_servers_and_closed_clients_keep_no_descriptor() {
    let before = open_fds();

    // Servers stopped and kept: 3 of them, 2 loops each.
    let mut servers = Vec::new();
    for _ in 0..3 {
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .framing(Framing::lines())
            .threads(2)
            .start()
            .expect("start");
        server.stop();
        servers.push(server);
    }
    wait_fds("3 stopped servers kept", before);
    assert!(servers.iter().all(|s| !s.is_running()));

    // Clients closed and kept, against a running server (its own
    // descriptors counted in the new baseline once its clients are gone).
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .start()
        .expect("start");
    let with_server = open_fds();
    let mut clients = Vec::new();
    for _ in 0..10 {
        let client = TcpClient::builder(server.local_addr())
            .framing(Framing::lines())
            .connect()
            .expect("connect");
        client.send(b"hello").expect("send");
        assert!(client.close_timeout(Duration::from_secs(10)), "close");
        clients.push(client);
    }
    wait_until("the server sees its clients gone", || {
        server.client_count() == 0
    });
    wait_fds("10 closed clients kept", with_server);
    assert!(clients.iter().all(|c| !c.is_open()));

    // A kept handle still answers, and sending is refused as before.
    assert!(servers[0].send_all(b"x") == 0);
    assert!(clients[0].send(b"x").is_err());
    server.stop();
    drop(clients);
    drop(servers);
    wait_fds("everything stopped and dropped", before);
}
