//! A client whose connection the server reset after sending its last
//! messages still delivers those messages when it is its own write or
//! half-close that finds the connection gone.
//!
//! The case behind it: `tcphub connect` to a full hub. The hub writes its
//! "server full" notice and closes; the client's lines arrive unread, so
//! the close is a reset. When the client's `shutdown(Write)` (or a write)
//! ran before its read, the connection was dropped with the notice still
//! in the socket: the CLI printed "connection lost: not connected" and no
//! notice (cli test `connect_with_input_to_a_full_hub_...`, 1 run in ~20
//! under load). Here the read is held back deterministically by a full
//! pull queue (`event_capacity(1)`), and the reset is made with
//! `SO_LINGER` 0.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};

use support::*;
use tcphub::{ClientEvent, DisconnectReason, Framing, TcpClient};

/// A client with a one-event pull queue, connected to a raw listener; the
/// server side has written two lines and the client has read them (one
/// queued, one waiting for room: the client reads no more), then written
/// `last` and reset the connection.
fn client_with_unread_input_and_a_reset(last: &[u8]) -> TcpClient {
    let listener = TcpListener::bind(SocketAddr::new(localhost(), 0)).unwrap();
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::lines())
        .event_capacity(1)
        .connect()
        .unwrap();
    let (mut server, _) = listener.accept().unwrap();
    server.write_all(b"a\nb\n").unwrap();
    let (local, peer) = (client.local_addr(), client.peer_addr());
    let unread = || socket_queues(local, peer).map(|(_, rx)| rx);
    wait_until("the client reading its first two lines", || {
        unread() == Some(0)
    });
    server.write_all(last).unwrap();
    wait_until("the last line arriving unread", || {
        unread() == Some(last.len() as u64)
    });
    reset(server);
    client
}

/// Closes `s` with a reset (`SO_LINGER` 0).
fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(s);
}

/// Takes events until `Closed`, returning the messages and the disconnect
/// reason.
fn drain(client: &TcpClient) -> (Vec<Vec<u8>>, Option<DisconnectReason>) {
    let mut msgs = Vec::new();
    let mut why = None;
    loop {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::Message(m) => msgs.push(m),
            ClientEvent::Disconnected(r) => why = Some(r),
            ClientEvent::Closed => return (msgs, why),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_half_close_that_finds_the_connection_reset_still_delivers_what_arrived() {
    let client = client_with_unread_input_and_a_reset(b"server full\n");
    // The half-close fails (the socket is closed by the reset); the
    // line that arrived before the reset must not go with it.
    let _ = client.shutdown_write();
    let (msgs, why) = drain(&client);
    assert_eq!(
        msgs,
        vec![b"a".to_vec(), b"b".to_vec(), b"server full".to_vec()]
    );
    // The reset, not the half-close's "not connected".
    assert_eq!(why, Some(DisconnectReason::Reset));
}

#[test]
fn a_write_that_finds_the_connection_reset_still_delivers_what_arrived() {
    let client = client_with_unread_input_and_a_reset(b"server full\n");
    client.send(b"one").unwrap();
    let (msgs, why) = drain(&client);
    assert_eq!(
        msgs,
        vec![b"a".to_vec(), b"b".to_vec(), b"server full".to_vec()]
    );
    assert!(why.is_some(), "no disconnect reason");
}

/// A line the server had not finished when it reset is cut, not a
/// message, also when the client's write finds the reset first (the write
/// takes the socket's error; the read after it finds a plain end of
/// input). Before the fix "server fu" was delivered.
#[test]
fn a_line_cut_by_a_reset_a_write_found_first_is_not_delivered() {
    let client = client_with_unread_input_and_a_reset(b"server full\nserver fu");
    client.send(b"one").unwrap();
    let (msgs, why) = drain(&client);
    assert_eq!(
        msgs,
        vec![b"a".to_vec(), b"b".to_vec(), b"server full".to_vec()]
    );
    assert_eq!(why, Some(DisconnectReason::Reset));
}
