//! What the library logs, and how often: a run of refusals for a full
//! server is one line (and a summary when clients are admitted again), not
//! a line per connection; what the application is told through a
//! disconnect reason is logged at debug only. (Own process: the logger is
//! global.)

mod support;

use log::Level;
use support::*;
use tcphub::{DisconnectReason, Framing, TcpServer};

/// 40 connections refused by a full server (max_clients 1) give one info
/// line, naming the first; once a client is admitted again, one line
/// counts them all. Before: an info line per refused connection.
#[test]
fn a_run_of_refusals_is_logged_once_and_summed_up_when_admitting_again() {
    capture_log(log::LevelFilter::Trace);
    const REFUSED: usize = 40;
    let server = TcpServer::new(0, 1)
        .bind(localhost())
        .threads(1)
        .on_message(|_, _, _| {})
        .start()
        .expect("start");
    let first = Peer::connect(server.local_addr());
    first.id_on(&server);
    let needle = "max_clients 1)";
    for _ in 0..REFUSED {
        let mut refused = Peer::connect(server.local_addr());
        refused.expect_eof();
    }
    wait_until("the refusals counted", || {
        server.stats().rejected == REFUSED as u64
    });
    let refusals = log_lines_with(needle);
    assert_eq!(refusals.len(), 1, "one line for the run: {refusals:?}");
    assert_eq!(refusals[0].0, Level::Info);
    assert!(refusals[0].1.contains("refusing"), "{refusals:?}");

    drop(first);
    wait_clients(&server, 0);
    let second = Peer::connect(server.local_addr());
    second.id_on(&server);
    let again = log_lines_with("admitting clients again");
    assert_eq!(again.len(), 1, "{again:?}");
    assert!(
        again[0]
            .1
            .contains(&format!("({REFUSED} connections refused)")),
        "{again:?}"
    );
    // A second run starts with a line of its own.
    let mut refused = Peer::connect(server.local_addr());
    refused.expect_eof();
    wait_until("the refusal counted", || {
        server.stats().rejected == REFUSED as u64 + 1
    });
    assert_eq!(log_lines_with(needle).len(), 2);
    server.stop();
}

/// A frame over the limit: the application hears `FrameTooLarge` from
/// `on_disconnect`; the library's own line about it is at debug level, so
/// an application logging its disconnects at info does not show it twice.
#[test]
fn a_frame_over_the_limit_is_logged_at_debug_only() {
    capture_log(log::LevelFilter::Trace);
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::Lines { max_len: 16 })
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let mut peer = Peer::connect(server.local_addr());
    let id = peer.id_on(&server);
    peer.send(&[b'x'; 64]);
    assert_eq!(gone.wait_for(id), DisconnectReason::FrameTooLarge);
    let lines = log_lines_with(&format!("client #{id} {}", peer.addr()));
    assert!(!lines.is_empty(), "the debug line is logged");
    assert!(
        lines.iter().all(|(level, _)| *level == Level::Debug),
        "{lines:?}"
    );
    server.stop();
}

/// A server with `max_clients_per_ip` `per_ip` holding `per_ip` clients
/// from loopback, and 3 connections from it refused since: the first
/// logged at once, the other 2 not yet (within `REPEAT_LOG`).
fn refusing_per_ip(per_ip: usize) -> (tcphub::ServerHandle, Vec<Peer>) {
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .max_clients_per_ip(per_ip)
        .on_message(|_, _, _| {})
        .start()
        .expect("start");
    let held: Vec<Peer> = (0..per_ip)
        .map(|_| {
            let p = Peer::connect(server.local_addr());
            p.id_on(&server);
            p
        })
        .collect();
    for _ in 0..3 {
        let mut refused = Peer::connect(server.local_addr());
        refused.expect_eof();
    }
    wait_until("the refusals counted", || {
        server.stats().rejected_per_ip == 3
    });
    (server, held)
}

/// The last refusals of a run at `max_clients_per_ip` are logged when the
/// server stops. Before: only when another connection arrived, so the 2
/// after the first went unlogged.
#[test]
fn refusals_per_ip_not_yet_logged_are_logged_at_the_stop() {
    capture_log(log::LevelFilter::Trace);
    let needle = "(max_clients_per_ip 2)";
    let (server, _held) = refusing_per_ip(2);
    let lines = log_lines_with(needle);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].1.contains("refusing"), "{lines:?}");
    server.stop();
    let lines = log_lines_with(needle);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[1].1.contains("refused 2 more connections") && lines[1].1.contains("stopping"),
        "{lines:?}"
    );
}

/// A run at `max_clients_per_ip` that goes quiet is logged in full once
/// it has been quiet for `REPEAT_LOG` (10 s), with no other connection
/// arriving to look at it. Before: never, until one did.
#[test]
fn a_quiet_run_of_refusals_per_ip_is_logged_without_another_connection() {
    capture_log(log::LevelFilter::Trace);
    let needle = "(max_clients_per_ip 3)";
    let (server, _held) = refusing_per_ip(3);
    let waited = std::time::Instant::now();
    // (REPEAT_LOG and a generous margin; an event wait, not a sleep.)
    assert!(
        try_wait_until(std::time::Duration::from_secs(40), || {
            log_lines_with(needle).len() == 2
        }),
        "the rest of the run logged: {:?}",
        log_lines_with(needle)
    );
    let lines = log_lines_with(needle);
    assert!(
        lines[1].1.contains("refused 2 more connections") && lines[1].1.contains("none since"),
        "{lines:?}"
    );
    assert!(
        waited.elapsed() >= std::time::Duration::from_secs(5),
        "not before it was quiet"
    );
    server.stop();
    assert_eq!(log_lines_with(needle).len(), 2, "nothing left for the stop");
}
