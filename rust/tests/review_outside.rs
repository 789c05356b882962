//! Review of the gathering of application threads' sends (the outside
//! lanes, `gather.rs`): several application threads and callbacks sending
//! to the same clients at once keep each sender's order and lose nothing;
//! a disconnect posted afterwards (by a thread that was told) comes after
//! all of it; a single send wakes a sleeping loop; pull-mode replies reach a
//! held client before its release; a stop during a flood leaves every send
//! that returned `Ok` counted once; on 1, 2, 16 and 17 loops.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tcphub::{ClientId, Event, Framing, Overflow, TcpServer};

/// Checks that, per source (the text before the first ':'), the numbers
/// after it (up to an optional second ':' and padding) come in order 0, 1,
/// 2, ...; returns how many came from each source.
fn check_per_source(who: &str, lines: &[String]) -> HashMap<String, usize> {
    let mut next: HashMap<String, usize> = HashMap::new();
    for line in lines {
        let mut fields = line.split(':');
        let (Some(src), Some(n)) = (fields.next(), fields.next()) else {
            panic!("{who}: unexpected line {line:?}");
        };
        let n: usize = n.parse().unwrap();
        let want = next.entry(src.to_string()).or_default();
        assert_eq!(n, *want, "{who}: source {src} out of order");
        *want += 1;
    }
    next
}

fn lines_of(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "cut last line");
    text.lines().map(str::to_string).collect()
}

