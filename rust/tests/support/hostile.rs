//! Hostile peers and process measurements (the reliability suite): resets,
//! floods, storms, descriptor and memory counts, fd limits, and sockets
//! made by hand (source ports, buffers, backlogs).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use tcphub::{Framing, ServerHandle, TcpServer};

use super::sockets::{
    set_recv_buffer_of, set_recv_buffer_of_listener, set_send_buffer_of_listener,
};
use super::{localhost, wait_until, Disconnects, Peer, TIMEOUT};

impl Peer {
    /// Closes the connection with a reset (RST) instead of a FIN:
    /// `SO_LINGER` 0, then close. Whatever the server queued is lost.
    pub fn reset(self) {
        socket2::SockRef::from(&self.stream)
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER 0");
        drop(self);
    }

    /// Writes `bytes`, ignoring failure: for hostile peers the server may
    /// already have cut off (EPIPE, ECONNRESET).
    pub fn send_lossy(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// Reads until EOF or a reset, whichever comes; returns what arrived and
    /// whether it ended in a clean EOF.
    pub fn drain_until_closed(&mut self) -> (Vec<u8>, bool) {
        let mut out = self.buf.split_off(self.pos);
        self.buf.clear();
        self.pos = 0;
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return (out, true),
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    panic!("the server did not close the connection within {TIMEOUT:?}")
                }
                Err(_) => return (out, false),
            }
        }
    }
}

/// A small deterministic PRNG (SplitMix64) so failures replay from the seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Entries in `/proc/self/fd`: open file descriptors of this process.
pub fn open_fds() -> usize {
    proc_entries("/proc/self/fd")
}

/// Entries in `/proc/self/task`: threads of this process.
pub fn thread_count() -> usize {
    proc_entries("/proc/self/task")
}

fn proc_entries(dir: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .count()
}

/// Resident set size of this process in KiB (`VmRSS` in `/proc/self/status`).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// Raises this process's soft `RLIMIT_NOFILE` to at least `want` (capped at
/// the hard limit); returns the soft limit now in force.
pub fn raise_fd_limit(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        assert_eq!(
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim),
            0,
            "getrlimit"
        );
        if lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0, "setrlimit");
        }
    }
    lim.rlim_cur
}

impl Peer {
    /// Connects with a small receive buffer (`SO_RCVBUF` set before the
    /// handshake), so a peer that stops reading fills up after a few KiB
    /// instead of the megabytes loopback autotuning would allow.
    pub fn connect_with_rcvbuf(addr: SocketAddr, bytes: usize) -> Peer {
        let sock = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            None,
        )
        .expect("socket");
        sock.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        sock.connect(&addr.into())
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        let stream: TcpStream = sock.into();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        Peer {
            stream,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Connects with a small send buffer (`SO_SNDBUF` set before the
    /// handshake), so a peer writing to a server that does not read is held
    /// up after a few KiB instead of the megabytes the kernel may allow.
    pub fn connect_with_sndbuf(addr: SocketAddr, bytes: usize) -> Peer {
        let sock = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            None,
        )
        .expect("socket");
        sock.set_send_buffer_size(bytes).expect("SO_SNDBUF");
        sock.connect(&addr.into())
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        Peer::with_timeouts(sock.into())
    }
}

/// How a paced broadcast storm runs (see [`paced_broadcast`]).
pub struct Storm<'a> {
    /// Each reader's count of messages received so far.
    pub progress: &'a [Arc<std::sync::atomic::AtomicU64>],
    /// Stay at most this many messages ahead of the slowest reader.
    pub window: u64,
    /// Messages sent after `acted()` first returns true.
    pub after: u64,
    /// Safety net: fail if the policy has not acted by this many messages.
    pub max: u64,
}

