//! A client whose own write finds the connection reset while its pull
//! queue is full does not read the dead socket's whole receive buffer into
//! memory: what the server sent before the reset is delivered as the
//! application takes its events, one read's worth at a time, as on a live
//! connection.
//!
//! Before the fix the client read it all at once into the pull queue's
//! backlog, past the queue's bound: a server that filled a large receive
//! buffer with tiny messages and reset made a slow client allocate tens of
//! bytes of event per byte received.
//!
//! Alone in its own file (so its own process): it counts the bytes this
//! process has allocated.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use support::*;
use tcphub::{ClientEvent, DisconnectReason, Framing, TcpClient};

/// Counts the bytes allocated and not freed, process-wide.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Lines the server sends before it resets: `LINES` of 10 bytes.
const LINES: usize = 300_000;

#[test]
fn a_reset_found_by_a_write_does_not_read_the_whole_receive_buffer_at_once() {
    let listener = TcpListener::bind(SocketAddr::new(localhost(), 0)).unwrap();
    let client = TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::lines())
        .event_capacity(1)
        .connect()
        .unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let (local, peer) = (client.local_addr(), client.peer_addr());
    // A receive buffer that holds all the lines unread (the kernel's
    // autotuning would grow it so for a client that read fast before).
    set_recv_buffer_of(local, 8 << 20);

    let unread = || socket_queues(local, peer).map(|(_, rx)| rx);
    server.write_all(b"a\nb\n").unwrap();
    wait_until("the client reading its first two lines", || {
        unread() == Some(0)
    });
    // One queued, one waiting for room: the client reads no more.
    let body = b"xxxxxxxxx\n".repeat(LINES);
    server
        .set_write_timeout(Some(TIMEOUT))
        .expect("write timeout");
    server
        .write_all(&body)
        .expect("the lines fit the receive buffer");
    wait_until("every line arriving unread", || {
        unread() == Some(body.len() as u64)
    });
    socket2::SockRef::from(&server)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(server); // a reset

    let before = LIVE.load(Ordering::Relaxed);
    client.send(b"one").unwrap(); // its write finds the reset
    wait_until("the client finding the connection gone", || {
        !client.is_connected()
    });
    // Eager, the backlog had grown by ~120 bytes per line (35.7 MB) by then;
    // bounded, by one read's worth at most (64 KiB: 6,554 lines).
    let grew = LIVE.load(Ordering::Relaxed) - before;
    assert!(
        grew < 2 << 20,
        "{grew} bytes allocated for the dead socket's input"
    );

    // Everything the server sent before the reset is still delivered.
    let mut lines = 0usize;
    let mut why = None;
    loop {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::Message(m) if m == b"xxxxxxxxx" => lines += 1,
            ClientEvent::Message(m) => assert!(m == b"a" || m == b"b", "{m:?}"),
            ClientEvent::Disconnected(r) => why = Some(r),
            ClientEvent::Closed => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(lines, LINES);
    assert!(why.is_some(), "no disconnect reason");
    assert_ne!(why, Some(DisconnectReason::ClosedLocally));
}
