//! Review (statistics): each counter against a scenario whose exact value
//! is known, and the invariants `Stats` promises at quiescence.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use support::{localhost, wait_until, Disconnects, Peer};
use tcphub::{DisconnectReason, Event, Framing, ServerHandle, Stats, TcpServer};

/// A client kicked from another thread while its loop is inside one of its
/// `on_message` calls, whose same read then goes on to a frame over the
/// limit: the kick is applied first (the close's pump), the client is
/// reported `Kicked` — and must not count in `frame_too_large`, which
/// counts "clients disconnected for sending an oversize frame" (as a
/// timeout is counted only when its close is the one that happens).
#[test]
fn an_oversize_frame_after_a_pending_kick_is_not_counted_as_frame_too_large() {
    let departures = Disconnects::new();
    let kicked = Arc::new(AtomicBool::new(false));
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::Lines { max_len: 16 })
        .on_message({
            let kicked = kicked.clone();
            move |srv, c, msg| {
                if msg == b"kick me" && !kicked.swap(true, Ordering::SeqCst) {
                    // Another thread's kick: posted to the channel, applied
                    // at the loop's next pump (this callback waits for it
                    // to be posted, not applied).
                    let (srv, id) = (srv.clone(), c.id);
                    std::thread::spawn(move || srv.disconnect(id))
                        .join()
                        .unwrap()
                        .expect("disconnect");
                }
            }
        })
        .on_disconnect(departures.recorder())
        .start()
        .expect("start");
    let mut peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    // One write: the line, then a line over the limit, read together.
    let mut bytes = b"kick me\n".to_vec();
    bytes.extend_from_slice(&[b'z'; 40]);
    bytes.push(b'\n');
    peer.send(&bytes);
    let why = departures.wait_for(id);
    let stats = server.stats();
    server.stop();
    assert_eq!(
        (why.clone(), stats.frame_too_large),
        (
            DisconnectReason::Kicked,
            u64::from(why == DisconnectReason::FrameTooLarge)
        ),
        "{stats:?}"
    );
}

/// The bytes `msg` takes on the wire under `framing`.
fn wire(framing: Framing, msg: &[u8]) -> u64 {
    msg.len() as u64
        + match framing {
            Framing::Raw => 0,
            Framing::Lines { .. } => 1,
            Framing::LengthPrefixed { .. } => 4,
        }
}

/// Frames `msg` for a peer to send.
fn frame(framing: Framing, msg: &[u8]) -> Vec<u8> {
    match framing {
        Framing::Raw => msg.to_vec(),
        Framing::Lines { .. } => [msg, b"\n"].concat(),
        Framing::LengthPrefixed { .. } => support::lp_frame(msg),
    }
}

const FRAMINGS: [Framing; 3] = [
    Framing::Raw,
    Framing::Lines { max_len: 4096 },
    Framing::LengthPrefixed { max_len: 4096 },
];

/// Starts a server of `threads` loops; in pull mode a thread takes every
/// event (so held connections are released as they are taken).
fn start(
    framing: Framing,
    threads: usize,
    pull: bool,
) -> (ServerHandle, Option<thread::JoinHandle<()>>) {
    let builder = TcpServer::new(0, 64)
        .bind(localhost())
        .threads(threads)
        .framing(framing);
    if pull {
        let server = builder.start().expect("start");
        let events = server.events();
        let taker = thread::spawn(move || while events.recv().is_some() {});
        (server, Some(taker))
    } else {
        let server = builder
            .on_message(|_, _, _| {})
            .on_disconnect(|_, _, _| {})
            .start()
            .expect("start");
        (server, None)
    }
}

fn assert_quiescent(stats: &Stats) {
    assert_eq!(
        stats.accepted,
        stats.disconnected + stats.clients,
        "{stats:?}"
    );
}

