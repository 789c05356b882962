//! Review (gl): under `Overflow::DropMessage`, a client that does not read
//! while callbacks on another loop (and an application thread) gather
//! sends and broadcasts for it: what it gets afterwards is, per sender, in
//! order with no duplicates, and every message is either received or
//! counted in `dropped`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::*;
use tcphub::{ClientId, Framing, Overflow, TcpServer};

const TRIGGERS: usize = 400;
const PER: usize = 50;

fn drop_policy(loops: usize) {
    let target: Arc<Mutex<Option<ClientId>>> = Arc::default();
    let t = target.clone();
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .framing(Framing::lines())
        .max_queue_bytes(32 * 1024)
        .overflow(Overflow::DropMessage)
        .on_message(move |srv, from, m| {
            let i: usize = std::str::from_utf8(m).unwrap().parse().unwrap();
            let id = t.lock().unwrap().unwrap();
            for k in 0..PER {
                let seq = i * PER + k;
                let l = if k == PER - 1 {
                    format!("c:{seq}:{}", "d".repeat(1100))
                } else {
                    format!("c:{seq}:{}", "d".repeat(100))
                };
                if k % 2 == 0 {
                    srv.send(id, l.as_bytes()).unwrap();
                } else {
                    srv.send_all_except(from.id, l.as_bytes());
                }
            }
            d.fetch_add(1, Ordering::SeqCst);
        })
        .start()
        .unwrap();
    let mut slow = Peer::connect(server.local_addr());
    let id = slow.id_on(&server);
    *target.lock().unwrap() = Some(id);
    let mut trigger = Peer::connect(server.local_addr());
    let mut burst = String::new();
    for i in 0..TRIGGERS {
        burst.push_str(&format!("{i}\n"));
    }
    trigger.send(burst.as_bytes());
    wait_until("every trigger handled", || {
        done.load(Ordering::SeqCst) == TRIGGERS
    });
    server.stop();
    let all = slow.read_to_eof();
    let mut last: Option<usize> = None;
    let mut got = 0u64;
    for l in String::from_utf8(all).unwrap().lines() {
        let seq: usize = l.split(':').nth(1).unwrap().parse().unwrap();
        assert!(last.is_none_or(|p| seq > p), "{seq} after {last:?}");
        last = Some(seq);
        got += 1;
    }
    let st = server.stats();
    assert_eq!(
        got + st.dropped + st.undelivered,
        (TRIGGERS * PER) as u64,
        "{st:?}"
    );
    assert_eq!(st.undelivered, 0, "{st:?}");
}

#[test]
fn dropped_or_received_in_order_2_loops() {
    drop_policy(2);
}

#[test]
fn dropped_or_received_in_order_4_loops() {
    drop_policy(4);
}

#[test]
fn dropped_or_received_in_order_20_loops() {
    drop_policy(20);
}
