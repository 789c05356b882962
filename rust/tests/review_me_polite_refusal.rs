//! A connection refused for `max_clients` is ended with a FIN as soon as
//! it is refused, even while its peer keeps sending: the peer reads the
//! refusal notice and then a clean end of stream, never a reset. (Mutation
//! testing, review me: `close_politely` without its `shutdown(Write)`
//! passed every test; the refused socket, closed with the peer's input
//! unread, ended in a reset with no FIN before it, and the peer saw
//! `ConnectionReset` instead of the end.)

mod support;

use std::time::Duration;

use support::*;

#[test]
fn review_me_a_refused_peer_that_keeps_sending_sees_the_end_at_once() {
    let gone = Disconnects::new();
    let server = goodbye_server(1, false, &gone)
        .bind(localhost())
        .threads(1)
        .linger(Duration::from_secs(600))
        .full_message(b"full")
        .start()
        .expect("start");
    let first = Peer::connect(server.local_addr());
    wait_clients(&server, 1);

    // Several times: whether unread input waits at the moment the
    // refused socket is closed (a reset without the FIN before it) is a
    // matter of timing.
    for i in 1..=8 {
        let mut refused = Peer::connect(server.local_addr());
        let flooding = Flood::start(&refused);
        let (got, clean) = refused.drain_until_closed();
        assert_eq!(got, b"full\n", "the notice, then the end ({i})");
        assert!(clean, "an end, not a reset ({i})");
        flooding.stop();
        wait_until("the refusal counted", || server.stats().rejected == i);
    }
    drop(first);
    server.stop();
}
