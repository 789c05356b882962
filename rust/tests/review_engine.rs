//! Adversarial loopback tests of the server engine from a review: streams
//! split at every byte boundary, connect/close storms while other threads
//! `send_all` / `send_to` / `disconnect` (a steady reader must get every
//! message once, in order, and `max_clients` must be whole afterwards),
//! pull-mode backpressure with many half-closing clients that are answered
//! per message, `stop()` while clients are in the middle of a frame, and
//! `send_to` by `[::1]:port` across several loops, a slow-but-alive
//! client under the idle timeout beside a flood, pull-mode events
//! through a storm with kicks (each client reported once); and a backlog of
//! connections that held the accepting loop away from its clients (bug),
//! and a pull-mode flooder that kept the other clients of its loop unread
//! (bug). (A full pull queue that did not stop accepting: `accept_pause_loops.rs`.)

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{
    localhost, lp_frame, next_event, wait_clients, wait_until, Disconnects, Peer, TIMEOUT,
};
use tcphub::{DisconnectReason, Event, Framing, TcpServer};

/// Every split of a stream of several frames into two writes gives the same
/// messages as one write (length-prefixed and lines, `\r\n` included).
#[test]
fn a_stream_split_at_every_byte_boundary_is_decoded_the_same() {
    for framing in [
        Framing::LengthPrefixed { max_len: 16 },
        Framing::Lines { max_len: 16 },
    ] {
        let server = support::echo_server(framing);
        let mut peer = Peer::connect(server.local_addr());
        let msgs: Vec<&[u8]> = vec![b"", b"a", b"0123456789abcdef", b"xy", b""];
        let stream: Vec<u8> = match framing {
            Framing::LengthPrefixed { .. } => msgs.iter().flat_map(|m| lp_frame(m)).collect(),
            _ => msgs
                .iter()
                .enumerate()
                .flat_map(|(i, m)| {
                    let mut v = m.to_vec();
                    v.extend_from_slice(if i % 2 == 0 { b"\r\n" } else { b"\n" });
                    v
                })
                .collect(),
        };
        for k in 0..=stream.len() {
            peer.send(&stream[..k]);
            peer.send(&stream[k..]);
            for m in &msgs {
                let got = match framing {
                    Framing::LengthPrefixed { .. } => peer.read_frame(),
                    _ => peer.read_line().into_bytes(),
                };
                assert_eq!(&got[..], *m, "{framing:?}, split at {k}");
            }
        }
        server.stop();
    }
}

