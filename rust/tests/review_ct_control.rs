//! Review (ct) of the loop's control flag (`LoopRemote::control`): a
//! `pause_client` / `disconnect` from another thread holds back (drops)
//! what the client sends after the call returned, while other clients of
//! the same loops flood (their reads are stashed by the flag and re-read
//! from the stash) and a thread pauses and resumes idle clients in a tight
//! loop (the flag set almost all the time). Several loops, callback and
//! pull mode: no message is lost, doubled or reordered, none is handed out
//! early, and `msgs_in` / `bytes_in` count each once.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use support::{localhost, wait_until, Peer};
use tcphub::{ClientId, DisconnectReason, Event, Framing, TcpServer};

/// What the application saw, per client.
#[derive(Default)]
struct Seen {
    /// Next flood sequence number expected, per client.
    flood: HashMap<ClientId, u64>,
    /// Target rounds handed out, per client (in order).
    target: HashMap<ClientId, u64>,
    /// Highest round each target client may be handed (set before its resume).
    allowed: HashMap<ClientId, u64>,
    /// Kicked clients: nothing of theirs may be handed out.
    kicked: HashMap<ClientId, bool>,
    /// Kicked clients whose `Kicked` end was reported.
    ended: HashMap<ClientId, DisconnectReason>,
    /// Messages handed out in all.
    msgs: u64,
    /// Their bytes on the wire (line + newline).
    bytes: u64,
    /// What went wrong, if anything.
    errors: Vec<String>,
}

impl Seen {
    fn message(&mut self, id: ClientId, m: &[u8]) {
        self.msgs += 1;
        self.bytes += m.len() as u64 + 1;
        let s = String::from_utf8_lossy(m).into_owned();
        if let Some(k) = s.strip_prefix('f') {
            let k: u64 = k.parse().unwrap();
            let next = self.flood.entry(id).or_insert(0);
            if k != *next {
                self.errors
                    .push(format!("flood {id}: got {k}, expected {next}"));
            }
            *next = k + 1;
        } else if let Some(r) = s.strip_prefix('t') {
            let r: u64 = r.parse().unwrap();
            let allowed = self.allowed.get(&id).copied();
            if allowed.is_none_or(|a| a < r) {
                self.errors
                    .push(format!("target {id}: round {r} handed out while paused"));
            }
            let next = self.target.entry(id).or_insert(0);
            if r != *next {
                self.errors
                    .push(format!("target {id}: round {r}, expected {next}"));
            }
            *next = r + 1;
        } else if s == "k" {
            self.errors
                .push(format!("kicked {id}: its line handed out after disconnect"));
        } else if s != "hi" {
            self.errors.push(format!("{id}: unexpected {s:?}"));
        }
        if self.kicked.contains_key(&id) {
            self.errors
                .push(format!("kicked {id}: {s:?} handed out after disconnect"));
        }
    }
}

const LOOPS: usize = 3;
const FLOODS: usize = 4;
const TARGETS: usize = 6;
const IDLE: usize = 6;
const ROUNDS: u64 = 60;

