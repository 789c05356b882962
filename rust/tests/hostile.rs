//! Hostile and broken peers (reliability suite, see RELIABILITY.md): frames
//! at and over the limit, zero-length frames, random garbage in every
//! framing, slowloris drips, silent and vanished peers, resets in the middle
//! of a frame, connect floods, and `stop()` in the middle of a broadcast
//! storm. Each case checks the offender's `DisconnectReason` and that a
//! healthy client on the same server is still served.

mod support;

#[allow(dead_code)]
#[path = "../../fuzz/src/model.rs"]
mod model;

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use model::{Outcome, Tail};
use support::{
    localhost, lp_frame, next_event, wait_clients, wait_until, Disconnects, Peer, Rng, TIMEOUT,
};
use tcphub::{ClientId, DisconnectReason, Event, Framing, ServerHandle, TcpServer};

/// A relay (every message to every client) that records disconnects.
fn relay(
    framing: Framing,
    tune: impl FnOnce(TcpServer) -> TcpServer,
) -> (ServerHandle, Disconnects) {
    let gone = Disconnects::new();
    let builder = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(framing)
        .on_message(|srv, _c, msg| {
            srv.send_all(msg);
        })
        .on_disconnect(gone.recorder());
    (tune(builder).start().unwrap(), gone)
}

/// A healthy client still gets its own line relayed back.
fn still_relays(peer: &mut Peer, what: &str) {
    peer.send_line(what);
    assert_eq!(peer.read_line(), what);
}

// ---- frames at and over the limit --------------------------------------------

#[test]
fn length_header_one_over_max_len_disconnects_only_its_sender() {
    let (server, gone) = relay(Framing::LengthPrefixed { max_len: 1000 }, |b| b);
    let mut bad = Peer::connect(server.local_addr());
    let mut good = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let bad_id = bad.id_on(&server);

    // Exactly max_len is a message.
    good.send_frame(&[7u8; 1000]);
    assert_eq!(good.read_frame(), vec![7u8; 1000]);
    assert_eq!(bad.read_frame(), vec![7u8; 1000]);
    // max_len + 1 is refused at the header, before its payload arrives.
    bad.send(&1001u32.to_be_bytes());
    assert_eq!(gone.wait_for(bad_id), DisconnectReason::FrameTooLarge);
    bad.expect_eof();

    good.send_frame(b"after");
    assert_eq!(good.read_frame(), b"after");
    assert_eq!(server.stats().frame_too_large, 1);
    assert_eq!(gone.all().len(), 1);
    server.stop();
}

#[test]
fn zero_length_frames_are_empty_messages_in_lines_and_length_prefixed() {
    const COUNT: usize = 10_000;
    for (framing, empty) in [
        (Framing::lines(), b"\n".to_vec()),
        (Framing::length_prefixed(), lp_frame(b"")),
    ] {
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .framing(framing)
            .start()
            .unwrap();
        let events = server.events();
        let mut c = Peer::connect(server.local_addr());
        let mut stream = empty.repeat(COUNT);
        stream.extend_from_slice(&framing.encode(b"end").unwrap());
        c.send(&stream);
        assert!(matches!(next_event(&events), Event::Connected(_)));
        let mut empties = 0;
        loop {
            match next_event(&events) {
                Event::Message(_, m) if m.is_empty() => empties += 1,
                Event::Message(_, m) if m == b"end" => break,
                other => panic!("{framing:?}: unexpected {other:?}"),
            }
        }
        assert_eq!(empties, COUNT, "{framing:?}");
        // Empty frames do not cost the connection anything: it is still open.
        assert_eq!(server.client_count(), 1, "{framing:?}");
        server.stop();
    }
}

/// What the server reported for one client: its messages, then its reason.
fn session_of(events: &tcphub::Events, id: ClientId) -> (Vec<Vec<u8>>, DisconnectReason) {
    let mut msgs = Vec::new();
    loop {
        match next_event(events) {
            Event::Message(c, m) if c.id == id => msgs.push(m),
            Event::Disconnected(c, why) if c.id == id => return (msgs, why),
            _ => {}
        }
    }
}

