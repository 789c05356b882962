//! A peer that finishes sending (a TCP half-close: `shutdown(SHUT_WR)` after
//! its request, as `nc -N` does) still gets the replies to its last
//! messages. With callbacks they are queued before the end-of-stream is
//! handled; in pull mode the connection is held open until the application
//! asks for its next event, or for the linger time.

mod support;

use std::time::{Duration, Instant};

use support::{localhost, next_event, wait_until, Peer, TIMEOUT};
use tcphub::{
    Client, DisconnectReason, Event, Events, Framing, ServerHandle, TcpClient, TcpServer,
};

fn pull_server(linger: Duration) -> ServerHandle {
    TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .linger(linger)
        .start()
        .unwrap()
}

/// A pull-mode server (linger 30 s), its receiver, and a peer that
/// half-closed at once; its `Connected` and `Disconnected(ClosedByPeer)`
/// are taken, so the server holds it.
fn held_peer() -> (ServerHandle, Events, Peer, Client) {
    let server = pull_server(Duration::from_secs(30));
    let events = server.events();
    let peer = Peer::connect(server.local_addr());
    peer.shutdown_write();
    assert!(matches!(next_event(&events), Event::Connected(_)));
    let client = match next_event(&events) {
        Event::Disconnected(c, DisconnectReason::ClosedByPeer) => c,
        other => panic!("{other:?}"),
    };
    (server, events, peer, client)
}

/// Replies `"re: <msg>"` to every message; returns when `n` clients have
/// ended and the next call for events has been made.
fn answer_until_ended(server: &ServerHandle, n: usize) -> Vec<Event> {
    let events = server.events();
    let mut ends = Vec::new();
    while ends.len() < n {
        match next_event(&events) {
            Event::Message(c, m) => {
                let mut reply = b"re: ".to_vec();
                reply.extend_from_slice(&m);
                server
                    .send(c.id, &reply)
                    .expect("the client is still there");
            }
            ev @ Event::Disconnected(..) => ends.push(ev),
            Event::Connected(_) => {}
        }
    }
    let _ = events.try_recv(); // "dealt with everything taken": releases
    ends
}

#[test]
fn pull_mode_replies_reach_a_peer_that_half_closed() {
    let server = pull_server(Duration::from_secs(30));
    let mut peer = Peer::connect(server.local_addr());
    for i in 0..100 {
        peer.send_line(&format!("request {i}"));
    }
    peer.shutdown_write();
    let ends = answer_until_ended(&server, 1);
    assert!(
        matches!(
            &ends[..],
            [Event::Disconnected(_, DisconnectReason::ClosedByPeer)]
        ),
        "{ends:?}"
    );
    let got = String::from_utf8(peer.read_to_eof()).unwrap();
    let want: String = (0..100).map(|i| format!("re: request {i}\n")).collect();
    assert_eq!(got, want, "every reply, then end-of-stream");
    wait_until("the client closed and counted once", || {
        server.clients().is_empty() && server.stats().disconnected == 1
    });
}

#[test]
fn a_held_connection_closes_at_the_linger_time_if_the_application_stops_asking() {
    let server = pull_server(Duration::from_millis(300));
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("bye");
    peer.shutdown_write();
    let started = Instant::now();
    assert!(matches!(next_event(&events), Event::Connected(_)));
    assert!(matches!(next_event(&events), Event::Message(..)));
    assert!(matches!(
        next_event(&events),
        Event::Disconnected(_, DisconnectReason::ClosedByPeer)
    ));
    // No further call for events: the linger time ends the wait.
    peer.expect_eof();
    assert!(started.elapsed() < TIMEOUT);
    wait_until("the client gone", || server.clients().is_empty());
}

