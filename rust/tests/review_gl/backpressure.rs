//! Review (gl): a client that stops reading, on another loop than the
//! callback gathering broadcasts for it, is cut off as a slow consumer
//! (its queue is bounded by `max_queue_bytes`) while the other clients,
//! on every loop, keep receiving every message in order. Paced so that
//! the readers never hold more than one batch: only the stalled client
//! can overflow.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::support::*;
use tcphub::{ClientId, DisconnectReason, Framing, TcpServer};

const PER_TRIGGER: usize = 100;
const TRIGGERS: usize = 1500;
const READERS: usize = 5;

fn slow_reader_with_loops(loops: usize) {
    let slow_id: Arc<Mutex<Option<ClientId>>> = Arc::default();
    let s = slow_id.clone();
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .framing(Framing::lines())
        .max_queue_bytes(64 * 1024)
        .on_disconnect(gone.recorder())
        .on_message(move |srv, from, m| {
            let i: usize = std::str::from_utf8(m).unwrap().parse().unwrap();
            let slow = *s.lock().unwrap();
            for k in 0..PER_TRIGGER {
                let line = format!("{}:{}", i * PER_TRIGGER + k, "y".repeat(150));
                if k % 2 == 0 {
                    srv.send_all_except(from.id, line.as_bytes());
                } else {
                    srv.send_all_except(from.id, line.as_bytes());
                    if let Some(id) = slow {
                        // More for the stalled one only (fails once cut).
                        let _ = srv.send(id, line.as_bytes());
                    }
                }
            }
        })
        .start()
        .unwrap();
    let progress: Arc<Vec<AtomicUsize>> =
        Arc::new((0..READERS).map(|_| AtomicUsize::new(0)).collect());
    let peers = connect_peers(&server, READERS);
    let slow = Peer::connect(server.local_addr());
    let sid = slow.id_on(&server);
    *slow_id.lock().unwrap() = Some(sid);
    let readers: Vec<_> = peers
        .into_iter()
        .enumerate()
        .map(|(r, mut p)| {
            let progress = progress.clone();
            thread::spawn(move || {
                for n in 0..TRIGGERS * PER_TRIGGER {
                    let line = p.read_line();
                    let seq: usize = line.split(':').next().unwrap().parse().unwrap();
                    assert_eq!(seq, n, "reader {r}: in order, none lost");
                    progress[r].store(n + 1, Ordering::Release);
                }
            })
        })
        .collect();
    let mut trigger = Peer::connect(server.local_addr());
    for i in 0..TRIGGERS {
        trigger.send_line(&i.to_string());
        let want = (i + 1) * PER_TRIGGER;
        wait_until("readers got the batch", || {
            progress.iter().all(|p| p.load(Ordering::Acquire) >= want)
        });
    }
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(gone.wait_for(sid), DisconnectReason::SlowConsumer);
    assert!(
        server.stats().undelivered > 0,
        "the message that did not fit is counted"
    );
    drop(slow);
    server.stop();
}

#[test]
fn a_stalled_reader_is_cut_off_and_the_others_get_everything_2_loops() {
    slow_reader_with_loops(2);
}

#[test]
fn a_stalled_reader_is_cut_off_and_the_others_get_everything_4_loops() {
    slow_reader_with_loops(4);
}

#[test]
fn a_stalled_reader_is_cut_off_and_the_others_get_everything_20_loops() {
    slow_reader_with_loops(20);
}
