//! Review (gl): a callback sends (gathered, small) to clients on every
//! loop, its own included, then tells a worker, which sends a large
//! (posted, ungathered) message and a small one to the same clients: each
//! client gets the callback's message before the worker's.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::support::*;
use tcphub::{ClientId, Framing, TcpServer};

const N: usize = 1000;
const RECEIVERS: usize = 6;

fn worker_after_callback(loops: usize) {
    let ids: Arc<Mutex<Vec<ClientId>>> = Arc::default();
    let (tx, rx) = mpsc::channel::<usize>();
    let tx = Mutex::new(tx);
    let t = ids.clone();
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .framing(Framing::lines())
        // Order is tested here, not the queue bound: readers starved on a
        // loaded machine must not be cut as slow consumers.
        .max_queue_bytes(256 << 20)
        .on_message(move |srv, _, m| {
            let i: usize = std::str::from_utf8(m).unwrap().parse().unwrap();
            for &id in t.lock().unwrap().iter() {
                srv.send(id, format!("d:{i}").as_bytes()).unwrap();
            }
            tx.lock().unwrap().send(i).unwrap();
        })
        .start()
        .unwrap();
    let peers = connect_peers(&server, RECEIVERS);
    ids.lock()
        .unwrap()
        .extend(peers.iter().map(|p| p.id_on(&server)));
    let worker = {
        let server = server.clone();
        let ids = ids.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while n < N {
                let Ok(i) = rx.recv_timeout(Duration::from_millis(20)) else {
                    continue;
                };
                n += 1;
                let big = format!("w:{i}:{}", "w".repeat(1100));
                for &id in ids.lock().unwrap().iter() {
                    server.send(id, big.as_bytes()).unwrap();
                    server.send(id, format!("v:{i}").as_bytes()).unwrap();
                }
            }
        })
    };
    let readers: Vec<_> = peers
        .into_iter()
        .enumerate()
        .map(|(r, mut p)| {
            std::thread::spawn(move || {
                let mut d = 0;
                let (mut w, mut v) = (0, 0);
                while v < N {
                    let line = p.read_line();
                    let mut parts = line.splitn(3, ':');
                    let kind = parts.next().unwrap();
                    let i: usize = parts.next().unwrap().parse().unwrap();
                    match kind {
                        "d" => {
                            assert_eq!(i, d, "receiver {r}");
                            d += 1;
                        }
                        "w" => {
                            assert!(i < d, "receiver {r}: w:{i} before d:{i}");
                            assert_eq!(i, w, "receiver {r}");
                            w += 1;
                        }
                        _ => {
                            assert_eq!(i + 1, w, "receiver {r}: v:{i} after w:{i}");
                            assert_eq!(i, v, "receiver {r}");
                            v += 1;
                        }
                    }
                }
            })
        })
        .collect();
    let mut sender = Peer::connect(server.local_addr());
    let mut burst = String::new();
    for i in 0..N {
        burst.push_str(&format!("{i}\n"));
    }
    sender.send(burst.as_bytes());
    for r in readers {
        r.join().unwrap();
    }
    worker.join().unwrap();
    server.stop();
}

#[test]
fn a_worker_s_large_send_comes_after_the_callback_s_gathered_one_2_loops() {
    worker_after_callback(2);
}

#[test]
fn a_worker_s_large_send_comes_after_the_callback_s_gathered_one_4_loops() {
    worker_after_callback(4);
}

#[test]
fn a_worker_s_large_send_comes_after_the_callback_s_gathered_one_20_loops() {
    worker_after_callback(20);
}
