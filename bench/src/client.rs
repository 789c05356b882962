//! The client scenario: one tcphub `TcpClient` sends `messages` framed
//! messages (4-byte big-endian length prefix, `size`-byte payloads) to an
//! echo server and takes every one back, checking each arrives whole and in
//! order — in pull mode (`recv_timeout` on the caller's thread) and in
//! callback mode (`on_message` on the client's I/O thread). The baseline in
//! the same run is a plain blocking `std::net::TcpStream` pair of threads
//! speaking the same framing through a `BufWriter` and a `BufReader`.
//!
//! The sender keeps at most `window` messages in flight (sent, not yet
//! back), so neither the client's queue nor the server's per-client queue
//! ever fills; it sleeps while the window is full and the receiving side
//! wakes it once half of it has come back.

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};

use tcphub::{Framing, TcpClient};

use crate::report::{human, median};

const WAIT: Duration = Duration::from_secs(60);

/// Who sends and receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `TcpClient` without callbacks; the caller takes messages with `recv_timeout`.
    Pull,
    /// `TcpClient` with `on_message`.
    Callback,
    /// Blocking `std::net::TcpStream`, `BufWriter` / `BufReader` (the baseline).
    Plain,
}

impl Mode {
    /// Name used on the command line and in the output.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Pull => "tcphub-pull",
            Mode::Callback => "tcphub-callback",
            Mode::Plain => "std-bufio",
        }
    }

    /// Parses a name given on the command line (`pull`, `callback`, `plain`).
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "pull" | "tcphub-pull" => Ok(Mode::Pull),
            "callback" | "tcphub-callback" => Ok(Mode::Callback),
            "plain" | "std" | "std-bufio" => Ok(Mode::Plain),
            _ => Err(format!("unknown client mode {s:?} (pull, callback, plain)")),
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
pub struct ClientRun {
    /// Round trips per second (messages sent and received back).
    pub msgs_per_sec: f64,
    /// Payload megabytes per second, one direction.
    pub mb_per_sec: f64,
    /// CPU time of this whole process (user + system) per message, in
    /// nanoseconds: the client's cost, sender and checker included.
    pub cpu_ns_per_msg: f64,
    /// Wall time of the run.
    pub secs: f64,
}

/// The window when none is given: about 1 MiB of payload in flight, between
/// 16 and 4096 messages.
pub fn default_window(size: usize) -> u64 {
    ((1 << 20) / (size as u64 + 4)).clamp(16, 4096)
}

