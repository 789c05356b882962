//! A client that sent its last messages and reset the connection while
//! the server had output waiting for it: the server's write finds the
//! connection gone before its read has taken those messages. They are
//! still delivered, then the disconnect (a chat client typing "bye" and
//! quitting while the room talks to it).
//!
//! The order is made deterministic with one loop thread held inside a
//! callback while the client's message and reset arrive: when it is
//! released, the connection's readiness (readable, writable, error) comes
//! in one event, and the write is tried first.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use support::*;
use tcphub::{ClientId, DisconnectReason, Event, Framing, ServerHandle, TcpServer};

/// Every message the server received, with its sender.
type Received = Arc<Mutex<Vec<(ClientId, Vec<u8>)>>>;

/// Queues 16 MiB for client `id` (at `peer`), which does not read: more
/// than any kernel send buffer, so most of it waits in the server; returns
/// once the server has written some.
fn queue_for_non_reader(server: &ServerHandle, id: ClientId, peer: std::net::SocketAddr) {
    for _ in 0..16 {
        server.send(id, &vec![b'x'; (1 << 20) - 1]).unwrap();
    }
    wait_until("the server writing to the non-reader", || {
        socket_queues(server.local_addr(), peer).is_some_and(|(tx, _)| tx > 0)
    });
}

/// A one-loop server whose loop is held inside `b`'s `on_message` (for a
/// message "block") while client `a`, a non-reader with 16 MiB queued for
/// it, sends its last input and resets: when the loop is released, `a`'s
/// readiness (readable, writable, error) comes in one event and the write
/// is tried first.
struct HeldLoop {
    server: ServerHandle,
    got: Received,
    release: mpsc::Sender<()>,
    gone: Disconnects,
    a_id: ClientId,
    a_addr: std::net::SocketAddr,
    b: Peer,
}

impl HeldLoop {
    /// Sets it up with `framing` (`block` is "block" framed for it), sends
    /// `last` from `a` once the loop is held, resets `a` and releases the
    /// loop.
    fn run(framing: Framing, block: &[u8], last: &[u8]) -> HeldLoop {
        let got: Received = Arc::default();
        let entered = Arc::new(AtomicBool::new(false));
        let (release, held) = mpsc::channel::<()>();
        let held = Mutex::new(held);
        let gone = Disconnects::new();
        let server = {
            let got = got.clone();
            let entered = entered.clone();
            TcpServer::new(0, 10)
                .bind(localhost())
                .framing(framing)
                .threads(1)
                .max_queue_bytes(64 << 20)
                .on_message(move |_, c, msg| {
                    if msg == b"block" {
                        entered.store(true, Ordering::Release);
                        let _ = held.lock().unwrap().recv_timeout(TIMEOUT);
                    }
                    got.lock().unwrap().push((c.id, msg.to_vec()));
                })
                .on_disconnect(gone.recorder())
                .start()
                .expect("start")
        };
        let addr = server.local_addr();
        let mut a = Peer::connect_with_rcvbuf(addr, 4096);
        let mut b = Peer::connect(addr);
        wait_clients(&server, 2);
        let a_id = a.id_on(&server);
        let a_addr = a.addr();
        let queues = || socket_queues(addr, a_addr);
        queue_for_non_reader(&server, a_id, a_addr);
        b.send(block);
        wait_until("the loop held in the callback", || {
            entered.load(Ordering::Acquire)
        });
        a.send(last);
        wait_until("a's last input arriving at the server", || {
            queues().is_some_and(|(_, rx)| rx == last.len() as u64)
        });
        a.reset();
        release.send(()).unwrap();
        HeldLoop {
            server,
            got,
            release,
            gone,
            a_id,
            a_addr,
            b,
        }
    }

    /// Waits for `a`'s end: the messages it got through, and the reason.
    fn a_gone(&self) -> (Vec<Vec<u8>>, DisconnectReason) {
        let why = self.gone.wait_for(self.a_id);
        let from_a = self
            .got
            .lock()
            .unwrap()
            .iter()
            .filter(|(id, _)| *id == self.a_id)
            .map(|(_, m)| m.clone())
            .collect();
        (from_a, why)
    }
}

