//! `send_many`: one message, framed once, to a set of clients named by id
//! (a pub/sub topic's subscribers): exactly those clients get it, each in
//! the order of everything sent to it, and the framing's refusals and a
//! stopped server are told as `send_all` tells them.

mod support;

use std::sync::{Arc, Mutex};

use support::*;
use tcphub::{ClientId, Error, Framing, TcpServer};

/// Four clients on two loops: the message reaches the two listed (one of
/// them twice), not the others nor an id nobody has; the count says 2.
#[test]
fn exactly_the_listed_connected_clients_get_it_once() {
    let s = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .start()
        .expect("start");
    let mut peers: Vec<Peer> = (0..4).map(|_| Peer::connect(s.local_addr())).collect();
    let ids: Vec<ClientId> = peers.iter().map(|p| p.id_on(&s)).collect();
    // Ids nobody has (ids are unique in the process, counted from 1).
    let stranger = |k: u64| u64::MAX - k;
    let listed = [ids[2], ids[0], ids[2], stranger(0)];
    assert_eq!(s.try_send_many(&listed, b"news").expect("sent"), 2);
    // A long list with few connected clients among strangers and repeats.
    let long: Vec<ClientId> = (1..31)
        .map(stranger)
        .chain([ids[3], ids[1], ids[3]])
        .collect();
    assert_eq!(s.try_send_many(&long, b"more").expect("sent"), 2);
    assert_eq!(s.send_all(b"end"), 4);
    for (i, p) in peers.iter_mut().enumerate() {
        if i == 0 || i == 2 {
            assert_eq!(p.read_line(), "news", "client {}", i + 1);
        }
        if i == 1 || i == 3 {
            assert_eq!(p.read_line(), "more", "client {}", i + 1);
        }
        assert_eq!(p.read_line(), "end", "client {}", i + 1);
    }
    assert_eq!(s.send_many(&[], b"nobody"), 0);
    assert_eq!(s.send_many(&[stranger(1), stranger(2)], b"nobody"), 0);
    s.stop();
}

/// A pub/sub hub on two loops: every publish goes to all subscribers with
/// `send_many`, bracketed by replies to the publisher with `send`. Every
/// subscriber gets every publication in order, and the publisher its
/// "before", publication, "after" in that order (the gathered replies and
/// the shared message are not reordered). Four subscribers take the
/// path of a `send` each, twelve the shared buffer's.
#[test]
fn from_a_callback_it_keeps_order_with_the_other_sends() {
    for clients in [4, 12] {
        publish_from_callbacks(clients);
    }
}

fn publish_from_callbacks(clients: usize) {
    let subs: Arc<Mutex<Vec<ClientId>>> = Arc::default();
    let in_cb = subs.clone();
    let s = TcpServer::new(0, 20)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .on_message(move |srv, c, msg| {
            let ids = in_cb.lock().unwrap().clone();
            srv.send(c.id, b"before").expect("before");
            assert_eq!(srv.try_send_many(&ids, msg).expect("publish"), ids.len());
            srv.send(c.id, b"after").expect("after");
        })
        .start()
        .expect("start");
    let mut peers = connect_peers(&s, clients);
    *subs.lock().unwrap() = peers.iter().map(|p| p.id_on(&s)).collect();
    const ROUNDS: usize = 50;
    for round in 0..ROUNDS {
        let publisher = round % peers.len();
        let text = format!("pub {round}");
        peers[publisher].send_line(&text);
        assert_eq!(peers[publisher].read_line(), "before");
        assert_eq!(peers[publisher].read_line(), text);
        assert_eq!(peers[publisher].read_line(), "after");
        for (i, p) in peers.iter_mut().enumerate() {
            if i != publisher {
                assert_eq!(p.read_line(), text, "subscriber {i} of {clients}");
            }
        }
    }
    s.stop();
}

/// An application thread's burst to one long list (more ids than the
/// registry has shards, out of order, with repeats and strangers) on two
/// loops: the loops join consecutive messages for the same clients into
/// batches, and every listed client gets every message once, in order.
#[test]
fn a_burst_to_a_long_list_arrives_whole_and_in_order() {
    const CLIENTS: usize = 40;
    const MESSAGES: usize = 3000;
    let s = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .start()
        .expect("start");
    let peers = connect_peers(&s, CLIENTS);
    let mut ids: Vec<ClientId> = peers.iter().map(|p| p.id_on(&s)).collect();
    ids.reverse();
    ids.extend_from_slice(&ids.clone()[..5]);
    ids.push(10_000);
    let readers: Vec<_> = peers
        .into_iter()
        .map(|mut p| {
            std::thread::spawn(move || {
                for i in 0..MESSAGES {
                    assert_eq!(p.read_line(), format!("m{i}"));
                }
            })
        })
        .collect();
    for i in 0..MESSAGES {
        assert_eq!(s.send_many(&ids, format!("m{i}").as_bytes()), CLIENTS);
    }
    for r in readers {
        r.join().expect("a reader got every message in order");
    }
    assert_eq!(s.stats().dropped, 0);
    s.stop();
}