/// Runs `messages` round trips of `size`-byte payloads against the echo
/// server at `addr`, at most `window` in flight.
pub fn run(
    addr: SocketAddr,
    mode: Mode,
    messages: u64,
    size: usize,
    window: u64,
) -> Result<ClientRun, String> {
    if size < 9 {
        return Err("--sizes: each at least 9 bytes (sequence number and check byte)".into());
    }
    let window = window.max(2);
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    match mode {
        Mode::Pull | Mode::Callback => tcphub_run(addr, mode, messages, size, window)?,
        Mode::Plain => plain_run(addr, messages, size, window)?,
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_time() - cpu0;
    Ok(ClientRun {
        msgs_per_sec: messages as f64 / secs,
        mb_per_sec: (messages as f64 * size as f64) / secs / 1e6,
        cpu_ns_per_msg: cpu.as_nanos() as f64 / messages.max(1) as f64,
        secs,
    })
}

/// Message `seq`: its number in the first 8 bytes, and its low byte as the
/// last, in `buf` (the rest stays as it was: zeros).
fn fill(buf: &mut [u8], seq: u64) {
    buf[..8].copy_from_slice(&seq.to_be_bytes());
    let last = buf.len() - 1;
    buf[last] = seq as u8;
}

/// Checks that `msg` is message `want`, whole.
fn check(msg: &[u8], want: u64, size: usize) -> Result<(), String> {
    if msg.len() != size {
        return Err(format!(
            "message {want}: {} bytes, expected {size}",
            msg.len()
        ));
    }
    let got = u64::from_be_bytes(msg[..8].try_into().expect("8 bytes"));
    if got != want || msg[size - 1] != want as u8 {
        return Err(format!(
            "expected message {want}, got {got} (out of order or cut)"
        ));
    }
    Ok(())
}

/// The sender's window: messages back so far, and when to wake the sender.
struct Flow {
    received: AtomicU64,
    /// The sender sleeps until `received` reaches this (`u64::MAX`: awake).
    wake_at: AtomicU64,
    sender: Thread,
}

impl Flow {
    fn new(sender: Thread) -> Flow {
        Flow {
            received: AtomicU64::new(0),
            wake_at: AtomicU64::new(u64::MAX),
            sender,
        }
    }

    /// One message came back; returns how many have.
    fn got_one(&self) -> u64 {
        let r = self.received.fetch_add(1, Ordering::SeqCst) + 1;
        if r >= self.wake_at.load(Ordering::SeqCst) {
            self.wake_at.store(u64::MAX, Ordering::SeqCst);
            self.sender.unpark();
        }
        r
    }

    /// Before message `seq` is sent: waits while `window` are in flight
    /// (`before_sleep` first, e.g. to flush a buffered writer), until half
    /// of them are back.
    fn wait_room(
        &self,
        seq: u64,
        window: u64,
        before_sleep: &mut impl FnMut() -> Result<(), String>,
    ) -> Result<(), String> {
        if seq - self.received.load(Ordering::SeqCst) < window {
            return Ok(());
        }
        before_sleep()?;
        let deadline = Instant::now() + WAIT;
        loop {
            // Set before the check: a receiver counting after the check
            // sees it (no lost wakeup).
            self.wake_at.store(seq - window / 2, Ordering::SeqCst);
            if seq - self.received.load(Ordering::SeqCst) < window {
                self.wake_at.store(u64::MAX, Ordering::SeqCst);
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("message {seq}: no room in {WAIT:?}"));
            }
            std::thread::park_timeout(Duration::from_millis(100));
        }
    }
}

/// The sender thread: where to hand it its flow and sending side, and its
/// result (how often the queue was full).
type Sender<S> = (
    mpsc::Sender<(Arc<Flow>, S)>,
    std::thread::JoinHandle<Result<u64, String>>,
);

/// Starts the sender thread: it waits for its flow and its sending side,
/// then sends `messages` messages (trying again while the queue is full)
/// and flushes; its result is how often the queue was full.
fn spawn_sender<S>(messages: u64, size: usize, window: u64) -> Sender<S>
where
    S: SendSide + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<(Arc<Flow>, S)>();
    let handle = std::thread::spawn(move || -> Result<u64, String> {
        let (flow, mut side) = rx.recv().map_err(|_| "the run ended before it began")?;
        let mut buf = vec![0u8; size];
        let mut full = 0;
        for seq in 0..messages {
            flow.wait_room(seq, window, &mut || side.flush())?;
            fill(&mut buf, seq);
            while !side.send(&buf).map_err(|e| format!("send {seq}: {e}"))? {
                full += 1;
                std::thread::yield_now();
            }
        }
        side.flush()?;
        Ok(full)
    });
    (tx, handle)
}

/// How the sender thread sends.
trait SendSide {
    /// Sends one message; `Ok(false)` when the queue was full (try again).
    fn send(&mut self, msg: &[u8]) -> Result<bool, String>;
    /// Pushes out anything buffered (before the sender sleeps, and at the end).
    fn flush(&mut self) -> Result<(), String>;
}

