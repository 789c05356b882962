//! Bounds: `max_clients`, and slow consumers under both overflow policies.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use support::{
    localhost, paced_broadcast, set_send_buffer_of_listener, try_wait_until, wait_clients,
    wait_until, Disconnects, Flood, Peer, Storm, TIMEOUT,
};
use tcphub::{DisconnectReason, Framing, Overflow, ServerHandle, TcpServer};

/// `max_clients` 0 started a server that accepted every connection only to
/// close it at once (`TcpServer(0, 0)` from Python did the same).
#[test]
fn zero_max_clients_is_a_configuration_error() {
    let err = TcpServer::new(0, 0).bind(localhost()).start().unwrap_err();
    assert!(
        matches!(&err, tcphub::Error::InvalidConfig(m) if m.contains("max_clients")),
        "{err:?}"
    );
}

/// `validate` refuses what `start` refuses, with the same error, without
/// binding: the Python constructor uses it, so that `TcpServer(0, 0)` fails
/// where it is written rather than at `start()`.
#[test]
fn validate_refuses_what_start_refuses() {
    use std::time::Duration;
    type Make = fn() -> TcpServer;
    let bad: Vec<(&str, Make)> = vec![
        ("max_clients", || TcpServer::new(0, 0)),
        ("threads", || TcpServer::new(0, 1).threads(0)),
        ("threads", || {
            TcpServer::new(0, 1).threads(tcphub::MAX_THREADS + 1)
        }),
        ("max_queue_bytes", || {
            TcpServer::new(0, 1).max_queue_bytes(0)
        }),
        ("event_capacity", || TcpServer::new(0, 1).event_capacity(0)),
        ("backlog", || TcpServer::new(0, 1).backlog(0)),
        ("busy_poll", || {
            TcpServer::new(0, 1).busy_poll(tcphub::MAX_BUSY_POLL + Duration::from_nanos(1))
        }),
        ("busy_poll", || {
            TcpServer::new(0, 1).busy_poll(Duration::from_micros(u64::MAX))
        }),
        ("idle_timeout", || {
            TcpServer::new(0, 1).idle_timeout(Duration::ZERO)
        }),
        ("frame_timeout", || {
            TcpServer::new(0, 1).frame_timeout(Duration::ZERO)
        }),
        ("keepalive", || {
            TcpServer::new(0, 1).keepalive(Duration::ZERO)
        }),
        ("max_len", || {
            TcpServer::new(0, 1).framing(Framing::Lines { max_len: 0 })
        }),
        ("full_message", || {
            TcpServer::new(0, 1).full_message([0; tcphub::MAX_FULL_MESSAGE + 1])
        }),
    ];
    for (what, make) in bad {
        let refused = make().bind(localhost()).validate().unwrap_err();
        let at_start = make().bind(localhost()).start().unwrap_err();
        assert!(
            matches!(&refused, tcphub::Error::InvalidConfig(m) if m.contains(what)),
            "{what}: {refused:?}"
        );
        assert_eq!(refused.to_string(), at_start.to_string(), "{what}");
    }
    let good = TcpServer::new(0, 1).bind(localhost()).full_message(b"busy");
    assert!(good.validate().is_ok());
    good.start().unwrap().stop();
}

/// A backlog below 1 was handed to `listen()`: Linux took a negative one as
/// `somaxconn` and 0 as a queue of one, while the C binding refused both
/// (`tcphub_server_set_backlog`: `TCPHUB_ERR_INVALID_ARG`) and Python's
/// `TcpServer(backlog=-5)` started.
#[test]
fn a_backlog_below_one_is_a_configuration_error() {
    for backlog in [0, -5, i32::MIN] {
        let err = TcpServer::new(0, 1)
            .bind(localhost())
            .backlog(backlog)
            .start()
            .unwrap_err();
        assert!(
            matches!(&err, tcphub::Error::InvalidConfig(m) if m.contains("backlog")),
            "backlog {backlog}: {err:?}"
        );
    }
    let ok = TcpServer::new(0, 1).bind(localhost()).backlog(1).start();
    assert!(ok.is_ok(), "{ok:?}");
}

