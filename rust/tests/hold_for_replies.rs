//! `TcpServer::hold_for_replies`: a client that finished sending (a
//! half-close after its request, as `nc -N` does) stays open for the
//! application's replies until it calls `disconnect`, the window ends, a
//! write fails, or the stop — with callbacks and in pull mode alike. Without
//! it a worker thread could not answer such a client: with callbacks the
//! connection closed once they returned, in pull mode at the next call for
//! events (the API review's request/response service with a worker pool).

mod support;

use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use support::*;
use tcphub::{ClientId, DisconnectReason, Error, Event, Events, ServerHandle, TcpServer};

/// A lines server holding half-closed clients for `window`, recording its
/// disconnects in `gone`.
fn holding_server(window: Duration, gone: &Disconnects) -> TcpServer {
    lines_server(10)
        .hold_for_replies(window)
        .on_disconnect(gone.recorder())
}

#[test]
fn a_worker_answers_a_half_closed_client_then_disconnects_it() {
    let (to_worker, jobs) = mpsc::channel::<(ClientId, Vec<u8>)>();
    let to_worker = Mutex::new(to_worker);
    let gone = Disconnects::new();
    let server = holding_server(Duration::from_secs(60), &gone)
        .on_message(move |_srv, c, msg| {
            to_worker
                .lock()
                .unwrap()
                .send((c.id, msg.to_vec()))
                .unwrap();
        })
        .start()
        .unwrap();
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("request");
    peer.shutdown_write();
    let (id, job) = jobs.recv_timeout(TIMEOUT).expect("the job");
    // Its leaving is reported at its end, before any answer.
    assert_eq!(gone.wait_for(id), DisconnectReason::ClosedByPeer);
    assert_eq!(server.client_count(), 0, "no longer counted");
    assert!(server.client(id).is_none(), "no longer listed");
    // The worker answers afterwards: it still arrives.
    server
        .send(id, &[b"answer to ", &job[..]].concat())
        .unwrap();
    assert_eq!(peer.read_line(), "answer to request");
    assert_eq!(server.send_all(b"to all"), 0, "reached, not counted");
    assert_eq!(peer.read_line(), "to all");
    server.disconnect(id).unwrap();
    peer.expect_eof();
    assert_eq!(
        gone.all().len(),
        1,
        "one leaving reported: {:?}",
        gone.all()
    );
    server.stop();
    assert_eq!(gone.all().len(), 1, "{:?}", gone.all());
}

#[test]
fn the_window_closes_a_client_nobody_disconnects() {
    let gone = Disconnects::new();
    let server = holding_server(Duration::from_millis(300), &gone)
        .start()
        .unwrap();
    let mut peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    peer.shutdown_write();
    assert_eq!(gone.wait_for(id), DisconnectReason::ClosedByPeer);
    let reported = Instant::now();
    server.send(id, b"late answer").unwrap();
    assert_eq!(peer.read_line(), "late answer");
    peer.expect_eof();
    assert!(
        reported.elapsed() >= Duration::from_millis(250),
        "closed before the window ended: {:?}",
        reported.elapsed()
    );
    assert!(matches!(server.send(id, b"x"), Err(Error::NoSuchClient(_))));
    assert_eq!(gone.all().len(), 1, "{:?}", gone.all());
    server.stop();
}

/// A pull-mode server holding for `window`, and a peer that asked a
/// "question" and half-closed.
fn asked_and_left(window: Duration) -> (ServerHandle, Events, Peer) {
    let server = lines_server(10).hold_for_replies(window).start().unwrap();
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("question");
    peer.shutdown_write();
    (server, events, peer)
}

#[test]
fn pull_mode_keeps_holding_past_the_next_call_for_events() {
    let (server, events, mut peer) = asked_and_left(Duration::from_secs(60));
    assert!(matches!(next_event(&events), Event::Connected(_)));
    let (id, q) = match next_event(&events) {
        Event::Message(c, q) => (c.id, q),
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        next_event(&events),
        Event::Disconnected(_, DisconnectReason::ClosedByPeer)
    ));
    // The next calls for events would end the default hold.
    assert!(matches!(
        events.recv_timeout(Duration::from_millis(100)),
        Err(Error::Timeout)
    ));
    assert!(events.try_recv().is_none());
    server.send(id, &[b"answer to ", &q[..]].concat()).unwrap();
    assert_eq!(peer.read_line(), "answer to question");
    server.disconnect(id).unwrap();
    peer.expect_eof();
    server.stop();
    assert!(events.try_recv().is_none(), "no second Disconnected");
}

#[test]
fn a_staged_batch_starts_the_window_at_the_hand_out() {
    // A consumer that keeps a batch and passes its events on one by one
    // (the Python bindings do): the window of a disconnect in the batch
    // runs from its hand-out, not from the batch's take.
    let (server, events, mut peer) = asked_and_left(Duration::from_millis(300));
    let mut staged = Vec::new();
    wait_until("the client's end, staged", || {
        events
            .recv_batch_staged(&mut staged, 16, Duration::from_millis(10))
            .unwrap();
        staged.iter().any(|e| matches!(e, Event::Disconnected(..)))
    });
    // Slow work on the events before it: several windows pass.
    std::thread::sleep(Duration::from_millis(900));
    for ev in &staged {
        events.hand_out(ev);
    }
    let id = match &staged[1] {
        Event::Message(c, _) => c.id,
        other => panic!("{other:?}"),
    };
    server.send(id, b"answer").expect("still held");
    assert_eq!(peer.read_line(), "answer");
    peer.expect_eof(); // the window from the hand-out ends it
    server.stop();
}

#[test]
fn the_stop_closes_held_clients_without_a_second_report() {
    let gone = Disconnects::new();
    let server = holding_server(Duration::from_secs(60), &gone)
        .start()
        .unwrap();
    let mut peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    peer.shutdown_write();
    gone.wait_for(id);
    server.send(id, b"queued before the stop").unwrap();
    server.stop();
    assert_eq!(peer.read_line(), "queued before the stop");
    peer.expect_eof();
    assert_eq!(gone.all().len(), 1, "{:?}", gone.all());
}

#[test]
fn a_peer_that_closed_both_sides_is_let_go_when_a_write_fails() {
    let gone = Disconnects::new();
    let server = holding_server(Duration::from_secs(60), &gone)
        .start()
        .unwrap();
    let peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    drop(peer); // a full close: a write finds it gone
    gone.wait_for(id);
    // The first write is answered with a reset, a later one fails: the
    // loop closes the connection then (bounded wait, no second report).
    wait_until("the connection to be let go", || {
        server.send(id, b"anyone?").is_err()
    });
    assert_eq!(gone.all().len(), 1, "{:?}", gone.all());
    server.stop();
}

#[test]
fn a_zero_window_is_refused() {
    let err = TcpServer::new(0, 10)
        .bind(localhost())
        .hold_for_replies(Duration::ZERO)
        .start()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig(_)), "{err}");
    assert!(err.to_string().contains("hold_for_replies"), "{err}");
}
