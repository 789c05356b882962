//! The vanished-peer watch (`vanish.rs`) against live peers on a path with
//! a transient outage shorter than keepalive's detection time
//! (`idle + 3 × interval`, 5 s for the 2 s idle used here): such a peer
//! must be kept. Each test runs in network namespaces of its own, the peer
//! behind a veth pair that it pulls for a moment (as
//! `keepalive_dead_peer.rs` does for good); they need root and say so and
//! pass without it, unless `TCPHUB_REQUIRE_NETNS` is set.

#![cfg(target_os = "linux")]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::netns::{own_network, ss, Remote, NEAR};
use support::*;
use tcphub::{ServerHandle, TcpServer};

/// The keepalive idle time: probes every 1 s, detection after 5 s.
const IDLE: Duration = Duration::from_secs(2);

/// A veth pair from this thread's namespace to a remote one, a server with
/// keepalive [`IDLE`] on this side (more options by `tune`), and a plain
/// socket connected to it from the remote side, with its client id.
fn over_a_cable(
    tune: impl FnOnce(TcpServer) -> TcpServer,
    gone: &Disconnects,
) -> (Remote, ServerHandle, TcpStream, tcphub::ClientId) {
    let remote = Remote::cable();
    let server = tune(
        TcpServer::new(0, 4)
            .bind(NEAR.parse().unwrap())
            .threads(1)
            .keepalive(IDLE)
            .on_message(|_, _, _| {})
            .on_disconnect(gone.recorder()),
    )
    .start()
    .expect("start");
    let addr: SocketAddr = server.local_addr();
    let peer = remote.connect(addr);
    wait_clients(&server, 1);
    let id = server.clients()[0].id;
    (remote, server, peer, id)
}

/// A live peer on a path that fails for 2.5 s (half the detection time)
/// just as the server sends to it, so the kernel resends in vain a few
/// times: it is kept, and gets the message once the path is back. (The
/// peer streams to the server meanwhile, which sends it nothing before.)
#[test]
fn a_streaming_peer_survives_an_outage_shorter_than_keepalive() {
    if !own_network() {
        return;
    }
    let gone = Disconnects::new();
    let (remote, server, mut peer, id) = over_a_cable(|s| s, &gone);

    // The peer talks, all the time; the server only listens.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writer = peer.try_clone().expect("clone");
    let talking = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if writer.write_all(&[b'x'; 100]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // Longer than the detection time.
    std::thread::sleep(Duration::from_secs(6));
    let before = ss();

    // An outage of 2.5 s (half the detection time) while the server sends.
    remote.path(false);
    let t = Instant::now();
    server.send(id, b"are you there?").expect("send");
    std::thread::sleep(Duration::from_millis(2500));
    remote.path(true);
    let outage = t.elapsed();

    let mut buf = [0u8; 14];
    peer.read_exact(&mut buf)
        .expect("the message after the outage");
    assert_eq!(&buf, b"are you there?");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        gone.all(),
        vec![],
        "a live peer was cut by an outage of {outage:?}; before it: {before}"
    );
    stop.store(true, Ordering::Relaxed);
    talking.join().unwrap();
    server.stop();
}

/// The remaining time of the server's persist (zero-window probe) timer
/// and its probe count, from `ss`.
fn persist_timer() -> Option<(Duration, u32)> {
    let out = ss();
    let at = out.find("timer:(persist,")? + "timer:(persist,".len();
    let rest = &out[at..];
    let (time, rest) = rest.split_once(',')?;
    let count: u32 = rest.split(')').next()?.parse().ok()?;
    // `392ms`, `5.868ms` (seconds, to the millisecond), `11sec`, `1min2sec`.
    let secs = if let Some(ms) = time.strip_suffix("ms") {
        let n = ms.parse::<f64>().ok()?;
        if ms.contains('.') {
            n
        } else {
            n / 1000.0
        }
    } else {
        let mut secs = 0.0;
        let mut t = time;
        if let Some((m, s)) = t.split_once("min") {
            secs += m.parse::<f64>().ok()? * 60.0;
            t = s;
        }
        if let Some(s) = t.strip_suffix("sec") {
            secs += s.parse::<f64>().ok()?;
        }
        secs
    };
    Some((Duration::from_secs_f64(secs), count))
}

/// A live peer that stopped reading (a zero window) for a while, whose
/// path fails for a moment when one of the kernel's window probes goes
/// out: it is kept. Those probes back off to one every few seconds, so
/// the acknowledgement clock is old between them without meaning anything.
#[test]
fn a_zero_window_peer_survives_a_lost_window_probe() {
    if !own_network() {
        return;
    }
    let gone = Disconnects::new();
    let (remote, server, mut peer, id) = over_a_cable(|s| s.max_queue_bytes(64 << 20), &gone);

    let chunk = vec![7u8; 64 << 10];
    let chunks = 128; // 8 MiB: more than the kernel buffers hold
    for _ in 0..chunks {
        server.send(id, &chunk).expect("send");
    }
    // The probes back off (0.2 s, 0.4 s, ...): wait for one due in 2 s or
    // more, then cut the path just before it goes out. (A loaded machine
    // may cut it too late, after the probe was answered: then the next,
    // later probe is tried, up to 3 times.)
    let mut outage = Duration::ZERO;
    let mut before = String::new();
    let mut lost = None;
    for _ in 0..3 {
        let mut timer = None;
        let found = try_wait_until(Duration::from_secs(60), || {
            timer = persist_timer().filter(|(left, _)| *left >= Duration::from_secs(2));
            timer.is_some()
        });
        assert!(found, "no persist timer of 2 s or more: {}", ss());
        let (left, _) = timer.unwrap();
        std::thread::sleep(left - Duration::from_millis(400));
        before = ss();
        remote.path(false);
        let t = Instant::now();
        std::thread::sleep(Duration::from_millis(1500));
        lost = persist_timer().filter(|(_, probes)| *probes >= 1);
        remote.path(true);
        outage = t.elapsed();
        if lost.is_some() {
            break;
        }
    }
    assert!(
        lost.is_some(),
        "no outage lost a window probe in 3 tries (before the last: {before})"
    );
    // Several looks later: the next probe is due only after them.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        gone.all(),
        vec![],
        "a live zero-window peer was cut by an outage of {outage:?}; before it: {before}; now: {}",
        ss()
    );

    // It reads again and gets everything.
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    while got < chunks * chunk.len() {
        let n = peer.read(&mut buf).expect("read");
        assert!(n > 0, "EOF after {got} bytes");
        got += n;
    }
    assert_eq!(gone.all(), vec![]);
    server.stop();
}
