//! A closing client that reads a frame over the limit stops decoding that
//! connection (`input_off`: nothing is delivered after `close()`, and a bad
//! frame is no reason to give up the flush) — but it must still see the
//! server's end of it, which by default (`write_after_server_eof(false)`)
//! ends the connection: "nothing more is written on it, and the messages
//! left are dropped and counted in `unsent` — or, with reconnecting on and
//! the client closing, written on a new connection". Before, nothing more
//! was read at all, on that connection nor on a redial's: the end went
//! unseen and the client wrote on into a connection the server had ended.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, DisconnectReason, Framing, Reconnect, TcpClient};

/// Bytes `s` has sent that its peer has not acknowledged yet.
fn unacknowledged(s: &TcpStream) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int through the pointer.
    let rc = unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    assert_eq!(rc, 0, "SIOCOUTQ");
    n as usize
}

/// Queues 36 MB on `client` (far more than the socket buffers take from a
/// peer that does not read), then starts its `close()` on a thread of its
/// own; returns once the close has begun.
fn fill_then_close(client: &TcpClient) -> std::thread::JoinHandle<()> {
    // A small send buffer (the peer's receive buffer is small too, from
    // its listener): left to the kernel, it may start at tcp_wmem's
    // default, which a host may set to 16 MiB, and with a receive buffer
    // of tcp_rmem's 32 MiB all 36 MB went: the close ended, nothing was
    // redialled, and the test waited in `accept` for good.
    set_send_buffer_of(client.local_addr(), 64 * 1024);
    let filler = vec![b'x'; 60_000];
    for _ in 0..600 {
        client.send(&filler).unwrap();
    }
    let closer = {
        let client = client.clone();
        std::thread::spawn(move || client.close())
    };
    wait_until("close() started", || !client.is_open());
    closer
}

#[test]
fn a_redial_after_a_bad_frame_while_closing_reads_the_new_connection() {
    redial_while_closing(true);
}

/// The same without the bad frame (passed before the fix too).
#[test]
fn a_redial_while_closing_reads_the_new_connection() {
    redial_while_closing(false);
}

