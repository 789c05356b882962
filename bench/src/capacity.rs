//! The capacity scenarios: many connections opened and each served one
//! echo round trip (`capacity`), and the server's own accept rate with a
//! backlog of handshakes waiting (`accept_burst`); RSS per connection.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::load::{err, frame, FRAME, WAIT};
/// Result of a capacity run.
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    /// Connections opened and served (one echo each) per second.
    pub accept_per_sec: f64,
    /// Growth of the server's resident memory per idle connection, bytes.
    pub rss_per_conn: f64,
}

/// Resident memory of process `pid`, bytes.
pub fn rss_of(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("read /proc/{pid}/status: {e}"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or("no VmRSS")?;
    Ok(kb * 1024)
}

/// Connections a capacity run keeps in progress at once (connecting or
/// waiting for their echo), over all generator threads: at most half the
/// kernel's accept-queue cap (`net.core.somaxconn`) and at most 1024, so the
/// listen backlog of a server asking for 4096 never overflows.
fn connect_window() -> usize {
    (somaxconn() / 2).clamp(16, 1024)
}

/// The kernel's cap on a listen backlog.
fn somaxconn() -> usize {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(128)
}

/// Where a connection of a capacity run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// Connect issued; the frame is not written yet.
    Connecting,
    /// Frame written; this many bytes of the echo have arrived.
    Echoing(usize),
    /// Served; held idle.
    Open,
}

/// Opens `conns` connections, each proven served by one echo round trip,
/// with at most [`connect_window`] in progress at a time, so the listen
/// backlog never overflows: the rate measured is the server's
/// accept-and-serve rate, not the kernel's SYN-drop behaviour. `threads`
/// threads share the work, each driving its part with non-blocking sockets
/// and epoll (one thread's `connect` calls, which run both ends of the
/// loopback handshake, cap the rate near 30k/s). Then reads the server's RSS
/// growth while all are idle.
pub fn capacity(
    addr: SocketAddr,
    conns: usize,
    threads: usize,
    server_pid: u32,
) -> Result<Capacity, String> {
    let before = rss_of(server_pid)?;
    let threads = threads.clamp(1, conns.max(1));
    let window = (connect_window() / threads).max(1);
    let t0 = Instant::now();
    let opened: Vec<Result<Vec<mio::net::TcpStream>, String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let n = conns / threads + usize::from(t < conns % threads);
                s.spawn(move || open_served(addr, n, t, window))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("generator thread panicked".into()))
            })
            .collect()
    });
    let secs = t0.elapsed().as_secs_f64();
    let mut socks = Vec::with_capacity(conns);
    for part in opened {
        socks.push(part?);
    }
    // Let the server settle, then read its memory with everyone connected.
    std::thread::sleep(Duration::from_millis(300));
    let after = rss_of(server_pid)?;
    drop(socks);
    Ok(Capacity {
        accept_per_sec: conns as f64 / secs,
        rss_per_conn: after.saturating_sub(before) as f64 / conns as f64,
    })
}