#[test]
fn a_held_client_is_reported_once_even_when_the_server_stops() {
    let (server, events, mut peer, client) = held_peer();
    // Reported gone: not listed or counted; `send`, `send_to` and
    // broadcasts (not counting it) still reach it while held.
    assert_eq!(server.client_count(), 0);
    assert!(server.clients().is_empty());
    assert_eq!(server.client(client.id), None);
    assert_eq!(server.send_all(b"everyone"), 0);
    server.send(client.id, b"direct").unwrap();
    server
        .send_to(client.addr.ip(), client.addr.port(), b"by address")
        .unwrap();
    assert_eq!(peer.read_line(), "everyone");
    assert_eq!(peer.read_line(), "direct");
    assert_eq!(peer.read_line(), "by address");
    server.stop();
    assert_eq!(events.count(), 0, "no second Disconnected");
    peer.expect_eof();
    assert_eq!(server.stats().disconnected, 1);
}

#[test]
fn callback_replies_reach_a_peer_that_half_closed() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message(|srv, c, m| {
            let _ = srv.send(c.id, m);
        })
        .start()
        .unwrap();
    let mut peer = Peer::connect(server.local_addr());
    for i in 0..100 {
        peer.send_line(&format!("m{i}"));
    }
    peer.shutdown_write();
    let got = String::from_utf8(peer.read_to_eof()).unwrap();
    let want: String = (0..100).map(|i| format!("m{i}\n")).collect();
    assert_eq!(got, want);
}

#[test]
fn a_tcphub_client_half_close_gets_every_pull_mode_reply() {
    let server = pull_server(Duration::from_secs(30));
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .connect()
        .unwrap();
    for i in 0..50 {
        client.send(format!("q{i}").as_bytes()).unwrap();
    }
    client.shutdown_write().unwrap();
    let app = std::thread::scope(|s| {
        let app = s.spawn(|| answer_until_ended(&server, 1));
        for i in 0..50 {
            let want = format!("re: q{i}");
            assert_eq!(client.recv_timeout(TIMEOUT).unwrap(), want.as_bytes());
        }
        app.join().unwrap()
    });
    assert_eq!(app.len(), 1);
    assert!(matches!(
        client.recv_timeout(TIMEOUT),
        Err(tcphub::Error::NotRunning)
    ));
}

/// Python's `poll()` and C's `tcphub_server_next_event` ask `events()`
/// afresh for every call: the hold lasts until the next call all the same.
#[test]
fn a_fresh_receiver_per_call_still_holds_until_the_next_call() {
    let server = pull_server(Duration::from_secs(30));
    let mut peer = Peer::connect(server.local_addr());
    let all: String = (0..100).map(|i| format!("request {i}\n")).collect();
    peer.send(all.as_bytes());
    peer.shutdown_write();
    let mut n = 0;
    let mut ended = None;
    while ended.is_none() {
        let mut batch = Vec::new();
        server
            .events()
            .recv_batch(&mut batch, 256, TIMEOUT)
            .unwrap();
        for ev in batch {
            match ev {
                Event::Message(c, m) => {
                    let mut reply = b"re: ".to_vec();
                    reply.extend_from_slice(&m);
                    server.send(c.id, &reply).expect("held for the reply");
                    n += 1;
                }
                Event::Disconnected(c, _) => ended = Some(c),
                Event::Connected(_) => {}
            }
        }
    }
    // Answering after the end (one event per call, as in C) works too.
    let c = ended.unwrap();
    server.send(c.id, b"that was all").unwrap();
    assert!(server.events().try_recv().is_none()); // the next call releases
    let got = String::from_utf8(peer.read_to_eof()).unwrap();
    let want: String = (0..100)
        .map(|i| format!("re: request {i}\n"))
        .chain(["that was all\n".to_string()])
        .collect();
    assert_eq!((n, got), (100, want));
}

