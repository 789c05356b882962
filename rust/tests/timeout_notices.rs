//! The server's notices to a client it cuts off for a timeout
//! (`idle_timeout_message`, `frame_timeout_message`) or an oversize frame
//! (`frame_too_large_message`): sent framed after what was queued before,
//! then the end-of-stream; only for their own cause; refused at `start()`
//! when the framing cannot carry them.

mod support;

use std::time::Duration;

use support::{
    expect_end, localhost, next_event, try_wait_until, wait_until, Flood, Peer, TIMEOUT,
};
use tcphub::{DisconnectReason, Error, Event, Framing, Overflow, TcpServer, MAX_FULL_MESSAGE};

const IDLE: &str = "disconnected: idle for too long";
const UNFINISHED: &str = "disconnected: line not finished in time";
const TOO_LONG: &str = "disconnected: message too long";

fn server(framing: Framing) -> TcpServer {
    TcpServer::new(0, 10)
        .bind(localhost())
        .framing(framing)
        .idle_timeout_message(IDLE)
        .frame_timeout_message(UNFINISHED)
        .frame_too_large_message(TOO_LONG)
        .linger(Duration::from_secs(20))
}

#[test]
fn an_idle_client_gets_what_was_queued_then_the_idle_notice_then_eof() {
    let server = server(Framing::lines())
        .idle_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    let Event::Connected(c) = next_event(&events) else {
        panic!("no Connected");
    };
    server.send(c.id, b"welcome").unwrap();
    assert_eq!(peer.read_line(), "welcome");
    expect_end(&events, c.id, DisconnectReason::IdleTimeout);
    assert_eq!(peer.read_line(), IDLE);
    peer.expect_eof();
    let stats = server.stats();
    assert_eq!(stats.idle_timeouts, 1);
    assert_eq!(stats.msgs_out, 1, "the notice is not the application's");
    // Its bytes are written to the client like any others.
    assert_eq!(
        stats.bytes_out,
        (b"welcome\n".len() + IDLE.len() + 1) as u64
    );
}

#[test]
fn a_slow_sender_gets_the_frame_timeout_notice_framed_and_not_the_idle_one() {
    let server = server(Framing::length_prefixed())
        .idle_timeout(Duration::from_secs(600))
        .frame_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    peer.send(&[0, 0, 0, 10, b'x']); // 1 of 10 bytes, never the rest
    match next_event(&events) {
        Event::Connected(_) => {}
        other => panic!("{other:?}"),
    }
    match next_event(&events) {
        Event::Disconnected(_, DisconnectReason::FrameTimeout) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(peer.read_frame(), UNFINISHED.as_bytes());
    peer.expect_eof();
    assert_eq!(server.stats().frame_timeouts, 1);
}

#[test]
fn a_slow_sender_still_sending_after_the_timeout_gets_the_whole_notice() {
    // Its next bytes must not draw a reset that throws away what of the
    // notice it has not taken yet: a notice longer than its receive
    // buffer (the kernel's least, ~2 KiB), its lines going on after the
    // timeout. (The socket lingers, as a kicked client's does.)
    let notice = format!("{UNFINISHED}: {}", "n".repeat(4000));
    let server = server(Framing::lines())
        .frame_timeout_message(&notice)
        .frame_timeout(Duration::from_millis(200))
        .on_message(|_, _, _| {})
        .start()
        .unwrap();
    let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 1);
    peer.send(b"a line that never ends");
    wait_until("the frame timeout", || server.stats().frame_timeouts == 1);
    let flood = Flood::start(&peer);
    // 64 KiB more sent after the timeout, or the writes fail (the socket
    // was closed at once, answering them with a reset).
    try_wait_until(TIMEOUT, || flood.sent() > 65_536 || flood.ended());
    let (got, end) = peer.drain_until_closed();
    flood.stop();
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!("{notice}\n"),
        "clean end: {end}"
    );
}

#[test]
fn a_client_over_the_frame_limit_gets_its_replies_then_the_notice_while_it_still_sends() {
    // What was queued for it goes first; its own bytes, still coming after
    // the oversize line (a flood), draw no reset that would throw the
    // notice away (the notice is longer than its receive buffer).
    let notice = format!("{TOO_LONG}: {}", "n".repeat(4000));
    let server = server(Framing::Lines { max_len: 4096 })
        .frame_too_large_message(&notice)
        .idle_timeout(Duration::from_secs(600))
        .frame_timeout(Duration::from_secs(600))
        .start()
        .unwrap();
    let events = server.events();
    let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 1);
    let Event::Connected(c) = next_event(&events) else {
        panic!("no Connected");
    };
    server.send(c.id, b"welcome").unwrap();
    wait_until("the welcome written", || server.stats().msgs_out == 1);
    peer.send(b"fine\n");
    match next_event(&events) {
        Event::Message(_, m) => assert_eq!(m, b"fine"),
        other => panic!("{other:?}"),
    }
    peer.send(&[b'x'; 5000]); // no newline within 4096 bytes
    let flood = Flood::start(&peer);
    expect_end(&events, c.id, DisconnectReason::FrameTooLarge);
    try_wait_until(TIMEOUT, || flood.sent() > 65_536 || flood.ended());
    let (got, end) = peer.drain_until_closed();
    flood.stop();
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!("welcome\n{notice}\n"),
        "clean end: {end}"
    );
    let stats = server.stats();
    assert_eq!(stats.frame_too_large, 1);
    assert_eq!(stats.idle_timeouts + stats.frame_timeouts, 0);
    assert_eq!(stats.msgs_out, 1, "the notice is not the application's");
}

