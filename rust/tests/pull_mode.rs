//! Pull mode (`events()`), idle timeout, kicking, IPv6.

mod support;

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use support::{localhost, next_event, wait_until, Peer, TIMEOUT};
use tcphub::{DisconnectReason, Error, Event, Framing, ServerHandle, TcpServer};

fn pull_server(framing: Framing) -> ServerHandle {
    TcpServer::new(0, 10)
        .bind(localhost())
        .framing(framing)
        .start()
        .unwrap()
}

#[test]
fn events_connected_messages_disconnected() {
    let server = pull_server(Framing::lines());
    let events = server.events();
    // Nothing happened yet.
    assert!(matches!(
        events.recv_timeout(Duration::from_millis(20)),
        Err(Error::Timeout)
    ));
    assert!(events.try_recv().is_none());
    assert!(events.is_empty());
    let mut out = Vec::new();
    assert_eq!(
        events
            .recv_batch(&mut out, 8, Duration::from_millis(20))
            .unwrap(),
        0
    );
    assert_eq!(events.recv_batch(&mut out, 0, TIMEOUT).unwrap(), 0);
    assert!(out.is_empty());

    let mut peer = Peer::connect(server.local_addr());
    let client = match next_event(&events) {
        Event::Connected(c) => c,
        other => panic!("expected Connected, got {other:?}"),
    };
    assert_eq!(client.addr, peer.addr());
    assert_eq!(server.client(client.id), Some(client));

    peer.send(b"a\nb\r\nc\n");
    // try_recv, polled (bounded), for the first ...
    let mut got = Vec::new();
    wait_until("first message via try_recv", || match events.try_recv() {
        Some(ev) => {
            got.push(ev);
            true
        }
        None => false,
    });
    // ... recv_batch for the rest.
    while got.len() < 3 {
        events.recv_batch(&mut got, 16, TIMEOUT).unwrap();
    }
    assert_eq!(
        got,
        vec![
            Event::Message(client, b"a".to_vec()),
            Event::Message(client, b"b".to_vec()),
            Event::Message(client, b"c".to_vec()),
        ]
    );

    // Sending works in pull mode too.
    server.send(client.id, b"reply").unwrap();
    assert_eq!(peer.read_line(), "reply");

    drop(peer);
    assert_eq!(
        next_event(&events),
        Event::Disconnected(client, DisconnectReason::ClosedByPeer)
    );
    assert_eq!(server.client_count(), 0);

    server.stop();
    assert!(matches!(
        events.recv_timeout(TIMEOUT),
        Err(Error::NotRunning)
    ));
    assert!(matches!(
        events.recv_batch(&mut out, 8, TIMEOUT),
        Err(Error::NotRunning)
    ));
    assert!(events.recv().is_none());
    assert_eq!(events.clone().count(), 0);
}

#[test]
fn recv_batch_takes_everything_already_queued() {
    let server = pull_server(Framing::length_prefixed());
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    let frames: Vec<u8> = (0..100u32)
        .flat_map(|i| support::lp_frame(&i.to_be_bytes()))
        .collect();
    peer.send(&frames);
    wait_until("101 events queued", || events.len() >= 101);

    let mut out = Vec::new();
    // At most `max` ...
    assert_eq!(events.recv_batch(&mut out, 30, TIMEOUT).unwrap(), 30);
    // ... and the rest in one call, without waiting for more.
    assert_eq!(events.recv_batch(&mut out, 1000, TIMEOUT).unwrap(), 71);
    assert!(matches!(out[0], Event::Connected(_)));
    for (i, ev) in out[1..].iter().enumerate() {
        match ev {
            Event::Message(_, m) => assert_eq!(m, &(i as u32).to_be_bytes()),
            other => panic!("event {i}: {other:?}"),
        }
    }
    assert!(events.is_empty());
    server.stop();
}

#[test]
fn idle_client_is_disconnected_with_idle_timeout() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .idle_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let events = server.events();
    let mut idle = Peer::connect(server.local_addr());
    let client = match next_event(&events) {
        Event::Connected(c) => c,
        other => panic!("expected Connected, got {other:?}"),
    };
    assert_eq!(client.addr, idle.addr());
    // Never sends anything.
    assert_eq!(
        next_event(&events),
        Event::Disconnected(client, DisconnectReason::IdleTimeout)
    );
    idle.expect_eof();
    let stats = server.stats();
    assert_eq!(stats.idle_timeouts, 1);
    assert_eq!(stats.clients, 0);
    server.stop();
}