/// A zero idle timeout cut every client at the first timer tick (10 ms
/// after it connected), a zero frame timeout every client whose frame
/// spans two reads; C's `tcphub_server_set_idle_timeout(s, 0)` means "off",
/// so the same 0 from Python (`idle_timeout=0`) did the opposite.
#[test]
fn zero_idle_frame_and_keepalive_times_are_configuration_errors() {
    let zero = std::time::Duration::ZERO;
    let idle = TcpServer::new(0, 1).bind(localhost()).idle_timeout(zero);
    let err = idle.start().unwrap_err();
    assert!(
        matches!(&err, tcphub::Error::InvalidConfig(m) if m.contains("idle_timeout")),
        "{err:?}"
    );
    let frame = TcpServer::new(0, 1).bind(localhost()).frame_timeout(zero);
    let err = frame.start().unwrap_err();
    assert!(
        matches!(&err, tcphub::Error::InvalidConfig(m) if m.contains("frame_timeout")),
        "{err:?}"
    );
    // A zero keepalive meant probes every second (rounded up), where C's 0
    // and Python's None mean off.
    let keepalive = TcpServer::new(0, 1).bind(localhost()).keepalive(zero);
    let err = keepalive.start().unwrap_err();
    assert!(
        matches!(&err, tcphub::Error::InvalidConfig(m) if m.contains("keepalive")),
        "{err:?}"
    );
    // Past the kernel's bound: refused by validate() too, as every other
    // setting start() refuses is (validate() let it through).
    let too_long = TcpServer::new(0, 1)
        .bind(localhost())
        .keepalive(tcphub::MAX_KEEPALIVE + std::time::Duration::from_millis(1));
    let err = too_long.validate().unwrap_err();
    assert!(
        matches!(&err, tcphub::Error::InvalidConfig(m) if m.contains("keepalive must be at most")),
        "{err:?}"
    );
    assert!(TcpServer::new(0, 1)
        .keepalive(tcphub::MAX_KEEPALIVE)
        .validate()
        .is_ok());
    let tiny = std::time::Duration::from_nanos(1);
    let ok = TcpServer::new(0, 1)
        .bind(localhost())
        .idle_timeout(tiny)
        .frame_timeout(tiny)
        .keepalive(tiny)
        .start();
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn client_over_max_is_refused_and_a_freed_slot_is_reused() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 2)
        .bind(localhost())
        .framing(Framing::lines())
        .on_message(|srv, _c, msg| {
            srv.send_all(msg);
        })
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let mut a = Peer::connect(server.local_addr());
    let mut b = Peer::connect(server.local_addr());
    wait_clients(&server, 2);

    // The third connection is accepted by the kernel, then closed by the server.
    let mut c = Peer::connect(server.local_addr());
    c.expect_eof();
    wait_until("rejection counted", || server.stats().rejected >= 1);
    let stats = server.stats();
    assert_eq!(stats.rejected, 1);
    assert_eq!(stats.accepted, 2);
    assert_eq!(server.client_count(), 2);
    // A refused connection is not a client: no disconnect callback for it.
    assert!(gone.all().is_empty(), "{:?}", gone.all());

    // The admitted clients are unaffected.
    a.send_line("hello");
    assert_eq!(a.read_line(), "hello");
    assert_eq!(b.read_line(), "hello");

    // One leaves; the next connection takes its place.
    let a_id = a.id_on(&server);
    drop(a);
    assert_eq!(gone.wait_for(a_id), DisconnectReason::ClosedByPeer);
    let mut d = Peer::connect(server.local_addr());
    d.id_on(&server);
    d.send_line("I'm in");
    assert_eq!(d.read_line(), "I'm in");
    assert_eq!(b.read_line(), "I'm in");
    let stats = server.stats();
    assert_eq!(stats.rejected, 1);
    assert_eq!(stats.accepted, 3);
    assert_eq!(stats.clients, 2);
    server.stop();
}

