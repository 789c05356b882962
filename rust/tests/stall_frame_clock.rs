//! The frame timeout against a loop held up by a slow callback: a client
//! that started a frame larger than the kernel's socket buffers hold, and
//! went on writing it while a callback held its loop, was blocked by the
//! server (TCP flow control) for as long as the callback ran. That time is
//! not the client's: it must not be cut as slow once the loop reads again.
//! (`review_ti_frame_budget.rs` has the case of a frame that fits in the
//! buffers; here the rest can only be sent as the server reads it.)

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;
use tcphub::{Framing, TcpServer};

#[test]
fn a_frame_larger_than_the_buffers_blocked_by_a_slow_callback_is_not_cut() {
    // B sends its frame at about 16 MiB/s (a client on a slower link):
    // 2 s for the frame, well within the frame timeout, without the stall.
    const FRAME: usize = 32 << 20;
    const CHUNK: usize = 256 << 10;
    const FRAME_TIMEOUT: Duration = Duration::from_secs(4);
    let gate = LoopGate::new();
    let slow = gate.clone();
    let got = Arc::new(Mutex::new(None));
    let got2 = got.clone();
    let gone = Disconnects::new();
    let record = gone.clone();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::LengthPrefixed { max_len: 128 << 20 })
        .frame_timeout(FRAME_TIMEOUT)
        .on_message(move |_srv, _c, m| {
            if !slow.stays_on(m) {
                *got2.lock().unwrap() = Some(m.len());
            }
        })
        .on_disconnect(move |_srv, c, why| record.record(c, why))
        .start()
        .unwrap();
    let addr = server.local_addr();
    let mut sleeper = Peer::connect(addr);
    let _ = sleeper.id_on(&server);
    let b = Peer::connect(addr);
    let b_id = b.id_on(&server);
    let mut head = (FRAME as u32).to_be_bytes().to_vec();
    head.extend_from_slice(&[b'b'; 1024]);
    let mut bs = b.stream.try_clone().unwrap();
    bs.write_all(&head).unwrap();
    wait_until("the server read the start of B's frame", || {
        server.stats().bytes_in >= head.len() as u64
    });
    sleeper.send_frame(b"hold");
    gate.wait_held();
    let started = Instant::now();
    // B writes the rest of its frame: more than the buffers hold, so its
    // writes block until the loop reads again.
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'b'; CHUNK];
        let mut left = FRAME - 1024;
        while left > 0 {
            let n = left.min(CHUNK);
            if bs.write_all(&chunk[..n]).is_err() {
                return false;
            }
            left -= n;
            std::thread::sleep(Duration::from_millis(16)); // (the link's pace)
        }
        true
    });
    // The callback holds the loop for longer than the frame timeout (the
    // scenario, not a wait for something to happen).
    std::thread::sleep((FRAME_TIMEOUT + FRAME_TIMEOUT / 4).saturating_sub(started.elapsed()));
    gate.go_on();
    let delivered = || got.lock().unwrap().is_some() || gone.reason_of(b_id).is_some();
    wait_until("B's frame or B's end", delivered);
    let wrote = writer.join().unwrap();
    let (len, cut) = (*got.lock().unwrap(), gone.reason_of(b_id));
    server.stop();
    assert_eq!(
        (len, cut, wrote),
        (Some(FRAME), None, true),
        "B's frame (its writes blocked only while the callback held the loop)"
    );
}
