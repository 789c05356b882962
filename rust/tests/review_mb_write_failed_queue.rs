//! Review mb (mutation testing, fifth round: `connection.rs`): a
//! connection whose write found its peer gone gives up its queue
//! (`Connection::take_unsent`, from `close_for_write_error`) and stays
//! open while the input its peer sent before the end waits to be read
//! (here: input paused). The bytes it gave up must leave its count of
//! queued bytes too: a stopping loop finishes once no connection has
//! bytes queued, and a count left behind kept `stop()` waiting for the
//! whole `linger` time for bytes that were no longer there. (Deleting
//! `self.out_bytes = 0` from `take_unsent` passed every test.)

mod support;

use std::time::{Duration, Instant};

use support::*;
use tcphub::{Framing, TcpServer};

/// Far longer than a stop takes when nothing waits to be written.
const LINGER: Duration = Duration::from_secs(40);

#[test]
fn review_mb_a_connection_whose_write_failed_does_not_hold_up_stop() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::lines())
        .max_queue_bytes(64 << 20)
        .linger(LINGER)
        .start()
        .unwrap();
    let addr = server.local_addr();
    let peer = Peer::connect(addr);
    let id = peer.id_on(&server);
    // Little of what is sent fits the kernels: the rest waits in the
    // connection's queue.
    set_recv_buffer_of(peer.addr(), 4096);
    set_send_buffer_of_accepted(addr, peer.addr(), 4096);
    // The input that arrives is not read: the connection stays open after
    // its write fails, until the resume (or the stop).
    server.pause_input();
    let line = vec![b'x'; 1023];
    for _ in 0..8192 {
        server.send(id, &line).expect("queued");
    }
    // The peer leaves with a reset: the next write fails, and what was
    // queued is given up (counted in `unwritten`).
    let sock = socket2::SockRef::from(&peer.stream);
    sock.set_linger(Some(Duration::ZERO)).expect("SO_LINGER");
    drop(peer);
    wait_until("the write to the reset peer fails", || {
        server.stats().unwritten > 0
    });
    let t0 = Instant::now();
    server.stop();
    let took = t0.elapsed();
    assert!(
        took < LINGER / 2,
        "stop() took {took:?}: it waited for queued bytes that were given up \
         (linger {LINGER:?})"
    );
}
