//! Regression tests for defects found in review: command ordering, closing
//! connections on an otherwise idle loop, refused clients seeing EOF,
//! `Duration::MAX` arguments, pull-mode stop with a full queue, output of a
//! close callback on a quiet loop, and closes that must not land on the
//! client adopted into a freed slot.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;
use tcphub::{Event, Framing, TcpClient, TcpServer};

/// A message an application thread queued is written before a reply a
/// callback queued later for the same client.
#[test]
fn app_send_is_not_overtaken_by_a_later_callback_reply() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .on_message(|srv, c, _m| {
            let _ = srv.send(c.id, b"2");
        })
        .start()
        .unwrap();
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    wait_clients(&server, 1);
    let id = server.clients()[0].id;
    for round in 0..1000 {
        server.send(id, b"1").unwrap(); // queued (returned) before the ping is even sent
        s.write_all(b"ping\n").unwrap();
        let (mut a, mut b) = (String::new(), String::new());
        r.read_line(&mut a).unwrap();
        r.read_line(&mut b).unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("1\n", "2\n"), "round {round}");
    }
}

/// Commands a callback queues are applied in the order queued, even when
/// applying one of them (a kick) runs more callbacks that queue more.
#[test]
fn commands_queued_by_callbacks_keep_their_order() {
    let ids: Arc<Mutex<(u64, u64, u64)>> = Arc::new(Mutex::new((0, 0, 0)));
    let (ids2, ids3) = (ids.clone(), ids.clone());
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .on_message(move |srv, _c, m| {
            if m == b"go" {
                let (a, c, b) = *ids2.lock().unwrap();
                srv.disconnect(a).unwrap();
                srv.disconnect(c).unwrap();
                srv.send(b, b"m1").unwrap();
            }
        })
        .on_disconnect(move |srv, c, _why| {
            let (_a, _c, b) = *ids3.lock().unwrap();
            let _ = srv.send(b, format!("left {}", c.id).as_bytes());
        })
        .start()
        .unwrap();
    let addr = server.local_addr();
    let pa = Peer::connect(addr);
    let pc = Peer::connect(addr);
    let mut pb = Peer::connect(addr);
    let mut px = Peer::connect(addr);
    wait_clients(&server, 4);
    let (a, c, b) = (pa.id_on(&server), pc.id_on(&server), pb.id_on(&server));
    *ids.lock().unwrap() = (a, c, b);
    px.send_line("go");
    let got: Vec<String> = (0..3).map(|_| pb.read_line()).collect();
    assert_eq!(
        got,
        vec!["m1".to_string(), format!("left {a}"), format!("left {c}")]
    );
}

/// A kicked client that does not read is closed when the linger time is up,
/// although nothing else happens on its loop.
#[test]
fn kicked_non_reader_closes_at_linger_on_an_idle_loop() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .linger(Duration::from_millis(200))
        .max_queue_bytes(256 << 20)
        .start()
        .unwrap();
    let ev = server.events();
    let _s = TcpStream::connect(server.local_addr()).unwrap(); // never reads
    let id = match next_event(&ev) {
        Event::Connected(c) => c.id,
        e => panic!("{e:?}"),
    };
    server.send(id, &vec![b'x'; 64 << 20]).unwrap();
    server.disconnect(id).unwrap();
    match ev.recv_timeout(Duration::from_secs(20)) {
        Ok(Event::Disconnected(c, why)) => {
            assert_eq!(c.id, id);
            assert_eq!(why, tcphub::DisconnectReason::Kicked);
        }
        other => panic!("expected the kick to complete, got {other:?}"),
    }
    assert_eq!(server.client_count(), 0);
}

/// A peer that half-closes without reading a large reply is closed at the
/// linger time, not kept forever.
#[test]
fn half_closed_peer_with_unread_reply_closes_at_linger() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .linger(Duration::from_millis(200))
        .max_queue_bytes(256 << 20)
        .on_message(|srv, c, _m| {
            let _ = srv.send(c.id, &vec![b'y'; 64 << 20]);
        })
        .start()
        .unwrap();
    let mut p = Peer::connect(server.local_addr());
    wait_clients(&server, 1);
    p.send(b"give me a lot");
    wait_until("the reply to be queued", || server.stats().msgs_out >= 1);
    p.shutdown_write(); // EOF; never reads the reply
    wait_until("the client to be closed", || server.client_count() == 0);
}

