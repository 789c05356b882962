//! Review (gl): clients leaving (reset, or closing) while a callback on
//! another loop gathers sends for them: the ones that stay get every
//! message in order, and each send that returned `Ok` is counted once,
//! either as queued (`msgs_out`) or as `undelivered` — nothing lost
//! unaccounted, nothing doubled.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::support::*;
use tcphub::{ClientId, Framing, TcpServer};

const STAYING: usize = 3;
const LEAVING: usize = 6;
const TRIGGERS: usize = 300;
const PER_TRIGGER: usize = 20;

fn departures_with_loops(loops: usize) {
    let targets: Arc<Mutex<Vec<ClientId>>> = Arc::default();
    let t = targets.clone();
    let ok = Arc::new(AtomicU64::new(0));
    let o = ok.clone();
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .framing(Framing::lines())
        .on_message(move |srv, _, m| {
            let i: usize = std::str::from_utf8(m).unwrap().parse().unwrap();
            let ids = t.lock().unwrap().clone();
            for k in 0..PER_TRIGGER {
                let line = format!("{}", i * PER_TRIGGER + k);
                let mut n = 0;
                if k % 3 == 2 {
                    n += srv.send_many(&ids, line.as_bytes()) as u64;
                } else {
                    for &id in &ids {
                        if srv.send(id, line.as_bytes()).is_ok() {
                            n += 1;
                        }
                    }
                }
                o.fetch_add(n, Ordering::Relaxed);
            }
        })
        .start()
        .unwrap();
    let stay = connect_peers(&server, STAYING);
    let leave: Vec<Peer> = (0..LEAVING)
        .map(|_| Peer::connect(server.local_addr()))
        .collect();
    wait_clients(&server, STAYING + LEAVING);
    {
        let mut t = targets.lock().unwrap();
        t.extend(stay.iter().map(|p| p.id_on(&server)));
        t.extend(leave.iter().map(|p| p.id_on(&server)));
    }
    let progress = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = stay
        .into_iter()
        .enumerate()
        .map(|(r, mut p)| {
            let progress = progress.clone();
            thread::spawn(move || {
                for n in 0..TRIGGERS * PER_TRIGGER {
                    let line = p.read_line();
                    assert_eq!(line, n.to_string(), "reader {r}");
                    if r == 0 {
                        progress.store(n + 1, Ordering::Release);
                    }
                }
                p
            })
        })
        .collect();
    let mut trigger = Peer::connect(server.local_addr());
    let mut burst = String::new();
    for i in 0..TRIGGERS {
        burst.push_str(&format!("{i}\n"));
    }
    trigger.send(burst.as_bytes());
    // Leave while the sends flow: half reset, half close.
    wait_until("a third read", || {
        progress.load(Ordering::Acquire) >= TRIGGERS * PER_TRIGGER / 3
    });
    for (k, p) in leave.into_iter().enumerate() {
        if k % 2 == 0 {
            p.reset();
        } else {
            drop(p);
        }
    }
    let _stay: Vec<Peer> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    if !try_wait_until(std::time::Duration::from_secs(20), || {
        server.client_count() == STAYING + 1
    }) {
        panic!(
            "left clients still there: {:?}\nstats {:?}",
            server.clients(),
            server.stats()
        );
    }
    server.stop();
    let st = server.stats();
    assert_eq!(
        st.msgs_out + st.undelivered + st.dropped,
        ok.load(Ordering::Relaxed),
        "every Ok send queued or counted undelivered, once: {st:?}"
    );
}

#[test]
fn clients_leaving_while_sends_are_gathered_for_them_2_loops() {
    departures_with_loops(2);
}

#[test]
fn clients_leaving_while_sends_are_gathered_for_them_4_loops() {
    departures_with_loops(4);
}

#[test]
fn clients_leaving_while_sends_are_gathered_for_them_20_loops() {
    departures_with_loops(20);
}