#[test]
fn a_write_that_finds_a_client_reset_still_delivers_what_it_sent_before() {
    let mut h = HeldLoop::run(
        Framing::length_prefixed(),
        &lp_frame(b"block"),
        &lp_frame(b"bye"),
    );
    let (from_a, why) = h.a_gone();
    assert_eq!(from_a, vec![b"bye".to_vec()], "{} left for {why}", h.a_addr);
    assert_eq!(why, DisconnectReason::Reset);
    // b is unaffected.
    h.b.send_frame(b"after");
    wait_until("b's next message", || {
        h.got
            .lock()
            .unwrap()
            .last()
            .is_some_and(|(_, m)| m == b"after")
    });
    drop(h.release);
    h.server.stop();
}

/// As above with the server's reading paused (pull mode, its event queue
/// full): the write finds the reset while the client's last message is
/// still unread; once the application takes its events, that message comes,
/// then the disconnect.
#[test]
fn a_client_reset_while_reading_is_paused_still_delivers_what_it_sent_before() {
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::length_prefixed())
        .threads(1)
        .event_capacity(2)
        .start()
        .expect("start");
    let events = server.events();
    let addr = server.local_addr();
    let mut a = Peer::connect(addr);
    let a_id = match next_event(&events) {
        Event::Connected(c) => c.id,
        other => panic!("expected a's Connected, got {other:?}"),
    };
    let mut b = Peer::connect(addr);
    let b_addr = b.addr();
    // b's Connected and three messages: more than the queue holds, so the
    // loop stops reading once it has read them.
    let mut three = lp_frame(b"1");
    three.extend(lp_frame(b"2"));
    three.extend(lp_frame(b"3"));
    b.send(&three);
    wait_until("the server reading b's messages", || {
        socket_queues(addr, b_addr).is_some_and(|(_, rx)| rx == 0)
    });
    let a_addr = a.addr();
    a.send_frame(b"bye");
    wait_until("a's last message arriving, unread", || {
        socket_queues(addr, a_addr).is_some_and(|(_, rx)| rx == 7)
    });
    a.reset();
    // The loop applies this send while paused: its write finds the reset.
    server.send(a_id, b"hello").unwrap();
    let mut from_a = Vec::new();
    let why = loop {
        match next_event(&events) {
            Event::Message(c, m) if c.id == a_id => from_a.push(m),
            Event::Disconnected(c, why) if c.id == a_id => break why,
            _ => {}
        }
    };
    assert_eq!(from_a, vec![b"bye".to_vec()], "a left for {why}");
    assert_eq!(why, DisconnectReason::Reset);
    server.stop();
}

/// Holds the loop thread inside its log call for the frame-over-the-limit
/// line of one chosen client (`Gate::arm`), until `Gate::open`: in pull mode
/// no callback of ours runs on the loop, and the log call is where it can
/// be held deterministically.
struct Gate {
    state: Mutex<GateState>,
    turn: std::sync::Condvar,
}

#[derive(Default)]
struct GateState {
    /// Block on a line containing this.
    needle: Option<String>,
    entered: bool,
    open: bool,
}

static GATE: Gate = Gate {
    state: Mutex::new(GateState {
        needle: None,
        entered: false,
        open: false,
    }),
    turn: std::sync::Condvar::new(),
};

impl log::Log for Gate {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = record.args().to_string();
        let mut s = self.state.lock().unwrap();
        if !s.needle.as_ref().is_some_and(|n| line.contains(n.as_str())) {
            return;
        }
        s.entered = true;
        self.turn.notify_all();
        let (_s, _) = self
            .turn
            .wait_timeout_while(s, TIMEOUT, |s| !s.open)
            .unwrap();
    }

    fn flush(&self) {}
}

impl Gate {
    fn arm(&self, needle: String) {
        if log::set_logger(&GATE).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
        self.state.lock().unwrap().needle = Some(needle);
    }

