//! Review of the server's write path and limits, as an attacker or a user
//! pushing limits would: messages larger than the queue bound, sends to a
//! client that is leaving or gone, a peer that resets or half-closes while
//! output waits for it, and the send side's framing edges.

mod support;

use std::io::Read;
use std::time::Duration;

use support::*;
use tcphub::{ClientRef, DisconnectReason, Error, Framing, TcpServer};

/// Messages larger than `max_queue_bytes` reach a reader that keeps up,
/// whole and in order, while a client that stops reading is cut as a slow
/// consumer; what it got before is a prefix of the same stream.
#[test]
fn messages_over_the_queue_bound_reach_a_reader_and_a_non_reader_is_cut() {
    const QUEUE: usize = 16 * 1024;
    const BIG: usize = 64 * 1024; // four times the bound
    const COUNT: u8 = 100;
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .threads(2)
        .max_queue_bytes(QUEUE)
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let mut reader = Peer::connect(server.local_addr());
    // The non-reader's connection gets a small send buffer on the server's
    // side too (the listener's, which a connection takes as the handshake
    // ends): left to the kernel, it may start at tcp_wmem's default, which
    // a host may set to 16 MiB, and the 6.4 MB sent all fit there.
    set_send_buffer_of_listener(server.local_addr(), 64 * 1024);
    let mut stalled = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    wait_clients(&server, 2);
    let stalled_id = stalled.id_on(&server);
    let big = |i: u8| vec![i; BIG];
    for i in 0..COUNT {
        assert!(server.send_all(&big(i)) >= 1);
        // Paced by the reader: its queue is empty at every send.
        assert!(reader.read_frame() == big(i), "big frame {i}");
    }
    assert_eq!(gone.wait_for(stalled_id), DisconnectReason::SlowConsumer);
    let stats = server.stats();
    assert_eq!(stats.slow_consumers, 1, "{stats:?}");
    // What the non-reader got is whole frames in order, then at most a cut one.
    let (got, clean) = stalled.drain_until_closed();
    let mut at = 0;
    let mut i = 0u8;
    while at + 4 <= got.len() {
        let len = u32::from_be_bytes(got[at..at + 4].try_into().unwrap()) as usize;
        assert_eq!(len, BIG, "frame {i}'s header");
        let body = &got[at + 4..(at + 4 + len).min(got.len())];
        assert!(body.iter().all(|&b| b == i), "frame {i}'s bytes");
        at += 4 + len;
        i += 1;
    }
    // Closed with a FIN after whole frames; a cut frame is reset instead,
    // so the stream does not end as if the frame were whole.
    if at == got.len() {
        assert!(clean, "the slow consumer is closed with a FIN");
    } else {
        assert!(!clean, "a cut frame was ended with a FIN");
    }
    server.send_all(b"after");
    assert_eq!(reader.read_frame(), b"after");
    server.stop();
}

/// `send`/`send_to` to a client that has just been kicked return `Ok` (it
/// is still leaving) or `NoSuchClient`, never reach it after the kick and
/// never reach anyone else; once it is reported gone both say
/// `NoSuchClient`, and the next client gets a new id.
#[test]
fn sends_to_a_kicked_client_reach_nobody_and_ids_are_not_reused() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let mut a = Peer::connect(server.local_addr());
    let mut other = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let a_id = a.id_on(&server);
    let a_addr = a.addr();
    let other_id = other.id_on(&server);
    server.send(a_id, b"before").expect("send before the kick");
    server.disconnect(a_id).expect("kick");
    let late = server.send(a_id, b"late");
    let late_to = server.send_to(a_addr.ip(), a_addr.port(), b"late too");
    for r in [&late, &late_to] {
        assert!(matches!(r, Ok(()) | Err(Error::NoSuchClient(_))), "{r:?}");
    }
    assert_eq!(a.read_line(), "before");
    a.expect_eof();
    assert_eq!(gone.wait_for(a_id), DisconnectReason::Kicked);
    assert!(matches!(
        server.send(a_id, b"x"),
        Err(Error::NoSuchClient(ClientRef::Id(id))) if id == a_id
    ));
    assert!(matches!(
        server.send_to(a_addr.ip(), a_addr.port(), b"x"),
        Err(Error::NoSuchClient(ClientRef::Addr(addr))) if addr == a_addr
    ));
    assert!(matches!(
        server.disconnect(a_id),
        Err(Error::NoSuchClient(_))
    ));
    assert!(matches!(
        server.send(u64::MAX, b"x"),
        Err(Error::NoSuchClient(_))
    ));
    assert!(matches!(server.send(0, b"x"), Err(Error::NoSuchClient(_))));
    let late_ok = [late, late_to].iter().filter(|r| r.is_ok()).count() as u64;
    wait_until("late sends counted as undelivered", || {
        server.stats().undelivered == late_ok
    });
    // A newcomer gets a fresh id and none of the late messages.
    let mut b = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let b_id = b.id_on(&server);
    assert!(b_id > a_id && b_id > other_id, "ids: a {a_id}, b {b_id}");
    server.send_all(b"sync");
    assert_eq!(b.read_line(), "sync");
    assert_eq!(other.read_line(), "sync");
    server.stop();
    b.expect_eof();
    other.expect_eof();
}

