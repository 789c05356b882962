//! Client defects found in review: the send-queue count after a failed
//! write, empty frames carried over a reconnect, backoff against a server
//! that accepts and closes at once, and a client and a server closing each
//! other from their callbacks.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use support::*;
use tcphub::{ClientEvent, Framing, Reconnect, ServerHandle, TcpClient, TcpServer};

/// Accepts the client's connection and closes it at once, then waits until
/// the client reports it is reconnecting.
fn drop_first_connection(l: &TcpListener, client: &TcpClient) {
    let (first, _) = l.accept().unwrap();
    drop(first);
    wait_reconnecting(client);
}

/// Waits (pull mode) until the client reports it is reconnecting.
fn wait_reconnecting(client: &TcpClient) {
    wait_until("the client reconnecting", || {
        matches!(
            client.next_event(Duration::from_millis(50)),
            Ok(ClientEvent::Reconnecting { .. })
        )
    });
}

/// A reconnect policy whose first retry is far beyond any test: the client
/// stays waiting, nothing is flushed meanwhile.
fn not_soon() -> Reconnect {
    Reconnect {
        initial: Duration::from_secs(60),
        max: Duration::from_secs(60),
        max_attempts: None,
    }
}

fn quick(max_attempts: Option<u32>) -> Reconnect {
    Reconnect {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(300),
        max_attempts,
    }
}

/// Empty Raw messages sent while reconnecting used to wait in the carry-over
/// queue and make every new connection fail (a zero-length write).
#[test]
fn empty_messages_sent_while_reconnecting_do_not_wedge_the_queue() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(l.local_addr().unwrap()) // Raw framing
        .reconnect(quick(None))
        .connect()
        .unwrap();
    drop_first_connection(&l, &client);
    for _ in 0..64 {
        client.send(b"").unwrap();
    }
    client.send(b"hello").unwrap();
    let (mut second, _) = l.accept().unwrap();
    second.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = [0u8; 5];
    second.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    client.close();
}

/// A flush that wrote some frames and then failed used to keep their bytes
/// counted as queued for good (so `send` could end up refused forever).
#[test]
fn bytes_written_before_a_failed_write_leave_the_queue_count() {
    for _ in 0..5 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpClient::builder(l.local_addr().unwrap())
            .framing(Framing::lines())
            .event_capacity(1)
            .reconnect(quick(None))
            .connect()
            .unwrap();
        let (mut first, _) = l.accept().unwrap();
        // Fill the pull queue (capacity 1) so the client stops reading, and
        // close: it learns of the close only when a write fails.
        first.write_all(b"a\nb\nc\n").unwrap();
        let (local, peer) = (client.local_addr(), client.peer_addr());
        // (An event to take: the lines have arrived, and all were read.)
        wait_until("the client reading the three lines", || {
            client.wait_ready(Duration::ZERO)
                && socket_queues(local, peer).is_some_and(|(_, rx)| rx == 0)
        });
        drop(first);
        std::thread::sleep(Duration::from_millis(100));
        let msg = vec![b'x'; 1000];
        for _ in 0..400 {
            let _ = client.send(&msg);
        }
        // Take the events (this also lets the client read again: the
        // dead connection's input is delivered before it reconnects) until
        // it is connected anew, and read everything it writes there.
        l.set_nonblocking(true).unwrap();
        let mut accepted = None;
        wait_until("the reconnection", || {
            while client.next_event(Duration::ZERO).is_ok() {}
            accepted = l.accept().ok();
            accepted.is_some()
        });
        let (mut second, _) = accepted.unwrap();
        second.set_nonblocking(false).unwrap();
        second
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = vec![0u8; 1 << 20];
        wait_until("every queued byte written", || {
            while client.next_event(Duration::ZERO).is_ok() {}
            while let Ok(n) = second.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
            client.queued_bytes() == 0
        });
        client.close();
    }
}