#[test]
fn random_garbage_in_every_framing_ends_as_the_reference_model_says() {
    const SEEDS: u64 = 6;
    let framings = [
        Framing::Raw,
        Framing::Lines { max_len: 40 },
        Framing::LengthPrefixed { max_len: 40 },
    ];
    for framing in framings {
        let server = TcpServer::new(0, 10)
            .bind(localhost())
            .framing(framing)
            .start()
            .unwrap();
        let events = server.events();
        for seed in 0..SEEDS {
            let mut rng = Rng::new(seed * 31 + 7);
            // Noise, biased towards what the framings look at.
            let len = 1 + rng.below(4096);
            let garbage: Vec<u8> = (0..len)
                .map(|_| match rng.below(10) {
                    0 => b'\n',
                    1 => b'\r',
                    2 => 0,
                    _ => rng.next_u64() as u8,
                })
                .collect();
            let mut bad = Peer::connect(server.local_addr());
            let bad_addr = bad.addr();
            let id = match next_event(&events) {
                Event::Connected(c) if c.addr == bad_addr => c.id,
                other => panic!("expected the garbage client to connect, got {other:?}"),
            };
            // Random read sizes on the server side come from random write sizes here.
            let mut rest = &garbage[..];
            while !rest.is_empty() {
                let n = (1 + rng.below(700)).min(rest.len());
                if !bad.send_lossy(&rest[..n]) {
                    break; // cut off already (FrameTooLarge)
                }
                rest = &rest[n..];
            }
            let _ = bad.stream.shutdown(std::net::Shutdown::Write);
            let (got, why) = session_of(&events, id);
            let ctx = format!("{framing:?}, seed {seed}, {len} bytes");
            match model::decode(framing, &garbage) {
                Outcome::TooLarge { messages } => {
                    assert_eq!(why, DisconnectReason::FrameTooLarge, "{ctx}");
                    assert_eq!(got, messages, "{ctx}");
                }
                Outcome::Ok { messages, tail } => {
                    if framing == Framing::Raw {
                        assert_eq!(got.concat(), garbage, "{ctx}");
                        assert_eq!(why, DisconnectReason::ClosedByPeer, "{ctx}");
                        continue;
                    }
                    let (last, reason) = match tail {
                        Tail::Clean => (None, DisconnectReason::ClosedByPeer),
                        Tail::LastLine(l) => (Some(l), DisconnectReason::ClosedByPeer),
                        Tail::Truncated(_) => (
                            None,
                            DisconnectReason::Io(std::io::ErrorKind::UnexpectedEof),
                        ),
                    };
                    let mut expected = messages;
                    expected.extend(last);
                    assert_eq!(got, expected, "{ctx}");
                    assert_eq!(why, reason, "{ctx}");
                }
            }
        }
        // The server is still serving.
        let mut good = Peer::connect(server.local_addr());
        good.send(&framing.encode(b"ok").unwrap());
        let gid = match next_event(&events) {
            Event::Connected(c) => c.id,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            next_event(&events),
            Event::Message(
                tcphub::Client {
                    id: gid,
                    addr: good.addr()
                },
                b"ok".to_vec()
            )
        );
        server.stop();
    }
}

// ---- slow, silent and vanished peers -------------------------------------------

/// Drips `bytes` one per `every` until the server closes the connection or
/// they run out; returns how many were written.
fn drip(peer: &mut Peer, bytes: &[u8], every: Duration) -> usize {
    for (i, b) in bytes.iter().enumerate() {
        if !peer.send_lossy(std::slice::from_ref(b)) {
            return i;
        }
        std::thread::sleep(every); // pacing the drip, not waiting for an event
    }
    bytes.len()
}

#[test]
fn a_dripped_frame_finishes_under_an_idle_timeout_alone() {
    // Documented behaviour: every byte restarts the idle clock, so a frame
    // dripped one byte per 100 ms outlives a 2 s idle timeout.
    let (server, gone) = relay(Framing::lines(), |b| b.idle_timeout(Duration::from_secs(2)));
    let mut slow = Peer::connect(server.local_addr());
    wait_clients(&server, 1);
    let line = b"dripped over three seconds...\n";
    assert_eq!(
        drip(&mut slow, line, Duration::from_millis(100)),
        line.len()
    );
    assert_eq!(slow.read_line(), "dripped over three seconds...");
    assert!(gone.all().is_empty(), "{:?}", gone.all());
    server.stop();
}