#[test]
fn a_length_prefixed_client_over_the_limit_gets_the_notice_framed() {
    let server = server(Framing::LengthPrefixed { max_len: 1024 })
        .start()
        .unwrap();
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    peer.send(&[0, 0, 4, 1]); // 1025 bytes announced: refused at the header
    assert!(matches!(next_event(&events), Event::Connected(_)));
    match next_event(&events) {
        Event::Disconnected(_, DisconnectReason::FrameTooLarge) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(peer.read_frame(), TOO_LONG.as_bytes());
    peer.expect_eof();
}

#[test]
fn no_notice_for_a_kick_or_a_stop() {
    let server = server(Framing::lines())
        .idle_timeout(Duration::from_secs(600))
        .start()
        .unwrap();
    let events = server.events();
    let mut kicked = Peer::connect(server.local_addr());
    let Event::Connected(c) = next_event(&events) else {
        panic!("no Connected");
    };
    let mut stopped = Peer::connect(server.local_addr());
    assert!(matches!(next_event(&events), Event::Connected(_)));
    server.send(c.id, b"bye").unwrap();
    server.disconnect(c.id).unwrap();
    assert_eq!(kicked.read_line(), "bye");
    kicked.expect_eof();
    server.stop();
    stopped.expect_eof();
}

#[test]
fn the_notice_is_queued_past_a_full_queue() {
    // A client that reads nothing, its queue full under DropMessage: the
    // notice still gets in, last, and nothing is queued after it.
    // A notice longer than the room a queue full of 1 KiB lines leaves.
    let notice = format!("{IDLE}: {}", "z".repeat(3000));
    let server = server(Framing::lines())
        .idle_timeout_message(&notice)
        .idle_timeout(Duration::from_secs(2))
        .max_queue_bytes(64 * 1024)
        .overflow(Overflow::DropMessage)
        .start()
        .unwrap();
    let events = server.events();
    // A small receive buffer, so the kernel takes little before the queue.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(16 * 1024).unwrap();
    sock.connect(&server.local_addr().into()).unwrap();
    let mut peer = std::net::TcpStream::from(sock);
    peer.set_read_timeout(Some(support::TIMEOUT)).unwrap();
    let Event::Connected(c) = next_event(&events) else {
        panic!("no Connected");
    };
    let line = vec![b'x'; 1023];
    // Sent on until the idle timeout has cut the client off (counted as it
    // begins, before the flush), so its queue is full then (the kernel's
    // send buffer may grow meanwhile). Then read: the flush of the notice
    // waits for that. (Waiting for the client to be gone instead, the
    // flush could only end if the kernel's buffer grew enough to take the
    // whole queue; once it was at its 4 MiB maximum, the linger time ran
    // out and the client was reset.)
    let mut sent = 0u64;
    loop {
        // (`wait_ready`: a call for events, taking none. An application
        // that took one and never calls for more holds it: its clients'
        // clocks run at an eighth of the speed, see `app_hold_clocks.rs`.)
        if sent.is_multiple_of(64)
            && (events.wait_ready(Duration::ZERO) || server.stats().idle_timeouts > 0)
        {
            break;
        }
        match server.send(c.id, &line) {
            Ok(()) => sent += 1,
            Err(Error::NoSuchClient(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(server.stats().dropped > 0, "the queue was never full");
    let mut all = Vec::new();
    std::io::Read::read_to_end(&mut peer, &mut all).unwrap();
    match next_event(&events) {
        Event::Disconnected(_, DisconnectReason::IdleTimeout) => {}
        other => panic!("{other:?}"),
    }
    let text = String::from_utf8(all).unwrap();
    assert!(
        text.ends_with(&format!("x\n{notice}\n")),
        "{:?}",
        &text[text.len().saturating_sub(80)..]
    );
}

#[test]
fn start_refuses_a_notice_the_framing_cannot_carry() {
    let two_lines = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .idle_timeout_message("two\nlines")
        .start();
    match two_lines {
        Err(Error::InvalidConfig(m)) => assert!(m.starts_with("idle_timeout_message: "), "{m}"),
        other => panic!("{other:?}"),
    }
    let too_long = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .frame_timeout_message(vec![b'x'; MAX_FULL_MESSAGE])
        .validate();
    match too_long {
        Err(Error::InvalidConfig(m)) => {
            assert!(m.starts_with("frame_timeout_message: "), "{m}");
            assert!(m.contains(&format!("at most {MAX_FULL_MESSAGE}")), "{m}");
        }
        other => panic!("{other:?}"),
    }
    let two_lines = TcpServer::new(0, 10)
        .framing(Framing::lines())
        .frame_too_large_message("too\nlong")
        .validate();
    match two_lines {
        Err(Error::InvalidConfig(m)) => assert!(m.starts_with("frame_too_large_message: "), "{m}"),
        other => panic!("{other:?}"),
    }
}
