//! The load scenarios. Each drives a server over loopback with a 4-byte
//! big-endian length-prefixed framing and 64-byte payloads, checks what comes
//! back, and measures.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};

/// Payload bytes per message.
pub const PAYLOAD: usize = 64;
/// Bytes per framed message.
pub const FRAME: usize = PAYLOAD + 4;
/// Sequence number of the "are you there" frames sent before a fan-out run.
const SYNC: u64 = u64::MAX;
/// Sequence number of the frame the sender writes after its last message:
/// each connection must see it right after message `messages - 1`, so a
/// message repeated or added at the end is caught, not only one in between.
const END: u64 = u64::MAX - 1;
pub(crate) const WAIT: Duration = Duration::from_secs(60);
/// How long an echo run waits, after its time is up, for the echoes of the
/// messages still in flight.
const DRAIN_WAIT: Duration = Duration::from_secs(10);

/// Maps an I/O error to a message naming what failed.
pub(crate) fn err(what: &'static str) -> impl Fn(io::Error) -> String {
    move |e| format!("{what}: {e}")
}

pub(crate) fn frame(seq: u64, stamp: u64) -> [u8; FRAME] {
    let mut f = [0u8; FRAME];
    f[..4].copy_from_slice(&(PAYLOAD as u32).to_be_bytes());
    f[4..12].copy_from_slice(&seq.to_be_bytes());
    f[12..20].copy_from_slice(&stamp.to_be_bytes());
    f
}

/// A fan-out frame: `seq`, then seven words derived from it, so that a
/// payload corrupted, cut or spliced from two messages is caught by the
/// receivers, not only a wrong sequence number.
fn fanout_frame(seq: u64) -> [u8; FRAME] {
    let mut f = [0u8; FRAME];
    f[..4].copy_from_slice(&(PAYLOAD as u32).to_be_bytes());
    f[4..12].copy_from_slice(&seq.to_be_bytes());
    for k in 1..PAYLOAD / 8 {
        let w = seq ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        f[4 + 8 * k..12 + 8 * k].copy_from_slice(&w.to_be_bytes());
    }
    f
}

fn field(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn connect(addr: SocketAddr) -> io::Result<mio::net::TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    s.set_nodelay(true)?;
    s.set_nonblocking(true)?;
    Ok(mio::net::TcpStream::from_std(s))
}

/// Calls `f` with the payload of every whole frame at the start of `buf`;
/// returns how many bytes those frames took.
fn frames_in(buf: &[u8], f: &mut impl FnMut(&[u8]) -> Result<(), String>) -> Result<usize, String> {
    let mut at = 0;
    while buf.len() - at >= 4 {
        let len = u32::from_be_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
        if len != PAYLOAD {
            return Err(format!("unexpected frame length {len}"));
        }
        if buf.len() - at < 4 + len {
            break;
        }
        f(&buf[at + 4..at + 4 + len])?;
        at += 4 + len;
    }
    Ok(at)
}

/// Reads what is available and hands every whole frame's payload to `f`.
/// Frames are parsed straight from the read buffer; only a frame cut by the
/// end of a read waits in `pending`. Stops at a short read (the socket is
/// drained; with edge-triggered polling new data brings a new edge), so the
/// generator spends no `read` on `EAGAIN`. `Ok(false)` on EOF.
fn read_frames(
    s: &mut mio::net::TcpStream,
    pending: &mut Vec<u8>,
    scratch: &mut [u8],
    mut f: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<bool, String> {
    loop {
        let n = match s.read(scratch) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read: {e}")),
        };
        let data = &scratch[..n];
        if pending.is_empty() {
            let used = frames_in(data, &mut f)?;
            pending.extend_from_slice(&data[used..]);
        } else {
            pending.extend_from_slice(data);
            let used = frames_in(pending, &mut f)?;
            pending.drain(..used);
        }
        if n < scratch.len() {
            return Ok(true);
        }
    }
}

