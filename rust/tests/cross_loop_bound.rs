//! Memory stays bounded when one event loop relays to another that is busy
//! (a slow callback): the relaying loop stops reading instead of piling
//! messages into the busy loop's channel. Its own process, to read RSS.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::*;
use tcphub::{Framing, Overflow, TcpServer};

fn rss_mib() -> u64 {
    rss_kib() / 1024
}

#[test]
fn relaying_into_a_busy_loop_does_not_grow_memory() {
    let (asleep_tx, asleep) = mpsc::channel();
    let asleep_tx = Mutex::new(asleep_tx);
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        // The writer `p` also receives every line it sends (a broadcast),
        // read by a thread of its own: on a loaded machine that thread can
        // fall 4 MiB behind the writer, and under the default policy `p`
        // was then cut as a slow consumer (the test's write failed with
        // BrokenPipe in a CI run). Dropping its surplus instead keeps the
        // writer connected; what is measured, the bound on what loop 0
        // piles into busy loop 1's channel, is the same either way.
        .overflow(Overflow::DropMessage)
        .on_message(move |srv, _c, m| {
            if m == b"sleep" {
                let _ = asleep_tx.lock().unwrap().send(());
                std::thread::sleep(Duration::from_secs(4)); // a slow callback on loop 1
            } else {
                srv.send_all(m);
            }
        })
        .start()
        .unwrap();
    let addr = server.local_addr();
    let mut p = TcpStream::connect(addr).unwrap(); // loop 0
    wait_clients(&server, 1);
    let mut s = TcpStream::connect(addr).unwrap(); // loop 1
    wait_clients(&server, 2);
    let mut pr = p.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        while let Ok(n) = pr.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    let before = rss_mib();
    s.write_all(b"sleep\n").unwrap();
    asleep
        .recv_timeout(Duration::from_secs(20))
        .expect("loop 1 enters its slow callback");
    let mut line = vec![b'x'; 60_000];
    line.push(b'\n');
    let t = Instant::now();
    let mut sent = 0usize;
    // Without backpressure all of this piles up in loop 1's channel while it
    // sleeps; with it, loop 0 stops reading and these writes block.
    while sent < 600 << 20 && t.elapsed() < Duration::from_secs(3) {
        p.write_all(&line).unwrap();
        sent += line.len();
    }
    let after = rss_mib();
    drop(s);
    server.stop();
    // A loop's channel may hold 64 MiB of messages; allow that plus slack.
    assert!(
        after.saturating_sub(before) < 160,
        "RSS grew {} MiB ({before} -> {after}) while {} MiB were sent",
        after.saturating_sub(before),
        sent >> 20
    );
}
