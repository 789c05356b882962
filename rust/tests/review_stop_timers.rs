//! The idle and frame timeouts during `stop()`. A stopping server reads
//! nobody while it flushes (for up to the linger time, as long as a slow
//! reader takes), so a client cannot finish a frame or show it is alive
//! meanwhile: it must be reported as `ServerStopped`, as `stop()` says,
//! not cut as idle or slow in the middle of the stop.

mod support;

use std::time::Duration;

use support::{localhost, wait_until, Disconnects, Peer, TIMEOUT};
use tcphub::{DisconnectReason, Framing, TcpServer};

/// A slow reader holds the stop up past the frame and idle timeouts; a
/// client in the middle of a frame and a quiet one are reported
/// `ServerStopped` (the reader takes its bytes only once they are
/// reported, so the stop lasts until its linger time if they are not cut).
#[test]
fn clients_are_not_timed_out_while_the_server_stops() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::Lines {
            max_len: 1024 * 1024,
        })
        .frame_timeout(Duration::from_secs(2))
        .idle_timeout(Duration::from_secs(3))
        .linger(Duration::from_secs(6))
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let addr = server.local_addr();
    let mut reader = Peer::connect_with_rcvbuf(addr, 4096);
    let reader_id = reader.id_on(&server);
    let mut partial = Peer::connect(addr);
    let partial_id = partial.id_on(&server);
    let mut quiet = Peer::connect(addr);
    let quiet_id = quiet.id_on(&server);
    // 4 MiB the reader will not take for now: the stop flushes for it.
    for _ in 0..4 {
        server
            .send(reader_id, &vec![b'r'; 1024 * 1024 - 64])
            .expect("queued");
    }
    quiet.send_line("still here");
    partial.send(b"a frame not finished yet");
    wait_until("both are read", || {
        [&partial, &quiet].iter().all(|p| {
            support::socket_queues(p.addr(), addr).is_some_and(|(unacked, _)| unacked == 0)
        })
    });
    let stopper = {
        let server = server.clone();
        std::thread::spawn(move || server.stop())
    };
    // The reader reads once the other two are reported (at the end of the
    // stop's linger time if nothing cuts them sooner).
    let reasons = [gone.wait_for(partial_id), gone.wait_for(quiet_id)];
    let _ = reader.drain_until_closed();
    stopper.join().expect("stop");
    assert_eq!(
        reasons,
        [
            DisconnectReason::ServerStopped,
            DisconnectReason::ServerStopped
        ]
    );
    let s = server.stats();
    assert_eq!((s.frame_timeouts, s.idle_timeouts), (0, 0), "{s:?}");
    let _ = (&mut partial, &mut quiet, TIMEOUT);
}