/// One capacity generator thread: opens `conns` connections from source
/// addresses picked by `part`, at most `window` in progress, each proven
/// served by one echo round trip; returns them open.
fn open_served(
    addr: SocketAddr,
    conns: usize,
    part: usize,
    window: usize,
) -> Result<Vec<mio::net::TcpStream>, String> {
    let mut poll = Poll::new().map_err(err("poll"))?;
    let mut events = Events::with_capacity(1024);
    let mut socks: Vec<mio::net::TcpStream> = Vec::with_capacity(conns);
    let mut state: Vec<Opening> = Vec::with_capacity(conns);
    let hello = frame(1, 0);
    let mut back = [0u8; FRAME];
    let (mut open, mut in_progress) = (0usize, 0usize);
    let deadline = Instant::now() + WAIT;
    while open < conns {
        while in_progress < window && socks.len() < conns {
            let i = socks.len();
            // Spread the clients over 127.0.0.2..=127.0.0.201 so the local
            // port space (and TIME_WAIT left by earlier runs) never limits
            // the connect rate being measured.
            let src = SocketAddr::from(([127, 0, 0, 2 + ((i + part * 7) % 200) as u8], 0));
            // Only what a client must do, so the generator's share of the
            // two cores stays small: created non-blocking (no fcntl), the
            // port picked at connect from the whole 4-tuple
            // (IP_BIND_ADDRESS_NO_PORT: no port search at bind), no
            // TCP_NODELAY (one small write on an idle connection goes out
            // at once anyway).
            let sock = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::STREAM.nonblocking(),
                None,
            )
            .map_err(err("socket"))?;
            bind_address_no_port(&sock)?;
            sock.bind(&src.into()).map_err(err("bind"))?;
            match sock.connect(&addr.into()) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
                Err(e) => return Err(format!("connect: {e}")),
            }
            let mut s = mio::net::TcpStream::from_std(sock.into());
            // On loopback the handshake has usually completed by the time
            // connect returns: write at once, and wait for writability only
            // when that is refused.
            let st = match s.write(&hello) {
                Ok(n) if n == FRAME => Opening::Echoing(0),
                Ok(n) => return Err(format!("short write of {n} bytes")),
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::NotConnected =>
                {
                    Opening::Connecting
                }
                Err(e) => return Err(format!("write: {e}")),
            };
            let interest = match st {
                Opening::Connecting => Interest::READABLE | Interest::WRITABLE,
                _ => Interest::READABLE,
            };
            poll.registry()
                .register(&mut s, Token(i), interest)
                .map_err(err("register"))?;
            socks.push(s);
            state.push(st);
            in_progress += 1;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "timed out with {open} of {conns} connections served"
            ));
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .map_err(err("poll"))?;
        for ev in events.iter() {
            let i = ev.token().0;
            let s = &mut socks[i];
            if state[i] == Opening::Connecting && ev.is_writable() {
                if let Some(e) = s.take_error().map_err(err("connect"))? {
                    return Err(format!("connect: {e}"));
                }
                match s.write(&hello) {
                    Ok(n) if n == FRAME => state[i] = Opening::Echoing(0),
                    Ok(n) => return Err(format!("short write of {n} bytes")),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => continue,
                    Err(e) => return Err(format!("write: {e}")),
                }
            }
            while let Opening::Echoing(got) = state[i] {
                match s.read(&mut back[got..]) {
                    Ok(0) => return Err("the server closed a connection".into()),
                    Ok(n) if got + n == FRAME => {
                        state[i] = Opening::Open;
                        open += 1;
                        in_progress -= 1;
                    }
                    Ok(n) => state[i] = Opening::Echoing(got + n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("echo: {e}")),
                }
            }
        }
    }
    Ok(socks)
}

/// Lets the kernel pick `sock`'s local port at `connect` (from the whole
/// address 4-tuple) instead of searching for a free one at `bind`.
fn bind_address_no_port(sock: &socket2::Socket) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we own, with a c_int option value.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "IP_BIND_ADDRESS_NO_PORT: {}",
            io::Error::last_os_error()
        ))
    }
}

/// Sends `sig` to process `pid`.
fn signal(pid: u32, sig: libc::c_int) -> Result<(), String> {
    // SAFETY: kill(2) on a pid we were given; no memory is involved.
    if unsafe { libc::kill(pid as libc::pid_t, sig) } == 0 {
        Ok(())
    } else {
        Err(format!(
            "kill({pid}, {sig}): {}",
            io::Error::last_os_error()
        ))
    }
}

