//! Unit tests of `gather.rs`: the runs of `Gathered` (what each client
//! gets, in order), the review's probes, and a lane race laid out by hand.

/// A pull-mode server on loopback with two loops, for the lanes between them.
fn two_loop_server() -> crate::ServerHandle {
    crate::TcpServer::new(0, 4)
        .bind("127.0.0.1".parse().expect("ip"))
        .threads(2)
        .start()
        .expect("start")
}

mod basics {
    use super::super::*;

    fn to(below: u64) -> Target {
        Target::All(Audience { below, except: 0 })
    }

    /// The commands `g` hands out, in order.
    fn taken(g: &mut Gathered) -> Vec<Command> {
        let mut out = Vec::new();
        g.take_each(|c| out.push(c));
        out
    }

    #[test]
    fn gathers_a_run_for_one_audience_within_the_cap() {
        let framing = Framing::length_prefixed();
        let mut g = Gathered::default();
        assert!(
            taken(&mut g).is_empty(),
            "nothing gathered, nothing to send"
        );
        assert!(g.fits(10, 20));
        g.push(&framing, b"abc", to(5));
        g.push(&framing, b"de", to(5));
        assert!(!g.fits(10, 20), "over the cap");
        assert!(g.fits(10, 40));
        let cmds = taken(&mut g);
        let [Command::Broadcast(run, a)] = &cmds[..] else {
            panic!("one run was gathered");
        };
        assert_eq!(Target::All(*a), to(5));
        assert_eq!(&run.joined[..], b"\0\0\0\x03abc\0\0\0\x02de");
        assert_eq!(run.ends.as_deref(), Some(&[7, 13][..]));
        assert_eq!(run.messages(), 2);
        assert!(g.is_empty() && taken(&mut g).is_empty());
        assert!(g.fits(100, 1), "empty again: anything fits");
        g.push(&framing, b"x", to(6));
        let cmds = taken(&mut g);
        let [Command::Broadcast(run, _)] = &cmds[..] else {
            panic!("one run was gathered");
        };
        assert!(run.ends.is_none(), "a single message needs no bounds");
        assert_eq!(run.messages(), 1);
        // Sends to one client gather the same way.
        g.push(&framing, b"a", Target::Client(3));
        g.push(&framing, b"b", Target::Client(3));
        let cmds = taken(&mut g);
        let [Command::Send(3, run)] = &cmds[..] else {
            panic!("a send run was gathered");
        };
        assert_eq!(&run.joined[..], b"\0\0\0\x01a\0\0\0\x01b");
        assert_eq!(run.messages(), 2);
    }