/// A held peer is done: the idle and frame timeouts no longer apply (they
/// cut the hold short and counted a timeout for a client already gone).
/// (1 s each: before the hold, the idle clock runs from the connect to the
/// first read, and the frame clock from the read of "unfinished" to that
/// of the end of the stream; a test thread held up between its connect,
/// write and shutdown must not run either out.)
#[test]
fn idle_and_frame_timeouts_do_not_cut_a_held_connection() {
    const TIMEOUTS: Duration = Duration::from_secs(1);
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .linger(Duration::from_secs(30))
        .idle_timeout(TIMEOUTS)
        .frame_timeout(TIMEOUTS)
        .start()
        .unwrap();
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    peer.send(b"req\nunfinished");
    peer.shutdown_write();
    assert!(matches!(next_event(&events), Event::Connected(_)));
    let (c, m) = match next_event(&events) {
        Event::Message(c, m) => (c, m),
        other => panic!("{other:?}"),
    };
    // Lines framing hands the unfinished last line over at the end.
    assert!(matches!(next_event(&events), Event::Message(_, m) if m == b"unfinished"));
    assert!(matches!(
        next_event(&events),
        Event::Disconnected(_, DisconnectReason::ClosedByPeer)
    ));
    // Work on the request well past both timeouts (the timer scans every
    // 50 ms) without asking for events, which keeps the hold.
    std::thread::sleep(TIMEOUTS * 5 / 2);
    server.send(c.id, &m).expect("still held");
    let _ = events.try_recv(); // release
    assert_eq!(peer.read_to_eof(), b"req\n");
    let st = server.stats();
    assert_eq!((st.idle_timeouts, st.frame_timeouts), (0, 0), "{st:?}");
}

/// The end is counted when it is reported, so `accepted − disconnected`
/// matches the client count during the hold too.
#[test]
fn a_held_client_is_counted_as_disconnected_when_reported() {
    let (server, events, mut peer, _) = held_peer();
    let st = server.stats();
    assert_eq!(
        (st.accepted, st.disconnected, st.clients),
        (1, 1, 0),
        "{st:?}"
    );
    let _ = events.try_recv();
    peer.expect_eof();
    wait_until("the connection closed", || server.clients().is_empty());
    assert_eq!(server.stats().disconnected, 1);
}

/// An application that never takes its events does not keep half-closed
/// (or fully closed) clients' sockets: the linger time after the end frees
/// them.
#[test]
fn clients_of_an_application_that_never_takes_events_are_freed() {
    let server = pull_server(Duration::from_millis(200));
    let mut peer = Peer::connect(server.local_addr());
    peer.shutdown_write();
    peer.expect_eof(); // within the 20 s read timeout, not never
}

/// `wait_ready` is a call for events too (a select-style consumer takes
/// with `try_recv`, then waits there): it ends the hold.
#[test]
fn wait_ready_releases_held_clients() {
    let (_server, events, mut peer, _) = held_peer();
    assert!(!events.wait_ready(Duration::from_millis(10)));
    peer.expect_eof(); // within the 20 s read timeout: not the 30 s linger
}

/// A held client (pull mode) that does not read its replies: when its
/// queue overflows the hold ends, but it is not counted as a slow consumer
/// — it was reported gone (`ClosedByPeer`) and counted then; what did not
/// fit counts as undelivered.
#[test]
fn a_held_client_whose_queue_overflows_is_not_counted_as_a_slow_consumer() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .linger(Duration::from_secs(30))
        .max_queue_bytes(64 * 1024)
        .start()
        .unwrap();
    let events = server.events();
    let peer = Peer::connect(server.local_addr());
    peer.shutdown_write();
    assert!(matches!(next_event(&events), Event::Connected(_)));
    let client = match next_event(&events) {
        Event::Disconnected(c, DisconnectReason::ClosedByPeer) => c,
        other => panic!("{other:?}"),
    };
    // The peer never reads: replies fill the socket buffers, then its queue.
    let reply = vec![b'x'; 16 * 1024];
    let started = Instant::now();
    while server.send(client.id, &reply).is_ok() {
        assert!(started.elapsed() < TIMEOUT, "the held client was never cut");
    }
    wait_until("the overflow counted", || server.stats().undelivered > 0);
    let s = server.stats();
    assert_eq!(s.slow_consumers, 0, "{s:?}");
    assert_eq!(s.disconnected, 1, "counted once, when held: {s:?}");
    assert!(events.try_recv().is_none(), "no second Disconnected");
    drop(peer);
}
