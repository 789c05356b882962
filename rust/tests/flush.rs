//! `TcpClient::flush` and `TcpClient::send_timeout`: waiting for what was
//! queued to be written, and for room in the bounded queue, against a
//! server that stops reading (a plain listener whose accepted socket is not
//! read until the test says so) — and not waiting where that would deadlock
//! (on a tcphub I/O thread) or could never end (the messages dropped).

mod support;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use support::*;
use tcphub::{Error, Framing, Reconnect, TcpClient, TcpServer};

/// Small, so that the queue fills soon after the kernel's buffers do.
const QUEUE: usize = 256 * 1024;
const MSG: usize = 16 * 1024;

/// A client connected to a listener whose accepted socket is not read: its
/// writes stop once the kernel's buffers are full.
fn stalled(builder: impl FnOnce(tcphub::ClientBuilder) -> tcphub::ClientBuilder) -> Stalled {
    // A small receive buffer: the kernel's buffers fill for good, rather
    // than take more later (loopback may grow one to 32 MB unread).
    let listener = listener_with_rcvbuf(64 * 1024);
    let client = builder(TcpClient::builder(listener.local_addr().unwrap()).max_queue_bytes(QUEUE))
        .connect()
        .unwrap();
    let (peer, _) = listener.accept().unwrap();
    Stalled {
        listener,
        peer: Some(peer),
        client,
        sent: 0,
    }
}

struct Stalled {
    listener: TcpListener,
    peer: Option<TcpStream>,
    client: TcpClient,
    /// Bytes `send` accepted.
    sent: usize,
}

impl Stalled {
    /// Sends until the queue is full and stays so: the kernel's buffers
    /// are full then too, and the I/O thread cannot write. (A queue that
    /// the I/O thread does not halve in a second is taken for stuck:
    /// if it was only slow, the assertions that follow fail, not hang.)
    fn fill(&mut self) {
        let msg = vec![b'x'; MSG];
        loop {
            match self.client.send(&msg) {
                Ok(()) => self.sent += MSG,
                Err(Error::QueueFull { .. }) => {
                    let client = &self.client;
                    if !try_wait_until(Duration::from_secs(1), || client.queued_bytes() < QUEUE / 2)
                    {
                        break;
                    }
                }
                Err(e) => panic!("send: {e}"),
            }
            assert!(self.sent < 1 << 30, "the queue never filled");
        }
        // Full to the brim: the last writes may have made a little room.
        while self.client.send(&msg).is_ok() {
            self.sent += MSG;
        }
        assert!(self.client.queued_bytes() > 0);
    }

    /// Starts reading the peer socket: `want` bytes, or to the end when
    /// `None`; the thread returns how many it read.
    fn read(&mut self, want: Option<usize>) -> thread::JoinHandle<usize> {
        let mut peer = self.peer.take().expect("read once");
        thread::spawn(move || read_from(&mut peer, want))
    }
}

