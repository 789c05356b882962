//! A loop that stops reading because another loop of its server is far
//! behind (backpressure) must not cut its own clients as idle: they may be
//! sending all along, their bytes wait in the kernel because of us.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use support::*;
use tcphub::{Framing, Overflow, TcpServer};

#[test]
fn a_client_that_keeps_sending_is_not_idle_while_its_loop_is_paused_by_backpressure() {
    let (asleep_tx, asleep) = mpsc::channel();
    let (release, gate) = mpsc::channel::<()>();
    let (asleep_tx, gate) = (Mutex::new(asleep_tx), Mutex::new(gate));
    let target = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let to = target.clone();
    let gone = Disconnects::new();
    let record = gone.clone();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(2)
        .framing(Framing::length_prefixed())
        .overflow(Overflow::DropMessage)
        .idle_timeout(Duration::from_millis(400))
        .on_message(move |srv, _c, m| {
            if m == b"sleep" {
                let _ = asleep_tx.lock().unwrap().send(());
                let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(60));
            } else if m.len() > 1000 {
                let _ = srv.send(to.load(std::sync::atomic::Ordering::SeqCst), m);
            }
        })
        .on_disconnect(move |_srv, c, why| record.record(c, why))
        .start()
        .unwrap();
    let addr = server.local_addr();
    // First client to loop 0, second to loop 1, third to loop 0.
    let flooder = Peer::connect(addr);
    let flooder_id = flooder.id_on(&server);
    let mut sleeper = Peer::connect(addr);
    let sleeper_id = sleeper.id_on(&server);
    target.store(sleeper_id, std::sync::atomic::Ordering::SeqCst);
    let mut busy = Peer::connect(addr);
    let busy_id = busy.id_on(&server);
    let _ = flooder_id;

    sleeper.send_frame(b"sleep");
    asleep
        .recv_timeout(Duration::from_secs(20))
        .expect("loop 1 enters its slow callback");
    // Over 64 MiB of messages for loop 1: loop 0 stops reading.
    let mut s: TcpStream = flooder.stream.try_clone().unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let flood = std::thread::spawn(move || {
        let frame = lp_frame(&vec![b'x'; 1 << 20]);
        for _ in 0..80 {
            if s.write_all(&frame).is_err() {
                break;
            }
        }
    });
    // Meanwhile the busy client sends a small message every 50 ms.
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(2500) {
        if busy.stream.write_all(&lp_frame(b"tick")).is_err() {
            break; // cut: the server closed it
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let cut = gone.reason_of(busy_id);
    release.send(()).unwrap();
    flood.join().unwrap();
    drop(flooder);
    server.stop();
    assert_eq!(cut, None, "a client sending every 50 ms was cut");
}