/// Waits (up to a second) until every thread of process `pid` is stopped:
/// `SIGSTOP` takes effect when each thread next enters the kernel.
fn wait_stopped(pid: u32) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map_err(|e| format!("read /proc/{pid}/task: {e}"))?;
        let all_stopped = tasks.flatten().all(|t| {
            std::fs::read_to_string(t.path().join("stat")).is_ok_and(|st| {
                // The state follows the parenthesised command name.
                st.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    .is_some_and(|state| state == "T" || state == "t")
            })
        });
        if all_stopped {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("process {pid} did not stop"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Resumes a stopped server when dropped, whatever happened meanwhile.
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        let _ = signal(self.0, libc::SIGCONT);
    }
}

/// Connections an accept burst puts in the listen backlog at once: half the
/// kernel's accept-queue cap (`net.core.somaxconn`), at most 2048, so the
/// backlog of a server asking for 4096 holds them all.
fn burst_batch() -> usize {
    (somaxconn() / 2).clamp(16, 2048)
}

/// The server's own accept rate, with the generator out of the way: the
/// server process is stopped (`SIGSTOP`) while [`burst_batch`] connections complete their handshakes into its listen
/// backlog and each writes one frame; then it is resumed (`SIGCONT`) and the
/// time until every echo is back is measured. Repeated in batches until
/// `conns` connections are open (all held until the end). Returns
/// connections accepted and served per second of draining.
pub fn accept_burst(addr: SocketAddr, conns: usize, server_pid: u32) -> Result<f64, String> {
    let batch = burst_batch();
    let hello = frame(1, 0);
    let mut socks: Vec<mio::net::TcpStream> = Vec::with_capacity(conns);
    let mut draining = Duration::ZERO;
    let mut back = [0u8; FRAME];
    let mut poll = Poll::new().map_err(err("poll"))?;
    let mut events = Events::with_capacity(1024);
    while socks.len() < conns {
        let first = socks.len();
        let n = batch.min(conns - first);
        signal(server_pid, libc::SIGSTOP)?;
        let resume = Resume(server_pid);
        wait_stopped(server_pid)?;
        for i in first..first + n {
            // Source addresses spread as in `open_served`.
            let src = SocketAddr::from(([127, 0, 0, 2 + (i % 200) as u8], 0));
            let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .map_err(err("socket"))?;
            sock.bind(&src.into()).map_err(err("bind"))?;
            // The kernel completes the handshake; the stopped server has not
            // accepted yet.
            sock.connect_timeout(&addr.into(), Duration::from_secs(10))
                .map_err(err("connect"))?;
            sock.set_tcp_nodelay(true).map_err(err("nodelay"))?;
            let mut s = std::net::TcpStream::from(sock);
            s.write_all(&hello).map_err(err("write"))?;
            s.set_nonblocking(true).map_err(err("nonblocking"))?;
            let mut s = mio::net::TcpStream::from_std(s);
            poll.registry()
                .register(&mut s, Token(i), Interest::READABLE)
                .map_err(err("register"))?;
            socks.push(s);
        }
        let mut got = vec![0usize; n];
        let mut left = n;
        let t0 = Instant::now();
        drop(resume);
        let deadline = t0 + WAIT;
        while left > 0 {
            if Instant::now() > deadline {
                return Err(format!("timed out with {} of {n} echoes back", n - left));
            }
            poll.poll(&mut events, Some(Duration::from_millis(100)))
                .map_err(err("poll"))?;
            for ev in events.iter() {
                let i = ev.token().0;
                // An earlier batch's socket (a late or spurious edge): done.
                let Some(k) = i.checked_sub(first) else {
                    continue;
                };
                while got[k] < FRAME {
                    match socks[i].read(&mut back[got[k]..]) {
                        Ok(0) => return Err("the server closed a connection".into()),
                        Ok(m) => {
                            got[k] += m;
                            if got[k] == FRAME {
                                left -= 1;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(format!("echo: {e}")),
                    }
                }
            }
        }
        draining += t0.elapsed();
    }
    Ok(conns as f64 / draining.as_secs_f64())
}

/// Raises this process's open-file soft limit to the hard limit.
pub fn raise_fd_limit() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
    rl.rlim_cur
}