/// A client refused for `max_clients` that already sent data sees EOF, not a reset.
#[test]
fn refused_client_that_already_sent_sees_eof() {
    let server = TcpServer::new(0, 1)
        .bind(localhost())
        .on_message(|_, _, _| {})
        .start()
        .unwrap();
    let _first = Peer::connect(server.local_addr());
    wait_clients(&server, 1);
    for _ in 0..50 {
        let mut s = TcpStream::connect(server.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let _ = s.write_all(b"hello\n");
        let mut buf = [0u8; 16];
        match s.read(&mut buf) {
            Ok(0) => {}
            other => panic!("expected EOF, got {other:?}"),
        }
    }
    assert_eq!(server.stats().rejected, 50);
}

/// `Duration::MAX` means "no deadline", never a panic.
#[test]
fn duration_max_is_accepted_everywhere() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .linger(Duration::MAX)
        .start()
        .unwrap();
    let ev = server.events();
    let s = TcpStream::connect(server.local_addr()).unwrap();
    assert!(matches!(next_event(&ev), Event::Connected(_)));
    drop(s); // EOF: the close deadline is now + linger
    assert!(matches!(next_event(&ev), Event::Disconnected(..)));
    let _s2 = TcpStream::connect(server.local_addr()).unwrap();
    let mut v = Vec::new();
    assert_eq!(ev.recv_batch(&mut v, 16, Duration::MAX).unwrap(), 1);
    assert!(matches!(v[0], Event::Connected(_)));

    let echo = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message(|s, c, m| {
            let _ = s.send(c.id, m);
        })
        .start()
        .unwrap();
    let client = TcpClient::builder(echo.local_addr())
        .framing(Framing::lines())
        .linger(Duration::MAX)
        .connect()
        .unwrap();
    client.send(b"x").unwrap();
    assert_eq!(client.recv_timeout(Duration::MAX).unwrap(), b"x");
}

/// Pull mode: stopping with a full event queue, from the consuming thread,
/// neither stalls for the linger time nor loses any `Disconnected`.
#[test]
fn pull_stop_with_a_full_queue_keeps_every_disconnect() {
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .threads(1)
        .event_capacity(4)
        .linger(Duration::from_secs(30))
        .start()
        .unwrap();
    let mut socks = Vec::new();
    for _ in 0..10 {
        socks.push(TcpStream::connect(server.local_addr()).unwrap());
    }
    wait_clients(&server, 10);
    let ev = server.events();
    let t = std::time::Instant::now();
    server.stop();
    // Generous bound: it used to wait the whole linger (30 s here).
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "stop took {:?}",
        t.elapsed()
    );
    let all: Vec<Event> = ev.collect();
    let connected = all
        .iter()
        .filter(|e| matches!(e, Event::Connected(_)))
        .count();
    let disconnected = all
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Disconnected(_, tcphub::DisconnectReason::ServerStopped)
            )
        })
        .count();
    assert_eq!((connected, disconnected), (10, 10), "{all:?}");
}

/// What a disconnect callback sends when a client is closed at its linger
/// deadline reaches the others at once, even on a loop with nothing else to
/// do (no idle or frame timeout to wake it).
#[test]
fn output_of_a_linger_close_callback_is_written_on_a_quiet_loop() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::Lines { max_len: 2 << 20 })
        .linger(Duration::from_millis(200))
        .max_queue_bytes(64 << 20)
        .on_disconnect(|srv, _c, _why| {
            srv.send_all(b"left");
        })
        .start()
        .unwrap();
    let slow = Peer::connect(server.local_addr()); // never reads
    let slow_id = slow.id_on(&server);
    let mut other = Peer::connect(server.local_addr());
    other.id_on(&server);
    // More than the socket buffers hold, so the kick has to wait out the
    // linger time; then the disconnect callback sends to `other`.
    let mb = vec![b'x'; 1 << 20];
    for _ in 0..32 {
        server.send(slow_id, &mb[..mb.len() - 1]).unwrap();
    }
    server.disconnect(slow_id).unwrap();
    assert_eq!(other.read_line(), "left");
    drop(slow);
}