/// A refused connection gets the server's `full_message`, framed, then
/// end-of-stream — also one that sent first; admitted clients never see it.
#[test]
fn refused_connection_gets_the_full_message() {
    for framing in [Framing::lines(), Framing::length_prefixed()] {
        let server = TcpServer::new(0, 1)
            .bind(localhost())
            .framing(framing)
            .full_message("server full: 1 client")
            .on_message(|srv, c, msg| {
                let _ = srv.send(c.id, msg);
            })
            .start()
            .unwrap();
        let mut first = Peer::connect(server.local_addr());
        wait_clients(&server, 1);
        for sent_first in [false, true] {
            let mut refused = Peer::connect(server.local_addr());
            if sent_first {
                refused.send(&framing.encode(b"let me in").unwrap());
            }
            let got = refused.read_to_eof();
            assert_eq!(got, &framing.encode(b"server full: 1 client").unwrap()[..]);
        }
        assert_eq!(server.stats().rejected, 2);
        first.send(&framing.encode(b"still here").unwrap());
        let echo = first.read_exact(framing.encode(b"still here").unwrap().len());
        assert_eq!(echo, &framing.encode(b"still here").unwrap()[..]);
        server.stop();
    }
}

/// A `full_message` that cannot be sent as one frame is refused at start.
#[test]
fn full_message_too_long_is_a_configuration_error() {
    let long = vec![b'x'; tcphub::MAX_FULL_MESSAGE];
    let err = TcpServer::new(0, 1)
        .bind(localhost())
        .framing(Framing::lines())
        .full_message(&long)
        .start()
        .unwrap_err();
    assert!(
        matches!(&err, tcphub::Error::InvalidConfig(m) if m.contains("full_message")),
        "{err:?}"
    );
    let err = TcpServer::new(0, 1)
        .bind(localhost())
        .framing(Framing::Lines { max_len: 8 })
        .full_message("longer than eight")
        .start()
        .unwrap_err();
    assert!(
        matches!(&err, tcphub::Error::InvalidConfig(m) if m.contains("full_message") && m.contains("frame limit")),
        "{err:?}"
    );
}

// ---- slow consumers ---------------------------------------------------------

/// Each broadcast line is this long, newline included.
const MSG_LEN: usize = 1024;
/// The producer stays at most this many messages ahead of the slowest
/// reader, so a reader's server-side queue stays far below `QUEUE` however
/// many sends reach the loop between two of its flushes (the unpaced case
/// has its own tests at the end of this file).
const WINDOW: u64 = 16;
const QUEUE: usize = 64 * 1024;
/// Messages sent after the policy was seen to act.
const AFTER: u64 = 300;
/// Safety net: the non-reader's kernel buffers are a few MiB at most.
const MAX_MESSAGES: u64 = 100_000;

/// Message `seq` without its newline: the number, padded.
fn numbered(seq: u64) -> Vec<u8> {
    let mut v = format!("{seq:010}:").into_bytes();
    v.resize(MSG_LEN - 1, b'.');
    v
}

/// Parses a line made by [`numbered`]; panics if it is malformed.
fn seq_of(line: &[u8]) -> u64 {
    assert_eq!(line.len(), MSG_LEN - 1, "line length");
    assert!(line[11..].iter().all(|&b| b == b'.'), "line padding");
    std::str::from_utf8(&line[..10]).unwrap().parse().unwrap()
}

/// Reads every line until "end", checking the sequence numbers are 0, 1, 2, ...
/// Publishes progress (the next expected number) for the producer's pacing.
/// Returns the count and the still-open connection.
fn spawn_reader(mut peer: Peer, progress: Arc<AtomicU64>) -> JoinHandle<(u64, Peer)> {
    std::thread::spawn(move || {
        let mut next = 0u64;
        loop {
            let line = peer.read_line();
            if line == "end" {
                return (next, peer);
            }
            assert_eq!(
                seq_of(line.as_bytes()),
                next,
                "reader got a message out of order"
            );
            next += 1;
            progress.store(next, Ordering::Release);
        }
    })
}