fn redial_while_closing(bad_frame: bool) {
    // Its connections' receive buffers are small (see `fill_then_close`).
    let l = listener_with_rcvbuf(64 * 1024);
    let events = Arc::new(Mutex::new(Vec::<ClientEvent>::new()));
    let client = {
        let events = events.clone();
        TcpClient::builder(l.local_addr().unwrap())
            .framing(Framing::length_prefixed())
            .reconnect(Reconnect {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(10),
                max_attempts: None,
            })
            .max_queue_bytes(256 << 20)
            .linger(TIMEOUT)
            .on_event(move |_, ev| events.lock().unwrap().push(ev.clone()))
            .connect()
            .unwrap()
    };
    let (first, _) = l.accept().unwrap(); // never reads: the queue stays
    let closer = fill_then_close(&client);

    // A length header far over the limit: the closing client stops reading
    // this connection and flushes on.
    if bad_frame {
        (&first).write_all(&u32::MAX.to_be_bytes()).unwrap();
        wait_until("the bad header acknowledged", || {
            unacknowledged(&first) == 0
        });
    }
    // Then the connection is lost (reset): the client redials to flush.
    socket2::SockRef::from(&first)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(first);

    // The redial: this server ends its side at once and reads nothing
    // (the default `write_after_server_eof(false)`: its end-of-stream ends
    // the connection at once, and the rest goes on a new one).
    let (second, _) = l.accept().unwrap();
    second.shutdown(Shutdown::Write).unwrap();
    // The next one takes everything, so the close can finish.
    let reader = std::thread::spawn(move || {
        let (mut third, _) = l.accept().unwrap();
        let mut sink = Vec::new();
        let _ = third.read_to_end(&mut sink);
    });

    closer.join().unwrap();
    let events = events.lock().unwrap().clone();
    let after_redial: Vec<_> = events
        .iter()
        .skip_while(|e| !matches!(e, ClientEvent::Reconnected { .. }))
        .skip(1)
        .filter_map(|e| match e {
            ClientEvent::Disconnected(why) => Some(why.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        after_redial.first(),
        Some(&DisconnectReason::ClosedByPeer),
        "the redialled connection's end-of-stream went unseen: {events:?}"
    );
    drop(second);
    reader.join().unwrap();
}
/// Not closing (passed before the fix too): the messages that came before
/// a bad frame are delivered first, then its `Disconnected`, and the
/// redialled connection's input is read — whatever the pull queue's room.
#[test]
fn messages_before_a_bad_frame_come_first_then_the_redial() {
    for cap in [1usize, 2, 100] {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpClient::builder(l.local_addr().unwrap())
            .framing(Framing::length_prefixed())
            .reconnect(Reconnect {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(10),
                max_attempts: None,
            })
            .event_capacity(cap)
            .connect()
            .unwrap();
        let (mut first, _) = l.accept().unwrap();
        let mut bytes = Vec::new();
        for i in 0..50u32 {
            bytes.extend_from_slice(&lp_frame(format!("m{i}").as_bytes()));
        }
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        first.write_all(&bytes).unwrap();
        let mut got = Vec::new();
        loop {
            match client.next_event(TIMEOUT).unwrap() {
                ClientEvent::Message(m) => got.push(String::from_utf8(m).unwrap()),
                ClientEvent::Disconnected(why) => {
                    assert_eq!(why, DisconnectReason::FrameTooLarge);
                    break;
                }
                e => panic!("{e:?}"),
            }
        }
        assert_eq!(got.len(), 50, "cap {cap}: {got:?}");
        assert!(matches!(
            client.next_event(TIMEOUT).unwrap(),
            ClientEvent::Reconnecting { .. }
        ));
        let (mut second, _) = l.accept().unwrap();
        assert!(matches!(
            client.next_event(TIMEOUT).unwrap(),
            ClientEvent::Reconnected { .. }
        ));
        second.write_all(&lp_frame(b"again")).unwrap();
        assert_eq!(
            client.next_event(TIMEOUT).unwrap(),
            ClientEvent::Message(b"again".to_vec())
        );
        client.close();
    }
}

/// The connection that brought the bad frame itself: its input is not
/// delivered (closing), but the server's end-of-stream behind the frame
/// still ends it. By default (`write_after_server_eof(false)`) nothing
/// more is written then and what is left counts in `unsent`; before,
/// nothing more was read, the end went unseen, and the client wrote
/// everything on into a server that discarded it — `unsent` 0 for
/// messages the server never read.
#[test]
fn the_end_behind_a_bad_frame_still_ends_a_closing_connection() {
    end_while_closing(true);
}

/// The same without the bad frame (passed before the fix too).
#[test]
fn the_end_still_ends_a_closing_connection() {
    end_while_closing(false);
}

fn end_while_closing(bad_frame: bool) {
    // Its connections' receive buffers are small (see `fill_then_close`).
    let l = listener_with_rcvbuf(64 * 1024);
    let client = TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::length_prefixed())
        .max_queue_bytes(256 << 20)
        .linger(TIMEOUT)
        .connect()
        .unwrap();
    let (server, _) = l.accept().unwrap(); // reads nothing yet
    let closer = fill_then_close(&client);
    // A bad header, then the server's end (it is done, as a tcphub server
    // that ended the connection is); the client's system has both before
    // the server reads anything (or the client has ended already: a reset
    // that came before its system's acknowledgement of the end).
    if bad_frame {
        (&server).write_all(&u32::MAX.to_be_bytes()).unwrap();
    }
    server.shutdown(Shutdown::Write).unwrap();
    wait_until("the header and the end acknowledged", || {
        unacknowledged(&server) == 0 || client.disconnect_reason().is_some()
    });
    // Now it reads and discards what comes, as a tcphub server does after
    // its end: what the client writes on is lost.
    let sink = std::thread::spawn(move || {
        let mut server = server;
        let mut all = Vec::new();
        let _ = server.read_to_end(&mut all);
        all.len()
    });
    closer.join().unwrap();
    let discarded = sink.join().unwrap();
    assert_eq!(
        client.disconnect_reason(),
        Some(DisconnectReason::ClosedByPeer)
    );
    assert!(
        client.unsent() > 0,
        "the server's end went unseen: all 600 messages written on \
         ({discarded} bytes discarded), none counted unsent"
    );
}