/// Broadcasts `message(seq)` for seq = 0, 1, … from this thread, paced by
/// the readers, until `acted()` says the overflow policy kicked in, then
/// `storm.after` more, then "end". Returns how many numbered messages were sent.
pub fn paced_broadcast(
    server: &ServerHandle,
    storm: Storm<'_>,
    message: impl Fn(u64) -> Vec<u8>,
    mut acted: impl FnMut() -> bool,
) -> u64 {
    use std::sync::atomic::Ordering;
    let mut seq = 0u64;
    let mut last = None;
    while last != Some(seq) {
        wait_until("readers keep up with the broadcast", || {
            storm
                .progress
                .iter()
                .all(|p| p.load(Ordering::Acquire) + storm.window > seq)
        });
        server.send_all(&message(seq));
        seq += 1;
        if last.is_none() && acted() {
            last = Some(seq + storm.after);
        }
        assert!(
            seq < storm.max,
            "the overflow policy never acted: {:?}",
            server.stats()
        );
    }
    server.send_all(b"end");
    seq
}

/// Writes up to `lines` one-byte lines (`x\n`) to `stream`, in chunks of
/// 32 Ki lines, until the reader stops reading for `stalled` (its queue is
/// full); returns the lines written.
pub fn flood_one_byte_lines(mut stream: TcpStream, lines: usize, stalled: Duration) -> usize {
    const CHUNK: usize = 32 * 1024;
    let chunk = b"x\n".repeat(CHUNK);
    stream.set_write_timeout(Some(stalled)).unwrap();
    let mut sent = 0;
    while sent < lines {
        match stream.write_all(&chunk) {
            Ok(()) => sent += CHUNK,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    sent
}

/// A soft resource limit of this process (`RLIMIT_NOFILE`, `RLIMIT_AS`, …)
/// set for a test; the previous limit comes back when dropped (a failed
/// assertion included).
pub struct SoftLimit {
    resource: libc::__rlimit_resource_t,
    old: libc::rlimit,
}

impl SoftLimit {
    /// Sets `resource`'s soft limit to `soft`, keeping the hard limit.
    pub fn set(resource: libc::__rlimit_resource_t, soft: u64) -> SoftLimit {
        let mut old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read/write the structs we pass.
        unsafe {
            assert_eq!(libc::getrlimit(resource, &mut old), 0);
            let new = libc::rlimit {
                rlim_cur: soft,
                rlim_max: old.rlim_max,
            };
            assert_eq!(libc::setrlimit(resource, &new), 0);
        }
        SoftLimit { resource, old }
    }
}

impl Drop for SoftLimit {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe {
            libc::setrlimit(self.resource, &self.old);
        }
    }
}

/// The kernel's queues of the TCP socket whose local address is `local`
/// and peer `peer` (from `/proc/net/tcp` or `tcp6`): bytes sent and not
/// yet acknowledged, and bytes received and not yet read. `None` when no
/// such socket is listed (closed, or reset).
pub fn socket_queues(local: SocketAddr, peer: SocketAddr) -> Option<(u64, u64)> {
    let file = if local.is_ipv4() {
        "/proc/net/tcp"
    } else {
        "/proc/net/tcp6"
    };
    let table = std::fs::read_to_string(file).ok()?;
    let port = |a: SocketAddr| format!(":{:04X}", a.port());
    let (lport, pport) = (port(local), port(peer));
    table.lines().skip(1).find_map(|line| {
        // sl local_address rem_address st tx_queue:rx_queue ...
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() > 4 && cols[1].ends_with(&lport) && cols[2].ends_with(&pport) {
            let (tx, rx) = cols[4].split_once(':')?;
            Some((
                u64::from_str_radix(tx, 16).ok()?,
                u64::from_str_radix(rx, 16).ok()?,
            ))
        } else {
            None
        }
    })
}

/// A thread writing junk lines (10 KB each) on a clone of a peer's
/// socket until its writes fail (the server closed or reset the
/// connection) or it is stopped, counting the bytes written: a client that
/// keeps sending while the server ends its connection.
#[derive(Debug)]
pub struct Flood {
    stop: Arc<std::sync::atomic::AtomicBool>,
    sent: Arc<std::sync::atomic::AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Flood {
    /// Starts writing on `peer`'s socket.
    pub fn start(peer: &Peer) -> Flood {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let mut w = peer.stream.try_clone().expect("clone the peer's socket");
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (s, n) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let mut junk = b"junk ".repeat(2_000);
            junk.push(b'\n');
            while !s.load(Ordering::Relaxed) {
                if w.write_all(&junk).is_err() {
                    break;
                }
                n.fetch_add(junk.len() as u64, Ordering::Relaxed);
            }
        });
        Flood { stop, sent, thread }
    }

    /// Bytes written so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the writes failed (the thread ended by itself).
    pub fn ended(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits until the writes fail.
    pub fn join(self) {
        self.thread.join().expect("the flood thread");
    }

    /// Stops the writes and waits for the thread.
    pub fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.join();
    }
}

