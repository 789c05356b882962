//! Review (gl): the server is stopped by another thread while a callback
//! (gathering for every loop) and an application thread are sending.
//! `stop()` is graceful: what was queued is flushed. So each receiver
//! gets exactly the messages whose send returned `Ok` (or that
//! `send_many`/`send_all` counted), in order, then the end of the stream.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::support::*;
use tcphub::{ClientId, Framing, TcpServer};

const RECEIVERS: usize = 6;

fn stop_during_sends(loops: usize) {
    let ids: Arc<Mutex<Vec<ClientId>>> = Arc::default();
    // Per receiver, per sender: the next sequence number (= messages sent Ok).
    let next: Arc<Mutex<Vec<[usize; 2]>>> = Arc::new(Mutex::new(vec![[0, 0]; RECEIVERS]));
    let started = Arc::new(AtomicUsize::new(0));
    let (t, nx, st) = (ids.clone(), next.clone(), started.clone());
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .framing(Framing::lines())
        // Order is tested here, not the queue bound: readers starved on a
        // loaded machine must not be cut as slow consumers.
        .max_queue_bytes(256 << 20)
        .on_message(move |srv, _, _| {
            let ids = t.lock().unwrap().clone();
            let mut next = nx.lock().unwrap();
            for k in 0..40 {
                for (r, &id) in ids.iter().enumerate() {
                    let line = if k == 39 {
                        format!("c:{}:{}", next[r][0], "q".repeat(1100))
                    } else {
                        format!("c:{}", next[r][0])
                    };
                    let ok = if k % 2 == 0 {
                        srv.send(id, line.as_bytes()).is_ok()
                    } else {
                        srv.send_many(&[id], line.as_bytes()) == 1
                    };
                    if ok {
                        next[r][0] += 1;
                    }
                }
            }
            st.fetch_add(1, Ordering::SeqCst);
        })
        .start()
        .unwrap();
    let peers = connect_peers(&server, RECEIVERS);
    let pids: Vec<ClientId> = peers.iter().map(|p| p.id_on(&server)).collect();
    ids.lock().unwrap().extend(pids.iter().copied());
    let readers: Vec<_> = peers
        .into_iter()
        .map(|mut p| {
            thread::spawn(move || {
                let all = p.read_to_eof();
                let mut got = [0usize; 2];
                for line in String::from_utf8(all).unwrap().lines() {
                    let mut parts = line.splitn(3, ':');
                    let t = if parts.next().unwrap() == "c" { 0 } else { 1 };
                    let seq: usize = parts.next().unwrap().parse().unwrap();
                    assert_eq!(seq, got[t], "in order, none lost or doubled");
                    got[t] += 1;
                }
                got
            })
        })
        .collect();
    let app = {
        let server = server.clone();
        let pids = pids.clone();
        // Its own counts: no lock shared with the callbacks, which it may
        // wait for (a send waits while a loop is too far behind).
        thread::spawn(move || {
            let mut next = vec![0usize; RECEIVERS];
            while server.is_running() {
                for (r, &id) in pids.iter().enumerate() {
                    let line = format!("a:{}", next[r]);
                    if server.send(id, line.as_bytes()).is_ok() {
                        next[r] += 1;
                    }
                }
            }
            next
        })
    };
    let mut trigger = Peer::connect(server.local_addr());
    let mut drain = trigger.try_clone_peer();
    let drainer = thread::spawn(move || drain.read_to_eof());
    let mut burst = String::new();
    for i in 0..500 {
        burst.push_str(&format!("{i}\n"));
    }
    trigger.send(burst.as_bytes());
    wait_until("some callbacks ran", || {
        started.load(Ordering::SeqCst) >= 20
    });
    server.stop();
    let by_app = app.join().unwrap();
    let st = server.stats();
    let mut next = next.lock().unwrap().clone();
    for (r, n) in by_app.into_iter().enumerate() {
        next[r][1] = n;
    }
    for (r, h) in readers.into_iter().enumerate() {
        let got = h.join().unwrap();
        assert_eq!(got, next[r], "receiver {r}: every Ok send, once ({st:?})");
    }
    drainer.join().unwrap();
}

#[test]
fn a_stop_flushes_every_ok_send_2_loops() {
    stop_during_sends(2);
}

#[test]
fn a_stop_flushes_every_ok_send_4_loops() {
    stop_during_sends(4);
}

#[test]
fn a_stop_flushes_every_ok_send_20_loops() {
    stop_during_sends(20);
}
