//! `send_many` racing a stop: the clients of the loops the call reached
//! before the stop may get the message though it answers `NotRunning`.
//! (A file of its own: it queues 64 MiB, which `send_many.rs`'s memory
//! test, running beside it, would count.)

mod support;

use std::sync::Mutex;

use support::*;
use tcphub::{Error, Framing, TcpServer};

/// A stop that begins during the call gives `NotRunning`, yet the clients
/// of the loops reached first may still get the message (as documented
/// for `try_send_many`; the C header said that on `NOT_RUNNING` no client
/// gets it). Made deterministic: loop 1 is held in a callback while more
/// than 64 MiB of sends wait for it, so the call posts to loop 0, then
/// waits for room on loop 1, where the stop finds it.
#[test]
fn a_stop_during_the_call_may_leave_it_with_the_loops_reached_first() {
    use std::sync::mpsc;
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let entered_tx = Mutex::new(entered_tx);
    let release_rx = Mutex::new(release_rx);
    let s = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::LengthPrefixed { max_len: 1 << 20 })
        .threads(2)
        .linger(std::time::Duration::ZERO)
        .on_message(move |_, _, _| {
            // Holds this loop until the test lets go.
            entered_tx.lock().unwrap().send(()).unwrap();
            release_rx.lock().unwrap().recv().unwrap();
        })
        .start()
        .expect("start");
    let mut on0 = Peer::connect(s.local_addr());
    let id0 = on0.id_on(&s);
    let mut on1 = Peer::connect(s.local_addr());
    let id1 = on1.id_on(&s);
    // Loops are dealt in turn: the second client is loop 1's.
    on1.send_frame(b"hold");
    entered_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("loop 1 held");
    // Over 64 MiB of sends for loop 1's client wait in its channel
    // (64 of 1 MiB and their framing and bookkeeping).
    let big = vec![0u8; 1 << 20];
    for _ in 0..64 {
        s.send(id1, &big).expect("queued");
    }
    let sender = {
        let s = s.clone();
        std::thread::spawn(move || s.try_send_many(&[id0, id1], b"many"))
    };
    // Loop 0 applies its part while the call waits for loop 1.
    assert_eq!(on0.read_frame(), b"many");
    assert!(!sender.is_finished());
    s.begin_stop();
    release_tx.send(()).unwrap();
    let got = sender.join().unwrap();
    assert!(matches!(got, Err(Error::NotRunning)), "{got:?}");
    s.stop();
}