/// A steady reader gets every `send_all` and every `send_to` of other
/// threads exactly once and in order while connections come and go around
/// it (closed, reset, reset in the middle of a frame, kicked by another
/// thread, refused at `max_clients`); afterwards every slot is free again.
#[test]
fn a_steady_reader_loses_nothing_in_a_storm_and_max_clients_is_whole_after() {
    const MAX: usize = 24;
    const ROUNDS: usize = 2_000;
    let gone = Disconnects::new();
    let server = TcpServer::new(0, MAX)
        .bind(localhost())
        .threads(3)
        .framing(Framing::lines())
        .full_message("full")
        .on_message(|srv, c, msg| {
            if msg == b"echo" {
                let _ = srv.send(c.id, b"echoed");
            }
        })
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let addr = server.local_addr();
    let mut reader = Peer::connect(addr);
    let reader_addr = reader.addr();
    let reader_id = reader.id_on(&server);
    let stop = Arc::new(AtomicBool::new(false));

    let mut threads = Vec::new();
    // Connection churn of every kind.
    for seed in 0..3u64 {
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            let mut rng = support::Rng::new(seed);
            let mut connects = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut p = Peer::connect(addr);
                connects += 1;
                match rng.below(4) {
                    0 => drop(p),
                    1 => p.reset(),
                    2 => {
                        p.send_lossy(b"half a li");
                        p.reset();
                    }
                    _ => {
                        p.send_lossy(b"echo\nmore");
                        drop(p);
                    }
                }
            }
            connects
        }));
    }
    // Kicks of whoever else is connected.
    let kicker = {
        let server = server.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for c in server.clients() {
                    if c.id != reader_id {
                        let _ = server.disconnect(c.id);
                        let _ = server.send(c.id, b"kicked");
                    }
                }
                std::thread::yield_now();
            }
        })
    };
    // The unicasts, from their own thread, interleaved with the broadcasts.
    let unicast = {
        let server = server.clone();
        std::thread::spawn(move || {
            for i in 0..ROUNDS {
                server
                    .send_to(
                        reader_addr.ip(),
                        reader_addr.port(),
                        format!("u{i}").as_bytes(),
                    )
                    .expect("send_to the reader");
            }
        })
    };
    let broadcast = {
        let server = server.clone();
        std::thread::spawn(move || {
            for i in 0..ROUNDS {
                assert!(server.send_all(format!("b{i}").as_bytes()) >= 1);
            }
        })
    };
    let (mut next_u, mut next_b) = (0, 0);
    while next_u < ROUNDS || next_b < ROUNDS {
        let line = reader.read_line();
        let (want, next) = match line.as_bytes()[0] {
            b'u' => ("u", &mut next_u),
            b'b' => ("b", &mut next_b),
            _ => panic!("unexpected line {line:?}"),
        };
        assert_eq!(
            line,
            format!("{want}{next}"),
            "lost, duplicated or reordered"
        );
        *next += 1;
    }
    unicast.join().expect("unicast thread");
    broadcast.join().expect("broadcast thread");
    stop.store(true, Ordering::Relaxed);
    let connects: u64 = threads
        .into_iter()
        .map(|t| t.join().expect("storm thread"))
        .sum();
    kicker.join().expect("kicker");
    assert!(gone.reason_of(reader_id).is_none(), "the reader was cut");
    // Every slot but the reader's comes back once the storm's last
    // connections are out of the backlog and closed.
    wait_until("the storm's clients taken and gone", || {
        let s = server.stats();
        s.accepted + s.rejected == connects + 1 && server.client_count() == 1
    });
    let mut full: Vec<Peer> = (1..MAX).map(|_| Peer::connect(addr)).collect();
    wait_clients(&server, MAX);
    for p in &mut full {
        p.send_line("echo");
        assert_eq!(p.read_line(), "echoed");
    }
    let mut refused = Peer::connect(addr);
    assert_eq!(refused.read_line(), "full");
    refused.expect_eof();
    server.stop();
}

/// Pull mode, a tiny event queue and many clients that each send numbered
/// lines and half-close: the application answers every message and says
/// goodbye on the `Disconnected`; every client gets every answer in order,
/// then the goodbye, then EOF.
#[test]
fn pull_mode_answers_reach_many_half_closing_clients_through_backpressure() {
    const CLIENTS: usize = 30;
    const LINES: usize = 300;
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .event_capacity(8)
        .linger(Duration::from_secs(20))
        .start()
        .expect("start");
    let events = server.events();
    let addr = server.local_addr();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            std::thread::spawn(move || {
                let mut p = Peer::connect(addr);
                let mut all = Vec::new();
                for j in 0..LINES {
                    all.extend_from_slice(format!("{j}\n").as_bytes());
                }
                p.send(&all);
                p.shutdown_write();
                for j in 0..LINES {
                    assert_eq!(p.read_line(), format!("re {j}"));
                }
                assert_eq!(p.read_line(), "bye");
                p.expect_eof();
            })
        })
        .collect();
    let mut next: HashMap<u64, usize> = HashMap::new();
    let mut ended = 0;
    let deadline = Instant::now() + TIMEOUT * 3;
    while ended < CLIENTS {
        assert!(Instant::now() < deadline, "{ended} of {CLIENTS} ended");
        match next_event(&events) {
            Event::Connected(c) => assert!(next.insert(c.id, 0).is_none()),
            Event::Message(c, m) => {
                let n = next.get_mut(&c.id).expect("message before Connected");
                assert_eq!(m, format!("{n}").into_bytes(), "client {c}");
                server
                    .send(c.id, format!("re {n}").as_bytes())
                    .expect("answer");
                *n += 1;
            }
            Event::Disconnected(c, why) => {
                assert_eq!(why, DisconnectReason::ClosedByPeer);
                assert_eq!(next[&c.id], LINES, "client {c}");
                server.send(c.id, b"bye").expect("goodbye to a held client");
                ended += 1;
            }
        }
    }
    // Their EOFs come after the next call for events.
    let _ = events.try_recv();
    for c in clients {
        c.join().expect("client");
    }
    server.stop();
}