#[test]
fn kicked_client_gets_queued_data_then_eof() {
    let server = pull_server(Framing::lines());
    let events = server.events();
    let mut kicked = Peer::connect(server.local_addr());
    let mut other = Peer::connect(server.local_addr());
    let id = kicked.id_on(&server);
    let other_id = other.id_on(&server);

    server.send(id, b"bye").unwrap();
    server.disconnect(id).unwrap();
    assert_eq!(kicked.read_line(), "bye");
    kicked.expect_eof();

    let mut reason = None;
    while reason.is_none() {
        if let Event::Disconnected(c, why) = next_event(&events) {
            assert_eq!(c.id, id, "only the kicked client leaves");
            reason = Some(why);
        }
    }
    assert_eq!(reason, Some(DisconnectReason::Kicked));
    assert!(matches!(server.disconnect(id), Err(Error::NoSuchClient(_))));

    // The other client is untouched.
    server.send(other_id, b"still here").unwrap();
    assert_eq!(other.read_line(), "still here");
    other.send_line("me too");
    loop {
        match next_event(&events) {
            Event::Message(c, m) => {
                assert_eq!((c.id, m.as_slice()), (other_id, &b"me too"[..]));
                break;
            }
            Event::Connected(_) => {}
            ev => panic!("unexpected {ev:?}"),
        }
    }
    server.stop();
}

#[test]
fn ipv6_loopback_server_accepts_ipv6_clients() {
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let server = match TcpServer::new(0, 10)
        .bind(v6)
        .framing(Framing::lines())
        .start()
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipped: cannot listen on [::1] ({e})");
            return;
        }
    };
    let addr = server.local_addr();
    assert!(addr.is_ipv6());
    assert_eq!(addr.ip(), v6);
    let events = server.events();
    let mut peer = Peer::connect(addr);
    let client = match next_event(&events) {
        Event::Connected(c) => c,
        other => panic!("expected Connected, got {other:?}"),
    };
    assert_eq!(client.addr, peer.addr());
    assert!(client.addr.is_ipv6());

    peer.send_line("over ipv6");
    assert_eq!(
        next_event(&events),
        Event::Message(client, b"over ipv6".to_vec())
    );
    let a = peer.addr();
    server.send_to(a.ip(), a.port(), b"to [::1]").unwrap();
    assert_eq!(peer.read_line(), "to [::1]");
    server.stop();
    peer.expect_eof();
}

/// `{:?}` of a receiver says what an application can act on — how many
/// events wait — as `ServerHandle`'s and `TcpClient`'s say their address
/// and state. It printed the queue's internals: its mutexes, counters and
/// every loop's eventfd waker (`fd: 5, path: "anon_inode:[eventfd]"`).
#[test]
fn events_debug_shows_the_backlog_not_the_internals() {
    let server = pull_server(Framing::lines());
    let events = server.events();
    assert_eq!(format!("{events:?}"), "Events { pending: 0 }");
    let _peer = Peer::connect(server.local_addr());
    wait_until("the Connected event queued", || events.len() == 1);
    assert_eq!(format!("{events:?}"), "Events { pending: 1 }");
    server.stop();
}

#[test]
fn a_receiver_of_a_server_with_callbacks_says_so() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message(move |_, _, msg| {
            tx.lock().unwrap().send(msg.to_vec()).ok();
        })
        .start()
        .unwrap();
    let events = server.events();
    // Running, with a client speaking: its events go to the callback, and
    // the receiver's calls say why they have none (not "not running").
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("hi");
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), b"hi");
    let err = events.recv_timeout(Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, Error::CallbackMode), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the server has callbacks: its events go to them, none to a pull receiver"
    );
    let mut out = Vec::new();
    assert!(matches!(
        events.recv_batch(&mut out, 16, Duration::from_secs(1)),
        Err(Error::CallbackMode)
    ));
    assert!(out.is_empty());
    assert!(events.try_recv().is_none());
    assert!(events.is_empty());
    assert!(server.is_running());
    server.stop();
    assert!(matches!(
        events.recv_timeout(Duration::from_millis(1)),
        Err(Error::CallbackMode)
    ));
    assert!(events.recv().is_none());
}
