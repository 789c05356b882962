//! Client defects found in a second review: a concurrent `close()` that
//! did not wait, the send-queue count and `send` after the client ended by
//! itself, reconnecting to only one of the resolved addresses, a zero
//! connect timeout reported as a failure to connect, and a queue dropped when
//! the connection was lost while closing; from a third: the redial to flush
//! while closing reported with a backoff it did not wait.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, Framing, TcpClient};

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

/// A `send` racing the end of the client (the server closed, no
/// reconnect; or `close()`) could count its message after the I/O thread
/// had reset the count for good: `queued_bytes()` stayed above 0 forever
/// on a closed client (about 40% of rounds).
#[test]
fn the_queue_count_is_zero_once_the_client_has_ended() {
    for round in 0..60 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpClient::builder(l.local_addr().unwrap())
            .framing(Framing::lines())
            .connect()
            .unwrap();
        let (peer, _) = l.accept().unwrap();
        let senders: Vec<_> = (0..2)
            .map(|_| {
                let client = client.clone();
                std::thread::spawn(move || while client.send(b"m").is_ok() || client.is_open() {})
            })
            .collect();
        while client.queued_bytes() == 0 {
            std::thread::yield_now();
        }
        if round % 3 == 0 {
            client.close();
        }
        drop(peer);
        for s in senders {
            s.join().unwrap();
        }
        client.close();
        assert!(!client.is_open());
        assert_eq!(
            client.queued_bytes(),
            0,
            "round {round}: bytes counted after the end"
        );
    }
}

/// In `on_disconnect` for a drop that ends the client (no reconnect), the
/// client still said it was open and `send` returned `Ok` for a message
/// that was then thrown away, though `send` is documented to fail with
/// `NotRunning` once the client is dropped for good without reconnect.
#[test]
fn send_in_the_final_on_disconnect_is_refused() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let seen: Arc<Mutex<Option<(bool, bool)>>> = Arc::default();
    let s = seen.clone();
    let client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .on_disconnect(move |c, _| {
            let refused = matches!(c.send(b"into the void"), Err(tcphub::Error::NotRunning));
            *s.lock().unwrap() = Some((c.is_open(), refused));
        })
        .connect()
        .unwrap();
    let (peer, _) = l.accept().unwrap();
    drop(peer);
    wait_until("on_disconnect called", || seen.lock().unwrap().is_some());
    let (open, refused) = seen.lock().unwrap().unwrap();
    assert!(!open, "is_open() in the final on_disconnect");
    assert!(refused, "send accepted a message that can never be sent");
    client.close();
}

/// A name resolving to several addresses (`localhost` as ::1 and
/// 127.0.0.1, a service with several A records): the first connection
/// tries each, but reconnecting dialled only the one that had worked, for
/// ever, while another address was accepting.
#[test]
fn reconnect_tries_every_resolved_address() {
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs: Vec<SocketAddr> = vec![first.local_addr().unwrap(), second.local_addr().unwrap()];
    let client = TcpClient::builder(&addrs[..])
        .framing(Framing::lines())
        .reconnect(tcphub::Reconnect {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            max_attempts: None,
        })
        .connect()
        .unwrap();
    let (conn, _) = first.accept().unwrap();
    drop(first); // that server is gone for good
    drop(conn);
    client.send(b"still here").unwrap();
    second.set_nonblocking(true).unwrap();
    let mut got = None;
    wait_until("a reconnect to the second address", || {
        got = second.accept().ok().map(|(s, _)| s);
        got.is_some()
    });
    let mut peer = got.unwrap();
    peer.set_nonblocking(false).unwrap();
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut line = [0u8; 11];
    std::io::Read::read_exact(&mut peer, &mut line).unwrap();
    assert_eq!(&line, b"still here\n");
    wait_until("connected", || client.is_connected());
    assert_eq!(client.peer_addr(), addrs[1]);
    client.close();
}

/// A zero connect timeout was taken, and every connection "failed" with
/// `Error::Connect` naming the server (std: "cannot set a 0 duration
/// timeout"), as if the server were at fault. It is a configuration error
/// (the Python binding already refused it itself).
#[test]
fn a_zero_connect_timeout_is_a_configuration_error() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = TcpClient::builder(l.local_addr().unwrap())
        .connect_timeout(Duration::ZERO)
        .connect()
        .unwrap_err();
    assert!(matches!(err, tcphub::Error::InvalidConfig(_)), "{err:?}");
}

