//! Review (gl): a client that does not read, cut as a slow consumer while
//! runs of gathered sends (from a callback on another loop, and from an
//! application thread) are on their way to it: every send that returned
//! `Ok` is counted once, as queued (`msgs_out`) or `undelivered`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::support::*;
use tcphub::{ClientId, DisconnectReason, Framing, TcpServer};

const TRIGGERS: usize = 2000;
const PER: usize = 30;

fn cut_counts(loops: usize) {
    let target: Arc<Mutex<Option<ClientId>>> = Arc::default();
    let ok = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let (t, o, d) = (target.clone(), ok.clone(), done.clone());
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .framing(Framing::lines())
        .max_queue_bytes(32 * 1024)
        .on_disconnect(gone.recorder())
        .on_message(move |srv, _, _| {
            let id = t.lock().unwrap().unwrap();
            for k in 0..PER {
                let l = if k == PER - 1 {
                    "L".repeat(1100)
                } else {
                    "s".repeat(200)
                };
                if k % 3 == 0 {
                    o.fetch_add(srv.send_many(&[id], l.as_bytes()) as u64, Ordering::SeqCst);
                } else if srv.send(id, l.as_bytes()).is_ok() {
                    o.fetch_add(1, Ordering::SeqCst);
                }
            }
            d.fetch_add(1, Ordering::SeqCst);
        })
        .start()
        .unwrap();
    let slow = Peer::connect(server.local_addr());
    let id = slow.id_on(&server);
    *target.lock().unwrap() = Some(id);
    let app = {
        let server = server.clone();
        let ok = ok.clone();
        thread::spawn(move || {
            for _ in 0..20_000 {
                if server.send(id, b"app").is_ok() {
                    ok.fetch_add(1, Ordering::SeqCst);
                } else {
                    break;
                }
            }
        })
    };
    let mut trigger = Peer::connect(server.local_addr());
    let mut burst = String::new();
    for i in 0..TRIGGERS {
        burst.push_str(&format!("{i}\n"));
    }
    trigger.send(burst.as_bytes());
    wait_until("every trigger handled", || {
        done.load(Ordering::SeqCst) == TRIGGERS
    });
    app.join().unwrap();
    assert_eq!(gone.wait_for(id), DisconnectReason::SlowConsumer);
    server.stop();
    let st = server.stats();
    assert_eq!(
        st.msgs_out + st.undelivered + st.dropped,
        ok.load(Ordering::SeqCst),
        "{st:?}"
    );
    drop(slow);
}

#[test]
fn sends_to_a_slow_consumer_are_each_counted_once_2_loops() {
    cut_counts(2);
}

#[test]
fn sends_to_a_slow_consumer_are_each_counted_once_4_loops() {
    cut_counts(4);
}

#[test]
fn sends_to_a_slow_consumer_are_each_counted_once_20_loops() {
    cut_counts(20);
}
