//! A message the client could only partly write must not reach the server
//! as a shorter, whole-looking message: when the client gives it up (its
//! `close()` runs out of linger time) the connection is cut with a reset,
//! not ended with a FIN right after half a frame — a lines server takes a
//! line ended by end-of-stream as a last line, without its newline.

mod support;

use std::io::{BufRead, Read, Write};
use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, DisconnectReason, Event, Framing, Reconnect, TcpClient, TcpServer};

const BIG: usize = 32 * 1024 * 1024;

#[test]
fn a_line_cut_by_the_close_s_linger_time_is_not_delivered_truncated() {
    // A server that stops reading: its pull queue (one event) is full.
    let framing = Framing::Lines { max_len: 2 * BIG };
    let server = TcpServer::new(0, 4)
        .bind(localhost())
        .framing(framing)
        .event_capacity(1)
        .start()
        .expect("server");
    let events = server.events();
    // Small socket buffers on both sides, so the big line cannot all be
    // written: left to the kernel, they may start at tcp_wmem's and
    // tcp_rmem's defaults, which a host may set to 16 and 32 MiB, and the
    // whole line got through.
    set_recv_buffer_of_listener(server.local_addr(), 64 * 1024);
    let client = TcpClient::builder(server.local_addr())
        .framing(framing)
        .linger(Duration::from_millis(300))
        .connect()
        .expect("connect");
    set_send_buffer_of(client.local_addr(), 64 * 1024);
    client.send(b"first").expect("send");
    client.send(&vec![b'x'; BIG]).expect("send the big line");
    client.close();
    assert_eq!(
        client.disconnect_reason(),
        Some(DisconnectReason::Io(std::io::ErrorKind::TimedOut)),
        "the big line cannot have been written within the linger time"
    );
    let mut got = Vec::new();
    let why = loop {
        match next_event(&events) {
            Event::Connected(_) => {}
            Event::Message(_, m) => got.push(m.len()),
            Event::Disconnected(_, why) => break why,
        }
    };
    assert_eq!(got, [5], "the server got a cut line as a message ({why})");
    assert_ne!(why, DisconnectReason::ClosedByPeer);
    server.stop();
}

/// With reconnect on, a line the old connection took only part of is
/// written again whole on the next one (see `Reconnect`); the old one must
/// not end in a FIN after its start, or a lines server gets it twice: cut,
/// then whole.
#[test]
fn a_line_cut_by_a_dropped_connection_is_cut_by_a_reset_and_resent_whole() {
    const LINE: usize = 16 * 1024 * 1024;
    // Accepted sockets inherit it: the server takes little of the line.
    let listener = listener_with_rcvbuf(64 * 1024);
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::Lines { max_len: LINE })
        .reconnect(Reconnect {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(50),
            max_attempts: None,
        })
        .connect()
        .expect("connect");
    let (mut first, _) = listener.accept().expect("accept");
    client.send(&vec![b'x'; LINE]).expect("send the big line");
    wait_until("part of the line written", || {
        (1..=LINE).contains(&client.queued_bytes())
    });
    // The server sends a line over the client's limit: the client drops
    // this connection, its line unfinished.
    let mut writer = first.try_clone().expect("clone");
    let flood = std::thread::spawn(move || {
        let _ = writer.write_all(&vec![b'y'; LINE + 1]);
    });
    loop {
        match client.next_event(TIMEOUT).expect("the drop") {
            ClientEvent::Disconnected(why) => {
                assert_eq!(why, DisconnectReason::FrameTooLarge);
                break;
            }
            ClientEvent::Message(_) => panic!("no line fits"),
            _ => {}
        }
    }
    flood.join().expect("writer");
    let mut got = 0;
    let mut buf = vec![0; 256 * 1024];
    let ended = loop {
        match first.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    assert!(
        got < LINE + 1,
        "the whole line reached the first connection"
    );
    assert!(
        ended.is_err(),
        "the connection ended cleanly after {got} bytes of a {LINE}-byte line"
    );
    let (second, _) = listener.accept().expect("the reconnect");
    let mut line = Vec::new();
    std::io::BufReader::new(second)
        .take(LINE as u64 + 1)
        .read_until(b'\n', &mut line)
        .expect("read the line");
    assert_eq!(
        line.len(),
        LINE + 1,
        "the line, whole, on the new connection"
    );
    assert!(line[..LINE].iter().all(|&b| b == b'x'));
    client.close();
}