fn run(pull: bool) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let idle_for_callbacks: Arc<Mutex<Vec<ClientId>>> = Arc::default();
    let mut builder = TcpServer::new(0, 1000)
        .bind(localhost())
        .framing(Framing::lines())
        .threads(LOOPS);
    if !pull {
        let s = seen.clone();
        let d = seen.clone();
        let toggled = idle_for_callbacks.clone();
        builder = builder
            .on_message(move |srv, c, m| {
                s.lock().unwrap().message(c.id, m);
                // Callbacks (on every loop) pause and resume idle clients
                // too: their own loop's at once, others' through the flag.
                let ids = toggled.lock().unwrap().clone();
                if !ids.is_empty() && m.ends_with(b"7") {
                    let id = ids[m.len() % ids.len()];
                    srv.pause_client(id).unwrap();
                    srv.resume_client(id).unwrap();
                }
            })
            .on_disconnect(move |_, c, why| {
                d.lock().unwrap().ended.insert(c.id, why.clone());
            });
    }
    let server = builder.start().unwrap();
    let stop_events = Arc::new(AtomicBool::new(false));
    let consumer = pull.then(|| {
        let events = server.events();
        let seen = seen.clone();
        let stop = stop_events.clone();
        thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                match events.recv_timeout(std::time::Duration::from_millis(20)) {
                    Ok(Event::Message(c, m)) => seen.lock().unwrap().message(c.id, &m),
                    Ok(Event::Disconnected(c, why)) => {
                        seen.lock().unwrap().ended.insert(c.id, why);
                    }
                    _ => {}
                }
            }
        })
    });

    // Idle clients, paused and resumed in a tight loop by a thread.
    let idle: Vec<Peer> = (0..IDLE)
        .map(|_| Peer::connect(server.local_addr()))
        .collect();
    let idle_ids: Vec<ClientId> = idle.iter().map(|p| p.id_on(&server)).collect();
    *idle_for_callbacks.lock().unwrap() = idle_ids.clone();
    let done = Arc::new(AtomicBool::new(false));
    let toggles = Arc::new(AtomicU64::new(0));
    let hammer = {
        let (server, done, toggles) = (server.clone(), done.clone(), toggles.clone());
        let mut idle = idle;
        thread::spawn(move || {
            let mut sweeps = 0u64;
            while !done.load(Ordering::Acquire) {
                for &id in &idle_ids {
                    server.pause_client(id).unwrap();
                    server.resume_client(id).unwrap();
                    toggles.fetch_add(1, Ordering::Relaxed);
                }
                sweeps += 1;
                // Bounded ahead of the loops (commands are not counted
                // against their backlog bound: review_ct_control_backlog.rs):
                // a line sent to each idle client comes back once its loop
                // has applied the toggles before it.
                if sweeps.is_multiple_of(64) {
                    for (peer, &id) in idle.iter_mut().zip(&idle_ids) {
                        server.send(id, b"s").unwrap();
                        assert_eq!(peer.read_line(), "s");
                    }
                }
            }
            idle
        })
    };

    // Flooders: numbered lines in writes of varying size, until told to end.
    let sent_bytes = Arc::new(AtomicU64::new(0));
    // Flood lines written.
    let lines = Arc::new(AtomicU64::new(0));
    let floods: Vec<_> = (0..FLOODS)
        .map(|i| {
            let mut peer = Peer::connect(server.local_addr());
            let (done, sent_bytes, seen) = (done.clone(), sent_bytes.clone(), seen.clone());
            let lines = lines.clone();
            thread::spawn(move || {
                let mut k = 0u64;
                let mut n = 0u64;
                while !done.load(Ordering::Acquire) {
                    let mut buf = Vec::new();
                    let count = 1 + (k as usize * 7 + i) % 50;
                    for _ in 0..count {
                        buf.extend_from_slice(format!("f{k}\n").as_bytes());
                        k += 1;
                    }
                    peer.stream.write_all(&buf).unwrap();
                    n += buf.len() as u64;
                    // Paced (pull mode accepts nothing while the event
                    // queue is full): at most a few thousand lines ahead.
                    let total = lines.fetch_add(count as u64, Ordering::AcqRel) + count as u64;
                    while !done.load(Ordering::Acquire) && total > seen.lock().unwrap().msgs + 3000
                    {
                        thread::yield_now();
                    }
                }
                sent_bytes.fetch_add(n, Ordering::AcqRel);
                (peer, k)
            })
        })
        .collect();

    let mut targets: Vec<Peer> = (0..TARGETS)
        .map(|_| Peer::connect(server.local_addr()))
        .collect();
    let target_ids: Vec<ClientId> = targets.iter().map(|p| p.id_on(&server)).collect();
    let mut target_bytes = 0u64;
    for round in 0..ROUNDS {
        for (peer, &id) in targets.iter_mut().zip(&target_ids) {
            server.pause_client(id).unwrap();
            let line = format!("t{round}\n");
            peer.send(line.as_bytes());
            target_bytes += line.len() as u64;
        }
        // Let the loops read on meanwhile (the floods go on).
        let at = seen.lock().unwrap().msgs;
        wait_until("floods read on", || seen.lock().unwrap().msgs > at + 50);
        for &id in &target_ids {
            seen.lock().unwrap().allowed.insert(id, round);
            server.resume_client(id).unwrap();
        }
        wait_until("targets' rounds handed out", || {
            let s = seen.lock().unwrap();
            target_ids
                .iter()
                .all(|id| s.target.get(id) == Some(&(round + 1)))
        });
        // A kick with the same race: its line is never handed out.
        let mut k = Peer::connect(server.local_addr());
        let kid = k.id_on(&server);
        seen.lock().unwrap().kicked.insert(kid, true);
        server.disconnect(kid).unwrap();
        let _ = k.stream.write_all(b"k\n");
        wait_until("kick reported", || {
            seen.lock().unwrap().ended.contains_key(&kid)
        });
        assert_eq!(
            seen.lock().unwrap().ended[&kid],
            DisconnectReason::Kicked,
            "round {round}"
        );
        let errors = &seen.lock().unwrap().errors;
        assert!(errors.is_empty(), "round {round}: {errors:?}");
    }

    done.store(true, Ordering::Release);
    let idle = hammer.join().unwrap();
    let floods: Vec<(Peer, u64)> = floods.into_iter().map(|h| h.join().unwrap()).collect();
    let sent: u64 = floods.iter().map(|(_, k)| k).sum();
    wait_until("every flood line handed out", || {
        let s = seen.lock().unwrap();
        s.flood.values().sum::<u64>() == sent
    });
    let s = seen.lock().unwrap();
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    let stats = server.stats();
    // Each read counted once (kicked clients' lines may be read, then dropped).
    let bytes = sent_bytes.load(Ordering::Acquire) + target_bytes;
    assert!(stats.bytes_in >= bytes, "{} < {bytes}", stats.bytes_in);
    assert!(
        stats.bytes_in <= bytes + 2 * ROUNDS,
        "{} > {bytes} + kicks",
        stats.bytes_in
    );
    assert_eq!(stats.msgs_in, s.msgs, "msgs_in counts each message once");
    drop(s);
    eprintln!(
        "toggles of idle clients: {}",
        toggles.load(Ordering::Relaxed)
    );
    stop_events.store(true, Ordering::Release);
    if let Some(c) = consumer {
        c.join().unwrap();
    }
    drop((idle, targets));
    server.stop();
}

/// Callback mode: the checks run in `on_message`, on the loops.
#[test]
fn callbacks_nothing_early_lost_or_doubled_under_control_races() {
    run(false);
}

/// Pull mode: the checks run on a thread taking events.
#[test]
fn pull_nothing_early_lost_or_doubled_under_control_races() {
    run(true);
}
