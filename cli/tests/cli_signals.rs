//! End-to-end tests of the `tcphub` binary over loopback: stopping a hub
//! by signal (graceful, and at once on a second one).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use support::*;

#[test]
fn sigterm_stops_gracefully_and_clients_see_eof() {
    let mut hub = Hub::start(&["--mode", "relay"]);
    let mut a = hub.connect();
    let mut b = hub.connect();
    wait_line(&hub.log, |l| l.contains(&b.addr()));
    a.send("last words");
    b.expect("last words");
    let status = hub.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(a.until_eof(), "last words\n");
    assert_eq!(b.until_eof(), "");
}

/// An echo hub whose stop lingers: a client (a small receive buffer) sends
/// it raw bytes and reads none of the echo, until part of the echo waits in
/// the hub's own queue, past what the kernels hold (the graceful stop waits
/// up to the linger time for it). Returns the bytes sent (all read by the
/// hub, all to be echoed) too.
///
/// Sent until then, not a fixed amount: the hub's send buffer may start at
/// or grow to tcp_wmem's maximum (4 MiB, usually) and this socket's receive
/// buffer to tcp_rmem's, and a 2 MB echo all fit in them — nothing left to
/// flush, the stop ended at once.
fn hub_with_a_lingering_stop() -> (Hub, TcpStream, usize) {
    // Chunks, not 64 KiB writes: each look reads /proc/net/tcp, which a busy
    // host may make thousands of lines long.
    const CHUNK: usize = 512 << 10;
    // Held in the hub: past what it may have read and not yet written when
    // we look (what it read since its last write, at most the last chunk),
    // and well below its queue's bound (4 MiB).
    const HELD: u64 = 1 << 20;
    let hub = Hub::start(&["--mode", "echo", "--framing", "raw"]);
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], hub.port)).into())
        .unwrap();
    let mut s: TcpStream = sock.into();
    s.set_nodelay(true).unwrap(); // each chunk's tail at once
    let (me, port) = (s.local_addr().unwrap().port(), hub.port);
    let mut sent = 0usize;
    loop {
        s.write_all(&vec![b'x'; CHUNK]).unwrap();
        sent += CHUNK;
        // All of it read before the stop (which reads no more): the whole of
        // it is echoed by a graceful stop, a part under load otherwise.
        wait_all_read_by_hub(&s);
        // The echo not yet taken by the hub's socket or in ours.
        let hub_unacked = socket_queues(port, me).map_or(0, |(tx, _)| tx);
        let ours_unread = socket_queues(me, port).map_or(0, |(_, rx)| rx);
        if sent as u64 >= HELD + hub_unacked + ours_unread {
            break;
        }
        assert!(
            sent < 256 << 20,
            "{sent} bytes sent and the echo still fits in the kernels"
        );
    }
    s.set_read_timeout(Some(WAIT)).unwrap();
    (hub, s, sent)
}

/// Sends `sig` (`-TERM`, `-INT`) to `pid`.
fn kill(sig: &str, pid: u32) {
    let st = Command::new("kill").args([sig, &pid.to_string()]).status();
    assert!(st.expect("run kill").success());
}

/// A second signal while the hub is stopping ends it at once, with the
/// shell's code for the signal (128 + 2 for SIGINT).
#[test]
fn a_second_signal_during_the_stop_exits_at_once() {
    use std::os::unix::process::ExitStatusExt;
    let (mut hub, _s, _) = hub_with_a_lingering_stop();
    let pid = hub.child.id();
    kill("-TERM", pid);
    wait_line(&hub.log, |l| l.contains("stopping"));
    kill("-INT", pid);
    let status = wait_exit(&mut hub.child, "hub did not exit after a second signal");
    assert_eq!(status.code(), Some(128 + 2), "{status:?}");
    assert_eq!(status.signal(), None);
    let again = wait_line(&hub.log, |l| l.contains("again"));
    assert!(again.contains("without waiting"), "{again}");
}

/// The same signal again, once the stop has run a while, is a second
/// request: exit at once (128 + 15).
#[test]
fn the_same_signal_again_later_in_the_stop_exits_at_once() {
    let (mut hub, _s, _) = hub_with_a_lingering_stop();
    let pid = hub.child.id();
    kill("-TERM", pid);
    wait_line(&hub.log, |l| l.contains("stopping"));
    std::thread::sleep(Duration::from_millis(600)); // past one request's repeats
    kill("-TERM", pid);
    let status = wait_exit(&mut hub.child, "hub did not exit after a second SIGTERM");
    assert_eq!(status.code(), Some(128 + 15), "{status:?}");
}

/// One request delivered twice, microseconds apart — `timeout` signals the
/// process and then its group — is one graceful stop: exit 0, the clients
/// flushed (a review: "signal 15 again: exiting without waiting" and exit
/// 143 in 6 of 12 `timeout 1 tcphub serve` runs).
#[test]
fn one_stop_request_delivered_twice_stops_gracefully() {
    let (mut hub, mut s, sent) = hub_with_a_lingering_stop();
    let pid = hub.child.id();
    let both = Command::new("sh")
        .args([
            "-c",
            &format!("kill -TERM {pid}; sleep 0.05; kill -TERM {pid}"),
        ])
        .status();
    assert!(both.expect("run sh").success());
    // The client reads now: the graceful stop flushes the echo to it.
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("the echo was cut after {got} bytes: {e}"),
        }
    }
    let status = wait_exit(&mut hub.child, "hub did not exit after the stop");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(got, sent, "the whole echo before the end");
}
