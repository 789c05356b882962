//! Review mg (mutation testing, sixth round: `client_loop/reconnect.rs`,
//! `client_loop/lookup.rs`): the reason a closing client gives when the
//! redial made to flush its queue goes unanswered. (Its other tests:
//! `rust/tests/review_mu2_reconnect_jitter.rs`,
//! `rust/tests/redial_lookup.rs`, the unit test in `client_loop/lookup.rs`.)

mod support;

use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, DisconnectReason, Framing, Reconnect, TcpClient};

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
