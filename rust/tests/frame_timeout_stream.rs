//! `frame_timeout` bounds how long *one* frame takes, from its first byte to
//! its last. A client that streams frames steadily, with writes that do not
//! end on frame boundaries (so every read leaves the next frame started),
//! finishes each frame quickly and must not be cut.

mod support;

use std::time::{Duration, Instant};

use support::*;
use tcphub::{DisconnectReason, Event, Framing, TcpServer};

/// Each read completes the frame the previous one started and starts the
/// next: the clock must restart with that next frame, not keep running from
/// the first unfinished frame ever seen (which cut a streaming client after
/// `frame_timeout` although no frame took more than a few milliseconds).
#[test]
fn a_client_streaming_frames_split_across_reads_is_not_cut_by_the_frame_timeout() {
    let timeout = Duration::from_secs(2); // generous: a stalled writer must not fail it
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .frame_timeout(timeout)
        .start()
        .expect("start");
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    // Every write finishes one line and starts the next ("…\nline N+1 par").
    peer.send(b"line 0 par");
    let started = Instant::now();
    let mut sent = 0;
    // (A write may fail once the server has cut the connection: the
    // events below say why.)
    let mut open = true;
    while open && started.elapsed() < timeout * 2 {
        std::thread::sleep(Duration::from_millis(20)); // pacing, not a wait
        sent += 1;
        open = peer.send_lossy(format!("t\nline {sent} par").as_bytes());
    }
    if open && peer.send_lossy(b"t\n") {
        peer.shutdown_write();
    }
    let mut lines = 0;
    loop {
        match next_event(&events) {
            Event::Connected(_) => {}
            Event::Message(_, m) => {
                assert_eq!(m, format!("line {lines} part").as_bytes());
                lines += 1;
            }
            Event::Disconnected(_, why) => {
                assert_eq!(why, DisconnectReason::ClosedByPeer, "after {lines} lines");
                break;
            }
        }
    }
    assert_eq!(lines, sent + 1);
    assert_eq!(server.stats().frame_timeouts, 0);
}

/// The other side of the same clock: a frame that stays unfinished is still
/// cut, even when frames before it, in the same read, were complete.
#[test]
fn a_frame_left_unfinished_after_complete_ones_is_still_cut() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .frame_timeout(Duration::from_millis(200))
        .start()
        .expect("start");
    let events = server.events();
    let mut peer = Peer::connect(server.local_addr());
    peer.send(b"one\ntwo\nthree, never ende");
    let mut got = Vec::new();
    loop {
        match next_event(&events) {
            Event::Connected(_) => {}
            Event::Message(_, m) => got.push(m),
            Event::Disconnected(_, why) => {
                assert_eq!(why, DisconnectReason::FrameTimeout);
                break;
            }
        }
    }
    assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
    peer.expect_eof();
    assert_eq!(server.stats().frame_timeouts, 1);
}