/// `stop()` while clients are in the middle of a frame: what was queued for
/// a reader is delivered whole, the half-sent frames are not delivered, and
/// every client is reported once as `ServerStopped`.
#[test]
fn stop_with_clients_in_the_middle_of_a_frame_delivers_what_was_queued() {
    const BIG: usize = 512 * 1024;
    let gone = Disconnects::new();
    let got = Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let server = {
        let got = got.clone();
        TcpServer::new(0, 10)
            .bind(localhost())
            .threads(2)
            .framing(Framing::length_prefixed())
            .linger(Duration::from_secs(20))
            .on_message(move |_, _, m| got.lock().unwrap().push(m.to_vec()))
            .on_disconnect(gone.recorder())
            .start()
            .expect("start")
    };
    let mut reader = Peer::connect(server.local_addr());
    let reader_id = reader.id_on(&server);
    let mut cut: Vec<Peer> = (0..4).map(|_| Peer::connect(server.local_addr())).collect();
    wait_clients(&server, 5);
    let whole = lp_frame(&[7u8; 100]);
    for (i, p) in cut.iter_mut().enumerate() {
        p.send(&whole);
        p.send(&whole[..[1, 3, 4, 50][i]]);
    }
    wait_until("the whole frames", || got.lock().unwrap().len() == 4);
    for i in 0..8u8 {
        server.send(reader_id, &vec![i; BIG]).expect("queued");
    }
    let stopper = {
        let server = server.clone();
        std::thread::spawn(move || server.stop())
    };
    for i in 0..8u8 {
        assert_eq!(reader.read_frame(), vec![i; BIG], "message {i}");
    }
    reader.expect_eof();
    for p in &mut cut {
        p.expect_eof();
    }
    stopper.join().expect("stop");
    let all = gone.wait_count(5);
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(
        all.iter()
            .all(|(_, r)| *r == DisconnectReason::ServerStopped),
        "{all:?}"
    );
    assert_eq!(got.lock().unwrap().len(), 4, "a cut frame was delivered");
}

/// `send_to` by `[::1]:port` finds each of many IPv6 clients spread over
/// several loops.
#[test]
fn send_to_finds_every_ipv6_client_across_loops() {
    let server = match TcpServer::new(0, 100)
        .bind("::1".parse().unwrap())
        .threads(3)
        .framing(Framing::lines())
        .start()
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: cannot listen on [::1] ({e})");
            return;
        }
    };
    let mut peers: Vec<Peer> = (0..12)
        .map(|_| Peer::connect(server.local_addr()))
        .collect();
    wait_clients(&server, 12);
    for round in 0..3 {
        for p in &peers {
            let a = p.addr();
            server
                .send_to(a.ip(), a.port(), format!("{round} {a}").as_bytes())
                .expect("send_to");
        }
        for p in &mut peers {
            let a = p.addr();
            assert_eq!(p.read_line(), format!("{round} {a}"));
        }
    }
    server.stop();
}

/// A connect storm must not keep the accepting loop from its own clients.
/// Loop 0 accepted until the backlog was empty: against peers connecting
/// as fast as it accepted, one turn lasted as long as the storm (1.3 s and
/// 12,675 connections in one turn measured, with four connecting threads),
/// and its clients got no reply, no command and no timer meanwhile.
///
/// Deterministic form: while the only loop is held in a callback, 2,000
/// connections wait in the backlog behind it and a client sends a probe.
/// The probe's callback notes how many connections the loop had taken by
/// then: before the fix, all of them (the whole backlog was accepted
/// before the client's input was read).
#[test]
fn a_backlog_of_connections_does_not_hold_up_the_accepting_loop_s_clients() {
    // As many as the host's somaxconn lets wait (past it a connect below
    // waits out its SYN retries and fails), and enough that the loop
    // cannot take half of them in the few accept turns (128 each) it may
    // run before it reads its client.
    let backlog = 2_000.min(support::somaxconn());
    if backlog < 1_024 {
        eprintln!("skipped: net.core.somaxconn holds only {backlog} waiting connections");
        return;
    }
    support::raise_fd_limit(2 * backlog as u64 + 200);
    let gate = support::LoopGate::new();
    let taken_at_probe = Arc::new(std::sync::Mutex::new(None::<u64>));
    let server = {
        let (taken_at_probe, gate) = (taken_at_probe.clone(), gate.clone());
        TcpServer::new(0, 4)
            .bind(localhost())
            .threads(1)
            .framing(Framing::lines())
            .on_message(move |srv, c, m| {
                if !gate.stays_on(m) && m == b"probe" {
                    let s = srv.stats();
                    *taken_at_probe.lock().unwrap() = Some(s.accepted + s.rejected);
                    let _ = srv.send(c.id, b"probed");
                }
            })
            .start()
            .expect("start")
    };
    let addr = server.local_addr();
    let mut steady = Peer::connect(addr);
    steady.id_on(&server);
    gate.hold(&mut steady);
    let waiting: Vec<std::net::TcpStream> = (0..backlog)
        .map(|_| std::net::TcpStream::connect(addr).expect("connect into the backlog"))
        .collect();
    steady.send_line("probe");
    gate.go_on();
    assert_eq!(steady.read_line(), "probed");
    let taken = taken_at_probe.lock().unwrap().expect("probe noted");
    assert!(
        taken < backlog as u64 / 2,
        "the loop took {taken} of {backlog} waiting connections before reading its client"
    );
    drop(waiting);
    server.stop();
}