    /// Sends to several clients in turn make a run per client; a broadcast
    /// in between is a barrier (a client's later messages make a new run,
    /// after it), and another audience a run of its own.
    #[test]
    fn sends_to_clients_in_turn_gather_per_client_with_broadcasts_as_barriers() {
        let framing = Framing::lines();
        let mut g = Gathered::default();
        for m in [&b"1"[..], b"2"] {
            for id in [7, 8, 9] {
                g.push(&framing, m, Target::Client(id));
            }
        }
        g.push(&framing, b"all", to(5));
        g.push(&framing, b"all2", to(5));
        g.push(&framing, b"3", Target::Client(8));
        g.push(&framing, b"some", to(6));
        g.push(&framing, b"4", Target::Client(8));
        g.push(&framing, b"4", Target::Client(7));
        let got: Vec<(String, Vec<u8>, usize)> = taken(&mut g)
            .into_iter()
            .map(|c| match c {
                Command::Send(id, run) => (format!("c{id}"), run.joined.to_vec(), run.messages()),
                Command::Broadcast(run, a) => (
                    format!("all<{}", a.below),
                    run.joined.to_vec(),
                    run.messages(),
                ),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        let want: Vec<(String, Vec<u8>, usize)> = vec![
            ("c7".into(), b"1\n2\n".to_vec(), 2),
            ("c8".into(), b"1\n2\n".to_vec(), 2),
            ("c9".into(), b"1\n2\n".to_vec(), 2),
            ("all<5".into(), b"all\nall2\n".to_vec(), 2),
            ("c8".into(), b"3\n".to_vec(), 1),
            ("all<6".into(), b"some\n".to_vec(), 1),
            ("c8".into(), b"4\n".to_vec(), 1),
            ("c7".into(), b"4\n".to_vec(), 1),
        ];
        assert_eq!(got, want);
        assert!(g.is_empty());
        // At most MAX_RUNS runs before they go out.
        for id in 0..MAX_RUNS as u64 {
            assert!(g.fits(2, usize::MAX));
            g.push(&framing, b"x", Target::Client(id));
        }
        assert!(!g.fits(2, usize::MAX));
        assert_eq!(taken(&mut g).len(), MAX_RUNS);
    }

    /// An application thread about to gather for loop 1 first moves on what
    /// a loop's callback gathered for loop 1 (it may have heard of it). That
    /// must hold while another application thread is half way through
    /// appending to the shared outside lane: its `full` set, its count not
    /// yet (the two are separate stores, made under the lane's lock). The
    /// server is stopped first so no loop takes the lanes meanwhile; the
    /// other thread's append is laid out by hand, and held open long enough
    /// for the gathering thread to get there (were it to look at the lanes
    /// before taking the outside lane's lock, as it did before the review,
    /// it would look in that window and skip loop 0's lane).
    #[test]
    fn a_loop_lane_is_moved_on_while_another_thread_half_fills_the_outside_lane() {
        let server = super::two_loop_server();
        let core = server.core().clone();
        server.stop();
        let framed = core.config.framing.framed_len(b"m0").expect("len");
        // Loop 0's callback gathered m0 for a client of loop 1.
        core.gather_into_lane(0, 1, b"m0", framed, Target::Client(7));
        assert!(core.lanes.get(0, 1).full.load(Ordering::SeqCst));
        let outside = core.lanes.outside();
        let lane = core.lanes.get(outside, 1);
        // Another application thread appends to the empty outside lane into
        // loop 1: its message in, the flag set, not counted yet...
        let mut g = lane.lock();
        g.push(&core.config.framing, b"b", Target::Client(7));
        lane.full.store(true, Ordering::Release);
        // ...when this one, which heard of m0, gathers for loop 1.
        let gathering = {
            let core = core.clone();
            std::thread::spawn(move || {
                core.gather_into_lane(outside, 1, b"m1", framed, Target::Client(7));
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        core.lanes.full_into[1].fetch_add(1, Ordering::SeqCst);
        drop(g);
        gathering.join().expect("gathering thread");
        assert!(
            !core.lanes.get(0, 1).full.load(Ordering::SeqCst),
            "m0 was left in loop 0's lane behind the application thread's message"
        );
    }
}

/// Review mu4: what a gathered message adds to its loop's backlog
/// (`pending`) is exactly what the loop takes off once it applies the run:
/// counted any other way, the backlog drifts (up: application threads at
/// last wait for good for room that never comes; down: it wraps).
mod review_mu4_backlog {
    use super::super::*;

    #[test]
    fn review_mu4_gathered_messages_leave_no_backlog_once_applied() {
        let server = super::two_loop_server();
        let core = server.core().clone();
        // From an application thread: gathered into the outside lanes. (On
        // a thread of its own: a backlog counted wrong can make it wait for
        // room for good, until the stop below.)
        let (done, sent) = std::sync::mpsc::channel();
        let sender = {
            let server = server.clone();
            std::thread::spawn(move || {
                for i in 0..2000u32 {
                    server.send_all(&i.to_le_bytes());
                }
                let _ = done.send(());
            })
        };
        let all_sent = sent
            .recv_timeout(std::time::Duration::from_secs(20))
            .is_ok();
        if !all_sent {
            server.stop();
        }
        sender.join().expect("sender");
        assert!(all_sent, "the sends waited for room that never came");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let backlog = || -> Vec<usize> {
            core.loops
                .iter()
                .map(|l| l.pending.load(Ordering::SeqCst))
                .collect()
        };
        while backlog().iter().any(|&p| p != 0) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(
            backlog(),
            vec![0, 0],
            "the loops' backlog once all is applied"
        );
        server.stop();
    }
}

/// Review probes: random sequences of targets (clients, broadcasts with
/// several audiences), with the cap and the run limit forcing flushes
/// midway as `gather_here` does; every client must get, from the commands
/// handed out, exactly its messages and the broadcasts it is in, in the
/// order pushed, none lost or duplicated.
mod run_order_probe {
    use super::super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    const CLIENTS: u64 = 7; // ids 1..=CLIENTS

    fn random_target(rng: &mut Rng, clients: u64) -> Target {
        if rng.below(5) == 0 {
            // A handful of audiences: everyone, everyone but one, the
            // clients below some bound (all compare unequal).
            let below = if rng.below(3) == 0 {
                1 + rng.below(clients + 1)
            } else {
                clients + 1
            };
            let except = if rng.below(3) == 0 {
                1 + rng.below(clients)
            } else {
                0
            };
            Target::All(Audience { below, except })
        } else {
            Target::Client(1 + rng.below(clients))
        }
    }

    /// The messages of a run, checked against its `ends`.
    fn messages(run: &Run) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = run
            .joined
            .split(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(out.pop().as_deref(), Some(&[][..]), "ends with a newline");
        match &run.ends {
            None => assert_eq!(out.len(), 1, "no ends: one message"),
            Some(ends) => {
                assert!(ends.len() > 1, "ends only for several messages");
                let mut at = 0;
                for (e, m) in ends.iter().zip(&out) {
                    at += m.len() + 1;
                    assert_eq!(*e as usize, at, "ends match the messages");
                }
                assert_eq!(ends.len(), out.len());
            }
        }
        out
    }

    fn check(seed: u64, pushes: usize, clients: u64, cap: usize) {
        let framing = Framing::lines();
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut g = Gathered::default();
        let mut want: Vec<Vec<Vec<u8>>> = vec![Vec::new(); clients as usize + 1];
        let mut got: Vec<Vec<Vec<u8>>> = vec![Vec::new(); clients as usize + 1];
        let mut sent = 0usize;
        let mut handed = 0usize;
        let mut trace = Vec::new();
        let take = |g: &mut Gathered, got: &mut Vec<Vec<Vec<u8>>>, handed: &mut usize| {
            let runs = g.runs.len();
            let mut cmds = 0;
            g.take_each(|c| {
                cmds += 1;
                match c {
                    Command::Send(id, run) => {
                        let ms = messages(&run);
                        *handed += ms.len();
                        got[id as usize].extend(ms);
                    }
                    Command::Broadcast(run, a) => {
                        let ms = messages(&run);
                        *handed += ms.len();
                        for id in 1..=clients {
                            if a.has(id) {
                                got[id as usize].extend(ms.iter().cloned());
                            }
                        }
                    }
                    other => panic!("unexpected {other:?}"),
                }
            });
            assert_eq!(cmds, runs, "a command per run");
            assert!(g.is_empty() && g.msgs.is_empty() && g.bytes.is_empty());
            assert!(g.clients.is_empty(), "the map is empty between takes");
        };
        for i in 0..pushes {
            let target = random_target(&mut rng, clients);
            trace.push(target);
            let msg = format!("{i}").into_bytes();
            let len = framing.framed_len(&msg).unwrap();
            if !g.fits(len, cap) {
                take(&mut g, &mut got, &mut handed);
            }
            g.push(&framing, &msg, target);
            sent += 1;
            match target {
                Target::Client(id) => want[id as usize].push(msg),
                Target::All(a) => {
                    for id in 1..=clients {
                        if a.has(id) {
                            want[id as usize].push(msg.clone());
                        }
                    }
                }
            }
            // Invariants of the runs: no two runs for one client since the
            // last broadcast run, and the map names the right runs.
            let mut since: Vec<(ClientId, usize)> = Vec::new();
            for (at, r) in g.runs.iter().enumerate() {
                match *r {
                    Target::All(_) => since.clear(),
                    Target::Client(id) => {
                        assert!(
                            since.iter().all(|&(c, _)| c != id),
                            "seed {seed}: two runs for client {id} between barriers: {:?}",
                            g.runs
                        );
                        since.push((id, at));
                    }
                }
            }
            for (&id, &run) in &g.clients {
                assert_eq!(
                    g.runs[run as usize],
                    Target::Client(id),
                    "seed {seed}: the map points client {id} at another's run"
                );
                assert!(
                    since.contains(&(id, run as usize)),
                    "seed {seed}: stale entry"
                );
            }
            assert!(g.runs.len() <= MAX_RUNS);
            // Sometimes the loop pumps midway.
            if rng.below(50) == 0 {
                take(&mut g, &mut got, &mut handed);
            }
        }
        take(&mut g, &mut got, &mut handed);
        for id in 1..=clients as usize {
            assert_eq!(
                got[id], want[id],
                "seed {seed}: client {id} got its messages out of order (targets {trace:?})"
            );
        }
        assert_eq!(handed, sent, "seed {seed}: every message handed out once");
    }

    #[test]
    fn every_client_gets_its_messages_and_the_broadcasts_in_the_order_pushed() {
        for seed in 0..1500 {
            check(seed, 200, 1 + seed % CLIENTS, usize::MAX);
            check(seed, 200, 1 + seed % CLIENTS, 40 + (seed as usize % 200));
        }
        // Many clients: runs up to MAX_RUNS, flushed by `fits`.
        for seed in 0..4 {
            check(seed, 3000, 3000, usize::MAX);
            check(seed, 3000, 1500, 64 * 1024);
        }
    }

    /// The named sequence: c1, c2, c1, All, c1, c2, c3, c2, c1, c3.
    #[test]
    fn runs_after_the_lazy_insert_and_a_barrier() {
        let framing = Framing::lines();
        let mut g = Gathered::default();
        let all = Target::All(Audience {
            below: 10,
            except: 0,
        });
        let seq = [1, 2, 1, 0, 1, 2, 3, 2, 1, 3];
        for (i, &c) in seq.iter().enumerate() {
            let t = if c == 0 { all } else { Target::Client(c) };
            g.push(&framing, format!("{i}").as_bytes(), t);
        }
        let runs: Vec<(Target, Vec<u8>)> = {
            let mut v = Vec::new();
            g.take_each(|c| match c {
                Command::Send(id, r) => v.push((Target::Client(id), r.joined.to_vec())),
                Command::Broadcast(r, a) => v.push((Target::All(a), r.joined.to_vec())),
                _ => unreachable!(),
            });
            v
        };
        assert_eq!(
            runs,
            vec![
                (Target::Client(1), b"0\n2\n".to_vec()),
                (Target::Client(2), b"1\n".to_vec()),
                (all, b"3\n".to_vec()),
                (Target::Client(1), b"4\n8\n".to_vec()),
                (Target::Client(2), b"5\n7\n".to_vec()),
                (Target::Client(3), b"6\n9\n".to_vec()),
            ]
        );
    }

    /// What a burst of sends to many clients grew is given back once it goes
    /// out, also when a broadcast (a barrier, which empties the client map
    /// without shrinking it) came last.
    #[test]
    fn the_client_map_shrinks_back_after_a_burst_ended_by_a_broadcast() {
        let framing = Framing::lines();
        let all = Target::All(Audience {
            below: 5000,
            except: 0,
        });
        for end_with_broadcast in [false, true] {
            let mut g = Gathered::default();
            for id in 1..1000 {
                g.push(&framing, b"x", Target::Client(id));
            }
            assert!(g.clients.capacity() >= 998);
            if end_with_broadcast {
                g.push(&framing, b"all", all);
            }
            g.take_each(|_| {});
            assert!(
                g.clients.capacity() <= 2 * RUNS_KEPT,
                "the client map keeps room for {} clients (broadcast last: {end_with_broadcast})",
                g.clients.capacity()
            );
            assert!(g.runs.capacity() <= RUNS_KEPT);
        }
    }
    /// Review mu4: a big run (as a busy lane gathers, up to a batch) leaves
    /// at most the kept room in the byte buffer and the message list once
    /// it is taken: each of up to `GATHER_MAX_LOOPS²` lanes would otherwise
    /// hold its largest batch for good (64 KiB of bytes, and 8 bytes a
    /// message: 256 KiB more for a batch of one-byte lines).
    #[test]
    fn review_mu4_the_buffers_shrink_back_after_a_big_run() {
        let framing = Framing::lines();
        let all = Target::All(Audience {
            below: 10,
            except: 0,
        });
        let mut g = Gathered::default();
        for _ in 0..20_000 {
            g.push(&framing, b"x", all);
        }
        assert!(g.bytes.capacity() > BYTES_KEPT && g.msgs.capacity() > ENDS_KEPT);
        g.take_each(|_| {});
        assert!(
            g.bytes.capacity() <= BYTES_KEPT,
            "the byte buffer keeps {} bytes",
            g.bytes.capacity()
        );
        assert!(
            g.msgs.capacity() <= ENDS_KEPT,
            "the message list keeps room for {}",
            g.msgs.capacity()
        );
    }
}
