//! A peer that sends TCP urgent data (`MSG_OOB`). Linux ends a read at the
//! urgent mark, so a read shorter than the buffer does not mean the socket
//! is drained there: the bytes after the mark, already received, must still
//! be read without waiting for the peer to send more.

mod support;

use std::sync::{Arc, Mutex};

use support::{localhost, wait_until, Peer, TIMEOUT};
use tcphub::{Framing, TcpServer};

/// While the loop is held in a callback, the peer sends a line, one urgent
/// byte and another line; both lines are delivered (the urgent byte, out
/// of band, is not part of the stream).
#[test]
fn lines_after_an_urgent_byte_are_delivered_without_more_input() {
    let got = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let go_rx = Mutex::new(go_rx);
    let server = {
        let got = got.clone();
        TcpServer::new(0, 4)
            .bind(localhost())
            .threads(1)
            .framing(Framing::lines())
            .on_message(move |_, _, m| {
                if m == b"hold" {
                    held_tx.send(()).expect("test waits");
                    let _ = go_rx.lock().unwrap().recv_timeout(TIMEOUT);
                } else {
                    got.lock().unwrap().push(m.to_vec());
                }
            })
            .start()
            .expect("start")
    };
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("hold");
    held_rx.recv_timeout(TIMEOUT).expect("the loop is held");
    peer.send_line("before");
    let sent = socket2::SockRef::from(&peer.stream)
        .send_out_of_band(b"!")
        .expect("MSG_OOB");
    assert_eq!(sent, 1);
    peer.send_line("after");
    // Everything is in the server's socket before the loop reads it.
    wait_until("the bytes are in the server's receive queue", || {
        support::socket_queues(peer.addr(), server.local_addr())
            .is_some_and(|(unacked, _)| unacked == 0)
    });
    go_tx.send(()).expect("release the loop");
    wait_until("both lines", || got.lock().unwrap().len() == 2);
    assert_eq!(
        *got.lock().unwrap(),
        vec![b"before".to_vec(), b"after".to_vec()]
    );
    server.stop();
}