#[test]
fn slowloris_is_cut_by_the_frame_timeout_and_others_are_served() {
    for framing in [Framing::lines(), Framing::length_prefixed()] {
        let (server, gone) = relay(framing, |b| {
            b.frame_timeout(Duration::from_millis(500))
                .idle_timeout(Duration::from_secs(10))
        });
        let mut slow = Peer::connect(server.local_addr());
        let mut good = Peer::connect(server.local_addr());
        wait_clients(&server, 2);
        let slow_id = slow.id_on(&server);
        let good_id = good.id_on(&server);

        // A frame that would take 20 s to arrive at one byte per 100 ms.
        let frame = framing.encode(&[b'z'; 196]).unwrap();
        let started = Instant::now();
        let dripped = drip(&mut slow, &frame, Duration::from_millis(100));
        assert!(
            dripped < frame.len(),
            "{framing:?}: the whole slow frame was accepted"
        );
        assert_eq!(
            gone.wait_for(slow_id),
            DisconnectReason::FrameTimeout,
            "{framing:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(500) + TIMEOUT);
        let (rest, clean) = slow.drain_until_closed();
        assert!(rest.is_empty() && clean, "{framing:?}: slowloris sees EOF");

        // The healthy client idled between frames for longer than the frame
        // timeout: that is not a slow frame, so it is still connected.
        good.send(&framing.encode(b"still here").unwrap());
        let mut reply = vec![0u8; framing.encode(b"still here").unwrap().len()];
        good.stream.read_exact(&mut reply).unwrap();
        assert_eq!(reply, framing.encode(b"still here").unwrap().to_vec());
        assert!(gone.reason_of(good_id).is_none());
        let stats = server.stats();
        assert_eq!(stats.frame_timeouts, 1, "{framing:?}: {stats:?}");
        assert_eq!(stats.idle_timeouts, 0);
        server.stop();
    }
}

/// (The idle timeout is 1 s: the busy client's thread must not stall for
/// as long between two of its pings, nor from its connect to its first;
/// 400 ms left a loaded machine little room for that.)
#[test]
fn silent_client_is_cut_by_the_idle_timeout_while_a_busy_one_stays() {
    let (server, gone) = relay(Framing::lines(), |b| b.idle_timeout(Duration::from_secs(1)));
    let silent = Peer::connect(server.local_addr());
    let mut busy = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let silent_id = silent.id_on(&server);
    let busy_id = busy.id_on(&server);
    let mut i = 0;
    while gone.reason_of(silent_id).is_none() {
        still_relays(&mut busy, &format!("ping {i}"));
        i += 1;
        std::thread::sleep(Duration::from_millis(50)); // pacing the busy client
        assert!(i < 2000, "the silent client was never cut");
    }
    assert_eq!(gone.wait_for(silent_id), DisconnectReason::IdleTimeout);
    assert!(gone.reason_of(busy_id).is_none());
    still_relays(&mut busy, "after");
    server.stop();
}

#[test]
fn vanished_peer_without_fin_is_detected_by_the_idle_timeout() {
    // A peer whose machine dies sends no FIN or RST: on loopback the closest
    // thing is a socket that stays open but says and reads nothing while the
    // server keeps writing to it. Keepalive cannot be shown here (the local
    // kernel answers its probes); the idle timeout is what catches it.
    let (server, gone) = relay(Framing::lines(), |b| {
        b.idle_timeout(Duration::from_millis(500))
            .keepalive(Duration::from_secs(1))
    });
    let mut ghost = Peer::connect(server.local_addr());
    wait_clients(&server, 1);
    let ghost_id = ghost.id_on(&server);
    ghost.send(b"half a li"); // then nothing, ever
    for i in 0..50 {
        server.send_all(format!("news {i}").as_bytes());
    }
    assert_eq!(gone.wait_for(ghost_id), DisconnectReason::IdleTimeout);
    assert_eq!(server.client_count(), 0);
    server.stop();
}

#[test]
fn reset_in_the_middle_of_a_frame_is_reported_and_others_unaffected() {
    let (server, gone) = relay(Framing::length_prefixed(), |b| b);
    let bad = Peer::connect(server.local_addr());
    let mut good = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let bad_id = bad.id_on(&server);
    let mut bad = bad;
    // Header for 1000 bytes, then 10 of them, then RST.
    let mut partial = 1000u32.to_be_bytes().to_vec();
    partial.extend_from_slice(&[1u8; 10]);
    bad.send(&partial);
    good.send_frame(b"sync"); // the partial frame has reached the server...
    assert_eq!(good.read_frame(), b"sync");
    bad.reset(); // ...and now the RST
    let why = gone.wait_for(bad_id);
    assert!(
        matches!(why, DisconnectReason::Reset | DisconnectReason::Io(_)),
        "{why:?}"
    );
    good.send_frame(b"after");
    assert_eq!(good.read_frame(), b"after");
    assert_eq!(
        server.stats().msgs_in,
        2,
        "nothing of the partial frame was delivered"
    );
    server.stop();
}

// ---- floods and storms ---------------------------------------------------------

#[test]
fn connect_flood_at_five_times_max_clients() {
    const MAX: usize = 40;
    let gone = Disconnects::new();
    let server = TcpServer::new(0, MAX)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message(|srv, c, msg| {
            srv.send(c.id, msg).unwrap();
        })
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let mut admitted: Vec<Peer> = (0..MAX)
        .map(|_| Peer::connect(server.local_addr()))
        .collect();
    wait_clients(&server, MAX);
    // 4 x MAX more, all at once.
    let mut extra: Vec<Peer> = (0..4 * MAX)
        .map(|_| Peer::connect(server.local_addr()))
        .collect();
    for (i, p) in extra.iter_mut().enumerate() {
        let (data, clean) = p.drain_until_closed();
        assert!(
            data.is_empty() && clean,
            "extra connection {i} did not get a plain EOF"
        );
    }
    wait_until("rejections counted", || {
        server.stats().rejected == 4 * MAX as u64
    });
    let stats = server.stats();
    assert_eq!(stats.accepted, MAX as u64);
    assert_eq!(stats.clients, MAX as u64);
    assert!(gone.all().is_empty(), "refused connections are not clients");
    for (i, p) in admitted.iter_mut().enumerate() {
        p.send_line(&format!("admitted {i}"));
    }
    for (i, p) in admitted.iter_mut().enumerate() {
        assert_eq!(p.read_line(), format!("admitted {i}"));
    }
    server.stop();
}

#[test]
fn stop_during_a_broadcast_storm_finishes_within_linger_plus_margin() {
    const LINGER: Duration = Duration::from_secs(1);
    let server = TcpServer::new(0, 200)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .linger(LINGER)
        .max_queue_bytes(64 << 20) // the non-readers stay, with full queues
        .start()
        .unwrap();
    // 50 readers that drain, 50 that never read (with small receive buffers,
    // so their data waits in the server's queues and stop() must linger).
    let addr = server.local_addr();
    let peers: Vec<Peer> = (0..100)
        .map(|i| match i % 2 {
            0 => Peer::connect(addr),
            _ => Peer::connect_with_rcvbuf(addr, 4096),
        })
        .collect();
    wait_clients(&server, 100);
    let quit = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = peers
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            let quit = quit.clone();
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    let _ = p.drain_until_closed();
                } else {
                    // Never reads; holds the socket until the test is over.
                    wait_until("the test ends", || quit.load(Ordering::Acquire));
                }
            })
        })
        .collect();
    let sent = Arc::new(AtomicU64::new(0));
    let storm = {
        let server = server.clone();
        let (quit, sent) = (quit.clone(), sent.clone());
        std::thread::spawn(move || {
            let msg = vec![0xABu8; 16 * 1024];
            while !quit.load(Ordering::Acquire) && server.try_send_all(&msg).is_ok() {
                sent.fetch_add(1, Ordering::Release);
            }
            sent.load(Ordering::Acquire)
        })
    };
    // 16 MiB per client: more than the kernel buffers of a non-reader hold,
    // so the rest waits in the server's queues when stop() comes.
    wait_until("the storm is under way", || {
        sent.load(Ordering::Acquire) >= 1024
    });
    let t0 = Instant::now();
    server.stop();
    let took = t0.elapsed();
    quit.store(true, Ordering::Release);
    let sent = storm.join().unwrap();
    assert!(sent > 0);
    assert!(
        took < LINGER + Duration::from_secs(10),
        "stop() took {took:?} with a {LINGER:?} linger"
    );
    assert!(!server.is_running());
    assert_eq!(server.client_count(), 0);
    for r in readers {
        r.join().unwrap();
    }
    eprintln!("stop() during a storm of {sent} broadcasts took {took:?} (linger {LINGER:?})");
}
