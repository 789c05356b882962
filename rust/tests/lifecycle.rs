//! Stopping: from inside a callback, from outside, by dropping the handle;
//! and the port being free again afterwards.

mod support;

use std::io::ErrorKind;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use support::{echo_server, localhost, wait_clients, wait_until, Disconnects, Peer};
use tcphub::{DisconnectReason, Error, Framing, TcpServer};

#[test]
fn stop_called_inside_on_message() {
    let gone = Disconnects::new();
    let returned = Arc::new(AtomicBool::new(false));
    let r = returned.clone();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message(move |srv, _c, msg| {
            if msg == b"stop" {
                srv.send_all(b"bye");
                srv.stop(); // must return, not deadlock joining its own thread
                r.store(!srv.is_running(), Ordering::SeqCst);
            } else {
                srv.send_all(msg);
            }
        })
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let addr = server.local_addr();
    let mut peers: Vec<Peer> = (0..3).map(|_| Peer::connect(addr)).collect();
    wait_clients(&server, 3);
    let mut ids: Vec<u64> = peers.iter().map(|p| p.id_on(&server)).collect();

    peers[0].send_line("hello");
    for p in &mut peers {
        assert_eq!(p.read_line(), "hello");
    }

    peers[1].send_line("stop");
    wait_until("stop() returns inside the callback", || {
        returned.load(Ordering::SeqCst)
    });
    wait_until("server reports stopped", || !server.is_running());
    // Queued before the stop: delivered, then the connection closes.
    for p in &mut peers {
        assert_eq!(p.read_line(), "bye");
        p.expect_eof();
    }
    // Every client got exactly one on_disconnect, with ServerStopped.
    let mut all = gone.wait_count(3);
    all.sort_by_key(|(c, _)| c.id);
    ids.sort_unstable();
    assert_eq!(all.iter().map(|(c, _)| c.id).collect::<Vec<_>>(), ids);
    for (c, why) in &all {
        assert_eq!(*why, DisconnectReason::ServerStopped, "client {c}");
    }

    server.stop(); // joins the loops; idempotent
    assert!(!server.is_running());
    assert_eq!(gone.all().len(), 3);
    assert!(matches!(server.try_send_all(b"x"), Err(Error::NotRunning)));
    assert_eq!(server.client_count(), 0);
    // The listener is closed.
    match TcpStream::connect(addr) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused),
        Ok(_) => panic!("a stopped server still accepts connections"),
    }
}

#[test]
fn stop_flushes_queued_messages_then_closes() {
    // More than the kernel buffers hold: at stop() most of it is still in the
    // server's queues, and only the linger flush can deliver it.
    const BIG: usize = 1 << 20;
    const COUNT: usize = 16;
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .max_queue_bytes(64 << 20)
        .linger(support::TIMEOUT)
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let a = Peer::connect(server.local_addr());
    let b = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let big = |i: usize| vec![i as u8; BIG];
    server.send_all(b"first");
    for i in 0..COUNT {
        server.send_all(&big(i));
    }
    server.send_all(b"last");
    let readers: Vec<_> = [a, b]
        .into_iter()
        .map(|mut p| {
            std::thread::spawn(move || {
                assert_eq!(p.read_frame(), b"first");
                for i in 0..COUNT {
                    assert!(p.read_frame() == big(i), "big frame {i}");
                }
                assert_eq!(p.read_frame(), b"last");
                p.expect_eof();
            })
        })
        .collect();
    server.stop();
    for r in readers {
        r.join().expect("reader got everything, then EOF");
    }
    let all = gone.wait_count(2);
    assert!(
        all.iter()
            .all(|(_, why)| *why == DisconnectReason::ServerStopped),
        "{all:?}"
    );
}

#[test]
fn dropping_the_last_handle_stops_the_server() {
    let server = echo_server(Framing::lines());
    let addr = server.local_addr();
    let mut c = Peer::connect(addr);
    c.send_line("x");
    assert_eq!(c.read_line(), "x");
    let clone = server.clone();
    drop(server);
    // A clone still keeps it running.
    assert!(clone.is_running());
    c.send_line("y");
    assert_eq!(c.read_line(), "y");
    drop(clone);
    c.expect_eof();
    match TcpStream::connect(addr) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionRefused),
        Ok(_) => panic!("a dropped server still accepts connections"),
    }
}

