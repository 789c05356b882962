//! Review: reconnect backoff bounds, the attempt limit's end, the queue
//! while disconnected, a full server's refusal, event order.

mod support;

use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;
use tcphub::{ClientEvent, DisconnectReason, Error, Framing, Reconnect, TcpClient, TcpServer};

/// Each attempt's reported delay lies within [cap/2, cap], cap =
/// min(initial × 2ⁿ⁻¹, max); no attempt dials before its delay; after the
/// last attempt: Closed, ReconnectGaveUp, send refused, queued counted unsent.
#[test]
fn backoff_bounds_and_the_end_after_the_last_attempt() {
    let server = echo_server(Framing::lines());
    let addr: SocketAddr = server.local_addr();
    let initial = Duration::from_millis(100);
    let max = Duration::from_millis(400);
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .reconnect(Reconnect {
            initial,
            max,
            max_attempts: Some(5),
        })
        .connect()
        .unwrap();
    client.send(b"hi").unwrap();
    assert_eq!(client.recv_timeout(TIMEOUT).unwrap(), b"hi");
    let stopped = Instant::now();
    server.stop();
    let _held = hold_port(addr);
    let (ev, _) = next_control_at(&client);
    assert_eq!(
        ev,
        ClientEvent::Disconnected(DisconnectReason::ClosedByPeer)
    );
    for m in [&b"a"[..], b"b", b"c"] {
        client.send(m).unwrap();
    }
    let mut waited = Duration::ZERO;
    for n in 1..=5u32 {
        let (ev, _) = next_control_at(&client);
        let ClientEvent::Reconnecting { attempt, delay } = ev else {
            panic!("attempt {n}: {ev:?}");
        };
        assert_eq!(attempt, n);
        let cap = (initial * (1 << (n - 1))).min(max);
        assert!(
            delay >= cap / 2 && delay <= cap,
            "attempt {n}: {delay:?} cap {cap:?}"
        );
        waited += delay;
    }
    let (ev, at) = next_control_at(&client);
    assert_eq!(ev, ClientEvent::Closed);
    // Every attempt waited out its delay (a lower bound only).
    assert!(at.duration_since(stopped) >= waited, "{waited:?}");
    assert_eq!(
        client.disconnect_reason(),
        Some(DisconnectReason::ReconnectGaveUp { attempts: 5 })
    );
    assert!(matches!(client.send(b"x"), Err(Error::NotRunning)));
    assert_eq!(client.unsent(), 3);
    assert_eq!(client.queued_bytes(), 0);
    assert!(!client.is_open());
    let refusal = client.send_refusal().expect("refused");
    assert!(refusal.contains("gave up"), "{refusal}");
    assert!(matches!(client.flush(TIMEOUT), Err(Error::NotRunning)));
    client.close();
}

/// Messages sent while disconnected: queued up to the bound, delivered in
/// order, once, after the server comes back on the same port.
#[test]
fn queued_while_away_up_to_the_bound_and_delivered_in_order_once() {
    let (tx, rx) = mpsc::channel();
    let start = |port: u16, tx: mpsc::Sender<Vec<u8>>| {
        TcpServer::new(port, 10)
            .bind("127.0.0.1".parse().unwrap())
            .framing(Framing::lines())
            .on_message(move |_, _, m| tx.send(m.to_vec()).unwrap())
            .start()
            .unwrap()
    };
    let server = start(0, tx.clone());
    let addr = server.local_addr();
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .max_queue_bytes(4096)
        .reconnect(Reconnect {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
            max_attempts: None,
        })
        .connect()
        .unwrap();
    client.send(b"before").unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), b"before");
    server.stop();
    let held = hold_port(addr);
    loop {
        if let (ClientEvent::Reconnecting { .. }, _) = next_control_at(&client) {
            break;
        }
    }
    let mut accepted = Vec::new();
    for i in 0..10_000 {
        let m = format!("msg-{i:05}-{}", "x".repeat(i % 50));
        match client.send(m.as_bytes()) {
            Ok(()) => accepted.push(m.into_bytes()),
            Err(Error::QueueFull { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        accepted.len() > 5 && accepted.len() < 10_000,
        "{}",
        accepted.len()
    );
    assert!(client.queued_bytes() <= 4096);
    drop(held);
    let _server = start(addr.port(), tx);
    for want in &accepted {
        assert_eq!(&rx.recv_timeout(TIMEOUT).unwrap(), want);
    }
    client.send(b"after").unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), b"after");
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    client.close();
    assert_eq!(client.unsent(), 0);
}

