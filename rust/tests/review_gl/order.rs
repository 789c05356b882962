//! Review (gl): per-sender order and completeness of a mix of gathered
//! (`send`, `send_to`, `send_many`, `send_all`, `send_all_except` of small
//! messages) and ungathered (large) sends, made by a callback on one loop
//! and by an application thread at the same time, to clients on every
//! loop; with 2, 4 and 20 loops (beyond `GATHER_MAX_LOOPS`: posted one by
//! one). Each sender numbers its operations; every receiver must see each
//! sender's numbers exactly once, in order. Also: what a callback or an
//! application thread sends before it stops the server reaches everyone.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread;

use crate::support::*;
use tcphub::{ClientId, Framing, ServerHandle, TcpServer};

const RECEIVERS: usize = 6;
const TRIGGERS: usize = 400;

/// One numbered operation of sender `tag` to every receiver; `op` picks the
/// kind. Returns nothing: sends to gone clients are not expected here.
fn operate(
    srv: &ServerHandle,
    tag: char,
    seq: usize,
    ids: &[ClientId],
    addrs: &[SocketAddr],
    except: Option<ClientId>,
) {
    let small = format!("{tag}:{seq}");
    let large = format!("{tag}:{seq}:{}", "x".repeat(1500));
    match seq % 7 {
        0 => {
            for &id in ids {
                srv.send(id, small.as_bytes()).unwrap();
            }
        }
        1 => {
            for a in addrs {
                srv.send_to(a.ip(), a.port(), small.as_bytes()).unwrap();
            }
        }
        2 => assert_eq!(srv.send_many(ids, small.as_bytes()), ids.len()),
        3 => match except {
            Some(e) => {
                srv.send_all_except(e, small.as_bytes());
            }
            None => {
                srv.send_all(small.as_bytes());
            }
        },
        4 => {
            srv.send_all(small.as_bytes());
        }
        5 => {
            for &id in ids {
                srv.send(id, large.as_bytes()).unwrap();
            }
        }
        _ => {
            srv.send_all(large.as_bytes());
        }
    }
}

/// Reads `per_tag` numbered messages of each of `tags` from `p` (plus
/// whatever else arrives) and asserts each tag's numbers are 0, 1, 2, …
fn expect_in_order(p: &mut Peer, tags: &[char], per_tag: usize, who: &str) {
    let mut next = vec![0usize; tags.len()];
    while next.iter().any(|&n| n < per_tag) {
        let line = p.read_line();
        let mut parts = line.splitn(3, ':');
        let tag = parts.next().unwrap().chars().next().unwrap();
        let seq: usize = parts.next().unwrap().parse().unwrap();
        let Some(t) = tags.iter().position(|&c| c == tag) else {
            continue;
        };
        assert_eq!(
            seq, next[t],
            "{who}: sender {tag}: expected #{} got #{seq}",
            next[t]
        );
        next[t] += 1;
    }
}

fn order_with_loops(loops: usize) {
    let targets: Arc<Mutex<(Vec<ClientId>, Vec<SocketAddr>)>> = Arc::default();
    let t = targets.clone();
    let seq = Arc::new(Mutex::new(0usize));
    let s = seq.clone();
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .framing(Framing::lines())
        // Order is tested here, not the queue bound: readers starved on a
        // loaded machine must not be cut as slow consumers.
        .max_queue_bytes(256 << 20)
        .on_message(move |srv, from, _m| {
            let (ids, addrs) = t.lock().unwrap().clone();
            let mut s = s.lock().unwrap();
            operate(srv, 'c', *s, &ids, &addrs, Some(from.id));
            *s += 1;
        })
        .start()
        .unwrap();
    // Receivers spread over the loops.
    let peers = connect_peers(&server, RECEIVERS);
    {
        let mut t = targets.lock().unwrap();
        for p in &peers {
            t.0.push(p.id_on(&server));
            t.1.push(p.addr());
        }
    }
    let (ids, addrs) = targets.lock().unwrap().clone();
    let readers: Vec<_> = peers
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            thread::spawn(move || {
                expect_in_order(&mut p, &['c', 'a'], TRIGGERS, &format!("receiver {i}"));
            })
        })
        .collect();
    // The trigger reads what send_all gives it, in its own thread.
    let mut trigger = Peer::connect(server.local_addr());
    let mut drain = trigger.try_clone_peer();
    let drainer = thread::spawn(move || drain.read_to_eof());
    let app = {
        let server = server.clone();
        thread::spawn(move || {
            for i in 0..TRIGGERS {
                operate(&server, 'a', i, &ids, &addrs, None);
            }
        })
    };
    let mut burst = String::new();
    for i in 0..TRIGGERS {
        burst.push_str(&format!("{i}\n"));
    }
    trigger.send(burst.as_bytes());
    app.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(*seq.lock().unwrap(), TRIGGERS);
    server.stop();
    drainer.join().unwrap();
}

