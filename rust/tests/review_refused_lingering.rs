//! A connection refused for `max_clients` lingers (its `full_message` on
//! its way) only in a place a client's socket may take back: refusals come
//! exactly when the server is full, and a refused peer must not use up the
//! lingering places a client cut meanwhile needs for its last replies.

mod support;

use support::*;
use tcphub::DisconnectReason;

/// A refused peer that does not read (its receive window smaller than the
/// notice, which stays unacknowledged: the refused socket lingers) takes
/// the only lingering place of a server for one client. The client, kicked
/// right after a goodbye while it keeps sending, must still get the whole
/// goodbye. Before the fix its socket found no place, was closed under its
/// writes, and the kernel's reset threw most of the goodbye away.
#[test]
fn a_lingering_refused_connection_does_not_cost_a_kicked_client_its_goodbye() {
    let gone = Disconnects::new();
    let server = goodbye_server(1, true, &gone)
        .bind(localhost())
        .threads(1)
        .linger(TIMEOUT)
        .full_message(vec![b'n'; tcphub::MAX_FULL_MESSAGE - 1])
        .start()
        .expect("start");
    room_for_goodbye(&server);
    let mut client = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = client.id_on(&server);

    // Refused; never reads: most of the notice stays unacknowledged.
    let _refused = Peer::connect_with_rcvbuf(server.local_addr(), 1);
    wait_until("the refusal", || server.stats().rejected == 1);

    client.send(b"bye\n");
    let flooding = Flood::start(&client);
    assert_eq!(gone.wait_for(id), DisconnectReason::Kicked);
    let (got, _) = client.drain_until_closed();
    flooding.stop();
    let want = goodbye();
    assert!(got == want, "got {} of {} bytes", got.len(), want.len());
    server.stop();
}
