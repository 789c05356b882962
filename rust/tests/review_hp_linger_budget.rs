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

use std::io::Write;
use std::time::Duration;

use support::*;
use tcphub::{ClientId, DisconnectReason, Framing, ServerHandle, TcpServer};

/// Bytes the client sends (and the server's socket holds) before its end.
const INPUT: usize = 3 << 20;

/// A server paused with one client that sent `INPUT` bytes and its end,
/// all waiting in the server's kernel, and has not read the goodbye the
/// server sent it, which waits there unacknowledged; and how many
/// descriptors this process had open before that client connected.
fn client_done_behind_much_input(gone: &Disconnects) -> (ServerHandle, Peer, ClientId, usize) {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        // Longer than any wait here: the linger time must not be what
        // ends it.
        .linger(Duration::from_secs(60))
        .on_message(|_, _, _| {})
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    // The goodbye waits in the server's kernel (the client's receive
    // buffer is small and it does not read), and the client's input too
    // (its receive buffer set large: not left to autotuning).
    room_for_goodbye(&server);
    set_recv_buffer_of_listener(server.local_addr(), 2 * INPUT);
    server.pause_input();
    let base = open_fds();
    let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = peer.id_on(&server);
    let mut line = vec![b'x'; 999];
    line.push(b'\n');
    peer.stream.write_all(&line.repeat(INPUT / 1000)).unwrap();
    peer.shutdown_write();
    for _ in 0..4 {
        server.send(id, &[b'g'; GOODBYE_LINE]).unwrap();
    }
    let (ours, theirs) = (server.local_addr(), peer.addr());
    wait_until("all input and its end in the server's kernel", || {
        socket_queues(theirs, ours).is_some_and(|(unacked, _)| unacked == 0)
            && socket_queues(ours, theirs).is_some_and(|(_, unread)| unread as usize >= INPUT / 2)
    });
    wait_until("the goodbye written, not all acknowledged", || {
        socket_queues(ours, theirs).is_some_and(|(unacked, _)| unacked > 0)
    });
    (server, peer, id, base)
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