/// Zero reconnect delays were taken, and a client whose server went down
/// redialled in a busy loop: ~30,000 attempts (and `Reconnecting` events) a
/// second on loopback. They are a configuration error now.
#[test]
fn zero_reconnect_delays_are_a_configuration_error() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let ms = Duration::from_millis;
    for (initial, max) in [(ms(0), ms(0)), (ms(0), ms(100)), (ms(100), ms(0))] {
        let err = TcpClient::builder(l.local_addr().unwrap())
            .reconnect(tcphub::Reconnect {
                initial,
                max,
                max_attempts: None,
            })
            .connect()
            .unwrap_err();
        assert!(
            matches!(&err, tcphub::Error::InvalidConfig(m) if m.contains("reconnect")),
            "{initial:?}/{max:?}: {err:?}"
        );
    }
}

/// `max_attempts: Some(0)` was taken and meant "no reconnect" (the client
/// reported the drop itself, not that reconnecting gave up), while the C
/// API's 0 means "never give up". It is a configuration error now.
#[test]
fn zero_reconnect_attempts_are_a_configuration_error() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = TcpClient::builder(l.local_addr().unwrap())
        .reconnect(tcphub::Reconnect {
            max_attempts: Some(0),
            ..tcphub::Reconnect::default()
        })
        .connect()
        .unwrap_err();
    assert!(
        matches!(&err, tcphub::Error::InvalidConfig(m) if m.contains("max_attempts")),
        "{err:?}"
    );
}

/// A listener whose accepted sockets have a small receive buffer, for a
/// server that does not read: the 18 MB sent stay queued in the client.
/// (The kernel's buffers do not hold "a few MB" everywhere: on the CI
/// host's loopback a receive buffer may grow to 32 MB.)
fn quiet_listener() -> TcpListener {
    listener_with_rcvbuf(64 * 1024)
}

/// A lines client of `l` that redials only after 60 s (so a redial within
/// the test is the close's own), with a 64 MiB queue and 20 s of linger.
fn slow_redial_builder(l: &TcpListener) -> tcphub::ClientBuilder {
    TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .reconnect(tcphub::Reconnect {
            initial: Duration::from_secs(60),
            max: Duration::from_secs(60),
            max_attempts: None,
        })
        .max_queue_bytes(64 << 20)
        .linger(Duration::from_secs(20))
}

/// The connection dropping during `close()`'s linger lost what was still
/// queued, although `close()` while waiting to reconnect connects at once
/// to flush it. Now a client with a reconnect policy redials within the
/// linger time in both cases.
#[test]
fn a_connection_lost_while_closing_is_redialled_to_flush_the_queue() {
    let l = quiet_listener();
    let client = slow_redial_builder(&l).connect().unwrap();
    let (first, _) = l.accept().unwrap(); // never reads: the queue stays
    let filler = vec![b'x'; 60_000];
    for _ in 0..300 {
        client.send(&filler).unwrap(); // 18 MB: more than the socket buffers
    }
    client.send(b"last words").unwrap();
    let closer = {
        let client = client.clone();
        std::thread::spawn(move || client.close())
    };
    wait_until("close() started", || !client.is_open());
    drop(first); // unread data: the client sees a reset while closing
    let got = accept_the_flush(&l);
    assert!(
        got.ends_with(b"\nlast words\n"),
        "the queue's end was delivered"
    );
    closer.join().unwrap();
    assert!(!client.is_open());
}