/// A paced storm of [`numbered`] messages (see `support::paced_broadcast`).
fn storm(server: &ServerHandle, progress: &[Arc<AtomicU64>], acted: impl FnMut() -> bool) -> u64 {
    let pace = Storm {
        progress,
        window: WINDOW,
        after: AFTER,
        max: MAX_MESSAGES,
    };
    paced_broadcast(server, pace, numbered, acted)
}

/// Reader threads; each returns its message count and its open connection.
type Readers = Vec<JoinHandle<(u64, Peer)>>;

struct Setup {
    server: ServerHandle,
    gone: Disconnects,
    progress: Vec<Arc<AtomicU64>>,
    readers: Readers,
    idle: Peer,
    idle_id: u64,
}

fn setup(overflow: Overflow) -> Setup {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .max_queue_bytes(QUEUE)
        .overflow(overflow)
        .linger(TIMEOUT)
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let peers: Vec<Peer> = (0..3).map(|_| Peer::connect(server.local_addr())).collect();
    let idle = Peer::connect(server.local_addr());
    wait_clients(&server, 4);
    let idle_id = idle.id_on(&server);
    let progress: Vec<Arc<AtomicU64>> = (0..3).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let readers = peers
        .into_iter()
        .zip(&progress)
        .map(|(p, prog)| spawn_reader(p, prog.clone()))
        .collect();
    Setup {
        server,
        gone,
        progress,
        readers,
        idle,
        idle_id,
    }
}

/// Checks every reader got all `sent` messages; returns their connections
/// (still open, so they do not show up as disconnects).
fn join_readers(readers: Readers, sent: u64) -> Vec<Peer> {
    let mut peers = Vec::new();
    for (i, r) in readers.into_iter().enumerate() {
        let (got, peer) = r.join().unwrap_or_else(|_| panic!("reader {i} failed"));
        assert_eq!(got, sent, "reader {i} received {got} of {sent} messages");
        peers.push(peer);
    }
    peers
}

#[test]
fn non_reader_is_disconnected_as_slow_consumer_readers_get_everything() {
    let Setup {
        server,
        gone,
        progress,
        readers,
        mut idle,
        idle_id,
    } = setup(Overflow::Disconnect);

    let sent = storm(&server, &progress, || gone.reason_of(idle_id).is_some());
    let _readers = join_readers(readers, sent);

    assert_eq!(gone.wait_for(idle_id), DisconnectReason::SlowConsumer);
    assert_eq!(
        gone.all().len(),
        1,
        "only the non-reader left: {:?}",
        gone.all()
    );
    let stats = server.stats();
    assert!(stats.slow_consumers >= 1, "{stats:?}");
    assert_eq!(stats.slow_consumers, 1);
    assert_eq!(stats.clients, 3);

    // What the non-reader did get is an in-order prefix of the stream,
    // then EOF — or, when a message was partly written, a reset: a FIN
    // right after it would end the stream as if it were a whole last line.
    let (data, clean) = idle.drain_until_closed();
    let mut lines = data.split(|&b| b == b'\n').collect::<Vec<_>>();
    let tail = lines.pop().unwrap(); // after the last newline
    assert!(
        !clean || tail.is_empty(),
        "a partly written message ({} bytes) was ended with a FIN",
        tail.len()
    );
    assert!(!lines.is_empty(), "the non-reader received nothing at all");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(seq_of(line), i as u64, "non-reader's message {i}");
    }
    assert!(
        numbered(lines.len() as u64).starts_with(tail),
        "the non-reader's partial last message is not a prefix of the next one"
    );
    assert!((lines.len() as u64) < sent);
    server.stop();
}

