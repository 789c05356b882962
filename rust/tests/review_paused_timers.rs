//! A loop that stops reading — because another loop of its server is far
//! behind (backpressure), its pull queue is full, or a slow callback holds
//! it up — must not cut its own clients as idle or slow: they may be
//! sending all along, their bytes wait in the kernel because of us.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;
use tcphub::{Event, Framing, Overflow, TcpServer};

/// A client that keeps sending: a thread writing a small frame ("tick") on
/// a clone of its socket every 50 ms, from its connect on, until stopped
/// or a write fails (the server closed the connection). Started at once,
/// so that no idle timeout runs out while the test sets up the rest (a
/// loaded machine may take longer than the 400 ms over that).
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Ticker {
    fn start(stream: &TcpStream) -> Ticker {
        let mut s = stream.try_clone().expect("clone the socket");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Acquire) {
                if s.write_all(&lp_frame(b"tick")).is_err() {
                    break; // cut: the server closed it
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Ticker { stop, thread }
    }

    /// Stops the writes (the thread has ended when this returns).
    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        self.thread.join().expect("the ticker");
    }
}

#[test]
fn a_client_that_keeps_sending_is_not_idle_while_its_loop_is_paused_by_backpressure() {
    let gate = LoopGate::new();
    let slow = gate.clone();
    let target = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let to = target.clone();
    let gone = Disconnects::new();
    let record = gone.clone();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(2)
        .framing(Framing::length_prefixed())
        .overflow(Overflow::DropMessage)
        .idle_timeout(Duration::from_millis(400))
        .on_message(move |srv, _c, m| {
            if slow.stays_on(m) {
                // (held until the test goes on)
            } else if m.len() > 1000 {
                let _ = srv.send(to.load(std::sync::atomic::Ordering::SeqCst), m);
            }
        })
        .on_disconnect(move |_srv, c, why| record.record(c, why))
        .start()
        .unwrap();
    let addr = server.local_addr();
    // First client to loop 0, second to loop 1, third to loop 0. The
    // flooder and the busy client send from their connect on (neither is
    // to be idle before the flood).
    let flooder = Peer::connect(addr);
    let flooder_ticks = Ticker::start(&flooder.stream);
    let flooder_id = flooder.id_on(&server);
    let mut sleeper = Peer::connect(addr);
    let sleeper_id = sleeper.id_on(&server);
    target.store(sleeper_id, std::sync::atomic::Ordering::SeqCst);
    let busy = Peer::connect(addr);
    let busy_ticks = Ticker::start(&busy.stream);
    let busy_id = busy.id_on(&server);
    let _ = flooder_id;

    sleeper.send_frame(b"hold");
    gate.wait_held();
    // Over 64 MiB of messages for loop 1: loop 0 stops reading.
    flooder_ticks.stop();
    let mut s: TcpStream = flooder.stream.try_clone().unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let flood = std::thread::spawn(move || {
        let frame = lp_frame(&vec![b'x'; 1 << 20]);
        for _ in 0..80 {
            if s.write_all(&frame).is_err() {
                break;
            }
        }
    });
    // Meanwhile the busy client goes on sending a small message every
    // 50 ms (the scenario, not a wait for something to happen).
    std::thread::sleep(Duration::from_millis(2500));
    busy_ticks.stop();
    let cut = gone.reason_of(busy_id);
    gate.go_on();
    flood.join().unwrap();
    drop(flooder);
    server.stop();
    assert_eq!(cut, None, "a client sending every 50 ms was cut");
}