/// `close()` from `on_message` (the answer it waited for has come): the
/// rest of that read, and whatever the server sent during the close's
/// flush, was still handed to `on_message` — 999 more calls here, on a
/// client that said it was closed. A server's callback that disconnects a
/// client gets none of the rest of its input; now a closed client neither.
#[test]
fn no_message_is_delivered_after_close_from_on_message() {
    use std::io::Write;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let after_close = Arc::new(Mutex::new(Vec::new()));
    let ended = Arc::new(AtomicBool::new(false));
    let (seen, end) = (after_close.clone(), ended.clone());
    let _client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .on_message(move |c, msg| {
            if c.is_open() {
                c.close();
            } else {
                seen.lock().unwrap().push(msg.to_vec());
            }
        })
        .on_event(move |_, ev| {
            if *ev == ClientEvent::Closed {
                end.store(true, Ordering::SeqCst);
            }
        })
        .connect()
        .unwrap();
    let (mut server, _) = l.accept().unwrap();
    let lines: String = (0..1000).map(|i| format!("m{i}\n")).collect();
    server.write_all(lines.as_bytes()).unwrap(); // one write: one read
    wait_until("the client closed", || ended.load(Ordering::SeqCst));
    let after_close = after_close.lock().unwrap();
    assert!(
        after_close.is_empty(),
        "{} messages delivered after close(), the first {:?}",
        after_close.len(),
        String::from_utf8_lossy(&after_close[0])
    );
}

/// A queue of tiny messages is full long before its bytes reach the
/// bound (each message also counts 48 bytes of bookkeeping), but the error
/// said only "outbound queue full (2040 bytes queued, limit 100000)",
/// which reads as a queue far from full. It now names what else counts.
#[test]
fn queue_full_says_what_counts_against_the_bound() {
    use std::io::Read;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(l.local_addr().unwrap())
        .max_queue_bytes(100_000)
        .connect()
        .unwrap();
    let (mut server, _) = l.accept().unwrap();
    // Fill the socket buffers (the server does not read)...
    let chunk = vec![b'x'; 64 * 1024];
    wait_until("the socket buffers full", || {
        matches!(client.send(&chunk), Err(tcphub::Error::QueueFull { .. }))
    });
    // ...then take just enough for the queue to empty into them (short
    // reads: the count drops just after the bytes are written).
    server
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut buf = [0u8; 1024];
    wait_until("the client's queue written", || {
        if let Ok(n) = server.read(&mut buf) {
            assert!(n > 0, "the client went away");
        }
        client.queued_bytes() == 0
    });
    let err = loop {
        if let Err(e) = client.send(b"x") {
            break e;
        }
    };
    let tcphub::Error::QueueFull { queued, limit } = err else {
        panic!("expected QueueFull, got {err:?}");
    };
    assert!(
        queued + 1 < limit,
        "a queue of tiny messages ({queued} bytes)"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("{queued} bytes")) && text.contains("48 bytes"),
        "the message explains a queue of {queued} bytes being full at {limit}: {text:?}"
    );
    client.close();
}

/// `close()` from `on_disconnect` with reconnect on and nothing queued:
/// the client still reported `Reconnecting { attempt: 1, delay: .. }` —
/// an attempt it never made — before `Closed`.
#[test]
fn close_from_on_disconnect_schedules_no_reconnect() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let _client = TcpClient::builder(l.local_addr().unwrap())
        .reconnect(tcphub::Reconnect {
            initial: Duration::from_secs(60),
            max: Duration::from_secs(60),
            max_attempts: None,
        })
        .on_disconnect(|c, _| c.close())
        .on_event(move |_, ev| seen.lock().unwrap().push(ev.clone()))
        .connect()
        .unwrap();
    let (server, _) = l.accept().unwrap();
    drop(server);
    wait_until("the client closed", || {
        events.lock().unwrap().contains(&ClientEvent::Closed)
    });
    let events = events.lock().unwrap();
    assert!(
        matches!(
            events[..],
            [ClientEvent::Disconnected(_), ClientEvent::Closed]
        ),
        "{events:?}"
    );
}

/// Starts a client with a 60 s reconnect backoff whose queue the server
/// (`l`'s first connection, returned) does not read; `on_disconnect` runs
/// on each drop, and every event is recorded.
fn stalled_reconnecting_client(
    l: &TcpListener,
    on_disconnect: impl Fn(&TcpClient) + Send + Sync + 'static,
) -> (TcpClient, Arc<Mutex<Vec<ClientEvent>>>, std::net::TcpStream) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let client = slow_redial_builder(l)
        .on_disconnect(move |c, _| on_disconnect(c))
        .on_event(move |_, ev| seen.lock().unwrap().push(ev.clone()))
        .connect()
        .unwrap();
    let (first, _) = l.accept().unwrap(); // never reads: the queue stays
    let filler = vec![b'x'; 60_000];
    for _ in 0..300 {
        client.send(&filler).unwrap(); // 18 MB: more than the socket buffers
    }
    client.send(b"last words").unwrap();
    (client, events, first)
}