impl SendSide for TcpClient {
    fn send(&mut self, msg: &[u8]) -> Result<bool, String> {
        match TcpClient::send(self, msg) {
            Ok(()) => Ok(true),
            Err(tcphub::Error::QueueFull { .. }) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    fn flush(&mut self) -> Result<(), String> {
        Ok(()) // the I/O thread writes as soon as it can
    }
}

/// The baseline's sending half: a length prefix and the payload into a `BufWriter`.
struct PlainSend(BufWriter<TcpStream>);

impl SendSide for PlainSend {
    fn send(&mut self, msg: &[u8]) -> Result<bool, String> {
        self.0
            .write_all(&(msg.len() as u32).to_be_bytes())
            .and_then(|()| self.0.write_all(msg))
            .map_err(|e| e.to_string())?;
        Ok(true)
    }

    fn flush(&mut self) -> Result<(), String> {
        self.0.flush().map_err(|e| format!("flush: {e}"))
    }
}

fn join_sender(h: std::thread::JoinHandle<Result<u64, String>>) -> Result<(), String> {
    let full = h.join().map_err(|_| "the sender panicked".to_string())??;
    if full > 0 {
        eprintln!("(the client queue was full {full} times; the sender retried)");
    }
    Ok(())
}

fn tcphub_run(
    addr: SocketAddr,
    mode: Mode,
    messages: u64,
    size: usize,
    window: u64,
) -> Result<(), String> {
    let (start, sender) = spawn_sender::<TcpClient>(messages, size, window);
    let flow = Arc::new(Flow::new(sender.thread().clone()));
    let builder = TcpClient::builder(addr).framing(Framing::length_prefixed());
    let outcome = match mode {
        Mode::Pull => {
            let client = builder.connect().map_err(|e| e.to_string())?;
            let _ = start.send((flow.clone(), client.clone()));
            let mut got = Ok(());
            for want in 0..messages {
                match client.recv_timeout(WAIT) {
                    Ok(m) => {
                        if let Err(e) = check(&m, want, size) {
                            got = Err(e);
                            break;
                        }
                        flow.got_one();
                    }
                    Err(e) => {
                        got = Err(format!("message {want}: {e}"));
                        break;
                    }
                }
            }
            client.close();
            got
        }
        Mode::Callback | Mode::Plain => {
            // The checker runs on the client's I/O thread; the first fault
            // (or the last message) ends the wait.
            let (done_tx, done_rx) = mpsc::sync_channel::<Result<(), String>>(1);
            let done_tx = Mutex::new(Some(done_tx));
            let finish = move |r: Result<(), String>| {
                if let Some(tx) = done_tx.lock().expect("done").take() {
                    let _ = tx.send(r);
                }
            };
            if messages == 0 {
                // Nothing would end the wait below.
                finish(Ok(()));
            }
            let cb_flow = flow.clone();
            let client = builder
                .on_message(move |_c, m| {
                    let want = cb_flow.received.load(Ordering::Relaxed);
                    if let Err(e) = check(m, want, size) {
                        return finish(Err(e));
                    }
                    if cb_flow.got_one() == messages {
                        finish(Ok(()));
                    }
                })
                .connect()
                .map_err(|e| e.to_string())?;
            let _ = start.send((flow.clone(), client.clone()));
            let got = match done_rx.recv_timeout(WAIT) {
                Ok(r) => r,
                Err(_) => Err(format!(
                    "only {} of {messages} messages came back",
                    flow.received.load(Ordering::SeqCst)
                )),
            };
            client.close();
            got
        }
    };
    // On a fault the sender may be waiting for room that never comes: it
    // gives up after `WAIT`, so its result is only awaited on success.
    outcome?;
    join_sender(sender)
}

fn plain_run(addr: SocketAddr, messages: u64, size: usize, window: u64) -> Result<(), String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let write_half = stream.try_clone().map_err(|e| e.to_string())?;
    let (start, sender) = spawn_sender::<PlainSend>(messages, size, window);
    let flow = Arc::new(Flow::new(sender.thread().clone()));
    let _ = start.send((
        flow.clone(),
        PlainSend(BufWriter::with_capacity(64 * 1024, write_half)),
    ));
    let mut r = BufReader::with_capacity(64 * 1024, stream);
    let mut msg = vec![0u8; size];
    for want in 0..messages {
        let mut len = [0u8; 4];
        r.read_exact(&mut len)
            .map_err(|e| format!("message {want}: {e}"))?;
        let len = u32::from_be_bytes(len) as usize;
        if len != size {
            return Err(format!("message {want}: {len} bytes, expected {size}"));
        }
        r.read_exact(&mut msg)
            .map_err(|e| format!("message {want}: {e}"))?;
        check(&msg, want, size)?;
        flow.got_one();
    }
    join_sender(sender)
}

/// CPU time (user + system) of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes one rusage struct.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Runs every mode for every size, `rounds` times, alternating the order of
/// the modes each round; prints each run and then the medians. Every run
/// must get every message back in order, or this fails.
pub fn compare(
    addr: SocketAddr,
    modes: &[Mode],
    sizes: &[usize],
    messages: u64,
    rounds: usize,
    window: Option<u64>,
) -> Result<(), String> {
    let mut res: Vec<(usize, Mode, Vec<ClientRun>)> = Vec::new();
    for round in 0..rounds {
        for &size in sizes {
            let order: Vec<Mode> = if round % 2 == 0 {
                modes.to_vec()
            } else {
                modes.iter().rev().copied().collect()
            };
            for mode in order {
                let w = window.unwrap_or_else(|| default_window(size));
                let r = run(addr, mode, messages, size, w)
                    .map_err(|e| format!("{} {size} B: {e}", mode.name()))?;
                println!(
                    "round {}/{rounds} client {size} B {:<16} {:>9} msgs/s {:>8.1} MB/s {:>7.0} ns CPU/msg ({:.2} s)",
                    round + 1,
                    mode.name(),
                    human(r.msgs_per_sec),
                    r.mb_per_sec,
                    r.cpu_ns_per_msg,
                    r.secs
                );
                match res.iter_mut().find(|e| e.0 == size && e.1 == mode) {
                    Some(e) => e.2.push(r),
                    None => res.push((size, mode, vec![r])),
                }
            }
        }
    }
    println!("client {messages} round trips each, medians of {rounds} rounds:");
    println!("| size | client | msgs/s | MB/s | CPU ns/msg | vs std-bufio |");
    println!("|---:|---|---:|---:|---:|---:|");
    for &size in sizes {
        let med = |mode: Mode, f: fn(&ClientRun) -> f64| {
            res.iter()
                .find(|e| e.0 == size && e.1 == mode)
                .map_or(f64::NAN, |e| median(&e.2.iter().map(f).collect::<Vec<_>>()))
        };
        let base = med(Mode::Plain, |r| r.msgs_per_sec);
        for &mode in modes {
            let m = med(mode, |r| r.msgs_per_sec);
            println!(
                "| {size} B | {} | {} | {:.1} | {:.0} | {} |",
                mode.name(),
                human(m),
                med(mode, |r| r.mb_per_sec),
                med(mode, |r| r.cpu_ns_per_msg),
                if base.is_finite() {
                    format!("{:.2}×", m / base)
                } else {
                    "–".into()
                }
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> tcphub::ServerHandle {
        tcphub::TcpServer::new(0, 10)
            .bind("127.0.0.1".parse().expect("ip"))
            .framing(Framing::length_prefixed())
            .on_message(|srv, c, msg| {
                let _ = srv.send(c.id, msg);
            })
            .start()
            .expect("start echo server")
    }

    #[test]
    fn every_mode_runs_no_messages_as_well_as_some() {
        let server = echo_server();
        for mode in [Mode::Pull, Mode::Callback, Mode::Plain] {
            for messages in [0, 100] {
                run(server.local_addr(), mode, messages, 64, 16)
                    .unwrap_or_else(|e| panic!("{} {messages}: {e}", mode.name()));
            }
        }
        server.stop();
    }
}