/// Result of a fan-out run.
#[derive(Debug, Clone, Copy)]
pub struct Fanout {
    /// Wall time from the first message sent to the last one received.
    pub secs: f64,
    /// Messages × receivers / time.
    pub deliveries_per_sec: f64,
    /// Framed bytes delivered per second, in MB (10⁶).
    pub mb_per_sec: f64,
}

/// One sender sends `messages` frames; every one of `receivers` must get all
/// of them in order, and nothing else: sync frames only before the first
/// message, and an end frame, which the sender writes after the last one
/// (and which is waited for after the clock stopped), right after it.
/// `self_delivery`: the server also sends each frame back
/// to the sender (tcphub/tokio relays do; `ncat --broker` does not). The
/// sender stays at most `window` frames ahead of the slowest receiver, so
/// no server needs more than `window` frames queued per client.
/// `check_payload`: every byte of every payload is checked too, not only
/// its length and sequence number (the smoke test does; it costs the
/// single receiving thread a third of its fan-out rate, so the timed runs
/// leave it out).
pub fn fanout(
    addr: SocketAddr,
    receivers: usize,
    messages: u64,
    self_delivery: bool,
    window: u64,
    check_payload: bool,
) -> Result<Fanout, String> {
    let mut poll = Poll::new().map_err(err("poll"))?;
    let mut conns: Vec<mio::net::TcpStream> = Vec::with_capacity(receivers + 1);
    for _ in 0..receivers {
        conns.push(connect(addr).map_err(err("connect receiver"))?);
    }
    let sender_std = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(err("connect sender"))?;
    sender_std.set_nodelay(true).map_err(err("nodelay"))?;
    let mut sender_w = sender_std.try_clone().map_err(err("clone"))?;
    sender_std
        .set_nonblocking(true)
        .map_err(err("nonblocking"))?;
    conns.push(mio::net::TcpStream::from_std(sender_std));
    let n = conns.len();
    for (i, c) in conns.iter_mut().enumerate() {
        poll.registry()
            .register(c, Token(i), Interest::READABLE)
            .map_err(err("register"))?;
    }
    let expect: Vec<u64> = (0..n)
        .map(|i| {
            if i < receivers || self_delivery {
                messages
            } else {
                0
            }
        })
        .collect();

    let min_done = Arc::new(AtomicU64::new(0));
    let synced = Arc::new(AtomicBool::new(false));
    let abort = Arc::new(AtomicBool::new(false));
    let started = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let sender = {
        let (min_done, synced, abort, started) = (
            min_done.clone(),
            synced.clone(),
            abort.clone(),
            started.clone(),
        );
        std::thread::spawn(move || -> Result<(), String> {
            // Announce ourselves until every receiver is known to the server.
            let deadline = Instant::now() + WAIT;
            while !synced.load(Ordering::Acquire) {
                if abort.load(Ordering::Acquire) || Instant::now() > deadline {
                    return Err("receivers never saw the sync frames".into());
                }
                write_blocking(&mut sender_w, &fanout_frame(SYNC))?;
                std::thread::sleep(Duration::from_millis(20));
            }
            *started.lock().expect("lock") = Some(Instant::now());
            let mut sent = 0u64;
            let mut batch = Vec::with_capacity(FRAME * 256);
            while sent < messages {
                let allowed = (min_done.load(Ordering::Acquire) + window).min(messages);
                if allowed <= sent {
                    if abort.load(Ordering::Acquire) {
                        return Err("aborted".into());
                    }
                    // Sleep, not `yield_now`: spinning on `sched_yield`
                    // took a good share of a core from the server under
                    // test on a 2-core host. The window is thousands of
                    // frames ahead, far more than a short nap lets drain.
                    std::thread::sleep(Duration::from_micros(20));
                    continue;
                }
                let upto = allowed.min(sent + 256);
                batch.clear();
                for s in sent..upto {
                    batch.extend_from_slice(&fanout_frame(s));
                }
                write_blocking(&mut sender_w, &batch)?;
                sent = upto;
            }
            write_blocking(&mut sender_w, &fanout_frame(END))
        })
    };

    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); n];
    let mut got = vec![0u64; n];
    let mut seen_sync = vec![false; n];
    // Whether each connection got the end frame: expected wherever the
    // messages are (the clock stops before, when they are all in).
    let mut ended: Vec<bool> = expect.iter().map(|&e| e == 0).collect();
    let mut end = None::<Instant>;
    let mut nsynced = 0;
    let mut scratch = vec![0u8; 256 * 1024];
    let mut events = Events::with_capacity(1024);
    let deadline = Instant::now() + WAIT.max(Duration::from_secs(messages / 20_000 + 1));
    let result = (|| -> Result<(), String> {
        loop {
            if end.is_none()
                && got.iter().zip(&expect).all(|(g, e)| g == e)
                && synced.load(Ordering::Acquire)
            {
                end = Some(Instant::now());
            }
            if end.is_some() && ended.iter().all(|&e| e) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(match end {
                    None => format!(
                        "timed out: slowest receiver has {} of {messages}",
                        got[..receivers].iter().min().unwrap_or(&0)
                    ),
                    Some(_) => "timed out waiting for the end frame".into(),
                });
            }
            poll.poll(&mut events, Some(Duration::from_millis(100)))
                .map_err(err("poll"))?;
            for ev in events.iter() {
                let i = ev.token().0;
                let (g, s, fin, want) = (&mut got[i], &mut seen_sync[i], &mut ended[i], expect[i]);
                let open = read_frames(&mut conns[i], &mut bufs[i], &mut scratch, |p| {
                    let seq = field(p, 0);
                    if *fin {
                        let when = if want == 0 {
                            "where none was due"
                        } else {
                            "after the end frame"
                        };
                        return Err(format!("connection {i}: got message {seq} {when}"));
                    }
                    if seq == SYNC && *g > 0 {
                        // The sender wrote every sync frame before its
                        // first message: one now was reordered or added.
                        return Err(format!(
                            "connection {i}: a sync frame after message {}",
                            *g - 1
                        ));
                    }
                    if seq == END {
                        if *g != want {
                            return Err(format!(
                                "connection {i}: the end frame after {} of {want} messages",
                                *g
                            ));
                        }
                        *fin = true;
                        return Ok(());
                    }
                    if seq == SYNC {
                        // Only the receivers count: the sender's own sync
                        // frame coming back says nothing about them.
                        if !*s && i < receivers {
                            *s = true;
                            nsynced += 1;
                        }
                        return Ok(());
                    }
                    if seq != *g {
                        return Err(format!(
                            "connection {i}: got message {seq}, expected {}",
                            *g
                        ));
                    }
                    if check_payload && p != &fanout_frame(seq)[4..] {
                        return Err(format!(
                            "connection {i}: message {seq} arrived with a corrupted payload"
                        ));
                    }
                    *g += 1;
                    Ok(())
                })?;
                if !open {
                    return Err(format!(
                        "connection {i} closed by the server after {} messages",
                        got[i]
                    ));
                }
            }
            if nsynced >= receivers && !synced.load(Ordering::Acquire) {
                synced.store(true, Ordering::Release);
            }
            let min = got[..receivers].iter().copied().min().unwrap_or(messages);
            let min = if self_delivery {
                min.min(got[receivers])
            } else {
                min
            };
            min_done.store(min, Ordering::Release);
        }
    })();
    if result.is_err() {
        abort.store(true, Ordering::Release);
    }
    let sent = sender.join().map_err(|_| "sender panicked".to_string())?;
    result?;
    sent?;
    let start = started.lock().expect("lock").ok_or("never started")?;
    let end = end.ok_or("never finished")?;
    let secs = end.duration_since(start).as_secs_f64();
    let deliveries = messages as f64 * receivers as f64;
    Ok(Fanout {
        secs,
        deliveries_per_sec: deliveries / secs,
        mb_per_sec: deliveries * FRAME as f64 / secs / 1e6,
    })
}