/// A lines client with a one-event pull queue, connected to a raw
/// listener; the server side has written two lines and the client has read
/// them (one queued, one waiting for room: the client reads no more), then
/// written `last`, left unread in the client's socket, and reset the
/// connection (`SO_LINGER` 0). `rcvbuf`: the client socket's receive
/// buffer, for a `last` larger than the default one holds.
pub fn client_with_unread_input_and_a_reset(
    last: &[u8],
    rcvbuf: Option<usize>,
) -> tcphub::TcpClient {
    let listener = std::net::TcpListener::bind(SocketAddr::new(localhost(), 0)).unwrap();
    let client = tcphub::TcpClient::builder(listener.local_addr().unwrap())
        .framing(Framing::lines())
        .event_capacity(1)
        .connect()
        .unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let (local, peer) = (client.local_addr(), client.peer_addr());
    if let Some(bytes) = rcvbuf {
        set_recv_buffer_of(local, bytes);
    }
    let unread = || socket_queues(local, peer).map(|(_, rx)| rx);
    server.write_all(b"a\nb\n").unwrap();
    wait_until("the client reading its first two lines", || {
        unread() == Some(0)
    });
    server.set_write_timeout(Some(TIMEOUT)).unwrap();
    server
        .write_all(last)
        .expect("the input fits the receive buffer");
    wait_until("the last input arriving unread", || {
        unread() == Some(last.len() as u64)
    });
    reset(server);
    client
}

/// Closes `s` with a reset (`SO_LINGER` 0).
pub fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
}

/// Bytes in each of the four lines of [`goodbye`]: together far more than
/// a 4 KiB receive buffer holds.
pub const GOODBYE_LINE: usize = 50_000;

/// Gives the connections `server` (a [`goodbye_server`]) accepts from now
/// on a send buffer that takes the whole goodbye (`SO_SNDBUF` of its
/// listening socket, which they inherit), so that it waits there, mostly
/// unacknowledged, and the kick is reported: left to the kernel, the
/// buffer grows only to tcp_wmem's maximum, which may be below the
/// goodbye's 200 KB (64 KiB, say), and the kick waited for the queue's
/// flush until the peer read.
pub fn room_for_goodbye(server: &ServerHandle) {
    set_send_buffer_of_listener(server.local_addr(), 8 * GOODBYE_LINE);
}

/// The goodbye a [`goodbye_server`] sends, as the peer receives it.
pub fn goodbye() -> Vec<u8> {
    let mut v = vec![b'g'; GOODBYE_LINE];
    v.push(b'\n');
    v.repeat(4)
}

/// A lines server for `max_clients` (not started: bind it, set its linger
/// time and so on) that answers "bye" with the [`goodbye`] and, if `kick`,
/// disconnects the client right after; disconnects are recorded in `gone`.
pub fn goodbye_server(max_clients: usize, kick: bool, gone: &Disconnects) -> TcpServer {
    TcpServer::new(0, max_clients)
        .framing(Framing::lines())
        .on_message(move |srv, c, msg| {
            if msg == b"bye" {
                for _ in 0..4 {
                    srv.send(c.id, &vec![b'g'; GOODBYE_LINE]).expect("goodbye");
                }
                if kick {
                    srv.disconnect(c.id).expect("kick");
                }
            }
        })
        .on_disconnect(gone.recorder())
}