/// A client closing (here: EOF) while its loop holds a kick for it and a new
/// client for the same loop: the kick frees its slot, the new client takes
/// it, and the new client must not be closed in its place.
#[test]
fn a_close_never_lands_on_the_client_adopted_into_the_same_slot() {
    // Callbacks on "hold" / "block" signal that they run, then wait for a
    // release each.
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let (entered_tx, gate) = (Mutex::new(entered_tx), Mutex::new(gate));
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .on_message(move |srv, c, m| {
            if m == b"hold" || m == b"block" {
                entered_tx.lock().unwrap().send(()).unwrap();
                let _ = gate.lock().unwrap().recv_timeout(TIMEOUT);
            } else {
                let _ = srv.send(c.id, m);
            }
        })
        .start()
        .unwrap();
    let addr = server.local_addr();
    // Dealt to the loop with the fewest: 0, 1, 0, 1, 0.
    let mut peers: Vec<Peer> = (0..5).map(|_| Peer::connect(addr)).collect();
    let ids: Vec<_> = peers.iter().map(|p| p.id_on(&server)).collect();
    // Loop 1 is held in a callback while client 2's line and EOF arrive, so
    // it later reads both in one go.
    peers[3].send_line("hold");
    entered
        .recv_timeout(TIMEOUT)
        .expect("the hold callback runs");
    peers[1].send_line("block");
    peers[1].shutdown_write();
    release.send(()).unwrap();
    entered
        .recv_timeout(TIMEOUT)
        .expect("the block callback runs");
    // While loop 1 is in the block callback: a kick for client 2 and a new
    // client (loop 1 has the fewest) wait in its channel.
    server.disconnect(ids[1]).unwrap();
    let mut newcomer = Peer::connect(addr);
    // (`Stats::accepted` counts at adoption, which loop 1 cannot do yet.)
    wait_until("loop 0 accepted the sixth client", || {
        accept_queue_len(addr.port()) == Some(0)
    });
    // Loop 0 posts the Adopt right after its accept.
    std::thread::sleep(Duration::from_millis(100));
    release.send(()).unwrap();
    // The newcomer is served, not closed in client 2's place.
    newcomer.send_line("ping");
    assert_eq!(newcomer.read_line(), "ping");
    wait_until("client 2 is gone", || server.client(ids[1]).is_none());
    drop(peers);
}

/// Connections waiting in the accept queue of the IPv4 listener on `port`
/// (`/proc/net/tcp`: a listening socket's `rx_queue`).
fn accept_queue_len(port: u16) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
        if local_port != port || *f.get(3)? != "0A" {
            return None; // not our port, or not LISTEN
        }
        usize::from_str_radix(f.get(4)?.split(':').nth(1)?, 16).ok()
    })
}

/// Two servers whose callbacks stop each other at the same time: each stop
/// starts the other's shutdown and returns; neither loop waits for the
/// other's (that would deadlock).
#[test]
fn servers_stopping_each_other_from_callbacks_do_not_deadlock() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Barrier, OnceLock};
    let both_in = Arc::new(Barrier::new(2));
    let returned = Arc::new(AtomicUsize::new(0));
    let other_of_a: Arc<OnceLock<tcphub::ServerHandle>> = Arc::default();
    let other_of_b: Arc<OnceLock<tcphub::ServerHandle>> = Arc::default();
    let make = |other: Arc<OnceLock<tcphub::ServerHandle>>| {
        let (both_in, returned) = (both_in.clone(), returned.clone());
        TcpServer::new(0, 10)
            .bind(localhost())
            .threads(1)
            .framing(Framing::lines())
            .on_message(move |_, _, _| {
                both_in.wait();
                other.get().expect("set before any message").stop();
                returned.fetch_add(1, Ordering::SeqCst);
            })
            .start()
            .unwrap()
    };
    let a = make(other_of_a.clone());
    let b = make(other_of_b.clone());
    let _ = other_of_a.set(b.clone());
    let _ = other_of_b.set(a.clone());
    let mut pa = Peer::connect(a.local_addr());
    let mut pb = Peer::connect(b.local_addr());
    pa.send_line("stop b");
    pb.send_line("stop a");
    if !try_wait_until(TIMEOUT, || returned.load(Ordering::SeqCst) == 2) {
        // Deadlocked: dropping the handles would join the stuck loops.
        std::mem::forget((a, b, other_of_a, other_of_b));
        panic!("the stop() calls did not return: deadlock");
    }
    wait_until("both servers stopped", || {
        !a.is_running() && !b.is_running()
    });
    // The loops' own handles break the cycle when the loops end; these
    // joins return once both have wound down.
    a.stop();
    b.stop();
}
