//! The client against hostile and broken servers (a raw `TcpListener`
//! playing the server): frames over the limit, garbage length headers,
//! resets, connections closed at once or in the middle of a frame. Each
//! ends the client cleanly, and [`TcpClient::disconnect_reason`] says why —
//! which is all the C and Python bindings' `recv` users have to tell a fault
//! from a clean close.

mod support;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use support::TIMEOUT;
use tcphub::{DisconnectReason, Error, Framing, TcpClient};

/// A raw "server" and a client connected to it (pull mode, no reconnect).
fn pair(framing: Framing) -> (TcpStream, TcpClient) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(framing)
        .connect()
        .expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (server, client)
}

/// Every message until the client ends (bounded wait), then why it ended.
fn messages_and_reason(client: &TcpClient) -> (Vec<Vec<u8>>, Option<DisconnectReason>) {
    let mut got = Vec::new();
    loop {
        match client.recv_timeout(TIMEOUT) {
            Ok(m) => got.push(m),
            Err(Error::NotRunning) => return (got, client.disconnect_reason()),
            Err(e) => panic!("the client did not end within {TIMEOUT:?}: {e}"),
        }
    }
}

#[test]
fn a_frame_over_the_limit_ends_the_client_with_frame_too_large() {
    let (mut server, client) = pair(Framing::LengthPrefixed { max_len: 100 });
    assert_eq!(client.disconnect_reason(), None);
    server.write_all(&support::lp_frame(b"fine")).unwrap();
    server.write_all(&101u32.to_be_bytes()).unwrap(); // one over max_len
    let (got, why) = messages_and_reason(&client);
    assert_eq!(got, vec![b"fine".to_vec()]);
    assert_eq!(why, Some(DisconnectReason::FrameTooLarge));
}

#[test]
fn a_garbage_length_header_ends_the_client_with_frame_too_large() {
    let (mut server, client) = pair(Framing::length_prefixed());
    server
        .write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])
        .unwrap();
    let (got, why) = messages_and_reason(&client);
    assert!(got.is_empty());
    assert_eq!(why, Some(DisconnectReason::FrameTooLarge));
}

#[test]
fn a_line_longer_than_max_len_ends_the_client_with_frame_too_large() {
    let (mut server, client) = pair(Framing::Lines { max_len: 64 });
    server.write_all(&[b'x'; 4096]).unwrap();
    assert_eq!(
        messages_and_reason(&client).1,
        Some(DisconnectReason::FrameTooLarge)
    );
}

#[test]
fn a_reset_is_reported_as_a_reset() {
    let (mut server, client) = pair(Framing::lines());
    server.write_all(b"one\ntw").unwrap();
    socket2::SockRef::from(&server)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(server); // RST
    assert_eq!(
        messages_and_reason(&client).1,
        Some(DisconnectReason::Reset)
    );
}

#[test]
fn a_close_in_the_middle_of_a_frame_is_not_a_clean_close() {
    let (mut server, client) = pair(Framing::length_prefixed());
    let frame = support::lp_frame(&[7; 300]);
    server.write_all(&frame[..150]).unwrap();
    drop(server);
    let (got, why) = messages_and_reason(&client);
    assert!(got.is_empty());
    assert_eq!(
        why,
        Some(DisconnectReason::Io(std::io::ErrorKind::UnexpectedEof))
    );
}

#[test]
fn a_frame_dripped_byte_by_byte_arrives_whole_then_the_close_is_clean() {
    let (mut server, client) = pair(Framing::length_prefixed());
    server.set_nodelay(true).unwrap();
    for b in support::lp_frame(&[9; 300]) {
        server.write_all(&[b]).unwrap();
    }
    drop(server);
    let (got, why) = messages_and_reason(&client);
    assert_eq!(got, vec![vec![9; 300]]);
    assert_eq!(why, Some(DisconnectReason::ClosedByPeer));
}

#[test]
fn a_server_that_accepts_and_closes_at_once_is_closed_by_peer() {
    let (server, client) = pair(Framing::lines());
    drop(server);
    assert_eq!(
        messages_and_reason(&client),
        (vec![], Some(DisconnectReason::ClosedByPeer))
    );
    assert!(matches!(client.send(b"late"), Err(Error::NotRunning)));
}

#[test]
fn closing_ourselves_is_closed_locally() {
    let (_server, client) = pair(Framing::lines());
    client.close();
    assert_eq!(
        messages_and_reason(&client).1,
        Some(DisconnectReason::ClosedLocally)
    );
}

