//! Review mu2 (mutation testing): reconnect delays are jittered. The
//! backoff test checks each delay lies in [cap/2, cap], which a constant
//! "random" number (always cap/2 or always the cap) also satisfies; without
//! jitter, all the clients one server restart dropped redial in lockstep.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, DisconnectReason, Framing, Reconnect, TcpClient};

/// With `initial == max` every attempt has the same cap: the delays lie in
/// [cap/2, cap] and are not all the same — nor, after the first few, few
/// values: over 40 attempts the last 30 take many (a 1 ms range at
/// nanosecond resolution: repeats are rare). (Review mg, mutation testing:
/// generators that fell to a fixed point after a few draws, or to a cycle
/// of 8, passed when this test looked at 6 delays.)
#[test]
fn review_mu2_reconnect_delays_are_jittered() {
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
    assert!(
        delays.iter().any(|d| *d != delays[0]),
        "no jitter: {delays:?}"
    );
    let late: HashSet<Duration> = delays[10..].iter().copied().collect();
    assert!(late.len() > 20, "the delays stopped varying: {delays:?}");
    assert_eq!(next_control_at(&client).0, ClientEvent::Closed);
    client.close();
}
