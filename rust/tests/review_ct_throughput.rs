//! Review (ct): what the control flag (`LoopRemote::control`) costs an echo
//! when another thread pauses and resumes a different, idle client of the
//! same loop in a tight loop (the flag set almost all the time: each read
//! of the echoing client pumps first, and stashes what it read). A
//! measurement, not a check: `#[ignore]`d, run by hand in release mode
//! (`cargo test --release --test review_ct_throughput -- --ignored --nocapture`).

mod support;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::{localhost, Peer};
use tcphub::{Framing, TcpServer};

const LINE: &[u8] = b"0123456789abcdef0123456789abcde\n"; // 32 bytes
const WINDOW: u64 = 64 * 1024;

/// Echoed lines per second over `secs`, with or without a thread pausing
/// and resuming an idle client (`Some(pace)`: sleeping `pace` between).
fn echo_rate(hammer: Option<Duration>, secs: u64) -> (f64, u64, u64) {
    let server = TcpServer::new(0, 100)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(1)
        .on_message(|srv, c, m| {
            let _ = srv.send(c.id, m);
        })
        .start()
        .unwrap();
    let idle = Peer::connect(server.local_addr());
    let idle_id = idle.id_on(&server);
    let peer = Peer::connect(server.local_addr());
    let _ = peer.id_on(&server);
    let done = Arc::new(AtomicBool::new(false));
    let toggles = Arc::new(AtomicU64::new(0));
    let h = hammer.map(|pace| {
        let (server, done, toggles) = (server.clone(), done.clone(), toggles.clone());
        thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                server.pause_client(idle_id).unwrap();
                server.resume_client(idle_id).unwrap();
                toggles.fetch_add(1, Ordering::Relaxed);
                if !pace.is_zero() {
                    thread::sleep(pace);
                }
            }
        })
    });
    let got = Arc::new(AtomicU64::new(0));
    let mut rd = peer.stream.try_clone().unwrap();
    rd.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let reader = {
        let (got, done) = (got.clone(), done.clone());
        thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !done.load(Ordering::Acquire) {
                if let Ok(n) = rd.read(&mut buf) {
                    got.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        })
    };
    let mut wr = peer.stream.try_clone().unwrap();
    let batch: Vec<u8> = LINE.repeat(256);
    let start = Instant::now();
    let mut sent = 0u64;
    let mut at_start = None;
    while start.elapsed() < Duration::from_secs(secs + 1) {
        if at_start.is_none() && start.elapsed() >= Duration::from_secs(1) {
            at_start = Some((Instant::now(), got.load(Ordering::Relaxed)));
        }
        if sent - got.load(Ordering::Relaxed) > WINDOW {
            thread::yield_now();
            continue;
        }
        wr.write_all(&batch).unwrap();
        sent += batch.len() as u64;
    }
    let (t0, g0) = at_start.unwrap();
    let rate =
        (got.load(Ordering::Relaxed) - g0) as f64 / LINE.len() as f64 / t0.elapsed().as_secs_f64();
    let rss = support::rss_kib();
    done.store(true, Ordering::Release);
    if let Some(h) = h {
        h.join().unwrap();
    }
    reader.join().unwrap();
    drop(idle);
    server.stop();
    (rate, toggles.load(Ordering::Relaxed), rss)
}

#[test]
#[ignore]
fn echo_rate_with_and_without_a_pausing_thread() {
    for _ in 0..3 {
        let (plain, _, _) = echo_rate(None, 3);
        let (paced, paced_toggles, _) = echo_rate(Some(Duration::from_micros(20)), 3);
        let (hammered, toggles, rss) = echo_rate(Some(Duration::ZERO), 3);
        println!(
            "echo lines/s: alone {plain:.0}; with pause+resume of an idle client every 20 us {paced:.0} ({paced_toggles} toggles in 4 s); in a tight loop {hammered:.0} ({toggles} toggles, RSS then {rss} KiB)"
        );
    }
}
