//! Soak for leaks and drift under a mixed workload (review sk): 2000+
//! clients from 48 loopback addresses churning (graceful closes, resets
//! with `SO_LINGER` 0, half-closes held for replies, flash connections),
//! kicks, `pause_client`/`resume_client`, `pause_input`, `send_all`,
//! `send_to`, `send`, `send_many` from callbacks and from an application
//! thread, slow readers cut as slow consumers, oversize frames, idle and
//! frame timeouts, refusals at `max_clients_per_ip`. Every few seconds it
//! samples the process's open descriptors, threads, `VmRSS`, live heap
//! bytes and the server's stats; at the end, once every client is gone,
//! it checks that descriptors and threads are back at their baseline, the
//! counts balance, and memory did not grow steadily (RSS and heap late in
//! the run within 1.5x of early on, and a second round of churn leaving
//! the heap where the first left it: what the server keeps is bounded by
//! its peak, not by its history).
//!
//! Ignored (minutes long); alone in its own file, since it counts
//! process-wide descriptors, threads and heap bytes:
//!
//! ```text
//! TCPHUB_SK_SOAK_SECS=300 cargo test --release -p tcphub --test review_sk_soak \
//!     -- --ignored --nocapture
//! ```
//!
//! `TCPHUB_SK_SOAK_SECS` defaults to 30; `TCPHUB_SK_SAMPLE_SECS` (the
//! sampling period) to a thirtieth of the run, at least 1;
//! `TCPHUB_SK_MORE_ROUNDS` (the rounds after the first, default 1) and
//! `TCPHUB_SK_MORE_SECS` (their length, default a fifth of the first, at
//! least 10 s). `TCPHUB_SK_PULL=1` runs the server in pull mode, a consumer
//! thread doing what the callbacks do; `TCPHUB_SK_THREADS` sets its loops
//! (default 2).

mod counting_alloc;
mod support;

use std::cell::Cell;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::SockRef;
use support::{open_fds, raise_fd_limit, rss_kib, thread_count, try_wait_until, Peer, Rng};
use tcphub::{ClientId, Framing, ServerHandle, TcpServer};
use tokio::net::{TcpSocket, TcpStream};

/// Clients the driver keeps connected (or connecting).
const POPULATION: usize = 2200;
const MAX_CLIENTS: usize = 2600;
/// Source addresses 127.0.0.2 ..= 127.0.0.(1 + SOURCES).
const SOURCES: u8 = 48;
const PER_IP: usize = 60;
const MAX_FRAME: usize = 16 * 1024;
const MAX_QUEUE: usize = 256 * 1024;
/// New connections the driver starts per 50 ms tick at most.
const SPAWN_PER_TICK: usize = 40;
/// How long the end waits for things to settle.
const SETTLE: Duration = Duration::from_secs(60);

// Message kinds (the payload's first byte).
const ECHO: u8 = 0;
const BROADCAST: u8 = 1;
const SEND_TO_ME: u8 = 2;
const KICK_ME: u8 = 3;
const PAUSE_ME: u8 = 4;
const SEND_MANY: u8 = 5;
const FLOOD_ME: u8 = 6;

fn secs_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut v = (payload.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

fn message(rng: &mut Rng, op: u8) -> Vec<u8> {
    let mut p = vec![op];
    let n = rng.below(200);
    p.extend(rng.bytes(n));
    frame(&p)
}

fn source(rng: &mut Rng) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        0,
        2 + rng.below(SOURCES as usize) as u8,
    ))
}

/// What the server side saw, counted by its callbacks.
#[derive(Default)]
struct Seen {
    connects: AtomicU64,
    /// `on_disconnect`s by `DisconnectReason::code()` (0..=10).
    reasons: [AtomicU64; 11],
    /// Clients a callback paused: the controller resumes them.
    paused: Mutex<Vec<ClientId>>,
    /// The last clients connected: `send_many`'s audience from callbacks.
    recent: Mutex<VecDeque<ClientId>>,
}

