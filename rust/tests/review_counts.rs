//! Counters against what the application was told, around a stop.

mod support;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use support::{localhost, wait_until, Disconnects, Peer};
use tcphub::{DisconnectReason, Framing, TcpServer};

/// `stop()` inside `on_connect` while more connections wait in the backlog:
/// loop 0 keeps admitting them and deals some to the other loop, which has
/// already begun its shutdown. Every client counted as accepted must be
/// reported (connected, then disconnected) and counted as disconnected.
#[test]
fn every_accepted_client_is_reported_and_counted_when_stop_races_admission() {
    const BACKLOGGED: usize = 16;
    let connects = Arc::new(AtomicU64::new(0));
    let disconnects = Arc::new(AtomicU64::new(0));
    let backlogged = Arc::new(AtomicUsize::new(0));
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .threads(2)
        .on_connect({
            let connects = connects.clone();
            let backlogged = backlogged.clone();
            move |srv, _c| {
                if connects.fetch_add(1, Ordering::SeqCst) == 0 {
                    // Hold loop 0 until the others wait in the backlog.
                    wait_until("clients queued in the backlog", || {
                        backlogged.load(Ordering::SeqCst) == BACKLOGGED
                    });
                    srv.stop();
                }
            }
        })
        .on_disconnect({
            let disconnects = disconnects.clone();
            move |_srv, _c, _why| {
                disconnects.fetch_add(1, Ordering::SeqCst);
            }
        })
        .start()
        .expect("start");
    let addr = server.local_addr();
    let peers = Arc::new(Mutex::new(vec![Peer::connect(addr)]));
    wait_until("first client's on_connect", || {
        connects.load(Ordering::SeqCst) == 1
    });
    for _ in 0..BACKLOGGED {
        peers.lock().unwrap().push(Peer::connect(addr));
        backlogged.fetch_add(1, Ordering::SeqCst);
    }
    server.wait();
    let s = server.stats();
    let (c, d) = (
        connects.load(Ordering::SeqCst),
        disconnects.load(Ordering::SeqCst),
    );
    assert_eq!(c, d, "every on_connect has its on_disconnect");
    assert_eq!(
        s.accepted, c,
        "accepted counts the clients reported connected: {s:?}"
    );
    assert_eq!(s.disconnected, d, "disconnected counts the reports: {s:?}");
    assert_eq!(s.clients, 0);
}

/// A `send` that returned `Ok` for a client that is gone by the time its
/// loop gets to it (here: kicked just before, by the same callback, so the
/// kick is applied first) is counted in `Stats::undelivered`, not lost
/// without a trace.
#[test]
fn a_send_racing_its_clients_end_is_counted_as_undelivered() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message(|srv, c, _msg| {
            srv.disconnect(c.id).expect("still connected");
            srv.send(c.id, b"too late").expect("still registered");
        })
        .on_disconnect({
            let gone = gone.clone();
            move |_srv, c, why| gone.record(c, why)
        })
        .start()
        .expect("start");
    let mut peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    peer.send_line("hello");
    assert_eq!(gone.wait_for(id), DisconnectReason::Kicked);
    peer.expect_eof(); // nothing written after the kick
                       // (The send is applied just after the kick's `on_disconnect`.)
    wait_until("the late send counted", || server.stats().undelivered > 0);
    let s = server.stats();
    assert_eq!(s.undelivered, 1, "{s:?}");
    assert_eq!((s.msgs_out, s.dropped), (0, 0), "{s:?}");
}

/// A message is counted in `msgs_in` by the time the application is handed
/// it, as a client is in `accepted` before its `on_connect` and an end in
/// `disconnected` before its `on_disconnect`. It was counted after the
/// whole read had been dispatched: `on_message` saw its own message
/// missing, and in pull mode a thread that took a `Message` event and read
/// the stats could too (tests/c/test_tuning.c checked `msgs_in` right after
/// taking its last message).
#[test]
fn a_message_is_counted_before_the_application_is_handed_it() {
    let counted = Arc::new(Mutex::new(Vec::new()));
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message({
            let counted = counted.clone();
            move |srv, _c, _msg| counted.lock().unwrap().push(srv.stats().msgs_in)
        })
        .start()
        .expect("start");
    let mut peer = Peer::connect(server.local_addr());
    peer.send(b"one\ntwo\nthree\n");
    wait_until("three messages handled", || {
        counted.lock().unwrap().len() == 3
    });
    assert_eq!(*counted.lock().unwrap(), [1, 2, 3]);
}

/// An empty message under raw framing is nothing on the wire: every send
/// takes it and queues nothing, and `msgs_out` does not count it. Before:
/// counted once per recipient, with no byte written.
#[test]
fn an_empty_raw_message_is_not_counted_as_sent() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::Raw)
        .start()
        .expect("start");
    let mut peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    let addr = peer.addr();
    assert_eq!(server.send_all(b""), 1);
    assert_eq!(server.send_all_except(0, b""), 1);
    server.send(id, b"").expect("send");
    server
        .send_to(addr.ip(), addr.port(), b"")
        .expect("send_to");
    assert_eq!(server.send_many(&[id], b""), 1);
    let many: Vec<_> = std::iter::repeat_n(id, 40).chain([id + 1000]).collect();
    assert_eq!(server.send_many(&many, b""), 1);
    assert!(
        server.send(id + 1000, b"").is_err(),
        "not connected: still an error"
    );
    server.send(id, b"x").expect("send");
    assert_eq!(peer.read_exact(1), b"x");
    wait_until("the byte counted", || server.stats().bytes_out == 1);
    let stats = server.stats();
    assert_eq!((stats.msgs_out, stats.bytes_out), (1, 1), "{stats:?}");
    server.stop();
}