#[test]
fn a_close_whose_linger_runs_out_with_messages_queued_is_no_clean_close() {
    // The server never reads: the kernel buffers fill, then the client's
    // queue. `close()` flushes for the linger time, then drops the rest;
    // before, that was reported as ClosedLocally, like a close that wrote
    // everything.
    let (_server, client) = {
        // A small receive buffer: the kernel takes little of the 32 MiB.
        let listener = support::listener_with_rcvbuf(64 * 1024);
        let client = TcpClient::builder(listener.local_addr().unwrap())
            .framing(Framing::length_prefixed())
            .max_queue_bytes(32 << 20)
            .linger(Duration::from_millis(200))
            .connect()
            .expect("connect");
        (listener.accept().expect("accept").0, client)
    };
    let msg = vec![b'x'; 60_000];
    let refused = loop {
        match client.send(&msg) {
            Ok(()) => {}
            Err(e) => break e,
        }
    };
    assert!(matches!(refused, Error::QueueFull { .. }), "{refused}");
    // The queue is full and nobody reads: this close cannot flush it.
    client.close();
    assert_eq!(
        messages_and_reason(&client).1,
        Some(DisconnectReason::Io(std::io::ErrorKind::TimedOut))
    );
}

/// Under `write_after_server_eof(true)` (for such servers; not the
/// default), a server that half-closes (done sending, still reading) gets
/// every message the client queued before its end-of-stream: the client
/// stops reading, flushes within the linger time, then ends with
/// `ClosedByPeer`. The queued messages used to be dropped at the EOF.
#[test]
fn a_server_half_close_still_gets_what_was_queued() {
    use std::io::Read;
    // A small receive buffer: what the kernel takes unread stays well
    // below what the client queues (loopback may grow one to 32 MB).
    let listener = support::listener_with_rcvbuf(64 * 1024);
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::length_prefixed())
        .write_after_server_eof(true)
        .connect()
        .expect("connect");
    let (mut server, _) = listener.accept().expect("accept");
    // The server does not read yet: fill the socket buffers and queue more.
    let msg = vec![b'q'; 64 * 1024];
    let mut sent = 0usize;
    let mut queued_some = false;
    for _ in 0..1000 {
        match client.send(&msg) {
            Ok(()) => sent += 1,
            Err(Error::QueueFull { .. }) => break,
            Err(e) => panic!("send: {e}"),
        }
        queued_some = client.queued_bytes() > 0;
    }
    assert!(queued_some, "the client's queue never held anything");
    support::wait_until("the client's queue to stay non-empty", || {
        client.queued_bytes() > 0
    });
    server.shutdown(std::net::Shutdown::Write).unwrap(); // EOF to the client
    let mut got = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    server.set_read_timeout(Some(TIMEOUT)).unwrap();
    loop {
        match server.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("server read after {got} bytes: {e}"),
        }
    }
    assert_eq!(got, sent * (4 + msg.len()), "bytes the server received");
    let (_, why) = messages_and_reason(&client);
    assert_eq!(why, Some(DisconnectReason::ClosedByPeer));
}

/// Under `write_after_server_eof(true)`, a reply that `send` accepted in
/// `on_message` for the server's last message — the natural answer to a
/// server that sends a request and half-closes — reaches the server: it is
/// queued (in the I/O thread's command channel) when the end-of-stream that
/// came with that message is read. It used to be dropped, because only the
/// connection's own queue was looked at, which the reply had not reached
/// yet. (By default it is dropped and counted in `unsent`.)
#[test]
fn a_reply_sent_from_on_message_to_a_half_closing_server_gets_there() {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    use std::sync::Mutex;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let (shut_tx, shut_rx) = mpsc::channel::<()>();
    let shut_rx = Mutex::new(shut_rx);
    let (why_tx, why_rx) = mpsc::channel();
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::lines())
        .write_after_server_eof(true)
        .on_message(move |c, msg| {
            assert_eq!(msg, b"request");
            c.send(b"reply").expect("send from on_message");
            // Hold the read until the server's end-of-stream is in, so it
            // is read in the same turn as the request (bounded wait).
            let _ = shut_rx.lock().unwrap().recv_timeout(TIMEOUT);
        })
        .on_disconnect(move |_, why| {
            let _ = why_tx.send(why.clone());
        })
        .connect()
        .expect("connect");
    let (mut server, _) = listener.accept().expect("accept");
    server.write_all(b"request\n").unwrap();
    server.shutdown(std::net::Shutdown::Write).unwrap(); // done sending, still reading
    shut_tx.send(()).unwrap();
    server.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = String::new();
    BufReader::new(&server).read_line(&mut got).unwrap();
    assert_eq!(got, "reply\n", "what the half-closed server read");
    assert_eq!(
        why_rx.recv_timeout(TIMEOUT).unwrap(),
        DisconnectReason::ClosedByPeer
    );
    client.close();
}