fn write_blocking(s: &mut TcpStream, mut buf: &[u8]) -> Result<(), String> {
    while !buf.is_empty() {
        match s.write(buf) {
            Ok(0) => return Err("sender: connection closed".into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_micros(50))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("sender: {e}")),
        }
    }
    Ok(())
}

/// Result of an echo run.
#[derive(Debug, Clone, Copy)]
pub struct Echo {
    /// Round trips completed per second.
    pub msgs_per_sec: f64,
    /// Round-trip latency percentiles, microseconds.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
}

/// `clients` connections each keep `inflight` messages in flight; after a
/// warm-up, round trips are counted and timed for `duration` (those whose
/// echo is read in that span). Then no more are sent, and every message
/// still in flight must come back (within [`DRAIN_WAIT`]): a client whose
/// echoes stopped would otherwise only be missing from the counts.
pub fn echo(
    addr: SocketAddr,
    clients: usize,
    inflight: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Echo, String> {
    let mut poll = Poll::new().map_err(err("poll"))?;
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut c = connect(addr).map_err(err("connect"))?;
        poll.registry()
            .register(&mut c, Token(i), Interest::READABLE | Interest::WRITABLE)
            .map_err(err("register"))?;
        conns.push(c);
    }
    let t0 = Instant::now();
    let now_ns = || t0.elapsed().as_nanos() as u64;
    let mut out: Vec<VecDeque<u8>> = vec![VecDeque::new(); clients];
    let mut inbuf: Vec<Vec<u8>> = vec![Vec::new(); clients];
    // Every client numbers its messages 0, 1, 2, ... and must get each
    // echo back once, whole and in order (a server that drops, repeats or
    // reorders messages fails the run instead of just slowing it).
    let mut next_send = vec![inflight as u64; clients];
    let mut next_back = vec![0u64; clients];
    for o in out.iter_mut() {
        for s in 0..inflight as u64 {
            o.extend(frame(s, now_ns()));
        }
    }
    let mut hist =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
    let mut scratch = vec![0u8; 64 * 1024];
    let mut events = Events::with_capacity(1024);
    let measure_from = t0 + warmup;
    let end = measure_from + duration;
    let mut count = 0u64;
    for i in 0..clients {
        flush(&mut conns[i], &mut out[i]).map_err(err("write"))?;
    }
    let drain_until = end + DRAIN_WAIT;
    loop {
        let now = Instant::now();
        // From `end` on nothing new is sent (see below): wait for the rest.
        if now >= end && next_back == next_send {
            break;
        }
        if now > drain_until {
            let (i, left) = (0..clients)
                .map(|i| (i, next_send[i] - next_back[i]))
                .max_by_key(|&(_, left)| left)
                .unwrap_or((0, 0));
            return Err(format!(
                "client {i}: {left} echoes never came back (of {} sent)",
                next_send[i]
            ));
        }
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .map_err(err("poll"))?;
        for ev in events.iter() {
            let i = ev.token().0;
            if ev.is_readable() {
                let (o, h, c) = (&mut out[i], &mut hist, &mut count);
                let (next, back) = (&mut next_send[i], &mut next_back[i]);
                let mut arrived: Option<(Instant, u64)> = None;
                let open = read_frames(&mut conns[i], &mut inbuf[i], &mut scratch, |p| {
                    // Taken once per read, after it returned.
                    let (t, ns) = *arrived.get_or_insert_with(|| (Instant::now(), now_ns()));
                    let seq = field(p, 0);
                    if seq != *back || p[16..].iter().any(|&b| b != 0) {
                        return Err(format!(
                            "client {i}: got echo of message {seq} (payload {}), expected {}",
                            if p[16..].iter().all(|&b| b == 0) {
                                "intact"
                            } else {
                                "corrupted"
                            },
                            *back
                        ));
                    }
                    *back += 1;
                    let sent = field(p, 8);
                    if t >= end {
                        // Time is up: neither counted nor followed.
                        return Ok(());
                    }
                    if t >= measure_from {
                        *c += 1;
                        h.saturating_record(((ns.saturating_sub(sent)) / 1000).max(1));
                    }
                    o.extend(frame(*next, ns));
                    *next += 1;
                    Ok(())
                })?;
                if !open {
                    return Err(format!("client {i} closed by the server"));
                }
            }
            flush(&mut conns[i], &mut out[i]).map_err(err("write"))?;
        }
    }
    let secs = duration.as_secs_f64();
    Ok(Echo {
        msgs_per_sec: count as f64 / secs,
        p50_us: hist.value_at_quantile(0.50) as f64,
        p99_us: hist.value_at_quantile(0.99) as f64,
        p999_us: hist.value_at_quantile(0.999) as f64,
    })
}

