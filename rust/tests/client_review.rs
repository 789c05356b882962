//! Client defects found in a second review: a concurrent `close()` that
//! did not wait, the send-queue count and `send` after the client ended by
//! itself, and reconnecting to only one of the resolved addresses.

mod support;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, TcpClient};

/// Two threads closing at once: the one that did not get to join the I/O
/// thread returned at once, while the other was still flushing — its
/// `close()` did not wait as documented.
#[test]
fn every_concurrent_close_waits_for_the_client_to_end() {
    for _ in 0..3 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = Arc::new(AtomicBool::new(false));
        let seen = closed.clone();
        let client = TcpClient::builder(l.local_addr().unwrap())
            .linger(Duration::from_secs(1))
            .on_event(move |_, ev| {
                if *ev == ClientEvent::Closed {
                    seen.store(true, Ordering::SeqCst);
                }
            })
            .connect()
            .unwrap();
        let (_peer, _) = l.accept().unwrap(); // never reads: close lingers
        let msg = vec![7u8; 60_000];
        while client.send(&msg).is_ok() {}
        let other = {
            let client = client.clone();
            let closed = closed.clone();
            std::thread::spawn(move || {
                client.close();
                closed.load(Ordering::SeqCst)
            })
        };
        wait_until("the other thread's close started", || !client.is_open());
        client.close();
        let here = closed.load(Ordering::SeqCst);
        let there = other.join().unwrap();
        assert!(
            here && there,
            "close() returned before Closed (here {here}, there {there})"
        );
    }
}