/// Against a server that accepts and closes at once (full), each such
/// connection counts as a failed attempt: the backoff grows and
/// `max_attempts` ends it, instead of reconnecting at attempt 1 forever.
#[test]
fn a_server_that_closes_at_once_counts_as_failed_attempts() {
    let server = TcpServer::new(0, 1)
        .bind(localhost())
        .framing(Framing::lines())
        .start()
        .unwrap();
    let occupant = Peer::connect(server.local_addr());
    wait_clients(&server, 1);
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .reconnect(quick(Some(3)))
        .connect()
        .unwrap();
    let mut highest = 0;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(
            Instant::now() < deadline,
            "still reconnecting: attempt {highest}"
        );
        match client.next_event(Duration::from_millis(50)) {
            Ok(ClientEvent::Reconnecting { attempt, .. }) => highest = highest.max(attempt),
            Ok(ClientEvent::Closed) => break,
            _ => {}
        }
    }
    assert_eq!(highest, 3, "attempts did not count up");
    // The last attempt connected and was closed at once: giving up is the
    // final reason, not that close.
    assert_eq!(
        client.disconnect_reason(),
        Some(tcphub::DisconnectReason::ReconnectGaveUp { attempts: 3 })
    );
    drop(occupant);
    server.stop();
}

/// A server callback closes a client while that client's callback stops the
/// server: neither I/O thread waits for the other.
#[test]
fn a_client_and_a_server_closing_each_other_from_callbacks_do_not_deadlock() {
    let client_slot: Arc<OnceLock<TcpClient>> = Arc::default();
    let server_slot: Arc<OnceLock<ServerHandle>> = Arc::default();
    let cs = client_slot.clone();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .on_disconnect(move |_, _, _| {
            if let Some(c) = cs.get() {
                c.close();
            }
        })
        .start()
        .unwrap();
    let _ = server_slot.set(server.clone());
    let ss = server_slot.clone();
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .on_disconnect(move |_, _| {
            if let Some(s) = ss.get() {
                s.stop();
            }
        })
        .connect()
        .unwrap();
    let _ = client_slot.set(client.clone());
    wait_clients(&server, 1);
    let id = server.clients()[0].id;
    server.disconnect(id).unwrap();
    let stopper = {
        let server = server.clone();
        std::thread::spawn(move || server.stop())
    };
    if !try_wait_until(TIMEOUT, || stopper.is_finished() && !client.is_open()) {
        // Deadlocked: dropping the handles would join the stuck threads.
        std::mem::forget((client, server, client_slot, server_slot, stopper));
        panic!("the server's stop() is still blocked: deadlock");
    }
}

/// The send queue bound counted bytes only: with one-byte messages a 4 KiB
/// bound let 4096 messages (and their allocations, ~50× the bytes) queue.
/// Each message now also counts 48 bytes, as on the server.
#[test]
fn tiny_messages_are_bounded_by_their_bookkeeping_too() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(l.local_addr().unwrap()) // Raw framing
        .reconnect(not_soon())
        .max_queue_bytes(4096)
        .connect()
        .unwrap();
    drop_first_connection(&l, &client);
    let mut accepted = 0;
    while client.send(b"x").is_ok() {
        accepted += 1;
        assert!(accepted <= 4096, "the queue never filled");
    }
    assert_eq!(accepted, 4096 / (1 + 48), "one-byte messages accepted");
    assert_eq!(client.queued_bytes(), accepted);
    assert!(matches!(
        client.send(b"x"),
        Err(tcphub::Error::QueueFull { .. })
    ));
    client.close();
}

/// A listener and a Lines client of it that reconnects quickly.
fn reconnecting_lines_client() -> (TcpListener, TcpClient) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .reconnect(quick(None))
        .connect()
        .unwrap();
    (l, client)
}

/// `shutdown_write` writes the queue, then a FIN; the server's reply and
/// close end the client for good even with reconnect on.
#[test]
fn shutdown_write_flushes_then_half_closes_and_the_server_close_is_the_end() {
    let (l, client) = reconnecting_lines_client();
    let (mut peer, _) = l.accept().unwrap();
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();
    for i in 0..1000 {
        client.send(format!("line {i}").as_bytes()).unwrap();
    }
    client.shutdown_write().unwrap();
    client.shutdown_write().unwrap(); // idempotent
    assert!(matches!(
        client.send(b"late"),
        Err(tcphub::Error::NotRunning)
    ));
    let mut got = String::new();
    peer.read_to_string(&mut got).unwrap(); // ends at the client's FIN
    let want: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    assert_eq!(got, want);
    assert!(client.is_open(), "still receiving");
    peer.write_all(b"bye\n").unwrap();
    drop(peer);
    assert_eq!(client.recv_timeout(TIMEOUT).unwrap(), b"bye");
    assert!(matches!(
        client.recv_timeout(TIMEOUT),
        Err(tcphub::Error::NotRunning)
    ));
    assert!(!client.is_open(), "closed for good: no reconnect");
    client.close();
}

