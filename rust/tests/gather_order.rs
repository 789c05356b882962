//! Broadcasts and sends a callback makes are gathered per loop (one run per
//! read, not one channel entry per message: `gather.rs`). What must not
//! change with it: a send made after a gathered broadcast or send — by the
//! same callback, or by a worker the callback told — reaches each client
//! after it, on whichever loop the client is; and a callback that waits for clients
//! of the other loops to get its broadcast does not wait forever (the
//! gathered run reaches a sleeping loop without the callback returning).

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use support::*;
use tcphub::{ClientId, Framing, TcpServer};

const RECEIVERS: usize = 4;

/// Connects `n` peers and returns them with their ids.
fn receivers(server: &tcphub::ServerHandle, n: usize) -> Vec<(Peer, ClientId)> {
    connect_peers(server, n)
        .into_iter()
        .map(|p| {
            let id = p.id_on(server);
            (p, id)
        })
        .collect()
}

#[test]
fn sends_made_after_a_gathered_broadcast_reach_every_loop_s_clients_after_it() {
    const N: usize = 3000;
    let ids: Arc<Mutex<Vec<ClientId>>> = Arc::default();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let tx = Mutex::new(tx);
    let targets = ids.clone();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .on_message(move |srv, _, m| {
            let mut b = b"b:".to_vec();
            b.extend_from_slice(m);
            srv.send_all(&b);
            // The same callback, straight after: to each receiver, on
            // either loop.
            let mut d = b"d:".to_vec();
            d.extend_from_slice(m);
            for &id in targets.lock().unwrap().iter() {
                srv.send(id, &d).unwrap();
            }
            // Only now does the worker hear of the message.
            tx.lock().unwrap().send(m.to_vec()).unwrap();
        })
        .start()
        .unwrap();
    let mut peers = receivers(&server, RECEIVERS);
    ids.lock().unwrap().extend(peers.iter().map(|(_, id)| *id));
    let worker = {
        let server = server.clone();
        let ids = ids.clone();
        std::thread::spawn(move || {
            // (The callback holding the sender lives as long as the server.)
            while server.is_running() {
                let Ok(m) = rx.recv_timeout(Duration::from_millis(20)) else {
                    continue;
                };
                let mut w = b"w:".to_vec();
                w.extend_from_slice(&m);
                for &id in ids.lock().unwrap().iter() {
                    let _ = server.send(id, &w);
                }
            }
        })
    };
    let mut sender = Peer::connect(server.local_addr());
    let mut burst = String::new();
    for i in 0..N {
        burst.push_str(&format!("{i}\n"));
    }
    // One write: the server reads many messages at a time, and gathers.
    sender.send(burst.as_bytes());
    for (p, id) in peers.iter_mut() {
        let mut broadcast = HashSet::new();
        let mut direct = HashSet::new();
        let mut expected = 0;
        for _ in 0..3 * N {
            let line = p.read_line();
            let (kind, m) = line.split_at(2);
            match kind {
                "b:" => {
                    assert_eq!(m, expected.to_string(), "client {id}: broadcasts in order");
                    expected += 1;
                    broadcast.insert(m.to_string());
                }
                "d:" => {
                    assert!(
                        broadcast.contains(m),
                        "client {id}: {line:?} arrived before the broadcast of {m}"
                    );
                    direct.insert(m.to_string());
                }
                "w:" => assert!(
                    direct.contains(m),
                    "client {id}: {line:?} arrived before the callback's send of {m}"
                ),
                _ => panic!("client {id}: unexpected line {line:?}"),
            }
        }
        assert_eq!(expected, N, "client {id}: every broadcast");
    }
    server.stop();
    worker.join().unwrap();
}

#[test]
fn a_callback_waiting_for_the_other_loop_s_clients_to_get_its_broadcast_is_not_stuck() {
    // Which loop thread each client is served on (`on_connect` runs there).
    let threads: Arc<Mutex<HashMap<ClientId, ThreadId>>> = Arc::default();
    // How many of the clients on other loops have read the broadcast.
    let got = Arc::new(AtomicUsize::new(0));
    let others = Arc::new(AtomicUsize::new(usize::MAX));
    let waited: Arc<Mutex<Option<Duration>>> = Arc::default();
    let (t1, t2, g, o, w) = (
        threads.clone(),
        threads.clone(),
        got.clone(),
        others.clone(),
        waited.clone(),
    );
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .on_connect(move |_, c| {
            t1.lock().unwrap().insert(c.id, std::thread::current().id());
        })
        .on_message(move |srv, c, _| {
            let here = t2.lock().unwrap()[&c.id];
            let elsewhere = t2.lock().unwrap().values().filter(|&&t| t != here).count();
            o.store(elsewhere, Ordering::SeqCst);
            srv.send_all(b"question");
            // Blocks its loop until the other loop's clients have it (with
            // a bound, so a failure is a failed assertion, not a hang).
            let start = Instant::now();
            while g.load(Ordering::SeqCst) < elsewhere && start.elapsed() < TIMEOUT {
                std::thread::sleep(Duration::from_millis(1));
            }
            *w.lock().unwrap() = Some(start.elapsed());
        })
        .start()
        .unwrap();
    let peers = receivers(&server, RECEIVERS);
    wait_until("every client's loop known", || {
        threads.lock().unwrap().len() == RECEIVERS
    });
    let mut sender = Peer::connect(server.local_addr());
    let sender_id = sender.id_on(&server);
    wait_until("the sender's loop known", || {
        threads.lock().unwrap().contains_key(&sender_id)
    });
    // Let both loops go to sleep before the question comes.
    std::thread::sleep(Duration::from_millis(50));
    sender.send_line("go");
    let sender_thread = threads.lock().unwrap()[&sender_id];
    let mut readers = Vec::new();
    for (mut p, id) in peers {
        if threads.lock().unwrap()[&id] == sender_thread {
            continue; // its loop is the one waiting: it gets it afterwards
        }
        let got = got.clone();
        readers.push(std::thread::spawn(move || {
            assert_eq!(p.read_line(), "question");
            got.fetch_add(1, Ordering::SeqCst);
        }));
    }
    assert!(!readers.is_empty(), "round-robin put clients on both loops");
    for r in readers {
        r.join().unwrap();
    }
    wait_until("the callback returned", || waited.lock().unwrap().is_some());
    let waited = waited.lock().unwrap().unwrap();
    assert_eq!(others.load(Ordering::SeqCst), got.load(Ordering::SeqCst));
    assert!(
        waited < TIMEOUT,
        "the other loop's clients got the broadcast only after the callback gave up ({waited:?})"
    );
    server.stop();
}
