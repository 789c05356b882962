//! A callback's sends to one client are gathered into a run (one buffer);
//! the run must meet the client's queue bound exactly as the same messages
//! sent one by one would: each message counts its own bookkeeping
//! (`ENTRY_OVERHEAD`, 48 bytes) against `max_queue_bytes`, not one entry
//! for the whole run.

mod support;

use support::*;
use tcphub::{Framing, Overflow, ServerHandle, TcpServer};

const LINES: Framing = Framing::Lines { max_len: 8192 };
const FILL: u64 = 2_500;
const BURST: u64 = 84;
const QUEUE: usize = 4000;

/// One stalled client: a fill that overflows its socket and queue, then
/// twenty small replies gathered into one run, in the same turn. Returns
/// how many of those replies reached it.
fn burst_behind_a_full_socket(fill_len: usize) -> u64 {
    let server: ServerHandle = TcpServer::new(0, 4)
        .bind(localhost())
        .framing(LINES)
        .threads(1)
        .max_queue_bytes(QUEUE)
        .overflow(Overflow::DropMessage)
        .on_message(move |srv, c, msg| {
            if msg == b"fill" {
                let big = vec![b'f'; fill_len];
                for _ in 0..FILL {
                    srv.send(c.id, &big).expect("send");
                }
            } else {
                let _ = srv.send(c.id, msg);
            }
        })
        .start()
        .expect("start");
    // A small send buffer on the server's side of the non-reader's
    // connection (the listener's, which it takes as its handshake ends):
    // left to the kernel, it may start at tcp_wmem's default, which a host
    // may set to 16 MiB, and what is sent below all fit there.
    set_send_buffer_of_listener(server.local_addr(), 64 * 1024);
    let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    wait_clients(&server, 1);
    // One write: the fill and the burst are read, and their replies
    // applied, in one turn (no writable event in between).
    let mut input = b"fill\n".to_vec();
    for _ in 0..BURST {
        input.extend_from_slice(b"b\n");
    }
    peer.send(&input);
    let done = try_wait_until(TIMEOUT, || {
        let s = server.stats();
        s.msgs_out + s.dropped == FILL + BURST
    });
    assert!(done, "every reply queued or dropped: {:?}", server.stats());
    let stats = server.stats();
    assert!(stats.dropped > 0, "the fill filled the socket: {stats:?}");
    let reader = std::thread::spawn(move || peer.read_to_eof());
    server.stop();
    let data = reader.join().expect("reader");
    let lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let burst_got = lines.iter().filter(|l| l.first() == Some(&b'b')).count() as u64;
    let stats = server.stats();
    assert_eq!(stats.msgs_out, lines.len() as u64, "{stats:?}");
    assert_eq!(stats.msgs_out + stats.dropped, FILL + BURST, "{stats:?}");
    burst_got
}

#[test]
fn a_gathered_run_of_replies_meets_the_queue_bound_as_single_sends_would() {
    // 4000 bytes of queue. A fill message (3905 bytes framed or more)
    // leaves room for no second one, so once the socket is full the queue
    // holds one part-written message. 84 2-byte replies sent one by one
    // cannot all fit behind it: the last alone needs 168 + 85 * 48 > 4000
    // bytes. Gathered into one run, counted as one entry (168 + 2 * 48),
    // they fitted whenever at most 3736 bytes of the fill message were
    // left (where the socket cut it depends on the fill's size: several).
    for (trial, fill_len) in [3904, 3950, 4003, 4100, 4321].into_iter().enumerate() {
        let got = burst_behind_a_full_socket(fill_len);
        assert!(
            got < BURST,
            "trial {trial}: all {BURST} replies were queued behind a full socket, \
             where sent one by one some could not be"
        );
    }
}
