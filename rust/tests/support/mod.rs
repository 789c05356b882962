//! Helpers shared by the integration tests: blocking loopback clients with
//! read timeouts, bounded waits, a recorder for disconnect reasons, and the
//! small servers most tests start.
//!
//! Nothing here sleeps to "let things happen": every wait polls a condition
//! with a generous upper bound and panics with a description when it runs out,
//! so a broken server fails a test instead of hanging it.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

pub mod child;
mod hostile;
mod log_capture;
pub mod netns;
mod sockets;

// (Each test file uses some of these, or none.)
#[allow(unused_imports)]
pub use hostile::*;
#[allow(unused_imports)]
pub use log_capture::*;
#[allow(unused_imports)]
pub use sockets::*;

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tcphub::{
    Client, ClientEvent, ClientId, DisconnectReason, Event, Events, Framing, ServerHandle,
    TcpClient, TcpServer,
};

/// Upper bound for anything a test waits for. Generous: the test machine is
/// small and shared. Nothing asserts that an operation is fast.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// How often bounded waits re-check their condition.
const POLL: Duration = Duration::from_millis(2);

/// 127.0.0.1
pub fn localhost() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

/// Whether IPv6 loopback works here (a listener of its own, not a
/// server's, and a connection to it); says "skipped" when it does not.
/// Hosts and containers without IPv6 (`disable_ipv6`, no `::1` on `lo`)
/// are common on CI: a test of IPv6 behaviour skips there, as it cannot
/// run, rather than fail on the host's configuration.
pub fn have_ipv6_loopback() -> bool {
    let ok = std::net::TcpListener::bind("[::1]:0")
        .and_then(|l| std::net::TcpStream::connect(l.local_addr()?))
        .is_ok();
    if !ok {
        eprintln!("skipped: no IPv6 loopback");
    }
    ok
}

/// How many connections the kernel holds waiting for any listener of this
/// host to accept them: `net.core.somaxconn` caps every listen backlog
/// (4096 by default since Linux 5.4, 128 before, and hosts set their own).
/// A test that fills a backlog sizes it by this, not by the value of the
/// machine it was written on: past it, a connect waits out its SYN retries.
pub fn somaxconn() -> usize {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096)
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub fn try_wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `cond` until it holds; panics naming `what` after [`TIMEOUT`].
pub fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    assert!(
        try_wait_until(TIMEOUT, cond),
        "timed out after {TIMEOUT:?} waiting for: {what}"
    );
}

/// Waits until the server has registered exactly `n` clients.
pub fn wait_clients(server: &ServerHandle, n: usize) {
    wait_until(&format!("{n} clients registered"), || {
        server.client_count() == n
    });
}

/// Connects `n` peers to `server` (which has no other clients) and waits
/// until it has registered them all.
pub fn connect_peers(server: &ServerHandle, n: usize) -> Vec<Peer> {
    let peers = (0..n).map(|_| Peer::connect(server.local_addr())).collect();
    wait_clients(server, n);
    peers
}

/// A server to configure further: loopback, port 0, `max` clients, lines.
pub fn lines_server(max: usize) -> TcpServer {
    TcpServer::new(0, max)
        .bind(localhost())
        .framing(Framing::lines())
}

/// A relay: every message goes to every client (`on_message -> send_all`).
pub fn relay_server(framing: Framing) -> ServerHandle {
    TcpServer::new(0, 100)
        .bind(localhost())
        .framing(framing)
        .on_message(|srv, _c, msg| {
            srv.send_all(msg);
        })
        .start()
        .expect("start relay server")
}

/// An echo server: every message goes back to its sender only.
pub fn echo_server(framing: Framing) -> ServerHandle {
    TcpServer::new(0, 1000)
        .bind(localhost())
        .framing(framing)
        .on_message(|srv, c, msg| {
            srv.send(c.id, msg).expect("echo send");
        })
        .start()
        .expect("start echo server")
}

