//! Review of the limits: a client's place among `max_clients` and
//! `max_clients_per_ip` comes back on every kind of exit (kick, idle and
//! frame timeouts, an oversize frame, a slow-consumer cut, a reset, a
//! close, a write error), so the next connection from the same address is
//! admitted, and the server's counters say what happened.

mod support;

use std::time::Duration;

use support::{localhost, wait_until, Disconnects, Peer};
use tcphub::{DisconnectReason, Framing, ServerHandle, Stats, TcpServer};

/// A server admitting one client (and one per address), lines of at most
/// 16 bytes, a small queue, with the extra settings `tune` gives it.
fn one_place(tune: impl FnOnce(TcpServer) -> TcpServer) -> (ServerHandle, Disconnects) {
    let gone = Disconnects::new();
    let builder = TcpServer::new(0, 1)
        .bind(localhost())
        .threads(2)
        .framing(Framing::Lines { max_len: 16 })
        .max_clients_per_ip(1)
        .full_message("full")
        .per_ip_full_message("per ip")
        .max_queue_bytes(64 * 1024)
        .linger(Duration::from_millis(300))
        .on_message(|srv, c, msg| {
            let _ = srv.send(c.id, msg);
        })
        .on_disconnect(gone.recorder());
    (tune(builder).start().expect("start"), gone)
}

/// After the first client left: the next one from the same address is
/// admitted (not refused by either limit) and served.
fn next_is_admitted(server: &ServerHandle, what: &str) {
    wait_until(&format!("{what}: no client left"), || {
        server.client_count() == 0
    });
    let mut next = Peer::connect(server.local_addr());
    next.send_line("hello");
    assert_eq!(
        next.read_line(),
        "hello",
        "{what}: the next client is served"
    );
    let s = server.stats();
    assert_eq!(
        (s.rejected, s.rejected_per_ip),
        (0, 0),
        "{what}: nothing refused: {s:?}"
    );
    assert_eq!(s.clients, 1, "{what}: {s:?}");
}

fn first(server: &ServerHandle) -> (Peer, tcphub::ClientId) {
    let mut p = Peer::connect(server.local_addr());
    p.send_line("hi");
    assert_eq!(p.read_line(), "hi");
    let id = p.id_on(server);
    (p, id)
}

fn check(stats: Stats, what: &str, expect: impl Fn(&Stats) -> bool) {
    assert!(expect(&stats), "{what}: {stats:?}");
    assert_eq!(stats.accepted, 1, "{what}: accepted {stats:?}");
    assert_eq!(stats.disconnected, 1, "{what}: disconnected {stats:?}");
}

#[test]
fn a_kicked_clients_places_come_back() {
    let (server, gone) = one_place(|b| b);
    let (mut p, id) = first(&server);
    server.disconnect(id).unwrap();
    assert_eq!(gone.wait_for(id), DisconnectReason::Kicked);
    p.expect_eof();
    check(server.stats(), "kick", |_| true);
    next_is_admitted(&server, "kick");
}

#[test]
fn an_idle_clients_places_come_back() {
    let (server, gone) = one_place(|b| {
        b.idle_timeout(Duration::from_secs(1))
            .idle_timeout_message("idle")
    });
    let (mut p, id) = first(&server);
    assert_eq!(gone.wait_for(id), DisconnectReason::IdleTimeout);
    assert_eq!(p.read_line(), "idle");
    p.expect_eof();
    check(server.stats(), "idle", |s| s.idle_timeouts == 1);
    // (The next client must not idle out during the check: it speaks at once.)
    next_is_admitted(&server, "idle");
}

#[test]
fn a_slow_senders_places_come_back() {
    let (server, gone) = one_place(|b| {
        b.frame_timeout(Duration::from_millis(300))
            .frame_timeout_message("slow")
    });
    let (mut p, id) = first(&server);
    p.send(b"unfinished");
    assert_eq!(gone.wait_for(id), DisconnectReason::FrameTimeout);
    assert_eq!(p.read_line(), "slow");
    p.expect_eof();
    check(server.stats(), "frame timeout", |s| s.frame_timeouts == 1);
    next_is_admitted(&server, "frame timeout");
}

#[test]
fn an_oversize_senders_places_come_back() {
    let (server, gone) = one_place(|b| b.frame_too_large_message("too long"));
    let (mut p, id) = first(&server);
    // Exactly at the limit: fine; one past it: cut.
    p.send_line(&"a".repeat(16));
    assert_eq!(p.read_line(), "a".repeat(16));
    p.send_line(&"b".repeat(17));
    assert_eq!(gone.wait_for(id), DisconnectReason::FrameTooLarge);
    assert_eq!(p.read_line(), "too long");
    p.expect_eof();
    check(server.stats(), "too large", |s| s.frame_too_large == 1);
    next_is_admitted(&server, "too large");
}

#[test]
fn a_slow_consumers_places_come_back() {
    let (server, gone) = one_place(|b| b);
    let p = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = p.id_on(&server);
    // The client reads nothing: its queue fills and it is cut.
    let mut sent = 0u64;
    while server.send(id, b"yyyyyyyyyyyyyyy").is_ok() {
        sent += 1;
        assert!(sent < 50_000_000, "never cut");
    }
    assert_eq!(gone.wait_for(id), DisconnectReason::SlowConsumer);
    check(server.stats(), "slow consumer", |s| s.slow_consumers == 1);
    drop(p);
    next_is_admitted(&server, "slow consumer");
}

#[test]
fn a_reset_clients_places_come_back() {
    let (server, gone) = one_place(|b| b);
    let (p, id) = first(&server);
    p.reset();
    let why = gone.wait_for(id);
    assert!(
        matches!(why, DisconnectReason::Reset | DisconnectReason::Io(_)),
        "{why:?}"
    );
    check(server.stats(), "reset", |_| true);
    next_is_admitted(&server, "reset");
}

#[test]
fn a_closing_clients_places_come_back_also_when_held_for_replies() {
    for hold in [false, true] {
        let (server, gone) = one_place(|b| {
            if hold {
                b.hold_for_replies(Duration::from_secs(30))
            } else {
                b
            }
        });
        let (mut p, id) = first(&server);
        p.send(b"last");
        p.shutdown_write();
        assert_eq!(gone.wait_for(id), DisconnectReason::ClosedByPeer);
        assert_eq!(p.read_line(), "last");
        if hold {
            // Held: its place is kept until it is closed.
            server.disconnect(id).expect("a held client can be closed");
        }
        p.expect_eof();
        check(server.stats(), "close", |_| true);
        next_is_admitted(&server, &format!("close (hold {hold})"));
        server.stop();
    }
}