/// The server's side of the same: a slow consumer cut off in the middle of
/// a line must not be handed its start as a whole last line.
#[test]
fn a_line_the_server_cuts_off_a_slow_client_is_not_delivered_truncated() {
    const LINE: usize = 1024 * 1024;
    let framing = Framing::Lines { max_len: LINE };
    let server = TcpServer::new(0, 4)
        .bind(localhost())
        .framing(framing)
        .max_queue_bytes(4 * LINE)
        .start()
        .expect("server");
    let events = server.events();
    // A client that stops reading: its pull queue (one event) is full.
    let client = TcpClient::builder(server.local_addr())
        .framing(framing)
        .event_capacity(1)
        .connect()
        .expect("connect");
    let id = match next_event(&events) {
        Event::Connected(c) => c.id,
        other => panic!("{other:?}"),
    };
    server.send(id, b"first").expect("send");
    wait_until("the client holding a message", || {
        client.wait_ready(Duration::ZERO)
    });
    // Lines until the connection takes no more: one is partly written...
    let line = vec![b'y'; LINE];
    let mut offered = 6u64;
    loop {
        server.send(id, &line).expect("send");
        offered += LINE as u64 + 1;
        if !try_wait_until(Duration::from_secs(1), || {
            server.stats().bytes_out >= offered
        }) {
            break;
        }
        assert!(offered < 1024 * LINE as u64, "the client kept reading");
    }
    // ... then past the queue bound: the server cuts the slow consumer.
    for _ in 0..64 {
        if server.send(id, &line).is_err() {
            break;
        }
    }
    let why = loop {
        if let Event::Disconnected(_, why) = next_event(&events) {
            break why;
        }
    };
    assert_eq!(why, DisconnectReason::SlowConsumer);
    let mut got = Vec::new();
    loop {
        match client.recv_timeout(TIMEOUT) {
            Ok(m) => got.push(m.len()),
            Err(tcphub::Error::NotRunning) => break,
            Err(e) => panic!("the client did not end: {e}"),
        }
    }
    assert!(
        got.iter().all(|&n| n == 5 || n == LINE),
        "the client got a cut line as a message: {got:?} ({:?})",
        client.disconnect_reason()
    );
    assert_ne!(
        client.disconnect_reason(),
        Some(DisconnectReason::ClosedByPeer)
    );
    server.stop();
}

/// Whole lines dropped when `close()` runs out of linger time: the server
/// must not read a clean end of stream after the last line it got, as if
/// it had everything (it was a FIN whenever the writes had stopped between
/// two lines). Short lines, so the kernel's last partial write stops
/// between two of them about as often as not; several attempts.
#[test]
fn whole_lines_dropped_by_the_close_s_linger_time_end_in_a_reset() {
    for attempt in 0..8 {
        let builder = |addr| TcpClient::builder(addr).linger(Duration::from_millis(100));
        let (client, mut server_side, sent) = lines_queued_to_a_stalled_server(attempt, builder);
        client.close();
        assert_eq!(
            client.disconnect_reason(),
            Some(DisconnectReason::Io(std::io::ErrorKind::TimedOut))
        );
        assert_cut(attempt, &client, &mut server_side, sent);
    }
}

/// The same when the server ends its side first: the lines still queued
/// are dropped at once (no reconnect, no `write_after_server_eof`), and
/// the server, which may still be reading, must not take our end for all
/// there was.
#[test]
fn whole_lines_dropped_at_the_server_s_end_of_stream_end_in_a_reset() {
    for attempt in 0..8 {
        let (client, mut server_side, sent) =
            lines_queued_to_a_stalled_server(attempt, TcpClient::builder);
        server_side
            .shutdown(std::net::Shutdown::Write)
            .expect("half-close");
        loop {
            match client.next_event(TIMEOUT).expect("the end") {
                ClientEvent::Disconnected(why) => {
                    assert_eq!(why, DisconnectReason::ClosedByPeer);
                    break;
                }
                ClientEvent::Message(m) => panic!("no lines were sent: {m:?}"),
                _ => {}
            }
        }
        assert_cut(attempt, &client, &mut server_side, sent);
        client.close();
    }
}

/// A lines client made by `builder` (4 KiB send buffer) connected to a
/// server that does not read (4 KiB receive buffer), with short lines of
/// several lengths queued until far more waits than the two buffers hold:
/// the client, the server's end, and how many lines were sent.
fn lines_queued_to_a_stalled_server(
    attempt: usize,
    builder: impl FnOnce(std::net::SocketAddr) -> tcphub::ClientBuilder,
) -> (TcpClient, std::net::TcpStream, u64) {
    let listener = listener_with_rcvbuf(4096);
    let client = builder(listener.local_addr().unwrap())
        .framing(Framing::lines())
        .connect()
        .expect("connect");
    let (server_side, _) = listener.accept().expect("accept");
    set_send_buffer_of(client.local_addr(), 4096);
    let mut sent = 0u64;
    while client.queued_bytes() < 64 * 1024 {
        let len = 1 + (sent as usize + attempt) % 3;
        client.send(&vec![b'x'; len]).expect("send");
        sent += 1;
    }
    (client, server_side, sent)
}

/// Lines were dropped, and the server's end of the stream is a reset.
fn assert_cut(
    attempt: usize,
    client: &TcpClient,
    server_side: &mut std::net::TcpStream,
    sent: u64,
) {
    let unsent = client.unsent();
    assert!(unsent > 0, "nothing was dropped");
    let (lines, ended) = lines_to_the_end(server_side);
    assert!(lines + unsent <= sent);
    assert!(
        ended.is_err(),
        "attempt {attempt}: a clean end after {lines} of {sent} lines, {unsent} dropped"
    );
}

/// Reads `stream` to its end: the lines it got, and how it ended.
fn lines_to_the_end(stream: &mut std::net::TcpStream) -> (u64, std::io::Result<()>) {
    let mut lines = 0u64;
    let mut buf = vec![0; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (lines, Ok(())),
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (lines, Err(e)),
        }
    }
}
