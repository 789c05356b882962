//! Framing over real sockets: oversize frames, byte-at-a-time delivery,
//! half-closed clients.

mod support;

use std::collections::HashMap;

use support::{localhost, next_event, wait_clients, wait_until, Disconnects, Peer};
use tcphub::{ClientId, DisconnectReason, Event, Framing, ServerHandle, TcpServer};

/// A relay that records disconnect reasons.
fn recording_relay(framing: Framing) -> (ServerHandle, Disconnects) {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(framing)
        .on_message(|srv, _c, msg| {
            srv.send_all(msg);
        })
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    (server, gone)
}

#[test]
fn overlong_line_disconnects_only_its_sender() {
    let (server, gone) = recording_relay(Framing::Lines { max_len: 1024 });
    let mut bad = Peer::connect(server.local_addr());
    let mut good = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let bad_id = bad.id_on(&server);

    // A valid line first: relayed to both as usual.
    bad.send_line("fine");
    assert_eq!(bad.read_line(), "fine");
    assert_eq!(good.read_line(), "fine");

    // Then one far over the limit.
    let mut overlong = vec![b'x'; 4096];
    overlong.push(b'\n');
    bad.send(&overlong);
    assert_eq!(gone.wait_for(bad_id), DisconnectReason::FrameTooLarge);
    bad.expect_eof();

    // The other client got nothing of the oversize line and still relays
    // normally: its next line is its own.
    good.send_line("still here");
    assert_eq!(good.read_line(), "still here");
    let stats = server.stats();
    assert_eq!(stats.frame_too_large, 1);
    assert_eq!(stats.clients, 1);
    assert_eq!(gone.all().len(), 1, "only the sender was disconnected");
    server.stop();
}

#[test]
fn replies_to_frames_read_together_with_an_oversize_frame_are_delivered() {
    // "ok" and the oversize line arrive in one read: on_message("ok") queues
    // the echo, then the decoder fails and the connection is closed. The echo
    // was queued while the client was connected and should go out before
    // the FIN, as it does for a clean EOF and for disconnect().
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::Lines { max_len: 1024 })
        .on_message(|srv, c, msg| {
            srv.send(c.id, msg).unwrap();
        })
        .start()
        .unwrap();
    let mut c = Peer::connect(server.local_addr());
    let mut payload = b"ok\n".to_vec();
    payload.extend_from_slice(&[b'x'; 4096]);
    payload.push(b'\n');
    c.send(&payload);
    assert_eq!(c.read_line(), "ok");
    c.expect_eof();
    server.stop();
}

#[test]
fn line_growing_past_the_limit_across_reads_disconnects() {
    let (server, gone) = recording_relay(Framing::Lines { max_len: 100 });
    let mut bad = Peer::connect(server.local_addr());
    let mut good = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let bad_id = bad.id_on(&server);

    // 60 bytes, then 60 more without a newline: only the total is too long.
    bad.send(&[b'y'; 60]);
    good.send_line("sync"); // both see it: the 60 bytes were not a message
    assert_eq!(good.read_line(), "sync");
    assert_eq!(bad.read_line(), "sync");
    bad.send(&[b'y'; 60]);

    assert_eq!(gone.wait_for(bad_id), DisconnectReason::FrameTooLarge);
    bad.expect_eof();
    good.send_line("after");
    assert_eq!(good.read_line(), "after");
    server.stop();
}

#[test]
fn huge_length_header_disconnects_only_its_sender() {
    let (server, gone) = recording_relay(Framing::length_prefixed());
    let mut bad = Peer::connect(server.local_addr());
    let mut good = Peer::connect(server.local_addr());
    wait_clients(&server, 2);
    let bad_id = bad.id_on(&server);

    bad.send_frame(b"ok first");
    assert_eq!(bad.read_frame(), b"ok first");
    assert_eq!(good.read_frame(), b"ok first");
    // A header announcing 4 GiB - 1 bytes (over the 8 MiB default limit).
    bad.send(&[0xFF, 0xFF, 0xFF, 0xFF]);

    assert_eq!(gone.wait_for(bad_id), DisconnectReason::FrameTooLarge);
    bad.expect_eof();

    good.send_frame(b"still relaying");
    assert_eq!(good.read_frame(), b"still relaying");
    assert_eq!(server.stats().frame_too_large, 1);
    assert_eq!(gone.all().len(), 1);
    server.stop();
}

