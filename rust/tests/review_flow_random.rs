//! Randomized flow-control combinations: pause_client/resume_client from
//! callbacks and another thread, pause_input/resume_input, kicks; per-client
//! order and completeness checked on both sides.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::localhost;
use tcphub::{ClientId, DisconnectReason, Event, Framing, TcpServer};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

#[derive(Debug, Clone)]
enum Rec {
    Msg(String),
    Gone(DisconnectReason),
}

type Log = Arc<Mutex<HashMap<ClientId, Vec<Rec>>>>;

/// One peer: sends `k:i` lines, then half-closes; reads replies to EOF.
fn peer(
    addr: std::net::SocketAddr,
    k: usize,
    m: usize,
    seed: u64,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut rng = Rng(seed);
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut w = s.try_clone().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut r = BufReader::new(s);
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) => got.push(line.trim_end().to_string()),
                    Err(e) => {
                        got.push(format!("ERR {e}"));
                        break;
                    }
                }
            }
            got
        });
        let mut i = 0;
        while i < m {
            let n = 1 + rng.below(50) as usize;
            let mut buf = String::new();
            for _ in 0..n.min(m - i) {
                buf.push_str(&format!("{k}:{i}\n"));
                i += 1;
            }
            w.write_all(buf.as_bytes()).unwrap();
            if rng.below(4) == 0 {
                std::thread::sleep(Duration::from_micros(rng.below(3000)));
            }
        }
        w.shutdown(Shutdown::Write).unwrap();
        reader.join().unwrap()
    })
}

fn run_callback_mode(seed: u64, with_input_pause: bool) {
    eprintln!("seed {seed}");
    const N: usize = 6;
    const M: usize = 3000;
    let log: Log = Default::default();
    let (l1, l2) = (log.clone(), log.clone());
    let cb_seed = AtomicU64::new(seed ^ 0x9e37);
    let server = TcpServer::new(0, 50)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .on_message(move |srv, c, msg| {
            l1.lock()
                .unwrap()
                .entry(c.id)
                .or_default()
                .push(Rec::Msg(String::from_utf8_lossy(msg).into_owned()));
            srv.send(c.id, msg).unwrap();
            let mut r = Rng(cb_seed.load(Ordering::Relaxed));
            let x = r.below(100);
            cb_seed.store(r.0, Ordering::Relaxed);
            if x < 2 {
                srv.pause_client(c.id).unwrap();
            } else if x == 2 {
                srv.resume_client(c.id).unwrap();
            }
        })
        .on_disconnect(move |_srv, c, why| {
            l2.lock()
                .unwrap()
                .entry(c.id)
                .or_default()
                .push(Rec::Gone(why.clone()));
        })
        .start()
        .unwrap();
    let addr = server.local_addr();
    let peers: Vec<_> = (0..N)
        .map(|k| peer(addr, k, M, seed.wrapping_add(k as u64 * 7919)))
        .collect();
    // The controller.
    let done = Arc::new(AtomicBool::new(false));
    let ctl = {
        let server = server.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut rng = Rng(seed ^ 0x1234_5678);
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(1500) {
                let ids: Vec<ClientId> = server.clients().iter().map(|c| c.id).collect();
                if !ids.is_empty() {
                    let id = ids[rng.below(ids.len() as u64) as usize];
                    match rng.below(10) {
                        0..=3 => {
                            let _ = server.pause_client(id);
                        }
                        4..=7 => {
                            let _ = server.resume_client(id);
                        }
                        8 if with_input_pause => server.pause_input(),
                        _ => server.resume_input(),
                    }
                }
                std::thread::sleep(Duration::from_micros(rng.below(2000)));
            }
            // Let everyone finish.
            while !done.load(Ordering::Relaxed) {
                server.resume_input();
                for c in server.clients() {
                    let _ = server.resume_client(c.id);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let got: Vec<Vec<String>> = peers.into_iter().map(|p| p.join().unwrap()).collect();
    let ok = support::try_wait_until(Duration::from_secs(10), || {
        let l = log.lock().unwrap();
        l.len() == N && l.values().all(|v| matches!(v.last(), Some(Rec::Gone(_))))
    });
    done.store(true, Ordering::Relaxed);
    ctl.join().unwrap();
    assert!(
        ok,
        "not every client reported gone: {:?}",
        log.lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (*k, v.len(), v.last().cloned()))
            .collect::<Vec<_>>()
    );
    {
        let l = log.lock().unwrap();
        for (id, recs) in l.iter() {
            let n = recs.iter().filter(|r| matches!(r, Rec::Msg(_))).count();
            eprintln!("client {id}: {n} msgs, last {:?}", recs.last());
        }
        eprintln!("stats {:?}", server.stats());
    }
    // Peer side: all echoes in order.
    for (k, g) in got.iter().enumerate() {
        let want: Vec<String> = (0..M).map(|i| format!("{k}:{i}")).collect();
        if g != &want {
            let first = g.iter().zip(&want).position(|(a, b)| a != b);
            panic!(
                "seed {seed}: peer {k} got {} echoes, first mismatch at {first:?}: {:?}",
                g.len(),
                first
                    .map(|i| (&g[i], &want[i]))
                    .or(g.last().map(|x| (x, &want[0])))
            );
        }
    }
    // Server side.
    let l = log.lock().unwrap();
    for (id, recs) in l.iter() {
        let msgs: Vec<&String> = recs
            .iter()
            .filter_map(|r| if let Rec::Msg(m) = r { Some(m) } else { None })
            .collect();
        let gones: Vec<usize> = recs
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r, Rec::Gone(_)))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            gones,
            vec![recs.len() - 1],
            "seed {seed}: client {id}: one Gone, last: {:?}",
            recs.last()
        );
        assert!(
            matches!(recs.last(), Some(Rec::Gone(DisconnectReason::ClosedByPeer))),
            "{:?}",
            recs.last()
        );
        let k: usize = msgs[0].split(':').next().unwrap().parse().unwrap();
        let want: Vec<String> = (0..M).map(|i| format!("{k}:{i}")).collect();
        assert!(
            msgs.iter()
                .map(|s| s.as_str())
                .eq(want.iter().map(|s| s.as_str())),
            "seed {seed}: client {id} order"
        );
    }
    let st = server.stats();
    assert_eq!(st.msgs_in, (N * M) as u64, "{st:?}");
    assert_eq!(st.msgs_out, (N * M) as u64, "{st:?}");
    assert_eq!(st.disconnected, N as u64, "{st:?}");
    assert_eq!(st.clients, 0);
    server.stop();
}