/// Asked for while reconnecting, the half-close waits for the next
/// connection and goes after the carried-over queue.
#[test]
fn shutdown_write_while_reconnecting_goes_after_the_carried_queue() {
    let (l, client) = reconnecting_lines_client();
    drop_first_connection(&l, &client);
    client.send(b"carried").unwrap();
    client.shutdown_write().unwrap();
    let (mut second, _) = l.accept().unwrap();
    second.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = String::new();
    second.read_to_string(&mut got).unwrap();
    assert_eq!(got, "carried\n");
    drop(second);
    wait_until("the client closed for good", || !client.is_open());
    client.close();
}

/// `send` racing `shutdown_write` on another thread: a message `send`
/// accepted could be posted after the shutdown, written to the shut socket
/// (EPIPE) and lost with the connection (3–9 of 300 rounds failed).
#[test]
fn every_message_accepted_before_a_concurrent_shutdown_write_is_delivered() {
    for round in 0..100 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpClient::builder(l.local_addr().unwrap())
            .framing(Framing::lines())
            .connect()
            .unwrap();
        let (mut peer, _) = l.accept().unwrap();
        peer.set_read_timeout(Some(TIMEOUT)).unwrap();
        let sender = {
            let client = client.clone();
            std::thread::spawn(move || {
                let mut accepted = 0u64;
                while client.send(b"m").is_ok() {
                    accepted += 1;
                }
                accepted
            })
        };
        while client.queued_bytes() == 0 && !sender.is_finished() {
            std::thread::yield_now();
        }
        client.shutdown_write().unwrap();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        let accepted = sender.join().unwrap();
        let lines = got.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(lines, accepted, "round {round}: accepted vs delivered");
        drop(peer);
        client.close();
    }
}

/// `close()` while waiting to reconnect dropped what was queued at once;
/// now it connects without waiting out the backoff and flushes.
#[test]
fn close_while_waiting_to_reconnect_still_delivers_the_queue() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .reconnect(not_soon())
        .linger(Duration::from_secs(10))
        .connect()
        .unwrap();
    drop_first_connection(&l, &client);
    client.send(b"last words").unwrap();
    let closer = {
        let client = client.clone();
        std::thread::spawn(move || client.close())
    };
    l.set_nonblocking(true).unwrap();
    let mut second = None;
    wait_until("the closing client connecting to flush", || {
        second = l.accept().ok().map(|(s, _)| s);
        second.is_some()
    });
    let mut second = second.unwrap();
    second.set_nonblocking(false).unwrap();
    second.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = String::new();
    second.read_to_string(&mut got).unwrap(); // then the FIN of the close
    assert_eq!(got, "last words\n");
    closer.join().unwrap();
    assert!(!client.is_open());
}

/// With nothing queued, `close()` while waiting to reconnect does not dial.
#[test]
fn close_while_waiting_to_reconnect_with_nothing_queued_ends_at_once() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(l.local_addr().unwrap())
        .reconnect(not_soon())
        .connect()
        .unwrap();
    drop_first_connection(&l, &client);
    client.close();
    assert!(!client.is_open());
    l.set_nonblocking(true).unwrap();
    assert!(l.accept().is_err(), "no connection was made");
}

#[test]
fn reconnect_delay_never_panics_on_odd_inputs() {
    // `delay` is public: a NaN jitter, or a jitter of 1 with no practical
    // cap, panicked in `Duration::mul_f64` instead of giving a delay.
    let forever = Reconnect {
        initial: Duration::from_secs(1),
        max: Duration::MAX,
        max_attempts: None,
    };
    assert!(forever.delay(64, 1.0) >= forever.delay(64, 0.0));
    let r = Reconnect::default();
    assert!(r.delay(1, f64::NAN) <= r.initial);
    assert!(forever.delay(64, f64::NAN) >= Duration::from_secs(1));
}