/// Application threads send to each receiver (one by one, now and then a
/// message too large to gather, and broadcast), while a callback broadcasts
/// what a driver client sends; once all of it was sent, the main thread
/// disconnects every receiver: each receiver gets every message, each
/// source's in order (a thread's sends and broadcasts in one sequence),
/// then EOF.
fn senders_keep_order_then_a_disconnect(loops: usize) {
    const APP_THREADS: usize = 3;
    const N: usize = 1500;
    const DRIVER_LINES: usize = 1500;
    const RECEIVERS: usize = 4;
    let relayed = Arc::new(AtomicUsize::new(0));
    let counter = relayed.clone();
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .framing(Framing::lines())
        .max_queue_bytes(64 << 20)
        .on_message(move |srv, from, m| {
            let mut c = b"c:".to_vec();
            c.extend_from_slice(m);
            srv.send_all_except(from.id, &c);
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .start()
        .unwrap();
    let peers: Vec<Peer> = (0..RECEIVERS)
        .map(|_| Peer::connect(server.local_addr()))
        .collect();
    let ids: Vec<ClientId> = peers.iter().map(|p| p.id_on(&server)).collect();
    let mut driver = Peer::connect(server.local_addr());
    let driver_id = driver.id_on(&server);
    let readers: Vec<_> = peers
        .into_iter()
        .map(|mut p| std::thread::spawn(move || p.read_to_eof()))
        .collect();
    let apps: Vec<_> = (0..APP_THREADS)
        .map(|t| {
            let server = server.clone();
            let ids = ids.clone();
            std::thread::spawn(move || {
                let pad = "p".repeat(2000);
                for i in 0..N {
                    for &id in &ids {
                        let m = if i % 50 == 7 {
                            format!("t{t}:{}:{pad}", 2 * i) // posted, not gathered
                        } else {
                            format!("t{t}:{}", 2 * i)
                        };
                        server.send(id, m.as_bytes()).unwrap();
                    }
                    server.send_all_except(driver_id, format!("t{t}:{}", 2 * i + 1).as_bytes());
                }
            })
        })
        .collect();
    for i in 0..DRIVER_LINES {
        driver.send_line(&i.to_string());
    }
    for a in apps {
        a.join().unwrap();
    }
    wait_until("the callback relayed every driver line", || {
        relayed.load(Ordering::SeqCst) == DRIVER_LINES
    });
    for &id in &ids {
        server.disconnect(id).unwrap();
    }
    for (k, r) in readers.into_iter().enumerate() {
        let lines = lines_of(&r.join().unwrap());
        let who = format!("{loops} loops, receiver {k}");
        let got = check_per_source(&who, &lines);
        for t in 0..APP_THREADS {
            assert_eq!(
                got.get(&format!("t{t}")),
                Some(&(2 * N)),
                "{who}: messages of t{t}"
            );
        }
        assert_eq!(
            got.get("c"),
            Some(&DRIVER_LINES),
            "{who}: callback broadcasts"
        );
    }
    let stats = server.stats();
    assert_eq!(stats.undelivered, 0);
    assert_eq!(stats.dropped, 0);
    server.stop();
}

#[test]
fn senders_keep_order_then_a_disconnect_on_one_loop() {
    senders_keep_order_then_a_disconnect(1);
}

#[test]
fn senders_keep_order_then_a_disconnect_on_two_loops() {
    senders_keep_order_then_a_disconnect(2);
}

#[test]
fn senders_keep_order_then_a_disconnect_on_sixteen_loops() {
    senders_keep_order_then_a_disconnect(16);
}

#[test]
fn senders_keep_order_then_a_disconnect_on_seventeen_loops() {
    senders_keep_order_then_a_disconnect(17);
}

/// One message at a time from an application thread, each to loops that
/// have had time to fall asleep, reaches its client.
fn single_sends_wake_sleeping_loops(loops: usize) {
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(loops)
        .busy_poll(Duration::ZERO)
        .framing(Framing::lines())
        .start()
        .unwrap();
    let n = loops.max(2);
    let mut peers: Vec<Peer> = (0..n).map(|_| Peer::connect(server.local_addr())).collect();
    wait_clients(&server, n);
    let ids: Vec<ClientId> = peers.iter().map(|p| p.id_on(&server)).collect();
    for round in 0..6 {
        std::thread::sleep(Duration::from_millis(15));
        assert_eq!(server.send_all(format!("all {round}").as_bytes()), n);
        for p in peers.iter_mut() {
            assert_eq!(p.read_line(), format!("all {round}"));
        }
        for (k, p) in peers.iter_mut().enumerate() {
            std::thread::sleep(Duration::from_millis(5));
            server
                .send(ids[k], format!("one {round}").as_bytes())
                .unwrap();
            assert_eq!(p.read_line(), format!("one {round}"), "{loops} loops");
        }
    }
    server.stop();
}

#[test]
fn single_sends_wake_sleeping_loops_of_one_two_sixteen_and_seventeen() {
    for loops in [1, 2, 16, 17] {
        single_sends_wake_sleeping_loops(loops);
    }
}

/// Pull mode: a consumer answers each request with several small replies
/// after the peer has finished sending; its next call for events releases
/// the held connection, which must come after the replies.
#[test]
fn pull_mode_replies_reach_half_closed_peers_before_their_release() {
    const PEERS: usize = 8;
    const REQUESTS: usize = 20;
    const REPLIES: usize = 30;
    for loops in [1, 2] {
        let server = TcpServer::new(0, 64)
            .bind(localhost())
            .threads(loops)
            .framing(Framing::lines())
            .start()
            .unwrap();
        let events = server.events();
        let consumer = {
            let server = server.clone();
            std::thread::spawn(move || {
                let mut gone = 0;
                while gone < PEERS {
                    match next_event(&events) {
                        Event::Message(c, m) => {
                            let m = String::from_utf8(m).unwrap();
                            for r in 0..REPLIES {
                                server.send(c.id, format!("{m}-{r}").as_bytes()).unwrap();
                            }
                        }
                        Event::Disconnected(..) => gone += 1,
                        _ => {}
                    }
                }
                // One more call: releases the last ones.
                let _ = events.try_recv();
            })
        };
        let peers: Vec<_> = (0..PEERS)
            .map(|k| {
                let mut p = Peer::connect(server.local_addr());
                std::thread::spawn(move || {
                    for q in 0..REQUESTS {
                        p.send_line(&format!("p{k}q{q}"));
                    }
                    p.shutdown_write();
                    let lines = lines_of(&p.read_to_eof());
                    let want: Vec<String> = (0..REQUESTS)
                        .flat_map(|q| (0..REPLIES).map(move |r| format!("p{k}q{q}-{r}")))
                        .collect();
                    assert_eq!(lines, want, "{loops} loops, peer {k}");
                })
            })
            .collect();
        for p in peers {
            p.join().unwrap();
        }
        consumer.join().unwrap();
        let stats = server.stats();
        assert_eq!(stats.msgs_out, (PEERS * REQUESTS * REPLIES) as u64);
        assert_eq!(stats.undelivered, 0);
        server.stop();
    }
}

/// Several application threads flood a client that does not read, under
/// `DropMessage`, while another thread stops the server: the stop ends, and
/// every send that returned `Ok` is counted exactly once (queued, dropped or
/// undelivered). (Sends only: a broadcast left unapplied at the stop is not
/// counted anywhere, before this change as after.)
#[test]
fn a_stop_during_a_flood_from_several_threads_counts_every_ok_send() {
    const THREADS: usize = 3;
    for (round, loops) in [1usize, 2, 2, 16].into_iter().enumerate() {
        let server = TcpServer::new(0, 64)
            .bind(localhost())
            .threads(loops)
            .framing(Framing::lines())
            .overflow(Overflow::DropMessage)
            .max_queue_bytes(64 * 1024)
            .linger(Duration::from_millis(300))
            .start()
            .unwrap();
        let peers: Vec<Peer> = (0..loops.min(4))
            .map(|_| Peer::connect_with_rcvbuf(server.local_addr(), 4096))
            .collect();
        wait_clients(&server, peers.len());
        let ids: Vec<ClientId> = peers.iter().map(|p| p.id_on(&server)).collect();
        let oks = Arc::new(AtomicU64::new(0));
        let started = Arc::new(AtomicBool::new(false));
        let floods: Vec<_> = (0..THREADS)
            .map(|t| {
                let server = server.clone();
                let ids = ids.clone();
                let oks = oks.clone();
                let started = started.clone();
                std::thread::spawn(move || {
                    let mut i = 0usize;
                    loop {
                        match server.send(ids[(i + t) % ids.len()], b"x") {
                            Ok(()) => {
                                oks.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(tcphub::Error::NotRunning | tcphub::Error::NoSuchClient(_)) => {
                                return;
                            }
                            Err(e) => panic!("{e}"),
                        }
                        i += 1;
                        if i == 50_000 {
                            started.store(true, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        wait_until("the floods are under way", || {
            started.load(Ordering::SeqCst)
        });
        assert!(
            server.stop_timeout(TIMEOUT),
            "round {round}: the stop did not finish"
        );
        for f in floods {
            f.join().unwrap();
        }
        let s = server.stats();
        assert_eq!(
            s.msgs_out + s.dropped + s.undelivered,
            oks.load(Ordering::SeqCst),
            "round {round} ({loops} loops): msgs_out {} + dropped {} + undelivered {} vs Ok sends",
            s.msgs_out,
            s.dropped,
            s.undelivered
        );
        drop(peers);
    }
}
