//! The pull-mode event queue is bounded by bytes as well as by events: with
//! large messages and a consumer that does not keep up, the default capacity
//! of 65,536 events alone would let it take gigabytes.

mod support;

use std::io::Write;
use std::net::TcpStream;

use support::*;
use tcphub::{Event, Framing, TcpServer, EVENT_QUEUE_BYTES};

#[test]
fn a_slow_consumer_holds_at_most_the_byte_bound_of_large_messages() {
    const MB: usize = 1 << 20;
    const FRAMES: usize = 200; // 200 MiB: far over the 64 MiB bound
    let server = TcpServer::new(0, 4)
        .bind(localhost())
        .threads(1)
        .framing(Framing::LengthPrefixed { max_len: 2 * MB })
        .start()
        .unwrap();
    let events = server.events();
    let addr = server.local_addr();
    let writer = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let mut frame = (MB as u32).to_be_bytes().to_vec();
        frame.extend(std::iter::repeat_n(7u8, MB));
        for _ in 0..FRAMES {
            s.write_all(&frame).unwrap();
        }
        s // kept open until the test has read everything
    });
    let bound_frames = EVENT_QUEUE_BYTES / MB;
    wait_until("the queue filled up to its byte bound", || {
        server.stats().msgs_in as usize >= bound_frames
    });
    // While nobody takes events, the queue must not grow past the bound:
    // a few reads' worth may wait in the loop's backlog, but not in the
    // queue (the old queue took all 200 in well under this time).
    let watch = std::time::Instant::now();
    while watch.elapsed() < std::time::Duration::from_secs(2) && !writer.is_finished() {
        // One Connected event besides the messages.
        assert!(
            events.len() <= bound_frames + 1,
            "{} events queued, {} MiB bound",
            events.len(),
            bound_frames
        );
        std::thread::yield_now();
    }
    // Taking them makes room: every message arrives, in full.
    let mut got = 0;
    while got < FRAMES {
        match events.recv_timeout(TIMEOUT).expect("all messages arrive") {
            Event::Message(_, data) => {
                assert_eq!(data.len(), MB);
                got += 1;
            }
            Event::Connected(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let sock = writer.join().unwrap();
    drop(sock);
    server.stop();
}

/// The client's pull queue has the same byte bound.
#[test]
fn a_slow_client_consumer_holds_at_most_the_byte_bound_of_large_messages() {
    const MB: usize = 1 << 20;
    const FRAMES: usize = 200;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = tcphub::TcpClient::builder(l.local_addr().unwrap())
        .framing(Framing::LengthPrefixed { max_len: 2 * MB })
        .connect()
        .unwrap();
    let (mut peer, _) = l.accept().unwrap();
    let writer = std::thread::spawn(move || {
        let mut frame = (MB as u32).to_be_bytes().to_vec();
        frame.extend(std::iter::repeat_n(7u8, MB));
        for _ in 0..FRAMES {
            peer.write_all(&frame).unwrap();
        }
        peer
    });
    let watch = std::time::Instant::now();
    while watch.elapsed() < std::time::Duration::from_secs(3) && !writer.is_finished() {
        std::thread::yield_now();
    }
    assert!(
        !writer.is_finished(),
        "the client took all {FRAMES} MiB while nobody read its events (bound: {} MiB)",
        EVENT_QUEUE_BYTES / MB
    );
    let mut got = 0;
    while got < FRAMES {
        let m = client.recv_timeout(TIMEOUT).expect("all messages arrive");
        assert_eq!(m.len(), MB);
        got += 1;
    }
    let peer = writer.join().unwrap();
    drop(peer);
    client.close();
}