#[test]
fn random_pause_resume_callback_mode() {
    let s = seed();
    for i in 0..4 {
        run_callback_mode(s.wrapping_add(i), false);
    }
}

#[test]
fn random_pause_resume_and_input_pause_callback_mode() {
    let s = seed();
    for i in 0..4 {
        run_callback_mode(s.wrapping_add(i * 31), true);
    }
}

fn run_pull_mode(seed: u64, cap: usize) {
    eprintln!("pull seed {seed}");
    const N: usize = 5;
    const M: usize = 2000;
    let server = TcpServer::new(0, 50)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(2)
        .event_capacity(cap)
        .start()
        .unwrap();
    let events = server.events();
    let addr = server.local_addr();
    let peers: Vec<_> = (0..N)
        .map(|k| peer(addr, k, M, seed.wrapping_add(k as u64 * 7919)))
        .collect();
    let mut rng = Rng(seed ^ 0xabcdef);
    let mut log: HashMap<ClientId, Vec<Rec>> = HashMap::new();
    let mut connected: Vec<ClientId> = Vec::new();
    let mut gone = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    let start = Instant::now();
    while gone < N {
        assert!(
            Instant::now() < deadline,
            "seed {seed}: stuck, gone {gone}: {:?}",
            log.iter().map(|(k, v)| (*k, v.len())).collect::<Vec<_>>()
        );
        let chaos = start.elapsed() < Duration::from_millis(1500);
        if !chaos {
            for &id in &connected {
                let _ = server.resume_client(id);
            }
            server.resume_input();
        }
        let ev = match events.recv_timeout(Duration::from_millis(5)) {
            Ok(e) => e,
            Err(_) => {
                if chaos && !connected.is_empty() {
                    let id = connected[rng.below(connected.len() as u64) as usize];
                    let _ = server.resume_client(id);
                }
                continue;
            }
        };
        match ev {
            Event::Connected(c) => {
                connected.push(c.id);
                log.entry(c.id).or_default();
            }
            Event::Message(c, m) => {
                let m = String::from_utf8(m).unwrap();
                let _ = server.send(c.id, m.as_bytes());
                log.entry(c.id).or_default().push(Rec::Msg(m));
            }
            Event::Disconnected(c, why) => {
                // reply still reaches it (held until our next call)
                log.entry(c.id).or_default().push(Rec::Gone(why));
                gone += 1;
            }
        }
        if chaos && !connected.is_empty() {
            let id = connected[rng.below(connected.len() as u64) as usize];
            match rng.below(20) {
                0 => {
                    let _ = server.pause_client(id);
                }
                1 | 2 => {
                    let _ = server.resume_client(id);
                }
                3 if rng.below(10) == 0 => server.pause_input(),
                4 => server.resume_input(),
                _ => {}
            }
        }
    }
    // one more call releases the held ones
    let _ = events.try_recv();
    let got: Vec<Vec<String>> = peers.into_iter().map(|p| p.join().unwrap()).collect();
    for (k, g) in got.iter().enumerate() {
        let want: Vec<String> = (0..M).map(|i| format!("{k}:{i}")).collect();
        if g != &want {
            let first = g.iter().zip(&want).position(|(a, b)| a != b);
            panic!(
                "seed {seed}: peer {k} got {} echoes, first mismatch at {first:?}",
                g.len()
            );
        }
    }
    for (id, recs) in log.iter() {
        assert!(
            matches!(recs.last(), Some(Rec::Gone(DisconnectReason::ClosedByPeer))),
            "seed {seed} {id}: {:?}",
            recs.last()
        );
        let msgs: Vec<&String> = recs
            .iter()
            .filter_map(|r| if let Rec::Msg(m) = r { Some(m) } else { None })
            .collect();
        assert_eq!(msgs.len(), M, "seed {seed} {id}");
        let k: usize = msgs[0].split(':').next().unwrap().parse().unwrap();
        for (i, m) in msgs.iter().enumerate() {
            assert_eq!(**m, format!("{k}:{i}"), "seed {seed} {id}");
        }
    }
    let st = server.stats();
    assert_eq!(st.msgs_in, (N * M) as u64, "{st:?}");
    assert_eq!(st.msgs_out, (N * M) as u64, "{st:?}");
    server.stop();
}

#[test]
fn random_pause_resume_pull_mode() {
    let s = seed();
    for (i, cap) in [1usize, 3, 16, 1000].into_iter().enumerate() {
        run_pull_mode(s.wrapping_add(i as u64 * 101), cap);
    }
}