#[test]
fn stop_releases_the_port_for_an_immediate_restart() {
    let first = echo_server(Framing::lines());
    let addr = first.local_addr();
    let mut c = Peer::connect(addr);
    c.send_line("one");
    assert_eq!(c.read_line(), "one");
    // The server closes the connection first, so its side goes to TIME_WAIT.
    first.stop();
    c.expect_eof();

    for cycle in 0..3 {
        let again = TcpServer::new(addr.port(), 10)
            .bind(addr.ip())
            .framing(Framing::lines())
            .on_message(|srv, c, msg| {
                srv.send(c.id, msg).unwrap();
            })
            .start()
            .unwrap_or_else(|e| panic!("restart {cycle} on {addr}: {e}"));
        assert_eq!(again.local_addr(), addr);
        let mut c = Peer::connect(addr);
        c.send_line(&format!("cycle {cycle}"));
        assert_eq!(c.read_line(), format!("cycle {cycle}"));
        again.stop();
        c.expect_eof();
    }
}

#[test]
fn second_server_on_a_busy_port_is_a_bind_error() {
    let first = echo_server(Framing::lines());
    let addr = first.local_addr();
    match TcpServer::new(addr.port(), 10).bind(addr.ip()).start() {
        Err(Error::Bind { addr: a, source }) => {
            assert_eq!(a, addr);
            assert_eq!(source.kind(), ErrorKind::AddrInUse);
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
    // The first server is unaffected.
    let mut c = Peer::connect(addr);
    c.send_line("still mine");
    assert_eq!(c.read_line(), "still mine");
    first.stop();
}

/// `stop_timeout` and `close_timeout` wait at most their timeout (so a
/// binding can check for Ctrl-C between short waits) and finish the stop
/// or close on a later call, once it can end.
#[test]
fn stop_timeout_and_close_timeout_wait_at_most_their_timeout() {
    use std::time::Duration;
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .linger(Duration::from_secs(120))
        .max_queue_bytes(64 << 20)
        .start()
        .expect("start");
    // A client that does not read: 16 MiB for it cannot be flushed, so the
    // stop lingers. (Its receive buffer is small: loopback could otherwise
    // take much of it unread.)
    let peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    wait_clients(&server, 1);
    let big = vec![b'x'; 1 << 20];
    for _ in 0..16 {
        server.send_all(&big);
    }
    assert!(!server.stop_timeout(Duration::from_millis(50)));
    assert!(!server.is_running());
    assert!(!server.stop_timeout(Duration::ZERO));
    drop(peer); // the flush fails at once now: the stop can end
    assert!(server.stop_timeout(Duration::from_secs(60)));
    assert!(server.stop_timeout(Duration::ZERO)); // and stays ended

    // The client side: a server that accepts and never reads (with a small
    // receive buffer, so that the 32 MiB wait in the client).
    let listener = support::listener_with_rcvbuf(4096);
    let client = tcphub::TcpClient::builder(listener.local_addr().unwrap())
        .linger(Duration::from_secs(120))
        .max_queue_bytes(64 << 20)
        .connect()
        .expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    for _ in 0..32 {
        client.send(&big).expect("queued");
    }
    assert!(!client.close_timeout(Duration::from_millis(50)));
    assert!(!client.is_open());
    drop(accepted);
    assert!(client.close_timeout(Duration::from_secs(60)));
    assert!(client.close_timeout(Duration::ZERO));
}

/// `stop_timeout` and `close_timeout` keep to their timeout while another
/// thread waits in `stop()` / `close()` (or drops the last handle) for a
/// lingering flush: they used to wait for that thread's lock, i.e. for the
/// whole flush.
#[test]
fn stop_timeout_and_close_timeout_keep_their_timeout_beside_a_waiting_stop() {
    use std::time::{Duration, Instant};
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .linger(Duration::from_secs(3))
        .max_queue_bytes(64 << 20)
        .start()
        .expect("start");
    // Never reads, with a small receive buffer: the 16 MiB cannot be
    // flushed within the linger time.
    let peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    wait_clients(&server, 1);
    let big = vec![b'x'; 1 << 20];
    for _ in 0..16 {
        server.send_all(&big);
    }
    let stopper = {
        let s = server.clone();
        std::thread::spawn(move || s.stop())
    };
    while server.is_running() {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100)); // `stop()` is joining now
    let t0 = Instant::now();
    let ended = server.stop_timeout(Duration::from_millis(100));
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "stop_timeout(100 ms) took {took:?}"
    );
    assert!(!ended);
    stopper.join().unwrap();
    assert!(server.stop_timeout(Duration::ZERO));
    drop(peer);

    // Never reads, with a small receive buffer, as above.
    let listener = support::listener_with_rcvbuf(4096);
    let client = tcphub::TcpClient::builder(listener.local_addr().unwrap())
        .linger(Duration::from_secs(3))
        .max_queue_bytes(64 << 20)
        .connect()
        .expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    for _ in 0..32 {
        client.send(&big).expect("queued");
    }
    let closer = {
        let c = client.clone();
        std::thread::spawn(move || c.close())
    };
    while client.is_open() {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100)); // `close()` is joining now
    let t0 = Instant::now();
    let ended = client.close_timeout(Duration::from_millis(100));
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "close_timeout(100 ms) took {took:?}"
    );
    assert!(!ended);
    closer.join().unwrap();
    assert!(client.close_timeout(Duration::ZERO));
    drop(accepted);
}

