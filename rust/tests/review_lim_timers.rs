//! Review of the idle timeout: it counts only what a client sends (a
//! client that merely receives is idle), restarts with every line, and
//! never fires before the timeout has passed since the last one.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{localhost, Disconnects, Peer, TIMEOUT};
use tcphub::{DisconnectReason, Framing, TcpServer};

#[test]
fn a_client_that_only_receives_is_cut_for_idling_not_earlier_than_the_timeout() {
    let idle = Duration::from_millis(400);
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .idle_timeout(idle)
        .on_message(|_, _, _| {})
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    // Before the connect: the server's clock starts at its accept.
    let start = Instant::now();
    let mut p = Peer::connect(server.local_addr());
    let id = p.id_on(&server);
    // The server keeps talking to it; it says nothing.
    let stop = Arc::new(AtomicBool::new(false));
    let talker = {
        let (server, stop) = (server.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) && server.send(id, b"tick").is_ok() {
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    assert_eq!(p.read_line(), "tick");
    assert_eq!(gone.wait_for(id), DisconnectReason::IdleTimeout);
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    talker.join().unwrap();
    assert!(
        took >= idle,
        "cut after {took:?}, before the {idle:?} timeout"
    );
    assert!(took < TIMEOUT, "cut after {took:?}");
    assert_eq!(server.stats().idle_timeouts, 1);
}

#[test]
fn every_line_restarts_the_idle_clock_and_silence_then_ends_it() {
    // Long enough that a loaded machine's hiccup between two lines (an
    // eighth of it apart) does not look like silence.
    let idle = Duration::from_secs(2);
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .idle_timeout(idle)
        .idle_timeout_message("bye")
        .on_message(|srv, c, m| {
            let _ = srv.send(c.id, m);
        })
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let mut p = Peer::connect(server.local_addr());
    let id = p.id_on(&server);
    // Two timeouts' worth of talking, a line every eighth of it.
    let until = Instant::now() + idle * 2;
    let mut n = 0;
    while Instant::now() < until {
        p.send_line(&format!("l{n}"));
        assert_eq!(p.read_line(), format!("l{n}"));
        n += 1;
        std::thread::sleep(idle / 8);
    }
    assert_eq!(gone.reason_of(id), None, "cut while talking");
    let last = Instant::now();
    p.send_line("last");
    assert_eq!(p.read_line(), "last");
    assert_eq!(gone.wait_for(id), DisconnectReason::IdleTimeout);
    let took = last.elapsed();
    assert!(took >= idle, "cut {took:?} after its last line");
    assert_eq!(p.read_line(), "bye");
    p.expect_eof();
    let s = server.stats();
    assert_eq!((s.idle_timeouts, s.frame_timeouts), (1, 0), "{s:?}");
}
