//! Review of `linger` at `stop()`: queued data is flushed to a reader and
//! the connection then ends cleanly, promptly (not after the whole linger
//! time); a client that reads nothing holds the stop for the linger time
//! at most, and is then reset, its unwritten messages counted.

mod support;

use std::time::{Duration, Instant};

use support::{lingering_server, set_send_buffer_of_listener, Peer};
use tcphub::DisconnectReason;

#[test]
fn stop_flushes_to_a_reader_then_ends_it_without_waiting_out_the_linger() {
    let linger = Duration::from_secs(15);
    let (server, gone) = lingering_server(linger);
    let mut p = Peer::connect(server.local_addr());
    let id = p.id_on(&server);
    let line = "q".repeat(1000);
    let n = 8_000; // 8 MB: more than the kernel's buffers take
    for _ in 0..n {
        server.send(id, line.as_bytes()).unwrap();
    }
    let reader = std::thread::spawn(move || {
        let got = p.read_to_eof();
        (got.len(), got.iter().filter(|&&b| b == b'\n').count())
    });
    let t = Instant::now();
    server.stop();
    let took = t.elapsed();
    let (bytes, lines) = reader.join().unwrap();
    assert_eq!((bytes, lines), (n * 1001, n), "everything, then EOF");
    assert_eq!(gone.wait_for(id), DisconnectReason::ServerStopped);
    assert!(
        took < linger / 2,
        "stop() took {took:?} for a client that read everything"
    );
    let s = server.stats();
    assert_eq!(s.unwritten, 0, "{s:?}");
}

#[test]
fn stop_gives_a_non_reader_the_linger_time_then_resets_it() {
    let linger = Duration::from_millis(500);
    let (server, gone) = lingering_server(linger);
    // A small send buffer on the server's side of the non-reader's
    // connection (the listener's, which it takes as its handshake ends):
    // left to the kernel, it may start at tcp_wmem's default, which a host
    // may set to 16 MiB, and what is sent below all fit there.
    set_send_buffer_of_listener(server.local_addr(), 64 * 1024);
    let mut p = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = p.id_on(&server);
    let line = "q".repeat(1000);
    for _ in 0..8_000 {
        server.send(id, line.as_bytes()).unwrap();
    }
    let t = Instant::now();
    server.stop();
    let took = t.elapsed();
    assert!(took >= linger / 2, "stop() gave up after {took:?}");
    assert!(
        took < linger * 40, // (generous: a loaded machine; the point is it ends)
        "stop() took {took:?} with a {linger:?} linger"
    );
    assert_eq!(gone.wait_for(id), DisconnectReason::ServerStopped);
    let (_, clean) = p.drain_until_closed();
    assert!(!clean, "a connection cut with output unwritten is reset");
    let s = server.stats();
    assert!(s.unwritten > 0, "{s:?}");
    assert_eq!(s.msgs_out, 8_000, "{s:?}");
}
