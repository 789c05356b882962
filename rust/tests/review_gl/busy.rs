//! Review (gl): the target loop is busy (one of its callbacks blocked)
//! while a callback on another loop and an application thread gather
//! sends for its clients; once it is free, its clients get every message
//! of each sender exactly once and in order — the gathered ones and the
//! large (posted) ones interleaved as sent.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use crate::support::*;
use tcphub::{ClientId, Framing, TcpServer};

const N: usize = 300;

#[test]
fn a_busy_loop_s_clients_get_every_gathered_message_in_order_afterwards() {
    for loops in [2, 4] {
        busy_target(loops);
    }
}

fn busy_target(loops: usize) {
    let threads: Arc<Mutex<HashMap<ClientId, ThreadId>>> = Arc::default();
    let targets: Arc<Mutex<Vec<ClientId>>> = Arc::default();
    let release = Arc::new(AtomicBool::new(false));
    let blocked = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let (t1, tg, r, b, d) = (
        threads.clone(),
        targets.clone(),
        release.clone(),
        blocked.clone(),
        done.clone(),
    );
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .framing(Framing::lines())
        .on_connect(move |_, c| {
            t1.lock().unwrap().insert(c.id, thread::current().id());
        })
        .on_message(move |srv, _, m| {
            if m == b"block" {
                b.store(true, Ordering::SeqCst);
                let start = Instant::now();
                while !r.load(Ordering::SeqCst) && start.elapsed() < TIMEOUT {
                    thread::sleep(Duration::from_millis(1));
                }
                return;
            }
            let i: usize = std::str::from_utf8(m).unwrap().parse().unwrap();
            let ids = tg.lock().unwrap().clone();
            let line = if i % 10 == 9 {
                format!("c:{i}:{}", "z".repeat(1200))
            } else {
                format!("c:{i}")
            };
            match i % 3 {
                0 => {
                    srv.send_many(&ids, line.as_bytes());
                }
                _ => {
                    for &id in &ids {
                        srv.send(id, line.as_bytes()).unwrap();
                    }
                }
            }
            d.fetch_add(1, Ordering::SeqCst);
        })
        .start()
        .unwrap();
    let mut peers: Vec<(Peer, ClientId)> = connect_peers(&server, 4 * loops)
        .into_iter()
        .map(|p| {
            let id = p.id_on(&server);
            (p, id)
        })
        .collect();
    wait_until("every client's loop known", || {
        threads.lock().unwrap().len() == 4 * loops
    });
    let map = threads.lock().unwrap().clone();
    // The blocker's loop is the busy one; the sender is on another loop.
    let busy = map[&peers[0].1];
    let pos = peers
        .iter()
        .position(|(_, id)| map[id] != busy)
        .expect("clients on two loops");
    let (mut sender, _) = peers.remove(pos);
    let (mut blocker, _) = peers.remove(0);
    let on_busy: Vec<(Peer, ClientId)> = peers
        .into_iter()
        .filter(|(_, id)| map[id] == busy)
        .collect();
    assert!(!on_busy.is_empty());
    targets
        .lock()
        .unwrap()
        .extend(on_busy.iter().map(|(_, id)| *id));
    let ids: Vec<ClientId> = on_busy.iter().map(|(_, id)| *id).collect();
    blocker.send_line("block");
    wait_until("the busy loop blocked", || blocked.load(Ordering::SeqCst));
    let mut burst = String::new();
    for i in 0..N {
        burst.push_str(&format!("{i}\n"));
    }
    sender.send(burst.as_bytes());
    // An application thread at the same time.
    let app = {
        let server = server.clone();
        thread::spawn(move || {
            for i in 0..N {
                let line = if i % 10 == 9 {
                    format!("a:{i}:{}", "z".repeat(1200))
                } else {
                    format!("a:{i}")
                };
                if i % 2 == 0 {
                    server.send_all(line.as_bytes());
                } else {
                    for &id in &ids {
                        server.send(id, line.as_bytes()).unwrap();
                    }
                }
            }
        })
    };
    wait_until("the sender's callbacks done", || {
        done.load(Ordering::SeqCst) == N
    });
    app.join().unwrap();
    release.store(true, Ordering::SeqCst);
    for (mut p, id) in on_busy {
        let mut next = [0usize; 2];
        while next.iter().any(|&n| n < N) {
            let line = p.read_line();
            let mut parts = line.splitn(3, ':');
            let tag = parts.next().unwrap();
            let seq: usize = parts.next().unwrap().parse().unwrap();
            let t = if tag == "c" { 0 } else { 1 };
            assert_eq!(seq, next[t], "client {id}: sender {tag}");
            next[t] += 1;
        }
    }
    drop(blocker);
    server.stop();
}