/// Every counter in a scenario whose values are all known: 6 clients, each
/// kind of send from an application thread, messages in, clients leaving
/// by closing and by a kick with nothing queued, then the stop.
fn exact_scenario(framing: Framing, threads: usize, pull: bool) {
    let ctx = format!("{framing:?}, {threads} loops, pull {pull}");
    let (server, taker) = start(framing, threads, pull);
    let mut peers: Vec<Peer> = (0..6).map(|_| Peer::connect(server.local_addr())).collect();
    let ids: Vec<_> = peers.iter().map(|p| p.id_on(&server)).collect();
    let s = server.stats();
    assert_eq!(
        (s.clients, s.accepted, s.disconnected),
        (6, 6, 0),
        "{ctx}: {s:?}"
    );
    // Out: per peer, the bytes and messages it must get.
    let mut want_bytes = [0u64; 6];
    let mut want_msgs = 0u64;
    let m_all = b"to everyone";
    assert_eq!(server.send_all(m_all), 6);
    for b in &mut want_bytes {
        *b += wire(framing, m_all);
    }
    want_msgs += 6;
    let m_one = b"just you";
    server.send(ids[0], m_one).expect("send");
    server.send(ids[0], m_one).expect("send");
    want_bytes[0] += 2 * wire(framing, m_one);
    want_msgs += 2;
    let a = peers[1].addr();
    server
        .send_to(a.ip(), a.port(), b"by address")
        .expect("send_to");
    want_bytes[1] += wire(framing, b"by address");
    want_msgs += 1;
    assert_eq!(server.send_many(&ids[0..3], b"three of you"), 3);
    for b in &mut want_bytes[0..3] {
        *b += wire(framing, b"three of you");
    }
    want_msgs += 3;
    // Many ids (above send_many's per-client threshold), one listed twice.
    let many: Vec<_> = ids.iter().copied().chain([ids[5]]).collect();
    // (Each listed client gets it once: the list is taken without repeats.)
    assert_eq!(server.send_many(&many, &[b'm'; 1500]), 6, "{ctx}");
    for b in &mut want_bytes {
        *b += wire(framing, &[b'm'; 1500]);
    }
    want_msgs += 6;
    assert_eq!(server.send_all_except(ids[0], b"not you"), 5);
    for b in &mut want_bytes[1..] {
        *b += wire(framing, b"not you");
    }
    want_msgs += 5;
    for (p, want) in peers.iter_mut().zip(want_bytes) {
        p.read_exact(want as usize);
    }
    let total_out: u64 = want_bytes.iter().sum();
    wait_until("bytes out counted", || {
        server.stats().bytes_out == total_out
    });
    // In: each peer sends i+1 messages.
    let mut bytes_in = 0;
    let mut msgs_in = 0;
    for (i, p) in peers.iter_mut().enumerate() {
        for j in 0..=i {
            let f = frame(framing, format!("m{i}-{j}").as_bytes());
            bytes_in += f.len() as u64;
            msgs_in += 1;
            p.send(&f);
        }
    }
    // (Bytes are counted as read, their messages as decoded, just after.)
    wait_until("bytes and messages in counted", || {
        let s = server.stats();
        let msgs = if framing == Framing::Raw { 6 } else { msgs_in };
        s.bytes_in == bytes_in && s.msgs_in >= msgs
    });
    let s = server.stats();
    if framing != Framing::Raw {
        assert_eq!(s.msgs_in, msgs_in, "{ctx}: {s:?}");
    } else {
        assert!(s.msgs_in >= 6 && s.msgs_in <= msgs_in, "{ctx}: {s:?}");
    }
    // Two leave, one is kicked.
    drop(peers.remove(0));
    drop(peers.remove(0));
    server.disconnect(ids[2]).expect("kick");
    wait_until("three gone", || server.stats().disconnected == 3);
    let s = server.stats();
    assert_eq!((s.clients, s.accepted), (3, 6), "{ctx}: {s:?}");
    assert_quiescent(&s);
    assert_eq!(
        (
            s.msgs_out,
            s.bytes_out,
            s.dropped,
            s.undelivered,
            s.unwritten,
            s.slow_consumers
        ),
        (want_msgs, total_out, 0, 0, 0, 0),
        "{ctx}: {s:?}"
    );
    assert_eq!(
        (
            s.rejected,
            s.rejected_per_ip,
            s.frame_too_large,
            s.idle_timeouts,
            s.frame_timeouts,
            s.callback_panics
        ),
        (0, 0, 0, 0, 0, 0),
        "{ctx}: {s:?}"
    );
    server.stop();
    let end = server.stats();
    assert_eq!(
        (end.clients, end.accepted, end.disconnected),
        (0, 6, 6),
        "{ctx}: {end:?}"
    );
    let mut before = end;
    (before.clients, before.disconnected) = (3, 3);
    assert_eq!(before, s, "{ctx}: the stop changed only the clients");
    if let Some(t) = taker {
        t.join().unwrap();
    }
}

