//! A peer that sends TCP urgent data (`MSG_OOB`). Linux ends a read at the
//! urgent mark, so a read shorter than the buffer does not mean the socket
//! is drained there: the bytes after the mark, already received, must still
//! be read without waiting for the peer to send more.

mod support;

use std::sync::{Arc, Mutex};

use support::{localhost, wait_until, LoopGate, Peer};
use tcphub::{Framing, TcpServer};

/// A one-loop lines server that records the lines it gets, but holds its
/// loop on a line "hold" until told to go on.
struct Held {
    server: tcphub::ServerHandle,
    got: Arc<Mutex<Vec<Vec<u8>>>>,
    gone: support::Disconnects,
    gate: LoopGate,
}

impl Held {
    fn start(server: TcpServer) -> Held {
        let got = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
        let gone = support::Disconnects::new();
        let gate = LoopGate::new();
        let server = {
            let (got, gate) = (got.clone(), gate.clone());
            server
                .bind(localhost())
                .threads(1)
                .framing(Framing::lines())
                .on_message(move |_, _, m| {
                    if !gate.stays_on(m) {
                        got.lock().unwrap().push(m.to_vec());
                    }
                })
                .on_disconnect(gone.recorder())
                .start()
                .expect("start")
        };
        Held {
            server,
            got,
            gone,
            gate,
        }
    }
}

/// While the loop is held in a callback, the peer sends a line, one urgent
/// byte and another line; both lines are delivered (the urgent byte, out
/// of band, is not part of the stream).
#[test]
fn lines_after_an_urgent_byte_are_delivered_without_more_input() {
    let held = Held::start(TcpServer::new(0, 4));
    let server = &held.server;
    let mut peer = Peer::connect(server.local_addr());
    held.gate.hold(&mut peer);
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
    held.gate.go_on();
    wait_until("both lines", || held.got.lock().unwrap().len() == 2);
    assert_eq!(
        *held.got.lock().unwrap(),
        vec![b"before".to_vec(), b"after".to_vec()]
    );
    server.stop();
}

/// The timeout check reads a client's waiting input before it decides the
/// client is past its frame timeout: that read too must not end at an
/// urgent mark. While the loop is held past the timeout, a client that
/// had started a line sends one more byte of it, an urgent byte and the
/// rest of the line; the line completes it, and it is not cut. (The check
/// read only up to the mark and cut the client with `FrameTimeout`.)
///
/// The frame timeout runs from the read of "par" until the loop is held:
/// 1 s, not less, and the holder connected beforehand, so that a loaded
/// machine does not cut the client before the scenario is set up (with
/// 300 ms and the holder connecting in between, a run under load did:
/// the urgent byte's send failed with EPIPE).
#[test]
fn a_frame_finished_after_an_urgent_byte_is_not_cut_by_the_frame_timeout() {
    const FRAME_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
    let held = Held::start(TcpServer::new(0, 4).frame_timeout(FRAME_TIMEOUT));
    let server = &held.server;
    let mut slow = Peer::connect(server.local_addr());
    let slow_id = slow.id_on(server);
    let mut holder = Peer::connect(server.local_addr());
    holder.id_on(server);
    slow.send(b"par");
    // (Read by the loop, so its frame clock runs: nobody else has sent.)
    wait_until("the start of the line is read", || {
        server.stats().bytes_in >= 3
    });
    held.gate.hold(&mut holder);
    slow.send(b"t");
    socket2::SockRef::from(&slow.stream)
        .send_out_of_band(b"!")
        .expect("MSG_OOB");
    slow.send(b"ial\n");
    wait_until("the bytes are in the server's receive queue", || {
        support::socket_queues(slow.addr(), server.local_addr())
            .is_some_and(|(unacked, _)| unacked == 0)
    });
    // Held well past the frame timeout.
    std::thread::sleep(2 * FRAME_TIMEOUT);
    held.gate.go_on();
    wait_until("the line, or the client cut", || {
        held.got.lock().unwrap().len() == 1 || held.gone.reason_of(slow_id).is_some()
    });
    assert_eq!(held.gone.reason_of(slow_id), None, "cut");
    assert_eq!(*held.got.lock().unwrap(), vec![b"partial".to_vec()]);
    drop(holder);
    server.stop();
}