#[test]
fn mixed_sends_keep_each_sender_s_order_with_2_loops() {
    order_with_loops(2);
}

#[test]
fn mixed_sends_keep_each_sender_s_order_with_4_loops() {
    order_with_loops(4);
}

#[test]
fn mixed_sends_keep_each_sender_s_order_beyond_gather_max_loops() {
    order_with_loops(20);
}

/// A callback that sends (gathered, for every loop) and then stops the
/// server: "a callback that stops the server itself sends its last words
/// first" and the stop flushes queued messages.
fn last_words_with_loops(loops: usize) {
    const N: usize = 500;
    let ids: Arc<Mutex<Vec<ClientId>>> = Arc::default();
    let t = ids.clone();
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .framing(Framing::lines())
        // Order is tested here, not the queue bound: readers starved on a
        // loaded machine must not be cut as slow consumers.
        .max_queue_bytes(256 << 20)
        .on_message(move |srv, from, _m| {
            let ids = t.lock().unwrap().clone();
            for i in 0..N {
                let m = format!("c:{i}");
                match i % 3 {
                    0 => {
                        srv.send_all_except(from.id, m.as_bytes());
                    }
                    1 => {
                        for &id in &ids {
                            srv.send(id, m.as_bytes()).unwrap();
                        }
                    }
                    _ => {
                        srv.send_many(&ids, m.as_bytes());
                    }
                }
            }
            srv.stop();
        })
        .start()
        .unwrap();
    let mut peers = connect_peers(&server, RECEIVERS);
    ids.lock()
        .unwrap()
        .extend(peers.iter().map(|p| p.id_on(&server)));
    let mut trigger = Peer::connect(server.local_addr());
    trigger.send_line("go");
    for (i, p) in peers.iter_mut().enumerate() {
        expect_in_order(p, &['c'], N, &format!("receiver {i}"));
        p.expect_eof();
    }
    server.stop();
}

#[test]
fn a_callback_s_gathered_last_words_reach_every_loop_before_the_stop_2_loops() {
    last_words_with_loops(2);
}

#[test]
fn a_callback_s_gathered_last_words_reach_every_loop_before_the_stop_4_loops() {
    last_words_with_loops(4);
}

#[test]
fn an_application_thread_s_gathered_sends_before_stop_are_flushed() {
    const N: usize = 2000;
    for loops in [2, 4] {
        let server = TcpServer::new(0, 64)
            .bind(localhost())
            .threads(loops)
            .framing(Framing::lines())
            // Order is tested here, not the queue bound: readers starved on a
            // loaded machine must not be cut as slow consumers.
            .max_queue_bytes(256 << 20)
            .start()
            .unwrap();
        let peers = connect_peers(&server, RECEIVERS);
        let ids: Vec<ClientId> = peers.iter().map(|p| p.id_on(&server)).collect();
        let readers: Vec<_> = peers
            .into_iter()
            .enumerate()
            .map(|(i, mut p)| {
                thread::spawn(move || {
                    expect_in_order(&mut p, &['a'], N, &format!("receiver {i}"));
                    p.expect_eof();
                })
            })
            .collect();
        for i in 0..N {
            let m = format!("a:{i}");
            match i % 3 {
                0 => {
                    server.send_all(m.as_bytes());
                }
                1 => {
                    for &id in &ids {
                        server.send(id, m.as_bytes()).unwrap();
                    }
                }
                _ => {
                    server.send_many(&ids, m.as_bytes());
                }
            }
        }
        server.stop();
        for r in readers {
            r.join().unwrap();
        }
    }
}