/// Pull mode: a client that floods must not keep the others of its loop
/// from being read. While the event queue was full, every connection with
/// input waited in the loop's read-again list; when room came the list was
/// read in order and the first connection — the flooder, which had filled
/// the queue — refilled it at once and was put first again, so a client
/// behind it was never read for as long as the flood lasted.
#[test]
fn pull_mode_a_flooding_client_does_not_starve_the_others_of_its_loop() {
    const CAPACITY: usize = 16;
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .event_capacity(CAPACITY)
        .start()
        .expect("start");
    let events = server.events();
    let mut flooder = Peer::connect(server.local_addr());
    let flooder_id = flooder.id_on(&server);
    let mut other = Peer::connect(server.local_addr());
    let other_id = other.id_on(&server);
    for _ in 0..2 {
        assert!(matches!(next_event(&events), Event::Connected(_)));
    }
    let flooding = Arc::new(AtomicBool::new(true));
    let flood = {
        let flooding = flooding.clone();
        let mut stream = flooder.stream.try_clone().expect("clone");
        std::thread::spawn(move || {
            use std::io::Write;
            let chunk = b"flood....\n".repeat(6_554);
            while flooding.load(Ordering::Relaxed) {
                if stream.write_all(&chunk).is_err() {
                    return;
                }
            }
        })
    };
    wait_until("the flood fills the event queue", || {
        events.len() >= CAPACITY
    });
    other.send_line("from the other client");
    let deadline = Instant::now() + TIMEOUT;
    let mut flood_messages = 0u64;
    loop {
        assert!(
            Instant::now() < deadline,
            "the other client was not read within {TIMEOUT:?} \
             ({flood_messages} flood messages taken meanwhile)"
        );
        match next_event(&events) {
            Event::Message(c, _) if c.id == flooder_id => flood_messages += 1,
            Event::Message(c, m) => {
                assert_eq!(c.id, other_id);
                assert_eq!(m, b"from the other client");
                break;
            }
            e => panic!("unexpected {e:?}"),
        }
    }
    flooding.store(false, Ordering::Relaxed);
    flooder.shutdown_write();
    server.stop();
    flood.join().expect("flood thread");
    let _ = &mut flooder;
}