    fn wait_entered(&self) {
        let s = self.state.lock().unwrap();
        let (s, _) = self
            .turn
            .wait_timeout_while(s, TIMEOUT, |s| !s.entered)
            .unwrap();
        assert!(
            s.entered,
            "the loop did not reach the gate within {TIMEOUT:?}"
        );
    }

    fn open(&self) {
        self.state.lock().unwrap().open = true;
        self.turn.notify_all();
    }
}

/// A pull-mode server whose reading is not paused when its write finds the
/// reset, but whose event queue the client's last messages fill as they
/// are read: the rest of them still comes once the application takes its
/// events, then the disconnect. (Before the fix the read stopped at the
/// first buffer that filled the queue and the connection was closed with
/// the rest unread: 65 of 100 messages.)
#[test]
fn a_client_reset_whose_last_messages_fill_the_event_queue_still_delivers_them_all() {
    const LINES: usize = 100;
    const LINE: usize = 1000;
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .framing(Framing::Lines { max_len: 1 << 20 })
        .threads(1)
        .event_capacity(8)
        .max_queue_bytes(64 << 20)
        .start()
        .expect("start");
    let events = server.events();
    let addr = server.local_addr();
    // Room in the server's receive buffer for a's last messages (100 KB),
    // which wait there unread below: left to the kernel, it starts at
    // tcp_rmem's default, 87,380 bytes on many hosts, and they never all
    // arrived.
    set_recv_buffer_of_listener(addr, 256 * 1024);
    let a = Peer::connect_with_rcvbuf(addr, 4096);
    let a_id = match next_event(&events) {
        Event::Connected(c) => c.id,
        other => panic!("expected a's Connected, got {other:?}"),
    };
    let mut c = Peer::connect(addr);
    assert!(matches!(next_event(&events), Event::Connected(_)));
    let a_addr = a.addr();
    let queues = || socket_queues(addr, a_addr);
    queue_for_non_reader(&server, a_id, a_addr);
    // The loop is held (logging c's oversize frame) while a's last
    // messages and its reset arrive: then the loop finds a readable,
    // writable and reset at once, and writes first.
    GATE.arm(format!("{} sent a frame over the limit", c.addr()));
    c.send(&vec![b'y'; (1 << 20) + 2]);
    GATE.wait_entered();
    let mut line = vec![b'm'; LINE - 1];
    line.push(b'\n');
    let mut a = a;
    a.send(&line.repeat(LINES));
    let total = (LINES * LINE) as u64;
    wait_until("a's last messages arriving at the server, unread", || {
        queues().is_some_and(|(_, rx)| rx == total)
    });
    a.reset();
    GATE.open();
    // Not taking events before the loop has read more of a's messages
    // than the queue holds (8 events): they fill it, it is not emptied as
    // they come.
    wait_until("the server reading a's last messages", || {
        server.stats().msgs_in > 8
    });
    let mut from_a = 0;
    let why = loop {
        match next_event(&events) {
            Event::Message(c, _) if c.id == a_id => from_a += 1,
            Event::Disconnected(c, why) if c.id == a_id => break why,
            _ => {}
        }
    };
    assert_eq!(from_a, LINES, "a left for {why}");
    assert_eq!(why, DisconnectReason::Reset);
    server.stop();
}

/// A line the client had not finished when it reset is cut, not a
/// message: as when the read comes first (the read then fails with the
/// reset), it is not delivered, though the write, having taken the
/// socket's error, leaves the read a plain end of input. (Before the fix
/// "transfer 10" of "transfer 1000" was delivered as a message.)
#[test]
fn a_line_cut_by_a_reset_the_write_found_first_is_not_delivered() {
    let h = HeldLoop::run(
        Framing::Lines { max_len: 1 << 20 },
        b"block\n",
        b"bye\ntransfer 10",
    );
    let (from_a, why) = h.a_gone();
    assert_eq!(from_a, vec![b"bye".to_vec()], "{} left for {why}", h.a_addr);
    assert_eq!(why, DisconnectReason::Reset);
    h.server.stop();
}
