//! A client whose connection the server reset after sending its last
//! messages still delivers those messages when it is its own write or
//! half-close that finds the connection gone.
//!
//! The case behind it: `tcphub connect` to a full hub. The hub writes its
//! "server full" notice and closes; the client's lines arrive unread, so
//! the close is a reset. When the client's `shutdown(Write)` (or a write)
//! ran before its read, the connection was dropped with the notice still
//! in the socket: the CLI printed "connection lost: not connected" and no
//! notice (cli test `connect_with_input_to_a_full_hub_...`, 1 run in ~20
//! under load). Here the read is held back deterministically by a full
//! pull queue (`event_capacity(1)`), and the reset is made with
//! `SO_LINGER` 0.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};

use support::*;
use tcphub::{ClientEvent, DisconnectReason, Framing, TcpClient};

/// Takes events until `Closed`, returning the messages and the disconnect
/// reason.
fn drain(client: &TcpClient) -> (Vec<Vec<u8>>, Option<DisconnectReason>) {
    let mut msgs = Vec::new();
    let mut why = None;
    loop {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::Message(m) => msgs.push(m),
            ClientEvent::Disconnected(r) => why = Some(r),
            ClientEvent::Closed => return (msgs, why),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_half_close_that_finds_the_connection_reset_still_delivers_what_arrived() {
    let client = client_with_unread_input_and_a_reset(b"server full\n", None);
    // The half-close fails (the socket is closed by the reset); the
    // line that arrived before the reset must not go with it.
    let _ = client.shutdown_write();
    let (msgs, why) = drain(&client);
    assert_eq!(
        msgs,
        vec![b"a".to_vec(), b"b".to_vec(), b"server full".to_vec()]
    );
    // The reset, not the half-close's "not connected".
    assert_eq!(why, Some(DisconnectReason::Reset));
}

#[test]
fn a_write_that_finds_the_connection_reset_still_delivers_what_arrived() {
    let client = client_with_unread_input_and_a_reset(b"server full\n", None);
    client.send(b"one").unwrap();
    let (msgs, why) = drain(&client);
    assert_eq!(
        msgs,
        vec![b"a".to_vec(), b"b".to_vec(), b"server full".to_vec()]
    );
    assert!(why.is_some(), "no disconnect reason");
}

/// A line the server had not finished when it reset is cut, not a
/// message, also when the client's write finds the reset first (the write
/// takes the socket's error; the read after it finds a plain end of
/// input). Before the fix "server fu" was delivered.
#[test]
fn a_line_cut_by_a_reset_a_write_found_first_is_not_delivered() {
    let client = client_with_unread_input_and_a_reset(b"server full\nserver fu", None);
    client.send(b"one").unwrap();
    let (msgs, why) = drain(&client);
    assert_eq!(
        msgs,
        vec![b"a".to_vec(), b"b".to_vec(), b"server full".to_vec()]
    );
    assert_eq!(why, Some(DisconnectReason::Reset));
}

/// `close()` while a failed half-close's input waits on a full pull queue:
/// the client reads the rest (discarding it, as closed) and ends for how
/// the input ended — the reset — not as if it had closed a live
/// connection. Before the fix it ended `ClosedLocally` as soon as one read
/// turn was done with the queue empty, when more input than one turn reads
/// (here 2 MB) was waiting.
#[test]
fn a_close_after_a_failed_half_close_reports_how_the_input_ended() {
    let body = b"xxxxxxxxx\n".repeat(200_000);
    let client = client_with_unread_input_and_a_reset(&body, Some(8 << 20));
    let _ = client.shutdown_write(); // fails: the connection is gone
    client.close();
    let (msgs, why) = drain(&client);
    assert_eq!(msgs.first().map(Vec::as_slice), Some(&b"a"[..]));
    assert_eq!(why, Some(DisconnectReason::Reset));
}

/// A reconnected connection that a write finds reset within a second
/// counts as a failed attempt (the backoff grows, `max_attempts` applies)
/// even when its last messages wait for a slow application first: how long
/// it lasted is measured to when it was found gone, not to when its input
/// was delivered. Before the fix the second drop was attempt 1 again.
#[test]
fn a_connection_found_reset_early_counts_as_a_failed_attempt_even_when_delivered_late() {
    // A round whose setup took most of that second (a loaded machine: the
    // looks at `/proc/net/tcp` slow with many sockets) cannot tell: the
    // connection may really have lasted a second. Such a round is run again.
    for round in 0..5 {
        if let Some(attempt) = reset_early_delivered_late() {
            assert_eq!(attempt, 2, "the short-lived connection counted as stable");
            return;
        }
        eprintln!("round {round}: the setup took over 700 ms; again");
    }
    eprintln!("every round's setup took over 700 ms: not checked on this machine now");
}

/// One round: the reconnect attempt after the second connection's drop,
/// or `None` when the time from the first connection's drop to our write
/// that finds the second reset was over 700 ms.
fn reset_early_delivered_late() -> Option<u32> {
    let listener = TcpListener::bind(SocketAddr::new(localhost(), 0)).unwrap();
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::lines())
        .event_capacity(1)
        .reconnect(tcphub::Reconnect {
            initial: std::time::Duration::from_millis(50),
            max: std::time::Duration::from_millis(100),
            max_attempts: Some(5),
        })
        .connect()
        .unwrap();
    // The first connection ends at once: reconnect attempt 1 succeeds. The
    // second connection is made after this.
    let first = listener.accept().unwrap();
    let started = std::time::Instant::now();
    drop(first);
    let (mut server, _) = listener.accept().unwrap();
    loop {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::Reconnected { attempt, .. } => {
                assert_eq!(attempt, 1);
                break;
            }
            ClientEvent::Disconnected(_) | ClientEvent::Reconnecting { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // The second: two lines fill the pull queue, a third waits unread, the
    // server resets, our write finds it.
    server.write_all(b"a\nb\n").unwrap();
    let (local, peer) = (client.local_addr(), client.peer_addr());
    let unread = || socket_queues(local, peer).map(|(_, rx)| rx);
    wait_until("the client reading its two lines", || unread() == Some(0));
    server.write_all(b"c\n").unwrap();
    wait_until("the last line arriving unread", || unread() == Some(2));
    reset(server);
    client.send(b"x").unwrap();
    let quick = started.elapsed() < std::time::Duration::from_millis(700);
    // The application is slow: it takes its events after more than the
    // second a connection must last to count as stable.
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let mut msgs = Vec::new();
    let attempt = loop {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::Message(m) => msgs.push(m),
            ClientEvent::Reconnecting { attempt, .. } => break attempt,
            ClientEvent::Disconnected(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(msgs, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    client.close();
    quick.then_some(attempt)
}
