//! Counters against what the application was told, around a stop.

mod support;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use support::{localhost, wait_until, Peer};
use tcphub::TcpServer;

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
