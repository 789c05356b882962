//! Review (gl): clients connecting (on every loop) while an application
//! thread and a callback broadcast numbered messages, gathered: each
//! client gets, of each sender, a gap-free suffix of the numbers (from
//! the first broadcast made after it connected, or earlier, to the last),
//! in order — a broadcast's audience is those connected at its call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use crate::support::*;
use tcphub::{Framing, TcpServer};

const N: usize = 20_000;
const JOINERS: usize = 12;

fn late_joiners(loops: usize) {
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .framing(Framing::lines())
        // Order is tested here, not the queue bound: readers starved on a
        // loaded machine must not be cut as slow consumers.
        .max_queue_bytes(256 << 20)
        .on_message(|srv, from, m| {
            // A trigger's line "go": broadcast numbered messages.
            if m == b"go" {
                for i in 0..N {
                    srv.send_all_except(from.id, format!("c:{i}").as_bytes());
                }
            } else {
                // Once every joiner is connected: one more, and the end.
                srv.send_all_except(from.id, format!("c:{N}").as_bytes());
                srv.send_all_except(from.id, b"c:end");
            }
        })
        .start()
        .unwrap();
    let go = Arc::new(AtomicBool::new(false));
    let app = {
        let server = server.clone();
        let go = go.clone();
        thread::spawn(move || {
            while !go.load(Ordering::SeqCst) {
                thread::yield_now();
            }
            // At least N, and on until every joiner is connected (then one
            // more: each joiner gets at least that one).
            let mut i = 0;
            while i < N || server.client_count() < JOINERS + 1 {
                server.send_all(format!("a:{i}").as_bytes());
                i += 1;
            }
            server.send_all(format!("a:{i}").as_bytes());
            server.send_all(b"a:end");
        })
    };
    let mut trigger = Peer::connect(server.local_addr());
    let mut drain = trigger.try_clone_peer();
    let drainer = thread::spawn(move || drain.read_to_eof());
    go.store(true, Ordering::SeqCst);
    trigger.send_line("go");
    let joiners: Vec<_> = (0..JOINERS)
        .map(|j| {
            let addr = server.local_addr();
            thread::spawn(move || {
                let mut p = Peer::connect(addr);
                let mut next: [Option<usize>; 2] = [None, None];
                let mut ended = [false; 2];
                while ended != [true, true] {
                    let line = p.read_line();
                    let (tag, seq) = line.split_once(':').unwrap();
                    let t = usize::from(tag == "a");
                    if seq == "end" {
                        assert!(
                            next[t].is_some(),
                            "joiner {j}: sender {tag}: none before the end"
                        );
                        ended[t] = true;
                        continue;
                    }
                    let seq: usize = seq.parse().unwrap();
                    if let Some(n) = next[t] {
                        assert_eq!(seq, n, "joiner {j}: sender {tag}: a gap or disorder");
                    }
                    next[t] = Some(seq + 1);
                }
                p
            })
        })
        .collect();
    wait_clients(&server, JOINERS + 1);
    trigger.send_line("end");
    app.join().unwrap();
    let _peers: Vec<Peer> = joiners.into_iter().map(|h| h.join().unwrap()).collect();
    server.stop();
    drainer.join().unwrap();
}

#[test]
fn late_joiners_get_a_gap_free_suffix_2_loops() {
    late_joiners(2);
}

#[test]
fn late_joiners_get_a_gap_free_suffix_4_loops() {
    late_joiners(4);
}