/// The framing's refusals and a stopped server are errors, before anyone
/// gets the message; `send_many` itself says 0.
#[test]
fn refusals_are_errors_and_nobody_gets_the_message() {
    let s = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .start()
        .expect("start");
    let mut peers = connect_peers(&s, 2);
    let ids: Vec<ClientId> = peers.iter().map(|p| p.id_on(&s)).collect();
    assert!(matches!(
        s.try_send_many(&ids, b"two\nlines"),
        Err(Error::InvalidMessage { .. })
    ));
    assert_eq!(s.send_many(&ids, b"two\nlines"), 0);
    assert_eq!(s.send_many(&ids, b"ok"), 2);
    for p in &mut peers {
        assert_eq!(p.read_line(), "ok");
    }
    s.stop();
    assert!(matches!(
        s.try_send_many(&ids, b"late"),
        Err(Error::NotRunning)
    ));
    for p in &mut peers {
        p.expect_eof();
    }

    let small = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::LengthPrefixed { max_len: 8 })
        .start()
        .expect("start");
    let mut peer = Peer::connect(small.local_addr());
    let id = peer.id_on(&small);
    assert!(matches!(
        small.try_send_many(&[id, id + 1], b"nine bytes"),
        Err(Error::FrameTooLarge { .. })
    ));
    assert_eq!(small.send_many(&[id, id + 1], b"eight b!"), 1);
    assert_eq!(peer.read_frame(), b"eight b!");
    small.stop();
}

/// A client kicked earlier in the same callback is still listed when
/// `send_many` looks it up, so it is counted, but its loop applies the
/// kick first: the message is not written to it and is counted in
/// `undelivered`, while the other listed client gets it.
#[test]
fn a_client_kicked_first_is_counted_undelivered() {
    // A short message takes the path of a `send` each, a long one
    // (over 1 KiB framed) the shared buffer's.
    for len in [14, 2000] {
        kick_then_send_many(len);
    }
}

fn kick_then_send_many(len: usize) {
    let msg = vec![b'k'; len];
    let line = String::from_utf8(msg.clone()).unwrap();
    let victim = Arc::new(Mutex::new(0));
    let in_cb = victim.clone();
    let s = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(1)
        .on_message(move |srv, c, _msg| {
            let v = *in_cb.lock().unwrap();
            srv.disconnect(v).expect("kick");
            assert_eq!(srv.send_many(&[v, c.id], &msg), 2);
        })
        .start()
        .expect("start");
    let mut speaker = Peer::connect(s.local_addr());
    let mut kicked = Peer::connect(s.local_addr());
    *victim.lock().unwrap() = kicked.id_on(&s);
    speaker.id_on(&s);
    speaker.send_line("go");
    assert_eq!(speaker.read_line(), line);
    assert_eq!(kicked.read_to_eof(), b"", "{len} bytes");
    wait_until("undelivered counted", || s.stats().undelivered == 1);
    s.stop();
}

/// The message is framed once: 40 clients that do not read, each listed
/// for a 4 MiB message, hold about one copy of it, not forty (the test
/// binary counts its heap; `send` per client would hold ~160 MiB).
#[test]
fn the_clients_share_one_buffer() {
    const SIZE: usize = 4 << 20;
    const CLIENTS: usize = 40;
    let s = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::LengthPrefixed { max_len: SIZE })
        .max_queue_bytes(2 * SIZE)
        .start()
        .expect("start");
    let peers = connect_peers(&s, CLIENTS);
    let ids: Vec<ClientId> = peers.iter().map(|p| p.id_on(&s)).collect();
    let msg = vec![7u8; SIZE];
    let before = rss_kib();
    assert_eq!(s.send_many(&ids, &msg), CLIENTS);
    // Once the loop has queued it and written what the sockets take, the
    // rest stays queued, sharing the buffer.
    wait_until("the message written in part", || s.stats().bytes_out > 0);
    let grown_mib = (rss_kib().saturating_sub(before)) as f64 / 1024.0;
    eprintln!(
        "send_many of {} MiB to {CLIENTS} clients: +{grown_mib:.1} MiB",
        SIZE >> 20
    );
    assert!(
        grown_mib < 3.0 * (SIZE >> 20) as f64,
        "the server grew {grown_mib:.1} MiB for a {} MiB message to {CLIENTS} clients",
        SIZE >> 20
    );
    drop(peers);
    s.stop();
}