/// A plain listener on 127.0.0.1 whose accepted sockets get a receive
/// buffer of `bytes` (they inherit it): a peer that does not read soon
/// leaves what is sent to it waiting in the sender's kernel, instead of
/// the megabytes loopback autotuning would take.
///
/// `SO_RCVBUF` is set before `listen`: gVisor's network stack (the CI
/// host's) sizes an accepted socket's receive buffer from the listener's
/// as it was at `listen` time, so setting it on a listening socket (as
/// `TcpListener::bind` returns it) changed nothing there.
pub fn listener_with_rcvbuf(bytes: usize) -> std::net::TcpListener {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    // As `TcpListener::bind` has it: its port can be bound again at once.
    sock.set_reuse_address(true).expect("SO_REUSEADDR");
    sock.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
    sock.bind(&SocketAddr::new(localhost(), 0).into())
        .expect("bind");
    sock.listen(128).expect("listen");
    sock.into()
}

/// Holds the port of `addr` once its listener is gone: a socket bound to
/// it (`SO_REUSEADDR`, beside the old connections' TIME_WAIT), not
/// listening, so connects to it are refused for as long as it is held —
/// and nothing else can take the port meanwhile: a listener of another
/// test, or a client redialling it, whose connect could pick that very
/// port as its own (an ephemeral port like it) and connect to itself (a
/// TCP simultaneous open: "connected" to a closed port).
pub fn hold_port(addr: SocketAddr) -> socket2::Socket {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None).expect("socket");
    sock.set_reuse_address(true).expect("SO_REUSEADDR");
    sock.bind(&addr.into())
        .unwrap_or_else(|e| panic!("hold the port of {addr}: {e}"));
    sock
}

/// A loopback listener whose accept backlog is full (`listen(0)`, filled
/// by non-blocking connects it never accepts): the kernel drops the SYNs
/// of further connects, so they neither succeed nor fail until their
/// timeout (checked on gVisor's network stack too). Returns the listener
/// and the sockets that fill it; dropping them frees the backlog.
pub fn full_backlog_listener() -> (socket2::Socket, Vec<socket2::Socket>) {
    use socket2::{Domain, Socket, Type};
    let lst = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    lst.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .expect("bind");
    lst.listen(0).expect("listen");
    let fill = fill_backlog(&lst);
    (lst, fill)
}

/// Fills the accept backlog of `lst`, a loopback listener made with
/// `listen(0)` whose backlog is empty, as [`full_backlog_listener`] does:
/// the sockets that fill it (dropping them frees the backlog).
pub fn fill_backlog(lst: &socket2::Socket) -> Vec<socket2::Socket> {
    use socket2::{Domain, Socket, Type};
    let addr = lst.local_addr().expect("local address");
    let fill: Vec<Socket> = (0..4)
        .map(|_| {
            let s = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None).expect("socket");
            match s.connect(&addr) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
                Err(e) => panic!("filling the backlog: {e}"),
            }
            s
        })
        .collect();
    // At least one is connected (in the backlog) before the listener is
    // handed out; the rest retry their SYNs meanwhile.
    wait_until("a connect to fill the backlog", || {
        fill.iter().any(|s| s.peer_addr().is_ok())
    });
    fill
}

/// A stream from 127.0.0.1, bound to `src_port` (0: any) with
/// `SO_REUSEADDR`, to `dst`: several may share their source address when
/// they go to different addresses of a `0.0.0.0` server. With
/// `reset_on_drop` (`SO_LINGER` 0) dropping it sends a reset, so its source
/// port is free again at once and the server's side is gone without a
/// TIME_WAIT.
pub fn connect_from_port(src_port: u16, dst: SocketAddr, reset_on_drop: bool) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    s.set_reuse_address(true).expect("SO_REUSEADDR");
    if reset_on_drop {
        s.set_linger(Some(Duration::ZERO)).expect("SO_LINGER");
    }
    s.bind(&SocketAddr::new(localhost(), src_port).into())
        .expect("bind the source address");
    s.connect(&dst.into()).expect("connect");
    s.into()
}