/// What the server does for a client's message (`on_message`, or the pull
/// consumer's `Message`).
fn react(srv: &ServerHandle, seen: &Seen, c: &tcphub::Client, msg: &[u8]) {
    // Errors are expected: the client may be leaving.
    match msg.first().copied() {
        Some(ECHO) => drop(srv.send(c.id, msg)),
        Some(BROADCAST) => drop(srv.send_all(msg)),
        Some(SEND_TO_ME) => drop(srv.send_to(c.addr.ip(), c.addr.port(), msg)),
        Some(KICK_ME) => drop(srv.disconnect(c.id)),
        Some(PAUSE_ME) => pause(srv, seen, c.id),
        Some(SEND_MANY) => {
            let ids: Vec<ClientId> = seen.recent.lock().unwrap().iter().copied().collect();
            srv.send_many(&ids, msg);
        }
        Some(FLOOD_ME) => {
            // More than loopback's kernel buffers take (~3 MiB behind a
            // 4 KiB receive buffer) and the queue.
            let big = [7u8; 8192];
            for _ in 0..512 {
                if srv.send(c.id, &big).is_err() {
                    break;
                }
            }
        }
        _ => {}
    }
}

/// Pauses client `id` for the controller to resume.
fn pause(srv: &ServerHandle, seen: &Seen, id: ClientId) {
    if srv.pause_client(id).is_ok() {
        seen.paused.lock().unwrap().push(id);
    }
}

fn connected(seen: &Seen, c: &tcphub::Client) {
    seen.connects.fetch_add(1, Ordering::Relaxed);
    let mut r = seen.recent.lock().unwrap();
    r.push_back(c.id);
    if r.len() > 16 {
        r.pop_front();
    }
}

fn gone(seen: &Seen, why: &tcphub::DisconnectReason) {
    seen.reasons[why.code() as usize].fetch_add(1, Ordering::Relaxed);
}

/// The server: callbacks, or (`pull`) pull mode with a small event queue
/// and a consumer thread doing what the callbacks do (the default hold for
/// replies, `Taken`/`Release`, instead of `hold_for_replies`). The
/// consumer ends with the server.
fn start_server(
    seen: Arc<Seen>,
    pull: bool,
) -> (ServerHandle, Option<std::thread::JoinHandle<()>>) {
    let mut b = TcpServer::new(0, MAX_CLIENTS)
        .bind(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        .threads(secs_env("TCPHUB_SK_THREADS", 2) as usize)
        .framing(Framing::LengthPrefixed { max_len: MAX_FRAME })
        .max_queue_bytes(MAX_QUEUE)
        .max_clients_per_ip(PER_IP)
        .idle_timeout(Duration::from_secs(4))
        .frame_timeout(Duration::from_secs(3))
        .keepalive(Duration::from_secs(2))
        .linger(Duration::from_millis(500));
    if pull {
        let server = b.event_capacity(1024).start().expect("start");
        let consumer = std::thread::Builder::new()
            .name("soak-consumer".into())
            .spawn({
                let server = server.clone();
                move || {
                    let events = server.events();
                    while let Some(ev) = events.recv() {
                        match ev {
                            tcphub::Event::Connected(c) => connected(&seen, &c),
                            tcphub::Event::Message(c, msg) => react(&server, &seen, &c, &msg),
                            tcphub::Event::Disconnected(_, why) => gone(&seen, &why),
                        }
                    }
                }
            })
            .expect("consumer thread");
        return (server, Some(consumer));
    }
    let (s1, s2, s3) = (seen.clone(), seen.clone(), seen);
    b = b
        .hold_for_replies(Duration::from_millis(300))
        .on_connect(move |_, c| connected(&s1, c))
        .on_message(move |srv, c, msg| react(srv, &s2, c, msg))
        .on_disconnect(move |_, _, why| gone(&s3, why));
    (b.start().expect("start"), None)
}

// ---- the clients -----------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Sends a message of some kind every 0.1–0.6 s, reads everything, for
    /// 1–20 s; then closes gracefully, resets, or just drops.
    Chatty,
    /// Small receive buffer, asks for a flood and never reads: cut as a
    /// slow consumer.
    SlowReader,
    /// Announces a frame past `max_len`.
    Oversize,
    /// Sends nothing: idle timeout.
    Idle,
    /// Starts a frame and never finishes it: frame timeout.
    Slowloris,
    /// A request, then `shutdown(SHUT_WR)`: held for its reply.
    HalfClose,
    /// Connects and leaves at once (after a message, sometimes), often
    /// with a reset.
    Flash,
}

