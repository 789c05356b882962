//! A client closing with messages queued redials a lost connection to flush
//! them, but must not hammer a server that accepts and closes at once.

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use support::*;
use tcphub::{Framing, TcpClient};

/// The first redial while closing is immediate; later ones wait out the
/// reconnect backoff (still within the linger time), as they do while the
/// client is open: a server that accepts and drops every connection saw a
/// new one every few milliseconds for the whole linger time.
#[test]
fn a_closing_client_does_not_hammer_a_server_that_drops_it() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .reconnect(tcphub::Reconnect {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
            max_attempts: None,
        })
        .max_queue_bytes(256 << 20)
        .linger(Duration::from_secs(3))
        .connect()
        .unwrap();
    let (first, _) = l.accept().unwrap(); // never reads: the queue stays
    let filler = vec![b'x'; 60_000];
    for _ in 0..2000 {
        client.send(&filler).unwrap(); // 120 MB: far more than the socket buffers
    }
    let closer = {
        let client = client.clone();
        std::thread::spawn(move || client.close())
    };
    wait_until("close() started", || !client.is_open());
    drop(first);
    l.set_nonblocking(true).unwrap();
    let mut accepted = 0;
    let t = Instant::now();
    while !closer.is_finished() && t.elapsed() < Duration::from_secs(30) {
        match l.accept() {
            Ok((s, _)) => {
                accepted += 1;
                drop(s); // at once, unread
            }
            Err(_) => std::thread::yield_now(),
        }
    }
    closer.join().unwrap();
    // 3 s of linger: one immediate redial, then backoffs of 0.2..1 s.
    assert!(
        (1..=20).contains(&accepted),
        "{accepted} connections in the linger time"
    );
}

/// A client closing between connections (its server gone, every redial
/// refused) with messages queued: its redial fails, they are dropped,
/// counted in `unsent`, and `disconnect_reason` says how the redial failed
/// — it kept the earlier drop's `ClosedByPeer`.
#[test]
fn a_close_between_connections_that_drops_messages_says_so() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .reconnect(tcphub::Reconnect {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
            max_attempts: None,
        })
        .linger(Duration::from_millis(500))
        .connect()
        .unwrap();
    let (first, _) = l.accept().unwrap();
    drop(l);
    let _held = hold_port(addr); // bound, not listening: redials are refused
    drop(first);
    wait_until("the drop seen", || !client.is_connected());
    assert_eq!(
        client.disconnect_reason(),
        Some(tcphub::DisconnectReason::ClosedByPeer)
    );
    for i in 0..10 {
        client.send(format!("m{i}").as_bytes()).unwrap();
    }
    client.close();
    assert_eq!(client.unsent(), 10);
    assert_eq!(
        client.disconnect_reason(),
        Some(tcphub::DisconnectReason::Io(
            std::io::ErrorKind::ConnectionRefused
        ))
    );
}
