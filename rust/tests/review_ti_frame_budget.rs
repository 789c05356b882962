//! The frame timeout against input the server left unread: a client that
//! started a large frame and then wrote all the rest of it while a slow
//! callback held its loop up (the bytes wait in the kernel on the server's
//! account) must not be cut at the timer check that follows. That check
//! reads the client first, but one read call stops at its budget (8 reads
//! of 64 KiB): with more than that waiting, the frame looked unfinished and
//! was cut as late, although its client had sent it whole.

mod support;

use std::io::Write;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use support::*;
use tcphub::{Framing, TcpServer};

#[test]
fn a_large_frame_written_whole_during_a_slow_callback_is_not_cut() {
    const FRAME: usize = 4 << 20;
    const FRAME_TIMEOUT: Duration = Duration::from_millis(500);
    let gate = LoopGate::new();
    let slow = gate.clone();
    let got = Arc::new(Mutex::new(None));
    let got2 = got.clone();
    let gone = Disconnects::new();
    let record = gone.clone();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::LengthPrefixed { max_len: 16 << 20 })
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
    socket2::SockRef::from(&b.stream)
        .set_send_buffer_size(FRAME)
        .unwrap();
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
    // B writes the rest of its frame while the callback holds the loop: all
    // of it fits in the kernel's buffers (its send buffer is as large as the
    // frame), so B has sent its whole frame in time.
    let (wrote_tx, wrote) = mpsc::channel();
    let writer = std::thread::spawn(move || {
        let ok = bs.write_all(&vec![b'b'; FRAME - 1024]).is_ok();
        let _ = wrote_tx.send(ok);
    });
    let started = Instant::now();
    let Ok(true) = wrote.recv_timeout(Duration::from_secs(10)) else {
        // A system whose `net.core.wmem_max` keeps the send buffer smaller:
        // the frame cannot be sent whole while the loop is held up.
        eprintln!("skipped: B's frame does not fit in the socket buffers here");
        gate.go_on();
        writer.join().unwrap();
        server.stop();
        return;
    };
    // The callback holds the loop for over twice the frame timeout in all
    // (the scenario, not a wait for something to happen).
    std::thread::sleep((2 * FRAME_TIMEOUT).saturating_sub(started.elapsed()));
    gate.go_on();
    let delivered = || got.lock().unwrap().is_some() || gone.reason_of(b_id).is_some();
    wait_until("B's frame or B's end", delivered);
    writer.join().unwrap();
    let (len, cut) = (*got.lock().unwrap(), gone.reason_of(b_id));
    server.stop();
    assert_eq!(
        (len, cut),
        (Some(FRAME), None),
        "B's frame (all of it sent before the callback returned)"
    );
}