fn pick(rng: &mut Rng) -> Kind {
    match rng.below(100) {
        0..=56 => Kind::Chatty,
        57..=58 => Kind::SlowReader,
        59..=62 => Kind::Oversize,
        63..=66 => Kind::Idle,
        67..=69 => Kind::Slowloris,
        70..=79 => Kind::HalfClose,
        _ => Kind::Flash,
    }
}

/// Client-side tallies (the driver's thread only).
#[derive(Default)]
struct Tally {
    connected: Cell<u64>,
    connect_failed: Cell<u64>,
    bytes_read: Cell<u64>,
}

async fn connect(
    addr: SocketAddr,
    from: IpAddr,
    rcvbuf: Option<u32>,
) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    if let Some(b) = rcvbuf {
        s.set_recv_buffer_size(b)?;
    }
    s.bind(SocketAddr::new(from, 0))?;
    match tokio::time::timeout(Duration::from_secs(10), s.connect(addr)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// Writes all of `buf` (tokio's `io-util` is not among the dev features).
async fn write_all(s: &TcpStream, buf: &[u8]) -> std::io::Result<()> {
    let mut off = 0;
    while off < buf.len() {
        s.writable().await?;
        match s.try_write(&buf[off..]) {
            Ok(n) => off += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads and discards until end-of-stream or an error.
async fn read_all(s: &TcpStream, tally: &Tally) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if s.readable().await.is_err() {
            return;
        }
        match s.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => tally.bytes_read.set(tally.bytes_read.get() + n as u64),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// [`read_all`] for at most `limit`.
async fn drain(s: &TcpStream, limit: Duration, tally: &Tally) {
    let _ = tokio::time::timeout(limit, read_all(s, tally)).await;
}

fn shutdown_write(s: &TcpStream) {
    let _ = SockRef::from(s).shutdown(std::net::Shutdown::Write);
}

fn reset(s: &TcpStream) {
    let _ = SockRef::from(s).set_linger(Some(Duration::ZERO));
}

async fn client(kind: Kind, addr: SocketAddr, seed: u64, tally: Rc<Tally>) {
    let mut rng = Rng::new(seed);
    let rcvbuf = matches!(kind, Kind::SlowReader).then_some(4096);
    let s = match connect(addr, source(&mut rng), rcvbuf).await {
        Ok(s) => s,
        Err(_) => {
            tally.connect_failed.set(tally.connect_failed.get() + 1);
            return;
        }
    };
    tally.connected.set(tally.connected.get() + 1);
    let _ = s.set_nodelay(true);
    match kind {
        Kind::Chatty => {
            let lifetime = Duration::from_millis(1000 + rng.below(19_000) as u64);
            {
                let reader = read_all(&s, &tally);
                let w = &s;
                let mut wrng = Rng::new(rng.next_u64());
                let writer = async move {
                    loop {
                        let pause = 100 + wrng.below(500) as u64;
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                        let op = match wrng.below(1000) {
                            0..=4 => BROADCAST,
                            5..=84 => SEND_TO_ME,
                            85..=134 => SEND_MANY,
                            135..=144 => KICK_ME,
                            145..=164 => PAUSE_ME,
                            _ => ECHO,
                        };
                        if write_all(w, &message(&mut wrng, op)).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::select! {
                    _ = reader => {}
                    _ = writer => {}
                    _ = tokio::time::sleep(lifetime) => {}
                }
            }
            match rng.below(3) {
                0 => {
                    shutdown_write(&s);
                    drain(&s, Duration::from_secs(5), &tally).await;
                }
                1 => reset(&s),
                _ => {}
            }
        }
        Kind::SlowReader => {
            let _ = write_all(&s, &message(&mut rng, FLOOD_ME)).await;
            // Keeps talking (not idle) and never reads, until cut.
            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if write_all(&s, &message(&mut rng, ECHO)).await.is_err() {
                        break;
                    }
                }
            })
            .await;
            reset(&s);
        }
        Kind::Oversize => {
            let mut f = ((MAX_FRAME + 1 + rng.below(1 << 20)) as u32)
                .to_be_bytes()
                .to_vec();
            let n = rng.below(100);
            f.extend(rng.bytes(n));
            let _ = write_all(&s, &f).await;
            drain(&s, Duration::from_secs(10), &tally).await;
        }
        Kind::Idle => drain(&s, Duration::from_secs(15), &tally).await,
        Kind::Slowloris => {
            let mut f = 100u32.to_be_bytes().to_vec();
            f.extend(rng.bytes(10));
            let _ = write_all(&s, &f).await;
            drain(&s, Duration::from_secs(15), &tally).await;
        }
        Kind::HalfClose => {
            let _ = write_all(&s, &message(&mut rng, ECHO)).await;
            shutdown_write(&s);
            drain(&s, Duration::from_secs(10), &tally).await;
        }
        Kind::Flash => {
            if rng.below(2) == 0 {
                let _ = write_all(&s, &message(&mut rng, ECHO)).await;
            }
            if rng.below(3) != 0 {
                reset(&s);
            }
        }
    }
}

/// Keeps [`POPULATION`] clients going until `stop`; then drops them all.
/// Returns the client tally and the number of client tasks that panicked.
fn drive(addr: SocketAddr, seed: u64, stop: Arc<AtomicBool>) -> (Rc<Tally>, u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tally = Rc::new(Tally::default());
    let local = tokio::task::LocalSet::new();
    let panics = local.block_on(&rt, {
        let tally = tally.clone();
        async move {
            let mut rng = Rng::new(seed);
            let mut set = tokio::task::JoinSet::new();
            let mut panics = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..SPAWN_PER_TICK.min(POPULATION.saturating_sub(set.len())) {
                    let kind = pick(&mut rng);
                    set.spawn_local(client(kind, addr, rng.next_u64(), tally.clone()));
                }
                let tick = tokio::time::sleep(Duration::from_millis(50));
                tokio::pin!(tick);
                loop {
                    tokio::select! {
                        _ = &mut tick => break,
                        done = set.join_next() => match done {
                            Some(Err(e)) if e.is_panic() => panics += 1,
                            Some(_) => {}
                            None => (&mut tick).await,
                        },
                    }
                }
            }
            set.abort_all();
            while let Some(r) = set.join_next().await {
                if matches!(&r, Err(e) if e.is_panic()) {
                    panics += 1;
                }
            }
            panics
        }
    });
    drop(local);
    drop(rt);
    (tally, panics)
}

// ---- the application thread --------------------------------------------------

/// Sends, kicks and pauses from an application thread until `stop`.
fn control(server: ServerHandle, seen: Arc<Seen>, seed: u64, stop: Arc<AtomicBool>) -> u64 {
    let mut rng = Rng::new(seed);
    let mut clients = Vec::new();
    let mut paused: VecDeque<(ClientId, u64)> = VecDeque::new();
    let mut kicks = 0u64;
    let mut tick = 0u64;
    while !stop.load(Ordering::Relaxed) {
        tick += 1;
        if tick % 50 == 1 {
            clients = server.clients();
        }
        if tick.is_multiple_of(5) {
            server.send_all(&[ECHO, b't', tick as u8]);
        }
        if !clients.is_empty() {
            let c = clients[rng.below(clients.len())];
            let _ = server.send(c.id, b"\0to you");
            let c = clients[rng.below(clients.len())];
            let _ = server.send_to(c.addr.ip(), c.addr.port(), b"\0to your address");
            if tick.is_multiple_of(5) {
                for n in [5, 40] {
                    let ids: Vec<ClientId> = (0..n)
                        .map(|_| clients[rng.below(clients.len())].id)
                        .collect();
                    server.send_many(&ids, b"\0to some of you");
                }
                let c = clients[rng.below(clients.len())];
                if server.pause_client(c.id).is_ok() {
                    paused.push_back((c.id, tick));
                }
            }
            if tick.is_multiple_of(10) {
                let c = clients[rng.below(clients.len())];
                if server.disconnect(c.id).is_ok() {
                    kicks += 1;
                }
            }
        }
        while paused.front().is_some_and(|&(_, at)| at + 25 <= tick) {
            let (id, _) = paused.pop_front().unwrap();
            let _ = server.resume_client(id);
        }
        for id in std::mem::take(&mut *seen.paused.lock().unwrap()) {
            let _ = server.resume_client(id);
        }
        if tick.is_multiple_of(500) {
            server.pause_input();
            std::thread::sleep(Duration::from_millis(100));
            server.resume_input();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for (id, _) in paused {
        let _ = server.resume_client(id);
    }
    kicks
}

// ---- sampling ----------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    fds: usize,
    threads: usize,
    rss_kib: u64,
    heap_kib: f64,
    clients: usize,
    stats: tcphub::Stats,
}

fn sample(server: &ServerHandle, start: Instant) -> Sample {
    let stats = server.stats();
    // The documented relations hold in every snapshot, during traffic too.
    assert!(
        stats.disconnected + stats.clients <= stats.accepted,
        "more ends than admissions: {stats:?}"
    );
    assert!(stats.unwritten <= stats.msgs_out, "{stats:?}");
    Sample {
        at: start.elapsed().as_secs_f64(),
        fds: open_fds(),
        threads: thread_count(),
        rss_kib: rss_kib(),
        heap_kib: counting_alloc::live_kib(),
        clients: server.client_count(),
        stats,
    }
}

fn print(s: &Sample) {
    let st = &s.stats;
    eprintln!(
        "{:7.1}s fds {:5} threads {:2} rss {:7} KiB heap {:9.0} KiB clients {:4} \
         (stats {:4}) accepted {:7} disconnected {:7} rejected {}/{} msgs in {} out {} \
         slow {} oversize {} idle {} frame {} undelivered {} unwritten {}",
        s.at,
        s.fds,
        s.threads,
        s.rss_kib,
        s.heap_kib,
        s.clients,
        st.clients,
        st.accepted,
        st.disconnected,
        st.rejected,
        st.rejected_per_ip,
        st.msgs_in,
        st.msgs_out,
        st.slow_consumers,
        st.frame_too_large,
        st.idle_timeouts,
        st.frame_timeouts,
        st.undelivered,
        st.unwritten
    );
}

/// Runs the workload for `duration`, sampling every `every`; returns the
/// samples, the kicks the controller made and the client tally.
fn run_round(
    server: &ServerHandle,
    seen: &Arc<Seen>,
    duration: Duration,
    every: Duration,
    seed: u64,
) -> (Vec<Sample>, u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), server.local_addr().port());
    let driver = std::thread::Builder::new()
        .name("soak-driver".into())
        .spawn({
            let stop = stop.clone();
            move || {
                let (tally, panics) = drive(addr, seed, stop);
                eprintln!(
                    "driver: {} connected, {} connects failed, {} bytes read",
                    tally.connected.get(),
                    tally.connect_failed.get(),
                    tally.bytes_read.get()
                );
                panics
            }
        })
        .expect("driver thread");
    let controller = std::thread::Builder::new()
        .name("soak-control".into())
        .spawn({
            let (server, seen, stop) = (server.clone(), seen.clone(), stop.clone());
            move || control(server, seen, seed ^ 0x5eed, stop)
        })
        .expect("controller thread");
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < duration {
        let next = (samples.len() as u32 + 1) * every;
        let left = next.min(duration).saturating_sub(start.elapsed());
        std::thread::sleep(left); // the sampling period, not a synchronisation
        let s = sample(server, start);
        print(&s);
        samples.push(s);
    }
    stop.store(true, Ordering::Relaxed);
    let kicks = controller.join().expect("controller");
    let panics = driver.join().expect("driver");
    (samples, kicks, panics)
}

/// Waits (bounded) until every client is gone and the counts balance, and
/// descriptors and threads are back at `fds`/`threads`; the last sample.
/// A client paused by a callback is resumed here (the controller has
/// ended): a paused client whose peer closed its side is noticed only once
/// resumed (`pause_client`'s documentation).
fn settle(
    server: &ServerHandle,
    seen: &Seen,
    fds: usize,
    threads: usize,
    start: Instant,
) -> Sample {
    let settled = try_wait_until(SETTLE, || {
        for id in std::mem::take(&mut *seen.paused.lock().unwrap()) {
            let _ = server.resume_client(id);
        }
        let s = server.stats();
        let reported: u64 = seen.reasons.iter().map(|a| a.load(Ordering::Relaxed)).sum();
        server.client_count() == 0
            && s.accepted == s.disconnected
            && seen.connects.load(Ordering::Relaxed) == s.accepted
            && reported == s.disconnected
            && open_fds() == fds
            && thread_count() == threads
    });
    let s = sample(server, start);
    print(&s);
    assert!(
        settled,
        "not settled after {SETTLE:?}: {} clients, {} fds (baseline {fds}), \
         {} threads (baseline {threads}), {:?}",
        server.client_count(),
        s.fds,
        s.threads,
        s.stats
    );
    s
}

/// Most of the samples from the last quarter against the first one after a
/// quarter of the run (the warm-up): `what` grew by less than 1.5x.
fn no_steady_growth(samples: &[Sample], what: &str, value: impl Fn(&Sample) -> f64) {
    let n = samples.len();
    if n < 4 {
        return;
    }
    let early = value(&samples[n / 4]);
    let late = samples[n - n / 4..]
        .iter()
        .map(&value)
        .fold(0.0f64, f64::max);
    eprintln!("{what}: {early:.0} after warm-up, at most {late:.0} in the last quarter");
    assert!(
        late < 1.5 * early,
        "{what} grew from {early:.0} after warm-up to {late:.0} late in the run"
    );
}

#[test]
#[ignore = "soak: TCPHUB_SK_SOAK_SECS (default 30) seconds; see the file's docs"]
fn review_sk_soak_mixed_churn_leaks_nothing() {
    if !std::path::Path::new("/proc/self/fd").exists() {
        eprintln!("skipped: no /proc/self/fd on this system");
        return;
    }
    let secs = secs_env("TCPHUB_SK_SOAK_SECS", 30);
    let duration = Duration::from_secs(secs);
    let every = Duration::from_secs(secs_env("TCPHUB_SK_SAMPLE_SECS", (secs / 30).max(1)));
    let limit = raise_fd_limit(u64::MAX);
    assert!(
        limit >= 2 * (MAX_CLIENTS as u64) + 4096,
        "RLIMIT_NOFILE {limit} too low for the soak"
    );
    let (fd_before, th_before) = (open_fds(), thread_count());
    let pull = secs_env("TCPHUB_SK_PULL", 0) != 0;
    let seen = Arc::new(Seen::default());
    let (server, consumer) = start_server(seen.clone(), pull);
    let (fd0, th0, heap0) = (open_fds(), thread_count(), counting_alloc::live_kib());
    let start = Instant::now();
    eprintln!(
        "soak: {secs} s ({} mode), sample every {every:?}; baseline {fd0} fds, {th0} threads, \
         {} KiB rss, {heap0:.0} KiB heap",
        if pull { "pull" } else { "callback" },
        rss_kib()
    );

    let (samples, kicks, panics) = run_round(&server, &seen, duration, every, 0x50a4);
    assert_eq!(panics, 0, "client tasks panicked");
    let end1 = settle(&server, &seen, fd0, th0, start);
    let st = end1.stats;
    let reasons: Vec<u64> = seen
        .reasons
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .collect();
    eprintln!("round 1: controller kicks {kicks}; disconnects by reason (code order) {reasons:?}");
    assert_eq!(seen.connects.load(Ordering::Relaxed), st.accepted);
    assert_eq!(reasons.iter().sum::<u64>(), st.disconnected);
    assert_eq!(st.clients, 0);
    assert_eq!(st.callback_panics, 0);
    assert!(st.unwritten <= st.msgs_out);
    // The workload did what it is for.
    assert!(st.accepted as usize > 2 * POPULATION, "{st:?}");
    assert!(st.slow_consumers > 0, "{st:?}");
    assert!(st.frame_too_large > 0, "{st:?}");
    assert!(st.idle_timeouts > 0, "{st:?}");
    assert!(st.frame_timeouts > 0, "{st:?}");
    assert!(reasons[6] > 0, "no kicks: {reasons:?}"); // Kicked
    assert!(reasons[1] > 0, "no resets: {reasons:?}"); // Reset
    no_steady_growth(&samples, "VmRSS KiB", |s| s.rss_kib as f64);
    no_steady_growth(&samples, "heap KiB", |s| s.heap_kib);
    no_steady_growth(&samples, "threads", |s| s.threads as f64);

    // A second round of churn: what the server keeps once its clients are
    // gone is bounded by its peak (maps and lists keep their room), not by
    // how long it ran: the heap after it is where the first round left it.
    // (`TCPHUB_SK_MORE_ROUNDS` such rounds, default 1, each a fifth of the
    // first, at least 10 s, or `TCPHUB_SK_MORE_SECS`.)
    let heap1 = end1.heap_kib;
    let more = secs_env("TCPHUB_SK_MORE_ROUNDS", 1);
    let round2 = Duration::from_secs(secs_env("TCPHUB_SK_MORE_SECS", (secs / 5).max(10)));
    for round in 2..2 + more {
        let (_, _, panics) = run_round(&server, &seen, round2, every, 0x50a4 + round);
        assert_eq!(panics, 0, "client tasks panicked");
        let end = settle(&server, &seen, fd0, th0, start);
        eprintln!(
            "heap: {heap0:.0} KiB at start, {heap1:.0} KiB after round 1, {:.0} KiB after \
             round {round}; rss {} KiB after round 1, {} KiB after round {round}; {} accepted",
            end.heap_kib, end1.rss_kib, end.rss_kib, end.stats.accepted
        );
        assert!(
            end.heap_kib < heap1 + 2048.0,
            "the heap grew from {heap1:.0} KiB to {:.0} KiB by round {round}",
            end.heap_kib
        );
    }

    // Every address's places under `max_clients_per_ip` were given back:
    // the limit is admitted again, and the next one refused.
    let dst = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), server.local_addr().port());
    for last in [2u8, 2 + SOURCES / 2, 1 + SOURCES] {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
        let before = server.stats();
        let peers: Vec<Peer> = (0..PER_IP).map(|_| Peer::connect_from(from, dst)).collect();
        assert!(
            try_wait_until(SETTLE, || server.client_count() == PER_IP),
            "{from}: {} of {PER_IP} admitted",
            server.client_count()
        );
        let mut one_more = Peer::connect_from(from, dst);
        one_more.expect_eof();
        let after = server.stats();
        assert_eq!(after.rejected_per_ip, before.rejected_per_ip + 1);
        drop(peers);
        assert!(try_wait_until(SETTLE, || server.client_count() == 0));
    }

    server.stop();
    if let Some(c) = consumer {
        c.join().expect("consumer");
    }
    drop(server);
    eprintln!(
        "heap {:.0} KiB once the server is dropped ({heap0:.0} KiB before it started)",
        counting_alloc::live_kib()
    );
    let settled = try_wait_until(SETTLE, || {
        open_fds() == fd_before && thread_count() == th_before
    });
    assert!(
        settled,
        "after stop: {} fds (was {fd_before}), {} threads (was {th_before})",
        open_fds(),
        thread_count()
    );
}
