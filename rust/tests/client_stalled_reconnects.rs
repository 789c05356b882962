//! A pull-mode client whose event queue is full keeps reconnecting to a
//! server that is down; each failed attempt reported a `Reconnecting` that
//! waited for room in a backlog with no bound (nothing else comes while
//! the queue is full, as nothing is read): ~1,000 events a second past
//! `event_capacity(1)` with a 1 ms backoff.

mod support;

use std::net::TcpListener;
use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, DisconnectReason, Reconnect, TcpClient};

#[test]
fn reconnect_attempts_while_the_event_queue_is_full_do_not_pile_up() {
    const ATTEMPTS: u32 = 300;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .event_capacity(1)
        .reconnect(Reconnect {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(1),
            max_attempts: Some(ATTEMPTS),
        })
        .connect()
        .expect("connect");
    let (server_side, _) = listener.accept().expect("accept");
    let addr = listener.local_addr().unwrap();
    // The server goes away for good: every attempt is refused. (Its port
    // held: 300 redials to a free port could take it as their own.)
    drop(listener);
    drop(server_side);
    let _held = hold_port(addr);
    // The consumer reads nothing until the client has given up.
    wait_until("the client giving up", || !client.is_open());
    assert_eq!(
        client.disconnect_reason(),
        Some(DisconnectReason::ReconnectGaveUp { attempts: ATTEMPTS })
    );
    let mut events = Vec::new();
    loop {
        let ev = client.next_event(TIMEOUT).expect("an event");
        events.push(ev.clone());
        if ev == ClientEvent::Closed {
            break;
        }
    }
    assert!(
        events.len() <= 4,
        "{} events waited for a queue of 1 (first: {:?})",
        events.len(),
        &events[..4.min(events.len())]
    );
    assert!(
        matches!(events[0], ClientEvent::Disconnected(_)),
        "{events:?}"
    );
    // The latest attempt is the one reported.
    assert!(
        events.iter().any(
            |e| matches!(e, ClientEvent::Reconnecting { attempt, .. } if *attempt == ATTEMPTS)
        ),
        "no Reconnecting for attempt {ATTEMPTS}: {events:?}"
    );
}