/// The ids of this process's threads named `name` (`tcphub-io-0`,
/// `tcphub-client`).
pub fn threads_named(name: &str) -> Vec<String> {
    let mut tids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let Ok(task) = task else { continue };
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            tids.push(task.file_name().to_string_lossy().into_owned());
        }
    }
    tids
}

/// The id of this process's one thread named `name`, once it has named
/// itself (waits for that; fails if there are several).
pub fn the_thread_named(name: &str) -> String {
    let mut tids = Vec::new();
    wait_until(&format!("the thread {name} named"), || {
        tids = threads_named(name);
        !tids.is_empty()
    });
    assert_eq!(tids.len(), 1, "one thread named {name}: {tids:?}");
    tids.pop().unwrap()
}

/// Thread `tid`'s voluntary context switches: one each time it sleeps.
pub fn voluntary_switches(tid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))
        .expect("the thread's status")
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("voluntary_ctxt_switches")
}

/// Thread `tid`'s CPU time so far (user and system, `/proc`'s
/// `utime` + `stime`), in clock ticks (100 a second on Linux).
pub fn cpu_ticks(tid: &str) -> u64 {
    let stat =
        std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).expect("the thread's stat");
    // After the name in parentheses (which may hold spaces): the state is
    // field 3, utime and stime fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat's comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

/// A server built by `build` from a one-loop lines server lingering 60 s,
/// input paused, with one client that sent `input` bytes of lines and its
/// end — at least `min_unread` of them waiting in the server's kernel with
/// the end — and has not read the goodbye the server sent it, which waits
/// there unacknowledged; and how many descriptors this process had open
/// before that client connected.
pub fn client_ended_behind_input(
    gone: &Disconnects,
    input: usize,
    min_unread: usize,
    build: impl FnOnce(TcpServer) -> TcpServer,
) -> (ServerHandle, Peer, tcphub::ClientId, usize) {
    let server = build(
        TcpServer::new(0, 10)
            .bind(localhost())
            .threads(1)
            .framing(Framing::lines())
            // Longer than any wait here: the linger time must not be what
            // ends it.
            .linger(Duration::from_secs(60)),
    )
    .on_message(|_, _, _| {})
    .on_disconnect(gone.recorder())
    .start()
    .unwrap();
    // The goodbye waits in the server's kernel (the client's receive
    // buffer is small and it does not read), and the client's input too
    // (its receive buffer set large: not left to autotuning).
    room_for_goodbye(&server);
    set_recv_buffer_of_listener(server.local_addr(), 2 * input);
    server.pause_input();
    let base = open_fds();
    let mut peer = Peer::connect_with_rcvbuf(server.local_addr(), 4096);
    let id = peer.id_on(&server);
    let mut line = vec![b'x'; 999];
    line.push(b'\n');
    peer.stream.write_all(&line.repeat(input / 1000)).unwrap();
    peer.shutdown_write();
    for _ in 0..4 {
        server.send(id, &[b'g'; GOODBYE_LINE]).unwrap();
    }
    let (ours, theirs) = (server.local_addr(), peer.addr());
    wait_until("all input and its end in the server's kernel", || {
        socket_queues(theirs, ours).is_some_and(|(unacked, _)| unacked == 0)
            && socket_queues(ours, theirs).is_some_and(|(_, unread)| unread as usize >= min_unread)
    });
    wait_until("the goodbye written, not all acknowledged", || {
        socket_queues(ours, theirs).is_some_and(|(unacked, _)| unacked > 0)
    });
    (server, peer, id, base)
}
