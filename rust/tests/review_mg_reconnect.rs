//! Review mg (mutation testing, sixth round: `client_loop/reconnect.rs`,
//! `client_loop/lookup.rs`): a client's reconnect delays keep varying
//! attempt after attempt. The jitter tests before looked at the first few
//! delays only, which a generator that falls to a fixed point after a few
//! draws (or repeats a short cycle) also varies; past that, the clients a
//! server's restart dropped would redial in step again.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, DisconnectReason, Framing, Reconnect, TcpClient};

/// With `initial == max` every attempt has the same cap; over 40 attempts
/// the last 30 delays take many values (a 1 ms range at nanosecond
/// resolution: repeats are rare), not one, nor a short cycle's few.
#[test]
fn review_mg_reconnect_delays_keep_varying() {
    let server = echo_server(Framing::lines());
    let addr: SocketAddr = server.local_addr();
    let cap = Duration::from_millis(2);
    let attempts = 40u32;
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .reconnect(Reconnect {
            initial: cap,
            max: cap,
            max_attempts: Some(attempts),
        })
        .connect()
        .unwrap();
    client.send(b"hi").unwrap();
    assert_eq!(client.recv_timeout(TIMEOUT).unwrap(), b"hi");
    server.stop();
    let _held = hold_port(addr); // every redial is refused
    assert_eq!(
        next_control_at(&client).0,
        ClientEvent::Disconnected(DisconnectReason::ClosedByPeer)
    );
    let mut delays = Vec::new();
    for n in 1..=attempts {
        let ev = next_control_at(&client).0;
        let ClientEvent::Reconnecting { attempt, delay } = ev else {
            panic!("attempt {n}: {ev:?}");
        };
        assert_eq!(attempt, n);
        assert!(delay >= cap / 2 && delay <= cap, "attempt {n}: {delay:?}");
        delays.push(delay);
    }
    let late: HashSet<Duration> = delays[10..].iter().copied().collect();
    assert!(
        late.len() > 20,
        "the delays stopped varying: {:?}",
        &delays[10..]
    );
    assert_eq!(next_control_at(&client).0, ClientEvent::Closed);
    client.close();
}

/// A client closing between connections whose redial goes unanswered
/// (the server's accept backlog is full), after earlier redials were
/// refused: its messages are dropped, and `disconnect_reason` says the
/// last dial timed out — not the earlier refusal, which a dial timing out
/// without noting how it failed left in place.
#[test]
fn review_mg_a_close_whose_redial_times_out_says_so() {
    let l = std::net::TcpListener::bind((localhost(), 0)).unwrap();
    let addr = l.local_addr().unwrap();
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .connect_timeout(Duration::from_millis(300))
        .reconnect(Reconnect {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(5),
            max_attempts: None,
        })
        .linger(Duration::from_secs(10))
        .connect()
        .unwrap();
    let (first, _) = l.accept().unwrap();
    drop(l);
    let held = hold_port(addr); // bound, not listening: redials are refused
    drop(first);
    assert!(matches!(
        next_control_at(&client).0,
        ClientEvent::Disconnected(_)
    ));
    assert!(matches!(
        next_control_at(&client).0,
        ClientEvent::Reconnecting { attempt: 1, .. }
    ));
    // Attempt 1 was refused; attempt 2 waits 0.5-1 s.
    assert!(matches!(
        next_control_at(&client).0,
        ClientEvent::Reconnecting { attempt: 2, .. }
    ));
    held.listen(0).unwrap();
    let _fill = fill_backlog(&held); // from now on, SYNs are dropped
    client.send(b"dropped").unwrap();
    client.close(); // dials at once, to flush: unanswered
    assert_eq!(client.unsent(), 1);
    assert_eq!(
        client.disconnect_reason(),
        Some(DisconnectReason::Io(std::io::ErrorKind::TimedOut))
    );
}