/// A lines server for stop tests: 10 clients, room for 64 MiB queued per
/// client, the given `linger`, its disconnects recorded.
pub fn lingering_server(linger: Duration) -> (ServerHandle, Disconnects) {
    let gone = Disconnects::new();
    let server = lines_server(10)
        .max_queue_bytes(64 << 20)
        .linger(linger)
        .on_message(|_, _, _| {})
        .on_disconnect(gone.recorder())
        .start()
        .expect("start lingering server");
    (server, gone)
}

/// A one-loop lines server whose `on_message` holds its loop for a second
/// at the line "block" (an application's slow callback), and a peer of
/// it: what is posted to the loop while [`SlowLoop::hold`] holds it piles
/// up in its channel, and the loop takes all of it at once.
pub struct SlowLoop {
    pub server: ServerHandle,
    pub peer: Peer,
    blocked: Arc<std::sync::atomic::AtomicBool>,
}

impl SlowLoop {
    pub fn start() -> SlowLoop {
        use std::sync::atomic::{AtomicBool, Ordering};
        let blocked = Arc::new(AtomicBool::new(false));
        let in_callback = blocked.clone();
        let server = TcpServer::new(0, 4)
            .bind(localhost())
            .threads(1)
            .framing(Framing::lines())
            .on_message(move |_, _, msg| {
                if msg == b"block" {
                    in_callback.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
            .start()
            .expect("start slow-loop server");
        let peer = Peer::connect(server.local_addr());
        SlowLoop {
            server,
            peer,
            blocked,
        }
    }

    /// Returns once the loop is in its slow callback (for a second).
    pub fn hold(&mut self) {
        self.peer.send_line("block");
        wait_until("the loop in the slow callback", || {
            self.blocked.load(std::sync::atomic::Ordering::SeqCst)
        });
    }
}

/// Encodes `msg` as a 4-byte big-endian length + payload.
pub fn lp_frame(msg: &[u8]) -> Vec<u8> {
    let mut v = (msg.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

/// A blocking loopback client with read/write timeouts and its own read
/// buffer, able to speak every framing.
#[derive(Debug)]
pub struct Peer {
    pub stream: TcpStream,
    /// Received bytes; `buf[pos..]` are not consumed yet.
    buf: Vec<u8>,
    pos: usize,
}

impl Peer {
    /// Connects to `addr` (timeouts set, `TCP_NODELAY` on).
    pub fn connect(addr: SocketAddr) -> Peer {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        Peer::with_timeouts(stream)
    }

    /// `stream`, its timeouts set and `TCP_NODELAY` on.
    fn with_timeouts(stream: TcpStream) -> Peer {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Peer {
            stream,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Connects to `addr` from local address `from` (another loopback
    /// address, say: 127.0.0.2), otherwise as [`connect`](Peer::connect).
    pub fn connect_from(from: IpAddr, addr: SocketAddr) -> Peer {
        let sock = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            None,
        )
        .unwrap();
        sock.bind(&SocketAddr::new(from, 0).into())
            .unwrap_or_else(|e| panic!("bind {from}: {e}"));
        sock.connect(&addr.into())
            .unwrap_or_else(|e| panic!("connect {addr} from {from}: {e}"));
        Peer::with_timeouts(TcpStream::from(sock))
    }

    /// This client's address as the server sees it (what `send_to` takes).
    pub fn addr(&self) -> SocketAddr {
        self.stream.local_addr().unwrap()
    }

    /// The id the server gave this connection; waits until it is registered.
    pub fn id_on(&self, server: &ServerHandle) -> ClientId {
        let addr = self.addr();
        let mut id = None;
        wait_until(&format!("server registers client {addr}"), || {
            id = server
                .clients()
                .into_iter()
                .find(|c| c.addr == addr)
                .map(|c| c.id);
            id.is_some()
        });
        id.unwrap()
    }

    /// Writes raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write to server: {e}"));
    }

    /// Writes `line` plus `\n`.
    pub fn send_line(&mut self, line: &str) {
        let mut v = line.as_bytes().to_vec();
        v.push(b'\n');
        self.send(&v);
    }

    /// Writes one length-prefixed frame.
    pub fn send_frame(&mut self, msg: &[u8]) {
        self.send(&lp_frame(msg));
    }

    /// A second handle on the same connection with its own read buffer
    /// (one thread reads while another writes).
    pub fn try_clone_peer(&self) -> Peer {
        Peer {
            stream: self.stream.try_clone().expect("clone the stream"),
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Closes the sending side (half-close); reading still works.
    pub fn shutdown_write(&self) {
        self.stream.shutdown(Shutdown::Write).unwrap();
    }

    /// The received bytes not consumed yet.
    fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn pending_text(&self) -> String {
        let p = self.pending();
        String::from_utf8_lossy(&p[..p.len().min(200)]).into_owned()
    }

    /// Consumes `n` pending bytes and returns them.
    fn take(&mut self, n: usize) -> Vec<u8> {
        let v = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        v
    }

    /// One `read` into the buffer; returns the byte count (0 at EOF).
    /// Panics on a timeout or a socket error.
    fn fill(&mut self) -> usize {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => panic!(
                    "reading from the server failed ({e}); {} bytes pending: {:?}",
                    self.pending().len(),
                    self.pending_text()
                ),
            }
        }
    }

    /// Fills the buffer until it holds at least `n` pending bytes; panics on EOF.
    fn want(&mut self, n: usize, what: &str) {
        while self.pending().len() < n {
            if self.fill() == 0 {
                panic!(
                    "EOF while waiting for {what}; {} bytes pending: {:?}",
                    self.pending().len(),
                    self.pending_text()
                );
            }
        }
    }

    /// Reads exactly `n` bytes.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        self.want(n, &format!("{n} bytes"));
        self.take(n)
    }

    /// Reads one `\n`-terminated line and returns it without the terminator.
    pub fn read_line(&mut self) -> String {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.pending()[scanned..].iter().position(|&b| b == b'\n') {
                let mut line = self.take(scanned + i + 1);
                line.pop();
                return String::from_utf8(line).expect("utf-8 line");
            }
            scanned = self.pending().len();
            if self.fill() == 0 {
                panic!(
                    "EOF while waiting for a line; {} bytes pending: {:?}",
                    self.pending().len(),
                    self.pending_text()
                );
            }
        }
    }

    /// Reads one length-prefixed frame and returns its payload.
    pub fn read_frame(&mut self) -> Vec<u8> {
        self.want(4, "a frame header");
        let p = self.pending();
        let len = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
        self.want(4 + len, &format!("a frame of {len} bytes"));
        self.take(4 + len).split_off(4)
    }

    /// Asserts that the server closed the connection with nothing more to
    /// read: the next `read` returns 0 (a FIN, not a reset or a timeout).
    pub fn expect_eof(&mut self) {
        assert!(
            self.pending().is_empty(),
            "expected EOF but {} unread bytes are pending: {:?}",
            self.pending().len(),
            self.pending_text()
        );
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => {}
            Ok(n) => panic!(
                "expected EOF, got {n} more bytes: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Err(e) => panic!("expected EOF, got an error instead: {e} ({:?})", e.kind()),
        }
    }

    /// Reads everything until EOF and returns it (pending bytes included).
    pub fn read_to_eof(&mut self) -> Vec<u8> {
        while self.fill() > 0 {}
        let rest = self.buf.split_off(self.pos);
        self.buf.clear();
        self.pos = 0;
        rest
    }
}

/// One recorded `on_disconnect`.
pub type Departure = (Client, DisconnectReason);

/// Records every `on_disconnect` and lets a test wait for a client's.
#[derive(Debug, Clone, Default)]
pub struct Disconnects {
    inner: Arc<(Mutex<Vec<Departure>>, Condvar)>,
}

impl Disconnects {
    pub fn new() -> Disconnects {
        Disconnects::default()
    }

    /// An `on_disconnect` callback that records here:
    /// `.on_disconnect(gone.recorder())`.
    pub fn recorder(
        &self,
    ) -> impl Fn(&tcphub::ServerHandle, &Client, &DisconnectReason) + Send + Sync + 'static {
        let me = self.clone();
        move |_, client, why| me.record(client, why)
    }

    /// Call from `on_disconnect`.
    pub fn record(&self, client: &Client, why: &DisconnectReason) {
        let (lock, cv) = &*self.inner;
        lock.lock().unwrap().push((*client, why.clone()));
        cv.notify_all();
    }

    /// Everything recorded so far.
    pub fn all(&self) -> Vec<Departure> {
        self.inner.0.lock().unwrap().clone()
    }

    /// The reason recorded for `id`, if any yet.
    pub fn reason_of(&self, id: ClientId) -> Option<DisconnectReason> {
        self.all()
            .into_iter()
            .find(|(c, _)| c.id == id)
            .map(|(_, r)| r)
    }

    /// Waits (bounded) for `id`'s disconnect and returns its reason.
    pub fn wait_for(&self, id: ClientId) -> DisconnectReason {
        let (lock, cv) = &*self.inner;
        let deadline = Instant::now() + TIMEOUT;
        let mut g = lock.lock().unwrap();
        loop {
            if let Some((_, r)) = g.iter().find(|(c, _)| c.id == id) {
                return r.clone();
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "timed out waiting for client {id} to disconnect; recorded: {:?}",
                *g
            );
            g = cv.wait_timeout(g, deadline - now).unwrap().0;
        }
    }

    /// Waits (bounded) until at least `n` disconnects are recorded.
    pub fn wait_count(&self, n: usize) -> Vec<Departure> {
        let (lock, cv) = &*self.inner;
        let deadline = Instant::now() + TIMEOUT;
        let mut g = lock.lock().unwrap();
        while g.len() < n {
            let now = Instant::now();
            assert!(
                now < deadline,
                "timed out waiting for {n} disconnects; recorded: {:?}",
                *g
            );
            g = cv.wait_timeout(g, deadline - now).unwrap().0;
        }
        g.clone()
    }
}

/// What the callbacks saw, in order, as lines: `msg ID TEXT` for each
/// message, `gone ID REASON` (the reason's `Debug`) for each end — for tests
/// about what came before what.
#[derive(Debug, Clone, Default)]
pub struct CallbackLog(Arc<Mutex<Vec<String>>>);

impl CallbackLog {
    /// `server` with callbacks that record here; `then` runs after each
    /// message is recorded (the test's own reaction to it).
    pub fn attach(
        &self,
        server: TcpServer,
        then: impl Fn(&ServerHandle, &Client, &[u8]) + Send + Sync + 'static,
    ) -> TcpServer {
        let (on_msg, on_gone) = (self.clone(), self.clone());
        server
            .on_message(move |srv, c, msg| {
                on_msg.push(format!("msg {} {}", c.id, String::from_utf8_lossy(msg)));
                then(srv, c, msg);
            })
            .on_disconnect(move |_, c, why| on_gone.push(format!("gone {} {why:?}", c.id)))
    }

    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }

    /// Everything recorded so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Whether `line` was recorded.
    pub fn has(&self, line: &str) -> bool {
        self.0.lock().unwrap().iter().any(|l| l == line)
    }

    /// Whether any line matches `pred`.
    pub fn any(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.0.lock().unwrap().iter().any(|l| pred(l))
    }
}

/// Holds a server's loop inside a callback until the test lets it go on.
/// The callback passes each message to [`stays_on`](LoopGate::stays_on),
/// which keeps the loop there on the message `hold` (for at most a minute);
/// the test sends that line
/// and waits until the loop is held with [`hold`](LoopGate::hold), then
/// lets it go with [`go_on`](LoopGate::go_on). A clone is the same gate.
#[derive(Clone)]
pub struct LoopGate(Arc<GateInner>);

struct GateInner {
    held_tx: Mutex<std::sync::mpsc::Sender<()>>,
    held: Mutex<std::sync::mpsc::Receiver<()>>,
    go: Mutex<std::sync::mpsc::Sender<()>>,
    go_rx: Mutex<std::sync::mpsc::Receiver<()>>,
}

impl LoopGate {
    pub fn new() -> LoopGate {
        let (held_tx, held) = std::sync::mpsc::channel();
        let (go, go_rx) = std::sync::mpsc::channel();
        LoopGate(Arc::new(GateInner {
            held_tx: Mutex::new(held_tx),
            held: Mutex::new(held),
            go: Mutex::new(go),
            go_rx: Mutex::new(go_rx),
        }))
    }

    /// In a callback: on the line `hold`, says the loop is held and waits
    /// (at most [`TIMEOUT`]) for [`go_on`](LoopGate::go_on); whether it was
    /// that line.
    pub fn stays_on(&self, msg: &[u8]) -> bool {
        if msg != b"hold" {
            return false;
        }
        self.0.held_tx.lock().unwrap().send(()).expect("test waits");
        let _ = self.0.go_rx.lock().unwrap().recv_timeout(3 * TIMEOUT);
        true
    }

    /// Holds the loop on a line of `peer`'s: sends it, waits until the
    /// callback has it.
    pub fn hold(&self, peer: &mut Peer) {
        peer.send_line("hold");
        self.wait_held();
    }

    /// Waits until the loop is held (the test sent `hold` its own way: as
    /// a frame, say).
    pub fn wait_held(&self) {
        self.0
            .held
            .lock()
            .unwrap()
            .recv_timeout(TIMEOUT)
            .expect("the loop is held");
    }

    /// Lets the held loop go on.
    pub fn go_on(&self) {
        self.0
            .go
            .lock()
            .unwrap()
            .send(())
            .expect("release the loop");
    }
}

/// The next pull-mode event, waiting at most [`TIMEOUT`].
pub fn next_event(events: &Events) -> Event {
    events
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|e| panic!("no event within {TIMEOUT:?}: {e}"))
}

/// Takes the next pull-mode event (waiting at most [`TIMEOUT`]), which must
/// be message `msg` from client `id`.
#[track_caller]
pub fn expect_message(events: &Events, id: ClientId, msg: &[u8]) {
    match next_event(events) {
        Event::Message(c, m) => assert_eq!(
            (c.id, m.as_slice()),
            (id, msg),
            "{:?} from {} instead of {:?} from {id}",
            String::from_utf8_lossy(&m),
            c.id,
            String::from_utf8_lossy(msg)
        ),
        other => panic!("{other:?} instead of message {msg:?} from {id}"),
    }
}

/// Takes the next pull-mode event (waiting at most [`TIMEOUT`]), which must
/// be client `id`'s end for `reason`.
#[track_caller]
pub fn expect_end(events: &Events, id: ClientId, reason: DisconnectReason) {
    match next_event(events) {
        Event::Disconnected(c, why) => assert_eq!((c.id, why), (id, reason)),
        other => panic!("{other:?} instead of {id}'s end for {reason:?}"),
    }
}

/// A `TcpClient`'s next event that is not a message (messages are
/// skipped), and when it was taken; panics if none comes within `TIMEOUT`.
pub fn next_control_at(c: &TcpClient) -> (ClientEvent, Instant) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.next_event(left) {
            Ok(ClientEvent::Message(_)) => {}
            Ok(ev) => return (ev, Instant::now()),
            Err(e) => panic!("no event: {e}"),
        }
    }
}