/// Starts a pull-mode server, sends `stream` from two clients — one write
/// from the first, one byte per write from the second — and returns the
/// messages the server decoded for each.
fn decode_over_the_wire(framing: Framing, stream: &[u8], expected: usize) -> [Vec<Vec<u8>>; 2] {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(framing)
        .start()
        .unwrap();
    let events = server.events();
    let mut whole = Peer::connect(server.local_addr());
    let mut trickle = Peer::connect(server.local_addr());
    let whole_id = whole.id_on(&server);
    let trickle_id = trickle.id_on(&server);

    whole.send(stream);
    for b in stream {
        trickle.send(std::slice::from_ref(b));
    }

    let mut got: HashMap<ClientId, Vec<Vec<u8>>> = HashMap::new();
    while got.get(&whole_id).map_or(0, Vec::len) < expected
        || got.get(&trickle_id).map_or(0, Vec::len) < expected
    {
        match next_event(&events) {
            Event::Connected(_) => {}
            Event::Message(c, m) => got.entry(c.id).or_default().push(m),
            Event::Disconnected(c, why) => panic!("{c} disconnected early: {why}"),
        }
    }
    // Nothing beyond the expected messages: each client sends a final
    // marker message and it is the next thing decoded for it.
    let marker = framing.encode(b"END").unwrap();
    whole.send(&marker);
    trickle.send(&marker);
    let mut ends = 0;
    while ends < 2 {
        match next_event(&events) {
            Event::Message(c, m) => {
                assert_eq!(m, b"END", "extra message for {c}");
                ends += 1;
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    server.stop();
    [
        got.remove(&whole_id).unwrap(),
        got.remove(&trickle_id).unwrap(),
    ]
}

#[test]
fn lines_one_byte_at_a_time_equal_one_write() {
    let msgs: Vec<Vec<u8>> = vec![
        b"first".to_vec(),
        Vec::new(),
        b"crlf terminated".to_vec(),
        b"tab\tand \xffbinary".to_vec(),
        vec![b'z'; 5000],
        b"last".to_vec(),
    ];
    let mut stream = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        stream.extend_from_slice(m);
        stream.extend_from_slice(if i == 2 { b"\r\n" } else { b"\n" });
    }
    let [whole, trickle] = decode_over_the_wire(Framing::lines(), &stream, msgs.len());
    assert_eq!(whole, msgs);
    assert_eq!(trickle, msgs);
}

#[test]
fn length_prefixed_one_byte_at_a_time_equal_one_write() {
    let msgs: Vec<Vec<u8>> = vec![
        b"a".to_vec(),
        Vec::new(),
        (0..=255u8).collect(),
        b"with\nnewlines\n".to_vec(),
        vec![7u8; 6000],
        Vec::new(),
    ];
    let stream: Vec<u8> = msgs.iter().flat_map(|m| support::lp_frame(m)).collect();
    let [whole, trickle] = decode_over_the_wire(Framing::length_prefixed(), &stream, msgs.len());
    assert_eq!(whole, msgs);
    assert_eq!(trickle, msgs);
}

// Half-close: the client sends, then shuts down its writing side at once, so
// the server reads the data and the FIN together.

#[test]
fn half_closed_client_still_gets_its_echo() {
    let server = support::echo_server(Framing::lines());
    let mut c = Peer::connect(server.local_addr());
    c.send_line("ping");
    c.shutdown_write();
    assert_eq!(c.read_line(), "ping");
    c.expect_eof();
    server.stop();
}

#[test]
fn half_closed_client_gets_echo_of_every_line_and_the_unterminated_last() {
    let server = support::echo_server(Framing::lines());
    let mut c = Peer::connect(server.local_addr());
    c.send(b"one\ntwo\nlast words");
    c.shutdown_write();
    for want in ["one", "two", "last words"] {
        assert_eq!(c.read_line(), want);
    }
    c.expect_eof();
    server.stop();
}

#[test]
fn half_closed_client_gets_echo_after_an_earlier_exchange() {
    let server = support::echo_server(Framing::length_prefixed());
    let mut c = Peer::connect(server.local_addr());
    c.send_frame(b"warm up");
    assert_eq!(c.read_frame(), b"warm up");
    c.send_frame(b"goodbye");
    c.shutdown_write();
    assert_eq!(c.read_frame(), b"goodbye");
    c.expect_eof();
    wait_until("client gone", || server.client_count() == 0);
    server.stop();
}

#[test]
fn half_closed_client_after_its_reply_arrived_sees_eof() {
    // The FIN comes after the reply was read: the connection ends cleanly.
    let server = support::echo_server(Framing::lines());
    let mut c = Peer::connect(server.local_addr());
    c.send_line("ping");
    assert_eq!(c.read_line(), "ping");
    c.shutdown_write();
    c.expect_eof();
    wait_until("client gone", || server.client_count() == 0);
    server.stop();
}