/// A peer that stops reading and then resets while output waits for it is
/// reported `Reset`; the others keep receiving everything in order.
#[test]
fn a_reset_while_output_waits_is_reported_and_others_unaffected() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .max_queue_bytes(64 << 20)
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let victim = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let mut reader = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let victim_id = victim.id_on(&server);
    let chunk = vec![7u8; 256 * 1024];
    for i in 0..16u8 {
        server
            .send(victim_id, &chunk)
            .expect("queue for the victim");
        server.send_all(&[i]);
        assert_eq!(reader.read_frame(), [i]);
    }
    victim.reset();
    assert_eq!(gone.wait_for(victim_id), DisconnectReason::Reset);
    for i in 0..16u8 {
        server.send_all(&[i]);
        assert_eq!(reader.read_frame(), [i]);
    }
    assert_eq!(server.stats().slow_consumers, 0);
    server.stop();
}

/// A peer that half-closes (shuts down its sending side) and keeps reading
/// gets every reply queued for it — more than the kernel buffers hold —
/// then EOF; it is reported `ClosedByPeer`.
#[test]
fn a_half_closed_peer_that_keeps_reading_gets_a_large_reply_whole() {
    const REPLY: usize = 4 << 20;
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .max_queue_bytes(64 << 20)
        .linger(TIMEOUT)
        .on_message(|srv, c, msg| {
            let n: usize = std::str::from_utf8(msg).unwrap().parse().unwrap();
            srv.send(c.id, &vec![b'r'; n]).expect("reply");
        })
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let mut p = Peer::connect(server.local_addr());
    let id = p.id_on(&server);
    p.send_frame(REPLY.to_string().as_bytes());
    p.shutdown_write();
    let reply = p.read_frame();
    assert_eq!(reply.len(), REPLY);
    assert!(reply.iter().all(|&b| b == b'r'));
    p.expect_eof();
    assert_eq!(gone.wait_for(id), DisconnectReason::ClosedByPeer);
    server.stop();
}

/// The send side's framing edges: an empty message, one of exactly
/// `max_len`, and one byte over (refused with its length and the limit,
/// nothing sent), for `send`, `send_to` and `send_all`; raw framing sends
/// zero bytes as nothing at all.
#[test]
fn send_side_framing_edges() {
    const MAX: usize = 100;
    for framing in [
        Framing::Lines { max_len: MAX },
        Framing::LengthPrefixed { max_len: MAX },
    ] {
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .framing(framing)
            .start()
            .expect("start");
        let mut p = Peer::connect(server.local_addr());
        let id = p.id_on(&server);
        let addr = p.addr();
        let at = vec![b'a'; MAX];
        let over = vec![b'o'; MAX + 1];
        let too_large = |r: tcphub::Result<usize>| matches!(r, Err(Error::FrameTooLarge { len, max }) if len == MAX + 1 && max == MAX);
        assert!(too_large(server.send(id, &over).map(|()| 0)));
        assert!(too_large(
            server.send_to(addr.ip(), addr.port(), &over).map(|()| 0)
        ));
        assert!(too_large(server.try_send_all(&over)));
        assert!(too_large(server.try_send_all_except(0, &over)));
        assert_eq!(server.send_all(&over), 0);
        server.send(id, b"").expect("empty");
        server.send(id, &at).expect("at max_len");
        server.send_to(addr.ip(), addr.port(), b"").expect("empty");
        assert_eq!(server.send_all(&at), 1);
        let read = |p: &mut Peer| match framing {
            Framing::Lines { .. } => p.read_line().into_bytes(),
            _ => p.read_frame(),
        };
        for want in [&b""[..], &at, b"", &at] {
            assert_eq!(read(&mut p), want, "{framing:?}");
        }
        let stats = server.stats();
        assert_eq!(stats.msgs_out, 4, "{framing:?}: {stats:?}");
        server.stop();
        p.expect_eof();
    }
    // Raw: zero bytes are no bytes; what follows arrives intact.
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::Raw)
        .start()
        .expect("start");
    let mut p = Peer::connect(server.local_addr());
    let id = p.id_on(&server);
    server.send(id, b"").expect("empty raw");
    assert_eq!(server.send_all(b""), 1);
    server.send(id, b"xyz").expect("raw");
    assert_eq!(p.read_exact(3), b"xyz");
    server.stop();
    let mut rest = Vec::new();
    p.stream.read_to_end(&mut rest).expect("EOF");
    assert!(rest.is_empty(), "{rest:?}");
}