fn flush(s: &mut mio::net::TcpStream, out: &mut VecDeque<u8>) -> io::Result<()> {
    while !out.is_empty() {
        let (a, _) = out.as_slices();
        match s.write(a) {
            Ok(n) => {
                out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::Mutex;

    /// What a test server does wrong.
    #[derive(Debug, Clone, Copy)]
    enum Fault {
        None,
        /// Relay: connection `n` (in accept order) joins the audience only
        /// 300 ms after it connected.
        LateJoin(usize),
        /// Flips a byte in the middle of message `seq`'s payload.
        Corrupt(u64),
        /// Echo: sends each pair of messages back swapped.
        Swap,
        /// Drops every n-th message a connection sends.
        Drop(u64),
        /// Echo: the first connection accepted gets no reply after its
        /// first `n` (the others are served on).
        Starve(u64),
        /// Relay: sends message `seq` to everyone a second time, 300 ms
        /// later (after the receivers may have counted every message).
        RepeatLate(u64),
        /// Relay: sends a stray sync frame to everyone after message `seq`
        /// (a sync frame the sender wrote before any message, overtaken).
        SyncAfter(u64),
    }

    /// A relay (every frame to every connection, its sender included) or
    /// echo server, a thread per connection, that does `fault`.
    fn faulty_server(relay: bool, fault: Fault) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let audience: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        std::thread::spawn(move || {
            for (n, s) in l.incoming().enumerate() {
                let Ok(s) = s else { return };
                let audience = audience.clone();
                std::thread::spawn(move || serve_one(n, s, relay, fault, audience));
            }
        });
        addr
    }

    fn serve_one(
        n: usize,
        mut s: TcpStream,
        relay: bool,
        fault: Fault,
        audience: Arc<Mutex<Vec<TcpStream>>>,
    ) {
        let _ = s.set_nodelay(true);
        if relay {
            let w = s.try_clone().expect("clone");
            if matches!(fault, Fault::LateJoin(k) if k == n) {
                let audience = audience.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(300));
                    audience.lock().expect("lock").push(w);
                });
            } else {
                audience.lock().expect("lock").push(w);
            }
        }
        let (mut f, mut held, mut count) = ([0u8; FRAME], None::<[u8; FRAME]>, 0u64);
        while s.read_exact(&mut f).is_ok() {
            count += 1;
            if matches!(fault, Fault::Corrupt(seq) if field(&f, 4) == seq) {
                f[40] ^= 0xff;
            }
            let mut out = f.to_vec();
            match fault {
                Fault::Drop(every) if count % every == 0 => continue,
                Fault::Starve(after) if n == 0 && count > after => continue,
                Fault::Swap => match held.take() {
                    None => {
                        held = Some(f);
                        continue;
                    }
                    Some(h) => out.extend_from_slice(&h),
                },
                _ => {}
            }
            if relay {
                let seq = field(&f, 4);
                for w in audience.lock().expect("lock").iter_mut() {
                    let _ = w.write_all(&out);
                }
                if matches!(fault, Fault::RepeatLate(at) if at == seq) {
                    std::thread::sleep(Duration::from_millis(300));
                    for w in audience.lock().expect("lock").iter_mut() {
                        let _ = w.write_all(&out);
                    }
                }
                if matches!(fault, Fault::SyncAfter(at) if at == seq) {
                    for w in audience.lock().expect("lock").iter_mut() {
                        let _ = w.write_all(&fanout_frame(SYNC));
                    }
                }
            } else if s.write_all(&out).is_err() {
                return;
            }
        }
    }

    fn fanout_through(fault: Fault) -> Result<Fanout, String> {
        fanout(faulty_server(true, fault), 20, 2_000, true, 500, true)
    }

    fn echo_from(fault: Fault) -> Result<Echo, String> {
        echo(
            faulty_server(false, fault),
            10,
            4,
            Duration::from_millis(100),
            Duration::from_millis(300),
        )
    }

    #[test]
    fn fanout_passes_a_correct_relay() {
        fanout_through(Fault::None).expect("a correct relay passes");
    }

    #[test]
    fn fanout_waits_until_every_receiver_is_in_the_audience() {
        // The last receiver joins late: the sender must not start before
        // it does (its own sync frame coming back is no proof).
        fanout_through(Fault::LateJoin(19)).expect("the late receiver gets everything");
    }

    #[test]
    fn fanout_fails_on_a_corrupted_payload() {
        let e = fanout_through(Fault::Corrupt(1_000)).expect_err("corruption is caught");
        assert!(
            e.contains("message 1000 arrived with a corrupted payload"),
            "{e}"
        );
    }

    #[test]
    fn fanout_fails_on_a_dropped_message() {
        let e = fanout_through(Fault::Drop(700)).expect_err("a drop is caught");
        assert!(e.contains("expected"), "{e}");
    }

    #[test]
    fn fanout_fails_on_a_repeated_last_message() {
        // The repeat comes after every receiver counted all 2,000: only a
        // check that nothing follows the last message catches it.
        let e = fanout_through(Fault::RepeatLate(1_999)).expect_err("a repeat is caught");
        assert!(e.contains("got message 1999"), "{e}");
    }

    #[test]
    fn fanout_fails_on_a_sync_frame_among_the_messages() {
        let e = fanout_through(Fault::SyncAfter(100)).expect_err("a stray frame is caught");
        assert!(e.contains("sync frame after message"), "{e}");
    }

    #[test]
    fn echo_passes_a_correct_server() {
        assert!(
            echo_from(Fault::None)
                .expect("a correct echo passes")
                .msgs_per_sec
                > 0.0
        );
    }

    #[test]
    fn echo_fails_when_a_client_is_starved() {
        // One client's echoes stop: its round trips are not in the counts
        // or the histogram, so only a check at the end can tell.
        let e = echo_from(Fault::Starve(2)).expect_err("a starved client is caught");
        assert!(e.contains("never came back"), "{e}");
    }

    #[test]
    fn echo_fails_on_reordered_replies() {
        let e = echo_from(Fault::Swap).expect_err("reordering is caught");
        assert!(e.contains("got echo of message 1"), "{e}");
    }

    #[test]
    fn echo_fails_on_a_dropped_reply() {
        let e = echo_from(Fault::Drop(50)).expect_err("a drop is caught");
        assert!(e.contains("expected"), "{e}");
    }

    #[test]
    fn echo_fails_on_a_corrupted_reply() {
        let e = echo_from(Fault::Corrupt(20)).expect_err("corruption is caught");
        assert!(e.contains("corrupted"), "{e}");
    }
}