/// A full server (notice, then close): the client gets the notice, a
/// drop, and redials with growing backoff; once there is room it stays.
/// Event order with callbacks: Disconnected (on_disconnect first) then
/// Reconnecting then Reconnected.
#[test]
fn a_full_server_is_a_drop_and_redialled_until_room() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 1)
        .bind("127.0.0.1".parse().unwrap())
        .framing(Framing::lines())
        .full_message("server full")
        .on_message(|s, c, m| {
            let _ = s.send(c.id, m);
        })
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let addr = server.local_addr();
    let mut first = Peer::connect(addr);
    wait_clients(&server, 1);
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let (l1, l2) = (log.clone(), log.clone());
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .reconnect(Reconnect {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
            max_attempts: None,
        })
        .on_disconnect(move |_, why| l1.lock().unwrap().push(format!("on_disconnect {why}")))
        .on_event(move |_, ev| {
            let s = match ev {
                ClientEvent::Message(m) => format!("msg {}", String::from_utf8_lossy(m)),
                ClientEvent::Disconnected(_) => "disconnected".into(),
                ClientEvent::Reconnecting { attempt, .. } => format!("reconnecting {attempt}"),
                ClientEvent::Reconnected { attempt, .. } => format!("reconnected {attempt}"),
                ClientEvent::Closed => "closed".into(),
                other => format!("{other:?}"),
            };
            l2.lock().unwrap().push(s);
        })
        .connect()
        .unwrap();
    wait_until("two refusals", || {
        log.lock()
            .unwrap()
            .iter()
            .filter(|s| s.starts_with("reconnecting"))
            .count()
            >= 3
    });
    first.send_line("bye");
    drop(first);
    wait_until("reconnected and staying", || {
        let l = log.lock().unwrap();
        l.last().is_some_and(|s| s.starts_with("reconnected")) && server.client_count() == 1
    });
    client.send(b"ping").unwrap();
    wait_until("echo", || {
        log.lock().unwrap().iter().any(|s| s == "msg ping")
    });
    let l = log.lock().unwrap().clone();
    eprintln!("{l:#?}");
    assert!(l.iter().any(|s| s == "msg server full"), "{l:?}");
    // Attempts grow across refusals (each drop within a second is a failed attempt).
    let attempts: Vec<u32> = l
        .iter()
        .filter_map(|s| s.strip_prefix("reconnecting ").map(|n| n.parse().unwrap()))
        .collect();
    assert!(
        attempts.windows(2).all(|w| w[1] == w[0] + 1),
        "{attempts:?}"
    );
    for (i, s) in l.iter().enumerate() {
        if s.starts_with("on_disconnect") {
            assert_eq!(l[i + 1], "disconnected", "{l:?}");
            assert!(l[i + 2].starts_with("reconnecting"), "{l:?}");
        }
        if s.starts_with("reconnected") {
            assert!(i > 0 && l[i - 1].starts_with("reconnecting"), "{l:?}");
        }
    }
    client.close();
}

/// A drop that uses up `max_attempts` (a full server's refusal: a
/// reconnect lost within a second counts as a failed attempt) is followed
/// by `Closed`, not `Reconnecting` (`ClientEvent::Disconnected`'s doc said
/// `Reconnecting` always follows with reconnect on).
#[test]
fn after_a_drop_that_uses_up_the_attempts_closed_follows() {
    let server = TcpServer::new(0, 1)
        .bind("127.0.0.1".parse().unwrap())
        .framing(Framing::lines())
        .full_message("server full")
        .start()
        .unwrap();
    let addr = server.local_addr();
    let _first = Peer::connect(addr);
    wait_clients(&server, 1);
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .reconnect(Reconnect {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(50),
            max_attempts: Some(2),
        })
        .connect()
        .unwrap();
    let mut events = Vec::new();
    loop {
        let (ev, _) = next_control_at(&client);
        let closed = ev == ClientEvent::Closed;
        events.push(ev);
        if closed {
            break;
        }
    }
    assert_eq!(
        client.disconnect_reason(),
        Some(DisconnectReason::ReconnectGaveUp { attempts: 2 })
    );
    // Every Disconnected but the last is followed by Reconnecting; the
    // last, which used up the attempts, by Closed.
    let n = events.len();
    assert!(
        n >= 2 && matches!(events[n - 2], ClientEvent::Disconnected(_)),
        "{events:?}"
    );
    for w in events[..n - 1].windows(2) {
        if matches!(w[0], ClientEvent::Disconnected(_)) {
            assert!(
                matches!(w[1], ClientEvent::Reconnecting { .. }),
                "{events:?}"
            );
        }
    }
}
