//! Review mc (mutation testing of `client_loop.rs`): an idle client's I/O
//! thread sleeps. In a file of its own: it finds the I/O thread by its
//! name among the process's threads, which another test's client would
//! confuse.
#![cfg(target_os = "linux")]

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use support::*;
use tcphub::{Framing, TcpClient};

/// A connected client with nothing to send or read sleeps in `poll` until
/// something happens: its I/O thread takes (almost) no CPU. (Mutants of
/// `ClientLoop::timeout` — a zero timeout always, or whenever reading is
/// allowed, `read_pending || may_read()` — passed every test: the thread
/// spun on `epoll_wait`, a whole core for an idle client; a spinning
/// thread does not sleep, so `voluntary_switches` does not see it.)
#[test]
fn review_mc_an_idle_client_does_not_spin() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::lines())
        .connect()
        .unwrap();
    let (mut server, _) = l.accept().unwrap();
    // A round trip first: the connection is up and the thread has done
    // what a first turn does.
    client.send(b"ping").unwrap();
    let mut buf = [0u8; 5];
    std::io::Read::read_exact(&mut server, &mut buf).unwrap();
    std::io::Write::write_all(&mut server, b"pong\n").unwrap();
    assert_eq!(client.recv_timeout(TIMEOUT).unwrap(), b"pong");
    let tid = &the_thread_named("tcphub-client");
    let window = Duration::from_secs(2);
    let (before, start) = (cpu_ticks(tid), Instant::now());
    while start.elapsed() < window {
        std::thread::sleep(window - start.elapsed());
    }
    let used = cpu_ticks(tid) - before;
    assert!(client.is_connected());
    client.close();
    // 2 s are 200 ticks; a sleeping thread uses none, a spinning one all
    // the CPU it gets (on a loaded 2-core machine still far more than 20).
    assert!(
        used <= 20,
        "the idle client's I/O thread used {used} ticks of CPU in {window:?}"
    );
}