/// A handle passed out by a callback while `start()` is still spawning the
/// other loops (loop 0 already serves) stops the server as documented
/// when another thread calls `stop()`: the loops are joined, so every
/// `on_disconnect` has run when it returns. It used to find no thread to
/// join yet and return at once, the loops still running. (Whether the stop
/// lands during `start()` depends on timing: three rounds.)
#[test]
fn stop_through_a_handle_passed_out_during_start_joins_the_loops() {
    for round in 0..3 {
        assert!(
            stop_during_start(),
            "round {round}: stop() returned before the loops had finished"
        );
    }
}

/// One round of the test above: whether the client's `on_disconnect` had
/// run by the time `stop()` returned.
fn stop_during_start() -> bool {
    const LOOPS: usize = 64; // spawning them keeps `start()` busy a while
    let port = {
        let probe = std::net::TcpListener::bind((localhost(), 0)).unwrap();
        probe.local_addr().unwrap().port()
    };
    let addr = std::net::SocketAddr::new(localhost(), port);
    let reported = Arc::new(AtomicBool::new(false));
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let handle_tx = std::sync::Mutex::new(handle_tx);
    // Connects as soon as the port listens, i.e. while `start()` spawns.
    let dialer = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + support::TIMEOUT;
        loop {
            match TcpStream::connect(addr) {
                Ok(s) => return s,
                Err(e) => {
                    assert!(std::time::Instant::now() < deadline, "connect: {e}");
                    std::thread::yield_now();
                }
            }
        }
    });
    // Stops through the handle the callback passed out.
    let stopper = std::thread::spawn({
        let reported = reported.clone();
        move || {
            let handle: tcphub::ServerHandle = handle_rx
                .recv_timeout(support::TIMEOUT)
                .expect("on_connect passes a handle out");
            handle.stop();
            reported.load(Ordering::SeqCst)
        }
    });
    let server = TcpServer::new(port, 10)
        .bind(localhost())
        .threads(LOOPS)
        .on_connect(move |srv, _c| {
            let _ = handle_tx.lock().unwrap().send(srv.clone());
        })
        .on_disconnect({
            let reported = reported.clone();
            move |_srv, _c, why| {
                assert_eq!(*why, DisconnectReason::ServerStopped);
                reported.store(true, Ordering::SeqCst);
            }
        })
        .start()
        .expect("start");
    let _peer = dialer.join().expect("dialer");
    let joined = stopper.join().expect("stopper");
    server.stop();
    joined
}

/// In a callback (a tcphub I/O thread) `close_timeout` does not wait, and
/// answers whether the client's I/O thread had already ended: `true` for
/// a client closed before, `false` for one whose close cannot end yet
/// (it answered `false` for both, as the server's `stop_timeout` did).
#[test]
fn close_timeout_in_a_callback_answers_whether_the_client_had_ended() {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    let target = TcpServer::new(0, 10)
        .bind(localhost())
        .start()
        .expect("start");
    let closed = tcphub::TcpClient::connect(target.local_addr()).expect("connect");
    closed.close();
    // A client whose close cannot end: its server never reads (a small
    // receive buffer), and 32 MiB wait in the client.
    let listener = support::listener_with_rcvbuf(4096);
    let stuck = tcphub::TcpClient::builder(listener.local_addr().unwrap())
        .linger(Duration::from_secs(120))
        .max_queue_bytes(64 << 20)
        .connect()
        .expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    let big = vec![b'x'; 1 << 20];
    for _ in 0..32 {
        stuck.send(&big).expect("queued");
    }
    let clients = Arc::new((closed, stuck));
    let answers = Arc::new(Mutex::new(None));
    let (c, a) = (clients.clone(), answers.clone());
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message(move |_srv, _c, _msg| {
            let t = Instant::now();
            let ended = c.0.close_timeout(Duration::from_secs(30));
            let stuck_ended = c.1.close_timeout(Duration::from_secs(30));
            *a.lock().unwrap() = Some((ended, stuck_ended, t.elapsed()));
        })
        .start()
        .expect("start");
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("go");
    wait_until("the callback answered", || {
        answers.lock().unwrap().is_some()
    });
    let (ended, stuck_ended, took) = answers.lock().unwrap().take().unwrap();
    assert!(ended, "the client closed before had ended");
    assert!(!stuck_ended, "a close that cannot end had not");
    assert!(took < Duration::from_secs(15), "it waited {took:?}");
    drop(accepted); // the flush fails at once now: the close can end
    assert!(clients.1.close_timeout(Duration::from_secs(60)));
}
