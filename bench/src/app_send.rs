//! `tcphub-bench app-send`: what application threads' sends cost — the path
//! a `main` loop, a worker or a pull-mode consumer takes, as opposed to a
//! relay's callbacks, which `fanout` measures. The server runs in this
//! process; `threads` application threads each send `messages` 64-byte
//! frames, with `send_all` (`Mode::All`), with `send` to each client in
//! turn (`Mode::Each`, a relay written by hand) or with one `send_many`
//! naming them all (`Mode::Many`, a topic's subscribers), to `receivers` plain TCP
//! clients, each read by a thread of its own that checks every sender's
//! messages arrive complete and in order.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tcphub::{ClientId, Framing, ServerHandle, TcpServer};

/// Payload bytes per message (the 4-byte length prefix comes on top).
const PAYLOAD: usize = 64;

/// How the application threads address the receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One `send_all` per message.
    All,
    /// One `send` per receiver and message, receivers in turn.
    Each,
    /// One `send_many` naming every receiver per message.
    Many,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "all" => Ok(Mode::All),
            "each" => Ok(Mode::Each),
            "many" => Ok(Mode::Many),
            _ => Err(format!("unknown mode {s:?} (all, each, many)")),
        }
    }
}

/// One run's result.
#[derive(Debug, Clone, Copy)]
pub struct AppSend {
    /// Messages delivered to all receivers per second (sent × receivers / time).
    pub deliveries_per_sec: f64,
    /// Seconds from the first send until every receiver had everything.
    pub secs: f64,
}

/// Runs once: `threads` × `messages` to each of `receivers`. With
/// `callbacks`, the senders are not application threads but `threads`
/// publisher connections, each writing its `messages` frames, and the
/// server's `on_message` sends each one on as `mode` says (`All`: to
/// everyone but its publisher) — a relay's or a pub/sub hub's path.
pub fn run(
    mode: Mode,
    threads: usize,
    messages: u64,
    receivers: usize,
    callbacks: bool,
) -> Result<AppSend, String> {
    // The receivers' ids, set once they are connected (before any publisher).
    let audience: Arc<OnceLock<Vec<ClientId>>> = Arc::default();
    let heard = audience.clone();
    let mut server = TcpServer::new(0, receivers + threads + 1)
        .bind("127.0.0.1".parse().expect("ip"))
        .framing(Framing::length_prefixed())
        // Nobody is cut off as a slow consumer: what is measured is the
        // senders' path, and every message must arrive.
        .max_queue_bytes(1 << 30);
    if callbacks {
        server = server.on_message(move |srv, from, msg| {
            let ids = heard.get().map_or(&[][..], Vec::as_slice);
            let _ = send(srv, mode, ids, msg, Some(from.id));
        });
    }
    let server = server.start().map_err(|e| format!("start: {e}"))?;
    let addr = server.local_addr();
    let readers = (0..receivers)
        .map(|_| reader(addr, threads, messages))
        .collect::<Result<Vec<_>, _>>()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.client_count() < receivers {
        if Instant::now() > deadline {
            return Err("the receivers never connected".into());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let ids: Vec<ClientId> = server.clients().iter().map(|c| c.id).collect();
    audience.set(ids.clone()).expect("set once");
    let start = Instant::now();
    let senders: Vec<_> = (0..threads)
        .map(|t| {
            let server = server.clone();
            let ids = ids.clone();
            std::thread::spawn(move || -> Result<(), String> {
                let mut msg = [0u8; PAYLOAD];
                msg[..4].copy_from_slice(&(t as u32).to_be_bytes());
                if callbacks {
                    return publish(addr, &mut msg, messages);
                }
                for seq in 0..messages {
                    msg[4..12].copy_from_slice(&seq.to_be_bytes());
                    send(&server, mode, &ids, &msg, None)?;
                }
                Ok(())
            })
        })
        .collect();
    for s in senders {
        s.join().map_err(|_| "a sender panicked".to_string())??;
    }
    for r in readers {
        r.join().map_err(|_| "a receiver panicked".to_string())??;
    }
    let secs = start.elapsed().as_secs_f64();
    server.stop();
    let sent = threads as f64 * messages as f64;
    Ok(AppSend {
        deliveries_per_sec: sent * receivers as f64 / secs,
        secs,
    })
}

/// One message to the receivers `ids` as `mode` says (`All` leaves out
/// `from`, the publisher, when there is one).
fn send(
    server: &ServerHandle,
    mode: Mode,
    ids: &[ClientId],
    msg: &[u8],
    from: Option<ClientId>,
) -> Result<(), String> {
    match mode {
        Mode::All => match from {
            Some(id) => server.try_send_all_except(id, msg).map(drop),
            None => server.try_send_all(msg).map(drop),
        },
        Mode::Each => ids.iter().try_for_each(|&id| server.send(id, msg)),
        Mode::Many => server.try_send_many(ids, msg).map(drop),
    }
    .map_err(|e| e.to_string())
}

/// A publisher: connects to the server and writes `messages` frames of
/// `msg` (its sender number already in), numbered, in 64 KiB writes; what
/// the server sends it (other publishers' messages under `All`) is read
/// and dropped.
fn publish(addr: SocketAddr, msg: &mut [u8; PAYLOAD], messages: u64) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let mut drain = s.try_clone().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        let mut sink = [0u8; 1 << 16];
        while matches!(drain.read(&mut sink), Ok(n) if n > 0) {}
    });
    let mut batch = Vec::with_capacity(1 << 16);
    for seq in 0..messages {
        msg[4..12].copy_from_slice(&seq.to_be_bytes());
        batch.extend_from_slice(&(PAYLOAD as u32).to_be_bytes());
        batch.extend_from_slice(&msg[..]);
        if batch.len() + 4 + PAYLOAD > 1 << 16 || seq + 1 == messages {
            s.write_all(&batch).map_err(|e| format!("write: {e}"))?;
            batch.clear();
        }
    }
    // Left open until the receivers have everything (closing would be
    // fine too: the server hands out what it read first).
    std::mem::forget(s);
    Ok(())
}

type Reader = std::thread::JoinHandle<Result<(), String>>;

/// A receiver: reads until it has every sender's `messages` frames, each
/// sender's in order.
fn reader(addr: SocketAddr, threads: usize, messages: u64) -> Result<Reader, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    Ok(std::thread::spawn(move || {
        let frame = 4 + PAYLOAD;
        let mut next = vec![0u64; threads];
        let mut left = threads as u64 * messages;
        let mut buf = vec![0u8; 1 << 16];
        let mut have = 0;
        while left > 0 {
            let n = s.read(&mut buf[have..]).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err(format!("closed with {left} messages to come"));
            }
            have += n;
            let mut at = 0;
            while have - at >= frame {
                let f = &buf[at..at + frame];
                if f[..4] != (PAYLOAD as u32).to_be_bytes() {
                    return Err("a frame of the wrong length".into());
                }
                let t = u32::from_be_bytes(f[4..8].try_into().expect("4")) as usize;
                let seq = u64::from_be_bytes(f[8..16].try_into().expect("8"));
                match next.get_mut(t) {
                    Some(want) if *want == seq => *want += 1,
                    _ => return Err(format!("sender {t}: got {seq} out of order")),
                }
                left -= 1;
                at += frame;
            }
            buf.copy_within(at..have, 0);
            have -= at;
        }
        Ok(())
    }))
}