fn read_from(peer: &mut TcpStream, want: Option<usize>) -> usize {
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = vec![0; 256 * 1024];
    let mut got = 0;
    while want.is_none_or(|w| got < w) {
        match peer.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got
}

/// Closes `peer` with a reset (SO_LINGER 0).
fn reset(peer: TcpStream) {
    socket2::SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(peer);
}

#[test]
fn flush_with_nothing_queued_returns_at_once() {
    let server = echo_server(Framing::lines());
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .connect()
        .unwrap();
    client.flush(Duration::ZERO).unwrap();
    client.send(b"ping").unwrap();
    client.flush(TIMEOUT).unwrap();
    assert_eq!(client.queued_bytes(), 0);
    assert_eq!(client.recv_timeout(TIMEOUT).unwrap(), b"ping");
    client.flush(Duration::ZERO).unwrap();
}

#[test]
fn flush_returns_once_a_stalled_server_reads() {
    let mut s = stalled(|b| b);
    s.fill();
    assert!(matches!(
        s.client.flush(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
    let reader = s.read(Some(s.sent));
    let t0 = Instant::now();
    s.client.flush(TIMEOUT).unwrap();
    // Woken as the writes go on, not at its timeout.
    assert!(t0.elapsed() < TIMEOUT / 2, "{:?}", t0.elapsed());
    assert_eq!(s.client.queued_bytes(), 0);
    assert_eq!(reader.join().unwrap(), s.sent);
}

#[test]
fn send_timeout_waits_for_room_and_times_out_without_it() {
    let mut s = stalled(|b| b);
    s.fill();
    let msg = vec![b'y'; MSG];
    assert!(matches!(s.client.send(&msg), Err(Error::QueueFull { .. })));
    let t0 = Instant::now();
    assert!(matches!(
        s.client.send_timeout(&msg, Duration::from_millis(100)),
        Err(Error::QueueFull { .. })
    ));
    assert!(t0.elapsed() >= Duration::from_millis(100));
    let reader = s.read(Some(s.sent + MSG));
    let t0 = Instant::now();
    s.client.send_timeout(&msg, TIMEOUT).unwrap();
    assert!(t0.elapsed() < TIMEOUT / 2, "{:?}", t0.elapsed());
    s.client.flush(TIMEOUT).unwrap();
    assert_eq!(reader.join().unwrap(), s.sent + MSG);
}

#[test]
fn send_timeout_fails_at_once_as_send_does() {
    let server = echo_server(Framing::lines());
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::Lines { max_len: 10 })
        .connect()
        .unwrap();
    assert!(matches!(
        client.send_timeout(&[b'a'; 11], TIMEOUT),
        Err(Error::FrameTooLarge { .. })
    ));
    client.close();
    let t0 = Instant::now();
    assert!(matches!(
        client.send_timeout(b"late", TIMEOUT),
        Err(Error::NotRunning)
    ));
    assert!(t0.elapsed() < TIMEOUT / 2);
}

#[test]
fn flush_does_not_wait_for_messages_sent_after_it() {
    let mut s = stalled(|b| b);
    s.fill();
    let client = s.client.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (client, stop, sent) = (client.clone(), stop.clone(), sent.clone());
        thread::spawn(move || {
            let msg = vec![b'z'; MSG];
            while !stop.load(Ordering::Acquire) {
                match client.send_timeout(&msg, Duration::from_millis(20)) {
                    Ok(()) => {
                        sent.fetch_add(1, Ordering::AcqRel);
                    }
                    Err(Error::QueueFull { .. }) => {}
                    Err(e) => panic!("send_timeout: {e}"),
                }
            }
        })
    };
    // The sender keeps the queue full while the flush waits.
    wait_until("the sender's messages queued", || {
        client.queued_bytes() > QUEUE / 2
    });
    let reader = s.read(None);
    let t0 = Instant::now();
    client.flush(TIMEOUT).unwrap();
    assert!(t0.elapsed() < TIMEOUT);
    // The sender was sending all along (the flush may end before its first
    // message got room: it waits only for what came before it).
    wait_until("the sender's first message", || {
        sent.load(Ordering::Acquire) > 0
    });
    stop.store(true, Ordering::Release);
    sender.join().unwrap();
    client.close();
    reader.join().unwrap();
}

/// A flush on a thread of its own, with how long it took.
type Flushing = thread::JoinHandle<(tcphub::Result<()>, Duration)>;

/// A `flush` and a `send_timeout` (of a message that does not fit) of
/// `client`, each waiting on a thread of its own.
fn wait_in_background(client: &TcpClient) -> (Flushing, thread::JoinHandle<tcphub::Result<()>>) {
    let waiter = {
        let client = client.clone();
        thread::spawn(move || {
            let t0 = Instant::now();
            (client.flush(TIMEOUT), t0.elapsed())
        })
    };
    let waiting_sender = {
        let client = client.clone();
        thread::spawn(move || client.send_timeout(&[b'w'; MSG], TIMEOUT))
    };
    (waiter, waiting_sender)
}

/// Both waits of [`wait_in_background`] end with `NotRunning`, the flush
/// well before its timeout.
fn both_end_promptly_not_running(
    waiter: Flushing,
    waiting_sender: thread::JoinHandle<tcphub::Result<()>>,
) {
    let (res, took) = waiter.join().unwrap();
    assert!(matches!(res, Err(Error::NotRunning)), "{res:?}");
    assert!(took < TIMEOUT / 2, "{took:?}");
    assert!(matches!(
        waiting_sender.join().unwrap(),
        Err(Error::NotRunning)
    ));
}

#[test]
fn flush_after_the_connection_is_lost_for_good_errors_promptly() {
    let mut s = stalled(|b| b);
    s.fill();
    let (waiter, waiting_sender) = wait_in_background(&s.client);
    reset(s.peer.take().unwrap());
    both_end_promptly_not_running(waiter, waiting_sender);
    // And at once afterwards: the messages were dropped.
    assert!(matches!(s.client.flush(TIMEOUT), Err(Error::NotRunning)));
}

#[test]
fn flush_waits_across_a_reconnect_and_ends_when_it_gives_up() {
    let policy = Reconnect {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(20),
        max_attempts: None,
    };
    let mut s = stalled(|b| b.reconnect(policy));
    s.fill();
    let waiter = {
        let client = s.client.clone();
        thread::spawn(move || client.flush(TIMEOUT))
    };
    // Lost: the client redials the same listener and writes the rest there.
    reset(s.peer.take().unwrap());
    let (mut second, _) = s.listener.accept().unwrap();
    let reader = thread::spawn(move || read_from(&mut second, None));
    waiter.join().unwrap().unwrap();
    assert_eq!(s.client.queued_bytes(), 0);
    s.client.close();
    assert!(reader.join().unwrap() > 0);

    // Giving up drops the messages: the wait ends then, not at its timeout.
    let policy = Reconnect {
        max_attempts: Some(2),
        ..policy
    };
    let mut s = stalled(|b| b.reconnect(policy));
    s.fill();
    let waiter = {
        let client = s.client.clone();
        thread::spawn(move || {
            let t0 = Instant::now();
            (client.flush(TIMEOUT), t0.elapsed())
        })
    };
    drop(s.listener); // reconnecting is refused
    reset(s.peer.take().unwrap());
    let (res, took) = waiter.join().unwrap();
    assert!(matches!(res, Err(Error::NotRunning)), "{res:?}");
    assert!(took < TIMEOUT / 2, "{took:?}");
}

#[test]
fn close_that_drops_the_messages_ends_the_wait() {
    let mut s = stalled(|b| b.linger(Duration::from_millis(100)));
    s.fill();
    let (waiter, waiting_sender) = wait_in_background(&s.client);
    // Both are waiting (or about to) when the close comes.
    s.client.close();
    both_end_promptly_not_running(waiter, waiting_sender);
}

#[test]
fn in_the_clients_own_callback_they_do_not_wait() {
    let server = echo_server(Framing::lines());
    let (tx, rx) = mpsc::channel();
    let first = AtomicBool::new(true);
    let client = TcpClient::builder(server.local_addr())
        .framing(Framing::lines())
        .max_queue_bytes(8 * 1024)
        .on_message(move |c, _msg| {
            if !first.swap(false, Ordering::AcqRel) {
                return; // (the echoes of what this callback sends)
            }
            let t0 = Instant::now();
            // Posted, not yet taken by the I/O thread: this one.
            c.send(b"reply").unwrap();
            let flushed = c.flush(TIMEOUT);
            let line = vec![b'q'; 1000];
            while c.send(&line).is_ok() {}
            let sent = c.send_timeout(&line, TIMEOUT);
            let _ = tx.send((flushed, sent, t0.elapsed()));
        })
        .connect()
        .unwrap();
    client.send(b"hello").unwrap();
    let (flushed, sent, took) = rx.recv_timeout(TIMEOUT).unwrap();
    assert!(matches!(flushed, Err(Error::Timeout)), "{flushed:?}");
    assert!(matches!(sent, Err(Error::QueueFull { .. })), "{sent:?}");
    assert!(took < TIMEOUT / 2, "{took:?}");
    client.close();
}

#[test]
fn in_a_servers_callback_they_do_not_wait() {
    let mut s = stalled(|b| b);
    s.fill();
    let stuck: Arc<OnceLock<TcpClient>> = Arc::new(OnceLock::new());
    stuck.set(s.client.clone()).unwrap();
    let (tx, rx) = mpsc::channel();
    let server = {
        let stuck = stuck.clone();
        TcpServer::new(0, 10)
            .bind(localhost())
            .framing(Framing::lines())
            .on_message(move |_srv, _c, _msg| {
                let c = stuck.get().expect("set");
                let t0 = Instant::now();
                let flushed = c.flush(TIMEOUT);
                let sent = c.send_timeout(&[b'v'; MSG], TIMEOUT);
                let _ = tx.send((flushed, sent, t0.elapsed()));
            })
            .start()
            .unwrap()
    };
    let mut peer = Peer::connect(server.local_addr());
    peer.send_line("go");
    let (flushed, sent, took) = rx.recv_timeout(TIMEOUT).unwrap();
    assert!(matches!(flushed, Err(Error::Timeout)), "{flushed:?}");
    assert!(matches!(sent, Err(Error::QueueFull { .. })), "{sent:?}");
    assert!(took < TIMEOUT / 2, "{took:?}");
    server.stop();
    s.client.close_timeout(Duration::ZERO);
}
