//! Review mu5 (mutation testing of `event_loop/vanished.rs`): a client the
//! watch found vanished is read to the end and its input handed out before
//! it is closed ("as when a write finds it gone", `close_for_write_error`).
//! That read may fill the pull-mode queue and pause reading, so the client
//! waits, its write failed, for the application to make room. The watch
//! skips such a client (`c.write_failed.is_some()`). With that skip
//! removed every test still passed; the watch then found the waiting
//! client gone a second time at a later look, and, reading paused, closed
//! it at once: what it sent and was not read yet was dropped. Runs in
//! network namespaces (root), as `review_lim_vanished_paused.rs` does;
//! passes without, unless `TCPHUB_REQUIRE_NETNS` is set.

#![cfg(target_os = "linux")]

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use support::netns::{own_network, unread, Remote, NEAR};
use support::{next_event, wait_until};
use tcphub::{DisconnectReason, Event, Framing, TcpServer};

/// Lines the peer sends before it vanishes: 300 kB, several of the
/// loop's 64 KiB reads.
const LINES: usize = 3000;

#[test]
fn review_mu5_a_vanished_client_waiting_for_room_gets_all_its_input_handed_out() {
    if !own_network() {
        return;
    }
    // A receive buffer that holds all the peer sends (this namespace only).
    std::fs::write("/proc/sys/net/ipv4/tcp_rmem", "4096 4194304 8388608")
        .expect("set tcp_rmem in the test's namespace");
    let remote = Remote::cable();
    let server = TcpServer::new(0, 4)
        .bind(NEAR.parse().unwrap())
        .threads(1)
        .framing(Framing::lines())
        .keepalive(Duration::from_secs(1))
        .event_capacity(4)
        .start()
        .expect("start");
    let events = server.events();
    let mut peer = remote.connect(server.local_addr());
    let id = match next_event(&events) {
        Event::Connected(c) => c.id,
        other => panic!("{other:?}"),
    };
    // Paused: what it sends waits in the server's socket.
    server.pause_client(id).expect("pause");
    server.send(id, b"sync").expect("send");
    let mut sync = [0u8; 5];
    peer.read_exact(&mut sync).expect("read over the veth");
    let line = |i: usize| format!("{i:0>98}\n");
    let all: String = (0..LINES).map(line).collect();
    peer.write_all(all.as_bytes()).expect("write");
    let (local, far) = (
        server.local_addr().port(),
        peer.local_addr().expect("addr").port(),
    );
    wait_until("all its lines in the server's socket", || {
        unread(local, far) == Some(all.len() as u64)
    });
    // Its host vanishes while the server has output for it.
    remote.unplug();
    server.send(id, b"anyone there?").expect("send");
    // The watch finds it gone (~5 s) and reads: the queue fills at once.
    wait_until("the read after it was found gone", || {
        unread(local, far).is_some_and(|n| n < all.len() as u64)
    });
    // A slow consumer: several of the watch's looks (1 s apart) pass
    // before it takes anything.
    std::thread::sleep(Duration::from_secs(8));
    let mut got = 0;
    let why = loop {
        match next_event(&events) {
            Event::Message(c, m) => {
                assert_eq!(c.id, id);
                assert_eq!(m, line(got).trim_end().as_bytes(), "line {got}");
                got += 1;
            }
            Event::Disconnected(_, why) => break why,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(got, LINES, "lines handed out before the end");
    assert_eq!(why, DisconnectReason::Io(std::io::ErrorKind::TimedOut));
    drop(peer);
    server.stop();
}