/// `stop()` with one client that never reads and one that does: the reader
/// gets everything queued, the non-reader (more queued for it than the
/// kernel holds) is cut at the linger time, each is reported exactly once
/// with `ServerStopped`, and a second `stop()` does nothing more.
#[test]
fn stop_with_a_non_reader_reports_each_client_once() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .threads(2)
        .max_queue_bytes(64 << 20)
        .linger(Duration::from_millis(500))
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let stalled = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let mut reader = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let stalled_id = stalled.id_on(&server);
    let reader_id = reader.id_on(&server);
    let msg = vec![1u8; 64 * 1024];
    for _ in 0..256 {
        server.send(stalled_id, &msg).expect("queued");
    }
    server.send(reader_id, b"last").expect("queued");
    server.stop();
    assert_eq!(reader.read_frame(), b"last");
    reader.expect_eof();
    server.stop();
    let mut all = gone.all();
    all.sort_by_key(|(c, _)| c.id);
    assert_eq!(
        all.iter().map(|(c, _)| c.id).collect::<Vec<_>>(),
        [stalled_id, reader_id]
    );
    assert!(
        all.iter()
            .all(|(_, why)| *why == DisconnectReason::ServerStopped),
        "{all:?}"
    );
    let stats = server.stats();
    assert_eq!((stats.accepted, stats.disconnected), (2, 2), "{stats:?}");
    assert_eq!(stats.msgs_out, 257, "{stats:?}");
    drop(stalled);
}