#[test]
fn drop_policy_keeps_the_non_reader_and_counts_drops() {
    let Setup {
        server,
        gone,
        progress,
        readers,
        mut idle,
        idle_id,
    } = setup(Overflow::DropMessage);

    let sent = storm(&server, &progress, || server.stats().dropped > 0);
    let _readers = join_readers(readers, sent);

    let stats = server.stats();
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(stats.slow_consumers, 0);
    assert!(
        gone.all().is_empty(),
        "nobody disconnected: {:?}",
        gone.all()
    );
    assert_eq!(server.client_count(), 4);
    assert!(server.client(idle_id).is_some());

    // The non-reader is still served: once it reads, it gets an increasing
    // (gappy) sequence of whole messages. Stop the server while it reads; the
    // linger lets its queue drain, then it sees EOF.
    let reader = std::thread::spawn(move || idle.read_to_eof());
    server.stop();
    let data = reader.join().expect("non-reader drain");
    // The loops are joined: the counters are final.
    let dropped = server.stats().dropped;
    assert_eq!(gone.wait_for(idle_id), DisconnectReason::ServerStopped);
    assert!(data.ends_with(b"\n"), "the last message is complete");
    let mut prev: Option<u64> = None;
    let mut count = 0u64;
    for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if line == b"end" {
            continue;
        }
        let s = seq_of(line);
        if let Some(p) = prev {
            assert!(s > p, "non-reader: {s} after {p}");
        }
        prev = Some(s);
        count += 1;
    }
    assert!(count > 0);
    assert_eq!(
        count + dropped,
        sent + 1 - u64::from(data.ends_with(b"end\n")),
        "every message was either delivered to the non-reader or counted as dropped"
    );
}

/// What the kernel is asked to buffer on each side of a reader's
/// connection (it grants twice that, within `net.core.wmem_max` and
/// `rmem_max`: 416 KiB each at their smallest defaults).
const READER_BUFFERS: usize = 1 << 20;

/// Three readers that read everything, and nobody else. Their connections
/// have large socket buffers of their own, on both sides (the server's
/// through its listening socket, which the accepted ones inherit): a burst
/// unpaced by the readers waits there, as the tests below need. Left to
/// the kernel, the buffers grow only as far as tcp_wmem's and tcp_rmem's
/// maxima, which a host may set low (or a small machine has low): with
/// 256 KiB or 1 MiB, the readers were cut as slow consumers.
fn readers_only(server: &ServerHandle) -> (Readers, Vec<Arc<AtomicU64>>) {
    let before = server.client_count();
    set_send_buffer_of_listener(server.local_addr(), READER_BUFFERS);
    let peers: Vec<Peer> = (0..3)
        .map(|_| Peer::connect_with_rcvbuf(server.local_addr(), READER_BUFFERS))
        .collect();
    wait_clients(server, before + 3);
    let progress: Vec<Arc<AtomicU64>> = (0..3).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let readers = peers
        .into_iter()
        .zip(&progress)
        .map(|(p, prog)| spawn_reader(p, prog.clone()))
        .collect();
    (readers, progress)
}

// The two tests below send faster than the loop turns: more than
// `max_queue_bytes` reaches each reader's queue between two flushes, although
// every reader's socket is empty and writable. Readers that keep up must not
// be treated as slow consumers.

#[test]
fn readers_that_keep_up_survive_an_unpaced_broadcast_storm() {
    // 500 KB per reader, 64 KiB queue bound; within the readers' socket
    // buffers (2 MB unpaced was more than the kernel took where its
    // buffers are small)
    const BURST: u64 = 500;
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .max_queue_bytes(QUEUE)
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    let (readers, _progress) = readers_only(&server);
    for seq in 0..BURST {
        server.send_all(&numbered(seq));
    }
    server.send_all(b"end");
    let _peers = join_readers(readers, BURST);
    assert!(
        gone.all().is_empty(),
        "readers were disconnected: {:?}",
        gone.all()
    );
    server.stop();
}