#[test]
fn every_counter_is_exact_in_a_known_scenario() {
    for threads in [1, 2, 4] {
        for pull in [false, true] {
            for framing in FRAMINGS {
                exact_scenario(framing, threads, pull);
            }
        }
    }
}

/// Refusals: `rejected` at `max_clients`, `rejected_per_ip` at the per-IP
/// bound (not both), neither in `accepted` nor `disconnected`; the
/// refusal notices written to them are not in `bytes_out`, which counts
/// what is written to admitted clients.
#[test]
fn refusals_count_apart_from_the_admitted() {
    for threads in [1, 2, 4] {
        let server = TcpServer::new(0, 3)
            .bind(localhost())
            .threads(threads)
            .framing(Framing::lines())
            .max_clients_per_ip(2)
            .full_message("full")
            .start()
            .expect("start");
        let addr = server.local_addr();
        let a = Peer::connect(addr);
        let b = Peer::connect(addr);
        a.id_on(&server);
        b.id_on(&server);
        let mut c = Peer::connect(addr); // a third from 127.0.0.1
        let (_, clean) = c.drain_until_closed();
        assert!(clean);
        let d = Peer::connect_from("127.0.0.2".parse().unwrap(), addr);
        d.id_on(&server);
        let mut e = Peer::connect_from("127.0.0.3".parse().unwrap(), addr);
        let (notice, _) = e.drain_until_closed();
        assert_eq!(notice, b"full\n");
        let s = server.stats();
        assert_eq!(
            (
                s.clients,
                s.accepted,
                s.disconnected,
                s.rejected,
                s.rejected_per_ip,
                s.bytes_out
            ),
            (3, 3, 0, 1, 1, 0),
            "{threads} loops: {s:?}"
        );
        drop((a, b, d));
        wait_until("all left", || server.stats().disconnected == 3);
        server.stop();
        let s = server.stats();
        assert_eq!(
            (s.clients, s.accepted, s.rejected, s.rejected_per_ip),
            (0, 3, 1, 1)
        );
    }
}

/// The timeouts and an oversize frame, one client each, with their
/// notices: each counter is 1, the notices' bytes are in `bytes_out` and
/// not in `msgs_out`; panicking callbacks count once each.
#[test]
fn timeouts_oversize_frames_and_panics_count_once_each() {
    use std::time::Duration;
    for pull in [false, true] {
        let departures = Disconnects::new();
        let mut builder = TcpServer::new(0, 10)
            .bind(localhost())
            .threads(2)
            .framing(Framing::Lines { max_len: 8 })
            .idle_timeout(Duration::from_millis(400))
            .frame_timeout(Duration::from_millis(200))
            .idle_timeout_message("idle")
            .frame_timeout_message("slow")
            .frame_too_large_message("big");
        let events = if pull {
            None
        } else {
            builder = builder
                .on_connect(|_, _| panic!("on_connect panics"))
                .on_message(|_, _, m| assert_ne!(m, b"boom", "on_message panics"))
                .on_disconnect(departures.recorder());
            Some(())
        };
        let server = builder.start().expect("start");
        let taker = pull.then(|| {
            let events = server.events();
            thread::spawn(move || {
                let mut ends = Vec::new();
                while let Some(ev) = events.recv() {
                    if let Event::Disconnected(c, why) = ev {
                        ends.push((c.id, why));
                    }
                }
                ends
            })
        });
        let addr = server.local_addr();
        let mut idle = Peer::connect(addr);
        let mut slow = Peer::connect(addr);
        slow.send(b"abc"); // a line never finished
        let mut big = Peer::connect(addr);
        big.send(b"boom\n0123456789\n");
        let mut got = Vec::new();
        for p in [&mut idle, &mut slow, &mut big] {
            got.push(p.drain_until_closed().0);
        }
        assert_eq!(got, [&b"idle\n"[..], b"slow\n", b"big\n"], "pull {pull}");
        wait_until("three gone", || server.stats().disconnected == 3);
        let s = server.stats();
        // Callbacks: three on_connect panics and one of on_message.
        let panics = if events.is_some() { 4 } else { 0 };
        assert_eq!(
            (
                s.idle_timeouts,
                s.frame_timeouts,
                s.frame_too_large,
                s.callback_panics
            ),
            (1, 1, 1, panics),
            "pull {pull}: {s:?}"
        );
        assert_eq!(
            (
                s.msgs_out,
                s.bytes_out,
                s.msgs_in,
                s.unwritten,
                s.undelivered
            ),
            (0, 5 + 5 + 4, 1, 0, 0),
            "pull {pull}: {s:?}"
        );
        server.stop();
        if let Some(t) = taker {
            assert_eq!(t.join().unwrap().len(), 3);
        } else {
            assert_eq!(departures.all().len(), 3);
        }
    }
}