/// The frame clock does not run while the loop does not read either: a
/// client whose frame is held up by a pause (here: the pull queue is full,
/// so the loop stops reading and TCP stops the client's writes) is not
/// "taking longer than the timeout to finish a frame". It sends its frame
/// at a pace that takes about half the frame timeout; the pause in the
/// middle of it lasts longer than the timeout; it must not be cut.
#[test]
fn a_frame_held_up_by_a_paused_loop_is_not_cut_for_the_frame_timeout() {
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 40; // 2.5 MiB, one chunk every PACE: ~1.6 s
    const PACE: Duration = Duration::from_millis(40);
    const FRAME_TIMEOUT: Duration = Duration::from_secs(3);
    const PAUSE: Duration = Duration::from_secs(4);
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::length_prefixed())
        .frame_timeout(FRAME_TIMEOUT)
        .event_capacity(1)
        .start()
        .unwrap();
    let events = server.events();
    let addr = server.local_addr();
    let a = Peer::connect(addr);
    // A small send buffer: what A writes during the pause mostly waits in
    // A itself, and the rest of its frame still takes its pace afterwards.
    socket2::SockRef::from(&a.stream)
        .set_send_buffer_size(CHUNK)
        .unwrap();
    let a_id = match next_event(&events) {
        Event::Connected(c) => c.id,
        other => panic!("expected A's Connected, got {other:?}"),
    };
    // A starts its frame: the header and the first chunk.
    let mut start = ((CHUNK * CHUNKS) as u32).to_be_bytes().to_vec();
    start.extend_from_slice(&[b'a'; CHUNK]);
    let mut a_stream = a.stream.try_clone().unwrap();
    a_stream.write_all(&start).unwrap();
    wait_until("the server read the start of A's frame", || {
        server.stats().bytes_in >= start.len() as u64
    });
    // B's Connected fills the queue (capacity 1); B's message does not fit,
    // so the loop stops reading.
    let mut b = Peer::connect(addr);
    b.stream.write_all(&lp_frame(b"x")).unwrap();
    wait_until("the loop decoded B's message", || {
        server.stats().msgs_in >= 1
    });
    // A goes on at its pace (its writes block while the loop is paused).
    let writer = std::thread::spawn(move || {
        for _ in 1..CHUNKS {
            if a_stream.write_all(&[b'a'; CHUNK]).is_err() {
                return false;
            }
            std::thread::sleep(PACE);
        }
        true
    });
    // The pause: longer than the frame timeout (the scenario, not a wait
    // for something to happen).
    std::thread::sleep(PAUSE);
    // Taking B's events lets the loop read again.
    let mut a_frame = None;
    let deadline = Instant::now() + TIMEOUT;
    while a_frame.is_none() && Instant::now() < deadline {
        match events.recv_timeout(Duration::from_millis(100)) {
            Ok(Event::Message(c, m)) if c.id == a_id => a_frame = Some(Ok(m.len())),
            Ok(Event::Disconnected(c, why)) if c.id == a_id => a_frame = Some(Err(why)),
            _ => {}
        }
    }
    let wrote_all = writer.join().unwrap();
    server.stop();
    assert_eq!(
        a_frame,
        Some(Ok(CHUNK * CHUNKS)),
        "A's frame (all written: {wrote_all})"
    );
}

/// A slow callback holds its loop up too (the README: it "delays that
/// loop's clients"): a client of that loop that kept sending all along has
/// its bytes waiting in the kernel when the callback returns, and must not
/// be cut as idle by the timer check that follows before the loop has
/// looked at its socket again.
#[test]
fn a_client_that_keeps_sending_is_not_idle_after_a_slow_callback_of_its_loop() {
    let gate = LoopGate::new();
    let slow = gate.clone();
    let gone = Disconnects::new();
    let record = gone.clone();
    let server = TcpServer::new(0, 10)
        .bind(localhost())
        .threads(1)
        .framing(Framing::length_prefixed())
        .idle_timeout(Duration::from_millis(400))
        .on_message(move |_srv, _c, m| {
            slow.stays_on(m);
        })
        .on_disconnect(move |_srv, c, why| record.record(c, why))
        .start()
        .unwrap();
    let addr = server.local_addr();
    let mut sleeper = Peer::connect(addr);
    let _ = sleeper.id_on(&server);
    // The busy client sends a small message every 50 ms from its connect
    // on: before the callback, while it holds the loop, and after.
    let busy = Peer::connect(addr);
    let busy_ticks = Ticker::start(&busy.stream);
    let busy_id = busy.id_on(&server);
    sleeper.send_frame(b"hold");
    gate.wait_held();
    // The callback holds the loop for over twice the idle timeout (the
    // scenario, not a wait for something to happen).
    std::thread::sleep(Duration::from_millis(1000));
    gate.go_on();
    // It keeps sending for a while after the callback returned.
    std::thread::sleep(Duration::from_millis(600));
    busy_ticks.stop();
    let cut = gone.reason_of(busy_id);
    server.stop();
    assert_eq!(cut, None, "a client sending every 50 ms was cut");
}
