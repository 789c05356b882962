//! A lingering socket (a client disconnected politely, our last bytes not
//! yet acknowledged) whose peer ended its side behind more input than one
//! event's reads take (`DISCARD_READS` × 64 KiB) is read on to that end
//! and closed, as one with less input waiting is: with edge-triggered
//! readiness no other event comes for what is left, and it stayed open
//! until the peer read our bytes or the linger time ran out — then reset,
//! with our last bytes still unread by a peer that would have had them all
//! — and `stop()` waited for it the whole linger time. Found by a review.
//! One test: this process counts its own descriptors.

mod support;

use support::*;
use tcphub::{ClientId, DisconnectReason, ServerHandle};

/// Bytes the client sends (and the server's socket holds) before its end.
const INPUT: usize = 3 << 20;

/// The scenario (support's `client_ended_behind_input`), at least half
/// of `INPUT` waiting in the server's kernel with the end.
fn client_done_behind_much_input(gone: &Disconnects) -> (ServerHandle, Peer, ClientId, usize) {
    client_ended_behind_input(gone, INPUT, INPUT / 2, |b| b)
}

#[test]
fn a_peer_that_ended_behind_much_input_is_not_lingered_on() {
    // Disconnected: its socket goes while the client still reads nothing.
    let gone = Disconnects::new();
    let (server, mut peer, id, base) = client_done_behind_much_input(&gone);
    server.disconnect(id).unwrap();
    assert_eq!(gone.wait_for(id), DisconnectReason::Kicked);
    wait_until(
        "the server's socket closed, the client reading nothing",
        || {
            open_fds() <= base + 1 // (the client's)
        },
    );
    let (got, clean) = peer.drain_until_closed();
    assert!(clean, "a reset after {} bytes", got.len());
    assert_eq!(got, goodbye(), "the whole goodbye");
    server.stop();

    // Stopped: the stop does not wait the linger time for it.
    let gone = Disconnects::new();
    let (server, mut peer, id, _) = client_done_behind_much_input(&gone);
    let stopping = {
        let server = server.clone();
        std::thread::spawn(move || server.stop())
    };
    wait_until("the stop to finish", || stopping.is_finished());
    stopping.join().unwrap();
    assert_eq!(gone.wait_for(id), DisconnectReason::ServerStopped);
    let (got, clean) = peer.drain_until_closed();
    assert!(clean, "a reset after {} bytes", got.len());
    assert_eq!(got, goodbye(), "the whole goodbye");
}