/// Pull mode, a peer that finishes sending: its end is counted in
/// `disconnected` when it is reported, and the connection, held for the
/// replies, is not in `clients` any more (the invariant holds all along);
/// the reply made after the report is queued and written, and the
/// connection's later close does not count it again.
#[test]
fn a_held_connection_counts_once_and_its_reply_is_delivered() {
    for threads in [1, 2] {
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .threads(threads)
            .framing(Framing::lines())
            .start()
            .expect("start");
        let events = server.events();
        let mut peer = Peer::connect(server.local_addr());
        peer.send(b"question\n");
        peer.shutdown_write();
        let mut id = 0;
        loop {
            match support::next_event(&events) {
                Event::Connected(c) => id = c.id,
                Event::Message(_, m) => assert_eq!(m, b"question"),
                Event::Disconnected(c, why) => {
                    assert_eq!((c.id, why), (id, DisconnectReason::ClosedByPeer));
                    break;
                }
            }
        }
        let s = server.stats();
        assert_eq!(
            (s.clients, s.accepted, s.disconnected, s.msgs_in),
            (0, 1, 1, 1),
            "{s:?}"
        );
        server
            .send(id, b"answer")
            .expect("the held client still takes replies");
        assert_eq!(peer.read_line(), "answer");
        // The hold ends (the linger time from the end): closed, uncounted.
        peer.expect_eof();
        assert!(server.send(id, b"late").is_err(), "gone once closed");
        assert!(events.try_recv().is_none());
        let s = server.stats();
        assert_eq!((s.clients, s.disconnected, s.bytes_out), (0, 1, 7), "{s:?}");
        server.stop();
        let s = server.stats();
        assert_eq!(
            (
                s.clients,
                s.accepted,
                s.disconnected,
                s.msgs_out,
                s.undelivered,
                s.unwritten
            ),
            (0, 1, 1, 1, 0, 0),
            "{threads} loops: {s:?}"
        );
    }
}

/// A callback pausing its client (and the server's input) in the middle
/// of a read: the rest of the read is kept and decoded at the resume,
/// counted once in `msgs_in` and once in `bytes_in`.
#[test]
fn a_read_cut_short_by_a_pause_counts_each_message_and_byte_once() {
    for framing in [Framing::lines(), Framing::length_prefixed()] {
        for whole_input in [false, true] {
            let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
            let server = TcpServer::new(0, 10)
                .bind(localhost())
                .threads(2)
                .framing(framing)
                .on_message({
                    let seen = seen.clone();
                    move |srv, c, m| {
                        seen.lock().unwrap().push(m.to_vec());
                        if m == b"m2" || m == b"m5" {
                            if whole_input {
                                srv.pause_input();
                            } else {
                                srv.pause_client(c.id).expect("pause");
                            }
                        }
                    }
                })
                .start()
                .expect("start");
            let mut peer = Peer::connect(server.local_addr());
            let id = peer.id_on(&server);
            let mut bytes = Vec::new();
            for i in 0..8 {
                bytes.extend(frame(framing, format!("m{i}").as_bytes()));
            }
            peer.send(&bytes);
            for want in [3, 6, 8] {
                wait_until("messages handled", || seen.lock().unwrap().len() >= want);
                let s = server.stats();
                assert_eq!(s.bytes_in, bytes.len() as u64, "{framing:?}: {s:?}");
                if want < 8 {
                    if whole_input {
                        server.resume_input();
                    } else {
                        server.resume_client(id).expect("resume");
                    }
                }
            }
            let s = server.stats();
            assert_eq!(
                (s.msgs_in, s.bytes_in),
                (8, bytes.len() as u64),
                "{framing:?}: {s:?}"
            );
            assert_eq!(seen.lock().unwrap().len(), 8);
            server.stop();
        }
    }
}