/// Clients come and go (they leave, are kicked, reset) while an application
/// thread sends to ids and addresses, live and departed alike: every
/// message a peer receives was addressed to it.
#[test]
fn churn_with_sends_to_live_and_departed_ids_never_misdelivers() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let known: Arc<Mutex<Vec<(u64, std::net::SocketAddr)>>> = Arc::default();
    let k = known.clone();
    let server = TcpServer::new(0, 64)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .linger(Duration::from_millis(200))
        .on_connect(move |srv, c| {
            // (Sent first: a send posted before it would go before it.)
            srv.send(c.id, format!("id {}", c.id).as_bytes())
                .expect("hello");
            k.lock().unwrap().push((c.id, c.addr));
        })
        .on_message(|srv, c, msg| {
            if msg == b"kick me" {
                srv.disconnect(c.id).expect("kick");
            }
        })
        .start()
        .expect("start");
    let addr = server.local_addr();
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let (server, known, done) = (server.clone(), known.clone(), done.clone());
        std::thread::spawn(move || {
            let mut rng = Rng::new(7);
            let mut sent = 0u64;
            while !done.load(Ordering::Acquire) {
                let pick = {
                    let k = known.lock().unwrap();
                    (!k.is_empty()).then(|| k[rng.below(k.len())])
                };
                let Some((id, a)) = pick else { continue };
                let r = if rng.below(2) == 0 {
                    server.send(id, format!("for {id}").as_bytes())
                } else {
                    server.send_to(a.ip(), a.port(), format!("for {id}").as_bytes())
                };
                assert!(matches!(r, Ok(()) | Err(Error::NoSuchClient(_))), "{r:?}");
                sent += 1;
            }
            sent
        })
    };
    let workers: Vec<_> = (0..4u64)
        .map(|w| {
            std::thread::spawn(move || {
                let mut rng = Rng::new(w);
                for round in 0..40 {
                    let mut p = Peer::connect(addr);
                    let first = p.read_line();
                    let id: u64 = first.strip_prefix("id ").expect(&first).parse().unwrap();
                    let want = format!("for {id}");
                    for _ in 0..rng.below(20) {
                        let line = p.read_line();
                        assert_eq!(line, want, "worker {w} round {round}");
                    }
                    match rng.below(3) {
                        0 => drop(p),
                        1 => p.reset(),
                        _ => {
                            p.send_line("kick me");
                            let (rest, _) = p.drain_until_closed();
                            for line in rest.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                                assert_eq!(line, want.as_bytes(), "worker {w} round {round}");
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    done.store(true, Ordering::Release);
    let sent = sender.join().expect("sender");
    assert!(sent > 0);
    server.stop();
}

/// A kicked client that does not read keeps its queue for the linger time;
/// if it resets meanwhile it is closed at once (not at the linger time),
/// still reported as `Kicked`.
#[test]
fn a_kicked_non_reader_that_resets_is_closed_at_once() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .threads(1)
        .max_queue_bytes(64 << 20)
        .linger(Duration::from_secs(3600))
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let victim = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let mut witness = Peer::connect(server.local_addr());
    let id = victim.id_on(&server);
    witness.id_on(&server);
    let chunk = vec![7u8; 1 << 20];
    for _ in 0..16 {
        server.send(id, &chunk).expect("queued");
    }
    server.disconnect(id).expect("kick");
    // One loop, commands in order: once this arrives, the kick is applied
    // (and the victim, closing, takes no more).
    assert_eq!(server.send_all(b"sync"), 2);
    assert_eq!(witness.read_frame(), b"sync");
    victim.reset();
    assert_eq!(gone.wait_for(id), DisconnectReason::Kicked);
    assert_eq!(server.client_count(), 1);
    server.stop();
}

/// Pull mode: a client that stops reading is reported
/// `Disconnected(SlowConsumer)` once; a reader gets every message in order.
#[test]
fn pull_mode_slow_consumer_is_reported_once_and_a_reader_gets_everything() {
    use tcphub::Event;
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .threads(2)
        .max_queue_bytes(64 * 1024)
        .start()
        .expect("start");
    let events = server.events();
    let stalled = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let mut reader = Peer::connect(server.local_addr());
    let stalled_id = stalled.id_on(&server);
    let reader_id = reader.id_on(&server);
    let msg = |i: u32| {
        let mut v = i.to_be_bytes().to_vec();
        v.resize(16 * 1024, 0);
        v
    };
    let mut i = 0u32;
    while server.client_count() == 2 {
        server.send_all(&msg(i));
        assert!(reader.read_frame() == msg(i), "message {i}");
        i += 1;
        assert!(i < 100_000, "the non-reader was never cut");
    }
    assert_eq!(server.stats().slow_consumers, 1);
    // The cut client leaves the registry before its loop queues the event:
    // wait for the event, or the stop below could report the reader (on
    // the other loop) first.
    let disconnected = |ev: Event| match ev {
        Event::Disconnected(c, why) => Some((c.id, why)),
        _ => None,
    };
    let first = loop {
        let ev = events
            .recv_timeout(Duration::from_secs(30))
            .expect("the slow consumer's disconnect event");
        if let Some(d) = disconnected(ev) {
            break d;
        }
    };
    assert_eq!(first, (stalled_id, DisconnectReason::SlowConsumer));
    server.send_all(b"after");
    assert_eq!(reader.read_frame(), b"after");
    server.stop();
    let rest: Vec<_> = events.filter_map(disconnected).collect();
    assert_eq!(rest, [(reader_id, DisconnectReason::ServerStopped)]);
    drop(stalled);
}

/// A client kicked while it keeps sending still gets what was queued for it
/// before the kick: closing the socket while the peer's data arrives made
/// the kernel reset the connection and throw away the part of the reply
/// still in its send buffer (here all but 4 KiB of 200 KB).
#[test]
fn a_client_kicked_while_it_keeps_sending_gets_its_goodbye() {
    use std::io::Write;
    let gone = Disconnects::new();
    let server = goodbye_server(10, true, &gone)
        .bind(localhost())
        .linger(TIMEOUT)
        .start()
        .expect("start");
    room_for_goodbye(&server);
    // A small receive buffer: most of the goodbye waits in the server's
    // kernel until this peer reads.
    let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = peer.id_on(&server);
    let mut w = peer.stream.try_clone().expect("clone");
    let flood = std::thread::spawn(move || {
        let mut junk = b"junk ".repeat(13_000);
        junk.push(b'\n');
        let _ = w.write_all(b"bye\n");
        for _ in 0..256 {
            if w.write_all(&junk).is_err() {
                break; // the server may end the connection once all is read
            }
        }
    });
    // Closed (the goodbye handed to the kernel) while the peer still sends.
    assert_eq!(gone.wait_for(id), DisconnectReason::Kicked);
    let (got, _) = peer.drain_until_closed();
    let want = goodbye();
    assert!(
        got == want,
        "got {} bytes of the {}-byte goodbye",
        got.len(),
        want.len()
    );
    flood.join().expect("flood");
    drop(peer);
    server.stop();
}
