//! `ClientBuilder::write_after_server_eof` and `TcpClient::unsent`: by
//! default (`false`) a server's end-of-stream with messages still queued
//! here ends the client at once, and the messages it drops are counted —
//! instead of being written to a server that (like a stopping tcphub
//! server) only discards them, with the end looking clean; `true` writes
//! them on, for a server that half-closed.

mod support;

use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use support::TIMEOUT;
use tcphub::{ClientEvent, DisconnectReason, Error, Framing, TcpClient};

/// The message the tests queue: 64 KiB, length-prefixed.
const MSG_LEN: usize = 64 * 1024;
const FRAME_LEN: usize = 4 + MSG_LEN;

/// A raw "server" that does not read, and a client (pull mode, no reconnect,
/// a linger time past the tests' waits) whose queue holds messages the
/// socket buffers had no room for, `write_after_server_eof` set when given.
/// Returns how many `send` accepted.
fn stuck_pair(write_after_eof: Option<bool>) -> (TcpStream, TcpClient, usize) {
    // A small receive buffer: the kernel cannot take the queue unread
    // later (on the CI host's loopback a receive buffer may grow to 32 MB,
    // twice the queue).
    let listener = support::listener_with_rcvbuf(64 * 1024);
    let mut builder = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::length_prefixed())
        // Well past what the kernel's buffers take (tcp_wmem's 4 MiB by
        // default), as the C and Python tests have it: messages stay queued.
        .max_queue_bytes(16 << 20)
        .linger(Duration::from_secs(60));
    if let Some(on) = write_after_eof {
        builder = builder.write_after_server_eof(on);
    }
    let client = builder.connect().expect("connect");
    let (server, _) = listener.accept().expect("accept");
    let msg = vec![b'q'; MSG_LEN];
    let sent = fill(&client, &msg) as usize;
    // The socket buffers are full and the rest waits in the queue.
    assert!(client.queued_bytes() > 0);
    assert_eq!(
        client.unsent(),
        0,
        "nothing is unsent while the client is open"
    );
    (server, client, sent)
}

/// Sends `msg` until the queue is full and the socket buffers take no
/// more; how many `send` accepted. A full queue can still drain into
/// socket buffers the kernel grows meanwhile (then nothing is left to drop
/// or count: a CI run saw "0 unsent of 63"), so the queue is filled again
/// after each pause until a pause lets nothing through.
fn fill(client: &TcpClient, msg: &[u8]) -> u64 {
    let mut sent = 0u64;
    loop {
        let mut took = 0;
        loop {
            match client.send(msg) {
                Ok(()) => took += 1,
                Err(Error::QueueFull { .. }) => break,
                Err(e) => panic!("send: {e}"),
            }
            assert!(sent + took < 10_000, "the queue never filled");
        }
        sent += took;
        if took == 0 {
            return sent;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads what the client sent until its end (each read bounded): the count.
fn bytes_until_end(server: &mut TcpStream) -> std::io::Result<usize> {
    server.set_read_timeout(Some(TIMEOUT))?;
    let mut got = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match server.read(&mut buf)? {
            0 => return Ok(got),
            n => got += n,
        }
    }
}

/// Waits (bounded) for the client's end and returns why it ended.
fn end_of(client: &TcpClient) -> Option<DisconnectReason> {
    match client.recv_timeout(TIMEOUT) {
        Err(Error::NotRunning) => client.disconnect_reason(),
        other => panic!("the client did not end within {TIMEOUT:?}: {other:?}"),
    }
}

/// By default, and with `false` set, the server's end-of-stream ends the
/// client at once, though the server has not read a byte (before, the
/// client went on writing for up to its linger time, a minute here), and
/// the messages still queued are counted as unsent: what the server then
/// reads is exactly the rest.
#[test]
fn the_servers_end_of_stream_drops_the_queue_and_counts_it() {
    for setting in [None, Some(false)] {
        ends_at_once_and_counts(setting);
    }
}

fn ends_at_once_and_counts(setting: Option<bool>) {
    let (mut server, client, sent) = stuck_pair(setting);
    let started = Instant::now();
    server.shutdown(Shutdown::Write).unwrap(); // EOF to the client
    assert_eq!(end_of(&client), Some(DisconnectReason::ClosedByPeer));
    assert!(started.elapsed() < TIMEOUT);
    let unsent = client.unsent();
    assert!(
        unsent > 0,
        "messages were still queued, none counted unsent"
    );
    assert!(unsent <= sent as u64, "{unsent} unsent of {sent} accepted");
    assert!(!client.is_open());
    // What the server reads now is what was written before the end. (A
    // message cut off in the middle resets the connection instead, so the
    // server cannot take its start for a whole message; then its bytes are
    // not all there to count.)
    let got = match bytes_until_end(&mut server) {
        Ok(got) => got,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
        Err(e) => panic!("server read: {e}"),
    };
    assert_eq!(got % FRAME_LEN, 0, "a partial frame ended with a clean FIN");
    assert_eq!(
        (got / FRAME_LEN) as u64 + unsent,
        sent as u64,
        "messages the server got plus those unsent"
    );
}

/// With `true` (the default until 2026-12-02), after the server's
/// end-of-stream the queue is still written (a server that half-closed
/// may read on), and nothing is unsent once the server has read it all.
#[test]
fn with_true_the_queue_is_still_written_after_the_servers_end_of_stream() {
    let (mut server, client, sent) = stuck_pair(Some(true));
    server.shutdown(Shutdown::Write).unwrap();
    let got = bytes_until_end(&mut server).expect("server read");
    assert_eq!(got, sent * FRAME_LEN);
    assert_eq!(end_of(&client), Some(DisconnectReason::ClosedByPeer));
    assert_eq!(client.unsent(), 0);
}

/// `close()` out of linger time drops what is left: counted too.
#[test]
fn a_close_out_of_linger_time_counts_what_it_dropped() {
    let listener = support::listener_with_rcvbuf(64 * 1024);
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::length_prefixed())
        .max_queue_bytes(16 << 20)
        .linger(Duration::from_millis(100))
        .connect()
        .expect("connect");
    let (_server, _) = listener.accept().expect("accept"); // never reads
    let msg = vec![b'q'; MSG_LEN];
    let sent = fill(&client, &msg);
    client.close();
    assert_eq!(
        client.disconnect_reason(),
        Some(DisconnectReason::Io(std::io::ErrorKind::TimedOut))
    );
    let unsent = client.unsent();
    assert!(unsent > 0 && unsent <= sent, "{unsent} unsent of {sent}");
}

/// With reconnecting on, the server's end-of-stream ends the connection
/// either way, and the queue waits for the next one: nothing is unsent.
#[test]
fn with_reconnect_the_queue_waits_for_the_next_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::lines())
        .write_after_server_eof(false)
        .reconnect(tcphub::Reconnect {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
            max_attempts: None,
        })
        .connect()
        .expect("connect");
    let (first, _) = listener.accept().expect("accept");
    first.shutdown(Shutdown::Write).unwrap();
    // Its event, not `!is_connected()`: the redial (10 ms) may be up
    // again, in the listener's backlog, before a poll of the state sees
    // the gap (under load, 20 s of polls missed it).
    let (ev, _) = support::next_control_at(&client);
    assert!(matches!(ev, ClientEvent::Disconnected(_)), "{ev:?}");
    client.send(b"after").expect("queued while reconnecting");
    let (mut second, _) = listener.accept().expect("accept the reconnect");
    second.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut line = [0u8; 6];
    second.read_exact(&mut line).unwrap();
    assert_eq!(&line, b"after\n");
    client.close();
    assert_eq!(client.unsent(), 0);
}