#[test]
fn readers_that_keep_up_survive_a_burst_queued_by_one_callback() {
    const BURST: u64 = 200; // 200 KiB in one callback, 64 KiB queue bound
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .max_queue_bytes(QUEUE)
        .on_message(|srv, _c, msg| {
            if msg == b"burst" {
                for seq in 0..BURST {
                    srv.send_all(&numbered(seq));
                }
                srv.send_all(b"end");
            }
        })
        .on_disconnect(gone.recorder())
        .start()
        .unwrap();
    // The burst reaches the trigger too, which never reads: room for it in
    // its socket buffers, as for the readers' (else, where the kernel's
    // buffers are small, the trigger was cut as a slow consumer).
    set_send_buffer_of_listener(server.local_addr(), READER_BUFFERS);
    let mut trigger = Peer::connect_with_rcvbuf(server.local_addr(), READER_BUFFERS);
    trigger.id_on(&server);
    let (readers, _progress) = readers_only(&server);
    trigger.send_line("burst");
    let _peers = join_readers(readers, BURST);
    assert!(
        gone.all().is_empty(),
        "readers were disconnected: {:?}",
        gone.all()
    );
    server.stop();
}

/// A refused peer that keeps sending while the `full_message` is still on
/// its way (its receive window is too small for all of it) gets the whole
/// notice: the refused socket lingers, reading and discarding, until the
/// peer has everything. Closed at once, the peer's next bytes met a closed
/// socket, the kernel answered with a reset and threw the unsent rest of
/// the notice away.
#[test]
fn a_refused_peer_still_sending_gets_the_whole_full_message() {
    let notice = vec![b'n'; tcphub::MAX_FULL_MESSAGE - 1];
    let server = TcpServer::new(0, 1)
        .bind(localhost())
        .framing(Framing::lines())
        .full_message(&notice)
        .on_message(|_, _, _| {})
        .start()
        .unwrap();
    let _first = Peer::connect(server.local_addr());
    wait_clients(&server, 1);

    // The kernel's least receive buffer: ~2 KiB, under the notice.
    let mut refused = Peer::connect_with_rcvbuf(server.local_addr(), 1);
    let flood = Flood::start(&refused);
    // The refusal is done (notice written, our side shut) before we read,
    // and our lines go on arriving after it: 64 KiB more, or the writes
    // fail (closed at once, the refused socket answered them with a reset).
    wait_until("the refusal", || server.stats().rejected == 1);
    let at_refusal = flood.sent();
    try_wait_until(TIMEOUT, || {
        flood.sent() > at_refusal + 65_536 || flood.ended()
    });
    let (got, end) = refused.drain_until_closed();
    flood.stop();
    assert_eq!(
        got.len(),
        notice.len() + 1,
        "got {} bytes (clean end: {end})",
        got.len()
    );
    assert_eq!(&got[..notice.len()], &notice[..]);
    server.stop();
}

/// Every `send` that returned `Ok` for a client cut as a slow consumer is
/// counted once: queued for it (`msgs_out`) or not (`undelivered`). The
/// message whose overflow cut the client was counted nowhere, so
/// `msgs_out + undelivered` came out one short of the sends. The messages
/// still queued for it when it was cut (its queue was full: 62 to 66 lines
/// of 1,001 bytes in 64 KiB, with 48 bytes of bookkeeping per buffer — one
/// per line, or one per run of lines gathered together — and a partly
/// written first line counted whole) count in `unwritten`: they were not
/// counted anywhere before.
#[test]
fn the_send_that_overflows_a_slow_consumer_counts_as_undelivered() {
    let gone = Disconnects::new();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(1)
        .max_queue_bytes(64 * 1024)
        .on_disconnect(gone.recorder())
        .start()
        .expect("start");
    let _idle = Peer::connect(server.local_addr()); // never reads
    wait_clients(&server, 1);
    let id = server.clients()[0].id;
    let msg = vec![b'x'; 1000];
    let mut ok = 0u64;
    while server.send(id, &msg).is_ok() {
        ok += 1;
        assert!(ok < 1_000_000, "the non-reader was never cut");
    }
    assert_eq!(gone.wait_for(id), DisconnectReason::SlowConsumer);
    server.stop();
    // The loops are joined: the counters are final.
    let s = server.stats();
    assert_eq!(s.slow_consumers, 1, "{s:?}");
    assert_eq!(s.dropped, 0, "{s:?}");
    assert_eq!(
        s.msgs_out + s.undelivered,
        ok,
        "every accepted send is queued or undelivered: {s:?}"
    );
    assert!((62..=66).contains(&s.unwritten), "{s:?}");
}