/// Pull mode under a connect storm (closes, resets, half-closes, resets in
/// the middle of a line) while other threads kick and broadcast: every
/// client is reported `Connected` once, then its messages, then
/// `Disconnected` once; afterwards nobody is left and the counters agree.
#[test]
fn pull_mode_reports_each_client_once_through_a_storm_with_kicks() {
    const CYCLES: usize = 600;
    let server = TcpServer::new(0, 32)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .event_capacity(32)
        .linger(Duration::from_secs(5))
        .start()
        .expect("start");
    let events = server.events();
    let addr = server.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let mut helpers = Vec::new();
    {
        let server = server.clone();
        let stop = stop.clone();
        helpers.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for c in server.clients().into_iter().step_by(2) {
                    let _ = server.disconnect(c.id);
                }
                server.send_all(b"all");
                std::thread::yield_now();
            }
        }));
    }
    let storm: Vec<_> = (0..3u64)
        .map(|seed| {
            std::thread::spawn(move || {
                let mut rng = support::Rng::new(seed + 10);
                for _ in 0..CYCLES / 3 {
                    let mut p = Peer::connect(addr);
                    match rng.below(4) {
                        0 => drop(p),
                        1 => {
                            p.send_lossy(b"one\ntwo\nhalf");
                            p.reset();
                        }
                        2 => {
                            p.send_lossy(b"last\n");
                            let _ = p.stream.shutdown(std::net::Shutdown::Write);
                            let _ = p.drain_until_closed();
                        }
                        _ => {
                            p.send_lossy(b"x\n");
                            drop(p);
                        }
                    }
                }
            })
        })
        .collect();
    #[derive(PartialEq, Debug)]
    enum State {
        Connected,
        Gone,
    }
    let mut seen: HashMap<u64, State> = HashMap::new();
    let mut storm_done = false;
    let mut storm = Some(storm);
    let deadline = Instant::now() + TIMEOUT * 3;
    loop {
        assert!(Instant::now() < deadline, "the storm did not end");
        if !storm_done && storm.as_ref().unwrap().iter().all(|t| t.is_finished()) {
            for t in storm.take().unwrap() {
                t.join().expect("storm thread");
            }
            storm_done = true;
        }
        // Every connection out of the backlog, and each one admitted seen.
        let taken = || {
            let s = server.stats();
            s.accepted + s.rejected == CYCLES as u64 && s.accepted == seen.len() as u64
        };
        if storm_done
            && taken()
            && seen.values().all(|s| *s == State::Gone)
            && server.client_count() == 0
        {
            break;
        }
        let Ok(ev) = events.recv_timeout(Duration::from_millis(50)) else {
            continue;
        };
        match ev {
            Event::Connected(c) => {
                assert!(seen.insert(c.id, State::Connected).is_none(), "{c} twice");
            }
            Event::Message(c, m) => {
                assert_eq!(seen.get(&c.id), Some(&State::Connected), "{c}: {m:?}");
                assert!(
                    [&b"one"[..], b"two", b"last", b"x"].contains(&&m[..]),
                    "{m:?}"
                );
            }
            Event::Disconnected(c, _) => {
                assert_eq!(
                    seen.insert(c.id, State::Gone),
                    Some(State::Connected),
                    "{c} reported gone twice or before it came"
                );
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in helpers {
        h.join().expect("helper");
    }
    let s = server.stats();
    assert_eq!(s.accepted, seen.len() as u64);
    assert_eq!(s.accepted, s.disconnected, "{s:?}");
    assert_eq!(s.accepted + s.rejected, CYCLES as u64, "{s:?}");
    server.stop();
}

/// The idle timeout under load: a client that sends a line every 150 ms is
/// never cut by a 1 s idle timeout while another client floods the same
/// loop, and a silent one beside them is.
#[test]
fn a_slow_but_alive_client_outlives_the_idle_timeout_beside_a_flood() {
    let gone = Disconnects::new();
    let heartbeats = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let server = {
        let heartbeats = heartbeats.clone();
        TcpServer::new(0, 10)
            .bind(localhost())
            .threads(1)
            .framing(Framing::lines())
            .idle_timeout(Duration::from_secs(1))
            .on_message(move |_, _, m| {
                if m == b"hb" {
                    heartbeats.fetch_add(1, Ordering::SeqCst);
                }
            })
            .on_disconnect(gone.recorder())
            .start()
            .expect("start")
    };
    let addr = server.local_addr();
    let flooder = Peer::connect(addr);
    let mut alive = Peer::connect(addr);
    let alive_id = alive.id_on(&server);
    let silent = Peer::connect(addr);
    let silent_id = silent.id_on(&server);
    let flooding = Arc::new(AtomicBool::new(true));
    let flood = {
        let flooding = flooding.clone();
        let mut stream = flooder.stream.try_clone().expect("clone");
        std::thread::spawn(move || {
            use std::io::Write;
            let chunk = b"flood\n".repeat(10_000);
            while flooding.load(Ordering::Relaxed) {
                if stream.write_all(&chunk).is_err() {
                    return;
                }
            }
        })
    };
    // Paced sends (not an assertion): 20 lines over ~3 s, three idle
    // timeouts' worth.
    for _ in 0..20 {
        alive.send_line("hb");
        std::thread::sleep(Duration::from_millis(150));
    }
    assert_eq!(gone.wait_for(silent_id), DisconnectReason::IdleTimeout);
    wait_until("every heartbeat", || {
        heartbeats.load(Ordering::SeqCst) == 20
    });
    assert_eq!(gone.reason_of(alive_id), None, "the live client was cut");
    flooding.store(false, Ordering::Relaxed);
    flooder.shutdown_write();
    flood.join().expect("flood thread");
    drop(silent);
    server.stop();
}
