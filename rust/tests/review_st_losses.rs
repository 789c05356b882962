//! Review (statistics): the loss counters (`dropped`, `undelivered`,
//! `unwritten`, `slow_consumers`) against scenarios whose totals are known:
//! every send that returned `Ok` is counted once, in `msgs_out` or
//! `undelivered` or `dropped`; `unwritten` is a part of `msgs_out`.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{localhost, set_send_buffer_of_accepted, wait_until, Disconnects, Peer};
use tcphub::{DisconnectReason, Framing, Overflow, ServerHandle, TcpServer};

const MSG: usize = 1000;
/// Messages queued for a client that does not read: more bytes than the
/// kernel takes (loopback's send buffer grows to 4 MiB).
const SENT: u64 = 8000;

/// Whole messages (of `MSG` bytes plus `\n`) in `bytes`.
fn lines_in(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// A server whose `on_message`, told "go N" by a trigger client, sends N
/// messages to the first client (the slow one) from the callback: a
/// gathered run per read.
fn callback_sender(
    threads: usize,
    overflow: Overflow,
    departures: &Disconnects,
) -> (ServerHandle, Arc<Mutex<(u64, u64)>>) {
    // (sends that returned Ok, that failed)
    let results = Arc::new(Mutex::new((0u64, 0u64)));
    let slow = Arc::new(Mutex::new(None));
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(threads)
        .framing(Framing::lines())
        .max_queue_bytes(64 * 1024)
        .overflow(overflow)
        .on_connect({
            let slow = slow.clone();
            move |_, c| {
                slow.lock().unwrap().get_or_insert(c.id);
            }
        })
        .on_message({
            let (slow, results) = (slow.clone(), results.clone());
            move |srv, _c, msg| {
                let n: u64 = std::str::from_utf8(msg).unwrap()[3..].parse().unwrap();
                let target = slow.lock().unwrap().unwrap();
                let body = [b'x'; MSG];
                for _ in 0..n {
                    let ok = srv.send(target, &body).is_ok();
                    let mut r = results.lock().unwrap();
                    if ok {
                        r.0 += 1;
                    } else {
                        r.1 += 1;
                    }
                }
            }
        })
        .on_disconnect(departures.recorder())
        .start()
        .expect("start");
    (server, results)
}

/// A slow consumer cut in the middle of a callback's run of sends to it:
/// each send that returned `Ok` is queued (`msgs_out`) or undelivered (the
/// one that overflowed, and the rest of the run after the cut).
#[test]
fn a_slow_consumer_cut_mid_run_accounts_for_every_send() {
    for threads in [1, 2, 4] {
        let departures = Disconnects::new();
        let (server, results) = callback_sender(threads, Overflow::Disconnect, &departures);
        let slow = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
        let slow_id = slow.id_on(&server);
        // Its server side's send buffer is small: left to the kernel, it
        // may start at tcp_wmem's default, which a host may set to 16 MiB,
        // and all that is sent to it fit there (nothing cut or dropped).
        set_send_buffer_of_accepted(server.local_addr(), slow.addr(), 64 * 1024);
        let mut trigger = Peer::connect(server.local_addr());
        trigger.send_line(&format!("go {SENT}"));
        assert_eq!(departures.wait_for(slow_id), DisconnectReason::SlowConsumer);
        wait_until("the run handled", || {
            let r = *results.lock().unwrap();
            r.0 + r.1 == SENT
        });
        let (ok, _) = *results.lock().unwrap();
        // (The runs are applied after the callback returns.)
        wait_until("every Ok send counted", || {
            let s = server.stats();
            s.msgs_out + s.undelivered >= ok
        });
        let s = server.stats();
        assert_eq!(s.slow_consumers, 1, "{threads} loops: {s:?}");
        assert_eq!(s.msgs_out + s.undelivered, ok, "{threads} loops: {s:?}");
        assert!(
            s.undelivered >= 1 && s.unwritten >= 1,
            "{threads} loops: {s:?}"
        );
        assert!(
            s.unwritten <= s.msgs_out && s.dropped == 0,
            "{threads} loops: {s:?}"
        );
        // What the kernel took is at most what was written.
        let mut slow = slow;
        let (got, _) = slow.drain_until_closed();
        assert!(
            lines_in(&got) <= s.msgs_out - s.unwritten,
            "{threads} loops: {s:?}"
        );
        // Exactly the messages not written in full (all of one size).
        assert_eq!(
            s.unwritten,
            s.msgs_out - s.bytes_out / (MSG as u64 + 1),
            "{s:?}"
        );
        server.stop();
    }
}

/// Under `DropMessage`, a callback's run to a client that is not reading:
/// each `Ok` send is queued or dropped; once the client reads, it gets
/// exactly the queued ones, and the bytes written are theirs.
#[test]
fn dropped_and_queued_add_up_to_the_sends_and_the_queued_arrive() {
    for threads in [1, 2, 4] {
        let departures = Disconnects::new();
        let (server, results) = callback_sender(threads, Overflow::DropMessage, &departures);
        let mut slow = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
        slow.id_on(&server);
        // Its server side's send buffer is small, as above.
        set_send_buffer_of_accepted(server.local_addr(), slow.addr(), 64 * 1024);
        let mut trigger = Peer::connect(server.local_addr());
        trigger.send_line(&format!("go {SENT}"));
        wait_until("the run handled", || {
            let r = *results.lock().unwrap();
            r.0 + r.1 == SENT
        });
        assert_eq!(results.lock().unwrap().0, SENT, "every send Ok");
        wait_until("every send counted", || {
            let s = server.stats();
            s.msgs_out + s.dropped >= SENT
        });
        let s = server.stats();
        assert_eq!(s.msgs_out + s.dropped, SENT, "{threads} loops: {s:?}");
        assert!(s.dropped > 0, "{threads} loops: {s:?}");
        let got = slow.read_exact(s.msgs_out as usize * (MSG + 1));
        assert_eq!(lines_in(&got), s.msgs_out);
        wait_until("all written", || {
            server.stats().bytes_out == s.msgs_out * (MSG as u64 + 1)
        });
        server.stop();
        let end = server.stats();
        assert_eq!(
            (
                end.msgs_out,
                end.dropped,
                end.undelivered,
                end.unwritten,
                end.slow_consumers
            ),
            (s.msgs_out, s.dropped, 0, 0, 0),
            "{threads} loops: {end:?}"
        );
    }
}

/// A kick with messages queued and a peer that never reads: once the
/// linger time runs out, what was not written counts in `unwritten`; the
/// sends made after the kick (`Ok`: the client is still leaving) count in
/// `undelivered`, one each.
#[test]
fn a_kick_whose_linger_runs_out_counts_unwritten_and_later_sends_undelivered() {
    for threads in [1, 2] {
        let departures = Disconnects::new();
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .threads(threads)
            .framing(Framing::lines())
            .linger(Duration::from_millis(200))
            .max_queue_bytes(64 << 20)
            .on_disconnect(departures.recorder())
            .start()
            .expect("start");
        let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
        let id = peer.id_on(&server);
        // Its server side's send buffer is small: left to the kernel, it
        // may start at tcp_wmem's default, which a host may set to 16 MiB,
        // and all that is sent to it fit there (nothing cut or dropped).
        set_send_buffer_of_accepted(server.local_addr(), peer.addr(), 64 * 1024);
        let body = [b'k'; MSG];
        // More than the kernel takes (its send buffer grows to 4 MiB).
        for _ in 0..SENT {
            server.send(id, &body).expect("send");
        }
        server.disconnect(id).expect("kick");
        let mut after = 0;
        for _ in 0..50 {
            if server.send(id, &body).is_ok() {
                after += 1;
            }
        }
        assert_eq!(departures.wait_for(id), DisconnectReason::Kicked);
        let s = server.stats();
        assert_eq!(
            (s.msgs_out, s.undelivered),
            (SENT, after),
            "{threads} loops: {s:?}"
        );
        assert!(
            s.unwritten >= 1 && s.unwritten <= SENT,
            "{threads} loops: {s:?}"
        );
        let (got, clean) = peer.drain_until_closed();
        assert!(!clean, "cut off with output unwritten: a reset");
        assert!(
            lines_in(&got) <= SENT - s.unwritten,
            "{threads} loops: {s:?}"
        );
        assert_eq!(s.unwritten, SENT - s.bytes_out / (MSG as u64 + 1), "{s:?}");
        server.stop();
    }
}

/// A stop whose linger time runs out with a client not reading: the rest
/// of its queue counts in `unwritten`, and the client in `disconnected`.
#[test]
fn a_stop_whose_linger_runs_out_counts_the_rest_unwritten() {
    for threads in [1, 4] {
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .threads(threads)
            .framing(Framing::length_prefixed())
            .linger(Duration::from_millis(200))
            .max_queue_bytes(64 << 20)
            .start()
            .expect("start");
        let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
        let id = peer.id_on(&server);
        // Its server side's send buffer is small: left to the kernel, it
        // may start at tcp_wmem's default, which a host may set to 16 MiB,
        // and all that is sent to it fit there (nothing cut or dropped).
        set_send_buffer_of_accepted(server.local_addr(), peer.addr(), 64 * 1024);
        let reader = Peer::connect(server.local_addr());
        reader.id_on(&server);
        let body = [b's'; MSG];
        for _ in 0..SENT {
            server.send(id, &body).expect("send");
        }
        assert_eq!(server.send_all(&body), 2);
        server.stop();
        let s = server.stats();
        assert_eq!((s.clients, s.accepted, s.disconnected), (0, 2, 2), "{s:?}");
        assert_eq!(
            (s.msgs_out, s.undelivered),
            (SENT + 2, 0),
            "{threads} loops: {s:?}"
        );
        assert!(
            s.unwritten >= 1 && s.unwritten <= SENT + 1,
            "{threads} loops: {s:?}"
        );
        let (got, _) = peer.drain_until_closed();
        assert!(
            (got.len() / (MSG + 4)) as u64 <= SENT + 1 - s.unwritten,
            "{threads} loops: {s:?}"
        );
        // The reader got its one message; the rest is the slow peer's.
        let written = (s.bytes_out - (MSG as u64 + 4)) / (MSG as u64 + 4);
        assert_eq!(s.unwritten, SENT + 1 - written, "{threads} loops: {s:?}");
    }
}

/// `send_many` and `send_all_except` while one listed client is leaving
/// (kicked, its queue still flushing to a peer that does not read): the
/// leaving one counts in `undelivered` once per `send_many` that counted
/// it, whichever path the call took (small, few: a send each; large:
/// grouped by loop), and not at all for a broadcast; the others get theirs.
#[test]
fn send_many_to_a_leaving_client_counts_it_undelivered_once_per_call() {
    for threads in [1, 2, 4] {
        let departures = Disconnects::new();
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .threads(threads)
            .framing(Framing::lines())
            .linger(Duration::from_secs(30))
            .max_queue_bytes(64 << 20)
            .on_disconnect(departures.recorder())
            .start()
            .expect("start");
        let mut slow = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
        let slow_id = slow.id_on(&server);
        let mut others: Vec<Peer> = (0..3).map(|_| Peer::connect(server.local_addr())).collect();
        let ids: Vec<u64> = std::iter::once(slow_id)
            .chain(others.iter().map(|p| p.id_on(&server)))
            .collect();
        let body = [b'k'; MSG];
        for _ in 0..SENT {
            server.send(slow_id, &body).expect("send");
        }
        wait_until("all queued", || server.stats().msgs_out == SENT);
        server.disconnect(slow_id).expect("kick");
        let before = server.stats();
        let small = server.send_many(&ids, b"small");
        let large = server.send_many(&ids, &[b'L'; 2000]);
        let except = server.send_all_except(ids[1], b"others");
        assert_eq!((small, large), (4, 4), "all still listed while leaving");
        for p in &mut others {
            assert_eq!(p.read_line(), "small");
            assert_eq!(p.read_line().len(), 2000);
        }
        for p in &mut others[1..] {
            assert_eq!(p.read_line(), "others");
        }
        // (The leaving client's loop applies its part on its own time: with
        // 4 loops the others' deliveries may all be counted before it has.)
        wait_until("the sends applied", || {
            let s = server.stats();
            s.msgs_out - before.msgs_out >= 3 + 3 + 2 && s.undelivered - before.undelivered >= 2
        });
        let s = server.stats();
        assert_eq!(
            s.undelivered - before.undelivered,
            2,
            "{threads} loops (except {except}): {s:?}"
        );
        assert_eq!(
            s.msgs_out - before.msgs_out,
            3 + 3 + 2,
            "{threads} loops: {s:?}"
        );
        // Now let it go: its peer reads everything, the kick completes.
        let got = slow.read_to_eof();
        assert_eq!(lines_in(&got), SENT);
        assert_eq!(departures.wait_for(slow_id), DisconnectReason::Kicked);
        let s = server.stats();
        assert_eq!(
            (s.unwritten, s.undelivered - before.undelivered),
            (0, 2),
            "{s:?}"
        );
        server.stop();
    }
}

/// Pull mode: a client held open for replies (its peer finished sending)
/// that does not read, its queue overflowing under `Overflow::Disconnect`:
/// closed, but not counted again in `disconnected` nor in
/// `slow_consumers`; every `Ok` send is queued or undelivered.
#[test]
fn a_held_client_overflowing_is_not_a_slow_consumer() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(2)
        .framing(Framing::lines())
        .max_queue_bytes(64 * 1024)
        .linger(Duration::from_secs(30))
        .start()
        .expect("start");
    let events = server.events();
    let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    peer.send(b"req\n");
    peer.shutdown_write();
    let id = loop {
        if let tcphub::Event::Disconnected(c, _) = support::next_event(&events) {
            break c.id;
        }
    };
    let body = [b'h'; MSG];
    let mut ok = 0u64;
    while server.send(id, &body).is_ok() {
        ok += 1;
        assert!(ok < 100_000, "never cut");
    }
    wait_until("every Ok send counted", || {
        let s = server.stats();
        s.msgs_out + s.undelivered >= ok
    });
    let s = server.stats();
    assert_eq!(
        (s.accepted, s.disconnected, s.clients, s.slow_consumers),
        (1, 1, 0, 0),
        "{s:?}"
    );
    assert_eq!(s.msgs_out + s.undelivered, ok, "{s:?}");
    assert!(s.undelivered >= 1 && s.unwritten >= 1, "{s:?}");
    assert_eq!(
        s.unwritten,
        s.msgs_out - s.bytes_out / (MSG as u64 + 1),
        "{s:?}"
    );
    let _ = peer.drain_until_closed();
    server.stop();
}