/// Sends from callbacks (gathered: an echo's replies to the sender, a
/// relay's `send_all` and a `send_all_except` to the others) across 1, 2
/// and 4 loops: `msgs_out` and `bytes_out` are exactly what the peers get.
#[test]
fn callback_sends_are_counted_exactly() {
    for threads in [1, 2, 4] {
        for framing in FRAMINGS.into_iter().skip(1) {
            let server = TcpServer::new(0, 64)
                .bind(localhost())
                .threads(threads)
                .framing(framing)
                .on_message(|srv, c, msg| match msg.first() {
                    Some(b'e') => srv.send(c.id, msg).expect("echo"),
                    Some(b'a') => {
                        srv.send_all(msg);
                    }
                    _ => {
                        srv.send_all_except(c.id, msg);
                    }
                })
                .start()
                .expect("start");
            let mut peers: Vec<Peer> = (0..5).map(|_| Peer::connect(server.local_addr())).collect();
            for p in &peers {
                p.id_on(&server);
            }
            let mut want = [0u64; 5];
            for round in 0..20 {
                let from = round % 5;
                let mut bytes = Vec::new();
                for kind in ["e", "a", "x"] {
                    let msg = format!("{kind}{round}");
                    bytes.extend(frame(framing, msg.as_bytes()));
                    let w = wire(framing, msg.as_bytes());
                    match kind {
                        "e" => want[from] += w,
                        "a" => want.iter_mut().for_each(|b| *b += w),
                        _ => {
                            for (i, b) in want.iter_mut().enumerate() {
                                if i != from {
                                    *b += w;
                                }
                            }
                        }
                    }
                }
                peers[from].send(&bytes);
            }
            for (p, w) in peers.iter_mut().zip(want) {
                p.read_exact(w as usize);
            }
            let total: u64 = want.iter().sum();
            wait_until("all written", || server.stats().bytes_out == total);
            let s = server.stats();
            assert_eq!(
                (
                    s.msgs_in,
                    s.msgs_out,
                    s.bytes_out,
                    s.undelivered,
                    s.unwritten
                ),
                (60, 20 * (1 + 5 + 4), total, 0, 0),
                "{threads} loops, {framing:?}: {s:?}"
            );
            server.stop();
        }
    }
}

/// A callback kicking its own client at the first message of a read: the
/// rest of that read is received, not handed out, and counted in
/// `msgs_in` (as its doc says), each byte once.
#[test]
fn a_read_cut_short_by_a_kick_counts_the_rest_as_received() {
    for framing in [Framing::lines(), Framing::length_prefixed()] {
        let departures = Disconnects::new();
        let handed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .threads(2)
            .framing(framing)
            .on_message({
                let handed = handed.clone();
                move |srv, c, _| {
                    handed.fetch_add(1, Ordering::SeqCst);
                    srv.disconnect(c.id).expect("kick");
                }
            })
            .on_disconnect(departures.recorder())
            .start()
            .expect("start");
        let mut peer = Peer::connect(server.local_addr());
        let id = peer.id_on(&server);
        let mut bytes = Vec::new();
        for i in 0..5 {
            bytes.extend(frame(framing, format!("m{i}").as_bytes()));
        }
        peer.send(&bytes);
        assert_eq!(departures.wait_for(id), DisconnectReason::Kicked);
        let s = server.stats();
        assert_eq!(handed.load(Ordering::SeqCst), 1);
        assert_eq!(
            (s.msgs_in, s.bytes_in, s.disconnected),
            (5, bytes.len() as u64, 1),
            "{framing:?}: {s:?}"
        );
        server.stop();
    }
}