/// Accepts the closing client's redial and reads what it flushes.
fn accept_the_flush(l: &TcpListener) -> Vec<u8> {
    use std::io::Read;
    l.set_nonblocking(true).unwrap();
    let mut second = None;
    wait_until("the closing client connecting again to flush", || {
        second = l.accept().ok().map(|(s, _)| s);
        second.is_some()
    });
    let mut second = second.unwrap();
    second.set_nonblocking(false).unwrap();
    second.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = Vec::new();
    second.read_to_end(&mut got).unwrap(); // then the FIN of the close
    got
}

/// The reconnect reported when a connection drops during `close()` (or
/// when `on_disconnect` closes with messages queued): the client dials at
/// once to flush, but the event gave the backoff (here up to 60 s).
fn assert_the_redial_is_reported_at_once(events: &[ClientEvent]) {
    let delays: Vec<_> = events
        .iter()
        .filter_map(|ev| match ev {
            ClientEvent::Reconnecting { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect();
    assert_eq!(delays, [Duration::ZERO], "{events:?}");
}

#[test]
fn a_redial_to_flush_while_closing_reports_no_delay() {
    let l = quiet_listener();
    let (client, events, first) = stalled_reconnecting_client(&l, |_| {});
    let closer = {
        let client = client.clone();
        std::thread::spawn(move || client.close())
    };
    wait_until("close() started", || !client.is_open());
    drop(first); // unread data: the client sees a reset while closing
    assert!(accept_the_flush(&l).ends_with(b"\nlast words\n"));
    closer.join().unwrap();
    assert_the_redial_is_reported_at_once(&events.lock().unwrap());
}

#[test]
fn a_redial_to_flush_after_close_in_on_disconnect_reports_no_delay() {
    let l = quiet_listener();
    let (client, events, first) = stalled_reconnecting_client(&l, |c| c.close());
    drop(first);
    assert!(accept_the_flush(&l).ends_with(b"\nlast words\n"));
    wait_until("the client closed", || {
        events.lock().unwrap().contains(&ClientEvent::Closed)
    });
    assert_the_redial_is_reported_at_once(&events.lock().unwrap());
    client.close();
}

/// `close()` while the client is still writing its queue after the server
/// had ended its side (`write_after_server_eof(true)`, not the default):
/// the server's close came first, so that is the reason (as without the
/// `close()`), not `ClosedLocally`. The client
/// stopped reading at `close()`, so it never saw the end-of-stream waiting
/// in its socket — here for sure, as its full pull queue had already made
/// it stop reading.
#[test]
fn close_after_the_server_ended_its_side_reports_the_server_s_close() {
    use std::io::{Read, Write};
    use tcphub::DisconnectReason;
    let l = quiet_listener();
    let client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .event_capacity(1)
        .max_queue_bytes(64 << 20)
        .linger(Duration::from_secs(20))
        .write_after_server_eof(true)
        .connect()
        .unwrap();
    let (mut server, _) = l.accept().unwrap(); // does not read yet
    let filler = vec![b'x'; 60_000];
    for _ in 0..300 {
        client.send(&filler).unwrap(); // 18 MB: more than the socket buffers
    }
    client.send(b"last words").unwrap();
    // Two messages for a queue of one, then the end of the server's side.
    server.write_all(b"a\nb\n").unwrap();
    server.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(
        client.wait_ready(TIMEOUT),
        "the client has read from the server"
    );
    assert!(!client.close_timeout(Duration::ZERO), "the close lingers");
    server.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    assert!(got.ends_with(b"\nlast words\n"), "the queue was written");
    assert!(client.close_timeout(TIMEOUT));
    let mut events = Vec::new();
    while let Ok(ev) = client.next_event(TIMEOUT) {
        events.push(ev);
    }
    assert_eq!(
        events,
        [
            ClientEvent::Message(b"a".to_vec()),
            ClientEvent::Message(b"b".to_vec()),
            ClientEvent::Disconnected(DisconnectReason::ClosedByPeer),
            ClientEvent::Closed,
        ]
    );
    assert_eq!(
        client.disconnect_reason(),
        Some(DisconnectReason::ClosedByPeer)
    );
}
