//! Review mu5 (mutation testing of `event_loop/vanished.rs`), two gaps of
//! the loop's vanished-peer watch. Both run in a network namespace of their
//! own (root), as `keepalive_dead_peer.rs` does; they pass without, unless
//! `TCPHUB_REQUIRE_NETNS` is set.
//!
//! A client the watch finds vanished is closed with a reset, not a FIN
//! (`reset_on_close` there): "the kernel would otherwise go on resending to
//! the vanished peer after the close". With that line removed every test
//! still passed: the departure is reported the same way, and the peer,
//! gone, cannot tell. What tells is our own kernel: after a FIN the closed
//! socket stays, orphaned, in FIN_WAIT1 behind the output still
//! unacknowledged, resending it for minutes; after a reset it is gone at
//! once.
//!
//! The watch leaves connections already on their way out alone —
//! "closing connections end by their own deadlines". A client the
//! application kicked (`disconnect`) is reported `Kicked` when its linger
//! time for the output queued to it is up, even if its peer vanished
//! meanwhile. With the watch's skip of closing connections weakened (`||`
//! to `&&`), such a client was cut by the watch as vanished and reported
//! `Io(TimedOut)` instead, and no test noticed.

#![cfg(target_os = "linux")]

mod support;

use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use support::netns::{own_network, set_loopback, tcp_row};
use support::*;
use tcphub::{ClientId, DisconnectReason, ServerHandle, TcpServer};

/// A one-loop server on loopback whose watch looks for vanished peers
/// (keepalive 1 s), `more` applied to its builder, and a client of it.
fn watched(
    gone: &Disconnects,
    more: impl FnOnce(TcpServer) -> TcpServer,
) -> (ServerHandle, TcpStream, ClientId) {
    let server = more(
        TcpServer::new(0, 4)
            .bind(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .threads(1)
            .keepalive(Duration::from_secs(1))
            .on_message(|_, _, _| {})
            .on_disconnect(gone.recorder()),
    )
    .start()
    .expect("start");
    let peer = TcpStream::connect(server.local_addr()).expect("connect");
    wait_clients(&server, 1);
    let id = server.clients()[0].id;
    (server, peer, id)
}

/// Whether this thread's network namespace has a TCP socket from local
/// port `local` to peer port `peer`, and in which state (hex, as the
/// kernel lists it: 01 established, 04 FIN_WAIT1).
fn socket_state(local: u16, peer: u16) -> Option<String> {
    tcp_row(local, peer).map(|row| row[3].clone())
}

#[test]
fn review_mu5_a_vanished_client_is_reset_not_left_resending() {
    if !own_network() {
        return;
    }
    let gone = Disconnects::new();
    let (server, peer, id) = watched(&gone, |s| s);
    let (sport, pport) = (
        server.local_addr().port(),
        peer.local_addr().unwrap().port(),
    );
    assert_eq!(socket_state(sport, pport).as_deref(), Some("01"));

    // The peer's host vanishes with output of ours on the way to it.
    set_loopback(false);
    let t = Instant::now();
    server.send(id, b"hello, is anyone there?").expect("send");
    assert_eq!(
        gone.wait_for(id),
        DisconnectReason::Io(std::io::ErrorKind::TimedOut)
    );
    eprintln!("found vanished after {:?}", t.elapsed());

    // Reset: the kernel drops the socket as the loop closes it. (With a
    // FIN it stays in FIN_WAIT1 for minutes, resending in vain.)
    let released = try_wait_until(Duration::from_secs(5), || {
        socket_state(sport, pport).is_none()
    });
    assert!(
        released,
        "the closed connection is still in the kernel, state {:?}: ended with a FIN, not a reset",
        socket_state(sport, pport)
    );
    drop(peer);
    server.stop();
}

/// Linger for a kicked client's output: longer than the watch takes to
/// find a vanished peer with keepalive 1 s (detection 4 s, ~5–9 s in all).
const LINGER: Duration = Duration::from_secs(14);

#[test]
fn review_mu5_a_kicked_client_whose_peer_vanished_is_reported_kicked() {
    if !own_network() {
        return;
    }
    let gone = Disconnects::new();
    let (server, peer, id) = watched(&gone, |s| s.linger(LINGER).max_queue_bytes(64 << 20));

    // The peer's host vanishes; output for it is more than the kernel takes
    // (loopback's large segments give a send buffer of a few MiB at most):
    // the rest stays queued in the server.
    set_loopback(false);
    let chunk = vec![7u8; 64 << 10];
    for _ in 0..512 {
        server.send(id, &chunk).expect("send");
    }
    // Kicked with that output still queued: it gets the linger time for it.
    let t = Instant::now();
    server.disconnect(id).expect("disconnect");

    let why = {
        let mut why = None;
        assert!(
            try_wait_until(LINGER + Duration::from_secs(10), || {
                why = gone
                    .all()
                    .into_iter()
                    .find(|(c, _)| c.id == id)
                    .map(|(_, r)| r);
                why.is_some()
            }),
            "the kicked client was never reported"
        );
        why.unwrap()
    };
    eprintln!("reported {why:?} after {:?}", t.elapsed());
    assert_eq!(
        why,
        DisconnectReason::Kicked,
        "a kicked client was reported with another reason"
    );
    // (The scenario: output was still queued at the kick, so the client
    // stayed closing, for its linger time, past the watch's detection.)
    assert!(
        t.elapsed() >= LINGER - Duration::from_secs(1),
        "setup: the kicked client closed after {:?}, before its linger time: its output was not queued",
        t.elapsed()
    );
    drop(peer);
    server.stop();
}
